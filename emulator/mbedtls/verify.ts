/**
 * Server certificate verification as an Mbed TLS 3.6 TLS client does it, on Node's X509Certificate.
 * The rules follow library/x509_crt.c (x509_crt_verify_restartable_ca_cb, x509_crt_verify_chain,
 * x509_crt_find_parent(_in), x509_crt_check_parent, x509_crt_verify_name) and library/ssl_tls.c
 * (mbedtls_ssl_verify_certificate, mbedtls_ssl_check_cert_usage); each function says which.
 * Pure: no sockets, no clock (the caller passes "now").
 */
import { X509Certificate, verify as cryptoVerify } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { BADCERT, MBEDTLS_ERR, alertForFlags, type VerifyAlert } from './codes.ts';
import type { Suite } from './ciphersuites.ts';
import { nameEquals, commonNames, parseCertificate, type CertificateInfo } from './der.ts';

export interface VerifyInput {
  /** As the peer sent it, leaf first. */
  chain: X509Certificate[];
  /** The parsed CA store (esp-tls cacert_buf / global CA store). */
  trusted: X509Certificate[];
  /** null: CONFIG_MBEDTLS_HAVE_TIME_DATE=n, dates are not looked at. */
  now: Date | null;
  /** Host name the client expects; null when esp-tls skips the check (skip_common_name). */
  expectedName: string | null;
}

export interface VerifyResult {
  flags: number;
  /** The chain as built: leaf ... anchor, the trusted anchor included when one was found. */
  path: X509Certificate[];
  /**
   * Set when verification could not run to the end: the chain is longer than
   * MBEDTLS_X509_MAX_INTERMEDIATE_CA (MBEDTLS_ERR_X509_FATAL_ERROR; flags are then 0xFFFFFFFF).
   */
  error?: number;
}

/** MBEDTLS_X509_MAX_INTERMEDIATE_CA default (ESP-IDF does not change it). */
const MAX_INTERMEDIATE_CA = 8;

const F = BADCERT as Record<'EXPIRED' | 'FUTURE' | 'NOT_TRUSTED' | 'CN_MISMATCH' | 'BAD_MD' | 'BAD_PK' | 'BAD_KEY' | 'KEY_USAGE' | 'EXT_KEY_USAGE', number>;

/** MBEDTLS_X509_KU_* as Mbed TLS stores keyUsage (see der.ts). */
const KU = {
  DIGITAL_SIGNATURE: 0x80, KEY_ENCIPHERMENT: 0x20, KEY_AGREEMENT: 0x08, KEY_CERT_SIGN: 0x04,
  ENCIPHER_ONLY: 0x01, DECIPHER_ONLY: 0x8000,
} as const;

const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_ANY_EKU = '2.5.29.37.0';

/**
 * mbedtls_x509_crt_profile_default in 3.6: SHA-256 and up only (SHA-1 and SHA-224 were dropped in
 * 3.0), any public-key algorithm, curves of at least 255 bits, RSA of at least 2048 bits.
 */
const PROFILE = {
  hashes: new Set(['sha256', 'sha384', 'sha512']),
  curves: new Set(['P-256', 'P-384', 'P-521', 'brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1']),
  rsaMinBits: 2048,
} as const;

interface Cert {
  x509: X509Certificate;
  info: CertificateInfo;
  raw: Buffer;
}

const parsed = new WeakMap<X509Certificate, Cert>();

function certOf(x509: X509Certificate): Cert {
  let cert = parsed.get(x509);
  if (!cert) {
    const raw = Buffer.from(x509.raw);
    cert = { x509, info: parseCertificate(raw), raw };
    parsed.set(x509, cert);
  }
  return cert;
}

/** x509_profile_check_key: is this key acceptable as a leaf key or as a signer? */
function keyAcceptable(info: CertificateInfo): boolean {
  const key = info.publicKey;
  if (key.type === 'rsa') return key.bits >= PROFILE.rsaMinBits;
  if (key.type === 'ec') return key.curve !== null && PROFILE.curves.has(key.curve);
  return false;
}

