/*
 * The host agent: hilt's test agent on POSIX, with stdin/stdout as the board's UART.
 *
 * This file is the host port (hilt_port.h): console, clock, heap, restart, and connections made
 * by esp_tls_host.c (esp-tls over the real Mbed TLS 3.6) and mqtt311.c (in place of esp-mqtt).
 * Mbed TLS allocates through heap_count.c, so heap figures are the library's own allocations
 * (`source: "device"`), and it reads certificate dates from the agent's clock.
 *
 *   hilt-agent [--heap BYTES] [--largest BYTES] [--log-level 0..5] [--log-colors] [--mac MAC]
 *
 * Exit: 0 when stdin ends or on SIGTERM/SIGINT (connection closed, memory freed), 2 for a bad
 * option (one line on stderr).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hilt_agent.h"
#include "hilt_port.h"

#include "connect_stack.h"
#include "esp_tls_host.h"
#include "heap_count.h"
#include "mqtt311.h"

#include "mbedtls/platform.h"
#include "mbedtls/platform_time.h"
#include "mbedtls/sha256.h"
#include "mbedtls/ssl_ciphersuites.h"
#include "mbedtls/version.h"

#if !defined(MBEDTLS_PLATFORM_MEMORY) || !defined(MBEDTLS_PLATFORM_TIME_ALT)
#error "the host agent needs MBEDTLS_PLATFORM_MEMORY and MBEDTLS_PLATFORM_TIME_ALT (host/mbedtls/esp32_idf55_config.h)"
#endif

/* The emulator's ESP32 figures (emulator/heap.ts): free heap after boot with Wi-Fi up, and the
 * largest DRAM region one allocation can get. */
#define DEFAULT_HEAP 147968u
#define DEFAULT_LARGEST 113792u
#define OP_TIMEOUT_MS 10000

typedef struct {
    struct hilt_core *core;
    long boot_ms;               /* monotonic ms at the last (re)start */
    int restarts;
    int synced;
    int64_t set_epoch;          /* the clock as time.set gave it ... */
    long set_at_ms;             /* ... and when */
    int log_level;
    int log_colors;
    char mac[18];
    int stdin_eof;
    int after_panic;            /* started again by the stack-overflow panic (connect_stack.c) */
    /* the open connection: esp-tls's handle, allocated from the board's heap as esp_tls_init does */
    etls_t *tls;
    int mqtt_up;
    mqtt_client_t mqtt;
} host_t;

static host_t H;

/* SIGTERM/SIGINT end the agent as the end of its input does: the connection is closed and
 * everything freed, so a sanitizer build can check for leaks at exit. */
static volatile sig_atomic_t terminated;

static void on_terminate(int sig)
{
    (void)sig;
    terminated = 1;
}

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static long now_cb(void *user) { (void)user; return mono_ms(); }

/* ---- console ---- */

static void write_line(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    /* One fwrite per line: stdout is the UART and a line goes out whole. */
    static char buf[HILT_MAX_LINE * 8];
    if (len + 1 <= sizeof buf) {
        memcpy(buf, line, len);
        buf[len] = '\n';
        fwrite(buf, 1, len + 1, stdout);
    } else {
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
    }
    fflush(stdout);
}

static int level_number(char level)
{
    switch (level) {
    case 'E': return 1;
    case 'W': return 2;
    case 'I': return 3;
    case 'D': return 4;
    default: return 5;
    }
}

/* ESP_LOGx: "L (ms) tag: message", coloured as CONFIG_LOG_COLORS does for E, W and I. */
static void log_line(char level, const char *tag, const char *message)
{
    char line[1024];
    const char *colour = !H.log_colors ? NULL
        : level == 'E' ? "\x1b[0;31m" : level == 'W' ? "\x1b[0;33m" : level == 'I' ? "\x1b[0;32m" : NULL;
    int n;
    if (level_number(level) > H.log_level) return;
    n = snprintf(line, sizeof line, "%s%c (%ld) %s: %s%s", colour ? colour : "", level,
                 mono_ms() - H.boot_ms, tag, message, colour ? "\x1b[0m" : "");
    if (n < 0) return;
    write_line(NULL, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void port_log(void *ctx, hilt_log_level_t level, const char *tag, const char *message)
{
    (void)ctx;
    log_line((char)level, tag, message);
}

static void etls_log(void *user, char level, const char *tag, const char *message)
{
    (void)user;
    log_line(level, tag, message);
}

static void logf_(char level, const char *tag, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(level, tag, msg);
}

/* Reads what stdin has now into the core (a command sent while another runs gets `busy`). */
static void feed_stdin(void)
{
    uint8_t buf[512];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n > 0 && H.core) hilt_core_feed(H.core, buf, (size_t)n);
    else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) H.stdin_eof = 1;
}

