/* lua_nn.c: the tycho.nn table: the recurrent layers (lua_recurrent.c), the feed-forward
   layers (lua_layers.c), each a descriptor (lua_layer.h) and its methods, and the losses
   (lua_losses.c). */
#include "lua/lua_layer.h"

void lt_open_nn(lua_State *L)
{
    lua_newtable(L);
    int nn = lua_gettop(L);
    lt_register_recurrent(L, nn);
    lt_register_layers(L, nn);
    lt_register_losses(L, nn);
    lt_register_optim(L, nn);
}
