/* ops.c: elementwise arithmetic with NumPy broadcasting over arbitrary strides, reductions
   and matrix products (CBLAS, with a plain loop for tiny sizes where BLAS overhead dominates). */
#include "core/ops.h"
#include "core/vmath.h"

#include "core/exp_table.h"
#include "core/iter.h"

#include <math.h>
#include <string.h>

/* Elementwise loops are the whole point of this file: let GCC vectorize them with its full
   cost model (at -O2 it only takes loops that need no aliasing check). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

int ty_broadcast_shape(const ty_tensor *a, const ty_tensor *b, int *ndim, int64_t *shape,
                       ty_error *e)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 0; d < nd; d++) {
        int da = d - (nd - a->ndim), db = d - (nd - b->ndim);
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ba[96], bb[96];
            return ty_fail(e, TY_EARG, "shapes %s and %s do not broadcast (dimension %d: %lld vs %lld)",
                           ty_shape_str(a, ba, sizeof ba), ty_shape_str(b, bb, sizeof bb),
                           d + 1, (long long)sa, (long long)sb);
        }
        shape[d] = sa == 1 ? sb : sa;
    }
    *ndim = nd;
    /* (2^40, 1, 0) with (1, 2^40, 0) has no element but sizes whose product overflows */
    return ty_check_shape(nd, shape, e);
}

/* ---- elementwise ---------------------------------------------------------------------- */

#define BIN_KERNEL(F)                                                                   \
    TY_VECTOR_CLONES static void F##_run(int64_t n, double *o, int64_t so, const double *a, int64_t sa,  \
                        const double *b, int64_t sb)                                    \
    {                                                                                   \
        if (so == 1 && sa == 1 && sb == 1) {                                            \
            for (int64_t i = 0; i < n; i++) o[i] = F(a[i], b[i]);                       \
        } else if (so == 1 && sa == 1 && sb == 0) {                                     \
            const double y = *b;                                                        \
            for (int64_t i = 0; i < n; i++) o[i] = F(a[i], y);                          \
        } else if (so == 1 && sa == 0 && sb == 1) {                                     \
            const double x = *a;                                                        \
            for (int64_t i = 0; i < n; i++) o[i] = F(x, b[i]);                          \
        } else {                                                                        \
            for (int64_t i = 0; i < n; i++) o[i * so] = F(a[i * sa], b[i * sb]);        \
        }                                                                               \
    }

#define F_ADD(x, y) ((x) + (y))
#define F_SUB(x, y) ((x) - (y))
#define F_MUL(x, y) ((x) * (y))
#define F_DIV(x, y) ((x) / (y))
#define F_POW(x, y) pow((x), (y))
/* NumPy's maximum/minimum propagate NaN from either side. */
#define F_MAXIMUM(x, y) (((x) >= (y) || (x) != (x)) ? (x) : (y))
#define F_MINIMUM(x, y) (((x) <= (y) || (x) != (x)) ? (x) : (y))
#define F_EQ(x, y) ((double)((x) == (y)))
#define F_NE(x, y) ((double)((x) != (y)))
#define F_LT(x, y) ((double)((x) < (y)))
#define F_LE(x, y) ((double)((x) <= (y)))
#define F_GT(x, y) ((double)((x) > (y)))
#define F_GE(x, y) ((double)((x) >= (y)))

BIN_KERNEL(F_ADD)
BIN_KERNEL(F_SUB)
BIN_KERNEL(F_MUL)
BIN_KERNEL(F_DIV)
BIN_KERNEL(F_POW)
BIN_KERNEL(F_MAXIMUM)
BIN_KERNEL(F_MINIMUM)
BIN_KERNEL(F_EQ)
BIN_KERNEL(F_NE)
BIN_KERNEL(F_LT)
BIN_KERNEL(F_LE)
BIN_KERNEL(F_GT)
BIN_KERNEL(F_GE)

typedef void (*bin_run)(int64_t, double *, int64_t, const double *, int64_t, const double *,
                        int64_t);

/* A run of libmvec's work gathers strided or broadcast operands into blocks on the stack. */
#define VBLOCK 256

static void F_ATAN2_run(int64_t n, double *o, int64_t so, const double *a, int64_t sa,
                        const double *b, int64_t sb)
{
    if (so == 1 && sa == 1 && sb == 1) {
        ty_vatan2(o, a, b, n);
        return;
    }
    double ya[VBLOCK], xb[VBLOCK], r[VBLOCK];
    for (int64_t at = 0; at < n; at += VBLOCK) {
        int64_t m = n - at < VBLOCK ? n - at : VBLOCK;
        for (int64_t i = 0; i < m; i++) {
            ya[i] = a[(at + i) * sa];
            xb[i] = b[(at + i) * sb];
        }
        ty_vatan2(r, ya, xb, m);
        for (int64_t i = 0; i < m; i++) o[(at + i) * so] = r[i];
    }
}

static bin_run bin_kernel(ty_binop op)
{
    switch (op) {
    case TY_ADD: return F_ADD_run;
    case TY_SUB: return F_SUB_run;
    case TY_MUL: return F_MUL_run;
    case TY_DIV: return F_DIV_run;
    case TY_POW: return F_POW_run;
    case TY_MAXIMUM: return F_MAXIMUM_run;
    case TY_MINIMUM: return F_MINIMUM_run;
    case TY_EQ: return F_EQ_run;
    case TY_NE: return F_NE_run;
    case TY_LT: return F_LT_run;
    case TY_LE: return F_LE_run;
    case TY_GT: return F_GT_run;
    case TY_GE: return F_GE_run;
    case TY_ATAN2: return F_ATAN2_run;
    }
    return F_ADD_run;
}

