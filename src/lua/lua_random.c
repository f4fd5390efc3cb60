/* lua_random.c: tycho.random (seed, rand, randn, randint, uniform, normal, permutation,
   shuffle, choice, get_state, set_state; also tycho.rand, tycho.randn) over one ty_random per Lua state, kept in
   the registry so engines never share a stream. Positions are NumPy's plus one. */
#include "lua/lua_random.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lua/lua_tensor.h"

#define STATE_KEY "tycho.random"

/* Pushes the state's generator, making it on first use: an unseeded RandomState in NumPy
   draws from OS entropy, so does this one. */
static ty_random *push_state(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY) == LUA_TUSERDATA)
        return lua_touserdata(L, -1);
    lua_pop(L, 1);
    ty_random *r = lua_newuserdatauv(L, sizeof *r, 0);
    ty_random_seed_entropy(r);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY);
    return r;
}

ty_random *lt_random_state(lua_State *L)
{
    ty_random *r = push_state(L);
    lua_pop(L, 1);   /* the registry keeps it alive */
    return r;
}

static ty_random *upstate(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

static int l_seed(lua_State *L)
{
    lt_check_nargs(L, 1, "seed");
    ty_random *r = upstate(L);
    if (lua_isnoneornil(L, 1)) {   /* NumPy's seed(None): fresh entropy */
        ty_random_seed_entropy(r);
        return 0;
    }
    int isint = 0;
    lua_Integer s = 0;
    if (lua_type(L, 1) == LUA_TNUMBER) {
        if (lua_isinteger(L, 1)) {
            s = lua_tointeger(L, 1);
            isint = 1;
        } else {
            double d = lua_tonumber(L, 1);
            if (d == floor(d) && d >= 0.0 && d <= 4294967295.0) {
                s = (lua_Integer)d;
                isint = 1;
            }
        }
    }
    if (!isint || s < 0 || s > (lua_Integer)0xffffffff) {
        char got[64];
        if (lua_type(L, 1) != LUA_TNUMBER)
            snprintf(got, sizeof got, "%s", luaL_typename(L, 1));
        else if (lua_isinteger(L, 1))
            snprintf(got, sizeof got, "%lld", (long long)lua_tointeger(L, 1));
        else if (lua_tonumber(L, 1) == floor(lua_tonumber(L, 1)) &&
                 fabs(lua_tonumber(L, 1)) < 1e18)
            snprintf(got, sizeof got, "%.0f", lua_tonumber(L, 1));
        else
            snprintf(got, sizeof got, "%.14g", lua_tonumber(L, 1));
        return luaL_error(L, "seed: seed must be an integer between 0 and 2^32-1 (got %s)", got);
    }
    ty_random_seed(r, (uint32_t)s);
    return 0;
}

/* rand() and randn() with no argument return a number, as NumPy returns a float. */
static int draw(lua_State *L, const char *fname, int normal)
{
    ty_random *r = upstate(L);
    if (lua_gettop(L) == 0) {
        lua_pushnumber(L, normal ? ty_random_gauss(r) : ty_random_double(r));
        return 1;
    }
    int64_t shape[TY_MAX_DIMS];
    int nd = lt_read_shape(L, 1, shape, fname);
    ty_tensor *t = lt_push_new(L, nd, shape);
    if (normal) ty_random_fill_normal(r, t);
    else ty_random_fill_uniform(r, t);
    return 1;
}

static int l_rand(lua_State *L) { return draw(L, "rand", 0); }
static int l_randn(lua_State *L) { return draw(L, "randn", 1); }

/* Float64 holds every integer up to 2^53 exactly: bounds and counts stay within it. */
#define EXACT_MAX 9007199254740992.0
#define EXACT_MAX_I ((lua_Integer)1 << 53)

/* The value at arg as text for a message: numbers as Lua prints them, else the type. */
static const char *shown(lua_State *L, int arg, char *buf, size_t n)
{
    if (lua_type(L, arg) == LUA_TNUMBER) {
        if (isnan(lua_tonumber(L, arg))) snprintf(buf, n, "nan");
        else if (lua_isinteger(L, arg)) snprintf(buf, n, "%lld", (long long)lua_tointeger(L, arg));
        else if (lua_tonumber(L, arg) == floor(lua_tonumber(L, arg)) &&
                 fabs(lua_tonumber(L, arg)) < 1e18)
            snprintf(buf, n, "%.0f", lua_tonumber(L, arg));
        else snprintf(buf, n, "%.14g", lua_tonumber(L, arg));
    } else {
        snprintf(buf, n, "%s", lt_test(L, arg) ? "a tensor" : luaL_typename(L, arg));
    }
    return buf;
}

/* An integer argument (a Lua integer, or a float with an integral value) within +-2^53. */
static int64_t check_exact_integer(lua_State *L, int arg, const char *fname, const char *what)
{
    char b[64];
    if (lua_type(L, arg) == LUA_TNUMBER) {
        if (lua_isinteger(L, arg)) {
            lua_Integer v = lua_tointeger(L, arg);
            if (v >= -EXACT_MAX_I && v <= EXACT_MAX_I) return (int64_t)v;
        } else {
            double d = lua_tonumber(L, arg);
            if (!isfinite(d) || d != floor(d))
                return luaL_error(L, "%s: %s must be an integer (got %s)", fname, what,
                                  shown(L, arg, b, sizeof b));
            if (fabs(d) <= EXACT_MAX) return (int64_t)d;
        }
        return luaL_error(L, "%s: %s is %s, beyond +-2^53 (float64 cannot hold every integer "
                          "past it)", fname, what, shown(L, arg, b, sizeof b));
    }
    return luaL_error(L, "%s: %s must be an integer (got %s)", fname, what,
                      shown(L, arg, b, sizeof b));
}

static double check_real(lua_State *L, int arg, const char *fname, const char *what)
{
    char b[64];
    if (lua_type(L, arg) != LUA_TNUMBER)
        luaL_error(L, "%s: %s must be a number (got %s)", fname, what, shown(L, arg, b, sizeof b));
    return lua_tonumber(L, arg);
}

/* The size arguments first..top (trailing nils left out, as everywhere): -1 if there are
   none (the function then returns a number), else the count of dimensions read. */
static int read_size(lua_State *L, int first, int64_t *shape, const char *fname)
{
    int top = lua_gettop(L);
    while (top >= first && lua_isnil(L, top)) top--;
    lua_settop(L, top);
    if (top < first) return -1;
    return lt_read_shape(L, first, shape, fname); /* a shape table must come last */
}

/* randint(low [, high] [, size...]): legacy randint(low, high, size) for int64. */
static int l_randint(lua_State *L)
{
    ty_random *r = upstate(L);
    int64_t low = check_exact_integer(L, 1, "randint", "low"), high;
    if (lua_isnoneornil(L, 2)) {
        high = low;
        low = 0;
        if (high <= 0)
            return luaL_error(L, "randint: randint(n) draws from [0, n): n must be positive "
                              "(got %I)", (lua_Integer)high);
    } else {
        high = check_exact_integer(L, 2, "randint", "high");
        if (low >= high)
            return luaL_error(L, "randint: low (%I) must be less than high (%I)",
                              (lua_Integer)low, (lua_Integer)high);
    }
    uint64_t rng = (uint64_t)(high - low) - 1;   /* the closed range NumPy draws in */
    int64_t shape[TY_MAX_DIMS];
    int nd = read_size(L, 3, shape, "randint");
    if (nd < 0) {
        lua_pushinteger(L, (lua_Integer)ty_random_integer(r, low, rng));
        return 1;
    }
    ty_tensor *t = lt_push_new(L, nd, shape);
    ty_random_fill_integers(r, t, low, rng);
    return 1;
}

/* uniform(a, b, size...) and normal(mu, sigma, size...): a number without a size. */
static int l_uniform(lua_State *L)
{
    ty_random *r = upstate(L);
    double a = check_real(L, 1, "uniform", "a"), b = check_real(L, 2, "uniform", "b");
    if (!isfinite(b - a)) {
        char ba[64], bb[64];
        return luaL_error(L, "uniform: b - a must be finite (a = %s, b = %s)",
                          shown(L, 1, ba, sizeof ba), shown(L, 2, bb, sizeof bb));
    }
    int64_t shape[TY_MAX_DIMS];
    int nd = read_size(L, 3, shape, "uniform");
    if (nd < 0) {
        lua_pushnumber(L, ty_random_uniform(r, a, b));
        return 1;
    }
    ty_tensor *t = lt_push_new(L, nd, shape);
    ty_random_fill_range(r, t, a, b);
    return 1;
}

static int l_normal(lua_State *L)
{
    ty_random *r = upstate(L);
    double mu = check_real(L, 1, "normal", "mu"), sigma = check_real(L, 2, "normal", "sigma");
    /* NumPy's "scale < 0": any sign bit (-0 too), but NaN passes */
    if (!isnan(sigma) && signbit(sigma)) {
        char b[64];
        return luaL_error(L, "normal: sigma must not be negative (got %s)",
                          shown(L, 2, b, sizeof b));
    }
    int64_t shape[TY_MAX_DIMS];
    int nd = read_size(L, 3, shape, "normal");
    if (nd < 0) {
        lua_pushnumber(L, ty_random_normal(r, mu, sigma));
        return 1;
    }
    ty_tensor *t = lt_push_new(L, nd, shape);
    ty_random_fill_gauss(r, t, mu, sigma);
    return 1;
}

/* A count argument: an integer from 0 to 2^53. */
static int64_t check_count(lua_State *L, int arg, const char *fname, const char *what)
{
    int64_t n = check_exact_integer(L, arg, fname, what);
    if (n < 0) luaL_error(L, "%s: %s must not be negative (got %I)", fname, what, (lua_Integer)n);
    return n;
}

/* Pushes a new 1-d tensor of 1..n, the tensor legacy permutation(n) + 1 shuffles. */
static ty_tensor *push_positions(lua_State *L, int64_t n)
{
    int64_t shape[1] = { n };
    ty_tensor *t = lt_push_new(L, 1, shape);
    for (int64_t k = 0; k < n; k++) t->data[k] = (double)(k + 1);
    return t;
}

static int l_permutation(lua_State *L)
{
    lt_check_nargs(L, 1, "permutation");
    ty_random *r = upstate(L);
    ty_tensor *t = push_positions(L, check_count(L, 1, "permutation", "n"));
    ty_random_shuffle(r, t);
    return 1;
}

static int l_shuffle(lua_State *L)
{
    lt_check_nargs(L, 1, "shuffle");
    ty_random *r = upstate(L);
    ty_tensor *t = lt_check(L, 1);
    if (t->ndim == 0)
        return luaL_error(L, "shuffle: t is 0-d (shuffle permutes the rows of its first "
                          "dimension)");
    lt_check_writable(L, t, "shuffle");
    ty_random_shuffle(r, t);   /* allocates nothing: t cannot be closed meanwhile */
    return 0;
}

/* choice's p at arg (a 1-d tensor or a plain list of n numbers): checks its form; with
   out set, copies its values there too. A list is read raw, so what is checked is what is
   copied; it is read again after the call's allocations, which may have run a finalizer. */
static void read_p(lua_State *L, int arg, int64_t n, double *out)
{
    char b[96];
    ty_tensor *t = lt_test(L, arg);
    if (t) {
        /* p is an option field, not an argument: lt_alive's message would name its slot */
        if (!t->data)
            luaL_error(L, out ? "choice: p, a tensor, was closed during the call"
                              : "choice: p is a tensor that was closed");
        if (t->ndim != 1)
            luaL_error(L, "choice: p must be 1-d (it is %s)", LT_SHAPE(t, b));
        if (t->shape[0] != n)
            luaL_error(L, "choice: p has %I probabilities but n is %I", (lua_Integer)t->shape[0],
                       (lua_Integer)n);
        if (out) {
            ty_tensor dst = *t;
            dst.storage = NULL;
            dst.data = out;
            dst.stride[0] = 1;
            ty_copy_flat(&dst, t);
        }
        return;
    }
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "choice: p must be a 1-d tensor or a list of numbers (got %s)",
                   luaL_typename(L, arg));
    lua_Unsigned len = lt_check_list(L, arg, "choice", "p");
    if (len != (lua_Unsigned)n)
        luaL_error(L, "choice: p has %I probabilities but n is %I", (lua_Integer)len,
                   (lua_Integer)n);
    for (int64_t i = 0; i < n; i++) {
        if (lua_rawgeti(L, arg, (lua_Integer)(i + 1)) != LUA_TNUMBER)
            luaL_error(L, "choice: p[%I] is a %s (probabilities are numbers)", (lua_Integer)(i + 1),
                       luaL_typename(L, -1));
        if (out) out[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
}

/* choice's options at arg: replace (a boolean) and p; unknown fields are errors. Returns
   the stack index of p, or 0 without it. */
static int read_choice_options(lua_State *L, int arg, int *replace)
{
    *replace = 1;
    if (lua_isnoneornil(L, arg)) return 0;
    if (lua_type(L, arg) != LUA_TTABLE)
        luaL_error(L, "choice: options must be a table {replace = ..., p = ...} (got %s)",
                   luaL_typename(L, arg));
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (!k || (strcmp(k, "replace") != 0 && strcmp(k, "p") != 0)) {
            if (k) luaL_error(L, "choice: unknown option '%s' (the options are replace, p)", k);
            luaL_error(L, "choice: unknown option key of type %s (the options are replace, p)",
                       luaL_typename(L, -2));
        }
        lua_pop(L, 1);
    }
    lua_pushliteral(L, "replace");   /* raw reads, as the walk above: no metamethod */
    lua_rawget(L, arg);
    if (!lua_isnil(L, -1)) {
        if (!lua_isboolean(L, -1))
            luaL_error(L, "choice: replace must be a boolean (got %s)", luaL_typename(L, -1));
        *replace = lua_toboolean(L, -1);
    }
    lua_pop(L, 1);
    lua_pushliteral(L, "p");
    lua_rawget(L, arg);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    return lua_gettop(L);
}

/* NumPy's 0-based positions made tycho's 1-based ones, in place. */
static void add_one(ty_tensor *t)
{
    int64_t n = ty_numel(t);
    for (int64_t k = 0; k < n; k++) t->data[k] += 1.0;
}

/* choice(n, size [, {replace = true, p = probs}]): legacy choice(n, size, replace, p) + 1. */
static int l_choice(lua_State *L)
{
    lt_check_nargs(L, 3, "choice");
    ty_random *r = upstate(L);
    int64_t n = check_count(L, 1, "choice", "n");
    int64_t shape[TY_MAX_DIMS];
    int nd = -1;
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushvalue(L, 2); /* read from the top: the options table may follow the shape */
        nd = lt_read_shape(L, lua_gettop(L), shape, "choice");
        lua_pop(L, 1);
    } else if (!lua_isnoneornil(L, 2)) {
        nd = 1;
        shape[0] = lt_check_size(L, 2, "choice");
    }
    int scalar = nd < 0;
    int64_t size = scalar ? 1 : ty_shape_numel(nd, shape);
    if (scalar) nd = 0;
    int replace;
    int parg = read_choice_options(L, 3, &replace);
    if (n == 0 && size != 0)
        return luaL_error(L, "choice: n must be at least 1 unless size is 0 (got n = 0)");
    if (parg) read_p(L, parg, n, NULL);
    if (!replace && size > n)
        return luaL_error(L, "choice: cannot take %I samples from %I without replacement",
                          (lua_Integer)size, (lua_Integer)n);
    /* Every allocation first, then p's values and their checks, then the draws: a failure
       leaves the stream where it was. */
    double one;
    ty_tensor *out = NULL;
    if (!replace && !parg) {
        /* legacy: permutation(n)[:size], the whole permutation drawn */
        ty_tensor *perm = push_positions(L, n);
        if (!scalar) out = lt_push_new(L, nd, shape);
        ty_random_shuffle(r, perm);
        if (scalar) {
            lua_pushinteger(L, (lua_Integer)perm->data[0]);
            return 1;
        }
        if (size > 0) memcpy(out->data, perm->data, (size_t)size * sizeof(double));
        return 1;
    }
    if (!parg) {
        if (scalar) {
            lua_pushinteger(L, (lua_Integer)ty_random_integer(r, 1, (uint64_t)(n - 1)));
            return 1;
        }
        out = lt_push_new(L, nd, shape);
        if (size > 0) ty_random_fill_integers(r, out, 1, (uint64_t)(n - 1));
        return 1;
    }
    int64_t wshape[1] = { replace ? 2 * n : 3 * n + size };
    ty_tensor *w = lt_push_new(L, 1, wshape);
    double *res = &one;
    if (!scalar) {
        out = lt_push_new(L, nd, shape);
        res = out->data;
    }
    read_p(L, parg, n, w->data);
    ty_error e;
    if (ty_random_check_p(w->data, n, &e))
        return luaL_error(L, "choice: %s", e.msg);
    if (replace) {
        ty_random_choice_p(r, w->data, n, w->data + n, res, size);
    } else {
        int64_t positive = 0;
        for (int64_t i = 0; i < n; i++) positive += w->data[i] > 0;
        if (positive < size)
            return luaL_error(L, "choice: p has %I positive probabilities, fewer than the %I "
                              "samples to take without replacement", (lua_Integer)positive,
                              (lua_Integer)size);
        ty_random_choice_p_unique(r, w->data, n, w->data + n, w->data + 2 * n, w->data + 3 * n,
                                  res, size);
    }
    if (scalar) {
        lua_pushinteger(L, (lua_Integer)one + 1);
        return 1;
    }
    add_one(out);
    return 1;
}

