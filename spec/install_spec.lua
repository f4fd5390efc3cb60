-- install_spec.lua: `make install` lays out DESIGN.md section 3 under a temporary PREFIX;
-- a host program builds from it with pkg-config (shared and static), and stock lua5.4 loads
-- the installed module. Installs what `make` built (`-o all`: no rebuild).
local lu = require "luaunit"
local support = require "spec.support"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
-- Under check-asan the libraries need the sanitizer runtime at link time too.
local LDFLAGS = os.getenv("TYCHO_LDFLAGS") or ""
-- Tools (make, cc, pkg-config) run without the sanitizer preload and outside any make.
local CLEAN = "env -u LD_PRELOAD -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "

local q = support.q

-- Runs a shell command; returns its output (stdout and stderr) and whether it exited 0.
local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1", "r"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok == true
end

local function must(cmd)
  local out, ok = sh(cmd)
  if not ok then lu.fail(cmd .. "\n" .. out) end
  return out
end

local slurp = support.slurp

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

TestInstall = {}

function TestInstall.setupClass()
  -- under the build directory, so that a run killed midway leaves nothing in /tmp
  local dir = must("cd " .. q(BUILD) .. " && pwd"):gsub("\n$", "") .. "/install-spec"
  must("rm -rf " .. q(dir) .. " && mkdir -p " .. q(dir))
  TestInstall.dir = dir
  TestInstall.prefix = dir .. "/prefix"
  must(CLEAN .. "make --no-print-directory -s -o all install BUILD=" .. q(BUILD) ..
       " PREFIX=" .. q(TestInstall.prefix))
  TestInstall.pc = "PKG_CONFIG_PATH=" .. q(TestInstall.prefix .. "/lib/pkgconfig") ..
                   " pkg-config "
end

function TestInstall.teardownClass()
  if TestInstall.dir then sh("rm -rf " .. q(TestInstall.dir)) end
end

function TestInstall.test_layout()
  local p = TestInstall.prefix
  for _, f in ipairs { "bin/tycho", "lib/libtycho.a", "lib/libtycho.so", "include/tycho.h",
                       "lib/pkgconfig/tycho.pc", "lib/lua/5.4/tycho.so",
                       "share/lua/5.4/tycho/checks.lua" } do
    lu.assertTrue(exists(p .. "/" .. f), f .. " is not installed")
  end
  lu.assertStrContains(must(q(p .. "/bin/tycho") .. " -e 'print(tycho.ones(2):sum())'"), "2.0")
end

function TestInstall.test_pc_names_the_prefix()
  local pc = slurp(TestInstall.prefix .. "/lib/pkgconfig/tycho.pc")
  lu.assertStrContains(pc, "prefix=" .. TestInstall.prefix .. "\n")
  -- libtycho.a's own dependencies, as shared libraries: no Requires.private, which would
  -- pull in OpenBLAS's static dependencies (libgfortran) that a new machine lacks
  lu.assertNotStrContains(pc, "Requires")
  lu.assertStrMatches(pc, ".*\nLibs.private: [^\n]*%-llua5%.4[^\n]*%-lopenblas[^\n]*%-lzip %-lcjson[^\n]* %-lm %-lpthread\n.*")
  lu.assertNotStrContains(must(CLEAN .. TestInstall.pc .. "--static --libs tycho"), "gfortran")
  local flags = must(CLEAN .. TestInstall.pc .. "--cflags --libs tycho")
  lu.assertStrContains(flags, "-I" .. TestInstall.prefix .. "/include")
  lu.assertStrContains(flags, "-L" .. TestInstall.prefix .. "/lib -ltycho")
  local version = slurp("src/host/tycho.h"):match('#define TYCHO_VERSION%s+"([^"]+)"')
  lu.assertEquals(must(CLEAN .. TestInstall.pc .. "--modversion tycho"), version .. "\n")
end

-- The issue's build line, exactly, for a host that needs nothing else.
function TestInstall.test_minimal_host_builds_with_pkg_config()
  local src, exe = TestInstall.dir .. "/mini.c", TestInstall.dir .. "/mini"
  local f = assert(io.open(src, "w"))
  f:write([[
#include <tycho.h>
#include <stdio.h>
int main(void)
{
    double y[3];
    tycho *T = tycho_open(NULL);
    int rc = tycho_run_string(T, "y = tycho.arange(3) * 2", "=mini");
    if (rc == TYCHO_OK) rc = tycho_get_tensor(T, "y", y, 3, NULL, NULL);
    if (rc != TYCHO_OK) fprintf(stderr, "%s\n", tycho_error(T));
    else printf("%g %g %g\n", y[0], y[1], y[2]);
    tycho_close(T);
    return rc;
}
]])
  f:close()
  must(CLEAN .. "cc " .. LDFLAGS .. " " .. q(src) .. " -o " .. q(exe) .. " $(" ..
       TestInstall.pc .. "--cflags --libs tycho)")
  local out = must("LD_LIBRARY_PATH=" .. q(TestInstall.prefix .. "/lib") .. " " .. q(exe))
  lu.assertEquals(out, "0 2 4\n")
