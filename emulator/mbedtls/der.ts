/**
 * A small, strict DER reader for X.509 certificates: what Mbed TLS looks at when it verifies a
 * chain and Node's X509Certificate does not expose (signature hash, basicConstraints pathLen,
 * keyUsage bits, the Name as encoded, dates to the second, key size and curve). Anything that is
 * not well-formed DER throws DerError saying what and where.
 */
import { isIPv6 } from 'node:net';

export class DerError extends Error {
  override name = 'DerError';
}

interface Tlv {
  tag: number;
  /** Offset of the contents and one past their end, in the buffer. */
  start: number;
  end: number;
  /** Offset of the tag byte (start of the whole element). */
  at: number;
}

const T = {
  BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06,
  UTF8: 0x0c, PRINTABLE: 0x13, IA5: 0x16, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30, SET: 0x31,
} as const;

function fail(what: string, at: number): never {
  throw new DerError(`malformed DER at byte ${at}: ${what}`);
}

function read(buf: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) fail('truncated element header', at);
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) fail(`multi-byte tag 0x${tag.toString(16)} (not used by X.509)`, at);
  let pos = at + 1;
  let len = buf[pos++]!;
  if (len === 0x80) fail('indefinite length (BER, not DER)', at);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4) fail(`length of ${n} bytes`, at);
    if (pos + n > limit) fail('truncated length', at);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos++]!;
  }
  if (pos + len > limit) fail(`length ${len} runs past the end of its container`, at);
  return { tag, start: pos, end: pos + len, at };
}

function expect(buf: Buffer, at: number, limit: number, tag: number, what: string): Tlv {
  // The tag first: for input that is not DER at all, "wrong tag" says more than a bogus length.
  if (at < limit && buf[at] !== tag) fail(`${what}: expected tag 0x${tag.toString(16)}, found 0x${buf[at]!.toString(16)}`, at);
  return read(buf, at, limit);
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const tlv = read(buf, at, parent.end);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

function oidOf(buf: Buffer, tlv: Tlv): string {
  if (tlv.tag !== T.OID || tlv.end === tlv.start) fail('object identifier expected', tlv.at);
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.start; i < tlv.end; i++) {
    const b = buf[i]!;
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === tlv.end - 1) fail('object identifier ends inside an arc', tlv.at);
  }
  const first = arcs.shift()!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

function booleanOf(buf: Buffer, tlv: Tlv): boolean {
  if (tlv.tag !== T.BOOLEAN || tlv.end - tlv.start !== 1) fail('boolean expected', tlv.at);
  return buf[tlv.start] !== 0;
}

/** Non-negative INTEGER that fits a JS number (versions, pathLen). */
function smallInt(buf: Buffer, tlv: Tlv): number {
  if (tlv.tag !== T.INTEGER || tlv.end === tlv.start) fail('integer expected', tlv.at);
  if (buf[tlv.start]! & 0x80) fail('negative integer', tlv.at);
  if (tlv.end - tlv.start > 6) fail('integer too large', tlv.at);
  let n = 0;
  for (let i = tlv.start; i < tlv.end; i++) n = n * 256 + buf[i]!;
  return n;
}

/** Contents of a BIT STRING, without the unused-bits byte. */
function bits(buf: Buffer, tlv: Tlv): { bytes: Buffer; unused: number } {
  if (tlv.tag !== T.BIT_STRING || tlv.end === tlv.start) fail('bit string expected', tlv.at);
  const unused = buf[tlv.start]!;
  if (unused > 7) fail(`bit string with ${unused} unused bits`, tlv.at);
  return { bytes: buf.subarray(tlv.start + 1, tlv.end), unused };
}

