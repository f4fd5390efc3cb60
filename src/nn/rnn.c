/* rnn.c: the vanilla tanh RNN's cell (the notebook's RNNLayer): h_t = tanh(x_t W_ih +
   h_{t-1} W_hh + b). Its row block is h itself; the driver is recurrent.c. */
#include "core/ops.h"
#include "nn/cell.h"

/* Let GCC vectorize the bias loop with its full cost model (at -O2 it leaves a loop of
   unknown count scalar). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

/* h = tanh(row + b) on the hidden units [c0, c1), the row block being h. */
static void rnn_forward(const ty_cell_forward *s)
{
    int64_t n = s->c1 - s->c0;
    int whole = s->rs == s->H && s->c0 == 0 && n == s->H; /* one run keeps the vector loop full */
    for (int64_t i = 0; i < s->N; i++) {
        double *row = s->row + i * s->rs + s->c0;
        const double *b = s->b_ih + s->c0;
        if (!s->biased)
            for (int64_t j = 0; j < n; j++) row[j] += b[j];
        if (!whole) ty_vtanh(row, row, n);
    }
    if (whole) ty_vtanh(s->row, s->row, s->N * s->H);
}

/* dG = (dh + dout) * (1 - h^2), four elements per vector, rounded as the scalar loop. */
TY_VECTOR_CLONES
static void rnn_backward(const ty_cell_backward *s)
{
    for (int64_t i = 0; i < s->N; i++) {
        double *dG = s->dG + i * s->dgs;
        const double *h = s->h + i * s->hs, *dh = s->dh + i * s->dhs, *dout = s->dout + i * s->dos;
        int64_t j = s->c0;
        for (; j + 4 <= s->c1; j += 4) {
            ty_v4d y = TY_LOAD4(h + j), g = TY_LOAD4(dh + j) + TY_LOAD4(dout + j);
            *(ty_v4d_u *)(dG + j) = g * (1.0 - y * y);
        }
        for (; j < s->c1; j++) dG[j] = (dh[j] + dout[j]) * (1.0 - h[j] * h[j]);
    }
}

const ty_cell ty_rnn_cell = {
    .name = "RNN",
    .gates = 1,
    .row_width = 1,
    .grad_width = 1,
    .row_is_h = 1,
    .dest = { 0 },
    .acc = { 1 },
    .xcol = { 0 },
    .forward = rnn_forward,
    .backward = rnn_backward,
};
