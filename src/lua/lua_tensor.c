/* lua_tensor.c: the tycho.Tensor userdata: creation, views, element access, arithmetic with
   broadcasting, reductions and products. Checks every argument, then calls the core. */
#include "lua/lua_tensor.h"

#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/format.h"
#include "core/linalg.h"
#include "core/ops.h"

/* ---- shared helpers ------------------------------------------------------------------- */

/* Metatables are found by a pointer key in the registry: a light-userdata lookup costs far
   less than luaL_testudata's string key, and tensor checks run on every call.
   Tensors come in two kinds with the same methods. Big ones hold a reference to refcounted
   storage and need a finalizer (tensor_key). Small ones keep their elements inside the
   userdata itself, and views of them keep their base alive through a user value: they need
   no finalizer, so Lua frees them in one sweep, without a __gc call and a second cycle,
   which is most of what a small result used to cost (small_key). */
static const char tensor_key = 0, small_key = 0;

/* Elements up to this many bytes live inside the userdata. */
#define SMALL_BYTES 512

void *lt_testudata(lua_State *L, int i, const void *key)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

void lt_setmetatable(lua_State *L, const void *key)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    lua_setmetatable(L, -2);
}

int lt_newmetatable(lua_State *L, const char *name, const void *key)
{
    if (!luaL_newmetatable(L, name)) return 0;
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    return 1;
}

ty_tensor *lt_test(lua_State *L, int i)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &small_key);
    int same = lua_rawequal(L, -1, -2);
    if (!same) {
        lua_pop(L, 1);
        lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_key);
        same = lua_rawequal(L, -1, -2);
    }
    lua_pop(L, 2);
    return same ? p : NULL;
}

void lt_push_tensor_metatables(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &small_key);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_key);
}

ty_tensor *lt_test_up(lua_State *L, int i)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i)) return NULL;
    /* tables are equal when they are the same object: comparing their addresses skips
       lua_rawequal's general comparison */
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    int same = mt == lua_topointer(L, lua_upvalueindex(LT_UP_SMALL)) ||
               mt == lua_topointer(L, lua_upvalueindex(LT_UP_TENSOR));
    return same ? p : NULL;
}

ty_tensor *lt_check(lua_State *L, int i)
{
    ty_tensor *t = lt_test(L, i);
    if (!t) luaL_typeerror(L, i, "tensor");
    if (!t->data) luaL_argerror(L, i, "tensor was closed");
    return t;
}

void lt_alive(lua_State *L, const ty_tensor *t, int i)
{
    if (!t->data) luaL_argerror(L, i, "tensor was closed during the call");
}

/* Bytes of tensor data alive in a Lua state, outside its heap, and what the last full
   collection left alive: Lua's collector sees only the userdata that own the data, so the
   bindings time full collections by these (lt_gc_pressure). One per state, a userdata in
   the registry; it outlives every storage block, since Lua runs all finalizers before it
   frees any object. */
typedef struct tally {
    int64_t live;
    int64_t after_full;
    int64_t since_step;       /* bytes asked for since the last step */
    int64_t full_collections; /* run by collect_all */
} tally;
static const char tally_key = 0;

static tally *get_tally(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tally_key);
    tally *t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return t;
}

static void open_tally(lua_State *L)
{
    if (get_tally(L)) return;
    tally *t = lua_newuserdatauv(L, sizeof *t, 0);
    t->live = 0;
    t->after_full = 0;
    t->since_step = 0;
    t->full_collections = 0;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tally_key);
}

static ty_allocator allocator_with(lua_State *L, tally *t)
{
    ty_allocator a;
    a.fn = lua_getallocf(L, &a.ud);
    a.tally = t ? &t->live : NULL;
    return a;
}

ty_allocator lt_allocator(lua_State *L)
{
    return allocator_with(L, get_tally(L));
}

static void collect_all(lua_State *L, tally *t)
{
    lua_gc(L, LUA_GCCOLLECT);
    if (t) {
        t->after_full = t->live;
        t->full_collections++;
    }
}

int lt_raise(lua_State *L, const ty_error *e)
{
    /* the core's out-of-memory is Lua's own memory error: lua_error with the very message
       the VM uses raises LUA_ERRMEM, which pcall reports as such and hosts classify by */
    if (e->code == TY_EMEM) {
        lua_pushliteral(L, "not enough memory");
        return lua_error(L);
    }
    return luaL_error(L, "%s", e->msg);
}

ty_tensor *lt_push_empty(lua_State *L)
{
    ty_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    lt_setmetatable(L, &tensor_key);
    return t;
}

/* Tensor bytes are invisible to Lua's collector, so each tensor that brings its own data
   reports it before allocating it (Lua's own advice for external memory). Tensors of 64 KB
   or more step the collector once STEP_KB of them have been asked for since the last step
   (so every one from STEP_KB up): the step frees the young garbage, the temporaries of a
   loop's last passes, whose warm memory the new tensor then reuses, and a few of them still
   fit in the L2 (a + b on 1e4 elements: 2.66-2.70 us stepping at every one, 2.54-2.58 us
   at every fourth; NumPy 2.52 us). A tensor that lived long enough
   to grow old in a generational collector, or any garbage an incremental collector has not
   reached yet, waits for a full collection, which the Lua heap alone would seldom ask for:
   one runs whenever the tensor data alive has grown by as much as the last one left (Lua's
   default pause for its own heap), and by FULL_MIN_BYTES at least. */
#define FULL_MIN_BYTES ((int64_t)32 << 20)
#define STEP_KB 256

static void gc_pressure(lua_State *L, tally *t, int64_t elements)
{
    int64_t kb = elements / 128; /* 8 bytes each */
    if (t && kb >= 64) {
        t->since_step += elements * 8;
        kb = t->since_step >> 10;
    }
    if (kb >= STEP_KB) {
        lua_gc(L, LUA_GCSTEP, (int)(kb > (1 << 30) ? (1 << 30) : kb));
        if (t) t->since_step = 0;
    }
    /* after the step: a loop's big temporaries die young, and must not cost a full
       collection each time they outgrow what the last one left */
    if (t) {
        int64_t grown = t->live - t->after_full;
        if (grown > t->after_full && grown > FULL_MIN_BYTES) collect_all(L, t);
    }
}

void lt_gc_pressure(lua_State *L, int64_t elements)
{
    gc_pressure(L, get_tally(L), elements);
}

/* Out of memory for tensor data: collect the garbage tensors Lua could not see and retry,
   then fail as Lua itself does (LUA_ERRMEM, lt_raise). */
