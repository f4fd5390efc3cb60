/* bench/rnn_paths.c: `make bench`. The large RNN case (N64 T50 D256 H512, forward and
   backward) on one thread with its whole-sequence products in OpenBLAS (the steps packed)
   and with every product in the packed kernel, alternating, best of several runs each; and
   which of the two the engine's first-use measurement picked (the rule it runs by). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/rnn.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int alloc(ty_tensor *t, int nd, int64_t a, int64_t b, int64_t c, unsigned *s)
{
    int64_t shape[3] = { a, b, c };
    ty_error e;
    memset(t, 0, sizeof *t);
    if (ty_tensor_alloc(t, &ty_system_allocator, nd, shape, &e)) return 1;
    for (int64_t i = 0; i < ty_numel(t); i++) {
        *s = *s * 1103515245u + 12345u;
        t->data[i] = ((double)((*s >> 8) & 0xffff) / 65536.0 - 0.5) * 0.02;
    }
    return 0;
}

enum { N = 64, T = 50, D = 256, H = 512 };

typedef struct run {
    ty_tensor x, h0, W_ih, W_hh, b, dout, h, dx, dh0, dW_ih, dW_hh, db, ws;
} run;

static double once(run *r)
{
    ty_error e;
    double t0 = now();
    if (ty_rnn_forward(&r->h, &r->x, &r->h0, &r->W_ih, &r->W_hh, &r->b, &r->ws,
                       &ty_system_allocator, &e) ||
        ty_rnn_backward(&r->dx, &r->dh0, &r->dW_ih, &r->dW_hh, &r->db, &r->dout, &r->x,
                        &r->h0, &r->h, &r->W_ih, &r->W_hh, &r->ws, &ty_system_allocator, &e)) {
        fprintf(stderr, "rnn_paths: %s\n", e.msg);
        exit(1);
    }
    return now() - t0;
}

int main(void)
{
    openblas_set_num_threads(1);
    unsigned s = 7;
    run r;
    memset(&r, 0, sizeof r);
    if (alloc(&r.x, 3, N, T, D, &s) || alloc(&r.h0, 2, N, H, 0, &s) ||
        alloc(&r.W_ih, 2, D, H, 0, &s) || alloc(&r.W_hh, 2, H, H, 0, &s) ||
        alloc(&r.b, 1, H, 0, 0, &s) || alloc(&r.dout, 3, N, T, H, &s) ||
        alloc(&r.h, 3, N, T, H, &s) || alloc(&r.dx, 3, N, T, D, &s) ||
        alloc(&r.dh0, 2, N, H, 0, &s) || alloc(&r.dW_ih, 2, D, H, 0, &s) ||
        alloc(&r.dW_hh, 2, H, H, 0, &s) || alloc(&r.db, 1, H, 0, 0, &s))
        return 1;
    ty_rnn_set_steps(TY_STEPS_AUTO);
    once(&r); /* the engine measures here, on its first long sequence */
    int chose = ty_rnn_one_lane_packed();
    double flops = 3.0 * 2 * N * T * ((double)D * H + (double)H * H);
    double best_blas = 1e30, best_packed = 1e30;
    for (int i = 0; i < 7; i++) {
        ty_rnn_set_steps(TY_STEPS_STEPS);
        double a = once(&r);
        ty_rnn_set_steps(1);
        double b = once(&r);
        if (a < best_blas) best_blas = a;
        if (b < best_packed) best_packed = b;
    }
    ty_rnn_set_steps(TY_STEPS_AUTO);
    printf("rnn N%d T%d D%d H%d fwd+bwd, 1 thread, best of 7: whole-sequence products in "
           "OpenBLAS %.2f ms (%.1f GFLOP/s), all in the packed kernel %.2f ms (%.1f GFLOP/s); "
           "the first-use measurement chose %s%s\n",
           N, T, D, H, best_blas * 1e3, flops / best_blas / 1e9, best_packed * 1e3,
           flops / best_packed / 1e9,
           chose == 2 ? "the packed kernel" : chose == 1 ? "OpenBLAS" : "(nothing: no packed kernel here)",
           chose && (chose == 2) != (best_packed < best_blas) ? " (not the faster here now)" : "");
    return 0;
}
