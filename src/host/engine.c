/* engine.c: the embedding API of tycho.h: one Lua state per engine with a byte-counting
   allocator, the sandbox and the limits; everything that can raise runs protected. */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

#include "tycho.h"
#include "host/engine.h"
#include "lua/lua_tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The count hook fires every HOOK_CHUNK VM instructions of the main thread and every
   CO_HOOK_CHUNK of a coroutine: cheap, and what a thread runs after its last firing goes
   uncounted. The main thread loses at most HOOK_CHUNK per run. A coroutine is charged
   CO_HOOK_CHUNK when it is made, which covers what it runs after its last firing, so a
   tree of short-lived coroutines cannot run uncounted (a count kept per thread across its
   yields, so a generator is charged once, not at every resume). */
#define HOOK_CHUNK    1000
#define CO_HOOK_CHUNK 100

/* Small blocks are recycled per engine. A script's loop frees and allocates the same few
   sizes (small tensors, tables, closures) in bursts as the collector sweeps, and popping a
   free list of the size class costs far less than malloc's bins for such bursts. Blocks up
   to POOL_MAX_BLOCK bytes are allocated at their class size (a multiple of POOL_GRAIN);
   at most POOL_BYTES wait in the pool, the rest go back to free(). */
#define POOL_GRAIN     16
#define POOL_MAX_BLOCK 768
#define POOL_CLASSES   (POOL_MAX_BLOCK / POOL_GRAIN)
#if defined(__SANITIZE_ADDRESS__)
#define POOL_BYTES 0 /* every block back to free(), where AddressSanitizer watches it */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_BYTES 0
#endif
#endif
#ifndef POOL_BYTES
#define POOL_BYTES ((size_t)1 << 20)
#endif

typedef struct pool_block {
    struct pool_block *next;
} pool_block;

struct tycho {
    lua_State    *L;
    tycho_config  cfg;
    size_t        mem_used;     /* bytes held through engine_alloc: Lua objects and tensors */
    size_t        mem_peak;     /* the most mem_used has been since open or the last reset */
    uint64_t      fail_in;      /* fault injection: growths until the first refused one (it
                                   stays at 1: every later growth fails too); 0: off */
    int           fail_reached; /* fault injection refused an allocation since it was armed */
    unsigned long refused;      /* growths refused (limit, injection, malloc) in this run */
    uint64_t      executed;     /* VM instructions counted in this run */
    int           limit_hit;    /* the instruction limit was exceeded in this run */
    int           co_nesting;   /* coroutine calls in progress (coroutine_enter) */
    char          limit_msg[160]; /* the limit's error as first raised in this run */
    int           traced;       /* the message handler has made this run's traceback */
    uintptr_t     co_stack_base; /* the C stack where the outermost of them started */
    int           depth;        /* runs in progress: a host callback may run a nested chunk */
    const char   *err;          /* "", errbuf, or a message anchored in the registry */
    char          errbuf[512];
    struct pool_block *pool[POOL_CLASSES]; /* freed small blocks by size class */
    size_t        pool_held;    /* bytes in the pool */
};

/* Registry slot that keeps the last script error alive while tycho_error points into it.
   It exists from tycho_open on, so storing a message later allocates nothing. */
static const char ERROR_SLOT = 0;
/* Registry slots: the run's traceback (msghandler); the messages Lua 5.4.4's lua_resume
   makes on the coroutine it cannot resume, which has no error handler of its own: a memory
   error there is thrown on the main thread, past the resumer's frames, so they must already
   exist (an interned string is found, never allocated); a weak set of the coroutines the
   instruction limit ended (their hooks stay off). */
static const char TRACED_SLOT = 0, RESUME_MESSAGES = 0, LIMIT_VICTIMS = 0;

/* Lua calls a finalizer with its collector stopped (lua_gc answers -1 then) and skips for
   good one it has no memory to call: a tensor's data would leak. So while a finalizer is
   called and runs, allocations may exceed the budget by FINALIZER_SLACK, and fault
   injection leaves them alone. */
#define FINALIZER_SLACK ((size_t)1 << 20)

static int in_finalizer(tycho *T)
{
    return T->L && lua_gc(T->L, LUA_GCISRUNNING) == -1;
}

static int over_budget(size_t used, size_t grow, size_t limit)
{
    return used > limit || grow > limit - used;
}

/* Class index of a block of n bytes, 1 <= n <= POOL_MAX_BLOCK, and its capacity. */
static size_t pool_class(size_t n) { return (n - 1) / POOL_GRAIN; }
static size_t pool_size(size_t c) { return (c + 1) * POOL_GRAIN; }

static void pool_free(tycho *T, void *ptr, size_t osize)
{
    if (!ptr) return;
    if (osize > 0 && osize <= POOL_MAX_BLOCK &&
        T->pool_held + pool_size(pool_class(osize)) <= POOL_BYTES) {
        size_t c = pool_class(osize);
        pool_block *b = ptr;
        b->next = T->pool[c];
        T->pool[c] = b;
        T->pool_held += pool_size(c);
        return;
    }
    free(ptr);
}

/* realloc with the pool's rule: a block of at most POOL_MAX_BLOCK bytes has at least its
   class's capacity, so any block of the class can stand in for it. */
