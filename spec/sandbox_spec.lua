-- sandbox_spec.lua: `tycho --sandbox` refuses everything that reaches outside the engine,
-- each with an error saying it is disabled in the sandbox, while tensors, nn and checks
-- work; --instr-limit ends a run that pcall cannot save; --mem-limit gives memory errors
-- that pcall can catch. Runs the command as a child process (TYCHO_BIN, else build/tycho).
local lu = require "luaunit"
local support = require "spec.support"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local BIN = os.getenv("TYCHO_BIN") or (BUILD .. "/tycho")

local q = support.q

local slurp = support.slurp

local tmpfile = support.tmpfile

-- Runs build/tycho with the given arguments; returns stdout, stderr, exit code.
local function run(args)
  local parts = { BIN }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local errpath = os.tmpname()
  local p = assert(io.popen(table.concat(parts, " ") .. " </dev/null 2>" .. errpath, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = slurp(errpath)
  os.remove(errpath)
  return out, err, code
end

local function sandboxed(code) return run { "--sandbox", "-e", code } end

-- code must fail with exit status 1 and a message containing msg (plain text).
local function assert_refused(code, msg)
  local out, err, status = sandboxed(code)
  lu.assertEquals(status, 1, code .. "\nstdout: " .. out .. "\nstderr: " .. err)
  lu.assertStrContains(err, msg)
  lu.assertEquals(out, "")
end

-- ---- what the sandbox refuses --------------------------------------------------------------

function test_sandboxed_scripts_cannot_arm_allocation_failures()
  local out, err, code = sandboxed("print(tycho.engine.fail_allocation, type(tycho.engine.memory_used))")
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "nil\tfunction\n")
end

function test_io_is_disabled()
  assert_refused("io.open('/etc/passwd')", "(command line):1: io.open is disabled in the sandbox")
  assert_refused("io.write('x')", "io.write is disabled in the sandbox")
  assert_refused("for l in io.lines('/etc/passwd') do end", "io.lines is disabled in the sandbox")
  assert_refused("io.stdout:write('x')", "io.stdout is disabled in the sandbox")
  assert_refused("local io = require 'io'; io.popen('ls')", "io.popen is disabled in the sandbox")
end

function test_debug_is_disabled()
  assert_refused("debug.sethook()", "debug.sethook is disabled in the sandbox")
  assert_refused("debug.getinfo(1)", "debug.getinfo is disabled in the sandbox")
  assert_refused("require('debug').getregistry()", "debug.getregistry is disabled in the sandbox")
end

function test_os_beyond_clock_time_date_difftime_is_disabled()
  assert_refused("os.execute('touch /tmp/tycho_sandbox_escaped')", "os.execute is disabled in the sandbox")
  assert_refused("os.exit(0)", "os.exit is disabled in the sandbox")
  assert_refused("os.getenv('HOME')", "os.getenv is disabled in the sandbox")
  assert_refused("os.remove('/tmp/x')", "os.remove is disabled in the sandbox")
  assert_refused("os.rename('/tmp/x', '/tmp/y')", "os.rename is disabled in the sandbox")
  assert_refused("os.tmpname()", "os.tmpname is disabled in the sandbox")
  assert_refused("os.setlocale('C')", "os.setlocale is disabled in the sandbox")
  local out, err, code = sandboxed(
    "print(type(os.clock()), type(os.time()), type(os.date('%Y')), os.difftime(5, 2))")
  lu.assertEquals({ out, err, code }, { "number\tnumber\tstring\t3.0\n", "", 0 })
end

function test_file_loading_is_disabled()
  assert_refused("dofile('/dev/null')", "dofile is disabled in the sandbox")
  assert_refused("loadfile('/dev/null')", "loadfile is disabled in the sandbox")
  assert_refused("require 'foo'",
    "require: module 'foo' not found (loading modules from files is disabled in the sandbox)")
  assert_refused("package.loadlib('libc.so.6', 'system')", "package.loadlib is disabled in the sandbox")
  assert_refused("package.searchpath('foo', package.path)", "package.searchpath is disabled in the sandbox")
  -- the C and file searchers are gone, only the preload one is left
  local out = sandboxed("print(#package.searchers)")
  lu.assertEquals(out, "1\n")
end

function test_bytecode_is_disabled()
  assert_refused("string.dump(print)", "string.dump is disabled in the sandbox")
  assert_refused("('x').dump(print)", "string.dump is disabled in the sandbox")
  assert_refused("load('\\27Lua\\84\\0')", "load: binary chunks are disabled in the sandbox")
  assert_refused("load('\\27Lua', 'x', 'b')", "load: binary chunks are disabled in the sandbox")
  assert_refused([[
local parts = { '\27Lua', '\84\0' }
local i = 0
load(function() i = i + 1; return parts[i] end)]], "load: binary chunks are disabled in the sandbox")
  -- source still loads, with its name, mode and environment
  local out, err, code = sandboxed(
    "local f = load('return x + 1', 'chunk', 'bt', { x = 41 }); print(f(), load('return 2')())")
  lu.assertEquals({ out, err, code }, { "42\t2\n", "", 0 })
end

function test_binary_script_file_is_refused()
  local dumped = os.tmpname()
  local _, err0, code0 = run { "-e", ("local f = io.open(%q, 'wb') f:write(string.dump(load('print(1)'))) f:close()"):format(dumped) }
  lu.assertEquals({ err0, code0 }, { "", 0 })
  local out, err, code = run { "--sandbox", dumped }
  local plain = run { dumped }
  os.remove(dumped)
  lu.assertEquals(code, 1)
  lu.assertEquals(out, "")
  lu.assertStrContains(err, "binary chunks are disabled in the sandbox")
  lu.assertEquals(plain, "1\n")   -- outside the sandbox the host may run bytecode
end

function test_tycho_load_and_save_are_disabled()
  assert_refused("tycho.load('spec/fixtures/npy/f8_2x3.npy')", "load: disabled in the sandbox")
  assert_refused("tycho.save('/tmp/x.npy', tycho.ones(2))", "save: disabled in the sandbox")
  assert_refused("tycho.ones(2):save('/tmp/x.npy')", "save: disabled in the sandbox")
end

function test_disabled_things_raise_ordinary_errors_that_pcall_catches()
  local out, err, code = sandboxed(
    "print(pcall(function() return io.open end)); print(pcall(dofile, 'x')); print('still here')")
  lu.assertEquals(err, "")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "false\t(command line):1: io.open is disabled in the sandbox\n"
    .. "false\tdofile is disabled in the sandbox\nstill here\n")
