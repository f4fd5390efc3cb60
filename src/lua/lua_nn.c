/* lua_nn.c: tycho.nn, the layers as userdata: RNNLayer (the notebook's vanilla tanh RNN) and
   Tanh. Fields hold the very tensor objects scripts assign; the math is in rnn.c. */
#include "lua/lua_tensor.h"

#include <string.h>

#include "lua/lua_random.h"
#include "core/ops.h"
#include "core/random.h"
#include "nn/rnn.h"

#define LT_RNN  "tycho.RNNLayer"
#define LT_TANH "tycho.Tanh"

/* User values of an RNNLayer: the named fields first, then the caches of the last calls. */
enum {
    UV_W_IH = 1, UV_W_HH, UV_B,                      /* parameters */
    UV_DPREV_H, UV_DW_IH, UV_DW_HH, UV_DB, UV_DX, UV_DH0, /* gradients of the last backward */
    UV_STEP_X, UV_STEP_NEXT_H,                       /* last forward_step */
    UV_SEQ_X, UV_SEQ_H0, UV_SEQ_H,                   /* last forward */
    UV_EXTRA,                                        /* a table for any other field */
    UV_COUNT = UV_EXTRA
};

static const char *const field_names[] = {
    "W_ih", "W_hh", "b", "dprev_H", "dW_ih", "dW_hh", "db", "dx", "dh0", NULL
};

static const char rnn_key = 0, tanh_key = 0; /* registry keys of the metatables */

typedef struct lt_rnn {
    ty_tensor ws; /* workspace of the backward passes, kept between calls */
    ty_allocator alloc; /* the state's (lt_allocator), looked up once */
    /* the tensors in user values UV_W_IH..UV_B, which keep them alive: read on every call */
    ty_tensor *W_ih, *W_hh, *b;
} lt_rnn;

static lt_rnn *check_rnn(lua_State *L, int i)
{
    lt_rnn *r = lt_testudata(L, i, &rnn_key);
    if (!r) luaL_typeerror(L, i, "RNNLayer");
    return r;
}

/* The methods of both layers have upvalues LT_UP_SMALL, LT_UP_TENSOR and then their own
   metatable, so checking self and the tensor arguments needs no registry lookup. */
#define UP_SELF 3

static void *check_self(lua_State *L, const char *type)
{
    void *p = lua_touserdata(L, 1);
    int same = 0;
    if (p && lua_getmetatable(L, 1)) {
        same = lua_topointer(L, -1) == lua_topointer(L, lua_upvalueindex(UP_SELF));
        lua_pop(L, 1);
    }
    if (!same) luaL_typeerror(L, 1, type);
    return p;
}

/* The user value index of a named field, from the name -> index table at upvalue 2. */
static int field_index(lua_State *L, int key)
{
    lua_pushvalue(L, key);
    lua_rawget(L, lua_upvalueindex(2));
    int uv = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return uv;
}

/* The tensor in user value uv of the layer at index 1, or NULL (pushes nothing). */
static ty_tensor *uv_tensor(lua_State *L, int uv)
{
    /* the tensor user values only ever hold tensors or nil (rnn_newindex checks what
       scripts assign), so no metatable check is needed on this hot path */
    lua_getiuservalue(L, 1, uv);
    ty_tensor *t = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the layer keeps it alive */
    return t && t->data ? t : NULL;
}

/* A tensor the last forward_step or forward left in user value uv for the backward: an
   error if there is none yet, or if the script has closed it since. */
static ty_tensor *cached(lua_State *L, int uv, const char *fname, const char *forward,
                         const char *what)
{
    lua_getiuservalue(L, 1, uv);
    ty_tensor *t = lua_touserdata(L, -1);
    lua_pop(L, 1); /* the layer keeps it alive */
    if (!t) luaL_error(L, "%s: call %s first", fname, forward);
    if (!t->data)
        luaL_error(L, "%s: %s's %s was closed; call %s again", fname, forward, what, forward);
    return t;
}

static void set_uv(lua_State *L, int layer, int value, int uv)
{
    lua_pushvalue(L, value);
    lua_setiuservalue(L, layer, uv);
}

