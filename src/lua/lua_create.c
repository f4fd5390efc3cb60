/* lua_create.c: making tensors: from nested tables of numbers (read raw, as lua_args.c says),
   filled with a value, like another, eye, linspace and arange as NumPy makes them. */
#include "lua/lua_tensor.h"

#include <math.h>

#include "core/ops.h"

/* Walks a nested table (raw, as check_plain says) to find its shape, checking that it is
   rectangular. The first descent sets the shape; *leaf says once it has reached numbers,
   after which no row may go deeper. */
static void table_shape(lua_State *L, int idx, int depth, int *nd, int64_t *shape, int *known,
                        int *leaf)
{
    if (depth >= TY_MAX_DIMS) luaL_error(L, "tensor: more than %d levels of nesting", TY_MAX_DIMS);
    lua_Unsigned un = lt_check_list(L, idx, "tensor", depth ? "a nested table" : "the table");
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
        ty_tensor *t = lt_push_like(L, src);
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
    ty_tensor *t = lt_push_new(L, nd, shape);
    if (fill) ty_fill(t, v);
    return 1;
}

static int l_zeros(lua_State *L) { return push_filled(L, 1, "zeros", 0.0, 1); }
static int l_ones(lua_State *L) { return push_filled(L, 1, "ones", 1.0, 1); }
static int l_empty(lua_State *L) { return push_filled(L, 1, "empty", 0.0, 1); }

/* full(shape, v) or full(size1, size2, ..., v): the sizes first, the value last. */
static int l_full(lua_State *L)
{
    int top = lua_gettop(L);
    if (top < 2)
        return luaL_error(L, "full: expected the sizes then the value (full(2, 3, v) or full({2, 3}, v))");
    if (lua_type(L, top) != LUA_TNUMBER)
        return luaL_error(L, "full: the value (argument %d, after the sizes) must be a number, got %s", top,
                          luaL_typename(L, top));
    if (lua_istable(L, 1) && top > 2)
        return luaL_error(L, "full: a shape table is followed by the value alone (got %d arguments)", top);
    double v = lua_tonumber(L, top);
    lua_settop(L, top - 1);
    return push_filled(L, 1, "full", v, 1);
}

static int like(lua_State *L, double v)
{
    ty_tensor *src = lt_check(L, 1);
    ty_tensor *t = lt_push_like(L, src);
    ty_fill(t, v);
    return 1;
}

static int l_zeros_like(lua_State *L) { return like(L, 0.0); }
static int l_ones_like(lua_State *L) { return like(L, 1.0); }

static int l_eye(lua_State *L)
{
    int64_t shape[2];
    shape[0] = lt_check_size(L, 1, "eye");
    shape[1] = lua_isnoneornil(L, 2) ? shape[0] : lt_check_size(L, 2, "eye");
    ty_tensor *t = lt_push_new(L, 2, shape);
    ty_fill(t, 0.0);
    for (int64_t i = 0; i < shape[0] && i < shape[1]; i++) t->data[i * shape[1] + i] = 1.0;
    return 1;
}

/* NumPy's linspace: start + i*step, the last element exactly stop. */
static int l_linspace(lua_State *L)
{
    double a = luaL_checknumber(L, 1), b = luaL_checknumber(L, 2);
    int64_t n = lua_isnoneornil(L, 3) ? 50 : lt_check_size(L, 3, "linspace");
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

static const lt_fn create_fns[] = {
    { "tensor", l_tensor, LT_FUNCTION, 1 },
    { "zeros", l_zeros, LT_FUNCTION, 0 },
    { "ones", l_ones, LT_FUNCTION, 0 },
    { "full", l_full, LT_FUNCTION, 0 },
    { "empty", l_empty, LT_FUNCTION, 0 },
    { "eye", l_eye, LT_FUNCTION, 2 },
    { "linspace", l_linspace, LT_FUNCTION, 3 },
    { "arange", l_arange, LT_FUNCTION, 3 },
    { "zeros_like", l_zeros_like, LT_FUNCTION, 1 },
    { "ones_like", l_ones_like, LT_FUNCTION, 1 },
    { NULL, NULL, 0, 0 }
};

void lt_register_create(lua_State *L, int mt, int methods, int module)
{
    lt_register_fns(L, mt, methods, module, create_fns);
}