static int alloc_or_raise(lua_State *L, tally *tl, ty_tensor *t, int ndim, const int64_t *shape)
{
    ty_allocator a = allocator_with(L, tl);
    ty_error e;
    int rc = ty_tensor_alloc(t, &a, ndim, shape, &e);
    if (rc == TY_EMEM) {
        collect_all(L, tl);
        rc = ty_tensor_alloc(t, &a, ndim, shape, &e);
        if (rc == TY_EMEM) lt_raise(L, &e);
    }
    if (rc) {
        /* name the Lua-visible function that asked, as luaL_argerror does */
        lua_Debug ar;
        const char *fname = "tensor";
        if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) fname = ar.name;
        luaL_error(L, "%s: %s", fname, e.msg);
    }
    return rc;
}

static ty_tensor *push_new(lua_State *L, int ndim, const int64_t *shape_in, int small_mt_up)
{
    /* shape_in may be a tensor's own shape, and stepping the collector may close it */
    int64_t shape[TY_MAX_DIMS];
    if (ndim > 0 && ndim <= TY_MAX_DIMS) memcpy(shape, shape_in, (size_t)ndim * sizeof shape[0]);
    /* Step the collector before a big allocation rather than after: the temporaries of the
       previous iteration of a loop are freed first, and the new tensor reuses their warm
       memory instead of growing the working set past the caches. One tally lookup serves
       the step and the allocator. */
    int shape_ok = ty_check_shape(ndim, shape, NULL) == TY_OK;
    if (shape_ok) {
        int64_t n = ty_shape_numel(ndim, shape);
        if (n <= SMALL_BYTES / (int64_t)sizeof(double)) {
            ty_tensor *t = lua_newuserdatauv(L, sizeof *t + (size_t)n * sizeof(double), 0);
            memset(t, 0, sizeof *t);
            t->data = (double *)(t + 1);
            t->ndim = ndim;
            for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
            ty_contiguous_strides(ndim, shape, t->stride);
            if (small_mt_up) {
                lua_pushvalue(L, lua_upvalueindex(LT_UP_SMALL));
                lua_setmetatable(L, -2);
            } else {
                lt_setmetatable(L, &small_key);
            }
            return t;
        }
    }
    tally *tl = get_tally(L);
    if (shape_ok) gc_pressure(L, tl, ty_shape_numel(ndim, shape));
    ty_tensor *t = lt_push_empty(L);
    alloc_or_raise(L, tl, t, ndim, shape);
    return t;
}

ty_tensor *lt_push_new(lua_State *L, int ndim, const int64_t *shape)
{
    return push_new(L, ndim, shape, 0);
}

ty_tensor *lt_push_new_up(lua_State *L, int ndim, const int64_t *shape)
{
    return push_new(L, ndim, shape, 1);
}

ty_tensor *lt_push_view(lua_State *L, const ty_tensor *src, int owner)
{
    owner = lua_absindex(L, owner);
    ty_tensor *o = lua_touserdata(L, owner);
    if (src->storage) {
        ty_tensor *t = lt_push_empty(L);
        /* the allocation may have run a finalizer that closed the owner, and with it the
           storage src names: share it only if the owner still holds it */
        lt_alive(L, o, owner);
        ty_tensor_share(t, src);
        return t;
    }
    /* src's elements live inside a small tensor: the owner itself, or the base its own user
       value holds when the owner is a view (so views of views never chain) */
    ty_tensor *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    lt_setmetatable(L, &small_key);
    if (lua_getiuservalue(L, owner, 1) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        lua_pushvalue(L, owner);
    }
    lua_setiuservalue(L, -2, 1);
    lt_alive(L, o, owner);
    *t = *src;
    return t;
}

static int64_t check_size(lua_State *L, int i, const char *fname)
{
    lua_Integer v;
    int isnum;
    v = lua_tointegerx(L, i, &isnum);
    if (!isnum) {
        if (lua_type(L, i) == LUA_TNUMBER)
            return luaL_error(L, "%s: size %s is not an integer", fname, lua_tostring(L, i));
        return luaL_error(L, "%s: sizes must be integers (argument %d is %s)", fname, i,
                          luaL_typename(L, i));
    }
    if (v < 0) return luaL_error(L, "%s: size %I is negative", fname, (lua_Integer)v);
    return (int64_t)v;
}

/* Tables of numbers (shapes, data) are read raw: no metamethod runs between reading a
   length and reading the elements, so what was checked is what is used. A table whose
   metatable has __len or __index would read differently raw than through Lua, so it is an
   error rather than a silent surprise. */
static void check_plain(lua_State *L, int idx, const char *fname, const char *what)
{
    int len = luaL_getmetafield(L, idx, "__len") != LUA_TNIL; /* raw reads of the metatable */
    if (len) lua_pop(L, 1);
    int index = !len && luaL_getmetafield(L, idx, "__index") != LUA_TNIL;
    if (index) lua_pop(L, 1);
    if (len || index)
        luaL_error(L, "%s: %s has a %s metamethod (tables are read raw: pass a plain table)",
                   fname, what, len ? "__len" : "__index");
}

/* The length of the plain table at idx as a count of dimensions (at most TY_MAX_DIMS). */
static int table_ndim(lua_State *L, int idx, const char *fname)
{
    check_plain(L, idx, fname, "the shape table");
    lua_Unsigned n = lua_rawlen(L, idx);
    if (n > TY_MAX_DIMS)
        luaL_error(L, "%s: %I dimensions (at most %d)", fname, (lua_Integer)(n > LUA_MAXINTEGER ? LUA_MAXINTEGER : n),
                   TY_MAX_DIMS);
    return (int)n;
}

int lt_read_shape(lua_State *L, int first, int64_t *shape, const char *fname)
{
    int top = lua_gettop(L), nd = 0;
    if (first <= top && lua_type(L, first) == LUA_TTABLE) {
        nd = table_ndim(L, first, fname);
        for (int i = 0; i < nd; i++) {
            lua_rawgeti(L, first, i + 1);
            shape[i] = check_size(L, -1, fname);
            lua_pop(L, 1);
        }
        return nd;
    }
    nd = top - first + 1;
    if (nd < 0) nd = 0;
    if (nd > TY_MAX_DIMS)
        return luaL_error(L, "%s: %d dimensions (at most %d)", fname, nd, TY_MAX_DIMS);
    for (int i = 0; i < nd; i++) shape[i] = check_size(L, first + i, fname);
    return nd;
}

/* A 1-based (negative from the end) index into a dimension of the given size, 0-based. */
static int64_t check_index(lua_State *L, lua_Integer i, int64_t size, int dim, const char *fname)
{
    lua_Integer j = i < 0 ? i + size + 1 : i;
    if (j < 1 || j > size)
        luaL_error(L,
                   "%s: index %I is out of range for dimension %d of size %I "
                   "(indexes are 1-based, negative ones count from the end)",
                   fname, (lua_Integer)i, dim, (lua_Integer)size);
    return (int64_t)(j - 1);
}