/* An argument that must be a tensor, with a message naming it. */
static ty_tensor *check_named(lua_State *L, int i, const char *fname, const char *name)
{
    ty_tensor *t = lt_test_up(L, i);
    if (!t || !t->data)
        luaL_error(L, "%s: %s must be a tensor (got %s)", fname, name,
                   t ? "a closed tensor" : luaL_typename(L, i));
    return t;
}

static void weights(lua_State *L, const lt_rnn *r, const char *fname, ty_tensor **W_ih,
                    ty_tensor **W_hh, ty_tensor **b)
{
    *W_ih = r->W_ih->data ? r->W_ih : NULL;
    *W_hh = r->W_hh->data ? r->W_hh : NULL;
    *b = r->b->data ? r->b : NULL;
    if (!*W_ih || !*W_hh || !*b)
        luaL_error(L, "%s: the layer's %s was closed", fname,
                   !*W_ih ? "W_ih" : !*W_hh ? "W_hh" : "b");
}

static void raise_if(lua_State *L, int rc, const ty_error *e)
{
    if (rc) lt_raise(L, e);
}

/* nn.RNNLayer(in_size, out_size): weights drawn with rand() as the notebook's constructor. */
static int rnn_new(lua_State *L)
{
    lua_Integer D = luaL_checkinteger(L, 1), H = luaL_checkinteger(L, 2);
    luaL_argcheck(L, D >= 0, 1, "in_size must not be negative");
    luaL_argcheck(L, H >= 0, 2, "out_size must not be negative");
    lt_rnn *r = lua_newuserdatauv(L, sizeof *r, UV_COUNT);
    memset(r, 0, sizeof *r);
    r->alloc = lt_allocator(L);
    lt_setmetatable(L, &rnn_key);
    int layer = lua_gettop(L);
    ty_random *rng = lt_random_state(L);
    int64_t s_ih[2] = { D, H }, s_hh[2] = { H, H }, s_b[1] = { H };
    ty_tensor *t = lt_push_new(L, 2, s_ih);
    ty_random_fill_uniform(rng, t);
    lua_setiuservalue(L, layer, UV_W_IH);
    r->W_ih = t;
    t = lt_push_new(L, 2, s_hh);
    ty_random_fill_uniform(rng, t);
    lua_setiuservalue(L, layer, UV_W_HH);
    r->W_hh = t;
    t = lt_push_new(L, 1, s_b);
    ty_random_fill_uniform(rng, t);
    lua_setiuservalue(L, layer, UV_B);
    r->b = t;
    lua_newtable(L);
    lua_setiuservalue(L, layer, UV_EXTRA);
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
    u->x = check_named(L, 2, "forward_step", "x");
    u->prev_h = check_named(L, 3, "forward_step", "prev_h");
    weights(L, r, "forward_step", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_step(u->x, u->prev_h, u->W_ih, u->W_hh, u->b, "forward_step", &e), &e);
}

/* A result allocated before the second check must still have the shape it needs. */
static void allocated(lua_State *L, const ty_tensor *t, int ndim, const int64_t *shape,
                      const char *fname, const char *what)
{
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same)
        luaL_error(L, "%s: the sizes changed during the call (a finalizer assigned %s's "
                      "inputs or weights)", fname, what);
}

static int rnn_forward_step(lua_State *L)
{
    lt_rnn *r = check_self(L, "RNNLayer");
    step_use u;
    read_step(L, r, &u);
    int64_t shape[2] = { u.x->shape[0], u.W_ih->shape[1] };
    ty_tensor *next_h = lt_push_new_up(L, 2, shape);
    read_step(L, r, &u);
    shape[0] = u.x->shape[0];
    shape[1] = u.W_ih->shape[1];
    allocated(L, next_h, 2, shape, "forward_step", "next_h");
    ty_error e;
    raise_if(L, ty_rnn_step_forward(next_h, u.x, u.prev_h, u.W_ih, u.W_hh, u.b, &r->alloc, &e), &e);
    set_uv(L, 1, 2, UV_STEP_X);
    set_uv(L, 1, -1, UV_STEP_NEXT_H);
    return 1;
}

/* What backward_step uses: arguments 2 and 3, the last forward_step's x and next_h, the
   weights. */
typedef struct step_back_use {
    ty_tensor *prev_h, *dnext_h, *x, *next_h, *W_ih, *W_hh, *b;
} step_back_use;