end

-- ---- what works in the sandbox -------------------------------------------------------------

function test_tensors_nn_and_checks_work()
  local out, err, code = sandboxed([[
local t = require "tycho"
local nn = require "tycho.nn"
local checks = require "tycho.checks"
assert(t == tycho and nn == tycho.nn and checks == tycho.checks)
assert(require "string" == string and require "math" == math)
t.random.seed(0)
local rnn = nn.RNNLayer(3, 4)
local x, h0 = t.randn(2, 5, 3), t.randn(2, 4)
local h = rnn:forward(x, h0)
local dx = rnn:backward(t.ones(2, 5, 4))
local num = checks.grad_check(function() return rnn:forward(x, h0) end, x, t.ones(2, 5, 4))
print(tostring(h:shape()[3]), checks.rel_error(dx, num) < 1e-7, t.tensor{1, 2}:sum())]])
  lu.assertEquals(err, "")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "4\ttrue\t3.0\n")
end

function test_sandboxed_script_file_runs_with_arguments()
  local script = tmpfile("print(tycho.ones(2):sum(), ...)")
  local out, err, code = run { "--sandbox", script, "a", "b" }
  os.remove(script)
  lu.assertEquals({ out, err, code }, { "2.0\ta\tb\n", "", 0 })
end

-- ---- --instr-limit -------------------------------------------------------------------------

