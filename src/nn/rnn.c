/* rnn.c: the vanilla tanh RNN (h_t = tanh(x_t W_ih + h_{t-1} W_hh + b)) forward and backward,
   with whole-sequence GEMMs wherever the math allows and no allocation per time step. */
#include "nn/rnn.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <time.h>
#include <string.h>

#include "core/lanes.h"
#include "core/linalg.h"
#include "core/ops.h"
#include "core/packed_gemm.h"

/* A 2-d view header. Only the fields of two dimensions are set: these headers are made
   several times per time step, and the other dimensions are never read. */
static inline ty_tensor matrix(double *data, int64_t rows, int64_t cols, int64_t s0, int64_t s1)
{
    ty_tensor m;
    m.storage = NULL;
    m.data = data;
    m.ndim = 2;
    m.shape[0] = rows;
    m.shape[1] = cols;
    m.stride[0] = s0;
    m.stride[1] = s1;
    return m;
}

/* Columns [c0, c1) of a matrix, and elements [c0, c1) of a vector. */
static inline ty_tensor columns(const ty_tensor *m, int64_t c0, int64_t c1)
{
    return matrix(m->data + c0 * m->stride[1], m->shape[0], c1 - c0, m->stride[0], m->stride[1]);
}

static inline ty_tensor part(const ty_tensor *v, int64_t c0, int64_t c1)
{
    ty_tensor p = *v;
    p.data += c0 * v->stride[0];
    p.shape[0] = c1 - c0;
    return p;
}

static ty_tensor transposed(const ty_tensor *m)
{
    ty_tensor t = *m;
    ty_view_transpose(&t, 0, 1);
    return t;
}

/* Slice t of a N x T x K tensor: an N x K matrix. */
static inline ty_tensor step_of(const ty_tensor *seq, int64_t t)
{
    return matrix(seq->data + t * seq->stride[1], seq->shape[0], seq->shape[2], seq->stride[0],
                  seq->stride[2]);
}

int ty_workspace_reserve(ty_tensor *ws, int64_t n, const ty_allocator *a, ty_error *e)
{
    if (ws->storage && ws->storage->size >= n) return TY_OK;
    ty_tensor_free(ws);
    return ty_tensor_alloc(ws, a, 1, &n, e);
}

int ty_rnn_check_weights(const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                         const char *fname, ty_error *e)
{
    char s1[96], s2[96];
    if (W_ih->ndim != 2)
        return ty_fail(e, TY_EARG, "%s: W_ih is %s but must be a D x H matrix", fname,
                       ty_shape_str(W_ih, s1, sizeof s1));
    if (W_hh->ndim != 2 || W_hh->shape[0] != W_hh->shape[1] || W_hh->shape[1] != W_ih->shape[1])
        return ty_fail(e, TY_EARG, "%s: W_hh is %s but W_ih is %s (W_hh must be H x H with H = W_ih columns)",
                       fname, ty_shape_str(W_hh, s1, sizeof s1), ty_shape_str(W_ih, s2, sizeof s2));
    if (b->ndim != 1 || b->shape[0] != W_ih->shape[1])
        return ty_fail(e, TY_EARG, "%s: b is %s but W_ih is %s (b must be a vector of H = W_ih columns)",
                       fname, ty_shape_str(b, s1, sizeof s1), ty_shape_str(W_ih, s2, sizeof s2));
    return TY_OK;
}

/* Checks that m is rows x cols (by shape) and names both shapes when it is not. */
static int check_matrix(const ty_tensor *m, const char *mname, int64_t rows, int64_t cols,
                        const char *why, const char *fname, ty_error *e)
{
    if (m->ndim == 2 && m->shape[0] == rows && m->shape[1] == cols) return TY_OK;
    char s1[96], s2[96];
    int64_t want[2] = { rows, cols };
    return ty_fail(e, TY_EARG, "%s: %s is %s but must be %s (%s)", fname, mname,
                   ty_shape_str(m, s1, sizeof s1), ty_shape_str_n(2, want, s2, sizeof s2), why);
}

/* The shape contracts the checks above guarantee to the computing functions (TY_ASSERT). */
#if defined(TY_DEBUG)
static int is_matrix(const ty_tensor *m, int64_t rows, int64_t cols)
{
    return m->ndim == 2 && m->shape[0] == rows && m->shape[1] == cols;
}

static int is_sequence(const ty_tensor *s, int64_t N, int64_t T, int64_t K)
{
    return s->ndim == 3 && s->shape[0] == N && s->shape[1] == T && s->shape[2] == K;
}
#endif

/* m = tanh(m), m an N x H matrix of any strides. */
static void tanh_rows(ty_tensor *m)
{
    int64_t N = m->shape[0], H = m->shape[1], s = m->stride[1];
    if (s == 1 && (N == 1 || m->stride[0] == H)) { /* one run keeps the vector loop full */
        ty_vtanh(m->data, m->data, N * H);
    } else if (s == 1) {
        for (int64_t i = 0; i < N; i++)
            ty_vtanh(m->data + i * m->stride[0], m->data + i * m->stride[0], H);
    } else {
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < H; j++) {
                double *p = m->data + i * m->stride[0] + j * s;
                ty_vtanh(p, p, 1);
            }
    }
}

/* m = tanh(m + b), m an N x H matrix of any strides. */
static void add_bias_tanh(ty_tensor *m, const ty_tensor *b)
{
    int64_t N = m->shape[0], H = m->shape[1], bs = b->stride[0], s = m->stride[1];
    for (int64_t i = 0; i < N; i++) {
        double *row = m->data + i * m->stride[0];
        if (s == 1 && bs == 1)
            for (int64_t j = 0; j < H; j++) row[j] += b->data[j];
        else
            for (int64_t j = 0; j < H; j++) row[j * s] += b->data[j * bs];
    }
    tanh_rows(m);
}

