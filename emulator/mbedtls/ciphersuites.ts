/**
 * The TLS ciphersuites an ESP32 can offer, in Mbed TLS 3.6's default preference order
 * (ciphersuite_preference in library/ssl_ciphersuites.c), with the OpenSSL name Node needs to
 * offer or accept the same suite. PSK and NULL suites are left out: ESP-IDF does not enable them
 * by default and hilt has no scenario for them. ARIA is in: ESP-IDF v5.5's esp_config.h has no
 * Kconfig option for MBEDTLS_ARIA_C and never undefines it, so the 20 ARIA suites Mbed TLS 3.6
 * enables by default are on every board's list (checked against the library in
 * test/native/mbedtls.spec.ts). 3DES suites no longer exist in Mbed TLS 3.x,
 * so CONFIG_MBEDTLS_DES_C changes nothing here.
 *
 * `openssl: ''` marks suites OpenSSL cannot speak at all: static ECDH (ECDH-ECDSA, ECDH-RSA;
 * removed from OpenSSL in 1.1.0), Camellia-GCM and ARIA-CBC (never implemented). A device
 * offering them is still modelled; a Node peer simply cannot pick them, and an emulated board's
 * ClientHello leaves them out (docs/fidelity.md).
 */
import type { MbedtlsConfig } from './sdkconfig.ts';

export type KeyExchange = 'ECDHE-ECDSA' | 'ECDHE-RSA' | 'RSA' | 'ECDH-ECDSA' | 'ECDH-RSA' | 'DHE-RSA';

export interface Suite {
  /** Mbed TLS name (mbedtls_ssl_get_ciphersuite_name), e.g. TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256. */
  mbedtls: string;
  /** OpenSSL name (case-sensitive), or '' when OpenSSL has none. */
  openssl: string;
  version: 'TLSv1.2' | 'TLSv1.3';
  /** TLS 1.2 key exchange; null for TLS 1.3 suites (the key exchange is negotiated separately). */
  kex: KeyExchange | null;
  /** Bulk cipher: AES-128-GCM, AES-256-CBC, AES-128-CCM-8, CAMELLIA-256-GCM, CHACHA20-POLY1305. */
  cipher: string;
  aead: boolean;
  /** MAC (CBC suites) or PRF hash (AEAD suites). */
  hash: 'SHA1' | 'SHA256' | 'SHA384';
}