void ty_binary(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, ty_binop op)
{
    if (ty_numel(out) == 0) return;
    const ty_tensor *ops[3] = { out, a, b };
    ty_iter it;
    ty_iter_init(&it, out->ndim, out->shape, 3, ops);
    bin_run run = bin_kernel(op);
    TY_ITER_RUNS(it, run(n_, it.ptr[0], it.stride[0][last_], it.ptr[1], it.stride[1][last_],
                      it.ptr[2], it.stride[2][last_]));
}

#define UN_KERNEL(NAME, F)                                                               \
    static void NAME(int64_t n, double *o, int64_t so, const double *a, int64_t sa)       \
    {                                                                                    \
        if (so == 1 && sa == 1)                                                          \
            for (int64_t i = 0; i < n; i++) o[i] = F(a[i]);                              \
        else                                                                             \
            for (int64_t i = 0; i < n; i++) o[i * so] = F(a[i * sa]);                    \
    }

/* ---- tanh without libm ----------------------------------------------------------------
   libm's tanh costs ~16 ns and blocks vectorization, and the RNN spends most of its
   non-BLAS time in it. This one is branch-free C the compiler vectorizes (cloned for
   AVX2 and AVX-512 where the CPU has them): Cephes' rational form for |x| < 0.625 and
   1 - 2/(e^2|x| + 1) above, with exp from a degree-13 polynomial and an exponent shift.
   Within 2 ulp of the correctly rounded tanh (spec/ops_spec.lua checks it). */

/* The kernels below and their inline helpers share one set of options (GCC does not
   inline across differing ones): vectorize, let selects evaluate both sides (no trapping
   math) so the branch-free code really becomes vector code, and (tanh and sigmoid, up to
   the next push) fuse each a * b + c into one multiply-add where the clone has the
   instruction (ISO C mode leaves them apart): half the polynomials' instructions, at rows
   of 128 tanh 2.4-2.9 -> 1.8-2.3 ns an element, sigmoid 1.9-2.5 -> 1.3-1.7. Results differ
   from one clone to another in the last bits, so strided runs go through the same kernels
   (in blocks on the stack), not through a scalar copy of them. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "no-trapping-math", "fp-contract=fast")
#endif

static inline __attribute__((always_inline)) double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static inline __attribute__((always_inline)) uint64_t double_to_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* e^x for x in [0, 708] (or NaN). */
static inline double exp_small_range(double x)
{
    const double shifter = 0x1.8p52, invln2 = 1.44269504088896338700e+00;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    double t = x * invln2 + shifter; /* k = round(x / ln 2) in t's low bits */
    double k = t - shifter;
    double r = (x - k * ln2hi) - k * ln2lo; /* |r| <= ln2 / 2 */
    /* Taylor to degree 13 in Estrin's scheme: a tree of depth 4 instead of Horner's chain
       of 13 dependent multiply-adds, so the vector loop is not bound by their latency */
    double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    double q0 = 1.0 + r, q1 = 0.5 + r * (1.0 / 6.0), q2 = 1.0 / 24.0 + r * (1.0 / 120.0);
    double q3 = 1.0 / 720.0 + r * (1.0 / 5040.0), q4 = 1.0 / 40320.0 + r * (1.0 / 362880.0);
    double q5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0);
    double q6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);
    double s0 = q0 + r2 * q1, s1 = q2 + r2 * q3, s2 = q4 + r2 * q5;
    double p = (s0 + r4 * s1) + r8 * (s2 + r4 * q6);
    /* times 2^k: add k to the exponent field (t's bits shifted by 52 are exactly k << 52) */
    return bits_to_double(double_to_bits(p) + (double_to_bits(t) << 52));
}

static inline double tanh_one(double x)
{
    double a = fabs(x);
    /* small |x|: Cephes tanh, x + x^3 P(x^2) / Q(x^2); large |x|: 1 - 2 / (e^2a + 1),
       tanh being 1 in double precision past |x| = 22. Both quotients share one division,
       the slowest instruction here. */
    double s = x * x;
    double num = (-9.64399179425052238628E-1 * s - 9.92877231001918586564E1) * s -
                 1.61468768441708447952E3;
    double den = ((s + 1.12811678491632931402E2) * s + 2.23548839060100448583E3) * s +
                 4.84406305325125486048E3;
    double m = a + a;
    m = m > 44.0 ? 44.0 : m;
    double E = exp_small_range(m);
    int small = a < 0.625;
    double q = (small ? x * s * num : 2.0) / (small ? den : E + 1.0);
    return small ? copysign(x + q, x) /* keeps tanh(-0) = -0 */ : copysign(1.0 - q, x);
}

/* out[i] = F(in[i]) in whole vectors of 8 (the widest): fused multiply-adds make the
   compiler's scalar remainder loop round some inputs unlike its vector loop, so no element
   goes through one. Past the last whole vector, a run of 8 or more takes its last 8 again
   (read before the loop, which may write over them in place), a shorter one pads to 8 on
   the stack. */
