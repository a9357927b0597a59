/** `hilt flash`: an ESP-IDF build onto a board, verified by MD5 and by what the board boots. */
import type { Command } from 'commander';
import { ExitCode, UsageError } from '../errors.ts';
import { resolveTarget, KINDS, type Target } from '../device/targets/index.ts';
import type { FlashProgress } from '../flash/index.ts';
import type { ImageIdentity } from '../report/model.ts';
import { loadConfig } from '../run/config.ts';
import { Interrupts } from '../run/interrupts.ts';
import type { Transport } from '../transport/transport.ts';
import { IdfBuildError, readIdfBuild, type IdfBuild } from '../wire/idf-build.ts';
import { shown, wholeNumber } from './args.ts';

interface FlashCliOptions {
  build: string;
  target?: string;
  baud?: string;
  compress: boolean;
  force: boolean;
  verbose: boolean;
  config?: string;
}

export function registerFlash(program: Command): void {
  program
    .command('flash')
    .description('flash an ESP-IDF build (its flasher_args.json) onto the target\'s board, verify every region by MD5 and check the board boots it')
    .option('--build <dir>', 'the ESP-IDF build folder', 'build')
    .option('--target <target>', `the board: ${KINDS.map((k) => k.summary.split(' ')[0]).join(' | ')} (default: hilt.config.json's target)`)
    .option('--baud <rate>', 'line rate while writing (default 460800 where the port can change it)')
    .option('--no-compress', 'send the data uncompressed')
    .option('--force', 'flash even when the board already runs this image', false)
    .option('--verbose', 'print esptool-js\'s own lines', false)
    .option('--config <file>', 'configuration file (default: hilt.config.json if present)')
    .action(async (opts: FlashCliOptions) => {
      const interrupts = new Interrupts();
      try {
        await flashCommand(opts, interrupts);
      } finally {
        interrupts.dispose();
      }
    });
}

async function flashCommand(opts: FlashCliOptions, interrupts: Interrupts): Promise<void> {
  const baudRate = opts.baud === undefined ? undefined : wholeNumber('--baud', opts.baud, 9600, 5_000_000);
  // The build is read and checked before the board is touched: a bad build is exit 2, board untouched.
  const build = readBuild(opts.build);
  const config = await loadConfig(opts.config ?? 'hilt.config.json', opts.config !== undefined);
  const target = resolveTarget(opts.target ?? config.target, { bench: config.bench });
  const image = await flashWithReport(build, target, { force: opts.force, verbose: opts.verbose, compress: opts.compress, interrupts, ...(baudRate ? { baudRate } : {}) });
  if (!image || interrupts.signal) {
    console.error('hilt: flashing interrupted: the board may hold a partly written image; flash it again');
    process.exitCode = ExitCode.interrupted;
  }
}

/** The build, or a usage error (exit 2) naming what is wrong with it. */
export function readBuild(dir: string): IdfBuild {
  try {
    return readIdfBuild(dir);
  } catch (err) {
    if (err instanceof IdfBuildError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

export interface FlashStepOptions {
  force?: boolean;
  verbose?: boolean;
  compress?: boolean;
  baudRate?: number;
  interrupts: Interrupts;
}

/**
 * The flash step `hilt flash` and `hilt run --flash` share: tells what it flashes, shows progress,
 * and says what became of it. Resolves to the image's identity for the reports; null when interrupted.
 */
export async function flashWithReport(build: IdfBuild, target: Target, opts: FlashStepOptions): Promise<ImageIdentity | null> {
  // esptool-js loads only when something is flashed, as serialport only for serial targets.
  const { flashTarget, imageIdentity } = await import('../flash/index.ts');
  if (target.kind === 'emulator') {
    throw new UsageError(`target ${target.url} is hilt's in-process board, which has no ROM loader to flash: start a whole emulated chip with hilt emulate --pty (or --tcp, --rfc2217) and give its target, or give a real board's`);
  }
  if (target.kind === 'qemu') {
    throw new UsageError(`target ${target.url} boots the build it names: it needs no flashing; leave out --flash (or give a board's target)`);
  }
  const d = build.app.descriptor;
  console.log(`image: ${d.projectName} ${d.version}, ESP-IDF ${d.idfVersion}, built ${d.date} ${d.time}, ELF SHA-256 ${d.elfSha256}`);
  // Said before the board is looked at: it may already run the image, and then nothing is flashed.
  console.log(`build ${shown(build.dir) || '.'} (${build.chip}, ${build.regions.length} regions) for ${target.description}`);
  const open = new Set<Transport>();
  const aborted = new AbortController();
  const stop = opts.interrupts.listen(() => {
    aborted.abort();
    for (const t of open) void t.close();
  });
  try {
    const outcome = await flashTarget({
      build, target,
      force: opts.force ?? false,
      signal: aborted.signal,
      ...(opts.baudRate ? { baudRate: opts.baudRate } : {}),
      ...(opts.compress === false ? { compress: false } : {}),
      onProgress: progressPrinter(),
      onTransport: (t) => { open.add(t); },
      ...(opts.verbose ? { onLog: (line: string) => console.log(`  esptool: ${line.trimEnd()}`) } : {}),
    });
    if (opts.interrupts.signal) return null;
    if (outcome.state === 'running') {
      console.log(`the board already runs this image (ELF SHA-256 from its ${outcome.confirmedBy}): not flashed (--force flashes anyway)`);
    } else {
      const r = outcome.result!;
      const bytes = r.regions.reduce((n, x) => n + x.size, 0);
      const kbs = r.durationMs > 0 ? ` (${(bytes / 1024 / (r.durationMs / 1000)).toFixed(1)} KB/s)` : '';
      console.log(`flashed ${r.chip}: ${r.regions.length} regions, ${bytes} bytes in ${(r.durationMs / 1000).toFixed(1)} s${kbs}, each verified by MD5`);
      console.log(r.confirmed ? `the board booted it: ELF SHA-256 ${r.bootElfSha256} (as printed) matches the image` : 'the board\'s boot was not confirmed');
      for (const note of outcome.notes) console.log(`note: ${note}`);
    }
    return imageIdentity(build, outcome);
  } catch (err) {
    if (opts.interrupts.signal) return null;
    throw err;
  } finally {
    stop();
    await target.close();
  }
}

/** One line per region when done; on a terminal, a percentage that updates in place. */
function progressPrinter(): (p: FlashProgress) => void {
  const tty = process.stdout.isTTY === true;
  return (p) => {
    const label = `  [${p.index + 1}/${p.count}] 0x${p.region.offset.toString(16)} ${p.region.path}`;
    const done = p.written >= p.total;
    if (tty && !done) process.stdout.write(`\r${label} ${Math.floor((100 * p.written) / Math.max(1, p.total))}%`);
    if (done) process.stdout.write(`${tty ? '\r' : ''}${label} ${p.region.bytes.length} bytes written\n`);
  };
}
