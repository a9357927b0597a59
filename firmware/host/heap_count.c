/* The counting allocator: see heap_count.h. */
#include "heap_count.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* In front of each block: what it cost, kept in a header as aligned as malloc's own. */
typedef union {
    size_t cost;
    long double align_ld;
    void *align_p;
    long long align_ll;
} header_t;

static size_t total, largest_region, used, reserved, lowest, mark_lowest, live, failed;

static size_t free_now(void) { return total - used - reserved; }

static void note(void)
{
    size_t f = free_now();
    if (f < lowest) lowest = f;
    if (f < mark_lowest) mark_lowest = f;
}

void hc_init(size_t heap_bytes, size_t largest)
{
    total = heap_bytes;
    largest_region = largest;
    used = reserved = live = failed = 0;
    lowest = mark_lowest = heap_bytes;
}

void *hc_calloc(size_t n, size_t size)
{
    header_t *h;
    size_t bytes, cost;
    if (n != 0 && size > SIZE_MAX / n) return NULL;
    bytes = n * size;
    if (bytes > SIZE_MAX - 16) return NULL;
    cost = ((bytes + 3u) & ~(size_t)3u) + HC_BLOCK_OVERHEAD;
    if (cost > free_now() || cost > largest_region) {
        failed++;
        return NULL;
    }
    h = calloc(1, sizeof *h + bytes);
    if (!h) return NULL;
    h->cost = cost;
    used += cost;
    live++;
    note();
    return h + 1;
}

void hc_free(void *p)
{
    header_t *h;
    if (!p) return;
    h = (header_t *)p - 1;
    used -= h->cost;
    live--;
    free(h);
}

size_t hc_free_bytes(void) { return free_now(); }
size_t hc_min_free(void) { return lowest; }
size_t hc_largest(void) { return free_now() < largest_region ? free_now() : largest_region; }
size_t hc_live_blocks(void) { return live; }
size_t hc_failed(void) { return failed; }

void hc_mark(void) { mark_lowest = free_now(); }
size_t hc_mark_min(void) { return mark_lowest; }

size_t hc_reserve(size_t bytes)
{
    size_t granted = bytes < free_now() ? bytes : free_now();
    reserved += granted;
    note();
    return granted;
}

void hc_release(void) { reserved = 0; }

void hc_restart(void)
{
    reserved = 0;
    lowest = mark_lowest = free_now();
}
