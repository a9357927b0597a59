/**
 * A device in firmware mode: a board running its own application, which hilt never sends a byte
 * to. It only listens: the console as ESP-IDF log lines (in a bounded window and the scenario's
 * console log), the firmware's identity from its boot lines, and panics, with the same detection
 * as an agent Device. What the device did on the network is the endpoint's record, not this.
 */
import { EventEmitter } from 'node:events';
import type { Line } from '../protocol/index.ts';
import type { CloseInfo, Transport } from '../transport/transport.ts';
import { ConsoleLog } from './console-log.ts';
import { ConsoleFramer } from './console-lines.ts';
import { ExpectTimeoutError, MAX_CONSOLE_LINE, type ConsoleLine, type DeviceNote } from './device.ts';
import type { GarbleLimits } from './garble.ts';
import { DeviceNotes } from './notes.ts';
import { detectPanic, parseLogLine, parseResetLine, stripColours, unexpectedReset, type Panic } from './log.ts';
import { parseElfShaLine } from '../wire/boot-line.ts';
import { LineWindow, type WindowLimits } from './window.ts';

/** What a firmware's boot lines say about it; null until printed (a board that booted long ago says nothing). */
export interface BootIdentity {
  project: string | null;
  version: string | null;
  idf: string | null;
  /** As printed: ESP-IDF prints the first CONFIG_APP_RETRIEVE_LEN_ELF_SHA hex digits. */
  elfSha256: string | null;
  chip: string | null;
  mac: string | null;
}

const MAC = '([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})';

/** How long a debug exception waits for the next line, which the panic handler prints at once. */
const HOLD_MS = 500;

/**
 * ESP-IDF's boot lines, by their message (the tag moved from cpu_start to app_init in IDF 5).
 * Each returns the fields it fills.
 */
const IDENTITY_LINES: ReadonlyArray<[RegExp, (m: RegExpExecArray) => Partial<BootIdentity>]> = [
  [/^Project name:\s+(\S.*)$/, (m) => ({ project: m[1]!.trim() })],
  [/^App version:\s+(\S.*)$/, (m) => ({ version: m[1]!.trim() })],
  [/^ESP-IDF:\s+(\S.*)$/, (m) => ({ idf: m[1]!.trim() })],
  // The 2nd stage bootloader: "I (35) boot: chip revision: v3.0".
  [/^chip revision:\s+(v?[\d.]+)/, (m) => ({ chip: `rev ${m[1]}` })],
  // Wi-Fi start ("I (588) wifi:mode : sta (24:0a:c4:00:00:01)") or an app's own "mac 24:0a:...".
  [new RegExp(`^mode : sta \\(${MAC}\\)`), (m) => ({ mac: m[1]!.toLowerCase() })],
  [new RegExp(`\\bmac:? ${MAC}`, 'i'), (m) => ({ mac: m[1]!.toLowerCase() })],
];

/** The chip model from the ROM's first line (ESP32-S3/C3/...: "ESP-ROM:esp32s3-20210327") or the bootloader's tag. */
function chipModelOf(text: string, tag: string | null): string | null {
  const rom = /^ESP-ROM:(esp32[a-z0-9]*)-/i.exec(text);
  if (rom) return rom[1]!.toUpperCase().replace('ESP32', 'ESP32-').replace(/-$/, '');
  const boot = tag ? /^boot\.(esp32[a-z0-9]*)$/.exec(tag) : null;
  if (boot) return boot[1]!.toUpperCase().replace('ESP32', 'ESP32-').replace(/-$/, '');
  return null;
}

/** Reads one console line into `into`; true when it said something about the firmware. */
export function readIdentity(text: string, into: BootIdentity & { model?: string | null }): boolean {
  const log = parseLogLine(text);
  const model = chipModelOf(stripColours(text).trim(), log?.tag ?? null);
  if (model) into.model = model;
  if (!log) return model !== null;
  const elfSha256 = parseElfShaLine(stripColours(text));
  if (elfSha256 !== null) {
    into.elfSha256 = elfSha256;
    return true;
  }
  for (const [pattern, fields] of IDENTITY_LINES) {
    const m = pattern.exec(log.message);
    if (m) {
      Object.assign(into, fields(m));
      return true;
    }
  }
  return model !== null;
}

export interface FirmwareDeviceOptions {
  window?: Partial<WindowLimits>;
  garble?: Partial<GarbleLimits>;
}

export class FirmwareDevice extends EventEmitter {
  readonly window: LineWindow<ConsoleLine>;
  readonly notes: DeviceNote[];
  /** Every panic the device printed, in order (also emitted as 'panic'). */
  readonly panics: Panic[] = [];
  private readonly found: BootIdentity & { model?: string | null } = { project: null, version: null, idf: null, elfSha256: null, chip: null, mac: null };
  private readonly log = new ConsoleLog();
  private readonly noted: DeviceNotes;
  /** A debug exception waiting for the line that names its cause (see onLine). */
  private held: { panic: Panic; timer: NodeJS.Timeout } | null = null;
  /** A reset hilt asked for is under way: its boot lines are expected, not a reboot on its own. */
  private resetting = false;
  private closed: CloseInfo | null = null;

