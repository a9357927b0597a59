/**
 * The app's TLS connection as esp-tls with Mbed TLS 3.6 makes it, on the wire. node:tls (OpenSSL)
 * runs the handshake, but the server's bytes reach it only through a tap that reads the TLS 1.2
 * records first, as Mbed TLS would receive them:
 *
 * - a record (or a handshake message reassembled from several records) larger than the IN buffer
 *   fails the way mbedtls_ssl_fetch_input does ("requesting more data than fits":
 *   MBEDTLS_ERR_SSL_BAD_INPUT_DATA, no alert);
 * - the server's Certificate message (plaintext in TLS 1.2) is judged with the emulator's Mbed TLS
 *   model before OpenSSL sees it; a refusal writes the fatal alert mbedtls_ssl_verify_certificate
 *   picks for those flags (ssl_tls.c) and closes, so the server sees the alert and no Finished.
 *
 * The app offers TLS 1.2 only (ESP-IDF's default has MBEDTLS_SSL_PROTO_TLS1_3 off), so the
 * certificate is always readable on the wire.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls, { type TLSSocket } from 'node:tls';
import {
  MBEDTLS_ERR, judgeServerCertificate, opensslCipherList, suiteByMbedtls, type KeyExchange, type MbedtlsConfig, type VerifyAlert,
} from '../mbedtls/index.ts';

/** TLS alert numbers (RFC 5246 7.2) of the alerts a Mbed TLS client sends on a verify failure. */
export const ALERT_NUMBER: Record<VerifyAlert, number> = {
  bad_certificate: 42, unsupported_certificate: 43, certificate_revoked: 44, certificate_expired: 45,
  certificate_unknown: 46, unknown_ca: 48, access_denied: 49,
};

/**
 * MBEDTLS_SSL_PAYLOAD_OVERHEAD in 3.6 (ssl_misc.h): explicit IV 16 + MAC 48 (SHA-384 on) + CBC
 * padding 256. The IN buffer holds IN_CONTENT_LEN plus this, so that is the largest record (and
 * the largest reassembled handshake message) a board takes.
 */
export const IN_PAYLOAD_OVERHEAD = 16 + 48 + 256;

const RECORD = { changeCipherSpec: 20, alert: 21, handshake: 22 } as const;
const HS_CERTIFICATE = 11;
const HS_SERVER_HELLO = 2;

/** Key exchange of the TLS 1.2 suites a default ESP-IDF build may get, by IANA id. */
function kexOf(id: number, leaf: X509Certificate): KeyExchange {
  const ecdsa = [0xc02b, 0xc02c, 0xc023, 0xc024, 0xc009, 0xc00a, 0xc0ac, 0xc0ad, 0xc0ae, 0xc0af, 0xcca9];
  const ecdheRsa = [0xc02f, 0xc030, 0xc027, 0xc028, 0xc013, 0xc014, 0xcca8];
  const rsa = [0x009c, 0x009d, 0x003c, 0x003d, 0x002f, 0x0035, 0xc09c, 0xc09d, 0xc0a0, 0xc0a1];
  if (ecdsa.includes(id)) return 'ECDHE-ECDSA';
  if (ecdheRsa.includes(id)) return 'ECDHE-RSA';
  if (rsa.includes(id)) return 'RSA';
  return leaf.publicKey.asymmetricKeyType === 'rsa' ? 'ECDHE-RSA' : 'ECDHE-ECDSA';
}

export interface TlsSpec {
  host: string;
  port: number;
  config: MbedtlsConfig;
  caPem: string;
  certPem: string | null;
  keyPem: string | null;
  inContentLen: number;
  verify: boolean;
  hostnameCheck: boolean;
  alertOnRefusal: boolean;
  /** The device's clock for certificate dates. */
  now: () => Date;
  timeoutMs: number;
}

/** Why a connect failed, in esp-tls's words. */
export type TlsFailure =
  | { kind: 'tcp'; errno: number; text: string }
  | { kind: 'timeout' }
  | { kind: 'verify'; flags: number; stackErr: number; alert: VerifyAlert | null; sent: boolean }
  | { kind: 'too-large'; what: string; bytes: number; limit: number }
  | { kind: 'handshake'; stackErr: number };

export interface TlsConnection {
  socket: TLSSocket;
  raw: net.Socket;
  /** Set when Mbed TLS would have failed a read after the handshake (a record past the IN buffer). */
  readError: number | null;
  /** Abrupt end (a reboot): RST, no FIN, no close_notify. */
  abort(): void;
}