int ty_rnn_check_step(const ty_tensor *x, const ty_tensor *prev_h, const ty_tensor *W_ih,
                      const ty_tensor *W_hh, const ty_tensor *b, const char *fname, ty_error *e)
{
    int rc;
    if ((rc = ty_rnn_check_weights(W_ih, W_hh, b, fname, e))) return rc;
    int64_t D = W_ih->shape[0], H = W_ih->shape[1];
    char s1[96], s2[96];
    if (x->ndim != 2 || x->shape[1] != D)
        return ty_fail(e, TY_EARG, "%s: x is %s but W_ih is %s (x must be N x D with D = W_ih rows)",
                       fname, ty_shape_str(x, s1, sizeof s1), ty_shape_str(W_ih, s2, sizeof s2));
    return check_matrix(prev_h, "prev_h", x->shape[0], H, "N = x rows, H = W_hh columns", fname, e);
}

int ty_rnn_check_sequence(const ty_tensor *x, const ty_tensor *h0, const ty_tensor *W_ih,
                          const ty_tensor *W_hh, const ty_tensor *b, ty_error *e)
{
    int rc;
    if ((rc = ty_rnn_check_weights(W_ih, W_hh, b, "forward", e))) return rc;
    int64_t D = W_ih->shape[0], H = W_ih->shape[1];
    char s1[96], s2[96];
    if (x->ndim != 3 || x->shape[2] != D)
        return ty_fail(e, TY_EARG, "forward: x is %s but W_ih is %s (x must be N x T x D with D = W_ih rows)",
                       ty_shape_str(x, s1, sizeof s1), ty_shape_str(W_ih, s2, sizeof s2));
    return check_matrix(h0, "h0", x->shape[0], H, "N = x's first size, H = W_hh columns", "forward", e);
}

/* The weights must still fit what the forward saw: D from x, H from its result. */
static int check_weights_fit(const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                             int64_t D, int64_t H, const char *fname, ty_error *e)
{
    int rc;
    if ((rc = check_matrix(W_ih, "W_ih", D, H, "the sizes of the last forward", fname, e))) return rc;
    if ((rc = check_matrix(W_hh, "W_hh", H, H, "the sizes of the last forward", fname, e))) return rc;
    if (b->ndim != 1 || b->shape[0] != H) {
        char s1[96];
        return ty_fail(e, TY_EARG, "%s: b is %s but must be %lld (the sizes of the last forward)",
                       fname, ty_shape_str(b, s1, sizeof s1), (long long)H);
    }
    return TY_OK;
}

int ty_rnn_check_step_backward(const ty_tensor *prev_h, const ty_tensor *dnext_h,
                               const ty_tensor *x, const ty_tensor *next_h,
                               const ty_tensor *W_ih, const ty_tensor *W_hh,
                               const ty_tensor *b, ty_error *e)
{
    int rc;
    int64_t N = next_h->shape[0], H = next_h->shape[1];
    if ((rc = check_matrix(prev_h, "prev_h", N, H, "the shape of forward_step's prev_h", "backward_step", e)))
        return rc;
    if ((rc = check_matrix(dnext_h, "dnext_h", N, H, "the shape of forward_step's result", "backward_step", e)))
        return rc;
    return check_weights_fit(W_ih, W_hh, b, x->shape[1], H, "backward_step", e);
}

int ty_rnn_check_backward(const ty_tensor *dout, const ty_tensor *x, const ty_tensor *h,
                          const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                          ty_error *e)
{
    if (!ty_same_shape(dout, h)) {
        char s1[96], s2[96];
        return ty_fail(e, TY_EARG, "backward: dout is %s but forward's result h is %s (they must match)",
                       ty_shape_str(dout, s1, sizeof s1), ty_shape_str(h, s2, sizeof s2));
    }
    return check_weights_fit(W_ih, W_hh, b, x->shape[2], h->shape[2], "backward", e);
}

/* The largest H of the one-pass step (N*H*(D+H) <= SMALL_STEP_WORK keeps H under 64). */
#define SMALL_STEP_WORK 4096
#define SMALL_STEP_MAX_H 64

/* out = x W_ih + prev_h W_hh + b, four columns at a time, in the GEMM path's order (x W_ih,
   then prev_h W_hh, then b); BLAS may round its sums differently, so the two paths agree
   to within rounding (spec/rnn_reference_spec.lua), not to the bit. */
TY_VECTOR_CLONES
static void small_step_sums(ty_tensor *out, const ty_tensor *x, const ty_tensor *prev_h,
                            const ty_tensor *W_ih, const ty_tensor *W_hh, const double *bias)
{
    int64_t N = x->shape[0], D = x->shape[1], H = W_hh->shape[0];
    int64_t si = W_ih->stride[0], sh = W_hh->stride[0];
    for (int64_t i = 0; i < N; i++) {
        double *o = out->data + i * out->stride[0];
        const double *xr = x->data + i * x->stride[0], *pr = prev_h->data + i * prev_h->stride[0];
        int64_t j = 0;
        for (; j + 4 <= H; j += 4) {
            ty_v4d c = { 0, 0, 0, 0 }, p = { 0, 0, 0, 0 };
            const double *w = W_ih->data + j;
            for (int64_t k = 0; k < D; k++, w += si) c += xr[k] * TY_LOAD4(w);
            w = W_hh->data + j;
            for (int64_t k = 0; k < H; k++, w += sh) p += pr[k] * TY_LOAD4(w);
            *(ty_v4d_u *)(o + j) = c + p + TY_LOAD4(bias + j);
        }
        for (; j < H; j++) {
            double c = 0, p = 0;
            for (int64_t k = 0; k < D; k++) c += xr[k] * W_ih->data[k * si + j];
            for (int64_t k = 0; k < H; k++) p += pr[k] * W_hh->data[k * sh + j];
            o[j] = c + p + bias[j];
        }
    }
}

