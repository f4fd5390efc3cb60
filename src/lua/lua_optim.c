/* lua_optim.c: tycho.nn._optim, the internal table lua/tycho/optim.lua and containers.lua
   call: the update kernels of src/nn/optim.c, one call per parameter, and flat-vector helpers. */
#include "lua/lua_tensor.h"

#include <math.h>

#include "nn/optim.h"

/* Nothing here allocates between checking a tensor and using it, so no finalizer can close
   one in between. */

/* An optimizer's own buffer: a live contiguous tensor of n elements (false/nil: none when
   optional). The Lua side makes them; a mismatch is a bug there, reported all the same. */
static double *buffer(lua_State *L, int i, int64_t n, int optional, const char *fname)
{
    if (optional && lua_isnoneornil(L, i)) return NULL;
    if (optional && lua_isboolean(L, i) && !lua_toboolean(L, i)) return NULL;
    ty_tensor *b = lt_check(L, i);
    if (!ty_is_contiguous(b) || ty_numel(b) != n)
        luaL_error(L, "%s: buffer %d is not a contiguous tensor of %I elements", fname, i,
                   (lua_Integer)n);
    return b->data;
}

/* The parameter at 1 and its gradient at 2, checked as the step needs them. */
static ty_tensor *param_grad(lua_State *L, ty_tensor **g, const char *fname)
{
    ty_tensor *p = lt_check(L, 1);
    *g = lt_check(L, 2);
    ty_error e;
    if (ty_optim_check(p, *g, &e)) luaL_error(L, "%s: the gradient %s", fname, e.msg);
    return p;
}

/* check(p, g [, grad_written]): nil if the gradient g can update the parameter p (and be
   scaled in place, with grad_written), else the reason. */