/* A 1-based (negative from the end) dimension number, 0-based. */
static int check_dim(lua_State *L, int arg, const ty_tensor *t, const char *fname)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    lua_Integer j = d < 0 ? d + t->ndim + 1 : d;
    if (j < 1 || j > t->ndim) {
        char b[96];
        luaL_error(L, "%s: dimension %I is out of range for a %d-d tensor (%s)", fname,
                   (lua_Integer)d, t->ndim, LT_SHAPE(t, b));
    }
    return (int)(j - 1);
}

/* A tensor or number operand: numbers become 0-d borrowed tensors over *scratch. */
static const ty_tensor *check_operand(lua_State *L, int i, ty_tensor *tmp, double *scratch)
{
    if (lua_type(L, i) == LUA_TNUMBER) {
        *scratch = lua_tonumber(L, i);
        *tmp = ty_tensor_scalar(scratch);
        return tmp;
    }
    ty_tensor *t = lt_test(L, i);
    if (!t) luaL_typeerror(L, i, "tensor or number");
    if (!t->data) luaL_argerror(L, i, "tensor was closed");
    return t;
}

static ty_tensor *push_like(lua_State *L, const ty_tensor *t)
{
    return lt_push_new(L, t->ndim, t->shape);
}

/* Lowest and highest element addresses a tensor touches. */
static void extent(const ty_tensor *t, const double **lo, const double **hi)
{
    *lo = *hi = t->data;
    for (int d = 0; d < t->ndim; d++) {
        int64_t span = (t->shape[d] - 1) * t->stride[d];
        if (span < 0) *lo += span;
        else *hi += span;
    }
}

/* src as an in-place op may read it while dst is written: itself when the two cannot
   interfere (disjoint memory, or the very same view), else a pushed copy (NumPy does the
   same for overlapping operands). */
static const ty_tensor *unaliased(lua_State *L, const ty_tensor *dst, const ty_tensor *src,
                                  int si)
{
    if (ty_numel(src) == 0 || ty_numel(dst) == 0) return src;
    if (src->data == dst->data && ty_same_shape(src, dst) &&
        memcmp(src->stride, dst->stride, (size_t)src->ndim * sizeof src->stride[0]) == 0)
        return src;
    const double *slo, *shi, *dlo, *dhi;
    extent(src, &slo, &shi);
    extent(dst, &dlo, &dhi);
    if (shi < dlo || dhi < slo) return src;
    ty_tensor *c = push_like(L, src);
    lt_alive(L, src, si);
    ty_copy_flat(c, src);
    return c;
}

/* ---- creation ------------------------------------------------------------------------- */

/* Walks a nested table (raw, as check_plain says) to find its shape, checking that it is
   rectangular. The first descent sets the shape; *leaf says once it has reached numbers,
   after which no row may go deeper. */
