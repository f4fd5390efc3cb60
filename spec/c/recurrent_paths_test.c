/* recurrent_paths_test.c: the RNN's, the LSTM's and the GRU's forward and backward over a
   sequence give the same numbers whichever way their products run (the layer's path): BLAS
   calls (one per step for the recurrence), the steps on W_hh packed once
   (src/core/packed_gemm.c) with BLAS for the rest, or every product packed, on one lane
   (the calling thread) or split between 2, 3 or 5 lanes (threads, src/core/lanes.c), on odd
   sizes around the packed product's tiles and panels, from given and from zero states.
   spec/recurrent_reference_spec.lua checks the results against plain step-by-step loops. */
#include "core/ops.h"
#include "nn/recurrent.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

enum { NOUT = 9 };

typedef struct run {
    ty_tensor h, cache, dx, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh, ws;
} run;

static double value(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xffff) / 65536.0 - 0.5;
}

static int fill_new(ty_tensor *t, int ndim, const int64_t *shape, unsigned *s)
{
    memset(t, 0, sizeof *t);
    if (ty_tensor_alloc(t, &ty_system_allocator, ndim, shape, NULL)) return 1;
    for (int64_t i = 0; i < ty_shape_numel(ndim, shape); i++) t->data[i] = value(s);
    return 0;
}

static int alloc(ty_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, ty_error *e)
{
    int64_t shape[3] = { a, b, c };
    return ty_tensor_alloc(t, &ty_system_allocator, ndim, shape, e);
}

typedef struct inputs {
    ty_tensor x, h0, c0, W_ih, W_hh, b_ih, b_hh, dout;
    int zero_states;
} inputs;

