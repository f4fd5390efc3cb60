/* tensor.h: float64 n-d tensors as views (data pointer, shape, strides) over
   reference-counted storage, plus the error record every core function reports through. */
#ifndef TYCHO_TENSOR_H
#define TYCHO_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define TY_MAX_DIMS 8

/* Functions compiled in several versions (TY_VECTOR_CLONES) get an ifunc symbol that
   -fvisibility=hidden leaves exported: their declarations say hidden themselves. */
#if defined(__GNUC__)
#define TY_HIDDEN __attribute__((visibility("hidden")))
#else
#define TY_HIDDEN
#endif

/* Debug assertions, as Lua's lua_assert: what the core relies on its callers to have
   checked (index ranges, output shapes, sizes that fit an int). Compiled in with TY_DEBUG
   (the sanitizer, valgrind and fuzz builds), where a failed one reports its file and line
   and aborts; compiled out of release builds, where the condition is not evaluated. */
#if defined(TY_DEBUG)
void ty_assert_fail(const char *cond, const char *file, int line);
#define TY_ASSERT(cond) ((cond) ? (void)0 : ty_assert_fail(#cond, __FILE__, __LINE__))
#else
#define TY_ASSERT(cond) ((void)0)
#endif

/* Core result codes; the binding turns them into Lua errors, the host layer into TYCHO_ERR_*. */
enum { TY_OK = 0, TY_EMEM, TY_EARG, TY_EFILE, TY_EFORMAT };

typedef struct ty_error {
    int  code;
    char msg[320];
} ty_error;

/* Records code and a printf-style message in e (e may be NULL); returns code. */
int ty_fail(ty_error *e, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Same signature as lua_Alloc, so an engine hands its Lua allocator to the core and one
   budget covers Lua objects and tensor data. nsize 0 frees. When tally is set, the bytes of
   every storage block made through this allocator are added to *tally while it lives (a
   garbage collector that cannot see them paces itself by it). */
typedef void *(*ty_allocf)(void *ud, void *ptr, size_t osize, size_t nsize);
typedef struct ty_allocator {
    ty_allocf fn;
    void     *ud;
    int64_t  *tally;
} ty_allocator;

/* The system allocator (realloc/free), for C callers without an engine. */
extern const ty_allocator ty_system_allocator;

typedef struct ty_storage {
    double      *data;
    int64_t      size;        /* elements */
    long         refcount;
    size_t       bytes;       /* bytes obtained from alloc for this block (0: external data) */
    ty_allocator alloc;
    void (*release)(void *ud, double *data); /* external data: called once at the end */
    void        *release_ud;
} ty_storage;

/* A tensor value. storage NULL with data non-NULL is a borrowed view of memory the caller
   owns (used for scalars on the C stack); storage NULL and data NULL is an empty slot. */
typedef struct ty_tensor {
    ty_storage *storage;
    double     *data;                 /* first element */
    int         ndim;
    int64_t     shape[TY_MAX_DIMS];
    int64_t     stride[TY_MAX_DIMS];  /* in elements; may be 0 or negative only via broadcasting */
} ty_tensor;

/* Storage: new with refcount 1 (NULL + TY_EMEM on failure); retain/release (NULL is a no-op). */
ty_storage *ty_storage_new(const ty_allocator *a, int64_t n, ty_error *e);
ty_storage *ty_storage_wrap(const ty_allocator *a, double *data, int64_t n,
                            void (*release)(void *ud, double *data), void *ud, ty_error *e);
void        ty_storage_retain(ty_storage *s);
void        ty_storage_release(ty_storage *s);

/* Checks a shape (ndim 0..8, sizes >= 0, element count within limits). */
int     ty_check_shape(int ndim, const int64_t *shape, ty_error *e);
int64_t ty_shape_numel(int ndim, const int64_t *shape);
void    ty_contiguous_strides(int ndim, const int64_t *shape, int64_t *stride);

/* Fills an empty slot t with a new contiguous tensor (values uninitialised). */
int  ty_tensor_alloc(ty_tensor *t, const ty_allocator *a, int ndim, const int64_t *shape,
                     ty_error *e);
/* Makes dst (an empty slot) a view of src, retaining src's storage. */
void ty_tensor_share(ty_tensor *dst, const ty_tensor *src);
/* Drops t's storage reference and empties the slot. */
void ty_tensor_free(ty_tensor *t);
/* A 0-d borrowed tensor over *v (no storage), for scalars in binary ops. */
ty_tensor ty_tensor_scalar(double *v);

int64_t ty_numel(const ty_tensor *t);
int     ty_is_contiguous(const ty_tensor *t);
int     ty_same_shape(const ty_tensor *a, const ty_tensor *b);
/* Writes "3x7" (or "scalar" for 0-d) into buf. Returns buf. */
const char *ty_shape_str(const ty_tensor *t, char *buf, size_t n);
const char *ty_shape_str_n(int ndim, const int64_t *shape, char *buf, size_t n);
/* Pointer to the element at 0-based index idx[0..ndim-1]. */
double *ty_element(const ty_tensor *t, const int64_t *idx);

/* In-place view edits on t (dims and indexes 0-based, already checked by the caller). */
void ty_view_select(ty_tensor *t, int dim, int64_t index);
/* Removes dimension dim, leaving data where it is (the shape of a reduction along dim, the
   view of index 0 if dim has elements). */
void ty_view_drop(ty_tensor *t, int dim);
void ty_view_narrow(ty_tensor *t, int dim, int64_t start, int64_t len);
void ty_view_transpose(ty_tensor *t, int d1, int d2);
void ty_view_reverse_dims(ty_tensor *t);
/* The elements start, start + step, ... (len of them) of dimension dim; step >= 1. */
void ty_view_step(ty_tensor *t, int dim, int64_t start, int64_t len, int64_t step);
/* Inserts a dimension of size 1 before dimension dim (0..ndim; ndim < TY_MAX_DIMS). */
void ty_view_insert(ty_tensor *t, int dim);
/* Dimension i of the view is dimension perm[i] of t (perm a permutation of 0..ndim-1). */
void ty_view_permute(ty_tensor *t, const int *perm);
/* t broadcast to shape (NumPy's broadcast_to; the caller checked that it broadcasts):
   new leading dimensions and stretched dimensions of size 1 get stride 0. */
void ty_view_expand(ty_tensor *t, int ndim, const int64_t *shape);
/* 1 if two of t's elements share an address (a stride-0 dimension of size > 1, as an
   expanded view has): writing through t would be ambiguous. */
int  ty_is_broadcast(const ty_tensor *t);
/* Restrides t to the new shape without copying if its layout allows (NumPy's
   attempt_nocopy_reshape). Returns 1 on success, 0 when a copy would be needed. */
int  ty_view_reshape(ty_tensor *t, int ndim, const int64_t *shape);

/* Copies src into dst (same numel; any strides, elementwise in row-major order). */
void ty_copy_flat(ty_tensor *dst, const ty_tensor *src);

#endif
