-- The feed-forward layers (AffineLayer/Linear, ReLU, Sigmoid, Tanh, Softmax, Dropout,
-- Embedding) and the losses (softmax_loss, mse_loss): every value against PyTorch 1.13 and
-- NumPy (spec/fixtures/layers/make_layers.py), numerical gradients of every backward, the
-- constructors' and reset's draws, modes, strided inputs and every error.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"
local checks = require "tycho.checks"

local rel_error, grad_check = checks.rel_error, checks.grad_check

local function F(name) return tycho.load("spec/fixtures/layers/" .. name .. ".npy") end

local support = require "spec.support"
local assert_error = support.assert_error

local function close(got, want, tol, what)
  lu.assertEquals(got:shape(), want:shape(), what .. ": shape")
  local err = rel_error(got, want)
  lu.assertTrue(err < tol, ("%s: rel_error %g"):format(what, err))
end

local function grad_error(num, analytic)
  return (num - analytic):abs():max() / math.max(analytic:abs():max(), 1e-8)
end

-- ---- AffineLayer -----------------------------------------------------------------------------

function test_affine_against_pytorch()
  local l = nn.AffineLayer(4, 5)
  l.W, l.b = F "affine_W", F "affine_b"
  local x = F "affine_x"
  close(l:forward(x), F "affine_y", 1e-13, "y")
  local dx, dW, db = l:backward(F "affine_dout")
  close(dx, F "affine_dx", 1e-13, "dx")
  close(dW, F "affine_dW", 1e-13, "dW")
  close(db, F "affine_db", 1e-13, "db")
  lu.assertTrue(rawequal(l.dW, dW) and rawequal(l.db, db), "backward stores dW and db")
end

function test_linear_is_affine_layer()
  lu.assertTrue(rawequal(nn.Linear, nn.AffineLayer))
  lu.assertEquals(tostring(nn.Linear(3, 2)), "AffineLayer(3 -> 2)")
end

function test_affine_any_leading_dimensions_and_strides()
  local l = nn.AffineLayer(4, 5)
  l.W, l.b = F "affine_W", F "affine_b"
  local x = F "affine_x"
  -- a 1-d input, a 2-d input, and a non-contiguous 3-d view: each row as the 3-d result's
  local y = F "affine_y"
  close(l:forward(x[2][3]), y[2][3], 1e-13, "1-d")
  close(l:forward(x[1]), y[1], 1e-13, "2-d")
  local xs = x:transpose(1, 2):contiguous():transpose(1, 2) -- same values, strided
  close(l:forward(xs), y, 1e-13, "strided")
  local dx = l:backward(F "affine_dout":transpose(1, 2):contiguous():transpose(1, 2))
  close(dx, F "affine_dx", 1e-13, "strided dout")
  close(l.dW, F "affine_dW", 1e-13, "strided dW")
end

function test_affine_numerical_gradients()
  tycho.random.seed(3)
  local l = nn.AffineLayer(3, 4)
  local x, dout = tycho.randn(2, 5, 3), tycho.randn(2, 5, 4)
  l:forward(x)
  local dx, dW, db = l:backward(dout)
  local f = function() return l:forward(x) end
  lu.assertTrue(grad_error(grad_check(f, x, dout), dx) < 1e-8, "dx")
  lu.assertTrue(grad_error(grad_check(f, l.W, dout), dW) < 1e-8, "dW")
  lu.assertTrue(grad_error(grad_check(f, l.b, dout), db) < 1e-8, "db")
end

function test_affine_init_and_reset_draw_as_numpy()
  tycho.random.seed(1)
  local l = nn.AffineLayer(3, 2)
  lu.assertEquals(l.W, F "init_affine_W")
  lu.assertEquals(l.b, F "init_affine_b")
  lu.assertEquals(l:parameters(), { "W", "b" })
  tycho.random.seed(2)
  l:reset()          -- 1/sqrt(D)
  close(l.W, F "reset_affine_W", 1e-15, "reset W")
  close(l.b, F "reset_affine_b", 1e-15, "reset b")
end

