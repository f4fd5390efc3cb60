/* lua_views.c: a tensor's shape, its views (select, narrow, transpose, view, reshape, ...),
   its elements (t[i], get, set, item, totable), indexing and assignment, copies. */
#include "lua/lua_tensor.h"

#include <limits.h>
#include <string.h>

#include "core/ops.h"

/* ---- shape ---------------------------------------------------------------------------- */

/* A shape is a plain table of sizes whose metatable prints it as NumPy's tuple, (2, 3),
   and compares two shapes by their sizes. */
#define SHAPE_TYPE "tycho.Shape"

static int shape_tostring(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_Unsigned n = lua_rawlen(L, 1);
    luaL_addchar(&b, '(');
    for (lua_Unsigned i = 1; i <= n; i++) {
        /* the separator first: while the buffer is open, only the value being added may sit
           above it (adding to a growing buffer replaces its top slot) */
        if (i > 1) luaL_addstring(&b, ", ");
        lua_rawgeti(L, 1, (lua_Integer)i);
        luaL_tolstring(L, -1, NULL); /* sizes print as integers; a script's edits as they are */
        lua_remove(L, -2);
        luaL_addvalue(&b);
    }
    if (n == 1) luaL_addchar(&b, ',');
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

static int shape_eq(lua_State *L)
{
    lua_Unsigned n = lua_rawlen(L, 1);
    int same = lua_istable(L, 1) && lua_istable(L, 2) && n == lua_rawlen(L, 2);
    for (lua_Unsigned i = 1; same && i <= n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i);
        lua_rawgeti(L, 2, (lua_Integer)i);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, same);
    return 1;
}

static void push_shape(lua_State *L, const ty_tensor *t)
{
    ty_tensor h = *t; /* the table's allocation may run a finalizer that closes t */
    lua_createtable(L, h.ndim, 0);
    for (int i = 0; i < h.ndim; i++) {
        lua_pushinteger(L, (lua_Integer)h.shape[i]);
        lua_rawseti(L, -2, i + 1);
    }
    luaL_setmetatable(L, SHAPE_TYPE);
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
    lua_pushinteger(L, (lua_Integer)t->shape[lt_check_dim(L, 2, t, "size")]);
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
    int d = lt_check_dim(L, 2, t, "select");
    int64_t i = lt_check_index(L, luaL_checkinteger(L, 3), t->shape[d], d + 1, "select");
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_select(v, d, i);
    return 1;
}

static int m_narrow(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int d = lt_check_dim(L, 2, t, "narrow");
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
    int d1 = lt_check_dim(L, 2, t, "transpose"), d2 = lt_check_dim(L, 3, t, "transpose");
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_transpose(v, d1, d2);
    return 1;
}

/* t (argument 1) restrided to the new shape of arguments 2..: in *v when t's layout
   allows a view of it (NumPy's attempt_nocopy_reshape), returning 1; else 0. */
static int new_shape_view(lua_State *L, const ty_tensor *t, ty_tensor *v, int *nd,
                          int64_t *shape, const char *fname)
{
    *nd = lt_read_new_shape(L, 2, t, shape, fname);
    *v = *t;
    return ty_view_reshape(v, *nd, shape);
}

static int m_view(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1), v;
    int64_t shape[TY_MAX_DIMS];
    int nd;
    if (!new_shape_view(L, t, &v, &nd, shape, "view")) {
        char b1[96], b2[96];
        return luaL_error(L, "view: a %s tensor with these strides cannot be viewed as %s without a copy (use reshape)",
                          LT_SHAPE(t, b1), ty_shape_str_n(nd, shape, b2, sizeof b2));
    }
    lt_push_view(L, &v, 1);
    return 1;
}

/* t (argument 1) in a new shape of as many elements: a view where its layout allows (NumPy's
   attempt_nocopy_reshape), else a copy. */
static void push_reshaped(lua_State *L, const ty_tensor *t, int nd, const int64_t *shape)
{
    ty_tensor v = *t;
    if (ty_view_reshape(&v, nd, shape)) {
        lt_push_view(L, &v, 1);
        return;
    }
    ty_tensor *c = lt_push_new(L, nd, shape);
    lt_alive(L, t, 1);
    ty_copy_flat(c, t);
}

static int m_reshape(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = lt_read_new_shape(L, 2, t, shape, "reshape");
    push_reshaped(L, t, nd, shape);
    return 1;
}

static int m_contiguous(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (ty_is_contiguous(t)) {
        lua_settop(L, 1);
        return 1;
    }
    ty_tensor *c = lt_push_like(L, t);
    lt_alive(L, t, 1);
    ty_copy_flat(c, t);
    return 1;
}

