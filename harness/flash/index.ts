/**
 * Flashing a target with a build, as `hilt flash` and `hilt run --flash` do it: read the build,
 * skip when the board already runs its image, else flash, verify and confirm the boot.
 */
import { Device } from '../device/device.ts';
import type { Target } from '../device/targets/index.ts';
import type { ImageIdentity } from '../report/model.ts';
import { settleWithin } from '../time.ts';
import type { Transport } from '../transport/transport.ts';
import type { IdfBuild } from '../wire/idf-build.ts';
import { elfShaMatches } from '../wire/image.ts';
import { hardReset } from '../device/reset-sequence.ts';
import { watchBoot } from './boot.ts';
import { DEFAULT_RESETS, FlashError, flashBuild, type FlashProgress, type FlashResult } from './flasher.ts';
import { ExitCode } from '../errors.ts';

export { DEFAULT_RESETS, FlashError, flashBuild, chipKey, type BoardResets, type FlashRequest, type FlashResult, type FlashProgress } from './flasher.ts';
export { TransportSerialPort, type SerialPortInfo } from './web-serial.ts';
export { watchBoot, type BootWatch } from './boot.ts';

export interface FlashTargetOptions {
  build: IdfBuild;
  target: Target;
  /** Flash even when the board runs the build's image already. */
  force?: boolean;
  baudRate?: number;
  compress?: boolean;
  onProgress?: (p: FlashProgress) => void;
  onLog?: (line: string) => void;
  /** Called with each transport opened, so an interrupt can close it. */
  onTransport?: (t: Transport) => void;
  /** Bound on the "what does it run" look before flashing (default 3 s). */
  probeMs?: number;
  /** Aborted (Ctrl-C): nothing more is started; what runs fails as its transport is closed. */
  signal?: AbortSignal;
}

export interface FlashTargetOutcome {
  /** running: the board already ran the image and was not flashed. */
  state: 'flashed' | 'running';
  /** How the running image was told: "hello" or "boot log"; null when not confirmed. */
  confirmedBy: 'hello' | 'boot log' | null;
  result: FlashResult | null;
  notes: string[];
}

export async function flashTarget(opts: FlashTargetOptions): Promise<FlashTargetOutcome> {
  const { build, target } = opts;
  const image = build.app.descriptor.elfSha256;
  if (!opts.force) {
    const running = await runningImage(opts);
    if (running && elfShaMatches(image, running.sha)) return { state: 'running', confirmedBy: running.by, result: null, notes: [] };
  }
  if (opts.signal?.aborted) throw new FlashError('flashing interrupted before it began: the board was not written', ExitCode.interrupted);
  const transport = await target.transport();
  opts.onTransport?.(transport);
  try {
    const resets = target.resetSequences?.();
    const result = await flashBuild({
      transport, build,
      ...(resets ? { resets } : {}),
      ...(opts.baudRate !== undefined ? { baudRate: opts.baudRate } : {}),
      ...(opts.compress !== undefined ? { compress: opts.compress } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
    });
    return { state: 'flashed', confirmedBy: result.confirmed ? 'boot log' : null, result, notes: result.notes };
  } finally {
    await settleWithin(5_000, transport.close());
  }
}

/**
 * What the board runs now, without flashing: an agent's hello (fw.elf_sha256), else the ELF line
 * of a boot after a hard reset where the transport has lines. Null when it cannot be told (a
 * board in download mode, firmware with no lines, an image that does not know its hash).
 */
async function runningImage(opts: FlashTargetOptions): Promise<{ sha: string; by: 'hello' | 'boot log' } | null> {
  const { target } = opts;
  const probeMs = opts.probeMs ?? 3_000;
  const transport = await target.transport();
  opts.onTransport?.(transport);
  try {
    if (target.mode === 'agent') {
      const device = await Device.open(transport, { helloTimeoutMs: probeMs }).catch(() => null);
      const sha = device?.hello?.fw.elf_sha256 ?? null;
      return sha ? { sha, by: 'hello' } : null;
    }
    // reset=none on the target: the bench does not want this board reset just to look at it.
    if (target.reset === 'hello') return null;
    await transport.open();
    if (!transport.capabilities.lineControl) return null;
    const boot = watchBoot(transport);
    try {
      await hardReset(transport, (target.resetSequences?.() ?? DEFAULT_RESETS).hard);
      const sha = await boot.elfSha256(probeMs);
      return sha ? { sha, by: 'boot log' } : null;
    } finally {
      boot.stop();
    }
  } catch {
    // Not knowing what runs is no error: the board is flashed.
    return null;
  } finally {
    await settleWithin(5_000, transport.close());
  }
}

/** The image's identity for the reports. */
export function imageIdentity(build: IdfBuild, outcome: FlashTargetOutcome): ImageIdentity {
  const d = build.app.descriptor;
  return {
    project: d.projectName,
    version: d.version,
    idf: d.idfVersion,
    elfSha256: d.elfSha256,
    builtAt: `${d.date} ${d.time}`.trim(),
    buildDir: build.dir,
    state: outcome.state,
    confirmedBy: outcome.confirmedBy,
  };
}
