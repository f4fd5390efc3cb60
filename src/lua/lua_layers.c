/* lua_layers.c: the feed-forward layers of tycho.nn (AffineLayer/Linear, ReLU, Sigmoid, Tanh,
   Softmax, Dropout, Embedding), each a descriptor (lua_layer.h) and its methods over
   nn/layers.c.

   Every method follows one order: check the arguments and the weights, allocate every result
   (an allocation may run a finalizer that closes an argument or assigns a weight), then
   check them again, and only then compute, with no Lua code running until it returns. */
#include "lua/lua_layer.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/ops.h"
#include "core/random.h"
#include "lua/lua_random.h"
#include "nn/layers.h"

/* t viewed as rows x (its last dimension): a view when its layout allows, else a pushed
   contiguous copy (t at index i must be alive; checked again after the copy's allocation). */
static ty_tensor as_rows(lua_State *L, const ty_tensor *t, int i)
{
    int64_t last = t->ndim ? t->shape[t->ndim - 1] : 1;
    int64_t shape[2] = { last ? ty_numel(t) / last : 0, last };
    if (last == 0) { /* rows of nothing: count them from the other dimensions */
        shape[0] = 1;
        for (int d = 0; d < t->ndim - 1; d++) shape[0] *= t->shape[d];
    }
    ty_tensor v = *t;
    if (t->ndim == 2 || ty_view_reshape(&v, 2, shape)) return v;
    v = *lt_push_copy(L, t, i);
    ty_view_reshape(&v, 2, shape);
    return v;
}

static void same_shape(lua_State *L, const ty_tensor *got, const ty_tensor *want, const char *fname,
                       const char *what, const char *of)
{
    if (!ty_same_shape(got, want)) {
        char s1[96], s2[96];
        luaL_error(L, "%s: %s is %s but %s is %s", fname, what, LT_SHAPE(got, s1), of, LT_SHAPE(want, s2));
    }
}

/* (in_size, out_size) of a constructor: non-negative integers within the core's bounds. */
static void check_sizes(lua_State *L, const char *name, const char *n1, const char *n2)
{
    lt_check_nargs(L, 2, name);
    for (int i = 1; i <= 2; i++) {
        if (!lua_isinteger(L, i) && !(lua_type(L, i) == LUA_TNUMBER && lua_tonumber(L, i) == floor(lua_tonumber(L, i))))
            luaL_error(L, "%s: %s must be an integer (got %s)", name, i == 1 ? n1 : n2,
                       lua_type(L, i) == LUA_TNUMBER ? "a fraction" : luaL_typename(L, i));
        lua_Number v = lua_tonumber(L, i);
        if (v < 0 || v > (lua_Number)((int64_t)1 << 40))
            luaL_error(L, "%s: %s must be in 0..2^40 (got %s)", name, i == 1 ? n1 : n2, lua_tostring(L, i));
    }
}

/* New parameter p of the layer at index layer, drawn with rand() as the course's layers. */
static void new_param(lua_State *L, int layer, int p, int ndim, const int64_t *shape)
{
    ty_tensor *t = lt_push_new(L, ndim, shape);
    ty_random *rng = lt_random_state(L);
    ty_random_fill_uniform(rng, t);
    lt_layer_set_param(L, layer, p, -1);
    lua_pop(L, 1);
}

/* ---- AffineLayer (Linear) ---------------------------------------------------------------- */

enum { AFF_W, AFF_B };
enum { AFF_CACHE_X, AFF_CACHES };
static const lt_layer_desc affine_desc;

static int affine_new(lua_State *L)
{
    check_sizes(L, "AffineLayer", "in_size", "out_size");
    int64_t D = (int64_t)lua_tonumber(L, 1), M = (int64_t)lua_tonumber(L, 2);
    lt_layer_push(L, &affine_desc);
    int layer = lua_gettop(L);
    int64_t wshape[2] = { D, M };
    new_param(L, layer, AFF_W, 2, wshape);
    new_param(L, layer, AFF_B, 1, &M);
    return 1;
}

