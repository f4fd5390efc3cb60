-- hostile_spec.lua: scripts that attack the engine from the sandbox. Each class of attack
-- runs in a child `tycho` (TYCHO_BUILD/tycho, so under check-asan the sanitized one), which
-- must end with a Lua error or its normal output: never a signal, a sanitizer report, a
-- hang past the limits, or a wrong number. The helper scripts are in spec/hostile/.
local lu = require "luaunit"
local support = require "spec.support"
local tycho = require "tycho"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local BIN = os.getenv("TYCHO_BIN") or (BUILD .. "/tycho")
local SANDBOX = { BIN, "--sandbox", "--mem-limit", "64M" }            -- finalizers allowed
local LIMITED = { BIN, "--sandbox", "--mem-limit", "64M", "--instr-limit", "1e6" }

local function words(base, more)
  local w = {}
  for _, x in ipairs(base) do w[#w + 1] = x end
  for _, x in ipairs(more) do w[#w + 1] = x end
  return w
end

-- The child ended by itself (no signal, no timeout) and no sanitizer spoke.
local function assert_clean(out, err, code, what)
  local where = (what or "") .. "\nexit " .. tostring(code) .. "\nstdout: " .. out .. "\nstderr: " .. err
  lu.assertTrue(code == 0 or code == 1, where)
  lu.assertNil(err:find("Sanitizer", 1, true), where)
  lu.assertNil(err:find("runtime error:", 1, true), where)
end

-- Runs code (-e) or a script file in the sandbox; returns stdout, stderr, exit code, seconds.
local function sandboxed(args, base, seconds)
  local out, err, code, secs = support.run(words(base or SANDBOX, args), seconds)
  assert_clean(out, err, code, table.concat(args, " "))
  return out, err, code, secs
end

-- code fails in the sandbox with an error containing msg.
local function assert_fails(code, msg, base)
  local out, err, status = sandboxed({ "-e", code }, base)
  lu.assertEquals(status, 1, code .. "\n" .. err)
  lu.assertStrContains(err, msg, false, code)
  return out, err
end

-- ---- tables of numbers are read raw -------------------------------------------------------

-- Tables whose metamethods lie (a length that changes between reads, a negative length, a
-- length past 2^32, elements made up by __index) reach every function that turns a table into
-- a shape or data. Read raw, none of them can be inconsistent; a metamethod is refused by
-- name. Before: heap overflow in tycho.tensor, a -1-d tensor printed out of bounds.
function test_tables_with_metamethods_are_refused_everywhere()
  local script = [[
local function liar() local c = 0 return setmetatable({}, { __len = function() c = c + 1 return c == 1 and 1 or 100000 end, __index = function() return 1 end }) end
local tables = {
  liar = liar,
  negative = function() return setmetatable({}, { __len = function() return -1 end }) end,
  huge = function() return setmetatable({ 2, 3 }, { __len = function() return (1 << 32) + 2 end }) end,
  index = function() return setmetatable({}, { __index = function(_, i) return i <= 2 and 2 or nil end }) end,
}
local uses = {
  tensor = function(t) return tycho.tensor(t) end,
  nested = function(t) return tycho.tensor({ t }) end,
  zeros = function(t) return tycho.zeros(t) end,
  ones = function(t) return tycho.ones(t) end,
  empty = function(t) return tycho.empty(t) end,
  full = function(t) return tycho.full(t, 1) end,
  rand = function(t) return tycho.rand(t) end,
  randn = function(t) return tycho.random.randn(t) end,
  view = function(t) return tycho.ones(4):view(t) end,
  reshape = function(t) return tycho.ones(4):reshape(t) end,
}
local n = 0
for tname, make in pairs(tables) do
  for uname, use in pairs(uses) do
    local ok, err = pcall(use, make())
    assert(not ok, uname .. " accepted the " .. tname .. " table")
    assert(err:find("metamethod (tables are read raw: pass a plain table)", 1, true), err)
    n = n + 1
  end
end
print(n)]]
  local out = sandboxed { "-e", script }
  lu.assertEquals(out, "40\n")
  -- the issue's reproducer
  assert_fails([[local c=0 local t=setmetatable({}, {__len=function() c=c+1 return c==1 and 1 or 100000 end, __index=function() return 1 end}) print(tycho.tensor(t))]],
    "tensor: the table has a __len metamethod")
  assert_fails("local t = setmetatable({}, {__len=function() return -1 end}) print(tycho.ones(1):view(t))",
    "view: the shape table has a __len metamethod")
end

-- Plain tables still work, and a class instance whose metatable has neither is read raw.
function test_plain_tables_still_make_tensors()
  lu.assertEquals(tycho.tensor { { 1, 2 }, { 3, 4 } }:totable(), { { 1, 2 }, { 3, 4 } })
  lu.assertEquals(tycho.zeros { 2, 3 }:shape(), { 2, 3 })
  lu.assertEquals(tycho.ones(6):view { 3, -1 }:shape(), { 3, 2 })
  local point = setmetatable({ 1, 2 }, { __tostring = function() return "point" end })
  lu.assertEquals(tycho.tensor(point):totable(), { 1, 2 })
end

-- A finalizer run by the tensor's allocation (40000 elements step the collector) changes the
-- table between the walk that measures it and the walk that copies it. (Tried until the
-- finalizer runs inside the call: when the collector steps depends on its debt.)
function test_a_table_changed_while_it_is_read_is_an_error()
  for _, change in ipairs { "t[1] = { 1, 2 }", "t[200] = nil", "t[3][200] = 'x'", "t[5] = 7",
                            "t[1][201] = 1" } do
    local out, err, code = sandboxed { "-e", ([[
local function make() local t = {} for i = 1, 200 do t[i] = {} for j = 1, 200 do t[i][j] = j end end return t end
local t, fired
local function arm() setmetatable({}, { __gc = function() fired = true %s end }) end
for attempt = 1, 100 do
  t = make()
  fired = false
  arm()
  local ok, e = pcall(tycho.tensor, t)
  if fired then print(ok, e) break end
end]]):format(change) }
    lu.assertEquals(code, 0, err)
    lu.assertStrContains(out, "false\t", false, change)
    lu.assertStrContains(out, "tensor: the table changed while it was read", false, change)
  end
end

-- ---- tensors closed while a C function uses them ------------------------------------------

-- The metatables are locked: a script can neither reach __gc (to remove it: a leak; or to
-- replace it with Lua code: run outside the instruction limit, closing tensors at will) nor
-- set another metatable.
function test_metatables_are_locked()
  local out = sandboxed { "-e", [[
local nn = tycho.nn
print(getmetatable(tycho.zeros(2)), getmetatable(tycho.zeros(100)), getmetatable(tycho.zeros(100).T),
      getmetatable(nn.RNNLayer(2, 3)), getmetatable(nn.Tanh()))
print(pcall(function() getmetatable(tycho.zeros(100)).__gc = nil end))
collectgarbage() collectgarbage()
local before = tycho.memory().bytes
for i = 1, 100 do local t = tycho.zeros(1000) pcall(function() getmetatable(t).__gc = nil end) end
collectgarbage() collectgarbage()
print(tycho.memory().bytes - before)]] }
  lu.assertEquals(out, "tycho.Tensor\ttycho.Tensor\ttycho.Tensor\ttycho.RNNLayer\ttycho.Tanh\n"
    .. "false\t(command line):4: attempt to index a string value\n0\n")
end

-- Every call that allocates its result runs while a finalizer closes all its operands (the
-- result's allocation steps the collector, which runs it): each raises "closed" (before, the
-- first of them crashed: use after free at ops.c, tensor.c:101).
function test_operands_closed_during_the_call()
  local out = sandboxed { "spec/hostile/close_during_call.lua" }
  local n = 0
  for line in out:gmatch("[^\n]+") do
    n = n + 1
    lu.assertStrMatches(line, ".* closed", nil, nil, line)
  end
  lu.assertEquals(n, 71)
end

-- Tensors closed at random allocations inside random calls (the collector runs at about
-- every allocation, each finalizer closes two tensors of the pool and arms the next):
-- every call raises "closed" or agrees with itself when called again.
function test_tensors_closed_at_any_allocation()
  local out = sandboxed({ "spec/hostile/close_anytime.lua", "20000" }, nil, 600)
  local calls, closed, same = out:match("^calls (%d+) closed (%d+) same (%d+)\n$")
  lu.assertEquals(calls, "20000", out)
  lu.assertTrue(tonumber(closed) > 100, out)  -- the attack did land inside calls
  lu.assertTrue(tonumber(same) > 5000, out)
end

-- A C loop is beyond the instruction limit, so what cannot fit in memory must fail before
-- one walks it: index with 2^40 positions (an expanded view) allocates its result first.
function test_a_result_too_big_fails_before_its_loop()
  local _, err, code, secs = sandboxed({ "-e", "tycho.zeros(3):index(1, tycho.ones(1):expand(2^40))" }, LIMITED, 60)
  lu.assertEquals(code, 1, err)
  lu.assertStrContains(err, "not enough memory")
  lu.assertTrue(secs < 10, ("%.1f s"):format(secs))
end

-- A view of a small tensor keeps the tensor that holds the elements alive, not the view it
-- was made from: a loop of views holds one tensor, not a chain of 1e5 (before: 20.8 MB, and
-- "not enough memory" under --mem-limit 32M).
function test_views_hold_the_elements_not_a_chain()
  local out = sandboxed({ "-e", [[
local v = tycho.ones(4, 4)
local base = collectgarbage("count")
for i = 1, 1e5 do v = v.T end
for i = 1, 1e5 do v = v:view(2, 8):view(16):view(4, 4) end
for i = 1, 1e5 do v = v:narrow(1, 1, 4):transpose(1, 2):transpose(1, 2):view(16):view(4, 4) end
local m = tycho.ones(2, 4, 4)
for i = 1, 1e5 do m = m:narrow(2, 1, 4):select(1, 1):view(1, 4, 4):narrow(1, 1, 1):view(1, 1, 4, 4)[1] end
for i = 1, 1e5 do v = m[1]:view(16):view(4, 4) end
collectgarbage() collectgarbage()
print(collectgarbage("count") - base < 64, v:sum())]] }, { BIN, "--sandbox", "--mem-limit", "32M" })
  lu.assertEquals(out, "true\t16.0\n")
end

-- No object hands out a table through its fields: a metatable that is its own __index would
-- give itself away (Tanh's did: a script set __gc on it, run outside the instruction limit).
function test_no_field_hands_out_a_metatable()
  local out = sandboxed { "-e", [[
local objects = { small = tycho.zeros(2), big = tycho.zeros(100), view = tycho.zeros(100).T,
                  rnn = tycho.nn.RNNLayer(2, 3), tanh = tycho.nn.Tanh() }
local keys = { "__index", "__newindex", "__gc", "__close", "__metatable", "__name", "__tostring",
               "__len", "__add", "__call", "methods", "metatable" }
local n = 0
for name, o in pairs(objects) do
  for _, k in ipairs(keys) do
    local ok, v = pcall(function() return o[k] end)
    assert(type(v) ~= "table", name .. "." .. k .. " is a table")
    n = n + 1
  end
end
print(n)]] }
  lu.assertEquals(out, "60\n")
end

-- Empty results whose other sizes are huge: no loop over 2^48 empty batches or 2^40 empty
-- steps (before: a single call ran for hours), no overflow multiplying the sizes out.
function test_empty_results_with_huge_sizes_return_at_once()
  local out, err, code, secs = sandboxed({ "-e", [[
print(tycho.matmul(tycho.zeros(2^24, 1, 0, 1), tycho.zeros(1, 2^24, 1, 0)):numel())
local r = tycho.nn.RNNLayer(1, 1)
print(r:forward(tycho.zeros(0, 2^40, 1), tycho.zeros(0, 1)):size(2), r:backward(tycho.zeros(0, 2^40, 1)):numel())
local r0 = tycho.nn.RNNLayer(3, 0)
r0:forward(tycho.ones(2, 4, 3), tycho.zeros(2, 0))
local dx = r0:backward(tycho.zeros(2, 4, 0))
print(dx:sum(), dx:numel())
print(pcall(tycho.allclose, tycho.zeros(2^40, 1, 0), tycho.zeros(1, 2^40, 0)))]] }, LIMITED, 60)
  lu.assertEquals(code, 0, err)
  lu.assertEquals(out, "0\n1099511627776\t0\n0.0\t24\nfalse\tallclose: shape too large (over 2^50 elements)\n")
  lu.assertTrue(secs < 10)
end

-- What the engine wraps (the coroutine functions always; setmetatable and xpcall under the
-- limit, load in the sandbox) answers as stock lua5.4's does.
function test_wrapped_functions_answer_as_stock_lua()
  local code = [[
print(pcall(coroutine.close, 1)) print(pcall(coroutine.create, 1)) print(pcall(coroutine.wrap))
print(pcall(coroutine.close, coroutine.running())) print(pcall(coroutine.resume, 1))
local co co = coroutine.create(function() return pcall(coroutine.close, co) end) print(coroutine.resume(co))
local g = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) error("x" .. b) end)
print(g(1)) print(pcall(g, 5)) print(pcall(g))
print(coroutine.resume(coroutine.create(function(...) return select('#', ...), ... end), 1, nil, 3))
local d = coroutine.create(function() error({}) end) print(select('#', coroutine.resume(d)), coroutine.close(d))
print(pcall(setmetatable, 1, {})) print(pcall(setmetatable, {}, 1)) print(pcall(load)) print(pcall(load, 5))
print(xpcall(error, function(m) return "handled " .. m end, "e", 0))
print(xpcall(function(...) return select('#', ...), ... end, print, 1, nil))
print(load(function() return {} end))
local depth = 0
local function nest() depth = depth + 1 return xpcall(nest, function(m) return m end) end
print(nest(), depth > 190)]]
  local want = support.run({ "lua5.4", "-e", code }):gsub("table: 0x%x+", "table")
  for _, base in ipairs { { BIN }, LIMITED } do
    local out = sandboxed({ "-e", code }, base)
    lu.assertEquals(out:gsub("table: 0x%x+", "table"), want, table.concat(base, " "))
  end
end

-- An RNN layer's weights replaced by a finalizer during a call, the layer's own methods
-- run again by one, its caches closed by one: errors that say what no longer fits (before:
-- the call went on with freed or wrongly sized weights; a 1-element b took H gradients).
function test_layers_changed_during_the_call()
  local out = sandboxed { "spec/hostile/layer_during_call.lua" }
  local want = {
    "forward_step W_ih error W_hh is 200x200 but W_ih is 3x201 (W_hh must be H x H with H = W_ih columns)",
    "backward_step W_ih error W_ih is 3x201 but must be 200x200 (the sizes of the last forward)",
    "forward W_ih error W_hh is 200x200 but W_ih is 3x201 (W_hh must be H x H with H = W_ih columns)",
    "backward W_ih error W_ih is 3x201 but must be 200x200 (the sizes of the last forward)",
    "forward_step W_hh error W_hh is 201x201 but W_ih is 200x200 (W_hh must be H x H with H = W_ih columns)",
    "backward_step W_hh error W_hh is 201x201 but must be 200x200 (the sizes of the last forward)",
    "forward W_hh error W_hh is 201x201 but W_ih is 200x200 (W_hh must be H x H with H = W_ih columns)",
    "backward W_hh error W_hh is 201x201 but must be 200x200 (the sizes of the last forward)",
    "forward_step b error b is 1 but W_ih is 200x200 (b must be a vector of H = W_ih columns)",
    "backward_step b error b is 1 but must be 200 (the sizes of the last forward)",
    "forward b error b is 1 but W_ih is 200x200 (b must be a vector of H = W_ih columns)",
    "backward b error b is 1 but must be 200 (the sizes of the last forward)",
    "backward while forward runs again error dout is 200x1x200 but forward's result h is 2x3x200 (they must match)",
    "backward_step while forward_step runs again error prev_h is 200x200 but must be 2x200 (the shape of forward_step's prev_h)",
    "backward while its cache is closed error the layer's W_hh was closed",
    "forward while a weight is closed error the layer's W_ih was closed",
    "affine forward W error b is 200 but W is 3x201 (b must be a vector of W's 201 columns)",
    "affine forward b error b is 1 but W is 200x200 (b must be a vector of W's 200 columns)",
    "affine backward W error b is 200 but W is 200x201 (b must be a vector of W's 201 columns)",
    "affine backward while forward runs again error the sizes changed during the call (a finalizer assigned dx's inputs or weights)",
    "embedding forward W error ids[1, 1] is 200, not an integer id in 1..V (V = 2)",
    "embedding backward W error the sizes changed during the call (a finalizer assigned Embedding's inputs or weights)",
  }
  lu.assertEquals(out, table.concat(want, "\n") .. "\n")
end

-- The issue's reproducer: b replaced after forward, then backward many times (before: heap
-- overflow). Every weight is checked against what the caches hold.
function test_rnn_backward_checks_every_weight_against_its_caches()
  assert_fails([[local r=tycho.nn.RNNLayer(2,2000) r:forward(tycho.ones(1,3,2),tycho.zeros(1,2000)) r.b=tycho.zeros(1) for i=1,20 do r:backward(tycho.ones(1,3,2000)) end]],
    "backward: b is 1 but must be 2000 (the sizes of the last forward)")
  assert_fails([[local r=tycho.nn.RNNLayer(2,2000) r:forward_step(tycho.ones(1,2),tycho.zeros(1,2000)) r.b=tycho.zeros(1) for i=1,20 do r:backward_step(tycho.zeros(1,2000), tycho.ones(1,2000)) end]],
    "backward_step: b is 1 but must be 2000 (the sizes of the last forward)")
