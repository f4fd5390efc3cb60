/* vmath.c: the elementwise functions of libm on contiguous runs, through glibc's vector
   math library (libmvec: 8 doubles per call on AVX-512, 4 on AVX2) where the build has it,
   libm one element at a time elsewhere; sqrt by the vector instruction. */
#include "core/vmath.h"

#include <math.h>
#include <string.h>

typedef double (*scalar_fn)(double);
typedef double (*scalar_fn2)(double, double);

static scalar_fn scalar_of(ty_vfn f)
{
    switch (f) {
    case TY_VSIN: return sin;
    case TY_VCOS: return cos;
    case TY_VTAN: return tan;
    case TY_VASIN: return asin;
    case TY_VACOS: return acos;
    case TY_VATAN: return atan;
    case TY_VSINH: return sinh;
    case TY_VCOSH: return cosh;
    case TY_VLOG1P: return log1p;
    case TY_VEXPM1: return expm1;
    case TY_VLOG2: return log2;
    case TY_VLOG10: return log10;
    case TY_VEXP: return exp;
    case TY_VSQRT: return sqrt;
    }
    return sin;
}

#if defined(TY_HAVE_MVEC) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

/* libmvec's entry points (the vector function ABI's names: e = AVX-512, d = AVX2,
   b = SSE2; N8/N4/N2 lanes; v per vector argument). Declared under the target each
   needs, so their vector arguments pass in the registers that ABI says. */
#pragma GCC push_options
#pragma GCC target("avx512f")
#define DECL8(name) __m512d _ZGVeN8v_##name(__m512d);
DECL8(sin) DECL8(cos) DECL8(tan) DECL8(asin) DECL8(acos) DECL8(atan) DECL8(sinh) DECL8(cosh)
DECL8(log1p) DECL8(expm1) DECL8(log2) DECL8(log10) DECL8(exp)
__m512d _ZGVeN8vv_atan2(__m512d, __m512d);
typedef __m512d (*fn8)(__m512d);
static __m512d sqrt8(__m512d x)
{
    return _mm512_sqrt_pd(x);
}

static fn8 fn8_of(ty_vfn f)
{
    switch (f) {
    case TY_VSIN: return _ZGVeN8v_sin;
    case TY_VCOS: return _ZGVeN8v_cos;
    case TY_VTAN: return _ZGVeN8v_tan;
    case TY_VASIN: return _ZGVeN8v_asin;
    case TY_VACOS: return _ZGVeN8v_acos;
    case TY_VATAN: return _ZGVeN8v_atan;
    case TY_VSINH: return _ZGVeN8v_sinh;
    case TY_VCOSH: return _ZGVeN8v_cosh;
    case TY_VLOG1P: return _ZGVeN8v_log1p;
    case TY_VEXPM1: return _ZGVeN8v_expm1;
    case TY_VLOG2: return _ZGVeN8v_log2;
    case TY_VLOG10: return _ZGVeN8v_log10;
    case TY_VEXP: return _ZGVeN8v_exp;
    case TY_VSQRT: return sqrt8;
    }
    return _ZGVeN8v_sin;
}

/* A tail shorter than a vector runs padded, through the same vector function, so every
   element of a result comes from one implementation. */
