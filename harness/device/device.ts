/**
 * A device under test, over any transport: agent commands with timeouts, the console as lines,
 * `expect()` on them, and fail-fast when the firmware panics or reboots on its own.
 *
 * Opening never waits for a boot banner (the board may have booted long ago): it asks `hello`
 * and refuses a protocol version it does not know.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import {
  checkErrReply, checkEvent, checkReply, encodeCommand, hasEventSchema, hasReplySchema, parseDeviceLine, storePutLines,
  UnsupportedProtoError, SchemaError,
  type ArgValue, type ConnectResult, type Events, type HelloReply, type Line, type Replies,
} from '../protocol/index.ts';
import { HiltError, ExitCode, brandAcrossCopies } from '../errors.ts';
import type { CloseInfo, Transport } from '../transport/transport.ts';
import { detectPanic, parseLogLine, stripColours, unexpectedReset, type LogLine, type Panic } from './log.ts';
import { ConsoleLog } from './console-log.ts';
import { ConsoleFramer } from './console-lines.ts';
import { LineWindow, type WindowKind, type WindowLimits } from './window.ts';
import type { GarbleLimits } from './garble.ts';
import { DeviceNotes, type DeviceNote } from './notes.ts';

export { WindowError, DEFAULT_WINDOW, type WindowLimits } from './window.ts';

export interface ConsoleLine {
  /** The text as the device printed it, colours stripped. */
  text: string;
  log: LogLine | null;
  /** Host time when the line arrived (ms since the epoch). */
  at: number;
}

export interface DeviceEvent<Body = Record<string, unknown>> {
  name: string;
  body: Body;
  at: number;
  /**
   * Why the body is not what docs/protocol.md says this event carries (then `body` is as sent).
   * Waiting for such an event fails with a DeviceError: the device broke the protocol.
   */
  malformed?: string;
}

export type { DeviceNote } from './notes.ts';

/** Longest console line kept whole; longer ones are cut (lines.ts) and noted. */
export const MAX_CONSOLE_LINE = 64 * 1024;
/**
 * Events kept in memory: a device that publishes without end (mqtt.message events) must not grow
 * the run either. Every event is also a line of the console log.
 */
export const DEFAULT_EVENT_WINDOW: WindowLimits = { maxLines: 1000, maxBytes: 1024 * 1024 };
const DEVICE_EVENTS: WindowKind = {
  items: 'device events',
  kept: (l) => `a device keeps its last ${l.maxLines} events or ${l.maxBytes} bytes of them; every event is in the scenario's console log`,
};

/** Notes kept in memory (the console log has them all). */

export interface DeviceOptions {
  /** Default per-command timeout (connect commands add their own timeout_ms). */
  commandTimeoutMs?: number;
  /** How long `hello` may take when opening. */
  helloTimeoutMs?: number;
  /** How many console lines (and bytes of them) stay in memory for expect(); see window.ts. */
  window?: Partial<WindowLimits>;
  /** How many protocol events (and bytes of their bodies) stay in memory for waitEvent(). */
  eventWindow?: Partial<WindowLimits>;
  /** When output counts as garbled (garble.ts). */
  garble?: Partial<GarbleLimits>;
}

/** The device refused a command (`err` reply): a usage problem in the scenario or the harness. */
export class CommandRefusedError extends HiltError {
  constructor(readonly command: string, readonly code: string, message: string) {
    super(`${command} refused by the device (${code}): ${message}`, ExitCode.failed);
    this.name = 'CommandRefusedError';
  }
}

/** The device did not answer, went away, or cannot be spoken to: infrastructure. */
export class DeviceError extends HiltError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.unreachable, options);
    this.name = 'DeviceError';
  }
}
brandAcrossCopies(DeviceError, 'DeviceError');

/**
 * The device broke the protocol: a reply or event not shaped as docs/protocol.md says, or a reply
 * line that does not parse. Infrastructure like any DeviceError (exit 3); its own class so that a
 * wait that has other ways to end (reset) can end on it at once.
 */