function test_affine_errors()
  local l = nn.AffineLayer(4, 5)
  assert_error(function() l:forward(tycho.zeros(2, 3)) end, "AffineLayer.forward", "x is 2x3", "W is 4x5")
  assert_error(function() l:forward(tycho.tensor(1)) end, "AffineLayer.forward", "last dimension")
  assert_error(function() l:backward(tycho.zeros(2, 5)) end, "AffineLayer.backward", "call forward first")
  l:forward(tycho.zeros(2, 4))
  assert_error(function() l:backward(tycho.zeros(3, 5)) end, "dout is 3x5", "forward's output is 2x5")
  assert_error(function() l:forward(tycho.zeros(2, 4), 1) end, "at most")
  l.b = tycho.zeros(4)
  assert_error(function() l:forward(tycho.zeros(2, 4)) end, "b is 4", "W is 4x5")
  assert_error(function() nn.AffineLayer(2) end, "out_size")
  assert_error(function() nn.AffineLayer(2, 1.5) end, "integer")
  assert_error(function() nn.AffineLayer(-1, 2) end, "in_size")
  assert_error(function() nn.AffineLayer(2, 2, 2) end, "at most")
  assert_error(function() l.V = tycho.zeros(1) end, "no field V", "W, b, dW, db")
end

-- ---- activations ------------------------------------------------------------------------------

function test_activations_against_pytorch()
  local x, dout = F "act_x", F "act_dout"
  for name, new in pairs { relu = nn.ReLU, sigmoid = nn.Sigmoid, tanh = nn.Tanh, softmax = nn.Softmax } do
    local l = new()
    close(l:forward(x), F(name .. "_y"), 1e-14, name .. " y")
    close(l:backward(dout), F(name .. "_dx"), 1e-13, name .. " dx")
  end
  local s = nn.Softmax()
  close(s:forward(F "softmax3_x"), F "softmax3_y", 1e-14, "softmax 3-d y")
  close(s:backward(F "softmax3_dout"), F "softmax3_dx", 1e-13, "softmax 3-d dx")
  -- a strided dout gives the same gradient
  close(s:backward(F "softmax3_dout":transpose(1, 3):contiguous():transpose(1, 3)), F "softmax3_dx",
    1e-13, "softmax strided dout")
end

function test_activations_numerical_gradients()
  tycho.random.seed(5)
  local x, dout = tycho.randn(3, 4, 5), tycho.randn(3, 4, 5)
  for _, new in ipairs { nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax } do
    local l = new()
    l:forward(x)
    local dx = l:backward(dout)
    local num = grad_check(function() return l:forward(x) end, x, dout)
    lu.assertTrue(grad_error(num, dx) < 1e-8, tostring(l))
  end
end

function test_activations_errors()
  for _, new in ipairs { nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Softmax } do
    local l = new()
    local name = tostring(l):match("^(%w+)")
    assert_error(function() l:backward(tycho.zeros(2)) end, name .. ".backward", "call forward first")
    l:forward(tycho.zeros(2, 3))
    assert_error(function() l:backward(tycho.zeros(3, 2)) end, "dout is 3x2", "forward's output is 2x3")
    assert_error(function() l:forward({}) end, "x must be a tensor")
    assert_error(function() new(1) end, "at most")
  end
  assert_error(function() nn.Softmax():forward(tycho.tensor(1)) end, "at least one dimension")
end

-- ---- Dropout ----------------------------------------------------------------------------------

function test_dropout_masks_as_numpy()
  tycho.random.seed(3)
  local d = nn.Dropout(0.3)
  lu.assertEquals(d.p, 0.3)
  lu.assertTrue(d.training)
  close(d:forward(F "dropout_x"), F "dropout_y", 1e-15, "y")
  close(d:backward(F "dropout_dout"), F "dropout_dx", 1e-15, "dx")
  lu.assertEquals(tycho.random.rand(3), F "dropout_next_rand")
end

function test_dropout_evaluate_is_identity_and_draws_nothing()
  local d = nn.Dropout(0.5)
  lu.assertTrue(rawequal(d:evaluate(), d))
  lu.assertFalse(d.training)
  tycho.random.seed(9)
  local x = tycho.linspace(-1, 1, 6):reshape(2, 3)
  local y = d:forward(x)
  lu.assertEquals(y, x)
  lu.assertFalse(rawequal(y, x), "a fresh result")
  lu.assertEquals(d:backward(x * 2), x * 2)
  tycho.random.seed(9)
  local want = tycho.random.rand(2)
  tycho.random.seed(9)
  d:forward(x)
  lu.assertEquals(tycho.random.rand(2), want)
  d:train()
  lu.assertTrue(d.training)
  -- backward follows the last forward (the identity), whatever the mode is now
  lu.assertEquals(d:backward(x * 3), x * 3)
