/*
 * The host agent's MQTT 3.1.1 client: the codec byte for byte, then the client against a real
 * broker over plain TCP. Usage: test_mqtt311 [broker-port] (without a port only the codec runs).
 * Prints "N passed, N failed" and exits 1 if anything failed.
 */
#define _POSIX_C_SOURCE 200809L
#include "../host/mqtt311.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(cond) do { if (cond) passed++; else { failed++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

static int bytes_equal(const uint8_t *got, int n, const uint8_t *want, size_t want_len)
{
    return n == (int)want_len && memcmp(got, want, want_len) == 0;
}

static void test_codec(void)
{
    uint8_t buf[300];
    int n;
    uint8_t first;
    uint32_t rem;
    size_t hl;

    {
        mqtt_connect_opts_t o = { "dev1", 120, 1, NULL, NULL, 0 };
        static const uint8_t want[] = { 0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 120, 0, 4, 'd', 'e', 'v', '1' };
        n = mqtt_encode_connect(buf, sizeof buf, &o);
        CHECK(bytes_equal(buf, n, want, sizeof want));
    }
    {
        static const uint8_t pw[] = { 0, 1, 2 };
        mqtt_connect_opts_t o = { "d", 60, 0, "u", pw, 3 };
        static const uint8_t want[] = { 0x10, 21, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xC0, 0, 60, 0, 1, 'd', 0, 1, 'u', 0, 3, 0, 1, 2 };
        n = mqtt_encode_connect(buf, sizeof buf, &o);
        CHECK(bytes_equal(buf, n, want, sizeof want));
    }
    {
        static const uint8_t want[] = { 0x33, 8, 0, 3, 'a', '/', 'b', 0x12, 0x34, 'x' };
        n = mqtt_encode_publish(buf, sizeof buf, "a/b", (const uint8_t *)"x", 1, 1, 1, 0, 0x1234);
        CHECK(bytes_equal(buf, n, want, sizeof want));
        static const uint8_t want0[] = { 0x30, 5, 0, 3, 'a', '/', 'b' };
        n = mqtt_encode_publish(buf, sizeof buf, "a/b", NULL, 0, 0, 0, 0, 0);
        CHECK(bytes_equal(buf, n, want0, sizeof want0));
    }
    {
        static const uint8_t want[] = { 0x82, 8, 0, 7, 0, 3, 't', '/', '#', 1 };
        n = mqtt_encode_subscribe(buf, sizeof buf, 7, "t/#", 1);
        CHECK(bytes_equal(buf, n, want, sizeof want));
    }
    {
        static const uint8_t rel[] = { 0x62, 2, 0, 9 }, ping[] = { 0xC0, 0 }, disc[] = { 0xE0, 0 };
        CHECK(bytes_equal(buf, mqtt_encode_ack(buf, sizeof buf, MQTT_PUBREL, 9), rel, sizeof rel));
        CHECK(bytes_equal(buf, mqtt_encode_empty(buf, sizeof buf, MQTT_PINGREQ), ping, sizeof ping));
        CHECK(bytes_equal(buf, mqtt_encode_empty(buf, sizeof buf, MQTT_DISCONNECT), disc, sizeof disc));
    }
    /* A 200-byte payload needs a two-byte remaining length (2.2.3: 205 = 0xCD 0x01). */
    {
        uint8_t payload[200];
        memset(payload, 'p', sizeof payload);
        n = mqtt_encode_publish(buf, sizeof buf, "a/b", payload, sizeof payload, 0, 0, 0, 0);
        CHECK(n == 3 + 205 && buf[1] == 0xCD && buf[2] == 0x01);
        CHECK(mqtt_parse_header(buf, (size_t)n, &first, &rem, &hl) == 1 && rem == 205 && hl == 3 && first == 0x30);
    }
    /* Bounds: a packet that does not fit is refused, and nothing is written past cap. */
    {
        uint8_t small[12];
        memset(buf, 0xAA, sizeof buf);
        CHECK(mqtt_encode_publish(buf, 10, "a/b", (const uint8_t *)"0123456789", 10, 0, 0, 0, 0) == -1);
        CHECK(buf[10] == 0xAA);
        CHECK(mqtt_encode_subscribe(small, sizeof small, 1, "a-much-longer-topic", 0) == -1);
        CHECK(mqtt_encode_publish(buf, sizeof buf, "a", NULL, 0, 3, 0, 0, 1) == -1);
        CHECK(mqtt_encode_publish(buf, sizeof buf, "", NULL, 0, 0, 0, 0, 0) == -1);
        CHECK(mqtt_encode_publish(buf, sizeof buf, "a", NULL, 0, 1, 0, 0, 0) == -1);
    }
    /* Headers: incomplete, complete, and a remaining length of five bytes (malformed). */
    {
        static const uint8_t partial[] = { 0x30, 0x80 }, max[] = { 0x30, 0xFF, 0xFF, 0xFF, 0x7F },
            bad[] = { 0x30, 0x80, 0x80, 0x80, 0x80, 0x01 };
        CHECK(mqtt_parse_header(partial, 1, &first, &rem, &hl) == 0);
        CHECK(mqtt_parse_header(partial, 2, &first, &rem, &hl) == 0);
        CHECK(mqtt_parse_header(max, sizeof max, &first, &rem, &hl) == 1 && rem == 268435455u && hl == 5);
        CHECK(mqtt_parse_header(bad, sizeof bad, &first, &rem, &hl) == -1);
    }
}