export class MalformedReplyError extends DeviceError {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedReplyError';
  }
}
brandAcrossCopies(MalformedReplyError, 'MalformedReplyError');

/** The firmware crashed or rebooted on its own: a product failure, reported with its reason. */
export class PanicError extends HiltError {
  constructor(readonly panic: Panic) {
    super(`device ${panic.kind.replace('_', ' ')}: ${panic.reason} ("${panic.line.trim()}")`, ExitCode.failed);
    this.name = 'PanicError';
  }
}
brandAcrossCopies(PanicError, 'PanicError');

export class ExpectTimeoutError extends HiltError {
  constructor(message: string) {
    super(message, ExitCode.failed);
    this.name = 'ExpectTimeoutError';
  }
}
brandAcrossCopies(ExpectTimeoutError, 'ExpectTimeoutError');

interface Pending {
  command: string;
  /** performance.now() when the line went to the transport: the host's measure of the reply. */
  started: number;
  resolve: (body: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const MAX_ID = 2 ** 31 - 1;

export class Device extends EventEmitter {
  /** The recent console lines; all of them go to the console log (startLog). */
  readonly window: LineWindow<ConsoleLine>;
  /** The recent protocol events (boot, mqtt.message ...), numbered like console lines. */
  readonly eventWindow: LineWindow<DeviceEvent>;
  /** The latest notes about the device's output, oldest first (also emitted as 'note'). */
  readonly notes: DeviceNote[];
  hello: HelloReply | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly log = new ConsoleLog();
  private resetting = false;
  private failure: Error | null = null;
  private readonly commandTimeoutMs: number;
  private readonly noted: DeviceNotes;

  private constructor(readonly transport: Transport, options: DeviceOptions) {
    super();
    this.log.on('logError', (path: string, err: unknown) => this.emit('logError', path, err));
    this.commandTimeoutMs = options.commandTimeoutMs ?? 15_000;
    this.window = new LineWindow(options.window);
    this.eventWindow = new LineWindow<DeviceEvent>({ ...DEFAULT_EVENT_WINDOW, ...options.eventWindow }, DEVICE_EVENTS,
      (e) => e.name.length + Buffer.byteLength(JSON.stringify(e.body)));
    this.noted = new DeviceNotes({
      lineNumber: () => this.window.next, log: (text) => this.logLine(text), emit: (note) => this.emit('note', note),
    }, options.garble);
    this.notes = this.noted.list;
    transport.on('reopened', (path: string) => this.noted.add('reopened', `the board went away and was found again on ${path} (re-enumerated): output while it was away is lost`));
    const splitter = new ConsoleFramer({ maxLineBytes: MAX_CONSOLE_LINE });
    transport.on('data', (chunk: Buffer) => {
      this.noted.watch(chunk);
      splitter.write(chunk);
    });
    splitter.on('data', (line: Line) => this.onLine(line));
    transport.once('close', (info: CloseInfo) => this.onClose(info));
  }

  /** Opens the transport and greets the device. Infrastructure errors are DeviceErrors (exit 3). */
  static async open(transport: Transport, options: DeviceOptions = {}): Promise<Device> {
    // Listen before opening: whatever the board prints from the first byte on is kept.
    const device = new Device(transport, options);
    await transport.open();
    try {
      await device.greet(options.helloTimeoutMs ?? 5_000);
    } catch (err) {
      await transport.close();
      throw err;
    }
    return device;
  }

  get description(): string {
    return this.transport.description;
  }

  /** The console lines still in memory, oldest first. */
  get lines(): readonly ConsoleLine[] {
    return this.window.held();
  }

  /**
   * Number of the next console line: pass as `since` to look only at what comes after. A search
   * from a mark whose lines were partly dropped from memory fails with a WindowError.
   */
  mark(): number {
    return this.window.next;
  }

  /** The protocol events still in memory, oldest first. */
  get events(): readonly DeviceEvent[] {
    return this.eventWindow.held();
  }

  /**
   * Number of the next event: pass as `since` to waitEvent() to look only at events from now on.
   * A wait from a mark whose events were dropped from memory fails with a WindowError.
   */
  eventMark(): number {
    return this.eventWindow.next;
  }

  /** Sends `hello` and checks the protocol version. */
  async greet(timeoutMs = 5_000): Promise<HelloReply> {
    let body: unknown;
    try {
      body = await this.command('hello', {}, { timeoutMs });
    } catch (err) {
      if (err instanceof DeviceError && /no reply/.test(err.message)) {
        const why = this.noted.garble.diagnosis() ?? 'is the test agent firmware running on it?';
        throw new DeviceError(`${this.description}: no reply to hello within ${timeoutMs} ms: ${why}`, { cause: err });
      }
      throw err;
    }
    // Checked as every reply is, on arrival (onReply).
    this.hello = body as HelloReply;
    return this.hello;
  }

  /** Sends a command; resolves with the ok body. */
  command<C extends keyof Replies>(command: C, args?: Record<string, ArgValue | undefined>, options?: { timeoutMs?: number }): Promise<Replies[C]>;
  command(command: string, args?: Record<string, ArgValue | undefined>, options?: { timeoutMs?: number }): Promise<Record<string, unknown>>;
  command(command: string, args: Record<string, ArgValue | undefined> = {}, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.allocId();
    const line = encodeCommand(id, command, args);
    return this.send(id, command, line, options.timeoutMs ?? this.commandTimeoutMs);
  }

  /** Uploads a credential to a store slot, in as many parts as it takes. */
  async store(slot: string, kind: 'ca' | 'cert' | 'key', pem: string): Promise<void> {
    const lines = storePutLines(slot, kind, Buffer.from(pem), () => this.allocId());
    for (const line of lines) await this.send(Number(line.split(' ')[1]), 'store.put', line, this.commandTimeoutMs);
  }

  /** tls.connect / mqtt.connect, waited for as long as the device may take (timeout_ms + margin). */
  connect(command: 'tls.connect' | 'mqtt.connect', args: Record<string, ArgValue | undefined>): Promise<ConnectResult> {
    const deviceTimeout = Number(args.timeout_ms ?? 0) || 10_000;
    const hold = Number(args.hold_ms ?? 0);
    // The device answers within its own timeout; MQTT adds its own wait for CONNACK.
    const timeoutMs = deviceTimeout * (command === 'mqtt.connect' ? 2 : 1) + hold + this.commandTimeoutMs;
    return this.command(command, args, { timeoutMs }) as Promise<ConnectResult>;
  }

  /**
   * Reboots the device through the agent and waits for its boot event. A reset has no reply
   * guaranteed (the board restarts); an `err` reply (busy) is a refusal and fails at once.
   */
  async reset(timeoutMs = 10_000): Promise<void> {
    const from = this.eventMark();
    const id = this.allocId();
    this.resetting = true;
    const reply = this.send(id, 'reset', encodeCommand(id, 'reset'), timeoutMs);
    const refused = new Promise<never>((_, reject) => {
      reply.catch((err: unknown) => { if (err instanceof CommandRefusedError || err instanceof MalformedReplyError) reject(err); });
    });
    try {
      await Promise.race([this.waitEvent('boot', { timeoutMs, since: from }), refused]);
    } finally {
      this.resetting = false;
      this.forget(id);
    }
  }

  /** Resolves once no command is waiting for its reply (each has its own timeout). */
  idle(timeoutMs = this.commandTimeoutMs): Promise<void> {
    return this.waitFor(() => (this.pending.size === 0 ? true : undefined), timeoutMs,
      () => `${this.description}: still busy with ${[...this.pending.values()].map((p) => p.command).join(', ')} after ${timeoutMs} ms`)
      .then(() => undefined);
  }

  /**
   * Resolves with the first console line from `since` (default: lines printed from now on) that
   * matches; fails fast on `notMatching` or a panic. Lines are read as they arrive, so a waiting
   * expect() sees every one; a `since` whose lines were already dropped from memory fails at
   * once with a WindowError, since neither the first match nor `notMatching` can be judged.
   */
  expect(pattern: RegExp | string, options: { timeoutMs?: number; notMatching?: RegExp; since?: number } = {}): Promise<ConsoleLine> {
    const { timeoutMs = 5_000, notMatching, since = this.window.next } = options;
    const matches = (l: ConsoleLine) => (typeof pattern === 'string' ? l.text.includes(pattern) : pattern.test(l.text));
    let next = since;
    return this.waitFor(() => {
      for (const line of this.window.since(next)) {
        next++;
        if (notMatching?.test(line.text)) throw new ExpectTimeoutError(`console printed ${JSON.stringify(line.text)}, which must not appear (${notMatching}) while waiting for ${pattern}`);
        if (matches(line)) return line;
      }
      return undefined;
    }, timeoutMs, () => `console did not print ${pattern} within ${timeoutMs} ms`);
  }

  /**
   * Resolves with the first `name` event from `since` (default: from now on). An event of that
   * name whose body breaks the protocol fails the wait with a DeviceError, whatever came after it.
   */
  waitEvent<E extends keyof Events>(name: E, options?: { timeoutMs?: number; since?: number }): Promise<DeviceEvent<Events[E]>>;
  waitEvent(name: string, options?: { timeoutMs?: number; since?: number }): Promise<DeviceEvent>;
  waitEvent(name: string, options: { timeoutMs?: number; since?: number } = {}): Promise<DeviceEvent> {
    const { timeoutMs = 10_000, since = this.eventMark() } = options;
    return this.waitFor(() => {
      const event = this.eventWindow.since(since).find((e) => e.name === name);
      if (event?.malformed) throw new MalformedReplyError(`${this.description}: ${name} event malformed: ${event.malformed}`);
      return event;
    }, timeoutMs, () => `no ${name} event from the device within ${timeoutMs} ms`);
  }

  /** Console lines since `since`, as text; a WindowError if some were dropped from memory. */
  consoleSince(since: number): string[] {
    return this.window.since(since).map((l) => l.text);
  }

  /**
   * Starts writing every console line (and protocol line) to `path`, with host timestamps. Its
   * folder must exist; synchronous so that no line between two scenarios is lost.
   */
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

  private allocId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    return id;
  }

  /** Stops waiting for a reply that may never come (reset). */
  private forget(id: number): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending.delete(id);
    this.emit('settled');
  }