#define TY_IN_WHOLE_VECTORS(F, out, in, n)                                         \
    do {                                                                           \
        int64_t whole_ = (n) - (n) % 8;                                            \
        double pad_[8];                                                            \
        if (whole_ >= 8 && whole_ < (n))                                           \
            for (int i_ = 0; i_ < 8; i_++) pad_[i_] = F((in)[(n) - 8 + i_]);       \
        for (int64_t i_ = 0; i_ < whole_; i_++) (out)[i_] = F((in)[i_]);           \
        if (whole_ >= 8 && whole_ < (n)) {                                         \
            int64_t rest_ = (n) - whole_;                                          \
            memcpy((out) + whole_, pad_ + 8 - rest_, (size_t)rest_ * sizeof(double)); \
        } else if (whole_ < (n)) {                                                 \
            size_t bytes_ = (size_t)((n) - whole_) * sizeof(double);               \
            memset(pad_, 0, sizeof pad_);                                          \
            memcpy(pad_, (in) + whole_, bytes_);                                   \
            for (int i_ = 0; i_ < 8; i_++) pad_[i_] = F(pad_[i_]);                 \
            memcpy((out) + whole_, pad_, bytes_);                                  \
        }                                                                          \
    } while (0)

TY_VECTOR_CLONES
void ty_vtanh(double *out, const double *in, int64_t n)
{
    TY_IN_WHOLE_VECTORS(tanh_one, out, in, n);
}

/* 1 / (1 + e^-x) as e^x / (e^x + 1) for x >= 0 and 1 / (e^|x| + 1) below: one division and
   no cancellation on either side. Past |x| = 708 (e^708 is the largest this exp makes) the
   result is 1 above and 0 below, where the exact value is under the smallest normal double
   (as NumPy's 1 / (1 + np.exp(-x)) gives 0 from -709.8 on). */
static inline double sigmoid_one(double x)
{
    double a = fabs(x);
    double E = exp_small_range(a > 708.0 ? 708.0 : a);
    double s = (x >= 0 ? E : 1.0) / (E + 1.0);
    return a > 708.0 ? (x >= 0 ? 1.0 : 0.0) : s;
}

TY_VECTOR_CLONES
void ty_vsigmoid(double *out, const double *in, int64_t n)
{
    TY_IN_WHOLE_VECTORS(sigmoid_one, out, in, n);
}

/* exp and log keep their multiplies and adds apart: fused, the vector loop and its scalar
   remainder round a few inputs differently, and an element's value must not depend on where
   in a run it falls */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

/* x ? a : b as a blend of bits: GCC turns ?: on values that feed a table lookup into
   branches and then masked loads, which it does not vectorize */
static inline uint64_t mask_of(int c)
{
    return (uint64_t)0 - (uint64_t)(c != 0);
}

static inline double blend(uint64_t m, double a, double b)
{
    return bits_to_double((double_to_bits(a) & m) | (double_to_bits(b) & ~m));
}

/* e^x within 1 ulp of the correctly rounded value (libm's is exact to 0.5 ulp but costs
   6.7 ns an element and does not vectorize; libmvec's is 3 ulp off). Tang's method:
   x = (128 m + j) ln2/128 + r with |r| <= ln2/256, and e^x = 2^m 2^(j/128) e^r, with
   2^(j/128) from a table, as a double and its relative rounding error (exp_table.h), and
   e^r - 1 to degree 5 (truncated under 1e-18). */
static inline __attribute__((always_inline)) double exp_one(double x)
{
    /* past 710 e^x is inf and below -746 it rounds to 0; the clamp keeps k in the shifter's
       reach, and NaN passes (its comparisons are false) */
    uint64_t over = mask_of(x > 710.0), under = mask_of(x < -746.0);
    x = blend(over, 710.0, blend(under, -746.0, x));
    const double shifter = 0x1.8p52;
    double t = x * EXP_INV_LN2N + shifter; /* k = round(128 x / ln 2) in t's low bits */
    double kd = t - shifter;
    uint64_t ki = double_to_bits(t), j = ki & 127;
    double r = (x - kd * EXP_LN2N_HI) - kd * EXP_LN2N_LO; /* exact head, then the rest */
    /* 2^m goes into the exponent field of 2^(j/128) ((ki - j) << 45 is m << 52, modulo
       2^64); where 2^m alone would leave the normal range it is taken 1 lower above e^708
       and 1000 higher below e^-708, and the product scaled back after */
    uint64_t big = mask_of(kd > 130000.0), tiny = mask_of(kd < -130000.0);
    uint64_t shift = (big & 1) | (tiny & (uint64_t)-1000);
    double scale = bits_to_double(EXP_HI[j] + ((ki - j - shift * 128) << 45));
    double p = r + r * r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0))));
    double y = scale + scale * (EXP_TAIL[j] + p);
    return y * blend(big, 2.0, blend(tiny, 0x1p-1000, 1.0));
}

TY_VECTOR_CLONES
void ty_vexp(double *out, const double *in, int64_t n)
{
    /* through a block on the stack: GCC gathers from the table only where no store of the
       loop can alias it */
    double block[VBLOCK];
    for (int64_t at = 0; at < n; at += VBLOCK) {
        int64_t m = n - at < VBLOCK ? n - at : VBLOCK;
        for (int64_t i = 0; i < m; i++) block[i] = exp_one(in[at + i]);
        memcpy(out + at, block, (size_t)m * sizeof(double));
    }
}

/* ln 2 as a head of 32 bits (its products with the exponents of doubles exact) and the rest */
#define LN2_HI 0x1.62e42fee00000p-1
#define LN2_LO 0x1.a39ef35793c76p-33

