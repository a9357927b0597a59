/**
 * The numbers an ESP32 reports when TLS fails, as data: esp_err_t values (esp-tls, v4.4+ numbering),
 * Mbed TLS 3.6 error codes, X.509 verify flags with the exact strings mbedtls_x509_crt_verify_info
 * prints, and the alert a client picks for a verify failure. Scenario assertions and console lines
 * are written in these words, so the names are the C macro names, unchanged.
 */

/**
 * esp_err_t values of esp-tls (components/esp-tls/esp_tls_errors.h, ESP_ERR_ESP_TLS_BASE 0x8000)
 * plus the generic ones. Up to v4.3 the numbering differed; hilt models v4.4 and later.
 */
export const ESP_ERR: Record<string, number> = {
  ESP_OK: 0,
  ESP_FAIL: -1,
  ESP_ERR_NO_MEM: 0x101,
  ESP_ERR_INVALID_ARG: 0x102,
  ESP_ERR_INVALID_STATE: 0x103,
  ESP_ERR_TIMEOUT: 0x107,
  ESP_ERR_ESP_TLS_BASE: 0x8000,
  ESP_ERR_ESP_TLS_CANNOT_RESOLVE_HOSTNAME: 0x8001,
  ESP_ERR_ESP_TLS_CANNOT_CREATE_SOCKET: 0x8002,
  ESP_ERR_ESP_TLS_UNSUPPORTED_PROTOCOL_FAMILY: 0x8003,
  ESP_ERR_ESP_TLS_FAILED_CONNECT_TO_HOST: 0x8004,
  ESP_ERR_ESP_TLS_SOCKET_SETOPT_FAILED: 0x8005,
  ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT: 0x8006,
  ESP_ERR_ESP_TLS_SE_FAILED: 0x8007,
  ESP_ERR_ESP_TLS_TCP_CLOSED_FIN: 0x8008,
  ESP_ERR_ESP_TLS_SERVER_HANDSHAKE_TIMEOUT: 0x8009,
  ESP_ERR_MBEDTLS_CERT_PARTLY_OK: 0x8010,
  ESP_ERR_MBEDTLS_CTR_DRBG_SEED_FAILED: 0x8011,
  ESP_ERR_MBEDTLS_SSL_SET_HOSTNAME_FAILED: 0x8012,
  ESP_ERR_MBEDTLS_SSL_CONFIG_DEFAULTS_FAILED: 0x8013,
  ESP_ERR_MBEDTLS_SSL_CONF_ALPN_PROTOCOLS_FAILED: 0x8014,
  ESP_ERR_MBEDTLS_X509_CRT_PARSE_FAILED: 0x8015,
  ESP_ERR_MBEDTLS_SSL_CONF_OWN_CERT_FAILED: 0x8016,
  ESP_ERR_MBEDTLS_SSL_SETUP_FAILED: 0x8017,
  ESP_ERR_MBEDTLS_SSL_WRITE_FAILED: 0x8018,
  ESP_ERR_MBEDTLS_PK_PARSE_KEY_FAILED: 0x8019,
  ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED: 0x801a,
  ESP_ERR_MBEDTLS_SSL_CONF_PSK_FAILED: 0x801b,
  ESP_ERR_MBEDTLS_SSL_TICKET_SETUP_FAILED: 0x801c,
};

const hex4 = (n: number) => Math.abs(n).toString(16).toUpperCase().padStart(4, '0');

const espNames = new Map(Object.entries(ESP_ERR).map(([name, code]) => [code, name]));

/** esp_err_to_name() for the codes hilt knows; others as ESP_ERR_0x.... */
export function espErrName(code: number): string {
  return espNames.get(code) ?? `ESP_ERR_0x${hex4(code)}`;
}

/**
 * Mbed TLS 3.6 error codes (include/mbedtls/*.h), negative as the library returns them.
 * esp-tls stores the positive value as esp_tls_stack_err; mbedtlsErrName accepts both.
 */
