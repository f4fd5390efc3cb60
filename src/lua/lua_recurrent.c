/* lua_recurrent.c: tycho.nn's recurrent layers, RNNLayer (the notebook's), LSTMLayer and
   GRULayer: one set of methods for the three, each layer a descriptor (lua_layer.h) and a
   cell (nn/cell.h); the math is nn/recurrent.c's. */
#include "lua/lua_layer.h"

#include <math.h>
#include <string.h>

#include "core/lanes.h"
#include "core/ops.h"
#include "core/random.h"
#include "lua/lua_random.h"
#include "nn/recurrent.h"

enum { P_W_IH, P_W_HH, P_B_IH, P_B_HH };

/* The fields the methods set, by meaning; each layer names those it has (slot[]). */
enum { S_DPREV_H, S_DPREV_C, S_DW_IH, S_DW_HH, S_DB_IH, S_DB_HH, S_DX, S_DH0, S_DC0, S_H_N,
       S_C_N, NSLOTS };

/* What the last forward_step and the last forward kept. */
enum { C_STEP_X, C_STEP_H0, C_STEP_C0, C_STEP_H, C_SEQ_X, C_SEQ_H0, C_SEQ_C0, C_SEQ_H, NCACHES };

typedef struct recurrent_kind {
    lt_layer_desc desc; /* first: a layer's desc is its kind */
    const ty_cell *cell;
    signed char slot[NSLOTS]; /* the gradient field of each meaning, -1 if the layer has none */
} recurrent_kind;

/* What backward needs beyond h (the LSTM's gates and c, the GRU's gates and h W_hn + b_hn)
   is the layer's own: a buffer per kind of forward, grown as needed and reused, never handed
   to a script (a fresh one per forward would be an mmap and its zeroed pages every call: a
   quarter of the LSTM's time at N64 T50 H512). */
typedef struct lt_recurrent {
    lt_layer base;
    ty_tensor ws;         /* workspace of the passes, kept between calls */
    ty_tensor step_cache; /* the last forward_step's cache, N x 1 x W */
    ty_tensor seq_cache;  /* the last forward's, N x T x W */
    int path;             /* TY_PATH_* or lanes (the `path` field) */
    unsigned forwards;    /* forwards and forward_steps begun: a backward that saw the same
                             count after an allocation reads the same caches */
} lt_recurrent;

/* Checks a method's argument count (at most n besides self) and makes arguments 2 .. n + 1
   valid indices (nil where left out), without touching a stack that has them already. */
static void arguments(lua_State *L, int n, const char *fname)
{
    lt_layer_max_args(L, n, fname);
    if (lua_gettop(L) != n + 1) lua_settop(L, n + 1);
}

static const recurrent_kind *kind_of(const lt_layer *l)
{
    return (const recurrent_kind *)l->desc;
}

static void raise_if(lua_State *L, int rc, const ty_error *e)
{
    if (rc) lt_raise(L, e);
}

/* The layer as the math sees it, its weights read (and checked not closed) now. */
static ty_recurrent math_of(lua_State *L, lt_recurrent *r, const char *fname)
{
    const ty_cell *cell = kind_of(&r->base)->cell;
    ty_recurrent m;
    m.cell = cell;
    m.W_ih = lt_layer_param(L, &r->base, P_W_IH, fname);
    m.W_hh = lt_layer_param(L, &r->base, P_W_HH, fname);
    m.b_ih = lt_layer_param(L, &r->base, P_B_IH, fname);
    m.b_hh = cell->two_biases ? lt_layer_param(L, &r->base, P_B_HH, fname) : NULL;
    m.path = r->path;
    m.ws = &r->ws;
    m.a = &r->base.alloc;
    return m;
}

/* What a method read, to tell after an allocation whether a finalizer changed any of it. */
typedef struct seen {
    unsigned assigned, forwards;
} seen;

static seen seen_now(const lt_recurrent *r)
{
    seen s = { r->base.assigned, r->forwards };
    return s;
}

/* After an allocation: whether no parameter was assigned and no forward begun since s, and
   none of the weights and of the tensors in more[] was closed. A tensor's header changes only
   by closing it and the arguments' stack slots are the call's, so then every check made still
   holds; otherwise the caller reads and checks everything again. */
