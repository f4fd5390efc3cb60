/* layers.c: the feed-forward layers' and the losses' math (layers.h). */
#include "nn/layers.h"

#include <math.h>
#include <string.h>

#include "core/iter.h"
#include "core/linalg.h"
#include "core/ops.h"

/* This file's loops over a row's elements (the losses' over the classes above all): let GCC
   vectorize them with its full cost model (at -O2 it leaves a loop of unknown count scalar).
   Elementwise work gives the same values; sums stay in order (no reassociation without
   -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

/* ---- affine ----------------------------------------------------------------------------- */

int ty_affine_forward(ty_tensor *y, const ty_tensor *x, const ty_tensor *W, const ty_tensor *b,
                      const ty_allocator *a, ty_error *e)
{
    ty_assign(y, b); /* every row starts as b, then += x W */
    return ty_gemm(y, x, W, 1.0, a, e);
}

static ty_tensor transposed(const ty_tensor *m)
{
    ty_tensor t = *m;
    ty_view_transpose(&t, 0, 1);
    return t;
}

int ty_affine_backward(ty_tensor *dx, ty_tensor *dW, ty_tensor *db, const ty_tensor *x,
                       const ty_tensor *W, const ty_tensor *dy, const ty_allocator *a, ty_error *e)
{
    ty_tensor Wt = transposed(W), xt = transposed(x);
    if (ty_gemm(dx, dy, &Wt, 0.0, a, e) || ty_gemm(dW, &xt, dy, 0.0, a, e)) return e->code;
    int64_t M = dy->shape[0], O = dy->shape[1];
    for (int64_t j = 0; j < O; j++) db->data[j * db->stride[0]] = 0.0;
    for (int64_t i = 0; i < M; i++) {
        const double *row = dy->data + i * dy->stride[0];
        for (int64_t j = 0; j < O; j++) db->data[j * db->stride[0]] += row[j * dy->stride[1]];
    }
    return TY_OK;
}

/* ---- activations' gradients ---------------------------------------------------------------- */

/* Runs BODY over dx, y, dy (dy broadcast to y's shape) with double *o, yv, g of the run. */
#define GRADIENT_RUNS(dx, y, dy, BODY)                                                    \
    do {                                                                                  \
        if (ty_numel(y) == 0) break;                                                      \
        const ty_tensor *ops_[3] = { (dx), (y), (dy) };                                   \
        ty_iter it;                                                                       \
        ty_iter_init(&it, (y)->ndim, (y)->shape, 3, ops_);                                \
        TY_ITER_RUNS(it, {                                                                \
            double *o = it.ptr[0];                                                        \
            const double *yv = it.ptr[1], *g = it.ptr[2];                                 \
            int64_t so = it.stride[0][last_], sy = it.stride[1][last_], sg = it.stride[2][last_]; \
            for (int64_t i = 0; i < n_; i++) { BODY; }                                    \
        });                                                                               \
    } while (0)

void ty_relu_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy)
{
    GRADIENT_RUNS(dx, y, dy, o[i * so] = yv[i * sy] > 0 ? g[i * sg] : 0.0);
}

void ty_sigmoid_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy)
{
    GRADIENT_RUNS(dx, y, dy, {
        double s = yv[i * sy];
        o[i * so] = g[i * sg] * (1.0 - s) * s;
    });
}

void ty_tanh_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy)
{
    GRADIENT_RUNS(dx, y, dy, {
        double t = yv[i * sy];
        o[i * so] = g[i * sg] * (1.0 - t * t);
    });
}

void ty_softmax_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy)
{
    int64_t n = ty_numel(y);
    if (n == 0) return;
    int64_t C = y->ndim ? y->shape[y->ndim - 1] : 1, rows = n / C;
    for (int64_t r = 0; r < rows; r++) {
        const double *yr = y->data + r * C, *gr = dy->data + r * C;
        double *o = dx->data + r * C, dot = 0.0;
        for (int64_t j = 0; j < C; j++) dot += gr[j] * yr[j];
        for (int64_t j = 0; j < C; j++) o[j] = yr[j] * (gr[j] - dot);
    }
}

/* ---- dropout ---------------------------------------------------------------------------- */

void ty_dropout_mask(ty_tensor *mask, double keep)
{
    int64_t n = ty_numel(mask);
    double scale = keep > 0 ? 1.0 / keep : 0.0;
    for (int64_t i = 0; i < n; i++) mask->data[i] = mask->data[i] < keep ? scale : 0.0;
}

/* ---- embedding -------------------------------------------------------------------------- */

