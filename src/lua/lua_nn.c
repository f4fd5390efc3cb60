/* lua_nn.c: tycho.nn's layers: RNNLayer (the notebook's vanilla tanh RNN) and Tanh, each
   a descriptor (lua_layer.h) and its methods; the math is in nn/rnn.c and core/ops.c. */
#include "lua/lua_layer.h"

#include <string.h>

#include "core/ops.h"
#include "core/random.h"
#include "lua/lua_random.h"
#include "nn/rnn.h"

/* ---- RNNLayer ----------------------------------------------------------------------------- */

enum { P_W_IH, P_W_HH, P_B };                                /* parameters */
enum { G_DPREV_H, G_DW_IH, G_DW_HH, G_DB, G_DX, G_DH0 };     /* gradients of the last backward */
enum { CACHE_STEP_X, CACHE_STEP_NEXT_H,                      /* last forward_step */
       CACHE_SEQ_X, CACHE_SEQ_H0, CACHE_SEQ_H, RNN_CACHES }; /* last forward */

static const char *const rnn_params[] = { "W_ih", "W_hh", "b", NULL };
static const char *const rnn_grads[] = { "dprev_H", "dW_ih", "dW_hh", "db", "dx", "dh0", NULL };

typedef struct lt_rnn {
    lt_layer base;
    ty_tensor ws; /* workspace of the backward passes, kept between calls */
} lt_rnn;

static void weights(lua_State *L, const lt_rnn *r, const char *fname, ty_tensor **W_ih,
                    ty_tensor **W_hh, ty_tensor **b)
{
    *W_ih = lt_layer_param(L, &r->base, P_W_IH, fname);
    *W_hh = lt_layer_param(L, &r->base, P_W_HH, fname);
    *b = lt_layer_param(L, &r->base, P_B, fname);
}

static void raise_if(lua_State *L, int rc, const ty_error *e)
{
    if (rc) lt_raise(L, e);
}

static const lt_layer_desc rnn_desc;

/* nn.RNNLayer(in_size, out_size): weights drawn with rand() as the notebook's constructor. */
static int rnn_new(lua_State *L)
{
    lua_Integer D = luaL_checkinteger(L, 1), H = luaL_checkinteger(L, 2);
    luaL_argcheck(L, D >= 0, 1, "in_size must not be negative");
    luaL_argcheck(L, H >= 0, 2, "out_size must not be negative");
    lt_layer_push(L, &rnn_desc);
    int layer = lua_gettop(L);
    ty_random *rng = lt_random_state(L);
    int64_t shapes[3][2] = { { D, H }, { H, H }, { H, 0 } };
    for (int p = P_W_IH; p <= P_B; p++) {
        ty_tensor *t = lt_push_new(L, p == P_B ? 1 : 2, shapes[p]);
        ty_random_fill_uniform(rng, t);
        lt_layer_set_param(L, layer, p, -1);
        lua_pop(L, 1);
    }
    return 1;
}

/* Every method reads and checks what it uses twice: before allocating its results, for their
   shapes, and after, because an allocation may run finalizers, and a finalizer may close a
   tensor or assign the layer's weights. No Lua code runs between the second check and the
   math, so the math sees what was checked; a result allocated for shapes that changed
   meanwhile is an error (allocated() below). */

/* What forward_step uses: arguments 2 and 3 and the weights. */
typedef struct step_use {
    ty_tensor *x, *prev_h, *W_ih, *W_hh, *b;
} step_use;

static void read_step(lua_State *L, const lt_rnn *r, step_use *u)
{
    u->x = lt_layer_arg(L, 2, "forward_step", "x");
    u->prev_h = lt_layer_arg(L, 3, "forward_step", "prev_h");
    weights(L, r, "forward_step", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_step(u->x, u->prev_h, u->W_ih, u->W_hh, u->b, "forward_step", &e), &e);
}

