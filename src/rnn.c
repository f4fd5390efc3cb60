/* rnn.c: the vanilla tanh RNN (h_t = tanh(x_t W_ih + h_{t-1} W_hh + b)) forward and backward,
   with whole-sequence GEMMs wherever the math allows and no allocation per time step. */
#include "rnn.h"

#include <math.h>
#include <string.h>

#include "ops.h"
#include "packed_gemm.h"

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
static int check_weights_fit(const ty_tensor *W_ih, const ty_tensor *W_hh, int64_t D, int64_t H,
                             const char *fname, ty_error *e)
{
    int rc;
    if ((rc = check_matrix(W_ih, "W_ih", D, H, "the sizes of the last forward", fname, e))) return rc;
    return check_matrix(W_hh, "W_hh", H, H, "the sizes of the last forward", fname, e);
}

int ty_rnn_check_step_backward(const ty_tensor *prev_h, const ty_tensor *dnext_h,
                               const ty_tensor *x, const ty_tensor *next_h,
                               const ty_tensor *W_ih, const ty_tensor *W_hh, ty_error *e)
{
    int rc;
    int64_t N = next_h->shape[0], H = next_h->shape[1];
    if ((rc = check_matrix(prev_h, "prev_h", N, H, "the shape of forward_step's prev_h", "backward_step", e)))
        return rc;
    if ((rc = check_matrix(dnext_h, "dnext_h", N, H, "the shape of forward_step's result", "backward_step", e)))
        return rc;
    return check_weights_fit(W_ih, W_hh, x->shape[1], H, "backward_step", e);
}

