/* optim.c: the optimizers' update kernels: one pass over a parameter, its gradient and its
   buffers, in PyTorch 1.13's order of operations, fused so that a step reads each once. */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

#include "core/iter.h"
#include "core/ops.h"

/* The loops below are the whole cost of a step: vectorized in every clone (the Makefile
   compiles this file with -fno-math-errno, so that sqrt vectorizes too). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

/* A kernel's body is a function of (n, p, sp, g, sg, buffers at offset k) called with
   constant flags, so each case compiles to its own branch-free loop; a contiguous pair gets
   the unit-stride copy, other layouts walk the runs of the core's iterator with the
   buffers' offset running along in row-major order. */
#define WALK(P, G, RUN_CONTIG, RUN_STRIDED)                                                   \
    do {                                                                                      \
        int64_t total_ = ty_numel(P);                                                         \
        if (total_ == 0) break;                                                               \
        if (ty_is_contiguous(P) && ty_is_contiguous(G)) {                                     \
            int64_t k = 0, n = total_;                                                        \
            double *pp = (P)->data;                                                           \
            const double *gg = (G)->data;                                                     \
            RUN_CONTIG;                                                                       \
        } else {                                                                              \
            const ty_tensor *ops_[2] = { (P), (G) };                                          \
            ty_iter it_;                                                                      \
            ty_iter_init(&it_, (P)->ndim, (P)->shape, 2, ops_);                               \
            int64_t k = 0;                                                                    \
            TY_ITER_RUNS(it_, {                                                               \
                int64_t n = n_, sp = it_.stride[0][last_], sg = it_.stride[1][last_];         \
                double *pp = it_.ptr[0];                                                      \
                const double *gg = it_.ptr[1];                                                \
                RUN_STRIDED;                                                                  \
                k += n;                                                                       \
            });                                                                               \
        }                                                                                     \
    } while (0)

/* ---- SGD -------------------------------------------------------------------------------- */

enum { SGD_PLAIN, SGD_FIRST, SGD_FIRST_NESTEROV, SGD_MOMENTUM, SGD_NESTEROV };

static ALWAYS_INLINE void sgd_run(int64_t n, double *p, int64_t sp, const double *g, int64_t sg,
                                  double *buf, const ty_sgd *o, const int wd, const int mode)
{
    const double sign = o->maximize ? -1.0 : 1.0, lambda = o->weight_decay, mu = o->momentum;
    const double keep = 1.0 - o->dampening, neg_lr = -o->lr;
    for (int64_t i = 0; i < n; i++) {
        double d = sign * g[i * sg];
        if (wd) d = d + lambda * p[i * sp];
        if (mode == SGD_FIRST) {
            buf[i] = d;
        } else if (mode == SGD_FIRST_NESTEROV) {
            buf[i] = d;
            d = d + mu * d;
        } else if (mode == SGD_MOMENTUM) {
            d = buf[i] = buf[i] * mu + keep * d;
        } else if (mode == SGD_NESTEROV) {
            double b = buf[i] = buf[i] * mu + keep * d;
            d = d + mu * b;
        }
        p[i * sp] = p[i * sp] + neg_lr * d;
    }
}

#define SGD_CASE(WD, MODE)                                                                    \
    WALK(p, g, sgd_run(n, pp, 1, gg, 1, buf ? buf + k : NULL, o, WD, MODE),                   \
         sgd_run(n, pp, sp, gg, sg, buf ? buf + k : NULL, o, WD, MODE))

#define SGD_MODES(WD)                                                                         \
    switch (mode) {                                                                           \
    case SGD_PLAIN: SGD_CASE(WD, SGD_PLAIN); break;                                           \
    case SGD_FIRST: SGD_CASE(WD, SGD_FIRST); break;                                           \
    case SGD_FIRST_NESTEROV: SGD_CASE(WD, SGD_FIRST_NESTEROV); break;                         \
    case SGD_MOMENTUM: SGD_CASE(WD, SGD_MOMENTUM); break;                                     \
    default: SGD_CASE(WD, SGD_NESTEROV); break;                                               \
    }