end

-- The example host against the installed shared library (-lm for its own tanh).
function TestInstall.test_host_builds_with_pkg_config()
  local exe = TestInstall.dir .. "/host"
  must(CLEAN .. "cc " .. LDFLAGS .. " -o " .. q(exe) .. " examples/embed/host.c $(" ..
       TestInstall.pc .. "--cflags --libs tycho) -lm")
  lu.assertStrContains(must(CLEAN .. "readelf -d " .. q(exe)), "[libtycho.so]")
  local out = must("LD_LIBRARY_PATH=" .. q(TestInstall.prefix .. "/lib") .. " " .. q(exe))
  lu.assertStrContains(out, "1 passed, 0 failed")
end

-- A static link needs only the private dependencies that the .pc lists.
function TestInstall.test_host_links_statically()
  local exe = TestInstall.dir .. "/host_static"
  local libs = must(CLEAN .. TestInstall.pc .. "--static --libs tycho")
  libs = libs:gsub("%-ltycho", "-l:libtycho.a"):gsub("\n", " ")
  must(CLEAN .. "cc " .. LDFLAGS .. " -o " .. q(exe) .. " examples/embed/host.c $(" ..
       TestInstall.pc .. "--cflags tycho) " .. libs)
  lu.assertNotStrContains(must(CLEAN .. "readelf -d " .. q(exe)), "libtycho")
  lu.assertStrContains(must(q(exe)), "1 passed, 0 failed")
end

-- Stock lua5.4 finds the C module on LUA_CPATH; the installed tycho/checks.lua on LUA_PATH
-- hands over to the copy built into the module.
function TestInstall.test_stock_lua_loads_the_installed_module()
  local p = TestInstall.prefix
  local env = "LUA_CPATH=" .. q(p .. "/lib/lua/5.4/?.so") .. " LUA_PATH=" ..
              q(p .. "/share/lua/5.4/?.lua") .. " "
  local out = must(env .. "lua5.4 -e " .. q([[
    local checks = require "tycho.checks"
    local tycho = require "tycho"
    local nn = require "tycho.nn"
    assert(checks == tycho.checks and nn == tycho.nn)
    tycho.random.seed(0)
    local rnn = nn.RNNLayer(3, 4)
    local h = rnn:forward(tycho.ones(2, 5, 3), tycho.zeros(2, 4))
    print(table.concat(h:shape(), "x"), checks.rel_error(h, h))]]))
  lu.assertEquals(out, "2x5x4\t0.0\n")
end

-- The library's other Lua parts load first from stock Lua too, from the C module alone.
function TestInstall.test_stock_lua_requires_optim_and_plot_first()
  local out = must("LUA_CPATH=" .. q(BUILD .. "/?.so") .. " LUA_PATH=" .. q("/nonexistent/?.lua") ..
    " lua5.4 -e " .. q([[
    local plot, optim = require "tycho.plot", require "tycho.optim"
    local tycho = require "tycho"
    print(type(plot.lines), type(optim.Adam), tycho.plot == plot, tycho.optim == optim)]]))
  lu.assertEquals(out, "function\tfunction\ttrue\ttrue\n")
end

-- DESTDIR stages the files; the .pc still names the final PREFIX.
function TestInstall.test_destdir_stages_under_prefix()
  local stage = TestInstall.dir .. "/stage"
  must(CLEAN .. "make --no-print-directory -s -o all install BUILD=" .. q(BUILD) ..
       " DESTDIR=" .. q(stage) .. " PREFIX=/opt/tycho")
  lu.assertTrue(exists(stage .. "/opt/tycho/bin/tycho"))
  lu.assertTrue(exists(stage .. "/opt/tycho/lib/lua/5.4/tycho.so"))
  lu.assertStrContains(slurp(stage .. "/opt/tycho/lib/pkgconfig/tycho.pc"),
                       "prefix=/opt/tycho\n")
end

-- A host built with an rpath to the prefix finds libtycho.so without LD_LIBRARY_PATH.
function TestInstall.test_host_with_rpath_runs_as_is()
  local exe = TestInstall.dir .. "/host_rpath"
  must(CLEAN .. "cc " .. LDFLAGS .. " -o " .. q(exe) .. " examples/embed/host.c $(" ..
       TestInstall.pc .. "--cflags --libs tycho) -Wl,-rpath," .. q(TestInstall.prefix .. "/lib") .. " -lm")
  lu.assertStrContains(must("env -u LD_LIBRARY_PATH " .. q(exe)), "1 passed, 0 failed")
