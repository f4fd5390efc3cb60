/* layers.h: the math of the feed-forward layers (affine, activations' gradients, dropout,
   embedding) and of the losses. Outputs are caller-allocated slots of the right shape; the
   binding checks shapes and values first (the ty_*_check functions say where a value is bad). */
#ifndef TYCHO_LAYERS_H
#define TYCHO_LAYERS_H

#include "core/tensor.h"

/* y (M x O) = x (M x D) W (D x O) + b (O), any strides. */
int ty_affine_forward(ty_tensor *y, const ty_tensor *x, const ty_tensor *W, const ty_tensor *b,
                      const ty_allocator *a, ty_error *e);
/* dx (M x D) = dy W^T, dW (D x O) = x^T dy, db (O) = the column sums of dy (M x O). */
int ty_affine_backward(ty_tensor *dx, ty_tensor *dW, ty_tensor *db, const ty_tensor *x,
                       const ty_tensor *W, const ty_tensor *dy, const ty_allocator *a, ty_error *e);

/* Gradients of the activations from their outputs y (dy broadcasts to y's shape, dx is y's
   shape): ReLU dy where y > 0 else 0; sigmoid dy (1 - y) y; tanh dy (1 - y^2). */
void ty_relu_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy);
void ty_sigmoid_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy);
void ty_tanh_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy);
/* Softmax over the last dimension, from its output: dx = y (dy - sum(dy y)) per row. y, dy
   and dx contiguous, of one shape. */
void ty_softmax_backward(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy);

/* Dropout's mask from uniform draws u (contiguous, in place): 1/keep where u < keep, else 0
   (NumPy's (u < keep) / keep); keep 0 gives zeros. */
void ty_dropout_mask(ty_tensor *mask, double keep);

/* Embedding rows by 1-based ids: the flat (row-major) position of the first id that is not an
   integer in 1..V, or -1 if all are. */
int64_t ty_ids_check(const ty_tensor *ids, int64_t V);
/* y (n x D, contiguous; n = ids' elements) = the rows of W (V x D) at the ids, in order. */
void ty_embedding_forward(ty_tensor *y, const ty_tensor *ids, const ty_tensor *W);
/* dW (V x D) = zeros, then dy's rows (n x D, contiguous) added at the ids' rows, in order. */
void ty_embedding_backward(ty_tensor *dW, const ty_tensor *ids, const ty_tensor *dy);

/* The flat position of t's first NaN, or -1. */
int64_t ty_first_nan(const ty_tensor *t);
/* Cross-entropy of scores (P x C, contiguous) against class ids (P, contiguous, checked by
   ty_ids_check with V = C): the mean over rows of log-sum-exp minus the label's score (the
   shift by each row's maximum keeps it finite); dscores (P x C, contiguous) = (softmax -
   one-hot) / P. */
double ty_softmax_loss(ty_tensor *dscores, const ty_tensor *scores, const ty_tensor *labels);
/* Mean squared error over the elements of pred and target (one shape, any strides); dpred
   (contiguous, their shape) = 2 (pred - target) / n. */
double ty_mse_loss(ty_tensor *dpred, const ty_tensor *pred, const ty_tensor *target);

#endif
