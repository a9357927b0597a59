/*
 * Mbed TLS 3.6 configuration for hilt's host agent: what ESP-IDF v5.5 builds for hilt's reference
 * agent firmware on an ESP32 (emulator/mbedtls/sdkconfig.ts REFERENCE_SDKCONFIG: Kconfig defaults
 * plus CONFIG_MBEDTLS_HAVE_TIME_DATE=y).
 *
 * ESP-IDF builds Mbed TLS with -DMBEDTLS_CONFIG_FILE="mbedtls/esp_config.h"
 * (components/mbedtls/CMakeLists.txt:344); esp_config.h includes Mbed TLS's stock
 * mbedtls_config.h and then defines or undefines options from sdkconfig. This file does the same,
 * with every CONFIG_ value resolved for the reference sdkconfig (idf55_reference_sdkconfig.h
 * lists them with their Kconfig lines). "esp_config:N" below is a line of
 * components/mbedtls/port/include/mbedtls/esp_config.h at tag v5.5
 * (8c750b088c7cd857d079c0eeb495da199b359461). check-against-idf.sh compares the two headers'
 * resulting macro sets given an ESP-IDF checkout.
 *
 * Where the host must differ from the chip, it says HOST below. None of those changes what the
 * TLS handshake sends or decides; they change where entropy, time and memory come from, and use
 * Mbed TLS's software AES/SHA/bignum where the ESP32 uses its accelerators.
 */
#ifndef HILT_ESP32_IDF55_CONFIG_H
#define HILT_ESP32_IDF55_CONFIG_H

/* Consumers can check they compile against the same configuration the library was built with. */
#define HILT_MBEDTLS_CONFIG_ESP32_IDF55 1

#include "mbedtls/mbedtls_config.h" /* esp_config:29, the stock defaults */

/* Time (esp_config:57-104). CONFIG_MBEDTLS_HAVE_TIME=y, CONFIG_MBEDTLS_HAVE_TIME_DATE=y (the
 * reference sdkconfig's one change: certificate dates are checked). */
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
/* HOST: esp_config:64 defines MBEDTLS_PLATFORM_MS_TIME_ALT for ESP-IDF's own mbedtls_ms_time
 * (port/esp_timing.c); the host uses the library's clock_gettime one. */
#undef MBEDTLS_PLATFORM_MS_TIME_ALT
/* HOST: CONFIG_MBEDTLS_PLATFORM_TIME_ALT is n (esp_config:100), and the chip's agent moves the
 * clock certificates are checked against with settimeofday. The host agent must not move the
 * machine's clock, so it sets Mbed TLS's time source with mbedtls_platform_set_time, which needs
 * this option. Until it does, mbedtls_time is time(), as without the option. */
#define MBEDTLS_PLATFORM_TIME_ALT

/* Memory (esp_config:128-135): the allocator is pluggable. */
#define MBEDTLS_PLATFORM_MEMORY
/* HOST: no MBEDTLS_PLATFORM_STD_CALLOC/FREE (esp_mbedtls_mem_calloc from esp_mem.h, internal
 * RAM): the host agent installs its counting allocator with mbedtls_platform_set_calloc_free. */

/* Hardware acceleration (esp_config:150-239). HOST: CONFIG_MBEDTLS_HARDWARE_AES/SHA/MPI and
 * CONFIG_MBEDTLS_ROM_MD5 are y on the ESP32 and select MBEDTLS_AES_ALT, MBEDTLS_GCM_ALT,
 * MBEDTLS_SHA1/256/512_ALT, MBEDTLS_MD5_ALT, MBEDTLS_MPI_EXP_MOD_ALT and MBEDTLS_MPI_MUL_MPI_ALT,
 * which are ESP-IDF's drivers for the chip's peripherals. The host has none: it uses Mbed TLS's
 * software code, which computes the same results. One visible effect: the ESP32's MPI
 * peripheral handles at most 4096-bit operands (CONFIG_MBEDTLS_LARGE_KEY_SOFTWARE_MPI is n for
 * it), so RSA keys above 4096 bits fail on the chip and work here. No ECC peripheral on the
 * ESP32 (SOC_ECC_SUPPORTED), no ATECC608A options. */
#undef MBEDTLS_AES_ALT
#undef MBEDTLS_GCM_ALT
#undef MBEDTLS_SHA1_ALT
#undef MBEDTLS_SHA256_ALT
#undef MBEDTLS_SHA512_ALT
#undef MBEDTLS_MD5_ALT
#undef MBEDTLS_MPI_EXP_MOD_ALT
#undef MBEDTLS_MPI_EXP_MOD_ALT_FALLBACK
#undef MBEDTLS_MPI_MUL_MPI_ALT
#undef MBEDTLS_ECP_MUL_ALT
#undef MBEDTLS_ECP_MUL_ALT_SOFT_FALLBACK
#undef MBEDTLS_ECP_VERIFY_ALT
#undef MBEDTLS_ECP_VERIFY_ALT_SOFT_FALLBACK

