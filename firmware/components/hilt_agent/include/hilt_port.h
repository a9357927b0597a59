/*
 * hilt_port.h: the port, everything the portable agent core needs from the platform under it.
 *
 * The core (core/ folder) speaks agent protocol v1 (docs/protocol.md): it frames the console input,
 * parses commands, keeps the credential store, and writes every reply and event. It knows nothing
 * of UARTs, sockets, esp-tls or Mbed TLS. A port (port_idf/ on an ESP32, host/ on POSIX, a test
 * double in firmware/tests/) fills in a hilt_port_t and calls hilt_agent_run().
 *
 * Every fact that reaches a reply comes from the port: the clock, heap figures, the chip and
 * firmware identity, the Mbed TLS build options, and the whole outcome of a connect. The core
 * only formats them (and adds what follows from them: error names, verify strings, totals).
 *
 * Threading: the core is single-threaded. Every call into the core (hilt_core_feed,
 * hilt_core_mqtt_message, hilt_core_mqtt_disconnected) must come from the task that runs
 * hilt_agent_run(), normally from inside a port function the core called (read, wait, connect,
 * publish, subscribe). A port whose network stack delivers events on another task (esp-mqtt)
 * queues them and hands them over from there.
 *
 * Strings passed to the port are NUL-terminated and stay valid only for the call. Strings the
 * port returns inside hilt_facts_t must stay valid for the life of the agent.
 */
#ifndef HILT_PORT_H
#define HILT_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct hilt_core; /* opaque: the core's state, handed to the port by bind() */

/** A timing phase or a CONNACK code that does not apply: the reply shows null. */
#define HILT_NONE (-1)

/**
 * Where a number comes from (docs/protocol.md, `source`). "host" is never a device's to claim: a
 * port that measured no time at all leaves every phase and total_ms HILT_NONE, the reply says
 * `"timing": null`, and the host measures the command's round trip itself.
 */
typedef enum { HILT_SOURCE_DEVICE = 0, HILT_SOURCE_MODEL = 1 } hilt_source_t;

/** ESP-IDF log levels, as the first letter of a log line. */
typedef enum { HILT_LOG_E = 'E', HILT_LOG_W = 'W', HILT_LOG_I = 'I', HILT_LOG_D = 'D' } hilt_log_level_t;

/** `tls=` argument. */
typedef enum { HILT_TLS_ANY = 0, HILT_TLS_1_2 = 12, HILT_TLS_1_3 = 13 } hilt_tls_version_t;

/** esp_mqtt_error_type_t values the result may carry (error.mqtt_error_type). */
typedef enum {
    HILT_MQTT_ERROR_NONE = 0,               /* null in the reply (tls.connect, or no MQTT step) */
    HILT_MQTT_ERROR_TCP_TRANSPORT = 1,      /* "TCP_TRANSPORT" */
    HILT_MQTT_ERROR_CONNECTION_REFUSED = 2  /* "CONNECTION_REFUSED" */
} hilt_mqtt_error_type_t;

/**
 * Who the device is (the `hello` reply and the MQTT default client id). Filled once by
 * port->facts(); the core keeps the pointers, so the strings must live as long as the agent.
 */
typedef struct {
    /* fw: the app image (esp_app_desc_t on an ESP32) */
    const char *fw_project;          /* "hilt_test_agent" */
    const char *fw_version;          /* "1.0.0" */
    const char *fw_idf;              /* ESP-IDF version, e.g. "v5.5" */
    const char *fw_elf_sha256;       /* 64 lower-case hex digits, or NULL when unknown (reply: null) */
    /* chip */
    const char *chip_model;          /* "ESP32" */
    int chip_revision;               /* 3 */
    int chip_cores;                  /* 2 */
    const char *chip_mac;            /* "24:0a:c4:00:00:01", lower-case, colon-separated */
    /* mbedtls: the build options that decide TLS behaviour */
    const char *mbedtls_version;     /* MBEDTLS_VERSION_STRING, "3.6.6" */
    bool have_time_date;             /* MBEDTLS_HAVE_TIME_DATE */
    uint32_t in_content_len;         /* MBEDTLS_SSL_IN_CONTENT_LEN */
    uint32_t out_content_len;        /* MBEDTLS_SSL_OUT_CONTENT_LEN */
    bool dynamic_buffer;             /* CONFIG_MBEDTLS_DYNAMIC_BUFFER */
    bool tls13;                      /* MBEDTLS_SSL_PROTO_TLS1_3 */
    /*
     * The enabled ciphersuites in the library's preference order (mbedtls_ssl_list_ciphersuites,
     * names as mbedtls_ssl_get_ciphersuite_name gives them). The core also uses this list to
     * narrow `ciphers=`.
     */
    const char *const *ciphersuites;
    size_t ciphersuite_count;
} hilt_facts_t;

/** Heap figures in bytes (heap_caps_get_free_size / minimum_free_size / largest_free_block). */
typedef struct {
    uint32_t free;
    uint32_t min_free;
    uint32_t largest;
} hilt_heap_stats_t;

