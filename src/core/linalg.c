/* linalg.c: matrix products: through CBLAS where a layout lets BLAS read the operands in
   place (a copy otherwise), a plain vector loop for products too small for a BLAS call to
   pay, sizes past an int split into blocks, and NumPy's matmul over broadcast batches. */
#include "core/linalg.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "core/iter.h"
#include "core/ops.h"

/* BLAS takes int sizes, and a tensor's dimension may reach 2^50: a product with a size past
   blas_max goes to BLAS in blocks, a leading dimension past it through a copy. Lowered
   only by tests (ty_linalg_set_blas_max), to reach the blocks with small matrices. */
static int64_t blas_max = INT_MAX;

void ty_linalg_set_blas_max(int64_t n)
{
    blas_max = n > 0 && n < INT_MAX ? n : INT_MAX;
}

/* How BLAS can read a rows x cols matrix in place: 0 no, 1 as is (ld), 2 transposed (ld). */
static int blas_layout(const ty_tensor *m, int64_t *ld)
{
    int64_t r = m->shape[0], c = m->shape[1];
    int64_t s0 = m->stride[0], s1 = m->stride[1];
    int kind = 0;
    if ((c == 1 || s1 == 1) && (r == 1 || s0 >= (c > 1 ? c : 1))) {
        *ld = r == 1 ? (c > 1 ? c : 1) : s0;
        kind = 1;
    } else if ((r == 1 || s0 == 1) && (c == 1 || s1 >= (r > 1 ? r : 1))) {
        *ld = c == 1 ? (r > 1 ? r : 1) : s1;
        kind = 2;
    }
    return kind && *ld <= blas_max ? kind : 0;
}

/* Products this small finish before a BLAS call would have set up. */
#define SMALL_GEMM (16 * 16 * 16)

/* out = a b (+ beta out) for row-contiguous b and out (a may have any strides): four
   outputs of a row in one vector across the k loop. */
TY_VECTOR_CLONES
static void gemm_small_rows(int64_t M, int64_t N, int64_t K, const double *a, int64_t as0,
                            int64_t as1, const double *b, int64_t bs0, double *out, int64_t os0,
                            double beta)
{
    for (int64_t i = 0; i < M; i++) {
        double *o = out + i * os0;
        const double *ar = a + i * as0;
        int64_t j = 0;
        for (; j + 4 <= N; j += 4) {
            ty_v4d c = { 0, 0, 0, 0 };
            const double *bp = b + j;
            for (int64_t k = 0; k < K; k++, bp += bs0) c += ar[k * as1] * TY_LOAD4(bp);
            if (beta != 0) c += beta * TY_LOAD4(o + j);
            *(ty_v4d_u *)(o + j) = c;
        }
        for (; j < N; j++) {
            double c = 0;
            const double *bp = b + j;
            for (int64_t k = 0; k < K; k++, bp += bs0) c += ar[k * as1] * *bp;
            o[j] = beta != 0 ? c + beta * o[j] : c;
        }
    }
}

/* b's elements packed row-major for gemm_small_rows, when it is not laid out that way and
   this few: the copy costs K*N, the product M*K*N. */
#define SMALL_GEMM_PACK 1024

static void gemm_small(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, double beta)
{
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
    int64_t as0 = a->stride[0], as1 = a->stride[1], bs0 = b->stride[0], bs1 = b->stride[1];
    int64_t os0 = out->stride[0], os1 = out->stride[1];
    if (bs1 == 1 && os1 == 1) {
        gemm_small_rows(M, N, K, a->data, as0, as1, b->data, bs0, out->data, os0, beta);
        return;
    }
    if (os1 == 1 && K * N <= SMALL_GEMM_PACK) {
        double packed[SMALL_GEMM_PACK];
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) packed[k * N + j] = b->data[k * bs0 + j * bs1];
        gemm_small_rows(M, N, K, a->data, as0, as1, packed, N, out->data, os0, beta);
        return;
    }
    if (as1 == 1 && bs0 == 1) {
        /* b is a transposed row-major matrix: every output is a dot product of two
           contiguous runs */
        for (int64_t i = 0; i < M; i++) {
            const double *ar = a->data + i * as0;
            for (int64_t j = 0; j < N; j++) {
                const double *bc = b->data + j * bs1;
                double c = 0;
                for (int64_t k = 0; k < K; k++) c += ar[k] * bc[k];
                double *o = out->data + i * os0 + j * os1;
                *o = beta != 0 ? c + beta * *o : c;
            }
        }
        return;
    }
    for (int64_t i = 0; i < M; i++) {
        double *o = out->data + i * os0;
        if (beta != 1)
            for (int64_t j = 0; j < N; j++) o[j * os1] = beta == 0 ? 0 : beta * o[j * os1];
        for (int64_t k = 0; k < K; k++) {
            double x = a->data[i * as0 + k * as1];
            const double *brow = b->data + k * bs0;
            for (int64_t j = 0; j < N; j++) o[j * os1] += x * brow[j * bs1];
        }
    }
}