function timeOf(buf: Buffer, tlv: Tlv): Date {
  const text = buf.toString('latin1', tlv.start, tlv.end);
  const m = tlv.tag === T.UTC_TIME
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : tlv.tag === T.GENERALIZED_TIME
      ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : fail('UTCTime or GeneralizedTime expected', tlv.at);
  if (!m) fail(`time ${JSON.stringify(text)} is not YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ`, tlv.at);
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // RFC 5280: UTCTime years 50..99 are 19xx, 00..49 are 20xx.
  const year = tlv.tag === T.UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y;
  const date = new Date(Date.UTC(year, mo - 1, d, h, mi, s));
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    fail(`time ${JSON.stringify(text)} is not a calendar date`, tlv.at);
  }
  return date;
}

/** One AttributeTypeAndValue of a Name, kept as encoded: Mbed TLS compares names this way. */
export interface NameAttribute {
  oid: string;
  /** ASN.1 tag of the value (UTF8String 0x0c, PrintableString 0x13, ...). */
  tag: number;
  value: Buffer;
  /** True when the next attribute is in the same RDN (multi-valued SET). */
  merged: boolean;
}

function nameOf(buf: Buffer, tlv: Tlv): NameAttribute[] {
  if (tlv.tag !== T.SEQUENCE) fail('Name expected', tlv.at);
  const out: NameAttribute[] = [];
  for (const set of children(buf, tlv)) {
    if (set.tag !== T.SET) fail('RelativeDistinguishedName (SET) expected', set.at);
    const atvs = children(buf, set);
    if (atvs.length === 0) fail('empty RelativeDistinguishedName', set.at);
    atvs.forEach((atv, i) => {
      if (atv.tag !== T.SEQUENCE) fail('AttributeTypeAndValue expected', atv.at);
      const [type, value, extra] = children(buf, atv);
      if (!type || !value || extra) fail('AttributeTypeAndValue must hold a type and a value', atv.at);
      out.push({ oid: oidOf(buf, type), tag: value.tag, value: buf.subarray(value.start, value.end), merged: i < atvs.length - 1 });
    });
  }
  return out;
}

const OID_CN = '2.5.4.3';

const lowerAscii = (b: Buffer) => Buffer.from(b.toString('latin1').replace(/[A-Z]/g, (c) => c.toLowerCase()), 'latin1');

/**
 * x509_name_cmp: same attribute types in the same order and RDN structure; values equal byte for
 * byte with the same tag, or, when both are UTF8String/PrintableString, equal ignoring ASCII case.
 */
export function nameEquals(a: readonly NameAttribute[], b: readonly NameAttribute[]): boolean {
  if (a.length !== b.length) return false;
  const caseless = (tag: number) => tag === T.UTF8 || tag === T.PRINTABLE;
  return a.every((x, i) => {
    const y = b[i]!;
    if (x.oid !== y.oid || x.merged !== y.merged) return false;
    if (x.tag === y.tag && x.value.equals(y.value)) return true;
    return caseless(x.tag) && caseless(y.tag) && x.value.length === y.value.length && lowerAscii(x.value).equals(lowerAscii(y.value));
  });
}

/** CN values of a Name, as raw bytes (Mbed TLS compares them byte-wise, whatever their tag). */
export function commonNames(name: readonly NameAttribute[]): Buffer[] {
  return name.filter((a) => a.oid === OID_CN).map((a) => a.value);
}

/** "CN=..., O=..." for messages. */
export function nameText(name: readonly NameAttribute[]): string {
  const short: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST' };
  return name.map((a) => `${short[a.oid] ?? a.oid}=${a.value.toString('utf8')}`).join(', ');
}

export type HashName = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface SignatureAlgorithm {
  oid: string;
  /** OpenSSL's long name, as `openssl x509 -text` prints it. */
  name: string;
  /** Digest Mbed TLS would hash with (sig_md); null when the algorithm is unknown to it. */
  hash: HashName | null;
  /** Signature scheme (sig_pk). */
  pk: 'rsa' | 'rsassa-pss' | 'ecdsa' | 'ed25519' | 'unknown';
}

