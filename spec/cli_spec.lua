-- cli_spec.lua: the `tycho` command behaves like the stock `lua` 5.4 command (options,
-- arg table, stdin, REPL, messages, exit codes), and build/tycho.so loads in stock lua5.4.
local lu = require "luaunit"
local support = require "spec.support"
local tycho = require "tycho"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local BIN = os.getenv("TYCHO_BIN") or (BUILD .. "/tycho")
local CPATH = "LUA_CPATH='" .. BUILD .. "/?.so' "

local q = support.q

local slurp = support.slurp

local tmpfile = support.tmpfile

-- Runs a shell command line with optional stdin text; returns stdout, stderr, exit code.
local function sh(cmdline, stdin)
  local errpath = os.tmpname()
  local inpath = tmpfile(stdin or "")
  local p = assert(io.popen(cmdline .. " <" .. inpath .. " 2>" .. errpath, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = slurp(errpath)
  os.remove(errpath)
  os.remove(inpath)
  return out, err, code
end

-- Runs build/tycho with the given (unquoted) arguments.
local function run(args, stdin)
  local parts = { BIN }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  return sh(table.concat(parts, " "), stdin)
end

-- ---- -e, scripts, stdin -----------------------------------------------------------------

function test_e_runs_code()
  local out, err, code = run { "-e", "print(1 + 1)" }
  lu.assertEquals(out, "2\n")
  lu.assertEquals(err, "")
  lu.assertEquals(code, 0)
end

function test_several_e_run_in_order()
  local out, _, code = run { "-e", "x = 20", "-e", "x = x + 1", "-eprint(x * 2)" }
  lu.assertEquals(out, "42\n")
  lu.assertEquals(code, 0)
end

function test_tycho_is_preloaded_as_global_and_module()
  local out = run { "-e", "print(tycho == require 'tycho', tostring(tycho.ones(2)))" }
  lu.assertEquals(out, "true\ttensor([1., 1.])\n")
end

function test_script_gets_arg_table_and_varargs()
  local script = tmpfile([[
print(arg[0], arg[1], arg[2], #arg, arg[-1])
print(select('#', ...), ...)
]])
  local out, err, code = run { script, "a", "b c" }
  os.remove(script)
  lu.assertEquals(err, "")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, script .. "\ta\tb c\t2\t" .. BIN .. "\n2\ta\tb c\n")
end

function test_options_before_the_script_get_negative_indices()
  local script = tmpfile("print(arg[-3], arg[-2], arg[-1], arg[0], arg[1])")
  local out = run { "-e", "y = 1", script, "z" }
  os.remove(script)
  lu.assertEquals(out, BIN .. "\t-e\ty = 1\t" .. script .. "\tz\n")
end

function test_dash_runs_stdin_with_arguments()
  local out, _, code = run({ "-", "p", "q" }, "print('stdin', arg[0], ...)\n")
  lu.assertEquals(out, "stdin\t-\tp\tq\n")
  lu.assertEquals(code, 0)
end

function test_no_arguments_and_piped_stdin_runs_it_as_a_script()
  local out, _, code = run({}, "print(tycho.ones(2, 2):sum())\n")
  lu.assertEquals(out, "4.0\n")
  lu.assertEquals(code, 0)
end

function test_double_dash_ends_options()
  local script = tmpfile("print(...)")
  local out = run { "--", script, "-e" }
  os.remove(script)
  lu.assertEquals(out, "-e\n")
end

function test_l_requires_a_module_into_a_global()
  -- "-l m-v2" stores into global m, as lua 5.4.6 does
  local out = run { "-l", "tycho.checks", "-l", "n=tycho.nn",
                    "-e", "package.preload['m-v2'] = function() return 'M' end", "-l", "m-v2",
                    "-e", "print(type(_G['tycho.checks']), n == require 'tycho.nn', m)" }
  lu.assertEquals(out, "table\ttrue\tM\n")
end

function test_os_exit_code_passes_through()
  local _, _, code = run { "-e", "os.exit(3)" }
  lu.assertEquals(code, 3)
end

-- ---- version and help -------------------------------------------------------------------

function test_version()
  for _, flag in ipairs { "-v", "--version" } do
    local out, err, code = run { flag }
    lu.assertStrMatches(out, "tycho %d+%.%d+%.%d+ %(Lua 5%.4[%.%d]*%)\n")
    lu.assertEquals(err, "")
    lu.assertEquals(code, 0)
  end
end

function test_help()
  for _, flag in ipairs { "-h", "--help" } do
    local out, _, code = run { flag }
    lu.assertStrContains(out, "usage: tycho [options] [script [args]]")
    lu.assertStrContains(out, "-e stat")
    lu.assertEquals(code, 0)
  end
end

-- ---- errors -----------------------------------------------------------------------------

function test_runtime_error_prints_message_and_traceback_and_exits_1()
  local out, err, code = run { "-e", "error('boom')" }
  lu.assertEquals(out, "")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "tycho: (command line):1: boom")
  lu.assertStrContains(err, "stack traceback:")
end

function test_script_error_names_the_script_line()
  local script = tmpfile("local x = 1\nerror('bad ' .. x)\n")
  local _, err, code = run { script }
  os.remove(script)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "tycho: " .. script .. ":2: bad 1")
  lu.assertStrContains(err, "stack traceback:")