TY_VECTOR_CLONES void ty_sgd_step(ty_tensor *p, const ty_tensor *g, double *buf, const ty_sgd *o)
{
    int mode = o->momentum == 0 ? SGD_PLAIN
             : o->first ? (o->nesterov ? SGD_FIRST_NESTEROV : SGD_FIRST)
             : o->nesterov ? SGD_NESTEROV : SGD_MOMENTUM;
    TY_ASSERT(mode == SGD_PLAIN || buf);
    if (o->weight_decay != 0) {
        SGD_MODES(1)
    } else {
        SGD_MODES(0)
    }
}

/* ---- Adam, AdamW ------------------------------------------------------------------------- */

/* torch.maximum: a NaN on either side is the result */
static ALWAYS_INLINE double maximum(double a, double b) { return a != a ? a : a > b ? a : b; }

static ALWAYS_INLINE void adam_run(int64_t n, double *p, int64_t sp, const double *g, int64_t sg,
                                   double *m, double *v, double *vmax, const ty_adam *o,
                                   const int wd, const int ams)
{
    const double sign = o->maximize ? -1.0 : 1.0, lambda = o->weight_decay, decay = o->decay;
    const double b1 = o->beta1, b2 = o->beta2, c1 = 1.0 - o->beta1, c2 = 1.0 - o->beta2;
    const double bias2 = o->bias2_sqrt, eps = o->eps, neg_step = -o->step_size;
    for (int64_t i = 0; i < n; i++) {
        double d = sign * g[i * sg];
        double x = p[i * sp];
        if (wd) d = d + lambda * x;
        x = x * decay;
        double mi = m[i] = m[i] * b1 + c1 * d;
        double vi = v[i] = v[i] * b2 + c2 * d * d;
        if (ams) vi = vmax[i] = maximum(vmax[i], vi);
        double denom = sqrt(vi) / bias2 + eps;
        p[i * sp] = x + neg_step * mi / denom;
    }
}

#define ADAM_CASE(WD, AMS)                                                                    \
    WALK(p, g, adam_run(n, pp, 1, gg, 1, m + k, v + k, vmax ? vmax + k : NULL, o, WD, AMS),   \
         adam_run(n, pp, sp, gg, sg, m + k, v + k, vmax ? vmax + k : NULL, o, WD, AMS))

TY_VECTOR_CLONES void ty_adam_step(ty_tensor *p, const ty_tensor *g, double *m, double *v,
                                   double *vmax, const ty_adam *o)
{
    int wd = o->coupled && o->weight_decay != 0;
    if (wd && vmax) ADAM_CASE(1, 1);
    else if (wd) ADAM_CASE(1, 0);
    else if (vmax) ADAM_CASE(0, 1);
    else ADAM_CASE(0, 0);
}

/* ---- RMSprop ----------------------------------------------------------------------------- */

static ALWAYS_INLINE void rmsprop_run(int64_t n, double *p, int64_t sp, const double *g,
                                      int64_t sg, double *sq, double *gavg, double *buf,
                                      const ty_rmsprop *o, const int wd, const int centered,
                                      const int mom)
{
    const double sign = o->maximize ? -1.0 : 1.0, lambda = o->weight_decay;
    const double a = o->alpha, c = 1.0 - o->alpha, eps = o->eps, mu = o->momentum;
    const double neg_lr = -o->lr;
    for (int64_t i = 0; i < n; i++) {
        double d = sign * g[i * sg];
        if (wd) d = d + lambda * p[i * sp];
        double s = sq[i] = sq[i] * a + c * d * d;
        double avg;
        if (centered) {
            double ga = gavg[i] = gavg[i] * a + c * d;
            avg = sqrt(s + -1.0 * ga * ga);
        } else {
            avg = sqrt(s);
        }
        avg = avg + eps;
        if (mom) {
            double b = buf[i] = buf[i] * mu + 1.0 * d / avg;
            p[i * sp] = p[i * sp] + neg_lr * b;
        } else {
            p[i * sp] = p[i * sp] + neg_lr * d / avg;
        }
    }
}

