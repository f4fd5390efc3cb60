/* engine.c: the embedding API of tycho.h. One Lua state per engine with a byte-counting
   allocator; everything that can raise a Lua error runs protected, failures become codes. */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "tycho.h"
#include "lua_tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tycho {
    lua_State   *L;
    tycho_config cfg;
    size_t       mem_used;     /* bytes held through engine_alloc: Lua objects and tensors */
    const char  *err;          /* "", errbuf, or a message anchored in the registry */
    char         errbuf[512];
};

/* Registry slot that keeps the last script error alive while tycho_error points into it.
   It exists from tycho_open on, so storing a message later allocates nothing. */
static const char ERROR_SLOT = 0;

/* The lua_Alloc of every engine: Lua objects and tensor storage (lt_allocator hands this
   allocator to the core) share one budget, cfg.memory_limit. */
static void *engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    tycho *T = ud;
    if (!ptr) osize = 0;   /* for new blocks Lua passes the object kind in osize */
    if (nsize == 0) {
        free(ptr);
        T->mem_used -= osize;
        return NULL;
    }
    size_t limit = T->cfg.memory_limit;
    if (limit && nsize > osize &&
        (T->mem_used > limit || nsize - osize > limit - T->mem_used))
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p) T->mem_used = T->mem_used - osize + nsize;
    return p;
}

static int fail(tycho *T, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int fail(tycho *T, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(T->errbuf, sizeof T->errbuf, fmt, ap);
    va_end(ap);
    T->err = T->errbuf;
    return code;
}

/* Takes the error object on top of the stack as the engine's message. */
static int lua_fail(tycho *T, int code)
{
    lua_State *L = T->L;
    if (lua_type(L, -1) != LUA_TSTRING)   /* lua_tostring would convert, i.e. allocate */
        return fail(T, code, "(error object is a %s value)", luaL_typename(L, -1));
    const char *msg = lua_tostring(L, -1);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ERROR_SLOT);
    T->err = msg;
    return code;
}

static int status_code(int status)
{
    switch (status) {
    case LUA_OK:        return TYCHO_OK;
    case LUA_ERRSYNTAX: return TYCHO_ERR_SYNTAX;
    case LUA_ERRMEM:    return TYCHO_ERR_MEMORY;
    case LUA_ERRFILE:   return TYCHO_ERR_FILE;
    default:            return TYCHO_ERR_RUN;
    }
}

/* As lua.c's: the error message plus a traceback; __tostring for error objects. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

static int p_open(lua_State *L)
{
    tycho *T = lua_touserdata(L, 1);
    luaL_openlibs(L);
    luaL_requiref(L, "tycho", luaopen_tycho, 1);
    lua_pushliteral(L, "");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ERROR_SLOT);
    /* Later issue: with T->cfg.sandbox set, remove io, os, debug, the package loaders,
       dofile, loadfile, tycho.load/save and binary chunks here. */
    (void)T;
    return 0;
}

tycho *tycho_open(const tycho_config *cfg)
{
    tycho *T = calloc(1, sizeof *T);
    if (!T) return NULL;
    if (cfg) T->cfg = *cfg;
    T->err = "";
    T->L = lua_newstate(engine_alloc, T);
    if (!T->L) {
        free(T);
        return NULL;
    }
    lua_pushcfunction(T->L, p_open);
    lua_pushlightuserdata(T->L, T);
    if (lua_pcall(T->L, 1, 0, 0) != LUA_OK) {
        lua_close(T->L);
        free(T);
        return NULL;
    }
    return T;
}

void tycho_close(tycho *T)
{
    if (!T) return;
    lua_close(T->L);
    free(T);
}

typedef struct run_args {
    const char *path;       /* file mode (NULL: stdin) */
    const char *code;       /* string mode when non-NULL */
    const char *chunkname;
    int         status;     /* status of the load or of the call, whichever failed */
} run_args;

/* Loading runs protected too: luaL_loadfilex allocates before it protects itself. */
static int p_run(lua_State *L)
{
    run_args *a = lua_touserdata(L, 1);
    lua_pushcfunction(L, msghandler);
    int handler = lua_gettop(L);
    /* Later issue: binary chunks ("b") are refused under the sandbox. */
    if (a->code)
        a->status = luaL_loadbufferx(L, a->code, strlen(a->code), a->chunkname, "bt");
    else
        a->status = luaL_loadfilex(L, a->path, "bt");
    if (a->status != LUA_OK) return lua_error(L);
    /* Later issue: the instruction limit installs its count hook around this call. */
    a->status = lua_pcall(L, 0, 0, handler);
    if (a->status != LUA_OK) return lua_error(L);
    return 0;
}

