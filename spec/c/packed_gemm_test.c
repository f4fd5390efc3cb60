/* packed_gemm_test.c: the packed product (src/packed_gemm.c) against a plain triple loop,
   for sizes around its 8-row and 16-column tiles, strided operands, and both C = A B and
   C += A B, whichever of its compiled versions this CPU runs. */
#include "core/packed_gemm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int passed, failed;

static double value(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

static ty_tensor matrix(double *data, int64_t rows, int64_t cols, int64_t s0, int64_t s1)
{
    ty_tensor m = { 0 };
    m.data = data;
    m.ndim = 2;
    m.shape[0] = rows;
    m.shape[1] = cols;
    m.stride[0] = s0;
    m.stride[1] = s1;
    return m;
}

/* One product: A (M x K, rows pad apart), B (K x N, stored transposed when bt), C (M x N,
   rows pad apart). Returns the largest error relative to the sum of |terms| (infinite if a
   padding element changed). */
static double check(int64_t M, int64_t N, int64_t K, int64_t pad, int bt, int accumulate)
{
    unsigned s = (unsigned)(M * 131 + N * 17 + K * 7 + pad + bt * 3 + accumulate);
    int64_t lda = K + pad, ldc = N + pad;
    double *A = malloc(sizeof(double) * (size_t)(M * lda + 1));
    double *B = malloc(sizeof(double) * (size_t)(K * N + 1));
    double *C = malloc(sizeof(double) * (size_t)(M * ldc + 1));
    double *C0 = malloc(sizeof(double) * (size_t)(M * ldc + 1));
    double *P = malloc(sizeof(double) * (size_t)ty_packed_size(K, N));
    for (int64_t i = 0; i < M * lda; i++) A[i] = value(&s);
    for (int64_t i = 0; i < K * N; i++) B[i] = value(&s);
    for (int64_t i = 0; i < M * ldc; i++) C[i] = C0[i] = value(&s);
    ty_tensor a = matrix(A, M, K, lda, 1), c = matrix(C, M, N, ldc, 1);
    ty_tensor b = bt ? matrix(B, K, N, 1, K) : matrix(B, K, N, N, 1);
    ty_pack(P, &b);
    ty_packed_gemm(&c, &a, P, accumulate);
    double worst = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N + pad; j++) {
            double got = C[i * ldc + j];
            if (j >= N) { /* the padding between rows is never written */
                if (got != C0[i * ldc + j]) worst = INFINITY;
                continue;
            }
            double want = accumulate ? C0[i * ldc + j] : 0.0, mag = fabs(want);
            for (int64_t k = 0; k < K; k++) {
                double t = A[i * lda + k] * B[bt ? j * K + k : k * N + j];
                want += t;
                mag += fabs(t);
            }
            double err = fabs(got - want) / (mag > 0 ? mag : 1);
            if (!(err <= worst)) worst = err;
        }
    }
    free(A);
    free(B);
    free(C);
    free(C0);
    free(P);
    return worst;
}

static void test_against_the_triple_loop(void)
{
    static const int64_t sizes[] = { 1, 3, 7, 8, 9, 16, 17, 33 };
    int n = (int)(sizeof sizes / sizeof sizes[0]), bad = 0;
    for (int im = 0; im < n; im++)
        for (int in = 0; in < n; in++)
            for (int ik = 0; ik < n; ik++)
                for (int variant = 0; variant < 4; variant++) {
                    int64_t M = sizes[im], N = sizes[in], K = sizes[ik];
                    int bt = variant & 1, accumulate = variant >> 1;
                    double err = check(M, N, K, variant == 3 ? 5 : 0, bt, accumulate);
                    /* a dot product of K terms is within about K units of rounding of
                       the sum of their magnitudes, in any order of addition */
                    if (!(err <= (double)(K + 2) * 1.2e-16)) {
                        fprintf(stderr, "M %lld N %lld K %lld bt %d accumulate %d: error %g\n",
                                (long long)M, (long long)N, (long long)K, bt, accumulate, err);
                        bad++;
                    }
                }
    /* more rows than one block of 64, and the RNN's own step shape */
    static const int64_t more[][3] = { { 130, 33, 17 }, { 65, 31, 7 }, { 64, 16, 512 } };
    for (int i = 0; i < 3; i++)
        for (int variant = 0; variant < 4; variant++) {
            int64_t M = more[i][0], N = more[i][1], K = more[i][2];
            double err = check(M, N, K, variant == 3 ? 5 : 0, variant & 1, variant >> 1);
            if (!(err <= (double)(K + 2) * 1.2e-16)) {
                fprintf(stderr, "M %lld N %lld K %lld variant %d: error %g\n", (long long)M,
                        (long long)N, (long long)K, variant, err);
                bad++;
            }
        }
    if (bad) {
        failed++;
        fprintf(stderr, "FAIL against_the_triple_loop\n");
    } else {
        passed++;
    }
}

int main(void)
{
    test_against_the_triple_loop();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
