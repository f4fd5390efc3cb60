/* cell.h: what a recurrent cell (the RNN's, the LSTM's, the GRU's) tells the sequence driver
   (recurrent.c): how wide its gates and its saved rows are, where each gate's product with
   h_{t-1} goes, and its elementwise math for one step, forward and backward, on a range of
   hidden units. The driver does every product, the workspace, the chunks and the lanes.

   Per step t, for N rows: the driver computes the input projection x_t W_ih (k gate blocks
   of H columns, into the first kH columns of the step's row block) and each gate block b's
   h_{t-1} W_hh product, which goes to column dest[b]*H of the row block, added there
   (acc[b]) or stored (a cell that needs it apart, as the GRU's n gate). The cell's forward
   then turns the row block into its activations and h_t (and c_t, kept in the row block).
   Backward, the cell turns dL/dh_t (and dL/dc_t) into the gradient rows dG: columns
   [0, kH) the gradient of the h_{t-1} W_hh products, columns xcol[b]*H that of gate b's
   input projection (the same columns unless the cell keeps them apart), and, if it has
   one, the part of dL/dh_{t-1} that does not go through W_hh. */
#ifndef TYCHO_CELL_H
#define TYCHO_CELL_H

#include <stdint.h>

/* One step forward on hidden units [c0, c1), N rows; every pointer is to a row-major block
   with the given row stride (in doubles) and unit column stride. */
typedef struct ty_cell_forward {
    int64_t N, H, c0, c1;
    double *row;            /* the step's row block: preactivations in, activations out */
    int64_t rs;
    double *h;              /* h_t (the RNN's is its row block) */
    int64_t hs;
    const double *prev_h;   /* h_{t-1} */
    int64_t phs;
    const double *prev_c;   /* c_{t-1} (LSTM) */
    int64_t pcs;
    const double *b_ih;     /* kH, contiguous */
    const double *b_hh;     /* kH, contiguous; NULL unless the cell has two biases */
    int biased;             /* the biases are in the row block already: added gates' b_ih
                               (+ b_hh), a stored gate's b_ih in its column and b_hh at dest */
} ty_cell_forward;

/* One step backward on hidden units [c0, c1). */
typedef struct ty_cell_backward {
    int64_t N, H, c0, c1;
    const double *row;      /* the step's row block as the forward left it */
    int64_t rs;
    const double *h;        /* h_t */
    int64_t hs;
    const double *prev_h;   /* h_{t-1} */
    int64_t phs;
    const double *prev_c;   /* c_{t-1} (LSTM) */
    int64_t pcs;
    const double *dh;       /* dL/dh_t from step t+1 */
    int64_t dhs;
    const double *dout;     /* dL/dh_t from the output */
    int64_t dos;
    double *dc;             /* LSTM: dL/dc_t from step t+1 in, dL/dc_{t-1} out (N x H) */
    double *dG;             /* out: the step's gradient rows */
    int64_t dgs;
    double *dprev;          /* out, if direct_dh: the part of dL/dh_{t-1} outside W_hh */
    int64_t dps;
} ty_cell_backward;

typedef struct ty_cell {
    const char *name;
    int gates;              /* k: W_ih is D x kH, W_hh H x kH */
    int row_width;          /* the row block's width, in units of H */
    int grad_width;         /* dG's width, in units of H */
    int row_is_h;           /* the row block is h itself (no cache: the RNN) */
    int has_c;              /* a cell state c (LSTM), at column c_col*H of the row block */
    int c_col;
    int two_biases;         /* b_ih and b_hh (GRU); otherwise one b */
    int direct_dh;          /* backward writes dprev */
    signed char dest[4], acc[4], xcol[4];
    void (*forward)(const ty_cell_forward *s);
    void (*backward)(const ty_cell_backward *s);
} ty_cell;

extern const ty_cell ty_rnn_cell, ty_lstm_cell, ty_gru_cell;

#endif
