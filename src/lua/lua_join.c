/* lua_join.c: tensors joined and taken apart: cat and stack of a list of tensors, split
   into views, index (a copy of the slices at a list of positions). */
#include "lua/lua_tensor.h"

#include <string.h>

#include "core/ops.h"

/* The tensors of the plain list at idx, pushed onto the stack (so each stays reachable
   and can be checked alive after an allocation); returns their count. */
static int push_list(lua_State *L, int idx, const char *fname)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Unsigned n = lt_check_list(L, idx, fname, "the list of tensors");
    if (n == 0) return luaL_error(L, "%s: the list of tensors is empty", fname);
    if (n > 1000000) return luaL_error(L, "%s: %I tensors (at most 1000000)", fname, (lua_Integer)n);
    luaL_checkstack(L, (int)n, "too many tensors");
    for (int i = 1; i <= (int)n; i++) {
        lua_rawgeti(L, idx, i);
        ty_tensor *t = lt_test(L, -1);
        if (!t) return luaL_error(L, "%s: element %d of the list is %s, not a tensor", fname, i, luaL_typename(L, -1));
        if (!t->data) return luaL_error(L, "%s: element %d of the list was closed", fname, i);
    }
    return (int)n;
}

/* The optional dimension argument at arg for a tensor of nd dimensions (1-based; negative
   counts from the end); `extra` allows nd + 1 (stack's new dimension). */
static int dim_arg(lua_State *L, int arg, int nd, int extra, const char *fname)
{
    if (lua_isnoneornil(L, arg)) return 0;
    lua_Integer d = luaL_checkinteger(L, arg);
    int top = nd + extra;
    lua_Integer j = d < 0 ? d + top + 1 : d;
    if (j < 1 || j > top)
        luaL_error(L, "%s: dimension %I is out of range for %d-d tensors%s (dimensions are 1-based, "
                   "negative ones count from the end)", fname, d, nd, extra ? " stacked" : "");
    return (int)(j - 1);
}

/* cat(list [, d]): the tensors joined along dimension d (default 1); they agree on every
   other size. One pass: each tensor copied into its slice of the result. */
static int l_cat(lua_State *L)
{
    lua_settop(L, 2); /* the list and d, then the list's tensors */
    int base = 3;
    int n = push_list(L, 1, "cat");
    const ty_tensor *first = lua_touserdata(L, base);
    if (first->ndim == 0) return luaL_error(L, "cat: 0-d tensors cannot be joined (use stack)");
    int d = dim_arg(L, 2, first->ndim, 0, "cat");
    int64_t shape[TY_MAX_DIMS];
    memcpy(shape, first->shape, sizeof shape);
    shape[d] = 0;
    char b1[96], b2[96];
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = lua_touserdata(L, base + i);
        int ok = t->ndim == first->ndim;
        for (int k = 0; ok && k < t->ndim; k++) ok = k == d || t->shape[k] == first->shape[k];
        if (!ok)
            return luaL_error(L, "cat: element %d is %s but element 1 is %s (they may differ only in dimension %d)",
                              i + 1, LT_SHAPE(t, b1), LT_SHAPE(first, b2), d + 1);
        if (t->shape[d] > INT64_MAX / 2 - shape[d]) return luaL_error(L, "cat: the result is too large");
        shape[d] += t->shape[d];
    }
    ty_tensor *out = lt_push_new(L, first->ndim, shape);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = lua_touserdata(L, base + i);
        lt_alive(L, t, base + i);
        ty_tensor slot = *out;
        ty_view_narrow(&slot, d, at, t->shape[d]);
        ty_assign(&slot, t);
        at += t->shape[d];
    }
    return 1;
}

/* stack(list [, d]): tensors of one shape joined along a new dimension d (default 1). */
static int l_stack(lua_State *L)
{
    lua_settop(L, 2);
    int base = 3;
    int n = push_list(L, 1, "stack");
    const ty_tensor *first = lua_touserdata(L, base);
    if (first->ndim == TY_MAX_DIMS)
        return luaL_error(L, "stack: a tensor has at most %d dimensions", TY_MAX_DIMS);
    int d = dim_arg(L, 2, first->ndim, 1, "stack");
    char b1[96], b2[96];
    for (int i = 1; i < n; i++) {
        const ty_tensor *t = lua_touserdata(L, base + i);
        if (!ty_same_shape(t, first))
            return luaL_error(L, "stack: element %d is %s but element 1 is %s (stacked tensors have one shape)",
                              i + 1, LT_SHAPE(t, b1), LT_SHAPE(first, b2));
    }
    int64_t shape[TY_MAX_DIMS];
    int nd = first->ndim + 1;
    for (int k = 0, j = 0; k < nd; k++) shape[k] = k == d ? (int64_t)n : first->shape[j++];
    ty_tensor *out = lt_push_new(L, nd, shape);
    for (int i = 0; i < n; i++) {
        const ty_tensor *t = lua_touserdata(L, base + i);
        lt_alive(L, t, base + i);
        ty_tensor slot = *out;
        ty_view_select(&slot, d, i);
        ty_assign(&slot, t);
    }
    return 1;
}

