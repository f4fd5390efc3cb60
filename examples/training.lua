-- training.lua: the README's small training example: define a model, train it, save a
-- checkpoint, resume from it. Fits y = sin(3x) on [-1, 1] with a two-layer network and Adam.
--   tycho examples/training.lua [checkpoint.npz]
local tycho = require "tycho"
local nn = require "tycho.nn"
local optim = require "tycho.optim"
local path = arg and arg[1] or os.tmpname() .. ".npz"

-- data: 256 points of sin(3x)
tycho.random.seed(0)
local x = tycho.random.uniform(-1, 1, 256, 1)
local y = (x * 3):sin()

-- define: an affine layer, tanh, an affine head; PyTorch's initialisation
local model = nn.Sequential { nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1) }
for i = 1, #model do model[i]:reset() end
local opt = optim.Adam(model, { lr = 0.01 })

local function train(steps)
  local loss
  for _ = 1, steps do
    local dy
    loss, dy = nn.mse_loss(model:forward(x), y)
    model:backward(dy)
    nn.clip_grad_norm(model, 5)
    opt:step()
  end
  return loss
end

-- train, save (parameters, Adam's state, the random state), train on
print(("after 300 steps: loss %.6f"):format(train(300)))
nn.save(path, model, opt, { random = true })
local straight = train(300)
print(("after 600 steps: loss %.6f"):format(straight))

-- resume: a new model and optimizer, loaded from the checkpoint, continue exactly
local again = nn.Sequential { nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1) }
model, opt = again, optim.Adam(again, { lr = 0.01 })
nn.load(path, model, opt)
local resumed = train(300)
print(("resumed from %s, after 600 steps: loss %.6f (%s)"):format(path, resumed,
  resumed == straight and "the same to the bit" or "DIFFERENT"))
if not arg or not arg[1] then os.remove(path) end
