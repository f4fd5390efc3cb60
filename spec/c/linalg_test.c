/* linalg_test.c: the products of src/core/linalg.c against plain loops: gemm and gemv on
   any layouts, with BLAS's size bound lowered so that they run in blocks (as a dimension
   past 2^31 would), and matmul over broadcast batches. Prints "N passed, N failed". */
#include "core/linalg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static double value(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

/* A rows x cols view of fresh random data, transposed in memory when t (strides swapped),
   with rows pad elements apart. */
static ty_tensor random_matrix(int64_t rows, int64_t cols, int t, int64_t pad, unsigned *s)
{
    ty_tensor m;
    memset(&m, 0, sizeof m);
    int64_t outer = t ? cols : rows, inner = (t ? rows : cols) + pad;
    m.data = malloc(sizeof(double) * (size_t)(outer * inner + 1));
    for (int64_t i = 0; i < outer * inner; i++) m.data[i] = value(s);
    m.ndim = 2;
    m.shape[0] = rows;
    m.shape[1] = cols;
    m.stride[0] = t ? 1 : inner;
    m.stride[1] = t ? inner : 1;
    return m;
}

static double at(const ty_tensor *m, int64_t i, int64_t j)
{
    return m->data[i * m->stride[0] + j * m->stride[1]];
}

static void report(const char *what, double err)
{
    if (err <= 1e-12) passed++;
    else {
        failed++;
        fprintf(stderr, "FAIL %s: error %g\n", what, err);
    }
}

/* out = a b (+ out when beta is 1) against the triple loop, for each layout of a, b, out. */
static void check_gemm(int64_t M, int64_t N, int64_t K, int64_t block)
{
    for (int layout = 0; layout < 8; layout++) {
        unsigned s = (unsigned)(M * 7 + N * 13 + K * 17 + layout);
        ty_tensor a = random_matrix(M, K, layout & 1, 1, &s), b = random_matrix(K, N, (layout >> 1) & 1, 2, &s),
                  o = random_matrix(M, N, (layout >> 2) & 1, 0, &s);
        double beta = layout % 3 == 0 ? 1.0 : 0.0, worst = 0;
        double *before = malloc(sizeof(double) * (size_t)(M * N + 1));
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) before[i * N + j] = at(&o, i, j);
        ty_linalg_set_blas_max(block);
        ty_error e;
        int rc = ty_gemm_scaled(&o, &a, &b, 1.5, beta, &ty_system_allocator, &e);
        ty_linalg_set_blas_max(0);
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double want = beta * before[i * N + j], scale = fabs(want);
                for (int64_t k = 0; k < K; k++) {
                    want += 1.5 * at(&a, i, k) * at(&b, k, j);
                    scale += fabs(1.5 * at(&a, i, k) * at(&b, k, j));
                }
                double err = fabs(at(&o, i, j) - want) / (scale > 0 ? scale : 1);
                if (err > worst) worst = err;
            }
        char what[96];
        snprintf(what, sizeof what, "gemm %lldx%lldx%lld layout %d block %lld", (long long)M,
                 (long long)N, (long long)K, layout, (long long)block);
        report(what, rc == TY_OK ? worst : INFINITY);
        free(a.data);
        free(b.data);
        free(o.data);
        free(before);
    }
}

static void check_gemv(int64_t M, int64_t K, int64_t block)
{
    for (int t = 0; t < 2; t++) {
        unsigned s = (unsigned)(M * 3 + K * 5 + t);
        ty_tensor a = random_matrix(M, K, t, 3, &s), xm = random_matrix(1, K, 0, 0, &s),
                  om = random_matrix(1, M, 0, 0, &s);
        ty_tensor x = xm, o = om;
        x.ndim = o.ndim = 1;
        x.shape[0] = K;
        x.stride[0] = 1;
        o.shape[0] = M;
        o.stride[0] = 1;
        ty_linalg_set_blas_max(block);
        ty_error e;
        int rc = ty_gemv(&o, &a, &x, &ty_system_allocator, &e);
        ty_linalg_set_blas_max(0);
        double worst = 0;
        for (int64_t i = 0; i < M; i++) {
            double want = 0, scale = 0;
            for (int64_t k = 0; k < K; k++) {
                want += at(&a, i, k) * x.data[k];
                scale += fabs(at(&a, i, k) * x.data[k]);
            }
            double err = fabs(o.data[i] - want) / (scale > 0 ? scale : 1);
            if (err > worst) worst = err;
        }
        char what[96];
        snprintf(what, sizeof what, "gemv %lldx%lld transposed %d block %lld", (long long)M,
                 (long long)K, t, (long long)block);
        report(what, rc == TY_OK ? worst : INFINITY);
        free(a.data);
        free(xm.data);
        free(om.data);
    }
}

/* matmul of a (2 x 1 x M x K) and b (3 x K x N), broadcast to 2 x 3 x M x N, against the
   loop over every batch. */
static void check_batched(int64_t M, int64_t N, int64_t K)
{
    unsigned s = (unsigned)(M + N * 3 + K * 9);
    ty_tensor a, b, o;
    int64_t sa[4] = { 2, 1, M, K }, sb[3] = { 3, K, N };
    ty_error e;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&o, 0, sizeof o);
    if (ty_tensor_alloc(&a, &ty_system_allocator, 4, sa, &e) ||
        ty_tensor_alloc(&b, &ty_system_allocator, 3, sb, &e)) {
        failed++;
        return;
    }
    for (int64_t i = 0; i < ty_numel(&a); i++) a.data[i] = value(&s);
    for (int64_t i = 0; i < ty_numel(&b); i++) b.data[i] = value(&s);
    int nd;
    int64_t shape[TY_MAX_DIMS];
    int rc = ty_matmul_shape(&a, &b, &nd, shape, &e);
    if (rc == TY_OK) rc = ty_tensor_alloc(&o, &ty_system_allocator, nd, shape, &e);
    if (rc == TY_OK) rc = ty_matmul(&o, &a, &b, &ty_system_allocator, &e);
    double worst = rc == TY_OK && nd == 4 && shape[0] == 2 && shape[1] == 3 ? 0 : INFINITY;
    for (int64_t p = 0; rc == TY_OK && p < 2; p++)
        for (int64_t q = 0; q < 3; q++)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) {
                    double want = 0;
                    for (int64_t k = 0; k < K; k++)
                        want += a.data[(p * M + i) * K + k] * b.data[(q * K + k) * N + j];
                    double err = fabs(o.data[((p * 3 + q) * M + i) * N + j] - want);
                    if (err > worst) worst = err;
                }
    char what[64];
    snprintf(what, sizeof what, "matmul batched %lldx%lldx%lld", (long long)M, (long long)N,
             (long long)K);
    report(what, worst);
    ty_tensor_free(&a);
    ty_tensor_free(&b);
    ty_tensor_free(&o);
}

int main(void)
{
    static const int64_t sizes[][3] = { { 1, 1, 1 },   { 5, 7, 3 },   { 17, 16, 33 },
                                        { 40, 3, 50 }, { 64, 65, 9 }, { 3, 100, 70 } };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int64_t M = sizes[i][0], N = sizes[i][1], K = sizes[i][2];
        check_gemm(M, N, K, 0);  /* BLAS's own bound */
        check_gemm(M, N, K, 4);  /* blocks of 4 in every dimension past 4 */
        check_gemm(M, N, K, 31);
        check_gemv(M, K, 0);
        check_gemv(M, K, 4);
        check_batched(M, N, K);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