static int unchanged(const lt_recurrent *r, seen s, const ty_recurrent *m, int n,
                     ty_tensor *const *more)
{
    if (r->base.assigned != s.assigned || r->forwards != s.forwards) return 0;
    if (!m->W_ih->data || !m->W_hh->data || !m->b_ih->data || (m->b_hh && !m->b_hh->data))
        return 0;
    for (int i = 0; i < n; i++)
        if (more[i] && !more[i]->data) return 0;
    return 1;
}

/* The layer's cache buffer seen as N x T x W (NULL for the RNN, which has none). */
static ty_tensor *cache_view(ty_tensor *view, const ty_tensor *buf, const ty_cell *cell,
                             int64_t N, int64_t T, int64_t H)
{
    int64_t W = ty_recurrent_cache_width(cell, H);
    if (!W) return NULL;
    memset(view, 0, sizeof *view);
    view->data = buf->data;
    view->ndim = 3;
    view->shape[0] = N, view->shape[1] = T, view->shape[2] = W;
    view->stride[0] = T * W, view->stride[1] = W, view->stride[2] = 1;
    return view;
}

/* Before a forward writes its cache buffer: the caches of the last one are no longer whole
   (a forward that fails leaves "call forward first"), and the buffer holds n elements. */
static void begin_forward(lua_State *L, lt_recurrent *r, int h_cache, ty_tensor *buf, int64_t n)
{
    r->forwards++;
    lua_pushnil(L);
    lt_layer_keep(L, h_cache, -1);
    lua_pop(L, 1);
    ty_error e;
    if (n) raise_if(L, ty_workspace_reserve(buf, n, &r->base.alloc, &e), &e);
}

static void set_slot(lua_State *L, const lt_recurrent *r, int slot, int value)
{
    int g = kind_of(&r->base)->slot[slot];
    if (g >= 0) lt_layer_set_grad(L, g, value);
}

/* An N x 1 x K view of an N x K matrix: a step as a sequence of one. Only the fields of its
   three dimensions are set (a step makes four of these headers; no other is read). */
static ty_tensor as_sequence(const ty_tensor *m)
{
    ty_tensor s;
    s.storage = m->storage;
    s.data = m->data;
    s.ndim = 3;
    s.shape[0] = m->shape[0];
    s.stride[0] = m->stride[0];
    s.shape[1] = 1;
    s.stride[1] = m->stride[0] * m->shape[0];
    s.shape[2] = m->shape[1];
    s.stride[2] = m->stride[1];
    return s;
}

/* The tensor at index i as the math reads it, with a unit last stride (and for a sequence
   input, rows that reshape into a matrix): itself, or a pushed contiguous copy. Returns the
   index of the tensor to use. */
static int unit_stride(lua_State *L, int i, int rows)
{
    ty_tensor *t = lua_touserdata(L, i); /* checked by the caller */
    int ok = t->stride[t->ndim - 1] == 1;
    if (ok && rows) {
        ty_tensor v = *t;
        int64_t shape[2] = { t->shape[0] * t->shape[1], t->shape[2] };
        ok = ty_view_reshape(&v, 2, shape);
    }
    if (ok) return i;
    ty_tensor *c = lt_push_new_up(L, t->ndim, t->shape);
    lt_alive(L, t, i);
    ty_copy_flat(c, t);
    return lua_gettop(L);
}

/* Every method reads and checks what it uses twice: before allocating its results, for their
   shapes, and after, because an allocation may run finalizers, and a finalizer may close a
   tensor or assign the layer's weights. No Lua code runs between the second check and the
   math, so the math sees what was checked; a result allocated for shapes that changed
   meanwhile is an error (lt_layer_allocated). */

/* ---- forward_step ------------------------------------------------------------------------ */

typedef struct step_use {
    ty_recurrent m;
    ty_tensor *x, *h0, *c0;
    seen s;
} step_use;

