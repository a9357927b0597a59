/**
 * The lab PKI as data: every certificate hilt issues, what it is for, who signs it, and which
 * dates and names it carries. The issuer (issue.ts) and the store (store.ts) know nothing of
 * individual artifacts; adding a broken-certificate case is one entry here.
 */

export type KeyKind = 'ec-p256' | 'rsa-2048';

/**
 * How a certificate's dates relate to "now": `ca` (long-lived, backdated so that leaves of any
 * age chain to it), `valid`, `expired` (notAfter in the past), `not-yet-valid` (notBefore ahead).
 */
export type DateClass = 'ca' | 'valid' | 'expired' | 'not-yet-valid';

/**
 * Which names a server certificate carries. `lab-hosts-large`: the lab hosts, then enough filler
 * names (LARGE_FILLER, never resolvable) to grow the served chain past 16 KB.
 */
export type NameSet = 'lab-hosts' | 'lab-hosts-large' | 'wrong-host' | 'none';

export type CertKind = 'root' | 'intermediate' | 'server' | 'client';

export interface CertSpec {
  name: string;
  kind: CertKind;
  purpose: string;
  /** Subject common name; for client certificates the device id. */
  cn: string;
  organization: string;
  /** Name of the signing certificate in this catalogue, or 'self'. */
  issuer: string;
  key: KeyKind;
  dates: DateClass;
  names: NameSet;
  /** Extended key usage; defaults from the kind (serverAuth for servers, clientAuth for clients). */
  eku?: Array<'serverAuth' | 'clientAuth'>;
  /** Folder under the certs dir and file stem. */
  file: string;
}

export interface BundleSpec {
  name: string;
  purpose: string;
  /** Certificates in the order they appear in the PEM. */
  members: string[];
  file: string;
}

/** The organisation on every certificate the lab issues (the rogue CA has its own). */
export const LAB_ORG = 'hilt lab';
/** The name on wrong-host server certificates: never a lab host. */
export const WRONG_HOST = 'wrong-host.hilt.invalid';
/** The client id that the catalogue's own device certificates carry as CN. */
export const DEFAULT_DEVICE_ID = 'hilt-device-1';
/**
 * Filler names of the large server certificate. Mbed TLS (3.6, what ESP-IDF 5.x builds) puts a
 * handshake message together in its one input buffer, CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN bytes
 * (default 16384, also Kconfig's maximum), so a Certificate message past 16 KB fails on every
 * ESP-IDF build, however it is configured. 500 names of 29 bytes each in DER make the message
 * about 15.4 KB: the most a default build takes, with room for a few dozen `--host` names, and
 * far past what a build that saved RAM with a 4 or 8 KB buffer can read.
 */
export const LARGE_FILLER: readonly string[] = Array.from({ length: 500 }, (_, i) => `pad-${String(i).padStart(4, '0')}.large.hilt.invalid`);
/** Names every lab server certificate answers to, before any `--host`. */
export const BASE_HOSTS = ['localhost', '127.0.0.1', '::1'];

const root = (name: string, purpose: string, cn: string, extra: Partial<CertSpec> = {}): CertSpec => ({
  name, kind: 'root', purpose, cn, organization: LAB_ORG, issuer: 'self', key: 'ec-p256', dates: 'ca',
  names: 'none', file: `roots/${name.replace(/^root-/, '')}`, ...extra,
});

const server = (name: string, purpose: string, issuer: string, extra: Partial<CertSpec> = {}): CertSpec => ({
  name, kind: 'server', purpose, cn: 'localhost', organization: LAB_ORG, issuer, key: 'ec-p256',
  dates: 'valid', names: 'lab-hosts', file: `server/${name.replace(/^server-/, '')}`, ...extra,
});

const client = (name: string, purpose: string, issuer: string, extra: Partial<CertSpec> = {}): CertSpec => ({
  name, kind: 'client', purpose, cn: DEFAULT_DEVICE_ID, organization: LAB_ORG, issuer, key: 'ec-p256',
  dates: 'valid', names: 'none', file: `client/${name.replace(/^client-/, '')}`, ...extra,
});

