/* recurrent.c: the sequence driver every recurrent cell runs on (recurrent.h, cell.h):
   whole-sequence GEMMs wherever the math allows, one product per step for the recurrence
   with the cell's nonlinearities after it, a backward in chunks with whole-chunk GEMMs, the
   packed product and the lanes, and no allocation per time step. */
#include "nn/recurrent.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/lanes.h"
#include "core/linalg.h"
#include "core/ops.h"
#include "core/packed_gemm.h"

/* ---- views ------------------------------------------------------------------------------ */

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

/* x (N x T x K) as an (N*T) x K matrix, when its strides allow. */
static int as_rows(ty_tensor *m, const ty_tensor *seq)
{
    ty_tensor v = *seq;
    int64_t shape[2] = { seq->shape[0] * seq->shape[1], seq->shape[2] };
    if (!ty_view_reshape(&v, 2, shape)) return 0;
    *m = v;
    return 1;
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

/* db += column sums of the rows x n matrix m. */
TY_VECTOR_CLONES
static void add_row(double *out, const double *row, int64_t n)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) *(ty_v4d_u *)(out + j) = TY_LOAD4(out + j) + TY_LOAD4(row + j);
    for (; j < n; j++) out[j] += row[j];
}

static void column_sums_add(ty_tensor *db, const ty_tensor *m)
{
    int64_t R = m->shape[0], n = m->shape[1];
    int unit = db->stride[0] == 1 && m->stride[1] == 1;
    for (int64_t i = 0; i < R; i++) {
        const double *row = m->data + i * m->stride[0];
        if (unit) add_row(db->data, row, n);
        else
            for (int64_t j = 0; j < n; j++) db->data[j * db->stride[0]] += row[j * m->stride[1]];
    }
}

int ty_workspace_reserve(ty_tensor *ws, int64_t n, const ty_allocator *a, ty_error *e)
{
    if (ws->storage && ws->storage->size >= n) return TY_OK;
    ty_tensor_free(ws);
    return ty_tensor_alloc(ws, a, 1, &n, e);
}

/* ---- checks ----------------------------------------------------------------------------- */

const char *ty_recurrent_bias_name(const ty_cell *cell, int which)
{
    return cell->two_biases ? (which ? "b_hh" : "b_ih") : "b";
}

/* "H" or "4H": a gate block's or a layer's width in the messages */
static const char *gates_of_h(const ty_cell *cell, char *buf, size_t n)
{
    if (cell->gates == 1) return "H";
    snprintf(buf, n, "%dH", cell->gates);
    return buf;
}

int ty_recurrent_check_weights(const ty_recurrent *r, const char *fname, ty_error *e)
{
    const ty_cell *cell = r->cell;
    const ty_tensor *W_ih = r->W_ih, *W_hh = r->W_hh;
    char s1[96], s2[96], kh[16];
    const char *KH = gates_of_h(cell, kh, sizeof kh);
    if (W_ih->ndim != 2 || W_ih->shape[1] % cell->gates != 0)
        return ty_fail(e, TY_EARG, "%s: W_ih is %s but must be a D x %s matrix", fname,
                       ty_shape_str(W_ih, s1, sizeof s1), KH);
    if (W_hh->ndim != 2 || W_hh->shape[1] != W_ih->shape[1] ||
        W_hh->shape[0] * cell->gates != W_ih->shape[1])
        return ty_fail(e, TY_EARG, "%s: W_hh is %s but W_ih is %s (W_hh must be H x %s with %s = W_ih columns)",
                       fname, ty_shape_str(W_hh, s1, sizeof s1), ty_shape_str(W_ih, s2, sizeof s2),
                       KH, KH);
    for (int which = 0; which < 1 + cell->two_biases; which++) {
        const ty_tensor *b = which ? r->b_hh : r->b_ih;
        const char *bn = ty_recurrent_bias_name(cell, which);
        if (b->ndim != 1 || b->shape[0] != W_ih->shape[1])
            return ty_fail(e, TY_EARG, "%s: %s is %s but W_ih is %s (%s must be a vector of %s = W_ih columns)",
                           fname, bn, ty_shape_str(b, s1, sizeof s1),
                           ty_shape_str(W_ih, s2, sizeof s2), bn, KH);
    }
    return TY_OK;
}

int ty_check_matrix(const ty_tensor *m, const char *mname, int64_t rows, int64_t cols,
                    const char *why, const char *fname, ty_error *e)
{
    if (m->ndim == 2 && m->shape[0] == rows && m->shape[1] == cols) return TY_OK;
    char s1[96], s2[96];
    int64_t want[2] = { rows, cols };
    return ty_fail(e, TY_EARG, "%s: %s is %s but must be %s (%s)", fname, mname,
                   ty_shape_str(m, s1, sizeof s1), ty_shape_str_n(2, want, s2, sizeof s2), why);
}

int ty_recurrent_check_input(const ty_recurrent *r, const ty_tensor *x, int seq,
                             const ty_tensor *h0, const ty_tensor *c0, const char *fname,
                             const char *hname, const char *cname, ty_error *e)
{
    int rc;
    if ((rc = ty_recurrent_check_weights(r, fname, e))) return rc;
    int64_t D = r->W_ih->shape[0], H = r->W_hh->shape[0];
    char s1[96], s2[96];
    if (x->ndim != (seq ? 3 : 2) || x->shape[x->ndim - 1] != D)
        return ty_fail(e, TY_EARG, "%s: x is %s but W_ih is %s (x must be %s with D = W_ih rows)",
                       fname, ty_shape_str(x, s1, sizeof s1), ty_shape_str(r->W_ih, s2, sizeof s2),
                       seq ? "N x T x D" : "N x D");
    const char *why = seq ? "N = x's first size, H = W_hh rows" : "N = x rows, H = W_hh rows";
    if (h0 && (rc = ty_check_matrix(h0, hname, x->shape[0], H, why, fname, e))) return rc;
    if (c0 && (rc = ty_check_matrix(c0, cname, x->shape[0], H, why, fname, e))) return rc;
    return TY_OK;
}

int ty_recurrent_check_fit(const ty_recurrent *r, int64_t D, int64_t H, const char *fname,
                           ty_error *e)
{
    int rc;
    int64_t G = r->cell->gates * H;
    const char *why = "the sizes of the last forward";
    if ((rc = ty_check_matrix(r->W_ih, "W_ih", D, G, why, fname, e))) return rc;
    if ((rc = ty_check_matrix(r->W_hh, "W_hh", H, G, why, fname, e))) return rc;
    for (int which = 0; which < 1 + r->cell->two_biases; which++) {
        const ty_tensor *b = which ? r->b_hh : r->b_ih;
        if (b->ndim != 1 || b->shape[0] != G) {
            char s1[96];
            return ty_fail(e, TY_EARG, "%s: %s is %s but must be %lld (%s)", fname,
                           ty_recurrent_bias_name(r->cell, which), ty_shape_str(b, s1, sizeof s1),
                           (long long)G, why);
        }
    }
    return TY_OK;
}

