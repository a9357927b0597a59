/*
 * The agent core's state and its internal entry points. Ports use hilt_agent_run() and the
 * calls in hilt_port.h; the unit tests also drive the core through the functions here.
 * Everything is in this one struct, sized at build time (hilt_agent.h's limits).
 */
#ifndef HILT_CORE_H
#define HILT_CORE_H

#include "hilt_agent.h"
#include "hilt_port.h"
#include "hilt_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lines the agent frames: up to 1024 bytes kept, plus one to see a line was longer. */
#define HILT_FRAME_KEEP (HILT_MAX_LINE + 1)
/* The emulator's line splitter keeps 4096 bytes: longer lines are "longer than 4096 bytes". */
#define HILT_FRAME_COUNTED 4096
#define HILT_MAX_ARGS 256
#define HILT_SLOT_NAME_MAX 16
#ifndef HILT_REPLY_BYTES
#define HILT_REPLY_BYTES 8192       /* one reply: hello with its suite list is the largest */
#endif
#ifndef HILT_EVENT_BYTES
#define HILT_EVENT_BYTES 8192       /* one event: mqtt.message with its base64 payload */
#endif
#define HILT_MESSAGE_BYTES 2048     /* an err message before escaping */
#define HILT_SIDE_BYTES (HILT_MESSAGE_BYTES * 2 + 64)

typedef enum { HILT_KIND_CA = 0, HILT_KIND_CERT = 1, HILT_KIND_KEY = 2 } hilt_kind_t;

typedef struct {
    bool used;
    char name[HILT_SLOT_NAME_MAX + 1];
    hilt_kind_t kind;
    size_t len;
    uint8_t data[HILT_SLOT_BYTES + 1]; /* + the NUL Mbed TLS's PEM parser wants */
} hilt_slot_t;

typedef struct {
    bool active;
    char slot[HILT_SLOT_NAME_MAX + 1];
    hilt_kind_t kind;
    unsigned count, next;
    uint32_t started;               /* for choosing which transfer to drop when all are busy */
    size_t len;
    uint8_t data[HILT_SLOT_BYTES];
} hilt_transfer_t;

typedef struct {
    const char *key;
    char *value;                    /* in hilt_cmd_t.text, which a command may split in place */
    size_t value_len;
} hilt_arg_t;

/** One parsed host line: pointers into `text`. */
typedef struct {
    char text[HILT_FRAME_KEEP + 1];
    uint32_t id;
    const char *command;
    hilt_arg_t args[HILT_MAX_ARGS];
    size_t argc;
} hilt_cmd_t;

typedef enum {
    HILT_ERR_NONE = 0, HILT_ERR_BAD_ARGS, HILT_ERR_UNKNOWN_COMMAND, HILT_ERR_BUSY,
    HILT_ERR_TOO_LONG, HILT_ERR_NO_SLOT, HILT_ERR_INTERNAL
} hilt_err_t;

/** A refusal being built: its code and one-line message. */
typedef struct {
    hilt_err_t code;
    char text[HILT_MESSAGE_BYTES];
    size_t len;
} hilt_fail_t;

struct hilt_core {
    const hilt_port_t *port;
    hilt_facts_t facts;
    char client_id[32];             /* the MQTT default: "esp32-" and the MAC's last 3 bytes */
    bool synced;                    /* time.set since boot / time.clear */

    /* framing */
    uint8_t frame[HILT_FRAME_KEEP + 1];
    size_t frame_kept;
    size_t frame_total;             /* bytes of the line so far, kept or not */
    uint8_t frame_last;             /* its last byte (a '\r' to drop) */
    bool frame_nonspace_beyond;     /* a non-blank byte beyond what was kept */
    /* the chunk hilt_core_feed is working through, so a re-entrant feed keeps byte order */
    const uint8_t *in;
    size_t in_len, in_pos;

    bool busy;
    hilt_cmd_t cmd;                 /* the command running */
    hilt_cmd_t side;                /* a line read while it runs (answered busy or refused) */
    hilt_fail_t fail;
    hilt_fail_t side_fail;

    hilt_slot_t slots[HILT_STORE_SLOTS];
    size_t slot_order[HILT_STORE_SLOTS]; /* store.list order: first stored first */
    size_t slot_count;
    hilt_transfer_t transfers[HILT_TRANSFERS];
    uint32_t transfer_clock;

    /* connect arguments decoded from a command (pointers into cmd.text or the buffers below) */
    const char *suites[256];
    const char *alpn[HILT_FRAME_KEEP / 2 + 2];
    uint8_t password[768];
    uint8_t payload[768];
    hilt_connect_result_t result;

    char reply[HILT_REPLY_BYTES];
    char side_reply[HILT_SIDE_BYTES];
    char event[HILT_EVENT_BYTES];
    uint8_t hold_rx[256];
    uint8_t line[HILT_FRAME_KEEP];  /* a finished line, out of the frame buffer */
    char scratch[HILT_MESSAGE_BYTES + 64];
};

typedef struct hilt_core hilt_core_t;

/** Sets up the core for `port` (reads the facts once) without writing anything. */
void hilt_core_init(hilt_core_t *core, const hilt_port_t *port);
/** Clears the RAM state (store, transfers, clock flag) and writes the boot event. */
void hilt_core_boot(hilt_core_t *core);
/** End of input: a last line without '\n' is handled as a line. */
void hilt_core_flush(hilt_core_t *core);

/** Names for codes, as the emulator writes them. */
const char *hilt_esp_err_name(int32_t code, char *scratch, size_t cap);
const char *hilt_mbedtls_err_name(int32_t code, char *scratch, size_t cap);
/** mbedtls_x509_crt_verify_info's lines for `flags`, in its order; returns how many. */
size_t hilt_verify_info(uint32_t flags, const char **lines, size_t cap);
/** Writes the connect result object of docs/protocol.md (mqtt: it answers mqtt.connect). */
void hilt_write_connect_result(hilt_json_t *j, const hilt_connect_result_t *r, bool mqtt);

#endif
