#include "hilt_b64.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value_of(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

size_t hilt_b64_decoded_len(const char *text, size_t n)
{
    size_t pad = 0;
    if (n >= 1 && text[n - 1] == '=') pad++;
    if (n >= 2 && text[n - 2] == '=') pad++;
    return n / 4 * 3 - pad;
}

hilt_b64_status_t hilt_b64_decode(const char *text, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t i, o = 0, pad;
    *out_len = 0;
    if (n % 4 != 0) return HILT_B64_BAD_FORM;
    pad = (n >= 1 && text[n - 1] == '=') + (n >= 2 && text[n - 2] == '=');
    /* Every character but the padding is from the alphabet; '=' only at the end. */
    for (i = 0; i < n - pad; i++) {
        if (value_of(text[i]) < 0) return HILT_B64_BAD_FORM;
    }
    if (pad > 0 && (n - pad) % 4 < 2) return HILT_B64_BAD_FORM; /* "A===" style */
    if (pad == 2 && (value_of(text[n - 3]) & 0x0F) != 0) return HILT_B64_BAD_PADDING;
    if (pad == 1 && (value_of(text[n - 2]) & 0x03) != 0) return HILT_B64_BAD_PADDING;
    if (hilt_b64_decoded_len(text, n) > cap) return HILT_B64_TOO_BIG;
    for (i = 0; i < n; i += 4) {
        uint32_t v = (uint32_t)value_of(text[i]) << 18 | (uint32_t)value_of(text[i + 1]) << 12;
        out[o++] = (uint8_t)(v >> 16);
        if (text[i + 2] == '=') break;
        v |= (uint32_t)value_of(text[i + 2]) << 6;
        out[o++] = (uint8_t)(v >> 8);
        if (text[i + 3] == '=') break;
        v |= (uint32_t)value_of(text[i + 3]);
        out[o++] = (uint8_t)v;
    }
    *out_len = o;
    return HILT_B64_OK;
}

size_t hilt_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void hilt_b64_encode(const uint8_t *data, size_t n, char *out)
{
    size_t i, o = 0;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = ALPHABET[(v >> 6) & 63];
        out[o++] = ALPHABET[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < n ? (uint32_t)data[i + 1] << 8 : 0u);
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = i + 1 < n ? ALPHABET[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
}