const SIG_ALGS: Record<string, Omit<SignatureAlgorithm, 'oid'>> = {
  '1.2.840.113549.1.1.4': { name: 'md5WithRSAEncryption', hash: 'md5', pk: 'rsa' },
  '1.2.840.113549.1.1.5': { name: 'sha1WithRSAEncryption', hash: 'sha1', pk: 'rsa' },
  '1.2.840.113549.1.1.14': { name: 'sha224WithRSAEncryption', hash: 'sha224', pk: 'rsa' },
  '1.2.840.113549.1.1.11': { name: 'sha256WithRSAEncryption', hash: 'sha256', pk: 'rsa' },
  '1.2.840.113549.1.1.12': { name: 'sha384WithRSAEncryption', hash: 'sha384', pk: 'rsa' },
  '1.2.840.113549.1.1.13': { name: 'sha512WithRSAEncryption', hash: 'sha512', pk: 'rsa' },
  '1.2.840.113549.1.1.10': { name: 'rsassaPss', hash: 'sha1', pk: 'rsassa-pss' },
  '1.2.840.10045.4.1': { name: 'ecdsa-with-SHA1', hash: 'sha1', pk: 'ecdsa' },
  '1.2.840.10045.4.3.1': { name: 'ecdsa-with-SHA224', hash: 'sha224', pk: 'ecdsa' },
  '1.2.840.10045.4.3.2': { name: 'ecdsa-with-SHA256', hash: 'sha256', pk: 'ecdsa' },
  '1.2.840.10045.4.3.3': { name: 'ecdsa-with-SHA384', hash: 'sha384', pk: 'ecdsa' },
  '1.2.840.10045.4.3.4': { name: 'ecdsa-with-SHA512', hash: 'sha512', pk: 'ecdsa' },
  '1.3.101.112': { name: 'ED25519', hash: null, pk: 'ed25519' },
};

const HASH_OIDS: Record<string, HashName> = {
  '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.4': 'sha224', '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
};

function signatureAlgorithmOf(buf: Buffer, tlv: Tlv): SignatureAlgorithm {
  if (tlv.tag !== T.SEQUENCE) fail('AlgorithmIdentifier expected', tlv.at);
  const [oidTlv, params] = children(buf, tlv);
  if (!oidTlv) fail('empty AlgorithmIdentifier', tlv.at);
  const oid = oidOf(buf, oidTlv);
  const known = SIG_ALGS[oid] ?? { name: oid, hash: null, pk: 'unknown' as const };
  if (known.pk === 'rsassa-pss' && params && params.tag === T.SEQUENCE) {
    // RSASSA-PSS-params: hashAlgorithm [0] defaults to SHA-1; Mbed TLS reports it as sig_md.
    const hashField = children(buf, params).find((c) => c.tag === 0xa0);
    if (hashField) {
      const alg = read(buf, hashField.start, hashField.end);
      const [h] = children(buf, alg);
      if (h) return { oid, ...known, hash: HASH_OIDS[oidOf(buf, h)] ?? null };
    }
  }
  return { oid, ...known };
}

export interface PublicKeyInfo {
  type: 'rsa' | 'ec' | 'ed25519' | 'x25519' | 'unknown';
  oid: string;
  /** Modulus length for RSA, field size for EC (mbedtls_pk_get_bitlen). */
  bits: number;
  /** Curve for EC keys: 'P-256', 'P-384', 'P-521', 'P-192', 'P-224', 'secp256k1', 'brainpoolP256r1', ... */
  curve: string | null;
}