/* The wait esp-tls and the MQTT client do: for the socket, reading the console meanwhile. */
static int wait_fd(void *user, int fd, short events, int timeout_ms)
{
    long deadline = mono_ms() + timeout_ms;
    (void)user;
    for (;;) {
        struct pollfd p[2];
        int n = 1, r;
        long left = deadline - mono_ms();
        p[0].fd = fd;
        p[0].events = events;
        p[0].revents = 0;
        if (!H.stdin_eof) {
            p[1].fd = STDIN_FILENO;
            p[1].events = POLLIN;
            p[1].revents = 0;
            n = 2;
        }
        r = poll(p, (nfds_t)n, left > 0 ? (int)left : 0);
        if (terminated) return 0; /* gives up as a timeout would; the agent ends after the reply */
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (n == 2 && p[1].revents) feed_stdin();
        if (p[0].revents) return 1;
        if (left <= 0) return 0;
    }
}

/* ---- MQTT over the TLS connection ---- */

static int mqtt_send(void *ctx, const uint8_t *buf, size_t len)
{
    return etls_write(ctx, buf, len) == (int)len ? (int)len : -1;
}

static int mqtt_recv(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    int r = etls_read(ctx, buf, len, timeout_ms);
    if (r == ETLS_READ_TIMEOUT) return MQTT_IO_TIMEOUT;
    return r < 0 ? -1 : r;
}

static void on_message(void *user, const char *topic, size_t topic_len, int qos, const uint8_t *payload, size_t len)
{
    (void)user;
    if (H.core) hilt_core_mqtt_message(H.core, topic, topic_len, qos, payload, len);
}

static void close_connection(void)
{
    if (!H.tls) return;
    if (H.mqtt_up) mqtt_client_disconnect(&H.mqtt);
    if (H.tls->handle_ready) (void)mbedtls_ssl_close_notify(&H.tls->ssl);
    etls_destroy(H.tls);
    hc_free(H.tls);
    H.tls = NULL;
    H.mqtt_up = 0;
}

/* The broker ended the session without mqtt.disconnect. */
static void mqtt_lost(const char *reason)
{
    logf_('I', "hil_agent", "MQTT_EVENT_DISCONNECTED");
    H.mqtt_up = 0;
    close_connection();
    if (H.core) hilt_core_mqtt_disconnected(H.core, reason);
}

/* Reads what the broker sent, delivering messages; keeps the session alive. */
static void service_mqtt(int timeout_ms)
{
    mqtt_status_t s;
    if (!H.mqtt_up) return;
    s = mqtt_client_poll(&H.mqtt, timeout_ms);
    if (s != MQTT_OK) mqtt_lost("connection closed by broker");
}

static int port_read(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms)
{
    long deadline = mono_ms() + (long)timeout_ms;
    (void)ctx;
    for (;;) {
        struct pollfd p[2];
        int n = 0, r;
        long left = deadline - mono_ms();
        if (H.mqtt_up && etls_pending(H.tls) > 0) service_mqtt(0);
        if (H.stdin_eof || terminated) return -1;
        p[n].fd = STDIN_FILENO;
        p[n].events = POLLIN;
        p[n++].revents = 0;
        if (H.mqtt_up) {
            p[n].fd = H.tls->sockfd;
            p[n].events = POLLIN;
            p[n++].revents = 0;
            /* Wake for the keepalive's PINGREQ too. */
            if (H.mqtt.keepalive_s > 0 && left > 1000) left = 1000;
        }
        r = poll(p, (nfds_t)n, left > 0 ? (int)left : 0);
        if (terminated) {
            H.stdin_eof = 1;
            return -1;
        }
        if (r < 0 && errno == EINTR) continue;
        if (n == 2 && (p[1].revents || H.mqtt.keepalive_s > 0)) service_mqtt(0);
        if (p[0].revents) {
            ssize_t got = read(STDIN_FILENO, buf, cap);
            if (got > 0) return (int)got;
            if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                H.stdin_eof = 1;
                return -1;
            }
        }
        if (deadline - mono_ms() <= 0) return 0;
    }
}