/* The notebook-sized step in one pass, without two GEMM calls and their dispatch. */
static int small_step(ty_tensor *next_h, const ty_tensor *x, const ty_tensor *prev_h,
                      const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b)
{
    int64_t N = x->shape[0], D = x->shape[1], H = W_hh->shape[0];
    if (N * H * (D + H) > SMALL_STEP_WORK || H > SMALL_STEP_MAX_H || x->stride[1] != 1 ||
        prev_h->stride[1] != 1 || W_ih->stride[1] != 1 || W_hh->stride[1] != 1 ||
        next_h->stride[1] != 1)
        return 0;
    double bias[SMALL_STEP_MAX_H];
    for (int64_t j = 0; j < H; j++) bias[j] = b->data[j * b->stride[0]];
    small_step_sums(next_h, x, prev_h, W_ih, W_hh, bias);
    tanh_rows(next_h);
    return 1;
}

int ty_rnn_step_forward(ty_tensor *next_h, const ty_tensor *x, const ty_tensor *prev_h,
                        const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                        const ty_allocator *a, ty_error *e)
{
    int rc;
    int64_t N = x->shape[0], D = W_ih->shape[0], H = W_ih->shape[1];
    TY_ASSERT(is_matrix(x, N, D) && is_matrix(prev_h, N, H) && is_matrix(W_hh, H, H) &&
              b->ndim == 1 && b->shape[0] == H && is_matrix(next_h, N, H));
    (void)N, (void)D, (void)H;
    if (small_step(next_h, x, prev_h, W_ih, W_hh, b)) return TY_OK;
    if ((rc = ty_gemm(next_h, x, W_ih, 0.0, a, e))) return rc;
    if ((rc = ty_gemm(next_h, prev_h, W_hh, 1.0, a, e))) return rc;
    add_bias_tanh(next_h, b);
    return TY_OK;
}

/* dA = (dh [+ dout]) * (1 - h^2), all N x H matrices of any strides (dout may be NULL);
   rows that are all contiguous go four elements per vector, rounded as the scalar loop. */
TY_VECTOR_CLONES
static void tanh_grad(ty_tensor *dA, const ty_tensor *dh, const ty_tensor *dout,
                      const ty_tensor *h)
{
    int64_t N = h->shape[0], H = h->shape[1];
    for (int64_t i = 0; i < N; i++) {
        double *pa = dA->data + i * dA->stride[0];
        const double *ph = h->data + i * h->stride[0];
        const double *pd = dh->data + i * dh->stride[0];
        const double *po = dout ? dout->data + i * dout->stride[0] : NULL;
        int64_t sa = dA->stride[1], sh = h->stride[1], sd = dh->stride[1];
        int64_t so = dout ? dout->stride[1] : 0;
        int64_t j = 0;
        if (po && sa == 1 && sh == 1 && sd == 1 && so == 1) {
            for (; j + 4 <= H; j += 4) {
                ty_v4d y = TY_LOAD4(ph + j), g = TY_LOAD4(pd + j) + TY_LOAD4(po + j);
                *(ty_v4d_u *)(pa + j) = g * (1.0 - y * y);
            }
        }
        for (; j < H; j++) {
            double g = pd[j * sd] + (po ? po[j * so] : 0.0);
            double y = ph[j * sh];
            pa[j * sa] = g * (1.0 - y * y);
        }
    }
}

/* db (H) += column sums of the rows x H matrix m. */
static void column_sums_add(ty_tensor *db, const ty_tensor *m)
{
    int64_t R = m->shape[0], H = m->shape[1];
    for (int64_t i = 0; i < R; i++) {
        const double *row = m->data + i * m->stride[0];
        for (int64_t j = 0; j < H; j++) db->data[j * db->stride[0]] += row[j * m->stride[1]];
    }
}

int ty_rnn_step_backward(ty_tensor *dx, ty_tensor *dprev_h, ty_tensor *dW_ih, ty_tensor *dW_hh,
                         ty_tensor *db, const ty_tensor *x, const ty_tensor *prev_h,
                         const ty_tensor *next_h, const ty_tensor *dnext_h,
                         const ty_tensor *W_ih, const ty_tensor *W_hh, ty_tensor *ws,
                         const ty_allocator *a, ty_error *e)
{
    int rc;
    int64_t N = next_h->shape[0], H = next_h->shape[1], D = x->shape[1];
    TY_ASSERT(is_matrix(x, N, D) && is_matrix(prev_h, N, H) && is_matrix(dnext_h, N, H) &&
              is_matrix(W_ih, D, H) && is_matrix(W_hh, H, H) && is_matrix(dx, N, D) &&
              is_matrix(dprev_h, N, H) && is_matrix(dW_ih, D, H) && is_matrix(dW_hh, H, H) &&
              db->ndim == 1 && db->shape[0] == H);
    (void)D;
    if ((rc = ty_workspace_reserve(ws, N * H, a, e))) return rc;
    ty_tensor dA = matrix(ws->data, N, H, H, 1);
    tanh_grad(&dA, dnext_h, NULL, next_h);
    ty_tensor W_ihT = transposed(W_ih), W_hhT = transposed(W_hh);
    ty_tensor xT = transposed(x), hT = transposed(prev_h);
    if ((rc = ty_gemm(dx, &dA, &W_ihT, 0.0, a, e))) return rc;
    if ((rc = ty_gemm(dprev_h, &dA, &W_hhT, 0.0, a, e))) return rc;
    if ((rc = ty_gemm(dW_ih, &xT, &dA, 0.0, a, e))) return rc;
    if ((rc = ty_gemm(dW_hh, &hT, &dA, 0.0, a, e))) return rc;
    ty_fill(db, 0.0);
    column_sums_add(db, &dA);
    return TY_OK;
}