static void read_step(lua_State *L, lt_recurrent *r, step_use *u)
{
    const ty_cell *cell = kind_of(&r->base)->cell;
    u->x = lt_layer_arg(L, 2, "forward_step", "x");
    u->h0 = lt_layer_opt_arg(L, 3, "forward_step", "prev_h");
    u->c0 = cell->has_c ? lt_layer_opt_arg(L, 4, "forward_step", "prev_c") : NULL;
    u->m = math_of(L, r, "forward_step");
    u->s = seen_now(r);
    ty_error e;
    raise_if(L, ty_recurrent_check_input(&u->m, u->x, 0, u->h0, u->c0, "forward_step", "prev_h",
                                         "prev_c", &e), &e);
}

static int rec_forward_step(lua_State *L)
{
    lt_recurrent *r = (lt_recurrent *)lt_layer_self(L);
    const ty_cell *cell = kind_of(&r->base)->cell;
    arguments(L, cell->has_c ? 3 : 2, "forward_step");
    step_use u;
    read_step(L, r, &u);
    int64_t N = u.x->shape[0], H = u.m.W_hh->shape[0];
    int64_t hs[2] = { N, H };
    ty_tensor *next_h = lt_push_new_up(L, 2, hs);
    int hi = lua_gettop(L);
    ty_tensor *next_c = cell->has_c ? lt_push_new_up(L, 2, hs) : NULL;
    if (!unchanged(r, u.s, &u.m, 3, (ty_tensor *const[]){ u.x, u.h0, u.c0 })) read_step(L, r, &u);
    hs[0] = N = u.x->shape[0];
    hs[1] = H = u.m.W_hh->shape[0];
    lt_layer_allocated(L, next_h, 2, hs, "forward_step", "next_h");
    if (next_c) lt_layer_allocated(L, next_c, 2, hs, "forward_step", "next_c");
    begin_forward(L, r, C_STEP_H, &r->step_cache, N * ty_recurrent_cache_width(cell, H));
    ty_tensor x3 = as_sequence(u.x), h3 = as_sequence(next_h), cv;
    ty_tensor *cache = cache_view(&cv, &r->step_cache, cell, N, 1, H);
    ty_error e;
    raise_if(L, ty_recurrent_forward(&u.m, &h3, cache, &x3, u.h0, u.c0, &e), &e);
    if (next_c) ty_recurrent_last(&u.m, NULL, next_c, &h3, cache, u.h0, u.c0);
    lt_layer_keep(L, C_STEP_X, 2);
    if (!cell->row_is_h) lt_layer_keep(L, C_STEP_H0, 3); /* the RNN's backward_step takes it */
    if (cell->has_c) lt_layer_keep(L, C_STEP_C0, 4);
    lt_layer_keep(L, C_STEP_H, hi);
    return next_c ? 2 : 1;
}

/* ---- backward_step ----------------------------------------------------------------------- */

/* RNNLayer:backward_step(prev_h, dnext_h), the notebook's; LSTMLayer:backward_step(dnext_h
   [, dnext_c]); GRULayer:backward_step(dnext_h). */
typedef struct step_back_use {
    ty_recurrent m;
    ty_tensor *dnext_h, *dnext_c, *x, *h0, *c0, *next_h, *cache, cv;
    seen s;
} step_back_use;

static void read_step_back(lua_State *L, lt_recurrent *r, int di, int ci, step_back_use *u)
{
    const char *f = "backward_step", *fw = "forward_step";
    const ty_cell *cell = kind_of(&r->base)->cell;
    int given_h = cell->row_is_h; /* the notebook's RNN takes prev_h again */
    ty_tensor *prev_h = given_h ? lt_layer_arg(L, 2, f, "prev_h") : NULL;
    u->dnext_h = lt_layer_arg(L, di, f, "dnext_h");
    u->dnext_c = ci ? lt_layer_opt_arg(L, ci, f, "dnext_c") : NULL;
    u->x = lt_layer_cache(L, C_STEP_X, f, fw, "x");
    u->next_h = lt_layer_cache(L, C_STEP_H, f, fw, "next_h");
    u->h0 = given_h ? prev_h : lt_layer_cache_opt(L, C_STEP_H0, f, fw, "prev_h");
    u->c0 = lt_layer_cache_opt(L, C_STEP_C0, f, fw, "prev_c");
    u->m = math_of(L, r, f);
    u->s = seen_now(r);
    int64_t N = u->next_h->shape[0], H = u->next_h->shape[1];
    u->cache = cache_view(&u->cv, &r->step_cache, cell, N, 1, H);
    ty_error e;
    if (prev_h)
        raise_if(L, ty_check_matrix(prev_h, "prev_h", N, H, "the shape of forward_step's prev_h", f, &e), &e);
    raise_if(L, ty_check_matrix(u->dnext_h, "dnext_h", N, H, "the shape of forward_step's result", f, &e), &e);
    if (u->dnext_c)
        raise_if(L, ty_check_matrix(u->dnext_c, "dnext_c", N, H, "the shape of forward_step's next_c", f, &e), &e);
    raise_if(L, ty_recurrent_check_fit(&u->m, u->x->shape[1], H, f, &e), &e);
}

