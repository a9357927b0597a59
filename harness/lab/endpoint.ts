/**
 * The endpoint: the one listener a firmware-mode device is pointed at, whose behaviour each
 * scenario sets (which certificate it serves, TLS limits, and how its MQTT side misbehaves), and
 * which records what the device does. Between scenarios it refuses TLS, so a device's retries
 * never leak from one scenario into the next; those attempts are still recorded.
 *
 * A connection goes: TCP accept (the record opens) -> the ClientHello is read off the raw socket
 * and parsed (clienthello.ts) -> idle: a handshake_failure alert and close; serving: TLS over
 * the same bytes, with the device's bytes tapped for a plaintext alert (alerts.ts) -> MQTT through
 * a filter that frames and records every packet both ways and applies the behaviour, to the
 * endpoint's own aedes instance.
 */
import { Aedes, type Client } from 'aedes';
import type { Packet } from 'mqtt-packet';
import { EventEmitter } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls, { type SecureVersion, type TLSSocket } from 'node:tls';
import { UsageError, errnoOf, quoted } from '../errors.ts';
import { ensurePki, type CertArtifact, type Pki } from '../pki/index.ts';
import { AlertTap, HANDSHAKE_FAILURE_RECORD, alertFromOpenSslCode } from './alerts.ts';
import type { Attempts, PacketRecord } from './attempts.ts';
import { parseClientHello } from './clienthello.ts';
import { MqttDecoder, MqttFramer, duplexPair, encodePacket, packetRecord } from './mqtt-wire.ts';
import { identityJudge } from './identities.ts';
import {
  bindError, closeRecord, failedTls, newConnection, recordSecure, secureContextOf, tlsFailure, urlOf, type Connection,
} from './records.ts';

export interface EndpointTls {
  /** PKI name of the served certificate (its chain is served), e.g. 'server-valid', 'server-large',
   *  'server-rogue', 'server-expired', 'server-not-yet-valid', 'server-wrong-host', 'server-next'. */
  server: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** OpenSSL TLS 1.2 cipher list; default OpenSSL's. */
  ciphers?: string;
  /** default 'required' (CN must equal the MQTT client id, as on the lab's profiles). */
  clientAuth?: 'required' | 'none';
}

export interface EndpointMqtt {
  /** The first N CONNECTs get no answer (the connection is held open until the device closes). */
  withholdConnack?: number;
  /** Answer every CONNECT with this CONNACK return code (1..5), then close. */
  refuseConnack?: number;
  /** The first N sessions are closed by the endpoint right after their CONNACK. */
  disconnectAfterConnack?: number;
  /** Packets the endpoint never sends to the device (the broker's own answers are dropped). */
  withhold?: Array<'puback' | 'suback' | 'pingresp'>;
  /** Answer session-present = 0 and drop any stored session (a "session expired" broker). */
  sessionExpired?: boolean;
}

export interface EndpointBehaviour {
  tls: EndpointTls;
  mqtt?: EndpointMqtt;
}

