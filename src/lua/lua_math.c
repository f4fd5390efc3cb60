/* lua_math.c: arithmetic with broadcasting (operators, in place, functions), reductions,
   comparisons and products: arguments checked, then one core call. */
#include "lua/lua_tensor.h"

#include <math.h>
#include <string.h>

#include "core/linalg.h"
#include "core/ops.h"
#include "core/sort.h"

/* ---- in-place arithmetic --------------------------------------------------------------- */

static int inplace(lua_State *L, ty_binop op, const char *fname)
{
    ty_tensor *t = lt_check(L, 1);
    ty_tensor tmp;
    double v;
    const ty_tensor *b = lt_operand(L, 2, &tmp, &v);
    lt_check_writable(L, t, fname);
    lt_check_into(L, t, b, fname);
    const ty_tensor *from = lt_unaliased(L, t, b, 2);
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
    const ty_tensor *a = lt_operand(L, 1, &ta, &va);
    const ty_tensor *b = lt_operand(L, 2, &tb, &vb);
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
    ty_tensor *out = lt_push_like(L, t);
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
static int m_sin(lua_State *L) { return unary(L, TY_SIN); }
static int m_cos(lua_State *L) { return unary(L, TY_COS); }
static int m_tan(lua_State *L) { return unary(L, TY_TAN); }
static int m_asin(lua_State *L) { return unary(L, TY_ASIN); }
static int m_acos(lua_State *L) { return unary(L, TY_ACOS); }
static int m_atan(lua_State *L) { return unary(L, TY_ATAN); }
static int m_sinh(lua_State *L) { return unary(L, TY_SINH); }
static int m_cosh(lua_State *L) { return unary(L, TY_COSH); }
static int m_log1p(lua_State *L) { return unary(L, TY_LOG1P); }
static int m_expm1(lua_State *L) { return unary(L, TY_EXPM1); }
static int m_log2(lua_State *L) { return unary(L, TY_LOG2); }
static int m_log10(lua_State *L) { return unary(L, TY_LOG10); }
static int m_floor(lua_State *L) { return unary(L, TY_FLOOR); }
static int m_ceil(lua_State *L) { return unary(L, TY_CEIL); }
static int m_round(lua_State *L) { return unary(L, TY_ROUND); }
static int m_trunc(lua_State *L) { return unary(L, TY_TRUNC); }
static int m_sign(lua_State *L) { return unary(L, TY_SIGN); }
static int m_square(lua_State *L) { return unary(L, TY_SQUARE); }
static int m_relu(lua_State *L) { return unary(L, TY_RELU); }
static int l_atan2(lua_State *L) { return binary(L, TY_ATAN2, "atan2"); }

static int m_clip(lua_State *L)
{
    ty_tensor *t = lt_check(L, 1);
    double lo = luaL_optnumber(L, 2, -HUGE_VAL), hi = luaL_optnumber(L, 3, HUGE_VAL);
    if (lo > hi) return luaL_error(L, "clip: lower bound %f is above upper bound %f", lo, hi);
    ty_tensor *out = lt_push_like(L, t);
    lt_alive(L, t, 1);
    ty_clip(out, t, lo, hi);
    return 1;
}

static int l_where(lua_State *L)
{
    ty_tensor tc, ta, tb;
    double vc, va, vb;
    const ty_tensor *c = lt_operand(L, 1, &tc, &vc);
    const ty_tensor *a = lt_operand(L, 2, &ta, &va);
    const ty_tensor *b = lt_operand(L, 3, &tb, &vb);
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

/* root: the square root of the result (std from var) */
static int reduce_op(lua_State *L, ty_reduce op, const char *fname, int root)
{
    ty_tensor *t = lt_check(L, 1);
    int arg = (op == TY_ARGMAX || op == TY_ARGMIN);
    int needs_items = (op != TY_SUM && op != TY_MEAN && op != TY_PROD && op != TY_VAR);
    char b[96];
    int keep = 0;
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_isboolean(L, 3))
            return luaL_error(L, "%s: keepdim (argument 3) must be a boolean, got %s", fname, luaL_typename(L, 3));
        keep = lua_toboolean(L, 3);
    }
    if (lua_isnoneornil(L, 2)) {
        if (needs_items && ty_numel(t) == 0)
            return luaL_error(L, "%s: the %s tensor is empty", fname, LT_SHAPE(t, b));
        double r = ty_reduce_all(t, op);
        if (arg) r += 1;
        if (root) r = sqrt(r);
        if (keep) { /* NumPy's keepdims over every axis: the value in a tensor of sizes 1 */
            int64_t ones[TY_MAX_DIMS];
            int nd = t->ndim;
            for (int i = 0; i < nd; i++) ones[i] = 1;
            ty_fill(lt_push_new(L, nd, ones), r);
        } else if (arg) {
            lua_pushinteger(L, (lua_Integer)r);
        } else {
            lua_pushnumber(L, r);
        }
        return 1;
    }
    int d = lt_check_dim(L, 2, t, fname);
    if (needs_items && t->shape[d] == 0)
        return luaL_error(L, "%s: dimension %d of the %s tensor is empty", fname, d + 1, LT_SHAPE(t, b));
    ty_tensor rest = *t;
    ty_view_drop(&rest, d);
    ty_tensor *out = lt_push_new(L, rest.ndim, rest.shape);
    lt_alive(L, t, 1);
    ty_reduce_dim(out, t, d, op);
    if (root) ty_unary(out, out, TY_SQRT);
    if (keep) ty_view_insert(out, d); /* the result's own header: a size-1 dimension costs no copy */
    if (arg) {
        double one = 1.0;
        ty_tensor s = ty_tensor_scalar(&one);
        ty_binary(out, out, &s, TY_ADD);
    }
    return 1;
}

