-- RNNLayer and Tanh: the notebook's four cells, numerical-gradient checks of every backward
-- output on several sizes, reference semantics of the fields, strided inputs and errors.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"
local checks = require "tycho.checks"

local rel_error, grad_check = checks.rel_error, checks.grad_check
local linspace = tycho.linspace
local FIX = "spec/fixtures/"

local support = require "spec.support"
local assert_error = support.assert_error

-- The notebook's layer for cell 4 (backward step) and 5 (backward pass).
local function notebook_layer(D, H)
  local rnn = nn.RNNLayer(D, H)
  rnn.W_ih = linspace(-0.1, 0.9, D*H):reshape(D, H)
  rnn.W_hh = linspace(-0.3, 0.7, H*H):reshape(H, H)
  rnn.b = linspace(-0.2, 0.4, H)
  return rnn
end

TestNotebook = {}

function TestNotebook:test_forward_step_cell()
  local N, D, H = 3, 10, 4
  local rnn = nn.RNNLayer(3, 3)
  local x = linspace(-0.4, 0.7, N*D):reshape(N, D)
  local prev_h = linspace(-0.2, 0.5, N*H):reshape(N, H)
  rnn.W_ih = linspace(-0.1, 0.9, D*H):reshape(D, H)
  rnn.W_hh = linspace(-0.3, 0.7, H*H):reshape(H, H)
  rnn.b = linspace(-0.2, 0.4, H)
  local next_h = rnn:forward_step(x, prev_h)
  local expected = tycho.tensor{
    {-0.58172089, -0.50182032, -0.41232771, -0.31410098},
    { 0.66854692,  0.79562378,  0.87755553,  0.92795967},
    { 0.97934501,  0.99144213,  0.99646691,  0.99854353}}
  lu.assertEquals(next_h:shape(), { 3, 4 })
  local err = rel_error(expected, next_h)
  -- the notebook prints 6.29e-09: the expected values carry 8 decimals
  lu.assertTrue(err < 1e-8, "next_h error " .. err)
end

function TestNotebook:test_forward_cell()
  local N, T, D, H = 2, 3, 4, 5
  local rnn = nn.RNNLayer(4, 5)
  local x = linspace(-0.1, 0.3, N*T*D):reshape(N, T, D)
  local prev_h = linspace(-0.3, 0.1, N*H):reshape(N, H)
  rnn.W_ih = linspace(-0.2, 0.4, D*H):reshape(D, H)
  rnn.W_hh = linspace(-0.4, 0.1, H*H):reshape(H, H)
  rnn.b = linspace(-0.7, 0.1, H)
  local h = rnn:forward(x, prev_h)
  local expected = tycho.tensor{
    {{-0.42070749, -0.27279261, -0.11074945,  0.05740409,  0.22236251},
     {-0.39525808, -0.22554661, -0.0409454,   0.14649412,  0.32397316},
     {-0.42305111, -0.24223728, -0.04287027,  0.15997045,  0.35014525}},
    {{-0.55857474, -0.39065825, -0.19198182,  0.02378408,  0.23735671},
     {-0.27150199, -0.07088804,  0.13562939,  0.33099728,  0.50158768},
     {-0.51014825, -0.30524429, -0.06755202,  0.17806392,  0.40333043}}}
  lu.assertEquals(h:shape(), { 2, 3, 5 })
  local err = rel_error(expected[1], h[1])
  lu.assertTrue(err < 1e-7, "h error " .. err) -- notebook: 3.53e-08
  lu.assertTrue(rel_error(expected, h) < 1e-7)
end