static int forward_backward(run *r, const ty_cell *cell, int path, const inputs *in)
{
    int64_t N = in->x.shape[0], T = in->x.shape[1], D = in->x.shape[2], H = in->W_hh.shape[0];
    int64_t G = cell->gates * H, W = ty_recurrent_cache_width(cell, H);
    ty_error e;
    memset(r, 0, sizeof *r);
    ty_recurrent m = { cell, &in->W_ih, &in->W_hh, &in->b_ih, cell->two_biases ? &in->b_hh : NULL,
                       path, &r->ws, &ty_system_allocator };
    const ty_tensor *h0 = in->zero_states ? NULL : &in->h0;
    const ty_tensor *c0 = in->zero_states || !cell->has_c ? NULL : &in->c0;
    if (alloc(&r->h, 3, N, T, H, &e) || (W && alloc(&r->cache, 3, N, T, W, &e)) ||
        alloc(&r->dx, 3, N, T, D, &e) || alloc(&r->dh0, 2, N, H, 0, &e) ||
        alloc(&r->dc0, 2, N, H, 0, &e) || alloc(&r->dW_ih, 2, D, G, 0, &e) ||
        alloc(&r->dW_hh, 2, H, G, 0, &e) || alloc(&r->db_ih, 1, G, 0, 0, &e) ||
        alloc(&r->db_hh, 1, G, 0, 0, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    ty_recurrent_grads g = { &r->dx, &r->dh0, &r->dc0, &r->dW_ih, &r->dW_hh, &r->db_ih, &r->db_hh };
    if (!cell->has_c) ty_fill(&r->dc0, 0.0);
    if (!cell->two_biases) ty_fill(&r->db_hh, 0.0);
    if (ty_recurrent_forward(&m, &r->h, W ? &r->cache : NULL, &in->x, h0, c0, &e) ||
        ty_recurrent_backward(&m, &g, &in->dout, NULL, &in->x, h0, c0, &r->h,
                              W ? &r->cache : NULL, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}

static void free_run(run *r)
{
    ty_tensor *all[] = { &r->h, &r->cache, &r->dx, &r->dh0, &r->dc0, &r->dW_ih,
                         &r->dW_hh, &r->db_ih, &r->db_hh, &r->ws };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ty_tensor_free(all[i]);
}

/* max |a - b| / (1 + |b|) over two contiguous tensors of one shape */
static double differ(const ty_tensor *a, const ty_tensor *b)
{
    double worst = 0;
    int64_t n = ty_shape_numel(a->ndim, a->shape);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a->data[i] - b->data[i]) / (1 + fabs(b->data[i]));
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

static int check(const ty_cell *cell, int64_t N, int64_t T, int64_t D, int64_t H, int zero)
{
    unsigned s = (unsigned)(N * 1000003 + T * 1009 + D * 31 + H + cell->gates);
    inputs in;
    in.zero_states = zero;
    int64_t G = cell->gates * H;
    int64_t sx[3] = { N, T, D }, sh0[2] = { N, H }, sih[2] = { D, G }, shh[2] = { H, G };
    int64_t sb[1] = { G }, sd[3] = { N, T, H };
    int bad = 0;
    if (fill_new(&in.x, 3, sx, &s) || fill_new(&in.h0, 2, sh0, &s) || fill_new(&in.c0, 2, sh0, &s) ||
        fill_new(&in.W_ih, 2, sih, &s) || fill_new(&in.W_hh, 2, shh, &s) ||
        fill_new(&in.b_ih, 1, sb, &s) || fill_new(&in.b_hh, 1, sb, &s) || fill_new(&in.dout, 3, sd, &s))
        return 1;
    /* weights of a trained size (|W| < 0.1): the recurrence contracts, so rounding
       differences between the paths stay at rounding level instead of growing with T */
    for (int64_t i = 0; i < H * G; i++) in.W_hh.data[i] *= 0.2;
    for (int64_t i = 0; i < D * G; i++) in.W_ih.data[i] *= 0.2;
    static const int paths[] = { TY_PATH_BLAS, TY_PATH_STEPS, TY_PATH_AUTO, 1, 2, 3, 5 };
    enum { NPATHS = sizeof paths / sizeof paths[0] };
    run runs[NPATHS];
    for (int m = 0; m < NPATHS; m++) bad |= forward_backward(&runs[m], cell, paths[m], &in);
    for (int m = 1; m < NPATHS && !bad; m++) {
        run *p = &runs[m], *q = &runs[0];
        const ty_tensor *pt[NOUT] = { &p->h, &p->dx, &p->dh0, &p->dc0, &p->dW_ih, &p->dW_hh,
                                      &p->db_ih, &p->db_hh, &p->h };
        const ty_tensor *qt[NOUT] = { &q->h, &q->dx, &q->dh0, &q->dc0, &q->dW_ih, &q->dW_hh,
                                      &q->db_ih, &q->db_hh, &q->h };
        static const char *const names[NOUT] = { "h", "dx", "dh0", "dc0", "dW_ih", "dW_hh",
                                                 "db_ih", "db_hh", "h" };
        for (int i = 0; i < NOUT; i++) {
            double d = differ(pt[i], qt[i]);
            if (!(d < 1e-12)) {
                fprintf(stderr, "%s N %lld T %lld D %lld H %lld%s, path %d: %s differs by %g\n",
                        cell->name, (long long)N, (long long)T, (long long)D, (long long)H,
                        zero ? " (zero states)" : "", paths[m], names[i], d);
                bad = 1;
            }
        }
    }
    for (int m = 0; m < NPATHS; m++) free_run(&runs[m]);
    ty_tensor *all[] = { &in.x, &in.h0, &in.c0, &in.W_ih, &in.W_hh, &in.b_ih, &in.b_hh, &in.dout };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ty_tensor_free(all[i]);
    return bad;
}

static void test_every_path_agrees(const ty_cell *cell)
{
    /* long enough sequences (N*T >= 4*H) take the packed products; the others never do.
       Some have fewer panels than lanes, chunks of uneven length, or no inputs at all. */
    static const int64_t cases[][4] = { { 33, 7, 3, 33 },   { 64, 8, 17, 100 }, { 9, 40, 5, 47 },
                                        { 8, 16, 16, 16 },  { 1, 129, 7, 7 },   { 3, 3, 3, 33 },
                                        { 64, 19, 40, 130 }, { 7, 100, 0, 20 }, { 1, 1, 1, 1 } };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int zero = 0; zero < 2; zero++)
            bad |= check(cell, cases[i][0], cases[i][1], cases[i][2], cases[i][3], zero);
    if (bad) {
        failed++;
        fprintf(stderr, "FAIL every_path_agrees (%s)\n", cell->name);
    } else {
        passed++;
    }
}

int main(void)
{
    test_every_path_agrees(&ty_rnn_cell);
    test_every_path_agrees(&ty_lstm_cell);
    test_every_path_agrees(&ty_gru_cell);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