static int reduce(lua_State *L, ty_reduce op, const char *fname) { return reduce_op(L, op, fname, 0); }

static int m_sum(lua_State *L) { return reduce(L, TY_SUM, "sum"); }
static int m_mean(lua_State *L) { return reduce(L, TY_MEAN, "mean"); }
static int m_max(lua_State *L) { return reduce(L, TY_MAX, "max"); }
static int m_min(lua_State *L) { return reduce(L, TY_MIN, "min"); }
static int m_argmax(lua_State *L) { return reduce(L, TY_ARGMAX, "argmax"); }
static int m_argmin(lua_State *L) { return reduce(L, TY_ARGMIN, "argmin"); }
static int m_prod(lua_State *L) { return reduce(L, TY_PROD, "prod"); }
static int m_var(lua_State *L) { return reduce(L, TY_VAR, "var"); }
static int m_std(lua_State *L) { return reduce_op(L, TY_VAR, "std", 1); }

/* cumsum([d]) / cumprod([d]): along d, or over the elements in row-major order as a 1-d
   result without d (NumPy's axis=None). */
static int cumulate(lua_State *L, ty_binop op, const char *fname)
{
    ty_tensor *t = lt_check(L, 1);
    if (lua_isnoneornil(L, 2)) {
        int64_t n = ty_numel(t);
        ty_tensor *flat = lt_push_new(L, 1, &n);
        lt_alive(L, t, 1);
        ty_copy_flat(flat, t);
        if (n > 0) ty_cumulate(flat, flat, 0, op);
        return 1;
    }
    int d = lt_check_dim(L, 2, t, fname);
    ty_tensor *out = lt_push_like(L, t);
    lt_alive(L, t, 1);
    ty_cumulate(out, t, d, op);
    return 1;
}

static int m_cumsum(lua_State *L) { return cumulate(L, TY_ADD, "cumsum"); }
static int m_cumprod(lua_State *L) { return cumulate(L, TY_MUL, "cumprod"); }

/* softmax([d]) / log_softmax([d]): along d, the last dimension by default. */
static int softmax(lua_State *L, int log_, const char *fname)
{
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0) return luaL_error(L, "%s: a 0-d tensor has no dimension", fname);
    int d = lua_isnoneornil(L, 2) ? t->ndim - 1 : lt_check_dim(L, 2, t, fname);
    ty_tensor *out = lt_push_like(L, t);
    lt_alive(L, t, 1);
    ty_softmax(out, t, d, log_);
    return 1;
}

/* t:sort([d [, descending]]): the values and their 1-based positions along d (the last
   dimension by default); t:argsort(...) the positions alone. */
