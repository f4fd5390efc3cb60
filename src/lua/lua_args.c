/* lua_args.c: what the tensor functions share to read their arguments: tables of numbers
   read raw, shapes (one size -1 inferred, for view and reshape), 1-based indexes and
   dimensions, tensor-or-number operands, and the checks before writing into a tensor. */
#include "lua/lua_tensor.h"

#include <stdio.h>
#include <string.h>

#include "core/ops.h"

/* Tables of numbers (shapes, data) are read raw: no metamethod runs between reading a
   length and reading the elements, so what was checked is what is used. A table whose
   metatable has __len or __index would read differently raw than through Lua, so it is an
   error rather than a silent surprise. */
void lt_check_plain(lua_State *L, int idx, const char *fname, const char *what)
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
    lua_Unsigned n = lt_check_list(L, idx, fname, "the shape table");
    if (n > TY_MAX_DIMS)
        luaL_error(L, "%s: %I dimensions (at most %d)", fname,
                   (lua_Integer)(n > LUA_MAXINTEGER ? LUA_MAXINTEGER : n), TY_MAX_DIMS);
    return (int)n;
}

/* The size at stack index idx: argument pos, or element pos of the shape table when
   element is set. Negative is an error, but -1 where infer allows it. */
static lua_Integer size_at(lua_State *L, int idx, int pos, int element, int infer,
                           const char *fname)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, idx, &ok);
    if (!ok && lua_type(L, idx) == LUA_TNUMBER)
        return luaL_error(L, "%s: size %s is not an integer", fname, lua_tostring(L, idx));
    if (!ok && element)
        return luaL_error(L, "%s: sizes must be integers (element %d of the shape table is %s)",
                          fname, pos, luaL_typename(L, idx));
    if (!ok)
        return luaL_error(L, "%s: sizes must be integers (argument %d is %s)", fname, pos,
                          luaL_typename(L, idx));
    if (v < 0 && !(infer && v == -1))
        return luaL_error(L, "%s: size %I is negative", fname, v);
    return v;
}

/* Sizes from the arguments first..top (numbers) or from the table at first, as size_at
   reads them, with at most one -1 where infer allows it. Returns their count. */
static int read_sizes(lua_State *L, int first, lua_Integer *raw, int infer, const char *fname)
{
    int top = lua_gettop(L), table = first <= top && lua_type(L, first) == LUA_TTABLE;
    if (table) {
        int last = top;
        while (last > first && lua_isnil(L, last)) last--; /* a trailing nil is left out */
        if (last > first)
            luaL_error(L, "%s: the shape table must be the last argument (got %d more)", fname,
                       last - first);
    }
    int nd = table ? table_ndim(L, first, fname) : top >= first ? top - first + 1 : 0;
    if (nd > TY_MAX_DIMS)
        return luaL_error(L, "%s: %d dimensions (at most %d)", fname, nd, TY_MAX_DIMS);
    int inferred = 0;
    for (int i = 0; i < nd; i++) {
        if (table) lua_rawgeti(L, first, i + 1);
        raw[i] = size_at(L, table ? lua_gettop(L) : first + i, table ? i + 1 : first + i, table,
                         infer, fname);
        if (table) lua_pop(L, 1);
        if (raw[i] == -1 && inferred++)
            return luaL_error(L, "%s: only one size may be -1", fname);
    }
    return nd;
}

static void check_shape(lua_State *L, int nd, const int64_t *shape, const char *fname)
{
    ty_error e;
    if (ty_check_shape(nd, shape, &e)) luaL_error(L, "%s: %s", fname, e.msg);
}

int lt_read_shape(lua_State *L, int first, int64_t *shape, const char *fname)
{
    lua_Integer raw[TY_MAX_DIMS];
    int nd = read_sizes(L, first, raw, 0, fname);
    for (int i = 0; i < nd; i++) shape[i] = (int64_t)raw[i];
    check_shape(L, nd, shape, fname);
    return nd;
}

int lt_read_new_shape(lua_State *L, int first, const ty_tensor *t, int64_t *shape,
                      const char *fname)
{
    lua_Integer raw[TY_MAX_DIMS];
    int nd = read_sizes(L, first, raw, 1, fname), infer = -1;
    for (int i = 0; i < nd; i++) {
        if (raw[i] == -1) infer = i;
        shape[i] = raw[i] == -1 ? 1 : (int64_t)raw[i];
    }
    check_shape(L, nd, shape, fname); /* the known sizes' product, within the core's bound */
    int64_t n = ty_numel(t), known = ty_shape_numel(nd, shape);
    char b1[96], b2[96];
    if (infer >= 0) {
        if (known == 0 || n % known != 0)
            return luaL_error(L, "%s: cannot reshape %s (%I elements) into a shape with -1",
                              fname, LT_SHAPE(t, b1), (lua_Integer)n);
        shape[infer] = n / known;
    }
    if (ty_shape_numel(nd, shape) != n)
        return luaL_error(L, "%s: cannot reshape %s (%I elements) into %s", fname,
                          LT_SHAPE(t, b1), (lua_Integer)n, ty_shape_str_n(nd, shape, b2, sizeof b2));
    return nd;
}