export const MBEDTLS_ERR: Record<string, number> = {
  // SSL (ssl.h)
  MBEDTLS_ERR_SSL_CRYPTO_IN_PROGRESS: -0x7000,
  MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE: -0x7080,
  MBEDTLS_ERR_SSL_BAD_INPUT_DATA: -0x7100,
  MBEDTLS_ERR_SSL_INVALID_MAC: -0x7180,
  MBEDTLS_ERR_SSL_INVALID_RECORD: -0x7200,
  MBEDTLS_ERR_SSL_CONN_EOF: -0x7280,
  MBEDTLS_ERR_SSL_DECODE_ERROR: -0x7300,
  MBEDTLS_ERR_SSL_NO_RNG: -0x7400,
  MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE: -0x7480,
  MBEDTLS_ERR_SSL_UNSUPPORTED_EXTENSION: -0x7500,
  MBEDTLS_ERR_SSL_NO_APPLICATION_PROTOCOL: -0x7580,
  MBEDTLS_ERR_SSL_PRIVATE_KEY_REQUIRED: -0x7600,
  MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED: -0x7680,
  MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE: -0x7700,
  MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: -0x7780,
  MBEDTLS_ERR_SSL_UNRECOGNIZED_NAME: -0x7800,
  MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY: -0x7880,
  MBEDTLS_ERR_SSL_BAD_CERTIFICATE: -0x7a00,
  MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET: -0x7b00,
  MBEDTLS_ERR_SSL_CANNOT_READ_EARLY_DATA: -0x7b80,
  MBEDTLS_ERR_SSL_RECEIVED_EARLY_DATA: -0x7c00,
  MBEDTLS_ERR_SSL_CANNOT_WRITE_EARLY_DATA: -0x7c80,
  MBEDTLS_ERR_SSL_CACHE_ENTRY_NOT_FOUND: -0x7e80,
  MBEDTLS_ERR_SSL_ALLOC_FAILED: -0x7f00,
  MBEDTLS_ERR_SSL_HW_ACCEL_FAILED: -0x7f80,
  MBEDTLS_ERR_SSL_HW_ACCEL_FALLTHROUGH: -0x6f80,
  MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION: -0x6e80,
  MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE: -0x6e00,
  MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED: -0x6d80,
  MBEDTLS_ERR_SSL_PK_TYPE_MISMATCH: -0x6d00,
  MBEDTLS_ERR_SSL_UNKNOWN_IDENTITY: -0x6c80,
  MBEDTLS_ERR_SSL_INTERNAL_ERROR: -0x6c00,
  MBEDTLS_ERR_SSL_COUNTER_WRAPPING: -0x6b80,
  MBEDTLS_ERR_SSL_WAITING_SERVER_HELLO_RENEGO: -0x6b00,
  MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED: -0x6a80,
  MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL: -0x6a00,
  MBEDTLS_ERR_SSL_WANT_READ: -0x6900,
  MBEDTLS_ERR_SSL_WANT_WRITE: -0x6880,
  MBEDTLS_ERR_SSL_TIMEOUT: -0x6800,
  MBEDTLS_ERR_SSL_CLIENT_RECONNECT: -0x6780,
  MBEDTLS_ERR_SSL_UNEXPECTED_RECORD: -0x6700,
  MBEDTLS_ERR_SSL_NON_FATAL: -0x6680,
  MBEDTLS_ERR_SSL_ILLEGAL_PARAMETER: -0x6600,
  MBEDTLS_ERR_SSL_CONTINUE_PROCESSING: -0x6580,
  MBEDTLS_ERR_SSL_ASYNC_IN_PROGRESS: -0x6500,
  MBEDTLS_ERR_SSL_EARLY_MESSAGE: -0x6480,
  MBEDTLS_ERR_SSL_UNEXPECTED_CID: -0x6000,
  MBEDTLS_ERR_SSL_VERSION_MISMATCH: -0x5f00,
  MBEDTLS_ERR_SSL_BAD_CONFIG: -0x5e80,
  // 3.6.3 (CVE-2025-27809): a client that never called mbedtls_ssl_set_hostname() and requires
  // verification. esp-tls calls it with NULL under skip_common_name, so it does not hit this.
  MBEDTLS_ERR_SSL_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME: -0x5d80,
  // X.509 (x509.h)
  MBEDTLS_ERR_X509_FEATURE_UNAVAILABLE: -0x2080,
  MBEDTLS_ERR_X509_UNKNOWN_OID: -0x2100,
  MBEDTLS_ERR_X509_INVALID_FORMAT: -0x2180,
  MBEDTLS_ERR_X509_INVALID_VERSION: -0x2200,
  MBEDTLS_ERR_X509_INVALID_SERIAL: -0x2280,
  MBEDTLS_ERR_X509_INVALID_ALG: -0x2300,
  MBEDTLS_ERR_X509_INVALID_NAME: -0x2380,
  MBEDTLS_ERR_X509_INVALID_DATE: -0x2400,
  MBEDTLS_ERR_X509_INVALID_SIGNATURE: -0x2480,
  MBEDTLS_ERR_X509_INVALID_EXTENSIONS: -0x2500,
  MBEDTLS_ERR_X509_UNKNOWN_VERSION: -0x2580,
  MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG: -0x2600,
  MBEDTLS_ERR_X509_SIG_MISMATCH: -0x2680,
  MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: -0x2700,
  MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT: -0x2780,
  MBEDTLS_ERR_X509_BAD_INPUT_DATA: -0x2800,
  MBEDTLS_ERR_X509_ALLOC_FAILED: -0x2880,
  MBEDTLS_ERR_X509_FILE_IO_ERROR: -0x2900,
  MBEDTLS_ERR_X509_BUFFER_TOO_SMALL: -0x2980,
  MBEDTLS_ERR_X509_FATAL_ERROR: -0x3000,
  // PEM (pem.h): what a CA bundle that is not PEM fails with
  MBEDTLS_ERR_PEM_NO_HEADER_FOOTER_PRESENT: -0x1080,
  MBEDTLS_ERR_PEM_INVALID_DATA: -0x1100,
  MBEDTLS_ERR_PEM_ALLOC_FAILED: -0x1180,
  MBEDTLS_ERR_PEM_INVALID_ENC_IV: -0x1200,
  MBEDTLS_ERR_PEM_UNKNOWN_ENC_ALG: -0x1280,
  MBEDTLS_ERR_PEM_PASSWORD_REQUIRED: -0x1300,
  MBEDTLS_ERR_PEM_PASSWORD_MISMATCH: -0x1380,
  MBEDTLS_ERR_PEM_FEATURE_UNAVAILABLE: -0x1400,
  MBEDTLS_ERR_PEM_BAD_INPUT_DATA: -0x1480,
  // PK (pk.h): private key parsing
  MBEDTLS_ERR_PK_ALLOC_FAILED: -0x3f80,
  MBEDTLS_ERR_PK_TYPE_MISMATCH: -0x3f00,
  MBEDTLS_ERR_PK_BAD_INPUT_DATA: -0x3e80,
  MBEDTLS_ERR_PK_FILE_IO_ERROR: -0x3e00,
  MBEDTLS_ERR_PK_KEY_INVALID_VERSION: -0x3d80,
  MBEDTLS_ERR_PK_KEY_INVALID_FORMAT: -0x3d00,
  MBEDTLS_ERR_PK_UNKNOWN_PK_ALG: -0x3c80,
  MBEDTLS_ERR_PK_PASSWORD_REQUIRED: -0x3c00,
  MBEDTLS_ERR_PK_PASSWORD_MISMATCH: -0x3b80,
  MBEDTLS_ERR_PK_INVALID_PUBKEY: -0x3b00,
  MBEDTLS_ERR_PK_INVALID_ALG: -0x3a80,
  MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE: -0x3a00,
  MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE: -0x3980,
  MBEDTLS_ERR_PK_SIG_LEN_MISMATCH: -0x3900,
  MBEDTLS_ERR_PK_BUFFER_TOO_SMALL: -0x3880,
  // ECP (ecp.h): ECDHE in the handshake
  MBEDTLS_ERR_ECP_BAD_INPUT_DATA: -0x4f80,
  MBEDTLS_ERR_ECP_BUFFER_TOO_SMALL: -0x4f00,
  MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE: -0x4e80,
  MBEDTLS_ERR_ECP_VERIFY_FAILED: -0x4e00,
  MBEDTLS_ERR_ECP_ALLOC_FAILED: -0x4d80,
  MBEDTLS_ERR_ECP_RANDOM_FAILED: -0x4d00,
  MBEDTLS_ERR_ECP_INVALID_KEY: -0x4c80,
  MBEDTLS_ERR_ECP_SIG_LEN_MISMATCH: -0x4c00,
  MBEDTLS_ERR_ECP_IN_PROGRESS: -0x4b00,
  // NET (net_sockets.h): what esp-tls's own bio functions do not use, but applications see
  MBEDTLS_ERR_NET_SOCKET_FAILED: -0x0042,
  MBEDTLS_ERR_NET_CONNECT_FAILED: -0x0044,
  MBEDTLS_ERR_NET_BIND_FAILED: -0x0046,
  MBEDTLS_ERR_NET_LISTEN_FAILED: -0x0048,
  MBEDTLS_ERR_NET_ACCEPT_FAILED: -0x004a,
  MBEDTLS_ERR_NET_RECV_FAILED: -0x004c,
  MBEDTLS_ERR_NET_SEND_FAILED: -0x004e,
  MBEDTLS_ERR_NET_CONN_RESET: -0x0050,
  MBEDTLS_ERR_NET_UNKNOWN_HOST: -0x0052,
  MBEDTLS_ERR_NET_BUFFER_TOO_SMALL: -0x0043,
  MBEDTLS_ERR_NET_INVALID_CONTEXT: -0x0045,
  MBEDTLS_ERR_NET_POLL_FAILED: -0x0047,
  MBEDTLS_ERR_NET_BAD_INPUT_DATA: -0x0049,
  // ASN.1 (asn1.h): the low half of composite X.509 parse errors
  MBEDTLS_ERR_ASN1_OUT_OF_DATA: -0x0060,
  MBEDTLS_ERR_ASN1_UNEXPECTED_TAG: -0x0062,
  MBEDTLS_ERR_ASN1_INVALID_LENGTH: -0x0064,
  MBEDTLS_ERR_ASN1_LENGTH_MISMATCH: -0x0066,
  MBEDTLS_ERR_ASN1_INVALID_DATA: -0x0068,
  MBEDTLS_ERR_ASN1_ALLOC_FAILED: -0x006a,
  MBEDTLS_ERR_ASN1_BUF_TOO_SMALL: -0x006c,
  MBEDTLS_ERR_MPI_ALLOC_FAILED: -0x0010,
  // MD (md.h): mbedtls_ssl_setup's transcript hashes are its last allocations (mbedtls_md_setup)
  MBEDTLS_ERR_MD_FEATURE_UNAVAILABLE: -0x5080,
  MBEDTLS_ERR_MD_BAD_INPUT_DATA: -0x5100,
  MBEDTLS_ERR_MD_ALLOC_FAILED: -0x5180,
  MBEDTLS_ERR_MD_FILE_IO_ERROR: -0x5200,
  // CTR_DRBG (ctr_drbg.h): esp-tls seeds one per connection, before anything else is parsed
  MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED: -0x0034,
  MBEDTLS_ERR_CTR_DRBG_REQUEST_TOO_BIG: -0x0036,
  MBEDTLS_ERR_CTR_DRBG_INPUT_TOO_BIG: -0x0038,
  MBEDTLS_ERR_CTR_DRBG_FILE_IO_ERROR: -0x003a,
  MBEDTLS_ERR_ERROR_GENERIC_ERROR: -0x0001,
  MBEDTLS_ERR_ERROR_CORRUPTION_DETECTED: -0x006e,
};

