/**
 * An agent written from docs/protocol.md alone, as a team writing its own would: it imports
 * nothing of hilt's, speaks protocol v1 over a real TCP socket on 127.0.0.1 (a UART behind
 * ser2net, as far as the harness can tell), and keeps the state the page describes (store slots,
 * the clock, a heap reserve, an MQTT session).
 *
 * Its network stack is neither hilt's emulator nor the C agent: Node's own TLS (OpenSSL) over
 * real sockets, and mqtt.js for MQTT. It decides the server certificate itself, at its own
 * clock, with the rules the page gives ("Verify flags"), and reports every outcome with the codes
 * and console lines of the page's table ("What a connect reports"). What an OpenSSL agent cannot
 * know it does not invent: its heap is bookkeeping (a reserve never makes a connect fail), and it
 * has no clock for phases, so it leaves `timing` out as the page allows. Nor has it a connect task
 * whose stack it could size or measure: it checks `stack=` as the page says and otherwise ignores
 * it, leaves `stack` out of its results, and never overflows.
 *
 * A test spoils what it says (`spoil`): any reply body or event body replaced, or a raw line
 * printed in place of the reply, so the harness meets a device that answers slightly wrong.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { connect as tcpConnect, createServer, isIP, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { MqttClient } from 'mqtt';

export type Body = Record<string, unknown>;
/** Returns the body to send (changed or not), or a string: the whole line to print instead. */
export type Spoil = (command: string, body: Body) => Body | string;

/** The suites this agent offers: Mbed TLS's names (the protocol's) and OpenSSL's (Node's). */
const SUITES: ReadonlyArray<readonly [string, string]> = [
  ['TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
  ['TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'],
  ['TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA384', 'ECDHE-ECDSA-AES256-SHA384'],
  ['TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA384', 'ECDHE-RSA-AES256-SHA384'],
  ['TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  ['TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
  ['TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256', 'ECDHE-ECDSA-AES128-SHA256'],
  ['TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256', 'ECDHE-RSA-AES128-SHA256'],
  ['TLS-RSA-WITH-AES-256-GCM-SHA384', 'AES256-GCM-SHA384'],
  ['TLS-RSA-WITH-AES-128-GCM-SHA256', 'AES128-GCM-SHA256'],
];

const HELLO: Body = {
  proto: 1,
  agent: { name: 'docs-agent', version: '1.0.0' },
  fw: { project: 'docs_agent', version: '1.0.0', idf: 'v5.5' },
  chip: { model: 'ESP32', revision: 301, cores: 2, mac: '24:0a:c4:00:d0:c5' },
  mbedtls: {
    version: '3.6.6', have_time_date: true, in_content_len: 16384, out_content_len: 4096, dynamic_buffer: false, tls13: false,
    ciphersuites: SUITES.map(([mbedtls]) => mbedtls),
  },
};
const HEAP = 160_000;
/** What a connection is booked as using: the agent cannot measure OpenSSL's allocations. */
const CONNECT_HEAP = 40_000;

// The codes of docs/protocol.md, "What a connect reports".
const ESP_ERR: Record<string, number> = {
  ESP_OK: 0, ESP_ERR_TIMEOUT: 0x107, ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME: 0x8001, ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST: 0x8004,
  ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT: 0x8006, ESP_ERR_ESP_TLS_TCP_CLOSED_FIN: 0x8008, ESP_ERR_MBEDTLS_SSL_SETUP_FAILED: 0x8017,
  ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED: 0x801a,
};
const STACK_ERR: Record<number, string> = {
  0x2700: 'MBEDTLS_ERR_X509_CERT_VERIFY_FAILED', 0x7780: 'MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE', 0x7280: 'MBEDTLS_ERR_SSL_CONN_EOF',
  0x0050: 'MBEDTLS_ERR_NET_CONN_RESET', 0x7200: 'MBEDTLS_ERR_SSL_INVALID_RECORD', 0x7A00: 'MBEDTLS_ERR_SSL_BAD_CERTIFICATE',
};
/** Verify flags in the order Mbed TLS prints them, with its strings. */
const FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x01, 'The certificate validity has expired'],
  [0x04, 'The certificate Common Name (CN) does not match with the expected CN'],
  [0x08, 'The certificate is not correctly signed by the trusted CA'],
  [0x0200, 'The certificate validity starts in the future'],
  [0x1000, 'Usage does not match the extendedKeyUsage extension'],
];
const EXPIRED = 0x01, CN_MISMATCH = 0x04, NOT_TRUSTED = 0x08, FUTURE = 0x0200, EXT_KEY_USAGE = 0x1000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1', ANY_EKU = '2.5.29.37.0';
const CONNACK_TEXT: Record<number, string> = {
  1: 'Connection refused, bad protocol', 3: 'Connection refused, server unavailable',
  4: 'Connection refused, bad username or password', 5: 'Connection refused, not authorized',
};