export interface EndpointMaterials {
  uri: string;
  host: string;
  port: number;
  hostNames: string[];
  /** bundle-transition: the current and the next root. */
  caBundlePath: string;
  caBundlePem: string;
  /** The device's own certificate and key (minted on first use). */
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export interface Endpoint {
  host: string;
  port: number;
  /** mqtts://host:port as a device should be told (0.0.0.0 shown as 127.0.0.1). */
  url: string;
  /** From now on, new connections get this behaviour (a scenario starts, or changes it mid-run). */
  serve(behaviour: EndpointBehaviour): void;
  /** From now on, refuse TLS: answer the ClientHello with a fatal handshake_failure alert and close. */
  refuse(): void;
  /** Close every open device connection now (TCP close; FIN). */
  dropAll(reason: string): void;
  /** Publish a message through the endpoint's broker (stored for an absent persistent session). */
  publish(topic: string, payload: Buffer, qos: 0 | 1): Promise<void>;
  /** Topics the device (client id) has subscribed to, as the endpoint saw SUBSCRIBEs. */
  subscriptions(clientId: string): string[];
  /** 'packet' (attempt: Attempt, packet: PacketRecord) for every MQTT packet either way. */
  readonly events: EventEmitter;
  /** The material a firmware test build needs (paths, PEM strings). */
  materials(deviceId: string): Promise<EndpointMaterials>;
}

/** The endpoint as the lab holds it: the public face plus what only the lab calls. */
export interface RunningEndpoint extends Endpoint {
  /** Serves certificates from `pki` for the behaviours set from now on. */
  usePki(pki: Pki): void;
  close(): Promise<void>;
}

export interface EndpointOptions {
  pki: Pki;
  attempts: Attempts;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0: any free port. Default 8883. */
  port?: number;
  /** How long the TLS handshake may take after the ClientHello (default 20 s). */
  handshakeTimeoutMs?: number;
  /** What to tell the user to change when the address cannot be bound, in the words of where host and
   *  port were set (a command line says --port); default: hilt.config.json's "endpoint" settings. */
  bindFixes?: { port: string; host: string; other: string };
  /** How long a connection may stay silent before its ClientHello is complete (default 10 s). */
  helloTimeoutMs?: number;
  /** How long a connection may go without a CONNECT once TLS is up (default 30 s, as aedes's connectTimeout,
   *  which never runs here: aedes only gets the stream on CONNECT). */
  connectTimeoutMs?: number;
  /** How long a connection whose CONNACK is withheld is held if the device never gives up (default 120 s). */
  holdMs?: number;
}

/** The attempts' listener name for the endpoint. */
export const ENDPOINT_LISTENER = 'endpoint';
/** After the endpoint ends a connection, how long the device has to close its side before the socket is destroyed. */
const LINGER_MS = 2_000;

/** MQTT 3.1.1 CONNACK refusals (1..5) as MQTT 5 reason codes (MQTT 5.0 §3.2.2.2). */
const V5_REFUSAL: Record<number, number> = { 1: 0x84, 2: 0x85, 3: 0x88, 4: 0x86, 5: 0x87 };

/** The behaviour being served, with its counters ("the first N ... since serve()"). */
interface Serving {
  behaviour: EndpointBehaviour;
  context: tls.SecureContext;
  connects: number;
  sessions: number;
}

interface EndpointConnection extends Connection {
  raw: Socket;
  serving: Serving | null;
  peerEnded: boolean;
  reset: boolean;
  /** The endpoint ended it with an alert of its own (refused between scenarios). */
  endpointAlert: boolean;
  /** What the device sent before TLS took over (its ClientHello, or what came instead). */
  helloBytes: Buffer;
  timers: NodeJS.Timeout[];
}

function checkBehaviour(b: EndpointBehaviour): void {
  const count = (name: string, v: unknown) => {
    if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)) throw new UsageError(`endpoint behaviour: mqtt.${name} ${quoted(String(v))}: give a whole number of connections (0 or more)`);
  };
  if (!b || typeof b !== 'object' || !b.tls || typeof b.tls.server !== 'string') throw new UsageError('endpoint behaviour: tls.server is missing: name the lab certificate to serve, e.g. "server-valid"');
  const m = b.mqtt ?? {};
  count('withholdConnack', m.withholdConnack);
  count('disconnectAfterConnack', m.disconnectAfterConnack);
  if (m.refuseConnack !== undefined && !(Number.isInteger(m.refuseConnack) && m.refuseConnack >= 1 && m.refuseConnack <= 5)) {
    throw new UsageError(`endpoint behaviour: mqtt.refuseConnack ${quoted(String(m.refuseConnack))}: give a CONNACK refusal code 1..5`);
  }
  for (const w of m.withhold ?? []) {
    if (!['puback', 'suback', 'pingresp'].includes(w)) throw new UsageError(`endpoint behaviour: mqtt.withhold ${quoted(String(w))}: choose from puback, suback, pingresp`);
  }
}

/**
 * The raw socket as a stream TLS can sit on, with every byte from the device passing `tap` first
 * (a net.Socket handed to TLS directly is read in C++, out of JavaScript's sight).
 */
function tappedStream(raw: Socket, first: Buffer, tap: (chunk: Buffer) => void): Duplex {
  const wire = new Duplex({
    read() { raw.resume(); },
    write(chunk: Buffer, _encoding, callback) { raw.write(chunk, callback); },
    final(callback) { raw.end(); callback(); },
    destroy(err, callback) { raw.destroy(); callback(err); },
  });
  wire.push(first);
  wire.on('error', () => { /* the raw socket's close ends the record */ });
  raw.on('data', (chunk: Buffer) => {
    tap(chunk);
    if (!wire.push(chunk)) raw.pause();
  });
  raw.once('end', () => wire.push(null));
  raw.once('close', () => wire.destroy());
  return wire;
}