static int rnn_forward_step(lua_State *L)
{
    lt_rnn *r = (lt_rnn *)lt_layer_self(L);
    step_use u;
    read_step(L, r, &u);
    int64_t shape[2] = { u.x->shape[0], u.W_ih->shape[1] };
    ty_tensor *next_h = lt_push_new_up(L, 2, shape);
    read_step(L, r, &u);
    shape[0] = u.x->shape[0];
    shape[1] = u.W_ih->shape[1];
    lt_layer_allocated(L, next_h, 2, shape, "forward_step", "next_h");
    ty_error e;
    raise_if(L, ty_rnn_step_forward(next_h, u.x, u.prev_h, u.W_ih, u.W_hh, u.b, &r->base.alloc, &e), &e);
    lt_layer_keep(L, CACHE_STEP_X, 2);
    lt_layer_keep(L, CACHE_STEP_NEXT_H, -1);
    return 1;
}

/* What backward_step uses: arguments 2 and 3, the last forward_step's x and next_h, the
   weights. */
typedef struct step_back_use {
    ty_tensor *prev_h, *dnext_h, *x, *next_h, *W_ih, *W_hh, *b;
} step_back_use;

static void read_step_back(lua_State *L, const lt_rnn *r, step_back_use *u)
{
    u->prev_h = lt_layer_arg(L, 2, "backward_step", "prev_h");
    u->dnext_h = lt_layer_arg(L, 3, "backward_step", "dnext_h");
    u->x = lt_layer_cache(L, CACHE_STEP_X, "backward_step", "forward_step", "x");
    u->next_h = lt_layer_cache(L, CACHE_STEP_NEXT_H, "backward_step", "forward_step", "next_h");
    weights(L, r, "backward_step", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_step_backward(u->prev_h, u->dnext_h, u->x, u->next_h, u->W_ih,
                                           u->W_hh, u->b, &e), &e);
}

static int rnn_backward_step(lua_State *L)
{
    lt_rnn *r = (lt_rnn *)lt_layer_self(L);
    step_back_use u;
    read_step_back(L, r, &u);
    int base = lua_gettop(L);
    static const char *const names[] = { "dx", "dprev_H", "dW_ih", "dW_hh", "db" };
    ty_tensor *g[5];
    lt_layer_push_like(L, 5, (const ty_tensor *const[]){ u.x, u.prev_h, u.W_ih, u.W_hh, u.b }, g);
    read_step_back(L, r, &u);
    lt_layer_still_like(L, 5, g, (const ty_tensor *const[]){ u.x, u.prev_h, u.W_ih, u.W_hh, u.b },
                        "backward_step", names);
    ty_error e;
    raise_if(L, ty_rnn_step_backward(g[0], g[1], g[2], g[3], g[4], u.x, u.prev_h, u.next_h,
                                     u.dnext_h, u.W_ih, u.W_hh, &r->ws, &r->base.alloc, &e), &e);
    lt_layer_set_grad(L, G_DPREV_H, base + 2);
    lt_layer_set_grad(L, G_DW_IH, base + 3);
    lt_layer_set_grad(L, G_DW_HH, base + 4);
    lt_layer_set_grad(L, G_DB, base + 5);
    lt_layer_set_grad(L, G_DX, base + 1);
    lua_settop(L, base + 1);
    return 1;
}

/* What forward uses: x (argument 2, or at xi the contiguous copy made of it), h0 (argument
   3) and the weights. */
typedef struct seq_use {
    ty_tensor *x, *h0, *W_ih, *W_hh, *b;
} seq_use;

static void read_seq(lua_State *L, const lt_rnn *r, int xi, seq_use *u)
{
    lt_layer_arg(L, 2, "forward", "x");
    u->x = lt_layer_arg(L, xi, "forward", "x");
    u->h0 = lt_layer_arg(L, 3, "forward", "h0");
    weights(L, r, "forward", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_sequence(u->x, u->h0, u->W_ih, u->W_hh, u->b, &e), &e);
}

/* x as the forward reads it: itself when its rows reshape into an (N*T) x D matrix, else a
   contiguous copy (pushed). Returns the index of the tensor to use. */
