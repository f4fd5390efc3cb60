-- Containers and optimizers: every optimizer configuration against PyTorch 1.13 (float64)
-- trajectories of an affine layer with the MSE loss (the shared fixtures and make_extra.py's),
-- a Sequential of two affine layers trained by Adam, clip_grad_norm_'s values, named_parameters'
-- paths, resumption from state() (bit for bit), steps that allocate nothing, and every error.
-- The affine layer is a user-written Lua layer: it also shows that one works everywhere a C
-- layer does.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"
local optim = require "tycho.optim"

local FIX = "spec/fixtures/optim/"
local CONFIGS = dofile(FIX .. "configs.lua")

local function load(name) return tycho.load(FIX .. name .. ".npy") end

local support = require "spec.support"
local assert_error = support.assert_error

local function max_diff(a, b)
  if type(a) == "number" then return math.abs(a - b) end
  lu.assertEquals(a:shape(), b:shape())
  return (a - b):abs():max()
end

local function assert_close(got, want, tol, what)
  local d = max_diff(got, want)
  lu.assertTrue(d <= tol, ("%s: off by %g (tolerance %g)"):format(what, d, tol))
end

-- A user-written affine layer y = x W + b (Lua, tensor ops only).
local function Affine(W, b)
  local l = { W = W, b = b }
  function l.parameters() return { "W", "b" } end
  function l.forward(self, x)
    self.x = x
    return tycho.matmul(x, self.W) + self.b
  end
  function l.backward(self, dy)
    self.dW = tycho.matmul(self.x.T, dy)
    self.db = dy:sum(1)
    return tycho.matmul(dy, self.W.T)
  end
  return l
end

-- PyTorch's MSELoss (mean) and its gradient.
local function mse(y, target)
  local diff = y - target
  return (diff * diff):mean(), diff * (2 / diff:numel())
end

local x, target = load("x"), load("target")

local function affine_model() return Affine(load("W0"), load("b0")) end

-- forward, loss, backward: the closure of every step
local function closure_of(model)
  return function()
    local loss, dy = mse(model:forward(x), target)
    model:backward(dy)
    return loss
  end
end

-- One step of opt on model; returns the loss at its start (LBFGS: what step returned).
local function one_step(config, model, opt)
  local closure = closure_of(model)
  if config.optimizer == "LBFGS" then return opt:step(closure) end
  local loss = closure()
  opt:step()
  return loss
end

-- ---- every configuration against PyTorch ------------------------------------------------------

TestTrajectories = {}

for _, c in ipairs(CONFIGS) do
  TestTrajectories["test_" .. c.name] = function()
    local tol = c.optimizer == "LBFGS" and 1e-8 or 1e-10
    local losses = load(c.folder .. c.name .. "_loss")
    local Ws, bs = load(c.folder .. c.name .. "_W"), load(c.folder .. c.name .. "_b")
    local model = affine_model()
    local opt = optim[c.optimizer](model, c.options)
    for s = 1, losses:size(1) do
      local loss = one_step(c, model, opt)
      assert_close(loss, losses[s], tol, c.name .. " loss " .. s)
      assert_close(model.W, Ws[s], tol, c.name .. " W after step " .. s)
      assert_close(model.b, bs[s], tol, c.name .. " b after step " .. s)
    end
  end
end

-- The same with the C layer and loss: nn.AffineLayer and nn.mse_loss.
for _, c in ipairs(CONFIGS) do
  TestTrajectories["test_c_affine_layer_" .. c.name] = function()
    local tol = c.optimizer == "LBFGS" and 1e-8 or 1e-10
    local losses = load(c.folder .. c.name .. "_loss")
    local Ws, bs = load(c.folder .. c.name .. "_W"), load(c.folder .. c.name .. "_b")
    local layer = nn.AffineLayer(4, 3)
    layer.W, layer.b = load("W0"), load("b0")
    local model = nn.Sequential { layer }
    local opt = optim[c.optimizer](model, c.options)
    local function closure()
      local loss, dy = nn.mse_loss(model:forward(x), target)
      model:backward(dy)
      return loss
    end
    for s = 1, losses:size(1) do
      local loss
      if c.optimizer == "LBFGS" then
        loss = opt:step(closure)
      else
        loss = closure()
        opt:step()
      end
      assert_close(loss, losses[s], tol, c.name .. " loss " .. s)
      assert_close(layer.W, Ws[s], tol, c.name .. " W after step " .. s)
      assert_close(layer.b, bs[s], tol, c.name .. " b after step " .. s)
    end
  end
end

-- A Sequential of two Lua affine layers, trained by Adam (make_extra.py).
function TestTrajectories.test_sequential_of_two_affine_layers_by_adam()
  local E = "extra/seq_"
  local model = nn.Sequential { Affine(load(E .. "W10"), load(E .. "b10")),
    Affine(load(E .. "W20"), load(E .. "b20")) }
  local opt = optim.Adam(model, { lr = 0.05, betas = { 0.8, 0.99 } })
  local losses = load(E .. "adam_loss")
  local want = { W1 = load(E .. "adam_W1"), b1 = load(E .. "adam_b1"), W2 = load(E .. "adam_W2"),
    b2 = load(E .. "adam_b2") }
  for s = 1, 6 do
    local loss, dy = mse(model:forward(x), target)
    model:backward(dy)
    opt:step()
    assert_close(loss, losses[s], 1e-10, "loss " .. s)
    assert_close(model[1].W, want.W1[s], 1e-10, "1.W " .. s)
    assert_close(model[1].b, want.b1[s], 1e-10, "1.b " .. s)
    assert_close(model[2].W, want.W2[s], 1e-10, "2.W " .. s)
    assert_close(model[2].b, want.b2[s], 1e-10, "2.b " .. s)
  end
end

-- Parameters and gradients that are not contiguous take the strided path: the same numbers
-- as the contiguous one, bit for bit.
function TestTrajectories.test_strided_parameters_and_gradients_match_contiguous()
  for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" } do
    local opts = { lr = 0.01, momentum = name == "SGD" and 0.9 or nil }
    if name == "RMSprop" then opts = { lr = 0.01, momentum = 0.5, centered = true } end
    local a = affine_model()
    local b = affine_model()
    b.W = load("W0").T:clone().T                  -- 4x3, strides (1, 4)
    local backward = b.backward
    b.backward = function(self, dy)
      local dx = backward(self, dy)
      self.dW = self.dW.T:clone().T              -- a strided gradient too
      return dx
    end
    local oa, ob = optim[name](a, opts), optim[name](b, opts)
    for _ = 1, 4 do
      closure_of(a)()
      oa:step()
      closure_of(b)()
      ob:step()
    end
    lu.assertFalse(b.W:is_contiguous())
    lu.assertTrue(a.W:equal(b.W), name)
    lu.assertTrue(a.b:equal(b.b), name)
  end
end

-- A C layer's parameters and gradients: SGD moves an RNNLayer's weights by -lr * d<p>.
function TestTrajectories.test_c_layer_parameters()
  tycho.random.seed(3)
  local rnn = nn.RNNLayer(3, 4)
  local model = { rnn = rnn }
  local paths = {}
  for path, layer, name in nn.named_parameters(model) do
    paths[#paths + 1] = path
    lu.assertTrue(rawequal(layer, rnn))
    lu.assertTrue(rawequal(layer[name], rnn[name]))
  end
  lu.assertEquals(paths, { "rnn.W_ih", "rnn.W_hh", "rnn.b" })
  local opt = optim.SGD(model, { lr = 0.1 })
  local h = rnn:forward(tycho.randn(2, 5, 3), tycho.zeros(2, 4))
  rnn:backward(h)
  local before = { rnn.W_ih:clone(), rnn.W_hh:clone(), rnn.b:clone() }
  opt:step()
  for i, name in ipairs { "W_ih", "W_hh", "b" } do
    lu.assertTrue(rnn[name]:equal(before[i] - rnn["d" .. name] * 0.1), name)
  end
end

-- ---- resuming from state() --------------------------------------------------------------------

local function clone_state(st)
  local out = {}
  for k, v in pairs(st) do out[k] = v:clone() end
  return out
end

-- The state through .npy files (tycho.save/tycho.load), as a checkpoint keeps it.
local function through_files(st)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "'"))
  local out = {}
  for k, v in pairs(st) do
    local path = dir .. "/" .. k .. ".npy"
    tycho.save(path, v)
    out[k] = tycho.load(path)
    os.remove(path)
  end
  os.remove(dir)
  return out
