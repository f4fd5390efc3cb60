/* packed_gemm.h: C (+)= A B for a right operand B packed once and used many times, as the
   RNN's W_hh is at every step of a sequence, where each BLAS call would pack it again. */
#ifndef TYCHO_PACKED_GEMM_H
#define TYCHO_PACKED_GEMM_H

#include "core/tensor.h"

/* Column panels of this width: the columns from c on (a multiple of it) of B packed in P
   start at P + c * K, so threads can pack and multiply a column range each. */
#define TY_PACKED_PANEL 16

/* Doubles a packed K x N operand takes: column panels of 16, the last one zero-padded. */
int64_t ty_packed_size(int64_t K, int64_t N);

/* Packs B (K x N, any strides) into P (ty_packed_size(K, N) doubles). */
void ty_pack(double *P, const ty_tensor *B);

/* Whether ty_packed_gemm can take these operands: A and C with unit column strides. */
int ty_packed_fits(const ty_tensor *C, const ty_tensor *A);

/* C (M x N) = A (M x K) B, or C += A B when accumulate is set; P holds B packed. */
TY_HIDDEN void ty_packed_gemm(ty_tensor *C, const ty_tensor *A, const double *P, int accumulate);

/* Whether the packed product beats OpenBLAS here: with AVX-512 (on one thread 55.5 against
   49 GFLOP/s at the RNN's 64x512x512 step, where each BLAS call packs W_hh again). */
int ty_packed_pays(void);

#endif