/* Pushes the weights' gradients, shaped as the parameters. */
static void push_weight_grads(lua_State *L, const ty_recurrent *m, ty_tensor **g)
{
    const ty_tensor *like[4] = { m->W_ih, m->W_hh, m->b_ih, m->b_hh };
    lt_layer_push_like(L, m->cell->two_biases ? 4 : 3, like, g);
}

static void check_weight_grads(lua_State *L, const ty_recurrent *m, ty_tensor **g, const char *f)
{
    static const char *const names[] = { "dW_ih", "dW_hh", "db_ih", "db_hh" };
    const ty_tensor *like[4] = { m->W_ih, m->W_hh, m->b_ih, m->b_hh };
    lt_layer_still_like(L, m->cell->two_biases ? 4 : 3, g, like, f, names);
}

/* Sets the weights' gradient fields from the results at first (dW_ih, dW_hh, db_ih[, db_hh]). */
static void set_weight_grads(lua_State *L, const lt_recurrent *r, int first)
{
    set_slot(L, r, S_DW_IH, first);
    set_slot(L, r, S_DW_HH, first + 1);
    set_slot(L, r, S_DB_IH, first + 2);
    if (kind_of(&r->base)->cell->two_biases) set_slot(L, r, S_DB_HH, first + 3);
}

static int rec_backward_step(lua_State *L)
{
    lt_recurrent *r = (lt_recurrent *)lt_layer_self(L);
    const ty_cell *cell = kind_of(&r->base)->cell;
    int di = cell->row_is_h ? 3 : 2, ci = cell->has_c ? 3 : 0;
    arguments(L, cell->row_is_h || cell->has_c ? 2 : 1, "backward_step");
    step_back_use u;
    read_step_back(L, r, di, ci, &u);
    const char *f = "backward_step";
    int base = lua_gettop(L);
    int64_t N = u.next_h->shape[0], H = u.next_h->shape[1], D = u.x->shape[1];
    int64_t sx[2] = { N, D }, sh[2] = { N, H };
    ty_tensor *dx = lt_push_new_up(L, 2, sx), *dprev_h = lt_push_new_up(L, 2, sh);
    ty_tensor *dprev_c = cell->has_c ? lt_push_new_up(L, 2, sh) : NULL;
    int gi = lua_gettop(L) + 1; /* the weights' gradients */
    ty_tensor *g[4] = { NULL };
    push_weight_grads(L, &u.m, g);
    int dhi = unit_stride(L, di, 0), dci = u.dnext_c ? unit_stride(L, ci, 0) : 0;
    if (!unchanged(r, u.s, &u.m, 6, (ty_tensor *const[]){ u.dnext_h, u.dnext_c, u.x, u.h0, u.c0,
                                                          u.next_h }))
        read_step_back(L, r, di, ci, &u);
    N = u.next_h->shape[0], H = u.next_h->shape[1], D = u.x->shape[1];
    sx[0] = sh[0] = N, sx[1] = D, sh[1] = H;
    lt_layer_allocated(L, dx, 2, sx, f, "dx");
    lt_layer_allocated(L, dprev_h, 2, sh, f, "dprev_H");
    if (dprev_c) lt_layer_allocated(L, dprev_c, 2, sh, f, "dprev_C");
    check_weight_grads(L, &u.m, g, f);
    ty_tensor *dnext_h = lua_touserdata(L, dhi), *dnext_c = dci ? lua_touserdata(L, dci) : NULL;
    lt_alive(L, dnext_h, dhi);
    if (dnext_c) lt_alive(L, dnext_c, dci);
    lt_layer_allocated(L, dnext_h, 2, sh, f, "dnext_h");
    if (dnext_c) lt_layer_allocated(L, dnext_c, 2, sh, f, "dnext_c");
    ty_tensor x3 = as_sequence(u.x), h3 = as_sequence(u.next_h), dout3 = as_sequence(dnext_h);
    ty_tensor dx3 = as_sequence(dx);
    ty_recurrent_grads gr = { &dx3, dprev_h, dprev_c, g[0], g[1], g[2], g[3] };
    ty_error e;
    raise_if(L, ty_recurrent_backward(&u.m, &gr, &dout3, dnext_c, &x3, u.h0, u.c0, &h3, u.cache, &e), &e);
    set_slot(L, r, S_DPREV_H, base + 2);
    if (dprev_c) set_slot(L, r, S_DPREV_C, base + 3);
    set_weight_grads(L, r, gi);
    set_slot(L, r, S_DX, base + 1);
    lua_settop(L, base + 1);
    return 1;
}