static int sort(lua_State *L, int positions_only, const char *fname)
{
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0) return luaL_error(L, "%s: a 0-d tensor has no dimension to sort", fname);
    int d = lua_isnoneornil(L, 2) ? t->ndim - 1 : lt_check_dim(L, 2, t, fname);
    int descending = 0;
    if (!lua_isnoneornil(L, 3)) {
        if (!lua_isboolean(L, 3))
            return luaL_error(L, "%s: descending (argument 3) must be a boolean, got %s", fname, luaL_typename(L, 3));
        descending = lua_toboolean(L, 3);
    }
    lua_settop(L, 1);
    int64_t wn = 3 * t->shape[d];
    ty_tensor *ws = lt_push_new(L, 1, &wn);          /* 2 */
    ty_tensor *values = lt_push_like(L, t);          /* 3 */
    ty_tensor *pos = lt_push_like(L, t);             /* 4 */
    lt_alive(L, t, 1);
    ty_sort(values, pos, t, d, descending, ws->data);
    return positions_only ? 1 : 2; /* values (3) and positions (4) */
}

static int m_sort(lua_State *L) { return sort(L, 0, "sort"); }
static int m_argsort(lua_State *L) { return sort(L, 1, "argsort"); }

static int m_softmax(lua_State *L) { return softmax(L, 0, "softmax"); }
static int m_log_softmax(lua_State *L) { return softmax(L, 1, "log_softmax"); }

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
    const ty_tensor *a = lt_operand(L, 1, &ta, &va);
    const ty_tensor *b = lt_operand(L, 2, &tb, &vb);
    double rtol = luaL_optnumber(L, 3, 1e-5), atol = luaL_optnumber(L, 4, 1e-8);
    int nd;
    int64_t shape[TY_MAX_DIMS];
    ty_error e;
    if (ty_broadcast_shape(a, b, &nd, shape, &e)) return luaL_error(L, "allclose: %s", e.msg);
    lua_pushboolean(L, ty_allclose(a, b, rtol, atol));
    return 1;
}

static int tensors_equal(const ty_tensor *a, const ty_tensor *b)
{
    return ty_same_shape(a, b) && ty_allclose(a, b, 0.0, 0.0);
}

static int m_equal(lua_State *L)
{
    lua_pushboolean(L, tensors_equal(lt_check(L, 1), lt_check(L, 2)));
    return 1;
}

/* a == b: equal(a, b) for two tensors; a tensor is never equal to another kind of object
   (Lua calls __eq for two full userdata, a layer and a tensor too). */