/* A contiguous copy of m in tmp (an empty slot) for BLAS. */
static int to_contiguous(ty_tensor *tmp, const ty_tensor *m, const ty_allocator *alloc,
                         ty_error *e)
{
    int rc = ty_tensor_alloc(tmp, alloc, m->ndim, m->shape, e);
    if (rc) return rc;
    ty_copy_flat(tmp, m);
    return TY_OK;
}

int ty_gemm(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, double beta,
            const ty_allocator *alloc, ty_error *e)
{
    return ty_gemm_scaled(out, a, b, 1.0, beta, alloc, e);
}

/* A product with M, N or K past blas_max, in blocks of at most blas_max each: K's blocks
   accumulate into the first one's result. */
static int gemm_blocks(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, double alpha,
                       double beta, const ty_allocator *alloc, ty_error *e)
{
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1], B = blas_max;
    for (int64_t i = 0; i < M; i += B)
        for (int64_t j = 0; j < N; j += B)
            for (int64_t k = 0; k < K; k += B) {
                int64_t m = M - i < B ? M - i : B, n = N - j < B ? N - j : B, kk = K - k < B ? K - k : B;
                ty_tensor sa = *a, sb = *b, so = *out;
                ty_view_narrow(&sa, 0, i, m);
                ty_view_narrow(&sa, 1, k, kk);
                ty_view_narrow(&sb, 0, k, kk);
                ty_view_narrow(&sb, 1, j, n);
                ty_view_narrow(&so, 0, i, m);
                ty_view_narrow(&so, 1, j, n);
                int rc = ty_gemm_scaled(&so, &sa, &sb, alpha, k == 0 ? beta : 1.0, alloc, e);
                if (rc) return rc;
            }
    return TY_OK;
}

int ty_gemm_scaled(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, double alpha,
                   double beta, const ty_allocator *alloc, ty_error *e)
{
    int64_t M = a->shape[0], K = a->shape[1], N = b->shape[1];
    TY_ASSERT(a->ndim == 2 && b->ndim == 2 && out->ndim == 2 && b->shape[0] == K &&
              out->shape[0] == M && out->shape[1] == N);
    if (M == 0 || N == 0) return TY_OK;
    if (K == 0) {
        if (beta == 0) ty_fill(out, 0.0);
        return TY_OK;
    }
    if (M * N * K <= SMALL_GEMM && alpha == 1.0) {
        gemm_small(out, a, b, beta);
        return TY_OK;
    }
    if (M > blas_max || N > blas_max || K > blas_max)
        return gemm_blocks(out, a, b, alpha, beta, alloc, e);
    ty_tensor ta, tb, to;
    memset(&ta, 0, sizeof ta);
    memset(&tb, 0, sizeof tb);
    memset(&to, 0, sizeof to);
    const ty_tensor *pa = a, *pb = b;
    ty_tensor *po = out;
    int64_t lda, ldb, ldo;
    int la = blas_layout(a, &lda), lb = blas_layout(b, &ldb), lo = blas_layout(out, &ldo);
    int rc = TY_OK;
    if (!la) {
        if ((rc = to_contiguous(&ta, a, alloc, e))) goto done;
        pa = &ta;
        la = blas_layout(pa, &lda);
    }
    if (!lb) {
        if ((rc = to_contiguous(&tb, b, alloc, e))) goto done;
        pb = &tb;
        lb = blas_layout(pb, &ldb);
    }
    if (lo != 1) {
        if ((rc = to_contiguous(&to, out, alloc, e))) goto done;
        po = &to;
        lo = blas_layout(po, &ldo);
    }
    TY_ASSERT(la && lb && lo == 1 && lda <= INT_MAX && ldb <= INT_MAX && ldo <= INT_MAX);
    cblas_dgemm(CblasRowMajor, la == 1 ? CblasNoTrans : CblasTrans,
                lb == 1 ? CblasNoTrans : CblasTrans, (int)M, (int)N, (int)K, alpha, pa->data,
                (int)lda, pb->data, (int)ldb, beta, po->data, (int)ldo);
    if (po != out) ty_copy_flat(out, po);
done:
    ty_tensor_free(&ta);
    ty_tensor_free(&tb);
    ty_tensor_free(&to);
    return rc;
}