function TestNotebook:test_backward_step_cell()
  tycho.random.seed(1)
  local N, D, H = 4, 5, 6
  local rnn = notebook_layer(D, H)
  local x = linspace(-0.4, 0.7, N*D):reshape(N, D)
  local prev_H = linspace(-0.2, 0.5, N*H):reshape(N, H)
  rnn:forward_step(x, prev_H)
  local dnext_h = linspace(-0.2, 0.4, N*H):reshape(N, H)
  local dx = rnn:backward_step(prev_H, dnext_h)
  local f = function() return rnn:forward_step(x, prev_H) end
  local errs = {
    dx = rel_error(grad_check(f, x, dnext_h), dx),
    dprev_h = rel_error(grad_check(f, prev_H, dnext_h), rnn.dprev_H),
    dWx = rel_error(grad_check(f, rnn.W_ih, dnext_h), rnn.dW_ih),
    dWh = rel_error(grad_check(f, rnn.W_hh, dnext_h), rnn.dW_hh),
    db = rel_error(grad_check(f, rnn.b, dnext_h), rnn.db),
  }
  for name, err in pairs(errs) do
    lu.assertTrue(err < 1e-8, name .. " error " .. err)
  end
end

function TestNotebook:test_backward_cell()
  tycho.random.seed(1)
  local N, D, T, H = 2, 10, 5, 5
  local rnn = notebook_layer(D, H)
  local x = linspace(-0.4, 0.7, N*D*T):reshape(N, T, D)
  local h = linspace(-0.2, 0.5, N*H):reshape(N, H)
  rnn:forward(x, h)
  local dout = linspace(-0.2, 0.4, N*H*T):reshape(N, T, H)
  local dx, dh, dWx, dWh, db = rnn:backward(dout)
  local expected = {
    { "dx", dx }, { "dh0", dh }, { "dW_ih", dWx }, { "dW_hh", dWh }, { "db", db },
  }
  for _, e in ipairs(expected) do
    local want = tycho.load(FIX .. "notebook/" .. e[1] .. ".npy")
    lu.assertEquals(e[2]:shape(), want:shape())
    local err = rel_error(want, e[2])
    lu.assertTrue(err < 1e-12, e[1] .. " error " .. err)
  end
  -- backward also leaves the gradients on the layer
  lu.assertTrue(rawequal(rnn.dW_ih, dWx))
  lu.assertTrue(rawequal(rnn.dW_hh, dWh))
  lu.assertTrue(rawequal(rnn.db, db))
end

-- sum(forward(x, h0) * dout) as a function of each input, against backward.
local function check_sequence_gradients(N, T, D, H, seed)
  tycho.random.seed(seed)
  local rnn = nn.RNNLayer(D, H)
  rnn.W_ih = tycho.randn(D, H) * 0.5
  rnn.W_hh = tycho.randn(H, H) * 0.5
  rnn.b = tycho.randn(H) * 0.5
  local x = tycho.randn(N, T, D)
  local h0 = tycho.randn(N, H)
  local dout = tycho.randn(N, T, H)
  rnn:forward(x, h0)
  local dx, dh0, dW_ih, dW_hh, db = rnn:backward(dout)
  local f = function() return rnn:forward(x, h0) end
  local label = ("N=%d T=%d D=%d H=%d"):format(N, T, D, H)
  local pairs_ = {
    { "dx", dx, x }, { "dh0", dh0, h0 }, { "dW_ih", dW_ih, rnn.W_ih },
    { "dW_hh", dW_hh, rnn.W_hh }, { "db", db, rnn.b },
  }
  for _, p in ipairs(pairs_) do
    local num = grad_check(f, p[3], dout)
    -- error relative to the gradient's largest entry: central differences carry an absolute
    -- noise of about 1e-10, which an elementwise rel_error magnifies on entries near zero
    local err = (num - p[2]):abs():max() / math.max(p[2]:abs():max(), 1e-8)
    lu.assertTrue(err < 1e-8, ("%s %s error %g"):format(label, p[1], err))
  end
end