end

-- uninstall removes exactly what install put there: a prefix that held other files keeps
-- them, and nothing of tycho's is left.
function TestInstall.test_uninstall_removes_exactly_what_install_put()
  local p = TestInstall.dir .. "/shared-prefix"
  -- (tools run without the sanitizer preload of check-asan, as CLEAN says)
  local function shell(cmd) return must(CLEAN .. "sh -c " .. q(cmd)) end
  shell("mkdir -p " .. q(p .. "/bin") .. " " .. q(p .. "/lib/lua/5.4") .. " && echo x > " ..
        q(p .. "/bin/other") .. " && echo y > " .. q(p .. "/lib/lua/5.4/other.so"))
  local before = shell("cd " .. q(p) .. " && find . | sort")
  must(CLEAN .. "make --no-print-directory -s -o all install BUILD=" .. q(BUILD) .. " PREFIX=" .. q(p))
  lu.assertTrue(exists(p .. "/share/lua/5.4/tycho/checks.lua"))
  must(CLEAN .. "make --no-print-directory -s uninstall BUILD=" .. q(BUILD) .. " PREFIX=" .. q(p))
  local files = shell("cd " .. q(p) .. " && find . -type f | sort")
  lu.assertEquals(files, "./bin/other\n./lib/lua/5.4/other.so\n")
  lu.assertFalse(exists(p .. "/share/lua/5.4/tycho"))
  -- what was there before is still there (the folders install made stay: they may be shared)
  local after = shell("cd " .. q(p) .. " && find . | sort")
  for line in before:gmatch("[^\n]+") do
    lu.assertNotNil(after:find("\n" .. line .. "\n", 1, true) or after:find("^" .. line .. "\n"), line)
  end
end

-- LuaRocks from the checkout (tycho-scm-1.rockspec): the C module against the system's
-- OpenBLAS and the Lua files into a tree, which stock lua5.4 then uses through
-- `luarocks path`, as the README says.
function TestInstall.test_luarocks_make_installs_into_a_tree()
  local tree = TestInstall.dir .. "/rocks"
  local out = must(CLEAN .. "luarocks --lua-version 5.4 make --tree " .. q(tree) .. " tycho-scm-1.rockspec")
  lu.assertStrContains(out, "tycho scm-1 is now installed in " .. tree)
  lu.assertTrue(exists(tree .. "/lib/lua/5.4/tycho.so"))
  lu.assertTrue(exists(tree .. "/share/lua/5.4/tycho/checks.lua"))
  -- what `eval "$(luarocks path)"` sets, then lua5.4 with this run's preload: under
  -- check-asan the tree's module is sanitized too (luarocks builds with the environment's
  -- CFLAGS), while luarocks itself runs its tools without it
  local exports = must(CLEAN .. "luarocks --lua-version 5.4 --tree " .. q(tree) .. " path")
  out = must("sh -c " .. q("cd / && " .. exports:gsub("\n", " ; ") .. " lua5.4 -e " .. q([[
    local checks = require "tycho.checks"
    local tycho = require "tycho"
    local nn = require "tycho.nn"
    assert(checks == tycho.checks and nn == tycho.nn)
    print(package.searchpath("tycho", package.cpath), tycho.ones(2, 3):sum(),
          checks.rel_error(tycho.ones(2), tycho.ones(2)))]])))
  lu.assertEquals(out, tree .. "/lib/lua/5.4/tycho.so\t6.0\t0.0\n")
end

-- libtycho.so exports the functions of tycho.h and the module openers, nothing else (the
-- core and the binding are built with hidden visibility, and a version script keeps the
-- resolvers of the multi-versioned kernels local); the C module exports the openers.
function TestInstall.test_libraries_export_only_the_public_surface()
  for lib, allowed in pairs { ["libtycho.so"] = "^tycho_", ["tycho.so"] = "^luaopen_tycho" } do
    local out = must(CLEAN .. "nm -D --defined-only " .. q(BUILD .. "/" .. lib))
    local n = 0
    for name in out:gmatch("%S+ %S+ (%S+)") do
      n = n + 1
      lu.assertTrue(name:match(allowed) ~= nil or name:match("^luaopen_tycho") ~= nil, lib .. " exports " .. name)
    end
    lu.assertTrue(n >= 3, lib)
  end
  local header, exported, m = slurp("src/host/tycho.h"), must(CLEAN .. "nm -D --defined-only " .. q(BUILD .. "/libtycho.so")), 0
  for fn in header:gmatch("TYCHO_API [^\n(]-%*?(tycho_[%w_]+)%(") do
    lu.assertStrContains(exported, " " .. fn .. "\n")
    m = m + 1
  end
  lu.assertEquals(m, 10) -- every tycho_ function tycho.h declares (and luaopen_tycho, above)
end
