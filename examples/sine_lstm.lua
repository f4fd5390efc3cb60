-- sine_lstm.lua: PyTorch's time_sequence_prediction example on tycho. Sine waves made as its
-- generate_sine_wave.py makes them (np.random.seed(2), shifts randint(-80, 80)), two stacked
-- LSTMs of 51 and an affine head, trained by LBFGS (lr 0.8) on the MSE of the next value;
-- after every step the loss on 3 test waves and 1000 predicted future values, fed back one
-- step at a time, drawn as PyTorch's example draws them.
--
--   tycho examples/sine_lstm.lua [--steps 15] [--out DIR] [--init FILE.safetensors]
--                                [--optim lbfgs|adam] [--waves 100] [--length 1000]
--                                [--future 1000] [--no-plots]
--
-- --init: the initial weights, a PyTorch state_dict (lstm1.*, lstm2.* LSTMCells, linear.*)
-- saved as .safetensors; without it the layers start as PyTorch's do, uniform(-1/sqrt(51),
-- 1/sqrt(51)) from tycho.random.seed(0). --optim adam: 20 Adam updates (lr 0.01) per step in
-- place of LBFGS's 20 evaluations. Prints every loss the closure computes ("loss: ...") and
-- the test loss after each step ("test loss: ..."), as the PyTorch example does; writes
-- DIR/predict<k>.png after step k and DIR/loss.png at the end.
local tycho = require "tycho"
local nn = require "tycho.nn"
local optim = require "tycho.optim"

local USAGE = "usage: tycho examples/sine_lstm.lua [--steps N] [--out DIR] [--init FILE.safetensors] "
  .. "[--optim lbfgs|adam] [--waves N] [--length N] [--future N] [--no-plots]"

local function fail(msg)
  io.stderr:write("sine_lstm: ", msg, "\n")
  os.exit(1)
end

local function parse(args)
  local o = { steps = 15, out = ".", optim = "lbfgs", waves = 100, length = 1000, future = 1000, plots = true }
  local numbers = { steps = true, waves = true, length = true, future = true }
  local i = 1
  while i <= #args do
    local a = args[i]
    local name = a:match("^%-%-([%w-]+)$")
    if a == "--no-plots" then
      o.plots = false
    elseif a == "--help" or a == "-h" then
      print(USAGE)
      os.exit(0)
    elseif name and (numbers[name] or name == "out" or name == "init" or name == "optim") then
      local v = args[i + 1]
      if v == nil then fail("--" .. name .. " needs a value\n" .. USAGE) end
      if numbers[name] then
        local n = math.tointeger(tonumber(v))
        if not n or n < 1 then fail(("--%s must be a whole number >= 1 (got %s)"):format(name, v)) end
        o[name] = n
      else
        o[name] = v
      end
      i = i + 1
    else
      fail("unknown argument " .. a .. "\n" .. USAGE)
    end
    i = i + 1
  end
  if o.optim ~= "lbfgs" and o.optim ~= "adam" then fail("--optim must be lbfgs or adam (got " .. o.optim .. ")") end
  if o.waves < 4 then fail("--waves must be at least 4 (3 are the test waves)") end
  if o.length < 3 then fail("--length must be at least 3") end
  return o
end

-- generate_sine_wave.py: x[i, j] = j + shift_i, data = sin(x / 1.0 / T), T = 20
local function sine_waves(n, length)
  tycho.random.seed(2)
  local T = 20
  local shifts = tycho.random.randint(-4 * T, 4 * T, n):view(n, 1)
  local x = tycho.arange(length):view(1, length) + shifts
  return (x / 1.0 / T):sin()
end

local function model_for(o)
  tycho.random.seed(0)
  local model = nn.Sequential { nn.LSTMLayer(1, 51), nn.LSTMLayer(51, 51), nn.AffineLayer(51, 1) }
  if o.init then
    local ok, state = pcall(tycho.load, o.init)
    if not ok then fail(tostring(state)) end
    if type(state) ~= "table" then fail(o.init .. ": not a state_dict (.safetensors or .npz)") end
    local filled, err = pcall(function()
      nn.from_pytorch(model[1], state, "lstm1")
      nn.from_pytorch(model[2], state, "lstm2")
      nn.from_pytorch(model[3], state, "linear")
    end)
    if not filled then fail(o.init .. ": " .. tostring(err)) end
  else
    for i = 1, 3 do model[i]:reset(1 / math.sqrt(51)) end
  end
  return model
