/* lstm.c: the LSTM's cell, with PyTorch's gates and equations (torch.nn.LSTM):
     i = s(x W_ii + h W_hi + b_i), f = s(x W_if + h W_hf + b_f), g = tanh(x W_ig + h W_hg + b_g),
     o = s(x W_io + h W_ho + b_o), c' = f * c + i * g, h' = o * tanh(c')
   with one bias b (PyTorch's b_ih + b_hh). The row block of a step holds i, f, g, o (their
   preactivations in, activations out) and c'; the driver is recurrent.c. */
#include "core/ops.h"
#include "nn/cell.h"

/* Elementwise loops over a row's hidden units are this file: let GCC vectorize them with its
   full cost model (at -O2 it leaves a loop of unknown count scalar). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

enum { GATE_I, GATE_F, GATE_G, GATE_O, COL_C };

/* m[0..n) += b[0..n) (b NULL: added already), then the gate's function, in place */
static void gate(double *m, const double *b, int64_t n, int is_tanh)
{
    if (b)
        for (int64_t j = 0; j < n; j++) m[j] += b[j];
    if (is_tanh) ty_vtanh(m, m, n);
    else ty_vsigmoid(m, m, n);
}

TY_VECTOR_CLONES
static void lstm_state(double *restrict c, const double *restrict i, const double *restrict f,
                       const double *restrict g, const double *restrict prev_c, int64_t n)
{
    for (int64_t j = 0; j < n; j++) c[j] = f[j] * prev_c[j] + i[j] * g[j];
}

TY_VECTOR_CLONES
static void times(double *restrict h, const double *restrict o, int64_t n)
{
    for (int64_t j = 0; j < n; j++) h[j] *= o[j];
}

static void lstm_forward(const ty_cell_forward *s)
{
    int64_t H = s->H, c0 = s->c0, n = s->c1 - s->c0;
    for (int64_t r = 0; r < s->N; r++) {
        double *row = s->row + r * s->rs + c0, *h = s->h + r * s->hs + c0;
        for (int k = GATE_I; k <= GATE_O; k++)
            gate(row + k * H, s->biased ? NULL : s->b_ih + k * H + c0, n, k == GATE_G);
        double *c = row + COL_C * H;
        lstm_state(c, row, row + GATE_F * H, row + GATE_G * H, s->prev_c + r * s->pcs + c0, n);
        ty_vtanh(h, c, n);
        times(h, row + GATE_O * H, n);
    }
}

/* With tc = tanh(c'), dh the whole dL/dh' and dc' = dc + dh * o * (1 - tc^2):
   do = dh * tc * o(1 - o), di = dc' * g * i(1 - i), df = dc' * c * f(1 - f),
   dg = dc' * i * (1 - g^2), and dL/dc = dc' * f. tanh(c') is computed again into dG's o
   columns before they are written. */
TY_VECTOR_CLONES
static void lstm_grads(double *restrict di, double *restrict df, double *restrict dg,
                       double *restrict dO, double *restrict dc, const double *restrict i,
                       const double *restrict f, const double *restrict g,
                       const double *restrict o, const double *restrict dh,
                       const double *restrict dout, const double *restrict prev_c, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        double tc = dO[j], d = dh[j] + dout[j];
        double dcj = dc[j] + d * o[j] * (1.0 - tc * tc);
        dO[j] = d * tc * o[j] * (1.0 - o[j]);
        di[j] = dcj * g[j] * i[j] * (1.0 - i[j]);
        df[j] = dcj * prev_c[j] * f[j] * (1.0 - f[j]);
        dg[j] = dcj * i[j] * (1.0 - g[j] * g[j]);
        dc[j] = dcj * f[j];
    }
}

static void lstm_backward(const ty_cell_backward *s)
{
    int64_t H = s->H, c0 = s->c0, n = s->c1 - s->c0;
    for (int64_t r = 0; r < s->N; r++) {
        const double *row = s->row + r * s->rs + c0;
        double *dG = s->dG + r * s->dgs + c0;
        ty_vtanh(dG + GATE_O * H, row + COL_C * H, n);
        lstm_grads(dG, dG + GATE_F * H, dG + GATE_G * H, dG + GATE_O * H, s->dc + r * H + c0,
                   row, row + GATE_F * H, row + GATE_G * H, row + GATE_O * H,
                   s->dh + r * s->dhs + c0, s->dout + r * s->dos + c0,
                   s->prev_c + r * s->pcs + c0, n);
    }
}

const ty_cell ty_lstm_cell = {
    .name = "LSTM",
    .gates = 4,
    .row_width = 5,
    .grad_width = 4,
    .has_c = 1,
    .c_col = COL_C,
    .dest = { 0, 1, 2, 3 },
    .acc = { 1, 1, 1, 1 },
    .xcol = { 0, 1, 2, 3 },
    .forward = lstm_forward,
    .backward = lstm_backward,
};
