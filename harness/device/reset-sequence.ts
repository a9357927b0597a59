/**
 * Board control as data: reset and boot-mode sequences in esptool's notation, which USB bridge
 * wants which, and a runner that plays a sequence on a transport's modem lines and then reads the
 * ROM's boot line to learn what the chip did.
 *
 * Notation (esptool's custom reset strings, with esptool-js's milliseconds for W):
 *   D0 / D1   DTR released / asserted, RTS kept as it is
 *   R0 / R1   RTS released / asserted, DTR kept as it is
 *   U<d>,<r>  both lines in one step (esptool's unix-tight reset: one ioctl, no state in between)
 *   W<ms>     hold the lines for that long (a pulse width on the wire, not a wait for an event)
 * Every step goes through Transport.setSignals, which always sets both lines: a D or R step
 * repeats the other line's last value. On a DevKitC, RTS asserted pulls EN low (reset) and DTR
 * asserted pulls GPIO0 low (download mode if EN rises then); both asserted is "run".
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { UsageError, printable } from '../errors.ts';
import { LineSplitter, type Line } from '../protocol/lines.ts';
import { TransportError, type ModemLines, type Transport } from '../transport/transport.ts';
import { parseBootLine, type BootLine } from '../wire/boot-line.ts';
import { DeviceError } from './device.ts';

export type ResetStep =
  | { op: 'dtr' | 'rts'; asserted: boolean }
  | { op: 'both'; lines: ModemLines }
  | { op: 'wait'; ms: number };

export interface ResetSequence {
  /** A name from SEQUENCES, or "custom" for one a target or hilt.config.json spelled out. */
  name: string;
  /** The sequence as written: what an error message quotes. */
  text: string;
  steps: ResetStep[];
  /** What the chip should do after it: sit in the ROM loader, or boot its app from flash. */
  expect: 'download' | 'flash';
}

/** A sequence is a handful of steps; hundreds would be a typo or a paste gone wrong. */
const MAX_STEPS = 64;
/** No pulse on a reset line needs more than a few hundred ms; 10 s catches seconds written as ms' worth. */
const MAX_WAIT_MS = 10_000;

function parseStep(step: string): ResetStep | string {
  let m = /^([DR])([01])$/.exec(step);
  if (m) return { op: m[1] === 'D' ? 'dtr' : 'rts', asserted: m[2] === '1' };
  m = /^U([01]),([01])$/.exec(step);
  if (m) return { op: 'both', lines: { dtr: m[1] === '1', rts: m[2] === '1' } };
  m = /^W(\d+)$/.exec(step);
  if (m) {
    const ms = Number(m[1]);
    return ms <= MAX_WAIT_MS ? { op: 'wait', ms } : `waits ${ms} ms, over the ${MAX_WAIT_MS} ms limit (W counts milliseconds, as esptool-js does)`;
  }
  if (/^W\d*\.\d+$/.test(step)) return 'counts seconds as esptool does: write milliseconds, e.g. W100 for W0.1';
  return 'is not D0/D1 (DTR), R0/R1 (RTS), U<dtr>,<rts> (both at once) or W<ms>; e.g. D0|R1|W100|D1|R0|W50|D0';
}

/** "D0|R1|W100|D1|R0|W50|D0" → a sequence; a bad step is a UsageError naming it and its place. */
export function parseResetSequence(text: string, expect: ResetSequence['expect'] = 'download', name = 'custom'): ResetSequence {
  const parts = text.split('|').map((s) => s.trim());
  if (parts.length > MAX_STEPS) throw new UsageError(`reset sequence ${printable(JSON.stringify(text))} has ${parts.length} steps, over ${MAX_STEPS}: write a board's sequence in esptool's notation, e.g. D0|R1|W100|D1|R0|W50|D0`);
  const steps: ResetStep[] = [];
  for (const [i, part] of parts.entries()) {
    const step = parseStep(part);
    if (typeof step === 'string') {
      throw new UsageError(`reset sequence ${printable(JSON.stringify(text))}: step ${i + 1} ${printable(JSON.stringify(part))} ${step}`);
    }
    steps.push(step);
  }
  if (!steps.some((s) => s.op !== 'wait')) throw new UsageError(`reset sequence ${printable(JSON.stringify(text))} sets no line: give D, R or U steps, e.g. R1|W100|R0`);
  return { name, text, steps, expect };
}