/* log x within 1 ulp of the correctly rounded value (libm's costs 6.5 ns an element and does
   not vectorize). x = 2^k z with z in [sqrt(1/2), sqrt(2)), f = z - 1 (exact), s = f/(2+f), and
   log(1+f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R)) with R = sum 2 s^2i / (2i + 1) to
   i = 12 (truncated under 1e-19 of s), so the rounding errors fall on the small terms. */
static inline __attribute__((always_inline)) double log_one(double x)
{
    uint64_t bad = mask_of(!(x > 0.0 && x < INFINITY)); /* 0, negatives, inf and NaN */
    uint64_t sub = mask_of(x < 0x1p-1022) & ~bad;        /* subnormal: scaled up by 2^52 */
    double v = blend(bad, 1.0, blend(sub, x * 0x1p52, x));
    /* the exponent field counts from sqrt(1/2): k and z come out of the bits */
    uint64_t t = double_to_bits(v) + (0x3ff0000000000000u - 0x3fe6a09e667f3bcdu);
    double k = bits_to_double((t >> 52) | 0x4330000000000000u) - (0x1p52 + 1023.0);
    k -= blend(sub, 52.0, 0.0);
    double z = bits_to_double((t & 0x000fffffffffffffu) + 0x3fe6a09e667f3bcdu);
    double f = z - 1.0;
    double s = f / (2.0 + f);
    double w = s * s, w2 = w * w, w4 = w2 * w2, w8 = w4 * w4;
    double c0 = 2.0 / 3 + w * (2.0 / 5), c1 = 2.0 / 7 + w * (2.0 / 9), c2 = 2.0 / 11 + w * (2.0 / 13);
    double c3 = 2.0 / 15 + w * (2.0 / 17), c4 = 2.0 / 19 + w * (2.0 / 21);
    double c5 = 2.0 / 23 + w * (2.0 / 25);
    double R = w * ((c0 + w2 * c1) + w4 * (c2 + w2 * c3) + w8 * (c4 + w2 * c5));
    double hfsq = 0.5 * f * f;
    double y = k * LN2_HI - ((hfsq - (s * (hfsq + R) + k * LN2_LO)) - f);
    /* log 0 = -inf, log inf = inf, NaN stays NaN, and a negative's log is NaN */
    double special = blend(mask_of(x == 0.0), -INFINITY,
                           blend(mask_of(x == INFINITY), INFINITY, blend(mask_of(x != x), x, NAN)));
    return blend(bad, special, y);
}