end

function test_tensor_errors_reach_the_user()
  local _, err, code = run { "-e", "local a = tycho.ones(2, 3) + tycho.ones(4)" }
  lu.assertEquals(code, 1)
  lu.assertStrMatches(err, "^tycho: .*\nstack traceback:\n.*")
end

function test_syntax_error_exits_1()
  local _, err, code = run { "-e", "x = = 1" }
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "tycho: ")
  lu.assertStrContains(err, "unexpected symbol")
end

function test_missing_script_exits_1()
  local _, err, code = run { "/nonexistent/script.lua" }
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "tycho: cannot open /nonexistent/script.lua")
end

function test_bad_option_prints_usage_and_exits_1()
  local out, err, code = run { "-x" }
  lu.assertEquals(out, "")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "unrecognized option '-x'")
  lu.assertStrContains(err, "usage: tycho")
  local _, err2, code2 = run { "-e" }
  lu.assertEquals(code2, 1)
  lu.assertStrContains(err2, "'-e' needs argument")
end

-- ---- interactive mode (-i with piped input: prompts go to stdout) ----------------------

function test_repl_prints_expression_values_and_continues_after_errors()
  local out, err, code = run({ "-i" },
    "1 + 1\nx = 5\nx, 'two'\nerror('oops')\nfor i = 1, 2 do\nprint(i * 10)\nend\n=x\n")
  lu.assertEquals(code, 0)
  -- version banner, then one "> " per line read and ">> " for the continuation lines
  lu.assertStrMatches(out, "tycho [^\n]*\n" ..
    "> 2\n" ..
    "> " ..
    "> 5\ttwo\n" ..
    "> " ..
    "> >> >> 10\n20\n" ..
    "> 5\n" ..
    "> \n")
  lu.assertStrContains(err, "stdin:1: oops")
  lu.assertStrContains(err, "stack traceback:")
  lu.assertNil(err:find("tycho: stdin", 1, true))   -- no program name inside the REPL
end

function test_repl_prints_tensors_with_tostring()
  local out = run({ "-i" }, "tycho.eye(2)\n")
  lu.assertStrContains(out, "> tensor([[1., 0.],\n        [0., 1.]])\n")
end

-- ---- the C module from stock lua5.4 ----------------------------------------------------