#define RMS_CASE(WD, C, M)                                                                    \
    WALK(p, g,                                                                                \
         rmsprop_run(n, pp, 1, gg, 1, sq + k, gavg ? gavg + k : NULL, buf ? buf + k : NULL, o,  \
                     WD, C, M),                                                               \
         rmsprop_run(n, pp, sp, gg, sg, sq + k, gavg ? gavg + k : NULL, buf ? buf + k : NULL,   \
                     o, WD, C, M))

TY_VECTOR_CLONES void ty_rmsprop_step(ty_tensor *p, const ty_tensor *g, double *sq, double *gavg,
                                      double *buf, const ty_rmsprop *o)
{
    int wd = o->weight_decay != 0, c = gavg != NULL, m = buf != NULL;
    switch (wd * 4 + c * 2 + m) {
    case 0: RMS_CASE(0, 0, 0); break;
    case 1: RMS_CASE(0, 0, 1); break;
    case 2: RMS_CASE(0, 1, 0); break;
    case 3: RMS_CASE(0, 1, 1); break;
    case 4: RMS_CASE(1, 0, 0); break;
    case 5: RMS_CASE(1, 0, 1); break;
    case 6: RMS_CASE(1, 1, 0); break;
    default: RMS_CASE(1, 1, 1); break;
    }
}

/* ---- Adagrad ----------------------------------------------------------------------------- */

static ALWAYS_INLINE void adagrad_run(int64_t n, double *p, int64_t sp, const double *g,
                                      int64_t sg, double *sum, const ty_adagrad *o, const int wd)
{
    const double sign = o->maximize ? -1.0 : 1.0, lambda = o->weight_decay, eps = o->eps;
    const double neg_clr = -o->clr;
    for (int64_t i = 0; i < n; i++) {
        double d = sign * g[i * sg];
        if (wd) d = d + lambda * p[i * sp];
        double s = sum[i] = sum[i] + 1.0 * d * d;
        double std = sqrt(s) + eps;
        p[i * sp] = p[i * sp] + neg_clr * d / std;
    }
}

#define ADAGRAD_CASE(WD)                                                                      \
    WALK(p, g, adagrad_run(n, pp, 1, gg, 1, sum + k, o, WD),                                  \
         adagrad_run(n, pp, sp, gg, sg, sum + k, o, WD))

TY_VECTOR_CLONES void ty_adagrad_step(ty_tensor *p, const ty_tensor *g, double *sum,
                                      const ty_adagrad *o)
{
    if (o->weight_decay != 0) ADAGRAD_CASE(1);
    else ADAGRAD_CASE(0);
}

/* ---- checks and flat vectors ------------------------------------------------------------- */

/* The lowest and highest element addresses of t (which has elements). */
static void extent(const ty_tensor *t, const double **lo, const double **hi)
{
    const double *a = t->data, *b = t->data;
    for (int d = 0; d < t->ndim; d++) {
        int64_t span = (t->shape[d] - 1) * t->stride[d];
        if (span < 0) a += span;
        else b += span;
    }
    *lo = a;
    *hi = b;
}

