/**
 * Record-keeping the broker's listeners and the endpoint share: what a connection's record says
 * about its TLS handshake (done, failed, client certificate refused), why it closed, and the
 * TLS settings a served certificate comes with.
 */
import net from 'node:net';
import tls, { type SecureVersion, type TLSSocket } from 'node:tls';
import { UsageError, errnoOf } from '../errors.ts';
import { fingerprint, type Pki } from '../pki/index.ts';
import type { Attempt, Attempts, ClientCertificate, TlsRecord } from './attempts.ts';

/** What the lab knows about one connection, beside its public record. */
export interface Connection {
  record: Attempt;
  /** CN of an accepted client certificate: the identity the client id must match. */
  identity: string | null;
  /** Why the lab ended it, if it did. */
  labReason: string | null;
  /** Who ended a failed handshake: the device (alert, reset) or the lab (no shared cipher...). */
  failedBy: 'device' | 'lab' | null;
  mqttError: string | null;
}

export const newConnection = (record: Attempt): Connection => ({ record, identity: null, labReason: null, failedBy: null, mqttError: null });

function dn(fields: Record<string, string | string[] | undefined>): string {
  return Object.entries(fields).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`).join(', ');
}

export function clientCertificateOf(socket: TLSSocket): ClientCertificate | null {
  const raw = socket.getPeerX509Certificate();
  if (!raw) return null;
  const peer = socket.getPeerCertificate();
  return { subject: dn(peer.subject), issuer: dn(peer.issuer), sha256: fingerprint(raw) };
}

export function urlOf(kind: 'tls' | 'plain' | 'stall', host: string, port: number): string {
  const shownHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `${kind === 'plain' ? 'mqtt' : 'mqtts'}://${net.isIPv6(shownHost) ? `[${shownHost}]` : shownHost}:${port}`;
}

/** A TLS failure as the record states it: OpenSSL's reason, or what the peer did. */
export function tlsFailure(err: NodeJS.ErrnoException & { reason?: string }): { reason: string; code: string; byDevice: boolean } {
  const code = err.code ?? 'UNKNOWN';
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket disconnected|socket hang up/.test(err.message)) {
    return { reason: 'device closed the connection during the handshake', code, byDevice: true };
  }
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return { reason: 'handshake timed out', code, byDevice: false };
  // Alerts the device sent (e.g. "tlsv1 alert unknown ca") are the device's refusal of the lab.
  const byDevice = /_ALERT_/.test(code);
  return { reason: err.reason ?? err.message, code, byDevice };
}

export function failedTls(reason: string, code: string): TlsRecord {
  return { outcome: 'failed', reason, code, protocol: null, cipher: null, clientCertificate: null, handshakeMs: null };
}

/** What a TLS server presents: a served certificate (a lab PKI name) with its chain and limits. */
export interface ServedTls {
  server: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  ciphers?: string;
}

/** Secure-context options for `served`: its chain, and the CAs client certificates must chain to. */
export function secureContextOf(served: ServedTls, pki: Pki): tls.SecureContextOptions {
  const material = pki.material(served.server);
  return {
    cert: material.chain,
    key: material.key,
    ca: [pki.material('root-current').cert, pki.material('ca-issuing').cert],
    minVersion: served.minVersion,
    maxVersion: served.maxVersion,
    ciphers: served.ciphers,
    // The device's order decides, so the negotiated suite shows what the firmware prefers
    // (Node's default would impose its own order).
    honorCipherOrder: false,
  };
}

/**
 * Fills the record of a completed handshake. With `clientAuth` required, a client certificate
 * that is missing or does not verify refuses the connection: the return value is then the
 * reason to close with, else null (and `conn.identity` holds the certificate's CN).
 */
export function recordSecure(socket: TLSSocket, conn: Connection, attempts: Attempts, clientAuth: 'required' | 'none' | undefined): string | null {
  const { record } = conn;
  const certificate = clientCertificateOf(socket);
  record.tls = {
    outcome: 'ok', reason: null, code: null, protocol: socket.getProtocol(), cipher: socket.getCipher().name,
    clientCertificate: certificate, handshakeMs: attempts.elapsed(record),
  };
  if (clientAuth === 'required' && !socket.authorized) {
    const code = certificate ? String(socket.authorizationError) : 'NO_CLIENT_CERTIFICATE';
    Object.assign(record.tls, { outcome: 'refused', code, reason: certificate ? code : 'no client certificate' });
    attempts.settle(record);
    return `client certificate refused: ${record.tls.reason}`;
  }
  conn.identity = clientAuth === 'required' ? (socket.getPeerCertificate().subject?.CN as string | undefined) ?? null : null;
  return null;
}

/** Closes a connection's record with who ended it and why, from what the lab knew when it went. */
export function closeRecord(attempts: Attempts, conn: Connection, closing: boolean): void {
  const { record } = conn;
  if (closing) return attempts.close(record, 'lab', 'lab shut down');
  if (conn.labReason) return attempts.close(record, 'lab', conn.labReason);
  if (record.tls?.outcome === 'failed') return attempts.close(record, conn.failedBy ?? 'lab', record.tls.reason ?? 'handshake failed');
  if (conn.mqttError) return attempts.close(record, 'lab', conn.mqttError);
  const stage = record.mqtt ? '' : record.tls?.outcome === 'stalled' ? ' while the lab stalled' : ' before MQTT CONNECT';
  attempts.close(record, 'device', `closed by device${stage}`);
}

/**
 * The one-line error for a port that cannot be bound, with the fix for `what` (a listener, the
 * endpoint); `where` is the address as the message shows it.
 */
export function bindError(err: unknown, host: string, where: string, what: string, fixes: { port: string; host: string; other: string }): UsageError {
  const why = errnoOf(err);
  const fix = why === 'EADDRINUSE' ? `stop what holds it or ${fixes.port}`
    : why === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine: ${fixes.host}`
    : why === 'ENOTFOUND' || why === 'EAI_AGAIN' ? `${host} does not resolve: give an IP of this machine or a name that resolves to one`
    : fixes.other;
  return new UsageError(`cannot listen on ${where} for ${what} (${why}): ${fix}`, { cause: err });
}
