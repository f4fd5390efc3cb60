/* lua_layer.c: what every layer userdata shares, from its descriptor (lua_layer.h): the
   user values (parameters, gradients, caches, other fields), field access and assignment,
   the checks of self, of arguments and of cached tensors, registration. */
#include "lua/lua_layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/random.h"
#include "lua/lua_random.h"
#include "nn/layers.h"

static int count(const char *const *names)
{
    int n = 0;
    while (names && names[n]) n++;
    return n;
}

/* User values: the parameters, the gradients, then the caches. */
static int grad_uv(const lt_layer *l, int g) { return l->np + g + 1; }
static int cache_uv(const lt_layer *l, int c) { return l->np + l->ng + c + 1; }

lt_layer *lt_layer_push(lua_State *L, const lt_layer_desc *d)
{
    lt_check_open(L);
    int np = count(d->params), ng = count(d->grads);
    lt_layer *l = lua_newuserdatauv(L, d->size, np + ng + d->caches);
    memset(l, 0, d->size);
    l->desc = d;
    l->np = np;
    l->ng = ng;
    l->alloc = lt_allocator(L);
    lt_setmetatable(L, d);
    return l;
}

void lt_layer_set_param(lua_State *L, int layer, int p, int value)
{
    layer = lua_absindex(L, layer);
    lt_layer *l = lua_touserdata(L, layer);
    l->param[p] = lua_touserdata(L, value);
    l->assigned++;
    lua_pushvalue(L, value);
    lua_setiuservalue(L, layer, p + 1);
}

lt_layer *lt_layer_self(lua_State *L)
{
    lt_layer *l = lua_touserdata(L, 1);
    int same = 0;
    if (l && lua_getmetatable(L, 1)) {
        same = lua_topointer(L, -1) == lua_topointer(L, lua_upvalueindex(LT_UP_LAYER));
        lua_pop(L, 1);
    }
    if (!same) {
        lua_getfield(L, lua_upvalueindex(LT_UP_LAYER), "__name");
        luaL_typeerror(L, 1, lua_tostring(L, -1));
    }
    return l;
}

ty_tensor *lt_layer_arg(lua_State *L, int i, const char *fname, const char *name)
{
    ty_tensor *t = lt_test_up(L, i);
    if (!t || !t->data)
        luaL_error(L, "%s: %s must be a tensor (got %s)", fname, name,
                   t ? "a closed tensor" : luaL_typename(L, i));
    return t;
}

ty_tensor *lt_layer_param(lua_State *L, const lt_layer *l, int p, const char *fname)
{
    ty_tensor *t = l->param[p];
    if (!t->data) luaL_error(L, "%s: the layer's %s was closed", fname, l->desc->params[p]);
    return t;
}

static ty_tensor *get_cache(lua_State *L, int c, const char *fname, const char *forward,
                            const char *what, int opt)
{
    const lt_layer *l = lua_touserdata(L, 1);
    lua_getiuservalue(L, 1, cache_uv(l, c));
    ty_tensor *t = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the layer keeps it alive */
    if (!t && opt) return NULL;
    if (!t) luaL_error(L, "%s: call %s first", fname, forward);
    if (!t->data)
        luaL_error(L, "%s: %s's %s was closed; call %s again", fname, forward, what, forward);
    return t;
}

ty_tensor *lt_layer_cache(lua_State *L, int c, const char *fname, const char *forward,
                          const char *what)
{
    return get_cache(L, c, fname, forward, what, 0);
}

ty_tensor *lt_layer_cache_opt(lua_State *L, int c, const char *fname, const char *forward,
                              const char *what)
{
    return get_cache(L, c, fname, forward, what, 1);
}

void lt_layer_push_cache(lua_State *L, int c)
{
    const lt_layer *l = lua_touserdata(L, 1);
    lua_getiuservalue(L, 1, cache_uv(l, c));
}

