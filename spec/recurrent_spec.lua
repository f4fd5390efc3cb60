-- LSTMLayer and GRULayer (and what RNNLayer shares with them): every fixture of
-- spec/fixtures/lstm and gru (independent NumPy code, checked against PyTorch), numerical
-- gradients of every output of backward_step and backward, the constructors' and reset's
-- draws against NumPy, parameters(), h_n and c_n, optional states, steps against the
-- sequence, strided inputs, and every error.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"
local checks = require "tycho.checks"

local rel_error, grad_check = checks.rel_error, checks.grad_check

local function F(dir, name) return tycho.load("spec/fixtures/" .. dir .. "/" .. name .. ".npy") end

-- lin(a, b, ...) is the fixtures' np.linspace(a, b, num=prod(shape)).reshape(shape)
local function lin(a, b, ...)
  local n = 1
  for _, s in ipairs { ... } do n = n * s end
  return tycho.linspace(a, b, n):reshape(...)
end

local support = require "spec.support"
local assert_error = support.assert_error

local function below(err, tol, what) lu.assertTrue(err < tol, ("%s: error %g"):format(what, err)) end

-- A gradient's error relative to its largest entry: central differences carry an absolute
-- noise of about 1e-10, which an elementwise rel_error magnifies on entries near zero.
local function grad_error(num, analytic)
  return (num - analytic):abs():max() / math.max(analytic:abs():max(), 1e-8)
end

-- The fixtures' cells, as layers.
local function lstm_step_layer()
  local N, D, H = 3, 4, 5
  local l = nn.LSTMLayer(D, H)
  l.W_ih, l.W_hh, l.b = lin(-2.1, 1.3, D, 4 * H), lin(-0.7, 2.2, H, 4 * H), lin(0.3, 0.7, 4 * H)
  return l, lin(-0.4, 1.2, N, D), lin(-0.3, 0.7, N, H), lin(-0.4, 0.9, N, H)
end

local function gru_step_layer()
  local N, D, H = 3, 4, 5
  local g = nn.GRULayer(D, H)
  g.W_ih, g.W_hh = lin(-2.1, 1.3, D, 3 * H), lin(-0.7, 2.2, H, 3 * H)
  g.b_ih, g.b_hh = lin(0.3, 0.7, 3 * H), lin(-0.2, 0.5, 3 * H)
  return g, lin(-0.4, 1.2, N, D), lin(-0.3, 0.7, N, H)
end

local function backward_layer(kind)
  local l = kind == "lstm" and nn.LSTMLayer(3, 6) or nn.GRULayer(3, 6)
  for _, p in ipairs(l:parameters()) do l[p] = F(kind, "backward_" .. p) end
  return l
end

TestFixtures = {}

function TestFixtures:test_lstm_forward_step_and_backward_step()
  local l, x, prev_h, prev_c = lstm_step_layer()
  local next_h, next_c = l:forward_step(x, prev_h, prev_c)
  below(rel_error(next_h, F("lstm", "step_next_h")), 1e-12, "next_h")
  below(rel_error(next_c, F("lstm", "step_next_c")), 1e-12, "next_c")
  local dx = l:backward_step(lin(-0.5, 0.6, 3, 5), lin(-0.3, 0.8, 3, 5))
  below(rel_error(dx, F("lstm", "step_dx")), 1e-12, "dx")
  lu.assertTrue(rawequal(l.dx, dx))
  for field, file in pairs { dprev_H = "step_dprev_h", dprev_C = "step_dprev_c", dW_ih = "step_dW_ih",
                             dW_hh = "step_dW_hh", db = "step_db" } do
    below(rel_error(l[field], F("lstm", file)), 1e-12, field)
  end
end

function TestFixtures:test_gru_forward_step_and_backward_step()
  local g, x, prev_h = gru_step_layer()
  below(rel_error(g:forward_step(x, prev_h), F("gru", "step_next_h")), 1e-12, "next_h")
  local dx = g:backward_step(lin(-0.5, 0.6, 3, 5))
  below(rel_error(dx, F("gru", "step_dx")), 1e-12, "dx")
  for field, file in pairs { dprev_H = "step_dprev_h", dW_ih = "step_dW_ih", dW_hh = "step_dW_hh",
                             db_ih = "step_db_ih", db_hh = "step_db_hh" } do
    below(rel_error(g[field], F("gru", file)), 1e-12, field)
  end