static void table_shape(lua_State *L, int idx, int depth, int *nd, int64_t *shape, int *known,
                        int *leaf)
{
    if (depth >= TY_MAX_DIMS) luaL_error(L, "tensor: more than %d levels of nesting", TY_MAX_DIMS);
    check_plain(L, idx, "tensor", depth ? "a nested table" : "the table");
    lua_Unsigned un = lua_rawlen(L, idx);
    if (un > ((lua_Unsigned)1 << 50)) luaL_error(L, "tensor: a table of over 2^50 elements");
    int64_t n = (int64_t)un;
    if (depth < *known) {
        if (shape[depth] != n)
            luaL_error(L, "tensor: ragged table (a row at depth %d has %I elements, expected %I)",
                       depth + 1, (lua_Integer)n, (lua_Integer)shape[depth]);
    } else {
        shape[depth] = n;
        *known = depth + 1;
        *nd = depth + 1;
    }
    for (int64_t i = 1; i <= n; i++) {
        int ty = lua_rawgeti(L, idx, (lua_Integer)i);
        if (ty == LUA_TTABLE) {
            if (*nd > depth + 1 || !*leaf) table_shape(L, lua_gettop(L), depth + 1, nd, shape, known, leaf);
            else luaL_error(L, "tensor: ragged table (element %I at depth %d is a table, others are numbers)",
                            (lua_Integer)i, depth + 1);
        } else if (ty == LUA_TNUMBER) {
            if (*nd > depth + 1)
                luaL_error(L, "tensor: ragged table (element %I at depth %d is a number, others are tables)",
                           (lua_Integer)i, depth + 1);
            *leaf = 1;
        } else {
            luaL_error(L, "tensor: element %I at depth %d is a %s, expected a number", (lua_Integer)i,
                       depth + 1, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
}

/* Copies the elements into out, checking the shape again as it goes: the tensor's
   allocation between the two walks may have run a finalizer that changed the table. */
static double *table_fill(lua_State *L, int idx, int depth, int nd, const int64_t *shape,
                          double *out)
{
    int64_t n = shape[depth];
    if (lua_type(L, idx) != LUA_TTABLE || lua_rawlen(L, idx) != (lua_Unsigned)n)
        luaL_error(L, "tensor: the table changed while it was read (at depth %d)", depth + 1);
    for (int64_t i = 1; i <= n; i++) {
        int ty = lua_rawgeti(L, idx, (lua_Integer)i);
        if (depth + 1 < nd) {
            out = table_fill(L, lua_gettop(L), depth + 1, nd, shape, out);
        } else {
            if (ty != LUA_TNUMBER)
                luaL_error(L, "tensor: the table changed while it was read (at depth %d)", depth + 1);
            *out++ = lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    }
    return out;
}

static int l_tensor(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TNUMBER) {
        ty_tensor *t = lt_push_new(L, 0, NULL);
        t->data[0] = lua_tonumber(L, 1);
        return 1;
    }
    ty_tensor *src = lt_test(L, 1);
    if (src) {
        if (!src->data) luaL_argerror(L, 1, "tensor was closed");
        ty_tensor *t = push_like(L, src);
        lt_alive(L, src, 1);
        ty_copy_flat(t, src);
        return 1;
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    int nd = 1, known = 0, leaf = 0;
    int64_t shape[TY_MAX_DIMS];
    table_shape(L, 1, 0, &nd, shape, &known, &leaf);
    ty_tensor *t = lt_push_new(L, nd, shape);
    if (ty_numel(t) > 0) table_fill(L, 1, 0, nd, shape, t->data);
    return 1;
}

static int push_filled(lua_State *L, int first, const char *fname, double v, int fill)
{
    int64_t shape[TY_MAX_DIMS];
    int nd = lt_read_shape(L, first, shape, fname);
    ty_error e;
    if (ty_check_shape(nd, shape, &e)) return luaL_error(L, "%s: %s", fname, e.msg);
    ty_tensor *t = lt_push_new(L, nd, shape);
    if (fill) ty_fill(t, v);
    return 1;
}

static int l_zeros(lua_State *L) { return push_filled(L, 1, "zeros", 0.0, 1); }
static int l_ones(lua_State *L) { return push_filled(L, 1, "ones", 1.0, 1); }
static int l_empty(lua_State *L) { return push_filled(L, 1, "empty", 0.0, 1); }

static int l_full(lua_State *L)
{
    double v = luaL_checknumber(L, 2);
    lua_settop(L, 2);
    lua_pop(L, 1);
    if (!lua_istable(L, 1)) luaL_checkinteger(L, 1);
    return push_filled(L, 1, "full", v, 1);
}

static int like(lua_State *L, double v)
{
    ty_tensor *src = lt_check(L, 1);
    ty_tensor *t = push_like(L, src);
    ty_fill(t, v);
    return 1;
}

static int l_zeros_like(lua_State *L) { return like(L, 0.0); }
static int l_ones_like(lua_State *L) { return like(L, 1.0); }

static int l_eye(lua_State *L)
{
    int64_t shape[2];
    shape[0] = check_size(L, 1, "eye");
    shape[1] = lua_isnoneornil(L, 2) ? shape[0] : check_size(L, 2, "eye");
    ty_tensor *t = lt_push_new(L, 2, shape);
    ty_fill(t, 0.0);
    for (int64_t i = 0; i < shape[0] && i < shape[1]; i++) t->data[i * shape[1] + i] = 1.0;
    return 1;
}

/* NumPy's linspace: start + i*step, the last element exactly stop. */
static int l_linspace(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    int64_t n = lua_isnoneornil(L, 3) ? 50 : check_size(L, 3, "linspace");
    ty_tensor *t = lt_push_new(L, 1, &n);
    if (n == 1) {
        t->data[0] = a;
    } else if (n > 1) {
        double div = (double)(n - 1), delta = b - a, step = delta / div;
        for (int64_t i = 0; i < n; i++)
            t->data[i] = step == 0 ? ((double)i / div) * delta + a : (double)i * step + a;
        t->data[n - 1] = b;
    }
    return 1;
}

static int l_arange(lua_State *L)
{
    double start = 0, stop, step = 1;
    if (lua_isnoneornil(L, 2)) {
        stop = luaL_checknumber(L, 1);
    } else {
        start = luaL_checknumber(L, 1);
        stop = luaL_checknumber(L, 2);
        step = luaL_optnumber(L, 3, 1.0);
    }
    if (step == 0) return luaL_error(L, "arange: step must not be zero");
    /* NumPy's length: ceil((stop - start) / step), except that a quotient that is exactly
       zero from a nonzero span (an infinite step) counts one element when positive */
    double q = (stop - start) / step;
    double len = (q == 0 && stop != start) ? (signbit(q) ? 0 : 1) : ceil(q);
    if (isnan(len))
        return luaL_error(L, "arange: cannot compute the length (start %f, stop %f, step %f)",
                          start, stop, step);
    if (!(len < 1e15)) return luaL_error(L, "arange: too many elements (%f)", len);
    int64_t n = len > 0 ? (int64_t)len : 0;
    ty_tensor *t = lt_push_new(L, 1, &n);
    /* NumPy's values: start, start + step, then start + i * delta with delta the
       difference of those two as rounded (not step itself) */
    if (n > 0) t->data[0] = start;
    if (n > 1) t->data[1] = start + step;
    double delta = (start + step) - start;
    for (int64_t i = 2; i < n; i++) t->data[i] = start + (double)i * delta;
    return 1;
}

/* ---- shape ---------------------------------------------------------------------------- */

static void push_shape(lua_State *L, const ty_tensor *t)
{
    ty_tensor h = *t; /* the table's allocation may run a finalizer that closes t */
    lua_createtable(L, h.ndim, 0);
    for (int i = 0; i < h.ndim; i++) {
        lua_pushinteger(L, (lua_Integer)h.shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int m_shape(lua_State *L)
{
    push_shape(L, lt_check(L, 1));
    return 1;
}

static int m_size(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        push_shape(L, t);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)t->shape[check_dim(L, 2, t, "size")]);
    return 1;
}

static int m_dim(lua_State *L)
{
    lua_pushinteger(L, lt_check(L, 1)->ndim);
    return 1;
}

static int m_numel(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)ty_numel(lt_check(L, 1)));
    return 1;
}

static int m_len(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0) return luaL_error(L, "#: a 0-d tensor has no length");
    lua_pushinteger(L, (lua_Integer)t->shape[0]);
    return 1;
}

static int m_is_contiguous(lua_State *L)
{
    lua_pushboolean(L, ty_is_contiguous(lt_check(L, 1)));
    return 1;
}

/* ---- views ---------------------------------------------------------------------------- */

static int m_select(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0) return luaL_error(L, "select: cannot select from a 0-d tensor");
    int d = check_dim(L, 2, t, "select");
    int64_t i = check_index(L, luaL_checkinteger(L, 3), t->shape[d], d + 1, "select");
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_select(v, d, i);
    return 1;
}

static int m_narrow(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int d = check_dim(L, 2, t, "narrow");
    lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
    int64_t size = t->shape[d];
    lua_Integer s0 = start < 0 ? start + size + 1 : start;
    if (s0 < 1 || s0 > size + 1 || len < 0 || len > size - (s0 - 1)) /* no overflow */
        return luaL_error(L, "narrow: start %I and length %I do not fit dimension %d of size %I",
                          (lua_Integer)start, (lua_Integer)len, d + 1, (lua_Integer)size);
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_narrow(v, d, (int64_t)(s0 - 1), (int64_t)len);
    return 1;
}

static int m_transpose(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        ty_tensor *v = lt_push_view(L, t, 1);
        ty_view_reverse_dims(v);
        return 1;
    }
    int d1 = check_dim(L, 2, t, "transpose"), d2 = check_dim(L, 3, t, "transpose");
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_transpose(v, d1, d2);
    return 1;
}