/* ---- identity, clock, heap ---- */

static const char *suite_names[ETLS_MAX_SUITES];
static size_t suite_count;

static void port_facts(void *ctx, hilt_facts_t *out)
{
    static char version[16];
    const int *ids = mbedtls_ssl_list_ciphersuites();
    (void)ctx;
    if (suite_count == 0)
        for (; *ids && suite_count < ETLS_MAX_SUITES; ids++) suite_names[suite_count++] = mbedtls_ssl_get_ciphersuite_name(*ids);
    mbedtls_version_get_string(version);
    memset(out, 0, sizeof *out);
    out->fw_project = "hilt_test_agent";
    out->fw_version = HILT_AGENT_VERSION;
    out->fw_idf = "v5.5";
    out->fw_elf_sha256 = NULL;
    /* Not an ESP32: ESP-IDF's name for its POSIX target. */
    out->chip_model = "linux";
    out->chip_revision = 0;
    out->chip_cores = 1;
    out->chip_mac = H.mac;
    out->mbedtls_version = version;
#if defined(MBEDTLS_HAVE_TIME_DATE)
    out->have_time_date = true;
#endif
    out->in_content_len = MBEDTLS_SSL_IN_CONTENT_LEN;
    out->out_content_len = MBEDTLS_SSL_OUT_CONTENT_LEN;
    out->dynamic_buffer = false;
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    out->tls13 = true;
#endif
    out->ciphersuites = suite_names;
    out->ciphersuite_count = suite_count;
}

static const char *port_reset_reason(void *ctx)
{
    (void)ctx;
    return H.restarts ? "SW_CPU_RESET" : H.after_panic ? "PANIC" : "POWERON_RESET";
}

static uint64_t port_uptime(void *ctx) { (void)ctx; return (uint64_t)(mono_ms() - H.boot_ms); }

static int64_t clock_now(void)
{
    long t = mono_ms();
    if (H.synced) return H.set_epoch + (t - H.set_at_ms) / 1000;
    return (t - H.boot_ms) / 1000;
}

/* Mbed TLS's time(): certificate dates are judged by the agent's clock, not the host's. */
static mbedtls_time_t mbedtls_clock(mbedtls_time_t *out)
{
    int64_t now = clock_now();
    mbedtls_time_t t;
    /* An ESP32's time_t has 64 bits (ESP-IDF 5); a 32-bit Linux build has 32 unless built with
     * _TIME_BITS=64. Past 2038 such a build cannot say the date: say so rather than wrap. */
    if (sizeof(mbedtls_time_t) < sizeof(int64_t) && now > INT32_MAX) {
        static int warned;
        if (!warned) log_line('W', "hil_agent", "the clock is past 2038, which this build's 32-bit time_t cannot hold: Mbed TLS sees 2038-01-19");
        warned = 1;
        now = INT32_MAX;
    }
    t = (mbedtls_time_t)now;
    if (out) *out = t;
    return t;
}

static int64_t port_time_now(void *ctx) { (void)ctx; return clock_now(); }

static void port_time_set(void *ctx, int64_t epoch)
{
    (void)ctx;
    H.synced = 1;
    H.set_epoch = epoch;
    H.set_at_ms = mono_ms();
}

static void port_time_clear(void *ctx) { (void)ctx; H.synced = 0; }

static void port_heap_stats(void *ctx, hilt_heap_stats_t *out)
{
    (void)ctx;
    out->free = (uint32_t)hc_free_bytes();
    out->min_free = (uint32_t)hc_min_free();
    out->largest = (uint32_t)hc_largest();
}

static uint32_t port_heap_reserve(void *ctx, uint32_t bytes) { (void)ctx; return (uint32_t)hc_reserve(bytes); }
static void port_heap_release(void *ctx) { (void)ctx; hc_release(); }

