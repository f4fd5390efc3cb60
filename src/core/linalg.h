/* linalg.h: matrix products (gemm, gemv, dot, NumPy's batched matmul) on any strides, and
   what BLAS runs them. Outputs are caller-allocated slots of the right shape. */
#ifndef TYCHO_LINALG_H
#define TYCHO_LINALG_H

#include "core/tensor.h"

/* out (M x N) = a (M x K) * b (K x N), any strides; BLAS when layouts allow, else a copy
   into a contiguous temporary through alloc. beta 0: overwrite, 1: accumulate. */
int ty_gemm(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, double beta,
            const ty_allocator *alloc, ty_error *e);
/* out = alpha a b + beta out (beta 0 or 1). */
int ty_gemm_scaled(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, double alpha,
                   double beta, const ty_allocator *alloc, ty_error *e);
/* out (M) = a (M x K) * x (K). */
int ty_gemv(ty_tensor *out, const ty_tensor *a, const ty_tensor *x, const ty_allocator *alloc,
            ty_error *e);
double ty_vdot(const ty_tensor *a, const ty_tensor *b);

/* NumPy's matmul of a and b (at least one dimension each; 1-d promoted and dropped again,
   batch dimensions broadcast): the result's shape, or TY_EARG naming both shapes. */
int ty_matmul_shape(const ty_tensor *a, const ty_tensor *b, int *ndim, int64_t *shape,
                    ty_error *e);
/* out (of ty_matmul_shape's shape) = matmul(a, b): one product per batch. */
int ty_matmul(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, const ty_allocator *alloc,
              ty_error *e);

/* For tests: products with a size past n go to BLAS in blocks of n (default INT_MAX, what
   BLAS's ints hold; 0 restores it). Set it while no product runs. */
void ty_linalg_set_blas_max(int64_t n);

/* The BLAS behind the products: the core OpenBLAS picked for this CPU (or the one
   OPENBLAS_CORETYPE forced), its build configuration and its thread count. */
const char *ty_blas_core(void);
const char *ty_blas_config(void);
int         ty_blas_threads(void);

#endif