/* x (N x T x K) as an (N*T) x K matrix, when its strides allow. */
static int as_rows(ty_tensor *m, const ty_tensor *seq)
{
    ty_tensor v = *seq;
    int64_t shape[2] = { seq->shape[0] * seq->shape[1], seq->shape[2] };
    if (!ty_view_reshape(&v, 2, shape)) return 0;
    *m = v;
    return 1;
}

/* Whether a sequence is long enough for its steps' products to take W_hh (or W_hh^T) packed
   once or copied once: that costs H*H moves and as much workspace, so it takes at least
   4*H rows over all the steps; the copy then pays for itself and adds at most a quarter of
   the size of h. */
static int long_sequence(int64_t N, int64_t T, int64_t H)
{
    return H > 0 && N * T >= 4 * H;
}

static atomic_int steps_mode; /* TY_STEPS_AUTO */

void ty_rnn_set_steps(int mode)
{
    atomic_store_explicit(&steps_mode, mode, memory_order_relaxed);
}

/* Multiply-adds in one step's product worth a second lane: below this, meeting the other
   lanes at every step costs more than the split saves (each lane then has half of it). */
#define LANE_MIN_WORK (1 << 18)

/* How a long sequence's products run: lanes 0, BLAS calls; otherwise every step's product
   on W_hh packed once, and with whole set, the whole-sequence products packed too, split by
   columns into that many lanes (a lane is the calling thread when there is one). With more
   than one BLAS thread the lanes replace them: a BLAS call on several threads leaves its
   helper threads spinning for their next job long after it returns, and a lane thread
   would share a core with one. On one thread, whether the packed kernel or OpenBLAS is
   faster for the whole-sequence products depends on the machine (its OpenBLAS kernels,
   OPENBLAS_CORETYPE): the first long sequence measures both (one_lane_measure). */
typedef struct step_plan {
    int lanes;
    int whole;
} step_plan;

/* 0: not measured yet; 1: OpenBLAS is faster on one thread; 2: the packed kernel is. A
   property of the machine, measured once per process (atomic: engines on several threads). */
static atomic_int one_lane_choice;

