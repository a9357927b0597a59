/**
 * A minimal host for emulator tests: sends agent commands over any byte stream and collects
 * replies, events and console lines. The harness's Device (harness/device) will do this for real
 * users; this one stays small and test-only.
 */
import type { Duplex } from 'node:stream';
import {
  LineSplitter, encodeCommand, parseDeviceLine, storePutLines, type ArgValue, type ConnectResult, type Line,
} from '../../harness/protocol/index.ts';

export interface Reply {
  status: 'ok' | 'err';
  body: Record<string, unknown>;
}

export interface Event {
  name: string;
  body: Record<string, unknown>;
}

export class AgentClient {
  readonly console: string[] = [];
  readonly events: Event[] = [];
  readonly garbled: string[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly stream: Duplex | { write(text: string): unknown; on(event: 'data', fn: (chunk: Buffer) => void): unknown }) {
    const splitter = new LineSplitter();
    stream.on('data', (chunk: Buffer) => splitter.write(chunk));
    splitter.on('data', (line: Line) => this.onLine(line));
  }

  private onLine(line: Line): void {
    const parsed = parseDeviceLine(line);
    if (parsed.kind === 'reply') this.pending.get(parsed.id)?.({ status: parsed.status, body: parsed.body });
    else if (parsed.kind === 'event') this.events.push({ name: parsed.name, body: parsed.body });
    else if (parsed.kind === 'console') this.console.push(parsed.text);
    else this.garbled.push(parsed.text);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Sends a raw line (for malformed-input tests). */
  sendRaw(text: string): void {
    this.stream.write(`${text}\n`);
  }

  /** Sends a command and resolves with its reply, or rejects after `timeoutMs`. */
  command(command: string, args: Record<string, ArgValue | undefined> = {}, timeoutMs = 15_000): Promise<Reply> {
    const id = this.nextId++;
    return this.expectReply(id, () => this.stream.write(`${encodeCommand(id, command, args)}\n`), timeoutMs, command);
  }

  /** Sends a pre-encoded line whose id is `id` and awaits that reply. */
  expectReply(id: number, send: () => void, timeoutMs = 15_000, what = `id ${id}`): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`no reply to ${what} within ${timeoutMs} ms; console tail: ${this.console.slice(-5).join(' | ')}`));
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(reply);
      });
      send();
    });
  }

  /** ok body of a command, or throws with the err body. */
  async ok<T = Record<string, unknown>>(command: string, args: Record<string, ArgValue | undefined> = {}, timeoutMs?: number): Promise<T> {
    const reply = await this.command(command, args, timeoutMs);
    if (reply.status !== 'ok') throw new Error(`${command} refused: ${JSON.stringify(reply.body)}`);
    return reply.body as T;
  }

  async connect(command: 'tls.connect' | 'mqtt.connect', args: Record<string, ArgValue | undefined>, timeoutMs?: number): Promise<ConnectResult> {
    return this.ok<ConnectResult>(command, args, timeoutMs);
  }

  /** Uploads a credential in as many store.put parts as it takes. */
  async put(slot: string, kind: 'ca' | 'cert' | 'key', pem: string): Promise<void> {
    const lines = storePutLines(slot, kind, Buffer.from(pem), () => this.nextId++);
    for (const line of lines) {
      const id = Number(line.split(' ')[1]);
      const reply = await this.expectReply(id, () => this.stream.write(`${line}\n`));
      if (reply.status !== 'ok') throw new Error(`store.put ${slot} refused: ${JSON.stringify(reply.body)}`);
    }
  }

  /**
   * A freshly booted board made ready for connects: boot seen, clock set to now, and each slot
   * uploaded (`{ ca: ['ca', pem], cert: ['cert', pem] }`).
   */
  async setUp(slots: Record<string, ['ca' | 'cert' | 'key', string]>): Promise<void> {
    await this.waitEvent('boot');
    await this.ok('time.set', { epoch: Math.floor(Date.now() / 1000) });
    for (const [slot, [kind, pem]] of Object.entries(slots)) await this.put(slot, kind, pem);
  }

  /** Resolves when an event called `name` has arrived (counting those already seen after `from`). */
  waitEvent(name: string, timeoutMs = 10_000, from = 0): Promise<Event> {
    return this.waitFor(() => this.events.slice(from).find((e) => e.name === name), `event ${name}`, timeoutMs);
  }

  /** Resolves when a console line matches `pattern` (from index `from`). */
  waitConsole(pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<string> {
    return this.waitFor(() => this.console.slice(from).find((l) => pattern.test(l)), `console ${pattern}`, timeoutMs);
  }

  private waitFor<T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const found = find();
        if (found === undefined) return this.waiters.push(check);
        clearTimeout(timer);
        resolve(found);
      };
      check();
    });
  }
}
