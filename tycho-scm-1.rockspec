-- LuaRocks: `luarocks --lua-version 5.4 make --tree T` in a checkout builds the C module
-- against the system's OpenBLAS (found by pkg-config) and installs it with the Lua files;
-- the Makefile's rock and rock-install targets do the work.
rockspec_format = "3.0"
package = "tycho"
version = "scm-1"
source = {
   url = "git+file://./tycho",
}
description = {
   summary = "Float64 tensors, the vanilla RNN layer and NumPy-exact randomness for Lua 5.4, in C",
   detailed = [[
tycho is a numerics engine in C scripted by Lua 5.4: n-dimensional float64 tensors with
NumPy's broadcasting, views, BLAS products, NumPy-exact random numbers, .npy files and
NumPy printing, and neural-network layers with the NumPy notebook's API. This rock is the
C module for stock Lua: require "tycho", "tycho.nn", "tycho.checks".
]],
}
dependencies = {
   "lua >= 5.4, < 5.5",
}
build = {
   type = "make",
   build_target = "rock",
   build_variables = {
      CFLAGS = "$(CFLAGS)",
      LIBFLAG = "$(LIBFLAG)",
      LUA_INCDIR = "$(LUA_INCDIR)",
   },
   install_target = "rock-install",
   install_variables = {
      CFLAGS = "$(CFLAGS)", -- names the build folder the module was built in
      LUADIR = "$(LUADIR)",
      LIBDIR = "$(LIBDIR)",
   },
}