end

function TestFixtures:test_forward()
  local N, T, D, H = 2, 3, 5, 4
  local x, h0 = lin(-0.4, 0.6, N, T, D), lin(-0.4, 0.8, N, H)
  local l = nn.LSTMLayer(D, H)
  l.W_ih, l.W_hh, l.b = lin(-0.2, 0.9, D, 4 * H), lin(-0.3, 0.6, H, 4 * H), lin(0.2, 0.7, 4 * H)
  below(rel_error(l:forward(x, h0), F("lstm", "forward_h")), 1e-12, "lstm h")
  below(rel_error(l:forward(x, h0, tycho.zeros(N, H)), F("lstm", "forward_h")), 1e-12, "lstm h, c0 given")
  local g = nn.GRULayer(D, H)
  g.W_ih, g.W_hh = lin(-0.2, 0.9, D, 3 * H), lin(-0.3, 0.6, H, 3 * H)
  g.b_ih, g.b_hh = lin(0.2, 0.7, 3 * H), lin(-0.1, 0.3, 3 * H)
  below(rel_error(g:forward(x, h0), F("gru", "forward_h")), 1e-12, "gru h")
end

function TestFixtures:test_lstm_backward()
  local l = backward_layer("lstm")
  local h = l:forward(F("lstm", "backward_x"), F("lstm", "backward_h0"))
  below(rel_error(h, F("lstm", "backward_h")), 1e-12, "h")
  local dx, dh0, dW_ih, dW_hh, db = l:backward(F("lstm", "backward_dout"))
  local got = { dx = dx, dh0 = dh0, dW_ih = dW_ih, dW_hh = dW_hh, db = db, dc0 = l.dc0 }
  for name, t in pairs(got) do below(rel_error(t, F("lstm", "backward_" .. name)), 1e-12, name) end
  for name, t in pairs(got) do lu.assertTrue(rawequal(l[name], t), name) end
end