/* Reads a target shape for view/reshape, resolving one -1 from the element count. */
static int read_new_shape(lua_State *L, const ty_tensor *t, int64_t *shape, const char *fname)
{
    int top = lua_gettop(L), nd;
    lua_Integer raw[TY_MAX_DIMS];
    if (top >= 2 && lua_type(L, 2) == LUA_TTABLE) {
        nd = table_ndim(L, 2, fname);
        for (int i = 0; i < nd; i++) {
            lua_rawgeti(L, 2, i + 1);
            int ok;
            raw[i] = lua_tointegerx(L, -1, &ok);
            if (!ok) return luaL_error(L, "%s: sizes must be integers", fname);
            lua_pop(L, 1);
        }
    } else {
        nd = top - 1;
        if (nd > TY_MAX_DIMS) return luaL_error(L, "%s: %d dimensions (at most %d)", fname, nd, TY_MAX_DIMS);
        for (int i = 0; i < nd; i++) raw[i] = luaL_checkinteger(L, i + 2);
    }
    int infer = -1, zero = 0;
    int64_t known = 1; /* product of the nonzero sizes */
    for (int i = 0; i < nd; i++) {
        if (raw[i] == -1) {
            if (infer >= 0) return luaL_error(L, "%s: only one size may be -1", fname);
            infer = i;
        } else if (raw[i] < 0) {
            return luaL_error(L, "%s: size %I is negative", fname, (lua_Integer)raw[i]);
        } else if (raw[i] > 0) {
            if (raw[i] > ((int64_t)1 << 50) / known)
                return luaL_error(L, "%s: shape too large (over 2^50 elements)", fname);
            known *= raw[i];
        } else {
            zero = 1;
        }
        shape[i] = raw[i];
    }
    int64_t n = ty_numel(t);
    char b1[96], b2[96];
    if (zero) known = 0;
    if (infer >= 0) {
        if (known == 0 || n % known != 0) {
            shape[infer] = 0;
            return luaL_error(L, "%s: cannot reshape %s (%I elements) into a shape with -1",
                              fname, LT_SHAPE(t, b1), (lua_Integer)n);
        }
        shape[infer] = n / known;
    }
    if (ty_shape_numel(nd, shape) != n)
        return luaL_error(L, "%s: cannot reshape %s (%I elements) into %s", fname,
                          LT_SHAPE(t, b1), (lua_Integer)n, ty_shape_str_n(nd, shape, b2, sizeof b2));
    return nd;
}

static int m_view(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = read_new_shape(L, t, shape, "view");
    ty_tensor v = *t;
    if (!ty_view_reshape(&v, nd, shape)) {
        char b1[96], b2[96];
        return luaL_error(L, "view: a %s tensor with these strides cannot be viewed as %s without a copy (use reshape)",
                          LT_SHAPE(t, b1), ty_shape_str_n(nd, shape, b2, sizeof b2));
    }
    lt_push_view(L, &v, 1);
    return 1;
}

static int m_reshape(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = read_new_shape(L, t, shape, "reshape");
    ty_tensor v = *t;
    if (ty_view_reshape(&v, nd, shape)) {
        lt_push_view(L, &v, 1);
    } else {
        ty_tensor *c = lt_push_new(L, nd, shape);
        lt_alive(L, t, 1);
        ty_copy_flat(c, t);
    }
    return 1;
}

static int m_contiguous(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (ty_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    ty_tensor *c = push_like(L, t);
    lt_alive(L, t, 1);
    ty_copy_flat(c, t);
    return 1;
}

static int m_flatten(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int64_t n = ty_numel(t);
    ty_tensor *c = lt_push_new(L, 1, &n);
    lt_alive(L, t, 1);
    ty_copy_flat(c, t);
    return 1;
}

/* ---- elements ------------------------------------------------------------------------- */

/* Resolves arguments first..first+ndim-1 as 1-based indexes into an element pointer. */
static double *element_at(lua_State *L, ty_tensor *t, int first, int count, const char *fname)
{
    if (count != t->ndim) {
        char b[96];
        luaL_error(L, "%s: %d indexes for a %d-d tensor (%s)", fname, count, t->ndim, LT_SHAPE(t, b));
    }
    int64_t idx[TY_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++)
        idx[d] = check_index(L, luaL_checkinteger(L, first + d), t->shape[d], d + 1, fname);
    return ty_element(t, idx);
}

static int m_get(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    lua_pushnumber(L, *element_at(L, t, 2, lua_gettop(L) - 1, "get"));
    return 1;
}

static int m_set(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int top = lua_gettop(L);
    if (top < 2) {
        char b[96];
        return luaL_error(L, "set: expected %d indexes and a value for a %d-d tensor (%s), got nothing",
                          t->ndim, t->ndim, LT_SHAPE(t, b));
    }
    if (lua_type(L, top) != LUA_TNUMBER)
        return luaL_error(L, "set: the value (argument %d) must be a number, got %s", top,
                          lt_test(L, top) ? "a tensor (use copy_ or t[i] = v)" : luaL_typename(L, top));
    double v = lua_tonumber(L, top);
    *element_at(L, t, 2, top - 2, "set") = v;
    lua_settop(L, 1);
    return 1;
}

static int m_item(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (ty_numel(t) != 1) {
        char b[96];
        return luaL_error(L, "item: a %s tensor has %I elements, item needs exactly one",
                          LT_SHAPE(t, b), (lua_Integer)ty_numel(t));
    }
    int64_t idx[TY_MAX_DIMS] = { 0 };
    lua_pushnumber(L, *ty_element(t, idx));
    return 1;
}

/* Builds the nested tables of h's elements; pin keeps the elements alive (index of a view
   of them), whatever a finalizer run by a table's allocation closes meanwhile. */
static void push_table(lua_State *L, const ty_tensor *h, int dim, const double *p)
{
    luaL_checkstack(L, 4, "totable");
    if (dim == h->ndim) {
        lua_pushnumber(L, *p);
        return;
    }
    lua_createtable(L, h->shape[dim] < INT_MAX ? (int)h->shape[dim] : INT_MAX, 0);
    for (int64_t i = 0; i < h->shape[dim]; i++) {
        push_table(L, h, dim + 1, p + i * h->stride[dim]);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
}

static int m_totable(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor h = *lt_push_view(L, t, 1); /* the pin */
    push_table(L, &h, 0, h.data);
    return 1;
}

/* t[i]: a number for 1-d tensors, a view of the i-th slice otherwise. */
static int index_number(lua_State *L, ty_tensor *t)
{
    int isint;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (!isint) return luaL_error(L, "index: %s is not an integer index", lua_tostring(L, 2));
    if (t->ndim == 0) return luaL_error(L, "index: cannot index a 0-d tensor (use item())");
    int64_t k = check_index(L, i, t->shape[0], 1, "index");
    if (t->ndim == 1) {
        lua_pushnumber(L, t->data[k * t->stride[0]]);
        return 1;
    }
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_select(v, 0, k);
    return 1;
}

static int m_index(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TSTRING) {
        /* methods first, without touching the tensor: this is every t:method() call */
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
        const char *k = lua_tostring(L, 2);
        if (k[0] == 'T' && k[1] == '\0') {
            ty_tensor *t = lt_check(L, 1);
            ty_tensor *v = lt_push_view(L, t, 1);
            ty_view_reverse_dims(v);
            return 1;
        }
        return 1; /* nil */
    }
    ty_tensor *t = lt_test(L, 1);
    if (!t) luaL_typeerror(L, 1, "tensor");
    if (lua_type(L, 2) == LUA_TNUMBER) {
        if (!t->data) return luaL_error(L, "index: tensor was closed");
        return index_number(L, t);
    }
    lua_pushnil(L);
    return 1;
}

/* dst is a header made from the tensor at index 1, src the operand at index si. */
static void assign_checked(lua_State *L, ty_tensor *dst, const ty_tensor *src, int si,
                           const char *fname)
{
    int nd;
    int64_t shape[TY_MAX_DIMS];
    ty_error e;
    int bad = ty_broadcast_shape(dst, src, &nd, shape, &e) != TY_OK || nd != dst->ndim;
    for (int d = 0; !bad && d < nd; d++)
        if (shape[d] != dst->shape[d]) bad = 1;
    if (bad) {
        char b1[96], b2[96];
        luaL_error(L, "%s: cannot broadcast a %s value into a %s target", fname, LT_SHAPE(src, b1),
                   LT_SHAPE(dst, b2));
    }
    const ty_tensor *from = unaliased(L, dst, src, si);
    lt_alive(L, lua_touserdata(L, 1), 1);
    lt_alive(L, src, si);
    ty_assign(dst, from);
}

static int m_newindex(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int isint;
    lua_Integer i = lua_tointegerx(L, 2, &isint);
    if (!isint) {
        if (lua_type(L, 2) == LUA_TNUMBER)
            return luaL_error(L, "newindex: tensors accept only integer keys (got %s)",
                              lua_tostring(L, 2));
        if (lua_type(L, 2) == LUA_TSTRING)
            return luaL_error(L, "newindex: tensors accept only integer keys (got string '%s')",
                              lua_tostring(L, 2));
        return luaL_error(L, "newindex: tensors accept only integer keys (got %s)",
                          luaL_typename(L, 2));
    }
    if (t->ndim == 0) return luaL_error(L, "newindex: cannot index a 0-d tensor (use fill_)");
    int64_t k = check_index(L, i, t->shape[0], 1, "newindex");
    ty_tensor slot = *t;
    ty_view_select(&slot, 0, k);
    ty_tensor tmp;
    double v;
    const ty_tensor *src = check_operand(L, 3, &tmp, &v);
    assign_checked(L, &slot, src, 3, "newindex");
    return 0;
}

/* ---- copies and in-place ops ---------------------------------------------------------- */

static int m_clone(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor *c = push_like(L, t);
    lt_alive(L, t, 1);
    ty_copy_flat(c, t);
    return 1;
}

static int m_copy_(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor tmp;
    double v;
    const ty_tensor *src = check_operand(L, 2, &tmp, &v);
    assign_checked(L, t, src, 2, "copy_");
    lua_settop(L, 1);
    return 1;
}

static int m_fill_(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_fill(t, luaL_checknumber(L, 2));
    lua_settop(L, 1);
    return 1;
}

static int m_zero_(lua_State *L)
{
    ty_fill(lt_check(L, 1), 0.0);
    lua_settop(L, 1);
    return 1;
}

static int inplace(lua_State *L, ty_binop op, const char *fname)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor tmp;
    double v;
    const ty_tensor *b = check_operand(L, 2, &tmp, &v);
    int nd;
    int64_t shape[TY_MAX_DIMS];
    ty_error e;
    int bad = ty_broadcast_shape(t, b, &nd, shape, &e) != TY_OK || nd != t->ndim;
    for (int d = 0; !bad && d < nd; d++)
        if (shape[d] != t->shape[d]) bad = 1;
    if (bad) {
        char b1[96], b2[96];
        return luaL_error(L, "%s: cannot broadcast a %s operand into the %s tensor", fname,
                          LT_SHAPE(b, b1), LT_SHAPE(t, b2));
    }
    const ty_tensor *from = unaliased(L, t, b, 2);
    lt_alive(L, t, 1);
    lt_alive(L, b, 2);
    ty_binary(t, t, from, op);
    lua_settop(L, 1);
    return 1;
}

