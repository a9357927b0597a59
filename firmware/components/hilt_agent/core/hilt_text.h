/*
 * Text for replies: UTF-8 decoding as a browser or Node decodes it, a bounded JSON writer that
 * writes what JSON.stringify writes, and a bounded message builder for `err` replies.
 * Nothing here allocates; every writer stops at its buffer's end and remembers it overflowed.
 */
#ifndef HILT_TEXT_H
#define HILT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HILT_REPLACEMENT 0xFFFDu

/**
 * Decodes one code point at s[*at] (at < len) and advances *at. Invalid UTF-8 decodes to
 * U+FFFD, one per maximal invalid subsequence, as Node's Buffer.toString('utf8') does, so
 * the agent shows a bad byte exactly as the emulator does.
 */
uint32_t hilt_utf8_next(const uint8_t *s, size_t len, size_t *at);
/** The UTF-16 unit of a lone surrogate kept in WTF-8 at s[at] (see hilt_buf_quote), else 0. */
uint32_t hilt_wtf8_surrogate(const uint8_t *s, size_t len, size_t at);
/** JavaScript's \s: ASCII and Unicode white space (what String.prototype.trim removes). */
bool hilt_is_js_space(uint32_t cp);
/** A C0/C1 control character (\p{Cc}). */
bool hilt_is_control(uint32_t cp);

/* --- a bounded text buffer ----------------------------------------------------------------- */
typedef struct {
    char *buf;
    size_t cap;       /* includes room for a terminating NUL */
    size_t len;
    bool overflow;
} hilt_buf_t;

void hilt_buf_init(hilt_buf_t *b, char *storage, size_t cap);
void hilt_buf_put(hilt_buf_t *b, const char *bytes, size_t n);
void hilt_buf_cat(hilt_buf_t *b, const char *s);
void hilt_buf_int(hilt_buf_t *b, int64_t v);
void hilt_buf_cp(hilt_buf_t *b, uint32_t cp);
/** The emulator's quote(): 'value' with control characters escaped, cut to 40 UTF-16 units. */
void hilt_buf_quote(hilt_buf_t *b, const char *value, size_t n);
/** JSON.stringify(value) of a string. */
void hilt_buf_json_string(hilt_buf_t *b, const char *value, size_t n);

/* --- JSON ---------------------------------------------------------------------------------- */
#define HILT_JSON_DEPTH 8
typedef struct {
    hilt_buf_t out;
    int depth;
    bool first[HILT_JSON_DEPTH + 1];
    bool after_key;
} hilt_json_t;

void hilt_json_init(hilt_json_t *j, char *storage, size_t cap);
void hilt_json_raw(hilt_json_t *j, const char *s);
void hilt_json_begin_object(hilt_json_t *j);
void hilt_json_end_object(hilt_json_t *j);
void hilt_json_begin_array(hilt_json_t *j);
void hilt_json_end_array(hilt_json_t *j);
void hilt_json_key(hilt_json_t *j, const char *key);
void hilt_json_string(hilt_json_t *j, const char *s);
void hilt_json_string_n(hilt_json_t *j, const char *s, size_t n);
/** A string with every run of white space made one space and the ends trimmed (errBody). */
void hilt_json_string_flat(hilt_json_t *j, const char *s, size_t n);
void hilt_json_int(hilt_json_t *j, int64_t v);
void hilt_json_bool(hilt_json_t *j, bool v);
void hilt_json_null(hilt_json_t *j);
/** Starts a value's slot (comma, if needed) for a caller that writes the value itself. */
void hilt_json_value(hilt_json_t *j);

#endif