/** esptool's own sequences (esptool/reset.py), with its delays in milliseconds. */
const TEXTS = {
  /** ClassicReset: GPIO0 low while EN rises; the EN capacitor delays the rise past the D1/R0 steps. */
  classic: ['D0|R1|W100|D1|R0|W50|D0', 'download'],
  /** The same with esptool's longer retry delay, for boards with a slower EN circuit. */
  'classic-slow': ['D0|R1|W100|D1|R0|W550|D0', 'download'],
  /** UnixTightReset: both lines per step, so the (1,1) state between D1 and R0 never happens. */
  'unix-tight': ['U0,0|U1,1|U0,1|W100|U1,0|W50|U0,0|D0', 'download'],
  'unix-tight-slow': ['U0,0|U1,1|U0,1|W100|U1,0|W550|U0,0|D0', 'download'],
  /** USBJTAGSerialReset: the chip's own USB-Serial/JTAG peripheral decodes the lines, not transistors. */
  'usb-jtag': ['R0|D0|W100|D1|R0|W100|R1|D0|R1|W100|D0|R0', 'download'],
  /** HardReset: EN pulsed low with GPIO0 high: the app boots from flash. */
  hard: ['R1|W100|R0', 'flash'],
  /** HardReset for USB bridges and USB-Serial/JTAG (esptool's uses_usb: longer pulse, time to re-enumerate). */
  'hard-usb': ['R1|W200|R0|W200', 'flash'],
} as const satisfies Record<string, readonly [string, ResetSequence['expect']]>;

export type SequenceName = keyof typeof TEXTS;

export const SEQUENCES: Readonly<Record<SequenceName, ResetSequence>> = Object.freeze(Object.fromEntries(
  Object.entries(TEXTS).map(([name, [text, expect]]) => [name, Object.freeze(parseResetSequence(text, expect, name))]),
) as Record<SequenceName, ResetSequence>);

export function isSequenceName(name: string): name is SequenceName {
  return Object.hasOwn(SEQUENCES, name);
}

/** A named sequence, or a custom one in the notation above. */
export function sequenceFrom(spec: string, expect: ResetSequence['expect']): ResetSequence {
  return isSequenceName(spec) ? SEQUENCES[spec] : parseResetSequence(spec, expect);
}

export interface Bridge {
  vid: number;
  pid: number;
  name: string;
  /** Which boards and chips carry it, for `hilt ports`. */
  family: string;
  /** Tried in order until the ROM says download mode (esptool's order on Linux and macOS). */
  download: readonly SequenceName[];
  hard: SequenceName;
}

const UART_BRIDGE = { download: ['unix-tight', 'classic', 'unix-tight-slow', 'classic-slow'], hard: 'hard' } as const;

/** USB bridges an ESP32 board is found behind (BENCH.md §1), by VID:PID. */
export const BRIDGES: readonly Bridge[] = [
  { vid: 0x10c4, pid: 0xea60, name: 'Silicon Labs CP210x', family: 'ESP32 DevKitC and most ESP32 boards', ...UART_BRIDGE },
  { vid: 0x1a86, pid: 0x7523, name: 'WCH CH340', family: 'ESP32 boards (clones, NodeMCU-32S)', ...UART_BRIDGE },
  { vid: 0x1a86, pid: 0x55d4, name: 'WCH CH9102', family: 'ESP32 DevKitC v4 (newer batches)', ...UART_BRIDGE },
  { vid: 0x0403, pid: 0x6001, name: 'FTDI FT232R', family: 'ESP32 boards with an FTDI bridge', ...UART_BRIDGE },
  { vid: 0x0403, pid: 0x6010, name: 'FTDI FT2232', family: 'ESP-WROVER-KIT, ESP-Prog (JTAG + UART)', ...UART_BRIDGE },
  { vid: 0x0403, pid: 0x6014, name: 'FTDI FT232H', family: 'ESP32 boards with an FTDI bridge', ...UART_BRIDGE },
  { vid: 0x0403, pid: 0x6015, name: 'FTDI FT231X', family: 'ESP32 boards with an FTDI bridge', ...UART_BRIDGE },
  { vid: 0x303a, pid: 0x1001, name: 'Espressif USB-Serial/JTAG', family: 'ESP32-C3/C6/H2/S3 built-in USB; re-enumerates on reset', download: ['usb-jtag'], hard: 'hard-usb' },
];

export function bridgeFor(vid: number | undefined, pid: number | undefined): Bridge | undefined {
  return BRIDGES.find((b) => b.vid === vid && b.pid === pid);
}

export interface RunOptions {
  signal?: AbortSignal;
  /** How a W step holds the lines (tests record it instead of waiting). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The lines before the first step; esptool assumes both released. */
  from?: ModemLines;
}

function lineControlOf(transport: Transport): (lines: ModemLines) => Promise<void> {
  if (!transport.capabilities.lineControl || !transport.setSignals) {
    throw new TransportError(`${transport.description} has no modem lines (DTR/RTS): it cannot be reset by a sequence; use reset=none, or reach the board through a USB bridge or RFC 2217`);
  }
  return transport.setSignals.bind(transport);
}

