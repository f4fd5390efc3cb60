/* lua_npy.c: tycho.load, tycho.save and t:save over npy.c, with arguments checked, errors
   named after the function, and both refused when the host runs a sandbox. */
#include "lua/lua_tensor.h"

#include <string.h>
#include <sys/stat.h>

#include "io/npy.h"

#define SANDBOX_KEY "tycho.sandbox"

static void check_sandbox(lua_State *L, const char *fname)
{
    int on = lua_getfield(L, LUA_REGISTRYINDEX, SANDBOX_KEY) != LUA_TNIL && lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (on) luaL_error(L, "%s: disabled in the sandbox", fname);
}

static const char *what(lua_State *L, int i)
{
    return lt_test(L, i) ? "tensor" : luaL_typename(L, i);
}

/* The path at index i: a string without NUL bytes (the system would read it only up to the
   first, and open another file than the one named). */
static const char *check_path(lua_State *L, int i, const char *fname)
{
    size_t len;
    const char *path = lua_tolstring(L, i, &len);
    if (strlen(path) != len)
        luaL_error(L, "%s: path contains a NUL byte (at position %d)", fname, (int)strlen(path) + 1);
    return path;
}

static int raise_as(lua_State *L, const char *fname, const ty_error *e)
{
    ty_error named;
    ty_fail(&named, e->code, "%s: %s", fname, e->msg);
    return lt_raise(L, &named);
}

static int l_load(lua_State *L)
{
    check_sandbox(L, "load");
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "load: path must be a string (got %s)", what(L, 1));
    const char *path = check_path(L, 1, "load");
    /* Step the collector by the file's size before its data is allocated, as lt_push_new
       does: garbage tensors go first and the new one reuses their warm memory. */
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0) lt_gc_pressure(L, (int64_t)(st.st_size / 8));
    /* The userdata exists before the data does, so an error below leaves nothing to leak. */
    ty_tensor *t = lt_push_empty(L);
    ty_allocator a = lt_allocator(L);
    ty_error e;
    if (ty_npy_load(t, path, &a, &e)) return raise_as(L, "load", &e);
    return 1;
}

static int save(lua_State *L, int ipath, int itensor, const char *usage)
{
    check_sandbox(L, "save");
    ty_tensor *t = lt_test(L, itensor);
    if (lua_type(L, ipath) != LUA_TSTRING || !t)
        return luaL_error(L, "save: expected %s (got %s, %s)", usage, what(L, 1), what(L, 2));
    if (!t->data) return luaL_error(L, "save: tensor was closed");
    ty_error e;
    const char *path = check_path(L, ipath, "save");
    if (ty_npy_save(t, path, &e)) return raise_as(L, "save", &e);
    return 0;
}

static int l_save(lua_State *L) { return save(L, 1, 2, "save(path, tensor)"); }
static int m_save(lua_State *L) { return save(L, 2, 1, "t:save(path)"); }

void lt_open_npy(lua_State *L)
{
    lua_pushcfunction(L, l_load);
    lua_setfield(L, -2, "load");
    lua_pushcfunction(L, l_save);
    lua_setfield(L, -2, "save");

    /* Tensor methods: the table lua_tensor.c exposes as mt.methods (its __index is a
       function); a plain __index table works too. */
    luaL_getmetatable(L, LT_TENSOR);
    if (lua_istable(L, -1)) {
        if (lua_getfield(L, -1, "methods") != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_getfield(L, -1, "__index");
        }
        if (lua_istable(L, -1)) {
            lua_pushcfunction(L, m_save);
            lua_setfield(L, -2, "save");
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}