/* t:split(size [, d]): a list of views of t along d (default 1), each of size elements
   but the last, which holds the rest (PyTorch's split). */
static int m_split(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    lua_Integer size = luaL_checkinteger(L, 2);
    if (t->ndim == 0) return luaL_error(L, "split: a 0-d tensor cannot be split");
    int d = lua_isnoneornil(L, 3) ? 0 : lt_check_dim(L, 3, t, "split");
    if (size < 1) return luaL_error(L, "split: size %I is not positive", size);
    int64_t len = t->shape[d];
    int64_t parts = len == 0 ? 1 : (len - 1) / size + 1; /* no overflow for any size */
    if (parts > 1000000) return luaL_error(L, "split: %I parts (at most 1000000)", (lua_Integer)parts);
    lua_createtable(L, (int)parts, 0);
    for (int64_t i = 0; i < parts; i++) {
        int64_t start = i * size, n = len - start < size ? len - start : size;
        ty_tensor *src = lt_check(L, 1); /* again: the table's growth may have closed it */
        if (!src->data) return luaL_error(L, "split: tensor was closed");
        ty_tensor v = *src;
        ty_view_narrow(&v, d, start, n);
        lt_push_view(L, &v, 1);
        lua_rawseti(L, -2, (lua_Integer)(i + 1));
    }
    return 1;
}

/* A tensor's element as a position: an integer-valued double within +-2^53 (the range
   checked before the conversion, which NaN and infinities would make undefined). */
static int position_of(double v, lua_Integer *p)
{
    if (!(v >= -9007199254740992.0 && v <= 9007199254740992.0)) return 0;
    *p = (lua_Integer)v;
    return (double)*p == v;
}

/* t:index(d, positions): a copy of t's slices along d at the 1-based positions, a list of
   integers or a 1-d tensor of them (NumPy's take, PyTorch's index_select). */
static int m_index_select(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0) return luaL_error(L, "index: a 0-d tensor has no dimension to index");
    int d = lt_check_dim(L, 2, t, "index");
    ty_tensor *pt = lt_test(L, 3);
    int64_t n;
    if (pt) {
        if (!pt->data) luaL_argerror(L, 3, "the positions tensor was closed");
        if (pt->ndim != 1) {
            char b[96];
            return luaL_error(L, "index: positions are a 1-d tensor, not %s", LT_SHAPE(pt, b));
        }
        n = pt->shape[0];
    } else if (lua_type(L, 3) == LUA_TTABLE) {
        n = (int64_t)lt_check_list(L, 3, "index", "the positions");
    } else {
        return luaL_error(L, "index: positions (argument 3) are a table or a tensor, got %s", luaL_typename(L, 3));
    }
    int64_t shape[TY_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[d] = n;
    /* the result first, so that a size no memory can hold fails at once, not after a walk
       over every position; each position is read and checked after it, where no finalizer
       can change it any more (raw reads run no Lua code), and an error leaves the result
       to the collector */
    int64_t size = t->shape[d];
    ty_tensor *out = lt_push_new(L, t->ndim, shape);
    lt_alive(L, t, 1);
    if (pt) lt_alive(L, pt, 3);
    for (int64_t i = 0; i < n; i++) {
        lua_Integer p;
        if (pt) {
            double v = pt->data[i * pt->stride[0]];
            if (!position_of(v, &p))
                return luaL_error(L, "index: position %I is %f, not an integer", (lua_Integer)(i + 1), v);
        } else {
            lua_rawgeti(L, 3, (lua_Integer)(i + 1));
            int ok;
            p = lua_tointegerx(L, -1, &ok);
            if (!ok)
                return luaL_error(L, "index: position %I is %s, not an integer", (lua_Integer)(i + 1),
                                  luaL_typename(L, -1));
            lua_pop(L, 1);
        }
        int64_t k = lt_check_index(L, p, size, d + 1, "index");
        ty_tensor from = *t, to = *out;
        ty_view_select(&from, d, k);
        ty_view_select(&to, d, i);
        ty_assign(&to, &from);
    }
    return 1;
}

static const lt_fn join_fns[] = {
    { "cat", l_cat, LT_FUNCTION, 2 },
    { "stack", l_stack, LT_FUNCTION, 2 },
    { "split", m_split, LT_METHOD | LT_FUNCTION, 3 },
    { "index", m_index_select, LT_METHOD | LT_FUNCTION, 3 },
    { NULL, NULL, 0, 0 }
};

void lt_register_join(lua_State *L, int mt, int methods, int module)
{
    lt_register_fns(L, mt, methods, module, join_fns);
}
