/* ops.h: elementwise arithmetic with NumPy broadcasting on any strides and reductions (the
   products are in linalg.h). Outputs are caller-allocated slots of the right shape. */
#ifndef TYCHO_OPS_H
#define TYCHO_OPS_H

/* Hot kernels are compiled for AVX-512, AVX2 and the baseline; the loader picks the best
   the CPU has (GCC function multiversioning). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define TY_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TY_VECTOR_CLONES
#endif

/* Four doubles in one vector register (GNU C vector extension: two SSE2 registers on the
   baseline, one AVX register in the AVX2 and AVX-512 clones); the _u type loads and stores
   at any address, as GCC's own __m256d_u does. */
typedef double ty_v4d __attribute__((vector_size(4 * sizeof(double))));
typedef double ty_v4d_u __attribute__((vector_size(4 * sizeof(double)), aligned(8), may_alias));
#define TY_LOAD4(p) (*(const ty_v4d_u *)(p))

#include "core/tensor.h"

typedef enum {
    TY_ADD, TY_SUB, TY_MUL, TY_DIV, TY_POW, TY_MAXIMUM, TY_MINIMUM,
    TY_EQ, TY_NE, TY_LT, TY_LE, TY_GT, TY_GE, TY_ATAN2
} ty_binop;

typedef enum {
    TY_NEG, TY_TANH, TY_SIGMOID, TY_EXP, TY_LOG, TY_SQRT, TY_ABS,
    /* libm's, through vmath.h */
    TY_SIN, TY_COS, TY_TAN, TY_ASIN, TY_ACOS, TY_ATAN, TY_SINH, TY_COSH, TY_LOG1P, TY_EXPM1,
    TY_LOG2, TY_LOG10,
    /* exact: NumPy's floor, ceil, round (half to even), trunc, sign (NaN stays NaN, zeros
       give +0), square; relu is max(x, 0) with NaN kept */
    TY_FLOOR, TY_CEIL, TY_ROUND, TY_TRUNC, TY_SIGN, TY_SQUARE, TY_RELU
} ty_unop;

/* TY_VAR is NumPy's var with ddof 0: the mean of the squared deviations from the mean,
   each sum in NumPy's order (pairwise within blocks of 8192). TY_PROD multiplies in order. */
typedef enum { TY_SUM, TY_MEAN, TY_MAX, TY_MIN, TY_ARGMAX, TY_ARGMIN, TY_PROD, TY_VAR } ty_reduce;

/* Broadcast shape of a and b as NumPy computes it; TY_EARG with both shapes if they clash. */
int  ty_broadcast_shape(const ty_tensor *a, const ty_tensor *b, int *ndim, int64_t *shape,
                        ty_error *e);
/* out = a op b, broadcasting a and b to out's shape (out may alias a or b exactly). */
void ty_binary(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, ty_binop op);
/* out = op(a), same shape (out may alias a). */
void ty_unary(ty_tensor *out, const ty_tensor *a, ty_unop op);
/* tanh of n contiguous elements (out may equal in), within 2 ulp of the exact value. */
TY_HIDDEN void ty_vtanh(double *out, const double *in, int64_t n);
/* 1 / (1 + e^-x) of n contiguous elements (out may equal in), within a few ulp. */
TY_HIDDEN void ty_vsigmoid(double *out, const double *in, int64_t n);
/* e^x of n contiguous elements (out may equal in), within 1 ulp of the exact value. */
TY_HIDDEN void ty_vexp(double *out, const double *in, int64_t n);
/* log x of n contiguous elements (out may equal in), within 1 ulp of the exact value. */
TY_HIDDEN void ty_vlog(double *out, const double *in, int64_t n);
/* out = clip(a, lo, hi). */
void ty_clip(ty_tensor *out, const ty_tensor *a, double lo, double hi);
/* out = c != 0 ? a : b, all three broadcast to out's shape. */
void ty_where(ty_tensor *out, const ty_tensor *c, const ty_tensor *a, const ty_tensor *b);
/* Boolean masks (NumPy's t[mask]; mask of t's shape): the count of the mask's elements that
   are 1, or -1 if one is neither 0 nor 1. */
int64_t ty_mask_count(const ty_tensor *mask);
/* out (1-d, ty_mask_count elements) = t's elements where mask is 1, in row-major order. */
void ty_mask_select(ty_tensor *out, const ty_tensor *t, const ty_tensor *mask);
/* t's elements where mask is 1 = src[0], src[step], ... in row-major order (step 0: one
   value for all), at most count of them (a mask that shares t's elements may change as
   they are written; src holds count values). */
void ty_mask_assign(ty_tensor *t, const ty_tensor *mask, const double *src, int64_t step,
                    int64_t count);
/* dst = src broadcast to dst's shape (caller checked broadcastability). */
void ty_assign(ty_tensor *dst, const ty_tensor *src);
void ty_fill(ty_tensor *dst, double v);

/* Reduction over all elements (ARGMAX/ARGMIN give a 0-based flat index, NaN if empty
   where NumPy raises: the caller checks emptiness). */
double ty_reduce_all(const ty_tensor *a, ty_reduce op);
/* out (a's shape without dim) = reduction of a along dim (0-based). */
void ty_reduce_dim(ty_tensor *out, const ty_tensor *a, int dim, ty_reduce op);
double ty_norm(const ty_tensor *a);
/* out = the running sums (add) or products (mul) of a along dim, same shape (NumPy's
   cumsum/cumprod: in order, one element after the other). */
void ty_cumulate(ty_tensor *out, const ty_tensor *a, int dim, ty_binop op);
/* out = softmax of a along dim (log: log_softmax), same shape: e^(x - max) / sum. */
void ty_softmax(ty_tensor *out, const ty_tensor *a, int dim, int log);

/* allclose as NumPy: |a - b| <= atol + rtol * |b| everywhere (broadcast). */
int ty_allclose(const ty_tensor *a, const ty_tensor *b, double rtol, double atol);

#endif