function test_instruction_limit_ends_an_infinite_loop()
  local out, err, code = run { "--instr-limit", "1e6", "-e", "while true do end" }
  lu.assertEquals(out, "")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "tycho: (command line):1: instruction limit of 1000000 exceeded")
end

function test_pcall_cannot_catch_the_instruction_limit()
  local out, err, code = run { "--instr-limit", "100000", "-e", [[
local ok, e = pcall(function() while true do end end)
print("caught", ok, e)]] }
  lu.assertEquals(out, "")
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "instruction limit of 100000 exceeded")
  out, err, code = run { "--instr-limit", "100000", "-e",
    "while true do pcall(error, 'x'); xpcall(function() while true do end end, tostring) end" }
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrContains(err, "instruction limit of 100000 exceeded")
end

function test_coroutines_cannot_escape_the_instruction_limit()
  for _, body in ipairs {
    "coroutine.wrap(function() while true do end end)()",
    "local co = coroutine.create(function() while true do end end) print(coroutine.resume(co)) print('after')",
    -- a coroutine made inside a coroutine, resumed from a loop that swallows errors
    [[local inner
local outer = coroutine.wrap(function()
  inner = coroutine.create(function() while true do coroutine.yield() end end)
  while true do coroutine.resume(inner) end
end)
while true do pcall(outer) end]],
  } do
    local out, err, code = run { "--instr-limit", "200000", "-e", body }
    lu.assertEquals({ out, code }, { "", 1 }, body)
    lu.assertStrContains(err, "instruction limit of 200000 exceeded")
  end
end

function test_each_chunk_gets_the_full_budget()
  -- each loop runs about 70000 instructions: one fits in 100000, two in a row do not
  local loop = "for i = 1, 70000 do end"
  local out, err, code = run { "--instr-limit", "100000", "-e", loop, "-e", loop, "-e", "print('ok')" }
  lu.assertEquals({ out, err, code }, { "ok\n", "", 0 })
  out, err, code = run { "--instr-limit", "100000", "-e", loop .. " " .. loop .. " print('no')" }
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrContains(err, "instruction limit of 100000 exceeded")
end

function test_finalizers_are_refused_under_the_instruction_limit()
  local out, err, code = run { "--instr-limit", "1e9", "-e",
    "setmetatable({}, { __gc = function() while true do end end }) collectgarbage()" }
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrContains(err, "setmetatable: __gc metamethods are disabled under the instruction limit")
  out, err, code = run { "--instr-limit", "1e9", "-e",
    "print(getmetatable(setmetatable({}, { __index = { x = 1 } })).__index.x)" }
  lu.assertEquals({ out, err, code }, { "1\n", "", 0 })
end

-- ---- --mem-limit ---------------------------------------------------------------------------

function test_memory_limit_ends_a_big_allocation()
  local out, err, code = run { "--mem-limit", "16M", "-e", "local t = tycho.zeros(4e6)" }   -- 32 MB
  lu.assertEquals({ out, err, code }, { "", "tycho: not enough memory\n", 1 })
  out, err, code = run { "--mem-limit", "16M", "-e", "local t = {} for i = 1, 1e7 do t[i] = i end" }
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrContains(err, "not enough memory")
  out, err, code = run { "--mem-limit", "16M", "-e", "local s = string.rep('x', 1e8)" }
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrContains(err, "not enough memory")
end

function test_pcall_catches_the_memory_error_and_the_script_goes_on()
  local out, err, code = run { "--mem-limit", "16M", "-e", [[
print(pcall(tycho.zeros, 4e6))
print(pcall(string.rep, 'x', 1e8))
print(pcall(function() local t = {} for i = 1, 1e7 do t[i] = i end end))
collectgarbage()
print(tycho.ones(1000):sum())]] }
  lu.assertEquals(err, "")
  lu.assertEquals(code, 0)
  lu.assertEquals(out, "false\tnot enough memory\nfalse\tnot enough memory\n"
    .. "false\tnot enough memory\n1000.0\n")