TY_VECTOR_CLONES
void ty_vlog(double *out, const double *in, int64_t n)
{
    double block[VBLOCK];
    for (int64_t at = 0; at < n; at += VBLOCK) {
        int64_t m = n - at < VBLOCK ? n - at : VBLOCK;
        for (int64_t i = 0; i < m; i++) block[i] = log_one(in[at + i]);
        memcpy(out + at, block, (size_t)m * sizeof(double));
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* A contiguous kernel on a run: as it is, or strided through blocks on the stack. */
static void blocked_run(int64_t n, double *o, int64_t so, const double *a, int64_t sa,
                        void (*kernel)(double *, const double *, int64_t))
{
    if (so == 1 && sa == 1) {
        kernel(o, a, n);
        return;
    }
    double buf[VBLOCK];
    for (int64_t at = 0; at < n; at += VBLOCK) {
        int64_t m = n - at < VBLOCK ? n - at : VBLOCK;
        for (int64_t i = 0; i < m; i++) buf[i] = a[(at + i) * sa];
        kernel(buf, buf, m);
        for (int64_t i = 0; i < m; i++) o[(at + i) * so] = buf[i];
    }
}

static void un_exp(int64_t n, double *o, int64_t so, const double *a, int64_t sa)
{
    blocked_run(n, o, so, a, sa, ty_vexp);
}

static void un_log(int64_t n, double *o, int64_t so, const double *a, int64_t sa)
{
    blocked_run(n, o, so, a, sa, ty_vlog);
}

static void un_tanh(int64_t n, double *o, int64_t so, const double *a, int64_t sa)
{
    blocked_run(n, o, so, a, sa, ty_vtanh);
}

static void un_sigmoid(int64_t n, double *o, int64_t so, const double *a, int64_t sa)
{
    blocked_run(n, o, so, a, sa, ty_vsigmoid);
}

/* libmvec's functions on a run: contiguous as it is, strided through stack blocks. */
static void vmath_run(int64_t n, double *o, int64_t so, const double *a, int64_t sa, ty_vfn f)
{
    if (so == 1 && sa == 1) {
        ty_vmath(o, a, n, f);
        return;
    }
    double buf[VBLOCK];
    for (int64_t at = 0; at < n; at += VBLOCK) {
        int64_t m = n - at < VBLOCK ? n - at : VBLOCK;
        for (int64_t i = 0; i < m; i++) buf[i] = a[(at + i) * sa];
        ty_vmath(buf, buf, m, f);
        for (int64_t i = 0; i < m; i++) o[(at + i) * so] = buf[i];
    }
}

#define VM_KERNEL(NAME, F)                                                              \
    static void NAME(int64_t n, double *o, int64_t so, const double *a, int64_t sa)     \
    {                                                                                  \
        vmath_run(n, o, so, a, sa, F);                                                 \
    }
VM_KERNEL(un_sin, TY_VSIN)
VM_KERNEL(un_cos, TY_VCOS)
VM_KERNEL(un_tan, TY_VTAN)
VM_KERNEL(un_asin, TY_VASIN)
VM_KERNEL(un_acos, TY_VACOS)
VM_KERNEL(un_atan, TY_VATAN)
VM_KERNEL(un_sinh, TY_VSINH)
VM_KERNEL(un_cosh, TY_VCOSH)
VM_KERNEL(un_log1p, TY_VLOG1P)
VM_KERNEL(un_expm1, TY_VEXPM1)
VM_KERNEL(un_log2, TY_VLOG2)
VM_KERNEL(un_log10, TY_VLOG10)
VM_KERNEL(un_sqrt, TY_VSQRT)

/* Vectorized by the compiler in each clone (AVX2 and AVX-512 round in one instruction);
   rounding to an integer raises no exception a caller could see, so trapping math is off. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif
#define VEC_UN_KERNEL(NAME, F)                                                           \
    TY_VECTOR_CLONES static void NAME(int64_t n, double *o, int64_t so, const double *a, \
                                      int64_t sa)                                        \
    {                                                                                    \
        if (so == 1 && sa == 1)                                                          \
            for (int64_t i = 0; i < n; i++) o[i] = F(a[i]);                              \
        else                                                                             \
            for (int64_t i = 0; i < n; i++) o[i * so] = F(a[i * sa]);                    \
    }
#define F_SIGN(x) ((x) > 0 ? 1.0 : (x) < 0 ? -1.0 : (x) == 0 ? 0.0 : (x))
#define F_SQUARE(x) ((x) * (x))
#define F_RELU(x) ((x) < 0 ? 0.0 : (x))
VEC_UN_KERNEL(un_floor, floor)
VEC_UN_KERNEL(un_ceil, ceil)
VEC_UN_KERNEL(un_round, rint) /* the default rounding mode: half to even, as NumPy's round */
VEC_UN_KERNEL(un_trunc, trunc)
VEC_UN_KERNEL(un_sign, F_SIGN)
VEC_UN_KERNEL(un_square, F_SQUARE)
VEC_UN_KERNEL(un_relu, F_RELU)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#define F_NEG(x) (-(x))
UN_KERNEL(un_neg, F_NEG)
UN_KERNEL(un_abs, fabs)

typedef void (*un_run)(int64_t, double *, int64_t, const double *, int64_t);

void ty_unary(ty_tensor *out, const ty_tensor *a, ty_unop op)
{
    if (ty_numel(out) == 0) return;
    un_run run = un_neg;
    switch (op) {
    case TY_NEG: run = un_neg; break;
    case TY_TANH: run = un_tanh; break;
    case TY_SIGMOID: run = un_sigmoid; break;
    case TY_EXP: run = un_exp; break;
    case TY_LOG: run = un_log; break;
    case TY_SQRT: run = un_sqrt; break;
    case TY_ABS: run = un_abs; break;
    case TY_SIN: run = un_sin; break;
    case TY_COS: run = un_cos; break;
    case TY_TAN: run = un_tan; break;
    case TY_ASIN: run = un_asin; break;
    case TY_ACOS: run = un_acos; break;
    case TY_ATAN: run = un_atan; break;
    case TY_SINH: run = un_sinh; break;
    case TY_COSH: run = un_cosh; break;
    case TY_LOG1P: run = un_log1p; break;
    case TY_EXPM1: run = un_expm1; break;
    case TY_LOG2: run = un_log2; break;
    case TY_LOG10: run = un_log10; break;
    case TY_FLOOR: run = un_floor; break;
    case TY_CEIL: run = un_ceil; break;
    case TY_ROUND: run = un_round; break;
    case TY_TRUNC: run = un_trunc; break;
    case TY_SIGN: run = un_sign; break;
    case TY_SQUARE: run = un_square; break;
    case TY_RELU: run = un_relu; break;
    }
    const ty_tensor *ops[2] = { out, a };
    ty_iter it;
    ty_iter_init(&it, out->ndim, out->shape, 2, ops);
    TY_ITER_RUNS(it, run(n_, it.ptr[0], it.stride[0][last_], it.ptr[1], it.stride[1][last_]));
}

void ty_clip(ty_tensor *out, const ty_tensor *a, double lo, double hi)
{
    if (ty_numel(out) == 0) return;

    const ty_tensor *ops[2] = { out, a };
    ty_iter it;
    ty_iter_init(&it, out->ndim, out->shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t so = it.stride[0][last_], sa = it.stride[1][last_];
        for (int64_t i = 0; i < n_; i++) {
            double x = it.ptr[1][i * sa];
            x = x < lo ? lo : x;
            it.ptr[0][i * so] = x > hi ? hi : x;
        }
    });
}

void ty_where(ty_tensor *out, const ty_tensor *c, const ty_tensor *a, const ty_tensor *b)
{
    if (ty_numel(out) == 0) return;
    const ty_tensor *ops[4] = { out, c, a, b };
    ty_iter it;
    ty_iter_init(&it, out->ndim, out->shape, 4, ops);
    TY_ITER_RUNS(it, {
        int64_t so = it.stride[0][last_], sc = it.stride[1][last_];
        int64_t sa = it.stride[2][last_], sb = it.stride[3][last_];
        for (int64_t i = 0; i < n_; i++)
            it.ptr[0][i * so] = it.ptr[1][i * sc] != 0 ? it.ptr[2][i * sa] : it.ptr[3][i * sb];
    });
}

int64_t ty_mask_count(const ty_tensor *mask)
{
    if (ty_numel(mask) == 0) return 0;
    int64_t count = 0;
    int bad = 0;
    const ty_tensor *ops[1] = { mask };
    ty_iter it;
    ty_iter_init(&it, mask->ndim, mask->shape, 1, ops);
    TY_ITER_RUNS(it, {
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_; i++) {
            double m = it.ptr[0][i * s];
            count += m == 1.0;
            bad |= m != 0.0 && m != 1.0;
        }
    });
    return bad ? -1 : count;
}