const CURVES: Record<string, [string, number]> = {
  '1.2.840.10045.3.1.1': ['P-192', 192],
  '1.3.132.0.33': ['P-224', 224],
  '1.2.840.10045.3.1.7': ['P-256', 256],
  '1.3.132.0.34': ['P-384', 384],
  '1.3.132.0.35': ['P-521', 521],
  '1.3.132.0.31': ['secp192k1', 192],
  '1.3.132.0.32': ['secp224k1', 224],
  '1.3.132.0.10': ['secp256k1', 256],
  '1.3.36.3.3.2.8.1.1.7': ['brainpoolP256r1', 256],
  '1.3.36.3.3.2.8.1.1.11': ['brainpoolP384r1', 384],
  '1.3.36.3.3.2.8.1.1.13': ['brainpoolP512r1', 512],
};

function publicKeyOf(buf: Buffer, tlv: Tlv): PublicKeyInfo {
  if (tlv.tag !== T.SEQUENCE) fail('SubjectPublicKeyInfo expected', tlv.at);
  const [alg, key] = children(buf, tlv);
  if (!alg || !key || alg.tag !== T.SEQUENCE) fail('SubjectPublicKeyInfo must hold an algorithm and a key', tlv.at);
  const [oidTlv, params] = children(buf, alg);
  if (!oidTlv) fail('empty key AlgorithmIdentifier', alg.at);
  const oid = oidOf(buf, oidTlv);
  const { bytes } = bits(buf, key);
  if (oid === '1.2.840.113549.1.1.1' || oid === '1.2.840.113549.1.1.10') {
    const rsa = read(bytes, 0, bytes.length);
    const [n] = rsa.tag === T.SEQUENCE ? children(bytes, rsa) : [];
    if (!n || n.tag !== T.INTEGER) fail('RSAPublicKey without a modulus', key.at);
    let first = n.start;
    while (first < n.end && bytes[first] === 0) first++;
    const top = bytes[first] ?? 0;
    const bitLength = first >= n.end ? 0 : (n.end - first - 1) * 8 + (32 - Math.clz32(top));
    return { type: 'rsa', oid, bits: bitLength, curve: null };
  }
  if (oid === '1.2.840.10045.2.1') {
    if (!params || params.tag !== T.OID) fail('EC key without a named curve (explicit parameters are not supported)', alg.at);
    const curveOid = oidOf(buf, params);
    const [curve, size] = CURVES[curveOid] ?? [curveOid, 0];
    return { type: 'ec', oid, bits: size, curve };
  }
  if (oid === '1.3.101.112') return { type: 'ed25519', oid, bits: 256, curve: null };
  if (oid === '1.3.101.110') return { type: 'x25519', oid, bits: 255, curve: null };
  return { type: 'unknown', oid, bits: 0, curve: null };
}

/** Key usage bit names, RFC 5280 order (bit 0 first). */
export const KEY_USAGE_NAMES = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement',
  'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly',
] as const;
export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number];

export interface KeyUsage {
  /**
   * Bits as Mbed TLS stores them (x509_get_key_usage: first byte low, second byte next), so
   * MBEDTLS_X509_KU_DIGITAL_SIGNATURE is 0x80, KEY_CERT_SIGN 0x04, DECIPHER_ONLY 0x8000.
   */
  bits: number;
  names: KeyUsageName[];
}

export type SanEntry =
  | { type: 'dns'; value: string; raw: Buffer }
  | { type: 'ip'; value: string; raw: Buffer }
  | { type: 'uri'; value: string; raw: Buffer }
  | { type: 'email'; value: string; raw: Buffer }
  | { type: 'other'; tag: number; raw: Buffer };

function ipText(raw: Buffer): string {
  if (raw.length === 4) return [...raw].join('.');
  if (raw.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
    const full = groups.join(':');
    // One spelling per address (::1, not 0:0:0:0:0:0:0:1): let the URL parser compress it.
    return isIPv6(full) ? new URL(`http://[${full}]/`).hostname.slice(1, -1) : full;
  }
  return raw.toString('hex');
}

