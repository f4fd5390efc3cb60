/* lua_tensor.h: what the binding files share: the tensor userdata type and helpers that
   check arguments, push new tensors and raise core errors as Lua errors. */
#ifndef TYCHO_LUA_TENSOR_H
#define TYCHO_LUA_TENSOR_H

#include <lua.h>
#include <lauxlib.h>
#include "core/tensor.h"

/* Typed userdata by registry pointer key: the userdata at i if its metatable is the one
   registered under key, else NULL; set the top value's metatable; create a named
   metatable also reachable by key (returns 0 if it existed). */
void *lt_testudata(lua_State *L, int i, const void *key);
void  lt_setmetatable(lua_State *L, const void *key);
int   lt_newmetatable(lua_State *L, const char *name, const void *key);

/* The tensor at index i, or a Lua error naming argument i. */
ty_tensor *lt_check(lua_State *L, int i);
/* Raises "tensor was closed during the call" (argument i) if t, a tensor userdata this call
   checked before allocating, has been closed since. Any allocation may run finalizers, and
   a finalizer may close a tensor: every binding function calls this on each tensor it
   uses after its last allocation, and no Lua code runs from there until it returns. A
   tensor's header never changes but by closing it, so one that is not closed is as checked. */
void lt_alive(lua_State *L, const ty_tensor *t, int i);
/* The tensor at index i, or NULL if it is not one. */
ty_tensor *lt_test(lua_State *L, int i);
/* Hot paths skip the registry: a C function whose upvalues LT_UP_SMALL and LT_UP_TENSOR are
   the two tensor metatables (pushed in that order by lt_push_tensor_metatables) checks and
   creates tensors with the _up variants, which compare against its upvalues instead. */
#define LT_UP_SMALL  1
#define LT_UP_TENSOR 2
void       lt_push_tensor_metatables(lua_State *L);
ty_tensor *lt_test_up(lua_State *L, int i);
ty_tensor *lt_push_new_up(lua_State *L, int ndim, const int64_t *shape);
/* Once lua_close has begun, Lua marks no new object for finalization, so a tensor or layer
   a finalizer makes then would never free its data: the host calls lt_closing before
   lua_close, and from then on lt_check_open (every new tensor with data, every layer)
   raises instead, in the finalizer. */
void lt_closing(lua_State *L);
void lt_check_open(lua_State *L);
/* Pushes an empty tensor userdata (no storage yet), metatable set: fill it afterwards. */
ty_tensor *lt_push_empty(lua_State *L);
/* Pushes a new contiguous tensor of the shape (values uninitialised); Lua error on failure. */
ty_tensor *lt_push_new(lua_State *L, int ndim, const int64_t *shape);
/* Tells Lua's collector about tensor data it cannot see (call before allocating it). */
void lt_gc_pressure(lua_State *L, int64_t elements);
/* Pushes a view with header src (made from the header of the tensor at index owner before
   this call): it shares the owner's storage, or keeps the small tensor that holds the
   elements alive (never a chain of views). Raises if the owner was closed meanwhile. */
ty_tensor *lt_push_view(lua_State *L, const ty_tensor *src, int owner);
/* The engine allocator for tensor data (the Lua state's allocator). */
ty_allocator lt_allocator(lua_State *L);
/* Raises e as a Lua error (never returns). */
int lt_raise(lua_State *L, const ty_error *e);
/* ---- arguments (lua_args.c); fname names the function in every error ---- */

/* Refuses a table whose metatable has __len or __index: tables of numbers are read raw. */
void lt_check_plain(lua_State *L, int idx, const char *fname, const char *what);
/* A shape from arguments first..top, numbers (2, 3) or one plain table ({2, 3}): integer
   sizes, not negative, within the core's bound. Returns ndim. */
int lt_read_shape(lua_State *L, int first, int64_t *shape, const char *fname);
/* The same for a new shape of t's elements (view, reshape): one size may be -1, inferred,
   and the sizes must hold exactly t's elements. */
int lt_read_new_shape(lua_State *L, int first, const ty_tensor *t, int64_t *shape,
                      const char *fname);
/* One size at argument i (an integer, not negative). */
int64_t lt_check_size(lua_State *L, int i, const char *fname);
/* A 1-based (negative from the end) index into dimension dim (1-based, for the message) of
   the given size, made 0-based; and a 1-based dimension number of t, made 0-based. */