function TestFixtures:test_gru_backward()
  local g = backward_layer("gru")
  local h = g:forward(F("gru", "backward_x"), F("gru", "backward_h0"))
  below(rel_error(h, F("gru", "backward_h")), 1e-12, "h")
  local r = { g:backward(F("gru", "backward_dout")) }
  lu.assertEquals(#r, 6)
  for i, name in ipairs { "dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh" } do
    below(rel_error(r[i], F("gru", "backward_" .. name)), 1e-12, name)
    lu.assertTrue(rawequal(g[name], r[i]), name)
  end
end

-- np.random.seed(1) then rand() for each parameter in order (the fixtures' init_seed1_*)
function TestFixtures:test_constructors_draw_rand_in_parameter_order()
  tycho.random.seed(1)
  local l = nn.LSTMLayer(3, 2)
  for _, p in ipairs { "W_ih", "W_hh", "b" } do lu.assertTrue(l[p]:equal(F("lstm", "init_seed1_D3_H2_" .. p)), p) end
  tycho.random.seed(1)
  local g = nn.GRULayer(3, 2)
  for _, p in ipairs { "W_ih", "W_hh", "b_ih", "b_hh" } do lu.assertTrue(g[p]:equal(F("gru", "init_seed1_D3_H2_" .. p)), p) end
end

-- spec/fixtures/recurrent/make_reset.py: NumPy's uniform(-stdv, stdv) per parameter
function TestFixtures:test_reset_draws_uniform_as_numpy()
  tycho.random.seed(3)
  local l = nn.LSTMLayer(3, 2)
  local W_hh = l.W_hh
  lu.assertNil(l:reset())
  lu.assertTrue(rawequal(l.W_hh, W_hh)) -- in place
  for _, p in ipairs(l:parameters()) do
    lu.assertTrue(l[p]:equal(F("recurrent", "lstm_reset_seed3_" .. p)), p)
  end
  tycho.random.seed(4)
  local g = nn.GRULayer(2, 3)
  g:reset(0.25)
  for _, p in ipairs(g:parameters()) do
    lu.assertTrue(g[p]:equal(F("recurrent", "gru_reset_seed4_" .. p)), p)
  end
  assert_error(function() g:reset(-1) end, "reset: stdv must be a finite number, not negative")
  assert_error(function() g:reset(1, 2) end, "reset: takes 1 argument, got 2")
  assert_error(function() g:reset("x") end, "number expected")
end

-- ---- numerical gradients --------------------------------------------------------------------

TestGradients = {}

local function random_layer(make, D, H, seed)
  tycho.random.seed(seed)
  local l = make(D, H)
  for _, p in ipairs(l:parameters()) do l[p] = tycho.randn(table.unpack(l[p]:shape())) * 0.5 end
  return l
end

-- backward's every result against grad_check of sum(forward(x, h0, c0) * dout)
local function check_sequence(make, N, T, D, H, tol)
  local seed = N * 1000 + T * 100 + D * 10 + H
  local l = random_layer(make, D, H, seed)
  local lstm = tostring(l):find("LSTM") ~= nil
  local x, h0, dout = tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H)
  local c0 = lstm and tycho.randn(N, H) or nil
  local function f() return l:forward(x, h0, c0) end
  f()
  local r = { l:backward(dout) }
  local label = ("%s N%d T%d D%d H%d"):format(tostring(l), N, T, D, H)
  below(grad_error(grad_check(f, x, dout), r[1]), tol, label .. " dx")
  below(grad_error(grad_check(f, h0, dout), r[2]), tol, label .. " dh0")
  for i, p in ipairs(l:parameters()) do
    below(grad_error(grad_check(f, l[p], dout), r[2 + i]), tol, label .. " d" .. p)
  end
  if lstm then
    local dc0 = l.dc0
    below(grad_error(grad_check(f, c0, dout), dc0), tol, label .. " dc0")
  end
end

-- backward_step's every result against grad_check of sum(next_h * dnext_h) (+ sum(next_c *
-- dnext_c) for the LSTM)
local function check_step(make, N, D, H, tol)
  local l = random_layer(make, D, H, N * 100 + D * 10 + H)
  local lstm = tostring(l):find("LSTM") ~= nil
  local x, prev_h, dnext_h = tycho.randn(N, D), tycho.randn(N, H), tycho.randn(N, H)
  local prev_c, dnext_c = tycho.randn(N, H), tycho.randn(N, H)
  local function loss()
    local h, c = l:forward_step(x, prev_h, lstm and prev_c or nil)
    local s = (h * dnext_h):sum()
    if lstm then s = s + (c * dnext_c):sum() end
    return s
  end
  loss()
  local dx = lstm and l:backward_step(dnext_h, dnext_c) or l:backward_step(dnext_h)
  local label = ("%s step N%d D%d H%d"):format(tostring(l), N, D, H)
  below(grad_error(grad_check(loss, x), dx), tol, label .. " dx")
  below(grad_error(grad_check(loss, prev_h), l.dprev_H), tol, label .. " dprev_H")
  if lstm then below(grad_error(grad_check(loss, prev_c), l.dprev_C), tol, label .. " dprev_C") end
  for _, p in ipairs(l:parameters()) do
    below(grad_error(grad_check(loss, l[p]), l["d" .. p]), tol, label .. " d" .. p)
  end
end

for _, kind in ipairs { "LSTMLayer", "GRULayer" } do
  local make = nn[kind]
  for _, s in ipairs { { 1, 1, 1, 1 }, { 2, 3, 4, 5 }, { 3, 5, 2, 7 }, { 1, 4, 3, 1 } } do
    TestGradients[("test_%s_sequence_N%d_T%d_D%d_H%d"):format(kind, table.unpack(s))] = function()
      check_sequence(make, s[1], s[2], s[3], s[4], 1e-8)
    end
  end
  for _, s in ipairs { { 1, 1, 1 }, { 3, 4, 5 }, { 2, 7, 3 } } do
    TestGradients[("test_%s_step_N%d_D%d_H%d"):format(kind, table.unpack(s))] = function()
      check_step(make, s[1], s[2], s[3], 1e-8)
    end
  end