function sanOf(buf: Buffer, tlv: Tlv): SanEntry[] {
  if (tlv.tag !== T.SEQUENCE) fail('GeneralNames expected', tlv.at);
  return children(buf, tlv).map((gn): SanEntry => {
    if ((gn.tag & 0xc0) !== 0x80) fail('GeneralName must be context-specific', gn.at);
    const raw = buf.subarray(gn.start, gn.end);
    switch (gn.tag) {
      case 0x82: return { type: 'dns', value: raw.toString('latin1'), raw };
      case 0x87: return { type: 'ip', value: ipText(raw), raw };
      case 0x86: return { type: 'uri', value: raw.toString('latin1'), raw };
      case 0x81: return { type: 'email', value: raw.toString('latin1'), raw };
      default: return { type: 'other', tag: gn.tag & 0x1f, raw };
    }
  });
}

export interface BasicConstraints {
  ca: boolean;
  /** pathLenConstraint as written; null when absent (no limit). */
  pathLen: number | null;
}

export interface Extension {
  oid: string;
  critical: boolean;
}

export interface CertificateInfo {
  /** X.509 version: 1, 2 or 3. */
  version: number;
  serial: string;
  /** DER of tbsCertificate: what the signature covers. */
  tbs: Buffer;
  signatureAlgorithm: SignatureAlgorithm;
  signature: Buffer;
  issuer: NameAttribute[];
  subject: NameAttribute[];
  notBefore: Date;
  notAfter: Date;
  publicKey: PublicKeyInfo;
  /** null when the extension is absent (Mbed TLS then treats the certificate as not a CA). */
  basicConstraints: BasicConstraints | null;
  keyUsage: KeyUsage | null;
  /** extendedKeyUsage OIDs; null when absent (no restriction). */
  extKeyUsage: string[] | null;
  /** null when the certificate has no subjectAltName extension at all. */
  subjectAltName: SanEntry[] | null;
  extensions: Extension[];
}

const EXT = {
  basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37', subjectAltName: '2.5.29.17',
} as const;

/** Parses one DER certificate. Throws DerError on anything malformed. */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  const buf = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert = expect(buf, 0, buf.length, T.SEQUENCE, 'Certificate');
  if (cert.end !== buf.length) fail(`${buf.length - cert.end} bytes after the certificate`, cert.end);
  const [tbsTlv, outerAlg, sigTlv, extra] = children(buf, cert);
  if (!tbsTlv || !outerAlg || !sigTlv || extra) fail('Certificate must hold tbsCertificate, signatureAlgorithm and signature', cert.at);
  if (tbsTlv.tag !== T.SEQUENCE) fail('tbsCertificate expected', tbsTlv.at);

  const fields = children(buf, tbsTlv);
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    const [v] = children(buf, fields[0]);
    if (!v) fail('empty version', fields[0].at);
    version = smallInt(buf, v) + 1;
    if (version > 3) fail(`unknown certificate version ${version}`, v.at);
    i = 1;
  }
  const next = (what: string) => fields[i++] ?? fail(`tbsCertificate ends before ${what}`, tbsTlv.end);
  const serialTlv = next('serialNumber');
  if (serialTlv.tag !== T.INTEGER) fail('serialNumber expected', serialTlv.at);
  const innerAlg = next('signature');
  const issuerTlv = next('issuer');
  const validity = next('validity');
  const subjectTlv = next('subject');
  const spki = next('subjectPublicKeyInfo');
  if (!buf.subarray(innerAlg.at, innerAlg.end).equals(buf.subarray(outerAlg.at, outerAlg.end))) {
    fail('signature algorithm differs inside and outside tbsCertificate (MBEDTLS_ERR_X509_SIG_MISMATCH)', outerAlg.at);
  }
  if (validity.tag !== T.SEQUENCE) fail('Validity expected', validity.at);
  const [nb, na, tooMany] = children(buf, validity);
  if (!nb || !na || tooMany) fail('Validity must hold notBefore and notAfter', validity.at);

  const info: CertificateInfo = {
    version,
    serial: buf.toString('hex', serialTlv.start, serialTlv.end),
    tbs: buf.subarray(tbsTlv.at, tbsTlv.end),
    signatureAlgorithm: signatureAlgorithmOf(buf, outerAlg),
    signature: bits(buf, sigTlv).bytes,
    issuer: nameOf(buf, issuerTlv),
    subject: nameOf(buf, subjectTlv),
    notBefore: timeOf(buf, nb),
    notAfter: timeOf(buf, na),
    publicKey: publicKeyOf(buf, spki),
    basicConstraints: null,
    keyUsage: null,
    extKeyUsage: null,
    subjectAltName: null,
    extensions: [],
  };

  for (const field of fields.slice(i)) {
    if (field.tag === 0x81 || field.tag === 0x82 || field.tag === 0xa1 || field.tag === 0xa2) continue; // unique IDs
    if (field.tag !== 0xa3) fail(`unexpected field 0x${field.tag.toString(16)} in tbsCertificate`, field.at);
    if (version !== 3) fail('extensions in a certificate that is not version 3', field.at);
    const [list] = children(buf, field);
    if (!list || list.tag !== T.SEQUENCE) fail('Extensions expected', field.at);
    for (const ext of children(buf, list)) readExtension(buf, ext, info);
  }
  return info;
}

