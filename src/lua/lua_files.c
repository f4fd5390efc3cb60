/* lua_files.c: file access, one capability: tycho.load, tycho.save and t:save over io/ (.npy,
   .npz, .safetensors, chosen by extension), and for the Lua parts of the library (lua/tycho/:
   progress bars, plots) isatty and the flag `files` in their table of internals.
   A host that runs untrusted scripts denies it before opening the module (lt_deny_files);
   every function listed here then raises "... disabled in the sandbox", so one added later
   fails closed too. */
#include "lua/lua_tensor.h"

#include <ctype.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/bytes.h"
#include "io/npy.h"
#include "io/npz.h"
#include "io/safetensors.h"

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

/* ---- formats, by extension */

enum { FMT_NPY, FMT_NPZ, FMT_ST, FMT_UNKNOWN };

/* The path's extension (from its last '.' after the last '/'), "" if none. */
static const char *extension(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    return dot && dot[1] ? dot : "";
}

static int same_ext(const char *ext, const char *want)
{
    for (; *ext && *want; ext++, want++)
        if (tolower((unsigned char)*ext) != *want) return 0;
    return *ext == *want;
}

/* .npy, or no extension at all (tycho's first format, os.tmpname's names), .npz,
   .safetensors; anything else is an error naming the extension. */
static int format_of(lua_State *L, const char *path, const char *fname)
{
    const char *ext = extension(path);
    if (!*ext || same_ext(ext, ".npy")) return FMT_NPY;
    if (same_ext(ext, ".npz")) return FMT_NPZ;
    if (same_ext(ext, ".safetensors")) return FMT_ST;
    luaL_error(L, "%s: %s: unknown extension '%s' (tycho reads and writes .npy, .npz and "
               ".safetensors)", fname, path, ext);
    return FMT_UNKNOWN;
}

/* An open archive or safetensors file, held by a userdata so that a Lua error between
   reads (memory) still closes it, when the userdata is collected. */
typedef struct reader {
    void *h;
    void (*close)(void *h);
} reader;

static const char reader_key = 0;

static void close_reader(reader *r)
{
    if (r->h) r->close(r->h);
    r->h = NULL;
}

static int reader_gc(lua_State *L)
{
    close_reader(lua_touserdata(L, 1));
    return 0;
}

static void close_npz(void *h) { ty_npz_close(h); }
static void close_st(void *h) { ty_st_close(h); }