/* ---- forward ----------------------------------------------------------------------------- */

typedef struct seq_use {
    ty_recurrent m;
    ty_tensor *x, *h0, *c0;
    seen s;
} seq_use;

static void read_seq(lua_State *L, lt_recurrent *r, int xi, seq_use *u)
{
    const ty_cell *cell = kind_of(&r->base)->cell;
    lt_layer_arg(L, 2, "forward", "x");
    u->x = lt_layer_arg(L, xi, "forward", "x");
    u->h0 = lt_layer_opt_arg(L, 3, "forward", "h0");
    u->c0 = cell->has_c ? lt_layer_opt_arg(L, 4, "forward", "c0") : NULL;
    u->m = math_of(L, r, "forward");
    u->s = seen_now(r);
    ty_error e;
    raise_if(L, ty_recurrent_check_input(&u->m, u->x, 1, u->h0, u->c0, "forward", "h0", "c0", &e), &e);
}

static int rec_forward(lua_State *L)
{
    lt_recurrent *r = (lt_recurrent *)lt_layer_self(L);
    const ty_cell *cell = kind_of(&r->base)->cell;
    arguments(L, cell->has_c ? 3 : 2, "forward");
    seq_use u;
    read_seq(L, r, 2, &u);
    int xi = unit_stride(L, 2, 1);
    int64_t N = u.x->shape[0], T = u.x->shape[1], H = u.m.W_hh->shape[0];
    int64_t hs[3] = { N, T, H }, ns[2] = { N, H };
    ty_tensor *h = lt_push_new_up(L, 3, hs);
    int hi = lua_gettop(L);
    ty_tensor *h_n = lt_push_new_up(L, 2, ns);
    ty_tensor *c_n = cell->has_c ? lt_push_new_up(L, 2, ns) : NULL;
    if (!unchanged(r, u.s, &u.m, 3, (ty_tensor *const[]){ u.x, u.h0, u.c0 }) || xi != 2)
        read_seq(L, r, xi, &u);
    hs[0] = ns[0] = N = u.x->shape[0];
    hs[1] = T = u.x->shape[1];
    hs[2] = ns[1] = H = u.m.W_hh->shape[0];
    lt_layer_allocated(L, h, 3, hs, "forward", "h");
    lt_layer_allocated(L, h_n, 2, ns, "forward", "h_n");
    if (c_n) lt_layer_allocated(L, c_n, 2, ns, "forward", "c_n");
    begin_forward(L, r, C_SEQ_H, &r->seq_cache, N * T * ty_recurrent_cache_width(cell, H));
    ty_tensor cv, *cache = cache_view(&cv, &r->seq_cache, cell, N, T, H);
    ty_error e;
    raise_if(L, ty_recurrent_forward(&u.m, h, cache, u.x, u.h0, u.c0, &e), &e);
    ty_recurrent_last(&u.m, h_n, c_n, h, cache, u.h0, u.c0);
    lt_layer_keep(L, C_SEQ_X, xi);
    lt_layer_keep(L, C_SEQ_H0, 3);
    if (cell->has_c) lt_layer_keep(L, C_SEQ_C0, 4);
    lt_layer_keep(L, C_SEQ_H, hi);
    set_slot(L, r, S_H_N, hi + 1);
    if (c_n) set_slot(L, r, S_C_N, hi + 2);
    lua_pushvalue(L, hi);
    return 1;
}

