#include "hilt_text.h"

#include <string.h>

/* WHATWG UTF-8 decoding: the bounds of the second byte depend on the first. */
uint32_t hilt_utf8_next(const uint8_t *s, size_t len, size_t *at)
{
    size_t i = *at;
    uint8_t b = s[i++];
    uint32_t cp;
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
        *at = i;
        return b;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        cp = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        cp = b & 0x0Fu;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        cp = b & 0x07u;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        *at = i;
        return HILT_REPLACEMENT;
    }
    while (need-- > 0) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *at = i; /* the offending byte starts the next sequence */
            return HILT_REPLACEMENT;
        }
        cp = (cp << 6) | (s[i++] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *at = i;
    return cp;
}

bool hilt_is_js_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool hilt_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

void hilt_buf_init(hilt_buf_t *b, char *storage, size_t cap)
{
    b->buf = storage;
    b->cap = cap;
    b->len = 0;
    b->overflow = false;
    if (cap > 0) storage[0] = '\0';
}

void hilt_buf_put(hilt_buf_t *b, const char *bytes, size_t n)
{
    if (b->cap == 0 || n > b->cap - 1 - b->len) {
        size_t room = b->cap > 0 ? b->cap - 1 - b->len : 0;
        if (room > 0) memcpy(b->buf + b->len, bytes, room);
        b->len += room;
        b->overflow = true;
    } else {
        memcpy(b->buf + b->len, bytes, n);
        b->len += n;
    }
    if (b->cap > 0) b->buf[b->len] = '\0';
}

void hilt_buf_cat(hilt_buf_t *b, const char *s)
{
    hilt_buf_put(b, s, strlen(s));
}

void hilt_buf_int(hilt_buf_t *b, int64_t v)
{
    char digits[24];
    size_t n = 0;
    /* Unsigned magnitude: -INT64_MIN does not fit an int64_t. */
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + (int)(m % 10u));
        m /= 10u;
    } while (m != 0);
    if (v < 0) digits[sizeof digits - 1 - n++] = '-';
    hilt_buf_put(b, digits + sizeof digits - n, n);
}