static int run(tycho *T, run_args *a)
{
    lua_State *L = T->L;
    int top = lua_gettop(L);
    a->status = LUA_OK;
    lua_pushcfunction(L, p_run);
    lua_pushlightuserdata(L, a);
    int status = lua_pcall(L, 1, 0, 0);
    int rc = TYCHO_OK;
    if (status != LUA_OK) {
        /* the inner status says what failed; the outer one covers p_run's own setup */
        rc = lua_fail(T, status_code(a->status != LUA_OK ? a->status : status));
    }
    lua_settop(L, top);
    return rc;
}

int tycho_run_file(tycho *T, const char *path)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    run_args a = { path, NULL, NULL, LUA_OK };
    return run(T, &a);
}

int tycho_run_string(tycho *T, const char *code, const char *chunkname)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    if (!code) return fail(T, TYCHO_ERR_ARG, "tycho_run_string: code is NULL");
    run_args a = { NULL, code, chunkname ? chunkname : code, LUA_OK };
    return run(T, &a);
}

const char *tycho_error(const tycho *T)
{
    return T ? T->err : "no engine (NULL)";
}

lua_State *tycho_lua(tycho *T)
{
    return T ? T->L : NULL;
}

/* ---- tensors in and out ---------------------------------------------------------------- */

typedef struct tensor_args {
    tycho         *T;
    const char    *name;
    int            ndim;
    const int64_t *shape;
    const double  *src;                          /* set */
    double        *wrap;                         /* wrap */
    void         (*release)(void *ud, double *data);
    void          *ud;
    double        *out;                          /* get */
    size_t         capacity;
    int           *ndim_out;
    int64_t       *shape_out;
    int            rc;                           /* get: an argument error found inside */
} tensor_args;

/* Checks what every tensor call shares; returns TYCHO_OK or the error. */
static int check_tensor_args(tycho *T, const char *fn, const char *name, int ndim,
                             const int64_t *shape, const void *data)
{
    if (!name) return fail(T, TYCHO_ERR_ARG, "%s: global name is NULL", fn);
    if (ndim < 0 || ndim > TYCHO_MAX_DIMS)
        return fail(T, TYCHO_ERR_ARG, "%s: ndim is %d (must be 0..%d)", fn, ndim,
                    TYCHO_MAX_DIMS);
    if (ndim > 0 && !shape) return fail(T, TYCHO_ERR_ARG, "%s: shape is NULL", fn);
    ty_error e;
    int rc = ty_check_shape(ndim, shape, &e);
    if (rc) return fail(T, rc == TY_EMEM ? TYCHO_ERR_MEMORY : TYCHO_ERR_ARG, "%s: %s", fn,
                        e.msg);
    if (!data && ty_shape_numel(ndim, shape) > 0)
        return fail(T, TYCHO_ERR_ARG, "%s: data is NULL", fn);
    return TYCHO_OK;
}

/* Pushes the globals table and the name: the raw set at the end then reuses both. */
static void push_globals_and_name(lua_State *L, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, name);
}

static int p_set(lua_State *L)
{
    tensor_args *a = lua_touserdata(L, 1);
    push_globals_and_name(L, a->name);
    ty_tensor *t = lt_push_new(L, a->ndim, a->shape);
    int64_t n = ty_numel(t);
    if (n > 0) memcpy(t->data, a->src, (size_t)n * sizeof(double));
    lua_rawset(L, -3);
    return 0;
}