TestGradients = {}
function TestGradients:test_all_ones() check_sequence_gradients(1, 1, 1, 1, 3) end
function TestGradients:test_small() check_sequence_gradients(2, 3, 4, 5, 4) end
function TestGradients:test_tall() check_sequence_gradients(3, 7, 2, 3, 5) end
function TestGradients:test_wide() check_sequence_gradients(1, 2, 9, 6, 6) end
function TestGradients:test_blas_sized() check_sequence_gradients(3, 4, 20, 24, 7) end

function TestGradients:test_step_gradients_random()
  tycho.random.seed(11)
  for _, s in ipairs({ { 1, 1, 1 }, { 2, 3, 4 }, { 5, 7, 3 } }) do
    local N, D, H = s[1], s[2], s[3]
    local rnn = nn.RNNLayer(D, H)
    local x, prev = tycho.randn(N, D), tycho.randn(N, H)
    local dnext = tycho.randn(N, H)
    rnn:forward_step(x, prev)
    local dx = rnn:backward_step(prev, dnext)
    local f = function() return rnn:forward_step(x, prev) end
    lu.assertTrue(rel_error(grad_check(f, x, dnext), dx) < 1e-7)
    lu.assertTrue(rel_error(grad_check(f, prev, dnext), rnn.dprev_H) < 1e-7)
    lu.assertTrue(rel_error(grad_check(f, rnn.W_ih, dnext), rnn.dW_ih) < 1e-7)
    lu.assertTrue(rel_error(grad_check(f, rnn.W_hh, dnext), rnn.dW_hh) < 1e-7)
    lu.assertTrue(rel_error(grad_check(f, rnn.b, dnext), rnn.db) < 1e-7)
  end
end

-- grad_check4's error falls as h^4: on x tanh(3x), whose derivative is known, it is far
-- below grad_check's (1.96e-10 here) and below 1e-10.
function TestGradients:test_grad_check4_is_fourth_order()
  local x = tycho.linspace(-1, 1, 7)
  local f = function(v) return v * (v * 3):tanh() end
  local t = (x * 3):tanh()
  local exact = t + x * 3 * (1 - t * t)
  local e2 = (grad_check(f, x, tycho.ones(7)) - exact):abs():max()
  local e4 = (checks.grad_check4(f, x, tycho.ones(7)) - exact):abs():max()
  lu.assertTrue(e4 < 1e-10 and e4 < e2 / 10, ("grad_check4 %g, grad_check %g"):format(e4, e2))
  -- without df, of a number; and x is restored
  local before = x:clone()
  local g = checks.grad_check4(function(v) return (v * v):sum() end, x)
  lu.assertTrue((g - x * 2):abs():max() < 1e-12)
  lu.assertTrue(x:equal(before))
  local ok, err = pcall(checks.grad_check4, 1, x)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "grad_check4: f must be a function (got number)")
end

function TestGradients:test_tanh_layer()
  tycho.random.seed(2)
  local layer = nn.Tanh()
  local x = tycho.randn(3, 4)
  local dout = tycho.randn(3, 4)
  local y = layer:forward(x)
  lu.assertTrue(rel_error(y, x:tanh()) < 1e-15)
  local dx = layer:backward(dout)
  local num = grad_check(function(v) return layer:forward(v) end, x, dout)
  lu.assertTrue(rel_error(num, dx) < 1e-8)
end

function TestGradients:test_grad_check_scalar_function()
  local x = tycho.tensor{ 1.0, -2.0, 0.5 }
  -- d/dx sum(x^3) = 3 x^2
  local g = grad_check(function(v) return (v ^ 3):sum() end, x)
  lu.assertTrue(rel_error(g, tycho.tensor{ 3.0, 12.0, 0.75 }) < 1e-8)
end

TestSemantics = {}