void ty_mask_select(ty_tensor *out, const ty_tensor *t, const ty_tensor *mask)
{
    if (ty_numel(t) == 0) return;
    double *o = out->data;
    int64_t so = out->ndim ? out->stride[0] : 1;
    int64_t count = out->ndim ? out->shape[0] : 1;
    if (so == 1 && ty_is_contiguous(t) && ty_is_contiguous(mask)) {
        /* branch-free: every element is stored, the position advances where the mask is 1
           (a mask of random bits would mispredict half the branches); past the last
           selected element the stores go to a scratch slot */
        const double *a = t->data, *m = mask->data;
        int64_t n = ty_numel(t), k = 0;
        double scratch;
        for (int64_t i = 0; i < n; i++) {
            double *dst = k < count ? o + k : &scratch;
            *dst = a[i];
            k += m[i] == 1.0;
        }
        return;
    }
    const ty_tensor *ops[2] = { t, mask };
    ty_iter it;
    ty_iter_init(&it, t->ndim, t->shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t st = it.stride[0][last_], sm = it.stride[1][last_];
        for (int64_t i = 0; i < n_; i++)
            if (it.ptr[1][i * sm] == 1.0) {
                *o = it.ptr[0][i * st];
                o += so;
            }
    });
}

void ty_mask_assign(ty_tensor *t, const ty_tensor *mask, const double *src, int64_t step,
                    int64_t count)
{
    if (ty_numel(t) == 0) return;
    const ty_tensor *ops[2] = { t, mask };
    ty_iter it;
    ty_iter_init(&it, t->ndim, t->shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t st = it.stride[0][last_], sm = it.stride[1][last_];
        for (int64_t i = 0; i < n_; i++)
            if (it.ptr[1][i * sm] == 1.0 && count > 0) {
                it.ptr[0][i * st] = *src;
                src += step;
                count--;
            }
    });
}

void ty_assign(ty_tensor *dst, const ty_tensor *src)
{
    if (ty_numel(dst) == 0) return;
    const ty_tensor *ops[2] = { dst, src };
    ty_iter it;
    ty_iter_init(&it, dst->ndim, dst->shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t so = it.stride[0][last_], sa = it.stride[1][last_];
        if (so == 1 && sa == 1) {
            memmove(it.ptr[0], it.ptr[1], (size_t)n_ * sizeof(double));
        } else if (sa == 0) { /* a broadcast value (fill): one store loop, vectorized */
            const double v = *it.ptr[1];
            double *o = it.ptr[0];
            if (so == 1)
                for (int64_t i = 0; i < n_; i++) o[i] = v;
            else
                for (int64_t i = 0; i < n_; i++) o[i * so] = v;
        } else {
            for (int64_t i = 0; i < n_; i++) it.ptr[0][i * so] = it.ptr[1][i * sa];
        }
    });
}

void ty_fill(ty_tensor *dst, double v)
{
    ty_tensor s = ty_tensor_scalar(&v);
    ty_assign(dst, &s);
}

/* ---- reductions ----------------------------------------------------------------------- */

/* NumPy's pairwise summation (pairwise_sum in numpy/core/src/umath/loops_utils.h.src),
   step for step: below 8 elements a plain loop; up to 128, eight accumulators started from
   the first eight elements and combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the
   rest one by one; above, two halves split at a multiple of 8. The error grows as O(log n),
   and on a contiguous run the eight accumulators are two vector registers, which add
   lane by lane exactly as the scalar ones do. */
#define PAIRWISE_BLOCK 128

TY_VECTOR_CLONES
static double pairwise(const double *p, int64_t n, int64_t s)
{
    if (n < 8) {
        double r = 0.;
        for (int64_t i = 0; i < n; i++) r += p[i * s];
        return r;
    }
    if (n <= PAIRWISE_BLOCK) {
        int64_t i = 8;
        double r;
        if (s == 1) {
            ty_v4d r0 = TY_LOAD4(p), r1 = TY_LOAD4(p + 4);
            for (; i < n - (n % 8); i += 8) {
                r0 += TY_LOAD4(p + i);
                r1 += TY_LOAD4(p + i + 4);
            }
            r = ((r0[0] + r0[1]) + (r0[2] + r0[3])) + ((r1[0] + r1[1]) + (r1[2] + r1[3]));
        } else {
            double a[8];
            for (int k = 0; k < 8; k++) a[k] = p[k * s];
            for (; i < n - (n % 8); i += 8)
                for (int k = 0; k < 8; k++) a[k] += p[(i + k) * s];
            r = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        }
        for (; i < n; i++) r += p[i * s];
        return r;
    }
    int64_t h = n / 2;
    h -= h % 8;
    return pairwise(p, h, s) + pairwise(p + h * s, n - h, s);
}