static void *pool_realloc(tycho *T, void *ptr, size_t osize, size_t nsize)
{
    if (nsize > POOL_MAX_BLOCK) {
        if (ptr && osize <= POOL_MAX_BLOCK) { /* out of the pool's range: move */
            void *p = malloc(nsize);
            if (p) {
                memcpy(p, ptr, osize);
                pool_free(T, ptr, osize);
            }
            return p;
        }
        return realloc(ptr, nsize);
    }
    size_t c = pool_class(nsize);
    if (ptr && osize <= POOL_MAX_BLOCK && pool_class(osize) == c) return ptr;
    void *p;
    if (T->pool[c]) {
        pool_block *b = T->pool[c];
        T->pool[c] = b->next;
        T->pool_held -= pool_size(c);
        p = b;
    } else if (ptr && osize > POOL_MAX_BLOCK) {
        return realloc(ptr, pool_size(c)); /* a shrink into the pool's range */
    } else {
        p = malloc(pool_size(c));
        if (!p) return NULL;
    }
    if (ptr) {
        memcpy(p, ptr, osize < nsize ? osize : nsize);
        pool_free(T, ptr, osize);
    }
    return p;
}

static void pool_drain(tycho *T)
{
    for (size_t c = 0; c < POOL_CLASSES; c++) {
        while (T->pool[c]) {
            pool_block *b = T->pool[c];
            T->pool[c] = b->next;
            free(b);
        }
    }
    T->pool_held = 0;
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Before it reports a refused allocation, Lua collects the whole heap (an emergency
   collection) and tries again: a loop of refused allocations is a loop of full collections,
   each one VM instruction. Under the instruction limit each refusal is charged what that
   collection costs, one instruction per 16 bytes held (measured: a 60 MB heap of small
   tables takes 13.6 ms), and once that uses up the budget the main thread stops at its next
   instruction (lua_sethook may be called at any time, as from a signal handler). */
static void refused(tycho *T)
{
    T->refused++;
    uint64_t limit = T->cfg.instruction_limit;
    if (!limit || !T->depth || !T->L || in_finalizer(T)) return;
    uint64_t cost = T->mem_used / 16 + 1;
    T->executed = T->executed < limit && cost < limit - T->executed ? T->executed + cost : limit;
    if (T->executed >= limit) lua_sethook(T->L, count_hook, LUA_MASKCOUNT, 1);
}

/* The lua_Alloc of every engine: Lua objects and tensor storage (lt_allocator hands this
   allocator to the core) share one budget, cfg.memory_limit. Only growth can fail: Lua
   assumes that freeing and shrinking never do. */
static void *engine_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    tycho *T = ud;
    if (!ptr) osize = 0;   /* for new blocks Lua passes the object kind in osize */
    if (nsize == 0) {
        pool_free(T, ptr, osize);
        T->mem_used -= osize;
        return NULL;
    }
    if (nsize > osize) {
        size_t limit = T->cfg.memory_limit, grow = nsize - osize;
        int refuse = limit && over_budget(T->mem_used, grow, limit);
        if ((refuse || T->fail_in) && in_finalizer(T)) {
            size_t cap = limit > SIZE_MAX - FINALIZER_SLACK ? SIZE_MAX : limit + FINALIZER_SLACK;
            refuse = limit && over_budget(T->mem_used, grow, cap);
        } else if (T->fail_in == 1) {
            refuse = 1;
            T->fail_reached = 1;
        } else if (T->fail_in > 1) {
            T->fail_in--;
        }
        if (refuse) {
            refused(T);
            return NULL;
        }
    }
    void *p = pool_realloc(T, ptr, osize, nsize);
    if (!p) {
        if (nsize > osize) {
            refused(T);
            return NULL;
        }
        p = ptr;   /* a shrink that realloc refused: the old block is big enough */
    }
    T->mem_used = T->mem_used - osize + nsize;
    if (T->mem_used > T->mem_peak) T->mem_peak = T->mem_used;
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

static tycho *engine_of(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Takes the error object on top of the stack as the engine's message. */
static int lua_fail(tycho *T, int code)
{
    lua_State *L = T->L;
    if (code == TYCHO_ERR_LIMIT && lua_type(L, -1) != LUA_TSTRING)
        return fail(T, code, "%s", T->limit_msg);
    if (lua_type(L, -1) != LUA_TSTRING)   /* lua_tostring would convert, i.e. allocate */
        return fail(T, code, "(error object is a %s value)", luaL_typename(L, -1));
    const char *msg = lua_tostring(L, -1);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ERROR_SLOT);
    T->err = msg;
    return code;
}

/* The code for a failed load or call; the error object is on top of the stack. */
static int classify(tycho *T, int status)
{
    if (T->limit_hit) return TYCHO_ERR_LIMIT;
    switch (status) {
    case LUA_OK:        return TYCHO_OK;
    case LUA_ERRSYNTAX: return TYCHO_ERR_SYNTAX;
    case LUA_ERRMEM:    return TYCHO_ERR_MEMORY;
    case LUA_ERRFILE:   return TYCHO_ERR_FILE;
    default:            break;
    }
    /* every refused allocation raises LUA_ERRMEM (Lua's own, lauxlib's buffers and the
       binding's, lt_raise), but a message handler that then runs out of memory gives
       LUA_ERRERR */
    if (status == LUA_ERRERR && T->refused) return TYCHO_ERR_MEMORY;
    return TYCHO_ERR_RUN;
}

static int p_traceback(lua_State *L)
{
    /* level 2: past this function and the handler that called it */
    luaL_traceback(L, L, lua_tostring(L, 1), 2);
    return 1;
}

/* As lua.c's: the error message plus a traceback; __tostring for error objects. Without
   memory for the traceback, the message alone. */
static int msghandler(lua_State *L)
{
    /* past the limit, whatever error ends the run (a __close method's, say), it ends with
       the limit's message, as first raised, with its position */
    tycho *T = engine_of(L);
    if (T->limit_hit && T->limit_msg[0]) {
        /* each pending __close raises the limit again as the run unwinds: the traceback is
           made once (a script can make it costly: it walks package.loaded) and kept */
        if (T->traced) {
            lua_rawgetp(L, LUA_REGISTRYINDEX, &TRACED_SLOT);
            return 1;
        }
        lua_pushstring(L, T->limit_msg);
        lua_replace(L, 1);
    } else if (T->traced) {
        lua_settop(L, 1); /* a later error of the same unwinding: its message alone */
        return 1;
    }
    if (!lua_isstring(L, 1)) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        lua_replace(L, 1);
    }
    lua_settop(L, 1);
    lua_pushcfunction(L, p_traceback);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) lua_settop(L, 1);
    T->traced = 1;
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &TRACED_SLOT);
    return 1;
}

