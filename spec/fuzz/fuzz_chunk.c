/* fuzz_chunk.c: libFuzzer target for hostile scripts. Each input is Lua source run twice in a
   fresh sandboxed engine (32 MB, 1e6 instructions) with tycho loaded: as the engine runs it,
   and with finalizers allowed (see allow_finalizers), so that they can close tensors and
   assign layer fields in the middle of calls. It must end in a code and a message, never a
   crash, leak, exit or hang, and the engine must stay usable after it. */
#include <lua.h>
#include <lauxlib.h>

#include "tycho.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const tycho_config CFG = { 32u << 20, 1000000u, 1 };

/* Fuzzing runs arbitrary code: refuse unless this build's engine really confines it. */
static void check_confinement(void)
{
    tycho *T = tycho_open(&CFG);
    if (!T) {
        fprintf(stderr, "fuzz_chunk: tycho_open failed\n");
        abort();
    }
    int sandboxed = tycho_run_string(T, "assert(not pcall(function() "
                                        "return assert(io.open('/dev/null')) end))",
                                     "=probe") == TYCHO_OK &&
                    tycho_run_string(T, "for _, k in ipairs{'exit', 'execute', 'remove'} do "
                                        "local ok, f = pcall(function() return os[k] end) "
                                        "assert(not ok or f == nil) end", "=probe") == TYCHO_OK;
    int limited = tycho_run_string(T, "for i = 1, 3e6 do end", "=probe") == TYCHO_ERR_LIMIT;
    tycho_close(T);
    if (!sandboxed || !limited) {
        fprintf(stderr, "fuzz_chunk: this build's engine has no %s; refusing to run "
                        "arbitrary code\n", !sandboxed ? "sandbox" : "instruction limit");
        exit(2);
    }
}

/* print converts its arguments as usual (tensor printing is worth fuzzing) but writes
   nothing, so that neither the fuzzer's output nor make test's fills up. */
static int quiet_print(lua_State *L)
{
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        luaL_tolstring(L, i, NULL);
        lua_pop(L, 1);
    }
    return 0;
}

/* Under the instruction limit the engine refuses __gc (a finalizer runs with hooks off, so
   outside the count). To fuzz what finalizers can do (close a tensor or replace a layer's
   weight at any allocation inside a call), this setmetatable gives the object a copy of the
   metatable whose __gc runs the script's finalizer in a new coroutine, which the count hook
   reaches; getmetatable still returns the script's table (__metatable). */
/* After the script's run, finalizers would run outside any run (tycho_set_tensor, tycho_close),
   where nothing counts: from then on they are skipped. */
static int closing;

static int counted_finalizer(lua_State *L)
{
    if (closing) return 0;
    lua_State *co = lua_newthread(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 2);
    int nres;
    lua_resume(co, L, 1, &nres); /* errors and yields end it, as errors end a finalizer */
    return 0;
}

static int setmetatable_with_finalizers(lua_State *L)
{
    int protected = luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL;
    if (protected) lua_pop(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE && lua_type(L, 2) == LUA_TTABLE && !protected) {
        lua_settop(L, 2);
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "__gc") == 0)
                lua_pushcclosure(L, counted_finalizer, 1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "__metatable");
        lua_setmetatable(L, 1);
        lua_settop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1)); /* the engine's own, for everything else */
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static void allow_finalizers(tycho *T)
{
    lua_State *L = tycho_lua(T);
    lua_getglobal(L, "setmetatable");
    lua_pushcclosure(L, setmetatable_with_finalizers, 1);
    lua_setglobal(L, "setmetatable");
}

/* The engine must keep working whatever the script did to its own globals. */
static void check_usable(tycho *T)
{
    static const double in[3] = { 1, 2, 3 };
    double out[3];
    int64_t shape[1] = { 3 };
    int rc = tycho_run_string(T, "local a = {} return #a", "=after");
    if (rc != TYCHO_OK && rc != TYCHO_ERR_MEMORY) abort();
    rc = tycho_set_tensor(T, "__fuzz_x", in, 1, shape);
    if (rc == TYCHO_OK) {
        rc = tycho_get_tensor(T, "__fuzz_x", out, 3, NULL, NULL);
        if (rc == TYCHO_OK && memcmp(in, out, sizeof in) != 0) abort();
    }
    if (rc != TYCHO_OK && rc != TYCHO_ERR_MEMORY) abort();
}

static void run_once(const char *code, int finalizers)
{
    tycho *T = tycho_open(&CFG);
    if (!T) abort();   /* 32 MB is plenty for an empty engine */
    lua_pushcfunction(tycho_lua(T), quiet_print);
    lua_setglobal(tycho_lua(T), "print");
    if (finalizers) allow_finalizers(T);
    int rc = tycho_run_string(T, code, "=fuzz");
    closing = 1;
    const char *msg = tycho_error(T);
    if (!msg) abort();
    if (getenv("FUZZ_CHUNK_VERBOSE")) fprintf(stderr, "code %d %s\n", rc, msg);
    switch (rc) {
    case TYCHO_OK:
        if (msg[0]) abort();   /* success leaves no message */
        break;
    case TYCHO_ERR_RUN: case TYCHO_ERR_SYNTAX: case TYCHO_ERR_MEMORY: case TYCHO_ERR_LIMIT:
        break;
    default:   /* TYCHO_ERR_FILE or _ARG cannot come from running a string */
        abort();
    }
    check_usable(T);
    tycho_close(T);
    closing = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int checked;
    if (!checked) {
        check_confinement();
        checked = 1;
    }
    char *code = malloc(size + 1);
    if (!code) return 0;
    memcpy(code, data, size);
    code[size] = '\0';
    run_once(code, 0);
    run_once(code, 1);
    free(code);
    return 0;
}