static void port_restart(void *ctx)
{
    (void)ctx;
    close_connection();
    H.synced = 0;
    H.restarts++;
    H.boot_ms = mono_ms();
    hc_restart();
}

/* ---- connections ---- */

static const char *const CONNACK_TEXT[] = {
    NULL, "Connection refused, bad protocol", NULL, "Connection refused, server unavailable",
    "Connection refused, bad username or password", "Connection refused, not authorized",
};

/* esp-mqtt's lines when its transport could not connect. */
static void mqtt_transport_error(void)
{
    logf_('E', "mqtt_client", "Error transport connect");
    logf_('I', "hil_agent", "MQTT_EVENT_ERROR");
    logf_('I', "hil_agent", "MQTT_EVENT_DISCONNECTED");
}

static void fill_tls_info(hilt_connect_result_t *res, int complete)
{
    const mbedtls_ssl_session *s = complete ? H.tls->ssl.MBEDTLS_PRIVATE(session) : H.tls->ssl.MBEDTLS_PRIVATE(session_negotiate);
    const char *name;
    if (!s) return;
    res->has_tls = true;
    snprintf(res->version, sizeof res->version, "%s", mbedtls_ssl_get_version(&H.tls->ssl));
    name = mbedtls_ssl_get_ciphersuite_name(s->MBEDTLS_PRIVATE(ciphersuite));
    snprintf(res->cipher, sizeof res->cipher, "%s", name ? name : "unknown");
    if (!complete) return;
#if defined(MBEDTLS_SSL_ALPN)
    {
        const char *alpn = mbedtls_ssl_get_alpn_protocol(&H.tls->ssl);
        if (alpn) {
            res->has_alpn = true;
            snprintf(res->alpn, sizeof res->alpn, "%s", alpn);
        }
    }
#endif
    {
        /* mbedtls_ssl_get_peer_cert is NULL until a handshake completes, as on the board. */
        const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&H.tls->ssl);
        if (peer) {
            unsigned char digest[32];
            int i;
            res->has_peer = true;
            if (mbedtls_x509_dn_gets(res->peer_subject, sizeof res->peer_subject, &peer->subject) < 0) res->peer_subject[0] = 0;
            if (mbedtls_x509_dn_gets(res->peer_issuer, sizeof res->peer_issuer, &peer->issuer) < 0) res->peer_issuer[0] = 0;
            mbedtls_sha256(peer->raw.p, peer->raw.len, digest, 0);
            for (i = 0; i < 32; i++) snprintf(res->peer_sha256 + 2 * i, 3, "%02x", digest[i]);
        }
    }
}

/* The lists Mbed TLS keeps pointers to while the connection is open (the core's strings live
 * only for the call): the agent's own memory, as an app's esp_tls_cfg_t is, not the heap. */
static int suites[ETLS_MAX_SUITES + 1];
static char alpn_store[ETLS_MAX_ALPN][ETLS_ALPN_LEN];
static const char *alpn_list[ETLS_MAX_ALPN + 1];