int64_t ty_recurrent_cache_width(const ty_cell *cell, int64_t H)
{
    return cell->row_is_h ? 0 : cell->row_width * H;
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

static int weights_are(const ty_recurrent *r, int64_t D, int64_t H)
{
    int64_t G = r->cell->gates * H;
    return is_matrix(r->W_ih, D, G) && is_matrix(r->W_hh, H, G) && r->b_ih->ndim == 1 &&
           r->b_ih->shape[0] == G &&
           (!r->cell->two_biases || (r->b_hh && r->b_hh->ndim == 1 && r->b_hh->shape[0] == G));
}
#endif

/* ---- how the products run ----------------------------------------------------------------- */

/* Whether a sequence is long enough for its steps' products to take W_hh (or W_hh^T) packed
   once or copied once: that costs kH*H moves and as much workspace, so it takes at least
   4*H rows over all the steps; the copy then pays for itself. */
static int long_sequence(int64_t N, int64_t T, int64_t H)
{
    return H > 0 && N * T >= 4 * H;
}

/* Multiply-adds in one step's product (per gate) worth a second lane: below this, meeting
   the other lanes at every step costs more than the split saves. */
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

static step_plan plan_steps(int path, int64_t N, int64_t T, int64_t H)
{
    step_plan p = { 0, 0 };
    if (!long_sequence(N, T, H) || path == TY_PATH_BLAS) return p;
    if (path == TY_PATH_STEPS) {
        p.lanes = 1;
        return p;
    }
    if (path >= 1) {
        p.lanes = path > TY_MAX_LANES ? TY_MAX_LANES : path;
        p.whole = 1;
        return p;
    }
    if (!ty_packed_pays()) return p;
    /* as many lanes as BLAS threads, but each with half of LANE_MIN_WORK at least and a
       panel of columns at least */
    int64_t lanes = ty_blas_threads();
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
   (pre = X2 W_ih, which the forward then computes again): the best of two runs each of the
   OpenBLAS call and of the packed kernel gate by gate as the lanes run it, packing
   included. P has room for one gate's packed W_ih. */
static int one_lane_measure(ty_tensor *pre, const ty_tensor *X2, const ty_tensor *W_ih,
                            int gates, double *P, const ty_allocator *a, ty_error *e)
{
    int64_t H = W_ih->shape[1] / gates;
    double blas = 1e300, packed = 1e300;
    for (int i = 0; i < 2; i++) {
        double t0 = seconds_now();
        int rc = ty_gemm(pre, X2, W_ih, 0.0, a, e);
        if (rc) return rc;
        double t1 = seconds_now();
        for (int b = 0; b < gates; b++) {
            ty_tensor w = columns(W_ih, b * H, (b + 1) * H), out = columns(pre, b * H, (b + 1) * H);
            ty_pack(P, &w);
            ty_packed_gemm(&out, X2, P, 0);
        }
        double t2 = seconds_now();
        if (t1 - t0 < blas) blas = t1 - t0;
        if (t2 - t1 < packed) packed = t2 - t1;
    }
    atomic_store_explicit(&one_lane_choice, packed < blas ? 2 : 1, memory_order_relaxed);
    return TY_OK;
}

int ty_recurrent_one_lane_packed(void)
{
    return atomic_load_explicit(&one_lane_choice, memory_order_relaxed);
}

/* Gate blocks whose h_{t-1} W_hh products go to adjacent columns the same way, merged into
   one product (on one thread): the RNN's and the LSTM's are one, the GRU's two. */
typedef struct product_run {
    int first, count, dest, acc;
} product_run;

static int product_runs(const ty_cell *c, product_run *runs)
{
    int n = 0;
    for (int b = 0; b < c->gates; b++) {
        if (n && runs[n - 1].acc == c->acc[b] && runs[n - 1].dest + runs[n - 1].count == c->dest[b] &&
            runs[n - 1].first + runs[n - 1].count == b) {
            runs[n - 1].count++;
        } else {
            runs[n].first = b, runs[n].count = 1, runs[n].dest = c->dest[b], runs[n].acc = c->acc[b];
            n++;
        }
    }
    return n;
}

/* Gate blocks whose input-side gradients sit in adjacent columns of dG: runs of W_ih's
   columns [first*H, (first+count)*H) against dG's [dest*H, ...). */
static int input_runs(const ty_cell *c, product_run *runs)
{
    int n = 0;
    for (int b = 0; b < c->gates; b++) {
        if (n && runs[n - 1].dest + runs[n - 1].count == c->xcol[b] &&
            runs[n - 1].first + runs[n - 1].count == b) {
            runs[n - 1].count++;
        } else {
            runs[n].first = b, runs[n].count = 1, runs[n].dest = c->xcol[b], runs[n].acc = 0;
            n++;
        }
    }
    return n;
}

/* ---- the workspace ------------------------------------------------------------------------- */

/* Workspace regions are laid out by adding their sizes (packed operands first, so their
   panels start on a cache line: every packed size is a multiple of 16 doubles), reserved
   at once and then carved. */
typedef struct layout {
    int64_t used;
} layout;

static int64_t take(layout *l, int64_t n)
{
    int64_t at = l->used;
    l->used += n;
    return at;
}

/* The small regions every pass needs: the biases, h0 and c0 with unit column strides: the
   tensors themselves where they have them, else copies in the workspace at `at` (zeros
   for a state left out). */
typedef struct states {
    const double *b_ih, *b_hh, *h0, *c0;
    int64_t h0s, c0s; /* row strides */
} states;

static const double *vector_of(const ty_tensor *b, double *room)
{
    if (b->stride[0] == 1) return b->data;
    for (int64_t j = 0; j < b->shape[0]; j++) room[j] = b->data[j * b->stride[0]];
    return room;
}

static const double *state_of(const ty_tensor *h, double *room, int64_t N, int64_t H, int64_t *rs)
{
    if (h && h->stride[1] == 1) {
        *rs = h->stride[0];
        return h->data;
    }
    *rs = H;
    if (h) copy_rows(room, h);
    else memset(room, 0, (size_t)(N * H) * sizeof(double));
    return room;
}

static void set_states(states *s, double *ws, int64_t at, const ty_recurrent *r, int64_t N,
                       int64_t H, const ty_tensor *h0, const ty_tensor *c0)
{
    int64_t G = r->cell->gates * H;
    double *room = ws + at;
    s->b_ih = vector_of(r->b_ih, room);
    s->b_hh = r->cell->two_biases ? vector_of(r->b_hh, room + G) : NULL;
    s->h0 = state_of(h0, room + 2 * G, N, H, &s->h0s);
    s->c0 = r->cell->has_c ? state_of(c0, room + 2 * G + N * H, N, H, &s->c0s) : NULL;
    if (!r->cell->has_c) s->c0s = 0;
}

static int64_t states_size(int64_t N, int64_t H, int gates)
{
    return 2 * gates * H + 2 * N * H;
}

/* ---- forward -------------------------------------------------------------------------------- */

/* The largest step done in one pass, per gate: N*H*(D+H) <= SMALL_STEP_WORK keeps H under 64. */
#define SMALL_STEP_WORK 4096
#define SMALL_STEP_MAX_H 64

static int small_step(int64_t N, int64_t D, int64_t H, const ty_tensor *x, const ty_recurrent *r)
{
    return N * H * (D + H) <= SMALL_STEP_WORK && H <= SMALL_STEP_MAX_H && x->stride[2] == 1 &&
           r->W_ih->stride[1] == 1 && r->W_hh->stride[1] == 1;
}

/* A notebook-sized step's products in one pass, without GEMM calls and their dispatch: per
   gate block b, x_t W_ih's block into row column b*H, plus h_{t-1} W_hh's block (acc) or
   that stored at column dest[b]*H, four columns at a time, in the GEMM path's order (x W_ih
   first); BLAS may round its sums differently, so the two paths agree to within rounding
   (spec/rnn_reference_spec.lua), not to the bit. */
/* One gate block of one row, biases included: o[j] = x W_ih[:, j] + h W_hh[:, j] + bi[j]
   (+ bh[j]) when oh is NULL; else o[j] = x W_ih[:, j] + bi[j] and oh[j] = h W_hh[:, j] +
   bh[j]. bh is NULL for a cell with one bias. */
static inline __attribute__((always_inline)) void small_gate(double *o, double *oh, const double *xr, const double *pr,
                              const double *wi0, int64_t si, const double *wh0, int64_t sh,
                              int64_t D, int64_t H, const double *bi, const double *bh)
{
    int64_t j = 0;
    for (; j + 4 <= H; j += 4) {
        ty_v4d c = { 0, 0, 0, 0 }, c2 = { 0, 0, 0, 0 }, p = { 0, 0, 0, 0 };
        const double *w = wi0 + j;
        int64_t k = 0;
        for (; k + 2 <= D; k += 2, w += 2 * si) {
            c += xr[k] * TY_LOAD4(w);
            c2 += xr[k + 1] * TY_LOAD4(w + si);
        }
        if (k < D) c += xr[k] * TY_LOAD4(w);
        c += c2;
        w = wh0 + j;
        for (k = 0; k < H; k++, w += sh) p += pr[k] * TY_LOAD4(w);
        if (!oh) {
            ty_v4d bias = TY_LOAD4(bi + j);
            if (bh) bias += TY_LOAD4(bh + j);
            *(ty_v4d_u *)(o + j) = c + p + bias;
        } else {
            *(ty_v4d_u *)(o + j) = c + TY_LOAD4(bi + j);
            *(ty_v4d_u *)(oh + j) = p + TY_LOAD4(bh + j);
        }
    }
    for (; j < H; j++) {
        double c = 0, p = 0;
        for (int64_t k = 0; k < D; k++) c += xr[k] * wi0[k * si + j];
        for (int64_t k = 0; k < H; k++) p += pr[k] * wh0[k * sh + j];
        if (!oh) {
            o[j] = c + p + (bh ? bi[j] + bh[j] : bi[j]);
        } else {
            o[j] = c + bi[j];
            oh[j] = p + bh[j];
        }
    }
}

/* A notebook-sized step's products and biases in one pass, without GEMM calls and their
   dispatch, four columns at a time, in the GEMM path's order (x W_ih, then h W_hh, then
   the bias); BLAS may round its sums differently, so the two paths agree to within
   rounding (spec/recurrent_reference_spec.lua), not to the bit. */
TY_VECTOR_CLONES
static void small_step_sums(double *row, int64_t rs, const ty_tensor *xt, const double *ph,
                            int64_t phs, const ty_tensor *W_ih, const ty_tensor *W_hh,
                            const ty_cell *cell, const double *b_ih, const double *b_hh)
{
    int64_t N = xt->shape[0], D = xt->shape[1], H = W_hh->shape[0];
    int64_t si = W_ih->stride[0], sh = W_hh->stride[0];
    int gates = cell->gates;
    if (!b_hh) { /* one bias, every gate added: the RNN, the LSTM (specialized inline) */
        for (int64_t i = 0; i < N; i++)
            for (int b = 0; b < gates; b++)
                small_gate(row + i * rs + b * H, NULL, xt->data + i * xt->stride[0], ph + i * phs,
                           W_ih->data + b * H, si, W_hh->data + b * H, sh, D, H, b_ih + b * H, NULL);
        return;
    }
    for (int64_t i = 0; i < N; i++)
        for (int b = 0; b < gates; b++)
            small_gate(row + i * rs + b * H, cell->acc[b] ? NULL : row + i * rs + cell->dest[b] * H,
                       xt->data + i * xt->stride[0], ph + i * phs, W_ih->data + b * H, si,
                       W_hh->data + b * H, sh, D, H, b_ih + b * H, b_hh + b * H);
}

/* What a step forward reads and writes, for the cell. */
static ty_cell_forward cell_forward_args(const ty_cell *cell, const ty_tensor *rows,
                                         const ty_tensor *h, const states *s, int64_t t,
                                         int64_t c0, int64_t c1)
{
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2];
    ty_cell_forward f;
    f.N = N, f.H = H, f.c0 = c0, f.c1 = c1;
    f.row = rows->data + t * rows->stride[1];
    f.rs = rows->stride[0];
    f.h = h->data + t * h->stride[1];
    f.hs = h->stride[0];
    f.prev_h = t == 0 ? s->h0 : h->data + (t - 1) * h->stride[1];
    f.phs = t == 0 ? s->h0s : h->stride[0];
    f.prev_c = t == 0 ? s->c0 : f.row - rows->stride[1] + cell->c_col * H;
    f.pcs = t == 0 ? s->c0s : rows->stride[0];
    f.b_ih = s->b_ih;
    f.b_hh = s->b_hh;
    f.biased = 0;
    (void)T;
    return f;
}

/* Forward on lanes. Step 0 packs the lane's columns of each gate block of W_ih and W_hh and
   computes its columns of every input projection; step 1 + t computes its columns of every
   gate at step t from the whole of h_{t-1}, then its hidden units' h_t. A lane reads only
   its own panels, so no lane waits for another's packing. */
typedef struct forward_lanes {
    const ty_cell *cell;
    const ty_tensor *X2, *R2, *rows, *h, *W_ih, *W_hh;
    const states *s;
    double *P_ih, *P_hh; /* gate b's at + b * ty_packed_size(D or H, H) */
    int64_t D, H, n_ih, n_hh;
} forward_lanes;

static void lane_range(int64_t n, int lane, int lanes, int64_t *c0, int64_t *c1)
{
    ty_lane_columns(n, TY_PACKED_PANEL, lane, lanes, c0, c1);
}

static void forward_lane(void *p, int lane, int lanes, int64_t s)
{
    const forward_lanes *c = p;
    const ty_cell *cell = c->cell;
    int64_t c0, c1, H = c->H;
    lane_range(H, lane, lanes, &c0, &c1);
    if (c0 >= c1) return;
    if (s == 0) {
        for (int b = 0; b < cell->gates; b++) {
            ty_tensor wi = columns(c->W_ih, b * H + c0, b * H + c1);
            ty_tensor wh = columns(c->W_hh, b * H + c0, b * H + c1);
            double *pi = c->P_ih + b * c->n_ih + c0 * c->D, *ph = c->P_hh + b * c->n_hh + c0 * H;
            ty_pack(pi, &wi);
            ty_pack(ph, &wh);
            ty_tensor proj = columns(c->R2, b * H + c0, b * H + c1);
            ty_packed_gemm(&proj, c->X2, pi, 0);
        }
        return;
    }
    int64_t t = s - 1;
    ty_cell_forward f = cell_forward_args(cell, c->rows, c->h, c->s, t, c0, c1);
    ty_tensor prev = matrix((double *)f.prev_h, f.N, H, f.phs, 1);
    for (int b = 0; b < cell->gates; b++) {
        ty_tensor out = matrix(f.row + cell->dest[b] * H + c0, f.N, c1 - c0, f.rs, 1);
        ty_packed_gemm(&out, &prev, c->P_hh + b * c->n_hh + c0 * H, cell->acc[b]);
    }
    cell->forward(&f);
}

static int forward_on_lanes(const ty_recurrent *r, int lanes, const ty_tensor *h,
                            const ty_tensor *rows, const ty_tensor *X2, const ty_tensor *R2,
                            const ty_tensor *h0, const ty_tensor *c0, ty_error *e)
{
    const ty_cell *cell = r->cell;
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2], D = r->W_ih->shape[0];
    int64_t n_hh = ty_packed_size(H, H), n_ih = ty_packed_size(D, H);
    layout l = { 0 };
    int64_t at_hh = take(&l, cell->gates * n_hh), at_ih = take(&l, cell->gates * n_ih);
    int64_t at_s = take(&l, states_size(N, H, cell->gates));
    int rc = ty_workspace_reserve(r->ws, l.used, r->a, e);
    if (rc) return rc;
    states s;
    set_states(&s, r->ws->data, at_s, r, N, H, h0, c0);
    forward_lanes c = { cell, X2, R2, rows, h, r->W_ih, r->W_hh, &s, r->ws->data + at_ih,
                        r->ws->data + at_hh, D, H, n_ih, n_hh };
    ty_lanes_run(lanes, T + 1, forward_lane, &c);
    return TY_OK;
}