/* flatten([d1 [, d2]]): dimensions d1..d2 (default all) merged into one; a view where
   the layout allows, else a copy (as reshape). */
static int m_flatten(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0) {
        if (!lua_isnoneornil(L, 2) || !lua_isnoneornil(L, 3))
            return luaL_error(L, "flatten: a 0-d tensor has no dimensions to name");
        int64_t one = 1;
        push_reshaped(L, t, 1, &one);
        return 1;
    }
    int d1 = lua_isnoneornil(L, 2) ? 0 : lt_check_dim(L, 2, t, "flatten");
    int d2 = lua_isnoneornil(L, 3) ? t->ndim - 1 : lt_check_dim(L, 3, t, "flatten");
    if (d2 < d1)
        return luaL_error(L, "flatten: end dimension %d is before start dimension %d", d2 + 1, d1 + 1);
    int64_t shape[TY_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < d1; d++) shape[nd++] = t->shape[d];
    int64_t merged = 1;
    for (int d = d1; d <= d2; d++) merged *= t->shape[d];
    shape[nd++] = merged;
    for (int d = d2 + 1; d < t->ndim; d++) shape[nd++] = t->shape[d];
    push_reshaped(L, t, nd, shape);
    return 1;
}

/* squeeze([d]): without d every dimension of size 1 removed; with d that one, which must
   have size 1 (NumPy's rule). A view. */
static int m_squeeze(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor v = *t;
    if (lua_isnoneornil(L, 2)) {
        for (int d = v.ndim - 1; d >= 0; d--)
            if (v.shape[d] == 1) ty_view_drop(&v, d);
    } else {
        int d = lt_check_dim(L, 2, t, "squeeze");
        if (t->shape[d] != 1) {
            char b[96];
            return luaL_error(L, "squeeze: dimension %d of the %s tensor has size %I, not 1", d + 1,
                              LT_SHAPE(t, b), (lua_Integer)t->shape[d]);
        }
        ty_view_drop(&v, d);
    }
    lt_push_view(L, &v, 1);
    return 1;
}

/* unsqueeze(d): a dimension of size 1 inserted so that it becomes dimension d (1..ndim+1;
   -1 is a new last dimension). A view. */
static int m_unsqueeze(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    lua_Integer d = luaL_checkinteger(L, 2);
    lua_Integer j = d < 0 ? d + t->ndim + 2 : d;
    if (j < 1 || j > t->ndim + 1) {
        char b[96];
        return luaL_error(L, "unsqueeze: dimension %I is out of range for a new dimension of the %s tensor "
                          "(1 to %d; dimensions are 1-based, negative ones count from the end)",
                          d, LT_SHAPE(t, b), t->ndim + 1);
    }
    if (t->ndim == TY_MAX_DIMS)
        return luaL_error(L, "unsqueeze: a tensor has at most %d dimensions", TY_MAX_DIMS);
    ty_tensor v = *t;
    ty_view_insert(&v, (int)(j - 1));
    lt_push_view(L, &v, 1);
    return 1;
}

/* permute(d1, d2, ...): dimension i of the view is dimension d_i of t; every dimension
   once. A view. */
static int m_permute(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int n = lua_gettop(L) - 1;
    if (n != t->ndim) {
        char b[96];
        return luaL_error(L, "permute: %d dimensions given for the %d-d %s tensor (name each once)",
                          n, t->ndim, LT_SHAPE(t, b));
    }
    int perm[TY_MAX_DIMS], seen[TY_MAX_DIMS] = { 0 };
    for (int i = 0; i < n; i++) {
        perm[i] = lt_check_dim(L, i + 2, t, "permute");
        if (seen[perm[i]]++)
            return luaL_error(L, "permute: dimension %d is named twice", perm[i] + 1);
    }
    ty_tensor v = *t;
    ty_view_permute(&v, perm);
    lt_push_view(L, &v, 1);
    return 1;
}

/* expand(sizes...): t broadcast to the sizes (NumPy's broadcast_to; -1 keeps a size), a
   view with stride 0 where it repeats, which cannot be written through. */