/* The sum of a run as NumPy's sum of a 1-d array: its reduction goes through buffers of
   8192 elements, each summed pairwise, added up in order. */
#define NUMPY_BUFSIZE 8192

static double sum_run(const double *p, int64_t n, int64_t s)
{
    double r = 0.;
    for (int64_t i = 0; i < n; i += NUMPY_BUFSIZE) {
        int64_t m = n - i < NUMPY_BUFSIZE ? n - i : NUMPY_BUFSIZE;
        double part = pairwise(p + i * s, m, s);
        r = i == 0 ? part : r + part;
    }
    return r;
}

typedef struct red_state {
    double  v;
    int64_t at;    /* flat position of the extreme, for arg* */
    int64_t seen;
    int     nan;
} red_state;

/* The sum of the squared deviations from m of the run, as NumPy sums the array of them:
   blocks of NUMPY_BUFSIZE, each pairwise, added in order; *acc and *filled carry a block
   across runs (a reduction over all elements walks several). */
typedef struct dev_state {
    double  acc;
    int64_t filled, blocks;
    double  buf[NUMPY_BUFSIZE];
} dev_state;

static void dev_flush(dev_state *d)
{
    if (!d->filled) return;
    double part = pairwise(d->buf, d->filled, 1);
    d->acc = d->blocks++ == 0 ? part : d->acc + part;
    d->filled = 0;
}

static void dev_step(dev_state *d, const double *p, int64_t n, int64_t s, double m)
{
    while (n > 0) {
        int64_t room = NUMPY_BUFSIZE - d->filled, k = n < room ? n : room;
        double *b = d->buf + d->filled;
        if (s == 1) {
            for (int64_t i = 0; i < k; i++) b[i] = (p[i] - m) * (p[i] - m);
        } else {
            for (int64_t i = 0; i < k; i++) b[i] = (p[i * s] - m) * (p[i * s] - m);
        }
        d->filled += k;
        if (d->filled == NUMPY_BUFSIZE) dev_flush(d);
        p += k * s;
        n -= k;
    }
}

static void red_step(red_state *r, ty_reduce op, const double *p, int64_t n, int64_t s)
{
    if (op == TY_SUM || op == TY_MEAN) {
        r->v += sum_run(p, n, s);
        r->seen += n;
        return;
    }
    if (op == TY_PROD) {
        double v = r->seen ? r->v : 1.0;
        for (int64_t i = 0; i < n; i++) v *= p[i * s];
        r->v = v;
        r->seen += n;
        return;
    }
    int want_max = (op == TY_MAX || op == TY_ARGMAX);
    for (int64_t i = 0; i < n; i++, r->seen++) {
        double x = p[i * s];
        if (r->nan) break;
        if (x != x) { /* NumPy: the first NaN wins for max/min and argmax/argmin */
            r->v = x;
            r->at = r->seen;
            r->nan = 1;
            break;
        }
        if (r->seen == 0 || (want_max ? x > r->v : x < r->v)) {
            r->v = x;
            r->at = r->seen;
        }
    }
}

static double red_result(const red_state *r, ty_reduce op)
{
    switch (op) {
    case TY_MEAN: return r->seen ? r->v / (double)r->seen : NAN;
    case TY_ARGMAX:
    case TY_ARGMIN: return (double)r->at;
    case TY_MAX:
    case TY_MIN: return r->seen ? r->v : NAN;
    case TY_PROD: return r->seen ? r->v : 1.0;
    default: return r->v;
    }
}

double ty_reduce_all(const ty_tensor *a, ty_reduce op)
{
    red_state r = { 0, 0, 0, 0 };
    if (op == TY_VAR) {
        int64_t n = ty_numel(a);
        if (n == 0) return NAN;
        double m = ty_reduce_all(a, TY_MEAN);
        dev_state d;
        d.acc = 0;
        d.filled = d.blocks = 0;
        const ty_tensor *ops[1] = { a };
        ty_iter it;
        ty_iter_init(&it, a->ndim, a->shape, 1, ops);
        TY_ITER_RUNS(it, dev_step(&d, it.ptr[0], n_, it.stride[0][last_], m));
        dev_flush(&d);
        return d.acc / (double)n;
    }
    if (ty_numel(a) == 0) return red_result(&r, op);
    /* the iterator walks in row-major order, so arg* positions are flat C-order indexes */
    const ty_tensor *ops[1] = { a };
    ty_iter it;
    ty_iter_init(&it, a->ndim, a->shape, 1, ops);
    TY_ITER_RUNS(it, red_step(&r, op, it.ptr[0], n_, it.stride[0][last_]));
    return red_result(&r, op);
}

void ty_reduce_dim(ty_tensor *out, const ty_tensor *a, int dim, ty_reduce op)
{
    /* out has a's shape without dim; walk out's elements and reduce along dim */
    int64_t n = a->shape[dim], s = a->stride[dim];
    int64_t total = ty_numel(out);
    if (total == 0) return;
    ty_tensor rest = *a;
    ty_view_drop(&rest, dim);
    TY_ASSERT(ty_same_shape(out, &rest));
    const ty_tensor *ops[2] = { out, &rest };
    ty_iter it;
    ty_iter_init(&it, out->ndim, out->shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t so = it.stride[0][last_], sr = it.stride[1][last_];
        for (int64_t i = 0; i < n_; i++) {
            const double *p = it.ptr[1] + i * sr;
            if (op == TY_VAR) {
                if (n == 0) {
                    it.ptr[0][i * so] = NAN;
                    continue;
                }
                double m = sum_run(p, n, s) / (double)n;
                dev_state d;
                d.acc = 0;
                d.filled = d.blocks = 0;
                dev_step(&d, p, n, s, m);
                dev_flush(&d);
                it.ptr[0][i * so] = d.acc / (double)n;
                continue;
            }
            red_state r = { 0, 0, 0, 0 };
            if (n > 0) red_step(&r, op, p, n, s);
            it.ptr[0][i * so] = red_result(&r, op);
        }
    });
}

