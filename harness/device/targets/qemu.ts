/**
 * `qemu:BUILD_DIR[?mode=firmware&reset=none]`: an ESP-IDF build run in Espressif's QEMU. The build
 * is merged into one flash image (its regions at their offsets, 0xFF to the flash size), QEMU
 * starts with the run (paused until hilt is on its serial port, so the boot is not missed), the
 * device's bytes go over TCP to QEMU's serial port, a firmware-mode reset is QMP system_reset,
 * and QEMU stops with the run. The guest reaches the lab at 10.0.2.2 (QEMU's user network), so
 * the lab's server certificates carry that address.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EventEmitter } from 'node:events';
import { UsageError, errnoOf } from '../../errors.ts';
import { defaultEsp32Efuse, describeExit, startQemu, type QemuInstance, type QemuOptions } from '../../qemu/index.ts';
import { settleWithin } from '../../time.ts';
import { TcpTransport } from '../../transport/tcp.ts';
import { TransportError, type CloseInfo, type Transport, type TransportCapabilities } from '../../transport/transport.ts';
import { IdfBuildError, mergeFlashImage, readIdfBuild, type IdfBuild } from '../../wire/idf-build.ts';
import type { Target, TargetKind } from './target.ts';
import { modeOption, resetOption, targetOptions } from './options.ts';

/** QEMU's user network: the host, as the guest sees it. */
export const QEMU_HOST_ADDRESS = '10.0.2.2';

/** How long a lost serial connection waits for QEMU's exit, to say how QEMU ended instead of "connection closed". */
const EXIT_GRACE_MS = 1_000;

/**
 * The serial port of a QEMU: bytes over TCP, and when the connection drops because QEMU died,
 * the close says how it died (killed, exited with its last stderr line).
 */
class QemuSerial extends EventEmitter implements Transport {
  readonly kind = 'tcp' as const;
  readonly capabilities: TransportCapabilities = { lineControl: false, baudRate: false };
  readonly description: string;
  private readonly inner: TcpTransport;
  private resumed = false;

  constructor(private readonly qemu: QemuInstance) {
    super();
    this.inner = new TcpTransport({ host: qemu.host, port: qemu.serialPort });
    this.description = `QEMU ESP32 (pid ${qemu.pid}) serial ${this.inner.description}`;
    this.inner.on('data', (chunk: Buffer) => this.emit('data', chunk));
    this.inner.once('close', (info: CloseInfo) => void this.closed(info));
  }

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  async open(): Promise<void> {
    await this.inner.open();
    // The CPU starts once hilt reads the port: the ROM's first line is the first line hilt sees.
    if (!this.resumed) {
      this.resumed = true;
      try {
        await this.qemu.resume();
      } catch (err) {
        await this.inner.close();
        throw (await this.died()) ?? err;
      }
    }
  }

  async write(data: string | Buffer): Promise<void> {
    try {
      await this.inner.write(data);
    } catch (err) {
      // A write that fails because QEMU died says so, not only "EPIPE".
      throw (await this.died()) ?? err;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async closed(info: CloseInfo): Promise<void> {
    const died = info.expected ? null : await this.died();
    this.emit('close', died ? { expected: false, reason: died.message } : info);
  }

  /** How QEMU ended, when it did (waited for briefly: the socket may report first). */
  private async died(): Promise<TransportError | null> {
    if (await settleWithin(EXIT_GRACE_MS, this.qemu.exited) === 'timeout') return null;
    return new TransportError(`QEMU (pid ${this.qemu.pid}) ${describeExit(this.qemu.exit!, this.qemu.stderr)}`);
  }
}

/** The build, read now: a folder that is no ESP-IDF build stops the run before anything starts. */
function buildOf(url: string, dir: string): IdfBuild {
  try {
    return readIdfBuild(dir);
  } catch (err) {
    if (err instanceof IdfBuildError) throw new UsageError(`target ${url}: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * The qemu target kind. `launch` is internal: tests give upstream QEMU's own machines and a
 * shorter bound here; the registry uses the defaults (Espressif's esp32 machine).
 */
export function qemuTargetKind(launch: Omit<QemuOptions, 'files' | 'paused'> = {}): TargetKind {
  return {
    kind: 'qemu',
    summary: 'qemu:BUILD_DIR[?mode=firmware&reset=none]  an ESP-IDF build in Espressif\'s QEMU (HILT_QEMU or qemu-system-xtensa on PATH)',
    parse(rest, query, url) {
      if (rest === '') throw new UsageError(`target ${url}: give the ESP-IDF build folder, e.g. qemu:build`);
      const o = targetOptions(url, query, ['mode', 'reset']);
      const mode = modeOption(url, o.get('mode'));
      const reset = resetOption(url, o.get('reset'));
      const dir = resolve(rest);
      const build = buildOf(url, dir);
      if (build.chip !== 'esp32') {
        throw new UsageError(`target ${url}: the build is for ${build.chip}: the qemu target runs ESP32 builds (Espressif's qemu-system-xtensa -M esp32)`);
      }
      let qemu: QemuInstance | null = null;
      let files: string | null = null;
      const stop = async () => {
        await qemu?.stop();
        qemu = null;
      };
      return {
        url, kind: 'qemu', reset, mode,
        description: `ESP-IDF build ${dir} in QEMU`,
        certificateHosts: [QEMU_HOST_ADDRESS],
        async transport() {
          // A second transport is a new power-on: the old QEMU goes first.
          await stop();
          if (!files) {
            files = await mkdtemp(join(tmpdir(), 'hilt-qemu-'));
          }
          const flashImage = join(files, 'flash.bin');
          const efuseImage = join(files, 'efuse.bin');
          try {
            await writeFile(flashImage, mergeFlashImage(build));
            await writeFile(efuseImage, defaultEsp32Efuse());
          } catch (err) {
            if (err instanceof IdfBuildError) throw new UsageError(`target ${url}: ${err.message}`, { cause: err });
            throw new UsageError(`target ${url}: cannot write QEMU's flash image in ${files} (${errnoOf(err)}): free space in the temporary folder or set TMPDIR`);
          }
          qemu = await startQemu({ ...launch, files: { flashImage, efuseImage }, paused: true });
          return new QemuSerial(qemu);
        },
        // A firmware board's hardware reset: QMP system_reset (QEMU has no RTS line to pulse).
        ...(mode === 'firmware' && reset === 'agent' ? {
          async resetDevice() {
            if (!qemu || qemu.exit) return false;
            await qemu.reset();
            return true;
          },
        } : {}),
        async close() {
          await stop();
          if (files) await rm(files, { recursive: true, force: true });
          files = null;
        },
      } satisfies Target;
    },
  };
}

export const qemuTarget: TargetKind = qemuTargetKind();
