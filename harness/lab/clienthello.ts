/**
 * Reads the ClientHello a device sends first, before TLS takes the socket: what the firmware
 * offers (versions, suites in its order, SNI, groups, signature schemes, ALPN,
 * max_fragment_length, tickets, PSK) is the evidence for the cipher-suite verdicts and for
 * knowing which TLS stack and settings a board runs. Pure: bytes in, a record out; never throws.
 *
 * A ClientHello may span several TLS records (post-quantum key shares make it grow past one), so
 * the handshake message is put together from consecutive handshake records. How much is waited
 * for is bounded (HELLO_READ_LIMIT): a device that keeps sending without completing one is cut off.
 */
import {
  MAX_FRAGMENT_LENGTH, groupName, hex16, signatureName, suiteName, versionName,
} from './tls-names.ts';

export interface ClientHelloRecord {
  ok: boolean;
  /** One line: "truncated: 40 of 517 bytes", "not TLS: first byte 0x10 looks like an MQTT CONNECT ...". */
  error: string | null;
  /** The record's ClientHello.legacy_version, e.g. "TLS 1.2". */
  legacyVersion: string | null;
  /** From the supported_versions extension, in the device's order; empty when absent. */
  supportedVersions: string[];
  /** IANA names (or "0xC0AB"), in the device's order. */
  cipherSuites: Array<{ id: number; name: string }>;
  sni: string | null;
  groups: string[];
  signatureAlgorithms: string[];
  alpn: string[];
  /** Bytes (512/1024/2048/4096), or null when not asked for (or an invalid code). */
  maxFragmentLength: number | null;
  /** The session_ticket extension was present (the device can resume with a ticket). */
  sessionTicket: boolean;
  /** A pre_shared_key extension was present (TLS 1.3 resumption or an external PSK). */
  pskOffered: boolean;
  /** Wire bytes the ClientHello took (its records), or the bytes received when it could not be read. */
  bytes: number;
}

/** TLS's largest plaintext record (2^14) plus its header. */
const RECORD_LIMIT = 16_384;
/**
 * Wire bytes waited for at most: a 16 KB handshake message plus a few record headers. Real
 * ClientHellos are 200 bytes (Mbed TLS) to 2 KB (a post-quantum key share).
 */
export const HELLO_READ_LIMIT = RECORD_LIMIT + 4 + 5 * 8;

const CONTENT_TYPES: Record<number, string> = { 20: 'change_cipher_spec', 21: 'alert', 22: 'handshake', 23: 'application_data' };
const HANDSHAKE_TYPES: Record<number, string> = {
  0: 'HelloRequest', 2: 'ServerHello', 4: 'NewSessionTicket', 11: 'Certificate', 12: 'ServerKeyExchange',
  13: 'CertificateRequest', 14: 'ServerHelloDone', 15: 'CertificateVerify', 16: 'ClientKeyExchange', 20: 'Finished',
};

function failed(error: string, bytes: number, partial: Partial<ClientHelloRecord> = {}): ClientHelloRecord {
  return { ...empty(bytes), ...partial, ok: false, error };
}

function empty(bytes: number): ClientHelloRecord {
  return {
    ok: true, error: null, legacyVersion: null, supportedVersions: [], cipherSuites: [], sni: null, groups: [],
    signatureAlgorithms: [], alpn: [], maxFragmentLength: null, sessionTicket: false, pskOffered: false, bytes,
  };
}

const hexByte = (b: number) => `0x${b.toString(16).padStart(2, '0')}`;

/** Why bytes that are not a TLS handshake record are what they look like. */
function notTls(data: Buffer): string {
  const first = data[0]!;
  if (first === 0x10) return 'not TLS: first byte 0x10 looks like an MQTT CONNECT (plain MQTT on the TLS port?)';
  if (CONTENT_TYPES[first]) return `not a ClientHello: the first TLS record is ${CONTENT_TYPES[first]} (type ${first})`;
  if ((first & 0x80) && data.length >= 3 && data[2] === 0x01) {
    return `not TLS: an SSL 2.0-format ClientHello (first byte ${hexByte(first)}): SSL 2.0 hellos are not supported`;
  }
  const text = data.subarray(0, 16).toString('latin1');
  if (/^[\x20-\x7e]{4}/.test(text)) {
    return `not TLS: starts with text ${JSON.stringify(text.replace(/[^\x20-\x7e]/g, '.'))} (HTTP or another plain-text protocol on the TLS port?)`;
  }
  return `not TLS: first byte ${hexByte(first)} is no TLS record type`;
}

/**
 * The ClientHello in `data` (the bytes a device sent first), or null while more bytes are needed
 * and `final` is false. With `final` (the device closed, or the wait is over) an incomplete hello
 * is recorded as truncated. Anything that cannot be a ClientHello gives ok: false at once.
 */
export function parseClientHello(data: Buffer, final = false): ClientHelloRecord | null {
  try {
    return parse(data, final);
  } catch (err) {
    // A reader bug must not take the lab down: the record says so instead.
    return failed(`ClientHello could not be read: ${(err as Error).message}`, data.length);
  }
}

