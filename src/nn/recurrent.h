/* recurrent.h: the recurrent layers' math (the notebook's RNNLayer, and LSTMLayer and
   GRULayer with PyTorch's gates): one step or a whole sequence, forward and backward, on
   caller-allocated tensors. One driver (recurrent.c) does every product, the workspace,
   the chunks of the backward and the lanes; each cell (cell.h: rnn.c, lstm.c, gru.c) is
   its elementwise math. A step is a sequence of length 1. */
#ifndef TYCHO_RECURRENT_H
#define TYCHO_RECURRENT_H

#include "core/tensor.h"
#include "nn/cell.h"

/* How the products of a long sequence (N*T >= 4*H) run. TY_PATH_AUTO: where the packed
   product pays (AVX-512), on as many lanes (threads) as the BLAS has threads, everything
   in the packed product; on one thread the steps' products packed and the whole-sequence
   products in whichever of the packed product and OpenBLAS the process's first long
   sequence measured faster; elsewhere BLAS calls. TY_PATH_BLAS: BLAS calls always.
   TY_PATH_STEPS: the steps packed, the whole-sequence products BLAS calls. n >= 1: every
   product packed, on n lanes (1: the calling thread), on any CPU. */
#define TY_PATH_AUTO  0
#define TY_PATH_BLAS  (-1)
#define TY_PATH_STEPS (-2)

/* A layer as its math sees it. */
typedef struct ty_recurrent {
    const ty_cell *cell;
    const ty_tensor *W_ih, *W_hh; /* D x kH, H x kH */
    const ty_tensor *b_ih, *b_hh; /* kH each; b_hh NULL unless cell->two_biases */
    int path;                     /* TY_PATH_* or a number of lanes */
    ty_tensor *ws;                /* the layer's workspace, kept between calls */
    const ty_allocator *a;
} ty_recurrent;

/* The gradients a backward fills: dx (N x T x D), dh0 (N x H), dc0 (N x H, LSTM), dW_ih,
   dW_hh, db_ih, db_hh (GRU) shaped as their parameters. */
typedef struct ty_recurrent_grads {
    ty_tensor *dx, *dh0, *dc0, *dW_ih, *dW_hh, *db_ih, *db_hh;
} ty_recurrent_grads;

/* The names of the biases, as the layer's fields: "b", or "b_ih" and "b_hh". */
const char *ty_recurrent_bias_name(const ty_cell *cell, int which);

/* Checks that W_ih is D x kH, W_hh H x kH and the biases have kH elements. */
int ty_recurrent_check_weights(const ty_recurrent *r, const char *fname, ty_error *e);
/* The weights, then x (N x D, or N x T x D when seq is set) and the states h0 and c0 (each
   NULL for zeros), named hname and cname. Messages name the argument and both shapes. */
int ty_recurrent_check_input(const ty_recurrent *r, const ty_tensor *x, int seq,
                             const ty_tensor *h0, const ty_tensor *c0, const char *fname,
                             const char *hname, const char *cname, ty_error *e);
/* The weights still fit the last forward's D and H (they may have been replaced since). */
int ty_recurrent_check_fit(const ty_recurrent *r, int64_t D, int64_t H, const char *fname,
                           ty_error *e);
/* m is rows x cols; otherwise an error naming m, both shapes and why. */
int ty_check_matrix(const ty_tensor *m, const char *mname, int64_t rows, int64_t cols,
                    const char *why, const char *fname, ty_error *e);

/* Columns of the forward's cache per element of h: what backward needs beyond h (the
   LSTM's gates and c, the GRU's gates and h W_hn + b_hn); 0 for the RNN, which needs none. */
int64_t ty_recurrent_cache_width(const ty_cell *cell, int64_t H);

/* h (N x T x H) and cache (N x T x ty_recurrent_cache_width, NULL if 0), both contiguous,
   over x (N x T x D, its rows reshapeable into an (N*T) x D matrix) from h0 and c0 (N x H,
   any strides, NULL for zeros). */
int ty_recurrent_forward(const ty_recurrent *r, ty_tensor *h, ty_tensor *cache,
                         const ty_tensor *x, const ty_tensor *h0, const ty_tensor *c0,
                         ty_error *e);

/* Backpropagation through time from dout (N x T x H, unit last stride) and, for the LSTM,
   dc_last (dL/dc at the last step, N x H with unit column stride, NULL for zeros), given
   the forward's x, h0, c0, h and cache. Every gradient is overwritten; dx and dh0 may have
   any strides, the weights' gradients unit column strides. */
int ty_recurrent_backward(const ty_recurrent *r, const ty_recurrent_grads *g,
                          const ty_tensor *dout, const ty_tensor *dc_last, const ty_tensor *x,
                          const ty_tensor *h0, const ty_tensor *c0, const ty_tensor *h,
                          const ty_tensor *cache, ty_error *e);

/* h_n and c_n (N x H, either may be NULL): the states after the forward's last step (h0 and
   c0, or zeros, for an empty sequence). */
void ty_recurrent_last(const ty_recurrent *r, ty_tensor *h_n, ty_tensor *c_n, const ty_tensor *h,
                       const ty_tensor *cache, const ty_tensor *h0, const ty_tensor *c0);

/* What the one-thread measurement found: 0 not measured yet, 1 OpenBLAS, 2 the packed
   product (for the benchmark's report). */
int ty_recurrent_one_lane_packed(void);

/* Grows the workspace slot ws to at least n elements (kept between calls). */
int ty_workspace_reserve(ty_tensor *ws, int64_t n, const ty_allocator *a, ty_error *e);

#endif
