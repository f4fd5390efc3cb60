/* bench/recurrent_paths.c: `make bench`. The large case (N64 T50 D256 H512, forward and
   backward) of the RNN, the LSTM and the GRU on one thread with its whole-sequence products
   in OpenBLAS (the steps packed) and with every product in the packed kernel, alternating,
   best of several runs each; and which of the two the engine's first-use measurement
   picked (the rule it runs by). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nn/recurrent.h"

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
    ty_tensor x, h0, W_ih, W_hh, b_ih, b_hh, dout, h, cache, dx, dh0, dc0, dW_ih, dW_hh, db_ih,
        db_hh, ws;
} run;

static double once(run *r, const ty_cell *cell, int path)
{
    ty_error e;
    ty_recurrent m = { cell, &r->W_ih, &r->W_hh, &r->b_ih, cell->two_biases ? &r->b_hh : NULL,
                       path, &r->ws, &ty_system_allocator };
    ty_recurrent_grads g = { &r->dx, &r->dh0, &r->dc0, &r->dW_ih, &r->dW_hh, &r->db_ih, &r->db_hh };
    ty_tensor *cache = cell->row_is_h ? NULL : &r->cache;
    double t0 = now();
    if (ty_recurrent_forward(&m, &r->h, cache, &r->x, &r->h0, NULL, &e) ||
        ty_recurrent_backward(&m, &g, &r->dout, NULL, &r->x, &r->h0, NULL, &r->h, cache, &e)) {
        fprintf(stderr, "recurrent_paths: %s\n", e.msg);
        exit(1);
    }
    return now() - t0;
}

static void free_run(run *r)
{
    ty_tensor *all[] = { &r->x, &r->h0, &r->W_ih, &r->W_hh, &r->b_ih, &r->b_hh, &r->dout,
                         &r->h, &r->cache, &r->dx, &r->dh0, &r->dc0, &r->dW_ih, &r->dW_hh,
                         &r->db_ih, &r->db_hh, &r->ws };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ty_tensor_free(all[i]);
}

static int measure(const ty_cell *cell)
{
    unsigned s = 7;
    run r;
    memset(&r, 0, sizeof r);
    int64_t G = cell->gates * H, W = ty_recurrent_cache_width(cell, H);
    if (alloc(&r.x, 3, N, T, D, &s) || alloc(&r.h0, 2, N, H, 0, &s) ||
        alloc(&r.W_ih, 2, D, G, 0, &s) || alloc(&r.W_hh, 2, H, G, 0, &s) ||
        alloc(&r.b_ih, 1, G, 0, 0, &s) || alloc(&r.b_hh, 1, G, 0, 0, &s) ||
        alloc(&r.dout, 3, N, T, H, &s) || alloc(&r.h, 3, N, T, H, &s) ||
        (W && alloc(&r.cache, 3, N, T, W, &s)) || alloc(&r.dx, 3, N, T, D, &s) ||
        alloc(&r.dh0, 2, N, H, 0, &s) || alloc(&r.dc0, 2, N, H, 0, &s) ||
        alloc(&r.dW_ih, 2, D, G, 0, &s) || alloc(&r.dW_hh, 2, H, G, 0, &s) ||
        alloc(&r.db_ih, 1, G, 0, 0, &s) || alloc(&r.db_hh, 1, G, 0, 0, &s))
        return 1;
    once(&r, cell, TY_PATH_AUTO); /* the engine measures here, on its first long sequence */
    int chose = ty_recurrent_one_lane_packed();
    double flops = cell->gates * 3.0 * 2 * N * T * ((double)D * H + (double)H * H);
    double best_blas = 1e30, best_packed = 1e30;
    for (int i = 0; i < 7; i++) {
        double a = once(&r, cell, TY_PATH_STEPS);
        double b = once(&r, cell, 1);
        if (a < best_blas) best_blas = a;
        if (b < best_packed) best_packed = b;
    }
    printf("%s N%d T%d D%d H%d fwd+bwd, 1 thread, best of 7: whole-sequence products in "
           "OpenBLAS %.2f ms (%.1f GFLOP/s), all in the packed kernel %.2f ms (%.1f GFLOP/s); "
           "the first-use measurement chose %s%s\n",
           cell->name, N, T, D, H, best_blas * 1e3, flops / best_blas / 1e9, best_packed * 1e3,
           flops / best_packed / 1e9,
           chose == 2 ? "the packed kernel" : chose == 1 ? "OpenBLAS" : "(nothing: no packed kernel here)",
           chose && (chose == 2) != (best_packed < best_blas) ? " (not the faster here now)" : "");
    free_run(&r);
    return 0;
}

int main(void)
{
    openblas_set_num_threads(1);
    return measure(&ty_rnn_cell) || measure(&ty_lstm_cell) || measure(&ty_gru_cell);
}
