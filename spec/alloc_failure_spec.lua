-- alloc_failure_spec.lua: every allocation of tensor creation, views, .npy/.npz/.safetensors files and the
-- RNN layer can fail. For n = 1, 2, ... the nth allocation from the start of an operation
-- (and every later one) fails; each such run must raise exactly "not enough memory", leave
-- nothing behind (memory_used returns to where it was; check-asan and check-valgrind see
-- every path), and the first run that never reaches the failure gives the normal result.
-- tycho.engine exists only in the engine (build/tycho), not in the C module for stock Lua.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"

local E = tycho.engine
local FIXTURES = "spec/fixtures/npy/"

-- Equal values: tensors by shape and elements, tables deeply, anything else by ==.
local function same(a, b)
  local ta, tb = getmetatable(a), getmetatable(b)
  if tycho.is_tensor(a) then
    return tycho.is_tensor(b) and a:dim() == b:dim() and a:equal(b)
  end
  if type(a) == "table" and type(b) == "table" and not ta and not tb then
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
  end
  return a == b
end

local function full_gc()
  collectgarbage()
  collectgarbage()
end

-- Full collections until the memory held stops changing: a collection may shrink Lua's
-- string table (by half, when it is a quarter full), so after a test that interned many
-- strings one collection may not be enough.
local function settle()
  local held
  repeat
    held = E.memory_used()
    full_gc()
  until E.memory_used() == held
end

-- Runs f() with the nth allocation failing for n = 1, 2, ... until a run succeeds without
-- reaching the failure; checks each failure and each result. Returns the number of runs
-- that failed, and the memory held after the sweep (garbage collected).
local function sweep_failures(f, want)
  local failures = 0
  for n = 1, 100000 do
    E.fail_allocation(n)
    -- no allocation between arming, the call and disarming: locals only
    local ok, r1, r2, r3, r4, r5 = pcall(f)
    local reached = E.fail_allocation(0)
    if not ok then
      lu.assertTrue(reached, "failed without the injected failure: " .. tostring(r1))
      lu.assertEquals(r1, "not enough memory", "allocation " .. n)
      failures = failures + 1
    else
      local got = { r1, r2, r3, r4, r5, n = want.n }
      for i = 1, want.n do
        lu.assertTrue(same(got[i], want[i]), ("allocation %d: result %d differs"):format(n, i))
      end
      if not reached then
        lu.assertTrue(failures > 0, "the operation allocated nothing")
        got, r1, r2, r3, r4, r5 = nil, nil, nil, nil, nil, nil
        settle()
        return failures, E.memory_used()
      end
    end
  end
  error("no successful run within 100000 allocations")
end

