/* sort.c: stable sorts along a dimension, values and 1-based positions (NumPy's
   kind="stable": equal values keep their order; NaN sorts last). */
#include "core/sort.h"

#include <string.h>

#include "core/iter.h"

/* key[i] before key[j]: NaN after every number; descending reverses the numbers only. */
static int before(const double *key, int64_t i, int64_t j, int descending)
{
    double a = key[i], b = key[j];
    if (a != a) return 0;
    if (b != b) return 1;
    return descending ? a > b : a < b;
}

/* Sorts idx[0..n) by key, stably (merge sort: runs of width 1, 2, 4, ... merged from idx
   into tmp and back), leaving the result in idx. */
static void merge_sort(const double *key, int64_t *idx, int64_t *tmp, int64_t n, int descending)
{
    int64_t *src = idx, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = before(key, src[j], src[i], descending) ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx) memcpy(idx, src, (size_t)n * sizeof *idx);
}

void ty_sort(ty_tensor *values, ty_tensor *positions, const ty_tensor *a, int dim, int descending,
             void *ws)
{
    if (ty_numel(a) == 0) return;
    int64_t n = a->shape[dim], sa = a->stride[dim];
    double *key = ws;
    int64_t *idx = (int64_t *)(key + n), *tmp = idx + n;
    ty_tensor ra = *a, rv = *values, rp = *positions;
    ty_view_drop(&ra, dim);
    ty_view_drop(&rv, dim);
    ty_view_drop(&rp, dim);
    int64_t sv = values->stride[dim], sp = positions->stride[dim];
    const ty_tensor *ops[3] = { &ra, &rv, &rp };
    ty_iter it;
    ty_iter_init(&it, ra.ndim, ra.shape, 3, ops);
    TY_ITER_RUNS(it, {
        for (int64_t r = 0; r < n_; r++) {
            const double *p = it.ptr[0] + r * it.stride[0][last_];
            double *v = it.ptr[1] + r * it.stride[1][last_];
            double *q = it.ptr[2] + r * it.stride[2][last_];
            for (int64_t k = 0; k < n; k++) {
                key[k] = p[k * sa];
                idx[k] = k;
            }
            merge_sort(key, idx, tmp, n, descending);
            for (int64_t k = 0; k < n; k++) {
                v[k * sv] = key[idx[k]];
                q[k * sp] = (double)(idx[k] + 1);
            }
        }
    });
}