/** x509_crt_check_signature: the parent's key must fit the scheme and verify the signature. */
function signatureGood(child: Cert, parent: Cert): boolean {
  const sig = child.info.signatureAlgorithm;
  const keyType = parent.info.publicKey.type;
  // mbedtls_pk_can_do: an EC key cannot check an RSA signature and vice versa.
  if (sig.pk === 'ecdsa' && keyType !== 'ec') return false;
  if ((sig.pk === 'rsa' || sig.pk === 'rsassa-pss') && keyType !== 'rsa') return false;
  if (sig.pk === 'ed25519' || sig.pk === 'unknown' || sig.hash === null) return false;
  try {
    if (sig.pk === 'rsassa-pss') return child.x509.verify(parent.x509.publicKey);
    return cryptoVerify(sig.hash, child.info.tbs, parent.x509.publicKey, child.info.signature);
  } catch {
    return false;
  }
}

/** mbedtls_x509_crt_check_key_usage: absent extension means any usage. */
function keyUsageAllows(info: CertificateInfo, usage: number): boolean {
  if (!info.keyUsage) return true;
  const mayMask = KU.ENCIPHER_ONLY | KU.DECIPHER_ONLY;
  const bits = info.keyUsage.bits;
  const must = usage & ~mayMask;
  if (((bits & ~mayMask) & must) !== must) return false;
  const may = usage & mayMask;
  return ((bits & mayMask) | may) === may;
}

/** x509_crt_check_parent: name, CA bit and keyCertSign (the last two waived for v1/v2 trusted roots). */
function canBeParent(child: Cert, parent: Cert, top: boolean): boolean {
  if (!nameEquals(child.info.issuer, parent.info.subject)) return false;
  const needCaBit = !(top && parent.info.version < 3);
  if (!needCaBit) return true;
  if (!parent.info.basicConstraints?.ca) return false;
  return keyUsageAllows(parent.info, KU.KEY_CERT_SIGN);
}

/** mbedtls_x509_time_cmp works to the second. */
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

function timeValid(cert: Cert, now: number | null): boolean {
  if (now === null) return true;
  return seconds(cert.info.notAfter) >= now && seconds(cert.info.notBefore) <= now;
}

interface Found {
  parent: Cert | null;
  trusted: boolean;
  signatureGood: boolean;
}

/**
 * x509_crt_find_parent_in: the first candidate that passes check_parent and pathlen, preferring
 * one that is valid now. Trusted candidates must also carry a good signature (that is how two
 * roots with the same name are told apart); an untrusted one is taken on name alone and a bad
 * signature only shows as NOT_TRUSTED afterwards.
 */
function findParentIn(child: Cert, candidates: readonly Cert[], top: boolean, pathCnt: number, selfCnt: number, now: number | null): Found {
  let fallback: Found | null = null;
  for (const parent of candidates) {
    if (!canBeParent(child, parent, top)) continue;
    // Mbed TLS stores pathLenConstraint + 1 (0 = none) and compares with 1 + path_cnt - self_cnt.
    const maxPathlen = parent.info.basicConstraints?.pathLen;
    if (maxPathlen !== null && maxPathlen !== undefined && maxPathlen + 1 < 1 + pathCnt - selfCnt) continue;
    const good = signatureGood(child, parent);
    if (top && !good) continue;
    if (!timeValid(parent, now)) {
      fallback ??= { parent, trusted: top, signatureGood: good };
      continue;
    }
    return { parent, trusted: top, signatureGood: good };
  }
  return fallback ?? { parent: null, trusted: false, signatureGood: false };
}

/** x509_crt_find_parent: trusted CAs first, then the certificates the peer sent after the child. */
function findParent(child: Cert, rest: readonly Cert[], trusted: readonly Cert[], pathCnt: number, selfCnt: number, now: number | null): Found {
  const inTrusted = findParentIn(child, trusted, true, pathCnt, selfCnt, now);
  if (inTrusted.parent) return inTrusted;
  return findParentIn(child, rest, false, pathCnt, selfCnt, now);
}