static reader *push_reader(lua_State *L, void (*close)(void *h))
{
    reader *r = lua_newuserdatauv(L, sizeof *r, 0);
    r->h = NULL;
    r->close = close;
    if (lt_newmetatable(L, "tycho.FileReader", &reader_key)) {
        lua_pushcfunction(L, reader_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return r;
}

static int fail_reader(lua_State *L, reader *r, const ty_error *e)
{
    close_reader(r);
    return raise_as(L, "load", e);
}

/* Pushes key unless the table at t already has it (a file naming one array twice). */
static void push_new_key(lua_State *L, int t, reader *r, const char *key, size_t len,
                         const char *path)
{
    lua_pushlstring(L, key, len);
    if (lua_rawget(L, t) != LUA_TNIL) {
        char name[160];
        ty_error e;
        ty_fail(&e, TY_EFORMAT, "%s: the name '%s' appears twice", path,
                ty_printable(name, sizeof name, key, len));
        fail_reader(L, r, &e);
    }
    lua_pop(L, 1);
    lua_pushlstring(L, key, len);
}

static int load_npz(lua_State *L, const char *path)
{
    reader *r = push_reader(L, close_npz);
    ty_error e;
    ty_npz *z;
    if (ty_npz_open(&z, path, &e)) return raise_as(L, "load", &e);
    r->h = z;
    int64_t n = ty_npz_count(z);
    lua_createtable(L, 0, n < 1000 ? (int)n : 1000);
    int t = lua_gettop(L);
    ty_allocator a = lt_allocator(L);
    for (int64_t i = 0; i < n; i++) {
        size_t len;
        const char *key = ty_npz_key(z, i, &len);
        push_new_key(L, t, r, key, len, path);
        ty_tensor *x = lt_push_empty(L);
        if (ty_npz_read(z, i, x, &a, &e)) return fail_reader(L, r, &e);
        lua_rawset(L, t);
    }
    close_reader(r);
    return 1;
}

static int load_safetensors(lua_State *L, const char *path)
{
    reader *r = push_reader(L, close_st);
    ty_error e;
    ty_st *st;
    if (ty_st_open(&st, path, &e)) return raise_as(L, "load", &e);
    r->h = st;
    int64_t n = ty_st_count(st), nmeta = ty_st_meta_count(st);
    lua_createtable(L, 0, n < 1000 ? (int)n : 1000);
    int t = lua_gettop(L);
    lua_createtable(L, 0, nmeta < 100 ? (int)nmeta : 100);
    for (int64_t i = 0; i < nmeta; i++) {
        lua_pushstring(L, ty_st_meta_value(st, i));
        lua_setfield(L, t + 1, ty_st_meta_key(st, i));
    }
    ty_allocator a = lt_allocator(L);
    for (int64_t i = 0; i < n; i++) {
        const char *key = ty_st_name(st, i);
        push_new_key(L, t, r, key, strlen(key), path);
        ty_tensor *x = lt_push_empty(L);
        if (ty_st_read(st, i, x, &a, &e)) return fail_reader(L, r, &e);
        lua_rawset(L, t);
    }
    close_reader(r);
    return 2;
}

static int l_load(lua_State *L)
{
    lt_check_nargs(L, 1, "load");
    if (lua_type(L, 1) != LUA_TSTRING)
        return luaL_error(L, "load: path must be a string (got %s)", what(L, 1));
    const char *path = check_path(L, 1, "load");
    int fmt = format_of(L, path, "load");
    /* Step the collector by the file's size before its data is allocated, as lt_push_new
       does: garbage tensors go first and the new one reuses their warm memory. */
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0) lt_gc_pressure(L, (int64_t)(st.st_size / 8));
    if (fmt == FMT_NPZ) return load_npz(L, path);
    if (fmt == FMT_ST) return load_safetensors(L, path);
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
        return luaL_error(L, "save: expected %s (got %s, %s)%s", usage, what(L, 1), what(L, 2),
                          lua_type(L, itensor) == LUA_TTABLE && lua_type(L, ipath) == LUA_TSTRING
                              ? "; a table of tensors is saved as .npz or .safetensors" : "");
    if (!t->data) return luaL_error(L, "save: tensor was closed");
    ty_error e;
    const char *path = check_path(L, ipath, "save");
    if (format_of(L, path, "save") != FMT_NPY)
        return luaL_error(L, "save: %s: a %s file holds named tensors: save(path, {name = t, "
                          "...})", path, extension(path));
    if (ty_npy_save(t, path, &e)) return raise_as(L, "save", &e);
    return 0;
}

/* Options of a table save: compress (.npz); dtype, metadata (.safetensors). */
typedef struct save_opts {
    int compress, f32;
    int meta;        /* stack index of the metadata table, 0 if none */
} save_opts;

static void read_opts(lua_State *L, int i, int fmt, const char *path, save_opts *o)
{
    memset(o, 0, sizeof *o);
    if (lua_isnoneornil(L, i)) return;
    if (lua_type(L, i) != LUA_TTABLE)
        luaL_error(L, "save: options must be a table (got %s)", what(L, i));
    lt_check_plain(L, i, "save", "the options table");
    const char *takes = fmt == FMT_NPZ ? "a .npz save takes compress"
                                       : "a .safetensors save takes dtype and metadata";
    lua_pushnil(L);
    while (lua_next(L, i)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        if (k && fmt == FMT_NPZ && strcmp(k, "compress") == 0) {
            if (lua_type(L, -1) != LUA_TBOOLEAN)
                luaL_error(L, "save: option compress must be a boolean (got %s)", what(L, -1));
            o->compress = lua_toboolean(L, -1);
        } else if (k && fmt == FMT_ST && strcmp(k, "dtype") == 0) {
            const char *d = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
            if (strcmp(d, "F64") != 0 && strcmp(d, "F32") != 0)
                luaL_error(L, "save: option dtype must be \"F64\" or \"F32\" (got %s)",
                           lua_type(L, -1) == LUA_TSTRING ? d : what(L, -1));
            o->f32 = strcmp(d, "F32") == 0;
        } else if (k && fmt == FMT_ST && strcmp(k, "metadata") == 0) {
            if (lua_type(L, -1) != LUA_TTABLE)
                luaL_error(L, "save: option metadata must be a table of strings (got %s)",
                           what(L, -1));
            lt_check_plain(L, lua_gettop(L), "save", "the metadata table");
            lua_copy(L, -1, i + 1);   /* kept in the slot above the options */
            o->meta = i + 1;
        } else {
            luaL_error(L, "save: %s: unknown option '%s' (%s)", path,
                       k ? k : luaL_typename(L, -2), takes);
        }
        lua_pop(L, 1);
    }
}

/* The entries of the table at i: the count, checked (names non-empty strings without NUL,
   values open tensors) when items is set, filled into items[0..n) (at most n). Reads raw
   and allocates nothing while filling. */
static int64_t table_items(lua_State *L, int i, ty_named *items, int64_t n, int fmt,
                           const char *what_is)
{
    int64_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, i)) {
        if (items) {
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_error(L, "save: %s names must be strings (got a %s key)", what_is,
                           luaL_typename(L, -2));
            size_t len;
            const char *name = lua_tolstring(L, -2, &len);
            if (len == 0) luaL_error(L, "save: %s names must not be empty", what_is);
            if (strlen(name) != len)
                luaL_error(L, "save: %s name '%s' contains a NUL byte", what_is, name);
            if (fmt == FMT_ST && strcmp(name, "__metadata__") == 0)
                luaL_error(L, "save: '__metadata__' is not a tensor name in .safetensors (use "
                           "opts.metadata)");
            if (fmt < 0) {   /* metadata: string values */
                if (lua_type(L, -1) != LUA_TSTRING)
                    luaL_error(L, "save: metadata '%s' must be a string (got %s)", name,
                               what(L, -1));
                size_t vlen;
                const char *v = lua_tolstring(L, -1, &vlen);
                if (strlen(v) != vlen)
                    luaL_error(L, "save: metadata '%s' contains a NUL byte", name);
                if (k == n) luaL_error(L, "save: the metadata table changed during the call");
                items[k].name = name;
                items[k].len = len;
                items[k].t = (const ty_tensor *)v;   /* the value, for the caller */
            } else {
                ty_tensor *t = lt_test(L, -1);
                if (!t)
                    luaL_error(L, "save: '%s' is %s, not a tensor", name, what(L, -1));
                if (!t->data) luaL_error(L, "save: '%s': tensor was closed", name);
                if (k == n) luaL_error(L, "save: the table changed during the call");
                items[k].name = name;
                items[k].len = len;
                items[k].t = t;
            }
        }
        k++;
        lua_pop(L, 1);
    }
    return k;
}