int64_t lt_check_size(lua_State *L, int i, const char *fname)
{
    return (int64_t)size_at(L, i, i, 0, 0, fname);
}

int64_t lt_check_index(lua_State *L, lua_Integer i, int64_t size, int dim, const char *fname)
{
    lua_Integer j = i < 0 ? i + size + 1 : i;
    if (j < 1 || j > size)
        luaL_error(L,
                   "%s: index %I is out of range for dimension %d of size %I "
                   "(indexes are 1-based, negative ones count from the end)",
                   fname, i, dim, (lua_Integer)size);
    return (int64_t)(j - 1);
}

int lt_check_dim(lua_State *L, int arg, const ty_tensor *t, const char *fname)
{
    lua_Integer d = luaL_checkinteger(L, arg);
    lua_Integer j = d < 0 ? d + t->ndim + 1 : d;
    if (j < 1 || j > t->ndim) {
        char b[96];
        luaL_error(L, "%s: dimension %I is out of range for a %d-d tensor (%s) "
                   "(dimensions are 1-based, negative ones count from the end)", fname, d,
                   t->ndim, LT_SHAPE(t, b));
    }
    return (int)(j - 1);
}

const ty_tensor *lt_operand(lua_State *L, int i, ty_tensor *tmp, double *scratch)
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

ty_tensor *lt_push_like(lua_State *L, const ty_tensor *t)
{
    return lt_push_new(L, t->ndim, t->shape);
}

void lt_check_into(lua_State *L, const ty_tensor *dst, const ty_tensor *src, const char *fname)
{
    int nd;
    int64_t shape[TY_MAX_DIMS];
    int bad = ty_broadcast_shape(dst, src, &nd, shape, NULL) != TY_OK || nd != dst->ndim;
    for (int d = 0; !bad && d < nd; d++)
        if (shape[d] != dst->shape[d]) bad = 1;
    if (bad) {
        char b1[96], b2[96];
        luaL_error(L, "%s: cannot broadcast a %s operand into the %s tensor", fname,
                   LT_SHAPE(src, b1), LT_SHAPE(dst, b2));
    }
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

const ty_tensor *lt_unaliased(lua_State *L, const ty_tensor *dst, const ty_tensor *src, int si)
{
    if (ty_numel(src) == 0 || ty_numel(dst) == 0) return src;
    if (src->data == dst->data && ty_same_shape(src, dst) &&
        memcmp(src->stride, dst->stride, (size_t)src->ndim * sizeof src->stride[0]) == 0)
        return src;
    const double *slo, *shi, *dlo, *dhi;
    extent(src, &slo, &shi);
    extent(dst, &dlo, &dhi);
    if (shi < dlo || dhi < slo) return src;
    return lt_push_copy(L, src, si);
}

ty_tensor *lt_push_copy(lua_State *L, const ty_tensor *t, int i)
{
    ty_tensor *c = lt_push_like(L, t);
    lt_alive(L, t, i);
    ty_copy_flat(c, t);
    return c;
}

const ty_tensor *lt_contiguous(lua_State *L, const ty_tensor *t, int i)
{
    return ty_is_contiguous(t) ? t : lt_push_copy(L, t, i);
}

const char *lt_position(lua_State *L, const ty_tensor *t, int64_t k, int64_t *idx)
{
    char buf[TY_MAX_DIMS * 24 + 4], *p = buf;
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? k % t->shape[d] : 0;
        k = t->shape[d] ? k / t->shape[d] : 0;
    }
    *p++ = '[';
    for (int d = 0; d < t->ndim; d++)
        p += snprintf(p, (size_t)(buf + sizeof buf - p), d ? ", %lld" : "%lld", (long long)idx[d] + 1);
    snprintf(p, (size_t)(buf + sizeof buf - p), "]");
    lua_pushstring(L, buf);
    return lua_tostring(L, -1);
}

void lt_check_writable(lua_State *L, const ty_tensor *t, const char *fname)
{
    if (ty_is_broadcast(t)) {
        char b[96];
        luaL_error(L, "%s: the %s tensor is an expanded view (stride 0): writing through it would "
                   "write one element many times (clone it first)", fname, LT_SHAPE(t, b));
    }
}

lua_Unsigned lt_check_list(lua_State *L, int idx, const char *fname, const char *what)
{
    lt_check_plain(L, idx, fname, what);
    lua_Unsigned n = lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        lua_pop(L, 1);
    }
    if (count != n)
        luaL_error(L, "%s: %s has keys other than 1..%I (it must be a list)", fname, what, (lua_Integer)n);
    return n;
}
