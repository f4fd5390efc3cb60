/* tensor.c: storage lifetime (refcounts, engine allocator, wrapped external data) and the
   view arithmetic on shapes and strides. No element math here: see ops.c. */
#define _DEFAULT_SOURCE /* madvise flags */
#include "core/tensor.h"

#include "core/iter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(TY_DEBUG)
void ty_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, cond);
    abort();
}
#endif

int ty_fail(ty_error *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->code = code;
    }
    return code;
}

static void *system_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

const ty_allocator ty_system_allocator = { system_alloc, NULL, NULL };

/* The header sits at the start of the block and the data at the first 64-byte boundary
   after it: allocators promise only 16-byte alignment, and a vector load that straddles two
   cache lines costs a second access (sum over 1e6 elements: 95 us aligned, 116 us at 16
   bytes past a line). */
#define DATA_ALIGN 64
#define STORAGE_HEADER (sizeof(ty_storage) + DATA_ALIGN) /* room for any block alignment */

ty_storage *ty_storage_new(const ty_allocator *a, int64_t n, ty_error *e)
{
    if (n < 0 || (uint64_t)n > (SIZE_MAX - STORAGE_HEADER) / sizeof(double)) {
        ty_fail(e, TY_EMEM, "cannot allocate %lld elements", (long long)n);
        return NULL;
    }
    size_t bytes = STORAGE_HEADER + (size_t)n * sizeof(double);
    char *block = a->fn(a->ud, NULL, 0, bytes);
    if (!block) {
        ty_fail(e, TY_EMEM, "not enough memory for %lld elements (%zu bytes)", (long long)n,
                bytes);
        return NULL;
    }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    /* Big blocks come fresh from mmap and fault in page by page; huge pages cut the faults
       512-fold (NumPy does the same). Only the 2 MB-aligned interior is advised. */
    if (bytes >= ((size_t)4 << 20)) {
        uintptr_t lo = ((uintptr_t)block + ((1u << 21) - 1)) & ~(uintptr_t)((1u << 21) - 1);
        uintptr_t hi = ((uintptr_t)block + bytes) & ~(uintptr_t)((1u << 21) - 1);
        if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
#endif
    ty_storage *s = (ty_storage *)block;
    uintptr_t at = ((uintptr_t)(block + sizeof *s) + DATA_ALIGN - 1) & ~(uintptr_t)(DATA_ALIGN - 1);
    s->data = (double *)(block + (at - (uintptr_t)block));
    s->size = n;
    s->refcount = 1;
    s->bytes = bytes;
    s->alloc = *a;
    if (a->tally) *a->tally += (int64_t)bytes;
    s->release = NULL;
    s->release_ud = NULL;
    return s;
}

ty_storage *ty_storage_wrap(const ty_allocator *a, double *data, int64_t n,
                            void (*release)(void *ud, double *data), void *ud, ty_error *e)
{
    ty_storage *s = a->fn(a->ud, NULL, 0, sizeof *s);
    if (!s) {
        ty_fail(e, TY_EMEM, "not enough memory for a storage header");
        return NULL;
    }
    s->data = data;
    s->size = n;
    s->refcount = 1;
    s->bytes = 0;
    s->alloc = *a;
    s->release = release;
    s->release_ud = ud;
    return s;
}

void ty_storage_retain(ty_storage *s)
{
    if (s) s->refcount++;
}

void ty_storage_release(ty_storage *s)
{
    if (!s || --s->refcount > 0) return;
    if (s->bytes == 0) {
        if (s->release) s->release(s->release_ud, s->data);
        s->alloc.fn(s->alloc.ud, s, sizeof *s, 0);
    } else {
        if (s->alloc.tally) *s->alloc.tally -= (int64_t)s->bytes;
        s->alloc.fn(s->alloc.ud, s, s->bytes, 0);
    }
}

int64_t ty_shape_numel(int ndim, const int64_t *shape)
{
    for (int i = 0; i < ndim; i++) /* an empty shape's other sizes may multiply past 2^63 */
        if (shape[i] == 0) return 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int ty_check_shape(int ndim, const int64_t *shape, ty_error *e)
{
    if (ndim < 0 || ndim > TY_MAX_DIMS)
        return ty_fail(e, TY_EARG, "%d dimensions (at most %d)", ndim, TY_MAX_DIMS);
    int64_t n = 1; /* product of the nonzero sizes: bounds every stride too */
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return ty_fail(e, TY_EARG, "size %lld of dimension %d is negative",
                           (long long)shape[i], i + 1);
        if (shape[i] > 0 && n > ((int64_t)1 << 50) / shape[i])
            return ty_fail(e, TY_EARG, "shape too large (over 2^50 elements)");
        if (shape[i] > 0) n *= shape[i];
    }
    return TY_OK;
}

void ty_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
}

