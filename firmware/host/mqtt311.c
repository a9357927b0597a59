/* MQTT 3.1.1 codec and client: see mqtt311.h. Section numbers refer to the OASIS standard. */
#include "mqtt311.h"

#include <string.h>

/* ---- codec ---- */

/* Remaining length (2.2.3): 7 bits a byte, at most 4 bytes. */
static size_t put_length(uint8_t *out, uint32_t n)
{
    size_t i = 0;
    do {
        uint8_t b = (uint8_t)(n % 128u);
        n /= 128u;
        out[i++] = (uint8_t)(n ? b | 0x80u : b);
    } while (n && i < 4);
    return i;
}

/* A writer that refuses to go past cap instead of writing there. */
typedef struct {
    uint8_t *buf;
    size_t cap, len;
    int overflow;
} writer_t;

static void put(writer_t *w, const void *data, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void put_u8(writer_t *w, uint8_t v) { put(w, &v, 1); }

static void put_u16(writer_t *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put(w, b, 2);
}

/* A UTF-8 string or binary field: two length bytes then the data (1.5.3). */
static void put_field(writer_t *w, const void *data, size_t n)
{
    if (n > 65535u) {
        w->overflow = 1;
        return;
    }
    put_u16(w, (uint16_t)n);
    put(w, data, n);
}

/* Starts a packet whose body is `body` bytes long. */
static void put_fixed(writer_t *w, uint8_t first, size_t body)
{
    uint8_t len[4];
    if (body > 268435455u) {
        w->overflow = 1;
        return;
    }
    put_u8(w, first);
    put(w, len, put_length(len, (uint32_t)body));
}

static int finish(const writer_t *w)
{
    return w->overflow ? -1 : (int)w->len;
}

int mqtt_encode_connect(uint8_t *buf, size_t cap, const mqtt_connect_opts_t *o)
{
    writer_t w = { buf, cap, 0, 0 };
    size_t id_len = o->client_id ? strlen(o->client_id) : 0;
    size_t user_len = o->username ? strlen(o->username) : 0;
    size_t body = 10 + 2 + id_len;
    uint8_t flags = 0;
    if (o->keepalive_s < 0 || o->keepalive_s > 65535) return -1;
    if (o->username) { flags |= 0x80; body += 2 + user_len; }
    if (o->password) { flags |= 0x40; body += 2 + o->password_len; }
    /* 3.1.2.4: an empty client id needs a clean session. */
    if (o->clean || id_len == 0) flags |= 0x02;
    put_fixed(&w, MQTT_CONNECT << 4, body);
    put_field(&w, "MQTT", 4);
    put_u8(&w, 4); /* protocol level 4 = 3.1.1 */
    put_u8(&w, flags);
    put_u16(&w, (uint16_t)o->keepalive_s);
    put_field(&w, o->client_id ? o->client_id : "", id_len);
    if (o->username) put_field(&w, o->username, user_len);
    if (o->password) put_field(&w, o->password, o->password_len);
    return finish(&w);
}

int mqtt_encode_publish(uint8_t *buf, size_t cap, const char *topic, const uint8_t *payload,
                        size_t len, int qos, int retain, int dup, uint16_t packet_id)
{
    writer_t w = { buf, cap, 0, 0 };
    size_t topic_len = strlen(topic);
    if (qos < 0 || qos > 2 || topic_len == 0 || (qos > 0 && packet_id == 0)) return -1;
    put_fixed(&w, (uint8_t)(MQTT_PUBLISH << 4 | (dup ? 0x08 : 0) | qos << 1 | (retain ? 1 : 0)),
              2 + topic_len + (qos ? 2 : 0) + len);
    put_field(&w, topic, topic_len);
    if (qos) put_u16(&w, packet_id);
    if (len) put(&w, payload, len);
    return finish(&w);
}

int mqtt_encode_subscribe(uint8_t *buf, size_t cap, uint16_t packet_id, const char *topic, int qos)
{
    writer_t w = { buf, cap, 0, 0 };
    size_t topic_len = strlen(topic);
    if (qos < 0 || qos > 2 || topic_len == 0 || packet_id == 0) return -1;
    /* 3.8.1: SUBSCRIBE's fixed header flags are 0010. */
    put_fixed(&w, MQTT_SUBSCRIBE << 4 | 0x02, 2 + 2 + topic_len + 1);
    put_u16(&w, packet_id);
    put_field(&w, topic, topic_len);
    put_u8(&w, (uint8_t)qos);
    return finish(&w);
}

int mqtt_encode_ack(uint8_t *buf, size_t cap, enum mqtt_type type, uint16_t packet_id)
{
    writer_t w = { buf, cap, 0, 0 };
    if (type != MQTT_PUBACK && type != MQTT_PUBREC && type != MQTT_PUBREL && type != MQTT_PUBCOMP) return -1;
    /* 3.6.1: PUBREL's flags are 0010. */
    put_fixed(&w, (uint8_t)(type << 4 | (type == MQTT_PUBREL ? 0x02 : 0)), 2);
    put_u16(&w, packet_id);
    return finish(&w);
}

int mqtt_encode_empty(uint8_t *buf, size_t cap, enum mqtt_type type)
{
    writer_t w = { buf, cap, 0, 0 };
    if (type != MQTT_PINGREQ && type != MQTT_DISCONNECT) return -1;
    put_fixed(&w, (uint8_t)(type << 4), 0);
    return finish(&w);
}

int mqtt_parse_header(const uint8_t *buf, size_t len, uint8_t *first, uint32_t *remaining,
                      size_t *header_len)
{
    uint32_t value = 0, mult = 1;
    size_t i;
    if (len < 2) return 0;
    for (i = 1; i < len; i++) {
        value += (uint32_t)(buf[i] & 0x7Fu) * mult;
        if (!(buf[i] & 0x80u)) {
            *first = buf[0];
            *remaining = value;
            *header_len = i + 1;
            return 1;
        }
        if (i == 4) return -1;
        mult *= 128u;
    }
    return 0;
}

/* ---- client ---- */

void mqtt_client_init(mqtt_client_t *c, const mqtt_io_t *io, mqtt_message_cb on_message, void *user)
{
    memset(c, 0, sizeof *c);
    c->io = *io;
    c->on_message = on_message;
    c->user = user;
    c->next_id = 1;
}

const char *mqtt_status_name(mqtt_status_t s)
{
    static const char *const names[] = { "ok", "refused", "closed", "timeout", "io", "protocol", "too_big", "bad_arg" };
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static uint16_t take_id(mqtt_client_t *c)
{
    uint16_t id = c->next_id++;
    if (c->next_id == 0) c->next_id = 1; /* 0 is not a valid packet id (2.3.1) */
    return id;
}

static mqtt_status_t send_all(mqtt_client_t *c, int n)
{
    if (n < 0) return MQTT_TOO_BIG;
    if (c->io.send(c->io.ctx, c->tx, (size_t)n) != n) return MQTT_IO;
    c->last_tx_ms = c->io.now_ms(c->io.ctx);
    return MQTT_OK;
}

static int remaining_ms(mqtt_client_t *c, long deadline)
{
    long left = deadline - c->io.now_ms(c->io.ctx);
    return left > 0 ? (int)left : 0;
}

/* A packet read into rx: its first byte and body. */
typedef struct {
    uint8_t first;
    const uint8_t *body;
    uint32_t len;
    size_t total;
} packet_t;

/* Reads one whole packet before the deadline. Oversized packets are thrown away as they arrive
 * (counted in skipped_packets) so a broker cannot make the client buffer more than rx. */
static mqtt_status_t read_packet(mqtt_client_t *c, long deadline, packet_t *p)
{
    for (;;) {
        uint8_t first;
        uint32_t remaining;
        size_t header;
        int r;
        if (c->skip == 0) {
            r = mqtt_parse_header(c->rx, c->rx_len, &first, &remaining, &header);
            if (r < 0) return MQTT_PROTOCOL;
            if (r > 0) {
                size_t total = header + remaining;
                if (total > sizeof c->rx) {
                    c->skip = total - c->rx_len;
                    c->rx_len = 0;
                    c->skipped_packets++;
                    continue;
                }
                if (c->rx_len >= total) {
                    p->first = first;
                    p->body = c->rx + header;
                    p->len = remaining;
                    p->total = total;
                    return MQTT_OK;
                }
            }
        }
        {
            /* While skipping, read into rx and drop it; never more than the packet's rest, so
             * the next packet's first bytes stay. */
            size_t room = c->skip ? (c->skip < sizeof c->rx ? c->skip : sizeof c->rx) : sizeof c->rx - c->rx_len;
            uint8_t *to = c->skip ? c->rx : c->rx + c->rx_len;
            /* A deadline already passed still reads what has arrived (recv with 0 ms). */
            r = c->io.recv(c->io.ctx, to, room, remaining_ms(c, deadline));
            if (r == MQTT_IO_TIMEOUT) return MQTT_TIMEOUT;
            if (r == 0) return MQTT_CLOSED;
            if (r < 0) return MQTT_IO;
            if (c->skip) c->skip -= (size_t)r;
            else c->rx_len += (size_t)r;
        }
    }
}

/* Drops the packet just handled from rx, keeping what followed it. */
static void consume(mqtt_client_t *c, const packet_t *p)
{
    memmove(c->rx, c->rx + p->total, c->rx_len - p->total);
    c->rx_len -= p->total;
}

/* PUBLISH from the broker (3.3): deliver it, and acknowledge QoS 1 and 2. */
static mqtt_status_t on_publish(mqtt_client_t *c, const packet_t *p)
{
    int qos = (p->first >> 1) & 3;
    uint32_t topic_len, at;
    uint16_t id = 0;
    if (qos == 3 || p->len < 2) return MQTT_PROTOCOL;
    topic_len = (uint32_t)p->body[0] << 8 | p->body[1];
    at = 2 + topic_len;
    if (at + (qos ? 2u : 0u) > p->len) return MQTT_PROTOCOL;
    if (qos) {
        id = (uint16_t)(p->body[at] << 8 | p->body[at + 1]);
        at += 2;
    }
    if (c->on_message)
        c->on_message(c->user, (const char *)p->body + 2, topic_len, qos, p->body + at, p->len - at);
    if (qos == 1) return send_all(c, mqtt_encode_ack(c->tx, sizeof c->tx, MQTT_PUBACK, id));
    if (qos == 2) return send_all(c, mqtt_encode_ack(c->tx, sizeof c->tx, MQTT_PUBREC, id));
    return MQTT_OK;
}

/* Handles a packet nobody is waiting for: messages, PUBREL for incoming QoS 2, PINGRESP. */
static mqtt_status_t handle_unsolicited(mqtt_client_t *c, const packet_t *p)
{
    switch (p->first >> 4) {
    case MQTT_PUBLISH:
        return on_publish(c, p);
    case MQTT_PUBREL:
        if (p->len != 2) return MQTT_PROTOCOL;
        return send_all(c, mqtt_encode_ack(c->tx, sizeof c->tx, MQTT_PUBCOMP,
                                           (uint16_t)(p->body[0] << 8 | p->body[1])));
    case MQTT_PINGRESP:
        c->ping_outstanding = 0;
        return MQTT_OK;
    case MQTT_PUBACK: case MQTT_PUBREC: case MQTT_PUBCOMP: case MQTT_SUBACK: case MQTT_UNSUBACK:
        /* A late answer to a call that already gave up: nothing waits for it any more. */
        return MQTT_OK;
    default:
        return MQTT_PROTOCOL;
    }
}

/* Waits for a packet of `type` carrying packet id `id`, handling everything else meanwhile.
 * On MQTT_OK the packet is in *p and still in rx: the caller consumes it. */
static mqtt_status_t wait_for(mqtt_client_t *c, enum mqtt_type type, uint16_t id, long deadline, packet_t *p)
{
    for (;;) {
        mqtt_status_t s = read_packet(c, deadline, p);
        if (s != MQTT_OK) return s;
        if ((p->first >> 4) == type && p->len >= 2 && (uint16_t)(p->body[0] << 8 | p->body[1]) == id)
            return MQTT_OK;
        s = handle_unsolicited(c, p);
        consume(c, p);
        if (s != MQTT_OK) return s;
    }
}

mqtt_status_t mqtt_client_connect(mqtt_client_t *c, const mqtt_connect_opts_t *o, int timeout_ms,
                                  int *connack, int *session_present)
{
    long deadline = c->io.now_ms(c->io.ctx) + timeout_ms;
    packet_t p;
    mqtt_status_t s;
    *connack = -1;
    *session_present = 0;
    c->rx_len = 0;
    c->skip = 0;
    s = send_all(c, mqtt_encode_connect(c->tx, sizeof c->tx, o));
    if (s != MQTT_OK) return s;
    /* 3.2: the first packet from the server must be CONNACK. */
    s = read_packet(c, deadline, &p);
    if (s != MQTT_OK) return s;
    if (p.first != (MQTT_CONNACK << 4) || p.len != 2 || p.body[0] > 1) return MQTT_PROTOCOL;
    *session_present = p.body[0] & 1;
    *connack = p.body[1];
    consume(c, &p);
    if (*connack != 0) return MQTT_REFUSED;
    c->keepalive_s = o->keepalive_s;
    c->connected = 1;
    return MQTT_OK;
}

mqtt_status_t mqtt_client_publish(mqtt_client_t *c, const char *topic, const uint8_t *payload,
                                  size_t len, int qos, int retain, int timeout_ms, int *acked)
{
    long deadline = c->io.now_ms(c->io.ctx) + timeout_ms;
    uint16_t id = qos ? take_id(c) : 0;
    packet_t p;
    mqtt_status_t s;
    int n;
    *acked = 0;
    if (qos < 0 || qos > 2 || !topic || !*topic) return MQTT_BAD_ARG;
    n = mqtt_encode_publish(c->tx, sizeof c->tx, topic, payload, len, qos, retain, 0, id);
    s = send_all(c, n);
    if (s != MQTT_OK || qos == 0) return s;
    s = wait_for(c, qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, id, deadline, &p);
    if (s != MQTT_OK) return s;
    consume(c, &p);
    if (qos == 2) {
        s = send_all(c, mqtt_encode_ack(c->tx, sizeof c->tx, MQTT_PUBREL, id));
        if (s != MQTT_OK) return s;
        s = wait_for(c, MQTT_PUBCOMP, id, deadline, &p);
        if (s != MQTT_OK) return s;
        consume(c, &p);
    }
    *acked = 1;
    return MQTT_OK;
}

mqtt_status_t mqtt_client_subscribe(mqtt_client_t *c, const char *topic, int qos, int timeout_ms,
                                    int *granted)
{
    long deadline = c->io.now_ms(c->io.ctx) + timeout_ms;
    uint16_t id = take_id(c);
    packet_t p;
    mqtt_status_t s;
    *granted = -1;
    if (qos < 0 || qos > 2 || !topic || !*topic) return MQTT_BAD_ARG;
    s = send_all(c, mqtt_encode_subscribe(c->tx, sizeof c->tx, id, topic, qos));
    if (s != MQTT_OK) return s;
    s = wait_for(c, MQTT_SUBACK, id, deadline, &p);
    if (s != MQTT_OK) return s;
    if (p.len != 3) return MQTT_PROTOCOL;
    *granted = p.body[2];
    consume(c, &p);
    return MQTT_OK;
}

mqtt_status_t mqtt_client_poll(mqtt_client_t *c, int timeout_ms)
{
    long deadline = c->io.now_ms(c->io.ctx) + timeout_ms;
    for (;;) {
        packet_t p;
        mqtt_status_t s;
        long now = c->io.now_ms(c->io.ctx);
        if (c->keepalive_s > 0 && !c->ping_outstanding && now - c->last_tx_ms >= c->keepalive_s * 1000L) {
            s = send_all(c, mqtt_encode_empty(c->tx, sizeof c->tx, MQTT_PINGREQ));
            if (s != MQTT_OK) return s;
            c->ping_outstanding = 1;
        }
        s = read_packet(c, deadline, &p);
        if (s == MQTT_TIMEOUT) return MQTT_OK;
        if (s != MQTT_OK) return s;
        s = handle_unsolicited(c, &p);
        consume(c, &p);
        if (s != MQTT_OK) return s;
    }
}

void mqtt_client_disconnect(mqtt_client_t *c)
{
    if (c->connected) (void)send_all(c, mqtt_encode_empty(c->tx, sizeof c->tx, MQTT_DISCONNECT));
    c->connected = 0;
}