/* HOST: esp_config:241-254 and :912-923 define MBEDTLS_ENTROPY_HARDWARE_ALT (the chip's RNG) and
 * MBEDTLS_NO_PLATFORM_ENTROPY except for CONFIG_IDF_TARGET_LINUX; the host is that case and uses
 * the operating system's entropy. */

/* Unconditional in esp_config:263-314. */
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_CIPHER_MODE_CBC
#define MBEDTLS_CIPHER_MODE_CFB
#define MBEDTLS_CIPHER_MODE_CTR
#define MBEDTLS_CIPHER_MODE_OFB
#define MBEDTLS_CIPHER_MODE_XTS
#define MBEDTLS_CIPHER_PADDING_PKCS7
#define MBEDTLS_CIPHER_PADDING_ONE_AND_ZEROS
#define MBEDTLS_CIPHER_PADDING_ZEROS_AND_LEN
#define MBEDTLS_CIPHER_PADDING_ZEROS

/* esp_config:363-423: ECP_RESTARTABLE, ECDH_LEGACY_CONTEXT, CMAC_C all n. */
#undef MBEDTLS_ECP_RESTARTABLE
#undef MBEDTLS_ECDH_LEGACY_CONTEXT
#undef MBEDTLS_CMAC_C

/* Curves (esp_config:434-497): every CONFIG_MBEDTLS_ECP_DP_* is y; ESP-IDF has no Curve448. */
#define MBEDTLS_ECP_DP_SECP192R1_ENABLED
#define MBEDTLS_ECP_DP_SECP224R1_ENABLED
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_SECP521R1_ENABLED
#define MBEDTLS_ECP_DP_SECP192K1_ENABLED
#define MBEDTLS_ECP_DP_SECP224K1_ENABLED
#define MBEDTLS_ECP_DP_SECP256K1_ENABLED
#define MBEDTLS_ECP_DP_BP256R1_ENABLED
#define MBEDTLS_ECP_DP_BP384R1_ENABLED
#define MBEDTLS_ECP_DP_BP512R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#undef MBEDTLS_ECP_DP_CURVE448_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM               /* esp_config:508 */
#undef MBEDTLS_ECP_FIXED_POINT_OPTIM         /* esp_config:521-525: n gives 0, which saves heap */
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_ECDSA_DETERMINISTIC          /* esp_config:539 */

/* Key exchanges (esp_config:564-838): no PSK (CONFIG_MBEDTLS_PSK_MODES n), no DHE-RSA
 * (CONFIG_MBEDTLS_DHM_C n), no EC J-PAKE; RSA, ECDHE-RSA, ECDHE-ECDSA, ECDH-ECDSA, ECDH-RSA. */
#undef MBEDTLS_KEY_EXCHANGE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED
#define MBEDTLS_KEY_EXCHANGE_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED
#undef MBEDTLS_KEY_EXCHANGE_ECJPAKE_ENABLED

#define MBEDTLS_PK_PARSE_EC_EXTENDED         /* esp_config:852 */
#define MBEDTLS_PK_PARSE_EC_COMPRESSED       /* esp_config:869 */
#define MBEDTLS_ERROR_STRERROR_DUMMY         /* esp_config:888 */
#define MBEDTLS_GENPRIME                     /* esp_config:897 */
#define MBEDTLS_FS_IO                        /* esp_config:904 */
#define MBEDTLS_PK_RSA_ALT_SUPPORT           /* esp_config:932 */
#define MBEDTLS_PKCS1_V15                    /* esp_config:943 */
#define MBEDTLS_PKCS1_V21                    /* esp_config:954 */
#define MBEDTLS_SELF_TEST                    /* esp_config:961 */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES       /* esp_config:975 */