void hilt_buf_cp(hilt_buf_t *b, uint32_t cp)
{
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        hilt_buf_put(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        hilt_buf_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        hilt_buf_put(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        hilt_buf_put(b, u, 4);
    }
}

static void put_u4(hilt_buf_t *b, uint32_t cp)
{
    static const char hex[] = "0123456789abcdef";
    char e[6];
    e[0] = '\\';
    e[1] = 'u';
    e[2] = hex[(cp >> 12) & 0xF];
    e[3] = hex[(cp >> 8) & 0xF];
    e[4] = hex[(cp >> 4) & 0xF];
    e[5] = hex[cp & 0xF];
    hilt_buf_put(b, e, 6);
}

/* printable(): control characters and the Unicode line separators as escapes. */
static void put_printable(hilt_buf_t *b, uint32_t cp)
{
    if (cp == '\n') hilt_buf_cat(b, "\\n");
    else if (cp == '\r') hilt_buf_cat(b, "\\r");
    else if (cp == '\t') hilt_buf_cat(b, "\\t");
    else if (hilt_is_control(cp) || cp == 0x2028 || cp == 0x2029) put_u4(b, cp);
    else hilt_buf_cp(b, cp);
}

#define QUOTE_MAX 40

void hilt_buf_quote(hilt_buf_t *b, const char *value, size_t n)
{
    const uint8_t *s = (const uint8_t *)value;
    size_t at = 0, units = 0, shown = 0;
    /* JavaScript counts UTF-16 units: a character above U+FFFF is two. */
    while (at < n) {
        uint32_t cp = hilt_utf8_next(s, n, &at);
        units += cp >= 0x10000 ? 2u : 1u;
    }
    hilt_buf_cat(b, "'");
    at = 0;
    while (at < n) {
        uint32_t cp = hilt_utf8_next(s, n, &at);
        size_t u = cp >= 0x10000 ? 2u : 1u;
        if (units > QUOTE_MAX && shown + u > QUOTE_MAX - 3) {
            /*
             * JavaScript's slice() cuts between the two halves of a pair: the high half stays,
             * alone. It is kept here as its 3-byte WTF-8 form; the JSON writers turn it into the
             * \udXXX escape JSON.stringify writes, a log line into U+FFFD as Node prints it.
             */
            if (u == 2 && shown + 1 == QUOTE_MAX - 3) {
                uint32_t high = 0xD800u + ((cp - 0x10000u) >> 10);
                char w[3];
                w[0] = (char)0xED;
                w[1] = (char)(0x80 | ((high >> 6) & 0x3F));
                w[2] = (char)(0x80 | (high & 0x3F));
                hilt_buf_put(b, w, 3);
            }
            break;
        }
        shown += u;
        put_printable(b, cp);
    }
    if (units > QUOTE_MAX) hilt_buf_cat(b, "...");
    hilt_buf_cat(b, "'");
}

/* JSON.stringify's escapes: the short forms, \u00xx for other controls, the rest as is. */
static void put_json_cp(hilt_buf_t *b, uint32_t cp)
{
    switch (cp) {
    case '"': hilt_buf_cat(b, "\\\""); return;
    case '\\': hilt_buf_cat(b, "\\\\"); return;
    case '\b': hilt_buf_cat(b, "\\b"); return;
    case '\f': hilt_buf_cat(b, "\\f"); return;
    case '\n': hilt_buf_cat(b, "\\n"); return;
    case '\r': hilt_buf_cat(b, "\\r"); return;
    case '\t': hilt_buf_cat(b, "\\t"); return;
    default:
        if (cp < 0x20) put_u4(b, cp);
        else hilt_buf_cp(b, cp);
    }
}

uint32_t hilt_wtf8_surrogate(const uint8_t *s, size_t len, size_t at)
{
    if (at + 2 < len && s[at] == 0xED && s[at + 1] >= 0xA0 && s[at + 1] <= 0xBF && s[at + 2] >= 0x80 && s[at + 2] <= 0xBF) {
        return 0xD000u | ((uint32_t)(s[at + 1] & 0x3F) << 6) | (s[at + 2] & 0x3F);
    }
    return 0;
}

/* One character for a JSON string: a lone surrogate (from quote()) as JSON.stringify escapes it. */
static void put_json_next(hilt_buf_t *b, const uint8_t *s, size_t n, size_t *at)
{
    uint32_t surrogate = hilt_wtf8_surrogate(s, n, *at);
    if (surrogate != 0) {
        put_u4(b, surrogate);
        *at += 3;
        return;
    }
    put_json_cp(b, hilt_utf8_next(s, n, at));
}

void hilt_buf_json_string(hilt_buf_t *b, const char *value, size_t n)
{
    const uint8_t *s = (const uint8_t *)value;
    size_t at = 0;
    hilt_buf_cat(b, "\"");
    while (at < n) put_json_next(b, s, n, &at);
    hilt_buf_cat(b, "\"");
}

void hilt_json_init(hilt_json_t *j, char *storage, size_t cap)
{
    hilt_buf_init(&j->out, storage, cap);
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

void hilt_json_raw(hilt_json_t *j, const char *s)
{
    hilt_buf_cat(&j->out, s);
}

void hilt_json_value(hilt_json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0) {
        if (!j->first[j->depth]) hilt_buf_cat(&j->out, ",");
        j->first[j->depth] = false;
    }
}

static void json_open(hilt_json_t *j, const char *bracket)
{
    hilt_json_value(j);
    hilt_buf_cat(&j->out, bracket);
    if (j->depth < HILT_JSON_DEPTH) {
        j->depth++;
        j->first[j->depth] = true;
    } else {
        j->out.overflow = true; /* a writer bug, not input: reported like a full buffer */
    }
}

static void json_close(hilt_json_t *j, const char *bracket)
{
    hilt_buf_cat(&j->out, bracket);
    if (j->depth > 0) j->depth--;
}

void hilt_json_begin_object(hilt_json_t *j) { json_open(j, "{"); }
void hilt_json_end_object(hilt_json_t *j) { json_close(j, "}"); }
void hilt_json_begin_array(hilt_json_t *j) { json_open(j, "["); }
void hilt_json_end_array(hilt_json_t *j) { json_close(j, "]"); }

void hilt_json_key(hilt_json_t *j, const char *key)
{
    hilt_json_value(j);
    hilt_buf_json_string(&j->out, key, strlen(key));
    hilt_buf_cat(&j->out, ":");
    j->after_key = true;
}

void hilt_json_string_n(hilt_json_t *j, const char *s, size_t n)
{
    hilt_json_value(j);
    hilt_buf_json_string(&j->out, s, n);
}

void hilt_json_string(hilt_json_t *j, const char *s)
{
    if (s == NULL) hilt_json_null(j);
    else hilt_json_string_n(j, s, strlen(s));
}

void hilt_json_string_flat(hilt_json_t *j, const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t at = 0;
    bool pending_space = false, started = false;
    hilt_json_value(j);
    hilt_buf_cat(&j->out, "\"");
    while (at < n) {
        size_t here = at;
        uint32_t cp = hilt_wtf8_surrogate(u, n, at) ? 0 : hilt_utf8_next(u, n, &at);
        if (cp != 0 && hilt_is_js_space(cp)) {
            pending_space = started;
            continue;
        }
        if (pending_space) put_json_cp(&j->out, ' ');
        pending_space = false;
        started = true;
        if (cp == 0) put_json_next(&j->out, u, n, &here), at = here;
        else put_json_cp(&j->out, cp);
    }
    hilt_buf_cat(&j->out, "\"");
}

void hilt_json_int(hilt_json_t *j, int64_t v)
{
    hilt_json_value(j);
    hilt_buf_int(&j->out, v);
}

void hilt_json_bool(hilt_json_t *j, bool v)
{
    hilt_json_value(j);
    hilt_buf_cat(&j->out, v ? "true" : "false");
}

void hilt_json_null(hilt_json_t *j)
{
    hilt_json_value(j);
    hilt_buf_cat(&j->out, "null");
}