/** x509_crt_check_ee_locally_trusted: a self-issued leaf that is itself in the CA store. */
function leafLocallyTrusted(leaf: Cert, trusted: readonly Cert[]): boolean {
  return nameEquals(leaf.info.issuer, leaf.info.subject) && trusted.some((t) => t.raw.equals(leaf.raw));
}

/** x509_memcasecmp: ASCII letters equal regardless of case, all other bytes exactly. */
function caselessEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const diff = a[i]! ^ b[i]!;
    if (diff === 0) continue;
    const c = a[i]!;
    if (diff === 32 && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a))) continue;
    return false;
  }
  return true;
}

/**
 * x509_crt_check_cn: exact (case-insensitive) match, or a "*." wildcard standing for exactly the
 * first label of the host name ("*.example.com" matches "a.example.com", not "a.b.example.com" nor
 * "example.com").
 */
function hostMatches(pattern: Buffer, host: Buffer): boolean {
  if (caselessEqual(pattern, host)) return true;
  if (pattern.length < 3 || pattern[0] !== 0x2a || pattern[1] !== 0x2e) return false;
  const dot = host.indexOf(0x2e);
  if (dot <= 0) return false;
  return host.length - dot === pattern.length - 1 && caselessEqual(pattern.subarray(1), host.subarray(dot));
}