/** A stored credential as esp-tls takes it. data[len] is always 0 (Mbed TLS's PEM parser wants it);
 * len does not count that 0 (esp-tls's *_pem_bytes is len + 1). */
typedef struct {
    const uint8_t *data;
    size_t len;
} hilt_blob_t;

/** mqtt.connect's own arguments, on top of the TLS ones. */
typedef struct {
    const char *client_id;           /* given, or the core's default "esp32-xxxxxx" from the MAC */
    uint32_t keepalive;              /* seconds, default 120 */
    bool clean;                      /* default true */
    const char *username;            /* NULL when not given */
    hilt_blob_t password;            /* data NULL when not given; may hold any bytes */
} hilt_mqtt_config_t;

/**
 * One connect, as esp_tls_cfg_t (plus esp_mqtt_client_config_t) would be built from a command.
 * The core has already checked every argument and looked up the slots.
 */
typedef struct {
    const char *host;
    uint16_t port;                   /* default 8883 */
    const char *sni;                 /* the name to send and to check; default host */
    hilt_blob_t ca;                  /* data NULL for ca=none (no verification asked) */
    hilt_blob_t cert;                /* client certificate, data NULL when not mutual TLS */
    hilt_blob_t key;                 /* client key, set exactly when cert is */
    /*
     * The suites to offer, in the library's preference order: facts.ciphersuites narrowed to
     * those named in `ciphers=` (and to TLS 1.2 ones under tls=1.2). All of them when the
     * argument was absent. Never empty.
     */
    const char *const *ciphersuites;
    size_t ciphersuite_count;
    bool ciphers_given;              /* false: the host left `ciphers=` out (use the library default) */
    hilt_tls_version_t tls;          /* tls=1.3 only reaches the port when facts.tls13 is true */
    uint32_t timeout_ms;             /* already 10000 when the host sent 0 or nothing */
    bool skip_cn;                    /* esp_tls_cfg_t.skip_common_name */
    const char *const *alpn;         /* NULL-terminated list, or NULL when none */
    size_t alpn_count;
    const hilt_mqtt_config_t *mqtt;  /* NULL for tls.connect */
    /*
     * `stack=`: the bytes of stack for the task (thread) that runs this connect, 2048..65536; 0
     * when the host left it out (the port's default: CONFIG_HILT_AGENT_CONNECT_STACK, 8192).
     * A connect that overflows it ends in ESP-IDF's stack-overflow panic, not in a reply.
     */
    uint32_t stack_size;
} hilt_connect_config_t;

/**
 * What a connect did, filled by port->connect(). The core zeroes it and sets every optional
 * field to "absent" (has_* false, numbers HILT_NONE) before the call, and writes it as the
 * connect result of docs/protocol.md, adding esp_err_name, stack_err_name, verify_info,
 * total_ms (when left HILT_NONE) and heap.peak_used.
 */
typedef struct {
    bool connected;                  /* TLS up (tls.connect) / CONNACK 0 received (mqtt.connect) */

    /* tls: has_tls false when the handshake never reached the server's hello */
    bool has_tls;
    char version[8];                 /* "TLSv1.2" / "TLSv1.3" */
    char cipher[80];                 /* Mbed TLS name, mbedtls_ssl_get_ciphersuite() */
    bool has_alpn;
    char alpn[64];                   /* mbedtls_ssl_get_alpn_protocol() */
    bool has_peer;                   /* the server's certificate (only after a complete handshake) */
    char peer_subject[256];          /* mbedtls_x509_dn_gets() text */
    char peer_issuer[256];
    char peer_sha256[65];            /* 64 lower-case hex digits of the DER */

    /* error: meaningful only when connected is false */
    int32_t esp_err;                 /* esp_tls_last_error_t.last_error (0 = ESP_OK, e.g. CONNACK refused) */
    int32_t stack_err;               /* positive, as esp-tls stores it; 0 when the stack said nothing */
    uint32_t verify_flags;           /* X.509 verify flags, 0 when none */
    hilt_mqtt_error_type_t mqtt_error_type;
    int32_t connack;                 /* the refusing CONNACK code, HILT_NONE when none came */
    int32_t sock_errno;              /* 0 when none */

    /* timing in ms; HILT_NONE for a phase never reached (mqtt_ms always for tls.connect) */
    int32_t dns_ms, tcp_ms, tls_ms, mqtt_ms;
    int32_t total_ms;                /* HILT_NONE: the core writes the sum of the phases; all HILT_NONE: timing null */
    hilt_source_t timing_source;

    /* heap in bytes: free before, lowest during, free after; peak_used = before - min */
    uint32_t heap_before, heap_min, heap_after;
    hilt_source_t heap_source;

    /* stack of the task that ran the connect: its size and the most of it in use (high-water
     * mark of a painted stack). has_stack false: the port cannot measure it, the reply leaves
     * `stack` out. */
    bool has_stack;
    uint32_t stack_size, stack_peak_used;
    hilt_source_t stack_source;

    /* mqtt: for mqtt.connect once a CONNACK arrived */
    bool has_mqtt;
    bool session_present;
    int32_t mqtt_connack;
} hilt_connect_result_t;