static step_plan plan_steps(int64_t N, int64_t T, int64_t H)
{
    step_plan p = { 0, 0 };
    if (!long_sequence(N, T, H)) return p;
    int mode = atomic_load_explicit(&steps_mode, memory_order_relaxed);
    if (mode == TY_STEPS_BLAS) return p;
    if (mode == TY_STEPS_STEPS) {
        p.lanes = 1;
        return p;
    }
    if (mode >= 1) {
        p.lanes = mode > TY_MAX_LANES ? TY_MAX_LANES : mode;
        p.whole = 1;
        return p;
    }
    if (!ty_packed_pays()) return p;
    /* as many lanes as BLAS threads, but each with half of LANE_MIN_WORK at least and a
       panel of columns at least */
    int64_t lanes = openblas_get_num_threads();
    int64_t by_work = N * H * H / (LANE_MIN_WORK / 2);
    int64_t by_panels = (H + TY_PACKED_PANEL - 1) / TY_PACKED_PANEL;
    if (lanes > by_work) lanes = by_work;
    if (lanes > by_panels) lanes = by_panels;
    if (lanes > TY_MAX_LANES) lanes = TY_MAX_LANES;
    p.lanes = lanes < 2 ? 1 : (int)lanes;
    p.whole = p.lanes > 1 || atomic_load_explicit(&one_lane_choice, memory_order_relaxed) == 2;
    return p;
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The measurement behind one_lane_choice, on the first long sequence's input projection
   (H2 = X2 W_ih, into H2, which the forward then computes again): the best of two runs each
   of the OpenBLAS call and of the packed kernel, packing included (it is part of that path). */
static int one_lane_measure(ty_tensor *H2, const ty_tensor *X2, const ty_tensor *W_ih,
                            ty_tensor *ws, const ty_allocator *a, ty_error *e)
{
    if (atomic_load_explicit(&one_lane_choice, memory_order_relaxed)) return TY_OK;
    int64_t D = W_ih->shape[0], H = W_ih->shape[1];
    int rc = ty_workspace_reserve(ws, ty_packed_size(D, H), a, e);
    if (rc) return rc;
    double blas = 1e300, packed = 1e300;
    for (int i = 0; i < 2; i++) {
        double t0 = seconds_now();
        if ((rc = ty_gemm(H2, X2, W_ih, 0.0, a, e))) return rc;
        double t1 = seconds_now();
        ty_pack(ws->data, W_ih);
        ty_packed_gemm(H2, X2, ws->data, 0);
        double t2 = seconds_now();
        if (t1 - t0 < blas) blas = t1 - t0;
        if (t2 - t1 < packed) packed = t2 - t1;
    }
    atomic_store_explicit(&one_lane_choice, packed < blas ? 2 : 1, memory_order_relaxed);
    return TY_OK;
}

int ty_rnn_one_lane_packed(void)
{
    return atomic_load_explicit(&one_lane_choice, memory_order_relaxed);
}

/* A lane's columns of H (and of D), whole panels of the packed operands. */
static void lane_range(int64_t n, int lane, int lanes, int64_t *c0, int64_t *c1)
{
    ty_lane_columns(n, TY_PACKED_PANEL, lane, lanes, c0, c1);
}

/* Forward on lanes. Step 0 packs the lane's columns of W_ih and W_hh and computes its
   columns of every input projection; step 1 + t computes its columns of h_t from the whole
   of h_{t-1}. A lane reads only its own panels, so no lane waits for another's packing. */
typedef struct forward_lanes {
    const ty_tensor *X2, *H2, *h, *h0, *b, *W_ih, *W_hh;
    double *P_ih, *P_hh;
    int64_t D, H;
} forward_lanes;

static void forward_lane(void *p, int lane, int lanes, int64_t s)
{
    const forward_lanes *c = p;
    int64_t c0, c1;
    lane_range(c->H, lane, lanes, &c0, &c1);
    if (c0 >= c1) return;
    if (s == 0) {
        ty_tensor wi = columns(c->W_ih, c0, c1), wh = columns(c->W_hh, c0, c1);
        ty_pack(c->P_ih + c0 * c->D, &wi);
        ty_pack(c->P_hh + c0 * c->H, &wh);
        ty_tensor proj = columns(c->H2, c0, c1);
        ty_packed_gemm(&proj, c->X2, c->P_ih + c0 * c->D, 0);
        return;
    }
    int64_t t = s - 1;
    ty_tensor ht = step_of(c->h, t), prev = t == 0 ? *c->h0 : step_of(c->h, t - 1);
    ty_tensor out = columns(&ht, c0, c1), bias = part(c->b, c0, c1);
    ty_packed_gemm(&out, &prev, c->P_hh + c0 * c->H, 1);
    add_bias_tanh(&out, &bias);
}

static int forward_on_lanes(int lanes, ty_tensor *h, const ty_tensor *X2, ty_tensor *H2,
                            const ty_tensor *h0, const ty_tensor *W_ih, const ty_tensor *W_hh,
                            const ty_tensor *b, ty_tensor *ws, const ty_allocator *a, ty_error *e)
{
    int64_t T = h->shape[1], H = h->shape[2], D = W_ih->shape[0];
    int64_t n_hh = ty_packed_size(H, H), n_ih = ty_packed_size(D, H);
    int rc = ty_workspace_reserve(ws, n_hh + n_ih, a, e);
    if (rc) return rc;
    forward_lanes c = { X2, H2, h, h0, b, W_ih, W_hh, ws->data + n_hh, ws->data, D, H };
    ty_lanes_run(lanes, T + 1, forward_lane, &c);
    return TY_OK;
}

/* Backward on lanes, in one run: chunk k back covers steps t1-1 down to t0, with
   t1 = T - k*C, in C + 2 phases (fewer in the last chunk, the one that reaches t = 0; see
   ty_rnn_backward for the chunks). Phase 0 (in the first chunk back) packs the lane's columns of W_hh^T and W_ih^T; each
   step t takes two halves: its lane's columns of dA_t (and the chunk's gathers of x_t and
   h_{t-1}, transposed), then after every lane has its columns, the lane's columns of
   dh_{t-1} = dA_t W_hh^T. The second half of step t shares a phase with the first half of
   step t-1, which reads only the columns the same lane just wrote. A last phase packs the
   lane's columns of the chunk's dA and computes its columns of dW_ih, dW_hh, db and dx. */
typedef struct backward_lanes {
    ty_tensor *dx, *dh0, *dW_ih, *dW_hh, *db;
    const ty_tensor *dout, *x, *h0, *h, *W_ih, *W_hh;
    double *P_hhT, *P_ihT, *P_dA, *dAc, *XcT, *PcT, *dXc, *dh_buf[2];
    int64_t N, T, D, H, C; /* C: steps per chunk */
} backward_lanes;

/* The chunk a phase belongs to: steps [*t0, *t1); returns the phase within it. */
static int64_t chunk_of(const backward_lanes *c, int64_t s, int64_t *t0, int64_t *t1)
{
    int64_t k = s / (c->C + 2);
    *t1 = c->T - k * c->C;
    *t0 = *t1 > c->C ? *t1 - c->C : 0;
    return s % (c->C + 2);
}

/* The first half of step t for the lane's columns c0..c1 of H and d0..d1 of D. */
static void backward_lane_first_half(const backward_lanes *c, int64_t t0, int64_t t1, int64_t t,
                                     int64_t c0, int64_t c1, int64_t d0, int64_t d1)
{
    int64_t N = c->N, H = c->H, ci = t - t0, rows = (t1 - t0) * N;
    int64_t back = c->T - 1 - t; /* steps already taken back */
    ty_tensor dh = matrix(c->dh_buf[back & 1], N, H, H, 1);
    ty_tensor dAt = matrix(c->dAc + ci * N * H, N, H, H, 1);
    ty_tensor ht = step_of(c->h, t), dot = step_of(c->dout, t);
    ty_tensor dA_cols = columns(&dAt, c0, c1), dh_cols = columns(&dh, c0, c1);
    ty_tensor h_cols = columns(&ht, c0, c1), dout_cols = columns(&dot, c0, c1);
    if (c0 < c1) tanh_grad(&dA_cols, &dh_cols, &dout_cols, &h_cols);
    /* gathers for the chunk's products: XcT (D x rows) and PcT (H x rows), time-major */
    ty_tensor xt = step_of(c->x, t), prev = t == 0 ? *c->h0 : step_of(c->h, t - 1);
    for (int64_t d = d0; d < d1; d++)
        for (int64_t n = 0; n < N; n++)
            c->XcT[d * rows + ci * N + n] = xt.data[n * xt.stride[0] + d * xt.stride[1]];
    for (int64_t j = c0; j < c1; j++)
        for (int64_t n = 0; n < N; n++)
            c->PcT[j * rows + ci * N + n] = prev.data[n * prev.stride[0] + j * prev.stride[1]];
}

/* The second half of step t: the lane's columns of dh_{t-1} (dh0 at t = 0). */
static void backward_lane_second_half(const backward_lanes *c, int64_t t0, int64_t t,
                                      int64_t c0, int64_t c1)
{
    if (c0 >= c1) return;
    int64_t N = c->N, H = c->H, ci = t - t0, back = c->T - 1 - t;
    ty_tensor dAt = matrix(c->dAc + ci * N * H, N, H, H, 1);
    ty_tensor next = t == 0 ? *c->dh0 : matrix(c->dh_buf[(back + 1) & 1], N, H, H, 1);
    ty_tensor out = columns(&next, c0, c1);
    ty_packed_gemm(&out, &dAt, c->P_hhT + c0 * H, 0);
}

static void backward_lane_products(const backward_lanes *c, int64_t t0, int64_t t1, int64_t c0,
                                   int64_t c1, int64_t d0, int64_t d1)
{
    int64_t N = c->N, H = c->H, D = c->D, rows = (t1 - t0) * N;
    ty_tensor dA = matrix(c->dAc, rows, H, H, 1);
    int acc = t1 < c->T; /* the first chunk back overwrites */
    if (c0 < c1) {
        ty_tensor dA_cols = columns(&dA, c0, c1);
        double *P = c->P_dA + c0 * rows;
        ty_pack(P, &dA_cols);
        ty_tensor XcT = matrix(c->XcT, D, rows, rows, 1), PcT = matrix(c->PcT, H, rows, rows, 1);
        ty_tensor gi = columns(c->dW_ih, c0, c1), gh = columns(c->dW_hh, c0, c1);
        ty_tensor gb = part(c->db, c0, c1);
        ty_packed_gemm(&gi, &XcT, P, acc);
        ty_packed_gemm(&gh, &PcT, P, acc);
        if (!acc) ty_fill(&gb, 0.0);
        column_sums_add(&gb, &dA_cols);
    }
    if (d0 < d1) {
        ty_tensor dX = matrix(c->dXc, rows, D, D, 1), dX_cols = columns(&dX, d0, d1);
        ty_packed_gemm(&dX_cols, &dA, c->P_ihT + d0 * H, 0);
        for (int64_t t = t0; t < t1; t++) { /* scatter the lane's columns to dx */
            ty_tensor dxt = step_of(c->dx, t);
            const double *src = c->dXc + (t - t0) * N * D;
            for (int64_t n = 0; n < N; n++)
                for (int64_t d = d0; d < d1; d++)
                    dxt.data[n * dxt.stride[0] + d * dxt.stride[1]] = src[n * D + d];
        }
    }
}

static void backward_lane(void *p, int lane, int lanes, int64_t s)
{
    const backward_lanes *c = p;
    int64_t c0, c1, d0, d1, t0, t1;
    int64_t phase = chunk_of(c, s, &t0, &t1), len = t1 - t0;
    lane_range(c->H, lane, lanes, &c0, &c1);
    lane_range(c->D, lane, lanes, &d0, &d1);
    if (s == 0) { /* W_hh^T and W_ih^T, the lane's columns */
        ty_tensor WhT = transposed(c->W_hh), WiT = transposed(c->W_ih);
        ty_tensor wh = columns(&WhT, c0, c1), wi = columns(&WiT, d0, d1);
        if (c0 < c1) ty_pack(c->P_hhT + c0 * c->H, &wh);
        if (d0 < d1) ty_pack(c->P_ihT + d0 * c->H, &wi);
    }
    if (phase > len) {
        backward_lane_products(c, t0, t1, c0, c1, d0, d1);
        return;
    }
    if (phase > 0) backward_lane_second_half(c, t0, t1 - phase, c0, c1);
    if (phase < len) backward_lane_first_half(c, t0, t1, t1 - 1 - phase, c0, c1, d0, d1);
}

static int backward_on_lanes(int lanes, ty_tensor *dx, ty_tensor *dh0, ty_tensor *dW_ih,
                             ty_tensor *dW_hh, ty_tensor *db, const ty_tensor *dout,
                             const ty_tensor *x, const ty_tensor *h0, const ty_tensor *h,
                             const ty_tensor *W_ih, const ty_tensor *W_hh, int64_t C,
                             ty_tensor *ws, const ty_allocator *a, ty_error *e)
{
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2], D = x->shape[2], R = C * N;
    int64_t n_hhT = ty_packed_size(H, H), n_ihT = ty_packed_size(H, D);
    int64_t n_dA = ty_packed_size(R, H);
    int rc = ty_workspace_reserve(ws, n_hhT + n_ihT + n_dA + R * (2 * H + 2 * D) + 2 * N * H,
                                  a, e);
    if (rc) return rc;
    backward_lanes c;
    c.dx = dx, c.dh0 = dh0, c.dW_ih = dW_ih, c.dW_hh = dW_hh, c.db = db;
    c.dout = dout, c.x = x, c.h0 = h0, c.h = h, c.W_ih = W_ih, c.W_hh = W_hh;
    c.P_hhT = ws->data; /* first, so the packed panels start on a cache line */
    c.P_ihT = c.P_hhT + n_hhT;
    c.P_dA = c.P_ihT + n_ihT;
    c.dAc = c.P_dA + n_dA;
    c.XcT = c.dAc + R * H;
    c.PcT = c.XcT + R * D;
    c.dXc = c.PcT + R * H;
    c.dh_buf[0] = c.dXc + R * D;
    c.dh_buf[1] = c.dh_buf[0] + N * H;
    memset(c.dh_buf[0], 0, (size_t)(N * H) * sizeof(double)); /* dh after the last step */
    c.N = N, c.T = T, c.D = D, c.H = H, c.C = C;
    int64_t chunks = (T + C - 1) / C, last = T - (chunks - 1) * C; /* steps in the last */
    ty_lanes_run(lanes, (chunks - 1) * (C + 2) + last + 2, backward_lane, &c);
    return TY_OK;
}