static void run8(double *out, const double *in, int64_t n, ty_vfn f)
{
    fn8 g = fn8_of(f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm512_storeu_pd(out + i, g(_mm512_loadu_pd(in + i)));
    if (i < n) {
        double buf[8] = { 0 };
        memcpy(buf, in + i, (size_t)(n - i) * sizeof(double));
        _mm512_storeu_pd(buf, g(_mm512_loadu_pd(buf)));
        memcpy(out + i, buf, (size_t)(n - i) * sizeof(double));
    }
}

static void run8_atan2(double *out, const double *y, const double *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm512_storeu_pd(out + i, _ZGVeN8vv_atan2(_mm512_loadu_pd(y + i), _mm512_loadu_pd(x + i)));
    if (i < n) {
        double by[8] = { 0 }, bx[8] = { 0 };
        memcpy(by, y + i, (size_t)(n - i) * sizeof(double));
        memcpy(bx, x + i, (size_t)(n - i) * sizeof(double));
        _mm512_storeu_pd(by, _ZGVeN8vv_atan2(_mm512_loadu_pd(by), _mm512_loadu_pd(bx)));
        memcpy(out + i, by, (size_t)(n - i) * sizeof(double));
    }
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
#define DECL4(name) __m256d _ZGVdN4v_##name(__m256d);
DECL4(sin) DECL4(cos) DECL4(tan) DECL4(asin) DECL4(acos) DECL4(atan) DECL4(sinh) DECL4(cosh)
DECL4(log1p) DECL4(expm1) DECL4(log2) DECL4(log10) DECL4(exp)
__m256d _ZGVdN4vv_atan2(__m256d, __m256d);
typedef __m256d (*fn4)(__m256d);
static __m256d sqrt4(__m256d x)
{
    return _mm256_sqrt_pd(x);
}

static fn4 fn4_of(ty_vfn f)
{
    switch (f) {
    case TY_VSIN: return _ZGVdN4v_sin;
    case TY_VCOS: return _ZGVdN4v_cos;
    case TY_VTAN: return _ZGVdN4v_tan;
    case TY_VASIN: return _ZGVdN4v_asin;
    case TY_VACOS: return _ZGVdN4v_acos;
    case TY_VATAN: return _ZGVdN4v_atan;
    case TY_VSINH: return _ZGVdN4v_sinh;
    case TY_VCOSH: return _ZGVdN4v_cosh;
    case TY_VLOG1P: return _ZGVdN4v_log1p;
    case TY_VEXPM1: return _ZGVdN4v_expm1;
    case TY_VLOG2: return _ZGVdN4v_log2;
    case TY_VLOG10: return _ZGVdN4v_log10;
    case TY_VEXP: return _ZGVdN4v_exp;
    case TY_VSQRT: return sqrt4;
    }
    return _ZGVdN4v_sin;
}

static void run4(double *out, const double *in, int64_t n, ty_vfn f)
{
    fn4 g = fn4_of(f);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(out + i, g(_mm256_loadu_pd(in + i)));
    if (i < n) {
        double buf[4] = { 0 };
        memcpy(buf, in + i, (size_t)(n - i) * sizeof(double));
        _mm256_storeu_pd(buf, g(_mm256_loadu_pd(buf)));
        memcpy(out + i, buf, (size_t)(n - i) * sizeof(double));
    }
}

static void run4_atan2(double *out, const double *y, const double *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        _mm256_storeu_pd(out + i, _ZGVdN4vv_atan2(_mm256_loadu_pd(y + i), _mm256_loadu_pd(x + i)));
    if (i < n) {
        double by[4] = { 0 }, bx[4] = { 0 };
        memcpy(by, y + i, (size_t)(n - i) * sizeof(double));
        memcpy(bx, x + i, (size_t)(n - i) * sizeof(double));
        _mm256_storeu_pd(by, _ZGVdN4vv_atan2(_mm256_loadu_pd(by), _mm256_loadu_pd(bx)));
        memcpy(out + i, by, (size_t)(n - i) * sizeof(double));
    }
}
#pragma GCC pop_options

/* 2: AVX-512, 1: AVX2, 0: libm (the loader's answer does not change within a process;
   recomputing it is a few instructions and keeps the engine free of mutable globals) */
static int vector_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    return 0;
}
#define HAVE_VECTOR 1
#else
#define HAVE_VECTOR 0
#endif

void ty_vmath(double *out, const double *in, int64_t n, ty_vfn f)
{
#if HAVE_VECTOR
    int level = vector_level();
    if (level == 2) {
        run8(out, in, n, f);
        return;
    }
    if (level == 1) {
        run4(out, in, n, f);
        return;
    }
#endif
    scalar_fn g = scalar_of(f);
    for (int64_t i = 0; i < n; i++) out[i] = g(in[i]);
}

void ty_vatan2(double *out, const double *y, const double *x, int64_t n)
{
#if HAVE_VECTOR
    int level = vector_level();
    if (level == 2) {
        run8_atan2(out, y, x, n);
        return;
    }
    if (level == 1) {
        run4_atan2(out, y, x, n);
        return;
    }
#endif
    scalar_fn2 g = atan2;
    for (int64_t i = 0; i < n; i++) out[i] = g(y[i], x[i]);
}