  private constructor(readonly transport: Transport, options: FirmwareDeviceOptions) {
    super();
    this.window = new LineWindow(options.window);
    this.noted = new DeviceNotes({
      lineNumber: () => this.window.next, log: (text) => this.log.line(text), emit: (note) => this.emit('note', note),
    }, options.garble);
    this.notes = this.noted.list;
    transport.on('reopened', (path: string) => this.noted.add('reopened', `the board went away and was found again on ${path} (re-enumerated): output while it was away is lost`));
    this.log.on('logError', (path: string, err: unknown) => this.emit('logError', path, err));
    const splitter = new ConsoleFramer({ maxLineBytes: MAX_CONSOLE_LINE });
    transport.on('data', (chunk: Buffer) => {
      this.noted.watch(chunk);
      splitter.write(chunk);
    });
    splitter.on('data', (line: Line) => this.onLine(line));
    transport.once('close', (info: CloseInfo) => {
      this.releaseHeld();
      this.closed = info;
      this.emit('failure');
    });
  }

  /** Opens the transport and listens; waits for nothing (a board that booted long ago prints nothing). */
  static async open(transport: Transport, options: FirmwareDeviceOptions = {}): Promise<FirmwareDevice> {
    const device = new FirmwareDevice(transport, options);
    await transport.open();
    return device;
  }

  get description(): string {
    return this.transport.description;
  }

  /** What the boot lines seen so far said; chip joins the model and revision when both were printed. */
  get identity(): BootIdentity {
    const { model, ...rest } = this.found;
    const chip = model && rest.chip ? `${model} ${rest.chip}` : model ?? (rest.chip ? `ESP32 ${rest.chip}` : null);
    return { ...rest, chip };
  }

  get lines(): readonly ConsoleLine[] {
    return this.window.held();
  }

  /** Number of the next console line: pass to consoleSince() to read only what comes after. */
  mark(): number {
    return this.window.next;
  }

  /** Console lines since `mark`, as text; a WindowError if some were dropped from memory. */
  consoleSince(mark: number): string[] {
    return this.window.since(mark).map((l) => l.text);
  }

  /**
   * Brackets a reset hilt makes (target reset, reset command): the boot lines that follow are
   * expected. Resolves with `work`'s value.
   */
  async whileResetting<T>(work: () => Promise<T>): Promise<T> {
    this.resetting = true;
    try {
      return await work();
    } finally {
      this.resetting = false;
    }
  }

  /** The first console line from `since` (default: from now on) that matches, within `timeoutMs`. */
  expect(pattern: RegExp | string, options: { timeoutMs?: number; since?: number } = {}): Promise<ConsoleLine> {
    const { timeoutMs = 5_000, since = this.window.next } = options;
    const matches = (l: ConsoleLine) => (typeof pattern === 'string' ? l.text.includes(pattern) : pattern.test(l.text));
    let next = since;
    return new Promise((resolve, reject) => {
      const check = () => {
        let found: ConsoleLine | undefined;
        try {
          for (const line of this.window.since(next)) {
            next++;
            if (matches(line)) { found = line; break; }
          }
        } catch (err) {
          finish();
          return reject(err);
        }
        if (found) { finish(); resolve(found); }
        else if (this.closed) { finish(); reject(new ExpectTimeoutError(`${this.description} closed (${this.closed.reason}) before the console printed ${pattern}`)); }
      };
      const timer = setTimeout(() => { finish(); reject(new ExpectTimeoutError(`console did not print ${pattern} within ${timeoutMs} ms`)); }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.off('line', check);
        this.off('failure', check);
      };
      this.on('line', check);
      this.on('failure', check);
      check();
    });
  }

  startLog(path: string): void {
    this.log.start(path, this.description);
  }

  stopLog(): Promise<void> {
    return this.log.stop();
  }

  async close(): Promise<void> {
    await this.stopLog();
    await this.transport.close();
  }

  private raise(panic: Panic): void {
    this.panics.push(panic);
    this.emit('panic', panic);
  }

  /** The held debug exception goes out as it is, unless `superseded` by the line naming its cause. */
  private releaseHeld(superseded = false): void {
    if (!this.held) return;
    clearTimeout(this.held.timer);
    const { panic } = this.held;
    this.held = null;
    if (!superseded) this.raise(panic);
  }

  private onLine(line: Line): void {
    this.log.line(line.text);
    if (line.truncated) {
      this.noted.add('overlong_line', `a console line ran over ${MAX_CONSOLE_LINE} bytes: only its start is kept, the rest of it was dropped`);
    }
    const text = stripColours(line.text);
    const consoleLine: ConsoleLine = { text, log: parseLogLine(text), at: Date.now() };
    readIdentity(text, this.found);
    this.window.push(consoleLine);
    this.emit('line', consoleLine);
    if (parseResetLine(text)) this.emit('boot', text);
    const panic = detectPanic(text);
    if (text.trim() !== '') this.releaseHeld(panic?.kind === 'stack_overflow');
    if (panic) {
      // A stack canary is a debug exception whose cause, and task, the next line names: held for
      // that line (at most HOLD_MS), so the report says "stack overflow in task X", once.
      if (panic.kind === 'guru_meditation' && /debug exception/i.test(panic.reason)) {
        this.held = { panic, timer: setTimeout(() => this.releaseHeld(), HOLD_MS) };
        return;
      }
      this.raise(panic);
      return;
    }
    // A firmware may restart itself on purpose (esp_restart() after failed connects): a note the
    // report shows, not a crash; a crash prints its own lines first, and is one.
    const reset = this.resetting ? null : unexpectedReset(text);
    if (reset) this.emit('restart', reset);
  }
}