interface Failure {
  esp: string;
  stack?: number;
  flags?: number;
  errno?: number;
}

class Refusal {
  constructor(readonly code: string, readonly message: string) {}
}

const pems = (data: Buffer) => (data.toString('utf8').match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
const dn = (multiline: string) => multiline.split('\n').filter(Boolean).join(', ');
const hex4 = (n: number) => `-0x${n.toString(16).toUpperCase().padStart(4, '0')}`;

/** The verify flags for the chain the server sent, against `trusted`, at `now` (docs/protocol.md, "Verify flags"). */
function verifyFlags(sent: X509Certificate[], trusted: X509Certificate[], now: Date, name: string | null): number {
  let flags = 0;
  const dates = (c: X509Certificate) => {
    if (now > new Date(c.validTo)) flags |= EXPIRED;
    if (now < new Date(c.validFrom)) flags |= FUTURE;
  };
  const signs = (parent: X509Certificate, child: X509Certificate) => parent.subject === child.issuer && child.verify(parent.publicKey);
  let child = sent[0]!;
  const path = new Set<X509Certificate>();
  for (;;) {
    dates(child);
    path.add(child);
    const anchor = trusted.find((ca) => signs(ca, child));
    if (anchor) {
      dates(anchor);
      break;
    }
    const parent = sent.find((c) => !path.has(c) && signs(c, child));
    if (!parent) {
      flags |= NOT_TRUSTED;
      break;
    }
    child = parent;
  }
  const leaf = sent[0]!;
  if (name !== null && !(isIP(name) ? leaf.checkIP(name) : leaf.checkHost(name))) flags |= CN_MISMATCH;
  return flags;
}

export class DocsAgent {
  /** Every command line the agent received. */
  readonly heard: string[] = [];
  /** Every reply and event line the agent sent (after `spoil`). */
  readonly said: string[] = [];
  spoil: Spoil = (_command, body) => body;
  private readonly sockets = new Set<Socket>();
  private slots = new Map<string, { kind: string; data: Buffer; complete: boolean }>();
  private bootAt = Date.now();
  /** The clock: epoch seconds at `setAt`, or null while unsynced (1970 plus uptime). */
  private clockAt: { epoch: number; setAt: number } | null = null;
  private reserved = 0;
  private busy = false;
  private link: { tls: TLSSocket; mqtt: MqttClient | null; closing: boolean } | null = null;

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
    this.say(typeof spoilt === 'string' ? spoilt : `@hil * ${name} ${JSON.stringify(spoilt)}`);
  }

  close(): void {
    this.dropLink();
    for (const s of this.sockets) s.destroy();
    this.server.close();
  }

  private write(line: string): void {
    for (const s of this.sockets) s.write(`${line}\r\n`);
  }

  private say(line: string): void {
    this.said.push(line);
    this.write(line);
  }

  /** A console line as ESP-IDF logs it: level, milliseconds since boot, tag. */
  private log(level: 'E' | 'W' | 'I', tag: string, text: string): void {
    this.write(`${level} (${Date.now() - this.bootAt}) ${tag}: ${text}`);
  }

  private now(): Date {
    return this.clockAt ? new Date(this.clockAt.epoch * 1000 + Date.now() - this.clockAt.setAt) : new Date(Date.now() - this.bootAt);
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
    if (this.busy) {
      this.say(`@hil ${id} err ${JSON.stringify({ code: 'busy', message: `${command}: another command is still running` })}`);
      return;
    }
    this.busy = true;
    try {
      body = await this.run(command, args);
    } catch (err) {
      status = 'err';
      body = err instanceof Refusal ? { code: err.code, message: err.message } : { code: 'internal', message: String(err) };
    } finally {
      this.busy = false;
    }
    const spoilt = this.spoil(command, body ?? {});
    // reset has no reply of its own (the boot event stands in), unless a test spoils it.
    if (body === null && typeof spoilt !== 'string') return;
    this.say(typeof spoilt === 'string' ? spoilt.replace('<id>', id) : `@hil ${id} ${status} ${JSON.stringify(spoilt)}`);
  }

  private heap(): Body {
    return { free: HEAP - this.reserved, min_free: HEAP - this.reserved - CONNECT_HEAP, largest: 110_592 };
  }

  /** The ok body, or null for no reply (reset). Throws a Refusal for an err reply. */
  private async run(command: string, a: Record<string, string>): Promise<Body | null> {
    switch (command) {
      case 'reset':
        // The board restarts: the connection, the store and the clock are gone, the boot event follows.
        this.dropLink();
        this.slots.clear();
        Object.assign(this, { bootAt: Date.now(), clockAt: null, reserved: 0 });
        setImmediate(() => this.event('boot', { proto: 1, reason: 'SW_CPU_RESET' }));
        return null;
      case 'hello': return { ...HELLO, heap: this.heap(), time: this.time() };
      case 'time.set': this.clockAt = { epoch: Number(a.epoch), setAt: Date.now() }; return this.time();
      case 'time.clear': this.clockAt = null; return this.time();
      case 'store.put': {
        const [i, n] = (a.part ?? '1/1').split('/').map(Number) as [number, number];
        const data = Buffer.from(a.data ?? '', 'base64');
        const slot = i === 1 ? { kind: a.kind!, data, complete: false } : this.slots.get(a.slot!);
        if (!slot) throw new Refusal('bad_args', `part: ${i}/${n} before part 1`);
        if (i > 1) slot.data = Buffer.concat([slot.data, data]);
        slot.complete = i === n;
        this.slots.set(a.slot!, slot);
        return { slot: a.slot, bytes: slot.data.length, complete: slot.complete };
      }
      case 'store.del':
        if (!this.slots.delete(a.slot!)) throw new Refusal('no_slot', `slot: no slot '${a.slot}'`);
        return { slot: a.slot };
      case 'store.list':
        return { slots: [...this.slots].map(([slot, s]) => ({ slot, kind: s.kind, bytes: s.data.length, sha256: createHash('sha256').update(s.data).digest('hex') })) };
      case 'heap.stats': return this.heap();
      case 'heap.reserve': this.reserved = Number(a.bytes); return { reserved: this.reserved, free: HEAP - this.reserved };
      case 'heap.release': this.reserved = 0; return { free: HEAP };
      case 'tls.connect': case 'mqtt.connect': return this.connect(command === 'mqtt.connect', a);
      case 'tls.close': case 'mqtt.disconnect': await this.closeLink(); return {};
      case 'mqtt.publish': return this.publish(a);
      case 'mqtt.subscribe': return this.subscribe(a);
      default: throw new Refusal('unknown_command', `unknown command '${command}'`);
    }
  }

  private time(): Body {
    return { epoch: Math.floor(this.now().getTime() / 1000), synced: this.clockAt !== null };
  }

  private slot(name: string): Buffer {
    const s = this.slots.get(name);
    if (!s?.complete) throw new Refusal('no_slot', `${name}: no complete slot of that name`);
    return s.data;
  }

  private dropLink(): void {
    if (!this.link) return;
    this.link.closing = true;
    this.link.mqtt?.end(true);
    this.link.tls.destroy();
    this.link = null;
  }

  private async closeLink(): Promise<void> {
    const link = this.link;
    if (!link) return;
    link.closing = true;
    const client = link.mqtt;
    if (client) await Promise.race([new Promise<void>((resolve) => client.end(false, {}, () => resolve())), new Promise((r) => setTimeout(r, 2_000))]);
    this.dropLink();
  }

  /** tls.connect / mqtt.connect: esp-tls's steps (DNS, TCP, handshake) on real sockets, then MQTT. */
  private async connect(mqtt: boolean, a: Record<string, string>): Promise<Body> {
    if (!a.host) throw new Refusal('bad_args', 'host: missing, expected a host name or address');
    if (mqtt && !a.client_id) throw new Refusal('bad_args', 'client_id: missing');
    if (a.stack !== undefined && !(/^[1-9][0-9]*$/.test(a.stack) && Number(a.stack) >= 2048 && Number(a.stack) <= 65536)) {
      throw new Refusal('bad_args', `stack: expected an integer 2048..65536, got '${a.stack}'`);
    }
    const trusted = a.ca === undefined || a.ca === 'none' ? null : pems(this.slot(a.ca));
    const own = a.cert && a.key ? { cert: this.slot(a.cert), key: this.slot(a.key) } : null;
    const names = a.ciphers ? a.ciphers.split(',') : SUITES.map(([m]) => m);
    const ciphers = SUITES.filter(([m]) => names.includes(m)).map(([, o]) => o);
    if (ciphers.length === 0) throw new Refusal('bad_args', `ciphers: none of '${a.ciphers}' is a suite this agent offers`);
    const timeoutMs = Number(a.timeout_ms ?? 0) || 10_000;
    const sni = a.sni ?? a.host;
    const skipCn = a.skip_cn === '1';
    await this.closeLink();

    let tlsInfo: Body | null = null;
    const failed = (f: Failure, lines: () => void): Body => {
      lines();
      this.log('E', 'transport_base', 'Failed to open a new connection');
      if (mqtt) this.log('E', 'mqtt_client', 'Error transport connect');
      return this.result(false, tlsInfo, this.failure(f, mqtt ? 'TCP_TRANSPORT' : null), null);
    };
    /** esp-tls's failure before the handshake: its own lines (one `E esp-tls` line, or a printer), then the common ending. */
    const espTlsFailed = (f: Failure, lines: string | (() => void)) => failed(f, () => {
      if (typeof lines === 'string') this.log('E', 'esp-tls', lines);
      else lines();
      this.log('E', 'esp-tls', 'Failed to open new connection');
    });
    const timedOut = () => failed({ esp: 'ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT' }, () => this.log('W', 'esp-tls', 'Failed to open new connection in specified timeout'));
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(0, deadline - Date.now());

    // DNS, unless the host is an address.
    let address = a.host;
    if (!isIP(a.host)) {
      try {
        const answer = await within(left(), lookup(a.host, { family: 4 }));
        if (answer === 'timeout') throw new Error('no answer within timeout_ms');
        address = answer.address;
      } catch {
        return espTlsFailed({ esp: 'ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME' }, `couldn't get hostname for :${a.host}: getaddrinfo() returns 202, addrinfo=0x0`);
      }
    }

    // TCP.
    const raw = tcpConnect({ host: address, port: Number(a.port ?? 8883) });
    const tcp = await within(left(), new Promise<NodeJS.ErrnoException | null>((resolve) => {
      raw.once('connect', () => resolve(null));
      raw.once('error', resolve);
    }));
    if (tcp === 'timeout') {
      raw.destroy();
      return espTlsFailed({ esp: 'ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT' }, '[sock=54] select() timeout');
    }
    if (tcp) {
      const [errno, text] = tcp.code === 'EHOSTUNREACH' ? [118, 'Host is unreachable'] : tcp.code === 'ENETUNREACH' ? [114, 'Network is unreachable'] : [104, 'Connection reset by peer'];
      return espTlsFailed({ esp: 'ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST', errno: errno as number }, `[sock=54] delayed connect error: ${text}`);
    }
    // A secure build (as this agent is) has no way to skip verification: ca=none fails at setup.
    if (!trusted) {
      raw.destroy();
      return espTlsFailed({ esp: 'ESP_ERR_MBEDTLS_SSL_SETUP_FAILED' }, () => {
        this.log('E', 'esp-tls-mbedtls', 'No server verification option set in esp_tls_cfg_t structure. Check esp_tls API reference');
        this.log('E', 'esp-tls-mbedtls', 'Failed to set client configurations, returned [0x8017] (ESP_ERR_MBEDTLS_SSL_SETUP_FAILED)');
        this.log('E', 'esp-tls', 'create_ssl_handle failed');
      });
    }
    let ended = false;
    raw.on('end', () => { ended = true; });
    raw.on('error', () => {});

    // The handshake. OpenSSL does not verify here: the agent decides below, at its own clock.
    const secure = tlsConnect({
      socket: raw,
      servername: skipCn || isIP(sni) ? undefined : sni,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
      ciphers: ciphers.join(':'),
      ...(own ? { cert: own.cert, key: own.key } : {}),
      ...(a.alpn ? { ALPNProtocols: a.alpn.split(',') } : {}),
    });
    // Keys are derived once the server's hello is in: from then on the version and suite are known.
    secure.once('keylog', () => { tlsInfo = { version: secure.getProtocol(), cipher: mbedtlsName(secure), alpn: null, peer: null }; });
    const handshake = await within(left(), new Promise<NodeJS.ErrnoException | null>((resolve) => {
      secure.once('secureConnect', () => resolve(null));
      secure.once('error', resolve);
    }));
    const handshakeFailed = (stack: number, flags: number, errno = 0) => {
      secure.destroy();
      return failed({ esp: 'ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED', stack, flags, errno }, () => {
        this.log('E', 'esp-tls-mbedtls', `mbedtls_ssl_handshake returned ${hex4(stack)}`);
        this.log('I', 'esp-tls-mbedtls', flags ? 'Failed to verify peer certificate!' : 'Certificate verified.');
        this.log('E', 'esp-tls', 'Failed to open new connection');
      });
    };
    if (handshake === 'timeout') {
      secure.destroy();
      return timedOut();
    }
    secure.on('error', () => {});
    if (handshake) {
      const text = `${handshake.code ?? ''} ${handshake.message}`;
      if (/ALERT/i.test(text)) return handshakeFailed(0x7780, 0);
      if (ended || handshake.message.startsWith('Client network socket disconnected')) return handshakeFailed(0x7280, 0);
      if (handshake.code === 'ECONNRESET') return handshakeFailed(0x0050, 0, 104);
      return handshakeFailed(0x7200, 0);
    }
    const chain = peerChain(secure);
    tlsInfo = { version: secure.getProtocol(), cipher: mbedtlsName(secure), alpn: secure.alpnProtocol || null, peer: null };
    const flags = chain.length === 0 ? NOT_TRUSTED : verifyFlags(chain, trusted, this.now(), skipCn ? null : sni);
    // Node gives the extendedKeyUsage OIDs as `keyUsage` (undefined without the extension); the
    // keyUsage bits it does not give, so that check is left out.
    const eku = chain[0]?.keyUsage;
    const usage = eku && !eku.some((oid) => oid === SERVER_AUTH || oid === ANY_EKU) ? EXT_KEY_USAGE : 0;
    if (flags) return handshakeFailed(0x2700, flags | usage);
    if (usage) return handshakeFailed(0x7A00, usage);
    const leaf = chain[0];
    tlsInfo.peer = leaf ? { subject: dn(leaf.subject), issuer: dn(leaf.issuer), sha256: leaf.fingerprint256.replaceAll(':', '').toLowerCase() } : null;
    this.link = { tls: secure, mqtt: null, closing: false };
    if (!mqtt) return hold(a.hold_ms, this.result(true, tlsInfo, null, null));
    return this.mqttConnect(secure, a, tlsInfo, timeoutMs);
  }

  /** esp-mqtt on the open TLS connection: CONNECT, then CONNACK or what came instead. */
  private async mqttConnect(secure: TLSSocket, a: Record<string, string>, tlsInfo: Body, timeoutMs: number): Promise<Body> {
    const link = this.link!;
    const client = new MqttClient(() => secure, {
      clientId: a.client_id!, keepalive: Number(a.keepalive ?? 120), clean: a.clean !== '0', protocolVersion: 4, reconnectPeriod: 0,
      connectTimeout: timeoutMs + 60_000,
      ...(a.username ? { username: a.username } : {}), ...(a.password ? { password: Buffer.from(a.password, 'base64') } : {}),
    });
    link.mqtt = client;
    const outcome = await within(timeoutMs, new Promise<{ connack: number; session: boolean } | 'closed'>((resolve) => {
      client.on('error', (err: Error & { code?: unknown }) => { if (typeof err.code === 'number') resolve({ connack: err.code, session: false }); });
      client.once('connect', (packet) => resolve({ connack: 0, session: packet.sessionPresent }));
      client.once('close', () => resolve('closed'));
    }));
    if (outcome !== 'timeout' && outcome !== 'closed' && outcome.connack === 0) {
      client.on('message', (topic, payload, packet) => this.event('mqtt.message', { topic, qos: packet.qos, payload: payload.toString('base64') }));
      client.once('close', () => {
        if (link.closing) return;
        this.link = null;
        this.event('mqtt.disconnected', { reason: 'connection closed by broker' });
      });
      return hold(a.hold_ms, this.result(true, tlsInfo, null, { session_present: outcome.session, connack: 0 }));
    }
    this.dropLink();
    if (outcome === 'closed') {
      this.log('E', 'mqtt_client', 'mqtt_message_receive: transport_read() error: errno=128');
      this.log('E', 'mqtt_client', 'esp_mqtt_connect: mqtt_message_receive() returned -1');
      this.log('E', 'mqtt_client', 'MQTT connect failed');
      return this.result(false, tlsInfo, this.failure({ esp: 'ESP_ERR_ESP_TLS_TCP_CLOSED_FIN', errno: 128 }, 'TCP_TRANSPORT'), null);
    }
    if (outcome === 'timeout') {
      this.log('E', 'mqtt_client', 'esp_mqtt_connect: mqtt_message_receive() returned 0');
      this.log('E', 'mqtt_client', 'MQTT connect failed');
      return this.result(false, tlsInfo, this.failure({ esp: 'ESP_ERR_TIMEOUT' }, null), null);
    }
    this.log('W', 'mqtt_client', CONNACK_TEXT[outcome.connack] ?? 'Connection refused, Unknow reason');
    this.log('E', 'mqtt_client', 'MQTT connect failed');
    return this.result(false, tlsInfo, { ...this.failure({ esp: 'ESP_OK' }, 'CONNECTION_REFUSED'), connack: outcome.connack },
      { session_present: outcome.session, connack: outcome.connack });
  }

  private failure(f: Failure, mqttErrorType: string | null): Body {
    const stack = f.stack ?? 0;
    const flags = f.flags ?? 0;
    return {
      esp_err: ESP_ERR[f.esp], esp_err_name: f.esp, stack_err: stack, stack_err_name: stack ? STACK_ERR[stack] ?? null : null,
      verify_flags: flags, verify_info: FLAGS.filter(([bit]) => flags & bit).map(([, text]) => text),
      mqtt_error_type: mqttErrorType, connack: null, sock_errno: f.errno ?? 0,
    };
  }

  private result(connected: boolean, tls: Body | null, error: Body | null, mqtt: Body | null): Body {
    const before = HEAP - this.reserved;
    return { connected, tls, error, heap: { before, min: before - CONNECT_HEAP, after: before, peak_used: CONNECT_HEAP, source: 'model' }, mqtt };
  }

  private async publish(a: Record<string, string>): Promise<Body> {
    const client = this.link?.mqtt;
    const qos = Number(a.qos ?? 0) as 0 | 1 | 2;
    // Not connected: nothing goes out, nothing is acknowledged.
    if (!client) return { acked: false, ms: 0 };
    const started = Date.now();
    const err = await within(10_000, new Promise<Error | null>((resolve) => {
      client.publish(a.topic!, Buffer.from(a.payload ?? '', 'base64'), { qos, retain: a.retain === '1' }, (e) => resolve(e ?? null));
    }));
    return { acked: qos > 0 && err === null, ms: Date.now() - started };
  }

  private async subscribe(a: Record<string, string>): Promise<Body> {
    const client = this.link?.mqtt;
    if (!client) return { granted: 128 };
    const granted = await within(10_000, new Promise<number>((resolve) => {
      client.subscribe(a.topic!, { qos: Number(a.qos ?? 0) as 0 | 1 | 2 }, (err, g) => resolve(err || !g?.[0] ? 128 : g[0].qos));
    }));
    return { granted: granted === 'timeout' ? 128 : granted };
  }
}

/** `body` after keeping the connection open `holdMs` (the hold_ms argument). */
async function hold(holdMs: string | undefined, body: Body): Promise<Body> {
  if (holdMs) await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
  return body;
}

/** `promise`'s value, or 'timeout' after `ms`. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The agreed suite by its Mbed TLS name. */
function mbedtlsName(socket: TLSSocket): string {
  const openssl = socket.getCipher().name;
  return SUITES.find(([, o]) => o === openssl)?.[0] ?? openssl;
}

/** The certificates the server sent, leaf first. */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let c = socket.getPeerCertificate(true);
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    chain.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return chain;
}