end

-- The test waves' outputs over their inputs, then `future` values each fed back as the next
-- input, one forward_step at a time: (3, inputs + future).
local function predict(model, input, future)
  local l1, l2, head = model[1], model[2], model[3]
  local n, t = input:size(1), input:size(2)
  local y = model:forward(input:view(n, t, 1))
  local h1, c1, h2, c2 = l1.h_n, l1.c_n, l2.h_n, l2.c_n
  local out = tycho.empty(n, t + future)
  out:narrow(2, 1, t):copy_(y:view(n, t))
  local last = y:select(2, t)
  for k = 1, future do
    h1, c1 = l1:forward_step(last, h1, c1)
    h2, c2 = l2:forward_step(h1, h2, c2)
    last = head:forward(h2)
    out:select(2, t + k):copy_(last:view(n))
  end
  return out
end

local function main(args)
  local o = parse(args)
  local data = sine_waves(o.waves, o.length)
  local L = o.length
  local input, target = data:narrow(1, 4, o.waves - 3):narrow(2, 1, L - 1), data:narrow(1, 4, o.waves - 3):narrow(2, 2, L - 1)
  local test_input, test_target = data:narrow(1, 1, 3):narrow(2, 1, L - 1), data:narrow(1, 1, 3):narrow(2, 2, L - 1)
  local N, T = input:size(1), input:size(2)
  local x3, y3 = input:contiguous():view(N, T, 1), target:contiguous():view(N, T, 1)
  local model = model_for(o)
  local opt = o.optim == "lbfgs" and optim.LBFGS(model, { lr = 0.8 }) or optim.Adam(model, { lr = 0.01 })
  local train_losses, test_losses = {}, {}
  local function closure()
    local loss, dy = nn.mse_loss(model:forward(x3), y3)
    print(("loss: %.17g"):format(loss))
    train_losses[#train_losses + 1] = loss
    model:backward(dy)
    return loss
  end
  local plot = o.plots and require "tycho.plot"
  if o.plots then os.execute("mkdir -p '" .. o.out:gsub("'", "'\\''") .. "'") end
  local bar = tycho.progress(o.steps, { label = "sine_lstm" })
  for step = 1, o.steps do
    if o.optim == "lbfgs" then
      opt:step(closure)
    else
      for _ = 1, 20 do closure() opt:step() end
    end
    local pred = predict(model, test_input, o.future)
    local test = nn.mse_loss(pred:narrow(2, 1, T), test_target)
    print(("test loss: %.17g"):format(test))
    test_losses[#test_losses + 1] = test
    if plot then
      local series, colors = {}, { "#d62728", "#2ca02c", "#1f77b4" }
      for w = 1, 3 do
        series[#series + 1] = { y = pred[w]:narrow(1, 1, T), color = colors[w], width = 2 }
        series[#series + 1] = { x = tycho.arange(T + 1, T + o.future + 1), y = pred[w]:narrow(1, T + 1, o.future),
                                color = colors[w], width = 2, dashed = true }
      end
      plot.lines(("%s/predict%d.png"):format(o.out, step), series,
        { title = "Predict future values for time sequences (dashed: predicted values)", xlabel = "x", ylabel = "y" })
    end
    bar:update(step, { loss = train_losses[#train_losses], test = test })
  end
  bar:finish()
  if plot then
    local evals = {}
    for i = 1, #train_losses do evals[i] = i end
    local per_step = {}
    for s = 1, #test_losses do per_step[s] = #train_losses * s / #test_losses end
    plot.lines(o.out .. "/loss.png", { { x = evals, y = train_losses, title = "train (each evaluation)" },
                                       { x = per_step, y = test_losses, title = "test (after each step)" } },
      { xlabel = "loss evaluations", ylabel = "MSE", logy = true, title = "sine_lstm" })
  end
end

main(arg or {})
