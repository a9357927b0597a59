/*
 * The agent core: framing, command parsing, dispatch and replies of agent protocol v1
 * (docs/protocol.md). Its wording follows the emulator (emulator/board.ts and
 * harness/protocol/), so the same input gets the same reply from either.
 */
#include "hilt_core.h"

#include <string.h>

#include "hilt_b64.h"
#include "hilt_sha256.h"
#include "hilt_tables.h"

#define TAG "hil_agent"
#define MAX_ID 2147483647u
#define MAX_SAFE 9007199254740991LL /* JavaScript's Number.MAX_SAFE_INTEGER */

static const char PREFIX[] = "@hil ";

typedef enum { RUN_OK, RUN_FAIL, RUN_NO_REPLY } run_t;

/* ------------------------------------------------------------------------------------------ */
/* Refusals                                                                                    */

static hilt_buf_t fail_begin(hilt_fail_t *f, hilt_err_t code)
{
    hilt_buf_t b;
    f->code = code;
    hilt_buf_init(&b, f->text, sizeof f->text);
    return b;
}

static void fail_end(hilt_fail_t *f, hilt_buf_t *b)
{
    f->len = b->len;
}

/* A refusal with a fixed text. */
static run_t fail_text(hilt_fail_t *f, hilt_err_t code, const char *text)
{
    hilt_buf_t b = fail_begin(f, code);
    hilt_buf_cat(&b, text);
    fail_end(f, &b);
    return RUN_FAIL;
}