int64_t ty_ids_check(const ty_tensor *ids, int64_t V)
{
    if (ty_numel(ids) == 0) return -1;
    const ty_tensor *ops[1] = { ids };
    ty_iter it;
    ty_iter_init(&it, ids->ndim, ids->shape, 1, ops);
    int64_t pos = 0, bad = -1;
    TY_ITER_RUNS(it, {
        const double *p = it.ptr[0];
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_ && bad < 0; i++) {
            double v = p[i * s];
            if (!(v >= 1 && v <= (double)V && v == floor(v))) bad = pos + i;
        }
        if (bad >= 0) break;
        pos += n_;
    });
    return bad;
}

/* Calls BODY with int64_t row (0-based) for each id, in row-major order, and k its number. */
#define EACH_ID(ids, BODY)                                                                \
    do {                                                                                  \
        if (ty_numel(ids) == 0) break;                                                    \
        const ty_tensor *ops_[1] = { (ids) };                                             \
        ty_iter it;                                                                       \
        ty_iter_init(&it, (ids)->ndim, (ids)->shape, 1, ops_);                            \
        int64_t k = 0;                                                                    \
        TY_ITER_RUNS(it, {                                                                \
            const double *p_ = it.ptr[0];                                                 \
            for (int64_t i_ = 0; i_ < n_; i_++, k++) {                                    \
                int64_t row = (int64_t)p_[i_ * it.stride[0][last_]] - 1;                  \
                BODY;                                                                     \
            }                                                                             \
        });                                                                               \
    } while (0)

void ty_embedding_forward(ty_tensor *y, const ty_tensor *ids, const ty_tensor *W)
{
    int64_t D = W->shape[1];
    EACH_ID(ids, {
        const double *w = W->data + row * W->stride[0];
        double *o = y->data + k * D;
        for (int64_t j = 0; j < D; j++) o[j] = w[j * W->stride[1]];
    });
}

void ty_embedding_backward(ty_tensor *dW, const ty_tensor *ids, const ty_tensor *dy)
{
    int64_t D = dW->shape[1];
    ty_fill(dW, 0.0);
    EACH_ID(ids, {
        double *w = dW->data + row * dW->stride[0];
        const double *g = dy->data + k * D;
        for (int64_t j = 0; j < D; j++) w[j * dW->stride[1]] += g[j];
    });
}

/* ---- losses ----------------------------------------------------------------------------- */

int64_t ty_first_nan(const ty_tensor *t)
{
    if (ty_numel(t) == 0) return -1;
    const ty_tensor *ops[1] = { t };
    ty_iter it;
    ty_iter_init(&it, t->ndim, t->shape, 1, ops);
    int64_t pos = 0, bad = -1;
    TY_ITER_RUNS(it, {
        const double *p = it.ptr[0];
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_; i++)
            if (isnan(p[i * s])) { bad = pos + i; break; }
        if (bad >= 0) break;
        pos += n_;
    });
    return bad;
}

double ty_softmax_loss(ty_tensor *dscores, const ty_tensor *scores, const ty_tensor *labels)
{
    int64_t P = scores->shape[0], C = scores->shape[1];
    if (P == 0) return NAN; /* the mean of nothing, as PyTorch's */
    double total = 0.0;
    for (int64_t r = 0; r < P; r++) {
        const double *x = scores->data + r * C;
        double *d = dscores->data + r * C;
        int64_t y = (int64_t)labels->data[r] - 1;
        double m = -INFINITY;
        for (int64_t j = 0; j < C; j++) m = x[j] > m ? x[j] : m;
        for (int64_t j = 0; j < C; j++) d[j] = x[j] - m;
        ty_vexp(d, d, C);
        double s = 0.0;
        for (int64_t j = 0; j < C; j++) s += d[j];
        double lse = log(s);
        total += lse - (x[y] - m);
        for (int64_t j = 0; j < C; j++) d[j] = d[j] / s / (double)P;
        d[y] -= 1.0 / (double)P;
    }
    return total / (double)P;
}

double ty_mse_loss(ty_tensor *dpred, const ty_tensor *pred, const ty_tensor *target)
{
    int64_t n = ty_numel(pred);
    if (n == 0) return NAN;
    const ty_tensor *ops[3] = { dpred, pred, target };
    ty_iter it;
    ty_iter_init(&it, pred->ndim, pred->shape, 3, ops);
    double total = 0.0, scale = 2.0 / (double)n;
    TY_ITER_RUNS(it, {
        double *o = it.ptr[0];
        const double *p = it.ptr[1], *t = it.ptr[2];
        int64_t so = it.stride[0][last_], sp = it.stride[1][last_], st = it.stride[2][last_];
        for (int64_t i = 0; i < n_; i++) {
            double d = p[i * sp] - t[i * st];
            total += d * d;
            o[i * so] = scale * d;
        }
    });
    return total / (double)n;
}