end

-- ---- the instruction limit holds for every way Lua code runs ------------------------------

-- Each of these used to hang (message handlers and finalizers run with hooks off; a tree of
-- coroutines spent each thread's remaining count without end), or could have.
function test_the_instruction_limit_cannot_be_escaped()
  local cases = {
    xpcall_handler = "xpcall(function() while true do end end, function(m) while true do end end)",
    xpcall_handler_catching = "while true do xpcall(function() while true do end end, function(m) while true do end end) end",
    handler_of_an_ordinary_error = "xpcall(function() error('x') end, function(m) while true do end end)",
    coroutine_tree = [[local function node(d) if d == 0 then while true do end end
      while true do local co = coroutine.create(node) coroutine.resume(co, d - 1) end end node(6)]],
    wrap_tree = [[local function node(d) if d == 0 then while true do end end
      while true do pcall(coroutine.wrap(node), d - 1) end end node(6)]],
    -- each coroutine ends before its own hook would fire: counted when it is made
    short_lived_wraps = [[local function n(d) if d == 0 then for i = 1, 150 do end return end
      for i = 1, 100 do coroutine.wrap(n)(d - 1) end end n(5)]],
    short_lived_resumes = [[local function n(d) if d == 0 then for i = 1, 150 do end return end
      for i = 1, 100 do coroutine.resume(coroutine.create(n), d - 1) end end n(5)]],
    tanh_metatable = "tycho.nn.Tanh().__index.__gc = function() while true do end end tycho.nn.Tanh() collectgarbage()",
    suspended_then_resumed = [[local cos = {}
      for i = 1, 100 do cos[i] = coroutine.create(function() coroutine.yield() while true do end end) coroutine.resume(cos[i]) end
      pcall(function() while true do end end)
      for i = 1, 100 do pcall(coroutine.resume, cos[i]) end while true do end]],
    tensor_finalizer = "getmetatable(tycho.zeros(100)).__gc = function() while true do end end; collectgarbage()",
    table_finalizer = "setmetatable({}, {__gc = function() while true do end end}) collectgarbage()",
    close_handler = "do local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end end",
    close_handlers_in_pcall = [[while true do pcall(function()
      local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end end) end]],
    coroutine_close = [[local co = coroutine.create(function()
      local x <close> = setmetatable({}, {__close = function() while true do end end}) coroutine.yield() end)
      coroutine.resume(co) while true do pcall(coroutine.close, co) end]],
    close_after_the_limit = [[local cos = {} for i = 1, 100 do cos[i] = coroutine.create(function()
      local x <close> = setmetatable({}, {__close = function() while true do end end}) coroutine.yield() end)
      coroutine.resume(cos[i]) end pcall(function() while true do end end)
      for i = 1, 100 do pcall(coroutine.close, cos[i]) end while true do end]],
    index_metamethod = "local t = setmetatable({}, {__index = function() while true do end end}) local _ = t.x",
    tostring_of_the_error = "error(setmetatable({}, {__tostring = function() while true do end end}))",
    gsub_callback = "while true do pcall(string.gsub, 'aaaa', 'a', function() while true do end end) end",
    sort_comparator = "local t = {3, 2, 1} table.sort(t, function() while true do end end)",
    load_reader = "load(function() while true do end end)",
  }
  for name, code in pairs(cases) do
    local out, err, status, secs = sandboxed({ "-e", code }, LIMITED, 30)
    lu.assertEquals(status, 1, name .. "\n" .. err)
    local limited = err:find("instruction limit of 1000000 exceeded", 1, true)
      or err:find("__gc metamethods are disabled under the instruction limit", 1, true)
      or err:find("attempt to index a string value", 1, true) -- the locked metatable
      or err:find("attempt to index a nil value (field '__index')", 1, true) -- no metatable behind
      or err:find("Tanh: no field __index to read", 1, true) -- a layer has only its own fields
    lu.assertNotNil(limited, name .. "\n" .. err)
    lu.assertTrue(secs < 10, name .. " took " .. secs .. " s")
  end
end

-- The host gets TYCHO_ERR_LIMIT (the command: exit 1) and the engine works for the next
-- chunk, whatever state the coroutines were left in.
function test_after_the_limit_the_next_chunk_runs()
  local out, err, code = sandboxed({ "-e", [[local co = coroutine.wrap(function() while true do coroutine.yield() end end)
    local ok = pcall(function() while true do co() end end)]], "-e", "print('next')" }, LIMITED)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "instruction limit of 1000000 exceeded")
  lu.assertEquals(out, "")
