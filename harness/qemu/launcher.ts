/**
 * Starts Espressif's qemu-system-xtensa as `idf.py qemu` does (ESP-IDF
 * tools/idf_py_actions/qemu_ext.py), with the serial port and QMP on local TCP ports, and stops
 * it, bounded, whatever happens to the run. QEMU runs in a process group of its own: a Ctrl-C in
 * the terminal reaches hilt only, which then stops QEMU itself (QMP quit, then signals), and a hilt
 * that exits without stopping it still kills it on the way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { HiltError, UsageError, brandAcrossCopies, errnoOf, printable, quoted } from '../errors.ts';
import { TransportError } from '../transport/transport.ts';
import { settleWithin, within } from '../time.ts';
import { QmpClient } from './qmp.ts';

export const QEMU_PROGRAM = 'qemu-system-xtensa';

/** Where a user gets the binary, for every message about a missing or unfit one. */
export const WHERE_TO_GET_QEMU = 'Espressif publishes it at https://github.com/espressif/qemu/releases ' +
  '(ESP-IDF installs it with `python $IDF_PATH/tools/idf_tools.py install qemu-xtensa`)';

/**
 * QEMU could not start or died: the device cannot be reached (exit 3). A TransportError, so a run
 * treats it as any device it cannot reach: reported as the bench's error, not thrown past the report.
 */
export class QemuError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QemuError';
  }
}
brandAcrossCopies(QemuError, 'QemuError');

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The QEMU to run: $HILT_QEMU if set, else qemu-system-xtensa on PATH; a usage error (exit 2) when neither is there. */
export function findQemu(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HILT_QEMU;
  if (given !== undefined && given !== '') {
    if (isExecutableFile(given)) return given;
    throw new UsageError(`HILT_QEMU=${quoted(given)} is not an executable file: point it at Espressif's ${QEMU_PROGRAM}; ${WHERE_TO_GET_QEMU}`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, QEMU_PROGRAM))) return join(dir, QEMU_PROGRAM);
  }
  throw new UsageError(`${QEMU_PROGRAM} not found on PATH and HILT_QEMU is not set: set HILT_QEMU to Espressif's ${QEMU_PROGRAM}; ${WHERE_TO_GET_QEMU}`);
}

/**
 * The eFuse block idf.py qemu writes when there is none: all zero but the two bits that make the
 * chip an ESP32 revision 3 (124 bytes). Without the efuse drive QEMU's ESP32 starts as revision 0,
 * which an app built for a newer minimum revision refuses.
 */
export function defaultEsp32Efuse(): Buffer {
  const efuse = Buffer.alloc(124);
  efuse[13] = 0x80;
  efuse[22] = 0x10;
  return efuse;
}

export interface QemuFiles {
  /** The merged flash image (the build at its offsets, 0xFF to the flash size). */
  flashImage: string;
  efuseImage: string;
}

export interface QemuArgsOptions {
  /**
   * The QEMU machine. `esp32` (the default, Espressif's build only) gets idf.py qemu's arguments;
   * any other is for tests on upstream QEMU's own machines (`none`, `sim`) and gets `-M NAME` only.
   */
  machine: string;
  files?: QemuFiles;
  host: string;
  serialPort: number;
  qmpPort: number;
  /** Start with the CPU stopped (-S) until resume(): nothing the guest prints is lost before the serial port has a client. */
  paused?: boolean;
}

/** The command line, as idf.py qemu builds it for an ESP32, with the serial port and QMP on TCP. */
export function qemuArgs(o: QemuArgsOptions): string[] {
  const machine = o.machine === 'esp32'
    ? [
        '-M', 'esp32', '-m', '4M',
        ...(o.files ? [
          '-drive', `file=${o.files.flashImage},if=mtd,format=raw`,
          '-drive', `file=${o.files.efuseImage},if=none,format=raw,id=efuse`,
          '-global', 'driver=nvram.esp32.efuse,property=drive,value=efuse',
        ] : []),
        // The watchdog would reset a guest QEMU runs slower than the chip.
        '-global', 'driver=timer.esp32.timg,property=wdt_disable,value=true',
        // Espressif's OpenCores Ethernet model (CONFIG_ETH_USE_OPENETH); the host is 10.0.2.2.
        '-nic', 'user,model=open_eth',
      ]
    : ['-M', o.machine];
  return [
    ...machine,
    '-nographic',
    // No monitor on stdio: QEMU's stdin and stdout are not a terminal here.
    '-monitor', 'none',
    '-serial', `tcp:${o.host}:${o.serialPort},server,wait=off`,
    '-qmp', `tcp:${o.host}:${o.qmpPort},server,wait=off`,
    ...(o.paused ? ['-S'] : []),
  ];
}

