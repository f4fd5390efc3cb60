/* gru.c: the GRU's cell, with PyTorch's gates and equations (torch.nn.GRU):
     r = s(x W_ir + b_ir + h W_hr + b_hr), z = s(x W_iz + b_iz + h W_hz + b_hz),
     n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), h' = (1 - z) * n + z * h
   The row block of a step holds r, z, n (preactivations in, activations out) and
   hn = h W_hn + b_hn, which the n gate needs apart; the driver is recurrent.c. */
#include "core/ops.h"
#include "nn/cell.h"

/* Elementwise loops over a row's hidden units are this file: let GCC vectorize them with its
   full cost model (at -O2 it leaves a loop of unknown count scalar). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize")
#endif

enum { GATE_R, GATE_Z, GATE_N, COL_HN };

TY_VECTOR_CLONES
static void add2(double *restrict m, const double *restrict a, const double *restrict b, int64_t n)
{
    for (int64_t j = 0; j < n; j++) m[j] += a[j] + b[j];
}

TY_VECTOR_CLONES
static void n_preactivation(double *restrict pn, double *restrict hn,
                            const double *restrict b_in, const double *restrict b_hn,
                            const double *restrict r, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        hn[j] += b_hn[j];
        pn[j] += b_in[j] + r[j] * hn[j];
    }
}

TY_VECTOR_CLONES
static void n_gate_biased(double *restrict pn, const double *restrict hn,
                          const double *restrict r, int64_t n)
{
    for (int64_t j = 0; j < n; j++) pn[j] += r[j] * hn[j];
}

TY_VECTOR_CLONES
static void gru_state(double *restrict h, const double *restrict z, const double *restrict nn,
                      const double *restrict prev_h, int64_t n)
{
    for (int64_t j = 0; j < n; j++) h[j] = (1.0 - z[j]) * nn[j] + z[j] * prev_h[j];
}

static void gru_forward(const ty_cell_forward *s)
{
    int64_t H = s->H, c0 = s->c0, n = s->c1 - s->c0;
    for (int64_t i = 0; i < s->N; i++) {
        double *row = s->row + i * s->rs + c0;
        for (int k = GATE_R; k <= GATE_Z; k++) {
            if (!s->biased) add2(row + k * H, s->b_ih + k * H + c0, s->b_hh + k * H + c0, n);
            ty_vsigmoid(row + k * H, row + k * H, n);
        }
        double *pn = row + GATE_N * H;
        if (s->biased)
            n_gate_biased(pn, row + COL_HN * H, row, n);
        else
            n_preactivation(pn, row + COL_HN * H, s->b_ih + GATE_N * H + c0,
                            s->b_hh + GATE_N * H + c0, row, n);
        ty_vtanh(pn, pn, n);
        gru_state(s->h + i * s->hs + c0, row + GATE_Z * H, pn, s->prev_h + i * s->phs + c0, n);
    }
}

/* With dh the whole dL/dh': dz = dh * (h - n) * z(1 - z), dn = dh * (1 - z) * (1 - n^2)
   (the n gate's preactivation), dhn = dn * r (of h W_hn + b_hn), dr = dn * hn * r(1 - r),
   and dh * z goes to dL/dh directly. dG: dr, dz, dhn (the W_hh side), then dn (W_ih's). */
TY_VECTOR_CLONES
static void gru_grads(double *restrict dr, double *restrict dz, double *restrict dhn,
                      double *restrict dn_out, double *restrict dprev, const double *restrict r,
                      const double *restrict z, const double *restrict nn,
                      const double *restrict hn, const double *restrict dh,
                      const double *restrict dout, const double *restrict prev_h, int64_t n)
{
    for (int64_t j = 0; j < n; j++) {
        double d = dh[j] + dout[j];
        double dn = d * (1.0 - z[j]) * (1.0 - nn[j] * nn[j]);
        dr[j] = dn * hn[j] * r[j] * (1.0 - r[j]);
        dz[j] = d * (prev_h[j] - nn[j]) * z[j] * (1.0 - z[j]);
        dhn[j] = dn * r[j];
        dn_out[j] = dn;
        dprev[j] = d * z[j];
    }
}

static void gru_backward(const ty_cell_backward *s)
{
    int64_t H = s->H, c0 = s->c0, n = s->c1 - s->c0;
    for (int64_t i = 0; i < s->N; i++) {
        double *dG = s->dG + i * s->dgs + c0;
        const double *row = s->row + i * s->rs + c0;
        gru_grads(dG, dG + H, dG + 2 * H, dG + 3 * H, s->dprev + i * s->dps + c0, row,
                  row + GATE_Z * H, row + GATE_N * H, row + COL_HN * H, s->dh + i * s->dhs + c0,
                  s->dout + i * s->dos + c0, s->prev_h + i * s->phs + c0, n);
    }
}

const ty_cell ty_gru_cell = {
    .name = "GRU",
    .gates = 3,
    .row_width = 4,
    .grad_width = 4,
    .two_biases = 1,
    .direct_dh = 1,
    .dest = { 0, 1, 3 },
    .acc = { 1, 1, 0 },
    .xcol = { 0, 1, 3 },
    .forward = gru_forward,
    .backward = gru_backward,
};
