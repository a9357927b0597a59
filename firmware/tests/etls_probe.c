/*
 * One esp-tls connect from the command line, for tests of firmware/host/esp_tls_host.c against
 * real servers (the lab, openssl s_server). Prints the log lines esp-tls printed, then one
 * result line:
 *   result r=<1|0|-1> esp_err=<n> stack_err=<n> flags=<n> sock_errno=<n> version=<v> cipher=<c>
 *   peer=<subject> heap_peak=<bytes> heap_leak=<bytes>
 *
 *   etls-probe HOST PORT [--ca FILE] [--cert FILE --key FILE] [--sni NAME] [--skip-cn]
 *              [--epoch SECONDS] [--timeout MS] [--tls 1.2] [--suite NAME] [--alpn P]
 */
#define _POSIX_C_SOURCE 200809L
#define MBEDTLS_ALLOW_PRIVATE_ACCESS
#include "../host/esp_tls_host.h"
#include "../host/heap_count.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"

static long epoch_base = -1, epoch_at;

static long mono_ms(void *user)
{
    struct timespec ts;
    (void)user;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static mbedtls_time_t probe_time(mbedtls_time_t *out)
{
    mbedtls_time_t t = epoch_base >= 0 ? (mbedtls_time_t)(epoch_base + (mono_ms(NULL) - epoch_at) / 1000)
                                       : (mbedtls_time_t)(mono_ms(NULL) / 1000 % 100000); /* 1970 + uptime */
    if (out) *out = t;
    return t;
}

static void print_log(void *user, char level, const char *tag, const char *message)
{
    (void)user;
    printf("%c (0) %s: %s\n", level, tag, message);
}

static uint8_t *slurp(const char *path, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;
    if (!f) {
        fprintf(stderr, "etls-probe: cannot read %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
    fclose(f);
    *bytes = (size_t)n + 1; /* with the NUL, as esp-tls's *_bytes */
    return buf;
}

static void *counted(size_t n, size_t size) { return hc_calloc(n, size); }

int main(int argc, char **argv)
{
    etls_env_t env = { print_log, NULL, mono_ms, NULL };
    etls_cfg_t cfg;
    etls_t tls;
    static int suites[2];
    const char *alpn[2] = { NULL, NULL };
    uint8_t *bufs[3] = { NULL, NULL, NULL };
    int i, r;
    size_t before, peak;

    if (argc < 3) {
        fprintf(stderr, "usage: etls-probe HOST PORT [options]\n");
        return 2;
    }
    memset(&cfg, 0, sizeof cfg);
    for (i = 3; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--ca") == 0) { cfg.cacert_buf = bufs[0] = slurp(v, &cfg.cacert_bytes); i++; }
        else if (strcmp(a, "--cert") == 0) { cfg.clientcert_buf = bufs[1] = slurp(v, &cfg.clientcert_bytes); i++; }
        else if (strcmp(a, "--key") == 0) { cfg.clientkey_buf = bufs[2] = slurp(v, &cfg.clientkey_bytes); i++; }
        else if (strcmp(a, "--sni") == 0) { cfg.common_name = v; i++; }
        else if (strcmp(a, "--skip-cn") == 0) cfg.skip_common_name = 1;
        else if (strcmp(a, "--epoch") == 0) { epoch_base = atol(v); epoch_at = mono_ms(NULL); i++; }
        else if (strcmp(a, "--timeout") == 0) { cfg.timeout_ms = atoi(v); i++; }
        else if (strcmp(a, "--tls") == 0) { cfg.tls_version = strcmp(v, "1.2") == 0 ? ETLS_1_2 : ETLS_ANY; i++; }
        else if (strcmp(a, "--suite") == 0) { suites[0] = mbedtls_ssl_get_ciphersuite_id(v); cfg.ciphersuites_list = suites; i++; }
        else if (strcmp(a, "--alpn") == 0) { alpn[0] = v; cfg.alpn_protos = alpn; i++; }
        else { fprintf(stderr, "etls-probe: unknown option %s\n", a); return 2; }
    }
    hc_init(147968, 113792);
    mbedtls_platform_set_calloc_free(counted, hc_free);
    mbedtls_platform_set_time(probe_time);

    before = hc_free_bytes();
    hc_mark();
    etls_init(&tls, &env);
    r = etls_conn_new_sync(&tls, argv[1], atoi(argv[2]), &cfg);
    peak = before - hc_mark_min();
    {
        const mbedtls_ssl_session *s = r == 1 ? tls.ssl.session : tls.reached_server_hello ? tls.ssl.session_negotiate : NULL;
        const mbedtls_x509_crt *peer = r == 1 ? mbedtls_ssl_get_peer_cert(&tls.ssl) : NULL;
        const char *alpn_chosen = r == 1 ? mbedtls_ssl_get_alpn_protocol(&tls.ssl) : NULL;
        char subject[256] = "-";
        if (peer) mbedtls_x509_dn_gets(subject, sizeof subject, &peer->subject);
        printf("result r=%d esp_err=%d stack_err=%d flags=%d sock_errno=%d version=%s cipher=%s alpn=%s dns=%ld tcp=%ld tls=%ld heap_peak=%zu peer=%s\n",
               r, tls.error.last_error, tls.error.esp_tls_error_code, tls.error.esp_tls_flags, tls.error.sock_errno,
               s ? mbedtls_ssl_get_version(&tls.ssl) : "-",
               s ? mbedtls_ssl_get_ciphersuite_name(s->ciphersuite) : "-",
               alpn_chosen ? alpn_chosen : "-", tls.dns_ms, tls.tcp_ms, tls.tls_ms, peak, subject);
    }
    if (r == 1) (void)mbedtls_ssl_close_notify(&tls.ssl);
    etls_destroy(&tls);
    printf("heap_leak=%zu blocks=%zu\n", before - hc_free_bytes(), hc_live_blocks());
    for (i = 0; i < 3; i++) free(bufs[i]);
    return 0;
}
