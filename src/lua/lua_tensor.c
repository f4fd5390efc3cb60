/* lua_tensor.c: the tycho.Tensor userdata: its two kinds and their metatables, checking
   and pushing tensors, pinning views, raising core errors, and the collector's pacing by the
   tensor data Lua cannot see. The functions on tensors live in lua_create.c, lua_views.c
   and lua_math.c, which register into the tables made here. */
#include "lua/lua_tensor.h"

#include <string.h>

#include "core/format.h"

/* The type's name (getmetatable(t), messages). Not a way to check tensors: the small and
   the big kind have metatables of their own, and lt_check/lt_test are the one way. */
#define LT_TENSOR "tycho.Tensor"

/* Metatables are found by a pointer key in the registry: a light-userdata lookup costs far
   less than luaL_testudata's string key, and tensor checks run on every call.
   Tensors come in two kinds with the same methods. Big ones hold a reference to refcounted
   storage and need a finalizer (tensor_key). Small ones keep their elements inside the
   userdata itself, and views of them keep their base alive through a user value: they need
   no finalizer, so Lua frees them in one sweep, without a __gc call and a second cycle,
   which is most of what a small result used to cost (small_key). */
static const char tensor_key = 0, small_key = 0;

/* Elements up to this many bytes live inside the userdata. */
#define SMALL_BYTES 512

void *lt_testudata(lua_State *L, int i, const void *key)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? p : NULL;
}

void lt_setmetatable(lua_State *L, const void *key)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    lua_setmetatable(L, -2);
}

int lt_newmetatable(lua_State *L, const char *name, const void *key)
{
    if (!luaL_newmetatable(L, name)) return 0;
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
    return 1;
}

/* Both tensor metatables carry, at integer keys (array reads, where the registry's are hash
   lookups by pointer, a third of a small view's cost): MT_MARK, a light userdata no script
   can make (&tensor_key), so a metatable holding it is one of the two; MT_BIG, the big
   kind's metatable (for the views of any tensor); MT_TALLY, the state's tally. */
enum { MT_MARK = 1, MT_BIG = 2, MT_TALLY = 3 };

ty_tensor *lt_test(lua_State *L, int i)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i)) return NULL;
    int same = lua_rawgeti(L, -1, MT_MARK) == LUA_TLIGHTUSERDATA &&
               lua_touserdata(L, -1) == (void *)&tensor_key;
    lua_pop(L, 2);
    return same ? p : NULL;
}

void lt_push_tensor_metatables(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &small_key);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_key);
}

ty_tensor *lt_test_up(lua_State *L, int i)
{
    void *p = lua_touserdata(L, i);
    if (!p || !lua_getmetatable(L, i)) return NULL;
    /* tables are equal when they are the same object: comparing their addresses skips
       lua_rawequal's general comparison */
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    int same = mt == lua_topointer(L, lua_upvalueindex(LT_UP_SMALL)) ||
               mt == lua_topointer(L, lua_upvalueindex(LT_UP_TENSOR));
    return same ? p : NULL;
}

ty_tensor *lt_check(lua_State *L, int i)
{
    ty_tensor *t = lt_test(L, i);
    if (!t) luaL_typeerror(L, i, "tensor");
    if (!t->data) luaL_argerror(L, i, "tensor was closed");
    return t;
}

void lt_alive(lua_State *L, const ty_tensor *t, int i)
{
    if (!t->data) luaL_argerror(L, i, "tensor was closed during the call");
}

/* Bytes of tensor data alive in a Lua state, outside its heap, and what the last full
   collection left alive: Lua's collector sees only the userdata that own the data, so the
   bindings time full collections by these (lt_gc_pressure). One per state, a userdata in
   the registry; it outlives every storage block, since Lua runs all finalizers before it
   frees any object. */