end

function test_dropout_p_one_and_zero()
  local x = tycho.ones(3, 4)
  lu.assertEquals(nn.Dropout(1):forward(x), tycho.zeros(3, 4))
  lu.assertEquals(nn.Dropout(0):forward(x), x)
  local d = nn.Dropout()
  lu.assertEquals(d.p, 0.5)
  d.p = 0.25
  lu.assertEquals(d.p, 0.25)
  assert_error(function() d.p = 1.5 end, "p must be in [0, 1]")
  assert_error(function() nn.Dropout(-0.1) end, "p must be in [0, 1]")
  assert_error(function() nn.Dropout("a") end, "p must be a number")
  assert_error(function() d.training = false end, "train() or evaluate()")
end

function test_dropout_numerical_gradient_with_its_mask()
  tycho.random.seed(4)
  local d = nn.Dropout(0.4)
  local x, dout = tycho.randn(4, 6), tycho.randn(4, 6)
  tycho.random.seed(4)
  d:forward(x)
  local dx = d:backward(dout)
  -- the same mask each time: reseed before every forward
  local num = grad_check(function() tycho.random.seed(4); return d:forward(x) end, x, dout)
  lu.assertTrue(grad_error(num, dx) < 1e-8)
end

-- ---- Embedding --------------------------------------------------------------------------------

function test_embedding_against_pytorch()
  local e = nn.Embedding(6, 3)
  e.W = F "emb_W"
  close(e:forward(F "emb_ids"), F "emb_y", 1e-15, "y")
  lu.assertEquals(e:backward(F "emb_dout"), nil)
  close(e.dW, F "emb_dW", 1e-14, "dW (repeated ids accumulate)")
end

function test_embedding_numerical_gradient()
  tycho.random.seed(6)
  local e = nn.Embedding(5, 4)
  local ids = tycho.tensor { { 1, 5, 5 }, { 2, 1, 3 } }
  local dout = tycho.randn(2, 3, 4)
  e:forward(ids)
  e:backward(dout)
  local num = grad_check(function() return e:forward(ids) end, e.W, dout)
  lu.assertTrue(grad_error(num, e.dW) < 1e-8)
end

function test_embedding_init_reset_and_strided_ids()
  tycho.random.seed(1)
  local e = nn.Embedding(4, 3)
  lu.assertEquals(e.W, F "init_emb_W")
  tycho.random.seed(2)
  e:reset()
  close(e.W, F "reset_emb_W", 1e-15, "reset")
  local ids = tycho.tensor { { 1, 2 }, { 3, 4 } }:transpose()
  local y = e:forward(ids)
  lu.assertEquals(y[1][2], e.W[3])
  lu.assertEquals(y[2][1], e.W[2])
end

function test_embedding_bad_ids()
  local e = nn.Embedding(5, 2)
  assert_error(function() e:forward(tycho.tensor { { 1, 2 }, { 6, 1 } }) end,
    "Embedding.forward", "ids[2, 1] is 6", "1..V (V = 5)")
  assert_error(function() e:forward(tycho.tensor { 0 }) end, "ids[1] is 0")
  assert_error(function() e:forward(tycho.tensor { 2.5 }) end, "ids[1] is 2.5")
  assert_error(function() e:forward(tycho.tensor { 0 / 0 }) end, "ids[1] is")
  assert_error(function() e:forward(tycho.tensor { -1 }) end, "ids[1] is -1")
  assert_error(function() e:backward(tycho.zeros(1, 2)) end, "call forward first")
  -- ids changed to a bad value between forward and backward: found again
  local ids = tycho.tensor { 1, 2 }
  e:forward(ids)
  ids[2] = 9
  assert_error(function() e:backward(tycho.zeros(2, 2)) end, "Embedding.backward", "ids[2] is 9")
  assert_error(function() e:backward(tycho.zeros(2, 3)) end, "dout is 2x3", "forward's output is 2x2")