end
-- the RNN's h0 is optional now, as its gradient checks show from zero states
function TestGradients:test_rnn_from_zero_state()
  local l = random_layer(nn.RNNLayer, 3, 4, 9)
  local x, dout = tycho.randn(2, 3, 3), tycho.randn(2, 3, 4)
  local function f() return l:forward(x) end
  f()
  local dx, dh0, dW_ih = l:backward(dout)
  below(grad_error(grad_check(f, x, dout), dx), 1e-8, "dx")
  below(grad_error(grad_check(f, l.W_ih, dout), dW_ih), 1e-8, "dW_ih")
  below(rel_error(dh0, grad_check(function(h0) return l:forward(x, h0) end, tycho.zeros(2, 4), dout)), 1e-8, "dh0")
end

-- ---- semantics ---------------------------------------------------------------------------

TestSemantics = {}

function TestSemantics:test_parameters_and_sizes()
  lu.assertEquals(nn.LSTMLayer(3, 2):parameters(), { "W_ih", "W_hh", "b" })
  lu.assertEquals(nn.GRULayer(3, 2):parameters(), { "W_ih", "W_hh", "b_ih", "b_hh" })
  lu.assertEquals(nn.RNNLayer(3, 2):parameters(), { "W_ih", "W_hh", "b" })
  local l = nn.LSTMLayer(3, 2)
  lu.assertEquals(l.W_ih:shape(), { 3, 8 })
  lu.assertEquals(l.W_hh:shape(), { 2, 8 })
  lu.assertEquals(l.b:shape(), { 8 })
  lu.assertEquals({ l.in_size, l.out_size }, { 3, 2 })
  lu.assertEquals(tostring(l), "LSTMLayer(3 -> 2)")
  local g = nn.GRULayer(4, 5)
  lu.assertEquals(g.W_hh:shape(), { 5, 15 })
  lu.assertEquals(tostring(g), "GRULayer(4 -> 5)")
  -- sizes follow the weights
  g.W_ih, g.W_hh, g.b_ih, g.b_hh = tycho.zeros(2, 6), tycho.zeros(2, 6), tycho.zeros(6), tycho.zeros(6)
  lu.assertEquals({ g.in_size, g.out_size }, { 2, 2 })
  lu.assertEquals(g:forward(tycho.ones(1, 3, 2)):shape(), { 1, 3, 2 })
end

function TestSemantics:test_h_n_and_c_n_are_the_last_states()
  local l = random_layer(nn.LSTMLayer, 3, 4, 5)
  local x = tycho.randn(2, 6, 3)
  local h = l:forward(x)
  lu.assertTrue(l.h_n:equal(h:select(2, 6)))
  -- carried over: the second half from the first half's states is the whole
  local l2 = random_layer(nn.LSTMLayer, 3, 4, 5)
  l2:forward(x:narrow(2, 1, 3))
  local second = l2:forward(x:narrow(2, 4, 3), l2.h_n, l2.c_n)
  lu.assertTrue(rel_error(second, h:narrow(2, 4, 3)) < 1e-14)
  local _, c = l:forward_step(x:select(2, 1))
  local first = l:forward(x:narrow(2, 1, 1))
  lu.assertTrue(l.c_n:equal(c))
  lu.assertTrue(l.h_n:equal(first:select(2, 1)))
  local g = random_layer(nn.GRULayer, 3, 4, 6)
  local gh = g:forward(x)
  lu.assertTrue(g.h_n:equal(gh:select(2, 6)))
  lu.assertFalse(rawequal(g.h_n, gh)) -- its own tensor
  -- an empty sequence leaves the states as they came
  local h0 = tycho.randn(2, 4)
  g:forward(tycho.zeros(2, 0, 3), h0)
  lu.assertTrue(g.h_n:equal(h0))
  l:forward(tycho.zeros(2, 0, 3))
  lu.assertTrue(l.c_n:equal(tycho.zeros(2, 4)))
end