export interface QemuOptions {
  /** The program (default: findQemu()). */
  binary?: string;
  /** Internal: the machine (default esp32); tests choose one of upstream QEMU's. */
  machine?: string;
  files?: QemuFiles;
  /** Where the serial port and QMP listen (default 127.0.0.1). */
  host?: string;
  /** Bound on the start, until QMP answers (default 10 s). */
  startTimeoutMs?: number;
  /** See QemuArgsOptions.paused. */
  paused?: boolean;
}

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Words for how QEMU ended: "exited with code 1: <its last stderr line>", "was killed by SIGKILL". */
export function describeExit(exit: QemuExit, stderr = ''): string {
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
  const last = lastLine(stderr);
  return last ? `${how}: ${last}` : how;
}

function lastLine(text: string): string {
  const line = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).pop() ?? '';
  return printable(line).slice(0, 300);
}

/** Keeps the end of what QEMU printed on stderr, for messages. */
const STDERR_KEPT = 8192;
const ATTEMPTS = 3;
const STOP_STEP_MS = 2_000;

/** A port free a moment ago. QEMU binds it itself; a port taken in between is retried with new ones. */
async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export class QemuInstance {
  private stopping: Promise<void> | null = null;
  private readonly killOnExit = () => this.killGroup('SIGKILL');

  constructor(
    readonly binary: string,
    readonly args: readonly string[],
    readonly host: string,
    readonly serialPort: number,
    readonly qmpPort: number,
    readonly qmp: QmpClient,
    private readonly child: ChildProcess,
    /** Settles when QEMU's process has ended, however. */
    readonly exited: Promise<QemuExit>,
    private readonly stderrText: () => string,
  ) {
    process.once('exit', this.killOnExit);
    void exited.then(() => process.off('exit', this.killOnExit));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Null while QEMU runs; how it ended once it did. */
  get exit(): QemuExit | null {
    const { exitCode: code, signalCode: signal } = this.child;
    return code === null && signal === null ? null : { code, signal };
  }

  /** QEMU's stderr so far (its end). */
  get stderr(): string {
    return this.stderrText();
  }

  /** Resets the machine through QMP (an ESP32 in QEMU has no RTS line to pulse). */
  async reset(): Promise<void> {
    if (this.exit) throw new QemuError(`QEMU (pid ${this.pid}) ${describeExit(this.exit, this.stderr)}: it cannot be reset`);
    await this.qmp.systemReset();
  }

  /** Starts the CPU of a QEMU started paused (QMP cont). */
  async resume(): Promise<void> {
    if (this.exit) throw new QemuError(`QEMU (pid ${this.pid}) ${describeExit(this.exit, this.stderr)}: it cannot be started`);
    await this.qmp.execute('cont');
  }

  /** Stops QEMU: QMP quit, then SIGTERM, then SIGKILL to its group, each step bounded; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.exit) {
        await settleWithin(STOP_STEP_MS, this.qmp.quit());
        if (await settleWithin(STOP_STEP_MS, this.exited) === 'timeout') {
          this.killGroup('SIGTERM');
          if (await settleWithin(STOP_STEP_MS, this.exited) === 'timeout') {
            this.killGroup('SIGKILL');
            await settleWithin(STOP_STEP_MS, this.exited);
          }
        }
      }
      await this.qmp.close();
      process.off('exit', this.killOnExit);
    })();
    return this.stopping;
  }

  private killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/**
 * Starts QEMU and connects to its QMP: resolves once QEMU answers, with the serial port ready
 * for a TcpTransport. A binary without the machine, a QEMU that exits at start or never answers:
 * one line each, naming the binary.
 */
export async function startQemu(options: QemuOptions = {}): Promise<QemuInstance> {
  const binary = options.binary ?? findQemu();
  const machine = options.machine ?? 'esp32';
  const host = options.host ?? '127.0.0.1';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    const serialPort = await freePort(host);
    const qmpPort = await freePort(host);
    const args = qemuArgs({ machine, host, serialPort, qmpPort, paused: options.paused ?? false, ...(options.files ? { files: options.files } : {}) });
    const started = await startOnce(binary, machine, args, host, qmpPort, startTimeoutMs);
    if ('qmp' in started) {
      return new QemuInstance(binary, args, host, serialPort, qmpPort, started.qmp, started.child, started.exited, started.stderr);
    }
    // Another program took a port between our check and QEMU's bind: new ports.
    if (started.portTaken && attempt < ATTEMPTS) continue;
    throw started.error;
  }
}

type Started =
  | { qmp: QmpClient; child: ChildProcess; exited: Promise<QemuExit>; stderr: () => string }
  | { error: HiltError; portTaken: boolean };

async function startOnce(binary: string, machine: string, args: string[], host: string, qmpPort: number, ms: number): Promise<Started> {
  // A group of its own (detached): the terminal's Ctrl-C goes to hilt, which stops QEMU in order.
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => { stderr = (stderr + text).slice(-STDERR_KEPT); });
  let spawnError: Error | null = null;
  const exited = new Promise<QemuExit>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      resolve({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const ended = exited.then((exit) => ({ exit }));
  const what = `${QEMU_PROGRAM} ${quoted(binary)}`;
  const killNow = async () => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
    await settleWithin(STOP_STEP_MS, exited);
  };
  // QEMU binds its sockets before the machine starts, but not before the process exists:
  // connect until QMP answers, QEMU exits, or the bound passes.
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const left = Math.max(1, deadline - Date.now());
    const giveUp = new AbortController();
    const connecting = QmpClient.connect({ host, port: qmpPort, timeoutMs: Math.min(left, 5_000), signal: giveUp.signal })
      .then((qmp) => ({ qmp }), (error: Error) => ({ error }));
    const outcome = await within(left, Promise.race([ended, connecting]));
    // A connection still being tried when QEMU exited (or time ran out) is given up, not left to its own bound.
    if (outcome === 'timeout' || !('qmp' in outcome)) giveUp.abort('QEMU is not starting');
    if (outcome === 'timeout') break;
    if ('qmp' in outcome) return { qmp: outcome.qmp, child, exited, stderr: () => stderr };
    if ('exit' in outcome) {
      if (spawnError) {
        return { error: new UsageError(`${what} cannot be started (${errnoOf(spawnError)}): set HILT_QEMU to Espressif's ${QEMU_PROGRAM}; ${WHERE_TO_GET_QEMU}`), portTaken: false };
      }
      return { error: exitError(what, machine, outcome.exit, stderr), portTaken: /Address already in use/i.test(stderr) };
    }
    // Not listening yet: try again shortly. A peer that answered but is not QMP is final.
    if (!/cannot connect \(ECONNREFUSED\)/.test(outcome.error.message)) {
      await killNow();
      return { error: new QemuError(`${what}: ${outcome.error.message}`, { cause: outcome.error }), portTaken: false };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await killNow();
  return { error: new QemuError(`${what} did not answer on QMP within ${ms} ms and was killed${stderr ? `: ${lastLine(stderr)}` : ''}`), portTaken: false };
}

/** The one line for a QEMU that exited while starting. */
function exitError(what: string, machine: string, exit: QemuExit, stderr: string): HiltError {
  // Upstream QEMU (Debian's qemu-system-misc) has xtensa but no ESP32: a binary to replace, not a device fault.
  if (/unsupported machine type|machine type .* not found|not a valid machine/i.test(stderr)) {
    return new UsageError(`${what} has no ${machine} machine (upstream QEMU, such as Debian's qemu-system-misc, has none): ` +
      `use Espressif's build through HILT_QEMU; ${WHERE_TO_GET_QEMU}`);
  }
  return new QemuError(`${what} ${describeExit(exit, stderr)}`);
}
