/* lua_tensor.h: what the binding files share: the tensor userdata type and helpers that
   check arguments, push new tensors and raise core errors as Lua errors. */
#ifndef TYCHO_LUA_TENSOR_H
#define TYCHO_LUA_TENSOR_H

#include <lua.h>
#include <lauxlib.h>
#include "core/tensor.h"

#define LT_TENSOR "tycho.Tensor"

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
/* Reads a shape from arguments first..top: numbers (2, 3) or one table ({2, 3}).
   Returns ndim; fname names the function in errors. */
int lt_read_shape(lua_State *L, int first, int64_t *shape, const char *fname);
/* Shape as "3x7" in a static-per-call buffer supplied by the caller. */
#define LT_SHAPE(t, buf) ty_shape_str((t), (buf), sizeof(buf))

/* Registration of the parts of the module (each adds functions to the table on top). */
void lt_open_tensor(lua_State *L);   /* tensor type, creation, math */
void lt_open_random(lua_State *L);   /* tycho.random, tycho.rand, tycho.randn */
void lt_open_npy(lua_State *L);      /* tycho.load, tycho.save, t:save */
void lt_open_nn(lua_State *L);      /* pushes the tycho.nn table */
/* The library is built with hidden visibility; the module openers are what stock Lua's
   require finds in tycho.so (tycho.h declares luaopen_tycho for hosts). */
#if defined(__GNUC__)
#define LT_EXPORT __attribute__((visibility("default")))
#else
#define LT_EXPORT
#endif
LT_EXPORT int luaopen_tycho(lua_State *L);

#endif
