/**
 * A QEMU Machine Protocol client, as small as hilt needs: the greeting, qmp_capabilities,
 * system_reset, quit (and any other command by name). QMP is JSON objects, one per line, over a
 * socket; replies carry the `id` the command was sent with, and events (RESET, SHUTDOWN) come in
 * between. Every wait is bounded and so is every line: a peer that is not QEMU (or a QEMU that
 * hangs) gives a QmpError naming the address, never a wait for ever or a buffer without end.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { brandAcrossCopies, errnoOf, printable } from '../errors.ts';
import { TransportError } from '../transport/transport.ts';
import { settleWithin } from '../time.ts';

/** QEMU is the bench here: a QMP failure is a device that cannot be reached (exit 3), a TransportError to the runner. */
export class QmpError extends TransportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QmpError';
  }
}
brandAcrossCopies(QmpError, 'QmpError');

export interface QmpOptions {
  host: string;
  port: number;
  /** Bound on the connection, the greeting and each reply (default 5 s). */
  timeoutMs?: number;
  /** Longest line accepted (default 1 MiB; QEMU's replies to hilt's commands are a few hundred bytes). */
  maxLineBytes?: number;
  /** Gives up connecting (the caller no longer waits: QEMU exited). */
  signal?: AbortSignal;
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

export class QmpClient extends EventEmitter {
  readonly where: string;
  /** QEMU's version from the greeting, e.g. "7.2.22". */
  version = '';
  private readonly timeoutMs: number;
  private readonly maxLineBytes: number;
  private socket: net.Socket | null = null;
  private buffered = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private greeting: ((value: unknown) => void) | null = null;
  private gone: string | null = null;

  private constructor(options: QmpOptions) {
    super();
    this.where = `QMP at ${options.host}:${options.port}`;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  }

  /** Connects, reads the greeting and leaves capabilities negotiation mode: ready for commands. */
  static async connect(options: QmpOptions): Promise<QmpClient> {
    const client = new QmpClient(options);
    try {
      await client.open(options.host, options.port, options.signal);
      await client.execute('qmp_capabilities');
    } catch (err) {
      client.destroy();
      throw err;
    }
    return client;
  }

