/*
 * Unit tests of the agent core, run against the recording test port (test_port.c).
 * Expected lines are the emulator's (emulator/board.ts, harness/protocol/) for the same input;
 * test/native/core.spec.ts also compares many of them with the emulator directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hilt_b64.h"
#include "hilt_core.h"
#include "hilt_sha256.h"
#include "test_port.h"

static int failures, checks;
static test_port_t tp;
static hilt_port_t port;
static hilt_core_t core;

#define EXPECT_STR(actual, expected) expect_str(__FILE__, __LINE__, (actual), (expected))
#define EXPECT_HAS(actual, part) expect_has(__FILE__, __LINE__, (actual), (part))
#define EXPECT(cond) expect_true(__FILE__, __LINE__, (cond), #cond)

static void expect_str(const char *file, int line, const char *actual, const char *expected)
{
    checks++;
    if (strcmp(actual, expected) == 0) return;
    failures++;
    fprintf(stderr, "%s:%d: expected\n  %s\ngot\n  %s\n", file, line, expected, actual);
}

static void expect_has(const char *file, int line, const char *actual, const char *part)
{
    checks++;
    if (strstr(actual, part) != NULL) return;
    failures++;
    fprintf(stderr, "%s:%d: expected to contain\n  %s\ngot\n  %s\n", file, line, part, actual);
}

static void expect_true(const char *file, int line, int cond, const char *text)
{
    checks++;
    if (cond) return;
    failures++;
    fprintf(stderr, "%s:%d: expected %s\n", file, line, text);
}

/* A booted agent on a fresh test port; the boot line is taken. */
static void fresh(void)
{
    tp_free(&tp);
    tp_init(&tp, &port);
    hilt_core_init(&core, &port);
    hilt_core_boot(&core);
    tp_take(&tp);
}

static const char *send(const char *text)
{
    hilt_core_feed(&core, (const uint8_t *)text, strlen(text));
    return tp_take(&tp);
}

static void test_boot_and_hello(void)
{
    tp_free(&tp);
    tp_init(&tp, &port);
    hilt_core_init(&core, &port);
    hilt_core_boot(&core);
    EXPECT_STR(tp_take(&tp), "@hil * boot {\"proto\":1,\"reason\":\"POWERON_RESET\"}");
    tp.clock_epoch = 12;
    EXPECT_STR(send("@hil 1 hello\n"),
               "@hil 1 ok {\"proto\":1,\"agent\":{\"name\":\"hilt-agent\",\"version\":\"1.0.0\"},"
               "\"fw\":{\"project\":\"hilt_test_agent\",\"version\":\"1.0.0\",\"idf\":\"v5.5\",\"elf_sha256\":null},"
               "\"chip\":{\"model\":\"ESP32\",\"revision\":3,\"cores\":2,\"mac\":\"24:0a:c4:00:00:01\"},"
               "\"mbedtls\":{\"version\":\"3.6.6\",\"have_time_date\":true,\"in_content_len\":16384,\"out_content_len\":4096,"
               "\"dynamic_buffer\":false,\"tls13\":false,\"ciphersuites\":[\"TLS-ECDHE-RSA-WITH-CHACHA20-POLY1305-SHA256\","
               "\"TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256\",\"TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384\","
               "\"TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384\",\"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256\","
               "\"TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256\",\"TLS-RSA-WITH-AES-128-GCM-SHA256\"]},"
               "\"heap\":{\"free\":147968,\"min_free\":140000,\"largest\":110592},"
               "\"time\":{\"epoch\":12,\"synced\":false}}");
    tp.facts.fw_elf_sha256 = "ab";
    hilt_core_init(&core, &port);
    EXPECT_HAS(send("@hil 2 hello\n"), "\"elf_sha256\":\"ab\"");
}

static void test_framing(void)
{
    fresh();
    /* \r\n endings, several lines in one chunk, a line split across chunks */
    EXPECT_STR(send("@hil 1 heap.stats\r\n@hil 2 heap.stats\n@hil 3 heap"),
               "@hil 1 ok {\"free\":147968,\"min_free\":140000,\"largest\":110592}\n"
               "@hil 2 ok {\"free\":147968,\"min_free\":140000,\"largest\":110592}");
    EXPECT_STR(send(".stats\n"), "@hil 3 ok {\"free\":147968,\"min_free\":140000,\"largest\":110592}");
    /* console input: ignored, with a warning unless blank */
    EXPECT_STR(send("hello there\n"), "W hil_agent: ignored input that is not a protocol line (11 bytes)");
    EXPECT_STR(send("   \r\n\n"), "");
    EXPECT_STR(send("@hil\n"), "W hil_agent: ignored input that is not a protocol line (4 bytes)");
    /* a line without a readable id cannot be answered */
    EXPECT_STR(send("@hil x hello\n"),
               "W hil_agent: ignored protocol line without a valid id: id 'x': expected a decimal integer 1..2147483647 after '@hil'");
    EXPECT_STR(send("@hil 2147483648 hello\n"),
               "W hil_agent: ignored protocol line without a valid id: id '2147483648': expected a decimal integer 1..2147483647 after '@hil'");
    EXPECT_HAS(send("@hil 2147483647 time.clear\n"), "@hil 2147483647 ok ");
    /* runs of spaces separate tokens, leading ones too */
    EXPECT_HAS(send("@hil   7   heap.stats  \n"), "@hil 7 ok {");
}