static void read_step_back(lua_State *L, const lt_rnn *r, step_back_use *u)
{
    u->prev_h = check_named(L, 2, "backward_step", "prev_h");
    u->dnext_h = check_named(L, 3, "backward_step", "dnext_h");
    u->x = cached(L, UV_STEP_X, "backward_step", "forward_step", "x");
    u->next_h = cached(L, UV_STEP_NEXT_H, "backward_step", "forward_step", "next_h");
    weights(L, r, "backward_step", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_step_backward(u->prev_h, u->dnext_h, u->x, u->next_h, u->W_ih,
                                           u->W_hh, u->b, &e), &e);
}

static int rnn_backward_step(lua_State *L)
{
    lt_rnn *r = check_self(L, "RNNLayer");
    step_back_use u;
    read_step_back(L, r, &u);
    int base = lua_gettop(L);
    ty_tensor *dx = lt_push_new_up(L, 2, u.x->shape);
    ty_tensor *dprev = lt_push_new_up(L, 2, u.prev_h->shape);
    ty_tensor *dW_ih = lt_push_new_up(L, 2, u.W_ih->shape);
    ty_tensor *dW_hh = lt_push_new_up(L, 2, u.W_hh->shape);
    ty_tensor *db = lt_push_new_up(L, 1, u.b->shape);
    read_step_back(L, r, &u);
    allocated(L, dx, 2, u.x->shape, "backward_step", "dx");
    allocated(L, dprev, 2, u.prev_h->shape, "backward_step", "dprev_H");
    allocated(L, dW_ih, 2, u.W_ih->shape, "backward_step", "dW_ih");
    allocated(L, dW_hh, 2, u.W_hh->shape, "backward_step", "dW_hh");
    allocated(L, db, 1, u.b->shape, "backward_step", "db");
    ty_error e;
    raise_if(L, ty_rnn_step_backward(dx, dprev, dW_ih, dW_hh, db, u.x, u.prev_h, u.next_h,
                                     u.dnext_h, u.W_ih, u.W_hh, &r->ws, &r->alloc, &e), &e);
    set_uv(L, 1, base + 2, UV_DPREV_H);
    set_uv(L, 1, base + 3, UV_DW_IH);
    set_uv(L, 1, base + 4, UV_DW_HH);
    set_uv(L, 1, base + 5, UV_DB);
    set_uv(L, 1, base + 1, UV_DX);
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
    check_named(L, 2, "forward", "x");
    u->x = check_named(L, xi, "forward", "x");
    u->h0 = check_named(L, 3, "forward", "h0");
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
    lt_rnn *r = check_self(L, "RNNLayer");
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
    allocated(L, h, 3, shape, "forward", "h");
    ty_error e;
    raise_if(L, ty_rnn_forward(h, u.x, u.h0, u.W_ih, u.W_hh, u.b, &r->ws, &r->alloc, &e), &e);
    set_uv(L, 1, xi, UV_SEQ_X);
    set_uv(L, 1, 3, UV_SEQ_H0);
    set_uv(L, 1, -1, UV_SEQ_H);
    return 1;
}

/* What backward uses: dout (argument 2), the last forward's x, h0 and h, the weights. */
typedef struct seq_back_use {
    ty_tensor *dout, *x, *h0, *h, *W_ih, *W_hh, *b;
} seq_back_use;

static void read_seq_back(lua_State *L, const lt_rnn *r, seq_back_use *u)
{
    u->dout = check_named(L, 2, "backward", "dout");
    u->x = cached(L, UV_SEQ_X, "backward", "forward", "x");
    u->h0 = cached(L, UV_SEQ_H0, "backward", "forward", "h0");
    u->h = cached(L, UV_SEQ_H, "backward", "forward", "h");
    weights(L, r, "backward", &u->W_ih, &u->W_hh, &u->b);
    ty_error e;
    raise_if(L, ty_rnn_check_backward(u->dout, u->x, u->h, u->W_ih, u->W_hh, u->b, &e), &e);
}

