/* packed_gemm.c: a GEMM whose right operand is packed once per sequence instead of once per
   call. One thread; tiles of 8 rows x 16 columns held in sixteen 8-double vector registers. */
#include "core/packed_gemm.h"

#include <string.h>

#include "core/ops.h"

/* The tile loops must be unrolled so the accumulators stay in registers, and become fused
   multiply-adds (ISO C mode leaves a * b + c unfused): at the RNN's 64x512x512 step, 24
   GFLOP/s without the unrolling, 38 without the fusing, 55.5 with both, against 49 for
   OpenBLAS's own call, which packs W_hh every time (`make bench-detail`). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
#endif

#define MR 8  /* rows of a tile */
#define NR TY_PACKED_PANEL /* columns of a tile and of a packed panel */
#define MB 64 /* rows of a block */

typedef double v8d __attribute__((vector_size(8 * sizeof(double))));
typedef double v8d_u __attribute__((vector_size(8 * sizeof(double)), aligned(8), may_alias));

int64_t ty_packed_size(int64_t K, int64_t N)
{
    return K * ((N + NR - 1) / NR) * NR;
}

void ty_pack(double *P, const ty_tensor *B)
{
    int64_t K = B->shape[0], N = B->shape[1], s0 = B->stride[0], s1 = B->stride[1];
    for (int64_t j = 0; j < N; j += NR) {
        int64_t w = N - j < NR ? N - j : NR;
        double *panel = P + j * K;
        if (w == NR && s1 == 1) { /* whole rows of 16: copies the compiler makes vector moves */
            for (int64_t k = 0; k < K; k++)
                memcpy(panel + k * NR, B->data + k * s0 + j, NR * sizeof(double));
            continue;
        }
        for (int64_t k = 0; k < K; k++) {
            const double *src = B->data + k * s0 + j * s1;
            double *dst = panel + k * NR;
            int64_t c = 0;
            for (; c < w; c++) dst[c] = src[c * s1];
            for (; c < NR; c++) dst[c] = 0.0;
        }
    }
}

int ty_packed_fits(const ty_tensor *C, const ty_tensor *A)
{
    return (C->shape[1] < 2 || C->stride[1] == 1) && (A->shape[1] < 2 || A->stride[1] == 1);
}

/* rows x 16 of C (+)= rows x K of A times the K x 16 panel p. rows is a constant in each
   inlined copy, so the loops over it unroll and the accumulators live in registers. Every
   fourth k it also asks for one cache line of next, a share of the panel the following
   tiles read: a step's W_hh beyond the L2 (the LSTM's 512 x 2048 is 8 MB) would otherwise
   reach the first tile of each panel at the L3's latency. At 64x512x2048, 46-51 -> 62-64
   GFLOP/s; at char-rnn's 50x128x512, whose operand stays in the L2, 64-65 either way. */
static inline __attribute__((always_inline)) void tile(int rows, int64_t K, const double *a,
                                                       int64_t lda, const double *p, double *c,
                                                       int64_t ldc, int accumulate,
                                                       const double *next)
{
    v8d acc[MR][2];
    _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)
    {
        if (i >= rows) break;
        if (accumulate) {
            acc[i][0] = *(const v8d_u *)(c + i * ldc);
            acc[i][1] = *(const v8d_u *)(c + i * ldc + 8);
        } else {
            acc[i][0] = acc[i][1] = (v8d){ 0 };
        }
    }
#define TY_TILE_K(k)                                                                       \
    do {                                                                                   \
        v8d b0 = *(const v8d_u *)(p + (k) * NR), b1 = *(const v8d_u *)(p + (k) * NR + 8);  \
        _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)                               \
        {                                                                                  \
            if (i >= rows) break;                                                          \
            double x = a[i * lda + (k)];                                                   \
            acc[i][0] += x * b0;                                                           \
            acc[i][1] += x * b1;                                                           \
        }                                                                                  \
    } while (0)
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        __builtin_prefetch(next + k * 2, 0, 2); /* one 8-double line per four k */
        TY_TILE_K(k);
        TY_TILE_K(k + 1);
        TY_TILE_K(k + 2);
        TY_TILE_K(k + 3);
    }
    for (; k < K; k++) TY_TILE_K(k);
#undef TY_TILE_K
    _Pragma("GCC unroll 8") for (int i = 0; i < MR; i++)
    {
        if (i >= rows) break;
        *(v8d_u *)(c + i * ldc) = acc[i][0];
        *(v8d_u *)(c + i * ldc + 8) = acc[i][1];
    }
}

static inline __attribute__((always_inline)) void tile_rows(int rows, int64_t K, const double *a,
                                                            int64_t lda, const double *p,
                                                            double *c, int64_t ldc,
                                                            int accumulate, const double *next)
{
    switch (rows) {
    case 8: tile(8, K, a, lda, p, c, ldc, accumulate, next); break;
    case 7: tile(7, K, a, lda, p, c, ldc, accumulate, next); break;
    case 6: tile(6, K, a, lda, p, c, ldc, accumulate, next); break;
    case 5: tile(5, K, a, lda, p, c, ldc, accumulate, next); break;
    case 4: tile(4, K, a, lda, p, c, ldc, accumulate, next); break;
    case 3: tile(3, K, a, lda, p, c, ldc, accumulate, next); break;
    case 2: tile(2, K, a, lda, p, c, ldc, accumulate, next); break;
    default: tile(1, K, a, lda, p, c, ldc, accumulate, next); break;
    }
}

/* One row block against one panel: tiles of MR rows, a narrower last panel through a
   full-width tile on the stack. The tiles share out the prefetching of next_panel. */
static inline __attribute__((always_inline)) void block_panel(int64_t rows_left, int64_t w,
                                                              int64_t K, const double *a,
                                                              int64_t lda, const double *panel,
                                                              double *c, int64_t ldc,
                                                              int accumulate,
                                                              const double *next_panel)
{
    for (int64_t i = 0; i < rows_left; i += MR) {
        int rows = rows_left - i < MR ? (int)(rows_left - i) : MR;
        const double *ai = a + i * lda;
        double *ci = c + i * ldc;
        const double *next = next_panel + (i / MR) * (K * NR / MR);
        if (w == NR) {
            tile_rows(rows, K, ai, lda, panel, ci, ldc, accumulate, next);
        } else {
            double t[MR * NR] = { 0 };
            for (int r = 0; r < rows && accumulate; r++)
                memcpy(t + r * NR, ci + r * ldc, (size_t)w * sizeof(double));
            tile_rows(rows, K, ai, lda, panel, t, NR, accumulate, next);
            for (int r = 0; r < rows; r++)
                memcpy(ci + r * ldc, t + r * NR, (size_t)w * sizeof(double));
        }
    }
}

TY_VECTOR_CLONES
void ty_packed_gemm(ty_tensor *C, const ty_tensor *A, const double *P, int accumulate)
{
    int64_t M = C->shape[0], N = C->shape[1], K = A->shape[1];
    int64_t lda = A->stride[0], ldc = C->stride[0];
    /* blocks of MB rows, whose rows of A stay in the L2 while every panel passes them */
    for (int64_t i0 = 0; i0 < M; i0 += MB) {
        int64_t rows = M - i0 < MB ? M - i0 : MB;
        for (int64_t j = 0; j < N; j += NR) {
            int64_t next = j + NR < N ? j + NR : 0; /* the last panel: the next block's first */
            block_panel(rows, N - j < NR ? N - j : NR, K, A->data + i0 * lda, lda, P + j * K,
                        C->data + i0 * ldc + j, ldc, accumulate, P + next * K);
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

int ty_packed_pays(void)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}