/** In issuing order: every issuer comes before what it signs. */
export const CERTIFICATES: readonly CertSpec[] = [
  root('root-current', 'the root devices trust today', 'hilt Lab Root CA'),
  root('root-next', 'the root that replaces the current one in a CA rotation', 'hilt Lab Root CA G2'),
  root('root-rogue', 'an untrusted root: chains to it must be refused', 'Rogue Root CA', {
    organization: 'not the lab',
  }),
  root('root-lookalike', 'same subject as the current root, different key: must be refused',
    'hilt Lab Root CA'),
  root('root-rsa', 'RSA-2048 root for the RSA chain (ECDHE-RSA suites)', 'hilt Lab RSA Root CA', {
    key: 'rsa-2048',
  }),
  {
    name: 'ca-issuing', kind: 'intermediate', purpose: 'issuing CA under the current root',
    cn: 'hilt Lab Issuing CA', organization: LAB_ORG, issuer: 'root-current', key: 'ec-p256',
    dates: 'ca', names: 'none', file: 'ca/issuing',
  },

  server('server-valid', 'broker certificate that every device must accept', 'ca-issuing'),
  server('server-next', 'broker certificate under the next root (CA rotation)', 'root-next'),
  server('server-expired', 'broker certificate whose notAfter has passed', 'ca-issuing', {
    dates: 'expired',
  }),
  server('server-not-yet-valid', 'broker certificate whose notBefore is in the future', 'ca-issuing', {
    dates: 'not-yet-valid',
  }),
  server('server-wrong-host', 'broker certificate for another host name', 'ca-issuing', {
    cn: WRONG_HOST, names: 'wrong-host',
  }),
  server('server-self-signed', 'self-signed broker certificate', 'self'),
  server('server-rogue', 'broker certificate from the rogue root', 'root-rogue', {
    organization: 'not the lab',
  }),
  server('server-lookalike', 'broker certificate from the look-alike root', 'root-lookalike'),
  server('server-large', 'broker certificate whose chain is near 16 KB, the default Mbed TLS input buffer (the large-certificate test): lab hosts plus filler names',
    'ca-issuing', { names: 'lab-hosts-large' }),
  server('server-rsa', 'RSA-2048 broker certificate (ECDHE-RSA suites)', 'root-rsa', { key: 'rsa-2048' }),
  server('server-wrong-eku', 'broker certificate whose extended key usage is clientAuth only',
    'ca-issuing', { eku: ['clientAuth'] }),

  client('client-valid', 'device certificate the broker accepts', 'ca-issuing'),
  client('client-expired', 'device certificate whose notAfter has passed', 'ca-issuing', { dates: 'expired' }),
  client('client-rogue', 'device certificate from the rogue root', 'root-rogue', {
    organization: 'not the lab',
  }),
];

export const BUNDLES: readonly BundleSpec[] = [
  { name: 'bundle-current', purpose: 'trust store of a device today', members: ['root-current'],
    file: 'bundles/current.pem' },
  { name: 'bundle-next', purpose: 'trust store after a completed CA rotation', members: ['root-next'],
    file: 'bundles/next.pem' },
  { name: 'bundle-transition', purpose: 'trust store during a CA rotation: both roots',
    members: ['root-current', 'root-next'], file: 'bundles/transition.pem' },
  { name: 'bundle-issuing-chain', purpose: 'the issuing chain: intermediate then root',
    members: ['ca-issuing', 'root-current'], file: 'bundles/issuing-chain.pem' },
  { name: 'bundle-rsa', purpose: 'trust store for the RSA chain', members: ['root-rsa'],
    file: 'bundles/rsa.pem' },
];

/** A valid device certificate minted on request (`hilt certs device <id>`). */
export function deviceSpec(id: string): CertSpec {
  return client(`device/${id}`, `device certificate for ${id}`, 'ca-issuing', {
    cn: id, file: `device/${id}`,
  });
}

/** Device ids become a certificate CN, an MQTT client id, a topic level and a file name. */
export const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function certSpec(name: string): CertSpec | undefined {
  return CERTIFICATES.find((c) => c.name === name);
}
