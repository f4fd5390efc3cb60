/* lua_random.h: the per-Lua-state NumPy RandomState that tycho.random draws from, for other
   binding files (layer constructors draw their initial weights from the same stream). */
#ifndef TYCHO_LUA_RANDOM_H
#define TYCHO_LUA_RANDOM_H

#include <lua.h>
#include "core/random.h"

/* This Lua state's generator (created, entropy-seeded, on first use; may raise a memory
   error then). Lives as long as the state; the stack is left as it was. */
ty_random *lt_random_state(lua_State *L);

#endif
