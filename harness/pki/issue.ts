/**
 * Issues one certificate from its catalogue entry with selfsigned, and judges whether an existing
 * certificate still fits its entry (dates, issuer, names, key). Pure: no files.
 */
import { X509Certificate, createPrivateKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { isIP } from 'node:net';
import type { generate } from 'selfsigned';
import type { CertSpec, DateClass, KeyKind } from './catalog.ts';
import { LARGE_FILLER, WRONG_HOST } from './catalog.ts';

type GenerateOptions = NonNullable<Parameters<typeof generate>[1]>;
type Extension = NonNullable<GenerateOptions['extensions']>[number];

const DAY = 24 * 3600 * 1000;
const YEAR = 365 * DAY;

/** A certificate with its key, as PEM text. */
export interface Material {
  cert: string;
  key: string;
}

/** How far from "now" each date class puts notBefore/notAfter. */
function datesFor(dates: DateClass, kind: CertSpec['kind'], now: number): { notBefore: Date; notAfter: Date } {
  switch (dates) {
    case 'ca':
      // Backdated so that an "expired" leaf issued years later still chains to a CA that was valid
      // when the leaf was (openssl verify -attime, a device clock set in the past).
      return { notBefore: new Date(now - 5 * YEAR), notAfter: new Date(now + (kind === 'root' ? 20 : 10) * YEAR) };
    case 'valid':
      return { notBefore: new Date(now - DAY), notAfter: new Date(now + 397 * DAY) };
    case 'expired':
      return { notBefore: new Date(now - 60 * DAY), notAfter: new Date(now - DAY) };
    case 'not-yet-valid':
      return { notBefore: new Date(now + 365 * DAY), notAfter: new Date(now + 730 * DAY) };
  }
}

/** Why a certificate's dates no longer fit its class at `now`, or null when they do. */
export function datesDrift(dates: DateClass, cert: X509Certificate, now: number): string | null {
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  const days = (ms: number) => Math.floor(ms / DAY);
  switch (dates) {
    case 'ca':
      if (notBefore > now) return 'not valid yet';
      return notAfter - now < YEAR ? `expires in ${days(notAfter - now)} days` : null;
    case 'valid':
      if (notBefore > now) return 'not valid yet';
      return notAfter - now < 30 * DAY ? `expires in ${days(notAfter - now)} days` : null;
    case 'expired':
      return notAfter < now ? null : 'has not expired';
    case 'not-yet-valid':
      return notBefore - now < 7 * DAY ? `becomes valid in ${days(notBefore - now)} days` : null;
  }
}

export function hostNames(spec: CertSpec, hosts: readonly string[]): string[] {
  switch (spec.names) {
    case 'lab-hosts': return [...hosts];
    case 'lab-hosts-large': return [...hosts, ...LARGE_FILLER];
    case 'wrong-host': return [WRONG_HOST];
    case 'none': return [];
  }
}

function extensions(spec: CertSpec, names: string[]): Extension[] {
  if (spec.kind === 'root' || spec.kind === 'intermediate') {
    return [
      { name: 'basicConstraints', cA: true, critical: true,
        ...(spec.kind === 'intermediate' ? { pathLenConstraint: 0 } : {}) },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ];
  }
  const eku = spec.eku ?? [spec.kind === 'server' ? 'serverAuth' : 'clientAuth'];
  const list: Extension[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    // RSA key exchange (static RSA suites) needs keyEncipherment; ECDHE needs only signatures.
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: spec.key === 'rsa-2048', critical: true },
    { name: 'extKeyUsage', serverAuth: eku.includes('serverAuth'), clientAuth: eku.includes('clientAuth') },
  ];
  if (names.length > 0) {
    list.push({
      name: 'subjectAltName',
      altNames: names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })),
    });
  }
  return list;
}

function keyOptions(key: KeyKind): Pick<GenerateOptions, 'keyType' | 'keySize' | 'curve'> {
  return key === 'rsa-2048' ? { keyType: 'rsa', keySize: 2048 } : { keyType: 'ec', curve: 'P-256' };
}

