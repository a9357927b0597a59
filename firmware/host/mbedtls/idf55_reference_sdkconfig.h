/*
 * The CONFIG_ values ESP-IDF v5.5 writes into sdkconfig.h for hilt's reference agent firmware
 * (emulator/mbedtls/sdkconfig.ts REFERENCE_SDKCONFIG) on an ESP32: every CONFIG_ name that
 * components/mbedtls/port/include/mbedtls/esp_config.h reads, resolved from
 * components/mbedtls/Kconfig (tag v5.5, line numbers below) and the ESP32's soc_caps.h.
 *
 * Not used by the build. check-against-idf.sh feeds it to ESP-IDF's own esp_config.h and
 * compares what comes out with esp32_idf55_config.h, so a mistake in either file shows.
 * A name that is absent here is "not set" (Kconfig writes nothing for n or unmet dependencies).
 */
#pragma once

/* Reference sdkconfig: the one option it changes from the Kconfig default (Kconfig:670). */
#define CONFIG_MBEDTLS_HAVE_TIME_DATE 1

/* Kconfig defaults, ESP32 target (SOC_AES/SHA/MPI_SUPPORTED, no ECC/ECDSA peripheral,
 * SOC_RSA_MAX_BIT_LEN 4096, no ROM Mbed TLS). */
#define CONFIG_MBEDTLS_INTERNAL_MEM_ALLOC 1          /* :3 choice default: not CUSTOM */
#define CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN 1      /* :74 */
#define CONFIG_MBEDTLS_SSL_IN_CONTENT_LEN 16384      /* :82 */
#define CONFIG_MBEDTLS_SSL_OUT_CONTENT_LEN 4096      /* :91 */
#define CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE 1   /* :239 */
#define CONFIG_MBEDTLS_PKCS7_C 1                     /* :248 */
#define CONFIG_MBEDTLS_HARDWARE_AES 1                /* :388 */
#define CONFIG_MBEDTLS_GCM_SUPPORT_NON_AES_CIPHER 1  /* :467 */
#define CONFIG_MBEDTLS_HARDWARE_MPI 1                /* :490; :502 LARGE_KEY_SOFTWARE_MPI n (4096 > 3072) */
#define CONFIG_MBEDTLS_HARDWARE_SHA 1                /* :534 */
#define CONFIG_MBEDTLS_ROM_MD5 1                     /* :566 */
#define CONFIG_MBEDTLS_HAVE_TIME 1                   /* :646 */
#define CONFIG_MBEDTLS_ECDSA_DETERMINISTIC 1         /* :699 */
#define CONFIG_MBEDTLS_SHA1_C 1                      /* :706 */
#define CONFIG_MBEDTLS_SHA512_C 1                    /* :721 */
#define CONFIG_MBEDTLS_TLS_SERVER_AND_CLIENT 1       /* :735 choice default */
#define CONFIG_MBEDTLS_TLS_SERVER 1                  /* :759 */
#define CONFIG_MBEDTLS_TLS_CLIENT 1                  /* :762 */
#define CONFIG_MBEDTLS_TLS_ENABLED 1                 /* :765 */
#define CONFIG_MBEDTLS_KEY_EXCHANGE_RSA 1            /* :807; DHE_RSA :813 needs DHM_C (n) */
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ELLIPTIC_CURVE 1 /* :820 */
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_RSA 1      /* :831 */
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA 1    /* :838 */
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA 1     /* :845 */
#define CONFIG_MBEDTLS_KEY_EXCHANGE_ECDH_RSA 1       /* :852 */
#define CONFIG_MBEDTLS_SSL_RENEGOTIATION 1           /* :868 */
#define CONFIG_MBEDTLS_SSL_PROTO_TLS1_2 1            /* :878; TLS1_3 :175 default n */
#define CONFIG_MBEDTLS_SSL_ALPN 1                    /* :897 */
#define CONFIG_MBEDTLS_CLIENT_SSL_SESSION_TICKETS 1  /* :904 */
#define CONFIG_MBEDTLS_SERVER_SSL_SESSION_TICKETS 1  /* :912 */
#define CONFIG_MBEDTLS_AES_C 1                       /* :922 */
#define CONFIG_MBEDTLS_CCM_C 1                       /* :956 */
#define CONFIG_MBEDTLS_GCM_C 1                       /* :965 */
#define CONFIG_MBEDTLS_PEM_PARSE_C 1                 /* :991 */
#define CONFIG_MBEDTLS_PEM_WRITE_C 1                 /* :1000 */
#define CONFIG_MBEDTLS_X509_CRL_PARSE_C 1            /* :1009 */
#define CONFIG_MBEDTLS_X509_CSR_PARSE_C 1            /* :1015 */
#define CONFIG_MBEDTLS_ECP_C 1                       /* :1023 */
#define CONFIG_MBEDTLS_PK_PARSE_EC_EXTENDED 1        /* :1027 */
#define CONFIG_MBEDTLS_PK_PARSE_EC_COMPRESSED 1      /* :1035 */
#define CONFIG_MBEDTLS_ECDH_C 1                      /* :1054 */
#define CONFIG_MBEDTLS_ECDSA_C 1                     /* :1061 */
#define CONFIG_MBEDTLS_ECP_DP_SECP192R1_ENABLED 1    /* :1075 */
#define CONFIG_MBEDTLS_ECP_DP_SECP224R1_ENABLED 1    /* :1082 */
#define CONFIG_MBEDTLS_ECP_DP_SECP256R1_ENABLED 1    /* :1089 */
#define CONFIG_MBEDTLS_ECP_DP_SECP384R1_ENABLED 1    /* :1096 */
#define CONFIG_MBEDTLS_ECP_DP_SECP521R1_ENABLED 1    /* :1103 */
#define CONFIG_MBEDTLS_ECP_DP_SECP192K1_ENABLED 1    /* :1110 */
#define CONFIG_MBEDTLS_ECP_DP_SECP224K1_ENABLED 1    /* :1117 */
#define CONFIG_MBEDTLS_ECP_DP_SECP256K1_ENABLED 1    /* :1124 */
#define CONFIG_MBEDTLS_ECP_DP_BP256R1_ENABLED 1      /* :1131 */
#define CONFIG_MBEDTLS_ECP_DP_BP384R1_ENABLED 1      /* :1138 */
#define CONFIG_MBEDTLS_ECP_DP_BP512R1_ENABLED 1      /* :1145 */
#define CONFIG_MBEDTLS_ECP_DP_CURVE25519_ENABLED 1   /* :1152 */
#define CONFIG_MBEDTLS_ECP_NIST_OPTIM 1              /* :1159; FIXED_POINT_OPTIM :1168 default n */
#define CONFIG_MBEDTLS_ERROR_STRINGS 1               /* :1227 */
#define CONFIG_MBEDTLS_FS_IO 1                       /* :1271 (VFS_SUPPORT_IO and _DIR default y) */
