/*
 * port_idf.h: what the ESP-IDF port's files share. Not part of the component's interface.
 */
#ifndef HILT_PORT_IDF_INTERNAL_H
#define HILT_PORT_IDF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "hilt_port.h"

/** The core's handle, given by bind(); NULL until hilt_agent_run() starts. */
extern struct hilt_core *hilt_idf_core;

/* console.c */
void hilt_idf_console_init(void);
int hilt_idf_console_read(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms);
void hilt_idf_console_write_line(void *ctx, const char *line, size_t len);
void hilt_idf_console_log(void *ctx, hilt_log_level_t level, const char *tag, const char *message);
/** Waits up to timeout_ms while a command runs: console bytes go to the core (which answers
 * `busy`), queued MQTT events are written. */
void hilt_idf_pump(uint32_t timeout_ms);

/* system.c */
void hilt_idf_facts(void *ctx, hilt_facts_t *out);
const char *hilt_idf_reset_reason(void *ctx);
uint64_t hilt_idf_uptime_ms(void *ctx);
int64_t hilt_idf_time_now(void *ctx);
void hilt_idf_time_set(void *ctx, int64_t epoch);
void hilt_idf_time_clear(void *ctx);
void hilt_idf_heap_stats(void *ctx, hilt_heap_stats_t *out);
uint32_t hilt_idf_heap_reserve(void *ctx, uint32_t bytes);
void hilt_idf_heap_release(void *ctx);
void hilt_idf_restart(void *ctx);
/** Free heap in the capabilities Mbed TLS allocates from (what esp_get_free_heap_size counts). */
uint32_t hilt_idf_heap_free(void);

/* net.c */
void hilt_idf_net_init(void);
const char *hilt_idf_connect(void *ctx, const hilt_connect_config_t *cfg, hilt_connect_result_t *res);
void hilt_idf_close(void *ctx);
bool hilt_idf_mqtt_connected(void *ctx);
const char *hilt_idf_mqtt_publish(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                                  int qos, bool retain, bool *acked, uint32_t *ms);
const char *hilt_idf_mqtt_subscribe(void *ctx, const char *topic, int qos, int *granted);
/** Hands queued esp-mqtt events to the core (agent task only). */
void hilt_idf_net_deliver(void);

#endif /* HILT_PORT_IDF_INTERNAL_H */
