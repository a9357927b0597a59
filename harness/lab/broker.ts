/**
 * The lab broker: one aedes instance behind one listener per profile. Each connection becomes an
 * attempt record; TLS decisions about client certificates are made here (Node's own rejection
 * would drop the socket without saying why), MQTT identity and topic rules in policy.ts.
 */
import { Aedes, type Client } from 'aedes';
import net, { type AddressInfo, type Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { UsageError } from '../errors.ts';
import type { Pki } from '../pki/index.ts';
import { Attempts, type Attempt } from './attempts.ts';
import { startEndpoint, type Endpoint, type EndpointOptions, type RunningEndpoint } from './endpoint.ts';
import { identityJudge } from './identities.ts';
import { topicAllowed } from './policy.ts';
import { PROFILES, profileNames, type ListenerProfile } from './profiles.ts';
import {
  bindError, closeRecord, failedTls, newConnection, recordSecure, secureContextOf, tlsFailure, urlOf, type Connection,
} from './records.ts';

export interface LabOptions {
  pki: Pki;
  /** Profile names to open; default: every profile. */
  profiles?: string[];
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** First port (profiles take consecutive ports in catalogue order); 0 (default): any free port. */
  portBase?: number;
  /** How long a TLS handshake may take before the lab gives up on it (default 20 s). */
  handshakeTimeoutMs?: number;
  /** How long the stall listener holds a silent connection before dropping it (default 120 s). */
  stallHoldMs?: number;
  /**
   * Open the firmware endpoint too (`lab.endpoint`): host defaults to the lab's, port to 8883
   * (0: any free port). Its attempts are recorded under listener 'endpoint'.
   */
  endpoint?: { host?: string; port?: number; bindFixes?: EndpointOptions['bindFixes'] };
}

export interface Listener {
  profile: ListenerProfile;
  host: string;
  port: number;
  url: string;
  /** Path of the CA bundle a device must trust to accept this listener; null without TLS. */
  trust: string | null;
}

export interface Lab {
  listeners: Listener[];
  listener(name: string): Listener;
  attempts: Attempts;
  /**
   * Serves the certificates of `pki` from now on (new connections; the same dir and names). For a
   * lab that binds before its certificates name a new host: see `hilt broker --host`.
   */
  useCertificates(pki: Pki): void;
  /** The firmware endpoint, when asked for in the options; else null. */
  endpoint: Endpoint | null;
  close(): Promise<void>;
}

const peerKey = (s: { remoteAddress?: string; remotePort?: number }) => `${s.remoteAddress}:${s.remotePort}`;

export async function startLab(options: LabOptions): Promise<Lab> {
  const { pki, host = '127.0.0.1', portBase = 0, handshakeTimeoutMs = 20_000, stallHoldMs = 120_000 } = options;
  const wanted = options.profiles ?? profileNames();
  const profiles = wanted.map((name) => {
    const profile = PROFILES.find((p) => p.name === name);
    if (!profile) throw new UsageError(`unknown listener profile ${JSON.stringify(name)}: choose from ${profileNames().join(', ')}`);
    return profile;
  });

  const attempts = new Attempts();
  const connections = new WeakMap<object, Connection>();
  const judgeIdentity = identityJudge(pki);
  const sockets = new Set<Socket>();
  let closing = false;

  const connectionOf = (client: Client): Connection | undefined => connections.get(client.conn);

  const broker = await Aedes.createBroker({
    preConnect(client, packet, done) {
      const conn = connectionOf(client);
      if (conn) {
        conn.record.mqtt = {
          clientId: packet.clientId, keepalive: packet.keepalive ?? 0, clean: packet.clean !== false,
          protocolVersion: packet.protocolVersion ?? 4, username: packet.username ?? null, connack: null,
        };
      }
      done(null, true);
    },
    authenticate(client, _username, _password, done) {
      const conn = connectionOf(client);
      // aedes has put a generated id on a client that sent none; the record has what was sent.
      const clientId = conn?.record.mqtt?.clientId ?? client.id;
      const holder = (broker as unknown as { clients: Record<string, Client | undefined> }).clients[clientId];
      const held = holder && holder !== client ? connectionOf(holder) : undefined;
      void (async () => {
        const certificateCn = conn?.identity ?? null;
        const heldBy = held?.identity ? `attempt ${held.record.id} on ${held.record.listener}` : null;
        const refusal = await judgeIdentity(clientId, certificateCn, heldBy);
        if (!refusal) {
          // aedes closes the session this one takes over: say so in that session's record.
          if (held && !held.labReason) held.labReason = `taken over by attempt ${conn?.record.id ?? '?'} on ${conn?.record.listener ?? '?'} (same client id)`;
          return done(null, true);
        }
        if (conn) conn.labReason = `CONNACK ${refusal.connack}: ${refusal.reason}`;
        done(Object.assign(new Error(refusal.reason), { returnCode: refusal.connack }), null);
      })();
    },
    authorizePublish(client, packet, done) {
      if (!client || topicAllowed(client.id, packet.topic)) return done(null);
      const conn = connectionOf(client);
      if (conn) conn.labReason = `publish to ${packet.topic} denied: outside devices/${client.id}/`;
      done(new Error(`publish to ${packet.topic} denied`));
    },
    authorizeSubscribe(client, subscription, done) {
      // A refused filter gets SUBACK 0x80; the session goes on.
      done(null, topicAllowed(client.id, subscription.topic) ? subscription : null);
    },
  });
  broker.on('connackSent', (packet, client) => {
    const conn = connectionOf(client);
    if (!conn?.record.mqtt) return;
    conn.record.mqtt.connack = packet.returnCode ?? 0;
    attempts.settle(conn.record);
  });
  // clientError: after CONNECT; connectionError: before it (e.g. a TLS ClientHello on the plain port).
  const noteError = (client: Client, err: Error) => {
    const conn = connectionOf(client);
    if (conn && !conn.mqttError) conn.mqttError = `MQTT error: ${err.message}`;
  };
  broker.on('clientError', noteError);
  broker.on('connectionError', noteError);

  /** Common to every listener: track the socket, and close the record when it goes. */
  const track = (socket: Socket, record: Attempt, conn: Connection) => {
    sockets.add(socket);
    // Like any real broker: without TCP_NODELAY, Nagle holds CONNACK (and TLS 1.3 session tickets)
    // for a delayed-ACK cycle, adding ~40 ms that a device would measure as broker latency.
    socket.setNoDelay(true);
    socket.on('error', () => { /* the close handler records the outcome */ });
    socket.once('close', () => {
      sockets.delete(socket);
      closeRecord(attempts, conn, closing);
    });
  };

  function tlsServer(profile: ListenerProfile, port: () => number): net.Server {
    const server = tls.createServer({
      ...secureContextOf({ ...profile, server: profile.server! }, pki),
      requestCert: profile.clientAuth === 'required',
      // The lab decides about client certificates itself, so that the record can say why.
      rejectUnauthorized: false,
      handshakeTimeout: handshakeTimeoutMs,
    });
    tlsServers.set(profile, server);
    const pending = new Map<string, { record: Attempt; conn: Connection }>();
    server.on('connection', (raw: Socket) => {
      const record = attempts.open(profile.name, port(), { address: raw.remoteAddress, port: raw.remotePort }, raw);
      const conn = newConnection(record);
      const key = peerKey(raw);
      pending.set(key, { record, conn });
      raw.once('close', () => {
        pending.delete(key);
        // Gone before any TLS outcome: a device that gave up before its ClientHello (out of
        // memory for its buffers, say) or a port scan. Node reports nothing for these.
        if (!record.tls) {
          conn.failedBy = 'device';
          record.tls = failedTls('device closed the connection before completing a handshake', 'NO_HANDSHAKE');
        }
      });
      track(raw, record, conn);
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: TLSSocket) => {
      const entry = pending.get(peerKey(socket));
      if (!entry) return;
      pending.delete(peerKey(socket));
      const failure = tlsFailure(err);
      entry.conn.failedBy = failure.byDevice ? 'device' : 'lab';
      entry.record.tls = failedTls(failure.reason, failure.code);
      attempts.settle(entry.record);
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const entry = pending.get(peerKey(socket));
      if (!entry) return socket.destroy();
      pending.delete(peerKey(socket));
      const { conn } = entry;
      socket.on('error', () => { /* recorded on close */ });
      const refused = recordSecure(socket, conn, attempts, profile.clientAuth);
      if (refused) {
        conn.labReason = refused;
        socket.destroy();
        return;
      }
      connections.set(socket, conn);
      broker.handle(socket);
    });
    return server;
  }

  function plainServer(profile: ListenerProfile, port: () => number): net.Server {
    return net.createServer((socket) => {
      const record = attempts.open(profile.name, port(), { address: socket.remoteAddress, port: socket.remotePort }, socket);
      const conn = newConnection(record);
      track(socket, record, conn);
      connections.set(socket, conn);
      broker.handle(socket);
    });
  }

  function stallServer(profile: ListenerProfile, port: () => number): net.Server {
    return net.createServer((socket) => {
      const record = attempts.open(profile.name, port(), { address: socket.remoteAddress, port: socket.remotePort }, socket);
      record.tls = { ...failedTls('the lab never answers', ''), outcome: 'stalled', code: null };
      const conn = newConnection(record);
      track(socket, record, conn);
      socket.resume(); // read and drop what comes (the record counts it), so the device's sends never block
      // Bounded like everything else: a device that never gives up does not hold the socket for ever.
      const hold = setTimeout(() => {
        conn.labReason = `lab stopped stalling after ${stallHoldMs} ms`;
        socket.destroy();
      }, stallHoldMs);
      socket.once('close', () => clearTimeout(hold));
      attempts.settle(record);
    });
  }

  const servers: net.Server[] = [];
  const tlsServers = new Map<ListenerProfile, tls.Server>();
  const listeners: Listener[] = [];
  const listenOne = (profile: ListenerProfile, index: number) => new Promise<Listener>((resolve, reject) => {
    let bound = 0;
    const port = () => bound;
    const make = { tls: tlsServer, plain: plainServer, stall: stallServer }[profile.kind];
    const server = make(profile, port);
    servers.push(server);
    const wantedPort = portBase === 0 ? 0 : portBase + index;
    server.once('error', (err) => {
      reject(bindError(err, host, `${host} port ${wantedPort || '(any)'}`, `listener ${profile.name}`,
        { port: 'choose another --port-base', host: 'choose one it has with --host', other: 'choose another --host or --port-base' }));
    });
    server.listen({ host, port: wantedPort }, () => {
      bound = (server.address() as AddressInfo).port;
      resolve({
        profile, host, port: bound, url: urlOf(profile.kind, host, bound),
        trust: profile.trust ? pki.path(profile.trust) : null,
      });
    });
  });

  const close = async () => {
    if (closing) return;
    closing = true;
    attempts.cancelWaits('the lab closed while waiting for a connection attempt');
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await endpoint?.close();
  };

  let endpoint: RunningEndpoint | null = null;
  try {
    listeners.push(...(await Promise.all(profiles.map(listenOne))));
    if (options.endpoint) {
      endpoint = await startEndpoint({
        pki, attempts, host: options.endpoint.host ?? host, port: options.endpoint.port ?? 8883,
        bindFixes: options.endpoint.bindFixes, handshakeTimeoutMs, holdMs: stallHoldMs,
      });
    }
  } catch (err) {
    await close();
    throw err;
  }

  return {
    listeners,
    attempts,
    endpoint,
    close,
    useCertificates(next) {
      for (const [profile, server] of tlsServers) server.setSecureContext(secureContextOf({ ...profile, server: profile.server! }, next));
      endpoint?.usePki(next);
    },
    listener(name) {
      const found = listeners.find((l) => l.profile.name === name);
      if (!found) throw new UsageError(`listener ${JSON.stringify(name)} is not open in this lab: open it with --profiles or choose from ${listeners.map((l) => l.profile.name).join(', ')}`);
      return found;
    },
  };
}