/* W (D x M) and b (M) of the layer, checked against each other and against x (..., D). */
static void affine_weights(lua_State *L, const lt_layer *l, const ty_tensor *x, const char *fname,
                           ty_tensor **W, ty_tensor **b)
{
    *W = lt_layer_param(L, l, AFF_W, fname);
    *b = lt_layer_param(L, l, AFF_B, fname);
    char s1[96], s2[96];
    if ((*W)->ndim != 2)
        luaL_error(L, "%s: W must be a matrix (D x M), not %s", fname, LT_SHAPE(*W, s1));
    if ((*b)->ndim != 1 || (*b)->shape[0] != (*W)->shape[1])
        luaL_error(L, "%s: b is %s but W is %s (b must be a vector of W's %I columns)", fname,
                   LT_SHAPE(*b, s1), LT_SHAPE(*W, s2), (lua_Integer)(*W)->shape[1]);
    if (x && (x->ndim == 0 || x->shape[x->ndim - 1] != (*W)->shape[0]))
        luaL_error(L, "%s: x is %s but W is %s (x's last dimension must be W's %I rows)", fname,
                   LT_SHAPE(x, s1), LT_SHAPE(*W, s2), (lua_Integer)(*W)->shape[0]);
}

/* x's shape with the last dimension replaced by n. */
static int last_replaced(const ty_tensor *x, int64_t n, int64_t *shape)
{
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    shape[x->ndim - 1] = n;
    return x->ndim;
}

static int affine_forward(lua_State *L)
{
    static const char F[] = "AffineLayer.forward";
    lt_layer *l = lt_layer_self(L);
    lt_check_nargs(L, 2, F);
    ty_tensor *x = lt_layer_arg(L, 2, F, "x"), *W, *b;
    lua_settop(L, 2);
    affine_weights(L, l, x, F, &W, &b);
    int64_t shape[TY_MAX_DIMS];
    int nd = last_replaced(x, W->shape[1], shape);
    ty_tensor *y = lt_push_new_up(L, nd, shape);
    lt_alive(L, x, 2);
    ty_tensor x2 = as_rows(L, x, 2);
    lt_alive(L, x, 2);
    affine_weights(L, l, x, F, &W, &b); /* again: see the top of the file */
    lt_layer_allocated(L, y, nd, shape, F, "AffineLayer");
    ty_tensor y2 = *y;
    ty_view_reshape(&y2, 2, (int64_t[]){ x2.shape[0], W->shape[1] });
    ty_error e;
    if (ty_affine_forward(&y2, &x2, W, b, &l->alloc, &e)) return lt_raise(L, &e);
    lt_layer_keep(L, AFF_CACHE_X, 2);
    lua_pushvalue(L, 3);
    return 1;
}

static int affine_backward(lua_State *L)
{
    static const char F[] = "AffineLayer.backward";
    lt_layer *l = lt_layer_self(L);
    lt_check_nargs(L, 2, F);
    ty_tensor *dy = lt_layer_arg(L, 2, F, "dout"), *W, *b;
    lua_settop(L, 2);
    ty_tensor *x = lt_layer_cache(L, AFF_CACHE_X, F, "forward", "input x");
    affine_weights(L, l, x, F, &W, &b);
    int64_t shape[TY_MAX_DIMS];
    int nd = last_replaced(x, W->shape[1], shape);
    ty_tensor want = { 0 };
    want.ndim = nd;
    memcpy(want.shape, shape, sizeof shape);
    same_shape(L, dy, &want, F, "dout", "forward's output");
    /* the shapes copied first: an allocation's finalizer may drop x, W or b, and the next
       allocation's collection free them */
    ty_tensor shapes[3] = { { 0 }, { 0 }, { 0 } }, *out[3];
    const ty_tensor *const now[3] = { x, W, b };
    for (int i = 0; i < 3; i++) {
        shapes[i].ndim = now[i]->ndim;
        memcpy(shapes[i].shape, now[i]->shape, sizeof shapes[i].shape);
    }
    for (int i = 0; i < 3; i++) out[i] = lt_push_new_up(L, shapes[i].ndim, shapes[i].shape); /* 3, 4, 5 */
    lt_layer_push_cache(L, AFF_CACHE_X); /* x at 6: alive while we work */
    lt_alive(L, dy, 2);
    x = lt_layer_cache(L, AFF_CACHE_X, F, "forward", "input x");
    ty_tensor x2 = as_rows(L, x, 6);
    ty_tensor dy2 = as_rows(L, dy, 2);
    lt_alive(L, dy, 2);
    x = lt_layer_cache(L, AFF_CACHE_X, F, "forward", "input x");
    affine_weights(L, l, x, F, &W, &b);
    same_shape(L, dy, &want, F, "dout", "forward's output");
    const ty_tensor *const like[3] = { x, W, b };
    static const char *const names[] = { "dx", "dW", "db" };
    lt_layer_still_like(L, 3, out, like, F, names);
    ty_tensor dx2 = *out[0];
    ty_view_reshape(&dx2, 2, x2.shape);
    ty_error e;
    if (ty_affine_backward(&dx2, out[1], out[2], &x2, W, &dy2, &l->alloc, &e)) return lt_raise(L, &e);
    lt_layer_set_grad(L, 0, 4);
    lt_layer_set_grad(L, 1, 5);
    lua_settop(L, 5);
    return 3;
}