static int m_add_(lua_State *L) { return inplace(L, TY_ADD, "add_"); }
static int m_sub_(lua_State *L) { return inplace(L, TY_SUB, "sub_"); }
static int m_mul_(lua_State *L) { return inplace(L, TY_MUL, "mul_"); }
static int m_div_(lua_State *L) { return inplace(L, TY_DIV, "div_"); }

/* ---- arithmetic ----------------------------------------------------------------------- */

static int binary(lua_State *L, ty_binop op, const char *fname)
{
    ty_tensor ta, tb;
    double va, vb;
    const ty_tensor *a = check_operand(L, 1, &ta, &va);
    const ty_tensor *b = check_operand(L, 2, &tb, &vb);
    int nd;
    int64_t shape[TY_MAX_DIMS];
    ty_error e;
    if (ty_broadcast_shape(a, b, &nd, shape, &e)) return luaL_error(L, "%s: %s", fname, e.msg);
    ty_tensor *out = lt_push_new(L, nd, shape);
    lt_alive(L, a, 1);
    lt_alive(L, b, 2);
    ty_binary(out, a, b, op);
    return 1;
}

static int m_add(lua_State *L) { return binary(L, TY_ADD, "add"); }
static int m_sub(lua_State *L) { return binary(L, TY_SUB, "sub"); }
static int m_mul(lua_State *L) { return binary(L, TY_MUL, "mul"); }
static int m_div(lua_State *L) { return binary(L, TY_DIV, "div"); }
static int m_pow(lua_State *L) { return binary(L, TY_POW, "pow"); }
static int l_maximum(lua_State *L) { return binary(L, TY_MAXIMUM, "maximum"); }
static int l_minimum(lua_State *L) { return binary(L, TY_MINIMUM, "minimum"); }
static int m_eq(lua_State *L) { return binary(L, TY_EQ, "eq"); }
static int m_ne(lua_State *L) { return binary(L, TY_NE, "ne"); }
static int m_lt(lua_State *L) { return binary(L, TY_LT, "lt"); }
static int m_le(lua_State *L) { return binary(L, TY_LE, "le"); }
static int m_gt(lua_State *L) { return binary(L, TY_GT, "gt"); }
static int m_ge(lua_State *L) { return binary(L, TY_GE, "ge"); }

static int unary(lua_State *L, ty_unop op)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor *out = push_like(L, t);
    lt_alive(L, t, 1);
    ty_unary(out, t, op);
    return 1;
}

static int m_unm(lua_State *L) { return unary(L, TY_NEG); }
static int m_tanh(lua_State *L) { return unary(L, TY_TANH); }
static int m_sigmoid(lua_State *L) { return unary(L, TY_SIGMOID); }
static int m_exp(lua_State *L) { return unary(L, TY_EXP); }
static int m_log(lua_State *L) { return unary(L, TY_LOG); }
static int m_sqrt(lua_State *L) { return unary(L, TY_SQRT); }
static int m_abs(lua_State *L) { return unary(L, TY_ABS); }

static int m_clip(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    double lo = luaL_optnumber(L, 2, -HUGE_VAL), hi = luaL_optnumber(L, 3, HUGE_VAL);
    if (lo > hi) return luaL_error(L, "clip: lower bound %f is above upper bound %f", lo, hi);
    ty_tensor *out = push_like(L, t);
    lt_alive(L, t, 1);
    ty_clip(out, t, lo, hi);
    return 1;
}

