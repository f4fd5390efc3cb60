/* bench/stores.c: `make bench-detail`. a + b and a * 2.5 on 1e6 doubles with ordinary stores
   (what tycho and NumPy do) and with non-temporal (streaming) stores, into one output block
   reused call after call as a loop's freed temporaries are: why tycho keeps ordinary stores.
   x86-64 with AVX2 only. */
#define _GNU_SOURCE
#include <immintrin.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 64-byte aligned data on huge pages, as tycho's tensors (the block leaks: a benchmark) */
static double *block(size_t n)
{
    char *p = malloc(n * sizeof(double) + (2u << 20));
    uintptr_t lo = ((uintptr_t)p + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1);
    madvise((void *)lo, n * sizeof(double), MADV_HUGEPAGE);
    return (double *)lo;
}

static double *pool; /* the one output block, reused call after call as malloc would */

__attribute__((noinline)) static void add_plain(size_t n, double *o, const double *a, const double *b)
{
    for (size_t i = 0; i < n; i++) o[i] = a[i] + b[i];
}

__attribute__((noinline)) static void mul_plain(size_t n, double *o, const double *a, const double *b)
{
    (void)b;
    for (size_t i = 0; i < n; i++) o[i] = a[i] * 2.5;
}

__attribute__((noinline)) static void add_stream(size_t n, double *o, const double *a, const double *b)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_stream_pd(o + i, _mm256_add_pd(_mm256_loadu_pd(a + i), _mm256_loadu_pd(b + i)));
    for (; i < n; i++) o[i] = a[i] + b[i];
    _mm_sfence();
}

__attribute__((noinline)) static void mul_stream(size_t n, double *o, const double *a, const double *b)
{
    (void)b;
    size_t i = 0;
    __m256d s = _mm256_set1_pd(2.5);
    for (; i + 4 <= n; i += 4) _mm256_stream_pd(o + i, _mm256_mul_pd(_mm256_loadu_pd(a + i), s));
    for (; i < n; i++) o[i] = a[i] * 2.5;
    _mm_sfence();
}

typedef void (*kernel)(size_t, double *, const double *, const double *);

static double best_us(kernel k, size_t n, const double *a, const double *b, int reps)
{
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (int i = 0; i < reps; i++) {
            k(n, pool, a, b);
            __asm__ volatile("" : : "r"(pool) : "memory");
        }
        double t = (now() - t0) / reps;
        if (t < best) best = t;
    }
    return best * 1e6;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000000;
    double *a = block(n), *b = block(n);
    pool = block(n);
    for (size_t i = 0; i < n; i++) {
        a[i] = (double)i * 1e-6;
        b[i] = 1.0 - (double)i * 1e-6;
        pool[i] = 0.0;
    }
    printf("%zu doubles, best of 7 batches of 200 (us per call)\n", n);
    for (int round = 0; round < 3; round++)
        printf("a + b: ordinary %6.1f  streaming %6.1f    a * 2.5: ordinary %6.1f  streaming %6.1f\n",
               best_us(add_plain, n, a, b, 200), best_us(add_stream, n, a, b, 200),
               best_us(mul_plain, n, a, b, 200), best_us(mul_stream, n, a, b, 200));
    return 0;
}
