-- nn.save / nn.load: a model's parameters and an optimizer's state in .npz or .safetensors;
-- training resumed from a checkpoint is bit-identical to training that never stopped, for
-- every optimizer (with Dropout, so the random state travels too); every mismatch is an error
-- naming what and changes nothing.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"
local optim = require "tycho.optim"

local support = require "spec.support"
local assert_error = support.assert_error

local function tmp(ext)
  local p = os.tmpname()
  os.remove(p)
  return p .. ext
end

local function new_model()
  return nn.Sequential { nn.AffineLayer(4, 6), nn.Tanh(), nn.Dropout(0.25), nn.AffineLayer(6, 3) }
end

local CONFIGS = {
  { "SGD", { lr = 0.05, momentum = 0.9, nesterov = true, weight_decay = 0.01 } },
  { "SGD", { lr = 0.05, momentum = 0.5, dampening = 0.3 } },
  { "Adam", { lr = 0.01, amsgrad = true, weight_decay = 0.1 } },
  { "AdamW", { lr = 0.01 } },
  { "RMSprop", { lr = 0.01, centered = true, momentum = 0.5 } },
  { "Adagrad", { lr = 0.1, lr_decay = 0.01, initial_accumulator_value = 0.1 } },
  { "LBFGS", { lr = 0.5, max_iter = 4, history_size = 3 } },
  { "LBFGS", { lr = 1, max_iter = 4, line_search_fn = "strong_wolfe" } },
}

local function data()
  tycho.random.seed(11)
  return tycho.randn(16, 4), tycho.randn(16, 3)
end

-- n steps of opt on model (LBFGS through a closure), returning the losses.
local function train(model, opt, n, x, y, lbfgs)
  local losses = {}
  local function closure()
    local loss, d = nn.mse_loss(model:forward(x), y)
    model:backward(d)
    return loss
  end
  for i = 1, n do
    if lbfgs then losses[i] = opt:step(closure) else losses[i] = closure(); opt:step() end
  end
  return losses
end

local function params(model)
  local out = {}
  for path, layer, name in nn.named_parameters(model) do out[path] = layer[name]:clone() end
  return out
end

function test_resumed_training_is_bit_identical_for_every_optimizer()
  local x, y = data()
  for _, ext in ipairs { ".npz", ".safetensors" } do
    for _, c in ipairs(CONFIGS) do
      local kind, opts = c[1], c[2]
      local lbfgs = kind == "LBFGS"
      local what = kind .. " " .. ext
      -- without stopping
      tycho.random.seed(5)
      local m1 = new_model()
      local o1 = optim[kind](m1, opts)
      local l1 = train(m1, o1, 6, x, y, lbfgs)
      -- stopped after 3 steps, saved, loaded into a fresh model and optimizer
      tycho.random.seed(5)
      local m2 = new_model()
      local o2 = optim[kind](m2, opts)
      local l2 = train(m2, o2, 3, x, y, lbfgs)
      local path = tmp(ext)
      nn.save(path, m2, o2, { random = true })
      tycho.random.seed(77)
      local m3 = new_model()
      local o3 = optim[kind](m3, opts)
      lu.assertEquals(nn.load(path, m3, o3), {})
      os.remove(path)
      local rest = train(m3, o3, 3, x, y, lbfgs)
      for i = 1, 3 do l2[3 + i] = rest[i] end
      lu.assertEquals(l2, l1, what .. ": losses")
      local p1, p3 = params(m1), params(m3)
      for k, v in pairs(p1) do lu.assertTrue(v:equal(p3[k]), what .. ": " .. k) end
    end
  end
end

function test_checkpoint_holds_parameters_by_path_and_the_optimizer_state()
  local x, y = data()
  tycho.random.seed(1)
  local m = new_model()
  local opt = optim.Adam(m, { lr = 0.01 })
  train(m, opt, 2, x, y)
  local path = tmp(".npz")
  nn.save(path, m, opt, { extra = { vocab = tycho.tensor { 97, 98 } } })
  local t = tycho.load(path)
  os.remove(path)
  lu.assertEquals(t["1.W"], m[1].W)
  lu.assertEquals(t["4.b"], m[4].b)
  lu.assertEquals(t["optimizer.step"]:item(), 2)
  lu.assertEquals(t["optimizer.1.W.exp_avg"]:shape(), m[1].W:shape())
  lu.assertEquals(t["extra.vocab"], tycho.tensor { 97, 98 })
  lu.assertNil(t["random.state"], "only when asked for")
  -- a model alone, loaded without an optimizer: the optimizer's entries are left alone
  local m2 = new_model()
  local extra = nn.load((function() local p = tmp(".safetensors") nn.save(p, m, opt) return p end)(), m2)
  lu.assertEquals(extra, {})
  lu.assertEquals(m2[1].W, m[1].W)