int ty_recurrent_forward(const ty_recurrent *r, ty_tensor *h, ty_tensor *cache,
                         const ty_tensor *x, const ty_tensor *h0, const ty_tensor *c0,
                         ty_error *e)
{
    int rc;
    const ty_cell *cell = r->cell;
    int64_t N = x->shape[0], T = x->shape[1], D = x->shape[2], H = r->W_hh->shape[0];
    int64_t G = cell->gates * H;
    const ty_tensor *rows = cell->row_is_h ? h : cache;
    TY_ASSERT(weights_are(r, D, H) && is_sequence(h, N, T, H) &&
              (cell->row_is_h || is_sequence(cache, N, T, cell->row_width * H)) &&
              (!h0 || is_matrix(h0, N, H)) && (!c0 || is_matrix(c0, N, H)) &&
              rows->stride[2] == 1 && h->stride[2] == 1);
    if (N == 0 || T == 0 || H == 0) return TY_OK; /* h is empty: no step to take, however many */
    ty_tensor X2, R2;
    if (T == 1) { /* a step: no reshaping to do */
        X2 = step_of(x, 0);
        R2 = step_of(rows, 0);
    } else if (!as_rows(&X2, x) || !as_rows(&R2, rows)) {
        return ty_fail(e, TY_EARG, "forward: x must be reshapeable to (N*T) x D");
    }
    if (small_step(N, D, H, x, r)) { /* notebook-sized: every step's products in one pass */
        int64_t at_s = 0;
        if ((rc = ty_workspace_reserve(r->ws, states_size(N, H, cell->gates), r->a, e))) return rc;
        states s;
        set_states(&s, r->ws->data, at_s, r, N, H, h0, c0);
        for (int64_t t = 0; t < T; t++) {
            ty_cell_forward f = cell_forward_args(cell, rows, h, &s, t, 0, H);
            ty_tensor xt = step_of(x, t);
            small_step_sums(f.row, f.rs, &xt, f.prev_h, f.phs, r->W_ih, r->W_hh, cell, s.b_ih, s.b_hh);
            f.biased = 1;
            cell->forward(&f);
        }
        return TY_OK;
    }
    ty_tensor pre = columns(&R2, 0, G); /* the input projections */
    step_plan plan = plan_steps(r->path, N, T, H);
    int fits = ty_packed_fits(&pre, &X2);
    if (plan.lanes == 1 && !plan.whole && fits && r->path == TY_PATH_AUTO &&
        !atomic_load_explicit(&one_lane_choice, memory_order_relaxed)) {
        if ((rc = ty_workspace_reserve(r->ws, ty_packed_size(D, H), r->a, e))) return rc;
        if ((rc = one_lane_measure(&pre, &X2, r->W_ih, cell->gates, r->ws->data, r->a, e)))
            return rc;
        plan = plan_steps(r->path, N, T, H);
    }
    if (plan.whole && fits) return forward_on_lanes(r, plan.lanes, h, rows, &X2, &R2, h0, c0, e);

    product_run runs[4];
    int nruns = product_runs(cell, runs);
    layout l = { 0 };
    int64_t at_p[4] = { 0 };
    if (plan.lanes)
        for (int i = 0; i < nruns; i++) at_p[i] = take(&l, ty_packed_size(H, runs[i].count * H));
    int64_t at_s = take(&l, states_size(N, H, cell->gates));
    if ((rc = ty_workspace_reserve(r->ws, l.used, r->a, e))) return rc;
    states s;
    set_states(&s, r->ws->data, at_s, r, N, H, h0, c0);
    const double *packed[4] = { NULL }; /* each run's W_hh columns, packed when that pays */
    for (int i = 0; plan.lanes && i < nruns; i++) {
        ty_tensor w = columns(r->W_hh, runs[i].first * H, (runs[i].first + runs[i].count) * H);
        ty_pack(r->ws->data + at_p[i], &w);
        packed[i] = r->ws->data + at_p[i];
    }
    /* all input projections at once, straight into the rows */
    if ((rc = ty_gemm(&pre, &X2, r->W_ih, 0.0, r->a, e))) return rc;
    for (int64_t t = 0; t < T; t++) {
        ty_cell_forward f = cell_forward_args(cell, rows, h, &s, t, 0, H);
        ty_tensor prev = matrix((double *)f.prev_h, N, H, f.phs, 1);
        for (int i = 0; i < nruns; i++) {
            ty_tensor out = matrix(f.row + runs[i].dest * H, N, runs[i].count * H, f.rs, 1);
            if (packed[i] && ty_packed_fits(&out, &prev)) {
                ty_packed_gemm(&out, &prev, packed[i], runs[i].acc);
            } else {
                ty_tensor w = columns(r->W_hh, runs[i].first * H, (runs[i].first + runs[i].count) * H);
                if ((rc = ty_gemm(&out, &prev, &w, runs[i].acc ? 1.0 : 0.0, r->a, e))) return rc;
            }
        }
        cell->forward(&f);
    }
    return TY_OK;
}