end

function test_memory_limit_counts_tensor_data()
  -- 8 MB of tensors fit in 16M, 24 MB do not, even in small pieces
  local out, err, code = run { "--mem-limit", "16M", "-e", [[
local keep = {}
for i = 1, 8 do keep[i] = tycho.zeros(131072) end
print(pcall(function() for i = 9, 24 do keep[i] = tycho.zeros(131072) end end))]] }
  lu.assertEquals({ out, err, code }, { "false\tnot enough memory\n", "", 0 })
end

function test_memory_limit_too_small_for_the_engine()
  local out, err, code = run { "--mem-limit", "1K", "-e", "print(1)" }
  lu.assertEquals({ out, code }, { "", 1 })
  lu.assertStrContains(err, "cannot create state: not enough memory")
end

-- ---- option values --------------------------------------------------------------------------

function test_option_values_and_forms()
  for _, args in ipairs {
    { "--mem-limit", "64M" }, { "--mem-limit=64M" }, { "--mem-limit", "1G" },
    { "--mem-limit", "65536K" }, { "--mem-limit", "100000000" },
    { "--instr-limit", "1e9" }, { "--instr-limit=2.5e6" }, { "--instr-limit", "1000000" },
    { "--sandbox", "--mem-limit", "64M", "--instr-limit", "1e9" },
  } do
    args[#args + 1] = "-e"
    args[#args + 1] = "print(tycho.ones(3):sum())"
    local out, err, code = run(args)
    lu.assertEquals({ out, err, code }, { "3.0\n", "", 0 }, table.concat(args, " "))
  end
end

function test_bad_option_values_are_usage_errors()
  for _, c in ipairs {
    { { "--mem-limit", "64X" }, "tycho: bad value '64X' for --mem-limit" },
    { { "--mem-limit", "-1" }, "tycho: bad value '-1' for --mem-limit" },
    { { "--mem-limit", "1.5M" }, "tycho: bad value '1.5M' for --mem-limit" },
    { { "--mem-limit", "99999999999999999999" }, "bad value '99999999999999999999' for --mem-limit" },
    { { "--instr-limit", "1.5" }, "tycho: bad value '1.5' for --instr-limit" },
    { { "--instr-limit", "abc" }, "tycho: bad value 'abc' for --instr-limit" },
    { { "--instr-limit", "-5" }, "tycho: bad value '-5' for --instr-limit" },
    { { "--instr-limit", "1e30" }, "tycho: bad value '1e30' for --instr-limit" },
    { { "--instr-limit", "0x10" }, "tycho: bad value '0x10' for --instr-limit" },
    { { "--mem-limit" }, "tycho: '--mem-limit' needs argument", "last" },
    { { "--mem-limit", "-e", "print(1)" }, "tycho: bad value '-e' for --mem-limit", "last" },
    { { "--instr-limit=" }, "tycho: bad value '' for --instr-limit" },
    { { "--sandboxx" }, "tycho: unrecognized option '--sandboxx'" },
  } do
    local args = c[1]
    if not c[3] then
      args[#args + 1] = "-e"
      args[#args + 1] = "print('ran')"
    end
    local out, err, code = run(args)
    lu.assertEquals({ out, code }, { "", 1 }, table.concat(args, " "))
    lu.assertStrContains(err, c[2])
    lu.assertStrContains(err, "usage: tycho")
  end
end

function test_help_lists_the_options()
  local out, _, code = run { "-h" }
  lu.assertEquals(code, 0)
  lu.assertStrContains(out, "--sandbox")
  lu.assertStrContains(out, "--mem-limit SIZE")
  lu.assertStrContains(out, "--instr-limit N")
end
