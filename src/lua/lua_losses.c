/* lua_losses.c: nn.softmax_loss and nn.mse_loss over nn/layers.c: each checks its inputs
   (shapes, labels, NaN), returns the loss (a number) and the gradient of its first input. */
#include "lua/lua_layer.h"

#include <math.h>

#include "nn/layers.h"

static ty_tensor *check_tensor(lua_State *L, int i, const char *fname, const char *name)
{
    ty_tensor *t = lt_test(L, i);
    if (!t || !t->data)
        luaL_error(L, "%s: %s must be a tensor (got %s)", fname, name, t ? "a closed tensor" : luaL_typename(L, i));
    return t;
}

static void no_nan(lua_State *L, const ty_tensor *t, const char *fname, const char *name)
{
    int64_t k = ty_first_nan(t);
    if (k >= 0) luaL_error(L, "%s: %s%s is NaN", fname, name, lt_position(L, t, k, (int64_t[TY_MAX_DIMS]){ 0 }));
}

/* nn.softmax_loss(scores, y): scores (N, C) or (N, T, C), y the 1-based class ids (N) or
   (N, T); the mean over positions, as PyTorch's cross_entropy. */
static int l_softmax_loss(lua_State *L)
{
    static const char F[] = "softmax_loss";
    lt_check_nargs(L, 2, F);
    ty_tensor *s = check_tensor(L, 1, F, "scores"), *y = check_tensor(L, 2, F, "y");
    lua_settop(L, 2);
    char s1[96], s2[96];
    if (s->ndim != 2 && s->ndim != 3)
        return luaL_error(L, "%s: scores must be N x C or N x T x C (got %s)", F, LT_SHAPE(s, s1));
    int shapes_agree = y->ndim == s->ndim - 1;
    for (int d = 0; shapes_agree && d < y->ndim; d++) shapes_agree = y->shape[d] == s->shape[d];
    if (!shapes_agree)
        return luaL_error(L, "%s: y is %s but scores is %s (y must be scores' shape without its "
                             "last dimension)", F, LT_SHAPE(y, s1), LT_SHAPE(s, s2));
    int64_t C = s->shape[s->ndim - 1];
    lt_check_ids(L, y, C, F, "y", "a class id", "C");
    no_nan(L, s, F, "scores");
    ty_tensor *ds = lt_push_like(L, s); /* 3 */
    const ty_tensor *sc = lt_contiguous(L, s, 1), *yc = lt_contiguous(L, y, 2);
    lt_alive(L, s, 1);
    lt_alive(L, y, 2);
    /* scores and y are as checked: a tensor's values change only by Lua code, and none ran */
    ty_tensor s2d = *sc, y1d = *yc, d2d = *ds;
    int64_t rows = ty_numel(y);
    ty_view_reshape(&s2d, 2, (int64_t[]){ rows, C });
    ty_view_reshape(&d2d, 2, (int64_t[]){ rows, C });
    ty_view_reshape(&y1d, 1, &rows);
    double loss = ty_softmax_loss(&d2d, &s2d, &y1d);
    if (isnan(loss) && rows > 0)
        return luaL_error(L, "%s: the loss is NaN (scores hold infinities)", F);
    lua_pushnumber(L, loss);
    lua_pushvalue(L, 3);
    return 2;
}

/* nn.mse_loss(pred, target): the mean of the squared differences, as PyTorch's MSELoss. */
static int l_mse_loss(lua_State *L)
{
    static const char F[] = "mse_loss";
    lt_check_nargs(L, 2, F);
    ty_tensor *p = check_tensor(L, 1, F, "pred"), *t = check_tensor(L, 2, F, "target");
    lua_settop(L, 2);
    if (!ty_same_shape(p, t)) {
        char s1[96], s2[96];
        return luaL_error(L, "%s: pred is %s but target is %s (they must have one shape)", F,
                          LT_SHAPE(p, s1), LT_SHAPE(t, s2));
    }
    no_nan(L, p, F, "pred");
    no_nan(L, t, F, "target");
    ty_tensor *d = lt_push_like(L, p);
    lt_alive(L, p, 1);
    lt_alive(L, t, 2);
    double loss = ty_mse_loss(d, p, t);
    if (isnan(loss) && ty_numel(p) > 0)
        return luaL_error(L, "%s: the loss is NaN (pred and target hold infinities)", F);
    lua_pushnumber(L, loss);
    lua_pushvalue(L, 3);
    return 2;
}

void lt_register_losses(lua_State *L, int nn)
{
    nn = lua_absindex(L, nn);
    lua_pushcfunction(L, l_softmax_loss);
    lua_setfield(L, nn, "softmax_loss");
    lua_pushcfunction(L, l_mse_loss);
    lua_setfield(L, nn, "mse_loss");
}