/** Plays `seq` on the transport's lines, step by step; resolves with the lines it left set. */
export async function runResetSequence(transport: Transport, seq: ResetSequence, options: RunOptions = {}): Promise<ModemLines> {
  const set = lineControlOf(transport);
  const sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
  let lines: ModemLines = { ...(options.from ?? { dtr: false, rts: false }) };
  for (const step of seq.steps) {
    options.signal?.throwIfAborted();
    if (step.op === 'wait') {
      await sleep(step.ms, options.signal);
      continue;
    }
    lines = step.op === 'both' ? { ...step.lines } : { ...lines, [step.op]: step.asserted };
    await set({ ...lines });
  }
  return lines;
}

export interface ResetOutcome {
  sequence: ResetSequence;
  boot: BootLine;
  /** The ROM's line as it came. */
  line: string;
}

export interface BootOptions extends RunOptions {
  /** How long after a sequence the ROM's boot line may take (default 2 s; it prints within ms). */
  bootTimeoutMs?: number;
}

const describeSeq = (s: ResetSequence) => `${s.name === 'custom' ? 'custom sequence' : s.name} (${s.text})`;

/** The first ROM boot line the transport delivers while `work` runs or within `ms` after it. */
async function bootLineAround(transport: Transport, ms: number, signal: AbortSignal | undefined, work: () => Promise<unknown>): Promise<{ boot: BootLine; line: string } | null> {
  // ROM lines are short; a bounded splitter keeps garbage at a wrong baud rate from piling up.
  const splitter = new LineSplitter({ maxLineBytes: 512 });
  let found: { boot: BootLine; line: string } | null = null;
  let wake = () => {};
  splitter.on('data', (line: Line) => {
    const boot = found ? null : parseBootLine(line.text);
    if (boot) found = { boot, line: line.text };
    if (found) wake();
  });
  const onData = (chunk: Buffer) => splitter.write(chunk);
  transport.on('data', onData);
  try {
    await work();
    if (found) return found;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); transport.off('close', done); resolve(); };
      wake = done;
      signal?.addEventListener('abort', done, { once: true });
      transport.once('close', done);
    });
    signal?.throwIfAborted();
    return found;
  } finally {
    transport.off('data', onData);
    splitter.destroy();
  }
}

/**
 * Tries `sequences` in turn until the ROM says what `want` asks for. Throws a DeviceError naming
 * every sequence tried and what the ROM said after each (or that it said nothing).
 */
export async function resetInto(transport: Transport, want: ResetSequence['expect'], sequences: readonly ResetSequence[], options: BootOptions = {}): Promise<ResetOutcome> {
  const bound = options.bootTimeoutMs ?? 2_000;
  const tried: string[] = [];
  let from = options.from;
  for (const sequence of sequences) {
    const seen = await bootLineAround(transport, bound, options.signal, async () => {
      from = await runResetSequence(transport, sequence, { ...options, ...(from ? { from } : {}) });
    });
    if (!transport.isOpen) {
      throw new TransportError(`${transport.description} went away during reset sequence ${describeSeq(sequence)}: a USB-Serial/JTAG board re-enumerates on reset; target it by identity (serial:?serial_number=...)`);
    }
    if (seen && seen.boot.download === (want === 'download')) return { sequence, ...seen };
    tried.push(`${describeSeq(sequence)}: ${seen ? printable(seen.line) : `no ROM boot line within ${bound} ms`}`);
  }
  const what = want === 'download' ? 'did not enter download mode' : 'did not boot from flash';
  const fix = want === 'download'
    ? 'hold BOOT (GPIO0) while pressing EN, or give the board\'s own sequence with reset=<sequence> or hilt.config.json bench.reset.download'
    : 'check the board is not strapped for download (GPIO0 low), or give its sequence with hilt.config.json bench.reset.hard';
  throw new DeviceError(`board on ${transport.description} ${what} after ${tried.join('; ')}: ${fix}`);
}

/** Resets into the ROM serial loader (the bridge's sequences, esptool's order, unless given). */
export function enterDownloadMode(transport: Transport, sequences: readonly ResetSequence[] = BRIDGES[0]!.download.map((n) => SEQUENCES[n]), options: BootOptions = {}): Promise<ResetOutcome> {
  return resetInto(transport, 'download', sequences, options);
}

/** Resets the chip so it boots its app from flash, and checks the ROM said so. */
export function hardReset(transport: Transport, sequence: ResetSequence = SEQUENCES.hard, options: BootOptions = {}): Promise<ResetOutcome> {
  return resetInto(transport, 'flash', [sequence], options);
}