end

-- What a run does after the limit costs little and bounded time: a traceback is made once
-- (each pending __close raises the limit again as the run unwinds, and a traceback walks
-- package.loaded, which a script can make costly: 1010 pending took 57.8 s before), and a
-- refused allocation is charged the full collection Lua runs before refusing it (a loop of
-- them ran for minutes under the limit).
function test_after_the_limit_unwinding_and_refusals_stay_cheap()
  local out, err, code, secs = sandboxed({ "-e", [[
for i = 1, 3 do package.loaded["big" .. i] = tycho.zeros(1000000):totable() end
local obj = setmetatable({}, { __close = function() end })
local function rec(n)
  local a1 <close> = obj local a2 <close> = obj local a3 <close> = obj local a4 <close> = obj
  local a5 <close> = obj local a6 <close> = obj local a7 <close> = obj local a8 <close> = obj
  local a9 <close> = obj local a10 <close> = obj
  if n > 0 then rec(n - 1) end
  while true do end
end
rec(1010)]] }, LIMITED, 60)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "instruction limit of 1000000 exceeded")
  lu.assertTrue(secs < 10, secs .. " s")
  out, err, code, secs = sandboxed({ "spec/hostile/refused_allocations.lua", "100000" }, LIMITED, 120)
  lu.assertEquals(code, 1, out .. err)
  lu.assertNotNil(err:find("instruction limit of 1000000 exceeded", 1, true) or err:find("not enough memory", 1, true), err)
  lu.assertTrue(secs < 10, secs .. " s")
