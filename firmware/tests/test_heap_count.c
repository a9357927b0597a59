/* The host agent's counting allocator: figures, refusals, marks and reserves. */
#include "../host/heap_count.h"

#include <stdint.h>
#include <stdio.h>

static int passed, failed;
#define CHECK(cond) do { if (cond) passed++; else { failed++; \
    fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); } } while (0)

int main(void)
{
    void *a, *b, *c, *d;
    hc_init(1000, 600);
    CHECK(hc_free_bytes() == 1000 && hc_largest() == 600 && hc_min_free() == 1000);

    /* 10 bytes cost 12 + the block's size word; calloc zeroes. */
    a = hc_calloc(1, 10);
    CHECK(a != NULL && hc_free_bytes() == 1000 - 16 && hc_live_blocks() == 1);
    CHECK(((unsigned char *)a)[9] == 0);
    b = hc_calloc(25, 4); /* 100 + 4 */
    CHECK(b != NULL && hc_free_bytes() == 1000 - 16 - 104);

    /* Bigger than the largest region, or than what is free: refused, nothing counted. */
    CHECK(hc_calloc(1, 597) == NULL && hc_failed() == 1);
    d = hc_calloc(1, 596); /* exactly 600 */
    CHECK(d != NULL);
    CHECK(hc_free_bytes() == 1000 - 16 - 104 - 600);
    CHECK(hc_calloc(1, 277) == NULL && hc_free_bytes() == 280);
    CHECK(hc_calloc(SIZE_MAX / 2, 4) == NULL);

    hc_free(a);
    hc_free(b);
    CHECK(hc_free_bytes() == 400 && hc_min_free() == 280);

    /* A phase's own low-water mark, apart from the all-time one. */
    hc_mark();
    c = hc_calloc(1, 96);
    hc_free(c);
    CHECK(hc_mark_min() == 300 && hc_free_bytes() == 400 && hc_min_free() == 280);

    /* Reserve at most what is free; release gives it back. */
    CHECK(hc_reserve(150) == 150 && hc_free_bytes() == 250 && hc_largest() == 250);
    CHECK(hc_reserve(1000) == 250 && hc_free_bytes() == 0);
    CHECK(hc_calloc(1, 1) == NULL);
    hc_release();
    CHECK(hc_free_bytes() == 400 && hc_min_free() == 0);
    hc_free(d);
    CHECK(hc_free_bytes() == 1000 && hc_live_blocks() == 0);
    hc_free(NULL);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