-- Sweeps the failures until two sweeps in a row leave the memory held exactly where it was.
-- The first sweep lets Lua's own caches (call frames, string table, stack) reach the size
-- that failing at every depth gives them, whatever the tests before left them at; but a
-- size Lua grows when it is full (the string table) depends on how many objects were alive
-- at a sweep's busiest moment, which the collector's timing decides, so one later sweep may
-- still grow it once (after spec/idioms_spec.lua and spec/hostile_spec.lua, the optimizer
-- sweeps did, by 3104 bytes, and then held for four more). Anything a failure path leaks
-- grows the memory held at every sweep, so it never settles and shows up.
local SWEEPS = 6
local function fail_each_allocation(f)
  local want = table.pack(f())
  assert(want.n <= 5, "at most 5 results")
  f()   -- a layer now holds this call's results, as it will the last run's: not want's
  settle()
  sweep_failures(f, want)
  local failures, before = sweep_failures(f, want)
  local held = { before }
  for _ = 3, SWEEPS do
    local after
    failures, after = sweep_failures(f, want)
    held[#held + 1] = after
    if after == before then return failures end
    before = after
  end
  lu.fail("memory held after the failing runs does not settle: " .. table.concat(held, ", "))
end

-- ---- the engine's test hooks ------------------------------------------------------------

function test_engine_table_is_in_the_engine_only()
  lu.assertEquals(type(E), "table")
  lu.assertEquals(type(E.fail_allocation), "function")
  lu.assertEquals(type(E.memory_used), "function")
  local build = os.getenv("TYCHO_BUILD") or "build"
  local p = io.popen("LUA_CPATH='" .. build .. "/?.so' lua5.4 -e "
    .. "\"print(type(require('tycho').engine))\" 2>&1")
  local out = p:read("a")
  p:close()
  lu.assertEquals(out, "nil\n")
end

function test_memory_used_counts_tensor_data()
  full_gc()
  local before = E.memory_used()
  local t = tycho.zeros(1000, 100)   -- 800000 bytes of data
  local during = E.memory_used()
  lu.assertTrue(during - before >= 800000, "tensor bytes are not counted")
  lu.assertTrue(during - before < 801000)
  t = nil
  full_gc()
  lu.assertEquals(E.memory_used(), before)
end

function test_memory_peak_sees_a_temporary_and_resets()
  full_gc()
  E.memory_peak(true)
  local start = E.memory_used()
  do
    local t = tycho.zeros(1000, 100)   -- 800000 bytes, then garbage
    t = nil
  end
  full_gc()
  local peak = E.memory_peak(true)
  lu.assertTrue(peak - start >= 800000, "the peak missed the temporary tensor")
  lu.assertTrue(E.memory_peak() < start + 800000, "reset did not restart from what is held")
end

function test_fail_allocation_fails_the_nth_and_every_later_one()
  E.fail_allocation(1)
  local ok, err = pcall(tycho.zeros, 2)
  local ok2, err2 = pcall(tycho.zeros, 2)
  lu.assertTrue(E.fail_allocation(nil))   -- reached; nil turns it off
  lu.assertEquals({ ok, err, ok2, err2 }, { false, "not enough memory", false, "not enough memory" })
  lu.assertFalse(E.fail_allocation(0))     -- off: nothing was refused since
  lu.assertEquals(tycho.zeros(2):sum(), 0)
  lu.assertErrorMsgContains("must be a count", E.fail_allocation, -1)
end

-- ---- creation, arithmetic, products, copies --------------------------------------------

function test_zeros() fail_each_allocation(function() return tycho.zeros(3, 4) end) end
function test_zeros_table_shape() fail_each_allocation(function() return tycho.zeros{2, 0, 3} end) end
function test_ones_full_eye()
  fail_each_allocation(function() return tycho.ones(2, 3), tycho.full({ 2 }, 7), tycho.eye(3) end)
end
function test_linspace_arange()
  fail_each_allocation(function() return tycho.linspace(0, 1, 5), tycho.arange(1, 10, 2) end)
end
function test_random()
  fail_each_allocation(function()
    tycho.random.seed(3)
    return tycho.randn(3, 2), tycho.rand(4)
  end)
end
function test_random_integers_choices_and_shuffles()
  fail_each_allocation(function()
    tycho.random.seed(3)
    local R = tycho.random
    return R.randint(0, 10, 3, 2), R.uniform(-1, 1, { 4 }), R.normal(1, 2, 3),
      R.permutation(6), R.choice(5, { 2, 2 }, { p = { 0.1, 0.2, 0.3, 0.25, 0.15 } })
  end)
  fail_each_allocation(function()
    tycho.random.seed(4)
    local R = tycho.random
    local t = tycho.arange(12):reshape(4, 3)
    R.shuffle(t)
    return t, R.choice(6, 3, { replace = false }), R.choice(5, 3, { replace = false, p = tycho.ones(5) / 5 }),
      R.choice(4, nil, { p = { 0.25, 0.25, 0.25, 0.25 } }), R.choice(7, 4)
  end)
end
-- A random function whose allocation is refused has drawn nothing yet: it allocates first.
function test_random_refused_allocation_draws_nothing()
  local R = tycho.random
  R.seed(9)
  local want = R.rand(3)
  local p = { 0.1, 0.2, 0.3, 0.25, 0.15 }
  local calls = {
    function() return R.randint(0, 10, 5) end, function() return R.uniform(0, 1, 5) end,
    function() return R.normal(0, 1, 5) end, function() return R.permutation(5) end,
    function() return R.choice(5, 3) end, function() return R.choice(5, 3, { replace = false }) end,
    function() return R.choice(5, 3, { p = p }) end,
    function() return R.choice(5, 3, { replace = false, p = p }) end,
  }
  for i, f in ipairs(calls) do
    local refused = 0
    for n = 1, 6 do
      R.seed(9)
      E.fail_allocation(n)
      local ok = pcall(f)
      if E.fail_allocation(0) then
        lu.assertFalse(ok)
        refused = refused + 1
        lu.assertEquals(R.rand(3), want, ("call %d, allocation %d"):format(i, n))
      end
    end
    lu.assertTrue(refused > 0, "call " .. i)
  end
end
function test_tensor_from_nested_tables()
  fail_each_allocation(function() return tycho.tensor{ { 1, 2, 3 }, { 4, 5, 6 } } end)
end
function test_tensor_scalar_and_empty()
  fail_each_allocation(function() return tycho.tensor(2.5), tycho.tensor{} end)
end

local A = tycho.tensor{ { 1, 2, 3 }, { 4, 5, 6 } }
local B = tycho.tensor{ 10, 20, 30 }

function test_arithmetic_with_broadcasting()
  fail_each_allocation(function() return A + B, A - 1, 2 * A, A / B end)
  fail_each_allocation(function() return -A, A ^ 2, 1 - A end)
end
function test_functions_and_reductions()
  fail_each_allocation(function() return A:tanh(), tycho.maximum(A, B), A:sum(1), A:max(2), A:argmax(2) end)
end
function test_in_place_with_overlapping_operand()   -- needs a temporary copy of the operand
  fail_each_allocation(function()
    local t = tycho.tensor{ { 1, 2 }, { 3, 4 } }
    t:add_(t.T)
    return t
  end)
end
function test_small_matmul_dot_outer()
  fail_each_allocation(function() return tycho.matmul(A, A.T), A:dot(B), tycho.outer(B, B) end)
end
function test_blas_matmul_with_non_contiguous_operands()
  -- 40x40 views with strides (80, 2): BLAS cannot read them, so both are copied first
  local base = tycho.linspace(-1, 1, 40 * 40 * 2):reshape(40, 40, 2)
  local m = base:select(3, 1)
  fail_each_allocation(function() return tycho.matmul(m, m) end)
end
function test_blas_matmul_contiguous_and_transposed()
  local m = tycho.linspace(-1, 1, 30 * 30):reshape(30, 30)
  fail_each_allocation(function() return tycho.matmul(m.T, m) end)
end
function test_reshape_that_copies()
  fail_each_allocation(function() return A.T:reshape(6), A.T:reshape(-1, 2) end)
end
function test_contiguous_and_clone()
  fail_each_allocation(function() return A.T:contiguous(), A:clone() end)
end
function test_totable()
  fail_each_allocation(function() return A:totable(), A[1]:totable(), tycho.tensor(5):totable() end)
end
function test_tostring()
  fail_each_allocation(function() return tostring(A) end)
end

-- ---- views -------------------------------------------------------------------------------

function test_select() fail_each_allocation(function() return A:select(1, 2), A:select(2, -1) end) end
function test_narrow() fail_each_allocation(function() return A:narrow(2, 2, 2) end) end
function test_transpose() fail_each_allocation(function() return A:transpose(), A:transpose(1, 2), A.T end) end
function test_view() fail_each_allocation(function() return A:view(3, 2), A:view(-1) end) end
function test_index() fail_each_allocation(function() return A[2], A[-1][2] end) end
function test_shape() fail_each_allocation(function() return A:shape() end) end

-- ---- .npy loading ------------------------------------------------------------------------

function test_load_f8_3d() fail_each_allocation(function() return tycho.load(FIXTURES .. "f8_2x3x4.npy") end) end
function test_load_fortran_order() fail_each_allocation(function() return tycho.load(FIXTURES .. "f8_fortran_3x4.npy") end) end
function test_load_float32() fail_each_allocation(function() return tycho.load(FIXTURES .. "f4_2x3.npy") end) end

-- ---- .npz and .safetensors loading and saving (each save then loads what it wrote; a
-- failed save leaves no temporary file) ---------------------------------------------------

function test_load_npz() fail_each_allocation(function() return tycho.load("spec/fixtures/npz/named.npz") end) end
function test_load_npz_deflated() fail_each_allocation(function() return tycho.load("spec/fixtures/npz/compressed.npz") end) end
function test_load_safetensors() fail_each_allocation(function() return tycho.load("spec/fixtures/safetensors/dtypes.safetensors") end) end

local function saves(ext, opts)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
  local path = dir .. "/m" .. ext
  local t = { w = tycho.linspace(0, 1, 12):reshape(3, 4).T, b = tycho.ones(3), ["a/b"] = tycho.tensor(2) }
  fail_each_allocation(function()
    tycho.save(path, t, opts)
    return tycho.load(path)
  end)
  local p = io.popen("ls -A " .. dir)
  lu.assertEquals(p:read("a"), "m" .. ext .. "\n")
  p:close()
  os.execute("rm -rf " .. dir)
end

function test_save_npz() saves(".npz") end
function test_save_npz_deflated() saves(".npz", { compress = true }) end
function test_save_safetensors() saves(".safetensors", { dtype = "F32", metadata = { k = "v" } }) end

-- ---- the RNN layer (N=2, T=3, D=4, H=5) --------------------------------------------------

local N, T, D, H = 2, 3, 4, 5
local function inputs()
  tycho.random.seed(7)
  return tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H), tycho.randn(N, D),
    tycho.randn(N, H)