function readExtension(buf: Buffer, ext: Tlv, info: CertificateInfo): void {
  if (ext.tag !== T.SEQUENCE) fail('Extension expected', ext.at);
  const parts = children(buf, ext);
  const oid = oidOf(buf, parts[0] ?? fail('empty Extension', ext.at));
  let critical = false;
  let valueTlv = parts[1];
  if (valueTlv?.tag === T.BOOLEAN) {
    critical = booleanOf(buf, valueTlv);
    valueTlv = parts[2];
  }
  if (!valueTlv || valueTlv.tag !== T.OCTET_STRING) fail(`extension ${oid} has no value`, ext.at);
  if (info.extensions.some((e) => e.oid === oid)) fail(`extension ${oid} appears twice`, ext.at);
  info.extensions.push({ oid, critical });
  const inner = read(buf, valueTlv.start, valueTlv.end);
  if (inner.end !== valueTlv.end) fail(`trailing bytes in extension ${oid}`, inner.end);

  switch (oid) {
    case EXT.basicConstraints: {
      if (inner.tag !== T.SEQUENCE) fail('BasicConstraints expected', inner.at);
      let ca = false;
      let pathLen: number | null = null;
      for (const c of children(buf, inner)) {
        if (c.tag === T.BOOLEAN) ca = booleanOf(buf, c);
        else if (c.tag === T.INTEGER) pathLen = smallInt(buf, c);
        else fail('unexpected element in BasicConstraints', c.at);
      }
      info.basicConstraints = { ca, pathLen };
      break;
    }
    case EXT.keyUsage: {
      const { bytes } = bits(buf, inner);
      if (bytes.length < 1) fail('empty keyUsage', inner.at);
      let value = 0;
      for (let k = 0; k < Math.min(bytes.length, 4); k++) value |= bytes[k]! << (8 * k);
      const names = KEY_USAGE_NAMES.filter((_, bit) => (bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7)));
      info.keyUsage = { bits: value >>> 0, names };
      break;
    }
    case EXT.extKeyUsage: {
      if (inner.tag !== T.SEQUENCE) fail('ExtKeyUsageSyntax expected', inner.at);
      const oids = children(buf, inner).map((c) => oidOf(buf, c));
      if (oids.length === 0) fail('empty extendedKeyUsage', inner.at);
      info.extKeyUsage = oids;
      break;
    }
    case EXT.subjectAltName:
      info.subjectAltName = sanOf(buf, inner);
      break;
    default:
      break;
  }
}

/** DER of every certificate in a PEM text, in order. */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}