typedef struct tally {
    int64_t live;
    int64_t after_full;
    int64_t since_step;       /* bytes asked for since the last step */
    int64_t small_since;      /* bytes of small tensors asked for since the last small step */
    int64_t full_collections; /* run by collect_all */
    int     closing;          /* lt_closing: the state is being closed */
} tally;
static const char tally_key = 0;

static tally *get_tally(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tally_key);
    tally *t = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return t;
}

static void open_tally(lua_State *L)
{
    if (get_tally(L)) return;
    tally *t = lua_newuserdatauv(L, sizeof *t, 0);
    t->live = 0;
    t->after_full = 0;
    t->since_step = 0;
    t->small_since = 0;
    t->full_collections = 0;
    t->closing = 0;
    lua_rawsetp(L, LUA_REGISTRYINDEX, &tally_key);
}

static ty_allocator allocator_with(lua_State *L, tally *t)
{
    ty_allocator a;
    a.fn = lua_getallocf(L, &a.ud);
    a.tally = t ? &t->live : NULL;
    return a;
}

ty_allocator lt_allocator(lua_State *L)
{
    return allocator_with(L, get_tally(L));
}

static void collect_all(lua_State *L, tally *t)
{
    lua_gc(L, LUA_GCCOLLECT);
    if (t) {
        t->after_full = t->live;
        t->full_collections++;
    }
}

int lt_raise(lua_State *L, const ty_error *e)
{
    /* the core's out-of-memory is Lua's own memory error: lua_error with the very message
       the VM uses raises LUA_ERRMEM, which pcall reports as such and hosts classify by */
    if (e->code == TY_EMEM) {
        lua_pushliteral(L, "not enough memory");
        return lua_error(L);
    }
    return luaL_error(L, "%s", e->msg);
}

void lt_closing(lua_State *L)
{
    tally *t = get_tally(L);
    if (t) t->closing = 1;
}

void lt_check_open(lua_State *L)
{
    tally *t = get_tally(L);
    if (t && t->closing) luaL_error(L, "the engine is closing: no new tensors or layers");
}

ty_tensor *lt_push_empty(lua_State *L)
{
    lt_check_open(L);
    ty_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    lt_setmetatable(L, &tensor_key);
    return t;
}

/* Tensor bytes are invisible to Lua's collector, so each tensor that brings its own data
   reports it before allocating it (Lua's own advice for external memory). Tensors of 64 KB
   or more step the collector once STEP_KB of them have been asked for since the last step
   (so every one from STEP_KB up): the step frees the young garbage, the temporaries of a
   loop's last passes, whose warm memory the new tensor then reuses, and a few of them still
   fit in the L2 (a + b on 1e4 elements: 2.66-2.70 us stepping at every one, 2.54-2.58 us
   at every fourth; NumPy 2.52 us). A tensor that lived long enough
   to grow old in a generational collector, or any garbage an incremental collector has not
   reached yet, waits for a full collection, which the Lua heap alone would seldom ask for:
   one runs whenever the tensor data alive has grown by as much as the last one left (Lua's
   default pause for its own heap), and by FULL_MIN_BYTES at least. */
#define FULL_MIN_BYTES ((int64_t)32 << 20)
#define STEP_KB 256
/* Tensors under 64 KB are paced by the Lua heap their userdata grow, which a generational
   collector watches relative to the heap it keeps: as the library's Lua parts grew, 8 KB
   temporaries in a loop came to hold 19 MB before a collection (spec/gc_spec.lua). Their
   bytes count too: one step of the collector per SMALL_STEP_BYTES of them (a step for every
   512 temporaries of 8 KB costs nothing measurable). */
#define SMALL_STEP_BYTES ((int64_t)4 << 20)