/** [Mbed TLS name, OpenSSL name], in ciphersuite_preference order. */
const PREFERENCE: ReadonlyArray<readonly [string, string]> = [
  ['TLS1-3-CHACHA20-POLY1305-SHA256', 'TLS_CHACHA20_POLY1305_SHA256'],
  ['TLS1-3-AES-256-GCM-SHA384', 'TLS_AES_256_GCM_SHA384'],
  ['TLS1-3-AES-128-GCM-SHA256', 'TLS_AES_128_GCM_SHA256'],
  ['TLS1-3-AES-128-CCM-SHA256', 'TLS_AES_128_CCM_SHA256'],
  ['TLS1-3-AES-128-CCM-8-SHA256', 'TLS_AES_128_CCM_8_SHA256'],

  ['TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305'],
  ['TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305'],
  ['TLS-DHE-RSA-WITH-CHACHA20-POLY1305-SHA256', 'DHE-RSA-CHACHA20-POLY1305'],
  // AES-256 block
  ['TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384', 'ECDHE-ECDSA-AES256-GCM-SHA384'],
  ['TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384'],
  ['TLS-DHE-RSA-WITH-AES-256-GCM-SHA384', 'DHE-RSA-AES256-GCM-SHA384'],
  ['TLS-ECDHE-ECDSA-WITH-AES-256-CCM', 'ECDHE-ECDSA-AES256-CCM'],
  ['TLS-DHE-RSA-WITH-AES-256-CCM', 'DHE-RSA-AES256-CCM'],
  ['TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA384', 'ECDHE-ECDSA-AES256-SHA384'],
  ['TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA384', 'ECDHE-RSA-AES256-SHA384'],
  ['TLS-DHE-RSA-WITH-AES-256-CBC-SHA256', 'DHE-RSA-AES256-SHA256'],
  ['TLS-ECDHE-ECDSA-WITH-AES-256-CBC-SHA', 'ECDHE-ECDSA-AES256-SHA'],
  ['TLS-ECDHE-RSA-WITH-AES-256-CBC-SHA', 'ECDHE-RSA-AES256-SHA'],
  ['TLS-DHE-RSA-WITH-AES-256-CBC-SHA', 'DHE-RSA-AES256-SHA'],
  ['TLS-ECDHE-ECDSA-WITH-AES-256-CCM-8', 'ECDHE-ECDSA-AES256-CCM8'],
  ['TLS-DHE-RSA-WITH-AES-256-CCM-8', 'DHE-RSA-AES256-CCM8'],
  ['TLS-ECDHE-ECDSA-WITH-CAMELLIA-256-GCM-SHA384', ''],
  ['TLS-ECDHE-RSA-WITH-CAMELLIA-256-GCM-SHA384', ''],
  ['TLS-DHE-RSA-WITH-CAMELLIA-256-GCM-SHA384', ''],
  ['TLS-ECDHE-ECDSA-WITH-CAMELLIA-256-CBC-SHA384', 'ECDHE-ECDSA-CAMELLIA256-SHA384'],
  ['TLS-ECDHE-RSA-WITH-CAMELLIA-256-CBC-SHA384', 'ECDHE-RSA-CAMELLIA256-SHA384'],
  ['TLS-DHE-RSA-WITH-CAMELLIA-256-CBC-SHA256', 'DHE-RSA-CAMELLIA256-SHA256'],
  ['TLS-DHE-RSA-WITH-CAMELLIA-256-CBC-SHA', 'DHE-RSA-CAMELLIA256-SHA'],
  ['TLS-ECDHE-ECDSA-WITH-ARIA-256-GCM-SHA384', 'ECDHE-ECDSA-ARIA256-GCM-SHA384'],
  ['TLS-ECDHE-RSA-WITH-ARIA-256-GCM-SHA384', 'ECDHE-ARIA256-GCM-SHA384'],
  ['TLS-DHE-RSA-WITH-ARIA-256-GCM-SHA384', 'DHE-RSA-ARIA256-GCM-SHA384'],
  ['TLS-ECDHE-ECDSA-WITH-ARIA-256-CBC-SHA384', ''],
  ['TLS-ECDHE-RSA-WITH-ARIA-256-CBC-SHA384', ''],
  ['TLS-DHE-RSA-WITH-ARIA-256-CBC-SHA384', ''],
  // AES-128 block
  ['TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
  ['TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'],
  ['TLS-DHE-RSA-WITH-AES-128-GCM-SHA256', 'DHE-RSA-AES128-GCM-SHA256'],
  ['TLS-ECDHE-ECDSA-WITH-AES-128-CCM', 'ECDHE-ECDSA-AES128-CCM'],
  ['TLS-DHE-RSA-WITH-AES-128-CCM', 'DHE-RSA-AES128-CCM'],
  ['TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256', 'ECDHE-ECDSA-AES128-SHA256'],
  ['TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA256', 'ECDHE-RSA-AES128-SHA256'],
  ['TLS-DHE-RSA-WITH-AES-128-CBC-SHA256', 'DHE-RSA-AES128-SHA256'],
  ['TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA', 'ECDHE-ECDSA-AES128-SHA'],
  ['TLS-ECDHE-RSA-WITH-AES-128-CBC-SHA', 'ECDHE-RSA-AES128-SHA'],
  ['TLS-DHE-RSA-WITH-AES-128-CBC-SHA', 'DHE-RSA-AES128-SHA'],
  ['TLS-ECDHE-ECDSA-WITH-AES-128-CCM-8', 'ECDHE-ECDSA-AES128-CCM8'],
  ['TLS-DHE-RSA-WITH-AES-128-CCM-8', 'DHE-RSA-AES128-CCM8'],
  ['TLS-ECDHE-ECDSA-WITH-CAMELLIA-128-GCM-SHA256', ''],
  ['TLS-ECDHE-RSA-WITH-CAMELLIA-128-GCM-SHA256', ''],
  ['TLS-DHE-RSA-WITH-CAMELLIA-128-GCM-SHA256', ''],
  ['TLS-ECDHE-ECDSA-WITH-CAMELLIA-128-CBC-SHA256', 'ECDHE-ECDSA-CAMELLIA128-SHA256'],
  ['TLS-ECDHE-RSA-WITH-CAMELLIA-128-CBC-SHA256', 'ECDHE-RSA-CAMELLIA128-SHA256'],
  ['TLS-DHE-RSA-WITH-CAMELLIA-128-CBC-SHA256', 'DHE-RSA-CAMELLIA128-SHA256'],
  ['TLS-DHE-RSA-WITH-CAMELLIA-128-CBC-SHA', 'DHE-RSA-CAMELLIA128-SHA'],
  ['TLS-ECDHE-ECDSA-WITH-ARIA-128-GCM-SHA256', 'ECDHE-ECDSA-ARIA128-GCM-SHA256'],
  ['TLS-ECDHE-RSA-WITH-ARIA-128-GCM-SHA256', 'ECDHE-ARIA128-GCM-SHA256'],
  ['TLS-DHE-RSA-WITH-ARIA-128-GCM-SHA256', 'DHE-RSA-ARIA128-GCM-SHA256'],
  ['TLS-ECDHE-ECDSA-WITH-ARIA-128-CBC-SHA256', ''],
  ['TLS-ECDHE-RSA-WITH-ARIA-128-CBC-SHA256', ''],
  ['TLS-DHE-RSA-WITH-ARIA-128-CBC-SHA256', ''],
  // Static RSA and static ECDH come after every (EC)DHE suite.
  ['TLS-RSA-WITH-AES-256-GCM-SHA384', 'AES256-GCM-SHA384'],
  ['TLS-RSA-WITH-AES-256-CCM', 'AES256-CCM'],
  ['TLS-RSA-WITH-AES-256-CBC-SHA256', 'AES256-SHA256'],
  ['TLS-RSA-WITH-AES-256-CBC-SHA', 'AES256-SHA'],
  ['TLS-ECDH-RSA-WITH-AES-256-GCM-SHA384', ''],
  ['TLS-ECDH-RSA-WITH-AES-256-CBC-SHA384', ''],
  ['TLS-ECDH-RSA-WITH-AES-256-CBC-SHA', ''],
  ['TLS-ECDH-ECDSA-WITH-AES-256-GCM-SHA384', ''],
  ['TLS-ECDH-ECDSA-WITH-AES-256-CBC-SHA384', ''],
  ['TLS-ECDH-ECDSA-WITH-AES-256-CBC-SHA', ''],
  ['TLS-RSA-WITH-AES-256-CCM-8', 'AES256-CCM8'],
  ['TLS-RSA-WITH-CAMELLIA-256-GCM-SHA384', ''],
  ['TLS-RSA-WITH-CAMELLIA-256-CBC-SHA256', 'CAMELLIA256-SHA256'],
  ['TLS-RSA-WITH-CAMELLIA-256-CBC-SHA', 'CAMELLIA256-SHA'],
  ['TLS-ECDH-RSA-WITH-CAMELLIA-256-GCM-SHA384', ''],
  ['TLS-ECDH-RSA-WITH-CAMELLIA-256-CBC-SHA384', ''],
  ['TLS-ECDH-ECDSA-WITH-CAMELLIA-256-GCM-SHA384', ''],
  ['TLS-ECDH-ECDSA-WITH-CAMELLIA-256-CBC-SHA384', ''],
  ['TLS-ECDH-ECDSA-WITH-ARIA-256-GCM-SHA384', ''],
  ['TLS-ECDH-RSA-WITH-ARIA-256-GCM-SHA384', ''],
  ['TLS-RSA-WITH-ARIA-256-GCM-SHA384', 'ARIA256-GCM-SHA384'],
  ['TLS-ECDH-ECDSA-WITH-ARIA-256-CBC-SHA384', ''],
  ['TLS-ECDH-RSA-WITH-ARIA-256-CBC-SHA384', ''],
  ['TLS-RSA-WITH-ARIA-256-CBC-SHA384', ''],
  ['TLS-RSA-WITH-AES-128-GCM-SHA256', 'AES128-GCM-SHA256'],
  ['TLS-RSA-WITH-AES-128-CCM', 'AES128-CCM'],
  ['TLS-RSA-WITH-AES-128-CBC-SHA256', 'AES128-SHA256'],
  ['TLS-RSA-WITH-AES-128-CBC-SHA', 'AES128-SHA'],
  ['TLS-ECDH-RSA-WITH-AES-128-GCM-SHA256', ''],
  ['TLS-ECDH-RSA-WITH-AES-128-CBC-SHA256', ''],
  ['TLS-ECDH-RSA-WITH-AES-128-CBC-SHA', ''],
  ['TLS-ECDH-ECDSA-WITH-AES-128-GCM-SHA256', ''],
  ['TLS-ECDH-ECDSA-WITH-AES-128-CBC-SHA256', ''],
  ['TLS-ECDH-ECDSA-WITH-AES-128-CBC-SHA', ''],
  ['TLS-RSA-WITH-AES-128-CCM-8', 'AES128-CCM8'],
  ['TLS-RSA-WITH-CAMELLIA-128-GCM-SHA256', ''],
  ['TLS-RSA-WITH-CAMELLIA-128-CBC-SHA256', 'CAMELLIA128-SHA256'],
  ['TLS-RSA-WITH-CAMELLIA-128-CBC-SHA', 'CAMELLIA128-SHA'],
  ['TLS-ECDH-RSA-WITH-CAMELLIA-128-GCM-SHA256', ''],
  ['TLS-ECDH-RSA-WITH-CAMELLIA-128-CBC-SHA256', ''],
  ['TLS-ECDH-ECDSA-WITH-CAMELLIA-128-GCM-SHA256', ''],
  ['TLS-ECDH-ECDSA-WITH-CAMELLIA-128-CBC-SHA256', ''],
  ['TLS-ECDH-ECDSA-WITH-ARIA-128-GCM-SHA256', ''],
  ['TLS-ECDH-RSA-WITH-ARIA-128-GCM-SHA256', ''],
  ['TLS-RSA-WITH-ARIA-128-GCM-SHA256', 'ARIA128-GCM-SHA256'],
  ['TLS-ECDH-ECDSA-WITH-ARIA-128-CBC-SHA256', ''],
  ['TLS-ECDH-RSA-WITH-ARIA-128-CBC-SHA256', ''],
  ['TLS-RSA-WITH-ARIA-128-CBC-SHA256', ''],
];

/** Reads version, key exchange and cipher out of an Mbed TLS name, which spells them all. */
function describe(mbedtls: string, openssl: string): Suite {
  const tls13 = /^TLS1-3-(.+)-(SHA256|SHA384)$/.exec(mbedtls);
  if (tls13) {
    const cipher = tls13[1]!;
    return { mbedtls, openssl, version: 'TLSv1.3', kex: null, cipher, aead: true, hash: tls13[2] as Suite['hash'] };
  }
  const m = /^TLS-(ECDHE-ECDSA|ECDHE-RSA|ECDH-ECDSA|ECDH-RSA|DHE-RSA|RSA)-WITH-(.+)$/.exec(mbedtls);
  if (!m) throw new Error(`ciphersuite table: cannot read ${mbedtls}`);
  const rest = m[2]!;
  const mac = /-(SHA|SHA256|SHA384)$/.exec(rest);
  // CCM suites name no hash; their PRF is SHA-256.
  const hash = mac ? (mac[1] === 'SHA' ? 'SHA1' : mac[1]) as Suite['hash'] : 'SHA256';
  const cipher = mac ? rest.slice(0, -mac[0].length) : rest;
  const aead = /GCM|CCM|POLY1305/.test(cipher);
  return { mbedtls, openssl, version: 'TLSv1.2', kex: m[1] as KeyExchange, cipher, aead, hash };
}

export const SUITES: readonly Suite[] = PREFERENCE.map(([mbedtls, openssl]) => describe(mbedtls, openssl));

/** The parts of a configuration that decide which suites exist. */
export type SuiteSelection = Pick<MbedtlsConfig, 'tls12' | 'tls13' | 'keyExchanges' | 'ciphers' | 'hashes'>;

function cipherEnabled(suite: Suite, sel: SuiteSelection): boolean {
  const c = sel.ciphers;
  const { cipher } = suite;
  if (cipher.startsWith('CHACHA20')) return c.chachaPoly;
  // ARIA has no Kconfig switch in ESP-IDF: always on, subject to the mode (GCM, CBC) like the rest.
  const block = cipher.startsWith('AES') ? c.aes : cipher.startsWith('CAMELLIA') ? c.camellia : cipher.startsWith('ARIA') ? true : false;
  const mode = cipher.includes('-GCM') ? c.gcm : cipher.includes('-CCM') ? c.ccm : cipher.includes('-CBC') ? c.cbc : false;
  return block && mode;
}

function hashEnabled(suite: Suite, sel: SuiteSelection): boolean {
  if (suite.hash === 'SHA1') return sel.hashes.sha1;
  if (suite.hash === 'SHA384') return sel.hashes.sha384;
  return true;
}

/**
 * The suites a configuration offers, in Mbed TLS's preference order: what
 * mbedtls_ssl_list_ciphersuites() leaves of ciphersuite_preference once the disabled key
 * exchanges, ciphers, modes and hashes are gone.
 */
export function enabledSuites(cfg: SuiteSelection): Suite[] {
  return SUITES.filter((s) => {
    if (s.version === 'TLSv1.3') return cfg.tls13 && cipherEnabled(s, cfg) && hashEnabled(s, cfg);
    return cfg.tls12 && s.kex !== null && cfg.keyExchanges.includes(s.kex) && cipherEnabled(s, cfg) && hashEnabled(s, cfg);
  });
}

export function suiteByMbedtls(name: string): Suite | undefined {
  return SUITES.find((s) => s.mbedtls === name);
}

/** Case-sensitive, as OpenSSL names are. */
export function suiteByOpenssl(name: string): Suite | undefined {
  return name === '' ? undefined : SUITES.find((s) => s.openssl === name);
}

/**
 * The `ciphers` string for Node's tls options. Node has no separate TLS 1.3 option: TLS_ names go
 * in the same list. Suites OpenSSL cannot speak are left out.
 */
export function opensslCipherList(suites: readonly Suite[]): string {
  return suites.map((s) => s.openssl).filter((n) => n !== '').join(':');
}