static void affine_describe(lua_State *L, const lt_layer *l)
{
    const ty_tensor *W = l->param[AFF_W];
    if (W->data && W->ndim == 2)
        lua_pushfstring(L, "AffineLayer(%I -> %I)", (lua_Integer)W->shape[0], (lua_Integer)W->shape[1]);
    else
        lua_pushliteral(L, "AffineLayer(?)");
}

/* reset()'s default: 1/sqrt(D), as PyTorch's Linear */
static double affine_default_stdv(lua_State *L, const lt_layer *l)
{
    const ty_tensor *W = l->param[AFF_W];
    if (W->ndim != 2 || W->shape[0] == 0)
        luaL_error(L, "reset: W is %s, no input size to take 1/sqrt(D) of (give stdv)",
                   W->ndim == 2 ? "empty" : "not a matrix");
    return 1.0 / sqrt((double)W->shape[0]);
}

static const char *const affine_params[] = { "W", "b", NULL };
static const char *const affine_grads[] = { "dW", "db", NULL };
static const luaL_Reg affine_methods[] = {
    { "forward", affine_forward }, { "backward", affine_backward }, { NULL, NULL }
};
static const lt_layer_desc affine_desc = {
    "AffineLayer", affine_params, affine_grads, NULL, AFF_CACHES, sizeof(lt_layer), affine_new,
    affine_methods, affine_describe, NULL, NULL, affine_default_stdv, NULL,
};

/* ---- activations: ReLU, Sigmoid, Tanh, Softmax -------------------------------------------- */

/* The four differ in their forward function and their gradient from the output y. */
typedef struct activation {
    lt_layer_desc desc;
    const char *forward_name, *backward_name;
    void (*forward)(ty_tensor *y, const ty_tensor *x);
    void (*backward)(ty_tensor *dx, const ty_tensor *y, const ty_tensor *dy);
    int rows; /* works over the last dimension: needs one, and contiguous operands */
} activation;

enum { ACT_CACHE_Y, ACT_CACHES };

static const activation *activation_of(const lt_layer *l) { return (const activation *)l->desc; }

static void relu_forward(ty_tensor *y, const ty_tensor *x) { ty_unary(y, x, TY_RELU); }
static void sigmoid_forward(ty_tensor *y, const ty_tensor *x) { ty_unary(y, x, TY_SIGMOID); }
static void tanh_forward(ty_tensor *y, const ty_tensor *x) { ty_unary(y, x, TY_TANH); }
static void softmax_forward(ty_tensor *y, const ty_tensor *x) { ty_softmax(y, x, x->ndim - 1, 0); }

static int act_forward(lua_State *L)
{
    lt_layer *l = lt_layer_self(L);
    const activation *a = activation_of(l);
    const char *F = a->forward_name;
    lt_check_nargs(L, 2, F);
    ty_tensor *x = lt_layer_arg(L, 2, F, "x");
    lua_settop(L, 2);
    if (a->rows && x->ndim == 0)
        return luaL_error(L, "%s: x must have at least one dimension (got a 0-d tensor)", F);
    ty_tensor *y = lt_push_new_up(L, x->ndim, x->shape);
    lt_alive(L, x, 2);
    a->forward(y, x);
    lt_layer_keep(L, ACT_CACHE_Y, 3);
    return 1;
}