static void test_too_long(void)
{
    static char line[6000];
    size_t i;
    fresh();
    /* exactly 1024 bytes is allowed */
    strcpy(line, "@hil 5 store.put slot=abc kind=ca part=1/1 data="); /* 48 bytes: 976 of base64 */
    for (i = strlen(line); i < 1024; i++) line[i] = 'A';
    line[1024] = '\n';
    line[1025] = '\0';
    EXPECT_HAS(send(line), "@hil 5 ok {\"slot\":\"abc\",\"bytes\":732,");
    /* 1025 bytes: too_long, with the id read from the start */
    line[1024] = 'A';
    line[1025] = '\n';
    line[1026] = '\0';
    EXPECT_STR(send(line),
               "@hil 5 err {\"code\":\"too_long\",\"message\":\"line is 1025 bytes, over the 1024-byte limit; send large data in parts (part=i/n)\"}");
    /* the \r of a 1024-byte line does not count */
    line[1024] = '\r';
    line[1025] = '\n';
    EXPECT_HAS(send(line), "@hil 5 ok {");
    /* longer than the emulator's 4096-byte splitter: said as it says it */
    for (i = 0; i < 5000; i++) line[i] = i < 5 ? "@hil "[i] : i < 7 ? "9 "[i - 5] : 'x';
    line[5000] = '\n';
    line[5001] = '\0';
    EXPECT_STR(send(line),
               "@hil 9 err {\"code\":\"too_long\",\"message\":\"line is longer than 4096 bytes, over the 1024-byte limit; send large data in parts (part=i/n)\"}");
    /* no id at the start: a warning, no reply */
    line[5] = 'z';
    EXPECT_HAS(send(line), "W hil_agent: ignored protocol line without a valid id: line is longer than 4096 bytes");
    /* a long console line is still counted whole */
    memset(line, 'y', 3000);
    line[3000] = '\n';
    line[3001] = '\0';
    EXPECT_STR(send(line), "W hil_agent: ignored input that is not a protocol line (3000 bytes)");
    /* the next line after a long one is read normally */
    EXPECT_HAS(send("@hil 10 heap.stats\n"), "@hil 10 ok");
}

static void test_end_of_input(void)
{
    fresh();
    tp.input = "@hil 1 time.clear\n@hil 2 heap.stats";
    tp.input_ended = true;
    tp.chunk = 3;
    hilt_agent_run(&port);
    EXPECT_STR(tp_take(&tp),
               "@hil * boot {\"proto\":1,\"reason\":\"POWERON_RESET\"}\n"
               "@hil 1 ok {\"epoch\":0,\"synced\":false}\n"
               "@hil 2 ok {\"free\":147968,\"min_free\":140000,\"largest\":110592}");
}

static void test_parse_refusals(void)
{
    fresh();
    EXPECT_STR(send("@hil 3\n"), "@hil 3 err {\"code\":\"bad_args\",\"message\":\"no command after id 3\"}");
    EXPECT_STR(send("@hil 3 fly\n"), "@hil 3 err {\"code\":\"unknown_command\",\"message\":\"unknown command 'fly'\"}");
    EXPECT_STR(send("@hil 3 hello x\n"), "@hil 3 err {\"code\":\"bad_args\",\"message\":\"argument 'x': expected key=value\"}");
    EXPECT_STR(send("@hil 3 hello 9a=1\n"),
               "@hil 3 err {\"code\":\"bad_args\",\"message\":\"argument '9a=1': key must be a-z, 0-9 and _, not starting with a digit\"}");
    EXPECT_STR(send("@hil 3 hello a=\n"), "@hil 3 err {\"code\":\"bad_args\",\"message\":\"argument 'a=': empty value\"}");
    EXPECT_STR(send("@hil 3 hello a=b\tc\n"),
               "@hil 3 err {\"code\":\"bad_args\",\"message\":\"argument 'a=b\\\\tc': value contains a control character\"}");
    EXPECT_STR(send("@hil 3 hello a=1 a=2\n"), "@hil 3 err {\"code\":\"bad_args\",\"message\":\"argument 'a' given twice\"}");
    EXPECT_STR(send("@hil 3 hello a=1 b=2\n"),
               "@hil 3 err {\"code\":\"bad_args\",\"message\":\"hello: unknown argument 'a', 'b' (hello takes no arguments)\"}");
    EXPECT_STR(send("@hil 3 time.set epoch=1 skip_cm=1\n"),
               "@hil 3 err {\"code\":\"bad_args\",\"message\":\"time.set: unknown argument 'skip_cm' (time.set takes epoch)\"}");
    /* a quoted value is cut at 40 characters; U+00A0 is white space, refused and flattened to a space */
    EXPECT_STR(send("@hil 3 hello k=0123456789012345678901234567890123456789\n"),
               "@hil 3 err {\"code\":\"bad_args\",\"message\":\"hello: unknown argument 'k' (hello takes no arguments)\"}");
    EXPECT_STR(send("@hil 3 fly0123456789012345678901234567890123456789\n"),
               "@hil 3 err {\"code\":\"unknown_command\",\"message\":\"unknown command 'fly0123456789012345678901234567890123...'\"}");
    EXPECT_STR(send("@hil 3 hello a=b\xc2\xa0\x63\n"),
               "@hil 3 err {\"code\":\"bad_args\",\"message\":\"argument 'a=b c': value contains a control character\"}");
    /* invalid UTF-8 is shown as U+FFFD, as Node decodes it */
    EXPECT_STR(send("@hil 3 fl\xff\xe2\x82y\n"),
               "@hil 3 err {\"code\":\"unknown_command\",\"message\":\"unknown command 'fl\xef\xbf\xbd\xef\xbf\xbdy'\"}");
}