/* Only a host that calls the raw state (tycho_lua) outside a protected call gets here: the
   engine's own calls all run protected. Lua aborts when this returns, so say why first,
   as lauxlib's handler does; it is the one place the library writes to stderr. */
static int panic(lua_State *L)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                                     : "error object is not a string";
    fprintf(stderr, "tycho: PANIC: unprotected error in call to Lua API (%s)\n", msg);
    fflush(stderr);
    return 0;
}

/* ---- the instruction limit --------------------------------------------------------------- */

static void count_hook(lua_State *L, lua_Debug *ar);


/* Past the limit: every instruction of L and of the main thread raises this again. */
static int raise_limit(lua_State *L, tycho *T, int level)
{
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    if (L != T->L) lua_sethook(T->L, count_hook, LUA_MASKCOUNT, 1);
    char msg[64];
    snprintf(msg, sizeof msg, "instruction limit of %llu exceeded",
             (unsigned long long)T->cfg.instruction_limit);
    luaL_where(L, level);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    if (!T->limit_msg[0]) snprintf(T->limit_msg, sizeof T->limit_msg, "%s", lua_tostring(L, -1));
    return lua_error(L);
}

/* Counts instructions in chunks on every thread: coroutines inherit the hook from the
   thread that creates them. Past the limit it fires again on the very next instruction of
   this thread and of the main one (Redis's luaMaskCountHook does the same for its script
   timeout), so a pcall or coroutine.resume that catches the error gets no further. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    tycho *T = engine_of(L);
    uint64_t limit = T->cfg.instruction_limit;
    int every = lua_gethookcount(L), chunk = L == T->L ? HOOK_CHUNK : CO_HOOK_CHUNK;
    if (!T->depth || !limit) return;   /* outside tycho_run_*: not counted */
    if (!T->limit_hit) {
        if (T->executed <= limit && (uint64_t)every <= limit - T->executed) {
            T->executed += (uint64_t)every;
            if (every != chunk) lua_sethook(L, count_hook, LUA_MASKCOUNT, chunk);
            return;
        }
        T->executed = limit;
        T->limit_hit = 1;
    }
    raise_limit(L, T, 0);   /* level 0 in a hook: the Lua function that was running */
}

/* Finalizers run with hooks off (lgc.c's GCTM), so a __gc loop would never meet the limit:
   under the limit a script may not make one. Lua marks an object for finalization only when
   its metatable has __gc at setmetatable time, so checking here is enough. */