static const char *err_code_name(hilt_err_t code)
{
    switch (code) {
    case HILT_ERR_BAD_ARGS: return "bad_args";
    case HILT_ERR_UNKNOWN_COMMAND: return "unknown_command";
    case HILT_ERR_BUSY: return "busy";
    case HILT_ERR_TOO_LONG: return "too_long";
    case HILT_ERR_NO_SLOT: return "no_slot";
    default: return "internal";
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Output                                                                                      */

static void write_line(hilt_core_t *c, const hilt_buf_t *b)
{
    c->port->write_line(c->port->ctx, b->buf, b->len);
}

static void log_line(hilt_core_t *c, hilt_log_level_t level, const char *message)
{
    c->port->log(c->port->ctx, level, TAG, message);
}

/* "@hil <id> <status> " into j. */
static void reply_head(hilt_json_t *j, char *storage, size_t cap, uint32_t id, const char *status)
{
    hilt_json_init(j, storage, cap);
    hilt_json_raw(j, PREFIX);
    hilt_buf_int(&j->out, id);
    hilt_json_raw(j, " ");
    hilt_json_raw(j, status);
    hilt_json_raw(j, " ");
}

static void send_err(hilt_core_t *c, char *storage, size_t cap, uint32_t id, const hilt_fail_t *f)
{
    hilt_json_t j;
    reply_head(&j, storage, cap, id, "err");
    hilt_json_begin_object(&j);
    hilt_json_key(&j, "code");
    hilt_json_string(&j, err_code_name(f->code));
    hilt_json_key(&j, "message");
    hilt_json_string_flat(&j, f->text, f->len);
    hilt_json_end_object(&j);
    write_line(c, &j.out);
}

/* ------------------------------------------------------------------------------------------ */
/* Parsing a host line                                                                         */

static const char *const COMMANDS[] = {
    "hello", "reset", "time.set", "time.clear", "store.put", "store.del", "store.list",
    "heap.stats", "heap.reserve", "heap.release", "tls.connect", "tls.close",
    "mqtt.connect", "mqtt.publish", "mqtt.subscribe", "mqtt.disconnect",
};

/* 1..2^31-1, canonical decimal; 0 when the token is not one. */
static uint32_t valid_id(const char *t, size_t n)
{
    uint64_t v = 0;
    size_t i;
    if (n == 0 || n > 10 || t[0] < '1' || t[0] > '9') return 0;
    for (i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9') return 0;
        v = v * 10u + (uint64_t)(t[i] - '0');
    }
    return v <= MAX_ID ? (uint32_t)v : 0;
}

static bool valid_key(const char *k, size_t n)
{
    size_t i;
    if (n == 0 || !((k[0] >= 'a' && k[0] <= 'z') || k[0] == '_')) return false;
    for (i = 1; i < n; i++) {
        char ch = k[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
    }
    return true;
}

/* A value holding white space or a control character (the emulator's /[\s\p{Cc}]/u). */
static bool unsafe_value(const char *v, size_t n)
{
    size_t at = 0;
    while (at < n) {
        uint32_t cp = hilt_utf8_next((const uint8_t *)v, n, &at);
        if (hilt_is_js_space(cp) || hilt_is_control(cp)) return true;
    }
    return false;
}

typedef enum { PARSE_OK, PARSE_REFUSED, PARSE_NO_ID } parse_t;

/*
 * Parses cmd->text (a protocol line within the limit, NUL-terminated) in place. On refusal,
 * cmd->id is the id to answer (PARSE_REFUSED) or there is none (PARSE_NO_ID).
 */
/* The next token at *p (tokens are separated by runs of spaces; a tab belongs to a token). */
static bool next_token(char **p, char *end, char **token, size_t *len)
{
    while (*p < end && **p == ' ') (*p)++;
    if (*p == end) return false;
    *token = *p;
    while (*p < end && **p != ' ') (*p)++;
    *len = (size_t)(*p - *token);
    return true;
}

static parse_t parse_line(hilt_cmd_t *cmd, size_t len, hilt_fail_t *f)
{
    char *p = cmd->text + sizeof PREFIX - 1, *end = cmd->text + len;
    char *t = NULL, *name;
    size_t n = 0, name_len, k;
    hilt_buf_t b;

    cmd->argc = 0;
    cmd->id = next_token(&p, end, &t, &n) ? valid_id(t, n) : 0;
    if (cmd->id == 0) {
        b = fail_begin(f, HILT_ERR_BAD_ARGS);
        hilt_buf_cat(&b, "id ");
        hilt_buf_quote(&b, t != NULL ? t : "", t != NULL ? n : 0);
        hilt_buf_cat(&b, ": expected a decimal integer 1..2147483647 after '@hil'");
        fail_end(f, &b);
        return PARSE_NO_ID;
    }
    if (!next_token(&p, end, &name, &name_len)) {
        b = fail_begin(f, HILT_ERR_BAD_ARGS);
        hilt_buf_cat(&b, "no command after id ");
        hilt_buf_int(&b, cmd->id);
        fail_end(f, &b);
        return PARSE_REFUSED;
    }
    cmd->command = NULL;
    for (k = 0; k < sizeof COMMANDS / sizeof COMMANDS[0]; k++) {
        if (strlen(COMMANDS[k]) == name_len && memcmp(COMMANDS[k], name, name_len) == 0) cmd->command = COMMANDS[k];
    }
    if (cmd->command == NULL) {
        b = fail_begin(f, HILT_ERR_UNKNOWN_COMMAND);
        hilt_buf_cat(&b, "unknown command ");
        hilt_buf_quote(&b, name, name_len);
        fail_end(f, &b);
        return PARSE_REFUSED;
    }
    while (next_token(&p, end, &t, &n)) {
        const char *eq = memchr(t, '=', n);
        size_t key_len = eq ? (size_t)(eq - t) : n;
        const char *why = NULL;
        if (eq == NULL) why = ": expected key=value";
        else if (!valid_key(t, key_len)) why = ": key must be a-z, 0-9 and _, not starting with a digit";
        else if (key_len + 1 == n) why = ": empty value";
        else if (unsafe_value(eq + 1, n - key_len - 1)) why = ": value contains a control character";
        if (why != NULL) {
            b = fail_begin(f, HILT_ERR_BAD_ARGS);
            hilt_buf_cat(&b, "argument ");
            hilt_buf_quote(&b, t, n);
            hilt_buf_cat(&b, why);
            fail_end(f, &b);
            return PARSE_REFUSED;
        }
        for (k = 0; k < cmd->argc; k++) {
            if (strlen(cmd->args[k].key) == key_len && memcmp(cmd->args[k].key, t, key_len) == 0) {
                b = fail_begin(f, HILT_ERR_BAD_ARGS);
                hilt_buf_cat(&b, "argument ");
                hilt_buf_quote(&b, t, key_len);
                hilt_buf_cat(&b, " given twice");
                fail_end(f, &b);
                return PARSE_REFUSED;
            }
        }
        if (cmd->argc == HILT_MAX_ARGS) {
            fail_text(f, HILT_ERR_BAD_ARGS, "too many arguments");
            return PARSE_REFUSED;
        }
        /* Split in place: the key and the value become two C strings (the end is a space or the NUL). */
        t[key_len] = '\0';
        t[n] = '\0';
        if (p < end) p++; /* past the separator just overwritten */
        cmd->args[cmd->argc].key = t;
        cmd->args[cmd->argc].value = t + key_len + 1;
        cmd->args[cmd->argc].value_len = n - key_len - 1;
        cmd->argc++;
    }
    name[name_len] = '\0';
    return PARSE_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Arguments (harness/protocol/args.ts)                                                        */

static const hilt_arg_t *arg(const hilt_cmd_t *cmd, const char *key)
{
    size_t i;
    for (i = 0; i < cmd->argc; i++) {
        if (strcmp(cmd->args[i].key, key) == 0) return &cmd->args[i];
    }
    return NULL;
}

static run_t missing(hilt_fail_t *f, const char *key, const char *form_head, const char *form_tail)
{
    hilt_buf_t b = fail_begin(f, HILT_ERR_BAD_ARGS);
    hilt_buf_cat(&b, key);
    hilt_buf_cat(&b, ": missing, expected ");
    hilt_buf_cat(&b, key);
    hilt_buf_cat(&b, "=");
    hilt_buf_cat(&b, form_head);
    hilt_buf_cat(&b, form_tail);
    fail_end(f, &b);
    return RUN_FAIL;
}

/* "<key>: <what>, got '<value>'" */
static run_t got(hilt_fail_t *f, const char *key, const char *what, const char *value, size_t n)
{
    hilt_buf_t b = fail_begin(f, HILT_ERR_BAD_ARGS);
    hilt_buf_cat(&b, key);
    hilt_buf_cat(&b, ": ");
    hilt_buf_cat(&b, what);
    hilt_buf_cat(&b, ", got ");
    hilt_buf_quote(&b, value, n);
    fail_end(f, &b);
    return RUN_FAIL;
}

static run_t arg_string(hilt_core_t *c, const char *key, const char *fallback, const char **out)
{
    const hilt_arg_t *a = arg(&c->cmd, key);
    if (a == NULL && fallback == NULL) return missing(&c->fail, key, "<text>", "");
    *out = a ? a->value : fallback;
    return RUN_OK;
}

/* A canonical decimal (0 or -?[1-9][0-9]*) that JavaScript holds exactly, within min..max. */
static run_t arg_int(hilt_core_t *c, const char *key, int64_t min, int64_t max, const int64_t *fallback, int64_t *out)
{
    const hilt_arg_t *a = arg(&c->cmd, key);
    char range[64];
    hilt_buf_t r;
    const char *v;
    size_t i = 0, n;
    int64_t value = 0;
    bool ok = true;
    hilt_buf_init(&r, range, sizeof range);
    hilt_buf_cat(&r, "an integer ");
    hilt_buf_int(&r, min);
    hilt_buf_cat(&r, "..");
    hilt_buf_int(&r, max);
    if (a == NULL) {
        if (fallback != NULL) {
            *out = *fallback;
            return RUN_OK;
        }
        {
            char form[72];
            hilt_buf_t fb;
            hilt_buf_init(&fb, form, sizeof form);
            hilt_buf_cat(&fb, "<");
            hilt_buf_cat(&fb, range);
            hilt_buf_cat(&fb, ">");
            return missing(&c->fail, key, form, "");
        }
    }
    v = a->value;
    n = a->value_len;
    if (n == 1 && v[0] == '0') {
        value = 0;
    } else {
        if (v[0] == '-') i = 1;
        if (i >= n || v[i] < '1' || v[i] > '9' || n - i > 16) ok = false;
        for (; ok && i < n; i++) {
            if (v[i] < '0' || v[i] > '9') ok = false;
            else value = value * 10 + (v[i] - '0');
        }
        if (ok && value > MAX_SAFE) ok = false;
        if (v[0] == '-') value = -value;
    }
    if (!ok || value < min || value > max) {
        char what[80];
        hilt_buf_t w;
        hilt_buf_init(&w, what, sizeof what);
        hilt_buf_cat(&w, "expected ");
        hilt_buf_cat(&w, range);
        return got(&c->fail, key, what, v, n);
    }
    *out = value;
    return RUN_OK;
}

static run_t arg_bool(hilt_core_t *c, const char *key, int fallback /* -1: required */, bool *out)
{
    const hilt_arg_t *a = arg(&c->cmd, key);
    if (a == NULL) {
        if (fallback < 0) return missing(&c->fail, key, "0|1", "");
        *out = fallback != 0;
        return RUN_OK;
    }
    if (strcmp(a->value, "0") != 0 && strcmp(a->value, "1") != 0) return got(&c->fail, key, "expected 0 or 1", a->value, a->value_len);
    *out = a->value[0] == '1';
    return RUN_OK;
}

/* values: "a|b|c" as the message shows them. */
static run_t arg_enum(hilt_core_t *c, const char *key, const char *values, const char *fallback, const char **out)
{
    const hilt_arg_t *a = arg(&c->cmd, key);
    const char *p = values;
    if (a == NULL) {
        if (fallback == NULL) return missing(&c->fail, key, values, "");
        *out = fallback;
        return RUN_OK;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, "|");
        if (n == a->value_len && memcmp(p, a->value, n) == 0) {
            *out = a->value;
            return RUN_OK;
        }
        p += n + (p[n] == '|');
    }
    {
        char what[96];
        hilt_buf_t w;
        hilt_buf_init(&w, what, sizeof what);
        hilt_buf_cat(&w, "expected one of ");
        hilt_buf_cat(&w, values);
        return got(&c->fail, key, what, a->value, a->value_len);
    }
}

/* A comma list without empty items; *present false when absent (the default applies). */
static run_t arg_list(hilt_core_t *c, const char *key, const hilt_arg_t **out)
{
    const hilt_arg_t *a = arg(&c->cmd, key);
    size_t i;
    *out = a;
    if (a == NULL) return RUN_OK;
    for (i = 0; i < a->value_len; i++) {
        bool edge = a->value[i] == ',' && (i == 0 || i + 1 == a->value_len || a->value[i + 1] == ',');
        if (edge) return got(&c->fail, key, "expected a comma-separated list without empty items", a->value, a->value_len);
    }
    return RUN_OK;
}

/* Standard padded base64 into out; *present false when absent and optional. */
static run_t arg_base64(hilt_core_t *c, const char *key, bool required, uint8_t *out, size_t cap, size_t *len, bool *present)
{
    const hilt_arg_t *a = arg(&c->cmd, key);
    hilt_b64_status_t s;
    *len = 0;
    if (present) *present = a != NULL;
    if (a == NULL) return required ? missing(&c->fail, key, "<base64>", "") : RUN_OK;
    s = hilt_b64_decode(a->value, a->value_len, out, cap, len);
    if (s == HILT_B64_BAD_FORM) {
        return got(&c->fail, key, "expected standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters)",
                   a->value, a->value_len);
    }
    if (s == HILT_B64_BAD_PADDING) {
        const char *tail = a->value_len > 4 ? a->value + a->value_len - 4 : a->value;
        return got(&c->fail, key, "base64 ends in non-zero padding bits", tail, a->value_len > 4 ? 4 : a->value_len);
    }
    if (s == HILT_B64_TOO_BIG) return fail_text(&c->fail, HILT_ERR_INTERNAL, "base64 value larger than the agent's buffer");
    return RUN_OK;
}

/* i/n with 1 <= i <= n <= 1000 (each 1-4 digits, no leading zero). */
static run_t arg_part(hilt_core_t *c, unsigned *index, unsigned *count)
{
    const hilt_arg_t *a = arg(&c->cmd, "part");
    const char *v = a ? a->value : "1/1";
    size_t n = a ? a->value_len : 3, i = 0, digits;
    unsigned num[2] = {0, 0};
    int which;
    bool ok = true;
    for (which = 0; which < 2 && ok; which++) {
        digits = 0;
        if (i >= n || v[i] < '1' || v[i] > '9') ok = false;
        while (ok && i < n && v[i] >= '0' && v[i] <= '9' && digits < 5) {
            num[which] = num[which] * 10u + (unsigned)(v[i] - '0');
            i++;
            digits++;
        }
        if (digits > 4) ok = false;
        if (ok && which == 0) {
            if (i < n && v[i] == '/') i++;
            else ok = false;
        }
    }
    if (!ok || i != n || num[0] > num[1] || num[1] > HILT_MAX_PARTS) {
        return got(&c->fail, "part", "expected i/n with 1 <= i <= n <= 1000", v, n);
    }
    *index = num[0];
    *count = num[1];
    return RUN_OK;
}

/* checkArgKeys: refuse keys the command does not take, naming all of them. */
static run_t check_keys(hilt_core_t *c, const char *const *known)
{
    size_t i, k, bad = 0;
    hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
    for (i = 0; i < c->cmd.argc; i++) {
        bool found = false;
        for (k = 0; known[k] != NULL; k++) found = found || strcmp(known[k], c->cmd.args[i].key) == 0;
        if (found) continue;
        if (bad == 0) {
            hilt_buf_cat(&b, c->cmd.command);
            hilt_buf_cat(&b, ": unknown argument ");
        } else {
            hilt_buf_cat(&b, ", ");
        }
        hilt_buf_quote(&b, c->cmd.args[i].key, strlen(c->cmd.args[i].key));
        bad++;
    }
    if (bad == 0) return RUN_OK;
    hilt_buf_cat(&b, " (");
    hilt_buf_cat(&b, c->cmd.command);
    if (known[0] == NULL) {
        hilt_buf_cat(&b, " takes no arguments");
    } else {
        hilt_buf_cat(&b, " takes ");
        for (k = 0; known[k] != NULL; k++) {
            if (k > 0) hilt_buf_cat(&b, ", ");
            hilt_buf_cat(&b, known[k]);
        }
    }
    hilt_buf_cat(&b, ")");
    fail_end(&c->fail, &b);
    return RUN_FAIL;
}

#define TRY(expr) do { if ((expr) != RUN_OK) return RUN_FAIL; } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Names of codes                                                                              */

static void hex4(hilt_buf_t *b, uint32_t v)
{
    static const char digits[] = "0123456789ABCDEF";
    char tmp[9];
    int n = 0, i;
    do {
        tmp[n++] = digits[v & 15u];
        v >>= 4;
    } while (v != 0);
    for (i = n; i < 4; i++) hilt_buf_cat(b, "0");
    while (n > 0) hilt_buf_put(b, &tmp[--n], 1);
}

const char *hilt_esp_err_name(int32_t code, char *scratch, size_t cap)
{
    size_t i;
    hilt_buf_t b;
    for (i = 0; i < hilt_esp_err_name_count; i++) {
        if (hilt_esp_err_names[i].code == code) return hilt_esp_err_names[i].name;
    }
    hilt_buf_init(&b, scratch, cap);
    hilt_buf_cat(&b, "ESP_ERR_0x");
    hex4(&b, code < 0 ? (uint32_t)0 - (uint32_t)code : (uint32_t)code);
    return scratch;
}

static const char *mbedtls_name_of(uint32_t abs)
{
    size_t i;
    for (i = 0; i < hilt_mbedtls_err_name_count; i++) {
        if ((uint32_t)hilt_mbedtls_err_names[i].code == abs) return hilt_mbedtls_err_names[i].name;
    }
    return NULL;
}

const char *hilt_mbedtls_err_name(int32_t code, char *scratch, size_t cap)
{
    uint32_t abs = code < 0 ? (uint32_t)0 - (uint32_t)code : (uint32_t)code;
    const char *whole, *high, *low;
    hilt_buf_t b;
    if (abs == 0) return "OK";
    whole = mbedtls_name_of(abs);
    if (whole != NULL) return whole;
    hilt_buf_init(&b, scratch, cap);
    /* A composite X.509 code: the high-level module's part plus the low-level one. */
    high = mbedtls_name_of(abs & 0xff80u);
    low = mbedtls_name_of(abs & 0x007fu);
    if (high != NULL && low != NULL) {
        hilt_buf_cat(&b, high);
        hilt_buf_cat(&b, " + ");
        hilt_buf_cat(&b, low);
        return scratch;
    }
    hilt_buf_cat(&b, "UNKNOWN_ERROR(-0x");
    hex4(&b, abs);
    hilt_buf_cat(&b, ")");
    return scratch;
}

size_t hilt_verify_info(uint32_t flags, const char **lines, size_t cap)
{
    size_t i, n = 0;
    for (i = 0; i < hilt_verify_text_count; i++) {
        if ((flags & hilt_verify_texts[i].bit) == 0) continue;
        if (n < cap) lines[n] = hilt_verify_texts[i].text;
        n++;
        flags &= ~hilt_verify_texts[i].bit;
    }
    if (flags != 0) {
        if (n < cap) lines[n] = hilt_verify_unknown;
        n++;
    }
    return n < cap ? n : cap;
}

/* ------------------------------------------------------------------------------------------ */
/* Connect result                                                                              */

/* A port-filled text field: up to its NUL, never past the field. */
static size_t field_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n] != '\0') n++;
    return n;
}

