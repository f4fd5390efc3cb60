/* lua_layer.h: layers as userdata, each declared once by a descriptor (name, parameters,
   gradients, caches, methods); lua_layer.c does the rest: fields, checks, registration. */
#ifndef TYCHO_LUA_LAYER_H
#define TYCHO_LUA_LAYER_H

#include "lua/lua_tensor.h"

#define LT_MAX_PARAMS 8

/* The C struct of every layer starts with this. Every layer has the methods of its
   descriptor and, if it has parameters, parameters() (their names, in order) and
   reset([stdv]) (each redrawn as uniform(-stdv, stdv) in that order); every layer has
   train() and evaluate() (which return the layer) and the field `training`; a layer without
   parameters has parameters() (an empty list) and reset() (which draws nothing) too. A field
   that is not the layer's is an error naming the fields it has, to read and to assign. */
typedef struct lt_layer {
    const struct lt_layer_desc *desc;
    int np, ng;                         /* how many parameters and gradient fields */
    ty_allocator alloc;                 /* the state's (lt_allocator), looked up once */
    /* the tensors in the parameter user values, which keep them alive: read on every call,
       set by assignment to the field */
    ty_tensor *param[LT_MAX_PARAMS];
    unsigned assigned;                  /* parameter assignments so far: a method that saw
                                           the same count after an allocation holds the same
                                           parameter objects (addresses can be reused) */
    int evaluating;                     /* evaluate() was called last (train() clears it):
                                           the mode of layers that differ (Dropout) */
} lt_layer;

typedef struct lt_layer_desc {
    const char *name;                  /* the constructor in tycho.nn; type "tycho.<name>" */
    const char *const *params;         /* parameter fields, NULL-terminated: tensors */
    const char *const *grads;          /* fields the methods set, NULL-terminated: tensor or nil */
    const char *const *fields;         /* computed fields, NULL-terminated (field, set_field) */
    int caches;                        /* user values the methods keep between calls */
    size_t size;                       /* bytes of the layer's struct (an lt_layer first) */
    lua_CFunction constructor;
    const luaL_Reg *methods;           /* each gets the upvalues below */
    /* pushes what tostring shows; NULL: the name and "()" */
    void (*describe)(lua_State *L, const lt_layer *layer);
    /* pushes computed field name (one of fields) and returns 1, or returns 0 */
    int (*field)(lua_State *L, const lt_layer *layer, const char *name);
    /* assigns the value at index 3 to computed field name and returns 1, or returns 0 (the
       field is read-only); may be NULL */
    int (*set_field)(lua_State *L, lt_layer *layer, const char *name);
    /* reset()'s default stdv; NULL if the layer has no parameters to reset */
    double (*default_stdv)(lua_State *L, const lt_layer *layer);
    void (*free)(lt_layer *layer);     /* the struct's own resources, at __gc; may be NULL */
} lt_layer_desc;

/* The methods' upvalues: the two tensor metatables (lt_test_up, lt_push_new_up) and the
   layer's own metatable (lt_layer_self). */
#define LT_UP_LAYER 3

/* Registers the layer's type and puts its constructor into the table at index nn. */
void lt_layer_register(lua_State *L, const lt_layer_desc *desc, int nn);

/* In a constructor: pushes a new layer (struct zeroed but for desc and alloc) with its
   metatable. */
lt_layer *lt_layer_push(lua_State *L, const lt_layer_desc *desc);
/* Stores the tensor at index value as parameter p of the layer at index layer. */
void lt_layer_set_param(lua_State *L, int layer, int p, int value);

/* In a method: the layer at index 1 (an error if it is not one of this type). */
lt_layer *lt_layer_self(lua_State *L);
/* Argument i, which must be a tensor (an error naming it, as `name`, otherwise). */
ty_tensor *lt_layer_arg(lua_State *L, int i, const char *fname, const char *name);
/* Parameter p of the layer at index 1, which must not be closed. */
ty_tensor *lt_layer_param(lua_State *L, const lt_layer *layer, int p, const char *fname);
/* Cache c (0-based) of the layer at index 1, as a forward left it: an error if there is none
   (call `forward` first) or if it was closed since. */
ty_tensor *lt_layer_cache(lua_State *L, int c, const char *fname, const char *forward,
                          const char *what);
/* The same for a cache the forward may have left nil (an optional argument): NULL then. */
ty_tensor *lt_layer_cache_opt(lua_State *L, int c, const char *fname, const char *forward,
                              const char *what);
/* Pushes what cache c holds, so that a finalizer replacing the cache cannot free it
   while the method uses it. */
void lt_layer_push_cache(lua_State *L, int c);
/* What cache c holds now (NULL if nothing), to tell whether a call replaced it. */
const void *lt_layer_cache_ptr(lua_State *L, int c);
/* Argument i, which must be a tensor or nil (NULL). */
ty_tensor *lt_layer_opt_arg(lua_State *L, int i, const char *fname, const char *name);
/* Raises unless the method got at most n arguments besides self (trailing nils are left-out
   arguments). */
void lt_layer_max_args(lua_State *L, int n, const char *fname);
/* Keeps the value at index value in cache c, or in gradient field g (0-based). */
void lt_layer_keep(lua_State *L, int c, int value);
void lt_layer_set_grad(lua_State *L, int g, int value);
/* A result allocated before a method's second reading of its inputs (an allocation may run
   a finalizer that assigns them) must still have the shape it needs. */
void lt_layer_allocated(lua_State *L, const ty_tensor *t, int ndim, const int64_t *shape,
                        const char *fname, const char *what);
/* Pushes n results shaped like the tensors in like[] (gradients of inputs and weights),
   into out[]; then, after the inputs are read again, checks them against the shapes now,
   naming results by names[]. */
void lt_layer_push_like(lua_State *L, int n, const ty_tensor *const *like, ty_tensor **out);
void lt_layer_still_like(lua_State *L, int n, ty_tensor *const *out, const ty_tensor *const *like,
                         const char *fname, const char *const *names);

/* Raises unless every element of ids is an integer in 1..n: "<fname>: <name>[2, 1] is 6, not
   <kind> in 1..<letter> (<letter> = n)" (Embedding's ids, softmax_loss's labels). */
void lt_check_ids(lua_State *L, const ty_tensor *ids, int64_t n, const char *fname, const char *name,
                  const char *kind, const char *letter);

/* Puts RNNLayer, LSTMLayer and GRULayer into the table at index nn (lua_recurrent.c). */
void lt_register_recurrent(lua_State *L, int nn);
/* Puts AffineLayer (and Linear), ReLU, Sigmoid, Tanh, Softmax, Dropout and Embedding there
   (lua_layers.c). */
void lt_register_layers(lua_State *L, int nn);
/* Puts softmax_loss and mse_loss there (lua_losses.c). */
void lt_register_losses(lua_State *L, int nn);

#endif
