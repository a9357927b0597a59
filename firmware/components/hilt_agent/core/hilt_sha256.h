/* SHA-256 (FIPS 180-4), for store.list's digests; the core needs no crypto library for it. */
#ifndef HILT_SHA256_H
#define HILT_SHA256_H

#include <stddef.h>
#include <stdint.h>

/** Writes the digest as 64 lower-case hex digits and a NUL into hex[65]. */
void hilt_sha256_hex(const uint8_t *data, size_t len, char hex[65]);

#endif