/* The connect itself; port_connect runs it in the connect task (connect_stack.c). */
static const char *connect_now(const hilt_connect_config_t *cfg, hilt_connect_result_t *res)
{
    etls_env_t env = { etls_log, wait_fd, now_cb, NULL };
    etls_cfg_t tc;
    size_t i, n = 0;
    int r;
    long mqtt_start;

    close_connection();
    memset(&tc, 0, sizeof tc);
    tc.common_name = cfg->sni;
    if (cfg->ca.data) { tc.cacert_buf = cfg->ca.data; tc.cacert_bytes = cfg->ca.len + 1; }
    if (cfg->cert.data) { tc.clientcert_buf = cfg->cert.data; tc.clientcert_bytes = cfg->cert.len + 1; }
    if (cfg->key.data) { tc.clientkey_buf = cfg->key.data; tc.clientkey_bytes = cfg->key.len + 1; }
    if (cfg->ciphers_given) {
        for (i = 0; i < cfg->ciphersuite_count && n < ETLS_MAX_SUITES; i++) {
            int id = mbedtls_ssl_get_ciphersuite_id(cfg->ciphersuites[i]);
            if (id) suites[n++] = id;
        }
        suites[n] = 0;
        tc.ciphersuites_list = suites;
    }
    tc.tls_version = cfg->tls == HILT_TLS_1_2 ? ETLS_1_2 : cfg->tls == HILT_TLS_1_3 ? ETLS_1_3 : ETLS_ANY;
    tc.timeout_ms = (int)cfg->timeout_ms;
    tc.skip_common_name = cfg->skip_cn;
    if (cfg->alpn) {
        for (n = 0; n < cfg->alpn_count && n < ETLS_MAX_ALPN && cfg->alpn[n]; n++) {
            snprintf(alpn_store[n], sizeof alpn_store[n], "%s", cfg->alpn[n]);
            alpn_list[n] = alpn_store[n];
        }
        alpn_list[n] = NULL;
        tc.alpn_protos = alpn_list;
    }

    res->heap_before = (uint32_t)hc_free_bytes();
    res->heap_source = HILT_SOURCE_DEVICE;
    res->timing_source = HILT_SOURCE_DEVICE;
    hc_mark();
    H.tls = hc_calloc(1, sizeof *H.tls);
    if (!H.tls) {
        /* esp_tls_init() returns NULL; there is no connection to report on. */
        logf_('E', "transport_base", "Failed to open a new connection");
        if (cfg->mqtt) {
            mqtt_transport_error();
            res->mqtt_error_type = HILT_MQTT_ERROR_TCP_TRANSPORT;
        }
        res->esp_err = ESP_ERR_NO_MEM;
        goto done;
    }
    etls_init(H.tls, &env);
    r = etls_conn_new_sync(H.tls, cfg->host, cfg->port, &tc);
    res->dns_ms = (int32_t)H.tls->dns_ms;
    res->tcp_ms = (int32_t)H.tls->tcp_ms;
    res->tls_ms = (int32_t)H.tls->tls_ms;
    if (r != 1) {
        if (H.tls->reached_server_hello) fill_tls_info(res, 0);
        res->esp_err = H.tls->error.last_error;
        res->stack_err = H.tls->error.esp_tls_error_code;
        res->verify_flags = (uint32_t)H.tls->error.esp_tls_flags;
        res->sock_errno = H.tls->error.sock_errno;
        close_connection();
        /* esp-mqtt's transport (and the agent, for tls.connect) report a failed open. */
        logf_('E', "transport_base", "Failed to open a new connection");
        if (cfg->mqtt) {
            mqtt_transport_error();
            res->mqtt_error_type = HILT_MQTT_ERROR_TCP_TRANSPORT;
        }
        goto done;
    }
    fill_tls_info(res, 1);
    if (!cfg->mqtt) {
        res->connected = true;
        goto done;
    }

    /* esp-mqtt: CONNECT, then CONNACK within the network timeout. */
    {
        mqtt_io_t io = { mqtt_send, mqtt_recv, now_cb, H.tls };
        mqtt_connect_opts_t o;
        int connack, present;
        mqtt_status_t s;
        o.client_id = cfg->mqtt->client_id;
        o.keepalive_s = (int)cfg->mqtt->keepalive;
        o.clean = cfg->mqtt->clean;
        o.username = cfg->mqtt->username;
        o.password = cfg->mqtt->password.data;
        o.password_len = cfg->mqtt->password.len;
        mqtt_client_init(&H.mqtt, &io, on_message, NULL);
        mqtt_start = mono_ms();
        s = mqtt_client_connect(&H.mqtt, &o, (int)cfg->timeout_ms, &connack, &present);
        res->mqtt_ms = (int32_t)(mono_ms() - mqtt_start);
        if (s == MQTT_OK) {
            H.mqtt_up = 1;
            res->connected = true;
            res->has_mqtt = true;
            res->session_present = present;
            res->mqtt_connack = 0;
            logf_('I', "hil_agent", "MQTT_EVENT_CONNECTED");
            goto done;
        }
        close_connection();
        if (s == MQTT_REFUSED) {
            const char *text = connack > 0 && connack <= 5 && CONNACK_TEXT[connack] ? CONNACK_TEXT[connack] : "Connection refused, Unknow reason";
            logf_('W', "mqtt_client", "%s", text);
            logf_('I', "hil_agent", "MQTT_EVENT_ERROR");
            logf_('E', "mqtt_client", "MQTT connect failed");
            logf_('I', "hil_agent", "MQTT_EVENT_DISCONNECTED");
            res->esp_err = ESP_OK;
            res->mqtt_error_type = HILT_MQTT_ERROR_CONNECTION_REFUSED;
            res->connack = connack;
            /* A CONNACK arrived: the result's `mqtt` says what it carried (docs/protocol.md). */
            res->has_mqtt = true;
            res->session_present = 0;
            res->mqtt_connack = connack;
        } else if (s == MQTT_TIMEOUT) {
            /* No CONNACK within the network timeout: esp-mqtt gives up without an error event. */
            logf_('E', "mqtt_client", "esp_mqtt_connect: mqtt_message_receive() returned 0");
            logf_('E', "mqtt_client", "MQTT connect failed");
            logf_('I', "hil_agent", "MQTT_EVENT_DISCONNECTED");
            res->esp_err = ESP_ERR_TIMEOUT;
        } else {
            /* The broker closed before CONNACK: lwIP reports ENOTCONN (128), esp-tls the FIN. */
            logf_('E', "mqtt_client", "mqtt_message_receive: transport_read() error: errno=128");
            logf_('I', "hil_agent", "MQTT_EVENT_ERROR");
            logf_('E', "mqtt_client", "esp_mqtt_connect: mqtt_message_receive() returned -1");
            logf_('E', "mqtt_client", "MQTT connect failed");
            logf_('I', "hil_agent", "MQTT_EVENT_DISCONNECTED");
            res->esp_err = ESP_ERR_ESP_TLS_TCP_CLOSED_FIN;
            res->mqtt_error_type = HILT_MQTT_ERROR_TCP_TRANSPORT;
            res->sock_errno = 128;
        }
    }
done:
    res->heap_min = (uint32_t)hc_mark_min();
    res->heap_after = (uint32_t)hc_free_bytes();
    return NULL;
}