/** mbedtls_x509_crt_parse_cn_inet_pton: the host name as 4 or 16 address bytes, or null. */
function ipBytes(host: string): Buffer | null {
  if (!host.includes(':')) return isIPv4(host) ? Buffer.from(host.split('.').map(Number)) : null;
  if (!isIPv6(host)) return null;
  const [head, tail] = host.includes('::') ? host.split('::') as [string, string] : [host, null];
  const groups = (part: string) => (part === '' ? [] : part.split(':')).flatMap((g) => {
    if (g.includes('.')) {
      const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    }
    return [g];
  });
  const left = groups(head);
  const right = tail === null ? [] : groups(tail);
  const zeros = tail === null ? [] : Array<string>(8 - left.length - right.length).fill('0');
  const all = [...left, ...zeros, ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return out;
}

/**
 * x509_crt_verify_name (3.6): with a subjectAltName extension only the SAN counts (dNSName first,
 * then iPAddress against the host parsed as an address, then URI byte for byte); without one,
 * every subject CN is tried.
 */
export function nameMatches(info: CertificateInfo, expected: string): boolean {
  const host = Buffer.from(expected, 'utf8');
  if (info.subjectAltName !== null) {
    const san = info.subjectAltName;
    if (san.some((e) => e.type === 'dns' && hostMatches(e.raw, host))) return true;
    if (san.some((e) => e.type === 'ip')) {
      const ip = ipBytes(expected);
      if (ip && san.some((e) => e.type === 'ip' && e.raw.equals(ip))) return true;
    }
    return san.some((e) => e.type === 'uri' && e.raw.equals(host));
  }
  return commonNames(info.subject).some((cn) => hostMatches(cn, host));
}

/**
 * mbedtls_x509_crt_verify_with_profile with the default profile: builds the chain the way
 * x509_crt_verify_chain does and ORs the flags of every certificate in it.
 */
export function verifyChain(input: VerifyInput): VerifyResult {
  if (input.chain.length === 0) throw new TypeError('verifyChain: the peer sent no certificate');
  const chain = input.chain.map(certOf);
  const trusted = input.trusted.map(certOf);
  const now = input.now === null ? null : seconds(input.now);
  const leaf = chain[0]!;

  // Checked on the leaf before the chain is built (x509_crt_verify_restartable_ca_cb).
  let eeFlags = 0;
  if (input.expectedName !== null && !nameMatches(leaf.info, input.expectedName)) eeFlags |= F.CN_MISMATCH;
  if (leaf.info.publicKey.type === 'unknown') eeFlags |= F.BAD_PK;
  if (!keyAcceptable(leaf.info)) eeFlags |= F.BAD_KEY;

  const items: Array<{ cert: Cert; flags: number }> = [];
  const finish = (): VerifyResult => {
    items[0]!.flags |= eeFlags;
    const flags = items.reduce((acc, item) => acc | item.flags, 0) >>> 0;
    return { flags, path: items.map((i) => i.cert.x509) };
  };

  let child = leaf;
  // Untrusted parents come only from after the child in the peer's list (child->next in Mbed TLS),
  // which is also why chain building always ends. -1 once the child is a trusted CA.
  let childIndex = 0;
  let childTrusted = false;
  let selfCnt = 0;
  for (;;) {
    const item = { cert: child, flags: 0 };
    items.push(item);
    if (now !== null) {
      if (seconds(child.info.notAfter) < now) item.flags |= F.EXPIRED;
      if (seconds(child.info.notBefore) > now) item.flags |= F.FUTURE;
    }
    // A trusted root ends the chain; its own signature is never judged.
    if (childTrusted) return finish();

    if (child.info.signatureAlgorithm.hash === null || !PROFILE.hashes.has(child.info.signatureAlgorithm.hash)) item.flags |= F.BAD_MD;
    if (child.info.signatureAlgorithm.pk === 'unknown') item.flags |= F.BAD_PK;

    if (items.length === 1 && leafLocallyTrusted(child, trusted)) return finish();

    const rest = childIndex >= 0 ? chain.slice(childIndex + 1) : [];
    const found = findParent(child, rest, trusted, items.length - 1, selfCnt, now);
    if (!found.parent) {
      item.flags |= F.NOT_TRUSTED;
      return finish();
    }
    // Self-issued intermediates (key rollover) do not count against pathLenConstraint.
    if (items.length !== 1 && nameEquals(child.info.issuer, child.info.subject)) selfCnt++;
    if (!found.trusted && items.length > MAX_INTERMEDIATE_CA) {
      return { flags: 0xffffffff, path: items.map((i) => i.cert.x509), error: MBEDTLS_ERR.MBEDTLS_ERR_X509_FATAL_ERROR! };
    }
    if (!found.signatureGood) item.flags |= F.NOT_TRUSTED;
    if (!keyAcceptable(found.parent.info)) item.flags |= F.BAD_KEY;

    childIndex = found.trusted ? -1 : chain.indexOf(found.parent, childIndex + 1);
    child = found.parent;
    childTrusted = found.trusted;
  }
}

/**
 * mbedtls_ssl_check_cert_usage for a certificate a client received (TLS 1.2: the bit the key
 * exchange needs; TLS 1.3, kex null: digitalSignature), plus extendedKeyUsage serverAuth or
 * anyExtendedKeyUsage when the extension is present.
 */
export function checkServerCertUsage(leaf: X509Certificate, kex: Suite['kex']): number {
  const info = certOf(leaf).info;
  const usage = kex === 'RSA' ? KU.KEY_ENCIPHERMENT
    : kex === 'ECDH-RSA' || kex === 'ECDH-ECDSA' ? KU.KEY_AGREEMENT
      : KU.DIGITAL_SIGNATURE; // DHE-RSA, ECDHE-RSA, ECDHE-ECDSA and TLS 1.3
  let flags = 0;
  if (!keyUsageAllows(info, usage)) flags |= F.KEY_USAGE;
  if (info.extKeyUsage && !info.extKeyUsage.some((oid) => oid === OID_SERVER_AUTH || oid === OID_ANY_EKU)) flags |= F.EXT_KEY_USAGE;
  return flags;
}

export interface HandshakeVerdict {
  /** What mbedtls_ssl_get_verify_result() returns afterwards (esp_tls_cert_verify_flags). */
  flags: number;
  /** Negative Mbed TLS code mbedtls_ssl_handshake returns; 0 when the certificate is accepted. */
  stackErr: number;
  /** Fatal alert the client sends before failing; null when it sends none. */
  alert: VerifyAlert | null;
}

/** MBEDTLS_SSL_VERIFY_*: esp-tls uses required with a CA, none with CONFIG_ESP_TLS_SKIP_SERVER_CERT_VERIFY. */
export type Authmode = 'required' | 'optional' | 'none';

/** ssl_preset_default_groups with every ESP-IDF default curve on (see sdkconfig.ts). */
const DEFAULT_GROUPS = ['X25519', 'P-256', 'P-384', 'P-521', 'brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1'];

export interface JudgeInput extends VerifyInput {
  kex: Suite['kex'];
  /** true: MBEDTLS_SSL_VERIFY_REQUIRED; false: MBEDTLS_SSL_VERIFY_OPTIONAL. */
  authmodeRequired: boolean;
  /** Overrides authmodeRequired; 'none' is what esp-tls sets when server verification is skipped. */
  authmode?: Authmode;
  /** Groups the client offers (MbedtlsConfig.curves); an EC leaf on another curve is refused in TLS 1.2. */
  groups?: readonly string[];
  /**
   * false when the application never called mbedtls_ssl_set_hostname (esp-tls always calls it,
   * with NULL under skip_common_name): 3.6.3+ then refuses to verify at all.
   */
  hostnameSet?: boolean;
}

/**
 * The client's verdict on the server's Certificate message, as mbedtls_ssl_verify_certificate
 * (ssl_tls.c, 3.6) reaches it: chain verification, then the TLS 1.2 curve check and
 * mbedtls_ssl_check_cert_usage, each adding flags but setting the return code only if none is set
 * yet. A chain failure is MBEDTLS_ERR_X509_CERT_VERIFY_FAILED; a certificate whose chain is fine
 * but whose curve or usage is wrong is MBEDTLS_ERR_SSL_BAD_CERTIFICATE. With authmode optional
 * both are forgiven and only the flags remain; with required and no CA at all the code is
 * MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED.
 */
export function judgeServerCertificate(input: JudgeInput): HandshakeVerdict {
  const authmode: Authmode = input.authmode ?? (input.authmodeRequired ? 'required' : 'optional');
  // VERIFY_NONE returns before anything is checked; a client never sets SKIP_VERIFY (only servers do).
  if (authmode === 'none') return { flags: 0, stackErr: 0, alert: null };
  if (input.hostnameSet === false && authmode === 'required') {
    return { flags: 0, stackErr: MBEDTLS_ERR.MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME!, alert: null };
  }

  const verified = verifyChain(input);
  let flags = verified.flags;
  let ret = verified.error ?? (flags !== 0 ? MBEDTLS_ERR.MBEDTLS_ERR_X509_CERT_VERIFY_FAILED! : 0);
  const leafInfo = certOf(input.chain[0]!).info;
  const tls12 = input.kex !== null;
  if (tls12 && leafInfo.publicKey.type === 'ec') {
    const groups = input.groups ?? DEFAULT_GROUPS;
    if (leafInfo.publicKey.curve === null || !groups.includes(leafInfo.publicKey.curve)) {
      flags |= F.BAD_KEY;
      if (ret === 0) ret = MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_CERTIFICATE!;
    }
  }
  const usage = checkServerCertUsage(input.chain[0]!, input.kex);
  if (usage !== 0) {
    flags |= usage;
    if (ret === 0) ret = MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_CERTIFICATE!;
  }
  if (authmode === 'optional' && (ret === MBEDTLS_ERR.MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || ret === MBEDTLS_ERR.MBEDTLS_ERR_SSL_BAD_CERTIFICATE)) {
    ret = 0;
  }
  if (input.trusted.length === 0 && authmode === 'required') ret = MBEDTLS_ERR.MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED!;
  flags >>>= 0;
  return { flags, stackErr: ret, alert: ret === 0 ? null : alertForFlags(flags) };
}