function TestSemantics:test_missing_states_are_zeros()
  for _, make in ipairs { nn.RNNLayer, nn.LSTMLayer, nn.GRULayer } do
    local l = random_layer(make, 3, 4, 7)
    local x = tycho.randn(2, 5, 3)
    local z = tycho.zeros(2, 4)
    local h = l:forward(x)
    lu.assertTrue(h:equal(l:forward(x, z, tostring(l):find("LSTM") and z or nil)), tostring(l))
    lu.assertTrue(l:forward_step(x:select(2, 1)):equal(h:select(2, 1)), tostring(l))
  end
end

-- the step and the sequence are one computation: T steps give the sequence's h and its
-- gradients summed over the steps (for every path a sequence can take)
function TestSemantics:test_steps_equal_the_sequence()
  for _, make in ipairs { nn.LSTMLayer, nn.GRULayer, nn.RNNLayer } do
    local l = random_layer(make, 3, 4, 8)
    local lstm = tostring(l):find("LSTM") ~= nil
    local x, h0, dout = tycho.randn(2, 5, 3), tycho.randn(2, 4), tycho.randn(2, 5, 4)
    local c0 = lstm and tycho.randn(2, 4) or nil
    local h = l:forward(x, h0, c0)
    local seq = { l:backward(dout) }
    local dc0 = lstm and l.dc0
    -- forward step by step
    local hs, cs, ph, pc = {}, {}, h0, c0
    for t = 1, 5 do
      ph, pc = l:forward_step(x:select(2, t), ph, pc)
      hs[t], cs[t] = ph, pc
      lu.assertTrue(rel_error(ph, h:select(2, t)) < 1e-14, tostring(l) .. " step " .. t)
    end
    -- backward step by step, each step's forward_step again first
    local dh, dc = tycho.zeros(2, 4), lstm and tycho.zeros(2, 4) or nil
    local sums = {}
    for t = 5, 1, -1 do
      local prev_h = t == 1 and h0 or hs[t - 1]
      l:forward_step(x:select(2, t), prev_h, lstm and (t == 1 and c0 or cs[t - 1]) or nil)
      local dnext = dout:select(2, t) + dh
      if tostring(l):find("RNN") then l:backward_step(prev_h, dnext)
      elseif lstm then l:backward_step(dnext, dc) else l:backward_step(dnext) end
      lu.assertTrue(rel_error(l.dx, seq[1]:select(2, t)) < 1e-12, tostring(l) .. " dx " .. t)
      dh, dc = l.dprev_H, lstm and l.dprev_C
      for _, p in ipairs(l:parameters()) do sums[p] = (sums[p] or 0) + l["d" .. p] end
    end
    lu.assertTrue(rel_error(dh, seq[2]) < 1e-12, tostring(l) .. " dh0")
    if lstm then lu.assertTrue(rel_error(dc, dc0) < 1e-12, "dc0") end
    for i, p in ipairs(l:parameters()) do
      lu.assertTrue(rel_error(sums[p], seq[2 + i]) < 1e-12, tostring(l) .. " d" .. p)
    end
  end
end

-- strided, transposed and broadcast-shaped views give what their contiguous copies give
function TestSemantics:test_non_contiguous_inputs()
  for _, make in ipairs { nn.LSTMLayer, nn.GRULayer } do
    local l = random_layer(make, 3, 4, 10)
    local lstm = tostring(l):find("LSTM") ~= nil
    local xb, h0b, doutb = tycho.randn(5, 2, 6), tycho.randn(4, 2), tycho.randn(4, 5, 2, 2)
    local x = xb:transpose(1, 2):narrow(3, 1, 3)  -- 2 x 5 x 3, strided
    local h0 = h0b.T                              -- 2 x 4, transposed
    local dout = doutb:select(4, 2):transpose(1, 3) -- 2 x 5 x 4, strided
    local c0 = lstm and h0 * 0.5 or nil
    local h = l:forward(x, h0, c0)
    local r = { l:backward(dout) }
    local h2 = l:forward(x:contiguous(), h0:contiguous(), c0 and c0:contiguous())
    local r2 = { l:backward(dout:contiguous()) }
    lu.assertTrue(h:equal(h2), tostring(l))
    for i = 1, #r2 do lu.assertTrue(r[i]:equal(r2[i]), tostring(l) .. " result " .. i) end
    -- and the weights as views
    local W = l.W_hh
    l.W_hh = tycho.zeros(W:size(2), W:size(1)).T:copy_(W)
    -- (a BLAS product on a strided operand rounds as it does, not as the one-pass step)
    lu.assertTrue(rel_error(l:forward(x, h0, c0), h2) < 1e-13, tostring(l) .. " transposed W_hh")
  end