  private open(host: string, port: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      this.socket = socket;
      const onAbort = () => fail(new QmpError(`${this.where}: connection given up (${String(signal!.reason ?? 'aborted')})`));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) queueMicrotask(onAbort);
      // Connecting to a free port in the ephemeral range can connect the socket to itself (TCP
      // simultaneous open): that is nobody listening, not a silent QMP server.
      socket.once('connect', () => {
        if (socket.localPort === port && socket.localAddress === socket.remoteAddress) {
          socket.destroy(Object.assign(new Error('connected to itself'), { code: 'ECONNREFUSED' }));
        }
      });
      const timer = setTimeout(() => {
        fail(new QmpError(`${this.where}: no QMP greeting within ${this.timeoutMs} ms: is this QEMU's -qmp port?`));
      }, this.timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.greeting = null;
        socket.destroy();
        reject(err);
      };
      socket.once('error', (err) => fail(new QmpError(`${this.where}: cannot connect (${errnoOf(err)}): is QEMU running?`, { cause: err })));
      socket.on('data', (chunk: Buffer) => this.received(chunk));
      socket.once('close', () => {
        const why = this.gone ?? 'QEMU closed the QMP connection';
        this.gone = why;
        if (this.greeting) fail(new QmpError(`${this.where}: ${why} before its greeting`));
        for (const p of this.pending.values()) p.reject(new QmpError(`${this.where}: ${why}`));
        this.pending.clear();
        this.emit('close', why);
      });
      this.greeting = (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.greeting = null;
        socket.removeAllListeners('error');
        socket.on('error', (err) => { this.gone ??= `connection failed (${errnoOf(err)})`; });
        const qmp = (value as { QMP?: { version?: { qemu?: { major?: number; minor?: number; micro?: number } } } }).QMP;
        if (!qmp) return fail(new QmpError(`${this.where}: the first line is not a QMP greeting: is this QEMU's -qmp port?`));
        const v = qmp.version?.qemu;
        if (v) this.version = `${v.major}.${v.minor}.${v.micro}`;
        resolve();
      };
    });
  }

  private received(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    for (let nl = this.buffered.indexOf(0x0a); nl !== -1; nl = this.buffered.indexOf(0x0a)) {
      const line = this.buffered.subarray(0, nl).toString('utf8').trim();
      this.buffered = this.buffered.subarray(nl + 1);
      if (line) this.line(line);
    }
    if (this.buffered.length > this.maxLineBytes) {
      this.drop(`sent a line over ${this.maxLineBytes} bytes: is this QEMU's -qmp port?`);
    }
  }

  private line(text: string): void {
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      message = parsed as Record<string, unknown>;
    } catch {
      return this.drop(`sent a line that is not a JSON object (${printable(text.slice(0, 60))}): is this QEMU's -qmp port?`);
    }
    if (this.greeting) return this.greeting(message);
    if (typeof message.event === 'string') {
      this.emit('event', { event: message.event, ...(message.data ? { data: message.data as Record<string, unknown> } : {}) } satisfies QmpEvent);
      return;
    }
    const id = typeof message.id === 'string' ? message.id : null;
    const waiting = id === null ? undefined : this.pending.get(id);
    if (!waiting) return; // a reply nobody waits for any more (its command timed out)
    this.pending.delete(id!);
    clearTimeout(waiting.timer);
    if ('return' in message) return waiting.resolve(message.return);
    const error = message.error as { class?: unknown; desc?: unknown } | undefined;
    waiting.reject(new QmpError(`${this.where}: ${printable(String(error?.desc ?? 'error without a description'))} (${printable(String(error?.class ?? 'no class'))})`));
  }

  /** The peer is not speaking QMP: everything waiting fails with why, and the socket goes. */
  private drop(why: string): void {
    this.gone ??= why;
    this.buffered = Buffer.alloc(0);
    this.socket?.destroy();
  }

  /** Runs a command; resolves with its `return`, rejects with a QmpError on an error reply, a timeout or a lost connection. */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<unknown> {
    const socket = this.socket;
    if (!socket || socket.destroyed || this.gone) return Promise.reject(new QmpError(`${this.where}: not connected${this.gone ? ` (${this.gone})` : ''}`));
    const id = `hilt-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError(`${this.where}: no reply to ${command} within ${timeoutMs} ms: QEMU is not answering`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** Waits for the next event of that name (bounded). */
  nextEvent(name: string, timeoutMs = this.timeoutMs): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name) return;
        done();
        resolve(e);
      };
      const onClose = (why: string) => {
        done();
        reject(new QmpError(`${this.where}: ${why} while waiting for ${name}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new QmpError(`${this.where}: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.once('close', onClose);
      if (this.gone) onClose(this.gone);
    });
  }

  /** Resets the machine as the EN pin would; resolves once QEMU reports the RESET event. */
  async systemReset(): Promise<void> {
    const reset = this.nextEvent('RESET');
    reset.catch(() => undefined); // the command's own failure is the one reported
    await this.execute('system_reset');
    await reset;
  }

  /** Asks QEMU to exit. Resolves once it acknowledged or closed the connection (bounded). */
  async quit(): Promise<void> {
    try {
      await this.execute('quit');
    } catch (err) {
      // QEMU may close the socket before its reply arrives: the quit happened all the same.
      if (!this.gone) throw err;
    }
  }

  /** Closes the connection (QEMU keeps running); bounded. */
  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    this.gone ??= 'closed by hilt';
    socket.end();
    if (await settleWithin(1_000, closed) === 'timeout') socket.destroy();
  }

  private destroy(): void {
    this.socket?.destroy();
  }
}