  private send(id: number, command: string, line: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.emit('settled');
        const why = this.noted.garble.diagnosis();
        reject(new DeviceError(`${this.description}: no reply to ${command} within ${timeoutMs} ms${why ? `: ${why}` : ''}`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer, started: performance.now() });
      this.logLine(`> ${line}`);
      this.transport.write(`${line}\n`).catch((err: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new DeviceError(`${this.description}: cannot send ${command}: ${err.message}`, { cause: err }));
      });
    });
  }

  private waitFor<T>(find: () => T | undefined, timeoutMs: number, timeoutMessage: () => string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.failure) {
          finish();
          reject(this.failure);
          return true;
        }
        let found: T | undefined;
        try {
          found = find();
        } catch (err) {
          finish();
          reject(err);
          return true;
        }
        if (found === undefined) return false;
        finish();
        resolve(found);
        return true;
      };
      const onChange = () => { check(); };
      const timer = setTimeout(() => { finish(); reject(new ExpectTimeoutError(timeoutMessage())); }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.off('line', onChange);
        this.off('event', onChange);
        this.off('failure', onChange);
        this.off('settled', onChange);
      };
      if (check()) return;
      this.on('line', onChange);
      this.on('event', onChange);
      this.on('failure', onChange);
      this.on('settled', onChange);
    });
  }

  private onLine(line: Line): void {
    this.logLine(line.text);
    if (line.truncated) {
      this.noted.add('overlong_line', `a console line ran over ${MAX_CONSOLE_LINE} bytes: only its start is kept, the rest of it was dropped`);
    }
    const parsed = parseDeviceLine(line);
    const at = Date.now();
    if (parsed.kind === 'reply' || parsed.kind === 'event') {
      // A protocol line came through whole: the link is fine, whatever came before.
      this.noted.clean();
    }
    if (parsed.kind === 'reply') {
      this.onReply(parsed.id, parsed.status, parsed.body);
      return;
    }
    if (parsed.kind === 'event') {
      this.onEvent(parsed.name, parsed.body, at);
      return;
    }
    if (parsed.kind === 'garbled') {
      // A reply whose id can still be read fails its command now, rather than at its timeout.
      const id = /^@hil ([1-9]\d*) /.exec(parsed.text)?.[1];
      const pending = id === undefined ? undefined : this.pending.get(Number(id));
      if (pending) this.settle(Number(id), pending, () => pending.reject(new MalformedReplyError(`${this.description}: ${pending.command} reply garbled: ${parsed.problem}`)));
    }
    const text = stripColours(parsed.text);
    const consoleLine: ConsoleLine = { text, log: parseLogLine(text), at };
    this.window.push(consoleLine);
    this.emit('line', consoleLine);
    const panic = detectPanic(text) ?? this.unexpectedReset(text);
    if (panic) this.fail(new PanicError(panic));
  }

  /**
   * A reply, checked against its command's schema: one that breaks the protocol fails the command
   * with a DeviceError (the device, not the product, is at fault), never reaches the scenario.
   */
  private onReply(id: number, status: 'ok' | 'err', body: Record<string, unknown>): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    const elapsedMs = performance.now() - pending.started;
    this.settle(id, pending, () => {
      const { command } = pending;
      try {
        if (status === 'err') {
          const err = checkErrReply(body);
          pending.reject(new CommandRefusedError(command, err.code, err.message));
        } else {
          pending.resolve(hasReplySchema(command) ? checkReply(command, body, { elapsedMs }) as Record<string, unknown> : body);
        }
      } catch (err) {
        if (err instanceof UnsupportedProtoError) pending.reject(new DeviceError(`${this.description}: ${err.message}: update hilt or the agent firmware`));
        else if (err instanceof SchemaError) pending.reject(new MalformedReplyError(`${this.description}: ${command} reply malformed: ${err.message}`));
        else pending.reject(err as Error);
      }
    });
  }

  private settle(id: number, pending: Pending, finish: () => void): void {
    this.pending.delete(id);
    clearTimeout(pending.timer);
    this.emit('settled');
    finish();
  }

  /** An event of v1 is checked; one of a later version passes as sent (a host ignores what it does not know). */
  private onEvent(name: string, body: Record<string, unknown>, at: number): void {
    let event: DeviceEvent = { name, body, at };
    if (hasEventSchema(name)) {
      try {
        event = { name, body: checkEvent(name, body), at };
      } catch (err) {
        if (!(err instanceof SchemaError)) throw err;
        event.malformed = err.message;
        this.logLine(`[hilt] ${name} event malformed: ${err.message}`);
      }
    }
    this.eventWindow.push(event);
    this.emit('event', event);
  }

  private unexpectedReset(text: string): Panic | null {
    return this.resetting ? null : unexpectedReset(text);
  }

  /** A panic fails what is waiting now; the device is usable again after a reset. */
  private fail(err: PanicError): void {
    this.emit('panic', err.panic);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
    this.failure = err;
    this.emit('failure');
    this.failure = null;
  }

  private onClose(info: CloseInfo): void {
    const err = new DeviceError(`${this.description}: ${info.expected ? 'closed' : `went away: ${info.reason}`}`);
    this.failure = err;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
    this.emit('failure');
  }

  private logLine(text: string): void {
    this.log.line(redactKeys(text));
  }
}

/** Console logs go into reports: a private key uploaded with store.put never does. */
export function redactKeys(line: string): string {
  if (!/\bstore\.put\b/.test(line) || !/\bkind=key\b/.test(line)) return line;
  return line.replace(/\bdata=\S+/, 'data=<private key part, not logged>');
}