/**
 * The port. Every function gets `ctx` first. Functions marked (wait) may take time; while
 * they wait they should keep reading the console and pass what arrives to hilt_core_feed(), so a
 * command sent meanwhile is answered `busy` at once, as docs/protocol.md asks. Functions that
 * return `const char *` return NULL on success, or a one-line reason the core sends as an
 * `internal` error (the host's fault is never the port's to judge: the core has checked it).
 */
typedef struct hilt_port {
    void *ctx;

    /* --- the console ------------------------------------------------------------------------ */
    /** Gives the port the core's handle, for hilt_core_feed and the MQTT event calls. Optional. */
    void (*bind)(void *ctx, struct hilt_core *core);
    /**
     * (wait) Up to `cap` bytes of console input, waiting at most timeout_ms. Returns the count,
     * 0 when nothing came in time, -1 when the input has ended for good (hilt_agent_run returns).
     * The host port services its MQTT socket meanwhile and delivers events from here.
     */
    int (*read)(void *ctx, uint8_t *buf, size_t cap, uint32_t timeout_ms);
    /** Writes `len` bytes and a '\n' as one unit: no other output may land inside them. */
    void (*write_line)(void *ctx, const char *line, size_t len);
    /** Prints an ESP-IDF log line (`I (1234) hil_agent: ...`), timestamp and colour the port's. */
    void (*log)(void *ctx, hilt_log_level_t level, const char *tag, const char *message);

    /* --- identity and clocks ------------------------------------------------------------------ */
    void (*facts)(void *ctx, hilt_facts_t *out);
    /** esp_reset_reason() as its name: "POWERON_RESET", "SW_CPU_RESET", ... (the boot event). */
    const char *(*reset_reason)(void *ctx);
    /** Milliseconds since boot (esp_timer_get_time() / 1000). */
    uint64_t (*uptime_ms)(void *ctx);
    /** Seconds since 1970 on the device's clock (1970 plus uptime until time.set). */
    int64_t (*time_now)(void *ctx);
    /** Sets the clock (settimeofday); Mbed TLS judges certificate dates by it from now on. */
    void (*time_set)(void *ctx, int64_t epoch);
    /** Back to the boot-time default: 1970 plus uptime. */
    void (*time_clear)(void *ctx);

    /* --- heap --------------------------------------------------------------------------------- */
    void (*heap_stats)(void *ctx, hilt_heap_stats_t *out);
    /** Holds `bytes`, or what is free if less, until heap_release; returns the bytes this call
     * took. Several calls add up. */
    uint32_t (*heap_reserve)(void *ctx, uint32_t bytes);
    void (*heap_release)(void *ctx);

    /**
     * esp_restart(). On a board it does not return. A port that can restart in place (host)
     * drops its connection and clock, returns, and the core clears its own state and boots again
     * (boot event with reset_reason(), which should now say "SW_CPU_RESET").
     */
    void (*restart)(void *ctx);

    /* --- connections (one at a time: a new connect replaces the open one) ----------------------- */
    /**
     * (wait) esp-tls connect, then for cfg->mqtt an MQTT CONNECT/CONNACK exchange. Fills `res` for
     * success and failure alike and prints the console lines ESP-IDF prints for that outcome
     * (esp-tls, transport_base, mqtt_client). A network failure is a result, not an error.
     * The connection stays open on success until close() or the next connect.
     */
    const char *(*connect)(void *ctx, const hilt_connect_config_t *cfg, hilt_connect_result_t *res);
    /** Closes the open connection, if any (tls.close, mqtt.disconnect, before a restart). */
    void (*close)(void *ctx);
    /** true while an MQTT session is up (mqtt.publish / mqtt.subscribe need one). */
    bool (*mqtt_connected)(void *ctx);
    /**
     * (wait) Publishes. acked: the broker acknowledged (QoS 1/2; always false for QoS 0).
     * ms: until the acknowledgement, or until handed to the socket for QoS 0. Waits at most 10 s.
     */
    const char *(*mqtt_publish)(void *ctx, const char *topic, const uint8_t *payload, size_t len,
                                int qos, bool retain, bool *acked, uint32_t *ms);
    /** (wait) Subscribes; granted: the SUBACK's QoS, 128 when refused or none came within 10 s. */
    const char *(*mqtt_subscribe)(void *ctx, const char *topic, int qos, int *granted);
} hilt_port_t;

/*
 * Calls from the port into the core (same task, see above). `core` is the handle bind() got.
 */

/** Console bytes; complete lines are handled at once (answered `busy` while a command runs). */
void hilt_core_feed(struct hilt_core *core, const uint8_t *bytes, size_t len);
/** A message arrived on a subscription: the core writes the mqtt.message event. */
void hilt_core_mqtt_message(struct hilt_core *core, const char *topic, size_t topic_len, int qos,
                            const uint8_t *payload, size_t payload_len);
/** The MQTT session ended without mqtt.disconnect: the core writes mqtt.disconnected. */
void hilt_core_mqtt_disconnected(struct hilt_core *core, const char *reason);

#ifdef __cplusplus
}
#endif

#endif /* HILT_PORT_H */