static int guarded_setmetatable(lua_State *L)
{
    /* the checks of lbaselib's setmetatable first, so that they name it */
    int t = lua_type(L, 2);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (t == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int has_gc = lua_rawget(L, 2) != LUA_TNIL;
        lua_pop(L, 1);
        if (has_gc)
            return luaL_error(L, "setmetatable: __gc metamethods are disabled under the "
                                 "instruction limit (finalizers run outside it)");
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* A message handler runs with hooks off when the error came from a hook, i.e. from the limit
   itself: under the limit, xpcall's handler is wrapped so that it does not run at all
   once the limit is hit (the limit's message passes through untouched). */
static int handler_guard(lua_State *L)
{
    if (engine_of(L)->limit_hit) {
        lua_settop(L, 1);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* xpcall as lbaselib's (a protected call with a continuation, so that the function may
   yield), with the handler behind handler_guard; calling lua_pcallk here, not the original
   xpcall, keeps one C level per xpcall, as Lua counts them. */
static int xpcall_done(lua_State *L, int status, lua_KContext extra)
{
    if (status != LUA_OK && status != LUA_YIELD) {
        lua_pushboolean(L, 0);
        lua_pushvalue(L, -2);
        return 2;
    }
    return lua_gettop(L) - (int)extra;
}

static int guarded_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, handler_guard, 1);
    lua_replace(L, 2);
    lua_pushboolean(L, 1);
    lua_pushvalue(L, 1);
    lua_rotate(L, 3, 2); /* true and the function below the function's arguments */
    int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, xpcall_done);
    return xpcall_done(L, status, 2);
}

/* ---- coroutines -------------------------------------------------------------------------- */

/* coroutine.resume, coroutine.close and the functions coroutine.wrap makes run Lua code on
   another thread; the engine wraps all three. Under the instruction limit, once it is hit,
   none starts (a thread resumed later would still have up to HOOK_CHUNK instructions left
   before its own hook fires, and a tree of coroutines could spend them without end), and
   the caller raises the limit's error as soon as the call returns. In every engine they
   also bound how deep they nest in C: Lua 5.4.4 runs a closed coroutine's __close methods
   with the C-call count the coroutine had when it last ran, so closes nested inside
   __close methods grow the C stack without Lua noticing, until it overflows. Lua's own
   bound is about 200 nested C calls; the engine allows COROUTINE_C_STACK bytes of C stack
   from the outermost of these calls to the innermost. */
#define COROUTINE_C_STACK ((size_t)1 << 20)

static void coroutine_enter(lua_State *L, tycho *T, const char *fname)
{
    char here;
    uintptr_t at = (uintptr_t)&here;
    if (T->limit_hit) raise_limit(L, T, 1);
    if (T->co_nesting == 0) {
        T->co_stack_base = at;
    } else {
        size_t used = T->co_stack_base > at ? T->co_stack_base - at : at - T->co_stack_base;
        if (used > COROUTINE_C_STACK)
            luaL_error(L, "%s: coroutines nested too deeply (over %d KB of C stack)", fname,
                       (int)(COROUTINE_C_STACK >> 10));
    }
    T->co_nesting++;
}

/* Resumes co with the narg values on top of L, between coroutine_enter and its end, as
   lcorolib's auxresume does it (a call of its own would count a second C level against
   Lua's bound of about 200, halving how deep coroutines nest): the results or yielded
   values on L and their count, or the error on L and -1. */
static int resume(lua_State *L, lua_State *co, int narg, const char *fname)
{
    tycho *T = engine_of(L);
    coroutine_enter(L, T, fname);
    int nres = 0, status = LUA_ERRRUN;
    const char *why = NULL; /* an error of this function's own */
    if (!lua_checkstack(co, narg)) {
        why = "too many arguments to resume";
    } else {
        lua_xmove(L, co, narg);
        status = lua_resume(co, L, narg, &nres);
    }
    /* nothing above raises past this point (Lua's messages for a coroutine it cannot resume
       exist already, RESUME_MESSAGES), so the count stays right */
    T->co_nesting--;
    int r = -1;
    if (why) {
        lua_pushstring(L, why);
    } else if (status == LUA_OK || status == LUA_YIELD) {
        if (!lua_checkstack(L, nres + 1)) {
            lua_pop(co, nres);
            lua_pushliteral(L, "too many results to resume");
        } else {
            lua_xmove(co, L, nres);
            r = nres;
        }
    } else {
        lua_xmove(co, L, 1);
        /* ended by the limit, whose error left its hooks off for good: marked (in the slot
           the error left) so that close never runs its __close methods uncounted */
        if (T->limit_hit) lua_pushlightuserdata(co, (void *)&LIMIT_VICTIMS);
    }
    if (T->limit_hit) raise_limit(L, T, 1);
    return r;
}

/* A new coroutine running the function at index 1 (lcorolib's create), counted as the
   first comment of this file says. */
static lua_State *new_coroutine(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    tycho *T = engine_of(L);
    uint64_t limit = T->cfg.instruction_limit;
    if (limit && T->depth) {
        if (T->limit_hit || limit - T->executed < CO_HOOK_CHUNK) {
            T->executed = limit;
            T->limit_hit = 1;
            raise_limit(L, T, 1);
        }
        T->executed += CO_HOOK_CHUNK;
    }
    lua_State *co = lua_newthread(L);
    if (limit) lua_sethook(co, count_hook, LUA_MASKCOUNT, CO_HOOK_CHUNK);
    lua_pushvalue(L, 1);
    lua_xmove(L, co, 1);
    return co;
}

static int guarded_create(lua_State *L)
{
    new_coroutine(L);
    return 1;
}

static int guarded_resume(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_State *co = lua_tothread(L, 1);
    int r = resume(L, co, lua_gettop(L) - 1, "coroutine.resume");
    if (r < 0) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, -(r + 1));
    return r + 1;
}

static int close_thread(lua_State *co, lua_State *from)
{
#if LUA_VERSION_RELEASE_NUM >= 50406
    return lua_closethread(co, from);
#else
    (void)from;
    return lua_resetthread(co);
#endif
}