/** esp_transport_connect for mqtts: TCP, then the handshake with Mbed TLS's checks on the wire. */
export function connectTls(spec: TlsSpec, track: (socket: net.Socket) => void): Promise<TlsConnection | TlsFailure> {
  return new Promise((resolve) => {
    let settled = false;
    const raw = net.connect({ host: spec.host, port: spec.port, noDelay: true });
    track(raw);
    const finish = (outcome: TlsConnection | TlsFailure) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!('socket' in outcome)) raw.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), spec.timeoutMs);
    let tcpUp = false;
    raw.on('error', (err: NodeJS.ErrnoException) => {
      if (!tcpUp) finish({ kind: 'tcp', errno: err.code === 'ECONNREFUSED' ? 104 : 113, text: err.message });
      else finish({ kind: 'handshake', stackErr: MBEDTLS_ERR.MBEDTLS_ERR_NET_CONN_RESET! });
    });
    raw.once('connect', () => {
      tcpUp = true;
      const limit = spec.inContentLen + IN_PAYLOAD_OVERHEAD;
      // OpenSSL's side of the tap: what it writes goes to the server, what it reads comes from us.
      const inner = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, done) {
          if (raw.writable) raw.write(chunk, () => done());
          else done();
        },
        final(done) { done(); },
      });
      const trusted = pemCertificates(spec.caPem);
      let pending: Buffer = Buffer.alloc(0);
      let handshake: Buffer = Buffer.alloc(0);
      let encrypted = false;
      let suiteId = 0;
      let refused = false;
      let established: TlsConnection | null = null;
      /** Ends the attempt as Mbed TLS does: optionally one fatal alert record, then close (FIN). */
      const refuse = (failure: TlsFailure, alert: number | null) => {
        refused = true;
        // After the handshake it is mbedtls_ssl_read that fails; the app reads the code from here.
        if (established) established.readError = failure.kind === 'too-large' ? MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_INPUT_DATA! : MBEDTLS_ERR.MBEDTLS_ERR_SSL_INVALID_RECORD!;
        if (alert !== null) raw.write(Buffer.from([RECORD.alert, 3, 3, 0, 2, 2, alert]));
        raw.end();
        secure.destroy();
        finish(failure);
      };
      const onHandshakeMessages = (): boolean => {
        while (handshake.length >= 4) {
          const type = handshake[0]!;
          const length = handshake.readUIntBE(1, 3);
          if (4 + length > limit - 5) {
            refuse({ kind: 'too-large', what: `handshake message ${type}`, bytes: 4 + length, limit }, null);
            return false;
          }
          if (handshake.length < 4 + length) return true;
          const body = handshake.subarray(4, 4 + length);
          handshake = handshake.subarray(4 + length);
          // ServerHello: version 2, random 32, session id (1 + n), then the suite.
          if (type === HS_SERVER_HELLO && body.length > 35) suiteId = body.readUInt16BE(35 + body[34]!);
          if (type === HS_CERTIFICATE && !judge(body)) return false;
        }
        return true;
      };
      const judge = (body: Buffer): boolean => {
        if (!spec.verify) return true;
        const chain: X509Certificate[] = [];
        for (let at = 3; at + 3 <= body.length;) {
          const n = body.readUIntBE(at, 3);
          try {
            chain.push(new X509Certificate(body.subarray(at + 3, at + 3 + n)));
          } catch {
            refuse({ kind: 'handshake', stackErr: MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_CERTIFICATE! }, 50 /* decode_error */);
            return false;
          }
          at += 3 + n;
        }
        if (chain.length === 0) {
          refuse({ kind: 'handshake', stackErr: MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_CERTIFICATE! }, 50);
          return false;
        }
        const verdict = judgeServerCertificate({
          chain, trusted, now: spec.config.haveTimeDate ? spec.now() : null,
          expectedName: spec.hostnameCheck ? spec.host : null, kex: kexOf(suiteId, chain[0]!), authmodeRequired: true,
          groups: spec.config.curves,
        });
        if (verdict.stackErr === 0) return true;
        const sent = spec.alertOnRefusal && verdict.alert !== null;
        refuse({ kind: 'verify', flags: verdict.flags, stackErr: verdict.stackErr, alert: verdict.alert, sent },
          sent ? ALERT_NUMBER[verdict.alert!] : null);
        return false;
      };
      raw.on('data', (chunk: Buffer) => {
        if (refused) return;
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        while (pending.length >= 5) {
          const type = pending[0]!;
          const length = pending.readUInt16BE(3);
          if (length > limit) {
            refuse({ kind: 'too-large', what: `record of type ${type}`, bytes: length, limit }, null);
            return;
          }
          if (pending.length < 5 + length) break;
          const record = pending.subarray(0, 5 + length);
          pending = pending.subarray(5 + length);
          if (!encrypted && type === RECORD.handshake) {
            handshake = Buffer.concat([handshake, record.subarray(5)]);
            if (!onHandshakeMessages()) return;
          }
          if (type === RECORD.changeCipherSpec) encrypted = true;
          inner.push(record);
        }
      });
      raw.on('end', () => { if (!refused) inner.push(null); });
      raw.on('close', () => {
        if (refused) return;
        inner.destroy();
        // Closed under the handshake without an error event (a reset of the board): end the wait now.
        finish({ kind: 'handshake', stackErr: MBEDTLS_ERR.MBEDTLS_ERR_SSL_CONN_EOF! });
      });
      const suites = spec.config.ciphersuites.map((n) => suiteByMbedtls(n)!).filter((s) => s.version === 'TLSv1.2');
      const secure = tls.connect({
        socket: inner,
        servername: net.isIP(spec.host) ? undefined : spec.host,
        ciphers: opensslCipherList(suites),
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.2',
        ...(spec.config.curves.length > 0 ? { ecdhCurve: spec.config.curves.join(':') } : {}),
        ...(spec.certPem && spec.keyPem ? { cert: spec.certPem, key: spec.keyPem } : {}),
        // The verdict is Mbed TLS's, made in the tap above.
        rejectUnauthorized: false,
      });
      secure.once('secureConnect', () => {
        established = { socket: secure, raw, readError: null, abort: () => { raw.resetAndDestroy(); secure.destroy(); } };
        finish(established);
      });
      secure.once('error', (err: NodeJS.ErrnoException) => {
        if (refused) return;
        const alert = /alert/i.test(err.message);
        finish({ kind: 'handshake', stackErr: alert ? MBEDTLS_ERR.MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE! : MBEDTLS_ERR.MBEDTLS_ERR_SSL_CONN_EOF! });
      });
      secure.on('error', () => {});
    });
  });
}

function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const out: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // mbedtls_x509_crt_parse skips what it cannot parse in a bundle when others parse.
    }
  }
  return out;
}