void ty_recurrent_last(const ty_recurrent *r, ty_tensor *h_n, ty_tensor *c_n, const ty_tensor *h,
                       const ty_tensor *cache, const ty_tensor *h0, const ty_tensor *c0)
{
    int64_t T = h->shape[1], H = h->shape[2];
    if (h_n) {
        if (T == 0 && h0) ty_assign(h_n, h0);
        else if (T == 0) ty_fill(h_n, 0.0);
        else {
            ty_tensor last = step_of(h, T - 1);
            ty_assign(h_n, &last);
        }
    }
    if (c_n && r->cell->has_c) {
        if (T == 0 && c0) ty_assign(c_n, c0);
        else if (T == 0 || H == 0) ty_fill(c_n, 0.0);
        else {
            ty_tensor last = step_of(cache, T - 1);
            ty_tensor c = columns(&last, r->cell->c_col * H, (r->cell->c_col + 1) * H);
            ty_assign(c_n, &c);
        }
    }
}

/* ---- backward ------------------------------------------------------------------------------- */

/* Backpropagation through time in chunks of steps. Within a chunk the recurrence runs one
   step at a time (dh needs a product per step); the chunk's gradient rows dG, its inputs
   and its previous states are gathered time-major into the workspace, so dx, dW_ih and
   dW_hh each take one GEMM per chunk over at least CHUNK_ROWS rows. The workspace stays a
   few MB whatever T is, where a whole-sequence dG would be as big as the cache. */