const void *lt_layer_cache_ptr(lua_State *L, int c)
{
    const lt_layer *l = lua_touserdata(L, 1);
    lua_getiuservalue(L, 1, cache_uv(l, c));
    const void *p = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return p;
}

ty_tensor *lt_layer_opt_arg(lua_State *L, int i, const char *fname, const char *name)
{
    if (lua_isnoneornil(L, i)) return NULL;
    return lt_layer_arg(L, i, fname, name);
}

void lt_layer_max_args(lua_State *L, int n, const char *fname)
{
    int top = lua_gettop(L);
    while (top > 1 && lua_isnil(L, top)) top--; /* a trailing nil is an argument left out */
    int got = top - 1;
    if (got > n)
        luaL_error(L, "%s: takes %d argument%s, got %d", fname, n, n == 1 ? "" : "s", got);
}

void lt_layer_keep(lua_State *L, int c, int value)
{
    const lt_layer *l = lua_touserdata(L, 1);
    lua_pushvalue(L, value);
    lua_setiuservalue(L, 1, cache_uv(l, c));
}

void lt_layer_set_grad(lua_State *L, int g, int value)
{
    const lt_layer *l = lua_touserdata(L, 1);
    lua_pushvalue(L, value);
    lua_setiuservalue(L, 1, grad_uv(l, g));
}

void lt_layer_allocated(lua_State *L, const ty_tensor *t, int ndim, const int64_t *shape,
                        const char *fname, const char *what)
{
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same)
        luaL_error(L, "%s: the sizes changed during the call (a finalizer assigned %s's "
                      "inputs or weights)", fname, what);
}

void lt_layer_push_like(lua_State *L, int n, const ty_tensor *const *like, ty_tensor **out)
{
    /* every shape read before the first allocation: its finalizer may drop one of the
       tensors (a weight assigned anew), and the next allocation's collection free it */
    int ndim[LT_MAX_PARAMS];
    int64_t shape[LT_MAX_PARAMS][TY_MAX_DIMS];
    TY_ASSERT(n <= LT_MAX_PARAMS);
    for (int i = 0; i < n; i++) {
        ndim[i] = like[i]->ndim;
        memcpy(shape[i], like[i]->shape, sizeof shape[i]);
    }
    for (int i = 0; i < n; i++) out[i] = lt_push_new_up(L, ndim[i], shape[i]);
}

void lt_layer_still_like(lua_State *L, int n, ty_tensor *const *out, const ty_tensor *const *like,
                         const char *fname, const char *const *names)
{
    for (int i = 0; i < n; i++)
        lt_layer_allocated(L, out[i], like[i]->ndim, like[i]->shape, fname, names[i]);
}

void lt_check_ids(lua_State *L, const ty_tensor *ids, int64_t n, const char *fname, const char *name,
                  const char *kind, const char *letter)
{
    int64_t bad = ty_ids_check(ids, n);
    if (bad < 0) return;
    int64_t idx[TY_MAX_DIMS];
    const char *at = lt_position(L, ids, bad, idx);
    char value[32];
    snprintf(value, sizeof value, "%.17g", *ty_element(ids, idx));
    luaL_error(L, "%s: %s%s is %s, not %s in 1..%s (%s = %I)", fname, name, at, value, kind, letter, letter,
               (lua_Integer)n);
}

/* ---- fields ------------------------------------------------------------------------------- */

/* The layer at index 1, checked against the descriptor at upvalue 3 of __index and
   __newindex (upvalues: methods, field map, descriptor). */
static lt_layer *check_layer(lua_State *L)
{
    const lt_layer_desc *d = lua_touserdata(L, lua_upvalueindex(3));
    lt_layer *l = lt_testudata(L, 1, d);
    if (!l) luaL_typeerror(L, 1, d->name);
    return l;
}

/* The user value of field name (key at index 2), from the field map: 0 if none. */
static int field_uv(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(2));
    int uv = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return uv;
}

static int is_computed(const lt_layer_desc *d, const char *k)
{
    for (int i = 0; d->fields && d->fields[i]; i++)
        if (strcmp(d->fields[i], k) == 0) return 1;
    return 0;
}