end

function TestSemantics:test_path_field()
  local l = nn.LSTMLayer(2, 2)
  lu.assertEquals(l.path, "auto")
  for _, p in ipairs { "blas", "steps", 1, 3, "auto" } do
    l.path = p
    lu.assertEquals(l.path, p)
  end
  assert_error(function() l.path = "fast" end, 'LSTMLayer: path must be "auto", "blas", "steps" or a number of lanes (got "fast")')
  assert_error(function() l.path = 0 end, "from 1 to 16 (got 0)")
  assert_error(function() l.path = 17 end, "from 1 to 16 (got 17)")
  assert_error(function() l.path = 1.5 end, "(got 1.5)")
end

-- ---- errors ------------------------------------------------------------------------------

TestErrors = {}

function TestErrors:test_shapes_are_named()
  local l = nn.LSTMLayer(3, 4)
  assert_error(function() l:forward_step(tycho.zeros(2, 5)) end,
    "forward_step: x is 2x5 but W_ih is 3x16 (x must be N x D with D = W_ih rows)")
  assert_error(function() l:forward_step(tycho.zeros(2, 3), tycho.zeros(2, 5)) end,
    "forward_step: prev_h is 2x5 but must be 2x4 (N = x rows, H = W_hh rows)")
  assert_error(function() l:forward_step(tycho.zeros(2, 3), nil, tycho.zeros(3, 4)) end,
    "forward_step: prev_c is 3x4 but must be 2x4 (N = x rows, H = W_hh rows)")
  assert_error(function() l:forward(tycho.zeros(2, 3)) end,
    "forward: x is 2x3 but W_ih is 3x16 (x must be N x T x D with D = W_ih rows)")
  assert_error(function() l:forward(tycho.zeros(2, 5, 3), nil, tycho.zeros(2, 5)) end,
    "forward: c0 is 2x5 but must be 2x4 (N = x's first size, H = W_hh rows)")
  l.W_hh = tycho.zeros(4, 4)
  assert_error(function() l:forward(tycho.zeros(2, 5, 3)) end,
    "forward: W_hh is 4x4 but W_ih is 3x16 (W_hh must be H x 4H with 4H = W_ih columns)")
  l.W_hh = tycho.zeros(4, 16)
  l.b = tycho.zeros(4)
  assert_error(function() l:forward(tycho.zeros(2, 5, 3)) end,
    "forward: b is 4 but W_ih is 3x16 (b must be a vector of 4H = W_ih columns)")
  l.W_ih = tycho.zeros(3, 10)
  assert_error(function() l:forward(tycho.zeros(2, 5, 3)) end, "forward: W_ih is 3x10 but must be a D x 4H matrix")
  local g = nn.GRULayer(3, 4)
  g.b_hh = tycho.zeros(3)
  assert_error(function() g:forward_step(tycho.zeros(1, 3)) end,
    "forward_step: b_hh is 3 but W_ih is 3x12 (b_hh must be a vector of 3H = W_ih columns)")
end