function TestSemantics:test_weights_are_the_assigned_objects()
  local rnn = nn.RNNLayer(3, 3)
  local W = linspace(-0.1, 0.9, 40):reshape(10, 4)
  rnn.W_ih = W
  lu.assertTrue(rawequal(rnn.W_ih, W))
  lu.assertTrue(rawequal(rnn.W_ih, rnn.W_ih))
  W:set(1, 1, 42)
  lu.assertEquals(rnn.W_ih:get(1, 1), 42)
  rnn.W_hh = tycho.zeros(4, 4)
  rnn.b = tycho.zeros(4)
  lu.assertEquals(rnn.in_size, 10)
  lu.assertEquals(rnn.out_size, 4)
  local h = rnn:forward_step(tycho.zeros(2, 10), tycho.zeros(2, 4))
  lu.assertEquals(h:shape(), { 2, 4 })
end

function TestSemantics:test_constructor_draws_numpy_rand()
  tycho.random.seed(1)
  local rnn = nn.RNNLayer(4, 5)
  local want = tycho.load(FIX .. "random/seed1_rand_4x5.npy")
  lu.assertTrue(rnn.W_ih:equal(want))
  lu.assertEquals(rnn.W_hh:shape(), { 5, 5 })
  lu.assertEquals(rnn.b:shape(), { 5 })
  -- W_hh and b are the next draws of the same stream
  tycho.random.seed(1)
  tycho.rand(4, 5)
  lu.assertTrue(rnn.W_hh:equal(tycho.rand(5, 5)))
  lu.assertTrue(rnn.b:equal(tycho.rand(5)))
end

function TestSemantics:test_grad_check_restores_x()
  local rnn = notebook_layer(5, 6)
  local x = linspace(-0.4, 0.7, 20):reshape(4, 5)
  local prev = linspace(-0.2, 0.5, 24):reshape(4, 6)
  local before_x, before_w = x:clone(), rnn.W_ih:clone()
  local f = function() return rnn:forward_step(x, prev) end
  grad_check(f, x, tycho.ones(4, 6))
  grad_check(f, rnn.W_ih, tycho.ones(4, 6))
  lu.assertTrue(x:equal(before_x))
  lu.assertTrue(rnn.W_ih:equal(before_w))
end

function TestSemantics:test_results_are_not_overwritten()
  local rnn = notebook_layer(3, 2)
  local x1 = linspace(-1, 1, 2 * 4 * 3):reshape(2, 4, 3)
  local h1 = rnn:forward(x1, tycho.zeros(2, 2))
  local keep = h1:clone()
  rnn:forward(x1 * 2, tycho.ones(2, 2))
  lu.assertTrue(h1:equal(keep))
  local dx1 = rnn:backward(tycho.ones(2, 4, 2))
  local keep_dx = dx1:clone()
  rnn:backward(tycho.ones(2, 4, 2) * 3)
  lu.assertTrue(dx1:equal(keep_dx))
end

-- A misspelled field is an error that lists the layer's fields, to assign and to read
-- (before: rnn.Wx = t was stored, and a misspelled weight never took part).
function TestSemantics:test_unknown_fields_are_errors_listing_the_fields()
  local rnn = nn.RNNLayer(2, 2)
  local fields = "(its fields: W_ih, W_hh, b, dprev_H, dW_ih, dW_hh, db, dx, dh0, h_n, in_size, out_size, path, training)"
  assert_error(function() rnn.Wx = tycho.zeros(2, 2) end, "RNNLayer: no field Wx to assign " .. fields)
  assert_error(function() return rnn.Wx end, "RNNLayer: no field Wx to read " .. fields)
  assert_error(function() rnn[1] = 5 end, "RNNLayer: no field 1 to assign")
  assert_error(function() rnn.in_size = 3 end, "RNNLayer: in_size cannot be assigned")
  assert_error(function() rnn.forward = 3 end, "RNNLayer: forward is a method and cannot be assigned")
  lu.assertEquals(tostring(rnn), "RNNLayer(2 -> 2)")
  lu.assertNil(rnn.dW_ih) -- a known field, not set yet
end

TestStrided = {}