static const char *source_name(hilt_source_t s)
{
    return s == HILT_SOURCE_DEVICE ? "device" : "model";
}

static void json_ms(hilt_json_t *j, const char *key, int32_t v)
{
    hilt_json_key(j, key);
    if (v < 0) hilt_json_null(j);
    else hilt_json_int(j, v);
}

void hilt_write_connect_result(hilt_json_t *j, const hilt_connect_result_t *r, bool mqtt)
{
    char scratch[160];
    int32_t mqtt_ms = mqtt ? r->mqtt_ms : HILT_NONE;
    hilt_json_begin_object(j);
    hilt_json_key(j, "connected");
    hilt_json_bool(j, r->connected);

    hilt_json_key(j, "tls");
    if (!r->has_tls) {
        hilt_json_null(j);
    } else {
        hilt_json_begin_object(j);
        hilt_json_key(j, "version");
        hilt_json_string_n(j, r->version, field_len(r->version, sizeof r->version));
        hilt_json_key(j, "cipher");
        hilt_json_string_n(j, r->cipher, field_len(r->cipher, sizeof r->cipher));
        hilt_json_key(j, "alpn");
        if (r->has_alpn) hilt_json_string_n(j, r->alpn, field_len(r->alpn, sizeof r->alpn));
        else hilt_json_null(j);
        hilt_json_key(j, "peer");
        if (!r->has_peer) {
            hilt_json_null(j);
        } else {
            hilt_json_begin_object(j);
            hilt_json_key(j, "subject");
            hilt_json_string_n(j, r->peer_subject, field_len(r->peer_subject, sizeof r->peer_subject));
            hilt_json_key(j, "issuer");
            hilt_json_string_n(j, r->peer_issuer, field_len(r->peer_issuer, sizeof r->peer_issuer));
            hilt_json_key(j, "sha256");
            hilt_json_string_n(j, r->peer_sha256, field_len(r->peer_sha256, sizeof r->peer_sha256));
            hilt_json_end_object(j);
        }
        hilt_json_end_object(j);
    }

    hilt_json_key(j, "error");
    if (r->connected) {
        hilt_json_null(j);
    } else {
        const char *info[24];
        size_t n = hilt_verify_info(r->verify_flags, info, sizeof info / sizeof info[0]), i;
        hilt_mqtt_error_type_t type = r->mqtt_error_type;
        if (type == HILT_MQTT_ERROR_NONE && r->connack >= 0) type = HILT_MQTT_ERROR_CONNECTION_REFUSED;
        hilt_json_begin_object(j);
        hilt_json_key(j, "esp_err");
        hilt_json_int(j, r->esp_err);
        hilt_json_key(j, "esp_err_name");
        hilt_json_string(j, hilt_esp_err_name(r->esp_err, scratch, sizeof scratch));
        hilt_json_key(j, "stack_err");
        hilt_json_int(j, r->stack_err);
        hilt_json_key(j, "stack_err_name");
        if (r->stack_err == 0) hilt_json_null(j);
        else hilt_json_string(j, hilt_mbedtls_err_name(r->stack_err, scratch, sizeof scratch));
        hilt_json_key(j, "verify_flags");
        hilt_json_int(j, r->verify_flags);
        hilt_json_key(j, "verify_info");
        hilt_json_begin_array(j);
        for (i = 0; i < n; i++) hilt_json_string(j, info[i]);
        hilt_json_end_array(j);
        hilt_json_key(j, "mqtt_error_type");
        if (type == HILT_MQTT_ERROR_TCP_TRANSPORT) hilt_json_string(j, "TCP_TRANSPORT");
        else if (type == HILT_MQTT_ERROR_CONNECTION_REFUSED) hilt_json_string(j, "CONNECTION_REFUSED");
        else hilt_json_null(j);
        json_ms(j, "connack", r->connack);
        hilt_json_key(j, "sock_errno");
        hilt_json_int(j, r->sock_errno);
        hilt_json_end_object(j);
    }

    hilt_json_key(j, "timing");
    if (r->total_ms < 0 && r->dns_ms < 0 && r->tcp_ms < 0 && r->tls_ms < 0 && mqtt_ms < 0) {
        /* nothing measured: the host times the round trip (docs/protocol.md, source "host") */
        hilt_json_null(j);
    } else {
        hilt_json_begin_object(j);
        json_ms(j, "dns_ms", r->dns_ms);
        json_ms(j, "tcp_ms", r->tcp_ms);
        json_ms(j, "tls_ms", r->tls_ms);
        json_ms(j, "mqtt_ms", mqtt_ms);
        {
            /* As the emulator: the sum of the phases reached, when the port gave no total. */
            int64_t total = r->total_ms;
            if (total < 0) {
                /* in 64 bits: four int32 phases may add up past INT32_MAX */
                total = (int64_t)(r->dns_ms > 0 ? r->dns_ms : 0) + (int64_t)(r->tcp_ms > 0 ? r->tcp_ms : 0) +
                        (int64_t)(r->tls_ms > 0 ? r->tls_ms : 0) + (int64_t)(mqtt_ms > 0 ? mqtt_ms : 0);
            }
            hilt_json_key(j, "total_ms");
            hilt_json_int(j, total);
        }
        hilt_json_key(j, "source");
        hilt_json_string(j, source_name(r->timing_source));
        hilt_json_end_object(j);
    }

    hilt_json_key(j, "heap");
    hilt_json_begin_object(j);
    hilt_json_key(j, "before");
    hilt_json_int(j, r->heap_before);
    hilt_json_key(j, "min");
    hilt_json_int(j, r->heap_min);
    hilt_json_key(j, "after");
    hilt_json_int(j, r->heap_after);
    hilt_json_key(j, "peak_used");
    hilt_json_int(j, (int64_t)r->heap_before - (int64_t)r->heap_min);
    hilt_json_key(j, "source");
    hilt_json_string(j, source_name(r->heap_source));
    hilt_json_end_object(j);

    /* Optional: a port that cannot measure its connect task's stack leaves it out (never null). */
    if (r->has_stack) {
        hilt_json_key(j, "stack");
        hilt_json_begin_object(j);
        hilt_json_key(j, "size");
        hilt_json_int(j, r->stack_size);
        hilt_json_key(j, "peak_used");
        hilt_json_int(j, r->stack_peak_used);
        hilt_json_key(j, "source");
        hilt_json_string(j, source_name(r->stack_source));
        hilt_json_end_object(j);
    }

    hilt_json_key(j, "mqtt");
    if (!mqtt || !r->has_mqtt) {
        hilt_json_null(j);
    } else {
        hilt_json_begin_object(j);
        hilt_json_key(j, "session_present");
        hilt_json_bool(j, r->session_present);
        hilt_json_key(j, "connack");
        hilt_json_int(j, r->mqtt_connack);
        hilt_json_end_object(j);
    }
    hilt_json_end_object(j);
}

