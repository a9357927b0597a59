/*
 * A small MQTT 3.1.1 client for the host agent (OASIS MQTT 3.1.1, section numbers in comments).
 *
 * It stands in for esp-mqtt on the host: CONNECT/CONNACK, PUBLISH at QoS 0, 1 and 2 with their
 * acknowledgements, SUBSCRIBE/SUBACK, PINGREQ/PINGRESP and DISCONNECT. All buffers are fixed
 * arrays inside the client: nothing is allocated, and a packet that does not fit is refused
 * (outgoing) or skipped with its length reported (incoming), never written past a buffer.
 *
 * The client does no I/O itself: it calls the transport given at init (plain TCP in the unit
 * tests, a TLS session in the agent), so the same code runs over both.
 */
#ifndef HILT_MQTT311_H
#define HILT_MQTT311_H

#include <stddef.h>
#include <stdint.h>

#define MQTT_TX_MAX 2048
#define MQTT_RX_MAX 4096

enum mqtt_type {
    MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL,
    MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE, MQTT_UNSUBACK,
    MQTT_PINGREQ, MQTT_PINGRESP, MQTT_DISCONNECT
};

/* What a client call ended with. */
typedef enum {
    MQTT_OK = 0,
    MQTT_REFUSED,      /* CONNACK with a non-zero return code */
    MQTT_CLOSED,       /* the peer closed the connection */
    MQTT_TIMEOUT,      /* no answer within the call's timeout */
    MQTT_IO,           /* the transport failed */
    MQTT_PROTOCOL,     /* the peer sent something MQTT 3.1.1 does not allow here */
    MQTT_TOO_BIG,      /* the packet does not fit MQTT_TX_MAX */
    MQTT_BAD_ARG       /* e.g. QoS outside 0..2, an empty topic */
} mqtt_status_t;

/* The transport. recv returns bytes read (>0), 0 when the peer closed, MQTT_IO_TIMEOUT when
 * nothing came within timeout_ms, or another negative value on failure. send returns the bytes
 * written (all of them) or a negative value. */
#define MQTT_IO_TIMEOUT (-2)
typedef struct {
    int (*send)(void *ctx, const uint8_t *buf, size_t len);
    int (*recv)(void *ctx, uint8_t *buf, size_t len, int timeout_ms);
    long (*now_ms)(void *ctx);
    void *ctx;
} mqtt_io_t;

typedef void (*mqtt_message_cb)(void *user, const char *topic, size_t topic_len, int qos,
                                const uint8_t *payload, size_t payload_len);

typedef struct {
    const char *client_id;
    int keepalive_s;
    int clean;
    const char *username;          /* NULL: no user name flag */
    const uint8_t *password;       /* NULL: no password flag */
    size_t password_len;
} mqtt_connect_opts_t;

typedef struct {
    mqtt_io_t io;
    mqtt_message_cb on_message;
    void *user;
    uint8_t tx[MQTT_TX_MAX];
    uint8_t rx[MQTT_RX_MAX];
    size_t rx_len;                 /* bytes of the packet being read that are in rx */
    size_t skip;                   /* bytes of an oversized packet still to throw away */
    size_t skipped_packets;        /* incoming packets too big for rx */
    uint16_t next_id;
    int keepalive_s;
    long last_tx_ms;
    int ping_outstanding;
    int connected;
} mqtt_client_t;

/* The codec: each encoder writes one packet into buf and returns its length, or -1 if it does
 * not fit cap (or an argument is out of range). */
int mqtt_encode_connect(uint8_t *buf, size_t cap, const mqtt_connect_opts_t *o);
int mqtt_encode_publish(uint8_t *buf, size_t cap, const char *topic, const uint8_t *payload,
                        size_t len, int qos, int retain, int dup, uint16_t packet_id);
int mqtt_encode_subscribe(uint8_t *buf, size_t cap, uint16_t packet_id, const char *topic, int qos);
/* PUBACK, PUBREC, PUBREL, PUBCOMP: a type and a packet id. */
int mqtt_encode_ack(uint8_t *buf, size_t cap, enum mqtt_type type, uint16_t packet_id);
/* PINGREQ, DISCONNECT: a type alone. */
int mqtt_encode_empty(uint8_t *buf, size_t cap, enum mqtt_type type);

/* Reads a fixed header (2.2) from the first len bytes of buf. Returns 1 with *first (type and
 * flags byte), *remaining and *header_len set, 0 if more bytes are needed, -1 if the remaining
 * length is malformed (more than 4 bytes, 2.2.3). */
int mqtt_parse_header(const uint8_t *buf, size_t len, uint8_t *first, uint32_t *remaining,
                      size_t *header_len);

/* The client. */
void mqtt_client_init(mqtt_client_t *c, const mqtt_io_t *io, mqtt_message_cb on_message, void *user);
/* Sends CONNECT and waits for CONNACK. *connack is the return code (or -1 if none came). */
mqtt_status_t mqtt_client_connect(mqtt_client_t *c, const mqtt_connect_opts_t *o, int timeout_ms,
                                  int *connack, int *session_present);
/* QoS 0: done once written. QoS 1: waits for PUBACK; QoS 2: PUBREC, PUBREL, PUBCOMP.
 * *acked is 1 when the broker acknowledged. Messages that arrive meanwhile are delivered. */
mqtt_status_t mqtt_client_publish(mqtt_client_t *c, const char *topic, const uint8_t *payload,
                                  size_t len, int qos, int retain, int timeout_ms, int *acked);
/* *granted is the SUBACK's return code: 0..2, or 128 for a refusal. */
mqtt_status_t mqtt_client_subscribe(mqtt_client_t *c, const char *topic, int qos, int timeout_ms,
                                    int *granted);
/* Reads what arrives for up to timeout_ms, delivering messages and keeping the connection alive
 * (PINGREQ once keepalive seconds passed without sending). MQTT_OK when nothing went wrong. */
mqtt_status_t mqtt_client_poll(mqtt_client_t *c, int timeout_ms);
/* Sends DISCONNECT (best effort); the caller closes the transport. */
void mqtt_client_disconnect(mqtt_client_t *c);

const char *mqtt_status_name(mqtt_status_t s);

#endif
