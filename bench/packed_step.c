/* bench/packed_step.c: `make bench-detail`. The RNN's step product (N64 x H512 times
   W_hh 512x512, 50 steps) through tycho's packed product, W_hh packed once, against one
   OpenBLAS call per step, which packs W_hh every time. One thread. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/packed_gemm.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static ty_tensor matrix(double *data, int64_t rows, int64_t cols)
{
    ty_tensor m = { 0 };
    m.data = data;
    m.ndim = 2;
    m.shape[0] = rows;
    m.shape[1] = cols;
    m.stride[0] = cols;
    m.stride[1] = 1;
    return m;
}

int main(void)
{
    enum { N = 64, H = 512, STEPS = 50 };
    openblas_set_num_threads(1);
    double *h = malloc(sizeof(double) * N * H), *W = malloc(sizeof(double) * H * H);
    double *out = malloc(sizeof(double) * N * H);
    double *P = malloc(sizeof(double) * (size_t)ty_packed_size(H, H));
    if (!h || !W || !out || !P) return 1;
    for (int i = 0; i < N * H; i++) h[i] = (double)(i % 97) / 97.0 - 0.5;
    for (int i = 0; i < H * H; i++) W[i] = (double)(i % 89) / 890.0 - 0.05;
    ty_tensor A = matrix(h, N, H), B = matrix(W, H, H), C = matrix(out, N, H);
    double flops = 2.0 * N * H * H * STEPS;
    printf("%d steps of %dx%dx%d, best of 20 (GFLOP/s)%s\n", STEPS, N, H, H,
           ty_packed_pays() ? "" : " (this CPU would not take the packed product)");
    for (int round = 0; round < 3; round++) {
        double best_packed = 1e30, best_blas = 1e30;
        for (int r = 0; r < 20; r++) {
            double t0 = now();
            ty_pack(P, &B);
            for (int s = 0; s < STEPS; s++) ty_packed_gemm(&C, &A, P, 1);
            double t1 = now();
            for (int s = 0; s < STEPS; s++)
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, H, H, 1.0, h, H, W, H,
                            1.0, out, H);
            double t2 = now();
            if (t1 - t0 < best_packed) best_packed = t1 - t0;
            if (t2 - t1 < best_blas) best_blas = t2 - t1;
        }
        printf("packed once: %.1f   a BLAS call per step: %.1f\n", flops / best_packed / 1e9,
               flops / best_blas / 1e9);
    }
    free(h);
    free(W);
    free(out);
    free(P);
    return 0;
}