const mbedNames = new Map(Object.entries(MBEDTLS_ERR).map(([name, code]) => [-code, name]));

/**
 * The macro name of an Mbed TLS code, from the negative return value or esp-tls's positive
 * esp_tls_stack_err. Composite codes (a high-level module code plus a low-level one, as X.509
 * parse errors are) read "HIGH + LOW", the way mbedtls_strerror splits them.
 */
export function mbedtlsErrName(code: number): string {
  const abs = Math.abs(code);
  if (abs === 0) return 'OK';
  const whole = mbedNames.get(abs);
  if (whole) return whole;
  const high = mbedNames.get(abs & 0xff80);
  const low = mbedNames.get(abs & 0x007f);
  if (high && low) return `${high} + ${low}`;
  return `UNKNOWN_ERROR(-0x${hex4(abs)})`;
}

/** Mbed TLS's "-0x%04X" rendering (esp-tls logs -ret this way), from either sign. */
export function mbedtlsHex(code: number): string {
  return `-0x${hex4(code)}`;
}

// Verify flags and their strings are protocol vocabulary (verify_flags, verify_info in every
// connect result): they live in harness/protocol, which the emulator may import.
export { BADCERT, BADCRL, flagNames, verifyInfo, verifyInfoText } from '../../harness/protocol/index.ts';
import { BADCERT } from '../../harness/protocol/index.ts';

export type VerifyAlert =
  | 'access_denied' | 'bad_certificate' | 'unsupported_certificate' | 'certificate_expired'
  | 'certificate_revoked' | 'unknown_ca' | 'certificate_unknown';

/**
 * The fatal alert a Mbed TLS 3.6 client sends when certificate checks fail
 * (mbedtls_ssl_verify_certificate in ssl_tls.c): the first matching rule wins.
 */
const ALERT_RULES: ReadonlyArray<readonly [number, VerifyAlert]> = [
  [BADCERT.OTHER!, 'access_denied'],
  [BADCERT.CN_MISMATCH!, 'bad_certificate'],
  [BADCERT.KEY_USAGE! | BADCERT.EXT_KEY_USAGE! | BADCERT.BAD_PK! | BADCERT.BAD_KEY!, 'unsupported_certificate'],
  [BADCERT.EXPIRED!, 'certificate_expired'],
  [BADCERT.REVOKED!, 'certificate_revoked'],
  [BADCERT.NOT_TRUSTED!, 'unknown_ca'],
];

export function alertForFlags(flags: number): VerifyAlert {
  for (const [mask, alert] of ALERT_RULES) if ((flags & mask) !== 0) return alert;
  return 'certificate_unknown';
}