/* ---- backward ---------------------------------------------------------------------------- */

typedef struct seq_back_use {
    ty_recurrent m;
    ty_tensor *dout, *x, *h0, *c0, *h, *cache, cv;
    seen s;
} seq_back_use;

static void read_seq_back(lua_State *L, lt_recurrent *r, seq_back_use *u)
{
    const char *f = "backward";
    const ty_cell *cell = kind_of(&r->base)->cell;
    u->dout = lt_layer_arg(L, 2, f, "dout");
    u->x = lt_layer_cache(L, C_SEQ_X, f, "forward", "x");
    u->h0 = lt_layer_cache_opt(L, C_SEQ_H0, f, "forward", "h0");
    u->c0 = lt_layer_cache_opt(L, C_SEQ_C0, f, "forward", "c0");
    u->h = lt_layer_cache(L, C_SEQ_H, f, "forward", "h");
    u->m = math_of(L, r, f);
    u->s = seen_now(r);
    u->cache = cache_view(&u->cv, &r->seq_cache, cell, u->h->shape[0], u->h->shape[1], u->h->shape[2]);
    ty_error e;
    if (!ty_same_shape(u->dout, u->h)) {
        char s1[96], s2[96];
        luaL_error(L, "backward: dout is %s but forward's result h is %s (they must match)",
                   LT_SHAPE(u->dout, s1), LT_SHAPE(u->h, s2));
    }
    raise_if(L, ty_recurrent_check_fit(&u->m, u->x->shape[2], u->h->shape[2], f, &e), &e);
}

static int rec_backward(lua_State *L)
{
    lt_recurrent *r = (lt_recurrent *)lt_layer_self(L);
    const ty_cell *cell = kind_of(&r->base)->cell;
    arguments(L, 1, "backward");
    seq_back_use u;
    read_seq_back(L, r, &u);
    const char *f = "backward";
    int base = lua_gettop(L);
    int64_t N = u.h->shape[0], H = u.h->shape[2];
    int64_t sh[2] = { N, H };
    ty_tensor *dx = lt_push_new_up(L, 3, u.x->shape), *dh0 = lt_push_new_up(L, 2, sh);
    ty_tensor *g[4] = { NULL };
    push_weight_grads(L, &u.m, g);
    ty_tensor *dc0 = cell->has_c ? lt_push_new_up(L, 2, sh) : NULL;
    int di = unit_stride(L, 2, 0);
    if (!unchanged(r, u.s, &u.m, 5, (ty_tensor *const[]){ u.dout, u.x, u.h0, u.c0, u.h }))
        read_seq_back(L, r, &u);
    sh[0] = u.h->shape[0], sh[1] = u.h->shape[2];
    lt_layer_allocated(L, dx, 3, u.x->shape, f, "dx");
    lt_layer_allocated(L, dh0, 2, sh, f, "dh0");
    check_weight_grads(L, &u.m, g, f);
    if (dc0) lt_layer_allocated(L, dc0, 2, sh, f, "dc0");
    ty_tensor *dout = lua_touserdata(L, di);
    lt_alive(L, dout, di);
    lt_layer_allocated(L, dout, 3, u.h->shape, f, "dout");
    ty_recurrent_grads gr = { dx, dh0, dc0, g[0], g[1], g[2], g[3] };
    ty_error e;
    raise_if(L, ty_recurrent_backward(&u.m, &gr, dout, NULL, u.x, u.h0, u.c0, u.h, u.cache, &e), &e);
    int nw = cell->two_biases ? 4 : 3;
    set_slot(L, r, S_DX, base + 1);
    set_slot(L, r, S_DH0, base + 2);
    set_weight_grads(L, r, base + 3);
    if (dc0) set_slot(L, r, S_DC0, base + 3 + nw);
    lua_settop(L, base + 2 + nw);
    return 2 + nw;
}

