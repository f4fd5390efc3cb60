/* fma_peak.c: the machine's peak rate of fused multiply-adds, the roof of every
   compute-bound row of `make bench`: CHAINS independent FMA chains in the widest vectors the
   CPU has (AVX-512, else AVX2+FMA, else SSE2 multiply and add), on each thread count given
   as an argument (default: 1 and every online CPU), all threads at once. Prints
   "fma_peak <isa> <threads> <GFLOP/s>" lines (medians of 5). */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* More chains than FMA latency x ports (4 x 2 on current x86 cores) keep both units busy. */
#define CHAINS 12
#define REPS   (1 << 24)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile double sink;

/* Each kernel runs REPS rounds of CHAINS FMAs, each chain in a register of its own (an array
   would live in memory, and store-to-load latency would be the limit), and returns its
   flops. */
#define CHAINS_OF(T, SET, OP)                                                               \
    T c0 = SET(0.0), c1 = SET(1.0), c2 = SET(2.0), c3 = SET(3.0), c4 = SET(4.0),             \
      c5 = SET(5.0), c6 = SET(6.0), c7 = SET(7.0), c8 = SET(8.0), c9 = SET(9.0),             \
      c10 = SET(10.0), c11 = SET(11.0), m = SET(0.999999), a = SET(1e-9);                    \
    for (long r = 0; r < REPS; r++) {                                                        \
        c0 = OP(c0, m, a); c1 = OP(c1, m, a); c2 = OP(c2, m, a); c3 = OP(c3, m, a);          \
        c4 = OP(c4, m, a); c5 = OP(c5, m, a); c6 = OP(c6, m, a); c7 = OP(c7, m, a);          \
        c8 = OP(c8, m, a); c9 = OP(c9, m, a); c10 = OP(c10, m, a); c11 = OP(c11, m, a);      \
    }                                                                                        \
    T s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11

__attribute__((target("avx512f"))) static double kernel_avx512(void)
{
    CHAINS_OF(__m512d, _mm512_set1_pd, _mm512_fmadd_pd);
    sink = _mm512_reduce_add_pd(s);
    return 2.0 * 8 * CHAINS * (double)REPS;
}

__attribute__((target("avx2,fma"))) static double kernel_avx2(void)
{
    CHAINS_OF(__m256d, _mm256_set1_pd, _mm256_fmadd_pd);
    double out[4];
    _mm256_storeu_pd(out, s);
    sink = out[0] + out[1] + out[2] + out[3];
    return 2.0 * 4 * CHAINS * (double)REPS;
}

static inline __m128d mul_add(__m128d x, __m128d m, __m128d a) { return _mm_add_pd(_mm_mul_pd(x, m), a); }

static double kernel_sse2(void)
{
    CHAINS_OF(__m128d, _mm_set1_pd, mul_add);
    double out[2];
    _mm_storeu_pd(out, s);
    sink = out[0] + out[1];
    return 2.0 * 2 * CHAINS * (double)REPS;
}

typedef double (*kernel_fn)(void);

typedef struct job {
    kernel_fn         kernel;
    pthread_barrier_t *start;
    double            flops;
} job;

static void *run_job(void *p)
{
    job *j = p;
    pthread_barrier_wait(j->start);
    j->flops = j->kernel();
    return NULL;
}

/* GFLOP/s of n threads running the kernel at once. */
static double measure(kernel_fn kernel, int n)
{
    pthread_t tid[256];
    job jobs[256];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n + 1);
    for (int i = 0; i < n; i++) {
        jobs[i].kernel = kernel;
        jobs[i].start = &start;
        pthread_create(&tid[i], NULL, run_job, &jobs[i]);
    }
    pthread_barrier_wait(&start);
    double t0 = now(), flops = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        flops += jobs[i].flops;
    }
    double t = now() - t0;
    pthread_barrier_destroy(&start);
    return flops / t / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of_5(kernel_fn kernel, int n)
{
    double r[5];
    for (int i = 0; i < 5; i++) r[i] = measure(kernel, n);
    qsort(r, 5, sizeof r[0], cmp);
    return r[2];
}

int main(int argc, char **argv)
{
    kernel_fn kernel = kernel_sse2;
    const char *isa = "sse2";
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        kernel = kernel_avx512;
        isa = "avx512";
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        kernel = kernel_avx2;
        isa = "avx2";
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    if (cpus > 256) cpus = 256;
    if (argc < 2) {
        printf("fma_peak %s 1 %.1f\n", isa, median_of_5(kernel, 1));
        if (cpus > 1) printf("fma_peak %s %ld %.1f\n", isa, cpus, median_of_5(kernel, (int)cpus));
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        long n = strtol(argv[i], NULL, 10);
        if (n < 1 || n > 256) {
            fprintf(stderr, "fma_peak: bad thread count '%s'\n", argv[i]);
            return 1;
        }
        printf("fma_peak %s %ld %.1f\n", isa, n, median_of_5(kernel, (int)n));
    }
    return 0;
}