/* ------------------------------------------------------------------------------------------ */
/* The store (harness/protocol/parts.ts's PartAssembler, board.ts's storePut)                  */

static const char *kind_name(hilt_kind_t k)
{
    return k == HILT_KIND_CA ? "ca" : k == HILT_KIND_CERT ? "cert" : "key";
}

static hilt_slot_t *find_slot(hilt_core_t *c, const char *name)
{
    size_t i;
    for (i = 0; i < HILT_STORE_SLOTS; i++) {
        if (c->slots[i].used && strcmp(c->slots[i].name, name) == 0) return &c->slots[i];
    }
    return NULL;
}

static hilt_transfer_t *find_transfer(hilt_core_t *c, const char *slot)
{
    size_t i;
    for (i = 0; i < HILT_TRANSFERS; i++) {
        if (c->transfers[i].active && strcmp(c->transfers[i].slot, slot) == 0) return &c->transfers[i];
    }
    return NULL;
}

static void cancel_transfer(hilt_core_t *c, const char *slot)
{
    hilt_transfer_t *t = find_transfer(c, slot);
    if (t != NULL) t->active = false;
}

/* A transfer buffer for a new part 1: a free one, else the one started longest ago. */
static hilt_transfer_t *new_transfer(hilt_core_t *c)
{
    size_t i;
    hilt_transfer_t *oldest = &c->transfers[0];
    for (i = 0; i < HILT_TRANSFERS; i++) {
        if (!c->transfers[i].active) return &c->transfers[i];
        if (c->transfers[i].started < oldest->started) oldest = &c->transfers[i];
    }
    {
        char msg[96];
        hilt_buf_t b;
        hilt_buf_init(&b, msg, sizeof msg);
        hilt_buf_cat(&b, "store.put: dropped the unfinished transfer to slot ");
        hilt_buf_cat(&b, oldest->slot);
        hilt_buf_cat(&b, " (no room for another)");
        log_line(c, HILT_LOG_W, msg);
    }
    oldest->active = false;
    return oldest;
}

/* "slot '<slot>': <why>; send the data again from part 1", dropping the slot's transfer. */
static hilt_buf_t refuse_part(hilt_core_t *c, const char *slot)
{
    hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
    cancel_transfer(c, slot);
    hilt_buf_cat(&b, "slot ");
    hilt_buf_quote(&b, slot, strlen(slot));
    hilt_buf_cat(&b, ": ");
    return b;
}

static run_t refuse_part_end(hilt_core_t *c, hilt_buf_t *b)
{
    hilt_buf_cat(b, "; send the data again from part 1");
    fail_end(&c->fail, b);
    return RUN_FAIL;
}

static void part_of(hilt_buf_t *b, const char *head, unsigned index, unsigned count)
{
    hilt_buf_cat(b, head);
    hilt_buf_int(b, index);
    hilt_buf_cat(b, "/");
    hilt_buf_int(b, count);
}

static run_t all_slots_used(hilt_core_t *c)
{
    hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_NO_SLOT);
    hilt_buf_cat(&b, "store.put: all ");
    hilt_buf_int(&b, HILT_STORE_SLOTS);
    hilt_buf_cat(&b, " slots are in use; store.del one first");
    fail_end(&c->fail, &b);
    return RUN_FAIL;
}

static bool slot_name_ok(const char *s)
{
    size_t n = strlen(s), i;
    if (n < 1 || n > HILT_SLOT_NAME_MAX) return false;
    for (i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) return false;
    }
    return true;
}