static void test_int_and_bool_args(void)
{
    static const char *const bad[] = {"010", "-0", "+5", "0x10", "1e3", "1.5", "-", "1099511627777", "99999999999999999999"};
    size_t i;
    char line[128], expected[256];
    fresh();
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "@hil 4 time.set epoch=%s\n", bad[i]);
        snprintf(expected, sizeof expected,
                 "@hil 4 err {\"code\":\"bad_args\",\"message\":\"epoch: expected an integer 0..1099511627776, got '%s'\"}", bad[i]);
        EXPECT_STR(send(line), expected);
    }
    EXPECT_STR(send("@hil 4 time.set\n"),
               "@hil 4 err {\"code\":\"bad_args\",\"message\":\"epoch: missing, expected epoch=<an integer 0..1099511627776>\"}");
    EXPECT_STR(send("@hil 4 time.set epoch=1764547200\n"),
               "I hil_agent: time set to 2025-12-01T00:00:00.000Z\n@hil 4 ok {\"epoch\":1764547200,\"synced\":true}");
    EXPECT(tp.time_sets == 1 && tp.last_epoch == 1764547200);
    EXPECT_STR(send("@hil 4 time.set epoch=1099511627776\n"),
               "I hil_agent: time set to +036812-02-20T00:36:16.000Z\n@hil 4 ok {\"epoch\":1099511627776,\"synced\":true}");
    EXPECT_STR(send("@hil 4 time.set epoch=0\n"), "I hil_agent: time set to 1970-01-01T00:00:00.000Z\n@hil 4 ok {\"epoch\":0,\"synced\":true}");
    EXPECT(tp.last_epoch == 0);
    tp.uptime = 5500;
    EXPECT_STR(send("@hil 5 time.clear\n"), "@hil 5 ok {\"epoch\":5,\"synced\":false}");
    EXPECT_STR(send("@hil 6 heap.reserve bytes=16777217\n"),
               "@hil 6 err {\"code\":\"bad_args\",\"message\":\"bytes: expected an integer 0..16777216, got '16777217'\"}");
    EXPECT_STR(send("@hil 6 heap.reserve bytes=-1\n"),
               "@hil 6 err {\"code\":\"bad_args\",\"message\":\"bytes: expected an integer 0..16777216, got '-1'\"}");
    EXPECT_STR(send("@hil 6 heap.reserve bytes=100000\n"), "@hil 6 ok {\"reserved\":100000,\"free\":47968}");
    EXPECT_STR(send("@hil 6 heap.reserve bytes=100000\n"), "@hil 6 ok {\"reserved\":47968,\"free\":0}");
    EXPECT_STR(send("@hil 7 heap.release\n"), "@hil 7 ok {\"free\":147968}");
}

static const char *store(const char *args)
{
    char line[1100];
    snprintf(line, sizeof line, "@hil 8 store.put %s\n", args);
    return send(line);
}