typedef struct {
    const hilt_connect_config_t *cfg;
    hilt_connect_result_t *res;
    const char *why;
} connect_job_t;

static void connect_job(void *p)
{
    connect_job_t *job = p;
    job->why = connect_now(job->cfg, job->res);
}

/* As the ESP-IDF port: the connect runs in a task of its own stack size, which it reports. */
static const char *port_connect(void *ctx, const hilt_connect_config_t *cfg, hilt_connect_result_t *res)
{
    connect_job_t job;
    uint32_t size = cfg->stack_size ? cfg->stack_size : CS_DEFAULT_STACK, peak = 0;
    bool measured = false;
    const char *why;
    (void)ctx;
    job.cfg = cfg;
    job.res = res;
    job.why = NULL;
    why = cs_run(size, connect_job, &job, &peak, &measured);
    if (why != NULL) return why;
    if (job.why != NULL) return job.why;
    if (measured) {
        res->has_stack = true;
        res->stack_size = size;
        res->stack_peak_used = peak;
        res->stack_source = HILT_SOURCE_DEVICE;
    }
    return NULL;
}

static void port_close(void *ctx) { (void)ctx; close_connection(); }

static bool port_mqtt_connected(void *ctx) { (void)ctx; return H.mqtt_up != 0; }

static const char *port_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len, int qos,
                                bool retain, bool *acked, uint32_t *ms)
{
    long t0 = mono_ms();
    int got = 0;
    mqtt_status_t s;
    (void)ctx;
    s = mqtt_client_publish(&H.mqtt, topic, payload, len, qos, retain, OP_TIMEOUT_MS, &got);
    *ms = (uint32_t)(mono_ms() - t0);
    *acked = got && qos > 0;
    if (s == MQTT_TOO_BIG) return "mqtt.publish: the message does not fit the agent's MQTT buffer";
    if (s == MQTT_CLOSED || s == MQTT_IO || s == MQTT_PROTOCOL) mqtt_lost("connection closed by broker");
    return NULL;
}

static const char *port_subscribe(void *ctx, const char *topic, int qos, int *granted)
{
    mqtt_status_t s;
    (void)ctx;
    s = mqtt_client_subscribe(&H.mqtt, topic, qos, OP_TIMEOUT_MS, granted);
    if (s != MQTT_OK || *granted < 0) *granted = 128;
    if (s == MQTT_TOO_BIG) return "mqtt.subscribe: the topic does not fit the agent's MQTT buffer";
    if (s == MQTT_CLOSED || s == MQTT_IO || s == MQTT_PROTOCOL) mqtt_lost("connection closed by broker");
    return NULL;
}