static int m_eq_meta(lua_State *L)
{
    ty_tensor *a = lt_test(L, 1), *b = lt_test(L, 2);
    if (!a || !b) {
        lua_pushboolean(L, 0);
        return 1;
    }
    if (!a->data || !b->data) return luaL_error(L, "==: tensor was closed");
    lua_pushboolean(L, tensors_equal(a, b));
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
    const ty_tensor *a = lt_operand(L, 1, &ta, &va);
    const ty_tensor *b = lt_operand(L, 2, &tb, &vb);
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

static const lt_fn math_fns[] = {
    { "add_", m_add_, LT_METHOD, 2 },
    { "sub_", m_sub_, LT_METHOD, 2 },
    { "mul_", m_mul_, LT_METHOD, 2 },
    { "div_", m_div_, LT_METHOD, 2 },
    { "add", m_add, LT_METHOD, 2 },
    { "sub", m_sub, LT_METHOD, 2 },
    { "mul", m_mul, LT_METHOD, 2 },
    { "div", m_div, LT_METHOD, 2 },
    { "pow", m_pow, LT_METHOD | LT_FUNCTION, 2 },
    { "eq", m_eq, LT_METHOD, 2 },
    { "ne", m_ne, LT_METHOD, 2 },
    { "lt", m_lt, LT_METHOD, 2 },
    { "le", m_le, LT_METHOD, 2 },
    { "gt", m_gt, LT_METHOD, 2 },
    { "ge", m_ge, LT_METHOD, 2 },
    { "tanh", m_tanh, LT_METHOD | LT_FUNCTION, 1 },
    { "sigmoid", m_sigmoid, LT_METHOD | LT_FUNCTION, 1 },
    { "exp", m_exp, LT_METHOD | LT_FUNCTION, 1 },
    { "log", m_log, LT_METHOD | LT_FUNCTION, 1 },
    { "sqrt", m_sqrt, LT_METHOD | LT_FUNCTION, 1 },
    { "abs", m_abs, LT_METHOD | LT_FUNCTION, 1 },
    { "sin", m_sin, LT_METHOD | LT_FUNCTION, 1 },
    { "cos", m_cos, LT_METHOD | LT_FUNCTION, 1 },
    { "tan", m_tan, LT_METHOD | LT_FUNCTION, 1 },
    { "asin", m_asin, LT_METHOD | LT_FUNCTION, 1 },
    { "acos", m_acos, LT_METHOD | LT_FUNCTION, 1 },
    { "atan", m_atan, LT_METHOD | LT_FUNCTION, 1 },
    { "sinh", m_sinh, LT_METHOD | LT_FUNCTION, 1 },
    { "cosh", m_cosh, LT_METHOD | LT_FUNCTION, 1 },
    { "log1p", m_log1p, LT_METHOD | LT_FUNCTION, 1 },
    { "expm1", m_expm1, LT_METHOD | LT_FUNCTION, 1 },
    { "log2", m_log2, LT_METHOD | LT_FUNCTION, 1 },
    { "log10", m_log10, LT_METHOD | LT_FUNCTION, 1 },
    { "floor", m_floor, LT_METHOD | LT_FUNCTION, 1 },
    { "ceil", m_ceil, LT_METHOD | LT_FUNCTION, 1 },
    { "round", m_round, LT_METHOD | LT_FUNCTION, 1 },
    { "trunc", m_trunc, LT_METHOD | LT_FUNCTION, 1 },
    { "sign", m_sign, LT_METHOD | LT_FUNCTION, 1 },
    { "square", m_square, LT_METHOD | LT_FUNCTION, 1 },
    { "relu", m_relu, LT_METHOD | LT_FUNCTION, 1 },
    { "atan2", l_atan2, LT_FUNCTION, 2 },
    { "clip", m_clip, LT_METHOD | LT_FUNCTION, 3 },
    { "sum", m_sum, LT_METHOD | LT_FUNCTION, 3 },
    { "mean", m_mean, LT_METHOD | LT_FUNCTION, 3 },
    { "max", m_max, LT_METHOD | LT_FUNCTION, 3 },
    { "min", m_min, LT_METHOD | LT_FUNCTION, 3 },
    { "argmax", m_argmax, LT_METHOD | LT_FUNCTION, 3 },
    { "argmin", m_argmin, LT_METHOD | LT_FUNCTION, 3 },
    { "prod", m_prod, LT_METHOD | LT_FUNCTION, 3 },
    { "var", m_var, LT_METHOD | LT_FUNCTION, 3 },
    { "std", m_std, LT_METHOD | LT_FUNCTION, 3 },
    { "cumsum", m_cumsum, LT_METHOD | LT_FUNCTION, 2 },
    { "cumprod", m_cumprod, LT_METHOD | LT_FUNCTION, 2 },
    { "sort", m_sort, LT_METHOD | LT_FUNCTION, 3 },
    { "argsort", m_argsort, LT_METHOD | LT_FUNCTION, 3 },
    { "softmax", m_softmax, LT_METHOD | LT_FUNCTION, 2 },
    { "log_softmax", m_log_softmax, LT_METHOD | LT_FUNCTION, 2 },
    { "norm", m_norm, LT_METHOD | LT_FUNCTION, 1 },
    { "dot", l_dot, LT_METHOD | LT_FUNCTION, 2 },
    { "matmul", l_matmul, LT_METHOD | LT_FUNCTION, 2 },
    { "equal", m_equal, LT_METHOD | LT_FUNCTION, 2 },
    { "allclose", l_allclose, LT_METHOD | LT_FUNCTION, 4 },
    { "outer", l_outer, LT_METHOD | LT_FUNCTION, 2 },
    { "maximum", l_maximum, LT_FUNCTION, 2 },
    { "minimum", l_minimum, LT_FUNCTION, 2 },
    { "where", l_where, LT_FUNCTION, 3 },
    { "__add", m_add, LT_META, 0 },
    { "__sub", m_sub, LT_META, 0 },
    { "__mul", m_mul, LT_META, 0 },
    { "__div", m_div, LT_META, 0 },
    { "__unm", m_unm, LT_META, 0 },
    { "__pow", m_pow, LT_META, 0 },
    { "__eq", m_eq_meta, LT_META, 0 },
    { NULL, NULL, 0, 0 }
};

void lt_register_math(lua_State *L, int mt, int methods, int module)
{
    lt_register_fns(L, mt, methods, module, math_fns);
}