int ty_rnn_forward(ty_tensor *h, const ty_tensor *x, const ty_tensor *h0, const ty_tensor *W_ih,
                   const ty_tensor *W_hh, const ty_tensor *b, ty_tensor *ws,
                   const ty_allocator *a, ty_error *e)
{
    int rc;
    int64_t N = h->shape[0], T = x->shape[1], H = h->shape[2], D = W_ih->shape[0];
    TY_ASSERT(is_sequence(x, N, T, D) && is_sequence(h, N, T, H) && is_matrix(h0, N, H) &&
              is_matrix(W_ih, D, H) && is_matrix(W_hh, H, H) && b->ndim == 1 && b->shape[0] == H);
    (void)D;
    if (N == 0 || T == 0 || H == 0) return TY_OK; /* h is empty: no step to take, however many */
    ty_tensor X2, H2;
    if (!as_rows(&X2, x) || !as_rows(&H2, h))
        return ty_fail(e, TY_EARG, "forward: x and h must be reshapeable to (N*T) x D");
    step_plan plan = plan_steps(N, T, H);
    ty_tensor first = step_of(h, 0);
    int fits = ty_packed_fits(&H2, &X2) && ty_packed_fits(&first, h0);
    if (plan.lanes == 1 && !plan.whole && fits &&
        atomic_load_explicit(&steps_mode, memory_order_relaxed) == TY_STEPS_AUTO) {
        if ((rc = one_lane_measure(&H2, &X2, W_ih, ws, a, e))) return rc;
        plan = plan_steps(N, T, H);
    }
    int lanes = plan.lanes;
    if (plan.whole && fits)
        return forward_on_lanes(lanes, h, &X2, &H2, h0, W_ih, W_hh, b, ws, a, e);
    /* all input projections at once, straight into h */
    if ((rc = ty_gemm(&H2, &X2, W_ih, 0.0, a, e))) return rc;
    const double *packed = NULL; /* W_hh packed for every step's product, when that pays */
    if (lanes) {
        if ((rc = ty_workspace_reserve(ws, ty_packed_size(H, H), a, e))) return rc;
        ty_pack(ws->data, W_hh);
        packed = ws->data;
    }
    ty_tensor steps[2]; /* the view of this step's h, and of the one before it */
    for (int64_t t = 0; t < T; t++) {
        ty_tensor *ht = &steps[t & 1];
        *ht = step_of(h, t);
        const ty_tensor *prev = t == 0 ? h0 : &steps[(t - 1) & 1];
        if (packed && ty_packed_fits(ht, prev))
            ty_packed_gemm(ht, prev, packed, 1);
        else if ((rc = ty_gemm(ht, prev, W_hh, 1.0, a, e)))
            return rc;
        add_bias_tanh(ht, b);
    }
    return TY_OK;
}