end

function test_load_names_what_does_not_fit_and_changes_nothing()
  tycho.random.seed(2)
  local m = new_model()
  local opt = optim.SGD(m, { lr = 0.1, momentum = 0.9 })
  local x, y = data()
  train(m, opt, 1, x, y)
  local path = tmp(".npz")
  nn.save(path, m, opt)
  local other = nn.Sequential { nn.AffineLayer(4, 5), nn.Tanh(), nn.AffineLayer(5, 3), nn.AffineLayer(3, 3) }
  local before = other[1].W:clone()
  assert_error(function() nn.load(path, other) end, "does not fit the model", "missing 3.W, 3.b",
    "1.W is 4x6 in the file, 4x5 in the model", "4.W is 6x3 in the file, 3x3 in the model")
  lu.assertEquals(other[1].W, before, "nothing copied")
  assert_error(function() nn.load(path, nn.Sequential { nn.AffineLayer(4, 6) }) end, "unexpected 4.W, 4.b")
  -- the optimizer's state must be the same optimizer's
  local m2 = new_model()
  local w = m2[1].W:clone()
  assert_error(function() nn.load(path, m2, optim.Adam(m2, { lr = 0.1 })) end, path, "Adam.load_state")
  lu.assertEquals(m2[1].W, w, "nothing copied when the optimizer refuses")
  -- a checkpoint without an optimizer's state, for an optimizer
  local bare = tmp(".npz")
  nn.save(bare, m)
  assert_error(function() nn.load(bare, m2, optim.SGD(m2, { lr = 0.1 })) end, "it holds no optimizer state")
  os.remove(bare)
  os.remove(path)
  assert_error(function() nn.load(path, m2) end, "load", path)
  local npy = tmp(".npy")
  tycho.save(npy, tycho.ones(2))
  assert_error(function() nn.load(npy, m2) end, "a single tensor, not a checkpoint")
  os.remove(npy)
end

function test_save_errors()
  local m = new_model()
  assert_error(function() nn.save("/tmp/x.npy", m) end, "an .npz or .safetensors file")
  assert_error(function() nn.save("/tmp/x.npz", m, nil, { compres = true }) end, "unknown option compres")
  assert_error(function() nn.save("/tmp/x.npz", m, nil, { metadata = {} }) end, "metadata is for .safetensors")
  assert_error(function() nn.save("/tmp/x.npz", m, {}) end, "opt must be a tycho.optim optimizer")
  assert_error(function() nn.save("/tmp/x.npz", m, nil, { extra = { a = 1 } }) end, "extra a must be a tensor")
  assert_error(function() nn.save("/tmp/x.npz", { 1 }) end, "save", "not a layer")
  assert_error(function() nn.save("/tmp/x.npz", m, nil, nil, 1) end, "at most 4")
  assert_error(function() nn.load("/tmp/x.npz", m, nil, 1) end, "at most 3")
end

-- A checkpoint whose random state or optimizer state is bad changes neither the model, nor
-- the optimizer, nor the generator.
function test_a_bad_random_or_optimizer_state_loads_nothing()
  local x, y = data()
  tycho.random.seed(3)
  local m = new_model()
  local opt = optim.Adam(m, { lr = 0.01 })
  train(m, opt, 2, x, y)
  local good = nn.state(m, opt)
  good["random.state"] = tycho.random.get_state()
  local function try(entries, msg)
    local path = tmp(".npz")
    tycho.save(path, entries)
    local m2 = new_model()
    local o2 = optim.Adam(m2, { lr = 0.01 })
    local w, st = m2[1].W:clone(), o2:state()
    local rng = tycho.random.get_state()
    assert_error(function() nn.load(path, m2, o2) end, msg)
    os.remove(path)
    lu.assertEquals(m2[1].W, w, msg .. ": parameters")
    lu.assertEquals(o2:state().step, st.step, msg .. ": optimizer")
    lu.assertEquals(tycho.random.get_state(), rng, msg .. ": generator")
  end
  local bad = {}
  for k, v in pairs(good) do bad[k] = v end
  bad["random.state"] = tycho.zeros(3)
  try(bad, "random.state: set_state: state must be a vector of 627 numbers")
  bad["random.state"] = good["random.state"]
  bad["optimizer.step"] = tycho.tensor(-1.5)
  try(bad, "Adam.load_state")
end