static int rnn_backward(lua_State *L)
{
    lt_rnn *r = check_self(L, "RNNLayer");
    lua_settop(L, 2);
    seq_back_use u;
    read_seq_back(L, r, &u);
    ty_tensor *dx = lt_push_new_up(L, 3, u.x->shape);
    ty_tensor *dh0 = lt_push_new_up(L, 2, u.h0->shape);
    ty_tensor *dW_ih = lt_push_new_up(L, 2, u.W_ih->shape);
    ty_tensor *dW_hh = lt_push_new_up(L, 2, u.W_hh->shape);
    ty_tensor *db = lt_push_new_up(L, 1, u.b->shape);
    read_seq_back(L, r, &u);
    allocated(L, dx, 3, u.x->shape, "backward", "dx");
    allocated(L, dh0, 2, u.h0->shape, "backward", "dh0");
    allocated(L, dW_ih, 2, u.W_ih->shape, "backward", "dW_ih");
    allocated(L, dW_hh, 2, u.W_hh->shape, "backward", "dW_hh");
    allocated(L, db, 1, u.b->shape, "backward", "db");
    ty_error e;
    raise_if(L, ty_rnn_backward(dx, dh0, dW_ih, dW_hh, db, u.dout, u.x, u.h0, u.h, u.W_ih,
                                u.W_hh, &r->ws, &r->alloc, &e), &e);
    set_uv(L, 1, 3, UV_DX);
    set_uv(L, 1, 4, UV_DH0);
    set_uv(L, 1, 5, UV_DW_IH);
    set_uv(L, 1, 6, UV_DW_HH);
    set_uv(L, 1, 7, UV_DB);
    return 5;
}

static int rnn_index(lua_State *L)
{
    lua_pushvalue(L, 2); /* methods first, without touching the layer: every rnn:method() */
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    check_rnn(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        int uv = field_index(L, 2);
        if (uv) {
            lua_getiuservalue(L, 1, uv);
            return 1;
        }
        const char *k = lua_tostring(L, 2);
        if (strcmp(k, "in_size") == 0 || strcmp(k, "out_size") == 0) {
            ty_tensor *W_ih = uv_tensor(L, UV_W_IH);
            if (!W_ih || W_ih->ndim != 2) return luaL_error(L, "%s: W_ih is not a matrix", k);
            lua_pushinteger(L, (lua_Integer)W_ih->shape[k[0] == 'i' ? 0 : 1]);
            return 1;
        }
    }
    lua_getiuservalue(L, 1, UV_EXTRA);
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int rnn_newindex(lua_State *L)
{
    lt_rnn *r = check_rnn(L, 1);
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *k = lua_tostring(L, 2);
        int uv = field_index(L, 2);
        if (uv) {
            if (uv <= UV_B && !lt_test(L, 3))
                return luaL_error(L, "RNNLayer: %s must be a tensor (got %s)", k, luaL_typename(L, 3));
            if (!lua_isnil(L, 3) && !lt_test(L, 3))
                return luaL_error(L, "RNNLayer: %s must be a tensor or nil (got %s)", k,
                                  luaL_typename(L, 3));
            lua_settop(L, 3);
            ty_tensor *t = lua_touserdata(L, 3);
            if (uv == UV_W_IH) r->W_ih = t;
            if (uv == UV_W_HH) r->W_hh = t;
            if (uv == UV_B) r->b = t;
            lua_setiuservalue(L, 1, uv);
            return 0;
        }
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
            return luaL_error(L, "RNNLayer: %s is a method and cannot be assigned", k);
        lua_settop(L, 3);
    }
    lua_getiuservalue(L, 1, UV_EXTRA);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, -3);
    return 0;
}

static int rnn_tostring(lua_State *L)
{
    check_rnn(L, 1);
    ty_tensor *W_ih = uv_tensor(L, UV_W_IH);
    if (W_ih && W_ih->ndim == 2)
        lua_pushfstring(L, "RNNLayer(%I -> %I)", (lua_Integer)W_ih->shape[0],
                        (lua_Integer)W_ih->shape[1]);
    else
        lua_pushliteral(L, "RNNLayer(?)");
    return 1;
}

static int rnn_gc(lua_State *L)
{
    lt_rnn *r = check_rnn(L, 1);
    ty_tensor_free(&r->ws);
    return 0;
}

/* ---- Tanh ----------------------------------------------------------------------------- */

static int tanh_new(lua_State *L)
{
    lua_newuserdatauv(L, 1, 1);
    lt_setmetatable(L, &tanh_key);
    return 1;
}