static void gc_pressure(lua_State *L, tally *t, int64_t elements)
{
    int64_t kb = elements / 128; /* 8 bytes each */
    if (t && kb >= 64) {
        t->since_step += elements * 8;
        kb = t->since_step >> 10;
    } else if (t && (t->small_since += elements * 8) >= SMALL_STEP_BYTES) {
        t->small_since = 0;
        lua_gc(L, LUA_GCSTEP, 0);
    }
    if (kb >= STEP_KB) {
        lua_gc(L, LUA_GCSTEP, (int)(kb > (1 << 30) ? (1 << 30) : kb));
        if (t) t->since_step = 0;
    }
    /* after the step: a loop's big temporaries die young, and must not cost a full
       collection each time they outgrow what the last one left */
    if (t) {
        int64_t grown = t->live - t->after_full;
        if (grown > t->after_full && grown > FULL_MIN_BYTES) collect_all(L, t);
    }
}

void lt_gc_pressure(lua_State *L, int64_t elements)
{
    gc_pressure(L, get_tally(L), elements);
}

/* Out of memory for tensor data: collect the garbage tensors Lua could not see and retry,
   then fail as Lua itself does (LUA_ERRMEM, lt_raise). */
static int alloc_or_raise(lua_State *L, tally *tl, ty_tensor *t, int ndim, const int64_t *shape)
{
    ty_allocator a = allocator_with(L, tl);
    ty_error e;
    int rc = ty_tensor_alloc(t, &a, ndim, shape, &e);
    if (rc == TY_EMEM) {
        collect_all(L, tl);
        rc = ty_tensor_alloc(t, &a, ndim, shape, &e);
        if (rc == TY_EMEM) lt_raise(L, &e);
    }
    if (rc) {
        /* name the Lua-visible function that asked, as luaL_argerror does */
        lua_Debug ar;
        const char *fname = "tensor";
        if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name) fname = ar.name;
        luaL_error(L, "%s: %s", fname, e.msg);
    }
    return rc;
}

static ty_tensor *push_new(lua_State *L, int ndim, const int64_t *shape_in, int small_mt_up)
{
    /* shape_in may be a tensor's own shape, and stepping the collector may close it */
    int64_t shape[TY_MAX_DIMS];
    if (ndim > 0 && ndim <= TY_MAX_DIMS) memcpy(shape, shape_in, (size_t)ndim * sizeof shape[0]);
    /* Step the collector before a big allocation rather than after: the temporaries of the
       previous iteration of a loop are freed first, and the new tensor reuses their warm
       memory instead of growing the working set past the caches. One tally lookup serves
       the step and the allocator. */
    int shape_ok = ty_check_shape(ndim, shape, NULL) == TY_OK;
    if (shape_ok) {
        int64_t n = ty_shape_numel(ndim, shape);
        if (n <= SMALL_BYTES / (int64_t)sizeof(double)) {
            ty_tensor *t = lua_newuserdatauv(L, sizeof *t + (size_t)n * sizeof(double), 0);
            memset(t, 0, sizeof *t);
            t->data = (double *)(t + 1);
            t->ndim = ndim;
            for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
            ty_contiguous_strides(ndim, shape, t->stride);
            if (small_mt_up) {
                lua_pushvalue(L, lua_upvalueindex(LT_UP_SMALL));
                lua_setmetatable(L, -2);
            } else {
                lt_setmetatable(L, &small_key);
            }
            return t;
        }
    }
    tally *tl = get_tally(L);
    if (shape_ok) gc_pressure(L, tl, ty_shape_numel(ndim, shape));
    ty_tensor *t = lt_push_empty(L);
    alloc_or_raise(L, tl, t, ndim, shape);
    return t;
}

ty_tensor *lt_push_new(lua_State *L, int ndim, const int64_t *shape)
{
    return push_new(L, ndim, shape, 0);
}

ty_tensor *lt_push_new_up(lua_State *L, int ndim, const int64_t *shape)
{
    return push_new(L, ndim, shape, 1);
}

/* An empty big tensor, its metatable and tally found through the owner's metatable (a
   tensor's) instead of the registry. */
