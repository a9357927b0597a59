/** `hilt emulate`: run emulated ESP32 boards for a harness, a terminal, or a serial tool to talk to. */
import type { Command } from 'commander';
import { UsageError, errnoOf, printable } from '../errors.ts';
import {
  PtyPathTakenError, SdkconfigError, SdkconfigFileError, SocatMissingError, readSdkconfigFile, servePty, serveRfc2217Board, serveStdio, serveTcp, type ChipSettings, type Esp32Chip, type Sdkconfig,
} from '../../emulator/index.ts';
import { within } from '../time.ts';
import { wholeNumber } from './args.ts';
import { untilSignal } from './signals.ts';

interface EmulateOptions {
  pty: boolean;
  tcp?: string;
  rfc2217?: string;
  sdkconfig?: string;
  json: boolean;
  count: string;
  realtime: boolean;
  heap?: string;
  boot?: string;
}

function loadSdkconfig(path: string): Sdkconfig {
  try {
    return readSdkconfigFile(path);
  } catch (err) {
    if (err instanceof SdkconfigFileError) throw new UsageError(`--sdkconfig ${path}: ${err.reason}`);
    if (err instanceof SdkconfigError) throw new UsageError(err.message);
    throw err;
  }
}

export function registerEmulate(program: Command): void {
  program
    .command('emulate')
    .description('run emulated ESP32 boards speaking the agent protocol (stdio by default)')
    .option('--pty', 'one pseudo-terminal per board, opened like a serial port (needs socat)', false)
    .option('--tcp <port>', 'serve boards on TCP, from this port up (0: any free port)')
    .option('--rfc2217 <port>', 'serve boards over RFC 2217 (baud rate, DTR/RTS: the auto-reset circuit), from this port up (0: any free port)')
    .option('--sdkconfig <file>', "your firmware's sdkconfig (default: hilt's reference agent firmware)")
    .option('--count <n>', 'how many boards (with --pty, --tcp or --rfc2217)', '1')
    .option('--heap <bytes>', 'free heap at boot (default 147968, an ESP32 with Wi-Fi up)')
    .option('--realtime', 'take as long on the wire as the modelled ESP32 would (a --pty/--tcp board also paces its UART at its baud rate)', false)
    .option('--boot <mode>', 'how a --pty/--tcp/--rfc2217 board boots at power-on: flash, or download (BOOT held: the ROM waits for esptool)')
    .option('--json', 'print each board as one JSON object per line', false)
    .action(async (opts: EmulateOptions) => {
      const settings: ChipSettings = { realtime: opts.realtime };
      if (opts.sdkconfig) settings.sdkconfig = loadSdkconfig(opts.sdkconfig);
      if (opts.heap) settings.heapBytes = wholeNumber('--heap', opts.heap, 0, 8 * 1024 * 1024);
      const count = wholeNumber('--count', opts.count, 1, 1000);
      const ways = [opts.pty && '--pty', opts.tcp !== undefined && '--tcp', opts.rfc2217 !== undefined && '--rfc2217'].filter((w): w is string => typeof w === 'string');
      if (ways.length > 1) throw new UsageError(`${ways.slice(0, -1).join(', ')} and ${ways.at(-1)}: choose one`);
      if (opts.boot !== undefined) {
        if (opts.boot !== 'flash' && opts.boot !== 'download') throw new UsageError(`--boot ${printable(opts.boot)}: use flash or download`);
        if (ways.length === 0) throw new UsageError('--boot: a stdio board is the agent alone, with no ROM to boot; use --pty, --tcp or --rfc2217');
        settings.boot = opts.boot;
      }
      if (ways.length === 0) {
        if (count !== 1) throw new UsageError('--count: several boards need --pty, --tcp or --rfc2217 (stdio carries one)');
        await serveStdio(settings);
        return;
      }

      // A whole chip's UART keeps time at its baud rate when the board is to be as slow as a real one.
      settings.pace = opts.realtime;
      const boards: Array<{ board: { id: string; mac: string }; chip: Esp32Chip; close(): Promise<void>; where: Record<string, unknown> }> = [];
      const closeAll = () => Promise.all(boards.map((b) => b.close()));
      try {
        for (let i = 0; i < count; i++) {
          const board = { ...settings, index: i + 1 };
          if (opts.pty) {
            const served = await servePty(board).catch((err: unknown) => {
              throw err instanceof SocatMissingError || err instanceof PtyPathTakenError ? new UsageError(err.message) : err;
            });
            boards.push({ ...served, where: { target: `serial:${served.path}`, pty: served.path } });
          } else if (opts.tcp !== undefined) {
            const base = wholeNumber('--tcp', opts.tcp, 0, 65535);
            const port = base === 0 ? 0 : base + i;
            const served = await serveTcp({ ...board, port }).catch((err: unknown) => {
              throw new UsageError(`--tcp: cannot listen on 127.0.0.1 port ${port} (${errnoOf(err)}): choose another port`);
            });
            boards.push({ ...served, where: { target: `tcp:127.0.0.1:${served.port}`, tcp: { host: served.host, port: served.port } } });
          } else {
            const base = wholeNumber('--rfc2217', opts.rfc2217!, 0, 65535);
            const port = base === 0 ? 0 : base + i;
            const served = await serveRfc2217Board({ ...board, port }).catch((err: unknown) => {
              throw new UsageError(`--rfc2217: cannot listen on 127.0.0.1 port ${port} (${errnoOf(err)}): choose another port`);
            });
            boards.push({ ...served, where: { target: `rfc2217://127.0.0.1:${served.port}`, rfc2217: { host: served.host, port: served.port } } });
          }
        }
      } catch (err) {
        await closeAll();
        throw err;
      }
      // Listen before saying ready: whoever reads "ready" may press Ctrl-C at once.
      const stopped = untilSignal();
      for (const b of boards) {
        if (opts.json) console.log(JSON.stringify({ type: 'board', id: b.board.id, mac: b.board.mac, ...b.where }));
        else console.log(`board ${b.board.id} (${b.board.mac}): --target ${String(b.where.target)}`);
      }
      if (opts.json) console.log(JSON.stringify({ type: 'ready', boards: boards.length }));
      else console.log(`${boards.length} board${boards.length === 1 ? '' : 's'} running; Ctrl-C to stop`);
      // Every later reset, as the chip saw it: on a bench that is what tells a wrong sequence.
      for (const b of boards) {
        b.chip.onBoot((boot) => {
          if (opts.json) console.log(JSON.stringify({ type: 'boot', id: b.board.id, mode: boot.mode, reason: boot.reason, gpio0: boot.gpio0 }));
          else console.log(`board ${b.board.id}: ${boot.mode === 'download' ? 'download mode' : 'boot from flash'} (GPIO0 ${boot.gpio0 === 0 ? 'low' : 'high'}, ${boot.reason})`);
        });
      }
      const signal = await stopped;
      const closed = await within(5_000, closeAll());
      if (!opts.json) console.log(`${signal}: boards ${closed === 'timeout' ? 'did not stop within 5 s' : 'stopped'}`);
    });
}