/* dst (rows x cols, contiguous) = src (rows x cols, any strides). */
static void copy_rows(double *dst, const ty_tensor *src)
{
    int64_t R = src->shape[0], C = src->shape[1];
    for (int64_t i = 0; i < R; i++) {
        const double *p = src->data + i * src->stride[0];
        if (src->stride[1] == 1)
            memcpy(dst + i * C, p, (size_t)C * sizeof(double));
        else
            for (int64_t j = 0; j < C; j++) dst[i * C + j] = p[j * src->stride[1]];
    }
}

/* dst (rows x cols, any strides) = src (rows x cols, contiguous). */
static void store_rows(ty_tensor *dst, const double *src)
{
    int64_t R = dst->shape[0], C = dst->shape[1];
    for (int64_t i = 0; i < R; i++) {
        double *p = dst->data + i * dst->stride[0];
        if (dst->stride[1] == 1)
            memcpy(p, src + i * C, (size_t)C * sizeof(double));
        else
            for (int64_t j = 0; j < C; j++) p[j * dst->stride[1]] = src[i * C + j];
    }
}

/* Backpropagation through time in chunks of steps. Within a chunk the recurrence runs one
   step at a time (dh needs a GEMM per step); the chunk's dA, its inputs and its previous
   states are gathered time-major into the workspace, so dx, dW_ih and dW_hh each take one
   GEMM per chunk over at least CHUNK_ROWS rows. The workspace stays a few MB
   whatever T is, where a whole-sequence dA would be as big as the output. */
#ifndef CHUNK_ROWS
#define CHUNK_ROWS 512 /* rows per chunk GEMM: near full speed, a few MB of workspace */
#endif
#ifndef LANE_CHUNK_ROWS
#define LANE_CHUNK_ROWS 256 /* on lanes the chunk's dA is packed too: half the rows */
#endif
/* The backward's chunks on one thread: what ty_rnn_backward sets up for them. */
typedef struct chunks {
    ty_tensor *dx, *dh0, *dW_ih, *dW_hh, *db;
    const ty_tensor *dout, *x, *h0, *h;
    ty_tensor W_hhT, W_ihT;      /* views, or W_hh^T copied row-major */
    const double *WT;            /* W_hh^T packed, or NULL */
    double *dAc, *Xc, *Pc, *dXc; /* the chunk's dA, x rows, h_{t-1} rows and dx rows */
    ty_tensor *dh, *dh2;         /* dh of this step and of the one before it */
    int64_t N, D, H;
    const ty_allocator *a;
} chunks;

/* Steps t1-1 down to t0 of a chunk: each step's dA_t (into the chunk's dA) and the dh of the
   step before it, gathering the chunk's x and h_{t-1} rows for its products. */
static int chunk_steps(chunks *k, int64_t t0, int64_t t1, ty_error *e)
{
    int64_t N = k->N, D = k->D, H = k->H;
    for (int64_t t = t1 - 1; t >= t0; t--) {
        int64_t c = t - t0;
        ty_tensor dAt = matrix(k->dAc + c * N * H, N, H, H, 1);
        ty_tensor ht = step_of(k->h, t), dot = step_of(k->dout, t), xt = step_of(k->x, t);
        tanh_grad(&dAt, k->dh, &dot, &ht);
        /* the last step back writes the gradient of h0 directly */
        ty_tensor *dprev = t == 0 ? k->dh0 : k->dh2;
        int rc;
        if (k->WT && ty_packed_fits(dprev, &dAt))
            ty_packed_gemm(dprev, &dAt, k->WT, 0);
        else if ((rc = ty_gemm(dprev, &dAt, &k->W_hhT, 0.0, k->a, e)))
            return rc;
        ty_tensor *swap = k->dh;
        k->dh = k->dh2;
        k->dh2 = swap;
        copy_rows(k->Xc + c * N * D, &xt);
        if (t == 0) {
            copy_rows(k->Pc, k->h0);
        } else {
            ty_tensor prev = step_of(k->h, t - 1);
            copy_rows(k->Pc + c * N * H, &prev);
        }
    }
    return TY_OK;
}