static int save_table(lua_State *L, const char *path, int fmt)
{
    lt_check_plain(L, 2, "save", "the table of tensors");
    lua_settop(L, 3);
    lua_pushnil(L);   /* 4: the metadata table */
    save_opts o;
    read_opts(L, 3, fmt, path, &o);
    /* Every allocation first (they may run finalizers), then the tables are read raw, the
       tensors checked open, and the core writes without allocating from Lua. */
    int64_t n = table_items(L, 2, NULL, 0, fmt, "tensor");
    int64_t nmeta = o.meta ? table_items(L, o.meta, NULL, 0, -1, "metadata") : 0;
    ty_named *items = lua_newuserdatauv(L, (size_t)(n + 1) * sizeof *items, 0);
    ty_named *meta = lua_newuserdatauv(L, (size_t)(nmeta + 1) * sizeof *meta, 0);
    const char **keys = lua_newuserdatauv(L, (size_t)(2 * nmeta + 2) * sizeof *keys, 0);
    n = table_items(L, 2, items, n, fmt, "tensor");
    if (o.meta) nmeta = table_items(L, o.meta, meta, nmeta, -1, "metadata");
    ty_error e;
    /* the metadata in key order too: the same table, the same bytes */
    if (ty_named_sort(meta, nmeta, path, &e)) return raise_as(L, "save", &e);
    for (int64_t i = 0; i < nmeta; i++) {
        keys[i] = meta[i].name;
        keys[nmeta + i] = (const char *)meta[i].t;
    }
    ty_allocator a = lt_allocator(L);
    int rc = fmt == FMT_NPZ ? ty_npz_save(path, items, n, o.compress, &a, &e)
                            : ty_st_save(path, items, n, o.f32, keys, keys + nmeta, nmeta, &e);
    if (rc) return raise_as(L, "save", &e);
    return 0;
}

static int l_save(lua_State *L)
{
    lt_check_nargs(L, 3, "save");
    if (lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TTABLE && !lt_test(L, 2)) {
        const char *path = check_path(L, 1, "save");
        int fmt = format_of(L, path, "save");
        if (fmt != FMT_NPY) return save_table(L, path, fmt);
    }
    if (!lua_isnoneornil(L, 3)) {
        if (lua_type(L, 1) == LUA_TSTRING && lt_test(L, 2))
            return luaL_error(L, "save: a .npy save takes no options");
        return luaL_error(L, "save: expected save(path, tensor) or save(path, {name = tensor, "
                          "...} [, opts]) (got %s, %s, %s)", what(L, 1), what(L, 2), what(L, 3));
    }
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
