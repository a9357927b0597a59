/**
 * IANA names for the numbers a ClientHello carries: protocol versions, cipher suites, groups and
 * signature schemes. Only what matters for judging a device is listed (every suite Mbed TLS or
 * OpenSSL can offer, and the weak families a verdict must recognise); anything else is shown as
 * its hex code ("0xC0AB"), which is still exact.
 */

/** "0xC0AB": how an unknown code is shown. */
export function hex16(code: number): string {
  return `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** RFC 8701 GREASE values (0x0A0A, 0x1A1A ... 0xFAFA): browsers and some stacks send them to keep servers honest. */
export function isGrease(code: number): boolean {
  return (code & 0x0f0f) === 0x0a0a && (code >> 12) === ((code >> 4) & 0x0f);
}

export function versionName(code: number): string {
  const known: Record<number, string> = { 0x0200: 'SSL 2.0', 0x0300: 'SSL 3.0', 0x0301: 'TLS 1.0', 0x0302: 'TLS 1.1', 0x0303: 'TLS 1.2', 0x0304: 'TLS 1.3' };
  if (known[code]) return known[code];
  if ((code & 0xff00) === 0x7f00) return `TLS 1.3 draft ${code & 0xff}`;
  return isGrease(code) ? `GREASE ${hex16(code)}` : hex16(code);
}

/** Cipher suites by family; the names are the IANA registry's. */
const SUITES: Array<[number, string]> = [
  // TLS 1.3
  [0x1301, 'TLS_AES_128_GCM_SHA256'], [0x1302, 'TLS_AES_256_GCM_SHA384'], [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
  [0x1304, 'TLS_AES_128_CCM_SHA256'], [0x1305, 'TLS_AES_128_CCM_8_SHA256'],
  // signalling values
  [0x00ff, 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV'], [0x5600, 'TLS_FALLBACK_SCSV'],
  // ECDHE-ECDSA
  [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'], [0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
  [0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc0ac, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM'], [0xc0ad, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM'],
  [0xc0ae, 'TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8'], [0xc0af, 'TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8'],
  [0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'], [0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'],
  [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256'], [0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384'],
  [0xc05c, 'TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256'], [0xc05d, 'TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384'],
  [0xc048, 'TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256'], [0xc049, 'TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384'],
  [0xc072, 'TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256'], [0xc073, 'TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384'],
  [0xc086, 'TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256'], [0xc087, 'TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384'],
  // ECDHE-RSA
  [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'], [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'], [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'], [0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384'],
  [0xc060, 'TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256'], [0xc061, 'TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384'],
  [0xc04c, 'TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256'], [0xc04d, 'TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384'],
  [0xc076, 'TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256'], [0xc077, 'TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384'],
  [0xc08a, 'TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256'], [0xc08b, 'TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384'],
  // static ECDH
  [0xc004, 'TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA'], [0xc005, 'TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA'],
  [0xc025, 'TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256'], [0xc026, 'TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384'],
  [0xc02d, 'TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256'], [0xc02e, 'TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384'],
  [0xc00e, 'TLS_ECDH_RSA_WITH_AES_128_CBC_SHA'], [0xc00f, 'TLS_ECDH_RSA_WITH_AES_256_CBC_SHA'],
  [0xc029, 'TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256'], [0xc02a, 'TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384'],
  [0xc031, 'TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256'], [0xc032, 'TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384'],
  // DHE
  [0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256'], [0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc09e, 'TLS_DHE_RSA_WITH_AES_128_CCM'], [0xc09f, 'TLS_DHE_RSA_WITH_AES_256_CCM'],
  [0xc0a2, 'TLS_DHE_RSA_WITH_AES_128_CCM_8'], [0xc0a3, 'TLS_DHE_RSA_WITH_AES_256_CCM_8'],
  [0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA'], [0x0039, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA'],
  [0x0067, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256'], [0x006b, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256'],
  [0x0045, 'TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA'], [0x0088, 'TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA'],
  [0x00be, 'TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256'], [0x00c4, 'TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256'],
  [0xc052, 'TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256'], [0xc053, 'TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384'],
  [0x00a2, 'TLS_DHE_DSS_WITH_AES_128_GCM_SHA256'], [0x00a3, 'TLS_DHE_DSS_WITH_AES_256_GCM_SHA384'],
  [0x0032, 'TLS_DHE_DSS_WITH_AES_128_CBC_SHA'], [0x0038, 'TLS_DHE_DSS_WITH_AES_256_CBC_SHA'],
  [0x0040, 'TLS_DHE_DSS_WITH_AES_128_CBC_SHA256'], [0x006a, 'TLS_DHE_DSS_WITH_AES_256_CBC_SHA256'],
  // static RSA key exchange
  [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256'], [0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  [0xc09c, 'TLS_RSA_WITH_AES_128_CCM'], [0xc09d, 'TLS_RSA_WITH_AES_256_CCM'],
  [0xc0a0, 'TLS_RSA_WITH_AES_128_CCM_8'], [0xc0a1, 'TLS_RSA_WITH_AES_256_CCM_8'],
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA'], [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  [0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256'], [0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256'],
  [0x0041, 'TLS_RSA_WITH_CAMELLIA_128_CBC_SHA'], [0x0084, 'TLS_RSA_WITH_CAMELLIA_256_CBC_SHA'],
  [0x00ba, 'TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256'], [0x00c0, 'TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256'],
  [0xc050, 'TLS_RSA_WITH_ARIA_128_GCM_SHA256'], [0xc051, 'TLS_RSA_WITH_ARIA_256_GCM_SHA384'],
  [0x0096, 'TLS_RSA_WITH_SEED_CBC_SHA'], [0x0007, 'TLS_RSA_WITH_IDEA_CBC_SHA'],
  // PSK
  [0x00a8, 'TLS_PSK_WITH_AES_128_GCM_SHA256'], [0x00a9, 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
  [0xccab, 'TLS_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc0a4, 'TLS_PSK_WITH_AES_128_CCM'], [0xc0a5, 'TLS_PSK_WITH_AES_256_CCM'],
  [0xc0a8, 'TLS_PSK_WITH_AES_128_CCM_8'], [0xc0a9, 'TLS_PSK_WITH_AES_256_CCM_8'],
  [0x008c, 'TLS_PSK_WITH_AES_128_CBC_SHA'], [0x008d, 'TLS_PSK_WITH_AES_256_CBC_SHA'],
  [0x00ae, 'TLS_PSK_WITH_AES_128_CBC_SHA256'], [0x00af, 'TLS_PSK_WITH_AES_256_CBC_SHA384'],
  [0xd001, 'TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256'], [0xd002, 'TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384'],
  [0xd005, 'TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256'], [0xccac, 'TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc035, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA'], [0xc036, 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA'],
  [0xc037, 'TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256'], [0xc038, 'TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384'],
  [0x00aa, 'TLS_DHE_PSK_WITH_AES_128_GCM_SHA256'], [0x00ab, 'TLS_DHE_PSK_WITH_AES_256_GCM_SHA384'],
  [0xccad, 'TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc0a6, 'TLS_DHE_PSK_WITH_AES_128_CCM'], [0xc0a7, 'TLS_DHE_PSK_WITH_AES_256_CCM'],
  [0x0090, 'TLS_DHE_PSK_WITH_AES_128_CBC_SHA'], [0x0091, 'TLS_DHE_PSK_WITH_AES_256_CBC_SHA'],
  [0x00b2, 'TLS_DHE_PSK_WITH_AES_128_CBC_SHA256'], [0x00b3, 'TLS_DHE_PSK_WITH_AES_256_CBC_SHA384'],
  [0x00ac, 'TLS_RSA_PSK_WITH_AES_128_GCM_SHA256'], [0x00ad, 'TLS_RSA_PSK_WITH_AES_256_GCM_SHA384'],
  [0xccae, 'TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256'],
  [0x0094, 'TLS_RSA_PSK_WITH_AES_128_CBC_SHA'], [0x0095, 'TLS_RSA_PSK_WITH_AES_256_CBC_SHA'],
  [0x00b6, 'TLS_RSA_PSK_WITH_AES_128_CBC_SHA256'], [0x00b7, 'TLS_RSA_PSK_WITH_AES_256_CBC_SHA384'],
  // anonymous (no authentication at all)
  [0x0034, 'TLS_DH_anon_WITH_AES_128_CBC_SHA'], [0x003a, 'TLS_DH_anon_WITH_AES_256_CBC_SHA'],
  [0xc018, 'TLS_ECDH_anon_WITH_AES_128_CBC_SHA'], [0xc019, 'TLS_ECDH_anon_WITH_AES_256_CBC_SHA'],
  // 3DES and single DES
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'], [0x0013, 'TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA'],
  [0x0016, 'TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA'], [0xc008, 'TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA'],
  [0xc012, 'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA'], [0x008b, 'TLS_PSK_WITH_3DES_EDE_CBC_SHA'],
  [0x0009, 'TLS_RSA_WITH_DES_CBC_SHA'], [0x0015, 'TLS_DHE_RSA_WITH_DES_CBC_SHA'],
  // RC4
  [0x0004, 'TLS_RSA_WITH_RC4_128_MD5'], [0x0005, 'TLS_RSA_WITH_RC4_128_SHA'], [0x0018, 'TLS_DH_anon_WITH_RC4_128_MD5'],
  [0xc007, 'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA'], [0xc011, 'TLS_ECDHE_RSA_WITH_RC4_128_SHA'], [0x008a, 'TLS_PSK_WITH_RC4_128_SHA'],
  // export grade
  [0x0003, 'TLS_RSA_EXPORT_WITH_RC4_40_MD5'], [0x0006, 'TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5'],
  [0x0008, 'TLS_RSA_EXPORT_WITH_DES40_CBC_SHA'], [0x0011, 'TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA'],
  [0x0014, 'TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA'], [0x0017, 'TLS_DH_anon_EXPORT_WITH_RC4_40_MD5'],
  [0x0019, 'TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA'],
  // NULL encryption
  [0x0000, 'TLS_NULL_WITH_NULL_NULL'], [0x0001, 'TLS_RSA_WITH_NULL_MD5'], [0x0002, 'TLS_RSA_WITH_NULL_SHA'],
  [0x003b, 'TLS_RSA_WITH_NULL_SHA256'], [0xc001, 'TLS_ECDH_ECDSA_WITH_NULL_SHA'], [0xc006, 'TLS_ECDHE_ECDSA_WITH_NULL_SHA'],
  [0xc00b, 'TLS_ECDH_RSA_WITH_NULL_SHA'], [0xc010, 'TLS_ECDHE_RSA_WITH_NULL_SHA'], [0xc015, 'TLS_ECDH_anon_WITH_NULL_SHA'],
  [0x002c, 'TLS_PSK_WITH_NULL_SHA'], [0x00b0, 'TLS_PSK_WITH_NULL_SHA256'], [0x00b1, 'TLS_PSK_WITH_NULL_SHA384'],
  [0xc039, 'TLS_ECDHE_PSK_WITH_NULL_SHA'], [0xc03a, 'TLS_ECDHE_PSK_WITH_NULL_SHA256'], [0xc03b, 'TLS_ECDHE_PSK_WITH_NULL_SHA384'],
];
const SUITE_NAMES = new Map(SUITES);

/** The IANA name of a cipher suite, "GREASE 0x0A0A", or its hex code ("0xC0AB") when not listed. */
export function suiteName(code: number): string {
  return SUITE_NAMES.get(code) ?? (isGrease(code) ? `GREASE ${hex16(code)}` : hex16(code));
}

/** Every listed suite (tests compare the table with OpenSSL's own names). */
export function listedSuites(): ReadonlyMap<number, string> {
  return SUITE_NAMES;
}

const GROUPS = new Map<number, string>([
  [19, 'secp192r1'], [21, 'secp224r1'], [22, 'secp256k1'], [23, 'secp256r1'], [24, 'secp384r1'], [25, 'secp521r1'],
  [26, 'brainpoolP256r1'], [27, 'brainpoolP384r1'], [28, 'brainpoolP512r1'], [29, 'x25519'], [30, 'x448'],
  [31, 'brainpoolP256r1tls13'], [32, 'brainpoolP384r1tls13'], [33, 'brainpoolP512r1tls13'],
  [256, 'ffdhe2048'], [257, 'ffdhe3072'], [258, 'ffdhe4096'], [259, 'ffdhe6144'], [260, 'ffdhe8192'],
  [0x0200, 'MLKEM512'], [0x0201, 'MLKEM768'], [0x0202, 'MLKEM1024'],
  [0x11eb, 'SecP256r1MLKEM768'], [0x11ec, 'X25519MLKEM768'], [0x11ed, 'SecP384r1MLKEM1024'],
]);

export function groupName(code: number): string {
  return GROUPS.get(code) ?? (isGrease(code) ? `GREASE ${hex16(code)}` : hex16(code));
}

const SIGNATURES = new Map<number, string>([
  [0x0201, 'rsa_pkcs1_sha1'], [0x0203, 'ecdsa_sha1'], [0x0202, 'dsa_sha1'],
  [0x0301, 'rsa_pkcs1_sha224'], [0x0303, 'ecdsa_sha224'], [0x0302, 'dsa_sha224'],
  [0x0401, 'rsa_pkcs1_sha256'], [0x0501, 'rsa_pkcs1_sha384'], [0x0601, 'rsa_pkcs1_sha512'],
  [0x0402, 'dsa_sha256'], [0x0502, 'dsa_sha384'], [0x0602, 'dsa_sha512'],
  [0x0403, 'ecdsa_secp256r1_sha256'], [0x0503, 'ecdsa_secp384r1_sha384'], [0x0603, 'ecdsa_secp521r1_sha512'],
  [0x0804, 'rsa_pss_rsae_sha256'], [0x0805, 'rsa_pss_rsae_sha384'], [0x0806, 'rsa_pss_rsae_sha512'],
  [0x0807, 'ed25519'], [0x0808, 'ed448'],
  [0x0809, 'rsa_pss_pss_sha256'], [0x080a, 'rsa_pss_pss_sha384'], [0x080b, 'rsa_pss_pss_sha512'],
  [0x081a, 'ecdsa_brainpoolP256r1tls13_sha256'], [0x081b, 'ecdsa_brainpoolP384r1tls13_sha384'],
  [0x081c, 'ecdsa_brainpoolP512r1tls13_sha512'],
  [0x0904, 'mldsa44'], [0x0905, 'mldsa65'], [0x0906, 'mldsa87'],
]);

export function signatureName(code: number): string {
  return SIGNATURES.get(code) ?? (isGrease(code) ? `GREASE ${hex16(code)}` : hex16(code));
}

/** RFC 6066 max_fragment_length codes to bytes. */
export const MAX_FRAGMENT_LENGTH: Readonly<Record<number, number>> = { 1: 512, 2: 1024, 3: 2048, 4: 4096 };
