/*
 * A test double of the PORT (not of the core): it records what the core asks of the platform
 * (lines written, log lines, connects and their configs) and answers from a script, so the core's
 * real code is what the tests run.
 */
#ifndef TEST_PORT_H
#define TEST_PORT_H

#include "hilt_core.h"

#define TP_MAX_LINES 512
#define TP_LINE_BYTES 9000

typedef struct {
    /* recorded */
    char *lines[TP_MAX_LINES];      /* protocol lines and "L tag: message" log lines, in order */
    size_t line_count;
    size_t connects, closes, restarts, time_sets, time_clears, releases;
    int64_t last_epoch;
    hilt_connect_config_t last_cfg; /* pointers valid during the connect only; copies below */
    char last_host[256], last_sni[256], last_ca[64], last_alpn[256], last_suites[4096], last_client_id[64];
    bool last_has_ca, last_has_cert, last_mqtt, last_has_password;
    size_t last_password_len;
    char last_topic[256];
    size_t last_payload_len;

    /* scripted */
    hilt_facts_t facts;
    const char *reset_reason;
    uint64_t uptime;                /* ms; read() advances it by its timeout when idle */
    int64_t clock_epoch;
    hilt_heap_stats_t heap;
    uint32_t reserved;
    hilt_connect_result_t result;   /* what connect() reports */
    const char *connect_error;      /* connect() returns it (internal) */
    const char *during_connect;     /* bytes fed to the core while connect() runs */
    size_t during_len;              /* their count (0: up to a NUL) */
    bool mqtt_up;
    bool acked;
    uint32_t publish_ms;
    int granted;
    const char *input;              /* read() hands this out in chunks of `chunk` bytes */
    size_t input_at, chunk;
    bool input_ended;
    hilt_core_t *core;
} test_port_t;

/** A port over `tp` with the reference facts (ESP32, Mbed TLS 3.6, the emulator's suites). */
void tp_init(test_port_t *tp, hilt_port_t *port);
void tp_free(test_port_t *tp);
/** Lines recorded since the last call, joined by '\n' (static buffer). */
const char *tp_take(test_port_t *tp);

#endif
