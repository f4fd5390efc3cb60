/* vmath.h: libm's elementwise functions over contiguous runs, vectorized through glibc's
   libmvec where the build has it (within its documented 4 ulp), else libm's; sqrt through
   the vector square root instruction (correctly rounded, as libm's). */
#ifndef TYCHO_VMATH_H
#define TYCHO_VMATH_H

#include <stdint.h>

typedef enum {
    TY_VSIN, TY_VCOS, TY_VTAN, TY_VASIN, TY_VACOS, TY_VATAN, TY_VSINH, TY_VCOSH,
    TY_VLOG1P, TY_VEXPM1, TY_VLOG2, TY_VLOG10, TY_VEXP, TY_VSQRT
} ty_vfn;

/* out[i] = f(in[i]) for n contiguous elements (out may equal in). */
void ty_vmath(double *out, const double *in, int64_t n, ty_vfn f);
/* out[i] = atan2(y[i], x[i]) (out may equal y or x). */
void ty_vatan2(double *out, const double *y, const double *x, int64_t n);

#endif