int64_t lt_check_index(lua_State *L, lua_Integer i, int64_t size, int dim, const char *fname);
int     lt_check_dim(lua_State *L, int arg, const ty_tensor *t, const char *fname);
/* A tensor or number operand: numbers become 0-d borrowed tensors over *scratch. */
const ty_tensor *lt_operand(lua_State *L, int i, ty_tensor *tmp, double *scratch);
/* Pushes a new tensor of t's shape. */
ty_tensor *lt_push_like(lua_State *L, const ty_tensor *t);
/* Raises unless src broadcasts into dst's shape as it is (in-place ops, assignment). */
void lt_check_into(lua_State *L, const ty_tensor *dst, const ty_tensor *src, const char *fname);
/* src as an op writing dst may read it: itself when the two cannot interfere (disjoint
   memory, or the very same view), else a pushed copy (NumPy does the same); si is src's
   argument, checked again after the copy's allocation. */
const ty_tensor *lt_unaliased(lua_State *L, const ty_tensor *dst, const ty_tensor *src, int si);
/* A pushed contiguous copy of t, the tensor at index i (checked open again after the
   copy's allocation); lt_contiguous: t itself when it is contiguous, else such a copy. */
ty_tensor *lt_push_copy(lua_State *L, const ty_tensor *t, int i);
const ty_tensor *lt_contiguous(lua_State *L, const ty_tensor *t, int i);
/* Pushes and returns "[2, 3]", the 1-based position of flat (row-major) element k of t, and
   leaves its 0-based index in idx[0..ndim). */
const char *lt_position(lua_State *L, const ty_tensor *t, int64_t k, int64_t *idx);
/* Shape as "3x7" in a static-per-call buffer supplied by the caller. */
#define LT_SHAPE(t, buf) ty_shape_str((t), (buf), sizeof(buf))

/* Registration of the parts of the module (each adds functions to the table on top). */
void lt_open_tensor(lua_State *L);   /* tensor type, creation, views, math */
/* The tensor files' parts of it: functions into the tables at mt (the big kind's
   metatable, copied for the small kind afterwards), methods (t:name()) and module. */
void lt_register_create(lua_State *L, int mt, int methods, int module);
void lt_register_views(lua_State *L, int mt, int methods, int module);
void lt_register_math(lua_State *L, int mt, int methods, int module);
void lt_register_join(lua_State *L, int mt, int methods, int module);
/* luaL_setfuncs into the table at idx. */
void lt_setfuncs_at(lua_State *L, int idx, const luaL_Reg *fns);
/* A function of the tensor files and where it goes: a method (t:name()), a function of the
   module (tycho.name(t)), a metamethod; methods and functions may be both. */
enum { LT_METHOD = 1, LT_FUNCTION = 2, LT_META = 4 };
typedef struct lt_fn {
    const char   *name;
    lua_CFunction fn;
    int           where;
    int           nargs; /* the most arguments it takes (a method's tensor counted); 0: any */
} lt_fn;
/* Raises "<fname>: takes at most <n> arguments ..., got <m>" when arguments past the n-th
   are given (trailing nils count as left out). */
void lt_check_nargs(lua_State *L, int n, const char *fname);
/* The raw length of the plain table at idx (lt_check_plain), which must hold the keys
   1..n and no others: a list read raw. */
lua_Unsigned lt_check_list(lua_State *L, int idx, const char *fname, const char *what);
/* Raises an error naming fname when t is an expanded view (ty_is_broadcast). */
void lt_check_writable(lua_State *L, const ty_tensor *t, const char *fname);
/* Puts each function of the list (ending with a NULL name) where it goes. */
void lt_register_fns(lua_State *L, int mt, int methods, int module, const lt_fn *fns);
void lt_open_random(lua_State *L);   /* tycho.random, tycho.rand, tycho.randn */
/* tycho.load, tycho.save, t:save: file access; isatty and files into the table at internal
   (what the Lua parts of the library get, not scripts). */
void lt_open_files(lua_State *L, int internal);
/* Denies file access to scripts of this state: call before opening the module (the sandbox
   does); the file functions then only say that they are disabled. */
void lt_deny_files(lua_State *L);
/* Pushes the table of tensor methods (t:name()), for other binding files to add to. */
void lt_push_tensor_methods(lua_State *L);
void lt_open_nn(lua_State *L);      /* pushes the tycho.nn table */
/* Puts tycho.nn._optim (lua_optim.c: the optimizers' kernels, internal) into the table at nn. */
void lt_register_optim(lua_State *L, int nn);
/* The library is built with hidden visibility; the module openers are what stock Lua's
   require finds in tycho.so (tycho.h declares luaopen_tycho for hosts). */
#if defined(__GNUC__)
#define LT_EXPORT __attribute__((visibility("default")))
#else
#define LT_EXPORT
#endif
LT_EXPORT int luaopen_tycho(lua_State *L);

#endif
