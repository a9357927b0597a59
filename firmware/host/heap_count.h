/*
 * The host agent's heap: a counting allocator that stands for the ESP32's free heap.
 *
 * Mbed TLS allocates through it (installed with mbedtls_platform_set_calloc_free), so the heap
 * figures the agent reports are the library's real allocations, counted against a configured
 * heap size as the board's free heap, and an allocation that would not fit on the board fails
 * here too (calloc returns NULL, as heap_caps_calloc does).
 *
 * Each block costs its size rounded up to 4 bytes plus HC_BLOCK_OVERHEAD, the size word that
 * ESP-IDF's TLSF heap keeps in front of every used block. One allocation can be at most the
 * largest region (on an ESP32 the biggest contiguous DRAM region); fragmentation is not modelled.
 */
#ifndef HILT_HEAP_COUNT_H
#define HILT_HEAP_COUNT_H

#include <stddef.h>

#define HC_BLOCK_OVERHEAD 4u

/* Starts (or restarts) the heap with heap_bytes free, of which one block can take at most
 * largest_region bytes. Blocks still allocated from before are forgotten, not freed. */
void hc_init(size_t heap_bytes, size_t largest_region);

void *hc_calloc(size_t n, size_t size);
void hc_free(void *p);

size_t hc_free_bytes(void);
/* The lowest free figure since hc_init (heap_caps_get_minimum_free_size). */
size_t hc_min_free(void);
/* The biggest block one allocation can get now. */
size_t hc_largest(void);
size_t hc_live_blocks(void);
/* Allocations refused because they did not fit. */
size_t hc_failed(void);

/* A low-water mark for one phase (a handshake): hc_mark() starts it, hc_mark_min() is the
 * lowest free figure since. */
void hc_mark(void);
size_t hc_mark_min(void);

/* A restart: the low-water mark starts again from what is free now (blocks stay counted). */
void hc_restart(void);

/* heap.reserve / heap.release: hold bytes (at most what is free) to make memory short. */
size_t hc_reserve(size_t bytes);
void hc_release(void);

#endif