function parse(data: Buffer, final: boolean): ClientHelloRecord | null {
  if (data.length === 0) return final ? failed('no bytes: the device sent nothing before closing or the wait ended', 0) : null;
  if (data[0] !== 22) return failed(notTls(data), data.length);
  // Put the handshake message together from consecutive handshake records.
  const fragments: Buffer[] = [];
  let offset = 0;
  let body = Buffer.alloc(0);
  let expected: number | null = null; // wire bytes the hello will take, once known
  for (;;) {
    if (data.length < offset + 5) break;
    const type = data[offset]!;
    const major = data[offset + 1]!;
    const length = data.readUInt16BE(offset + 3);
    if (type !== 22) return failed(`ClientHello cut by a ${CONTENT_TYPES[type] ?? `type ${type}`} record at byte ${offset}`, data.length);
    if (major !== 3) return failed(`not TLS: record version ${hex16(data.readUInt16BE(offset + 1))} at byte ${offset}`, data.length);
    if (length === 0 || length > RECORD_LIMIT) return failed(`bad TLS record length ${length} at byte ${offset} (1..${RECORD_LIMIT})`, data.length);
    if (data.length < offset + 5 + length) {
      expected = offset + 5 + length;
      break;
    }
    fragments.push(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
    body = Buffer.concat(fragments);
    if (body.length >= 4) {
      if (body[0] !== 1) return failed(`not a ClientHello: the first handshake message is ${HANDSHAKE_TYPES[body[0]!] ?? `type ${body[0]}`}`, data.length);
      const need = 4 + body.readUIntBE(1, 3);
      if (need > RECORD_LIMIT + 4) return failed(`ClientHello of ${need} bytes: larger than the ${RECORD_LIMIT} bytes hilt reads`, data.length);
      if (body.length >= need) return { ...readHello(body.subarray(4, need), offset), bytes: offset };
      expected = offset + (need - body.length) + 5;
    }
  }
  if (data.length >= HELLO_READ_LIMIT) return failed(`no complete ClientHello in the first ${data.length} bytes (hilt reads at most ${HELLO_READ_LIMIT})`, data.length);
  if (!final) return null;
  return failed(`truncated: ${data.length} of ${expected ?? offset + 5} bytes`, data.length);
}

/** A bounds-checked reader over one buffer; a short read throws (caught as "malformed"). */
class Reader {
  constructor(private readonly buf: Buffer, private at = 0) {}
  get left(): number { return this.buf.length - this.at; }
  u8(): number { this.need(1); return this.buf[this.at++]!; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.at); this.at += 2; return v; }
  bytes(n: number): Buffer { this.need(n); const b = this.buf.subarray(this.at, this.at + n); this.at += n; return b; }
  /** A length-prefixed vector (prefix of 1 or 2 bytes) as a reader of its own. */
  vector(prefix: 1 | 2): Reader { return new Reader(this.bytes(prefix === 1 ? this.u8() : this.u16())); }
  u16s(): number[] { const out: number[] = []; while (this.left >= 2) out.push(this.u16()); if (this.left) throw new Error('odd length'); return out; }
  private need(n: number): void { if (this.left < n) throw new Error(`needs ${n} more bytes, ${this.left} left`); }
}

const EXT = { serverName: 0, maxFragmentLength: 1, groups: 10, signatureAlgorithms: 13, alpn: 16, sessionTicket: 35, preSharedKey: 41, supportedVersions: 43 };
const EXT_NAMES: Record<number, string> = {
  0: 'server_name', 1: 'max_fragment_length', 10: 'supported_groups', 13: 'signature_algorithms',
  16: 'application_layer_protocol_negotiation', 35: 'session_ticket', 41: 'pre_shared_key', 43: 'supported_versions',
};

/** Fields of one ClientHello body (after its 4-byte handshake header). */
function readHello(body: Buffer, wire: number): ClientHelloRecord {
  const record = empty(wire);
  const r = new Reader(body);
  let field = 'legacy_version';
  let ext = '';
  try {
    record.legacyVersion = versionName(r.u16());
    field = 'random';
    r.bytes(32);
    field = 'session_id';
    if (r.vector(1).left > 32) throw new Error('longer than 32 bytes');
    field = 'cipher_suites';
    const suites = r.vector(2).u16s();
    record.cipherSuites = suites.map((id) => ({ id, name: suiteName(id) }));
    field = 'compression_methods';
    r.vector(1);
    if (r.left === 0) return record; // no extensions (an SSL 3.0-style hello)
    field = 'extensions';
    const exts = r.vector(2);
    if (r.left) throw new Error(`${r.left} bytes after the extensions`);
    while (exts.left > 0) {
      const type = exts.u16();
      ext = ` (${EXT_NAMES[type] ?? `extension ${type}`})`;
      const e = exts.vector(2);
      switch (type) {
        case EXT.serverName: {
          const list = e.vector(2);
          while (list.left > 0) {
            const kind = list.u8();
            const name = list.vector(2);
            if (kind === 0 && record.sni === null) record.sni = name.bytes(name.left).toString('latin1');
          }
          break;
        }
        case EXT.maxFragmentLength:
          record.maxFragmentLength = MAX_FRAGMENT_LENGTH[e.u8()] ?? null;
          break;
        case EXT.groups:
          record.groups = e.vector(2).u16s().map(groupName);
          break;
        case EXT.signatureAlgorithms:
          record.signatureAlgorithms = e.vector(2).u16s().map(signatureName);
          break;
        case EXT.alpn: {
          const list = e.vector(2);
          while (list.left > 0) {
            const proto = list.vector(1);
            record.alpn.push(proto.bytes(proto.left).toString('latin1'));
          }
          break;
        }
        case EXT.sessionTicket:
          record.sessionTicket = true;
          break;
        case EXT.preSharedKey:
          record.pskOffered = true;
          break;
        case EXT.supportedVersions:
          record.supportedVersions = e.vector(1).u16s().map(versionName);
          break;
        default:
          break;
      }
      ext = '';
    }
    return record;
  } catch (err) {
    return { ...record, ok: false, error: `malformed ClientHello: ${field}${ext}: ${(err as Error).message}` };
  }
}