/** Issues `spec`, signed by `issuer` (or self-signed when issuer is null). */
export interface KeyPairPem {
  publicKey: string;
  privateKey: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A new key for `kind`. Separate from signing so that keys are made in parallel before their
 * issuers exist: RSA key generation takes a random 100-500 ms, and a leaf waiting for its root's
 * key first would double it.
 */
export async function newKey(kind: KeyKind): Promise<KeyPairPem> {
  const encoding = { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } } as const;
  const pair = kind === 'rsa-2048'
    ? generateKeyPairAsync('rsa', { modulusLength: 2048, ...encoding })
    : generateKeyPairAsync('ec', { namedCurve: 'P-256', ...encoding });
  // promisify picks the KeyObject overload; with PEM encodings Node returns strings.
  return pair as unknown as Promise<KeyPairPem>;
}

export async function issue(spec: CertSpec, issuer: Material | null, hosts: readonly string[], now: number, key?: KeyPairPem): Promise<Material> {
  const { notBefore, notAfter } = datesFor(spec.dates, spec.kind, now);
  // Loaded on first use: most runs find every certificate in place and issue none.
  const { generate: issueWith } = await import('selfsigned');
  const pems = await issueWith(
    [{ name: 'commonName', value: spec.cn }, { name: 'organizationName', value: spec.organization }],
    {
      ...keyOptions(spec.key),
      ...(key ? { keyPair: key } : {}),
      algorithm: 'sha256', // selfsigned's default is SHA-1, which Mbed TLS refuses (BADCERT_BAD_MD)
      notBeforeDate: notBefore,
      notAfterDate: notAfter,
      extensions: extensions(spec, hostNames(spec, hosts)),
      ...(issuer ? { ca: { key: issuer.key, cert: issuer.cert } } : {}),
    },
  );
  // selfsigned ends its PEM without a newline; concatenated into a bundle that tears the boundary.
  return { cert: withNewline(pems.cert), key: withNewline(pems.private) };
}

function withNewline(pem: string): string {
  return pem.endsWith('\n') ? pem.replace(/\r\n/g, '\n') : `${pem.replace(/\r\n/g, '\n')}\n`;
}

export function keyKindOf(cert: X509Certificate): KeyKind | string {
  const details = cert.publicKey.asymmetricKeyDetails ?? {};
  if (cert.publicKey.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') return 'ec-p256';
  if (cert.publicKey.asymmetricKeyType === 'rsa' && details.modulusLength === 2048) return 'rsa-2048';
  return `${cert.publicKey.asymmetricKeyType} ${details.namedCurve ?? details.modulusLength ?? ''}`.trim();
}

/** Human form of a key kind, as the manifest shows it. */
export function keyLabel(kind: string): string {
  return kind === 'ec-p256' ? 'EC P-256' : kind === 'rsa-2048' ? 'RSA-2048' : kind;
}

/** True when `keyPem` is the private key of `cert`. */
export function keyMatches(cert: X509Certificate, keyPem: string): boolean {
  return cert.checkPrivateKey(createPrivateKey(keyPem));
}

/** DNS names and IP addresses in a certificate's subjectAltName, in order. */
export function sanOf(cert: X509Certificate): string[] {
  if (!cert.subjectAltName) return [];
  return cert.subjectAltName.split(', ').map((entry) => canonicalHost(entry.replace(/^(DNS|IP Address):/, '')));
}

/** One spelling per address: Node prints IPv6 SANs expanded (0:0:0:0:0:0:0:1), users write ::1. */
export function canonicalHost(host: string): string {
  return isIP(host) === 6 ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}

/** "CN=..., O=..." from Node's one-attribute-per-line form. */
export function distinguishedName(multiline: string): string {
  return multiline.split('\n').filter(Boolean).join(', ');
}

/** Lower-case hex SHA-256 of the DER certificate. */
export function fingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replaceAll(':', '').toLowerCase();
}
