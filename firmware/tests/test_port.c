#include "test_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The emulator's enabled suites for its reference sdkconfig (a few: the list's content is the port's). */
static const char *const SUITES[] = {
    "TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256",
    "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256",
    "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
    "TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384",
    "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
    "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
    "TLS-RSA-WITH-AES-128-GCM-SHA256",
};

static void record(test_port_t *tp, const char *text, size_t len)
{
    char *copy;
    if (tp->line_count == TP_MAX_LINES) return;
    copy = malloc(len + 1);
    if (copy == NULL) abort();
    memcpy(copy, text, len);
    copy[len] = '\0';
    tp->lines[tp->line_count++] = copy;
}

static void p_bind(void *ctx, struct hilt_core *core) { ((test_port_t *)ctx)->core = core; }

static int p_read(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
    test_port_t *tp = ctx;
    size_t left, n;
    if (tp->input == NULL || tp->input[tp->input_at] == '\0') {
        if (tp->input_ended) return -1;
        tp->uptime += timeout_ms; /* nothing came: the wait ran its course */
        return 0;
    }
    left = strlen(tp->input + tp->input_at);
    n = left < cap ? left : cap;
    if (tp->chunk > 0 && n > tp->chunk) n = tp->chunk;
    memcpy(buf, tp->input + tp->input_at, n);
    tp->input_at += n;
    return (int)n;
}

static void p_write_line(void *ctx, const char *line, size_t len) { record(ctx, line, len); }

static void p_log(void *ctx, hilt_log_level_t level, const char *tag, const char *message)
{
    char text[TP_LINE_BYTES];
    int n = snprintf(text, sizeof text, "%c %s: %s", (char)level, tag, message);
    record(ctx, text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void p_facts(void *ctx, hilt_facts_t *out) { *out = ((test_port_t *)ctx)->facts; }
static const char *p_reset_reason(void *ctx) { return ((test_port_t *)ctx)->reset_reason; }
static uint64_t p_uptime(void *ctx) { return ((test_port_t *)ctx)->uptime; }
static int64_t p_time_now(void *ctx) { return ((test_port_t *)ctx)->clock_epoch; }

static void p_time_set(void *ctx, int64_t epoch)
{
    test_port_t *tp = ctx;
    tp->time_sets++;
    tp->last_epoch = epoch;
    tp->clock_epoch = epoch;
}

static void p_time_clear(void *ctx)
{
    test_port_t *tp = ctx;
    tp->time_clears++;
    tp->clock_epoch = (int64_t)(tp->uptime / 1000);
}

static void p_heap_stats(void *ctx, hilt_heap_stats_t *out)
{
    test_port_t *tp = ctx;
    *out = tp->heap;
    out->free -= tp->reserved;
}

static uint32_t p_heap_reserve(void *ctx, uint32_t bytes)
{
    test_port_t *tp = ctx;
    uint32_t free_now = tp->heap.free - tp->reserved;
    uint32_t granted = bytes < free_now ? bytes : free_now;
    tp->reserved += granted;
    return granted;
}

static void p_heap_release(void *ctx)
{
    test_port_t *tp = ctx;
    tp->releases++;
    tp->reserved = 0;
}

static void p_restart(void *ctx)
{
    test_port_t *tp = ctx;
    tp->restarts++;
    tp->reset_reason = "SW_CPU_RESET";
    tp->mqtt_up = false;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "(null)");
}

static const char *p_connect(void *ctx, const hilt_connect_config_t *cfg, hilt_connect_result_t *res)
{
    test_port_t *tp = ctx;
    size_t i, at = 0;
    tp->connects++;
    tp->last_cfg = *cfg;
    copy_str(tp->last_host, sizeof tp->last_host, cfg->host);
    copy_str(tp->last_sni, sizeof tp->last_sni, cfg->sni);
    tp->last_has_ca = cfg->ca.data != NULL;
    copy_str(tp->last_ca, sizeof tp->last_ca, cfg->ca.data ? (const char *)cfg->ca.data : "");
    tp->last_has_cert = cfg->cert.data != NULL && cfg->key.data != NULL;
    tp->last_alpn[0] = '\0';
    for (i = 0; i < cfg->alpn_count; i++) {
        at += (size_t)snprintf(tp->last_alpn + at, sizeof tp->last_alpn - at, "%s%s", i ? "|" : "", cfg->alpn[i]);
    }
    if (cfg->alpn != NULL && cfg->alpn[cfg->alpn_count] != NULL) copy_str(tp->last_alpn, sizeof tp->last_alpn, "NOT NULL-TERMINATED");
    at = 0;
    tp->last_suites[0] = '\0';
    for (i = 0; i < cfg->ciphersuite_count; i++) {
        at += (size_t)snprintf(tp->last_suites + at, sizeof tp->last_suites - at, "%s%s", i ? "," : "", cfg->ciphersuites[i]);
    }
    tp->last_mqtt = cfg->mqtt != NULL;
    if (cfg->mqtt) {
        copy_str(tp->last_client_id, sizeof tp->last_client_id, cfg->mqtt->client_id);
        tp->last_has_password = cfg->mqtt->password.data != NULL;
        tp->last_password_len = cfg->mqtt->password.len;
    }
    if (tp->during_connect != NULL) {
        size_t n = tp->during_len ? tp->during_len : strlen(tp->during_connect);
        hilt_core_feed(tp->core, (const uint8_t *)tp->during_connect, n);
    }
    if (tp->connect_error != NULL) return tp->connect_error;
    *res = tp->result;
    tp->mqtt_up = cfg->mqtt != NULL && res->connected;
    return NULL;
}

static void p_close(void *ctx)
{
    test_port_t *tp = ctx;
    tp->closes++;
    tp->mqtt_up = false;
}

static bool p_mqtt_connected(void *ctx) { return ((test_port_t *)ctx)->mqtt_up; }

static const char *p_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos, bool retain,
                             bool *acked, uint32_t *ms)
{
    test_port_t *tp = ctx;
    (void)payload;
    (void)qos;
    (void)retain;
    copy_str(tp->last_topic, sizeof tp->last_topic, topic);
    tp->last_payload_len = len;
    *acked = tp->acked;
    *ms = tp->publish_ms;
    return NULL;
}