static int l_where(lua_State *L)
{
    ty_tensor tc, ta, tb;
    double vc, va, vb;
    const ty_tensor *c = check_operand(L, 1, &tc, &vc);
    const ty_tensor *a = check_operand(L, 2, &ta, &va);
    const ty_tensor *b = check_operand(L, 3, &tb, &vb);
    int nd1, nd;
    int64_t s1[TY_MAX_DIMS], shape[TY_MAX_DIMS];
    ty_error e;
    if (ty_broadcast_shape(c, a, &nd1, s1, &e)) return luaL_error(L, "where: %s", e.msg);
    ty_tensor ca;
    memset(&ca, 0, sizeof ca);
    ca.ndim = nd1;
    memcpy(ca.shape, s1, sizeof s1);
    if (ty_broadcast_shape(&ca, b, &nd, shape, &e)) return luaL_error(L, "where: %s", e.msg);
    ty_tensor *out = lt_push_new(L, nd, shape);
    lt_alive(L, c, 1);
    lt_alive(L, a, 2);
    lt_alive(L, b, 3);
    ty_where(out, c, a, b);
    return 1;
}

/* ---- reductions ----------------------------------------------------------------------- */

static int reduce(lua_State *L, ty_reduce op, const char *fname)
{
    ty_tensor *t = lt_check(L, 1);
    int arg = (op == TY_ARGMAX || op == TY_ARGMIN);
    int needs_items = (op != TY_SUM && op != TY_MEAN);
    char b[96];
    if (lua_isnoneornil(L, 2)) {
        if (needs_items && ty_numel(t) == 0)
            return luaL_error(L, "%s: the %s tensor is empty", fname, LT_SHAPE(t, b));
        double r = ty_reduce_all(t, op);
        if (arg) lua_pushinteger(L, (lua_Integer)r + 1);
        else lua_pushnumber(L, r);
        return 1;
    }
    int d = check_dim(L, 2, t, fname);
    if (needs_items && t->shape[d] == 0)
        return luaL_error(L, "%s: dimension %d of the %s tensor is empty", fname, d + 1, LT_SHAPE(t, b));
    ty_tensor rest = *t;
    ty_view_drop(&rest, d);
    ty_tensor *out = lt_push_new(L, rest.ndim, rest.shape);
    lt_alive(L, t, 1);
    ty_reduce_dim(out, t, d, op);
    if (arg) {
        double one = 1.0;
        ty_tensor s = ty_tensor_scalar(&one);
        ty_binary(out, out, &s, TY_ADD);
    }
    return 1;
}

static int m_sum(lua_State *L) { return reduce(L, TY_SUM, "sum"); }
static int m_mean(lua_State *L) { return reduce(L, TY_MEAN, "mean"); }
static int m_max(lua_State *L) { return reduce(L, TY_MAX, "max"); }
static int m_min(lua_State *L) { return reduce(L, TY_MIN, "min"); }
static int m_argmax(lua_State *L) { return reduce(L, TY_ARGMAX, "argmax"); }
static int m_argmin(lua_State *L) { return reduce(L, TY_ARGMIN, "argmin"); }

static int m_norm(lua_State *L)
{
    lua_pushnumber(L, ty_norm(lt_check(L, 1)));
    return 1;
}

/* ---- comparison ----------------------------------------------------------------------- */

static int l_allclose(lua_State *L)
{
    ty_tensor ta, tb;
    double va, vb;
    const ty_tensor *a = check_operand(L, 1, &ta, &va);
    const ty_tensor *b = check_operand(L, 2, &tb, &vb);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    int nd;
    int64_t shape[TY_MAX_DIMS];
    ty_error e;
    if (ty_broadcast_shape(a, b, &nd, shape, &e)) return luaL_error(L, "allclose: %s", e.msg);
    lua_pushboolean(L, ty_allclose(a, b, rtol, atol));
    return 1;
}

static int m_equal(lua_State *L)
{
    ty_tensor *a = lt_check(L, 1);
    ty_tensor *b = lt_check(L, 2);
    lua_pushboolean(L, ty_same_shape(a, b) && ty_allclose(a, b, 0.0, 0.0));
    return 1;
}

/* ---- products ------------------------------------------------------------------------- */

/* The operands of a product (arguments 1 and 2), after the result's allocation. */
static void operands_alive(lua_State *L, const ty_tensor *a, const ty_tensor *b)
{
    lt_alive(L, a, 1);
    lt_alive(L, b, 2);
}

/* NumPy's matmul (and dot, which is matmul up to 2-d and for an N-d by 1-d or 2-d): two
   vectors give a number, the rest a new tensor. */
static int product(lua_State *L, const ty_tensor *a, const ty_tensor *b, const char *fname)
{
    ty_error e;
    if (a->ndim == 1 && b->ndim == 1) {
        int nd;
        int64_t shape[TY_MAX_DIMS];
        if (ty_matmul_shape(a, b, &nd, shape, &e)) return luaL_error(L, "%s: %s", fname, e.msg);
        lua_pushnumber(L, ty_vdot(a, b));
        return 1;
    }
    int nd;
    int64_t shape[TY_MAX_DIMS];
    if (ty_matmul_shape(a, b, &nd, shape, &e)) return luaL_error(L, "%s: %s", fname, e.msg);
    ty_tensor *out = lt_push_new(L, nd, shape);
    operands_alive(L, a, b);
    ty_allocator al = lt_allocator(L);
    if (ty_matmul(out, a, b, &al, &e)) lt_raise(L, &e);
    return 1;
}

static int l_matmul(lua_State *L)
{
    ty_tensor *a = lt_check(L, 1), *b = lt_check(L, 2);
    return product(L, a, b, "matmul");
}

static int l_dot(lua_State *L)
{
    ty_tensor ta, tb;
    double va, vb;
    const ty_tensor *a = check_operand(L, 1, &ta, &va);
    const ty_tensor *b = check_operand(L, 2, &tb, &vb);
    if (a->ndim == 0 || b->ndim == 0) return binary(L, TY_MUL, "dot");
    if (b->ndim > 2) { /* NumPy's dot is not matmul there: it is not supported */
        char b1[96], b2[96];
        return luaL_error(L, "dot: %s x %s is not supported (use matmul for batched products)",
                          LT_SHAPE(a, b1), LT_SHAPE(b, b2));
    }
    return product(L, a, b, "dot");
}

/* t as a 1-d run of its elements: a view when its layout allows, else a pushed copy. */
static ty_tensor flat(lua_State *L, const ty_tensor *t, int arg)
{
    ty_tensor v = *t;
    int64_t n = ty_numel(t);
    if (ty_view_reshape(&v, 1, &n)) return v;
    ty_tensor *c = lt_push_new(L, 1, &n);
    lt_alive(L, t, arg);
    ty_copy_flat(c, t);
    return *c;
}