/**
 * What tls.Server does for each of its sockets once the handshake is done (onServerSocketSecure in
 * Node's _tls_wrap.js): read OpenSSL's verdict on the client certificate into `authorized` and
 * `authorizationError`. A TLSSocket made directly, as here, never gets it otherwise.
 */
function settleVerification(socket: TLSSocket): void {
  const handle = (socket as unknown as { _handle?: { verifyError(): (Error & { code?: string }) | null } })._handle;
  const error = handle?.verifyError() ?? null;
  socket.authorized = error === null && socket.getPeerX509Certificate() !== undefined;
  if (error) socket.authorizationError = (error.code ?? error.message) as unknown as Error;
}

export async function startEndpoint(options: EndpointOptions): Promise<RunningEndpoint> {
  const { attempts, host = '127.0.0.1', handshakeTimeoutMs = 20_000, helloTimeoutMs = 10_000, connectTimeoutMs = 30_000, holdMs = 120_000 } = options;
  let pki = options.pki;
  let serving: Serving | null = null;
  let closing = false;
  let boundPort = 0;
  const events = new EventEmitter();
  const open = new Set<EndpointConnection>();
  /** aedes's stream of a session -> its connection. */
  const sessions = new WeakMap<object, EndpointConnection>();
  const subscribed = new Map<string, Set<string>>();
  const judgeIdentity = identityJudge(options.pki);

  const broker = await Aedes.createBroker({
    authenticate(client, _username, _password, done) {
      const conn = sessions.get(client.conn);
      // aedes has put a generated id on a client that sent none; the record has what was sent.
      const clientId = conn?.record.mqtt?.clientId ?? client.id;
      const holder = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[clientId];
      const held = holder && holder !== client ? sessions.get(holder.conn) : undefined;
      // One device per endpoint, on its own topics: only the identity rule applies, not the
      // lab profiles' devices/<id>/ topic rule (a team's firmware uses its own topics). Under
      // clientAuth 'none' that rule keeps a client without a certificate off the device's id.
      const heldBy = held?.identity ? `attempt ${held.record.id} on ${held.record.listener}` : null;
      void judgeIdentity(clientId, conn?.identity ?? null, heldBy).then((refusal) => {
        if (!refusal) {
          if (held && !held.labReason) held.labReason = `taken over by attempt ${conn?.record.id ?? '?'} (same client id)`;
          return done(null, true);
        }
        if (conn) conn.labReason = `CONNACK ${refusal.connack}: ${refusal.reason}`;
        done(Object.assign(new Error(refusal.reason), { returnCode: refusal.connack }), null);
      });
    },
  });
  const noteError = (client: Client, err: Error) => {
    const conn = sessions.get(client.conn);
    if (conn && !conn.mqttError) conn.mqttError = `MQTT error: ${err.message}`;
  };
  broker.on('clientError', noteError);
  broker.on('connectionError', noteError);

  const note = (conn: EndpointConnection, packet: PacketRecord) => {
    conn.record.packets!.push(packet);
    events.emit('packet', conn.record, packet);
  };
  const later = (conn: EndpointConnection, ms: number, fn: () => void) => { conn.timers.push(setTimeout(fn, ms)); };
  /** The endpoint ends a connection: a close (TLS close_notify, then FIN), and a bound for the device to follow. */
  const endSoon = (conn: EndpointConnection, reason: string, stream: Duplex = conn.raw) => {
    conn.labReason ??= reason;
    stream.end();
    later(conn, LINGER_MS, () => conn.raw.destroy());
  };

  function accept(raw: Socket): void {
    const record = attempts.open(ENDPOINT_LISTENER, boundPort, { address: raw.remoteAddress, port: raw.remotePort }, raw);
    Object.assign(record, { clientHello: null, alert: null, closedHow: null, packets: [] });
    const conn: EndpointConnection = {
      ...newConnection(record), raw, serving, peerEnded: false, reset: false, endpointAlert: false, helloBytes: Buffer.alloc(0), timers: [],
    };
    open.add(conn);
    raw.setNoDelay(true);
    raw.on('error', (err) => { if (errnoOf(err) === 'ECONNRESET') conn.reset = true; });
    raw.once('end', () => { conn.peerEnded = true; });
    raw.once('close', () => {
      open.delete(conn);
      for (const t of conn.timers) clearTimeout(t);
      // Gone (a reset, say) while its ClientHello was still coming: record what had come.
      record.clientHello ??= parseClientHello(conn.helloBytes, true);
      if (!record.tls) {
        conn.failedBy = 'device';
        record.tls = failedTls('device closed the connection before completing a handshake', 'NO_HANDSHAKE');
      }
      record.closedHow = conn.endpointAlert || (record.alert?.level === 'fatal' && !conn.labReason) ? 'alert' : conn.reset ? 'rst' : 'fin';
      closeRecord(attempts, conn, closing);
    });
    readHello(conn);
  }

  /** Reads the ClientHello off the raw socket (bounded in bytes and time), then decides. */
  function readHello(conn: EndpointConnection): void {
    const { raw, record } = conn;
    let timedOut = false;
    const finish = (final: boolean) => {
      const bytes = conn.helloBytes;
      const hello = parseClientHello(bytes, final);
      if (!hello) return;
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', onEnd);
      raw.pause();
      record.clientHello = hello;
      conn.helloBytes = Buffer.alloc(0); // read: no need to hold it for the connection's life
      if (!hello.ok) return badHello(conn, timedOut);
      if (!conn.serving) return refuseIdle(conn);
      startTls(conn, bytes);
    };
    const onData = (chunk: Buffer) => {
      conn.helloBytes = Buffer.concat([conn.helloBytes, chunk]);
      finish(false);
    };
    const onEnd = () => finish(true);
    const timer = setTimeout(() => { timedOut = true; finish(true); }, helloTimeoutMs);
    conn.timers.push(timer);
    raw.on('data', onData);
    raw.once('end', onEnd);
  }

  function badHello(conn: EndpointConnection, timedOut: boolean): void {
    const { record } = conn;
    const hello = record.clientHello!;
    if (timedOut && hello.bytes === 0) {
      record.tls = failedTls(`no ClientHello within ${helloTimeoutMs} ms`, 'NO_CLIENT_HELLO');
    } else if (hello.bytes === 0) {
      record.tls = failedTls('device closed the connection before completing a handshake', 'NO_HANDSHAKE');
    } else {
      const waited = timedOut ? ` (nothing more within ${helloTimeoutMs} ms)` : '';
      record.tls = failedTls(`ClientHello: ${hello.error}${waited}`, 'BAD_CLIENT_HELLO');
    }
    conn.failedBy = conn.peerEnded ? 'device' : 'lab';
    attempts.settle(record);
    if (conn.peerEnded) return; // the device closed: the socket follows by itself
    conn.raw.resume(); // read and drop the rest, so the close is a FIN, not a reset for unread data
    endSoon(conn, record.tls.reason!);
  }

  function refuseIdle(conn: EndpointConnection): void {
    const { record, raw } = conn;
    record.tls = {
      ...failedTls('the endpoint is between scenarios: it answered with a fatal handshake_failure alert', ''),
      outcome: 'refused-idle', code: null,
    };
    conn.endpointAlert = true;
    attempts.settle(record);
    raw.resume();
    raw.write(HANDSHAKE_FAILURE_RECORD);
    endSoon(conn, 'refused between scenarios (handshake_failure alert)');
  }

  function startTls(conn: EndpointConnection, hello: Buffer): void {
    const { record, raw } = conn;
    const serving = conn.serving!;
    const clientAuth = serving.behaviour.tls.clientAuth ?? 'required';
    const tap = new AlertTap();
    tap.feed(hello.subarray(record.clientHello!.bytes)); // anything that came in the hello's last chunk after it
    const wire = tappedStream(raw, hello, (chunk) => tap.feed(chunk));
    const socket = new tls.TLSSocket(wire, {
      isServer: true, secureContext: serving.context, requestCert: clientAuth === 'required', rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      if (record.tls) return;
      record.tls = failedTls('handshake timed out', 'ERR_TLS_HANDSHAKE_TIMEOUT');
      conn.failedBy = 'lab';
      attempts.settle(record);
      raw.destroy();
    }, handshakeTimeoutMs);
    conn.timers.push(timer);
    socket.on('error', (err: NodeJS.ErrnoException & { reason?: string }) => {
      if (record.tls) return; // after the handshake: the close says how it ended
      clearTimeout(timer);
      const failure = tlsFailure(err);
      record.alert = tap.alert ?? alertFromOpenSslCode(failure.code);
      conn.failedBy = failure.byDevice || record.alert ? 'device' : 'lab';
      record.tls = failedTls(failure.reason, failure.code);
      attempts.settle(record);
      socket.destroy();
    });
    socket.once('secure', () => {
      clearTimeout(timer);
      record.alert = tap.alert;
      settleVerification(socket);
      const refused = recordSecure(socket, conn, attempts, clientAuth);
      if (refused) return endSoon(conn, refused, socket);
      filterMqtt(conn, socket, serving);
    });
  }

  /**
   * Puts the MQTT filter between the device's TLS socket and aedes: every packet is framed,
   * recorded and, as the behaviour says, passed on, held back, rewritten or answered here.
   */
  function filterMqtt(conn: EndpointConnection, socket: TLSSocket, serving: Serving): void {
    const { record } = conn;
    const mqtt = serving.behaviour.mqtt ?? {};
    const [toBroker, brokerSide] = duplexPair();
    toBroker.on('error', () => { /* the TLS socket's close ends the record */ });
    brokerSide.on('error', () => { /* aedes reports its own errors (clientError) */ });
    sessions.set(brokerSide, conn);
    let handed = false;
    let version = 4;
    const fromDevice = new MqttFramer();
    const toDevice = new MqttFramer();
    const inDecoder = new MqttDecoder();
    const outDecoder = new MqttDecoder();
    const at = () => attempts.elapsed(record);
    // A device that completed TLS owes a CONNECT; without one the connection would be held for ever.
    const connectTimer = setTimeout(() => endSoon(conn, `no CONNECT within ${connectTimeoutMs} ms`, socket), connectTimeoutMs);
    conn.timers.push(connectTimer);

    const connect = (packet: Extract<Packet, { cmd: 'connect' }>, frame: Buffer) => {
      clearTimeout(connectTimer);
      version = packet.protocolVersion ?? 4;
      outDecoder.protocolVersion = version;
      record.mqtt = {
        clientId: packet.clientId, keepalive: packet.keepalive ?? 0, clean: packet.clean !== false,
        protocolVersion: version, username: packet.username ?? null, connack: null,
      };
      serving.connects++;
      if (mqtt.refuseConnack !== undefined) {
        // MQTT 5 spells the 3.1.1 refusals as reason codes.
        const answer = version === 5
          ? { cmd: 'connack', reasonCode: V5_REFUSAL[mqtt.refuseConnack]!, sessionPresent: false } as const
          : { cmd: 'connack', returnCode: mqtt.refuseConnack, sessionPresent: false } as const;
        const bytes = encodePacket(answer, version);
        const sent = packetRecord(answer, 'out', at(), bytes.length);
        note(conn, sent);
        record.mqtt.connack = sent.returnCode!; // as sent: the MQTT 5 reason code for an MQTT 5 device
        attempts.settle(record);
        socket.write(bytes);
        return endSoon(conn, `CONNACK ${mqtt.refuseConnack}: refused by the endpoint's behaviour`, socket);
      }
      if (serving.connects <= (mqtt.withholdConnack ?? 0)) {
        // No answer at all: the device decides when to give up (bounded by holdMs).
        attempts.settle(record);
        later(conn, holdMs, () => endSoon(conn, `CONNACK withheld; the device was still waiting after ${holdMs} ms`, socket));
        return;
      }
      if (packet.clean !== false || mqtt.sessionExpired) subscribed.delete(packet.clientId);
      // A "session expired" broker: aedes drops the stored session for a clean CONNECT and answers
      // session-present 0; the record keeps the device's own flag.
      toBroker.write(mqtt.sessionExpired && packet.clean === false ? encodePacket({ ...packet, clean: true }, version) : frame);
      if (!handed) {
        handed = true;
        broker.handle(brokerSide);
      }
    };

    const onDeviceFrame = (frame: Buffer) => {
      const packet = inDecoder.decode(frame);
      note(conn, packetRecord(packet, 'in', at(), frame.length));
      if (packet.cmd === 'connect') return connect(packet, frame);
      if (!handed) return; // before a CONNECT the broker took (or after a withheld one): nowhere to go
      const clientId = record.mqtt?.clientId;
      if (clientId !== undefined && packet.cmd === 'subscribe') {
        const set = subscribed.get(clientId) ?? new Set<string>();
        for (const s of packet.subscriptions) set.add(s.topic);
        subscribed.set(clientId, set);
      }
      if (clientId !== undefined && packet.cmd === 'unsubscribe') {
        for (const t of packet.unsubscriptions) subscribed.get(clientId)?.delete(t);
      }
      toBroker.write(frame);
    };

    const onBrokerFrame = (frame: Buffer) => {
      const packet = outDecoder.decode(frame);
      const seen = packetRecord(packet, 'out', at(), frame.length);
      if ((mqtt.withhold as string[] | undefined)?.includes(packet.cmd)) {
        note(conn, { ...seen, withheld: true });
        return;
      }
      note(conn, seen);
      if (packet.cmd !== 'connack') return void socket.write(frame);
      const code = seen.returnCode ?? 0;
      if (record.mqtt) record.mqtt.connack = code;
      attempts.settle(record);
      const session = code === 0 ? ++serving.sessions : 0;
      if (session > 0 && session <= (mqtt.disconnectAfterConnack ?? 0)) {
        socket.write(frame, () => endSoon(conn, `closed right after CONNACK by the endpoint's behaviour (session ${session})`, socket));
        return;
      }
      socket.write(frame);
    };

    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of fromDevice.push(chunk)) onDeviceFrame(frame);
      } catch (err) {
        conn.mqttError ??= `MQTT from the device: ${(err as Error).message}`;
        socket.destroy();
      }
    });
    toBroker.on('data', (chunk: Buffer) => {
      try {
        for (const frame of toDevice.push(chunk)) onBrokerFrame(frame);
      } catch (err) {
        conn.mqttError ??= `MQTT from the broker: ${(err as Error).message}`;
        socket.destroy();
      }
    });
    toBroker.once('end', () => { if (!socket.destroyed) endSoon(conn, conn.labReason ?? 'the broker closed the session', socket); });
    socket.once('close', () => toBroker.destroy());
  }

  const server = net.createServer(accept);
  const wantedPort = options.port ?? 8883;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(bindError(err, host, net.isIPv6(host) ? `[${host}]:${wantedPort}` : `${host}:${wantedPort}`, 'the firmware endpoint', options.bindFixes ?? {
      port: 'set another "endpoint.port" in hilt.config.json',
      host: 'set "endpoint.host" (or the lab host) in hilt.config.json to one it has',
      other: 'set another "endpoint.host" or "endpoint.port" in hilt.config.json',
    })));
    server.listen({ host, port: wantedPort }, () => {
      boundPort = (server.address() as AddressInfo).port;
      resolve();
    });
  }).catch(async (err: unknown) => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw err;
  });

  const url = urlOf('tls', host, boundPort);
  return {
    host,
    port: boundPort,
    url,
    events,
    serve(behaviour) {
      checkBehaviour(behaviour);
      const options = secureContextOf(behaviour.tls, pki);
      let context: tls.SecureContext;
      try {
        context = tls.createSecureContext(options);
      } catch (err) {
        // OpenSSL's words ("no cipher match", an unknown version) for the settings the scenario gave.
        const { ciphers, minVersion, maxVersion } = behaviour.tls;
        throw new UsageError(`endpoint behaviour: tls ${JSON.stringify({ ciphers, minVersion, maxVersion })} cannot be served (${(err as Error).message}): fix the cipher list or versions`, { cause: err });
      }
      serving = { behaviour, context, connects: 0, sessions: 0 };
    },
    refuse() {
      serving = null;
    },
    dropAll(reason) {
      for (const conn of open) {
        conn.labReason ??= `dropped by the endpoint: ${reason}`;
        conn.raw.destroy();
      }
    },
    publish(topic, payload, qos) {
      return new Promise<void>((resolve, reject) => {
        broker.publish({ cmd: 'publish', topic, payload, qos, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()));
      });
    },
    subscriptions(clientId) {
      return [...(subscribed.get(clientId) ?? [])];
    },
    async materials(deviceId) {
      const minted = await ensurePki({ dir: pki.dir, devices: [deviceId] });
      const name = `device/${deviceId}`;
      const valid = minted.manifest.artifacts.find((a) => a.name === 'server-valid') as CertArtifact | undefined;
      return {
        uri: url, host: new URL(url).hostname.replace(/^\[|\]$/g, ''), port: boundPort, hostNames: valid?.names ?? [],
        caBundlePath: minted.path('bundle-transition'), caBundlePem: minted.bundle('bundle-transition'),
        certPath: minted.path(name, 'cert'), keyPath: minted.path(name, 'key'),
        certPem: minted.material(name).cert, keyPem: minted.material(name).key,
      };
    },
    usePki(next) {
      pki = next;
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const conn of open) conn.raw.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