function TestStrided:test_forward_backward_on_views_match_contiguous()
  tycho.random.seed(21)
  local N, T, D, H = 3, 4, 5, 6
  local rnn = nn.RNNLayer(D, H)
  -- x as a transposed view of a T x N x D tensor, h0 as a transposed H x N tensor
  local xt = tycho.randn(T, N, D)
  local x = xt:transpose(1, 2)
  lu.assertFalse(x:is_contiguous())
  local h0t = tycho.randn(H, N)
  local h0 = h0t.T
  local doutt = tycho.randn(T, N, H)
  local dout = doutt:transpose(1, 2)

  local h_view = rnn:forward(x, h0)
  local g_view = { rnn:backward(dout) }
  local h_cont = rnn:forward(x:contiguous(), h0:contiguous())
  local g_cont = { rnn:backward(dout:contiguous()) }
  lu.assertTrue(tycho.allclose(h_view, h_cont, 1e-13, 1e-15))
  for i = 1, 5 do
    lu.assertTrue(tycho.allclose(g_view[i], g_cont[i], 1e-12, 1e-14), "gradient " .. i)
    lu.assertTrue(g_view[i]:is_contiguous())
  end
end

function TestStrided:test_step_on_views_match_contiguous()
  tycho.random.seed(22)
  local rnn = nn.RNNLayer(4, 3)
  local big = tycho.randn(6, 9)
  local x = big:narrow(1, 2, 3):narrow(2, 3, 4)      -- 3x4, strided rows
  local prev = tycho.randn(3, 5):narrow(2, 2, 3)     -- 3x3
  rnn.W_ih = tycho.randn(3, 4).T                     -- 4x3 transposed view
  local y1 = rnn:forward_step(x, prev)
  local y2 = rnn:forward_step(x:contiguous(), prev:contiguous())
  lu.assertTrue(tycho.allclose(y1, y2, 1e-14, 1e-15))
  local d = tycho.randn(3, 3)
  local dx2 = rnn:backward_step(prev:contiguous(), d)
  rnn:forward_step(x, prev)
  local dx1 = rnn:backward_step(prev, d)
  lu.assertTrue(tycho.allclose(dx1, dx2, 1e-14, 1e-15))
end

TestErrors = {}

local function layer_10_4()
  local rnn = nn.RNNLayer(10, 4)
  return rnn
end

function TestErrors:test_wrong_x_width()
  local rnn = layer_10_4()
  assert_error(function() rnn:forward_step(tycho.zeros(3, 7), tycho.zeros(3, 4)) end,
    "forward_step: x is 3x7 but W_ih is 10x4")
  assert_error(function() rnn:forward(tycho.zeros(2, 5, 7), tycho.zeros(2, 4)) end,
    "forward: x is 2x5x7 but W_ih is 10x4")
end

function TestErrors:test_wrong_prev_h_shape()
  local rnn = layer_10_4()
  assert_error(function() rnn:forward_step(tycho.zeros(3, 10), tycho.zeros(2, 4)) end,
    "forward_step", "prev_h is 2x4", "3x4")
  assert_error(function() rnn:forward(tycho.zeros(3, 5, 10), tycho.zeros(3, 5)) end,
    "forward", "h0 is 3x5", "3x4")
end

function TestErrors:test_wrong_dout_shape()
  local rnn = layer_10_4()
  rnn:forward(tycho.zeros(2, 5, 10), tycho.zeros(2, 4))
  assert_error(function() rnn:backward(tycho.zeros(2, 5, 3)) end,
    "backward: dout is 2x5x3", "2x5x4")
  rnn:forward_step(tycho.zeros(3, 10), tycho.zeros(3, 4))
  assert_error(function() rnn:backward_step(tycho.zeros(3, 4), tycho.zeros(4, 4)) end,
    "backward_step", "dnext_h is 4x4", "3x4")
  assert_error(function() rnn:backward_step(tycho.zeros(3, 3), tycho.zeros(3, 4)) end,
    "backward_step", "prev_h is 3x3", "3x4")
end

