/* iter.h: the one strided iterator of the core. Every walk over a tensor's elements goes
   through it: operands laid over one shape (broadcasting by stride 0), dimensions merged
   where every operand is contiguous across them, the body called once per innermost run. */
#ifndef TYCHO_ITER_H
#define TYCHO_ITER_H

#include "core/tensor.h"

#define TY_ITER_MAX_OPS 4

typedef struct ty_iter {
    int     ndim;                                  /* at least 1 */
    int     nop;
    int64_t shape[TY_MAX_DIMS];
    int64_t stride[TY_ITER_MAX_OPS][TY_MAX_DIMS];  /* in elements, per operand */
    double *ptr[TY_ITER_MAX_OPS];                  /* the current run's first elements */
} ty_iter;

/* Lays operands ops[0..nop-1] over the shape (ndim, shape): each must broadcast to it,
   trailing dimensions aligned as in NumPy. The shape must have elements. */
void ty_iter_init(ty_iter *it, int ndim, const int64_t *shape, int nop,
                  const ty_tensor *const *ops);

/* Runs the statements for each innermost run of `it`, in row-major order: in them,
   it.ptr[o] is operand o's first element of the run, n_ its length and
   it.stride[o][last_] its stride. */
#define TY_ITER_RUNS(it, ...)                                                              \
    do {                                                                                   \
        int64_t idx_[TY_MAX_DIMS] = { 0 };                                                 \
        int nd_ = (it).ndim, last_ = nd_ - 1;                                              \
        int64_t n_ = (it).shape[last_];                                                    \
        for (;;) {                                                                         \
            __VA_ARGS__;                                                                   \
            int d_ = last_ - 1;                                                            \
            for (; d_ >= 0; d_--) {                                                        \
                for (int o_ = 0; o_ < (it).nop; o_++) (it).ptr[o_] += (it).stride[o_][d_];  \
                if (++idx_[d_] < (it).shape[d_]) break;                                    \
                for (int o_ = 0; o_ < (it).nop; o_++)                                      \
                    (it).ptr[o_] -= (it).stride[o_][d_] * (it).shape[d_];                  \
                idx_[d_] = 0;                                                              \
            }                                                                              \
            if (d_ < 0) break;                                                             \
        }                                                                                  \
        (void)n_;                                                                          \
    } while (0)

#endif