static void test_store(void)
{
    fresh();
    EXPECT_STR(store("slot=ca1 kind=ca data=YWJj"), "@hil 8 ok {\"slot\":\"ca1\",\"bytes\":3,\"complete\":true}");
    EXPECT_STR(send("@hil 9 store.list\n"),
               "@hil 9 ok {\"slots\":[{\"slot\":\"ca1\",\"kind\":\"ca\",\"bytes\":3,"
               "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]}");
    /* parts in order */
    EXPECT_STR(store("slot=k kind=key data=YWJj part=1/2"), "@hil 8 ok {\"slot\":\"k\",\"bytes\":3,\"complete\":false}");
    EXPECT_STR(store("slot=k kind=key data=ZA== part=2/2"), "@hil 8 ok {\"slot\":\"k\",\"bytes\":4,\"complete\":true}");
    EXPECT_HAS(send("@hil 9 store.list\n"), "{\"slot\":\"k\",\"kind\":\"key\",\"bytes\":4,\"sha256\":\"88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589\"}");
    /* out of order, kind or count changed, no transfer: refused, and the transfer is gone */
    EXPECT_STR(store("slot=k kind=key data=YWJj part=2/2"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"slot 'k': part 2/2 without a transfer in progress; send the data again from part 1\"}");
    store("slot=k kind=key data=YWJj part=1/3");
    EXPECT_STR(store("slot=k kind=key data=YWJj part=3/3"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"slot 'k': part 3/3 out of order, expected part 2/3; send the data again from part 1\"}");
    EXPECT_HAS(store("slot=k kind=key data=YWJj part=2/3"), "part 2/3 without a transfer in progress");
    store("slot=k kind=key data=YWJj part=1/3");
    EXPECT_STR(store("slot=k kind=ca data=YWJj part=2/3"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"slot 'k': kind changed from key to ca at part 2/3; send the data again from part 1\"}");
    store("slot=k kind=key data=YWJj part=1/3");
    EXPECT_STR(store("slot=k kind=key data=YWJj part=2/4"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"slot 'k': part count changed from 3 to 4 at part 2; send the data again from part 1\"}");
    /* the complete slot from before is untouched by the failed transfers */
    EXPECT_HAS(send("@hil 9 store.list\n"), "{\"slot\":\"k\",\"kind\":\"key\",\"bytes\":4,");
    /* part forms */
    EXPECT_STR(store("slot=k kind=key data=YWJj part=0/1"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"part: expected i/n with 1 <= i <= n <= 1000, got '0/1'\"}");
    EXPECT_HAS(store("slot=k kind=key data=YWJj part=2/1"), "got '2/1'");
    EXPECT_HAS(store("slot=k kind=key data=YWJj part=1/1001"), "got '1/1001'");
    EXPECT_HAS(store("slot=k kind=key data=YWJj part=01/2"), "got '01/2'");
    EXPECT_HAS(store("slot=k kind=key data=YWJj part=1/2/3"), "got '1/2/3'");
    /* slot names and kinds */
    EXPECT_STR(store("slot=none kind=ca data=YWJj"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"store.put: slot name 'none' is reserved (ca=none means no CA)\"}");
    EXPECT_STR(store("slot=Big kind=ca data=YWJj"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"store.put: slot \\\"Big\\\": use 1-16 of a-z 0-9 _ -\"}");
    EXPECT_STR(store("slot=a kind=pem data=YWJj"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"kind: expected one of ca|cert|key, got 'pem'\"}");
    EXPECT_STR(store("slot=a kind=ca"), "@hil 8 err {\"code\":\"bad_args\",\"message\":\"data: missing, expected data=<base64>\"}");
    /* delete */
    EXPECT_STR(send("@hil 9 store.del slot=k\n"), "@hil 9 ok {\"slot\":\"k\"}");
    EXPECT_STR(send("@hil 9 store.del slot=k\n"), "@hil 9 err {\"code\":\"no_slot\",\"message\":\"store.del: no slot \\\"k\\\"\"}");
}

static void test_store_limits(void)
{
    char args[64];
    int i;
    static char big[1100];
    fresh();
    for (i = 0; i < HILT_STORE_SLOTS; i++) {
        snprintf(args, sizeof args, "slot=s%d kind=ca data=YWJj", i);
        EXPECT_HAS(store(args), "\"complete\":true");
    }
    EXPECT_STR(store("slot=s9 kind=ca data=YWJj"),
               "@hil 8 err {\"code\":\"no_slot\",\"message\":\"store.put: all 8 slots are in use; store.del one first\"}");
    EXPECT_HAS(store("slot=s0 kind=cert data=YWJj"), "\"complete\":true"); /* replacing is fine */
    /* store.list keeps the order slots were first stored in */
    EXPECT_HAS(send("@hil 9 store.list\n"), "{\"slots\":[{\"slot\":\"s0\",\"kind\":\"cert\"");
    /* a slot holds at most HILT_SLOT_BYTES: 720 bytes a part, the 12th would make 8640 */
    fresh();
    for (i = 1; i <= 12; i++) {
        int k, at = snprintf(big, sizeof big, "slot=b kind=ca part=%d/20 data=", i);
        for (k = 0; k < 960; k++) big[at + k] = 'A';
        big[at + 960] = '\0';
        if (i < 12) EXPECT_HAS(store(big), "\"complete\":false");
        else EXPECT_STR(store(big),
            "@hil 8 err {\"code\":\"bad_args\",\"message\":\"store.put: slot b would hold 8640 bytes, more than the 8192 a slot takes\"}");
    }
    /* and the transfer is dropped */
    EXPECT_HAS(store(big), "without a transfer in progress");
}

static void test_base64(void)
{
    uint8_t out[16];
    size_t n;
    char enc[8];
    fresh();
    EXPECT_STR(store("slot=a kind=ca data=YQ"),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"data: expected standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters), got 'YQ'\"}");
    EXPECT_HAS(store("slot=a kind=ca data=Y-_A"), "got 'Y-_A'");
    EXPECT_HAS(store("slot=a kind=ca data=Y==="), "got 'Y==='");
    EXPECT_HAS(store("slot=a kind=ca data=YQ=A"), "got 'YQ=A'");
    EXPECT_STR(store("slot=a kind=ca data=YWJjYR=="),
               "@hil 8 err {\"code\":\"bad_args\",\"message\":\"data: base64 ends in non-zero padding bits, got 'YR=='\"}");
    EXPECT_HAS(store("slot=a kind=ca data=YWI="), "\"bytes\":2");
    EXPECT_HAS(store("slot=a kind=ca data=YWJ="), "non-zero padding bits, got 'YWJ='");
    EXPECT(hilt_b64_decode("AAECAw==", 8, out, 3, &n) == HILT_B64_TOO_BIG);
    EXPECT(hilt_b64_decode("AAECAw==", 8, out, 4, &n) == HILT_B64_OK && n == 4 && out[3] == 3);
    hilt_b64_encode((const uint8_t *)"ab", 2, enc);
    enc[4] = '\0';
    EXPECT_STR(enc, "YWI=");
}

static void test_sha256(void)
{
    char hex[65];
    static uint8_t block[1000];
    hilt_sha256_hex((const uint8_t *)"", 0, hex);
    EXPECT_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* 56 bytes: the padding spills into a second block */
    hilt_sha256_hex((const uint8_t *)"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    EXPECT_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    memset(block, 'a', sizeof block);
    hilt_sha256_hex(block, sizeof block, hex);
    EXPECT_STR(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

static void set_result_ok(void)
{
    hilt_connect_result_t *r = &tp.result;
    memset(r, 0, sizeof *r);
    r->connected = true;
    r->has_tls = true;
    strcpy(r->version, "TLSv1.2");
    strcpy(r->cipher, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
    r->has_peer = true;
    strcpy(r->peer_subject, "CN=lab.local, O=\"hilt\\lab\"");
    strcpy(r->peer_issuer, "CN=hilt lab CA");
    strcpy(r->peer_sha256, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    r->connack = HILT_NONE;
    r->mqtt_connack = HILT_NONE;
    r->dns_ms = 0;
    r->tcp_ms = 2;
    r->tls_ms = 310;
    r->mqtt_ms = HILT_NONE;
    r->total_ms = HILT_NONE;
    r->timing_source = HILT_SOURCE_DEVICE;
    r->heap_before = 147968;
    r->heap_min = 100000;
    r->heap_after = 110000;
    r->heap_source = HILT_SOURCE_DEVICE;
}

static void test_connect_config(void)
{
    fresh();
    set_result_ok();
    store("slot=lab kind=ca data=YWJj");
    EXPECT_STR(send("@hil 20 tls.connect host=lab.local ca=lab alpn=mqtt,x/y ciphers=TLS-RSA-WITH-AES-128-GCM-SHA256,TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256\n"),
               "@hil 20 ok {\"connected\":true,\"tls\":{\"version\":\"TLSv1.2\",\"cipher\":\"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256\","
               "\"alpn\":null,\"peer\":{\"subject\":\"CN=lab.local, O=\\\"hilt\\\\lab\\\"\",\"issuer\":\"CN=hilt lab CA\","
               "\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}},\"error\":null,"
               "\"timing\":{\"dns_ms\":0,\"tcp_ms\":2,\"tls_ms\":310,\"mqtt_ms\":null,\"total_ms\":312,\"source\":\"device\"},"
               "\"heap\":{\"before\":147968,\"min\":100000,\"after\":110000,\"peak_used\":47968,\"source\":\"device\"},\"mqtt\":null}");
    EXPECT_STR(tp.last_host, "lab.local");
    EXPECT_STR(tp.last_sni, "lab.local");
    EXPECT(tp.last_cfg.port == 8883);
    EXPECT(tp.last_cfg.timeout_ms == 10000);
    EXPECT(tp.last_has_ca && strcmp(tp.last_ca, "abc") == 0);
    EXPECT(tp.last_cfg.ca.len == 3);
    EXPECT_STR(tp.last_alpn, "mqtt|x/y");
    /* the firmware's order, not the request's */
    EXPECT_STR(tp.last_suites, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256,TLS-RSA-WITH-AES-128-GCM-SHA256");
    EXPECT(!tp.last_mqtt);

    send("@hil 21 tls.connect host=h port=443 sni=other timeout_ms=250 skip_cn=1 tls=1.2\n");
    EXPECT(tp.last_cfg.port == 443 && tp.last_cfg.timeout_ms == 250 && tp.last_cfg.skip_cn && tp.last_cfg.tls == HILT_TLS_1_2);
    EXPECT_STR(tp.last_sni, "other");
    EXPECT(!tp.last_has_ca && tp.last_cfg.alpn == NULL && tp.last_cfg.alpn_count == 0);
    EXPECT(tp.last_cfg.ciphersuite_count == 7 && !tp.last_cfg.ciphers_given);

    /* refusals, in the emulator's order of checks */
    EXPECT_STR(send("@hil 22 tls.connect\n"), "@hil 22 err {\"code\":\"bad_args\",\"message\":\"host: missing, expected host=<text>\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h ca=nope\n"),
               "@hil 22 err {\"code\":\"no_slot\",\"message\":\"ca=nope: no such slot; store.put it first\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h cert=lab\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"tls.connect: cert and key go together (mutual TLS needs both)\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h cert=lab key=lab\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"cert=lab: slot holds a ca, not a cert\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h tls=1.3\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"tls=1.3: this firmware has no TLS 1.3 (CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is not set)\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h ciphers=TLS-FOO\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"ciphers: unknown Mbed TLS ciphersuite \\\"TLS-FOO\\\"\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h ciphers=TLS-DHE-RSA-WITH-AES-256-CBC-SHA\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"ciphers: none of the requested ciphersuites is enabled in this firmware\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h ciphers=a,,b\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"ciphers: expected a comma-separated list without empty items, got 'a,,b'\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h port=0\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"port: expected an integer 1..65535, got '0'\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h hold_ms=60001\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"hold_ms: expected an integer 0..60000, got '60001'\"}");
    EXPECT_STR(send("@hil 22 tls.connect host=h client_id=x\n"),
               "@hil 22 err {\"code\":\"bad_args\",\"message\":\"tls.connect: unknown argument 'client_id' (tls.connect takes host, port, sni, ca, cert, key, ciphers, tls, timeout_ms, skip_cn, alpn, hold_ms, stack)\"}");
    /* the port failing is internal */
    tp.connect_error = "out of sockets";
    EXPECT_STR(send("@hil 23 tls.connect host=h\n"), "@hil 23 err {\"code\":\"internal\",\"message\":\"tls.connect: out of sockets\"}");
}

/* stack=: the connect task's size reaches the port; the port's figure is written when it has one. */
static void test_connect_stack(void)
{
    hilt_connect_result_t *r = &tp.result;
    fresh();
    set_result_ok();
    send("@hil 90 tls.connect host=h\n");
    EXPECT(tp.last_cfg.stack_size == 0); /* absent: the port's default */
    send("@hil 91 tls.connect host=h stack=2048\n");
    EXPECT(tp.last_cfg.stack_size == 2048);
    send("@hil 92 mqtt.connect host=h stack=65536\n");
    EXPECT(tp.last_cfg.stack_size == 65536);
    EXPECT_STR(send("@hil 93 tls.connect host=h stack=2047\n"),
               "@hil 93 err {\"code\":\"bad_args\",\"message\":\"stack: expected an integer 2048..65536, got '2047'\"}");
    EXPECT_STR(send("@hil 94 mqtt.connect host=h stack=65537\n"),
               "@hil 94 err {\"code\":\"bad_args\",\"message\":\"stack: expected an integer 2048..65536, got '65537'\"}");
    EXPECT_STR(send("@hil 95 tls.connect host=h stack=8k\n"),
               "@hil 95 err {\"code\":\"bad_args\",\"message\":\"stack: expected an integer 2048..65536, got '8k'\"}");
    /* no figure from the port: no `stack` key at all (never null) */
    EXPECT(strstr(send("@hil 96 tls.connect host=h\n"), "stack") == NULL);
    r->has_stack = true;
    r->stack_size = 8192;
    r->stack_peak_used = 5321;
    r->stack_source = HILT_SOURCE_DEVICE;
    EXPECT_HAS(send("@hil 97 tls.connect host=h\n"),
               "\"peak_used\":47968,\"source\":\"device\"},\"stack\":{\"size\":8192,\"peak_used\":5321,\"source\":\"device\"},\"mqtt\":null}");
    r->stack_source = HILT_SOURCE_MODEL;
    EXPECT_HAS(send("@hil 98 mqtt.connect host=h\n"), "\"stack\":{\"size\":8192,\"peak_used\":5321,\"source\":\"model\"}");
}

static void test_connect_failure_result(void)
{
    hilt_connect_result_t *r = &tp.result;
    fresh();
    memset(r, 0, sizeof *r);
    r->has_tls = true;
    strcpy(r->version, "TLSv1.2");
    strcpy(r->cipher, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
    r->esp_err = 0x801A;
    r->stack_err = 0x2700;
    r->verify_flags = 0x01 | 0x08;
    r->connack = HILT_NONE;
    r->dns_ms = HILT_NONE;
    r->tcp_ms = 1;
    r->tls_ms = 20;
    r->mqtt_ms = HILT_NONE;
    r->total_ms = HILT_NONE;
    r->timing_source = HILT_SOURCE_MODEL;
    r->heap_source = HILT_SOURCE_MODEL;
    r->heap_before = 1000;
    r->heap_min = 900;
    r->heap_after = 1000;
    EXPECT_STR(send("@hil 30 tls.connect host=1.2.3.4\n"),
               "@hil 30 ok {\"connected\":false,\"tls\":{\"version\":\"TLSv1.2\",\"cipher\":\"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256\",\"alpn\":null,\"peer\":null},"
               "\"error\":{\"esp_err\":32794,\"esp_err_name\":\"ESP_ERR_MBEDTLS_SSL_HANDSHAKE_FAILED\",\"stack_err\":9984,"
               "\"stack_err_name\":\"MBEDTLS_ERR_X509_CERT_VERIFY_FAILED\",\"verify_flags\":9,\"verify_info\":["
               "\"The certificate validity has expired\",\"The certificate is not correctly signed by the trusted CA\"],"
               "\"mqtt_error_type\":null,\"connack\":null,\"sock_errno\":0},"
               "\"timing\":{\"dns_ms\":null,\"tcp_ms\":1,\"tls_ms\":20,\"mqtt_ms\":null,\"total_ms\":21,\"source\":\"model\"},"
               "\"heap\":{\"before\":1000,\"min\":900,\"after\":1000,\"peak_used\":100,\"source\":\"model\"},\"mqtt\":null}");
    /* no TLS at all; an unknown esp_err; a composite and an unknown Mbed TLS code; an unknown flag */
    memset(r, 0, sizeof *r);
    r->esp_err = 0x8042;
    r->stack_err = 0x2180 + 0x62;
    r->verify_flags = 0x80000000u;
    r->connack = HILT_NONE;
    r->sock_errno = 111;
    r->dns_ms = r->tcp_ms = r->tls_ms = r->mqtt_ms = HILT_NONE;
    r->total_ms = 7;
    EXPECT_STR(send("@hil 31 tls.connect host=h\n"),
               "@hil 31 ok {\"connected\":false,\"tls\":null,\"error\":{\"esp_err\":32834,\"esp_err_name\":\"ESP_ERR_0x8042\",\"stack_err\":8674,"
               "\"stack_err_name\":\"MBEDTLS_ERR_X509_INVALID_FORMAT + MBEDTLS_ERR_ASN1_UNEXPECTED_TAG\",\"verify_flags\":2147483648,"
               "\"verify_info\":[\"Unknown reason (this should not happen)\"],\"mqtt_error_type\":null,\"connack\":null,\"sock_errno\":111},"
               "\"timing\":{\"dns_ms\":null,\"tcp_ms\":null,\"tls_ms\":null,\"mqtt_ms\":null,\"total_ms\":7,\"source\":\"device\"},"
               "\"heap\":{\"before\":0,\"min\":0,\"after\":0,\"peak_used\":0,\"source\":\"device\"},\"mqtt\":null}");
    /* nothing measured at all: timing null, for the host to measure (never "source":"host" from a device) */
    r->total_ms = HILT_NONE;
    EXPECT_HAS(send("@hil 33 tls.connect host=h\n"), "\"sock_errno\":111},\"timing\":null,\"heap\":{");
    /* phases that add up past INT32_MAX (found by the fuzzer: the sum overflowed an int) */
    r->total_ms = HILT_NONE;
    r->tcp_ms = 2147483647;
    r->tls_ms = 2147483647;
    EXPECT_HAS(send("@hil 32 tls.connect host=h\n"), "\"tls_ms\":2147483647,\"mqtt_ms\":null,\"total_ms\":4294967294,");
    r->stack_err = 0x7fff;
    EXPECT_HAS(send("@hil 32 tls.connect host=h\n"), "\"stack_err_name\":\"UNKNOWN_ERROR(-0x7FFF)\"");
    r->esp_err = -1;
    EXPECT_HAS(send("@hil 32 tls.connect host=h\n"), "\"esp_err\":-1,\"esp_err_name\":\"ESP_FAIL\"");
    r->esp_err = 0x1234;
    EXPECT_HAS(send("@hil 32 tls.connect host=h\n"), "\"esp_err_name\":\"ESP_ERR_0x1234\"");
}

static void test_mqtt(void)
{
    hilt_connect_result_t *r = &tp.result;
    fresh();
    EXPECT_STR(send("@hil 40 mqtt.publish topic=t\n"),
               "@hil 40 err {\"code\":\"bad_args\",\"message\":\"mqtt.publish: no MQTT connection; mqtt.connect first\"}");
    EXPECT_STR(send("@hil 40 mqtt.subscribe topic=t\n"),
               "@hil 40 err {\"code\":\"bad_args\",\"message\":\"mqtt.subscribe: no MQTT connection; mqtt.connect first\"}");
    /* refused by CONNACK 5: esp-mqtt's record, no esp-tls error */
    memset(r, 0, sizeof *r);
    r->has_tls = true;
    strcpy(r->version, "TLSv1.2");
    strcpy(r->cipher, "X");
    r->connack = 5;
    r->dns_ms = 1;
    r->tcp_ms = 1;
    r->tls_ms = 1;
    r->mqtt_ms = 4;
    r->total_ms = HILT_NONE;
    r->has_mqtt = false;
    EXPECT_STR(send("@hil 41 mqtt.connect host=h password=cGFzcw==\n"),
               "@hil 41 ok {\"connected\":false,\"tls\":{\"version\":\"TLSv1.2\",\"cipher\":\"X\",\"alpn\":null,\"peer\":null},"
               "\"error\":{\"esp_err\":0,\"esp_err_name\":\"ESP_OK\",\"stack_err\":0,\"stack_err_name\":null,\"verify_flags\":0,\"verify_info\":[],"
               "\"mqtt_error_type\":\"CONNECTION_REFUSED\",\"connack\":5,\"sock_errno\":0},"
               "\"timing\":{\"dns_ms\":1,\"tcp_ms\":1,\"tls_ms\":1,\"mqtt_ms\":4,\"total_ms\":7,\"source\":\"device\"},"
               "\"heap\":{\"before\":0,\"min\":0,\"after\":0,\"peak_used\":0,\"source\":\"device\"},\"mqtt\":null}");
    EXPECT(tp.last_mqtt);
    EXPECT_STR(tp.last_client_id, "esp32-000001");
    EXPECT(tp.last_has_password && tp.last_password_len == 4);
    /* transport error type is the port's to set */
    r->connack = HILT_NONE;
    r->mqtt_error_type = HILT_MQTT_ERROR_TCP_TRANSPORT;
    EXPECT_HAS(send("@hil 42 mqtt.connect host=h client_id=me\n"), "\"mqtt_error_type\":\"TCP_TRANSPORT\",\"connack\":null");
    EXPECT_STR(tp.last_client_id, "me");
    EXPECT(!tp.last_has_password);
    EXPECT_STR(send("@hil 42 mqtt.connect host=h keepalive=65536\n"),
               "@hil 42 err {\"code\":\"bad_args\",\"message\":\"keepalive: expected an integer 0..65535, got '65536'\"}");
    EXPECT_STR(send("@hil 42 mqtt.connect host=h clean=2\n"),
               "@hil 42 err {\"code\":\"bad_args\",\"message\":\"clean: expected 0 or 1, got '2'\"}");
    /* connected */
    memset(r, 0, sizeof *r);
    r->connected = true;
    r->connack = HILT_NONE;
    r->has_mqtt = true;
    r->session_present = true;
    r->mqtt_connack = 0;
    EXPECT_HAS(send("@hil 43 mqtt.connect host=h\n"), "\"error\":null,");
    EXPECT_HAS(send("@hil 43 mqtt.connect host=h\n"), "\"mqtt\":{\"session_present\":true,\"connack\":0}}");
    /* tls.connect never reports an MQTT phase */
    r->mqtt_ms = 9;
    EXPECT_HAS(send("@hil 44 tls.connect host=h\n"), "\"mqtt_ms\":null,\"total_ms\":0,");
    send("@hil 43 mqtt.connect host=h\n");
    tp.acked = true;
    tp.publish_ms = 12;
    EXPECT_STR(send("@hil 45 mqtt.publish topic=a/b qos=1 payload=aGk=\n"), "@hil 45 ok {\"acked\":true,\"ms\":12}");
    EXPECT(tp.last_payload_len == 2);
    EXPECT_STR(tp.last_topic, "a/b");
    EXPECT_STR(send("@hil 46 mqtt.publish topic=a/b\n"), "@hil 46 ok {\"acked\":false,\"ms\":12}");
    EXPECT(tp.last_payload_len == 0);
    EXPECT_STR(send("@hil 47 mqtt.publish topic=a/b qos=3\n"),
               "@hil 47 err {\"code\":\"bad_args\",\"message\":\"qos: expected an integer 0..2, got '3'\"}");
    EXPECT_STR(send("@hil 47 mqtt.publish topic=a/b retain=yes\n"),
               "@hil 47 err {\"code\":\"bad_args\",\"message\":\"retain: expected 0 or 1, got 'yes'\"}");
    tp.granted = 128;
    EXPECT_STR(send("@hil 48 mqtt.subscribe topic=a/# qos=2\n"), "@hil 48 ok {\"granted\":128}");
    EXPECT_STR(send("@hil 49 mqtt.disconnect\n"), "@hil 49 ok {}");
    EXPECT(tp.closes == 1);
    EXPECT_STR(send("@hil 50 tls.close\n"), "@hil 50 ok {}");
}

static void test_events(void)
{
    static uint8_t payload[HILT_EVENT_BYTES];
    fresh();
    hilt_core_mqtt_message(&core, "a/\"b\"\n\x01\xff", 8, 1, (const uint8_t *)"hi!", 3);
    EXPECT_STR(tp_take(&tp), "@hil * mqtt.message {\"topic\":\"a/\\\"b\\\"\\n\\u0001\xef\xbf\xbd\",\"qos\":1,\"payload\":\"aGkh\"}");
    hilt_core_mqtt_message(&core, "t", 1, 0, NULL, 0);
    EXPECT_STR(tp_take(&tp), "@hil * mqtt.message {\"topic\":\"t\",\"qos\":0,\"payload\":\"\"}");
    hilt_core_mqtt_message(&core, "t", 1, 0, payload, sizeof payload);
    EXPECT_STR(tp_take(&tp),
               "W hil_agent: dropped an mqtt.message event of 8192 payload bytes: larger than the event buffer (HILT_EVENT_BYTES)");
    hilt_core_mqtt_disconnected(&core, "connection closed by broker");
    EXPECT_STR(tp_take(&tp), "@hil * mqtt.disconnected {\"reason\":\"connection closed by broker\"}");
}

static void test_busy(void)
{
    hilt_connect_result_t *r;
    fresh();
    set_result_ok();
    r = &tp.result;
    (void)r;
    /* lines that arrive while the connect waits: refused at once, busy if they parse */
    tp.during_connect = "@hil 61 hello\n@hil 62 fly\n@hil x\nnoise\n@hil 63 he";
    EXPECT_STR(send("@hil 60 tls.connect host=h\n"),
               "@hil 61 err {\"code\":\"busy\",\"message\":\"busy with another command; send hello when it has replied\"}\n"
               "@hil 62 err {\"code\":\"unknown_command\",\"message\":\"unknown command 'fly'\"}\n"
               "W hil_agent: ignored protocol line without a valid id: id 'x': expected a decimal integer 1..2147483647 after '@hil'\n"
               "W hil_agent: ignored input that is not a protocol line (5 bytes)\n"
               "@hil 60 ok {\"connected\":true,\"tls\":{\"version\":\"TLSv1.2\",\"cipher\":\"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256\","
               "\"alpn\":null,\"peer\":{\"subject\":\"CN=lab.local, O=\\\"hilt\\\\lab\\\"\",\"issuer\":\"CN=hilt lab CA\","
               "\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}},\"error\":null,"
               "\"timing\":{\"dns_ms\":0,\"tcp_ms\":2,\"tls_ms\":310,\"mqtt_ms\":null,\"total_ms\":312,\"source\":\"device\"},"
               "\"heap\":{\"before\":147968,\"min\":100000,\"after\":110000,\"peak_used\":47968,\"source\":\"device\"},\"mqtt\":null}");
    tp.during_connect = NULL;
    /* the half line fed during the connect is finished after it: no longer busy */
    EXPECT_STR(send("ap.stats\n"), "@hil 63 ok {\"free\":147968,\"min_free\":140000,\"largest\":110592}");
    /* lines in the same chunk after a command that waits came first: they are answered busy in order */
    tp.during_connect = "@hil 71 hello\n";
    EXPECT_STR(send("@hil 70 tls.connect host=h\n@hil 72 hello\n"),
               "@hil 72 err {\"code\":\"busy\",\"message\":\"busy with another command; send hello when it has replied\"}\n"
               "@hil 71 err {\"code\":\"busy\",\"message\":\"busy with another command; send hello when it has replied\"}\n"
               "@hil 70 ok {\"connected\":true,\"tls\":{\"version\":\"TLSv1.2\",\"cipher\":\"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256\","
               "\"alpn\":null,\"peer\":{\"subject\":\"CN=lab.local, O=\\\"hilt\\\\lab\\\"\",\"issuer\":\"CN=hilt lab CA\","
               "\"sha256\":\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}},\"error\":null,"
               "\"timing\":{\"dns_ms\":0,\"tcp_ms\":2,\"tls_ms\":310,\"mqtt_ms\":null,\"total_ms\":312,\"source\":\"device\"},"
               "\"heap\":{\"before\":147968,\"min\":100000,\"after\":110000,\"peak_used\":47968,\"source\":\"device\"},\"mqtt\":null}");
    tp.during_connect = NULL;
    /* hold_ms: the core keeps reading; what comes meanwhile is answered busy, and the hold ends on time */
    tp.input = "@hil 81 heap.stats\n";
    tp.uptime = 1000;
    {
        const char *out = send("@hil 80 tls.connect host=h hold_ms=500\n");
        EXPECT_HAS(out, "@hil 81 err {\"code\":\"busy\",\"message\":\"busy with another command; send heap.stats when it has replied\"}\n@hil 80 ok {");
    }
    EXPECT(tp.uptime >= 1500 && tp.uptime < 2100);
    /* no hold when the connect failed */
    tp.result.connected = false;
    tp.uptime = 0;
    send("@hil 82 tls.connect host=h hold_ms=500\n");
    EXPECT(tp.uptime == 0);
}

static void test_reset(void)
{
    fresh();
    store("slot=a kind=ca data=YWJj");
    send("@hil 1 time.set epoch=100\n");
    store("slot=b kind=ca data=YWJj part=1/2");
    EXPECT_STR(send("@hil 90 reset\n"), "I hil_agent: restarting\n@hil * boot {\"proto\":1,\"reason\":\"SW_CPU_RESET\"}");
    EXPECT(tp.restarts == 1 && tp.closes == 1);
    EXPECT_STR(send("@hil 91 store.list\n"), "@hil 91 ok {\"slots\":[]}");
    EXPECT_HAS(store("slot=b kind=ca data=YWJj part=2/2"), "without a transfer in progress");
    EXPECT_HAS(send("@hil 92 hello\n"), "\"synced\":false");
    EXPECT_STR(send("@hil 93 reset now=1\n"),
               "@hil 93 err {\"code\":\"bad_args\",\"message\":\"reset: unknown argument 'now' (reset takes no arguments)\"}");
}

static void test_limits(void)
{
    static const char *many[256];
    static char names[256][64];
    size_t i;
    fresh();
    /* a reply that does not fit the reply buffer is refused as internal, never cut */
    for (i = 0; i < 256; i++) {
        snprintf(names[i], sizeof names[i], "TLS-ECDHE-ECDSA-WITH-SOME-VERY-LONG-SUITE-NAME-NUMBER-%03u", (unsigned)i);
        many[i] = names[i];
    }
    tp.facts.ciphersuites = many;
    tp.facts.ciphersuite_count = 256;
    hilt_core_init(&core, &port);
    EXPECT_STR(send("@hil 1 hello\n"),
               "@hil 1 err {\"code\":\"internal\",\"message\":\"reply larger than the agent's reply buffer (HILT_REPLY_BYTES)\"}");
    /* a third unfinished transfer drops the oldest, with a warning */
    fresh();
    store("slot=a kind=ca data=YWJj part=1/2");
    store("slot=b kind=ca data=YWJj part=1/2");
    EXPECT_STR(store("slot=c kind=ca data=YWJj part=1/2"),
               "W hil_agent: store.put: dropped the unfinished transfer to slot a (no room for another)\n"
               "@hil 8 ok {\"slot\":\"c\",\"bytes\":3,\"complete\":false}");
    EXPECT_HAS(store("slot=a kind=ca data=YWJj part=2/2"), "part 2/2 without a transfer in progress");
    EXPECT_HAS(store("slot=b kind=ca data=YWJj part=2/2"), "\"bytes\":6,\"complete\":true");
    EXPECT_HAS(store("slot=c kind=ca data=YWJj part=2/2"), "\"bytes\":6,\"complete\":true");
    /* the store filling up while a transfer runs: its last part is refused */
    fresh();
    store("slot=late kind=ca data=YWJj part=1/2");
    for (i = 0; i < HILT_STORE_SLOTS; i++) {
        char args[64];
        snprintf(args, sizeof args, "slot=s%u kind=ca data=YWJj", (unsigned)i);
        store(args);
    }
    EXPECT_STR(store("slot=late kind=ca data=YWJj part=2/2"),
               "@hil 8 err {\"code\":\"no_slot\",\"message\":\"store.put: all 8 slots are in use; store.del one first\"}");
}

static void test_names(void)
{
    char scratch[96];
    const char *lines[4];
    EXPECT_STR(hilt_esp_err_name(0x8006, scratch, sizeof scratch), "ESP_ERR_ESP_TLS_CONNECTION_TIMEOUT");
    EXPECT_STR(hilt_esp_err_name(0x107, scratch, sizeof scratch), "ESP_ERR_TIMEOUT");
    EXPECT_STR(hilt_mbedtls_err_name(-0x7780, scratch, sizeof scratch), "MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE");
    EXPECT_STR(hilt_mbedtls_err_name(0x50, scratch, sizeof scratch), "MBEDTLS_ERR_NET_CONN_RESET");
    EXPECT_STR(hilt_mbedtls_err_name(0, scratch, sizeof scratch), "OK");
    EXPECT(hilt_verify_info(0x04 | 0x10000, lines, 4) == 2);
    EXPECT_STR(lines[0], "The certificate Common Name (CN) does not match with the expected CN");
    EXPECT_STR(lines[1], "The certificate is signed with an unacceptable key (eg bad curve, RSA too short).");
    EXPECT(hilt_verify_info(0, lines, 4) == 0);
}

int main(void)
{
    test_boot_and_hello();
    test_framing();
    test_too_long();
    test_end_of_input();
    test_parse_refusals();
    test_int_and_bool_args();
    test_store();
    test_store_limits();
    test_base64();
    test_sha256();
    test_connect_config();
    test_connect_failure_result();
    test_connect_stack();
    test_mqtt();
    test_events();
    test_busy();
    test_reset();
    test_limits();
    test_names();
    tp_free(&tp);
    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
