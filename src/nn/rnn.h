/* rnn.h: the vanilla tanh RNN layer's math (the notebook's RNNLayer): one step and a whole
   sequence, forward and backward, on caller-allocated tensors of any strides. */
#ifndef TYCHO_RNN_H
#define TYCHO_RNN_H

#include "core/tensor.h"

/* Checks that W_ih is D x H, W_hh is H x H and b has H elements (1-d). */
int ty_rnn_check_weights(const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                         const char *fname, ty_error *e);

/* Shape checks, with messages that name the argument and both shapes; the computing
   functions below assume they passed. */
int ty_rnn_check_step(const ty_tensor *x, const ty_tensor *prev_h, const ty_tensor *W_ih,
                      const ty_tensor *W_hh, const ty_tensor *b, const char *fname, ty_error *e);
int ty_rnn_check_sequence(const ty_tensor *x, const ty_tensor *h0, const ty_tensor *W_ih,
                          const ty_tensor *W_hh, const ty_tensor *b, ty_error *e);
/* backward_step's and backward's arguments and every weight against what the last forward
   saw (the weights may have been replaced since). */
int ty_rnn_check_step_backward(const ty_tensor *prev_h, const ty_tensor *dnext_h,
                               const ty_tensor *x, const ty_tensor *next_h,
                               const ty_tensor *W_ih, const ty_tensor *W_hh,
                               const ty_tensor *b, ty_error *e);
int ty_rnn_check_backward(const ty_tensor *dout, const ty_tensor *x, const ty_tensor *h,
                          const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                          ty_error *e);

/* next_h (N x H) = tanh(x W_ih + prev_h W_hh + b); x is N x D, prev_h N x H. */
int ty_rnn_step_forward(ty_tensor *next_h, const ty_tensor *x, const ty_tensor *prev_h,
                        const ty_tensor *W_ih, const ty_tensor *W_hh, const ty_tensor *b,
                        const ty_allocator *a, ty_error *e);

/* Gradients of one step from the step's x, prev_h, next_h and the upstream dnext_h. The
   outputs are fresh slots of the right shapes; ws is a workspace slot the layer keeps. */
int ty_rnn_step_backward(ty_tensor *dx, ty_tensor *dprev_h, ty_tensor *dW_ih, ty_tensor *dW_hh,
                         ty_tensor *db, const ty_tensor *x, const ty_tensor *prev_h,
                         const ty_tensor *next_h, const ty_tensor *dnext_h,
                         const ty_tensor *W_ih, const ty_tensor *W_hh, ty_tensor *ws,
                         const ty_allocator *a, ty_error *e);

/* h (N x T x H, contiguous) over the sequence x (N x T x D, rows of N*T reshapeable into a
   matrix) from h0 (N x H): one GEMM for every input projection, one per step for the
   recurrence; ws is the layer's workspace slot (see ty_workspace_reserve). */
int ty_rnn_forward(ty_tensor *h, const ty_tensor *x, const ty_tensor *h0, const ty_tensor *W_ih,
                   const ty_tensor *W_hh, const ty_tensor *b, ty_tensor *ws,
                   const ty_allocator *a, ty_error *e);

/* Backpropagation through time from dout (N x T x H) given the forward's x, h0 and h.
   dx (N x T x D) and dh0 (N x H) contiguous, dW_ih, dW_hh, db fresh; ws as above. */
int ty_rnn_backward(ty_tensor *dx, ty_tensor *dh0, ty_tensor *dW_ih, ty_tensor *dW_hh,
                    ty_tensor *db, const ty_tensor *dout, const ty_tensor *x,
                    const ty_tensor *h0, const ty_tensor *h, const ty_tensor *W_ih,
                    const ty_tensor *W_hh, ty_tensor *ws, const ty_allocator *a, ty_error *e);

/* How the products of forward and backward over a long sequence (N*T >= 4*H) run,
   process-wide. TY_STEPS_AUTO (the default): where the packed product pays (AVX-512), on
   as many lanes (threads) as the BLAS has threads, everything in the packed product; on one
   thread, the steps' products packed and the whole-sequence products in whichever of the
   packed product and OpenBLAS the first long sequence measured faster; elsewhere
   whole-sequence BLAS calls and a BLAS call per step. TY_STEPS_BLAS: always the latter.
   TY_STEPS_STEPS: the steps packed, the whole-sequence products in BLAS calls. n >= 1:
   everything packed, on n lanes, on any CPU. For tests and benchmarks; set it while no
   layer runs. */
#define TY_STEPS_AUTO  0
#define TY_STEPS_BLAS  (-1)
#define TY_STEPS_STEPS (-2)
void ty_rnn_set_steps(int mode);
/* What the one-thread measurement found: 0 not measured yet, 1 OpenBLAS, 2 the packed
   product (for the benchmark's report). */
int ty_rnn_one_lane_packed(void);

/* Grows the workspace slot ws to at least n elements (kept between calls). */
int ty_workspace_reserve(ty_tensor *ws, int64_t n, const ty_allocator *a, ty_error *e);

#endif