end

-- ---- losses -----------------------------------------------------------------------------------

function test_softmax_loss_against_pytorch()
  local loss, ds = nn.softmax_loss(F "ce_scores", F "ce_y")
  lu.assertTrue(math.abs(loss - F "ce_loss":item()) < 1e-13 * math.abs(loss), "loss " .. loss)
  close(ds, F "ce_dscores", 1e-12, "dscores")
  loss, ds = nn.softmax_loss(F "ce3_scores", F "ce3_y")
  lu.assertTrue(math.abs(loss - F "ce3_loss":item()) < 1e-13 * math.abs(loss), "3-d loss " .. loss)
  close(ds, F "ce3_dscores", 1e-12, "3-d dscores")
end

function test_softmax_loss_numerical_gradient()
  tycho.random.seed(7)
  local s, y = tycho.randn(3, 4, 6) * 5, tycho.tensor { { 1, 6, 2, 3 }, { 4, 4, 5, 1 }, { 6, 2, 2, 1 } }
  local _, ds = nn.softmax_loss(s, y)
  local num = grad_check(function() return (nn.softmax_loss(s, y)) end, s)
  lu.assertTrue(grad_error(num, ds) < 1e-7)
end

function test_mse_loss_against_pytorch()
  local loss, d = nn.mse_loss(F "mse_pred", F "mse_target")
  lu.assertTrue(math.abs(loss - F "mse_loss":item()) < 1e-14 * loss)
  close(d, F "mse_dpred", 1e-14, "dpred")
  local p, target = F "mse_pred", F "mse_target"
  local num = grad_check(function() return (nn.mse_loss(p, target)) end, p)
  lu.assertTrue(grad_error(num, d) < 1e-7)
end

function test_loss_errors()
  local s = tycho.zeros(2, 3)
  assert_error(function() nn.softmax_loss(s, tycho.tensor { 1, 4 }) end, "softmax_loss", "y[2] is 4", "C = 3")
  assert_error(function() nn.softmax_loss(s, tycho.tensor { 0.5, 1 }) end, "y[1] is 0.5")
  assert_error(function() nn.softmax_loss(s, tycho.tensor { 1, 2, 3 }) end, "y is 3", "scores is 2x3")
  assert_error(function() nn.softmax_loss(tycho.zeros(3), tycho.tensor { 1 }) end, "N x C")
  assert_error(function() nn.softmax_loss(s, { 1, 2 }) end, "y must be a tensor")
  local bad = tycho.zeros(2, 3); bad:set(2, 2, 0 / 0)
  assert_error(function() nn.softmax_loss(bad, tycho.tensor { 1, 1 }) end, "scores[2, 2] is NaN")
  local inf = tycho.zeros(2, 3); inf:set(1, 1, math.huge)
  assert_error(function() nn.softmax_loss(inf, tycho.tensor { 1, 1 }) end, "loss is NaN")
  assert_error(function() nn.softmax_loss(s, tycho.tensor { 1, 1 }, 3) end, "at most 2")
  assert_error(function() nn.mse_loss(tycho.zeros(2), tycho.zeros(3)) end, "pred is 2", "target is 3")
  assert_error(function() nn.mse_loss(bad, tycho.zeros(2, 3)) end, "mse_loss", "pred[2, 2] is NaN")
  assert_error(function() nn.mse_loss(tycho.zeros(2, 3), bad) end, "target[2, 2] is NaN")
  assert_error(function() nn.mse_loss(tycho.zeros(2)) end, "target must be a tensor")
end

-- ---- modes of every layer -------------------------------------------------------------------

function test_every_layer_has_train_and_evaluate()
  for _, l in ipairs { nn.AffineLayer(2, 2), nn.ReLU(), nn.Embedding(2, 2), nn.Dropout(0.1),
                       nn.LSTMLayer(2, 2), nn.RNNLayer(2, 2), nn.GRULayer(2, 2), nn.Softmax() } do
    lu.assertTrue(l.training, tostring(l))
    lu.assertTrue(rawequal(l:evaluate(), l))
    lu.assertFalse(l.training)
    l:train()
    lu.assertTrue(l.training)
    assert_error(function() l:train(1) end, "train")
  end
end
