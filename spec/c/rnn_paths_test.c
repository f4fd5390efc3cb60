/* rnn_paths_test.c: the RNN's forward and backward over a sequence give the same numbers
   whichever way their products run (ty_rnn_set_steps): BLAS calls (one per step for the
   recurrence), the steps on W_hh packed once (src/core/packed_gemm.c) with BLAS for the
   rest, or every product packed, on one lane (the calling thread) or split between 2, 3 or
   5 lanes (threads, src/core/lanes.c), on odd
   sizes around the packed product's tiles and panels. spec/rnn_reference_spec.lua checks
   the results against the notebook's plain loops. */
#include "nn/rnn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

enum { NOUT = 6 };

typedef struct run {
    ty_tensor h, dx, dh0, dW_ih, dW_hh, db, ws;
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

static int forward_backward(run *r, const ty_tensor *x, const ty_tensor *h0,
                            const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                            const ty_tensor *dout)
{
    int64_t N = x->shape[0], T = x->shape[1], D = x->shape[2], H = W_hh->shape[0];
    int64_t sh[3] = { N, T, H }, sdx[3] = { N, T, D }, sdh0[2] = { N, H };
    int64_t sih[2] = { D, H }, shh[2] = { H, H }, sb[1] = { H };
    ty_error e;
    memset(r, 0, sizeof *r);
    if (ty_tensor_alloc(&r->h, &ty_system_allocator, 3, sh, &e) ||
        ty_tensor_alloc(&r->dx, &ty_system_allocator, 3, sdx, &e) ||
        ty_tensor_alloc(&r->dh0, &ty_system_allocator, 2, sdh0, &e) ||
        ty_tensor_alloc(&r->dW_ih, &ty_system_allocator, 2, sih, &e) ||
        ty_tensor_alloc(&r->dW_hh, &ty_system_allocator, 2, shh, &e) ||
        ty_tensor_alloc(&r->db, &ty_system_allocator, 1, sb, &e) ||
        ty_rnn_forward(&r->h, x, h0, W_ih, W_hh, b, &r->ws, &ty_system_allocator, &e) ||
        ty_rnn_backward(&r->dx, &r->dh0, &r->dW_ih, &r->dW_hh, &r->db, dout, x, h0, &r->h,
                        W_ih, W_hh, &r->ws, &ty_system_allocator, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    return 0;
}

static void free_run(run *r)
{
    ty_tensor *all[] = { &r->h, &r->dx, &r->dh0, &r->dW_ih, &r->dW_hh, &r->db, &r->ws };
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

static int check(int64_t N, int64_t T, int64_t D, int64_t H)
{
    unsigned s = (unsigned)(N * 1000003 + T * 1009 + D * 31 + H);
    ty_tensor x, h0, W_ih, W_hh, b, dout;
    int64_t sx[3] = { N, T, D }, sh0[2] = { N, H }, sih[2] = { D, H }, shh[2] = { H, H };
    int64_t sb[1] = { H }, sd[3] = { N, T, H };
    int bad = 0;
    if (fill_new(&x, 3, sx, &s) || fill_new(&h0, 2, sh0, &s) || fill_new(&W_ih, 2, sih, &s) ||
        fill_new(&W_hh, 2, shh, &s) || fill_new(&b, 1, sb, &s) || fill_new(&dout, 3, sd, &s))
        return 1;
    /* weights of a trained size (|W| < 0.1): the recurrence contracts, so rounding
       differences between the paths stay at rounding level instead of growing with T */
    for (int64_t i = 0; i < H * H; i++) W_hh.data[i] *= 0.2;
    for (int64_t i = 0; i < D * H; i++) W_ih.data[i] *= 0.2;
    static const int modes[] = { TY_STEPS_BLAS, TY_STEPS_STEPS, 1, 2, 3, 5 };
    enum { NMODES = sizeof modes / sizeof modes[0] };
    run runs[NMODES];
    for (int m = 0; m < NMODES; m++) {
        ty_rnn_set_steps(modes[m]);
        bad |= forward_backward(&runs[m], &x, &h0, &W_ih, &W_hh, &b, &dout);
    }
    ty_rnn_set_steps(TY_STEPS_AUTO);
    for (int m = 1; m < NMODES && !bad; m++) {
        run *p = &runs[m], *q = &runs[0];
        const ty_tensor *pt[NOUT] = { &p->h, &p->dx, &p->dh0, &p->dW_ih, &p->dW_hh, &p->db };
        const ty_tensor *qt[NOUT] = { &q->h, &q->dx, &q->dh0, &q->dW_ih, &q->dW_hh, &q->db };
        static const char *const names[NOUT] = { "h", "dx", "dh0", "dW_ih", "dW_hh", "db" };
        for (int i = 0; i < NOUT; i++) {
            double d = differ(pt[i], qt[i]);
            if (!(d < 1e-12)) {
                fprintf(stderr, "N %lld T %lld D %lld H %lld, %d lanes: %s differs by %g\n",
                        (long long)N, (long long)T, (long long)D, (long long)H, modes[m],
                        names[i], d);
                bad = 1;
            }
        }
    }
    for (int m = 0; m < NMODES; m++) free_run(&runs[m]);
    ty_tensor *in[] = { &x, &h0, &W_ih, &W_hh, &b, &dout };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) ty_tensor_free(in[i]);
    return bad;
}

static void test_packed_and_blas_steps_agree(void)
{
    /* long enough sequences (N*T >= 4*H) take the packed products; the others never do.
       Some have fewer panels than lanes, chunks of uneven length, or no inputs at all. */
    static const int64_t cases[][4] = { { 33, 7, 3, 33 },   { 64, 8, 17, 100 }, { 9, 40, 5, 47 },
                                        { 8, 16, 16, 16 },  { 1, 129, 7, 7 },   { 3, 3, 3, 33 },
                                        { 64, 19, 40, 130 }, { 7, 100, 0, 20 } };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bad |= check(cases[i][0], cases[i][1], cases[i][2], cases[i][3]);
    if (bad) {
        failed++;
        fprintf(stderr, "FAIL packed_and_blas_steps_agree\n");
    } else {
        passed++;
    }
}

int main(void)
{
    test_packed_and_blas_steps_agree();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
