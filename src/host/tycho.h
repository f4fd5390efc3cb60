/* tycho.h: the embedding API. A host program opens an engine (a Lua 5.4 state with the
   tycho library loaded), hands it tensors, runs scripts and reads results back.

   Example:

       #include <tycho.h>
       #include <stdio.h>

       int main(void)
       {
           double x[6] = {1, 2, 3, 4, 5, 6}, y[6];
           int64_t shape[2] = {2, 3}, yshape[TYCHO_MAX_DIMS];
           int ndim;
           tycho *T = tycho_open(NULL);
           if (!T) return 1;
           if (tycho_set_tensor(T, "x", x, 2, shape) != TYCHO_OK ||
               tycho_run_string(T, "y = x * 2", "=host") != TYCHO_OK ||
               tycho_get_tensor(T, "y", y, 6, &ndim, yshape) != TYCHO_OK) {
               fprintf(stderr, "%s\n", tycho_error(T));
               tycho_close(T);
               return 1;
           }
           tycho_close(T);
           return 0;
       }

   Build with `pkg-config --cflags --libs tycho` (or -Ipath/include -ltycho). */
#ifndef TYCHO_H
#define TYCHO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TYCHO_VERSION     "0.1.0"
#define TYCHO_VERSION_NUM 100   /* major * 10000 + minor * 100 + patch */

/* What libtycho exports: these functions only (it is built with hidden visibility). */
#if defined(__GNUC__) && !defined(TYCHO_STATIC_ONLY)
#define TYCHO_API __attribute__((visibility("default")))
#else
#define TYCHO_API
#endif
#define TYCHO_MAX_DIMS 8

/* Hosts that need the raw interpreter include lua.h themselves (before this header, which
   then skips the typedef that C99 forbids repeating). */
#ifndef lua_h
typedef struct lua_State lua_State;
#endif

typedef struct tycho tycho;                  /* one engine: a Lua state and its tensors */
/* memory_limit: one budget for Lua objects and tensor data. Past it an allocation fails
     with the Lua error "not enough memory", which pcall catches; at top level the run
     returns TYCHO_ERR_MEMORY, and the engine works again once memory is freed.
   instruction_limit: Lua VM instructions per tycho_run_* (counted every 1000, in every
     coroutine; a nested run shares the budget of the run around it). Past it the run ends
     with TYCHO_ERR_LIMIT, "instruction limit of N exceeded": pcall, xpcall and coroutines
     cannot catch it, nor message handlers, coroutines or __close methods outlive it. A C
     function (a big matmul, a backtracking string.find) counts as one instruction however
     long it runs. Under a limit scripts cannot set __gc metamethods (finalizers run
     outside the count), and the engine's own metatables are locked. Without the sandbox,
     the debug library can remove the count.
   sandbox: io, debug and os beyond clock/date/difftime/time, dofile, loadfile,
     string.dump, package.loadlib/searchpath, require of files, tycho.load/save and
     bytecode (in load and in tycho_run_*) raise "... is disabled in the sandbox". It
     limits scripts, not the host: tycho_run_file and tycho_lua still work. */
typedef struct tycho_config {
    size_t   memory_limit;                   /* bytes for Lua objects and tensor data; 0 = none */
    uint64_t instruction_limit;              /* Lua VM instructions per tycho_run_*; 0 = none */
    int      sandbox;                        /* 1: no io, os, debug, package loaders, dofile,
                                                loadfile, tycho.load/save, binary chunks */
} tycho_config;
/* RUN: a script error (message with traceback). SYNTAX: the chunk does not compile (or is
   bytecode in a sandbox). MEMORY: out of memory or past memory_limit. LIMIT: past
   instruction_limit. FILE: tycho_run_file cannot open or read the file. ARG: a bad argument
   to the tycho_* call itself (NULL engine, bad shape, not a tensor, capacity too small). */
enum { TYCHO_OK, TYCHO_ERR_RUN, TYCHO_ERR_SYNTAX, TYCHO_ERR_MEMORY, TYCHO_ERR_LIMIT,
       TYCHO_ERR_FILE, TYCHO_ERR_ARG };

/* New engine with the standard Lua libraries, `tycho` in package.loaded and as a global
   (with tycho.engine.memory_used() and the test hook tycho.engine.fail_allocation(n): the
   nth growing allocation from then on fails, and every later one, until
   fail_allocation(0) or the next tycho_run_*). cfg NULL: defaults (no limits). Returns NULL
   when memory (or memory_limit) is too small. The engine never aborts or exits: failures
   are codes; only a host's own unprotected call on tycho_lua(T) can reach Lua's panic. */
TYCHO_API tycho      *tycho_open(const tycho_config *cfg);
/* Frees the engine and all its tensors (wrapped data gets its release call). NULL is fine. */
TYCHO_API void        tycho_close(tycho *T);
/* Runs a Lua file (path NULL: standard input). Returns TYCHO_OK or an error code;
   the message is then in tycho_error. Missing or unreadable file: TYCHO_ERR_FILE. */
TYCHO_API int         tycho_run_file(tycho *T, const char *path);
/* Runs Lua source; chunkname as for lua_load ("=name" or "@file"), NULL: the code itself. */
TYCHO_API int         tycho_run_string(tycho *T, const char *code, const char *chunkname);
/* Message of the last tycho_* call on T if it failed (with a traceback for script errors;
   a memory error is just "not enough memory"), else "". Valid until the next call on T.
   Never NULL. */
TYCHO_API const char *tycho_error(const tycho *T);
/* Sets global `global` to a new tensor holding a copy of data (row-major, ndim 0..8,
   shape[i] >= 0; data may be NULL when there are no elements). The host keeps data. */
TYCHO_API int         tycho_set_tensor(tycho *T, const char *global, const double *data,
                             int ndim, const int64_t *shape);              /* copies in */
/* Sets global `global` to a tensor over the host's data without copying. On TYCHO_OK the
   engine calls release(ud, data) exactly once, when the last view of it is collected or at
   tycho_close (release may be NULL); on failure it is never called. */
TYCHO_API int         tycho_wrap_tensor(tycho *T, const char *global, double *data, int ndim,
                              const int64_t *shape,
                              void (*release)(void *ud, double *data), void *ud); /* zero-copy */
/* Copies the tensor in global `global` into out (row-major; capacity in elements) and
   its shape into *ndim and shape (either may be NULL). Not a tensor, or capacity too small:
   TYCHO_ERR_ARG, with *ndim and shape still filled in the latter case. */
TYCHO_API int         tycho_get_tensor(tycho *T, const char *global, double *out, size_t capacity,
                             int *ndim, int64_t shape[TYCHO_MAX_DIMS]);  /* copies out */
/* The engine's Lua state, owned by T (do not lua_close it). NULL for a NULL T. */
TYCHO_API lua_State  *tycho_lua(tycho *T);
/* The library's version, "0.1.0" (TYCHO_VERSION of the library the host runs with, which
   may differ from the header it was built with). */
TYCHO_API const char *tycho_version(void);
/* The module opener, for hosts with their own Lua state: luaL_requiref(L, "tycho", ...). */
TYCHO_API int         luaopen_tycho(lua_State *L);

#ifdef __cplusplus
}
#endif

#endif