int ty_tensor_alloc(ty_tensor *t, const ty_allocator *a, int ndim, const int64_t *shape,
                    ty_error *e)
{
    int rc = ty_check_shape(ndim, shape, e);
    if (rc) return rc;
    ty_storage *s = ty_storage_new(a, ty_shape_numel(ndim, shape), e);
    if (!s) return TY_EMEM;
    t->storage = s;
    t->data = s->data;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    ty_contiguous_strides(ndim, shape, t->stride);
    return TY_OK;
}

void ty_tensor_share(ty_tensor *dst, const ty_tensor *src)
{
    *dst = *src;
    ty_storage_retain(dst->storage);
}

void ty_tensor_free(ty_tensor *t)
{
    ty_storage_release(t->storage);
    t->storage = NULL;
    t->data = NULL;
    t->ndim = 0;
}

ty_tensor ty_tensor_scalar(double *v)
{
    ty_tensor t;
    memset(&t, 0, sizeof t);
    t.data = v;
    return t;
}

int64_t ty_numel(const ty_tensor *t)
{
    return ty_shape_numel(t->ndim, t->shape);
}

int ty_is_contiguous(const ty_tensor *t)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 0) return 1;
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

int ty_same_shape(const ty_tensor *a, const ty_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *ty_shape_str_n(int ndim, const int64_t *shape, char *buf, size_t n)
{
    if (ndim == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? "x%lld" : "%lld",
                                 (long long)shape[i]);
    return buf;
}

const char *ty_shape_str(const ty_tensor *t, char *buf, size_t n)
{
    return ty_shape_str_n(t->ndim, t->shape, buf, n);
}

double *ty_element(const ty_tensor *t, const int64_t *idx)
{
    double *p = t->data;
    for (int i = 0; i < t->ndim; i++) {
        TY_ASSERT(idx[i] >= 0 && idx[i] < t->shape[i]);
        p += idx[i] * t->stride[i];
    }
    return p;
}

void ty_view_select(ty_tensor *t, int dim, int64_t index)
{
    TY_ASSERT(dim >= 0 && dim < t->ndim && index >= 0 && index < t->shape[dim]);
    t->data += index * t->stride[dim];
    ty_view_drop(t, dim);
}

void ty_view_drop(ty_tensor *t, int dim)
{
    TY_ASSERT(dim >= 0 && dim < t->ndim);
    for (int i = dim; i < t->ndim - 1; i++) {
        t->shape[i] = t->shape[i + 1];
        t->stride[i] = t->stride[i + 1];
    }
    t->ndim--;
}

void ty_view_step(ty_tensor *t, int dim, int64_t start, int64_t len, int64_t step)
{
    TY_ASSERT(dim >= 0 && dim < t->ndim && step >= 1 && start >= 0 && len >= 0 &&
              (len == 0 || (start < t->shape[dim] && len - 1 <= (t->shape[dim] - 1 - start) / step)));
    if (len > 0) t->data += start * t->stride[dim];
    t->shape[dim] = len;
    /* with two elements or more the step is under the size, so the product stays within
       the tensor's own span; with fewer it is never used (and may be any integer) */
    if (len > 1) t->stride[dim] *= step;
}

void ty_view_insert(ty_tensor *t, int dim)
{
    TY_ASSERT(dim >= 0 && dim <= t->ndim && t->ndim < TY_MAX_DIMS);
    for (int i = t->ndim; i > dim; i--) {
        t->shape[i] = t->shape[i - 1];
        t->stride[i] = t->stride[i - 1];
    }
    t->shape[dim] = 1;
    t->stride[dim] = dim < t->ndim ? t->shape[dim + 1] * t->stride[dim + 1] : 1;
    t->ndim++;
}

void ty_view_permute(ty_tensor *t, const int *perm)
{
    ty_tensor o = *t;
    for (int i = 0; i < t->ndim; i++) {
        TY_ASSERT(perm[i] >= 0 && perm[i] < t->ndim);
        t->shape[i] = o.shape[perm[i]];
        t->stride[i] = o.stride[perm[i]];
    }
}

void ty_view_expand(ty_tensor *t, int ndim, const int64_t *shape)
{
    TY_ASSERT(ndim >= t->ndim && ndim <= TY_MAX_DIMS);
    ty_tensor o = *t;
    int lead = ndim - o.ndim;
    for (int i = 0; i < ndim; i++) {
        int j = i - lead;
        int keep = j >= 0 && o.shape[j] == shape[i];
        TY_ASSERT(keep || j < 0 || o.shape[j] == 1);
        t->shape[i] = shape[i];
        t->stride[i] = keep ? o.stride[j] : 0;
    }
    t->ndim = ndim;
}

int ty_is_broadcast(const ty_tensor *t)
{
    for (int d = 0; d < t->ndim; d++)
        if (t->stride[d] == 0 && t->shape[d] > 1) return 1;
    return 0;
}

void ty_view_narrow(ty_tensor *t, int dim, int64_t start, int64_t len)
{
    TY_ASSERT(dim >= 0 && dim < t->ndim && start >= 0 && len >= 0 && start <= t->shape[dim] &&
              len <= t->shape[dim] - start);
    if (len > 0) t->data += start * t->stride[dim];
    t->shape[dim] = len;
}

void ty_view_transpose(ty_tensor *t, int d1, int d2)
{
    TY_ASSERT(d1 >= 0 && d1 < t->ndim && d2 >= 0 && d2 < t->ndim);
    int64_t s = t->shape[d1], st = t->stride[d1];
    t->shape[d1] = t->shape[d2];
    t->stride[d1] = t->stride[d2];
    t->shape[d2] = s;
    t->stride[d2] = st;
}

void ty_view_reverse_dims(ty_tensor *t)
{
    for (int i = 0, j = t->ndim - 1; i < j; i++, j--) ty_view_transpose(t, i, j);
}

int ty_view_reshape(ty_tensor *t, int ndim, const int64_t *shape)
{
    TY_ASSERT(ndim >= 0 && ndim <= TY_MAX_DIMS && ty_shape_numel(ndim, shape) == ty_numel(t));
    int64_t nst[TY_MAX_DIMS];
    /* no elements: any strides do (NumPy too), and the runs below could not be matched */
    if (ty_is_contiguous(t) || ty_numel(t) == 0) {
        ty_contiguous_strides(ndim, shape, nst);
    } else {
        /* NumPy's attempt_nocopy_reshape: match runs of old dims to runs of new dims with the
           same element count; each old run must be contiguous within itself. */
        int64_t od[TY_MAX_DIMS], os[TY_MAX_DIMS];
        int ond = 0;
        for (int i = 0; i < t->ndim; i++)
            if (t->shape[i] != 1) {
                od[ond] = t->shape[i];
                os[ond] = t->stride[i];
                ond++;
            }
        int oi = 0, oj = 1, ni = 0, nj = 1;
        while (ni < ndim && oi < ond) {
            int64_t np = shape[ni], op = od[oi];
            while (np != op) {
                if (np < op) np *= shape[nj++];
                else op *= od[oj++];
            }
            for (int ok = oi; ok < oj - 1; ok++)
                if (os[ok] != od[ok + 1] * os[ok + 1]) return 0;
            nst[nj - 1] = os[oj - 1];
            for (int nk = nj - 1; nk > ni; nk--) nst[nk - 1] = nst[nk] * shape[nk];
            ni = nj++;
            oi = oj++;
        }
        int64_t last = ni > 0 ? nst[ni - 1] : 1;
        for (int nk = ni; nk < ndim; nk++) nst[nk] = last;
    }
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->stride[i] = nst[i];
    }
    return 1;
}