static int m_expand(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    int64_t shape[TY_MAX_DIMS];
    int top = lua_gettop(L);
    int table = top >= 2 && lua_type(L, 2) == LUA_TTABLE;
    if (table && top > 2) return luaL_error(L, "expand: sizes as a table or as numbers, not both");
    lua_Unsigned count = table ? lt_check_list(L, 2, "expand", "the shape table") : (lua_Unsigned)(top - 1);
    if (count > TY_MAX_DIMS)
        return luaL_error(L, "expand: %I dimensions (at most %d)",
                          (lua_Integer)(count > LUA_MAXINTEGER ? LUA_MAXINTEGER : count), TY_MAX_DIMS);
    int nd = (int)count;
    char b1[96], b2[96];
    if (nd < t->ndim)
        return luaL_error(L, "expand: the %s tensor cannot be expanded to %d dimensions", LT_SHAPE(t, b1), nd);
    for (int i = 0; i < nd; i++) {
        int ok;
        if (table) lua_rawgeti(L, 2, i + 1);
        lua_Integer v = lua_tointegerx(L, table ? -1 : i + 2, &ok);
        if (table) lua_pop(L, 1);
        if (!ok) return luaL_error(L, "expand: size %d is not an integer", i + 1);
        int j = i - (nd - t->ndim);
        if (v == -1 && j >= 0) v = t->shape[j];
        if (v < 0) return luaL_error(L, "expand: size %I is negative", v);
        shape[i] = (int64_t)v;
    }
    ty_error e;
    if (ty_check_shape(nd, shape, &e)) return luaL_error(L, "expand: %s", e.msg);
    for (int i = nd - t->ndim; i < nd; i++) {
        int j = i - (nd - t->ndim);
        if (t->shape[j] != shape[i] && t->shape[j] != 1)
            return luaL_error(L, "expand: the %s tensor cannot be expanded to %s (dimension %d: %I vs %I)",
                              LT_SHAPE(t, b1), ty_shape_str_n(nd, shape, b2, sizeof b2), i + 1,
                              (lua_Integer)t->shape[j], (lua_Integer)shape[i]);
    }
    ty_tensor v = *t;
    ty_view_expand(&v, nd, shape);
    lt_push_view(L, &v, 1);
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
        idx[d] = lt_check_index(L, luaL_checkinteger(L, first + d), t->shape[d], d + 1, fname);
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
    lt_check_writable(L, t, "set");
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
    int64_t k = lt_check_index(L, i, t->shape[0], 1, "index");
    if (t->ndim == 1) {
        lua_pushnumber(L, t->data[k * t->stride[0]]);
        return 1;
    }
    ty_tensor *v = lt_push_view(L, t, 1);
    ty_view_select(v, 0, k);
    return 1;
}

