/*
 * Prints, as one JSON object, what the built library says about itself: version, word sizes,
 * the width of its time_t (certificate dates are checked against it), record buffer lengths,
 * protocol versions, and the ciphersuites it offers in order
 * (mbedtls_ssl_list_ciphersuites, the list a client sends in its ClientHello by default), the
 * groups a default client configuration offers, and the curves compiled in.
 * test/native/mbedtls.spec.ts compares these with the emulator's model of the same sdkconfig.
 */
#include <stdio.h>
#include <string.h>

#include "mbedtls/bignum.h"
#include "mbedtls/ecp.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/version.h"

#if !defined(HILT_MBEDTLS_CONFIG_ESP32_IDF55)
#error "compile with -DMBEDTLS_CONFIG_FILE='\"mbedtls/esp32_idf55_config.h\"' (firmware/host/mbedtls/mbedtls.mk)"
#endif

#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TLS13 "true"
#else
#define TLS13 "false"
#endif
#if defined(MBEDTLS_HAVE_TIME_DATE)
#define TIME_DATE "true"
#else
#define TIME_DATE "false"
#endif
#if defined(MBEDTLS_PLATFORM_MEMORY)
#define PLATFORM_MEMORY "true"
#else
#define PLATFORM_MEMORY "false"
#endif

int main(void)
{
    char version[18];
    mbedtls_version_get_string(version);
    printf("{\"version\":\"%s\",\"pointerBits\":%u,\"limbBits\":%u,", version,
           (unsigned) (sizeof(void *) * 8), (unsigned) (sizeof(mbedtls_mpi_uint) * 8));
    printf("\"timeBits\":%u,", (unsigned) (sizeof(mbedtls_time_t) * 8));
    printf("\"inContentLen\":%d,\"outContentLen\":%d,", MBEDTLS_SSL_IN_CONTENT_LEN, MBEDTLS_SSL_OUT_CONTENT_LEN);
    printf("\"tls13\":%s,\"haveTimeDate\":%s,\"platformMemory\":%s,", TLS13, TIME_DATE, PLATFORM_MEMORY);
    printf("\"ciphersuites\":[");
    const int *ids = mbedtls_ssl_list_ciphersuites();
    for (int i = 0; ids[i] != 0; i++) {
        printf("%s\"%s\"", i ? "," : "", mbedtls_ssl_get_ciphersuite_name(ids[i]));
    }
    printf("],\"curves\":[");
    const mbedtls_ecp_curve_info *curve = mbedtls_ecp_curve_list();
    for (int i = 0; curve[i].grp_id != MBEDTLS_ECP_DP_NONE; i++) {
        printf("%s\"%s\"", i ? "," : "", curve[i].name);
    }
    /* The groups a client built with mbedtls_ssl_config_defaults() offers (ssl_preset_default_groups,
     * what esp-tls leaves alone). group_list is private: read here only to report it. */
    mbedtls_ssl_config conf;
    mbedtls_ssl_config_init(&conf);
    int ret = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    printf("],\"groups\":[");
    for (int i = 0; ret == 0 && conf.MBEDTLS_PRIVATE(group_list)[i] != 0; i++) {
        uint16_t id = conf.MBEDTLS_PRIVATE(group_list)[i];
        const mbedtls_ecp_curve_info *info = mbedtls_ecp_curve_info_from_tls_id(id);
        if (info != NULL) {
            printf("%s\"%s\"", i ? "," : "", info->name);
        } else {
            printf("%s\"0x%04x\"", i ? "," : "", (unsigned) id);
        }
    }
    mbedtls_ssl_config_free(&conf);
    printf("]}\n");
    return ret == 0 ? 0 : 1;
}