/* The function coroutine.wrap returns, as lcorolib's auxwrap; upvalue 1 is the coroutine. */
static int guarded_wrapped(lua_State *L)
{
    lua_State *co = lua_tothread(L, lua_upvalueindex(1));
    int r = resume(L, co, lua_gettop(L), "coroutine.wrap");
    if (r >= 0) return r;
    int status = lua_status(co);
    if (status != LUA_OK && status != LUA_YIELD) { /* an error in the coroutine */
        tycho *T = engine_of(L);
        coroutine_enter(L, T, "coroutine.wrap"); /* its __close methods run now */
        status = close_thread(co, L);
        T->co_nesting--;
        lua_xmove(co, L, 1);
        if (T->limit_hit) raise_limit(L, T, 1);
    }
    if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

static int guarded_wrap(lua_State *L)
{
    new_coroutine(L);
    lua_pushcclosure(L, guarded_wrapped, 1);
    return 1;
}

/* coroutine.close, as lcorolib's (auxstatus, then the thread closed), between
   coroutine_enter and its end. */
static int guarded_close(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_State *co = lua_tothread(L, 1);
    const char *running = NULL;
    lua_Debug ar;
    if (co == L) running = "running";
    else if (lua_status(co) == LUA_OK && lua_getstack(co, 0, &ar)) running = "normal";
    if (running) return luaL_error(L, "cannot close a %s coroutine", running);
    if (lua_status(co) != LUA_OK && lua_status(co) != LUA_YIELD && lua_gettop(co) > 0 &&
        lua_touserdata(co, -1) == &LIMIT_VICTIMS)
        return luaL_error(L, "coroutine.close: the coroutine was ended by the instruction limit "
                             "(its __close methods would run uncounted)");
    tycho *T = engine_of(L);
    coroutine_enter(L, T, "coroutine.close");
    int status = close_thread(co, L);
    T->co_nesting--;
    if (T->limit_hit) return raise_limit(L, T, 1);
    if (status == LUA_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_xmove(co, L, 1);
    return 2;
}

static void open_coroutine_guards(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, LUA_COLIBNAME);
    static const luaL_Reg fns[] = {
        { "create", guarded_create }, { "resume", guarded_resume },
        { "wrap", guarded_wrap },     { "close", guarded_close },
        { NULL, NULL },
    };
    luaL_setfuncs(L, fns, 0);
    lua_pop(L, 2);
}

/* A run starts afresh: full instruction budget, fault injection off. A nested run (a host
   callback running a chunk) shares the budget of the run around it. */
static void run_begin(tycho *T)
{
    if (T->depth++ > 0) return;
    T->executed = 0;
    T->limit_hit = 0;
    T->limit_msg[0] = '\0';
    T->traced = 0;
    T->co_nesting = 0; /* whatever a host's own calls between runs left */
    T->refused = 0;
    T->fail_in = 0;
    T->fail_reached = 0;
    if (T->cfg.instruction_limit) lua_sethook(T->L, count_hook, LUA_MASKCOUNT, HOOK_CHUNK);
}

static void run_end(tycho *T)
{
    T->depth--;
}

/* ---- tycho.engine: what tests need from the engine (not in the C module) -------------- */

/* fail_allocation(n): the nth allocation that grows memory from now fails, and every later
   one, until fail_allocation(0) or nil, or the next tycho_run_*. Returns whether the
   previous setting refused an allocation. */
static int l_fail_allocation(lua_State *L)
{
    tycho *T = lua_touserdata(L, lua_upvalueindex(1));
    lt_check_nargs(L, 1, "fail_allocation");
    lua_Integer n = luaL_optinteger(L, 1, 0);
    luaL_argcheck(L, n >= 0, 1, "must be a count (0 or nil: off)");
    int reached = T->fail_reached;
    T->fail_in = (uint64_t)n;
    T->fail_reached = 0;
    lua_pushboolean(L, reached);
    return 1;
}

/* memory_used(): bytes held by the engine, Lua objects and tensor data together. */
static int l_memory_used(lua_State *L)
{
    tycho *T = lua_touserdata(L, lua_upvalueindex(1));
    lt_check_nargs(L, 0, "memory_used");
    lua_pushinteger(L, (lua_Integer)T->mem_used);
    return 1;
}

/* memory_peak([reset]): the most bytes the engine has held; reset = true restarts it from
   what is held now (for measuring one call). */
static int l_memory_peak(lua_State *L)
{
    tycho *T = lua_touserdata(L, lua_upvalueindex(1));
    lt_check_nargs(L, 1, "memory_peak");
    lua_pushinteger(L, (lua_Integer)T->mem_peak);
    if (lua_toboolean(L, 1)) T->mem_peak = T->mem_used;
    return 1;
}

static void open_engine_table(lua_State *L, tycho *T)
{
    static const luaL_Reg fns[] = {
        { "fail_allocation", l_fail_allocation },
        { "memory_used", l_memory_used },
        { "memory_peak", l_memory_peak },
        { NULL, NULL },
    };
    lua_createtable(L, 0, 3);
    lua_pushlightuserdata(L, T);
    luaL_setfuncs(L, fns, 1);
    if (T->cfg.sandbox) { /* untrusted scripts must not leave failures armed for the host */
        lua_pushnil(L);
        lua_setfield(L, -2, "fail_allocation");
    }
    lua_setfield(L, -2, "engine");
}

/* ---- the sandbox ------------------------------------------------------------------------- */

/* A disabled function; upvalue 1 is its name. */
static int sandbox_disabled(lua_State *L)
{
    return luaL_error(L, "%s is disabled in the sandbox", lua_tostring(L, lua_upvalueindex(1)));
}

/* __index of the io, os and debug stand-ins; upvalue 1 is the library name. */
static int sandbox_index(lua_State *L)
{
    const char *lib = lua_tostring(L, lua_upvalueindex(1));
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "%s.%s is disabled in the sandbox", lib, lua_tostring(L, 2));
    return luaL_error(L, "%s is disabled in the sandbox", lib);
}