static int sequence_input(lua_State *L, int i)
{
    ty_tensor *x = lua_touserdata(L, i); /* checked by the caller */
    ty_tensor v = *x;
    int64_t rows[2] = { x->shape[0] * x->shape[1], x->shape[2] };
    if (ty_view_reshape(&v, 2, rows)) return i;
    ty_tensor *c = lt_push_new_up(L, 3, x->shape);
    lt_alive(L, x, i);
    ty_copy_flat(c, x);
    return lua_gettop(L);
}

static int rnn_forward(lua_State *L)
{
    lt_rnn *r = (lt_rnn *)lt_layer_self(L);
    lua_settop(L, 3);
    seq_use u;
    read_seq(L, r, 2, &u);
    int xi = sequence_input(L, 2);
    int64_t shape[3] = { u.x->shape[0], u.x->shape[1], u.W_ih->shape[1] };
    ty_tensor *h = lt_push_new_up(L, 3, shape);
    read_seq(L, r, xi, &u);
    shape[0] = u.x->shape[0];
    shape[1] = u.x->shape[1];
    shape[2] = u.W_ih->shape[1];
    lt_layer_allocated(L, h, 3, shape, "forward", "h");
    ty_error e;
    raise_if(L, ty_rnn_forward(h, u.x, u.h0, u.W_ih, u.W_hh, u.b, &r->ws, &r->base.alloc, &e), &e);
    lt_layer_keep(L, CACHE_SEQ_X, xi);
    lt_layer_keep(L, CACHE_SEQ_H0, 3);
    lt_layer_keep(L, CACHE_SEQ_H, -1);
    return 1;
}

/* What backward uses: dout (argument 2), the last forward's x, h0 and h, the weights. */
typedef struct seq_back_use {
    ty_tensor *dout, *x, *h0, *h, *W_ih, *W_hh, *b;
} seq_back_use;

static void read_seq_back(lua_State *L, const lt_rnn *r, seq_back_use *u)
{
    u->dout = lt_layer_arg(L, 2, "backward", "dout");
    u->x = lt_layer_cache(L, CACHE_SEQ_X, "backward", "forward", "x");
    u->h0 = lt_layer_cache(L, CACHE_SEQ_H0, "backward", "forward", "h0");
    u->h = lt_layer_cache(L, CACHE_SEQ_H, "backward", "forward", "h");
    weights(L, r, "backward", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_backward(u->dout, u->x, u->h, u->W_ih, u->W_hh, u->b, &e), &e);
}

static int rnn_backward(lua_State *L)
{
    lt_rnn *r = (lt_rnn *)lt_layer_self(L);
    lua_settop(L, 2);
    seq_back_use u;
    read_seq_back(L, r, &u);
    static const char *const names[] = { "dx", "dh0", "dW_ih", "dW_hh", "db" };
    ty_tensor *g[5];
    lt_layer_push_like(L, 5, (const ty_tensor *const[]){ u.x, u.h0, u.W_ih, u.W_hh, u.b }, g);
    read_seq_back(L, r, &u);
    lt_layer_still_like(L, 5, g, (const ty_tensor *const[]){ u.x, u.h0, u.W_ih, u.W_hh, u.b },
                        "backward", names);
    ty_error e;
    raise_if(L, ty_rnn_backward(g[0], g[1], g[2], g[3], g[4], u.dout, u.x, u.h0, u.h, u.W_ih,
                                u.W_hh, &r->ws, &r->base.alloc, &e), &e);
    lt_layer_set_grad(L, G_DX, 3);
    lt_layer_set_grad(L, G_DH0, 4);
    lt_layer_set_grad(L, G_DW_IH, 5);
    lt_layer_set_grad(L, G_DW_HH, 6);
    lt_layer_set_grad(L, G_DB, 7);
    return 5;
}