end

TestResume = {}

for _, c in ipairs(CONFIGS) do
  TestResume["test_" .. c.name] = function()
    local n, first = c.optimizer == "LBFGS" and 3 or 6, c.optimizer == "LBFGS" and 1 or 3
    for _, via in ipairs { clone_state, through_files } do
      local a = affine_model()
      local oa = optim[c.optimizer](a, c.options)
      for _ = 1, first do one_step(c, a, oa) end
      -- a new model and optimizer from the parameters and the state after `first` steps
      local b = Affine(a.W:clone(), a.b:clone())
      local ob = optim[c.optimizer](b, c.options)
      ob:load_state(via(oa:state()))
      for s = first + 1, n do
        local la, lb = one_step(c, a, oa), one_step(c, b, ob)
        lu.assertEquals(lb, la, c.name .. " loss " .. s)
        lu.assertTrue(a.W:equal(b.W), c.name .. " W " .. s)
        lu.assertTrue(a.b:equal(b.b), c.name .. " b " .. s)
      end
      local sa, sb = oa:state(), ob:state()
      for k, v in pairs(sa) do lu.assertTrue(v:equal(sb[k]), c.name .. " state " .. k) end
    end
  end
end

function TestResume.test_state_names()
  local model = nn.Sequential { affine_model() }
  local function names(opt)
    local out = {}
    for k in pairs(opt:state()) do out[#out + 1] = k end
    table.sort(out)
    return out
  end
  lu.assertEquals(names(optim.Adam(model, { amsgrad = true })), { "1.W.exp_avg", "1.W.exp_avg_sq",
    "1.W.max_exp_avg_sq", "1.b.exp_avg", "1.b.exp_avg_sq", "1.b.max_exp_avg_sq", "lr", "step" })
  lu.assertEquals(names(optim.SGD(model, { lr = 1 })), { "lr", "step" })
  lu.assertEquals(names(optim.SGD(model, { lr = 1, momentum = 0.5 })),
    { "1.W.momentum_buffer", "1.b.momentum_buffer", "lr", "step" })
  lu.assertEquals(names(optim.RMSprop(model, { momentum = 0.5, centered = true })),
    { "1.W.grad_avg", "1.W.momentum_buffer", "1.W.square_avg", "1.b.grad_avg",
      "1.b.momentum_buffer", "1.b.square_avg", "lr", "step" })
  lu.assertEquals(names(optim.Adagrad(model)), { "1.W.sum", "1.b.sum", "lr", "step" })
  local lb = optim.LBFGS(model, { max_iter = 3, history_size = 2 })
  lu.assertEquals(names(lb), { "func_evals", "lr", "n_iter" })
  lb:step(closure_of(model))
  local st = lb:state()
  local k = st.ro:size(1)
  lu.assertTrue(k >= 1 and k <= 2)
  local want = { "H_diag", "d", "func_evals", "lr", "n_iter", "prev_flat_grad", "prev_loss", "ro", "t" }
  for i = 1, k do want[#want + 1] = "old_dirs." .. i; want[#want + 1] = "old_stps." .. i end
  table.sort(want)
  lu.assertEquals(names(lb), want)
  lu.assertTrue(st.n_iter:item() >= 2 and st.n_iter:item() <= 3) -- converged early or not
  lu.assertEquals(st.d:shape(), { 15 })
end

function TestResume.test_state_is_a_copy_and_lr_is_restored()
  local model = affine_model()
  local opt = optim.Adam(model, { lr = 0.1 })
  closure_of(model)()
  opt:step()
  local st = opt:state()
  lu.assertEquals(st.step:item(), 1)
  lu.assertEquals(st.step:dim(), 0)
  lu.assertEquals(st.lr:item(), 0.1)
  local kept = st["W.exp_avg"]:clone()
  st["W.exp_avg"]:fill_(7)
  lu.assertTrue(opt:state()["W.exp_avg"]:equal(kept))
  opt.lr = 0.5
  st.lr = tycho.tensor { 0.25 } -- a one-element counter is taken as well
  opt:load_state(st)
  lu.assertEquals(opt.lr, 0.25)
  lu.assertTrue(opt:state()["W.exp_avg"]:equal(tycho.full({ 4, 3 }, 7)))
end

-- ---- the containers ---------------------------------------------------------------------------

TestContainers = {}

function TestContainers.test_named_parameters_paths()
  local function paths(model)
    local out = {}
    for path, layer, name in nn.named_parameters(model) do
      lu.assertTrue(rawequal(layer[name], layer[name]))
      out[#out + 1] = path .. ":" .. name
    end
    return out
  end
  lu.assertEquals(paths(affine_model()), { "W:W", "b:b" })
  lu.assertEquals(paths(nn.Sequential { affine_model(), nn.Tanh(), affine_model() }),
    { "1.W:W", "1.b:b", "3.W:W", "3.b:b" })
  local model = {
    head = affine_model(),
    [2] = nn.Sequential { affine_model(), nn.Sequential { affine_model() } },
    [1] = affine_model(),
    body = { x = affine_model(), a = nn.Tanh() },
  }
  lu.assertEquals(paths(model), { "1.W:W", "1.b:b", "2.1.W:W", "2.1.b:b", "2.2.1.W:W", "2.2.1.b:b",
    "body.x.W:W", "body.x.b:b", "head.W:W", "head.b:b" })
  lu.assertEquals(paths({}), {})
end

function TestContainers.test_named_parameters_errors()
  assert_error(function() nn.named_parameters(3) end, "named_parameters", "the model is a number")
  assert_error(function() nn.named_parameters({ a = { b = tycho.ones(2) } }) end, "a.b is a tensor")
  assert_error(function() nn.named_parameters({ [1.5] = affine_model() }) end, "key of type float")
  local cyclic = {}
  cyclic.self = cyclic
  assert_error(function() nn.named_parameters(cyclic) end, "self contains itself")
  local bad = affine_model()
  bad.b = 3
  assert_error(function() nn.named_parameters({ layer = bad }) end, "parameter layer.b is a number")
  assert_error(function() nn.named_parameters(affine_model(), 1) end, "at most 1")
end

function TestContainers.test_sequential_chains_forward_and_backward()
  local a, b = affine_model(), Affine(load("W0"):narrow(2, 1, 3).T, tycho.ones(4))
  local model = nn.Sequential { a, nn.Tanh(), b }
  lu.assertEquals(#model, 3)
  lu.assertTrue(rawequal(model[1], a) and rawequal(model[3], b))
  lu.assertNil(model[4])
  local count = 0
  for _, l in ipairs(model) do count = count + 1 end
  lu.assertEquals(count, 3)
  local y = model:forward(x)
  local a2, b2 = affine_model(), Affine(b.W, b.b)
  local t = nn.Tanh()
  local want = b2:forward(t:forward(a2:forward(x)))
  lu.assertTrue(y:equal(want))
  local dy = tycho.ones(8, 4)
  local dx = model:backward(dy)
  lu.assertTrue(dx:equal(a2:backward(t:backward(b2:backward(dy)))))
  lu.assertTrue(a.dW:equal(a2.dW))
  lu.assertEquals(tostring(nn.Sequential { nn.Tanh() }), "Sequential(Tanh())")
  lu.assertEquals(nn.Sequential {}:forward(x), x)
end

function TestContainers.test_train_and_evaluate_reach_every_layer_that_has_them()
  local modes = {}
  local function moded(name)
    local l = affine_model()
    function l.train() modes[#modes + 1] = name .. " train" end
    function l.evaluate() modes[#modes + 1] = name .. " evaluate" end
    return l
  end
  local inner = nn.Sequential { moded("c") }
  local model = nn.Sequential { moded("a"), affine_model(), nn.Tanh(), inner, moded("b") }
  lu.assertTrue(model.training)
  lu.assertTrue(rawequal(model:evaluate(), model))
  lu.assertFalse(model.training)
  lu.assertFalse(inner.training)
  model:train()
  lu.assertTrue(inner.training)
  lu.assertEquals(modes, { "a evaluate", "c evaluate", "b evaluate", "a train", "c train", "b train" })
end

-- C layers' modes: a Dropout in a Sequential drops in training and is the identity after
-- evaluate().
function TestContainers.test_train_and_evaluate_reach_c_layers()
  local drop = nn.Dropout(0.5)
  local model = nn.Sequential { nn.AffineLayer(4, 3), nn.Sequential { drop } }
  local h = tycho.ones(8, 4)
  model:evaluate()
  local y = model:forward(h)
  lu.assertTrue(y:equal(model[1]:forward(h)))
  model:train()
  tycho.random.seed(1)
  local dropped = model:forward(h)
  lu.assertFalse(dropped:equal(y))
  lu.assertTrue(model.training)
end

function TestContainers.test_sequential_errors()
  assert_error(function() nn.Sequential(affine_model()) end, "Sequential: expects a plain list of layers", "got a layer")
  assert_error(function() nn.Sequential { 1 } end, "element 1 is a number")
  assert_error(function() nn.Sequential { affine_model(), { head = affine_model() } } end,
    "element 2")
  assert_error(function() nn.Sequential { { parameters = function() return {} end } } end,
    "layer 1 has no forward")
  assert_error(function() nn.Sequential({ affine_model() }, 2) end, "at most 1")
  assert_error(function() nn.Sequential { affine_model(), x = 1 } end, "key x")
  local model = nn.Sequential { affine_model() }
  assert_error(function() return model.parameters end, "no field parameters", "named_parameters")
  assert_error(function() model[2] = affine_model() end, "cannot assign 2")
  assert_error(function() model.foo = 1 end, "cannot assign foo")
  assert_error(function() model[1] = 5 end, "element 1 is a number")
  assert_error(function() model[1] = model end, "contains itself")
  local other = affine_model()
  model[1] = other
  lu.assertTrue(rawequal(model[1], other))
  assert_error(function() model:forward(x, 2) end, "Sequential.forward", "at most")
  local silent = { forward = function() end, backward = function() end }
  assert_error(function() nn.Sequential { silent }:forward(x) end, "layer 1 returned nothing")
  assert_error(function() nn.Sequential { { forward = function(_, v) return v end } }:backward(x) end,
    "layer 1 has no backward")
end

-- clip_grad_norm_ against PyTorch: 2, inf, 1 and 3-norms, clipping and not.
function TestContainers.test_clip_grad_norm()
  local E = "extra/"
  for _, tag in ipairs { "2", "inf", "1", "3" } do
    for _, m in ipairs { { "small", 0.05 }, { "large", 100 } } do
      local model = nn.Sequential { Affine(load(E .. "seq_W10"), load(E .. "seq_b10")),
        Affine(load(E .. "seq_W20"), load(E .. "seq_b20")) }
      local _, dy = mse(model:forward(x), target)
      model:backward(dy)
      local p = ({ ["2"] = 2, inf = math.huge, ["1"] = 1, ["3"] = 3 })[tag]
      local norm = tag == "2" and nn.clip_grad_norm(model, m[2]) or nn.clip_grad_norm(model, m[2], p)
      local pre = E .. "clip_" .. tag .. "_" .. m[1] .. "_"
      assert_close(norm, load(pre .. "norm"):item(), 1e-12, pre .. "norm")
      assert_close(model[1].dW, load(pre .. "dW1"), 1e-12, pre .. "dW1")
      assert_close(model[1].db, load(pre .. "db1"), 1e-12, pre .. "db1")
      assert_close(model[2].dW, load(pre .. "dW2"), 1e-12, pre .. "dW2")
      assert_close(model[2].db, load(pre .. "db2"), 1e-12, pre .. "db2")
    end
  end
end

function TestContainers.test_clip_grad_norm_errors()
  local model = nn.Sequential { affine_model(), affine_model() }
  model[1]:forward(x)
  model[1]:backward(tycho.ones(8, 3))
  local before = model[1].dW:clone()
  assert_error(function() nn.clip_grad_norm(model, 1) end, "clip_grad_norm", "gradient 2.dW is missing")
  lu.assertTrue(model[1].dW:equal(before)) -- nothing scaled
  model[2].dW = tycho.ones(3, 4)
  model[2].db = tycho.ones(3)
  assert_error(function() nn.clip_grad_norm(model, 1) end, "gradient 2.dW is 3x4 but the parameter is 4x3")
  model[2].dW = tycho.ones(3):expand(4, 3)
  assert_error(function() nn.clip_grad_norm(model, 1) end, "gradient 2.dW is an expanded view")
  assert_error(function() nn.clip_grad_norm(model, -1) end, "max_norm must be a number >= 0")
  assert_error(function() nn.clip_grad_norm(model, 1, 0) end, "norm_type must be a number > 0")
  assert_error(function() nn.clip_grad_norm(model, 1, 2, 3) end, "at most 3")
  assert_error(function() nn.clip_grad_norm(5, 1) end, "the model is a number")
  lu.assertEquals(nn.clip_grad_norm({}, 1), 0)
end

-- ---- errors -----------------------------------------------------------------------------------

TestErrors = {}

function TestErrors.test_options_checked_as_pytorch_does()
  local m = affine_model()
  local cases = {
    { "SGD", {}, "option lr is required" },
    { "SGD", { lr = -1 }, "invalid learning rate lr = -1" },
    { "SGD", { lr = 0 / 0 }, "invalid learning rate" },
    { "SGD", { lr = 1, momentum = -0.5 }, "invalid momentum value momentum = -0.5" },
    { "SGD", { lr = 1, weight_decay = -1 }, "invalid weight_decay value" },
    { "SGD", { lr = 1, nesterov = true }, "Nesterov momentum requires a momentum and zero dampening" },
    { "SGD", { lr = 1, nesterov = true, momentum = 0.9, dampening = 0.1 }, "zero dampening" },
    { "SGD", { lr = "1" }, "option lr must be a number (got string)" },
    { "SGD", { lr = 1, nesterov = 1 }, "option nesterov must be a boolean" },
    { "SGD", { lr = 1, foo = 2, bar = 3 }, "unknown options bar, foo (its options: lr, momentum" },
    { "Adam", { lr = -1e-3 }, "invalid learning rate" },
    { "Adam", { betas = { 1, 0.9 } }, "invalid beta parameter at index 1: 1" },
    { "Adam", { betas = { 0.9, -0.1 } }, "invalid beta parameter at index 2" },
    { "Adam", { betas = { 0.9 } }, "betas must be a list of two numbers" },
    { "Adam", { eps = -1 }, "invalid epsilon value" },
    { "Adam", { weight_decay = -1 }, "invalid weight_decay value" },
    { "Adam", { momentum = 0.9 }, "unknown option momentum" },
    { "AdamW", { betas = { 0.9, 1 } }, "index 2" },
    { "RMSprop", { alpha = -0.1 }, "invalid alpha value" },
    { "RMSprop", { momentum = -1 }, "invalid momentum value" },
    { "RMSprop", { eps = -1 }, "invalid epsilon value" },
    { "Adagrad", { lr_decay = -1 }, "invalid lr_decay value" },
    { "Adagrad", { initial_accumulator_value = -1 }, "invalid initial_accumulator_value" },
    { "Adagrad", { eps = -1 }, "invalid epsilon value" },
    { "LBFGS", { line_search_fn = "armijo" }, 'line_search_fn must be nil or "strong_wolfe" (got "armijo")' },
    { "LBFGS", { max_iter = 0 }, "max_iter must be an integer >= 1" },
    { "LBFGS", { history_size = 1.5 }, "history_size must be an integer >= 1" },
    { "LBFGS", { max_eval = 0 }, "max_eval must be an integer >= 1" },
    { "LBFGS", { tolerance_grad = -1 }, "invalid tolerance_grad" },
  }
  for _, c in ipairs(cases) do
    local err = assert_error(function() optim[c[1]](m, c[2]) end, c[1] .. ": ", c[3])
    lu.assertNil(err:find("optim.lua", 1, true), err) -- the caller's position, not ours
  end
  assert_error(function() optim.Adam(m, 3) end, "options must be a plain table")
  assert_error(function() optim.Adam(m, {}, 3) end, "Adam: takes at most 2 arguments")
end

function TestErrors.test_defaults_and_fields()
  local m = affine_model()
  local o = optim.Adam(m)
  lu.assertEquals({ o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize },
    { 1e-3, { 0.9, 0.999 }, 1e-8, 0, false, false })
  lu.assertEquals(optim.AdamW(m).weight_decay, 1e-2)
  local r = optim.RMSprop(m)
  lu.assertEquals({ r.lr, r.alpha, r.eps, r.weight_decay, r.momentum, r.centered }, { 1e-2, 0.99, 1e-8, 0, 0, false })
  local a = optim.Adagrad(m)
  lu.assertEquals({ a.lr, a.lr_decay, a.weight_decay, a.initial_accumulator_value, a.eps }, { 1e-2, 0, 0, 0, 1e-10 })
  local l = optim.LBFGS(m)
  lu.assertEquals({ l.lr, l.max_iter, l.max_eval, l.tolerance_grad, l.tolerance_change, l.history_size },
    { 1, 20, 25, 1e-7, 1e-9, 100 })
  lu.assertNil(l.line_search_fn)
  lu.assertEquals(optim.LBFGS(m, { max_iter = 7 }).max_eval, 8)
  local s = optim.SGD(m, { lr = 0.1 })
  lu.assertEquals({ s.momentum, s.dampening, s.weight_decay, s.nesterov, s.maximize }, { 0, 0, 0, false, false })
  s.lr = 0.05
  lu.assertEquals(s.lr, 0.05)
  assert_error(function() s.lr = -1 end, "SGD: lr must be a number >= 0")
  assert_error(function() s.momentum = 0.9 end, "SGD: cannot set momentum (only lr can be set")
  assert_error(function() return s.foo end, "SGD: no field foo")
  local b = o.betas
  b[1] = 0
  lu.assertEquals(o.betas[1], 0.9) -- a copy
end

function TestErrors.test_models_without_parameters()
  assert_error(function() optim.Adam(nn.Sequential { nn.Tanh() }) end, "Adam: the model has no parameters")
  assert_error(function() optim.SGD({}, { lr = 1 }) end, "SGD: the model has no parameters")
  assert_error(function() optim.Adam(tycho.ones(3)) end, "Adam: the model is a tensor")
  local a = affine_model()
  local b = affine_model()
  b.W = a.W
  assert_error(function() optim.Adam({ a, b }) end, "parameters 1.W and 2.W are the same tensor")
end

function TestErrors.test_step_checks_every_gradient_before_updating_any()
  for _, name in ipairs { "SGD", "Adam", "AdamW", "RMSprop", "Adagrad" } do
    local model = nn.Sequential { affine_model(), affine_model() }
    local opt = optim[name](model, { lr = 0.1 })
    local W1 = model[1].W:clone()
    model[1]:forward(x)
    model[1]:backward(tycho.ones(8, 3))
    assert_error(function() opt:step() end, name .. ".step: gradient 2.dW is missing (call backward")
    model[2].dW = tycho.ones(3, 4)
    model[2].db = tycho.ones(3)
    assert_error(function() opt:step() end, name .. ".step: gradient 2.dW is 3x4 but the parameter is 4x3")
    model[2].dW = tycho.ones(4, 3)
    model[2].db = "grad"
    assert_error(function() opt:step() end, name .. ".step: gradient 2.db is string, not a tensor")
    model[2].db = model[2].b:narrow(1, 1, 2):view(2):clone()
    assert_error(function() opt:step() end, "gradient 2.db is 2 but the parameter is 3")
    local base = tycho.zeros(13)
    model[2].b = base:narrow(1, 1, 3)
    assert_error(function() opt:step() end, name .. ".step: parameter 2.b was replaced")
    lu.assertTrue(model[1].W:equal(W1), name .. ": nothing updated")
    lu.assertEquals(opt:state().step:item(), 0)
    assert_error(function() opt:step(1) end, "closure must be a function")
    assert_error(function() opt:step(nil, 2) end, "at most 2")
  end
  -- a gradient that shares memory with its parameter (another view of it)
  local l = affine_model()
  local opt = optim.SGD(l, { lr = 0.1 })
  l.dW = l.W:clone()
  l.db = l.b:view(3)
  l.b = l.b -- the same tensor: fine
  opt:step()
  local p = tycho.zeros(2, 3)
  local shared = { W = p:narrow(2, 1, 2), parameters = function() return { "W" } end, forward = function() end }
  shared.dW = p:narrow(2, 2, 2)
  assert_error(function() optim.SGD(shared, { lr = 1 }):step() end, "gradient dW shares memory with its parameter")
  -- a parameter that is an expanded view cannot be updated
  local e = { W = tycho.ones(3):expand(2, 3), parameters = function() return { "W" } end, forward = function() end }
  e.dW = tycho.ones(2, 3)
  assert_error(function() optim.SGD(e, { lr = 1 }):step() end, "expanded view")
end

function TestErrors.test_a_closed_parameter_or_gradient()
  local l = affine_model()
  local opt = optim.Adam(l)
  closure_of(l)()
  do local g <close> = l.dW end
  assert_error(function() opt:step() end, "Adam.step: gradient dW was closed")
  closure_of(l)()
  do local w <close> = l.b end
  assert_error(function() opt:step() end, "gradient db belongs to a parameter that was closed")
end

function TestErrors.test_lbfgs_closure()
  local m = affine_model()
  local opt = optim.LBFGS(m)
  assert_error(function() opt:step() end, "LBFGS.step: needs a closure")
  assert_error(function() opt:step(function() return "x" end) end, "the closure returned string, not the loss")
  assert_error(function() opt:step(function() return 1 end) end, "LBFGS.step: gradient dW is missing")
end

function TestErrors.test_load_state_checks_everything_and_changes_nothing_on_error()
  local model = nn.Sequential { affine_model() }
  local opt = optim.Adam(model, { lr = 0.1 })
  closure_of(model)()
  opt:step()
  local good = opt:state()
  local function broken(edit)
    local st = clone_state(good)
    edit(st)
    return st
  end
  local cases = {
    { function(st) st["1.W.exp_avg"] = nil end, "Adam.load_state: the state does not fit this optimizer: missing 1.W.exp_avg" },
    { function(st) st["2.W.exp_avg"] = tycho.ones(1); st.step = nil end, "missing step; unexpected 2.W.exp_avg" },
    { function(st) st["1.b.exp_avg_sq"] = tycho.ones(4) end, "entry 1.b.exp_avg_sq is 4 but the optimizer's is 3" },
    { function(st) st["1.W.exp_avg"] = 3 end, "entry 1.W.exp_avg is a number, not a tensor" },
    { function(st) st.step = tycho.ones(2) end, "entry step is 2 (a counter has one element)" },
    { function(st) st.step = tycho.tensor(-1) end, "entry step is -1" },
    { function(st) st.step = tycho.tensor(1.5) end, "entry step is 1.5" },
    { function(st) st.lr = tycho.tensor(-1) end, "entry lr is -1" },
    { function(st) st[1] = tycho.ones(1) end, "a key of type number" },
  }
  local closure = closure_of(model)
  closure()
  for _, c in ipairs(cases) do
    local st = broken(c[1])
    st["1.W.exp_avg_sq"]:fill_(5) -- would change the state if anything were loaded
    assert_error(function() opt:load_state(st) end, c[2])
    for k, v in pairs(opt:state()) do lu.assertTrue(v:equal(good[k]), c[2] .. ": " .. k) end
  end
  assert_error(function() opt:load_state(3) end, "expects a table")
  assert_error(function() opt:load_state({}, 1) end, "at most 2")
  -- LBFGS: history entries counted by ro
  local lb = optim.LBFGS(model, { max_iter = 4, history_size = 2 })
  lb:step(closure)
  local st = clone_state(lb:state())
  st["old_dirs.2"] = nil
  assert_error(function() lb:load_state(st) end, "missing old_dirs.2")
  st = clone_state(lb:state())
  st.ro = tycho.ones(3)
  assert_error(function() lb:load_state(st) end, "ro holds 3 pairs, more than history_size 2")
  st = clone_state(lb:state())
  st.d = tycho.ones(14)
  assert_error(function() lb:load_state(st) end, "entry d is 14 but the optimizer's is 15")
  local fresh = optim.LBFGS(model)
  st = clone_state(lb:state())
  fresh:load_state(st)
  lu.assertEquals(fresh:state().n_iter:item(), 4)
  st.n_iter = tycho.tensor(0)
  assert_error(function() fresh:load_state(st) end, "unexpected H_diag, d")
end

-- ---- allocations ------------------------------------------------------------------------------

-- After the first step, a step makes nothing: no Lua object, no tensor data.
function TestErrors.test_a_step_allocates_nothing()
  local configs = {
    { "SGD", { lr = 0.1 } }, { "SGD", { lr = 0.1, momentum = 0.9, nesterov = true, weight_decay = 0.1 } },
    { "Adam", {} }, { "Adam", { amsgrad = true, weight_decay = 0.1 } }, { "AdamW", {} },
    { "RMSprop", { centered = true, momentum = 0.5 } }, { "Adagrad", { lr_decay = 0.1 } },
  }
  for _, c in ipairs(configs) do
    local model = nn.Sequential { affine_model(), affine_model(), affine_model() }
    local opt = optim[c[1]](model, c[2])
    for _, l in ipairs { model[1], model[2], model[3] } do
      l:forward(x)
      l:backward(tycho.ones(8, 3))
    end
    opt:step()
    opt.lr = opt.lr * 0.5
    collectgarbage()
    collectgarbage("stop")
    opt:step() -- the collection shrank the Lua stack and call records: grown back once
    local data = tycho.memory().bytes -- (which makes a table: before the heap's count)
    local heap = collectgarbage("count")
    for _ = 1, 50 do opt:step() end
    local heap2 = collectgarbage("count")
    local data2 = tycho.memory().bytes
    collectgarbage("restart")
    lu.assertEquals(heap2, heap, c[1] .. ": Lua heap grew")
    lu.assertEquals(data2, data, c[1] .. ": tensor data grew")
  end
end

function TestErrors.test_zero_grad()
  local l = affine_model()
  local opt = optim.SGD(l, { lr = 0.1 })
  opt:zero_grad() -- no gradients yet: nothing to do
  closure_of(l)()
  local dW = l.dW
  opt:zero_grad()
  lu.assertTrue(rawequal(l.dW, dW))
  lu.assertTrue(dW:equal(tycho.zeros(4, 3)))
  local W = l.W:clone()
  opt:step()
  lu.assertTrue(l.W:equal(W))
  assert_error(function() opt:zero_grad(1) end, "at most 1")
end
