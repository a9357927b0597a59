/**
 * TLS alerts: their numbers and names, the plaintext alert records a device sends during a
 * handshake, and the alert behind an OpenSSL error code. Whether a firmware that refuses a
 * certificate says so with an alert (certificate_expired, unknown_ca ...) or just drops the
 * connection is one of the verdicts, so the endpoint records the alert itself.
 */
import type { DeviceAlert } from './attempts.ts';

/** RFC 8446 §6 AlertDescription (with the TLS 1.0-1.2 ones devices still send). */
export const ALERTS: Readonly<Record<number, string>> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 21: 'decryption_failed', 22: 'record_overflow',
  30: 'decompression_failure', 40: 'handshake_failure', 41: 'no_certificate', 42: 'bad_certificate',
  43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired', 46: 'certificate_unknown',
  47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error', 51: 'decrypt_error',
  60: 'export_restriction', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 100: 'no_renegotiation', 109: 'missing_extension',
  110: 'unsupported_extension', 111: 'certificate_unobtainable', 112: 'unrecognized_name',
  113: 'bad_certificate_status_response', 114: 'bad_certificate_hash_value', 115: 'unknown_psk_identity',
  116: 'certificate_required', 120: 'no_application_protocol',
};

const BY_NAME = new Map(Object.entries(ALERTS).map(([n, name]) => [name, Number(n)]));

export function alertName(number: number): string {
  return ALERTS[number] ?? `alert ${number}`;
}

/** The record a server sends to refuse a ClientHello: fatal handshake_failure, in plaintext (TLS 1.2 record version). */
export const HANDSHAKE_FAILURE_RECORD = Buffer.from([21, 3, 3, 0, 2, 2, 40]);

/**
 * The alert OpenSSL reports having received, from a Node error code such as
 * ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED or ERR_SSL_TLSV1_ALERT_UNKNOWN_CA (OpenSSL turns a
 * fatal alert from the peer into such an error; in TLS 1.3 it is the only way to see it, the alert
 * being encrypted). Null for any other code.
 */
export function alertFromOpenSslCode(code: string | null | undefined): DeviceAlert | null {
  const m = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_(?:ALERT_)?([A-Z_]+)$/.exec(code ?? '');
  if (!m) return null;
  const name = m[1]!.toLowerCase();
  const number = BY_NAME.get(name);
  return number === undefined ? null : { from: 'device', level: 'fatal', number, name };
}

/**
 * Reads the TLS records a device sends, after its ClientHello, for a plaintext alert. It stops
 * at the device's ChangeCipherSpec or its first encrypted record: what follows is encrypted, and
 * OpenSSL's error is the fallback there.
 */
export class AlertTap {
  alert: DeviceAlert | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  feed(chunk: Buffer): void {
    if (this.done) return;
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (!this.done && this.pending.length >= 5) {
      const type = this.pending[0]!;
      const length = this.pending.readUInt16BE(3);
      if (this.pending.length < 5 + length) return;
      if (type === 21 && length === 2 && !this.alert) {
        const level = this.pending[5]!;
        const number = this.pending[6]!;
        this.alert = { from: 'device', level: level === 1 ? 'warning' : 'fatal', number, name: alertName(number) };
      }
      if (type === 20 || type === 23 || (type !== 21 && type !== 22)) this.done = true;
      this.pending = this.pending.subarray(5 + length);
    }
    // Nothing to keep once done (and never more than one record's worth otherwise).
    if (this.done) this.pending = Buffer.alloc(0);
  }
}
