/* lua_random.c: tycho.random.seed/rand/randn (and tycho.rand, tycho.randn) over one
   ty_random per Lua state, kept in the registry so engines never share a stream. */
#include "lua/lua_random.h"

#include <math.h>
#include <stdio.h>

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

void lt_open_random(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "seed", l_seed }, { "rand", l_rand }, { "randn", l_randn }, { NULL, NULL }
    };
    int module = lua_gettop(L);
    lua_createtable(L, 0, 3);
    push_state(L);
    luaL_setfuncs(L, fns, 1);
    lua_getfield(L, -1, "rand");
    lua_setfield(L, module, "rand");
    lua_getfield(L, -1, "randn");
    lua_setfield(L, module, "randn");
    lua_setfield(L, module, "random");
}
