/**
 * Real peers for the emulated application firmware's tests: a TLS server behind a recording TCP
 * proxy (so the test reads the exact bytes the app sent, alerts included), a TCP listener that
 * drops every connection (reconnect timing), and a small MQTT 3.1.1 broker over TLS whose answers
 * the test controls (withhold PUBACK / PINGRESP, session present).
 */
import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** Waits (bounded) until `check` returns something other than undefined, re-checking on `emitter` events. */
export function until<T>(emitter: EventEmitter, what: string, check: () => T | undefined, timeoutMs = 8000): Promise<T> {
  return new Promise((resolve, reject) => {
    const test = () => {
      const value = check();
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)); }, timeoutMs);
    const cleanup = () => { clearTimeout(timer); emitter.off('change', test); };
    emitter.on('change', test);
    test();
  });
}

export interface TlsRecord { type: number; version: number; body: Buffer }

/** The TLS records in a byte stream (as far as they are complete). */
export function tlsRecords(bytes: Buffer): TlsRecord[] {
  const out: TlsRecord[] = [];
  for (let at = 0; at + 5 <= bytes.length;) {
    const length = bytes.readUInt16BE(at + 3);
    if (at + 5 + length > bytes.length) break;
    out.push({ type: bytes[at]!, version: bytes.readUInt16BE(at + 1), body: bytes.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

export interface ProxiedConnection {
  acceptedAt: number;
  /** Every byte the app sent. */
  fromApp: Buffer;
  /** The app's side closed (FIN or RST). */
  closed: boolean;
}

/** A node:tls server reached through a TCP proxy that records what the app sends. */
export class RecordingTlsServer extends EventEmitter {
  readonly connections: ProxiedConnection[] = [];
  private server!: tls.Server;
  private proxy!: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  static async start(options: tls.TlsOptions): Promise<RecordingTlsServer> {
    const s = new RecordingTlsServer();
    s.server = tls.createServer(options, (socket) => { socket.on('error', () => {}); s.track(socket); });
    s.server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    const inner = (s.server.address() as AddressInfo).port;
    s.proxy = net.createServer((app) => {
      s.track(app);
      const record: ProxiedConnection = { acceptedAt: performance.now(), fromApp: Buffer.alloc(0), closed: false };
      s.connections.push(record);
      const upstream = net.connect(inner, '127.0.0.1');
      s.track(upstream);
      app.on('data', (chunk: Buffer) => {
        record.fromApp = Buffer.concat([record.fromApp, chunk]);
        upstream.write(chunk);
        s.emit('change');
      });
      upstream.on('data', (chunk: Buffer) => { if (!app.destroyed) app.write(chunk); });
      const end = () => {
        if (record.closed) return;
        record.closed = true;
        upstream.destroy();
        app.destroy();
        s.emit('change');
      };
      app.on('end', end);
      app.on('close', end);
      app.on('error', end);
      upstream.on('error', () => app.destroy());
      upstream.on('close', () => app.destroy());
      s.emit('change');
    });
    await new Promise<void>((resolve) => s.proxy.listen(0, '127.0.0.1', resolve));
    s.port = (s.proxy.address() as AddressInfo).port;
    return s;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([new Promise((r) => this.proxy.close(r)), new Promise((r) => this.server.close(r))]);
  }
}

/** Accepts TCP and closes at once: every attempt of the app fails, so it keeps reconnecting. */
export class DroppingServer extends EventEmitter {
  readonly acceptedAt: number[] = [];
  private server!: net.Server;
  port = 0;

  static async start(): Promise<DroppingServer> {
    const s = new DroppingServer();
    s.server = net.createServer((socket) => {
      s.acceptedAt.push(performance.now());
      socket.on('error', () => {});
      socket.destroy();
      s.emit('change');
    });
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  intervals(): number[] {
    return this.acceptedAt.slice(1).map((t, i) => t - this.acceptedAt[i]!);
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface BrokerPacket { conn: number; at: number; packet: Packet }

export interface MiniBrokerOptions {
  tls: tls.TlsOptions;
  withholdPuback?: boolean;
  withholdPingresp?: boolean;
  withholdSuback?: boolean;
  /** Close every connection right after its CONNACK (a broker that drops the device). */
  closeAfterConnack?: boolean;
  /** CONNACK session-present for connection n (0-based). */
  sessionPresent?: (n: number) => boolean;
}

/** A small MQTT 3.1.1 broker over TLS: answers CONNECT, SUBSCRIBE, PUBLISH and PINGREQ as told. */
export class MiniBroker extends EventEmitter {
  readonly packets: BrokerPacket[] = [];
  readonly closedAt: Array<number | null> = [];
  readonly resets: boolean[] = [];
  readonly connections: tls.TLSSocket[] = [];
  private server!: tls.Server;
  port = 0;

  static async start(options: MiniBrokerOptions): Promise<MiniBroker> {
    const b = new MiniBroker();
    b.server = tls.createServer(options.tls, (socket) => {
      const n = b.connections.length;
      b.connections.push(socket);
      b.closedAt.push(null);
      b.resets.push(false);
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      const send = (p: Packet) => { if (socket.writable) socket.write(mqttPacket.generate(p)); };
      parser.on('packet', (packet: Packet) => {
        b.packets.push({ conn: n, at: performance.now(), packet });
        b.emit('change');
        if (packet.cmd === 'connect') {
          send({ cmd: 'connack', returnCode: 0, sessionPresent: options.sessionPresent?.(n) ?? false });
          if (options.closeAfterConnack) socket.end();
        }
        if (packet.cmd === 'subscribe' && !options.withholdSuback) send({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map(() => 1) });
        if (packet.cmd === 'publish' && packet.qos === 1 && !options.withholdPuback) send({ cmd: 'puback', messageId: packet.messageId });
        if (packet.cmd === 'pingreq' && !options.withholdPingresp) send({ cmd: 'pingresp' });
      });
      socket.on('data', (chunk: Buffer) => parser.parse(chunk));
      socket.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ECONNRESET') b.resets[n] = true; });
      socket.on('close', () => { b.closedAt[n] = performance.now(); b.emit('change'); });
    });
    b.server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
    b.port = (b.server.address() as AddressInfo).port;
    return b;
  }

  /** Publishes to the app on connection n. */
  publishTo(n: number, topic: string, payload: Buffer, messageId: number): void {
    this.connections[n]!.write(mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, dup: false, retain: false, messageId }));
  }

  of(cmd: Packet['cmd'], conn?: number): BrokerPacket[] {
    return this.packets.filter((p) => p.packet.cmd === cmd && (conn === undefined || p.conn === conn));
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await new Promise((r) => this.server.close(r));
  }
}