static int p_wrap(lua_State *L)
{
    tensor_args *a = lua_touserdata(L, 1);
    push_globals_and_name(L, a->name);
    /* Everything that allocates happens before the storage takes over the host's data:
       after that nothing may fail, or the host would see an error and a release call. */
    lua_pushvalue(L, -1);
    lua_pushboolean(L, 0);
    lua_rawset(L, -4);                       /* the key exists now: the last rawset cannot grow */
    ty_tensor *t = lt_push_empty(L);
    ty_allocator al = lt_allocator(L);
    ty_error e;
    ty_storage *s = ty_storage_wrap(&al, a->wrap, ty_shape_numel(a->ndim, a->shape),
                                    a->release, a->ud, &e);
    if (!s) return lt_raise(L, &e);
    t->storage = s;
    t->data = a->wrap;
    t->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++) t->shape[i] = a->shape[i];
    ty_contiguous_strides(a->ndim, a->shape, t->stride);
    lua_rawset(L, -3);
    return 0;
}

static int p_get(lua_State *L)
{
    tensor_args *a = lua_touserdata(L, 1);
    push_globals_and_name(L, a->name);
    lua_rawget(L, -2);
    ty_tensor *t = lt_test(L, -1);
    if (!t || !t->data) {
        if (t)
            a->rc = fail(a->T, TYCHO_ERR_ARG, "tycho_get_tensor: global '%s' is a closed tensor",
                         a->name);
        else
            a->rc = fail(a->T, TYCHO_ERR_ARG,
                         "tycho_get_tensor: global '%s' is not a tensor (a %s value)", a->name,
                         luaL_typename(L, -1));
        return 0;
    }
    if (a->ndim_out) *a->ndim_out = t->ndim;
    if (a->shape_out)
        for (int i = 0; i < t->ndim; i++) a->shape_out[i] = t->shape[i];
    int64_t n = ty_numel(t);
    if ((uint64_t)n > a->capacity) {
        char shape[160];
        a->rc = fail(a->T, TYCHO_ERR_ARG,
                     "tycho_get_tensor: '%s' (%s) has %lld elements but capacity is %zu",
                     a->name, ty_shape_str(t, shape, sizeof shape), (long long)n, a->capacity);
        return 0;
    }
    if (n > 0) {
        ty_tensor dst;
        memset(&dst, 0, sizeof dst);
        dst.data = a->out;
        dst.ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++) dst.shape[i] = t->shape[i];
        ty_contiguous_strides(t->ndim, t->shape, dst.stride);
        ty_copy_flat(&dst, t);
    }
    return 0;
}

/* Runs a tensor call protected; a Lua error inside can only be a lack of memory. */
static int call_tensor(tycho *T, lua_CFunction f, tensor_args *a)
{
    lua_State *L = T->L;
    int top = lua_gettop(L);
    a->T = T;
    a->rc = TYCHO_OK;
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, a);
    int status = lua_pcall(L, 1, 0, 0);
    int rc = status == LUA_OK ? a->rc : lua_fail(T, TYCHO_ERR_MEMORY);
    lua_settop(L, top);
    return rc;
}

int tycho_set_tensor(tycho *T, const char *global, const double *data, int ndim,
                     const int64_t *shape)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    int rc = check_tensor_args(T, "tycho_set_tensor", global, ndim, shape, data);
    if (rc) return rc;
    tensor_args a;
    memset(&a, 0, sizeof a);
    a.name = global;
    a.ndim = ndim;
    a.shape = shape;
    a.src = data;
    return call_tensor(T, p_set, &a);
}

int tycho_wrap_tensor(tycho *T, const char *global, double *data, int ndim,
                      const int64_t *shape, void (*release)(void *ud, double *data), void *ud)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    int rc = check_tensor_args(T, "tycho_wrap_tensor", global, ndim, shape, data);
    if (rc) return rc;
    tensor_args a;
    memset(&a, 0, sizeof a);
    a.name = global;
    a.ndim = ndim;
    a.shape = shape;
    a.wrap = data;
    a.release = release;
    a.ud = ud;
    return call_tensor(T, p_wrap, &a);
}

int tycho_get_tensor(tycho *T, const char *global, double *out, size_t capacity, int *ndim,
                     int64_t shape[TYCHO_MAX_DIMS])
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    if (!global) return fail(T, TYCHO_ERR_ARG, "tycho_get_tensor: global name is NULL");
    if (!out && capacity > 0) return fail(T, TYCHO_ERR_ARG, "tycho_get_tensor: out is NULL");
    tensor_args a;
    memset(&a, 0, sizeof a);
    a.name = global;
    a.out = out;
    a.capacity = out ? capacity : 0;
    a.ndim_out = ndim;
    a.shape_out = shape;
    return call_tensor(T, p_get, &a);
}