int ty_gemv(ty_tensor *out, const ty_tensor *a, const ty_tensor *x, const ty_allocator *alloc,
            ty_error *e)
{
    int64_t M = a->shape[0], K = a->shape[1];
    TY_ASSERT(a->ndim == 2 && x->ndim == 1 && x->shape[0] == K && out->ndim == 1 &&
              out->shape[0] == M);
    if (M == 0) return TY_OK;
    /* the plain loop also for sizes and strides BLAS's ints cannot hold */
    if (K == 0 || M * K <= SMALL_GEMM / 4 || M > blas_max || K > blas_max ||
        x->stride[0] > blas_max || out->stride[0] > blas_max) {
        for (int64_t i = 0; i < M; i++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += a->data[i * a->stride[0] + k * a->stride[1]] * x->data[k * x->stride[0]];
            out->data[i * out->stride[0]] = acc;
        }
        return TY_OK;
    }
    ty_tensor ta;
    memset(&ta, 0, sizeof ta);
    const ty_tensor *pa = a;
    int64_t lda;
    int la = blas_layout(a, &lda);
    if (!la) {
        int rc = to_contiguous(&ta, a, alloc, e);
        if (rc) return rc;
        pa = &ta;
        la = blas_layout(pa, &lda);
    }
    TY_ASSERT(la && lda <= INT_MAX);
    cblas_dgemv(CblasRowMajor, la == 1 ? CblasNoTrans : CblasTrans,
                (int)(la == 1 ? M : K), (int)(la == 1 ? K : M), 1.0, pa->data, (int)lda,
                x->data, (int)x->stride[0], 0.0, out->data, (int)out->stride[0]);
    ty_tensor_free(&ta);
    return TY_OK;
}

double ty_vdot(const ty_tensor *a, const ty_tensor *b)
{
    int64_t n = a->shape[0];
    double acc = 0;
    for (int64_t i = 0; i < n; i++) acc += a->data[i * a->stride[0]] * b->data[i * b->stride[0]];
    return acc;
}

/* ---- NumPy's matmul ---------------------------------------------------------------------- */

static int not_aligned(const ty_tensor *a, const ty_tensor *b, const char *why, ty_error *e)
{
    char b1[96], b2[96];
    return ty_fail(e, TY_EARG, "shapes %s and %s are not aligned (%s)",
                   ty_shape_str(a, b1, sizeof b1), ty_shape_str(b, b2, sizeof b2), why);
}

/* a and b as NumPy's matmul sees them: a 1-d a is a row (1 x K), a 1-d b a column (K x 1),
   dropped again from the result; the rest are batch dimensions. */
typedef struct matmul_view {
    ty_tensor a, b;
    int squeeze_a, squeeze_b;
    int64_t M, K, N;
} matmul_view;

static void matmul_view_of(matmul_view *v, const ty_tensor *a, const ty_tensor *b)
{
    v->a = *a;
    v->b = *b;
    v->squeeze_a = a->ndim == 1;
    v->squeeze_b = b->ndim == 1;
    if (v->squeeze_a) {
        v->a.shape[1] = a->shape[0];
        v->a.stride[1] = a->stride[0];
        v->a.shape[0] = 1;
        v->a.stride[0] = 0;
        v->a.ndim = 2;
    }
    if (v->squeeze_b) {
        v->b.shape[1] = 1;
        v->b.stride[1] = 0;
        v->b.ndim = 2;
    }
    v->M = v->a.shape[v->a.ndim - 2];
    v->K = v->a.shape[v->a.ndim - 1];
    v->N = v->b.shape[v->b.ndim - 1];
}

/* The batch dimensions of m: all but its last two. */
static ty_tensor batch_of(const ty_tensor *m)
{
    ty_tensor t = *m;
    t.ndim -= 2;
    return t;
}