#ifndef CHUNK_ROWS
#define CHUNK_ROWS 512 /* rows per chunk GEMM: near full speed, a few MB of workspace */
#endif
#ifndef LANE_CHUNK_ROWS
#define LANE_CHUNK_ROWS 256 /* on lanes the chunk's dG is packed too: half the rows */
#endif

/* What a step backward reads and writes, for the cell; dh, dc and dprev are the driver's. */
static ty_cell_backward cell_backward_args(const ty_cell *cell, const ty_tensor *rows,
                                           const ty_tensor *h, const ty_tensor *dout,
                                           const states *s, int64_t t, int64_t c0, int64_t c1)
{
    int64_t N = h->shape[0], H = h->shape[2];
    ty_cell_backward b;
    memset(&b, 0, sizeof b);
    b.N = N, b.H = H, b.c0 = c0, b.c1 = c1;
    b.row = rows->data + t * rows->stride[1];
    b.rs = rows->stride[0];
    b.h = h->data + t * h->stride[1];
    b.hs = h->stride[0];
    b.prev_h = t == 0 ? s->h0 : h->data + (t - 1) * h->stride[1];
    b.phs = t == 0 ? s->h0s : h->stride[0];
    b.prev_c = t == 0 ? s->c0 : b.row - rows->stride[1] + cell->c_col * H;
    b.pcs = t == 0 ? s->c0s : rows->stride[0];
    b.dout = dout->data + t * dout->stride[1];
    b.dos = dout->stride[0];
    return b;
}

/* The backward's chunks on one thread: what ty_recurrent_backward sets up for them. */
typedef struct chunks {
    const ty_recurrent *r;
    const ty_recurrent_grads *g;
    const ty_tensor *dout, *x, *h, *rows;
    const states *s;
    ty_tensor W_hhT;             /* a view, or W_hh^T copied row-major */
    const double *WT;            /* W_hh^T packed, or NULL */
    double *dGc, *Xc, *Pc, *dXc; /* the chunk's dG, x rows, h_{t-1} rows and dx rows */
    double *dh, *dh2, *dc;       /* dL/dh of this step and of the one before it; dL/dc */
    int64_t N, D, H, Wd;
} chunks;

/* Steps t1-1 down to t0 of a chunk: each step's gradient rows (into the chunk's dG) and the
   dh of the step before it, gathering the chunk's x and h_{t-1} rows for its products. */
static int chunk_steps(chunks *k, int64_t t0, int64_t t1, ty_error *e)
{
    const ty_cell *cell = k->r->cell;
    int64_t N = k->N, D = k->D, H = k->H, Wd = k->Wd, G = cell->gates * H;
    for (int64_t t = t1 - 1; t >= t0; t--) {
        int64_t c = t - t0;
        ty_cell_backward b = cell_backward_args(cell, k->rows, k->h, k->dout, k->s, t, 0, H);
        b.dh = k->dh, b.dhs = H;
        b.dc = k->dc;
        b.dG = k->dGc + c * N * Wd, b.dgs = Wd;
        b.dprev = k->dh2, b.dps = H;
        cell->backward(&b);
        ty_tensor dGh = matrix(b.dG, N, G, Wd, 1), dprev = matrix(k->dh2, N, H, H, 1);
        int rc;
        if (k->WT)
            ty_packed_gemm(&dprev, &dGh, k->WT, cell->direct_dh);
        else if ((rc = ty_gemm(&dprev, &dGh, &k->W_hhT, cell->direct_dh ? 1.0 : 0.0, k->r->a, e)))
            return rc;
        double *swap = k->dh;
        k->dh = k->dh2;
        k->dh2 = swap;
        ty_tensor xt = step_of(k->x, t);
        copy_rows(k->Xc + c * N * D, &xt);
        ty_tensor prev = matrix((double *)b.prev_h, N, H, b.phs, 1);
        copy_rows(k->Pc + c * N * H, &prev);
    }
    return TY_OK;
}