end

function test_rnn_layer_constructor()
  fail_each_allocation(function()
    tycho.random.seed(1)
    local l = nn.RNNLayer(D, H)
    return l.W_ih, l.W_hh, l.b
  end)
end

function test_rnn_forward_step()
  local _, h0, _, x1 = inputs()
  tycho.random.seed(1)
  local rnn = nn.RNNLayer(D, H)
  fail_each_allocation(function() return rnn:forward_step(x1, h0) end)
end

function test_rnn_backward_step()
  local _, h0, _, x1, dnext = inputs()
  tycho.random.seed(1)
  local rnn = nn.RNNLayer(D, H)
  rnn:forward_step(x1, h0)
  fail_each_allocation(function()
    local dx = rnn:backward_step(h0, dnext)
    return dx, rnn.dprev_H, rnn.dW_ih, rnn.dW_hh, rnn.db
  end)
end

function test_rnn_forward()
  local x, h0 = inputs()
  tycho.random.seed(1)
  local rnn = nn.RNNLayer(D, H)
  fail_each_allocation(function() return rnn:forward(x, h0) end)
  -- a non-contiguous x is copied into a sequence first
  local xt = tycho.randn(T, N, D):transpose(1, 2)
  fail_each_allocation(function() return rnn:forward(xt, h0) end)