static int act_backward(lua_State *L)
{
    lt_layer *l = lt_layer_self(L);
    const activation *a = activation_of(l);
    const char *F = a->backward_name;
    lt_check_nargs(L, 2, F);
    ty_tensor *dy = lt_layer_arg(L, 2, F, "dout");
    lua_settop(L, 2);
    ty_tensor *y = lt_layer_cache(L, ACT_CACHE_Y, F, "forward", "output y");
    same_shape(L, dy, y, F, "dout", "forward's output");
    lt_layer_push_cache(L, ACT_CACHE_Y); /* y at 3: alive while we work */
    ty_tensor *dx = lt_push_new_up(L, y->ndim, y->shape);
    const ty_tensor *g = a->rows ? lt_contiguous(L, dy, 2) : dy;
    lt_alive(L, dy, 2);
    lt_alive(L, y, 3);
    a->backward(dx, y, g);
    lua_pushvalue(L, 4);
    return 1;
}

static const luaL_Reg act_methods[] = {
    { "forward", act_forward }, { "backward", act_backward }, { NULL, NULL }
};

#define ACTIVATION(NAME, NEW) { NAME, NULL, NULL, NULL, ACT_CACHES, sizeof(lt_layer), NEW, \
                                act_methods, NULL, NULL, NULL, NULL, NULL }
static int relu_new(lua_State *L);
static int sigmoid_new(lua_State *L);
static int tanh_new(lua_State *L);
static int softmax_new(lua_State *L);
static const activation relu_kind = { ACTIVATION("ReLU", relu_new), "ReLU.forward", "ReLU.backward",
                                      relu_forward, ty_relu_backward, 0 };
static const activation sigmoid_kind = { ACTIVATION("Sigmoid", sigmoid_new), "Sigmoid.forward",
                                         "Sigmoid.backward", sigmoid_forward, ty_sigmoid_backward, 0 };
static const activation tanh_kind = { ACTIVATION("Tanh", tanh_new), "Tanh.forward", "Tanh.backward",
                                      tanh_forward, ty_tanh_backward, 0 };
static const activation softmax_kind = { ACTIVATION("Softmax", softmax_new), "Softmax.forward",
                                         "Softmax.backward", softmax_forward, ty_softmax_backward, 1 };

static int act_new(lua_State *L, const activation *a)
{
    lt_check_nargs(L, 0, a->desc.name);
    lt_layer_push(L, &a->desc);
    return 1;
}
static int relu_new(lua_State *L) { return act_new(L, &relu_kind); }
static int sigmoid_new(lua_State *L) { return act_new(L, &sigmoid_kind); }
static int tanh_new(lua_State *L) { return act_new(L, &tanh_kind); }
static int softmax_new(lua_State *L) { return act_new(L, &softmax_kind); }

/* ---- Dropout ---------------------------------------------------------------------------- */

typedef struct lt_dropout {
    lt_layer base;
    double   p;
    int      last;   /* what the last forward was: 0 none, 1 training (mask kept), 2 identity */
    int      ndim;   /* the identity forward's shape, for its backward */
    int64_t  shape[TY_MAX_DIMS];
} lt_dropout;

enum { DROP_CACHE_MASK, DROP_CACHES };
static const lt_layer_desc dropout_desc;

static double check_p(lua_State *L, int i, const char *fname)
{
    if (lua_type(L, i) != LUA_TNUMBER)
        luaL_error(L, "%s: p must be a number (got %s)", fname, luaL_typename(L, i));
    double p = lua_tonumber(L, i);
    if (!(p >= 0 && p <= 1)) luaL_error(L, "%s: p must be in [0, 1] (got %f)", fname, p);
    return p;
}

static int dropout_new(lua_State *L)
{
    lt_check_nargs(L, 1, "Dropout");
    double p = lua_isnoneornil(L, 1) ? 0.5 : check_p(L, 1, "Dropout");
    lt_dropout *d = (lt_dropout *)lt_layer_push(L, &dropout_desc);
    d->p = p;
    return 1;
}

static int dropout_forward(lua_State *L)
{
    static const char F[] = "Dropout.forward";
    lt_dropout *d = (lt_dropout *)lt_layer_self(L);
    lt_check_nargs(L, 2, F);
    ty_tensor *x = lt_layer_arg(L, 2, F, "x");
    lua_settop(L, 2);
    ty_tensor *y = lt_push_new_up(L, x->ndim, x->shape);
    if (d->base.evaluating) {
        lt_alive(L, x, 2);
        ty_assign(y, x);
        d->last = 2;
        d->ndim = x->ndim;
        memcpy(d->shape, x->shape, sizeof d->shape);
        lua_pushnil(L);
        lt_layer_keep(L, DROP_CACHE_MASK, -1);
        lua_pop(L, 1);
        return 1;
    }
    ty_tensor *mask = lt_push_new_up(L, x->ndim, x->shape);
    ty_random *rng = lt_random_state(L);
    lt_alive(L, x, 2);
    ty_random_fill_uniform(rng, mask);
    ty_dropout_mask(mask, 1.0 - d->p);
    ty_binary(y, x, mask, TY_MUL);
    d->last = 1;
    lt_layer_keep(L, DROP_CACHE_MASK, 4);
    lua_settop(L, 3);
    return 1;
}