static lua_Integer slice_integer(lua_State *L, int entry, int part, const char *fname)
{
    int ok;
    lua_Integer v = lua_tointegerx(L, -1, &ok);
    if (!ok)
        luaL_error(L, "%s: part %d of slice entry %d is %s, not an integer", fname, part, entry,
                   lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
    lua_pop(L, 1);
    return v;
}

/* t[{...}], Torch7's table form: entry i stands for dimension i, a position (selects it),
   {} (all of it), {a} (a alone, kept), {a, b} (a to b inclusive), {a, b, step}; negative
   positions count from the end; dimensions past the entries are kept whole. */
static void slice_header(lua_State *L, const ty_tensor *t, int key, ty_tensor *v, const char *fname)
{
    lua_Unsigned n = lt_check_list(L, key, fname, "the slice table");
    char b[96];
    if (n > (lua_Unsigned)t->ndim)
        luaL_error(L, "%s: %I slice entries for the %d-d %s tensor", fname, (lua_Integer)n, t->ndim,
                   LT_SHAPE(t, b));
    *v = *t;
    int d = 0;
    for (int i = 1; i <= (int)n; i++) {
        int type = lua_rawgeti(L, key, i);
        if (type == LUA_TNUMBER) {
            lua_Integer k = slice_integer(L, i, 1, fname);
            ty_view_select(v, d, lt_check_index(L, k, v->shape[d], i, fname));
            continue;
        }
        if (type != LUA_TTABLE)
            luaL_error(L, "%s: slice entry %d is %s (a position, {}, {a}, {a, b} or {a, b, step})",
                       fname, i, luaL_typename(L, -1));
        int r = lua_gettop(L);
        lua_Unsigned m = lt_check_list(L, r, fname, "a slice range");
        if (m > 3)
            luaL_error(L, "%s: slice entry %d has %I parts (at most first, last and step)", fname, i,
                       (lua_Integer)m);
        int64_t size = v->shape[d];
        lua_Integer a = 1, z = size, step = 1;
        if (m >= 1) {
            lua_rawgeti(L, r, 1);
            a = slice_integer(L, i, 1, fname);
            z = a;
        }
        if (m >= 2) {
            lua_rawgeti(L, r, 2);
            z = slice_integer(L, i, 2, fname);
        }
        if (m == 3) {
            lua_rawgeti(L, r, 3);
            step = slice_integer(L, i, 3, fname);
        }
        lua_pop(L, 1); /* the range */
        if (step < 1) luaL_error(L, "%s: slice entry %d has step %I (steps are positive)", fname, i, step);
        lua_Integer a1 = a < 0 ? a + size + 1 : a, z1 = z < 0 ? z + size + 1 : z;
        if (m > 0 && (a1 < 1 || a1 > size + 1 || z1 < a1 - 1 || z1 > size))
            luaL_error(L, "%s: slice entry %d, {%I, %I}, does not fit dimension %d of size %I "
                       "(positions are 1-based and inclusive, negative ones count from the end)",
                       fname, i, a, z, i, (lua_Integer)size);
        int64_t len = z1 >= a1 ? (int64_t)((z1 - a1) / step + 1) : 0;
        ty_view_step(v, d, (int64_t)(a1 - 1), len, (int64_t)step);
        d++;
    }
}

/* The mask at stack index idx, checked against t: its shape, and only 0 and 1 in it. */
static const ty_tensor *mask_of(lua_State *L, const ty_tensor *t, int idx, int64_t *count,
                                const char *fname)
{
    ty_tensor *mask = lt_check(L, idx);
    char b1[96], b2[96];
    if (!ty_same_shape(mask, t))
        luaL_error(L, "%s: the mask is %s but the tensor is %s (a mask has the tensor's shape)", fname,
                   LT_SHAPE(mask, b1), LT_SHAPE(t, b2));
    *count = ty_mask_count(mask);
    if (*count < 0)
        luaL_error(L, "%s: the mask holds values other than 0 and 1 (make one with eq, lt, gt, ...)", fname);
    return mask;
}

static int index_mask(lua_State *L, ty_tensor *t)
{
    int64_t count;
    const ty_tensor *mask = mask_of(L, t, 2, &count, "index");
    ty_tensor *out = lt_push_new(L, 1, &count);
    lt_alive(L, t, 1);
    lt_alive(L, mask, 2);
    ty_mask_select(out, t, mask);
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
    if (!t->data) return luaL_error(L, "index: tensor was closed");
    switch (lua_type(L, 2)) {
    case LUA_TNUMBER: return index_number(L, t);
    case LUA_TTABLE: {
        ty_tensor v;
        slice_header(L, t, 2, &v, "index");
        if (v.ndim == 0 && t->ndim > 0) /* every dimension a position: the element itself */
            lua_pushnumber(L, *v.data);
        else
            lt_push_view(L, &v, 1);
        return 1;
    }
    default:
        if (lt_test(L, 2)) return index_mask(L, t);
        return luaL_error(L, "index: a tensor's key is a position, a slice table, a mask or a method name, not %s",
                          luaL_typename(L, 2));
    }
}

/* dst is a header made from the tensor at index 1, src the operand at index si. */
static void assign_checked(lua_State *L, ty_tensor *dst, const ty_tensor *src, int si,
                           const char *fname)
{
    lt_check_into(L, dst, src, fname);
    const ty_tensor *from = lt_unaliased(L, dst, src, si);
    lt_alive(L, lua_touserdata(L, 1), 1);
    lt_alive(L, src, si);
    ty_assign(dst, from);
}

/* t[mask] = v: v a number, or a tensor of one element or of as many as the mask selects. */
static int newindex_mask(lua_State *L, ty_tensor *t)
{
    int64_t count;
    const ty_tensor *mask = mask_of(L, t, 2, &count, "newindex");
    if (mask->storage == t->storage) { /* t[t] = v: the mask as it was before the writes */
        ty_tensor *m = lt_push_like(L, mask);
        lt_alive(L, t, 1);
        lt_alive(L, mask, 2);
        ty_copy_flat(m, mask);
        lua_replace(L, 2);
        mask = m;
    }
    if (lua_type(L, 3) == LUA_TNUMBER) {
        double v = lua_tonumber(L, 3);
        ty_mask_assign(t, mask, &v, 0, count);
        return 0;
    }
    ty_tensor *src = lt_check(L, 3);
    int64_t n = ty_numel(src);
    char b[96];
    if (n != 1 && !(src->ndim == 1 && n == count))
        return luaL_error(L, "newindex: the mask selects %I elements but the value is %s "
                          "(one value, or a 1-d tensor of as many)", (lua_Integer)count, LT_SHAPE(src, b));
    /* a private contiguous copy: src may share t's elements */
    ty_tensor *c = lt_push_like(L, src);
    lt_alive(L, t, 1);
    lt_alive(L, mask, 2);
    lt_alive(L, src, 3);
    ty_copy_flat(c, src);
    ty_mask_assign(t, mask, c->data, n == 1 ? 0 : 1, count);
    return 0;
}

static int m_newindex(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    lt_check_writable(L, t, "newindex");
    if (lua_type(L, 2) == LUA_TTABLE) {
        ty_tensor dst, tmp;
        double v;
        slice_header(L, t, 2, &dst, "newindex");
        const ty_tensor *src = lt_operand(L, 3, &tmp, &v);
        assign_checked(L, &dst, src, 3, "newindex");
        return 0;
    }
    if (lt_test(L, 2)) return newindex_mask(L, t);
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
    int64_t k = lt_check_index(L, i, t->shape[0], 1, "newindex");
    ty_tensor slot = *t;
    ty_view_select(&slot, 0, k);
    ty_tensor tmp;
    double v;
    const ty_tensor *src = lt_operand(L, 3, &tmp, &v);
    assign_checked(L, &slot, src, 3, "newindex");
    return 0;
}

/* ---- copies and in-place ops ---------------------------------------------------------- */

static int m_clone(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor *c = lt_push_like(L, t);
    lt_alive(L, t, 1);
    ty_copy_flat(c, t);
    return 1;
}

static int m_copy_(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor tmp;
    double v;
    const ty_tensor *src = lt_operand(L, 2, &tmp, &v);
    lt_check_writable(L, t, "copy_");
    assign_checked(L, t, src, 2, "copy_");
    lua_settop(L, 1);
    return 1;
}

static int m_fill_(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    double v = luaL_checknumber(L, 2);
    lt_check_writable(L, t, "fill_");
    ty_fill(t, v);
    lua_settop(L, 1);
    return 1;
}

static int m_zero_(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    lt_check_writable(L, t, "zero_");
    ty_fill(t, 0.0);
    lua_settop(L, 1);
    return 1;
}

static const lt_fn views_fns[] = {
    { "shape", m_shape, LT_METHOD, 1 },
    { "size", m_size, LT_METHOD, 2 },
    { "dim", m_dim, LT_METHOD, 1 },
    { "numel", m_numel, LT_METHOD, 1 },
    { "is_contiguous", m_is_contiguous, LT_METHOD, 1 },
    { "select", m_select, LT_METHOD, 3 },
    { "narrow", m_narrow, LT_METHOD, 4 },
    { "transpose", m_transpose, LT_METHOD | LT_FUNCTION, 3 },
    { "view", m_view, LT_METHOD, 0 },
    { "reshape", m_reshape, LT_METHOD | LT_FUNCTION, 0 },
    { "contiguous", m_contiguous, LT_METHOD, 1 },
    { "flatten", m_flatten, LT_METHOD | LT_FUNCTION, 3 },
    { "squeeze", m_squeeze, LT_METHOD | LT_FUNCTION, 2 },
    { "unsqueeze", m_unsqueeze, LT_METHOD | LT_FUNCTION, 2 },
    { "permute", m_permute, LT_METHOD | LT_FUNCTION, 0 },
    { "expand", m_expand, LT_METHOD, 0 },
    { "get", m_get, LT_METHOD, 0 },
    { "set", m_set, LT_METHOD, 0 },
    { "item", m_item, LT_METHOD, 1 },
    { "totable", m_totable, LT_METHOD, 1 },
    { "clone", m_clone, LT_METHOD | LT_FUNCTION, 1 },
    { "copy_", m_copy_, LT_METHOD, 2 },
    { "fill_", m_fill_, LT_METHOD, 2 },
    { "zero_", m_zero_, LT_METHOD, 1 },
    { "__newindex", m_newindex, LT_META, 0 },
    { "__len", m_len, LT_META, 0 },
    { NULL, NULL, 0, 0 }
};

void lt_register_views(lua_State *L, int mt, int methods, int module)
{
    lt_register_fns(L, mt, methods, module, views_fns);
    luaL_newmetatable(L, SHAPE_TYPE);
    lua_pushcfunction(L, shape_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, shape_eq);
    lua_setfield(L, -2, "__eq");
    lua_pushliteral(L, SHAPE_TYPE);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
    /* t.name: the methods first, without touching the tensor (every t:method() call) */
    lua_pushvalue(L, methods);
    lua_pushcclosure(L, m_index, 1);
    lua_setfield(L, mt, "__index");
}