int ty_optim_check(const ty_tensor *p, const ty_tensor *g, ty_error *e)
{
    char b1[96], b2[96];
    if (!ty_same_shape(p, g))
        return ty_fail(e, TY_EARG, "is %s but the parameter is %s", ty_shape_str(g, b1, sizeof b1),
                       ty_shape_str(p, b2, sizeof b2));
    if (ty_is_broadcast(p))
        return ty_fail(e, TY_EARG, "belongs to a parameter that is an expanded view (stride 0): "
                       "it cannot be updated in place");
    if (ty_numel(p) == 0) return TY_OK;
    if (p->data == g->data && memcmp(p->stride, g->stride, (size_t)p->ndim * sizeof p->stride[0]) == 0)
        return TY_OK;
    const double *plo, *phi, *glo, *ghi;
    extent(p, &plo, &phi);
    extent(g, &glo, &ghi);
    if (ghi < plo || phi < glo) return TY_OK;
    return ty_fail(e, TY_EARG, "shares memory with its parameter (another view of it): "
                   "the update would read what it has written");
}

double ty_optim_norm(const ty_tensor *t, double norm_type)
{
    if (ty_numel(t) == 0) return 0.0;
    const ty_tensor *ops[1] = { t };
    ty_iter it;
    ty_iter_init(&it, t->ndim ? t->ndim : 1, t->ndim ? t->shape : (const int64_t[]){ 1 }, 1, ops);
    double acc = 0.0;
    if (isinf(norm_type)) {
        TY_ITER_RUNS(it, {
            const double *x = it.ptr[0];
            int64_t s = it.stride[0][last_];
            for (int64_t i = 0; i < n_; i++) {
                double a = fabs(x[i * s]);
                if (a != a || a > acc) acc = a;
                if (acc != acc) break;
            }
        });
        return acc;
    }
    if (norm_type == 2.0) {
        TY_ITER_RUNS(it, {
            const double *x = it.ptr[0];
            int64_t s = it.stride[0][last_];
            for (int64_t i = 0; i < n_; i++) acc += x[i * s] * x[i * s];
        });
        return sqrt(acc);
    }
    if (norm_type == 1.0) {
        TY_ITER_RUNS(it, {
            const double *x = it.ptr[0];
            int64_t s = it.stride[0][last_];
            for (int64_t i = 0; i < n_; i++) acc += fabs(x[i * s]);
        });
        return acc;
    }
    TY_ITER_RUNS(it, {
        const double *x = it.ptr[0];
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_; i++) acc += pow(fabs(x[i * s]), norm_type);
    });
    return pow(acc, 1.0 / norm_type);
}

void ty_optim_axpy(double *y, double alpha, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = y[i] + alpha * x[i];
}

/* Runs BODY over t's runs (row-major) with x the run's first element, s its stride, n_ its
   length and k the flat offset of its first element. */
#define FLAT_RUNS(t, BODY)                                                                    \
    do {                                                                                      \
        if (ty_numel(t) == 0) break;                                                          \
        if (ty_is_contiguous(t)) {                                                            \
            int64_t k = 0, n_ = ty_numel(t), s = 1;                                           \
            double *x = (t)->data;                                                            \
            BODY;                                                                             \
            break;                                                                            \
        }                                                                                     \
        const ty_tensor *ops_[1] = { (t) };                                                   \
        ty_iter it_;                                                                          \
        ty_iter_init(&it_, (t)->ndim, (t)->shape, 1, ops_);                                   \
        int64_t k = 0;                                                                        \
        TY_ITER_RUNS(it_, {                                                                   \
            double *x = it_.ptr[0];                                                           \
            int64_t s = it_.stride[0][last_];                                                 \
            BODY;                                                                             \
            k += n_;                                                                          \
        });                                                                                   \
    } while (0)

void ty_optim_gather(double *flat, const ty_tensor *t)
{
    FLAT_RUNS(t, for (int64_t i = 0; i < n_; i++) flat[k + i] = x[i * s]);
}

void ty_optim_scatter(ty_tensor *t, const double *flat)
{
    FLAT_RUNS(t, for (int64_t i = 0; i < n_; i++) x[i * s] = flat[k + i]);
}

void ty_optim_add_flat(ty_tensor *t, double alpha, const double *flat)
{
    FLAT_RUNS(t, for (int64_t i = 0; i < n_; i++) x[i * s] = x[i * s] + alpha * flat[k + i]);
}