/* ---- a plain TCP transport ---- */

static long now_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int tcp_send(void *ctx, const uint8_t *buf, size_t len)
{
    int fd = *(int *)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t w = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        done += (size_t)w;
    }
    return (int)len;
}

static int tcp_recv(void *ctx, uint8_t *buf, size_t len, int timeout_ms)
{
    int fd = *(int *)ctx;
    struct pollfd p = { fd, POLLIN, 0 };
    int r = poll(&p, 1, timeout_ms);
    ssize_t n;
    if (r == 0) return MQTT_IO_TIMEOUT;
    if (r < 0) return -1;
    n = recv(fd, buf, len, 0);
    return n < 0 ? -1 : (int)n;
}

static int tcp_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "cannot connect to the broker on 127.0.0.1:%d: %s\n", port, strerror(errno));
        exit(2);
    }
    return fd;
}

typedef struct {
    int count;
    char topic[64];
    int qos;
    size_t len;
    uint8_t payload[64];
} inbox_t;

static void on_message(void *user, const char *topic, size_t topic_len, int qos, const uint8_t *payload, size_t len)
{
    inbox_t *in = user;
    in->count++;
    snprintf(in->topic, sizeof in->topic, "%.*s", (int)topic_len, topic);
    in->qos = qos;
    in->len = len;
    memcpy(in->payload, payload, len < sizeof in->payload ? len : sizeof in->payload);
}

/* Polls until a message arrives (bounded: 5 s). */
static void await_message(mqtt_client_t *c, inbox_t *in, int before)
{
    long deadline = now_ms(NULL) + 5000;
    while (in->count == before && now_ms(NULL) < deadline) {
        if (mqtt_client_poll(c, 200) != MQTT_OK) break;
    }
}