static void rnn_describe(lua_State *L, const lt_layer *l)
{
    const ty_tensor *W_ih = l->param[P_W_IH];
    if (W_ih->data && W_ih->ndim == 2)
        lua_pushfstring(L, "RNNLayer(%I -> %I)", (lua_Integer)W_ih->shape[0],
                        (lua_Integer)W_ih->shape[1]);
    else
        lua_pushliteral(L, "RNNLayer(?)");
}

/* in_size and out_size: W_ih's rows and columns */
static int rnn_field(lua_State *L, const lt_layer *l, const char *k)
{
    if (strcmp(k, "in_size") != 0 && strcmp(k, "out_size") != 0) return 0;
    const ty_tensor *W_ih = l->param[P_W_IH];
    if (!W_ih->data || W_ih->ndim != 2) return luaL_error(L, "%s: W_ih is not a matrix", k);
    lua_pushinteger(L, (lua_Integer)W_ih->shape[k[0] == 'i' ? 0 : 1]);
    return 1;
}

static void rnn_free(lt_layer *l)
{
    ty_tensor_free(&((lt_rnn *)l)->ws);
}

static const luaL_Reg rnn_methods[] = {
    { "forward_step", rnn_forward_step },
    { "backward_step", rnn_backward_step },
    { "forward", rnn_forward },
    { "backward", rnn_backward },
    { NULL, NULL }
};

static const lt_layer_desc rnn_desc = {
    "RNNLayer", rnn_params, rnn_grads, RNN_CACHES, 1, sizeof(lt_rnn), rnn_new, rnn_methods,
    rnn_describe, rnn_field, rnn_free,
};

/* ---- Tanh --------------------------------------------------------------------------------- */

enum { CACHE_Y, TANH_CACHES };

static const lt_layer_desc tanh_desc;

static int tanh_new(lua_State *L)
{
    lt_layer_push(L, &tanh_desc);
    return 1;
}

static int tanh_forward(lua_State *L)
{
    lt_layer_self(L);
    ty_tensor *x = lt_layer_arg(L, 2, "Tanh.forward", "x");
    ty_tensor *y = lt_push_new_up(L, x->ndim, x->shape);
    lt_alive(L, x, 2);
    ty_unary(y, x, TY_TANH);
    lt_layer_keep(L, CACHE_Y, -1);
    return 1;
}

static int tanh_backward(lua_State *L)
{
    lt_layer_self(L);
    ty_tensor *dout = lt_layer_arg(L, 2, "Tanh.backward", "dout");
    lua_settop(L, 2);
    ty_tensor *y = lt_layer_cache(L, CACHE_Y, "Tanh.backward", "forward", "output y");
    if (!ty_same_shape(y, dout)) {
        char s1[96], s2[96];
        return luaL_error(L, "Tanh.backward: dout is %s but forward's output is %s", LT_SHAPE(dout, s1),
                          LT_SHAPE(y, s2));
    }
    ty_tensor *dx = lt_push_new_up(L, y->ndim, y->shape);
    lt_alive(L, dout, 2);
    y = lt_layer_cache(L, CACHE_Y, "Tanh.backward", "forward", "output y"); /* again: see above */
    lt_layer_allocated(L, dx, y->ndim, y->shape, "Tanh.backward", "Tanh");
    /* dx = dout * (1 - y^2) */
    ty_binary(dx, y, y, TY_MUL);
    double one = 1.0;
    ty_tensor s = ty_tensor_scalar(&one);
    ty_binary(dx, &s, dx, TY_SUB);
    ty_binary(dx, dx, dout, TY_MUL);
    return 1;
}

static const luaL_Reg tanh_methods[] = {
    { "forward", tanh_forward },
    { "backward", tanh_backward },
    { NULL, NULL }
};

static const lt_layer_desc tanh_desc = {
    "Tanh", NULL, NULL, TANH_CACHES, 0, sizeof(lt_layer), tanh_new, tanh_methods,
    NULL, NULL, NULL,
};

void lt_open_nn(lua_State *L)
{
    lua_newtable(L);
    int nn = lua_gettop(L);
    lt_layer_register(L, &rnn_desc, nn);
    lt_layer_register(L, &tanh_desc, nn);
}