int ty_rnn_check_backward(const ty_tensor *dout, const ty_tensor *x, const ty_tensor *h,
                          const ty_tensor *W_ih, const ty_tensor *W_hh, ty_error *e)
{
    if (!ty_same_shape(dout, h)) {
        char s1[96], s2[96];
        return ty_fail(e, TY_EARG, "backward: dout is %s but forward's result h is %s (they must match)",
                       ty_shape_str(dout, s1, sizeof s1), ty_shape_str(h, s2, sizeof s2));
    }
    return check_weights_fit(W_ih, W_hh, x->shape[2], h->shape[2], "backward", e);
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
    int64_t N = next_h->shape[0], H = next_h->shape[1];
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

int ty_rnn_forward(ty_tensor *h, const ty_tensor *x, const ty_tensor *h0, const ty_tensor *W_ih,
                   const ty_tensor *W_hh, const ty_tensor *b, ty_tensor *ws,
                   const ty_allocator *a, ty_error *e)
{
    int rc;
    int64_t N = h->shape[0], T = x->shape[1], H = h->shape[2];
    ty_tensor X2, H2;
    if (!as_rows(&X2, x) || !as_rows(&H2, h))
        return ty_fail(e, TY_EARG, "forward: x and h must be reshapeable to (N*T) x D");
    /* all input projections at once, straight into h */
    if ((rc = ty_gemm(&H2, &X2, W_ih, 0.0, a, e))) return rc;
    const double *packed = NULL; /* W_hh packed for every step's product, when that pays */
    if (ty_packed_pays() && long_sequence(N, T, H)) {
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
int ty_rnn_backward(ty_tensor *dx, ty_tensor *dh0, ty_tensor *dW_ih, ty_tensor *dW_hh,
                    ty_tensor *db, const ty_tensor *dout, const ty_tensor *x,
                    const ty_tensor *h0, const ty_tensor *h, const ty_tensor *W_ih,
                    const ty_tensor *W_hh, ty_tensor *ws, const ty_allocator *a, ty_error *e)
{
    int rc;
    int64_t N = h->shape[0], T = h->shape[1], H = h->shape[2], D = x->shape[2];
    int64_t C = N > 0 ? (CHUNK_ROWS + N - 1) / N : 1; /* steps per chunk */
    if (C > T) C = T;
    if (C < 1) C = 1;
    int64_t R = C * N;
    /* The recurrence's dA_t W_hh^T runs on W_hh^T packed once (where that beats a BLAS call
       per step) or else on a row-major copy of it, which OpenBLAS multiplies about a tenth
       faster (one thread, N64 H512) than a transposed view; see long_sequence. */
    int packed = ty_packed_pays() && long_sequence(N, T, H);
    int copy_WT = !packed && long_sequence(N, T, H);
    int64_t WT_size = packed ? ty_packed_size(H, H) : copy_WT ? H * H : 0;
    if ((rc = ty_workspace_reserve(ws, WT_size + R * (2 * H + 2 * D) + 2 * N * H, a, e)))
        return rc;
    double *WT = ws->data; /* first, so the packed panels start on a cache line */
    double *dAc = WT + WT_size, *Xc = dAc + R * H, *Pc = Xc + R * D, *dXc = Pc + R * H + 2 * N * H;
    ty_tensor dh_a = matrix(Pc + R * H, N, H, H, 1), dh_b = matrix(Pc + R * H + N * H, N, H, H, 1);
    ty_tensor *dh = &dh_a, *dh2 = &dh_b; /* dh of this step, and of the one before it */
    ty_fill(dh, 0.0);
    if (T == 0) { /* no chunk below writes them */
        ty_fill(dW_ih, 0.0);
        ty_fill(dW_hh, 0.0);
        ty_fill(db, 0.0);
        ty_fill(dh0, 0.0);
    }
    ty_tensor W_hhT = transposed(W_hh), W_ihT = transposed(W_ih);
    if (packed) {
        ty_pack(WT, &W_hhT);
    } else if (copy_WT) {
        ty_tensor copy = matrix(WT, H, H, H, 1);
        ty_assign(&copy, &W_hhT);
        W_hhT = copy;
    }
    for (int64_t t1 = T; t1 > 0;) {
        int64_t t0 = t1 > C ? t1 - C : 0;
        for (int64_t t = t1 - 1; t >= t0; t--) {
            int64_t c = t - t0;
            ty_tensor dAt = matrix(dAc + c * N * H, N, H, H, 1);
            ty_tensor ht = step_of(h, t), dot = step_of(dout, t), xt = step_of(x, t);
            tanh_grad(&dAt, dh, &dot, &ht);
            /* the last step back writes the gradient of h0 directly */
            ty_tensor *dprev = t == 0 ? dh0 : dh2;
            if (packed && ty_packed_fits(dprev, &dAt))
                ty_packed_gemm(dprev, &dAt, WT, 0);
            else if ((rc = ty_gemm(dprev, &dAt, &W_hhT, 0.0, a, e)))
                return rc;
            ty_tensor *swap = dh;
            dh = dh2;
            dh2 = swap;
            copy_rows(Xc + c * N * D, &xt);
            if (t == 0) {
                copy_rows(Pc, h0);
            } else {
                ty_tensor prev = step_of(h, t - 1);
                copy_rows(Pc + c * N * H, &prev);
            }
        }
        int64_t rows = (t1 - t0) * N;
        ty_tensor dA = matrix(dAc, rows, H, H, 1);
        ty_tensor XT = matrix(Xc, D, rows, 1, D), PT = matrix(Pc, H, rows, 1, H);
        double beta = t1 == T ? 0.0 : 1.0; /* the first chunk back overwrites */
        if ((rc = ty_gemm(dW_ih, &XT, &dA, beta, a, e))) return rc;
        if ((rc = ty_gemm(dW_hh, &PT, &dA, beta, a, e))) return rc;
        if (beta == 0.0) ty_fill(db, 0.0);
        column_sums_add(db, &dA);
        ty_tensor dX = matrix(dXc, rows, D, D, 1);
        if ((rc = ty_gemm(&dX, &dA, &W_ihT, 0.0, a, e))) return rc;
        for (int64_t t = t0; t < t1; t++) { /* scatter the chunk's dx back to N x T x D */
            ty_tensor dxt = step_of(dx, t);
            store_rows(&dxt, dXc + (t - t0) * N * D);
        }
        t1 = t0;
    }
    return TY_OK;
}