/* ---- the layer's other fields ------------------------------------------------------------ */

static const char *const recurrent_fields[] = { "in_size", "out_size", "path", NULL };

static int rec_field(lua_State *L, const lt_layer *l, const char *k)
{
    const lt_recurrent *r = (const lt_recurrent *)l;
    if (strcmp(k, "path") == 0) {
        if (r->path == TY_PATH_AUTO) lua_pushliteral(L, "auto");
        else if (r->path == TY_PATH_BLAS) lua_pushliteral(L, "blas");
        else if (r->path == TY_PATH_STEPS) lua_pushliteral(L, "steps");
        else lua_pushinteger(L, r->path);
        return 1;
    }
    /* in_size and out_size: D and H, from W_ih */
    const ty_tensor *W_ih = l->param[P_W_IH];
    int gates = kind_of(l)->cell->gates;
    if (!W_ih->data || W_ih->ndim != 2) return luaL_error(L, "%s: W_ih is not a matrix", k);
    lua_pushinteger(L, (lua_Integer)(k[0] == 'i' ? W_ih->shape[0] : W_ih->shape[1] / gates));
    return 1;
}

/* layer.path = "auto" | "blas" | "steps" | lanes (1 .. 16): how the products of long
   sequences run (recurrent.h), for tests and benchmarks. */
static int rec_set_field(lua_State *L, lt_layer *l, const char *k)
{
    if (strcmp(k, "path") != 0) return 0;
    lt_recurrent *r = (lt_recurrent *)l;
    if (lua_type(L, 3) == LUA_TSTRING) {
        const char *v = lua_tostring(L, 3);
        if (!strcmp(v, "auto")) r->path = TY_PATH_AUTO;
        else if (!strcmp(v, "blas")) r->path = TY_PATH_BLAS;
        else if (!strcmp(v, "steps")) r->path = TY_PATH_STEPS;
        else luaL_error(L, "%s: path must be \"auto\", \"blas\", \"steps\" or a number of lanes (got \"%s\")",
                        l->desc->name, v);
        return 1;
    }
    lua_Integer n;
    int isint;
    n = lua_tointegerx(L, 3, &isint);
    if (!isint || n < 1 || n > TY_MAX_LANES)
        luaL_error(L, "%s: path must be \"auto\", \"blas\", \"steps\" or a number of lanes from 1 to %d (got %s)",
                   l->desc->name, TY_MAX_LANES, luaL_tolstring(L, 3, NULL));
    r->path = (int)n;
    return 1;
}

static void rec_describe(lua_State *L, const lt_layer *l)
{
    const ty_tensor *W_ih = l->param[P_W_IH];
    int gates = kind_of(l)->cell->gates;
    if (W_ih->data && W_ih->ndim == 2)
        lua_pushfstring(L, "%s(%I -> %I)", l->desc->name, (lua_Integer)W_ih->shape[0],
                        (lua_Integer)(W_ih->shape[1] / gates));
    else
        lua_pushfstring(L, "%s(?)", l->desc->name);
}

/* reset()'s default: 1/sqrt(H), as PyTorch's recurrent layers */
static double rec_default_stdv(lua_State *L, const lt_layer *l)
{
    const ty_tensor *W_hh = l->param[P_W_HH];
    if (W_hh->ndim != 2 || W_hh->shape[0] == 0)
        luaL_error(L, "reset: W_hh is %s, no hidden size to take 1/sqrt(H) of (give stdv)",
                   W_hh->ndim == 2 ? "empty" : "not a matrix");
    return 1.0 / sqrt((double)W_hh->shape[0]);
}

static void rec_free(lt_layer *l)
{
    lt_recurrent *r = (lt_recurrent *)l;
    ty_tensor_free(&r->ws);
    ty_tensor_free(&r->step_cache);
    ty_tensor_free(&r->seq_cache);
}

/* nn.<Layer>(in_size, out_size): weights drawn with rand() in parameter order, as the
   course's constructors do. */