static void test_broker(int port, int refusing_port)
{
    static mqtt_client_t c, raw;
    int fd = tcp_open(port), raw_fd;
    mqtt_io_t io = { tcp_send, tcp_recv, now_ms, &fd };
    inbox_t in;
    int connack, present, acked, granted, before;
    mqtt_connect_opts_t o = { "hilt-test-c", 30, 1, NULL, NULL, 0 };
    static uint8_t big[6000];

    memset(&in, 0, sizeof in);
    mqtt_client_init(&c, &io, on_message, &in);
    CHECK(mqtt_client_connect(&c, &o, 5000, &connack, &present) == MQTT_OK);
    CHECK(connack == 0 && present == 0);
    CHECK(mqtt_client_subscribe(&c, "hilt/c/#", 2, 5000, &granted) == MQTT_OK && granted == 2);

    /* QoS 0, 1 and 2 to ourselves: each comes back with its payload. */
    for (int qos = 0; qos <= 2; qos++) {
        char payload[16];
        snprintf(payload, sizeof payload, "hello-%d", qos);
        before = in.count;
        CHECK(mqtt_client_publish(&c, "hilt/c/t", (const uint8_t *)payload, strlen(payload), qos, 0, 5000, &acked) == MQTT_OK);
        CHECK(acked == (qos > 0));
        await_message(&c, &in, before);
        CHECK(in.count == before + 1 && strcmp(in.topic, "hilt/c/t") == 0 && in.qos == qos);
        CHECK(in.len == strlen(payload) && memcmp(in.payload, payload, in.len) == 0);
    }

    /* A message bigger than the client's receive buffer is skipped, and the next one still
     * arrives whole: a second connection sends both, encoded into a larger buffer. */
    raw_fd = tcp_open(port);
    {
        mqtt_io_t rio = { tcp_send, tcp_recv, now_ms, &raw_fd };
        mqtt_connect_opts_t ro = { "hilt-test-raw", 30, 1, NULL, NULL, 0 };
        static uint8_t payload[5000];
        int n;
        mqtt_client_init(&raw, &rio, NULL, NULL);
        CHECK(mqtt_client_connect(&raw, &ro, 5000, &connack, &present) == MQTT_OK);
        memset(payload, 'B', sizeof payload);
        n = mqtt_encode_publish(big, sizeof big, "hilt/c/big", payload, sizeof payload, 0, 0, 0, 0);
        CHECK(n > MQTT_RX_MAX && tcp_send(&raw_fd, big, (size_t)n) == n);
        before = in.count;
        CHECK(mqtt_client_publish(&raw, "hilt/c/after", (const uint8_t *)"ok", 2, 1, 0, 5000, &acked) == MQTT_OK);
        await_message(&c, &in, before);
        CHECK(in.count == before + 1 && strcmp(in.topic, "hilt/c/after") == 0);
        CHECK(c.skipped_packets == 1);
        mqtt_client_disconnect(&raw);
        close(raw_fd);
    }

    /* Keepalive: with keepalive 1 s the client pings when idle, and the broker answers. */
    {
        long until = now_ms(NULL) + 2500;
        c.keepalive_s = 1;
        while (now_ms(NULL) < until) CHECK(mqtt_client_poll(&c, 300) == MQTT_OK);
        CHECK(c.ping_outstanding == 0 && c.last_tx_ms > 0);
    }

    mqtt_client_disconnect(&c);
    /* After DISCONNECT the broker closes its side (3.14.4). */
    {
        uint8_t b[8];
        CHECK(tcp_recv(&fd, b, sizeof b, 5000) == 0);
    }
    close(fd);

    /* A broker that refuses anonymous clients: CONNACK 5, reported as refused with the code. */
    if (refusing_port > 0) {
        fd = tcp_open(refusing_port);
        mqtt_client_init(&c, &io, NULL, NULL);
        CHECK(mqtt_client_connect(&c, &o, 5000, &connack, &present) == MQTT_REFUSED);
        CHECK(connack == 5);
        close(fd);
    }

    /* A peer that closes before CONNACK: reported as closed, within the timeout. */
    {
        int ls = socket(AF_INET, SOCK_STREAM, 0), peer;
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        long t0;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 1) == 0);
        CHECK(getsockname(ls, (struct sockaddr *)&a, &alen) == 0);
        fd = tcp_open(ntohs(a.sin_port));
        peer = accept(ls, NULL, NULL);
        mqtt_client_init(&c, &io, NULL, NULL);
        close(peer);
        CHECK(mqtt_client_connect(&c, &o, 5000, &connack, &present) == MQTT_CLOSED && connack == -1);
        close(fd);
        /* And one that accepts and says nothing: a timeout, when the timeout says. */
        fd = tcp_open(ntohs(a.sin_port));
        peer = accept(ls, NULL, NULL);
        mqtt_client_init(&c, &io, NULL, NULL);
        t0 = now_ms(NULL);
        CHECK(mqtt_client_connect(&c, &o, 300, &connack, &present) == MQTT_TIMEOUT);
        CHECK(now_ms(NULL) - t0 >= 300);
        close(peer);
        close(fd);
        close(ls);
    }
}

int main(int argc, char **argv)
{
    test_codec();
    if (argc > 1) test_broker(atoi(argv[1]), argc > 2 ? atoi(argv[2]) : 0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