/* A chunk's whole-chunk products: dW_ih, dW_hh and db (overwritten by the first chunk back,
   accumulated after), and its rows of dx, scattered back to N x T x D. */
static int chunk_products(chunks *k, int64_t t0, int64_t t1, int first, ty_error *e)
{
    int64_t N = k->N, D = k->D, H = k->H, rows = (t1 - t0) * N;
    ty_tensor dA = matrix(k->dAc, rows, H, H, 1);
    ty_tensor XT = matrix(k->Xc, D, rows, 1, D), PT = matrix(k->Pc, H, rows, 1, H);
    double beta = first ? 0.0 : 1.0;
    int rc;
    if ((rc = ty_gemm(k->dW_ih, &XT, &dA, beta, k->a, e))) return rc;
    if ((rc = ty_gemm(k->dW_hh, &PT, &dA, beta, k->a, e))) return rc;
    if (first) ty_fill(k->db, 0.0);
    column_sums_add(k->db, &dA);
    ty_tensor dX = matrix(k->dXc, rows, D, D, 1);
    if ((rc = ty_gemm(&dX, &dA, &k->W_ihT, 0.0, k->a, e))) return rc;
    for (int64_t t = t0; t < t1; t++) {
        ty_tensor dxt = step_of(k->dx, t);
        store_rows(&dxt, k->dXc + (t - t0) * N * D);
    }
    return TY_OK;
}

int ty_rnn_backward(ty_tensor *dx, ty_tensor *dh0, ty_tensor *dW_ih, ty_tensor *dW_hh,
                    ty_tensor *db, const ty_tensor *dout, const ty_tensor *x,
                    const ty_tensor *h0, const ty_tensor *h, const ty_tensor *W_ih,
                    const ty_tensor *W_hh, ty_tensor *ws, const ty_allocator *a, ty_error *e)
{
    int rc;
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2], D = x->shape[2];
    TY_ASSERT(is_sequence(x, N, T, D) && is_sequence(dout, N, T, H) && is_matrix(h0, N, H) &&
              is_matrix(W_ih, D, H) && is_matrix(W_hh, H, H) && is_sequence(dx, N, T, D) &&
              is_matrix(dh0, N, H) && is_matrix(dW_ih, D, H) && is_matrix(dW_hh, H, H) &&
              db->ndim == 1 && db->shape[0] == H);
    if (N == 0 || T == 0 || H == 0) { /* no step: every gradient is zero (and no chunk runs) */
        ty_fill(dx, 0.0);
        ty_fill(dh0, 0.0);
        ty_fill(dW_ih, 0.0);
        ty_fill(dW_hh, 0.0);
        ty_fill(db, 0.0);
        return TY_OK;
    }
    int64_t C = (CHUNK_ROWS + N - 1) / N; /* steps per chunk */
    if (C > T) C = T;
    int64_t R = C * N;
    /* The recurrence's dA_t W_hh^T runs on W_hh^T packed once (where that beats a BLAS call
       per step) or else on a row-major copy of it, which OpenBLAS multiplies about a tenth
       faster (one thread, N64 H512) than a transposed view; see long_sequence. */
    step_plan plan = plan_steps(N, T, H);
    int lanes = plan.lanes;
    /* the lanes write dh0, dW_ih and dW_hh as packed products do: unit column strides */
    if (plan.whole && ty_packed_fits(dh0, dW_ih) && ty_packed_fits(dW_hh, dW_hh)) {
        int64_t LC = (LANE_CHUNK_ROWS + N - 1) / N;
        return backward_on_lanes(lanes, dx, dh0, dW_ih, dW_hh, db, dout, x, h0, h, W_ih, W_hh,
                                 LC < T ? LC : T, ws, a, e);
    }
    int packed = lanes > 0, copy_WT = !packed && long_sequence(N, T, H);
    int64_t WT_size = packed ? ty_packed_size(H, H) : copy_WT ? H * H : 0;
    if ((rc = ty_workspace_reserve(ws, WT_size + R * (2 * H + 2 * D) + 2 * N * H, a, e)))
        return rc;
    chunks k = { dx, dh0, dW_ih, dW_hh, db, dout, x, h0, h, transposed(W_hh), transposed(W_ih),
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, N, D, H, a };
    double *WT = ws->data; /* first, so the packed panels start on a cache line */
    k.dAc = WT + WT_size;
    k.Xc = k.dAc + R * H;
    k.Pc = k.Xc + R * D;
    k.dXc = k.Pc + R * H + 2 * N * H;
    ty_tensor dh_a = matrix(k.Pc + R * H, N, H, H, 1), dh_b = matrix(k.Pc + R * H + N * H, N, H, H, 1);
    k.dh = &dh_a;
    k.dh2 = &dh_b;
    ty_fill(k.dh, 0.0);
    if (packed) {
        ty_pack(WT, &k.W_hhT);
        k.WT = WT;
    } else if (copy_WT) {
        ty_tensor copy = matrix(WT, H, H, H, 1);
        ty_assign(&copy, &k.W_hhT);
        k.W_hhT = copy;
    }
    for (int64_t t1 = T; t1 > 0;) {
        int64_t t0 = t1 > C ? t1 - C : 0;
        if ((rc = chunk_steps(&k, t0, t1, e))) return rc;
        if ((rc = chunk_products(&k, t0, t1, t1 == T, e))) return rc;
        t1 = t0;
    }
    return TY_OK;
}