/* TLS (esp_config:999-1580). */
#undef MBEDTLS_SSL_DTLS_CONNECTION_ID
#undef MBEDTLS_SSL_DTLS_CONNECTION_ID_COMPAT
#undef MBEDTLS_SSL_CONTEXT_SERIALIZATION
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_FALLBACK_SCSV
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#undef MBEDTLS_SSL_CBC_RECORD_SPLITTING
#define MBEDTLS_SSL_RENEGOTIATION
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_PROTO_TLS1_2
#undef MBEDTLS_SSL_PROTO_TLS1_3              /* esp_config:1242; Kconfig default n in v5.5 */
#undef MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_ENABLED
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#undef MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_TICKET_AGE_TOLERANCE 6000
#define MBEDTLS_SSL_TLS1_3_TICKET_NONCE_LENGTH 32
#define MBEDTLS_SSL_TLS1_3_DEFAULT_NEW_SESSION_TICKETS 1
#define MBEDTLS_SSL_MAX_EARLY_DATA_SIZE 1024
#undef MBEDTLS_SSL_PROTO_DTLS
#define MBEDTLS_SSL_ALPN
#undef MBEDTLS_SSL_DTLS_ANTI_REPLAY
#undef MBEDTLS_SSL_DTLS_HELLO_VERIFY
#undef MBEDTLS_SSL_DTLS_SRTP
#undef MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_EXPORT_KEYS
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#undef MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH
#define MBEDTLS_VERSION_FEATURES
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
#define MBEDTLS_AESNI_C                      /* esp_config:1629 (a no-op on the chip) */

/* Modules (esp_config:1704-2871). Ciphers: AES, CCM, GCM; no Camellia, DES, Blowfish, XTEA,
 * ChaCha20/Poly1305, NIST KW. Hashes: SHA-1, SHA-224/256, SHA-384/512, MD5; no SHA-3, RIPEMD. */
#define MBEDTLS_AES_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_BIGNUM_C
#undef MBEDTLS_BLOWFISH_C
#undef MBEDTLS_CAMELLIA_C
#define MBEDTLS_CCM_C
#define MBEDTLS_CERTS_C
#undef MBEDTLS_CHACHA20_C
#undef MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CTR_DRBG_C
#undef MBEDTLS_DEBUG_C                       /* CONFIG_MBEDTLS_DEBUG n */
#undef MBEDTLS_DES_C
#undef MBEDTLS_DHM_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#undef MBEDTLS_ECJPAKE_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_ERROR_C                      /* CONFIG_MBEDTLS_ERROR_STRINGS y */
#undef MBEDTLS_SSL_CLI_ALLOW_WEAK_CERTIFICATE_VERIFICATION_WITHOUT_HOSTNAME
#define MBEDTLS_GCM_C
#undef MBEDTLS_HKDF_C
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_MD_C
#define MBEDTLS_MD5_C
#undef MBEDTLS_NET_C                         /* esp_config:2252: esp-tls has its own sockets */
#define MBEDTLS_OID_C
#define MBEDTLS_PADLOCK_C                    /* esp_config:2291 (a no-op on the chip) */
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_PKCS5_C
#define MBEDTLS_PKCS7_C
#define MBEDTLS_PKCS12_C
#define MBEDTLS_PLATFORM_C
#undef MBEDTLS_POLY1305_C
#undef MBEDTLS_RIPEMD160_C
#define MBEDTLS_RSA_C
#define MBEDTLS_SHA1_C
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#undef MBEDTLS_SHA3_C
#define MBEDTLS_SSL_CACHE_C
#define MBEDTLS_SSL_COOKIE_C
#define MBEDTLS_SSL_TICKET_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_TLS_C
#undef MBEDTLS_TIMING_C                      /* esp_config:2712 */
#define MBEDTLS_VERSION_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_CRL_PARSE_C
#define MBEDTLS_X509_CSR_PARSE_C
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C
#undef MBEDTLS_X509_TRUSTED_CERTIFICATE_CALLBACK
#define MBEDTLS_X509_CSR_WRITE_C
#undef MBEDTLS_XTEA_C

/* Record buffers (esp_config:2891-2974): CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN=y, so the incoming
 * and outgoing lengths are separate: 16384 in (a peer may send full records), 4096 out. */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096
#undef MBEDTLS_SSL_CID_IN_LEN_MAX
#undef MBEDTLS_SSL_CID_OUT_LEN_MAX
#undef MBEDTLS_SSL_CID_TLS1_3_PADDING_GRANULARITY

#define MBEDTLS_TLS_DEFAULT_ALLOW_SHA1_IN_KEY_EXCHANGE /* esp_config:2989 */
#undef MBEDTLS_THREADING_C                   /* esp_config:3011-3045: CONFIG_MBEDTLS_THREADING_C n */
#undef MBEDTLS_THREADING_ALT
#undef MBEDTLS_THREADING_PTHREAD
#undef MBEDTLS_NIST_KW_C
#define MBEDTLS_DEPRECATED_REMOVED           /* esp_config:3083 */

#endif /* HILT_ESP32_IDF55_CONFIG_H */