-- On a terminal (a pseudo-terminal from script(1), util-linux) the prompt is GNU readline:
-- Up recalls the last line, which runs again, and the lines go to the history file, kept
-- for the next session; on a pipe lines are read plainly and no history is written.
function test_repl_on_a_terminal_recalls_lines_and_keeps_history()
  -- a root without a pseudo-terminal device (a bare chroot has no /dev/pts) cannot run it
  local _, _, has_pty = sh("script -qfec true /dev/null")
  if has_pty ~= 0 then lu.skip("no pseudo-terminal here: script(1) cannot open one") end
  local hist = os.tmpname()
  os.remove(hist)
  local typed = "print(6*7)\n\27[A\n\4"
  local out = sh("TYCHO_HISTORY=" .. q(hist) .. " timeout 20 script -qfec " .. q(BIN) .. " /dev/null", typed)
  local _, n = out:gsub("42\r?\n", "")
  lu.assertEquals(n, 2, out)
  lu.assertEquals(slurp(hist), "print(6*7)\nprint(6*7)\n")
  -- the next session starts with that history: Up Up Enter runs the first line again
  out = sh("TYCHO_HISTORY=" .. q(hist) .. " timeout 20 script -qfec " .. q(BIN) .. " /dev/null",
           "print(1)\n\27[A\27[A\27[A\n\4")
  local _, m = out:gsub("42\r?\n", "")
  lu.assertEquals(m, 1, out)
  os.remove(hist)
  local pipe = os.tmpname()
  os.remove(pipe)
  out = sh("TYCHO_HISTORY=" .. q(pipe) .. " " .. q(BIN) .. " -i", "print(6*7)\n")
  lu.assertStrContains(out, "> 42\n")
  lu.assertNil(io.open(pipe))
end

function test_stock_lua_loads_the_c_module()
  local out, err, code = sh(CPATH .. "lua5.4 -e " ..
                            q('print(require("tycho").ones(2,2):sum())'))
  lu.assertEquals(err, "")
  lu.assertEquals(out, "4.0\n")
  lu.assertEquals(code, 0)
end

function test_stock_lua_can_require_submodules_first()
  local out = sh(CPATH .. "lua5.4 -e " ..
                 q('local c = require "tycho.checks"; print(type(c.rel_error), ' ..
                   'require("tycho").checks == c)'))
  lu.assertEquals(out, "function\ttrue\n")
end

-- ---- C modules --------------------------------------------------------------------------

function test_require_loads_a_c_module()
  -- the command carries Lua itself, and exports its API to the modules it loads
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. q(dir)))
  local src = io.open(dir .. "/answer.c", "w")
  src:write([[
#include <lua.h>
static int answer(lua_State *L) { lua_pushinteger(L, 42); return 1; }
int luaopen_answer(lua_State *L) { lua_pushcfunction(L, answer); return 1; }
]])
  src:close()
  local cc = os.getenv("CC") or "cc"
  -- the compiler runs outside the sanitizers a `make check-asan` run preloads
  local _, err, built = sh(("env -u LD_PRELOAD %s -shared -fPIC $(pkg-config --cflags lua5.4) -o %s %s"):format(
    cc, q(dir .. "/answer.so"), q(dir .. "/answer.c")))
  lu.assertEquals(built, 0, err)
  local out, err2, code = sh(("LUA_CPATH=%s %s -e %s"):format(q(dir .. "/?.so"), q(BIN),
    q("print(require('answer')())")))
  os.execute("rm -r " .. q(dir))
  lu.assertEquals(err2, "")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "42\n")
end

-- ---- tycho.blas(): what runs the products ------------------------------------------------

-- The core and thread count come from OpenBLAS itself, so the environment that sets them
-- must show through: OPENBLAS_CORETYPE picks the core, OPENBLAS_NUM_THREADS the threads.
function test_blas_reports_the_environments_core_and_threads()
  local code_text = "local b = tycho.blas(); print(b.core, b.threads, type(b.config))"
  local out, err, code = sh("env OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 " .. BIN
    .. " -e " .. q(code_text))
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "Haswell\t1\tstring\n")
  out, err, code = sh("env OPENBLAS_CORETYPE=Sandybridge OPENBLAS_NUM_THREADS=2 " .. BIN
    .. " -e " .. q(code_text))
  lu.assertEquals(code, 0, err)
  -- OpenBLAS runs at most one thread per CPU
  local cpus = tonumber(io.popen("nproc"):read("l"))
  lu.assertEquals(out, "Sandybridge\t" .. math.min(2, cpus) .. "\tstring\n")
  out, err, code = sh(BIN .. " -e " .. q("print(tycho.blas().config)"))
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "OpenBLAS")
end