function TestErrors:test_backward_checks_against_the_forward()
  local l = nn.LSTMLayer(3, 4)
  assert_error(function() l:backward(tycho.zeros(2, 5, 4)) end, "backward: call forward first")
  assert_error(function() l:backward_step(tycho.zeros(2, 4)) end, "backward_step: call forward_step first")
  l:forward(tycho.zeros(2, 5, 3))
  l:forward_step(tycho.zeros(2, 3))
  assert_error(function() l:backward(tycho.zeros(2, 5, 3)) end,
    "backward: dout is 2x5x3 but forward's result h is 2x5x4 (they must match)")
  assert_error(function() l:backward_step(tycho.zeros(2, 5)) end,
    "backward_step: dnext_h is 2x5 but must be 2x4 (the shape of forward_step's result)")
  assert_error(function() l:backward_step(tycho.zeros(2, 4), tycho.zeros(1, 4)) end,
    "backward_step: dnext_c is 1x4 but must be 2x4 (the shape of forward_step's next_c)")
  l.W_hh = tycho.zeros(5, 20)
  assert_error(function() l:backward(tycho.zeros(2, 5, 4)) end,
    "backward: W_hh is 5x20 but must be 4x16 (the sizes of the last forward)")
  local g = nn.GRULayer(3, 4)
  g:forward(tycho.zeros(2, 5, 3))
  g.b_ih = tycho.zeros(2)
  assert_error(function() g:backward(tycho.zeros(2, 5, 4)) end,
    "backward: b_ih is 2 but must be 12 (the sizes of the last forward)")
  -- a closed cache
  local x = tycho.zeros(2, 5, 3)
  g = nn.GRULayer(3, 4)
  g:forward(x)
  do local _ <close> = x end
  assert_error(function() g:backward(tycho.zeros(2, 5, 4)) end, "backward: forward's x was closed; call forward again")
end

function TestErrors:test_arguments()
  local l, g = nn.LSTMLayer(3, 4), nn.GRULayer(3, 4)
  assert_error(function() l:forward_step(nil) end, "forward_step: x must be a tensor (got nil)")
  assert_error(function() l:forward_step(tycho.zeros(1, 3), 5) end, "forward_step: prev_h must be a tensor (got number)")
  assert_error(function() l:forward_step(tycho.zeros(1, 3), nil, {}) end, "forward_step: prev_c must be a tensor (got table)")
  assert_error(function() g:forward_step(tycho.zeros(1, 3), nil, tycho.zeros(1, 4)) end,
    "forward_step: takes 2 arguments, got 3")
  assert_error(function() l:forward(tycho.zeros(1, 2, 3), nil, nil, 1) end, "forward: takes 3 arguments, got 4")
  assert_error(function() l:backward(tycho.zeros(1, 2, 4), 1) end, "backward: takes 1 argument, got 2")
  assert_error(function() g:backward_step(tycho.zeros(1, 4), tycho.zeros(1, 4)) end,
    "backward_step: takes 1 argument, got 2")
  -- trailing nils are arguments left out
  lu.assertEquals(g:forward(tycho.zeros(1, 2, 3), nil, nil):shape(), { 1, 2, 4 })
  assert_error(function() l.forward_step(g, tycho.zeros(1, 3)) end, "tycho.LSTMLayer expected")
  assert_error(function() nn.LSTMLayer(3) end, "number expected")
  assert_error(function() nn.GRULayer(3, -1) end, "out_size must not be negative")
  assert_error(function() nn.GRULayer(3, 4, 5) end, "GRULayer: takes 2 arguments, got 3")
  assert_error(function() l.W_ih = "x" end, "LSTMLayer: W_ih must be a tensor (got string)")
  assert_error(function() l.h_n = 1 end, "LSTMLayer: h_n must be a tensor or nil (got number)")
end

function TestErrors:test_unknown_fields_list_the_layers_fields()
  local l, g = nn.LSTMLayer(3, 4), nn.GRULayer(3, 4)
  assert_error(function() l.b_ih = tycho.zeros(16) end, "LSTMLayer: no field b_ih to assign (its fields: W_ih, W_hh, b, dprev_H, dprev_C, dW_ih, dW_hh, db, dx, dh0, dc0, h_n, c_n, in_size, out_size, path, training)")
  assert_error(function() return g.b end, "GRULayer: no field b to read (its fields: W_ih, W_hh, b_ih, b_hh, dprev_H, dW_ih, dW_hh, db_ih, db_hh, dx, dh0, h_n, in_size, out_size, path, training)")
  assert_error(function() return g.c_n end, "GRULayer: no field c_n to read")
  assert_error(function() l.parameters = 1 end, "LSTMLayer: parameters is a method and cannot be assigned")
end