static int l_check(lua_State *L)
{
    lt_check_nargs(L, 3, "_optim.check");
    ty_tensor *p = lt_test(L, 1), *g = lt_test(L, 2);
    if (!p) return luaL_error(L, "_optim.check: the parameter is not a tensor");
    if (!p->data) {
        lua_pushliteral(L, "belongs to a parameter that was closed");
        return 1;
    }
    if (!g) {
        lua_pushfstring(L, "is %s, not a tensor", luaL_typename(L, 2));
        return 1;
    }
    if (!g->data) {
        lua_pushliteral(L, "was closed");
        return 1;
    }
    ty_error e;
    if (ty_optim_check(p, g, &e)) {
        lua_pushstring(L, e.msg);
        return 1;
    }
    if (lua_toboolean(L, 3) && ty_is_broadcast(g)) {
        lua_pushliteral(L, "is an expanded view (stride 0): it cannot be scaled in place");
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* sgd(p, g, buf|false, lr, momentum, dampening, weight_decay, nesterov, maximize, first) */
static int l_sgd(lua_State *L)
{
    lt_check_nargs(L, 10, "_optim.sgd");
    ty_tensor *g, *p = param_grad(L, &g, "_optim.sgd");
    ty_sgd o;
    o.lr = luaL_checknumber(L, 4);
    o.momentum = luaL_checknumber(L, 5);
    o.dampening = luaL_checknumber(L, 6);
    o.weight_decay = luaL_checknumber(L, 7);
    o.nesterov = lua_toboolean(L, 8);
    o.maximize = lua_toboolean(L, 9);
    o.first = lua_toboolean(L, 10);
    double *buf = buffer(L, 3, ty_numel(p), 1, "_optim.sgd");
    if (o.momentum != 0 && !buf) return luaL_error(L, "_optim.sgd: momentum needs a buffer");
    ty_sgd_step(p, g, buf, &o);
    return 0;
}

/* adam(p, g, m, v, vmax|false, step_size, bias2_sqrt, beta1, beta2, eps, weight_decay, decay,
   coupled, maximize) */
static int l_adam(lua_State *L)
{
    lt_check_nargs(L, 14, "_optim.adam");
    ty_tensor *g, *p = param_grad(L, &g, "_optim.adam");
    int64_t n = ty_numel(p);
    double *m = buffer(L, 3, n, 0, "_optim.adam"), *v = buffer(L, 4, n, 0, "_optim.adam");
    double *vmax = buffer(L, 5, n, 1, "_optim.adam");
    ty_adam o;
    o.step_size = luaL_checknumber(L, 6);
    o.bias2_sqrt = luaL_checknumber(L, 7);
    o.beta1 = luaL_checknumber(L, 8);
    o.beta2 = luaL_checknumber(L, 9);
    o.eps = luaL_checknumber(L, 10);
    o.weight_decay = luaL_checknumber(L, 11);
    o.decay = luaL_checknumber(L, 12);
    o.coupled = lua_toboolean(L, 13);
    o.maximize = lua_toboolean(L, 14);
    ty_adam_step(p, g, m, v, vmax, &o);
    return 0;
}

/* rmsprop(p, g, square_avg, grad_avg|false, buf|false, lr, alpha, eps, weight_decay,
   momentum, maximize) */
static int l_rmsprop(lua_State *L)
{
    lt_check_nargs(L, 11, "_optim.rmsprop");
    ty_tensor *g, *p = param_grad(L, &g, "_optim.rmsprop");
    int64_t n = ty_numel(p);
    double *sq = buffer(L, 3, n, 0, "_optim.rmsprop");
    double *gavg = buffer(L, 4, n, 1, "_optim.rmsprop"), *buf = buffer(L, 5, n, 1, "_optim.rmsprop");
    ty_rmsprop o;
    o.lr = luaL_checknumber(L, 6);
    o.alpha = luaL_checknumber(L, 7);
    o.eps = luaL_checknumber(L, 8);
    o.weight_decay = luaL_checknumber(L, 9);
    o.momentum = luaL_checknumber(L, 10);
    o.maximize = lua_toboolean(L, 11);
    if ((o.momentum > 0) != (buf != NULL))
        return luaL_error(L, "_optim.rmsprop: a momentum buffer goes with momentum > 0");
    ty_rmsprop_step(p, g, sq, gavg, buf, &o);
    return 0;
}

/* adagrad(p, g, sum, clr, eps, weight_decay, maximize) */
static int l_adagrad(lua_State *L)
{
    lt_check_nargs(L, 7, "_optim.adagrad");
    ty_tensor *g, *p = param_grad(L, &g, "_optim.adagrad");
    double *sum = buffer(L, 3, ty_numel(p), 0, "_optim.adagrad");
    ty_adagrad o;
    o.clr = luaL_checknumber(L, 4);
    o.eps = luaL_checknumber(L, 5);
    o.weight_decay = luaL_checknumber(L, 6);
    o.maximize = lua_toboolean(L, 7);
    ty_adagrad_step(p, g, sum, &o);
    return 0;
}

/* norm(t, norm_type): torch.norm(t, norm_type) for norm_type > 0 or math.huge */
static int l_norm(lua_State *L)
{
    lt_check_nargs(L, 2, "_optim.norm");
    ty_tensor *t = lt_check(L, 1);
    double p = luaL_checknumber(L, 2);
    luaL_argcheck(L, p > 0, 2, "norm_type must be positive");
    lua_pushnumber(L, ty_optim_norm(t, p));
    return 1;
}

/* axpy(y, alpha, x): y += alpha * x, both contiguous with as many elements */
static int l_axpy(lua_State *L)
{
    lt_check_nargs(L, 3, "_optim.axpy");
    ty_tensor *y = lt_check(L, 1);
    double alpha = luaL_checknumber(L, 2);
    ty_tensor *x = lt_check(L, 3);
    if (!ty_is_contiguous(y) || !ty_is_contiguous(x) || ty_numel(x) != ty_numel(y))
        return luaL_error(L, "_optim.axpy: y and x must be contiguous with as many elements");
    ty_optim_axpy(y->data, alpha, x->data, ty_numel(y));
    return 0;
}

/* The tensors of the list at index i, checked (alive; writable if written), and the sum of
   their sizes: the flat vector at index f must be contiguous with that many elements. */
static ty_tensor *list_tensor(lua_State *L, int list, lua_Integer k, const char *what)
{
    lua_rawgeti(L, list, k);
    ty_tensor *t = lt_test(L, -1);
    lua_pop(L, 1); /* the list keeps it alive */
    if (!t) luaL_error(L, "%s %I is not a tensor", what, k);
    if (!t->data) luaL_error(L, "%s %I was closed during the call", what, k);
    return t;
}

static double *flat_for(lua_State *L, int list, int f, int written, const char *fname,
                        const char *what)
{
    luaL_checktype(L, list, LUA_TTABLE);
    ty_tensor *flat = lt_check(L, f);
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);
    int64_t total = 0;
    for (lua_Integer k = 1; k <= n; k++) {
        ty_tensor *t = list_tensor(L, list, k, what);
        if (written) lt_check_writable(L, t, fname);
        total += ty_numel(t);
    }
    if (!ty_is_contiguous(flat) || ty_numel(flat) != total)
        luaL_error(L, "%s: the flat vector must be contiguous with %I elements", fname,
                   (lua_Integer)total);
    return flat->data;
}

/* gather(flat, list): the list's tensors, one after the other, into flat */
static int l_gather(lua_State *L)
{
    lt_check_nargs(L, 2, "_optim.gather");
    double *flat = flat_for(L, 2, 1, 0, "_optim.gather", "LBFGS.step: gradient");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
    for (lua_Integer k = 1; k <= n; k++) {
        ty_tensor *t = list_tensor(L, 2, k, "LBFGS.step: gradient");
        ty_optim_gather(flat, t);
        flat += ty_numel(t);
    }
    return 0;
}

/* scatter(list, flat): flat's elements back into the list's tensors */
static int l_scatter(lua_State *L)
{
    lt_check_nargs(L, 2, "_optim.scatter");
    const double *flat = flat_for(L, 1, 2, 1, "_optim.scatter", "LBFGS.step: parameter");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    for (lua_Integer k = 1; k <= n; k++) {
        ty_tensor *t = list_tensor(L, 1, k, "LBFGS.step: parameter");
        ty_optim_scatter(t, flat);
        flat += ty_numel(t);
    }
    return 0;
}

/* add_flat(list, alpha, flat): each tensor of the list += alpha * its part of flat */
static int l_add_flat(lua_State *L)
{
    lt_check_nargs(L, 3, "_optim.add_flat");
    double alpha = luaL_checknumber(L, 2);
    const double *flat = flat_for(L, 1, 3, 1, "_optim.add_flat", "LBFGS.step: parameter");
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    for (lua_Integer k = 1; k <= n; k++) {
        ty_tensor *t = list_tensor(L, 1, k, "LBFGS.step: parameter");
        ty_optim_add_flat(t, alpha, flat);
        flat += ty_numel(t);
    }
    return 0;
}

/* copy_all(dsts, srcs): every dsts[k] (contiguous, the optimizer's own) takes the values of
   srcs[k] (as many elements): all are checked before any is written. */
static int l_copy_all(lua_State *L)
{
    lt_check_nargs(L, 2, "_optim.copy_all");
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
    if ((lua_Integer)lua_rawlen(L, 2) != n)
        return luaL_error(L, "_optim.copy_all: the lists differ in length");
    for (lua_Integer k = 1; k <= n; k++) {
        ty_tensor *d = list_tensor(L, 1, k, "load_state: buffer");
        ty_tensor *s = list_tensor(L, 2, k, "load_state: entry");
        if (!ty_is_contiguous(d) || ty_numel(d) != ty_numel(s))
            return luaL_error(L, "_optim.copy_all: element %I: %I elements into %I", k,
                              (lua_Integer)ty_numel(s), (lua_Integer)ty_numel(d));
    }
    for (lua_Integer k = 1; k <= n; k++) {
        ty_tensor *d = list_tensor(L, 1, k, "load_state: buffer");
        ty_tensor *s = list_tensor(L, 2, k, "load_state: entry");
        ty_optim_gather(d->data, s);
    }
    return 0;
}

static const luaL_Reg optim_fns[] = {
    { "check", l_check },     { "sgd", l_sgd },         { "adam", l_adam },
    { "rmsprop", l_rmsprop }, { "adagrad", l_adagrad }, { "norm", l_norm },
    { "axpy", l_axpy },       { "gather", l_gather },   { "scatter", l_scatter },
    { "add_flat", l_add_flat }, { "copy_all", l_copy_all }, { NULL, NULL }
};

void lt_register_optim(lua_State *L, int nn)
{
    lua_newtable(L);
    luaL_setfuncs(L, optim_fns, 0);
    lua_setfield(L, nn, "_optim");
}