/* NumPy's outer: both operands flattened, out[i, j] = a[i] * b[j], as a broadcast product of
   an (n1 x 1) and a (1 x n2) view. */
static int l_outer(lua_State *L)
{
    ty_tensor *a = lt_check(L, 1), *b = lt_check(L, 2);
    ty_tensor fa = flat(L, a, 1), fb = flat(L, b, 2);
    int64_t shape[2] = { fa.shape[0], fb.shape[0] };
    ty_tensor *out = lt_push_new(L, 2, shape);
    operands_alive(L, a, b); /* fa, fb: views of them, or copies on the stack */
    fa.ndim = fb.ndim = 2;
    fa.shape[1] = 1;
    fa.stride[1] = 0;
    fb.shape[1] = fb.shape[0];
    fb.stride[1] = fb.stride[0];
    fb.shape[0] = 1;
    fb.stride[0] = 0;
    ty_binary(out, &fa, &fb, TY_MUL);
    return 1;
}

/* ---- metamethods and misc ------------------------------------------------------------- */

static int buffer_writer(void *ud, const char *s, size_t n)
{
    luaL_addlstring((luaL_Buffer *)ud, s, n);
    return 0;
}

static int m_tostring(lua_State *L)
{
    ty_tensor *t = lt_test(L, 1);
    if (!t) luaL_typeerror(L, 1, "tensor");
    if (!t->data) {
        lua_pushliteral(L, "tensor(closed)");
        return 1;
    }
    /* the buffer grows as the text does, and a finalizer its allocations run may close t:
       the text is made from a view that keeps the elements alive */
    ty_tensor *pin = lt_push_view(L, t, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    ty_format_tensor(pin, buffer_writer, &b);
    luaL_pushresult(&b);
    return 1;
}

static int m_gc(lua_State *L)
{
    ty_tensor *t = lt_test(L, 1);
    if (!t) luaL_typeerror(L, 1, "tensor");
    ty_tensor_free(t);
    return 0;
}

static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
    return 1;
}

/* tycho.memory(): bytes of tensor data alive in this Lua state (outside the Lua heap, which
   collectgarbage("count") gives), and how many full collections they asked for. */
static int l_memory(lua_State *L)
{
    tally *t = get_tally(L);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, t ? (lua_Integer)t->live : 0);
    lua_setfield(L, -2, "bytes");
    lua_pushinteger(L, t ? (lua_Integer)t->full_collections : 0);
    lua_setfield(L, -2, "full_collections");
    return 1;
}

static int l_is_tensor(lua_State *L)
{
    lua_pushboolean(L, lt_test(L, 1) != NULL);
    return 1;
}

static const luaL_Reg methods[] = {
    { "shape", m_shape },       { "size", m_size },         { "dim", m_dim },
    { "numel", m_numel },       { "is_contiguous", m_is_contiguous },
    { "select", m_select },     { "narrow", m_narrow },     { "transpose", m_transpose },
    { "view", m_view },         { "reshape", m_reshape },   { "contiguous", m_contiguous },
    { "flatten", m_flatten },   { "get", m_get },           { "set", m_set },
    { "item", m_item },         { "totable", m_totable },   { "clone", m_clone },
    { "copy_", m_copy_ },       { "fill_", m_fill_ },       { "zero_", m_zero_ },
    { "add_", m_add_ },         { "sub_", m_sub_ },         { "mul_", m_mul_ },
    { "div_", m_div_ },         { "add", m_add },           { "sub", m_sub },
    { "mul", m_mul },           { "div", m_div },           { "pow", m_pow },
    { "eq", m_eq },             { "ne", m_ne },             { "lt", m_lt },
    { "le", m_le },             { "gt", m_gt },             { "ge", m_ge },
    { "tanh", m_tanh },         { "sigmoid", m_sigmoid },   { "exp", m_exp },
    { "log", m_log },           { "sqrt", m_sqrt },         { "abs", m_abs },
    { "clip", m_clip },         { "sum", m_sum },           { "mean", m_mean },
    { "max", m_max },           { "min", m_min },           { "argmax", m_argmax },
    { "argmin", m_argmin },     { "norm", m_norm },         { "dot", l_dot },
    { "matmul", l_matmul },     { "equal", m_equal },       { "allclose", l_allclose },
    { "outer", l_outer },       { NULL, NULL }
};

static const luaL_Reg metamethods[] = {
    { "__newindex", m_newindex }, { "__len", m_len },   { "__tostring", m_tostring },
    { "__gc", m_gc },             { "__close", m_gc },  { "__add", m_add },
    { "__sub", m_sub },           { "__mul", m_mul },   { "__div", m_div },
    { "__unm", m_unm },           { "__pow", m_pow },   { NULL, NULL }
};

static const luaL_Reg functions[] = {
    { "tensor", l_tensor },       { "zeros", l_zeros },         { "ones", l_ones },
    { "full", l_full },           { "empty", l_empty },         { "eye", l_eye },
    { "linspace", l_linspace },   { "arange", l_arange },       { "zeros_like", l_zeros_like },
    { "ones_like", l_ones_like }, { "matmul", l_matmul },       { "dot", l_dot },
    { "outer", l_outer },         { "maximum", l_maximum },     { "minimum", l_minimum },
    { "where", l_where },         { "allclose", l_allclose },   { "clock", l_clock },
    { "memory", l_memory },
    { "is_tensor", l_is_tensor }, { "tanh", m_tanh },           { "sigmoid", m_sigmoid },
    { "exp", m_exp },             { "log", m_log },             { "sqrt", m_sqrt },
    { "abs", m_abs },             { "pow", m_pow },             { "clip", m_clip },
    { "sum", m_sum },             { "mean", m_mean },           { "max", m_max },
    { "min", m_min },             { "argmax", m_argmax },       { "argmin", m_argmin },
    { "norm", m_norm },           { "transpose", m_transpose }, { "reshape", m_reshape },
    { "clone", m_clone },         { "equal", m_equal },         { NULL, NULL }
};

void lt_open_tensor(lua_State *L)
{
    open_tally(L);
    if (lt_newmetatable(L, LT_TENSOR, &tensor_key)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, "methods"); /* mt.methods: other binding files add methods here */
        lua_pushcclosure(L, m_index, 1);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "tycho.Tensor");
        lua_setfield(L, -2, "__name");
        /* getmetatable(t) gives the type name, and setmetatable refuses: a script that could
           reach the metatable could remove __gc (a leak) or replace it with Lua code (run
           outside the instruction limit, or closing a tensor a C function is using) */
        lua_pushliteral(L, "tycho.Tensor");
        lua_setfield(L, -2, "__metatable");
        /* the small kind: the same fields but __gc */
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, -3)) {
            if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "__gc") == 0) {
                lua_pop(L, 1);
                continue;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_rawsetp(L, LUA_REGISTRYINDEX, &small_key);
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, functions, 0);
}