static void set_disabled(lua_State *L, int table, const char *field, const char *name)
{
    lua_pushstring(L, name);
    lua_pushcclosure(L, sandbox_disabled, 1);
    lua_setfield(L, table, field);
}

/* Replaces library `lib` (global and package.loaded) by a table holding only the fields in
   keep, where every other field raises "lib.field is disabled in the sandbox". */
static void stub_library(lua_State *L, const char *lib, const char *const keep[])
{
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    int loaded = lua_gettop(L);
    lua_getfield(L, loaded, lib);
    lua_newtable(L);
    for (; *keep; keep++) {
        lua_getfield(L, loaded + 1, *keep);
        lua_setfield(L, -2, *keep);
    }
    lua_createtable(L, 0, 2);
    lua_pushstring(L, lib);
    lua_pushcclosure(L, sandbox_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, loaded, lib);
    lua_setglobal(L, lib);
    lua_settop(L, loaded - 1);
}

/* require for modules already loaded or preloaded (tycho, tycho.nn, tycho.checks, the
   standard libraries); upvalue 1 is the real require, left with the preload searcher only. */
static int sandbox_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, 2, name) != LUA_TNIL && lua_toboolean(L, -1)) return 1;
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    if (lua_getfield(L, -1, name) == LUA_TNIL)
        return luaL_error(L, "require: module '%s' not found (loading modules from files is "
                             "disabled in the sandbox)", name);
    lua_settop(L, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* load in the sandbox: lbaselib's load, in text mode only (bytecode is not checked by Lua
   and can crash it), deciding bytecode by the first byte, as Lua does: of the string, or
   of the first piece a reader gives (where the reading stops). */
#define RESERVED_SLOT 5 /* above load's four arguments: the reader's last piece, kept alive */

static const char *sandbox_reader(lua_State *L, void *ud, size_t *size)
{
    int *kind = ud; /* 0: nothing read yet, 1: source, 2: bytecode */
    luaL_checkstack(L, 2, "too many nested functions");
    lua_pushvalue(L, 1);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        *size = 0;
        return NULL;
    }
    if (!lua_isstring(L, -1)) luaL_error(L, "reader function must return a string");
    lua_replace(L, RESERVED_SLOT);
    const char *piece = lua_tolstring(L, RESERVED_SLOT, size);
    if (*kind == 0 && *size > 0) *kind = piece[0] == LUA_SIGNATURE[0] ? 2 : 1;
    if (*kind == 2) {
        *size = 0;
        return NULL;
    }
    return piece;
}

