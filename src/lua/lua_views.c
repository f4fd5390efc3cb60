/* lua_views.c: a tensor's shape, its views (select, narrow, transpose, view, reshape, ...),
   its elements (t[i], get, set, item, totable), indexing and assignment, copies. */
#include "lua/lua_tensor.h"

#include <limits.h>
#include <string.h>

#include "core/ops.h"

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

static int m_reshape(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1), v;
    int64_t shape[TY_MAX_DIMS];
    int nd;
    if (new_shape_view(L, t, &v, &nd, shape, "reshape")) {
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
    ty_tensor *c = lt_push_like(L, t);
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
    lt_check_into(L, dst, src, fname);
    const ty_tensor *from = lt_unaliased(L, dst, src, si);
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

static const lt_fn views_fns[] = {
    { "shape", m_shape, LT_METHOD },
    { "size", m_size, LT_METHOD },
    { "dim", m_dim, LT_METHOD },
    { "numel", m_numel, LT_METHOD },
    { "is_contiguous", m_is_contiguous, LT_METHOD },
    { "select", m_select, LT_METHOD },
    { "narrow", m_narrow, LT_METHOD },
    { "transpose", m_transpose, LT_METHOD | LT_FUNCTION },
    { "view", m_view, LT_METHOD },
    { "reshape", m_reshape, LT_METHOD | LT_FUNCTION },
    { "contiguous", m_contiguous, LT_METHOD },
    { "flatten", m_flatten, LT_METHOD },
    { "get", m_get, LT_METHOD },
    { "set", m_set, LT_METHOD },
    { "item", m_item, LT_METHOD },
    { "totable", m_totable, LT_METHOD },
    { "clone", m_clone, LT_METHOD | LT_FUNCTION },
    { "copy_", m_copy_, LT_METHOD },
    { "fill_", m_fill_, LT_METHOD },
    { "zero_", m_zero_, LT_METHOD },
    { "__newindex", m_newindex, LT_META },
    { "__len", m_len, LT_META },
    { NULL, NULL, 0 }
};

void lt_register_views(lua_State *L, int mt, int methods, int module)
{
    lt_register_fns(L, mt, methods, module, views_fns);
    /* t.name: the methods first, without touching the tensor (every t:method() call) */
    lua_pushvalue(L, methods);
    lua_pushcclosure(L, m_index, 1);
    lua_setfield(L, mt, "__index");
}