/* "W_ih, W_hh, b, ..." : every field of the layer, for the messages. */
static const char *field_list(lua_State *L, const lt_layer_desc *d)
{
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    static const char *const common[] = { "training", NULL };
    const char *const *lists[4] = { d->params, d->grads, d->fields, common };
    int n = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; lists[i] && lists[i][j]; j++) {
            if (n++) luaL_addstring(&b, ", ");
            luaL_addstring(&b, lists[i][j]);
        }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

static int no_field(lua_State *L, const lt_layer *l, const char *what)
{
    const char *key = luaL_tolstring(L, 2, NULL);
    const char *fields = field_list(L, l->desc);
    return luaL_error(L, "%s: no field %s to %s (its fields: %s)", l->desc->name, key, what, fields);
}

static int layer_index(lua_State *L)
{
    lua_pushvalue(L, 2); /* methods first, without touching the layer: every layer:method() */
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    lt_layer *l = check_layer(L);
    if (lua_type(L, 2) == LUA_TSTRING) {
        int uv = field_uv(L);
        if (uv) {
            lua_getiuservalue(L, 1, uv);
            return 1;
        }
        const char *k = lua_tostring(L, 2);
        if (is_computed(l->desc, k) && l->desc->field(L, l, k)) return 1;
        if (strcmp(k, "training") == 0) {
            lua_pushboolean(L, !l->evaluating);
            return 1;
        }
    }
    return no_field(L, l, "read");
}

static int layer_newindex(lua_State *L)
{
    lt_layer *l = check_layer(L);
    const char *name = l->desc->name;
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        int uv = field_uv(L);
        if (uv && uv <= l->np) {
            if (!lt_test(L, 3))
                return luaL_error(L, "%s: %s must be a tensor (got %s)", name, k, luaL_typename(L, 3));
            lua_settop(L, 3);
            lt_layer_set_param(L, 1, uv - 1, 3);
            return 0;
        }
        if (uv) {
            if (!lua_isnil(L, 3) && !lt_test(L, 3))
                return luaL_error(L, "%s: %s must be a tensor or nil (got %s)", name, k,
                                  luaL_typename(L, 3));
            lua_settop(L, 3);
            lua_setiuservalue(L, 1, uv);
            return 0;
        }
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
            return luaL_error(L, "%s: %s is a method and cannot be assigned", name, k);
        lua_pop(L, 1);
        if (is_computed(l->desc, k)) {
            lua_settop(L, 3);
            if (l->desc->set_field && l->desc->set_field(L, l, k)) return 0;
            return luaL_error(L, "%s: %s cannot be assigned (it follows the weights)", name, k);
        }
        if (strcmp(k, "training") == 0)
            return luaL_error(L, "%s: training cannot be assigned (call train() or evaluate())", name);
    }
    return no_field(L, l, "assign");
}

/* ---- methods every layer with parameters has --------------------------------------------- */

/* layer:parameters(): the names of its parameters, in order. */
static int layer_parameters(lua_State *L)
{
    lt_layer *l = lt_layer_self(L);
    lt_layer_max_args(L, 0, "parameters");
    lua_createtable(L, l->np, 0);
    for (int p = 0; p < l->np; p++) {
        lua_pushstring(L, l->desc->params[p]);
        lua_rawseti(L, -2, p + 1);
    }
    return 1;
}

/* layer:reset([stdv]): every parameter redrawn as uniform(-stdv, stdv), in order, from the
   engine's generator, as NumPy's legacy uniform draws. */