int ty_matmul_shape(const ty_tensor *a, const ty_tensor *b, int *ndim, int64_t *shape,
                    ty_error *e)
{
    if (a->ndim == 0 || b->ndim == 0)
        return ty_fail(e, TY_EARG, "operands must have at least one dimension (use * for scalars)");
    matmul_view v;
    matmul_view_of(&v, a, b);
    if (v.b.shape[v.b.ndim - 2] != v.K) {
        const char *why = a->ndim <= 2 && b->ndim <= 2
                              ? (a->ndim == 1 && b->ndim == 1 ? "lengths differ"
                                 : a->ndim == 1 ? "the vector's length must equal the matrix's rows"
                                 : b->ndim == 1 ? "columns of the matrix must equal the vector's length"
                                                : "columns of the first must equal rows of the second")
                              : "last dimension of the first must equal the second-to-last of the second";
        return not_aligned(a, b, why, e);
    }
    ty_tensor ba = batch_of(&v.a), bb = batch_of(&v.b);
    int nb;
    int64_t batch[TY_MAX_DIMS];
    int rc = ty_broadcast_shape(&ba, &bb, &nb, batch, e);
    if (rc) {
        char msg[sizeof e->msg];
        memcpy(msg, e->msg, sizeof msg);
        return ty_fail(e, rc, "batch %.300s", msg);
    }
    if (nb + 2 - v.squeeze_a - v.squeeze_b > TY_MAX_DIMS)
        return ty_fail(e, TY_EARG, "result would have too many dimensions");
    int nd = 0;
    for (int i = 0; i < nb; i++) shape[nd++] = batch[i];
    if (!v.squeeze_a) shape[nd++] = v.M;
    if (!v.squeeze_b) shape[nd++] = v.N;
    *ndim = nd;
    return ty_check_shape(nd, shape, e);
}

/* The matrix at the current batch position: its two dimensions, the data at ptr. */
static ty_tensor matrix_at(const ty_tensor *m, double *ptr)
{
    ty_tensor t;
    memset(&t, 0, sizeof t);
    t.data = ptr;
    t.ndim = 2;
    t.shape[0] = m->shape[m->ndim - 2];
    t.shape[1] = m->shape[m->ndim - 1];
    t.stride[0] = m->stride[m->ndim - 2];
    t.stride[1] = m->stride[m->ndim - 1];
    return t;
}

int ty_matmul(ty_tensor *out, const ty_tensor *a, const ty_tensor *b, const ty_allocator *alloc,
              ty_error *e)
{
    if (ty_numel(out) == 0) return TY_OK; /* however many batches, none has an element */
    if (a->ndim <= 2 && b->ndim <= 2 && !(a->ndim == 1 && b->ndim == 1)) {
        if (a->ndim == 2 && b->ndim == 2) return ty_gemm(out, a, b, 0.0, alloc, e);
        if (a->ndim == 2) return ty_gemv(out, a, b, alloc, e);
        ty_tensor bt = *b; /* x^T B = B^T x */
        ty_view_transpose(&bt, 0, 1);
        return ty_gemv(out, &bt, a, alloc, e);
    }
    matmul_view v;
    matmul_view_of(&v, a, b);
    /* out viewed as batch x M x N, walked with both operands over the batch dimensions */
    ty_tensor o = *out;
    ty_tensor ba = batch_of(&v.a), bb = batch_of(&v.b);
    int nb = out->ndim - 2 + v.squeeze_a + v.squeeze_b;
    TY_ASSERT(nb >= 0 && nb + 2 <= TY_MAX_DIMS);
    o.ndim = nb + 2;
    o.shape[nb] = v.M;
    o.shape[nb + 1] = v.N;
    ty_contiguous_strides(o.ndim, o.shape, o.stride);
    ty_tensor bo = batch_of(&o);
    if (nb == 0) { /* two 1-d operands: one 1 x 1 product */
        ty_tensor so = matrix_at(&o, o.data), sa = matrix_at(&v.a, v.a.data),
                  sb = matrix_at(&v.b, v.b.data);
        return ty_gemm(&so, &sa, &sb, 0.0, alloc, e);
    }
    const ty_tensor *ops[3] = { &bo, &ba, &bb };
    ty_iter it;
    ty_iter_init(&it, nb, bo.shape, 3, ops);
    int rc = TY_OK;
    TY_ITER_RUNS(it, {
        for (int64_t i = 0; i < n_ && rc == TY_OK; i++) {
            ty_tensor so = matrix_at(&o, it.ptr[0] + i * it.stride[0][last_]);
            ty_tensor sa = matrix_at(&v.a, it.ptr[1] + i * it.stride[1][last_]);
            ty_tensor sb = matrix_at(&v.b, it.ptr[2] + i * it.stride[2][last_]);
            rc = ty_gemm(&so, &sa, &sb, 0.0, alloc, e);
        }
    });
    return rc;
}

const char *ty_blas_core(void) { return openblas_get_corename(); }
const char *ty_blas_config(void) { return openblas_get_config(); }
int ty_blas_threads(void) { return openblas_get_num_threads(); }