/* get_state(): the generator's whole state as a 1-d tensor (key words, pos, has_gauss,
   gauss: NumPy's get_state() in numbers), to save with a checkpoint. */
static int l_get_state(lua_State *L)
{
    lt_check_nargs(L, 0, "get_state");
    int64_t n = TY_RANDOM_STATE_SIZE;
    ty_tensor *t = lt_push_new(L, 1, &n);
    ty_random_get_state(upstate(L), t->data);
    return 1;
}

/* set_state(t): back to a state get_state gave; anything else is an error naming the value. */
static int l_set_state(lua_State *L)
{
    lt_check_nargs(L, 1, "set_state");
    ty_tensor *t = lt_test(L, 1);
    if (!t || !t->data)
        return luaL_error(L, "set_state: state must be a tensor from get_state (got %s)",
                          t ? "a closed tensor" : luaL_typename(L, 1));
    if (t->ndim != 1 || t->shape[0] != TY_RANDOM_STATE_SIZE) {
        char s[96];
        return luaL_error(L, "set_state: state must be a vector of %d numbers (got %s)",
                          TY_RANDOM_STATE_SIZE, LT_SHAPE(t, s));
    }
    double v[TY_RANDOM_STATE_SIZE];
    for (int i = 0; i < TY_RANDOM_STATE_SIZE; i++) v[i] = t->data[i * t->stride[0]];
    int bad = ty_random_set_state(upstate(L), v);
    if (bad >= 0) {
        char got[32];
        snprintf(got, sizeof got, "%.17g", v[bad]);
        const char *what = bad < TY_MT_N ? "a key word (an integer in 0..2^32-1)"
                           : bad == TY_MT_N ? "pos (an integer in 0..624)"
                           : bad == TY_MT_N + 1 ? "has_gauss (0 or 1)" : "the cached Gaussian (finite)";
        return luaL_error(L, "set_state: state[%d] is %s, not %s", bad + 1, got, what);
    }
    return 0;
}

void lt_open_random(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "seed", l_seed },       { "rand", l_rand },       { "randn", l_randn },
        { "randint", l_randint }, { "uniform", l_uniform }, { "normal", l_normal },
        { "permutation", l_permutation }, { "shuffle", l_shuffle }, { "choice", l_choice },
        { "get_state", l_get_state }, { "set_state", l_set_state },
        { NULL, NULL }
    };
    int module = lua_gettop(L);
    lua_createtable(L, 0, 9);
    push_state(L);
    luaL_setfuncs(L, fns, 1);
    lua_getfield(L, -1, "rand");
    lua_setfield(L, module, "rand");
    lua_getfield(L, -1, "randn");
    lua_setfield(L, module, "randn");
    lua_setfield(L, module, "random");
}