static ty_tensor *push_empty_beside(lua_State *L, int owner)
{
    if (!lua_getmetatable(L, owner)) return lt_push_empty(L);
    lua_rawgeti(L, -1, MT_TALLY);
    tally *tl = lua_touserdata(L, -1);
    if (tl && tl->closing) luaL_error(L, "the engine is closing: no new tensors or layers");
    lua_rawgeti(L, -2, MT_BIG);
    ty_tensor *t = lua_newuserdatauv(L, sizeof *t, 0);
    memset(t, 0, sizeof *t);
    lua_insert(L, -4);    /* t, mt, tally, big */
    lua_setmetatable(L, -4);
    lua_pop(L, 2);
    return t;
}

ty_tensor *lt_push_view(lua_State *L, const ty_tensor *src, int owner)
{
    owner = lua_absindex(L, owner);
    ty_tensor *o = lua_touserdata(L, owner);
    if (src->storage) {
        ty_tensor *t = push_empty_beside(L, owner);
        /* the allocation may have run a finalizer that closed the owner, and with it the
           storage src names: share it only if the owner still holds it */
        lt_alive(L, o, owner);
        ty_tensor_share(t, src);
        return t;
    }
    /* src's elements live inside a small tensor: the owner itself, or the base its own user
       value holds when the owner is a view (so views of views never chain) */
    ty_tensor *t = lua_newuserdatauv(L, sizeof *t, 1);
    memset(t, 0, sizeof *t);
    lt_setmetatable(L, &small_key);
    if (lua_getiuservalue(L, owner, 1) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        lua_pushvalue(L, owner);
    }
    lua_setiuservalue(L, -2, 1);
    lt_alive(L, o, owner);
    *t = *src;
    return t;
}

/* ---- metamethods, and what the module tells of tensors --------------------------------- */

static int buffer_writer(void *ud, const char *s, size_t n)
{
    luaL_addlstring((luaL_Buffer *)ud, s, n);
    return 0;
}

static int m_tostring(lua_State *L)
{
    ty_tensor *t = lt_test(L, 1);
    if (!t) luaL_typeerror(L, 1, "tensor");
    if (!t->data) {
        lua_pushliteral(L, "tensor(closed)");
        return 1;
    }
    /* the buffer grows as the text does, and a finalizer its allocations run may close t:
       the text is made from a view that keeps the elements alive */
    ty_tensor *pin = lt_push_view(L, t, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    ty_format_tensor(pin, buffer_writer, &b);
    luaL_pushresult(&b);
    return 1;
}

static int m_gc(lua_State *L)
{
    ty_tensor *t = lt_test(L, 1);
    if (!t) luaL_typeerror(L, 1, "tensor");
    ty_tensor_free(t);
    return 0;
}

/* tycho.memory(): bytes of tensor data alive in this Lua state (outside the Lua heap, which
   collectgarbage("count") gives), and how many full collections they asked for. */
static int l_memory(lua_State *L)
{
    lt_check_nargs(L, 0, "memory");
    tally *t = get_tally(L);
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, t ? (lua_Integer)t->live : 0);
    lua_setfield(L, -2, "bytes");
    lua_pushinteger(L, t ? (lua_Integer)t->full_collections : 0);
    lua_setfield(L, -2, "full_collections");
    return 1;
}

static int l_is_tensor(lua_State *L)
{
    lt_check_nargs(L, 1, "is_tensor");
    lua_pushboolean(L, lt_test(L, 1) != NULL);
    return 1;
}

void lt_push_tensor_methods(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_key);
    lua_getfield(L, -1, "methods");
    lua_remove(L, -2);
}

void lt_setfuncs_at(lua_State *L, int idx, const luaL_Reg *fns)
{
    lua_pushvalue(L, idx);
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 1);
}

static void check_nargs(lua_State *L, int n, const char *fname, const char *note)
{
    int top = lua_gettop(L);
    while (top > n && lua_isnil(L, top)) top--;
    if (top > n) luaL_error(L, "%s: takes at most %d argument%s, got %d%s", fname, n, n == 1 ? "" : "s", top, note);
}