/* A chunk's whole-chunk products: dW_ih, dW_hh and the biases' gradients (overwritten by
   the first chunk back, accumulated after), and its rows of dx, scattered back to N x T x D. */
static int chunk_products(chunks *k, int64_t t0, int64_t t1, int first, ty_error *e)
{
    const ty_recurrent *r = k->r;
    const ty_recurrent_grads *g = k->g;
    const ty_cell *cell = r->cell;
    int64_t N = k->N, D = k->D, H = k->H, Wd = k->Wd, G = cell->gates * H, rows = (t1 - t0) * N;
    ty_tensor dG = matrix(k->dGc, rows, Wd, Wd, 1);
    ty_tensor XT = matrix(k->Xc, D, rows, 1, D), PT = matrix(k->Pc, H, rows, 1, H);
    double beta = first ? 0.0 : 1.0;
    int rc;
    product_run runs[4];
    int nruns = input_runs(cell, runs);
    if (first) {
        ty_fill(g->db_ih, 0.0);
        if (cell->two_biases) ty_fill(g->db_hh, 0.0);
    }
    for (int i = 0; i < nruns; i++) {
        int64_t w0 = runs[i].first * H, w1 = (runs[i].first + runs[i].count) * H;
        ty_tensor gi = columns(g->dW_ih, w0, w1);
        ty_tensor dGx = columns(&dG, runs[i].dest * H, runs[i].dest * H + w1 - w0);
        if ((rc = ty_gemm(&gi, &XT, &dGx, beta, r->a, e))) return rc;
        ty_tensor gb = part(g->db_ih, w0, w1);
        column_sums_add(&gb, &dGx);
    }
    ty_tensor dGh = columns(&dG, 0, G);
    if ((rc = ty_gemm(g->dW_hh, &PT, &dGh, beta, r->a, e))) return rc;
    if (cell->two_biases) column_sums_add(g->db_hh, &dGh);
    ty_tensor dX = matrix(k->dXc, rows, D, D, 1);
    for (int i = 0; i < nruns; i++) {
        int64_t w0 = runs[i].first * H, w1 = (runs[i].first + runs[i].count) * H;
        ty_tensor w = columns(r->W_ih, w0, w1), wT = transposed(&w);
        ty_tensor dGx = columns(&dG, runs[i].dest * H, runs[i].dest * H + w1 - w0);
        if ((rc = ty_gemm(&dX, &dGx, &wT, i ? 1.0 : 0.0, r->a, e))) return rc;
    }
    for (int64_t t = t0; t < t1; t++) {
        ty_tensor dxt = step_of(g->dx, t);
        store_rows(&dxt, k->dXc + (t - t0) * N * D);
    }
    return TY_OK;
}

/* Backward on lanes, in one run: chunk k back covers steps t1-1 down to t0, with
   t1 = T - k*C, in C + 2 phases (fewer in the last chunk, the one that reaches t = 0).
   Phase 0 (in the first chunk back) packs the lane's columns of W_hh^T and of each gate's
   W_ih^T; each step t takes two halves: its lane's hidden units of dG_t (and the chunk's
   gathers of x_t and h_{t-1}, transposed), then after every lane has its columns, the
   lane's columns of dh_{t-1} (+)= dG_t W_hh^T. The second half of step t shares a phase
   with the first half of step t-1, which reads only the columns the same lane just wrote.
   A last phase packs the lane's columns of the chunk's dG and computes its columns of
   dW_ih, dW_hh, the biases' gradients and dx. */
typedef struct backward_lanes {
    const ty_recurrent *r;
    const ty_recurrent_grads *g;
    const ty_tensor *dout, *x, *h, *rows;
    const states *s;
    double *P_hhT, *P_ihT, *P_dG; /* W_hh^T; gate b's W_ih^T at + b*n_ihT; dG block j at + j*n_dG */
    double *dGc, *XcT, *PcT, *dXc, *dh_buf[2], *dc;
    int64_t N, T, D, H, C, Wd, n_ihT, n_dG; /* C: steps per chunk */
} backward_lanes;

/* The chunk a phase belongs to: steps [*t0, *t1); returns the phase within it. */
static int64_t chunk_of(const backward_lanes *c, int64_t s, int64_t *t0, int64_t *t1)
{
    int64_t k = s / (c->C + 2);
    *t1 = c->T - k * c->C;
    *t0 = *t1 > c->C ? *t1 - c->C : 0;
    return s % (c->C + 2);
}

/* The first half of step t for the lane's hidden units c0..c1 and columns d0..d1 of D. */
static void backward_lane_first_half(const backward_lanes *c, int64_t t0, int64_t t1, int64_t t,
                                     int64_t c0, int64_t c1, int64_t d0, int64_t d1)
{
    const ty_cell *cell = c->r->cell;
    int64_t N = c->N, H = c->H, ci = t - t0, rows = (t1 - t0) * N;
    int64_t back = c->T - 1 - t; /* steps already taken back */
    ty_cell_backward b = cell_backward_args(cell, c->rows, c->h, c->dout, c->s, t, c0, c1);
    b.dh = c->dh_buf[back & 1], b.dhs = H;
    b.dc = c->dc;
    b.dG = c->dGc + ci * N * c->Wd, b.dgs = c->Wd;
    b.dprev = c->dh_buf[(back + 1) & 1], b.dps = H;
    if (c0 < c1) cell->backward(&b);
    /* gathers for the chunk's products: XcT (D x rows) and PcT (H x rows), time-major */
    ty_tensor xt = step_of(c->x, t);
    for (int64_t d = d0; d < d1; d++)
        for (int64_t n = 0; n < N; n++)
            c->XcT[d * rows + ci * N + n] = xt.data[n * xt.stride[0] + d * xt.stride[1]];
    for (int64_t j = c0; j < c1; j++)
        for (int64_t n = 0; n < N; n++)
            c->PcT[j * rows + ci * N + n] = b.prev_h[n * b.phs + j];
}

