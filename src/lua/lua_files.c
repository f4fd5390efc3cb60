/* lua_files.c: file access, one capability: tycho.load, tycho.save and t:save over io/npy.c,
   and for the Lua parts of the library (lua/tycho/: progress bars, plots) isatty and the flag
   `files` in their table of internals.
   A host that runs untrusted scripts denies it before opening the module (lt_deny_files);
   every function listed here then raises "... disabled in the sandbox", so one added later
   fails closed too. */
#include "lua/lua_tensor.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/npy.h"

/* Registry key: present when the host denied file access to this state. */
static const char denied_key = 0;

void lt_deny_files(lua_State *L)
{
    lua_pushboolean(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &denied_key);
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
    lt_check_nargs(L, 1, "load");
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
    ty_tensor *t = lt_test(L, itensor);
    if (lua_type(L, ipath) != LUA_TSTRING || !t)
        return luaL_error(L, "save: expected %s (got %s, %s)", usage, what(L, 1), what(L, 2));
    if (!t->data) return luaL_error(L, "save: tensor was closed");
    ty_error e;
    const char *path = check_path(L, ipath, "save");
    if (ty_npy_save(t, path, &e)) return raise_as(L, "save", &e);
    return 0;
}

static int l_save(lua_State *L)
{
    lt_check_nargs(L, 2, "save");
    return save(L, 1, 2, "save(path, tensor)");
}

static int m_save(lua_State *L)
{
    lt_check_nargs(L, 2, "save");
    return save(L, 2, 1, "t:save(path)");
}

/* isatty(file): whether the Lua file handle (io.stdout, ...) is a terminal. */
static int l_isatty(lua_State *L)
{
    luaL_Stream *s = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    lua_pushboolean(L, s->closef && s->f && isatty(fileno(s->f)));
    return 1;
}

/* Stands for a file function where the capability is denied; upvalue 1 is its name. */
static int denied(lua_State *L)
{
    return luaL_error(L, "%s: disabled in the sandbox", lua_tostring(L, lua_upvalueindex(1)));
}

static const luaL_Reg file_functions[] = { { "load", l_load }, { "save", l_save }, { NULL, NULL } };
static const luaL_Reg file_methods[] = { { "save", m_save }, { NULL, NULL } };

static void install(lua_State *L, int table, const luaL_Reg *fns, int granted)
{
    for (; fns->name; fns++) {
        if (granted) {
            lua_pushcfunction(L, fns->func);
        } else {
            lua_pushstring(L, fns->name);
            lua_pushcclosure(L, denied, 1);
        }
        lua_setfield(L, table, fns->name);
    }
}

void lt_open_files(lua_State *L, int internal)
{
    int module = lua_gettop(L);
    int granted = lua_rawgetp(L, LUA_REGISTRYINDEX, &denied_key) == LUA_TNIL;
    lua_pop(L, 1);
    install(L, module, file_functions, granted);
    static const luaL_Reg internal_functions[] = { { "isatty", l_isatty }, { NULL, NULL } };
    install(L, internal, internal_functions, granted);
    lua_pushboolean(L, granted);
    lua_setfield(L, internal, "files");
    lt_push_tensor_methods(L);
    install(L, lua_gettop(L), file_methods, granted);
    lua_pop(L, 1);
}