function TestErrors:test_backward_before_forward()
  local rnn = layer_10_4()
  assert_error(function() rnn:backward(tycho.zeros(2, 5, 4)) end, "backward: call forward first")
  assert_error(function() rnn:backward_step(tycho.zeros(3, 4), tycho.zeros(3, 4)) end,
    "backward_step: call forward_step first")
end

function TestErrors:test_non_tensor_arguments()
  local rnn = layer_10_4()
  assert_error(function() rnn:forward_step(nil, tycho.zeros(3, 4)) end, "forward_step: x must be a tensor (got nil)")
  assert_error(function() rnn:forward_step(tycho.zeros(3, 10), {}) end, "prev_h must be a tensor (got table)")
  assert_error(function() rnn:forward("x", tycho.zeros(3, 4)) end, "forward: x must be a tensor (got string)")
  assert_error(function() rnn:backward(5) end, "backward: dout must be a tensor (got number)")
  assert_error(function() rnn.W_ih = 3 end, "W_ih must be a tensor (got number)")
  assert_error(function() nn.RNNLayer("a", 2) end, "RNNLayer")
  assert_error(function() nn.RNNLayer(-1, 2) end, "in_size must not be negative")
  assert_error(function() nn.Tanh():backward(tycho.zeros(2)) end, "call forward first")
  assert_error(function() rnn.forward_step(5) end, "RNNLayer")
end

function TestErrors:test_inconsistent_weights()
  local rnn = layer_10_4()
  rnn.W_hh = tycho.zeros(3, 3)
  assert_error(function() rnn:forward_step(tycho.zeros(3, 10), tycho.zeros(3, 4)) end,
    "forward_step: W_hh is 3x3 but W_ih is 10x4")
  rnn.W_hh = tycho.zeros(4, 4)
  rnn.b = tycho.zeros(5)
  assert_error(function() rnn:forward(tycho.zeros(1, 2, 10), tycho.zeros(1, 4)) end,
    "forward: b is 5 but W_ih is 10x4")
  rnn.b = tycho.zeros(4)
  rnn:forward(tycho.zeros(1, 2, 10), tycho.zeros(1, 4))
  rnn.W_ih = tycho.zeros(9, 4)
  assert_error(function() rnn:backward(tycho.zeros(1, 2, 4)) end, "backward: W_ih is 9x4", "10x4")
end

-- Errors of the checks name the caller's line, as Lua's own library functions do (before:
-- lua/tycho/checks.lua:19: sub: ...).
function TestErrors:test_checks_errors_point_at_the_caller()
  local checks = require "tycho.checks"
  -- (not as tail calls, which leave no caller's line)
  local line = debug.getinfo(1, "l").currentline
  local ok, err = pcall(function() local _ = checks.rel_error(tycho.ones(2, 3), tycho.ones(4)) end)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "rnn_spec.lua:" .. (line + 1) .. ": rel_error: x is 2x3 and y is 4 (sub: shapes 2x3 and 4 do not broadcast")
  line = debug.getinfo(1, "l").currentline
  ok, err = pcall(function() local _ = checks.rel_error("a", 1) end)
  lu.assertStrContains(err, "rnn_spec.lua:" .. (line + 1) .. ": rel_error: x must be a tensor or a number (got string)")
  line = debug.getinfo(1, "l").currentline
  ok, err = pcall(function() local _ = checks.grad_check(function(x) return x * 2 end, tycho.ones(3), tycho.ones(2)) end)
  lu.assertStrContains(err, "rnn_spec.lua:" .. (line + 1) .. ": grad_check: df is 2 but f(x) gives 3")
  line = debug.getinfo(1, "l").currentline
  ok, err = pcall(function() local _ = checks.grad_check(function(x) return x end, tycho.ones(3)) end)
  lu.assertStrContains(err, "rnn_spec.lua:" .. (line + 1) .. ": grad_check: without df, f(x) must return a number")
end