static int dropout_backward(lua_State *L)
{
    static const char F[] = "Dropout.backward";
    lt_dropout *d = (lt_dropout *)lt_layer_self(L);
    lt_check_nargs(L, 2, F);
    ty_tensor *dy = lt_layer_arg(L, 2, F, "dout");
    lua_settop(L, 2);
    if (d->last == 0) return luaL_error(L, "%s: call forward first", F);
    if (d->last == 2) {
        ty_tensor want = { 0 };
        want.ndim = d->ndim;
        memcpy(want.shape, d->shape, sizeof d->shape);
        same_shape(L, dy, &want, F, "dout", "forward's output");
        ty_tensor *dx = lt_push_new_up(L, dy->ndim, dy->shape);
        lt_alive(L, dy, 2);
        ty_assign(dx, dy);
        return 1;
    }
    ty_tensor *mask = lt_layer_cache(L, DROP_CACHE_MASK, F, "forward", "mask");
    same_shape(L, dy, mask, F, "dout", "forward's output");
    lt_layer_push_cache(L, DROP_CACHE_MASK); /* the mask at 3 */
    ty_tensor *dx = lt_push_new_up(L, mask->ndim, mask->shape);
    lt_alive(L, dy, 2);
    lt_alive(L, mask, 3);
    ty_binary(dx, dy, mask, TY_MUL);
    return 1;
}

static int dropout_field(lua_State *L, const lt_layer *l, const char *name)
{
    (void)name; /* the only computed field: p */
    lua_pushnumber(L, ((const lt_dropout *)l)->p);
    return 1;
}

static int dropout_set_field(lua_State *L, lt_layer *l, const char *name)
{
    (void)name;
    ((lt_dropout *)l)->p = check_p(L, 3, "Dropout");
    return 1;
}

static void dropout_describe(lua_State *L, const lt_layer *l)
{
    char s[64];
    snprintf(s, sizeof s, "Dropout(p = %.17g)", ((const lt_dropout *)l)->p);
    lua_pushstring(L, s);
}

static const char *const dropout_fields[] = { "p", NULL };
static const luaL_Reg dropout_methods[] = {
    { "forward", dropout_forward }, { "backward", dropout_backward }, { NULL, NULL }
};
static const lt_layer_desc dropout_desc = {
    "Dropout", NULL, NULL, dropout_fields, DROP_CACHES, sizeof(lt_dropout), dropout_new,
    dropout_methods, dropout_describe, dropout_field, dropout_set_field, NULL, NULL,
};

/* ---- Embedding -------------------------------------------------------------------------- */

enum { EMB_W };
enum { EMB_CACHE_IDS, EMB_CACHES };
static const lt_layer_desc embedding_desc;

static int embedding_new(lua_State *L)
{
    check_sizes(L, "Embedding", "num_embeddings", "embedding_dim");
    int64_t shape[2] = { (int64_t)lua_tonumber(L, 1), (int64_t)lua_tonumber(L, 2) };
    lt_layer_push(L, &embedding_desc);
    new_param(L, lua_gettop(L), EMB_W, 2, shape);
    return 1;
}

static ty_tensor *embedding_weight(lua_State *L, const lt_layer *l, const char *fname)
{
    ty_tensor *W = lt_layer_param(L, l, EMB_W, fname);
    if (W->ndim != 2) {
        char s[96];
        luaL_error(L, "%s: W must be a matrix (V x D), not %s", fname, LT_SHAPE(W, s));
    }
    return W;
}

/* Every id an integer in 1..V, or an error naming the first that is not. */
static void check_ids(lua_State *L, const ty_tensor *ids, int64_t V, const char *fname)
{
    if (ids->ndim + 1 > TY_MAX_DIMS)
        luaL_error(L, "%s: ids have %d dimensions, at most %d allowed", fname, ids->ndim, TY_MAX_DIMS - 1);
    lt_check_ids(L, ids, V, fname, "ids", "an integer id", "V");
}