end

-- A coroutine the limit ended keeps its hooks off (the limit's error came from a hook): a
-- later run (the prompt's next line) must not close it, or its __close methods would run
-- uncounted (before: forever).
function test_a_coroutine_the_limit_ended_is_never_closed()
  local out, err, code, secs = support.run(words(LIMITED, { "-i" }), 30, [[
co = coroutine.create(function() local x <close> = setmetatable({}, {__close = function() while true do end end}) while true do end end)
print(coroutine.resume(co))
print(coroutine.close(co))
print(coroutine.status(co))
]])
  assert_clean(out, err, code)
  lu.assertTrue(secs < 10, secs .. " s")
  lu.assertStrContains(err, "instruction limit of 1000000 exceeded")
  lu.assertStrContains(err, "coroutine.close: the coroutine was ended by the instruction limit")
  lu.assertStrContains(out, "dead")
end

-- A memory error while a coroutine resumes one it cannot resume: the process survives, and
-- the engine's count of nested coroutine calls stays right (before: a crash).
function test_out_of_memory_inside_resume()
  local out = sandboxed({ "spec/hostile/resume_out_of_memory.lua" }, SANDBOX, 120)
  lu.assertEquals(out, "A dead\nsurvived\nnested true\n")
end

-- Once closing has begun, Lua marks nothing new for finalization: a tensor, view or layer a
-- finalizer made then would never free its data (936 bytes leaked before). They are refused.
function test_finalizers_at_close_make_nothing_that_leaks()
  local out, err, code = sandboxed { "-e", [[
keep = setmetatable({}, { __gc = function()
  X = tycho.ones(100) Y = tycho.nn.RNNLayer(3, 4) Z = tycho.ones(100):view(10, 10)
end })
print("set")]] }
  lu.assertEquals({ out, code }, { "set\n", 0 })
end

-- The command's own use of a script's globals runs no Lua code outside a counted run: the
-- prompt, printing a line's values, the -l global (each hung before, under the limit).
function test_the_command_runs_no_script_code_outside_the_limit()
  local cases = {
    { { "-i" }, "return setmetatable({}, {__tostring = function() while true do end end})\n" },
    { { "-i" }, "print = function() while true do end end\n1\n" },
    { { "-i" }, "setmetatable(_G, {__index = function(t, k) if k == '_PROMPT' then while true do end end end})\n1\n" },
    { { "-e", "setmetatable(_G, {__newindex = function() while true do end end})", "-l", "t=tycho",
        "-e", "print(t == tycho)" }, nil },
  }
  for i, c in ipairs(cases) do
    local out, err, code, secs = support.run(words(LIMITED, c[1]), 30, c[2])
    assert_clean(out, err, code, "case " .. i)
    lu.assertTrue(secs < 10, "case " .. i .. ": " .. secs .. " s")
  end
end

-- ---- coroutines nest within a bound ---------------------------------------------------------

-- Lua 5.4.4 runs a closed coroutine's __close methods with the C-call count it had when it
-- last ran: 20000 coroutines, each closing the previous from a <close> variable, overflowed
-- the C stack (stock lua5.4 crashes too). The engine bounds it; the script gets the error.
function test_deeply_nested_coroutine_close_is_an_error()
  local chain = [[
local prev
for i = 1, 20000 do
  local p = prev
  local co = coroutine.create(function()
    local x <close> = setmetatable({}, {__close = function()
      if p then local ok, e = coroutine.close(p) if not ok then error(e, 0) end end end})
    coroutine.yield()
  end)
  coroutine.resume(co)
  prev = co
end
print(coroutine.close(prev))]]
  local out = sandboxed { "-e", chain }
  lu.assertStrMatches(out, "false\t.*coroutine.close: coroutines nested too deeply %(over 1024 KB of C stack%)\n")
  -- the same through coroutine.wrap, whose errors close the coroutine
  local wrapped = [[
local prev
for i = 1, 20000 do
  local p = prev
  prev = coroutine.wrap(function()
    local x <close> = setmetatable({}, {__close = function() if p then p() end end})
    error("e" .. i)
  end)
end
print(pcall(prev))]]
  out = sandboxed { "-e", wrapped }
  lu.assertStrContains(out, "false\t")
  -- each wrap resumes from the coroutine being closed, so Lua's own count of C calls can
  -- reach its bound first
  lu.assertNotNil(out:find("coroutines nested too deeply", 1, true) or out:find("C stack overflow", 1, true), out)
end

-- Resuming keeps Lua's own depth (about 200 nested C calls: what stock lua5.4 reaches with
-- the same chunk), and a chain of closes well within the bound works.
function test_coroutines_still_nest_as_deep_as_in_lua()
  local code = [[
local depth = 0
local function f() depth = depth + 1 local co = coroutine.create(f) local ok, e = coroutine.resume(co) if not ok then error(e, 0) end end
local ok, e = pcall(f)
local w = 0
local function g() w = w + 1 return coroutine.wrap(g)() end
local ok2, e2 = pcall(g)
print(depth, e, w, (e2:gsub("^.*: ", "")))]]
  local want = support.run({ "lua5.4", "-e", code })
  lu.assertStrMatches(want, "19%d\tC stack overflow\t19%d\tC stack overflow\n")
  for _, base in ipairs { { BIN }, SANDBOX, LIMITED } do
    lu.assertEquals(sandboxed({ "-e", code }, base), want, table.concat(base, " "))
  end
  out = sandboxed { "-e", [[
local prev
for i = 1, 300 do
  local p = prev
  local co = coroutine.create(function()
    local x <close> = setmetatable({}, {__close = function() if p then assert(coroutine.close(p)) end end})
    coroutine.yield()
  end)
  coroutine.resume(co)
  prev = co
end
print(coroutine.close(prev))]] }
  lu.assertEquals(out, "true\n")
end

-- ---- smaller holes ----------------------------------------------------------------------------

function test_set_with_no_value_says_so()
  local ok, err = pcall(function() return tycho.tensor(3):set() end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "set: expected 0 indexes and a value for a 0-d tensor (scalar), got nothing")
  ok, err = pcall(function() return tycho.ones(2):set(1, tycho.ones(1)) end)
  lu.assertStrContains(err, "set: the value (argument 3) must be a number, got a tensor")
  lu.assertEquals(tycho.ones(2, 2):set(2, 1, 5):totable(), { { 1, 1 }, { 5, 1 } })
end

-- np.arange, values and lengths (spec/fixtures/numpy/make_arange.py), an infinite step too:
-- start, start + step, then start + i * ((start + step) - start), as NumPy fills it.
function test_arange_is_numpy_exact()
  local inf = 1 / 0
  local cases = { { 0.1, 1, 0.3 }, { 0.3, 5, 0.7 }, { -1.7, 3.3, 0.13 }, { 1e10, 1e10 + 10, 0.9 },
                  { 0, 1, inf }, { 0, -1, inf }, { 0, -1, -inf }, { 1, 0, inf }, { 0, 0, inf },
                  { 5, 1, -0.35 }, { 0, 10, 1 }, { 2.5, 2.5, 1 } }
  local values = tycho.load("spec/fixtures/numpy/arange.npy")
  local counts = tycho.load("spec/fixtures/numpy/arange_counts.npy")
  local at = 1
  for i, c in ipairs(cases) do
    local got = tycho.arange(c[1], c[2], c[3])
    local n = counts[i]
    lu.assertEquals(got:numel(), n, ("arange(%g, %g, %g)"):format(c[1], c[2], c[3]))
    for k = 1, n do
      lu.assertEquals(got[k], values[at + k - 1], ("arange(%g, %g, %g)[%d]"):format(c[1], c[2], c[3], k))
    end
    at = at + n
  end
end

function test_paths_with_nul_bytes_are_refused()
  local ok, err = pcall(tycho.load, "spec/fixtures/npy/f8_2x3.npy\0junk")
  lu.assertFalse(ok)
  lu.assertStrContains(err, "load: path contains a NUL byte (at position 29)")
  local path = os.tmpname()
  ok, err = pcall(tycho.save, path .. "\0.npy", tycho.ones(2))
  lu.assertStrContains(err, "save: path contains a NUL byte")
  lu.assertEquals(support.slurp(path), "") -- nothing written through the truncated name
  os.remove(path)
end

-- A FIFO would block the load forever (open waits for a writer), or the save (it waits for a
-- reader); devices never end.
function test_only_regular_files_load_and_save()
  local fifo = os.tmpname()
  os.remove(fifo)
  assert(os.execute("mkfifo " .. support.q(fifo)))
  local out, err, code, secs = support.run({ BIN, "-e", ("print(pcall(tycho.load, %q))"):format(fifo) }, 20)
  os.remove(fifo)
  lu.assertEquals(code, 0, err)
  lu.assertTrue(secs < 10)
  lu.assertStrContains(out, "false\tload: " .. fifo .. ": is not a regular file")
  local ok, e = pcall(tycho.load, "/dev/zero")
  lu.assertStrContains(e, "load: /dev/zero: is not a regular file")
  ok, e = pcall(tycho.load, "spec")
  lu.assertStrContains(e, "load: spec: is a directory")
  fifo = os.tmpname()
  os.remove(fifo)
  assert(os.execute("mkfifo " .. support.q(fifo)))
  out, err, code, secs = support.run({ BIN, "-e", ("print(pcall(tycho.save, %q, tycho.ones(2)))"):format(fifo) }, 20)
  os.remove(fifo)
  lu.assertEquals(code, 0, err)
  lu.assertTrue(secs < 10)
  lu.assertStrContains(out, "false\tsave: " .. fifo .. ": is not a regular file")
  ok, e = pcall(tycho.save, "/dev/null", tycho.ones(2))
  lu.assertStrContains(e, "save: /dev/null: is not a regular file")
  ok, e = pcall(tycho.save, "spec", tycho.ones(2))
  lu.assertStrContains(e, "save: spec: is a directory")
end

-- A descr too long for the reader is an error, not cut into another dtype ('<f' with 44
-- zeros and '8XYZ' read as float64); NumPy's own leading zeros ('<f0008') still read.
function test_npy_descr_is_never_cut()
  local function npy(descr)
    local header = ("{'descr': '%s', 'fortran_order': False, 'shape': (1,), }"):format(descr)
    header = header .. string.rep(" ", 63 - (10 + #header) % 64) .. "\n"
    return "\x93NUMPY\1\0" .. string.pack("<I2", #header) .. header .. string.pack("<d", 2.5)
  end
  local path = support.tmpfile(npy("<f" .. string.rep("0", 44) .. "8XYZ"))
  local ok, err = pcall(tycho.load, path)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "bad header: 'descr' is longer than 47 characters")
  os.remove(path)
  path = support.tmpfile(npy("<f0008"))
  lu.assertEquals(tycho.load(path)[1], 2.5)
  os.remove(path)
end

-- Messages that said too little.
function test_messages_name_what_was_wrong()
  local ok, err = pcall(tycho.tensor, { { 1, 2 }, { { 1 }, { 2 } } })
  lu.assertStrContains(err, "tensor: ragged table (element 1 at depth 2 is a table, others are numbers)")
  ok, err = pcall(function() local t = tycho.ones(2) t[1.5] = 1 end)
  lu.assertStrContains(err, "newindex: tensors accept only integer keys (got 1.5)")
  ok, err = pcall(function() local t = tycho.ones(2) t.x = 1 end)
  lu.assertStrContains(err, "newindex: tensors accept only integer keys (got string 'x')")
  ok, err = pcall(tycho.arange, 0 / 0)
  lu.assertStrContains(err, "arange: cannot compute the length")
end

-- A header longer than the reader accepts says so, not that it runs past the end.
function test_npy_header_over_the_cap_says_the_cap()
  local hlen = (1 << 20) + 64
  local header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"
  header = header .. string.rep(" ", hlen - #header - 1) .. "\n"
  local bytes = "\x93NUMPY\2\0" .. string.pack("<I4", hlen) .. header .. string.pack("<d", 1)
  local path = support.tmpfile(bytes)
  local ok, err = pcall(tycho.load, path)
  os.remove(path)
  lu.assertFalse(ok)
  lu.assertStrContains(err, ": header length 1048640 is over the limit of 1048576 bytes")
end