end

function test_rnn_backward()
  local x, h0, dout = inputs()
  tycho.random.seed(1)
  local rnn = nn.RNNLayer(D, H)
  rnn:forward(x, h0)
  fail_each_allocation(function() return rnn:backward(dout) end)
  -- a fresh layer reserves its workspace on the first backward: fail that too
  fail_each_allocation(function()
    tycho.random.seed(1)
    local fresh = nn.RNNLayer(D, H)
    fresh:forward(x, h0)
    return fresh:backward(dout)
  end)
end

-- ---- the LSTM and GRU layers, the same way; with big enough sizes, the packed and lane
-- paths' workspaces as well ---------------------------------------------------------------

-- backward's results, five of them at most (the GRU's six: its two bias gradients as one table)
local function five(dx, dh0, dW_ih, dW_hh, db, db_hh)
  return dx, dh0, dW_ih, dW_hh, db_hh and { db, db_hh } or db
end

for _, kind in ipairs { "LSTMLayer", "GRULayer" } do
  local lstm = kind == "LSTMLayer"
  _ENV["test_" .. kind .. "_constructor_and_reset"] = function()
    fail_each_allocation(function()
      tycho.random.seed(1)
      local l = nn[kind](D, H)
      l:reset()
      return l.W_ih, l.W_hh, l:parameters()
    end)
  end
  _ENV["test_" .. kind .. "_steps"] = function()
    local _, h0, _, x1, dnext = inputs()
    tycho.random.seed(1)
    local l = nn[kind](D, H)
    fail_each_allocation(function() return l:forward_step(x1, h0, lstm and h0 or nil) end)
    fail_each_allocation(function() return l:forward_step(x1) end)
    l:forward_step(x1, h0)
    fail_each_allocation(function()
      local dx = lstm and l:backward_step(dnext, dnext) or l:backward_step(dnext)
      return dx, l.dprev_H, l.dW_ih, l.dW_hh, l.dW_hh
    end)
  end
  for _, path in ipairs { "auto", "blas", 1, 2 } do
    _ENV["test_" .. kind .. "_sequence_path_" .. path] = function()
      tycho.random.seed(3)
      local Nl, Tl, Dl, Hl = 9, 8, 5, 17 -- N*T >= 4*H: a long sequence
      local x, h0, dout = tycho.randn(Nl, Tl, Dl), tycho.randn(Nl, Hl), tycho.randn(Nl, Tl, Hl)
      local function fresh()
        tycho.random.seed(1)
        local l = nn[kind](Dl, Hl)
        l.path = path
        return l
      end
      local l = fresh()
      fail_each_allocation(function() return l:forward(x, h0), l.h_n end)
      fail_each_allocation(function() return l:forward(x:transpose(1, 2):contiguous():transpose(1, 2)) end)
      l:forward(x, h0)
      fail_each_allocation(function() return five(l:backward(dout)) end)
      -- a fresh layer reserves its workspace on the first forward and backward: fail those too
      fail_each_allocation(function()
        local f = fresh()
        f:forward(x, h0)
        return five(f:backward(dout))
      end)
    end
  end
