/* storage_test.c: tensor storage from the core's side: the data of every storage starts on
   a 64-byte boundary and ends inside its block, whatever alignment the allocator gives
   (at least 8 bytes: the header at the block's start holds pointers and sizes). */
#include "core/tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

/* An allocator whose blocks start `shift` bytes past a malloc'd address, so every alignment
   of 8 bytes or more within a cache line can be tried. It remembers its one live block. */
typedef struct shifted {
    size_t shift;
    char  *base;    /* what malloc returned */
    size_t bytes;   /* size of the live block as requested */
    int    frees;
    int    bad_free; /* a free of a block it did not hand out, or with another size */
} shifted;

static void *shifted_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    shifted *s = ud;
    if (nsize == 0) {
        if (!ptr) return NULL;
        if ((char *)ptr != s->base + s->shift || osize != s->bytes) s->bad_free = 1;
        free(s->base);
        s->base = NULL;
        s->frees++;
        return NULL;
    }
    if (ptr || s->base) return NULL; /* one block at a time, never grown */
    s->base = malloc(nsize + s->shift);
    if (!s->base) return NULL;
    s->bytes = nsize;
    return s->base + s->shift;
}

static void test_data_is_aligned_and_inside_its_block(void)
{
    int bad = 0;
    for (size_t shift = 0; shift < 64; shift += 8) {
        for (int64_t n = 1; n <= 9; n += 4) {
            shifted sh = { shift, NULL, 0, 0, 0 };
            ty_allocator a = { shifted_alloc, &sh, NULL };
            ty_error e;
            ty_storage *st = ty_storage_new(&a, n, &e);
            if (!st) {
                fprintf(stderr, "shift %zu n %lld: %s\n", shift, (long long)n, e.msg);
                bad++;
                continue;
            }
            const char *block = sh.base + shift, *end = block + sh.bytes;
            const char *first = (const char *)st->data, *last = (const char *)(st->data + n);
            if ((uintptr_t)first % 64 != 0 || first < block + sizeof *st || last > end) {
                fprintf(stderr, "shift %zu n %lld: data at block+%td..+%td of %zu bytes\n",
                        shift, (long long)n, first - block, last - block, sh.bytes);
                bad++;
            }
            for (int64_t i = 0; i < n; i++) st->data[i] = (double)i; /* ASan sees overruns */
            ty_storage_release(st);
            if (sh.frees != 1 || sh.bad_free) {
                fprintf(stderr, "shift %zu n %lld: block not freed once with its size\n", shift,
                        (long long)n);
                bad++;
            }
        }
    }
    if (bad) {
        failed++;
        fprintf(stderr, "FAIL data_is_aligned_and_inside_its_block\n");
    } else {
        passed++;
    }
}

static void ignore_release(void *ud, double *data)
{
    (void)ud;
    (void)data;
}

/* The tally holds the bytes of the storage blocks alive through its allocator: a second
   reference adds nothing, the last release takes the block's bytes back out, and wrapped
   host data (not ours to free) is never counted. */
static void test_tally_counts_live_blocks(void)
{
    int64_t tally = 0;
    ty_allocator a = ty_system_allocator;
    a.tally = &tally;
    ty_error e;
    ty_storage *s1 = ty_storage_new(&a, 1000, &e);
    ty_storage *s2 = ty_storage_new(&a, 10, &e);
    double host[4];
    ty_storage *w = ty_storage_wrap(&a, host, 4, ignore_release, NULL, &e);
    int ok = s1 && s2 && w;
    int64_t both = ok ? (int64_t)(s1->bytes + s2->bytes) : -1;
    ok = ok && s1->bytes >= 1000 * sizeof(double) && tally == both;
    if (ok) {
        ty_storage_retain(s1); /* a view */
        ty_storage_release(s1);
        ok = tally == both;
        ty_storage_release(s1); /* the last reference */
        ok = ok && tally == (int64_t)s2->bytes;
    } else if (s1) {
        ty_storage_release(s1);
    }
    if (s2) ty_storage_release(s2);
    if (w) ty_storage_release(w);
    ok = ok && tally == 0;
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL tally_counts_live_blocks: tally %lld at the end\n", (long long)tally);
    }
}

int main(void)
{
    test_data_is_aligned_and_inside_its_block();
    test_tally_counts_live_blocks();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
