/*
 * Feeds the agent core a stream of random and mutated protocol lines (at least 100,000 by
 * default) through the recording test port, in random chunk sizes, with random connect outcomes,
 * lines arriving while a command waits, MQTT events and restarts. Built with ASan and UBSan, a
 * memory error, undefined behaviour or a leak stops it. It also checks every line the core
 * writes: a protocol line must be `@hil <id> ok|err <JSON object>` or `@hil * <event> <JSON
 * object>` in valid UTF-8, an err body has a known code and a message, and a well-formed
 * command line within the limit gets exactly one reply.
 *
 *   fuzz_lines [lines] [seed]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hilt_core.h"
#include "test_port.h"

static test_port_t tp;
static hilt_port_t port;
static hilt_core_t core;
static uint64_t rng_state;
static long bad_lines;

static uint32_t rnd(void)
{
    /* xorshift64*: reproducible from the seed on every platform */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static uint32_t below(uint32_t n) { return n == 0 ? 0 : rnd() % n; }

/* ---- checking what the core wrote ----------------------------------------------------------- */

static const char *jp; /* JSON cursor */
static const char *jend;

static void ws(void) { while (jp < jend && (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r')) jp++; }
static int value(int depth);

static int string(void)
{
    if (jp >= jend || *jp != '"') return 0;
    jp++;
    while (jp < jend && *jp != '"') {
        unsigned char ch = (unsigned char)*jp;
        if (ch < 0x20) return 0;
        if (ch == '\\') {
            jp++;
            if (jp >= jend) return 0;
            if (*jp == 'u') {
                int k;
                for (k = 1; k <= 4; k++) {
                    char h = jp + k < jend ? jp[k] : 0;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F'))) return 0;
                }
                jp += 4;
            } else if (!strchr("\"\\/bfnrt", *jp)) {
                return 0;
            }
        }
        jp++;
    }
    if (jp >= jend) return 0;
    jp++;
    return 1;
}

static int number(void)
{
    const char *start = jp;
    if (jp < jend && *jp == '-') jp++;
    if (jp >= jend || *jp < '0' || *jp > '9') return 0;
    if (*jp == '0') jp++;
    else while (jp < jend && *jp >= '0' && *jp <= '9') jp++;
    return jp > start;
}

static int members(int depth, char open, char close, int keyed)
{
    if (jp >= jend || *jp != open) return 0;
    jp++;
    ws();
    if (jp < jend && *jp == close) {
        jp++;
        return 1;
    }
    for (;;) {
        ws();
        if (keyed) {
            if (!string()) return 0;
            ws();
            if (jp >= jend || *jp != ':') return 0;
            jp++;
            ws();
        }
        if (!value(depth + 1)) return 0;
        ws();
        if (jp < jend && *jp == ',') {
            jp++;
            continue;
        }
        if (jp < jend && *jp == close) {
            jp++;
            return 1;
        }
        return 0;
    }
}

static int value(int depth)
{
    if (depth > 16 || jp >= jend) return 0;
    switch (*jp) {
    case '{': return members(depth, '{', '}', 1);
    case '[': return members(depth, '[', ']', 0);
    case '"': return string();
    case 't': if (jend - jp >= 4 && memcmp(jp, "true", 4) == 0) { jp += 4; return 1; } return 0;
    case 'f': if (jend - jp >= 5 && memcmp(jp, "false", 5) == 0) { jp += 5; return 1; } return 0;
    case 'n': if (jend - jp >= 4 && memcmp(jp, "null", 4) == 0) { jp += 4; return 1; } return 0;
    default: return number();
    }
}

static int valid_utf8(const char *s, size_t n)
{
    size_t at = 0;
    while (at < n) {
        size_t before = at;
        uint32_t cp = hilt_utf8_next((const uint8_t *)s, n, &at);
        /* U+FFFD written by the core is 3 bytes EF BF BD; one read from a bad byte is shorter */
        if (cp == HILT_REPLACEMENT && !(at - before == 3 && (unsigned char)s[before] == 0xEF)) return 0;
    }
    return 1;
}

static void bad(const char *why, const char *line)
{
    bad_lines++;
    if (bad_lines <= 10) fprintf(stderr, "fuzz: %s: %.300s\n", why, line);
}

/* Checks one written line; returns the reply's id, 0 for an event or a log line. */
static uint32_t check_line(const char *line)
{
    const char *sp, *body;
    size_t n = strlen(line);
    uint32_t id = 0;
    if (!valid_utf8(line, n)) bad("not UTF-8", line);
    if (strncmp(line, "@hil ", 5) != 0) {
        if (line[0] == '\0' || line[1] != ' ' || strchr("EWID", line[0]) == NULL) bad("log line of unknown form", line);
        return 0;
    }
    sp = strchr(line + 5, ' ');
    if (sp == NULL) {
        bad("no status", line);
        return 0;
    }
    if (line[5] == '*') {
        body = strchr(sp + 1, ' ');
    } else {
        id = (uint32_t)strtoul(line + 5, NULL, 10);
        if (id == 0 || (strncmp(sp, " ok ", 4) != 0 && strncmp(sp, " err ", 5) != 0)) bad("bad reply head", line);
        body = strchr(sp + 1, ' ');
        if (body != NULL && strncmp(sp, " err ", 5) == 0) {
            static const char *const codes[] = {"bad_args", "unknown_command", "busy", "too_long", "no_slot", "internal"};
            size_t k;
            int known = 0;
            for (k = 0; k < 6; k++) {
                char want[40];
                snprintf(want, sizeof want, "{\"code\":\"%s\",\"message\":\"", codes[k]);
                known = known || strncmp(body + 1, want, strlen(want)) == 0;
            }
            if (!known) bad("err body without a known code and a message", line);
        }
    }
    if (body == NULL || body[1] != '{') {
        bad("no JSON object body", line);
        return id;
    }
    jp = body + 1;
    jend = line + n;
    if (!value(0) || jp != jend) bad("body is not one JSON value", line);
    return id;
}

static size_t check_output(uint32_t want_id, const char **out_first)
{
    size_t i, replies = 0;
    if (out_first) *out_first = tp.line_count ? tp.lines[0] : "";
    for (i = 0; i < tp.line_count; i++) {
        uint32_t id = check_line(tp.lines[i]);
        if (want_id != 0 && id == want_id) replies++;
    }
    tp_free(&tp);
    return replies;
}

/* ---- making lines --------------------------------------------------------------------------- */

static const char *const SEEDS[] = {
    "hello", "reset", "time.set epoch=1764547200", "time.clear", "store.put slot=ca kind=ca data=LS0tLS1CRUdJTg== part=1/2",
    "store.put slot=ca kind=ca data=QUJD part=2/2", "store.put slot=k kind=key data=YWJj", "store.del slot=ca", "store.list",
    "heap.stats", "heap.reserve bytes=1000", "heap.release", "tls.connect host=lab.local port=8883 ca=ca alpn=mqtt,x",
    "tls.connect host=h ca=none ciphers=TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256 tls=1.2 timeout_ms=0 skip_cn=1 hold_ms=5",
    "tls.connect host=h cert=k key=k", "tls.close", "tls.connect host=h stack=2048", "mqtt.connect host=h stack=65536",
    "mqtt.connect host=h client_id=x keepalive=0 clean=0 username=u password=cGFzcw==", "mqtt.publish topic=a/b qos=1 payload=aGk= retain=1",
    "mqtt.subscribe topic=a/# qos=2", "mqtt.disconnect", "fly", "",
};
static const char *const PIECES[] = {
    " ", "  ", "=", ",", "/", "@hil ", "\r", "\t", "\xc2\xa0", "\xff", "\xe2\x80", "\xf0\x9f\x98\x80", "\"", "\\",
    "\x01", "-", "0", "1", "2147483647", "2147483648", "99999999999999999999", "part=1/1000", "part=1000/1000",
    "data=", "slot=none", "kind=cert", "stack=", "stack=2047", "stack=65537", "ca=", "ciphers=,", "alpn=,,", "=A===", "TLS1-3-AES-128-GCM-SHA256",
};

static size_t make_line(char *buf, size_t cap, uint32_t *id)
{
    size_t n = 0, i, count;
    uint32_t mode = below(10);
    *id = 0;
    if (mode == 0) { /* raw random bytes */
        count = below(200);
        for (i = 0; i < count && n + 1 < cap; i++) {
            char ch = (char)below(256);
            if (ch != '\n') buf[n++] = ch;
        }
        return n;
    }
    if (mode == 1) { /* a long line: over 1024, sometimes over 4096 */
        count = 900 + below(below(2) ? 300 : 5500);
        n = (size_t)snprintf(buf, cap, "@hil %u store.put slot=a kind=ca data=", 1 + below(1000));
        for (i = n; i < count && i + 1 < cap; i++) buf[i] = "AB+/="[below(5)];
        return i;
    }
    /* a seed line with an id, then mutations */
    *id = 1 + below(999999);
    n = (size_t)snprintf(buf, cap, "@hil %u %s", (unsigned)*id, SEEDS[below(sizeof SEEDS / sizeof SEEDS[0])]);
    if (mode < 5) return n; /* intact: must get exactly one reply (or a boot for reset) */
    *id = 0;
    count = 1 + below(6);
    for (i = 0; i < count; i++) {
        uint32_t op = below(4);
        size_t at = n > 0 ? below((uint32_t)n + 1) : 0;
        if (op == 0 && n > 0) { /* delete a run */
            size_t len = 1 + below(8);
            if (at + len > n) len = n - at;
            memmove(buf + at, buf + at + len, n - at - len);
            n -= len;
        } else if (op == 1 && n > 0 && at < n) { /* flip a byte */
            char ch = (char)below(256);
            buf[at] = ch == '\n' ? 'x' : ch;
        } else { /* insert a piece */
            const char *p = PIECES[below(sizeof PIECES / sizeof PIECES[0])];
            size_t len = strlen(p);
            if (n + len + 1 >= cap) break;
            memmove(buf + at + len, buf + at, n - at);
            memcpy(buf + at, p, len);
            n += len;
        }
    }
    return n;
}

static void random_result(void)
{
    hilt_connect_result_t *r = &tp.result;
    size_t i;
    /* the port may fill text fields to the brim, without a NUL: the core must stay inside them */
    memset(r, 0, sizeof *r);
    r->connected = below(2);
    r->has_tls = below(2);
    for (i = 0; i < sizeof r->version; i++) r->version[i] = (char)(1 + below(255));
    for (i = 0; i < sizeof r->cipher; i++) r->cipher[i] = (char)(1 + below(255));
    r->has_alpn = below(2);
    r->has_peer = below(2);
    for (i = 0; i < sizeof r->peer_subject; i++) r->peer_subject[i] = (char)(1 + below(255));
    memcpy(r->peer_issuer, "CN=x", 5);
    r->esp_err = (int32_t)rnd();
    r->stack_err = (int32_t)rnd();
    r->verify_flags = rnd();
    r->mqtt_error_type = (hilt_mqtt_error_type_t)below(3);
    r->connack = below(3) ? HILT_NONE : (int32_t)below(256);
    r->sock_errno = (int32_t)below(200);
    r->dns_ms = (int32_t)rnd();
    r->tcp_ms = (int32_t)rnd();
    r->tls_ms = (int32_t)rnd();
    r->mqtt_ms = (int32_t)rnd();
    r->total_ms = below(2) ? HILT_NONE : (int32_t)rnd();
    r->timing_source = (hilt_source_t)below(3);
    r->heap_before = rnd();
    r->heap_min = rnd();
    r->heap_after = rnd();
    r->has_stack = below(2);
    r->stack_size = rnd();
    r->stack_peak_used = rnd();
    r->stack_source = (hilt_source_t)below(2);
    r->has_mqtt = below(2);
    r->session_present = below(2);
    r->mqtt_connack = (int32_t)below(6);
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 100000, fed = 0, missing = 0;
    static char line[7000], during[2200];
    rng_state = argc > 2 ? strtoull(argv[2], NULL, 10) : 88172645463325252ULL;
    if (rng_state == 0) rng_state = 1;
    tp_init(&tp, &port);
    hilt_core_init(&core, &port);
    hilt_core_boot(&core);
    check_output(0, NULL);
    while (fed < total) {
        uint32_t id;
        size_t n = make_line(line, sizeof line - 2, &id), at = 0, replies;
        int is_reset;
        const char *first;
        line[n++] = below(8) == 0 ? '\r' : '\n';
        if (line[n - 1] == '\r') line[n++] = '\n';
        line[n] = '\0';
        random_result();
        tp.mqtt_up = below(2);
        tp.connect_error = below(20) == 0 ? "port failure" : NULL;
        tp.during_connect = NULL;
        if (below(4) == 0) { /* lines arriving while a command waits */
            uint32_t ignored;
            size_t m = make_line(during, sizeof during - 2, &ignored);
            during[m++] = '\n';
            during[m] = '\0';
            tp.during_connect = during;
            tp.during_len = m; /* random bytes may hold a NUL */
            fed++;
        }
        if (below(50) == 0) hilt_core_mqtt_message(&core, line, n > 300 ? 300 : n, (int)below(3), (const uint8_t *)line, n);
        if (below(200) == 0) hilt_core_mqtt_disconnected(&core, "connection closed by broker");
        /* random chunking */
        while (at < n) {
            size_t chunk = 1 + below(below(4) == 0 ? 8 : 700);
            if (chunk > n - at) chunk = n - at;
            hilt_core_feed(&core, (const uint8_t *)line + at, chunk);
            at += chunk;
        }
        fed++;
        is_reset = id != 0 && strstr(line, " reset") != NULL;
        {
            static char first_copy[256];
            snprintf(first_copy, sizeof first_copy, "%s", tp.line_count ? tp.lines[0] : "(none)");
            first = first_copy;
            replies = check_output(id, NULL);
        }
        if (id != 0 && !is_reset && replies != 1) {
            missing++;
            if (missing <= 5) fprintf(stderr, "fuzz: %zu replies to: %.200s (first output: %.200s)\n", replies, line, first);
        }
    }
    hilt_core_flush(&core);
    check_output(0, NULL);
    tp_free(&tp);
    printf("fuzz: %ld lines fed, %ld bad output lines, %ld commands without exactly one reply\n", fed, bad_lines, missing);
    return bad_lines == 0 && missing == 0 ? 0 : 1;
}
