/**
 * An agent written from docs/protocol.md alone, as a team writing its own would: it imports
 * nothing of hilt's, speaks protocol v1 over a real TCP socket on 127.0.0.1 (a UART behind
 * ser2net, as far as the harness can tell), and keeps the state the page describes (store slots,
 * the clock, a heap reserve, an MQTT session). It has no TLS stack: a connect is a real TCP
 * connect to the given host and port, reported as esp-tls reports a connection that fails before
 * TLS, and it has no clock for phases, so it leaves `timing` out as the page allows.
 *
 * A test spoils what it says (`spoil`): any reply body or event body replaced, or a raw line
 * printed in place of the reply, so the harness meets a device that answers slightly wrong.
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Body = Record<string, unknown>;
/** Returns the body to send (changed or not), or a string: the whole line to print instead. */
export type Spoil = (command: string, body: Body) => Body | string;

const HELLO: Body = {
  proto: 1,
  agent: { name: 'docs-agent', version: '1.0.0' },
  fw: { project: 'docs_agent', version: '1.0.0', idf: 'v5.5' },
  chip: { model: 'ESP32', revision: 301, cores: 2, mac: '24:0a:c4:00:d0:c5' },
  mbedtls: {
    version: '3.6.6', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false,
    ciphersuites: ['TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256'],
  },
};
const HEAP = 160_000;

export class DocsAgent {
  /** Every command line the agent received. */
  readonly heard: string[] = [];
  spoil: Spoil = (_command, body) => body;
  private readonly sockets = new Set<Socket>();
  private slots = new Map<string, { kind: string; data: Buffer; complete: boolean }>();
  private epoch = 0;
  private synced = false;
  private reserved = 0;

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(): Promise<DocsAgent> {
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    const agent = new DocsAgent(server, port);
    server.on('connection', (socket) => agent.serve(socket));
    return agent;
  }

  get target(): string {
    return `tcp:127.0.0.1:${this.port}?reset=none`;
  }

  /** Prints an event to every connected host, through `spoil` like a reply. */
  event(name: string, body: Body): void {
    const spoilt = this.spoil(name, body);
    this.write(typeof spoilt === 'string' ? spoilt : `@hil * ${name} ${JSON.stringify(spoilt)}`);
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }

  private write(line: string): void {
    for (const s of this.sockets) s.write(`${line}\r\n`);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => this.sockets.delete(socket));
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).replace(/\r$/, '');
        buffer = buffer.slice(nl + 1);
        void this.onLine(line);
      }
    });
  }

  private async onLine(line: string): Promise<void> {
    const m = /^@hil ([1-9]\d*) ([a-z][a-z0-9_.]*)((?: \S+)*)$/.exec(line);
    if (!m) return;
    this.heard.push(line);
    const [, id, command, rest] = m as unknown as [string, string, string, string];
    const args = Object.fromEntries(rest.trim().split(' ').filter(Boolean).map((t) => [t.slice(0, t.indexOf('=')), t.slice(t.indexOf('=') + 1)]));
    let status: 'ok' | 'err' = 'ok';
    let body: Body | null;
    try {
      body = await this.run(command, args);
    } catch (err) {
      status = 'err';
      body = err as Body;
    }
    const spoilt = this.spoil(command, body ?? {});
    // reset has no reply of its own (the boot event stands in), unless a test spoils it.
    if (body === null && typeof spoilt !== 'string') return;
    this.write(typeof spoilt === 'string' ? spoilt.replace('<id>', id) : `@hil ${id} ${status} ${JSON.stringify(spoilt)}`);
  }

  private heap(): Body {
    return { free: HEAP - this.reserved, min_free: HEAP - this.reserved - 40_000, largest: 110_592 };
  }

  /** The ok body, or null for no reply (reset). Throws the err body. */
  private async run(command: string, a: Record<string, string>): Promise<Body | null> {
    switch (command) {
      case 'reset':
        // The board restarts: the store and the clock are gone, the boot event follows.
        this.slots.clear();
        Object.assign(this, { epoch: 0, synced: false, reserved: 0 });
        setImmediate(() => this.event('boot', { proto: 1, reason: 'SW_CPU_RESET' }));
        return null;
      case 'hello': return { ...HELLO, heap: this.heap(), time: { epoch: this.epoch, synced: this.synced } };
      case 'time.set': this.epoch = Number(a.epoch); this.synced = true; return { epoch: this.epoch, synced: true };
      case 'time.clear': this.epoch = 0; this.synced = false; return { epoch: 0, synced: false };
      case 'store.put': {
        const [i, n] = (a.part ?? '1/1').split('/').map(Number) as [number, number];
        const data = Buffer.from(a.data ?? '', 'base64');
        const slot = i === 1 ? { kind: a.kind!, data, complete: false } : this.slots.get(a.slot!);
        if (!slot) throw { code: 'bad_args', message: `part: ${i}/${n} before part 1` };
        if (i > 1) slot.data = Buffer.concat([slot.data, data]);
        slot.complete = i === n;
        this.slots.set(a.slot!, slot);
        return { slot: a.slot, bytes: slot.data.length, complete: slot.complete };
      }
      case 'store.del':
        if (!this.slots.delete(a.slot!)) throw { code: 'no_slot', message: `slot: no slot '${a.slot}'` };
        return { slot: a.slot };
      case 'store.list':
        return { slots: [...this.slots].map(([slot, s]) => ({ slot, kind: s.kind, bytes: s.data.length, sha256: createHash('sha256').update(s.data).digest('hex') })) };
      case 'heap.stats': return this.heap();
      case 'heap.reserve': this.reserved = Number(a.bytes); return { reserved: this.reserved, free: HEAP - this.reserved };
      case 'heap.release': this.reserved = 0; return { free: HEAP };
      case 'tls.connect': case 'mqtt.connect': return this.connect(command, a);
      case 'tls.close': case 'mqtt.disconnect': return {};
      case 'mqtt.publish': return { acked: Number(a.qos ?? 0) > 0, ms: 0 };
      case 'mqtt.subscribe': return { granted: Number(a.qos ?? 0) };
      default: throw { code: 'unknown_command', message: `unknown command '${command}'` };
    }
  }

  /** A real TCP connect; whatever happens, the result of a connection that never reached TLS. */
  private async connect(command: string, a: Record<string, string>): Promise<Body> {
    const errno = await new Promise<number>((resolve) => {
      const s = connect({ host: a.host, port: Number(a.port ?? 8883) });
      s.once('connect', () => { s.destroy(); resolve(0); });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? 111 : 113));
    });
    const heap = { before: HEAP, min: HEAP - 2_000, after: HEAP, peak_used: 2_000, source: 'device' };
    return {
      connected: false,
      tls: null,
      error: {
        esp_err: 0x8004, esp_err_name: 'ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST', stack_err: 0, stack_err_name: null,
        verify_flags: 0, verify_info: [], mqtt_error_type: command === 'mqtt.connect' ? 'TCP_TRANSPORT' : null, connack: null,
        sock_errno: errno,
      },
      heap,
      mqtt: null,
    };
  }
}
