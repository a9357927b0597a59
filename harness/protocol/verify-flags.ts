/**
 * Mbed TLS's X.509 verify flags (MBEDTLS_X509_BADCERT_* / BADCRL_*, identical in 2.28, 3.6 and
 * 4.0) and the strings mbedtls_x509_crt_verify_info prints for them: the vocabulary of a connect
 * result's verify_flags and verify_info, shared by the harness and the emulator.
 */

/** X.509 verify flags (x509.h, MBEDTLS_X509_BADCERT_*). */
export const BADCERT: Record<string, number> = {
  EXPIRED: 0x01,
  REVOKED: 0x02,
  CN_MISMATCH: 0x04,
  NOT_TRUSTED: 0x08,
  MISSING: 0x40,
  SKIP_VERIFY: 0x80,
  OTHER: 0x0100,
  FUTURE: 0x0200,
  KEY_USAGE: 0x0800,
  EXT_KEY_USAGE: 0x1000,
  NS_CERT_TYPE: 0x2000,
  BAD_MD: 0x4000,
  BAD_PK: 0x8000,
  BAD_KEY: 0x10000,
};

/** CRL flags share the verify_result word (MBEDTLS_X509_BADCRL_*). */
export const BADCRL: Record<string, number> = {
  NOT_TRUSTED: 0x10,
  EXPIRED: 0x20,
  FUTURE: 0x0400,
  BAD_MD: 0x20000,
  BAD_PK: 0x40000,
  BAD_KEY: 0x80000,
};

/**
 * MBEDTLS_X509_CRT_ERROR_INFO_LIST in its order: mbedtls_x509_crt_verify_info walks this list, so
 * the order of printed lines is this order, not the order of bits.
 */
const VERIFY_STRINGS: ReadonlyArray<readonly [string, number, string]> = [
  ['EXPIRED', 0x01, 'The certificate validity has expired'],
  ['REVOKED', 0x02, 'The certificate has been revoked (is on a CRL)'],
  ['CN_MISMATCH', 0x04, 'The certificate Common Name (CN) does not match with the expected CN'],
  ['NOT_TRUSTED', 0x08, 'The certificate is not correctly signed by the trusted CA'],
  ['CRL_NOT_TRUSTED', 0x10, 'The CRL is not correctly signed by the trusted CA'],
  ['CRL_EXPIRED', 0x20, 'The CRL is expired'],
  ['MISSING', 0x40, 'Certificate was missing'],
  ['SKIP_VERIFY', 0x80, 'Certificate verification was skipped'],
  ['OTHER', 0x0100, 'Other reason (can be used by verify callback)'],
  ['FUTURE', 0x0200, 'The certificate validity starts in the future'],
  ['CRL_FUTURE', 0x0400, 'The CRL is from the future'],
  ['KEY_USAGE', 0x0800, 'Usage does not match the keyUsage extension'],
  ['EXT_KEY_USAGE', 0x1000, 'Usage does not match the extendedKeyUsage extension'],
  ['NS_CERT_TYPE', 0x2000, 'Usage does not match the nsCertType extension'],
  ['BAD_MD', 0x4000, 'The certificate is signed with an unacceptable hash.'],
  ['BAD_PK', 0x8000, 'The certificate is signed with an unacceptable PK alg (eg RSA vs ECDSA).'],
  ['BAD_KEY', 0x10000, 'The certificate is signed with an unacceptable key (eg bad curve, RSA too short).'],
  ['CRL_BAD_MD', 0x20000, 'The CRL is signed with an unacceptable hash.'],
  ['CRL_BAD_PK', 0x40000, 'The CRL is signed with an unacceptable PK alg (eg RSA vs ECDSA).'],
  ['CRL_BAD_KEY', 0x80000, 'The CRL is signed with an unacceptable key (eg bad curve, RSA too short).'],
];

const UNKNOWN_REASON = 'Unknown reason (this should not happen)';

/** The lines mbedtls_x509_crt_verify_info prints for `flags` (without prefix and newline). */
export function verifyInfo(flags: number): string[] {
  let rest = flags >>> 0;
  const lines: string[] = [];
  for (const [, bit, text] of VERIFY_STRINGS) {
    if ((rest & bit) === 0) continue;
    lines.push(text);
    rest = (rest & ~bit) >>> 0;
  }
  if (rest !== 0) lines.push(UNKNOWN_REASON);
  return lines;
}

/** The whole mbedtls_x509_crt_verify_info buffer; ESP-IDF passes the prefix "  ! ". */
export function verifyInfoText(flags: number, prefix = '  ! '): string {
  return verifyInfo(flags).map((line) => `${prefix}${line}\n`).join('');
}

/** Set flags by name, in verify_info order (CRL flags read CRL_*; leftovers UNKNOWN_0x...). */
export function flagNames(flags: number): string[] {
  let rest = flags >>> 0;
  const names: string[] = [];
  for (const [name, bit] of VERIFY_STRINGS) {
    if ((rest & bit) === 0) continue;
    names.push(name);
    rest = (rest & ~bit) >>> 0;
  }
  if (rest !== 0) names.push(`UNKNOWN_0x${rest.toString(16)}`);
  return names;
}

/** The value of flags given by name: flagsOf('EXPIRED', 'NOT_TRUSTED') === 0x09. */
export function flagsOf(...names: string[]): number {
  let flags = 0;
  for (const name of names) {
    const bit = BADCERT[name];
    if (bit === undefined) throw new Error(`unknown verify flag ${JSON.stringify(name)}: use one of ${Object.keys(BADCERT).join(', ')}`);
    flags |= bit;
  }
  return flags;
}