static const char *p_subscribe(void *ctx, const char *topic, int qos, int *granted)
{
    test_port_t *tp = ctx;
    (void)qos;
    copy_str(tp->last_topic, sizeof tp->last_topic, topic);
    *granted = tp->granted;
    return NULL;
}

void tp_init(test_port_t *tp, hilt_port_t *port)
{
    memset(tp, 0, sizeof *tp);
    tp->facts.fw_project = "hilt_test_agent";
    tp->facts.fw_version = "1.0.0";
    tp->facts.fw_idf = "v5.5";
    tp->facts.fw_elf_sha256 = NULL;
    tp->facts.chip_model = "ESP32";
    tp->facts.chip_revision = 3;
    tp->facts.chip_cores = 2;
    tp->facts.chip_mac = "24:0a:c4:00:00:01";
    tp->facts.mbedtls_version = "3.6.6";
    tp->facts.have_time_date = true;
    tp->facts.in_content_len = 16384;
    tp->facts.out_content_len = 4096;
    tp->facts.dynamic_buffer = false;
    tp->facts.tls13 = false;
    tp->facts.ciphersuites = SUITES;
    tp->facts.ciphersuite_count = sizeof SUITES / sizeof SUITES[0];
    tp->reset_reason = "POWERON_RESET";
    tp->heap.free = 147968;
    tp->heap.min_free = 140000;
    tp->heap.largest = 110592;
    tp->granted = 1;

    memset(port, 0, sizeof *port);
    port->ctx = tp;
    port->bind = p_bind;
    port->read = p_read;
    port->write_line = p_write_line;
    port->log = p_log;
    port->facts = p_facts;
    port->reset_reason = p_reset_reason;
    port->uptime_ms = p_uptime;
    port->time_now = p_time_now;
    port->time_set = p_time_set;
    port->time_clear = p_time_clear;
    port->heap_stats = p_heap_stats;
    port->heap_reserve = p_heap_reserve;
    port->heap_release = p_heap_release;
    port->restart = p_restart;
    port->connect = p_connect;
    port->close = p_close;
    port->mqtt_connected = p_mqtt_connected;
    port->mqtt_publish = p_publish;
    port->mqtt_subscribe = p_subscribe;
}

void tp_free(test_port_t *tp)
{
    size_t i;
    for (i = 0; i < tp->line_count; i++) free(tp->lines[i]);
    tp->line_count = 0;
}

const char *tp_take(test_port_t *tp)
{
    static char joined[TP_MAX_LINES * 128];
    size_t i, at = 0;
    joined[0] = '\0';
    for (i = 0; i < tp->line_count; i++) {
        size_t n = strlen(tp->lines[i]);
        if (at + n + 2 >= sizeof joined) break;
        if (i > 0) joined[at++] = '\n';
        memcpy(joined + at, tp->lines[i], n);
        at += n;
        joined[at] = '\0';
    }
    tp_free(tp);
    return joined;
}