static int sandbox_load(lua_State *L)
{
    static const char binary[] = "load: binary chunks are disabled in the sandbox";
    size_t len;
    const char *code = lua_tolstring(L, 1, &len);
    const char *asked = luaL_optstring(L, 3, "bt");
    const char *mode = strchr(asked, 't') ? "t" : ""; /* "" refuses text as "b" would */
    int env = !lua_isnone(L, 4) ? 4 : 0, status, kind = 0;
    if (code) {
        if (code[0] == LUA_SIGNATURE[0]) return luaL_error(L, "%s", binary);
        status = luaL_loadbufferx(L, code, len, luaL_optstring(L, 2, code), mode);
    } else {
        const char *chunkname = luaL_optstring(L, 2, "=(load)");
        luaL_checktype(L, 1, LUA_TFUNCTION);
        lua_settop(L, RESERVED_SLOT);
        status = lua_load(L, sandbox_reader, &kind, chunkname, mode);
        if (kind == 2) return luaL_error(L, "%s", binary);
    }
    if (status != LUA_OK) { /* fail, message */
        luaL_pushfail(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

/* Wraps global `name` (or field of the table at index t) in closure f over the original. */
static void wrap_field(lua_State *L, int t, const char *name, lua_CFunction f)
{
    lua_getfield(L, t, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, t, name);
}

static void open_sandbox(lua_State *L)
{
    static const char *const none[] = { NULL };
    static const char *const os_keep[] = { "clock", "date", "difftime", "time", NULL };
    stub_library(L, "io", none);
    stub_library(L, "debug", none);
    stub_library(L, "os", os_keep);

    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    int G = lua_gettop(L);
    set_disabled(L, G, "dofile", "dofile");
    set_disabled(L, G, "loadfile", "loadfile");
    lua_pushcfunction(L, sandbox_load);
    lua_setfield(L, G, "load");
    wrap_field(L, G, "require", sandbox_require);

    lua_getfield(L, G, "string");
    set_disabled(L, lua_gettop(L), "dump", "string.dump");
    lua_pop(L, 1);

    lua_getfield(L, G, "package");
    int pkg = lua_gettop(L);
    set_disabled(L, pkg, "loadlib", "package.loadlib");
    set_disabled(L, pkg, "searchpath", "package.searchpath");
    lua_getfield(L, pkg, "searchers");
    lua_createtable(L, 1, 0);
    lua_rawgeti(L, -2, 1);   /* the preload searcher */
    lua_rawseti(L, -2, 1);
    lua_setfield(L, pkg, "searchers");
    lua_settop(L, G - 1);
}

/* ---- opening and closing ----------------------------------------------------------------- */

/* The collector runs in generational mode, as Lua's own lua.c sets it. Scripts make many
   short-lived tensors, and every tensor that owns data outside the Lua heap has a finalizer:
   a minor collection frees the young ones for little more than the cost of finding them
   (0.2 us, where an incremental cycle marks the whole heap: 3.5 us), and Lua 5.4's
   incremental collector never caught up with finalized objects made in a loop at the pause
   this engine used to set (a * 2.5 on 1000 elements, 200000 times: a 32 MB Lua heap and a
   1.1 GB process; spec/gc_spec.lua). Tensor data outside the Lua heap paces the collector by
   itself (lt_gc_pressure), and a refused allocation still triggers a full collection before
   it fails. */
static int p_open(lua_State *L)
{
    tycho *T = lua_touserdata(L, 1);
    lua_gc(L, LUA_GCGEN, 0, 0);
    luaL_openlibs(L);
    if (T->cfg.sandbox) lt_deny_files(L); /* before the module: its file functions refuse */
    luaL_requiref(L, "tycho", luaopen_tycho, 1);
    open_engine_table(L, T);
    lua_pushliteral(L, "");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ERROR_SLOT);
    static const char *const resume_messages[] = {
        "cannot resume dead coroutine", "cannot resume non-suspended coroutine",
        "C stack overflow", "error in error handling", NULL,
    };
    lua_newtable(L);
    for (int i = 0; resume_messages[i]; i++) {
        lua_pushstring(L, resume_messages[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_rawsetp(L, LUA_REGISTRYINDEX, &RESUME_MESSAGES);
    open_coroutine_guards(L);
    if (T->cfg.instruction_limit) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        wrap_field(L, lua_gettop(L), "setmetatable", guarded_setmetatable);
        lua_pushcfunction(L, guarded_xpcall);
        lua_setfield(L, -2, "xpcall");
        lua_pop(L, 1);
    }
    if (T->cfg.sandbox) open_sandbox(L);
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
        pool_drain(T);
        free(T);
        return NULL;
    }
    lua_atpanic(T->L, panic);
    /* set before any thread exists, so every coroutine inherits it */
    if (T->cfg.instruction_limit) lua_sethook(T->L, count_hook, LUA_MASKCOUNT, HOOK_CHUNK);
    lua_pushcfunction(T->L, p_open);
    lua_pushlightuserdata(T->L, T);
    if (lua_pcall(T->L, 1, 0, 0) != LUA_OK) {
        lua_close(T->L);
        pool_drain(T);
        free(T);
        return NULL;
    }
    return T;
}

void tycho_close(tycho *T)
{
    if (!T) return;
    lt_closing(T->L); /* finalizers that run from here on make no tensor or layer */
    lua_close(T->L);
    pool_drain(T);
    free(T);
}

/* ---- running chunks ---------------------------------------------------------------------- */

typedef struct run_args {
    tycho      *T;
    const char *path;       /* file mode (NULL: stdin) */
    const char *code;       /* string mode when non-NULL */
    const char *chunkname;
    int         status;     /* status of the load or of the call, whichever failed */
} run_args;

/* Whether a chunk is bytecode, as Lua decides it: its first byte (for a file, after a UTF-8
   BOM and a first line starting with '#', as luaL_loadfilex skips them) is the signature's.
   On standard input only the first byte is looked at; past a '#' line, mode "t" still
   refuses bytecode, with Lua's own message. */
static int chunk_is_bytecode(const run_args *a)
{
    if (a->code) return a->code[0] == LUA_SIGNATURE[0];
    if (!a->path) {
        int c = getc(stdin);
        if (c != EOF) ungetc(c, stdin);
        return c == LUA_SIGNATURE[0];
    }
    FILE *f = fopen(a->path, "rb");
    if (!f) return 0; /* luaL_loadfilex reports it */
    int c = getc(f);
    if (c == 0xEF && getc(f) == 0xBB && getc(f) == 0xBF) c = getc(f);
    if (c == '#') {
        while (c != EOF && c != '\n') c = getc(f);
        c = getc(f);
    }
    fclose(f);
    return c == LUA_SIGNATURE[0];
}

/* Pushes the chunk, or the error message; returns the lua_load status. In a sandbox only
   source loads: bytecode is not checked by Lua and could crash the host. */
static int load_chunk(lua_State *L, run_args *a)
{
    int sandbox = a->T->cfg.sandbox;
    if (sandbox && chunk_is_bytecode(a)) {
        const char *name = a->code ? a->chunkname : a->path ? a->path : "stdin";
        if (a->code && (name[0] == '=' || name[0] == '@')) name++;
        else if (a->code) name = "[string]";
        lua_pushfstring(L, "%s: binary chunks are disabled in the sandbox", name);
        return LUA_ERRSYNTAX;
    }
    const char *mode = sandbox ? "t" : "bt";
    return a->code ? luaL_loadbufferx(L, a->code, strlen(a->code), a->chunkname, mode)
                   : luaL_loadfilex(L, a->path, mode);
}

/* Loading runs protected too: luaL_loadfilex allocates before it protects itself. */
static int p_run(lua_State *L)
{
    run_args *a = lua_touserdata(L, 1);
    lua_pushcfunction(L, msghandler);
    int handler = lua_gettop(L);
    a->status = load_chunk(L, a);
    if (a->status != LUA_OK) return lua_error(L);
    a->status = lua_pcall(L, 0, 0, handler);
    if (a->status != LUA_OK) return lua_error(L);
    return 0;
}

static int run(tycho *T, run_args *a)
{
    lua_State *L = T->L;
    int top = lua_gettop(L);
    a->T = T;
    a->status = LUA_OK;
    run_begin(T);
    int status;
    if (a->code && !(T->cfg.sandbox && chunk_is_bytecode(a))) {
        /* source loads protected by itself: the chunk then runs right above the host, as
           lua.c runs it, with no C frame of the engine's in its tracebacks */
        lua_pushcfunction(L, msghandler);
        status = a->status = load_chunk(L, a);
        if (status == LUA_OK) status = a->status = lua_pcall(L, 0, 0, top + 1);
    } else {
        lua_pushcfunction(L, p_run);
        lua_pushlightuserdata(L, a);
        status = lua_pcall(L, 1, 0, 0);
    }
    run_end(T);
    int rc = TYCHO_OK;
    if (status != LUA_OK) {
        /* the inner status says what failed; the outer one covers p_run's own setup */
        rc = lua_fail(T, classify(T, a->status != LUA_OK ? a->status : status));
    }
    lua_settop(L, top);
    return rc;
}

int tycho_run_file(tycho *T, const char *path)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    run_args a = { T, path, NULL, NULL, LUA_OK };
    return run(T, &a);
}

int tycho_run_string(tycho *T, const char *code, const char *chunkname)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    if (!code) return fail(T, TYCHO_ERR_ARG, "tycho_run_string: code is NULL");
    run_args a = { T, NULL, code, chunkname ? chunkname : code, LUA_OK };
    return run(T, &a);
}

static int p_load(lua_State *L)
{
    run_args *a = lua_touserdata(L, 1);
    a->status = load_chunk(L, a);
    if (a->status != LUA_OK) return lua_error(L);
    return 1;
}

int tycho_cli_load_file(tycho *T, const char *path)
{
    lua_State *L = T->L;
    T->err = "";
    run_args a = { T, path, NULL, NULL, LUA_OK };
    lua_pushcfunction(L, p_load);
    lua_pushlightuserdata(L, &a);
    int status = lua_pcall(L, 1, 1, 0);
    if (status == LUA_OK) return TYCHO_OK;
    T->limit_hit = 0;
    T->refused = 0;
    int rc = lua_fail(T, classify(T, a.status != LUA_OK ? a.status : status));
    lua_pop(L, 1);
    return rc;
}

int tycho_cli_call(tycho *T, int nargs, int nresults)
{
    lua_State *L = T->L;
    T->err = "";
    int base = lua_gettop(L) - nargs;   /* the function */
    lua_pushcfunction(L, msghandler);
    lua_insert(L, base);
    run_begin(T);
    int status = lua_pcall(L, nargs, nresults, base);
    run_end(T);
    lua_remove(L, base);
    if (status == LUA_OK) return TYCHO_OK;
    int rc = lua_fail(T, classify(T, status));
    lua_pop(L, 1);
    return rc;
}

const char *tycho_version(void)
{
    return TYCHO_VERSION;
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
    /* Everything that can fail happens before the storage takes over the host's data: the
       storage is made without the release function (freeing it then frees only the
       header), the global's slot exists, and only then does release go in, after which
       nothing fails (the rawset below reuses the slot). A failure leaves the global as it
       was and never calls release. */
    ty_tensor *t = lt_push_empty(L);
    ty_allocator al = lt_allocator(L);
    ty_error e;
    ty_storage *s = ty_storage_wrap(&al, a->wrap, ty_shape_numel(a->ndim, a->shape), NULL,
                                    NULL, &e);
    if (!s) return lt_raise(L, &e);
    t->storage = s;
    t->data = a->wrap;
    t->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++) t->shape[i] = a->shape[i];
    ty_contiguous_strides(a->ndim, a->shape, t->stride);
    lua_pushvalue(L, -2);
    if (lua_rawget(L, -4) == LUA_TNIL) { /* a new key may grow the table: make it now */
        lua_pushvalue(L, -3);
        lua_pushboolean(L, 0);
        lua_rawset(L, -6); /* on failure the table is as it was */
    }
    lua_pop(L, 1);
    s->release = a->release;
    s->release_ud = a->ud;
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

/* The arguments of tycho_set_tensor and tycho_wrap_tensor, checked. */
static int tensor_in(tycho *T, const char *fn, tensor_args *a, const char *global, int ndim,
                     const int64_t *shape, const void *data)
{
    if (!T) return TYCHO_ERR_ARG;
    T->err = "";
    int rc = check_tensor_args(T, fn, global, ndim, shape, data);
    memset(a, 0, sizeof *a);
    a->name = global;
    a->ndim = ndim;
    a->shape = shape;
    return rc;
}

int tycho_set_tensor(tycho *T, const char *global, const double *data, int ndim,
                     const int64_t *shape)
{
    tensor_args a;
    int rc = tensor_in(T, "tycho_set_tensor", &a, global, ndim, shape, data);
    if (rc) return rc;
    a.src = data;
    return call_tensor(T, p_set, &a);
}

int tycho_wrap_tensor(tycho *T, const char *global, double *data, int ndim,
                      const int64_t *shape, void (*release)(void *ud, double *data), void *ud)
{
    tensor_args a;
    int rc = tensor_in(T, "tycho_wrap_tensor", &a, global, ndim, shape, data);
    if (rc) return rc;
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