static void port_bind(void *ctx, struct hilt_core *core) { (void)ctx; H.core = core; }

static void *counted_calloc(size_t n, size_t size) { return hc_calloc(n, size); }

/* ---- options ---- */

static int parse_size(const char *text, unsigned long *out)
{
    char *end;
    unsigned long v;
    if (!text || !*text || *text == '-' || *text == '+') return 0;
    errno = 0;
    v = strtoul(text, &end, 10);
    if (errno || *end || v == 0 || v > 64ul * 1024 * 1024) return 0;
    *out = v;
    return 1;
}

static int usage(const char *what)
{
    fprintf(stderr, "hilt-agent: %s; usage: hilt-agent [--heap BYTES] [--largest BYTES] [--log-level 0..5] [--log-colors] [--mac aa:bb:cc:dd:ee:ff]\n", what);
    return 2;
}

int main(int argc, char **argv)
{
    unsigned long heap = DEFAULT_HEAP, largest = DEFAULT_LARGEST, level;
    char why[160];
    int i;
    hilt_port_t port;

    H.log_level = 3; /* CONFIG_LOG_DEFAULT_LEVEL_INFO */
    snprintf(H.mac, sizeof H.mac, "02:00:00:00:00:01");
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--heap") == 0 || strcmp(a, "--largest") == 0) {
            if (!parse_size(v, strcmp(a, "--heap") == 0 ? &heap : &largest)) {
                snprintf(why, sizeof why, "%s wants a byte count 1..67108864, got '%s'", a, v ? v : "");
                return usage(why);
            }
            i++;
        } else if (strcmp(a, "--log-level") == 0) {
            if (!v || strlen(v) != 1 || v[0] < '0' || v[0] > '5') {
                snprintf(why, sizeof why, "--log-level wants 0..5 (ESP-IDF's none..verbose), got '%s'", v ? v : "");
                return usage(why);
            }
            level = (unsigned long)(v[0] - '0');
            H.log_level = (int)level;
            i++;
        } else if (strcmp(a, "--after-panic") == 0) {
            H.after_panic = 1; /* connect_stack.c's reboot, not for people */
        } else if (strcmp(a, "--log-colors") == 0) {
            H.log_colors = 1;
        } else if (strcmp(a, "--mac") == 0) {
            unsigned b[6];
            char tail;
            if (!v || strlen(v) != 17 || sscanf(v, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
                snprintf(why, sizeof why, "--mac wants six hex bytes like 24:0a:c4:00:00:01, got '%s'", v ? v : "");
                return usage(why);
            }
            snprintf(H.mac, sizeof H.mac, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
            i++;
        } else {
            snprintf(why, sizeof why, "unknown option '%s'", a);
            return usage(why);
        }
    }
    if (largest > heap) largest = heap;

    /* A board has no SIGPIPE: a write to a closed socket is an error return. */
    signal(SIGPIPE, SIG_IGN);
    {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_terminate; /* no SA_RESTART: poll() returns at once */
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    cs_init(argc, argv);
    hc_init(heap, largest);
    mbedtls_platform_set_calloc_free(counted_calloc, hc_free);
    mbedtls_platform_set_time(mbedtls_clock);
    H.boot_ms = mono_ms();

    memset(&port, 0, sizeof port);
    port.bind = port_bind;
    port.read = port_read;
    port.write_line = write_line;
    port.log = port_log;
    port.facts = port_facts;
    port.reset_reason = port_reset_reason;
    port.uptime_ms = port_uptime;
    port.time_now = port_time_now;
    port.time_set = port_time_set;
    port.time_clear = port_time_clear;
    port.heap_stats = port_heap_stats;
    port.heap_reserve = port_heap_reserve;
    port.heap_release = port_heap_release;
    port.restart = port_restart;
    port.connect = port_connect;
    port.close = port_close;
    port.mqtt_connected = port_mqtt_connected;
    port.mqtt_publish = port_publish;
    port.mqtt_subscribe = port_subscribe;
    i = hilt_agent_run(&port);
    close_connection();
    return i;
}
