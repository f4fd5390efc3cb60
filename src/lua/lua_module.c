/* lua_module.c: luaopen_tycho, the module table that `require "tycho"` returns: the tensor,
   random, .npy and nn parts in C, and the Lua files of lua/tycho/ compiled into the binary. */
#include "lua/lua_tensor.h"
#include "core/linalg.h"
/* TY_VERSION: tycho.h's TYCHO_VERSION, from the Makefile (the binding does not include the host's header) */

#include <lualib.h>
#include <stdio.h>
#include <time.h>


/* Generated from the files in lua/tycho/ (see the Makefile). */
extern const struct {
    const char *name;
    const char *src;
    size_t      len;
} tycho_lua_modules[];

/* Registers module `name` (e.g. "tycho.checks") as package.loaded[name] and tycho[short]. */
static void set_submodule(lua_State *L, int mod, const char *name)
{
    const char *shortname = name + sizeof "tycho." - 1;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
    lua_setfield(L, mod, shortname);
}

/* tycho.clock(): monotonic wall-clock seconds, for benchmarks. */
static int l_clock(lua_State *L)
{
    lt_check_nargs(L, 0, "clock");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9);
    return 1;
}

/* tycho.blas(): what runs the products, as numpy.show_config() tells NumPy's. */
static int l_blas(lua_State *L)
{
    lt_check_nargs(L, 0, "blas");
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ty_blas_core());
    lua_setfield(L, -2, "core");
    lua_pushstring(L, ty_blas_config());
    lua_setfield(L, -2, "config");
    lua_pushinteger(L, ty_blas_threads());
    lua_setfield(L, -2, "threads");
    return 1;
}

int luaopen_tycho(lua_State *L)
{
    lua_newtable(L);
    int mod = lua_gettop(L);
    lt_open_tensor(L);
    lt_open_random(L);
    lua_newtable(L); /* the internals: the third argument of every Lua part, never a script's */
    int internal = lua_gettop(L);
    lua_pushvalue(L, mod);
    lt_open_files(L, internal);
    lua_settop(L, internal);
    lua_pushliteral(L, TY_VERSION);
    lua_setfield(L, mod, "version");
    lua_pushcfunction(L, l_blas);
    lua_setfield(L, mod, "blas");
    lua_pushcfunction(L, l_clock);
    lua_setfield(L, mod, "clock");

    /* submodules see the module table before require has stored it */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, mod);
    lua_setfield(L, -2, "tycho");
    lua_pop(L, 1);

    lt_open_nn(L);
    set_submodule(L, mod, "tycho.nn");

    for (int i = 0; tycho_lua_modules[i].name; i++) {
        const char *name = tycho_lua_modules[i].name;
        char chunkname[64];
        snprintf(chunkname, sizeof chunkname, "@lua/tycho/%s.lua", name + sizeof "tycho." - 1);
        if (luaL_loadbufferx(L, tycho_lua_modules[i].src, tycho_lua_modules[i].len, chunkname, "t"))
            return lua_error(L);
        lua_pushstring(L, name);
        lua_pushvalue(L, mod);
        lua_pushvalue(L, internal);
        lua_call(L, 3, 1);
        set_submodule(L, mod, name);
    }
    lua_settop(L, mod);
    return 1;
}

/* `require "tycho.checks"` from stock lua5.4 before `require "tycho"`: Lua's all-in-one
   loader finds these in tycho.so. */
static int reexport(lua_State *L, const char *name)
{
    luaL_requiref(L, "tycho", luaopen_tycho, 0);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, name);
    return 1;
}

LT_EXPORT int luaopen_tycho_checks(lua_State *L);
int luaopen_tycho_checks(lua_State *L)
{
    return reexport(L, "tycho.checks");
}

LT_EXPORT int luaopen_tycho_nn(lua_State *L);
int luaopen_tycho_nn(lua_State *L)
{
    return reexport(L, "tycho.nn");
}

LT_EXPORT int luaopen_tycho_optim(lua_State *L);
int luaopen_tycho_optim(lua_State *L)
{
    return reexport(L, "tycho.optim");
}

LT_EXPORT int luaopen_tycho_plot(lua_State *L);
int luaopen_tycho_plot(lua_State *L)
{
    return reexport(L, "tycho.plot");
}