/* The second half of step t: the lane's columns of dh_{t-1}. */
static void backward_lane_second_half(const backward_lanes *c, int64_t t0, int64_t t,
                                      int64_t c0, int64_t c1)
{
    if (c0 >= c1) return;
    const ty_cell *cell = c->r->cell;
    int64_t N = c->N, H = c->H, ci = t - t0, back = c->T - 1 - t, G = cell->gates * H;
    ty_tensor dGh = matrix(c->dGc + ci * N * c->Wd, N, G, c->Wd, 1);
    ty_tensor out = matrix(c->dh_buf[(back + 1) & 1] + c0, N, c1 - c0, H, 1);
    ty_packed_gemm(&out, &dGh, c->P_hhT + c0 * G, cell->direct_dh);
}

static void backward_lane_products(const backward_lanes *c, int64_t t0, int64_t t1, int64_t c0,
                                   int64_t c1, int64_t d0, int64_t d1)
{
    const ty_cell *cell = c->r->cell;
    const ty_recurrent_grads *g = c->g;
    int64_t N = c->N, H = c->H, D = c->D, rows = (t1 - t0) * N, Wd = c->Wd;
    ty_tensor dG = matrix(c->dGc, rows, Wd, Wd, 1);
    int acc = t1 < c->T; /* the first chunk back overwrites */
    if (c0 < c1) {
        for (int64_t j = 0; j < Wd / H; j++) {
            ty_tensor cols = columns(&dG, j * H + c0, j * H + c1);
            ty_pack(c->P_dG + j * c->n_dG + c0 * rows, &cols);
        }
        ty_tensor XcT = matrix(c->XcT, D, rows, rows, 1), PcT = matrix(c->PcT, H, rows, rows, 1);
        for (int b = 0; b < cell->gates; b++) {
            int64_t w0 = b * H + c0, w1 = b * H + c1, xc = cell->xcol[b];
            ty_tensor gi = columns(g->dW_ih, w0, w1), gh = columns(g->dW_hh, w0, w1);
            ty_packed_gemm(&gi, &XcT, c->P_dG + xc * c->n_dG + c0 * rows, acc);
            ty_packed_gemm(&gh, &PcT, c->P_dG + b * c->n_dG + c0 * rows, acc);
            ty_tensor gb = part(g->db_ih, w0, w1), dGx = columns(&dG, xc * H + c0, xc * H + c1);
            if (!acc) ty_fill(&gb, 0.0);
            column_sums_add(&gb, &dGx);
            if (cell->two_biases) {
                ty_tensor gbh = part(g->db_hh, w0, w1), dGh = columns(&dG, w0, w1);
                if (!acc) ty_fill(&gbh, 0.0);
                column_sums_add(&gbh, &dGh);
            }
        }
    }
    if (d0 < d1) {
        ty_tensor dX = matrix(c->dXc, rows, D, D, 1), dX_cols = columns(&dX, d0, d1);
        for (int b = 0; b < cell->gates; b++) {
            int64_t xc = cell->xcol[b];
            ty_tensor dGx = columns(&dG, xc * H, xc * H + H);
            ty_packed_gemm(&dX_cols, &dGx, c->P_ihT + b * c->n_ihT + d0 * H, b > 0);
        }
        for (int64_t t = t0; t < t1; t++) { /* scatter the lane's columns to dx */
            ty_tensor dxt = step_of(g->dx, t);
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
    const ty_cell *cell = c->r->cell;
    int64_t c0, c1, d0, d1, t0, t1, H = c->H, G = cell->gates * H;
    int64_t phase = chunk_of(c, s, &t0, &t1), len = t1 - t0;
    lane_range(H, lane, lanes, &c0, &c1);
    lane_range(c->D, lane, lanes, &d0, &d1);
    if (s == 0) { /* W_hh^T and each gate's W_ih^T, the lane's columns */
        ty_tensor WhT = transposed(c->r->W_hh), wh = columns(&WhT, c0, c1);
        if (c0 < c1) ty_pack(c->P_hhT + c0 * G, &wh);
        for (int b = 0; d0 < d1 && b < cell->gates; b++) {
            ty_tensor w = columns(c->r->W_ih, b * H, b * H + H), wT = transposed(&w);
            ty_tensor wi = columns(&wT, d0, d1);
            ty_pack(c->P_ihT + b * c->n_ihT + d0 * H, &wi);
        }
    }
    if (phase > len) {
        backward_lane_products(c, t0, t1, c0, c1, d0, d1);
        return;
    }
    if (phase > 0) backward_lane_second_half(c, t0, t1 - phase, c0, c1);
    if (phase < len) backward_lane_first_half(c, t0, t1, t1 - 1 - phase, c0, c1, d0, d1);
}

/* The regions both backward paths need after their own: dh twice and dc, then the states. */
static void set_backward_states(const ty_recurrent *r, double *ws, layout *l, int64_t at_dh,
                                int64_t at_s, int64_t N, int64_t H, const ty_tensor *dc_last,
                                const ty_tensor *h0, const ty_tensor *c0, states *s)
{
    (void)l;
    memset(ws + at_dh, 0, (size_t)(2 * N * H) * sizeof(double)); /* dh after the last step */
    double *dc = ws + at_dh + 2 * N * H;
    if (dc_last) copy_rows(dc, dc_last);
    else memset(dc, 0, (size_t)(N * H) * sizeof(double));
    set_states(s, ws, at_s, r, N, H, h0, c0);
}

static int backward_on_lanes(const ty_recurrent *r, int lanes, const ty_recurrent_grads *g,
                             const ty_tensor *dout, const ty_tensor *dc_last,
                             const ty_tensor *x, const ty_tensor *h0, const ty_tensor *c0,
                             const ty_tensor *h, const ty_tensor *rows, int64_t C, ty_error *e)
{
    const ty_cell *cell = r->cell;
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2], D = x->shape[2], R = C * N;
    int64_t G = cell->gates * H, Wd = cell->grad_width * H;
    int64_t n_ihT = ty_packed_size(H, D), n_dG = ty_packed_size(R, H);
    layout l = { 0 };
    int64_t at_hhT = take(&l, ty_packed_size(G, H)), at_ihT = take(&l, cell->gates * n_ihT);
    int64_t at_dG = take(&l, cell->grad_width * n_dG);
    int64_t at_dGc = take(&l, R * Wd), at_XcT = take(&l, R * D), at_PcT = take(&l, R * H);
    int64_t at_dXc = take(&l, R * D), at_dh = take(&l, 3 * N * H);
    int64_t at_s = take(&l, states_size(N, H, cell->gates));
    int rc = ty_workspace_reserve(r->ws, l.used, r->a, e);
    if (rc) return rc;
    double *ws = r->ws->data;
    states s;
    set_backward_states(r, ws, &l, at_dh, at_s, N, H, dc_last, h0, c0, &s);
    backward_lanes c;
    c.r = r, c.g = g, c.dout = dout, c.x = x, c.h = h, c.rows = rows, c.s = &s;
    c.P_hhT = ws + at_hhT, c.P_ihT = ws + at_ihT, c.P_dG = ws + at_dG;
    c.dGc = ws + at_dGc, c.XcT = ws + at_XcT, c.PcT = ws + at_PcT, c.dXc = ws + at_dXc;
    c.dh_buf[0] = ws + at_dh, c.dh_buf[1] = ws + at_dh + N * H, c.dc = ws + at_dh + 2 * N * H;
    c.N = N, c.T = T, c.D = D, c.H = H, c.C = C, c.Wd = Wd, c.n_ihT = n_ihT, c.n_dG = n_dG;
    int64_t nchunks = (T + C - 1) / C, last = T - (nchunks - 1) * C; /* steps in the last */
    ty_lanes_run(lanes, (nchunks - 1) * (C + 2) + last + 2, backward_lane, &c);
    /* dL/dh_{-1} is in the buffer step 0 wrote */
    ty_tensor dh0 = matrix(c.dh_buf[T & 1], N, H, H, 1);
    ty_assign(g->dh0, &dh0);
    if (cell->has_c) {
        ty_tensor dc0 = matrix(c.dc, N, H, H, 1);
        ty_assign(g->dc0, &dc0);
    }
    return TY_OK;
}

int ty_recurrent_backward(const ty_recurrent *r, const ty_recurrent_grads *g,
                          const ty_tensor *dout, const ty_tensor *dc_last, const ty_tensor *x,
                          const ty_tensor *h0, const ty_tensor *c0, const ty_tensor *h,
                          const ty_tensor *cache, ty_error *e)
{
    int rc;
    const ty_cell *cell = r->cell;
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2], D = x->shape[2];
    int64_t G = cell->gates * H, Wd = cell->grad_width * H;
    const ty_tensor *rows = cell->row_is_h ? h : cache;
    TY_ASSERT(weights_are(r, D, H) && is_sequence(x, N, T, D) && is_sequence(dout, N, T, H) &&
              (cell->row_is_h || is_sequence(cache, N, T, cell->row_width * H)) &&
              (!h0 || is_matrix(h0, N, H)) && (!c0 || is_matrix(c0, N, H)) &&
              (!dc_last || is_matrix(dc_last, N, H)) && is_sequence(g->dx, N, T, D) &&
              is_matrix(g->dh0, N, H) && (!cell->has_c || is_matrix(g->dc0, N, H)) &&
              is_matrix(g->dW_ih, D, G) && is_matrix(g->dW_hh, H, G) && g->db_ih->shape[0] == G &&
              (!cell->two_biases || g->db_hh->shape[0] == G) && dout->stride[2] == 1 &&
              rows->stride[2] == 1 && h->stride[2] == 1 && (!dc_last || dc_last->stride[1] == 1));
    if (N == 0 || T == 0 || H == 0) { /* no step: the gradients are zero (and no chunk runs) */
        ty_tensor *all[] = { g->dx, g->dh0, g->dW_ih, g->dW_hh, g->db_ih,
                             cell->has_c ? g->dc0 : NULL, cell->two_biases ? g->db_hh : NULL };
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (all[i]) ty_fill(all[i], 0.0);
        if (cell->has_c && dc_last && T == 0) ty_assign(g->dc0, dc_last);
        return TY_OK;
    }
    int64_t C = (CHUNK_ROWS + N - 1) / N; /* steps per chunk */
    if (C > T) C = T;
    int64_t R = C * N;
    /* The recurrence's dG_t W_hh^T runs on W_hh^T packed once (where that beats a BLAS call
       per step) or else on a row-major copy of it, which OpenBLAS multiplies about a tenth
       faster (one thread, N64 H512) than a transposed view; see long_sequence. */
    step_plan plan = plan_steps(r->path, N, T, H);
    /* the lanes write the weights' gradients as packed products do: unit column strides */
    if (plan.whole && ty_packed_fits(g->dW_ih, g->dW_hh)) {
        int64_t LC = (LANE_CHUNK_ROWS + N - 1) / N;
        return backward_on_lanes(r, plan.lanes, g, dout, dc_last, x, h0, c0, h, rows,
                                 LC < T ? LC : T, e);
    }
    int packed = plan.lanes > 0, copy_WT = !packed && long_sequence(N, T, H);
    layout l = { 0 };
    int64_t at_WT = take(&l, packed ? ty_packed_size(G, H) : copy_WT ? G * H : 0);
    int64_t at_dGc = take(&l, R * Wd), at_Xc = take(&l, R * D), at_Pc = take(&l, R * H);
    int64_t at_dXc = take(&l, R * D), at_dh = take(&l, 3 * N * H);
    int64_t at_s = take(&l, states_size(N, H, cell->gates));
    if ((rc = ty_workspace_reserve(r->ws, l.used, r->a, e))) return rc;
    double *ws = r->ws->data;
    states s;
    set_backward_states(r, ws, &l, at_dh, at_s, N, H, dc_last, h0, c0, &s);
    chunks k;
    k.r = r, k.g = g, k.dout = dout, k.x = x, k.h = h, k.rows = rows, k.s = &s;
    k.W_hhT = transposed(r->W_hh);
    k.WT = NULL;
    k.dGc = ws + at_dGc, k.Xc = ws + at_Xc, k.Pc = ws + at_Pc, k.dXc = ws + at_dXc;
    k.dh = ws + at_dh, k.dh2 = ws + at_dh + N * H, k.dc = ws + at_dh + 2 * N * H;
    k.N = N, k.D = D, k.H = H, k.Wd = Wd;
    if (packed) {
        ty_pack(ws + at_WT, &k.W_hhT);
        k.WT = ws + at_WT;
    } else if (copy_WT) {
        ty_tensor copy = matrix(ws + at_WT, G, H, H, 1);
        ty_assign(&copy, &k.W_hhT);
        k.W_hhT = copy;
    }
    for (int64_t t1 = T; t1 > 0;) {
        int64_t t0 = t1 > C ? t1 - C : 0;
        if ((rc = chunk_steps(&k, t0, t1, e))) return rc;
        if ((rc = chunk_products(&k, t0, t1, t1 == T, e))) return rc;
        t1 = t0;
    }
    ty_tensor dh0 = matrix(k.dh, N, H, H, 1);
    ty_assign(g->dh0, &dh0);
    if (cell->has_c) {
        ty_tensor dc0 = matrix(k.dc, N, H, H, 1);
        ty_assign(g->dc0, &dc0);
    }
    return TY_OK;
}
