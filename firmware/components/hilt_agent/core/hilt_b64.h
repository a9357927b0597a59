/* Standard base64 with padding, decoded strictly (docs/protocol.md, "binary data"). */
#ifndef HILT_B64_H
#define HILT_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HILT_B64_OK = 0,
    HILT_B64_BAD_FORM,      /* not A-Z a-z 0-9 + / padded with = to a multiple of 4 */
    HILT_B64_BAD_PADDING,   /* the last character carries bits after the last byte */
    HILT_B64_TOO_BIG        /* decodes to more than the output holds */
} hilt_b64_status_t;

/** Bytes `n` characters of valid base64 decode to. */
size_t hilt_b64_decoded_len(const char *text, size_t n);
/** Decodes text[0..n) into out (cap bytes); *out_len gets the count. Nothing is written past cap. */
hilt_b64_status_t hilt_b64_decode(const char *text, size_t n, uint8_t *out, size_t cap, size_t *out_len);
/** Characters base64 of n bytes takes (without a NUL). */
size_t hilt_b64_encoded_len(size_t n);
/** Encodes into out (room for hilt_b64_encoded_len(n) characters; no NUL written). */
void hilt_b64_encode(const uint8_t *data, size_t n, char *out);

#endif