static int embedding_forward(lua_State *L)
{
    static const char F[] = "Embedding.forward";
    lt_layer *l = lt_layer_self(L);
    lt_check_nargs(L, 2, F);
    ty_tensor *ids = lt_layer_arg(L, 2, F, "ids");
    lua_settop(L, 2);
    ty_tensor *W = embedding_weight(L, l, F);
    check_ids(L, ids, W->shape[0], F);
    int64_t shape[TY_MAX_DIMS];
    memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
    shape[ids->ndim] = W->shape[1];
    ty_tensor *y = lt_push_new_up(L, ids->ndim + 1, shape);
    lt_alive(L, ids, 2);
    W = embedding_weight(L, l, F);
    lt_layer_allocated(L, y, ids->ndim + 1, (shape[ids->ndim] = W->shape[1], shape), F, "Embedding");
    check_ids(L, ids, W->shape[0], F);
    ty_embedding_forward(y, ids, W);
    lt_layer_keep(L, EMB_CACHE_IDS, 2);
    return 1;
}

static int embedding_backward(lua_State *L)
{
    static const char F[] = "Embedding.backward";
    lt_layer *l = lt_layer_self(L);
    lt_check_nargs(L, 2, F);
    ty_tensor *dy = lt_layer_arg(L, 2, F, "dout");
    lua_settop(L, 2);
    ty_tensor *ids = lt_layer_cache(L, EMB_CACHE_IDS, F, "forward", "ids");
    ty_tensor *W = embedding_weight(L, l, F);
    ty_tensor want = { 0 };
    want.ndim = ids->ndim + 1;
    memcpy(want.shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
    want.shape[ids->ndim] = W->shape[1];
    same_shape(L, dy, &want, F, "dout", "forward's output");
    lt_layer_push_cache(L, EMB_CACHE_IDS); /* ids at 3 */
    ty_tensor *dW = lt_push_new_up(L, 2, W->shape);                /* 4 */
    const ty_tensor *g = lt_contiguous(L, dy, 2);
    lt_alive(L, dy, 2);
    lt_alive(L, ids, 3);
    W = embedding_weight(L, l, F);
    lt_layer_allocated(L, dW, 2, W->shape, F, "Embedding");
    same_shape(L, dy, &want, F, "dout", "forward's output");
    check_ids(L, ids, W->shape[0], F); /* the ids may have been changed since forward */
    ty_embedding_backward(dW, ids, g);
    lt_layer_set_grad(L, 0, 4);
    return 0;
}

static void embedding_describe(lua_State *L, const lt_layer *l)
{
    const ty_tensor *W = l->param[EMB_W];
    if (W->data && W->ndim == 2)
        lua_pushfstring(L, "Embedding(%I, %I)", (lua_Integer)W->shape[0], (lua_Integer)W->shape[1]);
    else
        lua_pushliteral(L, "Embedding(?)");
}

/* reset()'s default: 1, so uniform(-1, 1) */
static double embedding_default_stdv(lua_State *L, const lt_layer *l)
{
    (void)L, (void)l;
    return 1.0;
}

static const char *const embedding_params[] = { "W", NULL };
static const char *const embedding_grads[] = { "dW", NULL };
static const luaL_Reg embedding_methods[] = {
    { "forward", embedding_forward }, { "backward", embedding_backward }, { NULL, NULL }
};
static const lt_layer_desc embedding_desc = {
    "Embedding", embedding_params, embedding_grads, NULL, EMB_CACHES, sizeof(lt_layer), embedding_new,
    embedding_methods, embedding_describe, NULL, NULL, embedding_default_stdv, NULL,
};

void lt_register_layers(lua_State *L, int nn)
{
    nn = lua_absindex(L, nn);
    lt_layer_register(L, &affine_desc, nn);
    lua_getfield(L, nn, "AffineLayer");
    lua_setfield(L, nn, "Linear");
    lt_layer_register(L, &relu_kind.desc, nn);
    lt_layer_register(L, &sigmoid_kind.desc, nn);
    lt_layer_register(L, &tanh_kind.desc, nn);
    lt_layer_register(L, &softmax_kind.desc, nn);
    lt_layer_register(L, &dropout_desc, nn);
    lt_layer_register(L, &embedding_desc, nn);
}
