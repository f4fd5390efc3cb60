/* optim.h: the optimizers' in-place update kernels (PyTorch 1.13's single-tensor formulas),
   one call per parameter, and the flat-vector helpers LBFGS and clip_grad_norm use. */
#ifndef TYCHO_OPTIM_H
#define TYCHO_OPTIM_H

#include "core/tensor.h"

/* Every kernel updates the parameter p in place from its gradient g (same shape, any
   strides; g may be p's very view) and the optimizer's buffers: contiguous arrays of
   numel(p) doubles, in p's row-major order, that alias neither. They allocate nothing.
   The caller checked the shapes (ty_optim_check). Each is compiled in several versions
   (TY_VECTOR_CLONES), hence TY_HIDDEN. */

typedef struct ty_sgd {
    double lr, momentum, dampening, weight_decay;
    int nesterov, maximize;
    int first;              /* the first step: the momentum buffer becomes the gradient */
} ty_sgd;
/* buf: NULL when momentum is 0 */
TY_HIDDEN void ty_sgd_step(ty_tensor *p, const ty_tensor *g, double *buf, const ty_sgd *o);

typedef struct ty_adam {
    double beta1, beta2, eps, weight_decay;
    double step_size;       /* lr / (1 - beta1^step) */
    double bias2_sqrt;      /* sqrt(1 - beta2^step) */
    double decay;           /* AdamW: p *= decay (1 - lr * weight_decay) first; Adam: 1 */
    int coupled;            /* Adam: weight_decay enters the gradient */
    int maximize;
} ty_adam;
/* vmax: NULL unless amsgrad */
TY_HIDDEN void ty_adam_step(ty_tensor *p, const ty_tensor *g, double *m, double *v, double *vmax,
                  const ty_adam *o);

typedef struct ty_rmsprop {
    double lr, alpha, eps, weight_decay, momentum;
    int maximize;
} ty_rmsprop;
/* gavg: NULL unless centered; buf: NULL unless momentum > 0 */
TY_HIDDEN void ty_rmsprop_step(ty_tensor *p, const ty_tensor *g, double *sq, double *gavg, double *buf,
                     const ty_rmsprop *o);

typedef struct ty_adagrad {
    double clr;             /* lr / (1 + (step - 1) * lr_decay) */
    double eps, weight_decay;
    int maximize;
} ty_adagrad;
TY_HIDDEN void ty_adagrad_step(ty_tensor *p, const ty_tensor *g, double *sum, const ty_adagrad *o);

/* 0 if g can update p (same shape, p writable, the two disjoint or the very same view),
   else TY_EARG with the reason in e (without naming either: the caller does). */
int ty_optim_check(const ty_tensor *p, const ty_tensor *g, ty_error *e);

/* The norm_type-norm of t's elements (p > 0; INFINITY: the largest magnitude), as
   torch.norm(t, p). */
double ty_optim_norm(const ty_tensor *t, double norm_type);

/* y += alpha * x over flat vectors of n elements (contiguous). */
void ty_optim_axpy(double *y, double alpha, const double *x, int64_t n);
/* Copies t's elements (row-major) to flat[0..numel), or back from flat into t; adds
   alpha * flat[0..numel) to t. */
void ty_optim_gather(double *flat, const ty_tensor *t);
void ty_optim_scatter(ty_tensor *t, const double *flat);
void ty_optim_add_flat(ty_tensor *t, double alpha, const double *flat);

#endif