void lt_check_nargs(lua_State *L, int n, const char *fname) { check_nargs(L, n, fname, ""); }

/* A function with a bound on its arguments runs behind this check: nothing is silently
   ignored. Upvalue 1 is its lt_fn entry. */
static int call_checked(lua_State *L)
{
    const lt_fn *f = lua_touserdata(L, lua_upvalueindex(1));
    if (lua_gettop(L) > f->nargs)
        check_nargs(L, f->nargs, f->name, f->where & LT_METHOD ? " (t:name(...) counts t as one)" : "");
    return f->fn(L);
}

static void push_fn(lua_State *L, const lt_fn *f)
{
    if (f->nargs > 0) {
        lua_pushlightuserdata(L, (void *)f);
        lua_pushcclosure(L, call_checked, 1);
    } else {
        lua_pushcfunction(L, f->fn);
    }
}

void lt_register_fns(lua_State *L, int mt, int methods, int module, const lt_fn *fns)
{
    for (; fns->name; fns++) {
        if (fns->where & LT_METHOD) {
            push_fn(L, fns);
            lua_setfield(L, methods, fns->name);
        }
        if (fns->where & LT_FUNCTION) {
            push_fn(L, fns);
            lua_setfield(L, module, fns->name);
        }
        if (fns->where & LT_META) {
            lua_pushcfunction(L, fns->fn);
            lua_setfield(L, mt, fns->name);
        }
    }
}

static const luaL_Reg lifetime_metamethods[] = {
    { "__gc", m_gc }, { "__close", m_gc }, { "__tostring", m_tostring }, { NULL, NULL }
};

static const luaL_Reg lifetime_functions[] = {
    { "memory", l_memory }, { "is_tensor", l_is_tensor }, { NULL, NULL }
};

/* The small kind's metatable: the big kind's fields but __gc (its elements live inside
   the userdata: nothing to free, so Lua frees it in one sweep). */
static void make_small_metatable(lua_State *L, int mt)
{
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, mt)) {
        if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "__gc") == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &small_key);
}

/* MT_MARK, MT_BIG and MT_TALLY into the metatable at mt (see lt_test). */
static void mark_metatable(lua_State *L, int mt)
{
    lua_pushlightuserdata(L, (void *)&tensor_key);
    lua_rawseti(L, mt, MT_MARK);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tensor_key);
    lua_rawseti(L, mt, MT_BIG);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &tally_key);
    lua_rawseti(L, mt, MT_TALLY);
}

void lt_open_tensor(lua_State *L)
{
    int module = lua_gettop(L);
    open_tally(L);
    int fresh = lt_newmetatable(L, LT_TENSOR, &tensor_key);
    int mt = lua_gettop(L);
    if (fresh) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, mt, "methods"); /* other binding files add methods here */
        lua_pushliteral(L, "tycho.Tensor");
        lua_setfield(L, mt, "__name");
        /* getmetatable(t) gives the type name, and setmetatable refuses: a script that could
           reach the metatable could remove __gc (a leak) or replace it with Lua code (run
           outside the instruction limit, or closing a tensor a C function is using) */
        lua_pushliteral(L, "tycho.Tensor");
        lua_setfield(L, mt, "__metatable");
    } else {
        lua_getfield(L, mt, "methods");
    }
    int methods = lua_gettop(L);
    lt_setfuncs_at(L, mt, lifetime_metamethods);
    lt_setfuncs_at(L, module, lifetime_functions);
    lt_register_create(L, mt, methods, module);
    lt_register_views(L, mt, methods, module);
    lt_register_math(L, mt, methods, module);
    lt_register_join(L, mt, methods, module);
    if (fresh) {
        mark_metatable(L, mt);
        make_small_metatable(L, mt); /* copies the marks */
    }
    lua_settop(L, module);
}