static int layer_reset(lua_State *L)
{
    lt_layer *l = lt_layer_self(L);
    lt_layer_max_args(L, 1, "reset");
    if (l->np == 0) { /* nothing to draw (Tanh, Dropout): a loop over a model's layers may call it */
        if (!lua_isnoneornil(L, 2)) luaL_checknumber(L, 2);
        return 0;
    }
    for (int p = 0; p < l->np; p++) lt_layer_param(L, l, p, "reset");
    double stdv = lua_isnoneornil(L, 2) ? l->desc->default_stdv(L, l) : luaL_checknumber(L, 2);
    if (!(stdv >= 0) || isinf(stdv))
        return luaL_error(L, "reset: stdv must be a finite number, not negative (got %f)", stdv);
    ty_random *rng = lt_random_state(L); /* may allocate once: the parameters again after */
    for (int p = 0; p < l->np; p++) ty_random_fill_range(rng, lt_layer_param(L, l, p, "reset"), -stdv, stdv);
    return 0;
}

/* layer:train() and layer:evaluate(): the mode (Dropout differs between them); each returns
   the layer, as PyTorch's train() and eval(). */
static int set_mode(lua_State *L, int evaluating, const char *fname)
{
    lt_layer *l = lt_layer_self(L);
    lt_layer_max_args(L, 0, fname);
    l->evaluating = evaluating;
    lua_settop(L, 1);
    return 1;
}
static int layer_train(lua_State *L) { return set_mode(L, 0, "train"); }
static int layer_evaluate(lua_State *L) { return set_mode(L, 1, "evaluate"); }

static int layer_tostring(lua_State *L)
{
    lt_layer *l = check_layer(L);
    if (l->desc->describe) l->desc->describe(L, l);
    else lua_pushfstring(L, "%s()", l->desc->name);
    return 1;
}

static int layer_gc(lua_State *L)
{
    lt_layer *l = check_layer(L);
    if (l->desc->free) l->desc->free(l);
    return 0;
}

/* ---- registration ------------------------------------------------------------------------- */

void lt_layer_register(lua_State *L, const lt_layer_desc *d, int nn)
{
    nn = lua_absindex(L, nn);
    char tname[64];
    snprintf(tname, sizeof tname, "tycho.%s", d->name);
    if (lt_newmetatable(L, tname, d)) {
        int mt = lua_gettop(L);
        lua_newtable(L); /* methods, with the tensor metatables and this one as upvalues */
        int methods = mt + 1;
        lt_push_tensor_metatables(L);
        lua_pushvalue(L, mt);
        luaL_setfuncs(L, d->methods, 3);
        static const luaL_Reg modes[] = {
            { "train", layer_train }, { "evaluate", layer_evaluate }, { NULL, NULL }
        };
        lt_push_tensor_metatables(L);
        lua_pushvalue(L, mt);
        luaL_setfuncs(L, modes, 3);
        static const luaL_Reg common[] = {
            { "parameters", layer_parameters }, { "reset", layer_reset }, { NULL, NULL }
        };
        lt_push_tensor_metatables(L);
        lua_pushvalue(L, mt);
        luaL_setfuncs(L, common, 3);
        lua_newtable(L); /* field name -> user value */
        int fields = mt + 2, np = count(d->params), ng = count(d->grads);
        for (int i = 0; i < np; i++) {
            lua_pushinteger(L, i + 1);
            lua_setfield(L, fields, d->params[i]);
        }
        for (int i = 0; i < ng; i++) {
            lua_pushinteger(L, np + i + 1);
            lua_setfield(L, fields, d->grads[i]);
        }
        static const struct { const char *name; lua_CFunction fn; } metamethods[] = {
            { "__index", layer_index }, { "__newindex", layer_newindex },
            { "__tostring", layer_tostring }, { "__gc", layer_gc },
        };
        for (size_t i = 0; i < sizeof metamethods / sizeof metamethods[0]; i++) {
            lua_pushvalue(L, methods);
            lua_pushvalue(L, fields);
            lua_pushlightuserdata(L, (void *)d);
            lua_pushcclosure(L, metamethods[i].fn, 3);
            lua_setfield(L, mt, metamethods[i].name);
        }
        lua_pushstring(L, tname); /* locked, as the tensor metatables are */
        lua_setfield(L, mt, "__metatable");
        lua_settop(L, mt);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, d->constructor);
    lua_setfield(L, nn, d->name);
}
