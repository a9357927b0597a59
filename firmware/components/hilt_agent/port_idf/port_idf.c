/*
 * port_idf.c: assembles the ESP-IDF port (hilt_port.h) from console.c, system.c and net.c.
 */
#include "hilt_port_idf.h"
#include "port_idf.h"

struct hilt_core *hilt_idf_core;

static void bind(void *ctx, struct hilt_core *core)
{
    (void)ctx;
    hilt_idf_core = core;
}

const hilt_port_t *hilt_port_idf(void)
{
    static hilt_port_t port;
    static bool ready;
    if (!ready) {
        hilt_idf_console_init();
        hilt_idf_net_init();
        port = (hilt_port_t){
            .ctx = NULL,
            .bind = bind,
            .read = hilt_idf_console_read,
            .write_line = hilt_idf_console_write_line,
            .log = hilt_idf_console_log,
            .facts = hilt_idf_facts,
            .reset_reason = hilt_idf_reset_reason,
            .uptime_ms = hilt_idf_uptime_ms,
            .time_now = hilt_idf_time_now,
            .time_set = hilt_idf_time_set,
            .time_clear = hilt_idf_time_clear,
            .heap_stats = hilt_idf_heap_stats,
            .heap_reserve = hilt_idf_heap_reserve,
            .heap_release = hilt_idf_heap_release,
            .restart = hilt_idf_restart,
            .connect = hilt_idf_connect,
            .close = hilt_idf_close,
            .mqtt_connected = hilt_idf_mqtt_connected,
            .mqtt_publish = hilt_idf_mqtt_publish,
            .mqtt_subscribe = hilt_idf_mqtt_subscribe,
        };
        ready = true;
    }
    return &port;
}