end

function test_tanh_layer()
  local x = inputs()
  local layer = nn.Tanh()
  fail_each_allocation(function()
    local y = layer:forward(x)
    return y, layer:backward(y)
  end)
end

-- ---- the feed-forward layers and the losses ----------------------------------------------

function test_affine_layer()
  tycho.random.seed(2)
  local x3 = tycho.rand(3, 4, 5):transpose(1, 2) -- not a view as rows: forward copies it
  fail_each_allocation(function()
    tycho.random.seed(2)
    local l = nn.AffineLayer(5, 6)
    local y = l:forward(x3)
    return y, l:backward(y)
  end)
end

function test_activation_and_dropout_layers()
  local x = inputs()
  for _, new in ipairs { nn.ReLU, nn.Sigmoid, nn.Softmax, function() return nn.Dropout(0.3) end } do
    local layer = new()
    fail_each_allocation(function()
      tycho.random.seed(4)
      local y = layer:forward(x)
      return y, layer:backward(y.T:contiguous().T)
    end)
  end
end

function test_embedding_layer()
  local ids = tycho.tensor { { 1, 3, 3 }, { 2, 1, 4 } }
  fail_each_allocation(function()
    tycho.random.seed(5)
    local e = nn.Embedding(4, 3)
    local y = e:forward(ids)
    e:backward(y)
    return y, e.dW
  end)
end

function test_losses()
  tycho.random.seed(3)
  local s = tycho.randn(4, 5)
  local y = tycho.ones(5)
  fail_each_allocation(function()
    local l1, d1 = nn.softmax_loss(s.T, y)
    local l2, d2 = nn.mse_loss(s.T, s.T:contiguous())
    return l1, d1, l2, d2
  end)
end

-- ---- containers and optimizers -----------------------------------------------------------
-- (named test_zz_ to run last: the strings they intern grow Lua's string table, which would
-- move the memory figures of the sweeps after them by its resizing)

-- A Lua layer with parameters W (3x4), b (4) and their gradients already set.
local function lua_affine()
  tycho.random.seed(5)
  return { W = tycho.randn(3, 4), b = tycho.randn(4), dW = tycho.randn(3, 4), db = tycho.randn(4),
    parameters = function() return { "W", "b" } end, forward = function(_, v) return v end }
end

function test_sequential_and_named_parameters()
  fail_each_allocation(function()
    local model = nn.Sequential { lua_affine(), nn.Tanh(), lua_affine() }
    local paths = {}
    for path in nn.named_parameters({ model, head = lua_affine() }) do paths[#paths + 1] = path end
    return table.concat(paths, " "), #model
  end)
end

function test_optimizers_made_and_stepped()
  local optim = require "tycho.optim"
  for _, c in ipairs { { "SGD", { lr = 0.1, momentum = 0.9 } }, { "Adam", { amsgrad = true } },
      { "AdamW", {} }, { "RMSprop", { centered = true, momentum = 0.5 } }, { "Adagrad", {} } } do
    fail_each_allocation(function()
      local layer = lua_affine()
      local opt = optim[c[1]](nn.Sequential { layer }, c[2])
      opt:step()
      local st = opt:state()
      opt:load_state(st)
      return layer.W, layer.b, st["1.W." .. (c[1] == "SGD" and "momentum_buffer" or c[1] == "Adagrad"
        and "sum" or c[1] == "RMSprop" and "square_avg" or "exp_avg")]
    end)
  end
  fail_each_allocation(function()
    local layer = lua_affine()
    local opt = optim.LBFGS(layer, { max_iter = 3, line_search_fn = "strong_wolfe" })
    local loss = opt:step(function()
      layer.dW = layer.W * 2
      layer.db = layer.b * 2
      return (layer.W * layer.W):sum() + (layer.b * layer.b):sum()
    end)
    return loss, layer.W, layer.b
  end)
end

function test_clip_grad_norm()
  fail_each_allocation(function()
    local layer = lua_affine()
    return nn.clip_grad_norm({ layer }, 0.5), layer.dW, layer.db
  end)
end

-- ---- the engine keeps working ------------------------------------------------------------

function test_engine_works_after_failures()
  E.fail_allocation(2)
  local ok, err = pcall(function() return tycho.zeros(10, 10) + 1 end)
  E.fail_allocation(0)
  lu.assertFalse(ok)
  lu.assertEquals(err, "not enough memory")
  local t = tycho.ones(10, 10) * 2
  lu.assertEquals(t:sum(), 200)
end