/* Calls f on every line of a along dim with the matching line of out (same shape as a):
   the walk the scans and softmax share. */
typedef void (*line_fn)(double *o, int64_t so, const double *p, int64_t sa, int64_t n, int arg);

static void each_line(ty_tensor *out, const ty_tensor *a, int dim, line_fn f, int arg)
{
    if (ty_numel(out) == 0) return;
    int64_t n = a->shape[dim], sa = a->stride[dim], so = out->stride[dim];
    ty_tensor ra = *a, ro = *out;
    ty_view_drop(&ra, dim);
    ty_view_drop(&ro, dim);
    const ty_tensor *ops[2] = { &ro, &ra };
    ty_iter it;
    ty_iter_init(&it, ro.ndim, ro.shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t s0 = it.stride[0][last_], s1 = it.stride[1][last_];
        for (int64_t i = 0; i < n_; i++) f(it.ptr[0] + i * s0, so, it.ptr[1] + i * s1, sa, n, arg);
    });
}

static void cumulate_line(double *o, int64_t so, const double *p, int64_t sa, int64_t n, int mul)
{
    double acc = p[0];
    o[0] = acc;
    if (mul)
        for (int64_t k = 1; k < n; k++) o[k * so] = acc = acc * p[k * sa];
    else
        for (int64_t k = 1; k < n; k++) o[k * so] = acc = acc + p[k * sa];
}

void ty_cumulate(ty_tensor *out, const ty_tensor *a, int dim, ty_binop op)
{
    each_line(out, a, dim, cumulate_line, op == TY_MUL);
}

static void softmax_line(double *o, int64_t so, const double *p, int64_t sa, int64_t n, int log_)
{
    double m = p[0];
    for (int64_t k = 1; k < n; k++) m = p[k * sa] > m || p[k * sa] != p[k * sa] ? p[k * sa] : m;
    /* the shifted values first (o may alias a), then their exponentials (in o for
       softmax, in blocks for log_softmax) and their sum */
    for (int64_t k = 0; k < n; k++) o[k * so] = p[k * sa] - m;
    double sum = 0, e[VBLOCK];
    if (!log_ && so == 1) {
        ty_vmath(o, o, n, TY_VEXP);
    } else {
        for (int64_t at = 0; at < n; at += VBLOCK) {
            int64_t len = n - at < VBLOCK ? n - at : VBLOCK;
            for (int64_t k = 0; k < len; k++) e[k] = o[(at + k) * so];
            ty_vmath(e, e, len, TY_VEXP);
            if (log_)
                sum += pairwise(e, len, 1);
            else
                for (int64_t k = 0; k < len; k++) o[(at + k) * so] = e[k];
        }
    }
    if (!log_) sum = sum_run(o, n, so); /* NumPy's e.sum(axis) order */
    if (log_) {
        double ls = log(sum);
        for (int64_t k = 0; k < n; k++) o[k * so] -= ls;
    } else {
        for (int64_t k = 0; k < n; k++) o[k * so] /= sum;
    }
}

void ty_softmax(ty_tensor *out, const ty_tensor *a, int dim, int log_)
{
    each_line(out, a, dim, softmax_line, log_);
}

double ty_norm(const ty_tensor *a)
{
    if (ty_numel(a) == 0) return 0.0;
    double acc = 0;
    const ty_tensor *ops[1] = { a };
    ty_iter it;
    ty_iter_init(&it, a->ndim, a->shape, 1, ops);
    TY_ITER_RUNS(it, {
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_; i++) acc += it.ptr[0][i * s] * it.ptr[0][i * s];
    });
    return sqrt(acc);
}

int ty_allclose(const ty_tensor *a, const ty_tensor *b, double rtol, double atol)
{
    int nd;
    int64_t shape[TY_MAX_DIMS];
    if (ty_broadcast_shape(a, b, &nd, shape, NULL)) return 0;
    ty_tensor out;
    memset(&out, 0, sizeof out);
    out.ndim = nd;
    for (int d = 0; d < nd; d++) out.shape[d] = shape[d];
    if (ty_numel(&out) == 0) return 1;
    double dummy = 0;
    out.data = &dummy; /* strides 0: the iterator only walks a and b */
    const ty_tensor *ops[3] = { &out, a, b };
    ty_iter it;
    ty_iter_init(&it, out.ndim, out.shape, 3, ops);
    int ok = 1;
    TY_ITER_RUNS(it, {
        int64_t sa = it.stride[1][last_], sb = it.stride[2][last_];
        for (int64_t i = 0; i < n_ && ok; i++) {
            double x = it.ptr[1][i * sa], y = it.ptr[2][i * sb];
            if (!isfinite(x) || !isfinite(y)) { /* NumPy: only equal infinities match */
                if (x != y) ok = 0;
            } else if (!(fabs(x - y) <= atol + rtol * fabs(y))) {
                ok = 0;
            }
        }
    });
    return ok;
}