static int tanh_forward(lua_State *L)
{
    check_self(L, "Tanh");
    ty_tensor *x = check_named(L, 2, "Tanh.forward", "x");
    ty_tensor *y = lt_push_new_up(L, x->ndim, x->shape);
    lt_alive(L, x, 2);
    ty_unary(y, x, TY_TANH);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
    return 1;
}

static int tanh_backward(lua_State *L)
{
    check_self(L, "Tanh");
    ty_tensor *dout = check_named(L, 2, "Tanh.backward", "dout");
    lua_settop(L, 2);
    lua_getiuservalue(L, 1, 1);
    ty_tensor *y = lt_test_up(L, 3);
    if (!y) return luaL_error(L, "Tanh.backward: call forward first");
    if (!y->data)
        return luaL_error(L, "Tanh.backward: forward's output y was closed; call forward again");
    if (!ty_same_shape(y, dout)) {
        char s1[96], s2[96];
        return luaL_error(L, "Tanh.backward: dout is %s but forward's output is %s", LT_SHAPE(dout, s1),
                          LT_SHAPE(y, s2));
    }
    ty_tensor *dx = lt_push_new_up(L, y->ndim, y->shape);
    lt_alive(L, dout, 2);
    lt_alive(L, y, 3); /* forward's y, pushed above */
    /* dx = dout * (1 - y^2) */
    ty_binary(dx, y, y, TY_MUL);
    double one = 1.0;
    ty_tensor s = ty_tensor_scalar(&one);
    ty_binary(dx, &s, dx, TY_SUB);
    ty_binary(dx, dx, dout, TY_MUL);
    return 1;
}

static int tanh_tostring(lua_State *L)
{
    lua_pushliteral(L, "Tanh()");
    return 1;
}

static const luaL_Reg rnn_methods[] = {
    { "forward_step", rnn_forward_step },
    { "backward_step", rnn_backward_step },
    { "forward", rnn_forward },
    { "backward", rnn_backward },
    { NULL, NULL }
};

static const luaL_Reg tanh_methods[] = {
    { "forward", tanh_forward },
    { "backward", tanh_backward },
    { NULL, NULL }
};

void lt_open_nn(lua_State *L)
{
    if (lt_newmetatable(L, LT_RNN, &rnn_key)) {
        int mt = lua_gettop(L);
        luaL_newlibtable(L, rnn_methods);
        lt_push_tensor_metatables(L);
        lua_pushvalue(L, mt);
        luaL_setfuncs(L, rnn_methods, 3);
        lua_createtable(L, 0, UV_EXTRA); /* field name -> user value index */
        for (int i = 0; field_names[i]; i++) {
            lua_pushinteger(L, i + 1);
            lua_setfield(L, -2, field_names[i]);
        }
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, rnn_index, 2);
        lua_setfield(L, mt, "__index");
        lua_pushcclosure(L, rnn_newindex, 2);
        lua_setfield(L, mt, "__newindex");
        lua_pushcfunction(L, rnn_tostring);
        lua_setfield(L, mt, "__tostring");
        lua_pushcfunction(L, rnn_gc);
        lua_setfield(L, mt, "__gc");
        lua_pushliteral(L, LT_RNN); /* locked, as the tensor metatables are */
        lua_setfield(L, mt, "__metatable");
    }
    lua_pop(L, 1);
    if (lt_newmetatable(L, LT_TANH, &tanh_key)) {
        /* the methods in a table of their own: a metatable that is its own __index would
           hand itself to any script as layer.__index, lock or no lock */
        int mt = lua_gettop(L);
        luaL_newlibtable(L, tanh_methods);
        lt_push_tensor_metatables(L);
        lua_pushvalue(L, mt);
        luaL_setfuncs(L, tanh_methods, 3);
        lua_setfield(L, mt, "__index");
        lua_pushcfunction(L, tanh_tostring);
        lua_setfield(L, mt, "__tostring");
        lua_pushliteral(L, LT_TANH);
        lua_setfield(L, mt, "__metatable");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushcfunction(L, rnn_new);
    lua_setfield(L, -2, "RNNLayer");
    lua_pushcfunction(L, tanh_new);
    lua_setfield(L, -2, "Tanh");
}