static run_t cmd_store_put(hilt_core_t *c, hilt_json_t *j)
{
    const char *slot, *kind_text;
    hilt_kind_t kind;
    unsigned index = 0, count = 0;
    size_t chunk_len;
    hilt_transfer_t *t;
    hilt_buf_t b;
    bool complete;
    size_t bytes;

    TRY(arg_string(c, "slot", NULL, &slot));
    if (!slot_name_ok(slot)) {
        b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
        hilt_buf_cat(&b, "store.put: slot ");
        hilt_buf_json_string(&b, slot, strlen(slot));
        hilt_buf_cat(&b, ": use 1-16 of a-z 0-9 _ -");
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    if (strcmp(slot, "none") == 0) {
        return fail_text(&c->fail, HILT_ERR_BAD_ARGS, "store.put: slot name 'none' is reserved (ca=none means no CA)");
    }
    TRY(arg_enum(c, "kind", "ca|cert|key", NULL, &kind_text));
    kind = kind_text[0] == 'c' ? (kind_text[1] == 'a' ? HILT_KIND_CA : HILT_KIND_CERT) : HILT_KIND_KEY;
    TRY(arg_part(c, &index, &count));
    TRY(arg_base64(c, "data", true, c->payload, sizeof c->payload, &chunk_len, NULL));
    if (index == 1 && find_slot(c, slot) == NULL && c->slot_count >= HILT_STORE_SLOTS) return all_slots_used(c);

    t = find_transfer(c, slot);
    if (index == 1) {
        if (t == NULL) t = new_transfer(c);
        t->active = true;
        memcpy(t->slot, slot, strlen(slot) + 1);
        t->kind = kind;
        t->count = count;
        t->next = 1;
        t->len = 0;
        t->started = ++c->transfer_clock;
    } else if (t == NULL) {
        b = refuse_part(c, slot);
        part_of(&b, "part ", index, count);
        hilt_buf_cat(&b, " without a transfer in progress");
        return refuse_part_end(c, &b);
    } else if (t->kind != kind) {
        hilt_kind_t was = t->kind;
        b = refuse_part(c, slot);
        hilt_buf_cat(&b, "kind changed from ");
        hilt_buf_cat(&b, kind_name(was));
        hilt_buf_cat(&b, " to ");
        hilt_buf_cat(&b, kind_name(kind));
        part_of(&b, " at part ", index, count);
        return refuse_part_end(c, &b);
    } else if (t->count != count) {
        unsigned was = t->count;
        b = refuse_part(c, slot);
        hilt_buf_cat(&b, "part count changed from ");
        hilt_buf_int(&b, was);
        hilt_buf_cat(&b, " to ");
        hilt_buf_int(&b, count);
        hilt_buf_cat(&b, " at part ");
        hilt_buf_int(&b, index);
        return refuse_part_end(c, &b);
    } else if (t->next != index) {
        unsigned expected = t->next;
        b = refuse_part(c, slot);
        part_of(&b, "part ", index, count);
        part_of(&b, " out of order, expected part ", expected, count);
        return refuse_part_end(c, &b);
    }

    bytes = t->len + chunk_len;
    if (bytes > HILT_SLOT_BYTES) {
        t->active = false;
        b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
        hilt_buf_cat(&b, "store.put: slot ");
        hilt_buf_cat(&b, slot);
        hilt_buf_cat(&b, " would hold ");
        hilt_buf_int(&b, (int64_t)bytes);
        hilt_buf_cat(&b, " bytes, more than the ");
        hilt_buf_int(&b, HILT_SLOT_BYTES);
        hilt_buf_cat(&b, " a slot takes");
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    memcpy(t->data + t->len, c->payload, chunk_len);
    t->len = bytes;
    t->next++;
    complete = index == count;
    if (complete) {
        hilt_slot_t *s = find_slot(c, slot);
        t->active = false;
        if (s == NULL) {
            size_t i;
            /* Slots can fill while a transfer runs: the emulator then holds one too many; we refuse. */
            if (c->slot_count >= HILT_STORE_SLOTS) return all_slots_used(c);
            for (i = 0; c->slots[i].used; i++) continue;
            s = &c->slots[i];
            s->used = true;
            memcpy(s->name, slot, strlen(slot) + 1);
            c->slot_order[c->slot_count++] = i;
        }
        s->kind = kind;
        s->len = t->len;
        memcpy(s->data, t->data, t->len);
        s->data[s->len] = 0;
    }
    hilt_json_begin_object(j);
    hilt_json_key(j, "slot");
    hilt_json_string(j, slot);
    hilt_json_key(j, "bytes");
    hilt_json_int(j, (int64_t)bytes);
    hilt_json_key(j, "complete");
    hilt_json_bool(j, complete);
    hilt_json_end_object(j);
    return RUN_OK;
}

static run_t cmd_store_del(hilt_core_t *c, hilt_json_t *j)
{
    const char *slot;
    hilt_slot_t *s;
    size_t i, k;
    TRY(arg_string(c, "slot", NULL, &slot));
    cancel_transfer(c, slot);
    s = find_slot(c, slot);
    if (s == NULL) {
        hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_NO_SLOT);
        hilt_buf_cat(&b, "store.del: no slot ");
        hilt_buf_json_string(&b, slot, strlen(slot));
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    s->used = false;
    for (i = 0; i < c->slot_count; i++) {
        if (&c->slots[c->slot_order[i]] != s) continue;
        for (k = i; k + 1 < c->slot_count; k++) c->slot_order[k] = c->slot_order[k + 1];
        c->slot_count--;
        break;
    }
    hilt_json_begin_object(j);
    hilt_json_key(j, "slot");
    hilt_json_string(j, slot);
    hilt_json_end_object(j);
    return RUN_OK;
}

static run_t cmd_store_list(hilt_core_t *c, hilt_json_t *j)
{
    size_t i;
    char hex[65];
    hilt_json_begin_object(j);
    hilt_json_key(j, "slots");
    hilt_json_begin_array(j);
    for (i = 0; i < c->slot_count; i++) {
        const hilt_slot_t *s = &c->slots[c->slot_order[i]];
        hilt_sha256_hex(s->data, s->len, hex);
        hilt_json_begin_object(j);
        hilt_json_key(j, "slot");
        hilt_json_string(j, s->name);
        hilt_json_key(j, "kind");
        hilt_json_string(j, kind_name(s->kind));
        hilt_json_key(j, "bytes");
        hilt_json_int(j, (int64_t)s->len);
        hilt_json_key(j, "sha256");
        hilt_json_string(j, hex);
        hilt_json_end_object(j);
    }
    hilt_json_end_array(j);
    hilt_json_end_object(j);
    return RUN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* hello, time, heap, reset                                                                    */

static void heap_object(hilt_core_t *c, hilt_json_t *j)
{
    hilt_heap_stats_t h;
    memset(&h, 0, sizeof h);
    c->port->heap_stats(c->port->ctx, &h);
    hilt_json_begin_object(j);
    hilt_json_key(j, "free");
    hilt_json_int(j, h.free);
    hilt_json_key(j, "min_free");
    hilt_json_int(j, h.min_free);
    hilt_json_key(j, "largest");
    hilt_json_int(j, h.largest);
    hilt_json_end_object(j);
}

static void time_object(hilt_core_t *c, hilt_json_t *j, int64_t epoch)
{
    hilt_json_begin_object(j);
    hilt_json_key(j, "epoch");
    hilt_json_int(j, epoch);
    hilt_json_key(j, "synced");
    hilt_json_bool(j, c->synced);
    hilt_json_end_object(j);
}

static run_t cmd_hello(hilt_core_t *c, hilt_json_t *j)
{
    const hilt_facts_t *f = &c->facts;
    size_t i;
    hilt_json_begin_object(j);
    hilt_json_key(j, "proto");
    hilt_json_int(j, HILT_PROTO_VERSION);
    hilt_json_key(j, "agent");
    hilt_json_begin_object(j);
    hilt_json_key(j, "name");
    hilt_json_string(j, HILT_AGENT_NAME);
    hilt_json_key(j, "version");
    hilt_json_string(j, HILT_AGENT_VERSION);
    hilt_json_end_object(j);
    hilt_json_key(j, "fw");
    hilt_json_begin_object(j);
    hilt_json_key(j, "project");
    hilt_json_string(j, f->fw_project);
    hilt_json_key(j, "version");
    hilt_json_string(j, f->fw_version);
    hilt_json_key(j, "idf");
    hilt_json_string(j, f->fw_idf);
    hilt_json_key(j, "elf_sha256");
    hilt_json_string(j, f->fw_elf_sha256); /* NULL writes null */
    hilt_json_end_object(j);
    hilt_json_key(j, "chip");
    hilt_json_begin_object(j);
    hilt_json_key(j, "model");
    hilt_json_string(j, f->chip_model);
    hilt_json_key(j, "revision");
    hilt_json_int(j, f->chip_revision);
    hilt_json_key(j, "cores");
    hilt_json_int(j, f->chip_cores);
    hilt_json_key(j, "mac");
    hilt_json_string(j, f->chip_mac);
    hilt_json_end_object(j);
    hilt_json_key(j, "mbedtls");
    hilt_json_begin_object(j);
    hilt_json_key(j, "version");
    hilt_json_string(j, f->mbedtls_version);
    hilt_json_key(j, "have_time_date");
    hilt_json_bool(j, f->have_time_date);
    hilt_json_key(j, "in_content_len");
    hilt_json_int(j, f->in_content_len);
    hilt_json_key(j, "out_content_len");
    hilt_json_int(j, f->out_content_len);
    hilt_json_key(j, "dynamic_buffer");
    hilt_json_bool(j, f->dynamic_buffer);
    hilt_json_key(j, "tls13");
    hilt_json_bool(j, f->tls13);
    hilt_json_key(j, "ciphersuites");
    hilt_json_begin_array(j);
    for (i = 0; i < f->ciphersuite_count; i++) hilt_json_string(j, f->ciphersuites[i]);
    hilt_json_end_array(j);
    hilt_json_end_object(j);
    hilt_json_key(j, "heap");
    heap_object(c, j);
    hilt_json_key(j, "time");
    time_object(c, j, c->port->time_now(c->port->ctx));
    hilt_json_end_object(j);
    return RUN_OK;
}

/* Date.prototype.toISOString() of a whole second: years past 9999 as +YYYYYY. */
static void iso_time(hilt_buf_t *b, int64_t epoch)
{
    int64_t days = epoch / 86400, secs = epoch % 86400;
    int64_t z, era, doe, yoe, y, doy, mp, d, m;
    char two[3];
    /* Howard Hinnant's days_from_civil, inverted. */
    z = days + 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    if (y > 9999) {
        int64_t div = 100000;
        hilt_buf_cat(b, "+");
        for (; div > 0; div /= 10) hilt_buf_int(b, (y / div) % 10);
    } else {
        int64_t div = 1000;
        for (; div > 0; div /= 10) hilt_buf_int(b, (y / div) % 10);
    }
#define TWO(v, sep) do { two[0] = (char)('0' + (v) / 10); two[1] = (char)('0' + (v) % 10); two[2] = '\0'; \
        hilt_buf_cat(b, sep); hilt_buf_cat(b, two); } while (0)
    TWO(m, "-");
    TWO(d, "-");
    TWO(secs / 3600, "T");
    TWO(secs / 60 % 60, ":");
    TWO(secs % 60, ":");
#undef TWO
    hilt_buf_cat(b, ".000Z");
}

static run_t cmd_time_set(hilt_core_t *c, hilt_json_t *j)
{
    int64_t epoch;
    char msg[64];
    hilt_buf_t b;
    TRY(arg_int(c, "epoch", 0, (int64_t)1 << 40, NULL, &epoch));
    c->port->time_set(c->port->ctx, epoch);
    c->synced = true;
    hilt_buf_init(&b, msg, sizeof msg);
    hilt_buf_cat(&b, "time set to ");
    iso_time(&b, epoch);
    log_line(c, HILT_LOG_I, msg);
    time_object(c, j, epoch);
    return RUN_OK;
}

static run_t cmd_time_clear(hilt_core_t *c, hilt_json_t *j)
{
    c->port->time_clear(c->port->ctx);
    c->synced = false;
    time_object(c, j, c->port->time_now(c->port->ctx));
    return RUN_OK;
}

static run_t cmd_heap_stats(hilt_core_t *c, hilt_json_t *j)
{
    heap_object(c, j);
    return RUN_OK;
}

static uint32_t free_now(hilt_core_t *c)
{
    hilt_heap_stats_t h;
    memset(&h, 0, sizeof h);
    c->port->heap_stats(c->port->ctx, &h);
    return h.free;
}

static run_t cmd_heap_reserve(hilt_core_t *c, hilt_json_t *j)
{
    int64_t bytes;
    uint32_t reserved;
    TRY(arg_int(c, "bytes", 0, 16 * 1024 * 1024, NULL, &bytes));
    reserved = c->port->heap_reserve(c->port->ctx, (uint32_t)bytes);
    hilt_json_begin_object(j);
    hilt_json_key(j, "reserved");
    hilt_json_int(j, reserved);
    hilt_json_key(j, "free");
    hilt_json_int(j, free_now(c));
    hilt_json_end_object(j);
    return RUN_OK;
}

static run_t cmd_heap_release(hilt_core_t *c, hilt_json_t *j)
{
    c->port->heap_release(c->port->ctx);
    hilt_json_begin_object(j);
    hilt_json_key(j, "free");
    hilt_json_int(j, free_now(c));
    hilt_json_end_object(j);
    return RUN_OK;
}

static run_t cmd_reset(hilt_core_t *c, hilt_json_t *j)
{
    (void)j;
    log_line(c, HILT_LOG_I, "restarting");
    c->port->close(c->port->ctx);
    c->port->restart(c->port->ctx);
    /* Only a port that restarts in place gets here: the RAM goes, the board boots again. */
    hilt_core_boot(c);
    return RUN_NO_REPLY;
}

static run_t cmd_close(hilt_core_t *c, hilt_json_t *j)
{
    c->port->close(c->port->ctx);
    hilt_json_begin_object(j);
    hilt_json_end_object(j);
    return RUN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */

/* A stored credential named by `arg_name`=slot, of the kind the argument needs. */
static run_t credential(hilt_core_t *c, const char *arg_name, const char *slot, hilt_kind_t kind, hilt_blob_t *out)
{
    hilt_slot_t *s = find_slot(c, slot);
    hilt_buf_t b;
    if (s == NULL) {
        b = fail_begin(&c->fail, HILT_ERR_NO_SLOT);
        hilt_buf_cat(&b, arg_name);
        hilt_buf_cat(&b, "=");
        hilt_buf_cat(&b, slot);
        hilt_buf_cat(&b, ": no such slot; store.put it first");
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    if (s->kind != kind) {
        b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
        hilt_buf_cat(&b, arg_name);
        hilt_buf_cat(&b, "=");
        hilt_buf_cat(&b, slot);
        hilt_buf_cat(&b, ": slot holds a ");
        hilt_buf_cat(&b, kind_name(s->kind));
        hilt_buf_cat(&b, ", not a ");
        hilt_buf_cat(&b, kind_name(kind));
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    out->data = s->data;
    out->len = s->len;
    return RUN_OK;
}

static bool list_has(const char *list, size_t len, const char *item)
{
    size_t n = strlen(item), at = 0;
    while (at <= len) {
        size_t end = at;
        while (end < len && list[end] != ',') end++;
        if (end - at == n && memcmp(list + at, item, n) == 0) return true;
        at = end + 1;
    }
    return false;
}

static bool suite_known(const hilt_core_t *c, const char *name, size_t n)
{
    size_t i;
    for (i = 0; i < hilt_suite_name_count; i++) {
        if (strlen(hilt_suite_names[i]) == n && memcmp(hilt_suite_names[i], name, n) == 0) return true;
    }
    for (i = 0; i < c->facts.ciphersuite_count; i++) {
        if (strlen(c->facts.ciphersuites[i]) == n && memcmp(c->facts.ciphersuites[i], name, n) == 0) return true;
    }
    return false;
}

/* The suites to offer: the firmware's, narrowed to `ciphers=` and to TLS 1.2 under tls=1.2. */
static run_t suites(hilt_core_t *c, hilt_connect_config_t *cfg, const hilt_arg_t *ciphers)
{
    size_t i, n = 0, max = sizeof c->suites / sizeof c->suites[0];
    if (ciphers != NULL) {
        size_t at = 0;
        while (at <= ciphers->value_len) {
            size_t end = at;
            while (end < ciphers->value_len && ciphers->value[end] != ',') end++;
            if (!suite_known(c, ciphers->value + at, end - at)) {
                hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
                hilt_buf_cat(&b, "ciphers: unknown Mbed TLS ciphersuite ");
                hilt_buf_json_string(&b, ciphers->value + at, end - at);
                fail_end(&c->fail, &b);
                return RUN_FAIL;
            }
            at = end + 1;
        }
    }
    for (i = 0; i < c->facts.ciphersuite_count && n < max; i++) {
        const char *s = c->facts.ciphersuites[i];
        if (ciphers != NULL && !list_has(ciphers->value, ciphers->value_len, s)) continue;
        if (cfg->tls == HILT_TLS_1_2 && strncmp(s, "TLS1-3-", 7) == 0) continue;
        c->suites[n++] = s;
    }
    if (n == 0) return fail_text(&c->fail, HILT_ERR_BAD_ARGS, "ciphers: none of the requested ciphersuites is enabled in this firmware");
    cfg->ciphersuites = c->suites;
    cfg->ciphersuite_count = n;
    cfg->ciphers_given = ciphers != NULL;
    return RUN_OK;
}

/* Waits ms while still answering the console (busy) and letting the port deliver events. */
static void hold(hilt_core_t *c, uint32_t ms)
{
    uint64_t deadline = c->port->uptime_ms(c->port->ctx) + ms, now;
    while ((now = c->port->uptime_ms(c->port->ctx)) < deadline) {
        int n = c->port->read(c->port->ctx, c->hold_rx, sizeof c->hold_rx, (uint32_t)(deadline - now));
        if (n < 0) break;
        if (n > 0) hilt_core_feed(c, c->hold_rx, (size_t)n);
    }
}

static run_t cmd_connect(hilt_core_t *c, hilt_json_t *j)
{
    bool mqtt = strcmp(c->cmd.command, "mqtt.connect") == 0;
    hilt_connect_config_t cfg;
    hilt_mqtt_config_t m;
    hilt_connect_result_t *r = &c->result;
    const char *ca, *tls, *why;
    const hilt_arg_t *cert = arg(&c->cmd, "cert"), *key = arg(&c->cmd, "key"), *ciphers, *alpn;
    int64_t timeout, port, hold_ms, keepalive, stack;
    bool present;

    memset(&cfg, 0, sizeof cfg);
    memset(&m, 0, sizeof m);
    TRY(arg_string(c, "host", NULL, &cfg.host));
    TRY(arg_string(c, "ca", "none", &ca));
    if ((cert == NULL) != (key == NULL)) {
        hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
        hilt_buf_cat(&b, c->cmd.command);
        hilt_buf_cat(&b, ": cert and key go together (mutual TLS needs both)");
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    /* The data goes to esp-tls as it is: a PEM that does not parse is its failure to report. */
    if (strcmp(ca, "none") != 0) TRY(credential(c, "ca", ca, HILT_KIND_CA, &cfg.ca));
    if (cert != NULL) {
        TRY(credential(c, "cert", cert->value, HILT_KIND_CERT, &cfg.cert));
        TRY(credential(c, "key", key->value, HILT_KIND_KEY, &cfg.key));
    }
    TRY(arg_enum(c, "tls", "1.2|1.3|any", "any", &tls));
    cfg.tls = strcmp(tls, "1.2") == 0 ? HILT_TLS_1_2 : strcmp(tls, "1.3") == 0 ? HILT_TLS_1_3 : HILT_TLS_ANY;
    if (cfg.tls == HILT_TLS_1_3 && !c->facts.tls13) {
        return fail_text(&c->fail, HILT_ERR_BAD_ARGS, "tls=1.3: this firmware has no TLS 1.3 (CONFIG_MBEDTLS_SSL_PROTO_TLS1_3 is not set)");
    }
    TRY(arg_list(c, "ciphers", &ciphers));
    TRY(suites(c, &cfg, ciphers));
    {
        static const int64_t zero = 0; /* esp-tls: 0 means 10 s */
        TRY(arg_int(c, "timeout_ms", 0, 600000, &zero, &timeout));
    }
    cfg.timeout_ms = timeout == 0 ? 10000u : (uint32_t)timeout;
    if (mqtt) {
        static const int64_t keepalive_default = 120;
        bool clean;
        TRY(arg_string(c, "client_id", c->client_id, &m.client_id));
        TRY(arg_int(c, "keepalive", 0, 65535, &keepalive_default, &keepalive));
        m.keepalive = (uint32_t)keepalive;
        TRY(arg_bool(c, "clean", 1, &clean));
        m.clean = clean;
        m.username = arg(&c->cmd, "username") ? arg(&c->cmd, "username")->value : NULL;
        TRY(arg_base64(c, "password", false, c->password, sizeof c->password, &m.password.len, &present));
        m.password.data = present ? c->password : NULL;
        cfg.mqtt = &m;
    }
    {
        static const int64_t port_default = 8883;
        TRY(arg_int(c, "port", 1, 65535, &port_default, &port));
        cfg.port = (uint16_t)port;
    }
    TRY(arg_string(c, "sni", cfg.host, &cfg.sni));
    TRY(arg_bool(c, "skip_cn", 0, &cfg.skip_cn));
    TRY(arg_list(c, "alpn", &alpn));
    if (alpn != NULL) {
        /* esp-tls takes a NULL-terminated array: split the value in place. */
        char *v = alpn->value;
        size_t i;
        c->alpn[cfg.alpn_count++] = v;
        for (i = 0; i < alpn->value_len; i++) {
            if (v[i] != ',') continue;
            v[i] = '\0';
            c->alpn[cfg.alpn_count++] = v + i + 1;
        }
        c->alpn[cfg.alpn_count] = NULL;
        cfg.alpn = c->alpn;
    }
    {
        static const int64_t none = 0;
        TRY(arg_int(c, "hold_ms", 0, HILT_MAX_HOLD_MS, &none, &hold_ms));
        /* left out: 0, the port's default (CONFIG_HILT_AGENT_CONNECT_STACK); given, 2048..65536 bytes */
        TRY(arg_int(c, "stack", HILT_MIN_CONNECT_STACK, HILT_MAX_CONNECT_STACK, &none, &stack));
        cfg.stack_size = (uint32_t)stack;
    }

    memset(r, 0, sizeof *r);
    r->connack = HILT_NONE;
    r->mqtt_connack = HILT_NONE;
    r->dns_ms = r->tcp_ms = r->tls_ms = r->mqtt_ms = r->total_ms = HILT_NONE;
    why = c->port->connect(c->port->ctx, &cfg, r);
    if (why != NULL) {
        hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_INTERNAL);
        hilt_buf_cat(&b, c->cmd.command);
        hilt_buf_cat(&b, ": ");
        hilt_buf_cat(&b, why);
        fail_end(&c->fail, &b);
        return RUN_FAIL;
    }
    if (r->connected && hold_ms > 0) hold(c, (uint32_t)hold_ms);
    hilt_write_connect_result(j, r, mqtt);
    return RUN_OK;
}

static run_t need_mqtt(hilt_core_t *c)
{
    hilt_buf_t b;
    if (c->port->mqtt_connected(c->port->ctx)) return RUN_OK;
    b = fail_begin(&c->fail, HILT_ERR_BAD_ARGS);
    hilt_buf_cat(&b, c->cmd.command);
    hilt_buf_cat(&b, ": no MQTT connection; mqtt.connect first");
    fail_end(&c->fail, &b);
    return RUN_FAIL;
}

static run_t port_failed(hilt_core_t *c, const char *why)
{
    hilt_buf_t b = fail_begin(&c->fail, HILT_ERR_INTERNAL);
    hilt_buf_cat(&b, c->cmd.command);
    hilt_buf_cat(&b, ": ");
    hilt_buf_cat(&b, why);
    fail_end(&c->fail, &b);
    return RUN_FAIL;
}

static run_t cmd_publish(hilt_core_t *c, hilt_json_t *j)
{
    static const int64_t qos_default = 0;
    const char *topic, *why;
    int64_t qos;
    size_t len;
    bool retain, acked = false;
    uint32_t ms = 0;
    TRY(need_mqtt(c));
    TRY(arg_string(c, "topic", NULL, &topic));
    TRY(arg_int(c, "qos", 0, 2, &qos_default, &qos));
    TRY(arg_base64(c, "payload", false, c->payload, sizeof c->payload, &len, NULL));
    TRY(arg_bool(c, "retain", 0, &retain));
    why = c->port->mqtt_publish(c->port->ctx, topic, c->payload, len, (int)qos, retain, &acked, &ms);
    if (why != NULL) return port_failed(c, why);
    hilt_json_begin_object(j);
    hilt_json_key(j, "acked");
    hilt_json_bool(j, qos == 0 ? false : acked);
    hilt_json_key(j, "ms");
    hilt_json_int(j, ms);
    hilt_json_end_object(j);
    return RUN_OK;
}

static run_t cmd_subscribe(hilt_core_t *c, hilt_json_t *j)
{
    static const int64_t qos_default = 0;
    const char *topic, *why;
    int64_t qos;
    int granted = 128;
    TRY(need_mqtt(c));
    TRY(arg_string(c, "topic", NULL, &topic));
    TRY(arg_int(c, "qos", 0, 2, &qos_default, &qos));
    why = c->port->mqtt_subscribe(c->port->ctx, topic, (int)qos, &granted);
    if (why != NULL) return port_failed(c, why);
    hilt_json_begin_object(j);
    hilt_json_key(j, "granted");
    hilt_json_int(j, granted);
    hilt_json_end_object(j);
    return RUN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Dispatch                                                                                    */

#define TLS_ARGS "host", "port", "sni", "ca", "cert", "key", "ciphers", "tls", "timeout_ms", "skip_cn", "alpn", "hold_ms", "stack"
static const char *const NO_ARGS[] = {NULL};
static const char *const TIME_SET_ARGS[] = {"epoch", NULL};
static const char *const STORE_PUT_ARGS[] = {"slot", "kind", "data", "part", NULL};
static const char *const SLOT_ARGS[] = {"slot", NULL};
static const char *const RESERVE_ARGS[] = {"bytes", NULL};
static const char *const TLS_CONNECT_ARGS[] = {TLS_ARGS, NULL};
static const char *const MQTT_CONNECT_ARGS[] = {TLS_ARGS, "client_id", "keepalive", "clean", "username", "password", NULL};
static const char *const PUBLISH_ARGS[] = {"topic", "qos", "payload", "retain", NULL};
static const char *const SUBSCRIBE_ARGS[] = {"topic", "qos", NULL};

typedef struct {
    const char *name;
    const char *const *args;
    run_t (*run)(hilt_core_t *c, hilt_json_t *j);
} command_t;

static const command_t HANDLERS[] = {
    {"hello", NO_ARGS, cmd_hello},
    {"reset", NO_ARGS, cmd_reset},
    {"time.set", TIME_SET_ARGS, cmd_time_set},
    {"time.clear", NO_ARGS, cmd_time_clear},
    {"store.put", STORE_PUT_ARGS, cmd_store_put},
    {"store.del", SLOT_ARGS, cmd_store_del},
    {"store.list", NO_ARGS, cmd_store_list},
    {"heap.stats", NO_ARGS, cmd_heap_stats},
    {"heap.reserve", RESERVE_ARGS, cmd_heap_reserve},
    {"heap.release", NO_ARGS, cmd_heap_release},
    {"tls.connect", TLS_CONNECT_ARGS, cmd_connect},
    {"tls.close", NO_ARGS, cmd_close},
    {"mqtt.connect", MQTT_CONNECT_ARGS, cmd_connect},
    {"mqtt.publish", PUBLISH_ARGS, cmd_publish},
    {"mqtt.subscribe", SUBSCRIBE_ARGS, cmd_subscribe},
    {"mqtt.disconnect", NO_ARGS, cmd_close},
};

/* Runs c->cmd (parsed) and answers it. busy is set for as long as it runs. */
static void run_command(hilt_core_t *c)
{
    const command_t *h = NULL;
    hilt_json_t j;
    size_t i;
    run_t r;
    for (i = 0; i < sizeof HANDLERS / sizeof HANDLERS[0]; i++) {
        if (strcmp(HANDLERS[i].name, c->cmd.command) == 0) h = &HANDLERS[i];
    }
    if (h == NULL) { /* parse_line only lets known commands through */
        fail_text(&c->fail, HILT_ERR_UNKNOWN_COMMAND, "unknown command");
        send_err(c, c->reply, sizeof c->reply, c->cmd.id, &c->fail);
        return;
    }
    c->busy = true;
    reply_head(&j, c->reply, sizeof c->reply, c->cmd.id, "ok");
    r = check_keys(c, h->args);
    if (r == RUN_OK) r = h->run(c, &j);
    /* Free before the reply goes out: the host may send its next command the moment it reads it. */
    c->busy = false;
    if (r == RUN_NO_REPLY) return;
    if (r == RUN_OK && j.out.overflow) {
        r = fail_text(&c->fail, HILT_ERR_INTERNAL, "reply larger than the agent's reply buffer (HILT_REPLY_BYTES)");
    }
    if (r == RUN_OK) write_line(c, &j.out);
    else send_err(c, c->reply, sizeof c->reply, c->cmd.id, &c->fail);
}

/* The id at the start of what follows "@hil ", when it is one (a too-long line still gets it). */
static uint32_t leading_id(const uint8_t *rest, size_t n)
{
    size_t k = 0;
    while (k < n && rest[k] != ' ') k++;
    return valid_id((const char *)rest, k);
}

static void warn_no_id(hilt_core_t *c, const hilt_fail_t *f)
{
    hilt_buf_t b;
    hilt_buf_init(&b, c->scratch, sizeof c->scratch);
    size_t at = 0;
    hilt_buf_cat(&b, "ignored protocol line without a valid id: ");
    /* A lone surrogate half prints as U+FFFD, as Node writes one. */
    while (at < f->len) {
        if (hilt_wtf8_surrogate((const uint8_t *)f->text, f->len, at) != 0) {
            hilt_buf_cp(&b, HILT_REPLACEMENT);
            at += 3;
        } else {
            hilt_buf_put(&b, f->text + at++, 1);
        }
    }
    log_line(c, HILT_LOG_W, c->scratch);
}

/* Whether a kept line is blank as JavaScript's trim() sees it. */
static bool blank(const uint8_t *s, size_t n)
{
    size_t at = 0;
    while (at < n) {
        if (!hilt_is_js_space(hilt_utf8_next(s, n, &at))) return false;
    }
    return true;
}

/*
 * One line from the console: `kept` bytes of it are in `line`, `total` is its whole length
 * (both without the line ending). While a command runs, the line is parsed in the side buffers
 * and answered at once: its refusal, or busy.
 */
static void handle_line(hilt_core_t *c, const uint8_t *line, size_t kept, size_t total, bool nonspace_beyond)
{
    bool busy = c->busy;
    hilt_cmd_t *cmd = busy ? &c->side : &c->cmd;
    hilt_fail_t *f = busy ? &c->side_fail : &c->fail;
    char *out = busy ? c->side_reply : c->reply;
    size_t out_cap = busy ? sizeof c->side_reply : sizeof c->reply;
    parse_t p;

    if (total < sizeof PREFIX - 1 || memcmp(line, PREFIX, sizeof PREFIX - 1) != 0) {
        if (!blank(line, kept) || nonspace_beyond) {
            char msg[96];
            hilt_buf_t b;
            hilt_buf_init(&b, msg, sizeof msg);
            hilt_buf_cat(&b, "ignored input that is not a protocol line (");
            /* as the emulator counts it: its splitter keeps the first 4096 bytes of a line */
            hilt_buf_int(&b, (int64_t)(total > HILT_FRAME_COUNTED ? HILT_FRAME_COUNTED : total));
            hilt_buf_cat(&b, " bytes)");
            log_line(c, HILT_LOG_W, msg);
        }
        return;
    }
    if (total > HILT_MAX_LINE) {
        uint32_t id = leading_id(line + sizeof PREFIX - 1, kept - (sizeof PREFIX - 1));
        hilt_buf_t b = fail_begin(f, HILT_ERR_TOO_LONG);
        hilt_buf_cat(&b, "line is ");
        /* The emulator's splitter keeps 4096 bytes, and says "longer than" past them. */
        if (total > HILT_FRAME_COUNTED) {
            hilt_buf_cat(&b, "longer than ");
            hilt_buf_int(&b, HILT_FRAME_COUNTED);
        } else {
            hilt_buf_int(&b, (int64_t)total);
        }
        hilt_buf_cat(&b, " bytes, over the 1024-byte limit; send large data in parts (part=i/n)");
        fail_end(f, &b);
        if (id == 0) warn_no_id(c, f);
        else send_err(c, out, out_cap, id, f);
        return;
    }
    memcpy(cmd->text, line, total);
    cmd->text[total] = '\0';
    p = parse_line(cmd, total, f);
    if (p == PARSE_NO_ID) {
        warn_no_id(c, f);
    } else if (p == PARSE_REFUSED) {
        send_err(c, out, out_cap, cmd->id, f);
    } else if (busy) {
        hilt_buf_t b = fail_begin(f, HILT_ERR_BUSY);
        hilt_buf_cat(&b, "busy with another command; send ");
        hilt_buf_cat(&b, cmd->command);
        hilt_buf_cat(&b, " when it has replied");
        fail_end(f, &b);
        send_err(c, out, out_cap, cmd->id, f);
    } else {
        run_command(c);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Framing                                                                                     */

static void end_line(hilt_core_t *c, bool terminated)
{
    uint8_t *line = c->line;
    size_t total = c->frame_total, kept = c->frame_kept;
    bool beyond = c->frame_nonspace_beyond;
    /* A '\r' before the '\n' is dropped (ESP-IDF ends lines with \r\n; so may a terminal). */
    if (total > 0 && c->frame_last == '\r') {
        total--;
        if (kept > total) kept = total;
    }
    /* The line leaves the frame buffer before it is handled: a command that waits reads on. */
    memcpy(line, c->frame, kept);
    c->frame_kept = 0;
    c->frame_total = 0;
    c->frame_nonspace_beyond = false;
    if (!terminated && total == 0) return;
    handle_line(c, line, kept, total, beyond);
}

static void frame_byte(hilt_core_t *c, uint8_t byte)
{
    if (byte == '\n') {
        end_line(c, true);
        return;
    }
    if (c->frame_kept < HILT_FRAME_KEEP) c->frame[c->frame_kept++] = byte;
    else if (byte != ' ' && byte != '\t' && byte != '\r' && byte != '\v' && byte != '\f') c->frame_nonspace_beyond = true;
    c->frame_last = byte;
    if (c->frame_total < SIZE_MAX) c->frame_total++;
}

void hilt_core_feed(hilt_core_t *c, const uint8_t *bytes, size_t len)
{
    size_t i;
    if (c->in != NULL) {
        /*
         * Called while a command from an earlier chunk runs: the rest of that chunk came first,
         * so it is framed first. Its lines, like these, are answered busy.
         */
        while (c->in_pos < c->in_len) frame_byte(c, c->in[c->in_pos++]);
        for (i = 0; i < len; i++) frame_byte(c, bytes[i]);
        return;
    }
    c->in = bytes;
    c->in_len = len;
    c->in_pos = 0;
    while (c->in_pos < c->in_len) frame_byte(c, c->in[c->in_pos++]);
    c->in = NULL;
}

void hilt_core_flush(hilt_core_t *c)
{
    if (c->frame_total > 0) end_line(c, false);
}

/* ------------------------------------------------------------------------------------------ */
/* Events, boot, the run loop                                                                  */

void hilt_core_mqtt_message(hilt_core_t *c, const char *topic, size_t topic_len, int qos,
                            const uint8_t *payload, size_t payload_len)
{
    hilt_json_t j;
    size_t b64 = hilt_b64_encoded_len(payload_len);
    hilt_json_init(&j, c->event, sizeof c->event);
    hilt_json_raw(&j, "@hil * mqtt.message ");
    hilt_json_begin_object(&j);
    hilt_json_key(&j, "topic");
    hilt_json_string_n(&j, topic, topic_len);
    hilt_json_key(&j, "qos");
    hilt_json_int(&j, qos);
    hilt_json_key(&j, "payload");
    hilt_json_value(&j);
    /* base64 straight into the line: it needs no escaping. */
    if (j.out.len + b64 + 3 < j.out.cap) {
        j.out.buf[j.out.len++] = '"';
        hilt_b64_encode(payload, payload_len, j.out.buf + j.out.len);
        j.out.len += b64;
        j.out.buf[j.out.len] = '\0';
        hilt_json_raw(&j, "\"");
    } else {
        j.out.overflow = true;
    }
    hilt_json_end_object(&j);
    if (j.out.overflow) {
        char msg[128];
        hilt_buf_t b;
        hilt_buf_init(&b, msg, sizeof msg);
        hilt_buf_cat(&b, "dropped an mqtt.message event of ");
        hilt_buf_int(&b, (int64_t)payload_len);
        hilt_buf_cat(&b, " payload bytes: larger than the event buffer (HILT_EVENT_BYTES)");
        log_line(c, HILT_LOG_W, msg);
        return;
    }
    write_line(c, &j.out);
}

void hilt_core_mqtt_disconnected(hilt_core_t *c, const char *reason)
{
    hilt_json_t j;
    hilt_json_init(&j, c->event, sizeof c->event);
    hilt_json_raw(&j, "@hil * mqtt.disconnected ");
    hilt_json_begin_object(&j);
    hilt_json_key(&j, "reason");
    hilt_json_string(&j, reason);
    hilt_json_end_object(&j);
    write_line(c, &j.out);
}

void hilt_core_init(hilt_core_t *c, const hilt_port_t *port)
{
    const char *mac;
    size_t n, i, o = 0;
    memset(c, 0, sizeof *c);
    c->port = port;
    port->facts(port->ctx, &c->facts);
    /* The MQTT default client id, as the emulator forms it: "esp32-" and the MAC's last 8 characters without colons. */
    mac = c->facts.chip_mac != NULL ? c->facts.chip_mac : "";
    n = strlen(mac);
    memcpy(c->client_id, "esp32-", 6);
    o = 6;
    for (i = n > 8 ? n - 8 : 0; i < n && o + 1 < sizeof c->client_id; i++) {
        if (mac[i] != ':') c->client_id[o++] = mac[i];
    }
    c->client_id[o] = '\0';
    if (port->bind != NULL) port->bind(port->ctx, c);
}

void hilt_core_boot(hilt_core_t *c)
{
    hilt_json_t j;
    size_t i;
    /* RAM does not survive a restart: credentials, half-sent parts, the clock's sync. */
    for (i = 0; i < HILT_STORE_SLOTS; i++) c->slots[i].used = false;
    for (i = 0; i < HILT_TRANSFERS; i++) c->transfers[i].active = false;
    c->slot_count = 0;
    c->synced = false;
    c->busy = false;
    hilt_json_init(&j, c->event, sizeof c->event);
    hilt_json_raw(&j, "@hil * boot ");
    hilt_json_begin_object(&j);
    hilt_json_key(&j, "proto");
    hilt_json_int(&j, HILT_PROTO_VERSION);
    hilt_json_key(&j, "reason");
    hilt_json_string(&j, c->port->reset_reason(c->port->ctx));
    hilt_json_end_object(&j);
    write_line(c, &j.out);
}

int hilt_agent_run(const hilt_port_t *port)
{
    /* Static: the core's buffers are too large for a task's stack. */
    static hilt_core_t core;
    static uint8_t rx[256];
    hilt_core_init(&core, port);
    hilt_core_boot(&core);
    for (;;) {
        int n = port->read(port->ctx, rx, sizeof rx, 1000);
        if (n < 0) break;
        if (n > 0) hilt_core_feed(&core, rx, (size_t)n);
    }
    hilt_core_flush(&core);
    return 0;
}
