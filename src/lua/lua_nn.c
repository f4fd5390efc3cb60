/* lua_nn.c: the tycho.nn table: the recurrent layers (lua_recurrent.c) and Tanh, each a
   descriptor (lua_layer.h) and its methods. */
#include "lua/lua_layer.h"

#include <string.h>

#include "core/ops.h"

/* ---- Tanh --------------------------------------------------------------------------------- */

enum { CACHE_Y, TANH_CACHES };

static const lt_layer_desc tanh_desc;

static int tanh_new(lua_State *L)
{
    lt_check_nargs(L, 0, "Tanh");
    lt_layer_push(L, &tanh_desc);
    return 1;
}

static int tanh_forward(lua_State *L)
{
    lt_layer_self(L);
    lt_check_nargs(L, 2, "Tanh.forward");
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
    lt_check_nargs(L, 2, "Tanh.backward");
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
    "Tanh", NULL, NULL, NULL, TANH_CACHES, sizeof(lt_layer), tanh_new, tanh_methods,
    NULL, NULL, NULL, NULL, NULL,
};

void lt_open_nn(lua_State *L)
{
    lua_newtable(L);
    int nn = lua_gettop(L);
    lt_register_recurrent(L, nn);
    lt_layer_register(L, &tanh_desc, nn);
    lt_register_optim(L, nn);
}