static int rec_new_kind(lua_State *L, const recurrent_kind *k)
{
    const char *name = k->desc.name;
    if (lua_gettop(L) > 2) return luaL_error(L, "%s: takes 2 arguments, got %d", name, lua_gettop(L));
    lua_Integer D = luaL_checkinteger(L, 1), H = luaL_checkinteger(L, 2);
    luaL_argcheck(L, D >= 0, 1, "in_size must not be negative");
    luaL_argcheck(L, H >= 0, 2, "out_size must not be negative");
    int gates = k->cell->gates;
    if (H > ((lua_Integer)1 << 40) / gates) luaL_argerror(L, 2, "out_size is too large");
    lt_layer_push(L, &k->desc);
    int layer = lua_gettop(L);
    ty_random *rng = lt_random_state(L);
    int64_t shapes[4][2] = { { D, gates * H }, { H, gates * H }, { gates * H, 0 }, { gates * H, 0 } };
    int np = k->cell->two_biases ? 4 : 3;
    for (int p = 0; p < np; p++) {
        ty_tensor *t = lt_push_new(L, p >= P_B_IH ? 1 : 2, shapes[p]);
        ty_random_fill_uniform(rng, t);
        lt_layer_set_param(L, layer, p, -1);
        lua_pop(L, 1);
    }
    return 1;
}

static const luaL_Reg recurrent_methods[] = {
    { "forward_step", rec_forward_step },
    { "backward_step", rec_backward_step },
    { "forward", rec_forward },
    { "backward", rec_backward },
    { NULL, NULL }
};

static int rnn_new(lua_State *L);
static int lstm_new(lua_State *L);
static int gru_new(lua_State *L);

#define RECURRENT_DESC(NAME, PARAMS, GRADS, NEW)                                                   \
    { NAME, PARAMS, GRADS, recurrent_fields, NCACHES, sizeof(lt_recurrent), NEW,                   \
      recurrent_methods, rec_describe, rec_field, rec_set_field, rec_default_stdv, rec_free }

static const char *const rnn_params[] = { "W_ih", "W_hh", "b", NULL };
static const char *const rnn_grads[] = { "dprev_H", "dW_ih", "dW_hh", "db", "dx", "dh0", "h_n", NULL };
static const recurrent_kind rnn_kind = {
    RECURRENT_DESC("RNNLayer", rnn_params, rnn_grads, rnn_new), &ty_rnn_cell,
    /* dprev_H dprev_C dW_ih dW_hh db_ih db_hh dx dh0 dc0 h_n c_n */
    { 0, -1, 1, 2, 3, -1, 4, 5, -1, 6, -1 },
};

static const char *const lstm_grads[] = { "dprev_H", "dprev_C", "dW_ih", "dW_hh", "db", "dx",
                                          "dh0", "dc0", "h_n", "c_n", NULL };
static const recurrent_kind lstm_kind = {
    RECURRENT_DESC("LSTMLayer", rnn_params, lstm_grads, lstm_new), &ty_lstm_cell,
    { 0, 1, 2, 3, 4, -1, 5, 6, 7, 8, 9 },
};

static const char *const gru_params[] = { "W_ih", "W_hh", "b_ih", "b_hh", NULL };
static const char *const gru_grads[] = { "dprev_H", "dW_ih", "dW_hh", "db_ih", "db_hh", "dx",
                                         "dh0", "h_n", NULL };
static const recurrent_kind gru_kind = {
    RECURRENT_DESC("GRULayer", gru_params, gru_grads, gru_new), &ty_gru_cell,
    { 0, -1, 1, 2, 3, 4, 5, 6, -1, 7, -1 },
};

static int rnn_new(lua_State *L) { return rec_new_kind(L, &rnn_kind); }
static int lstm_new(lua_State *L) { return rec_new_kind(L, &lstm_kind); }
static int gru_new(lua_State *L) { return rec_new_kind(L, &gru_kind); }

void lt_register_recurrent(lua_State *L, int nn)
{
    lt_layer_register(L, &rnn_kind.desc, nn);
    lt_layer_register(L, &lstm_kind.desc, nn);
    lt_layer_register(L, &gru_kind.desc, nn);
}