void ty_copy_flat(ty_tensor *dst, const ty_tensor *src)
{
    int64_t n = ty_numel(src);
    TY_ASSERT(n == ty_numel(dst));
    if (n == 0) return;
    int dc = ty_is_contiguous(dst), sc = ty_is_contiguous(src);
    if (dc && sc) {
        memmove(dst->data, src->data, (size_t)n * sizeof(double));
        return;
    }
    ty_iter it;
    if (ty_same_shape(dst, src)) { /* both walked together */
        const ty_tensor *ops[2] = { dst, src };
        ty_iter_init(&it, dst->ndim, dst->shape, 2, ops);
        TY_ITER_RUNS(it, {
            int64_t sd = it.stride[0][last_], ss = it.stride[1][last_];
            for (int64_t i = 0; i < n_; i++) it.ptr[0][i * sd] = it.ptr[1][i * ss];
        });
    } else if (dc) { /* the strided source walked, the destination filled in order */
        double *q = dst->data;
        const ty_tensor *ops[1] = { src };
        ty_iter_init(&it, src->ndim, src->shape, 1, ops);
        TY_ITER_RUNS(it, {
            int64_t ss = it.stride[0][last_];
            for (int64_t i = 0; i < n_; i++) *q++ = it.ptr[0][i * ss];
        });
    } else {
        TY_ASSERT(sc); /* every caller gives one contiguous side or the same shapes */
        const double *q = src->data;
        const ty_tensor *ops[1] = { dst };
        ty_iter_init(&it, dst->ndim, dst->shape, 1, ops);
        TY_ITER_RUNS(it, {
            int64_t sd = it.stride[0][last_];
            for (int64_t i = 0; i < n_; i++) it.ptr[0][i * sd] = *q++;
        });
    }
}
