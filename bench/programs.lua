-- bench/programs.lua: the two programs' steps (`make bench`), tycho beside PyTorch 1.13 in
-- float64 (the same model, the same math) and in float32, one BLAS thread: a char-rnn training
-- step (examples/char_rnn.lua's model and step: Embedding 96x64, LSTM 64->128->128, affine
-- 128->96, softmax loss, clip 5, Adam; batch 50, seq 50) and the first LBFGS step of
-- examples/sine_lstm.lua on the full data (97 waves of 999 steps; 20 evaluations), both sides
-- from PyTorch's initial weights. The LBFGS step is timed once per side (about 10 s and 40 s).
package.path = "bench/?.lua;" .. package.path
local tycho = require "tycho"
local nn = require "tycho.nn"
local optim = require "tycho.optim"
local harness = require "harness"
local fmt = harness.fmt_time

local PY = "/usr/bin/python3"
local only = arg[1]

local function torch_time(case, dtype)
  local p = io.popen(("%s bench/programs_torch.py %s %s 2>/dev/null"):format(PY, case, dtype))
  local out = p:read("a")
  p:close()
  return tonumber(out:match("%S+%s+(%S+)"))
end

local rows = {}

if not only or only == "charrnn" then
  local C = assert(loadfile("examples/char_rnn.lua"))("--module")
  local o = { model = "lstm", layers = 2, hidden = 128, embed = 64, dropout = 0 }
  tycho.random.seed(0)
  local m = C.model(o, 96)
  local opt = optim.Adam(m, { lr = 2e-3 })
  local x, y = tycho.random.randint(1, 97, 50, 50), tycho.random.randint(1, 97, 50, 50)
  local s = C.zero_state(m, 50)
  local med = harness.time(function() C.train_step(m, opt, x, y, s, 5) end, 1.0)
  rows[#rows + 1] = { "charrnn_train_step_N50_T50", med, torch_time("charrnn", "float64"), torch_time("charrnn", "float32") }
end

if not only or only == "sine" then
  -- examples/sine_lstm.lua's data, model and closure
  tycho.random.seed(2)
  local shifts = tycho.random.randint(-80, 80, 100):view(100, 1)
  local data = ((tycho.arange(1000):view(1, 1000) + shifts) / 1.0 / 20):sin()
  local x = data:narrow(1, 4, 97):narrow(2, 1, 999):contiguous():view(97, 999, 1)
  local y = data:narrow(1, 4, 97):narrow(2, 2, 999):contiguous():view(97, 999, 1)
  local model = nn.Sequential { nn.LSTMLayer(1, 51), nn.LSTMLayer(51, 51), nn.AffineLayer(51, 1) }
  local state = tycho.load("spec/fixtures/sine/sine_init.safetensors")
  nn.from_pytorch(model[1], state, "lstm1")
  nn.from_pytorch(model[2], state, "lstm2")
  nn.from_pytorch(model[3], state, "linear")
  local opt = optim.LBFGS(model, { lr = 0.8 })
  local t0 = tycho.clock()
  opt:step(function()
    local loss, d = nn.mse_loss(model:forward(x), y)
    model:backward(d)
    return loss
  end)
  rows[#rows + 1] = { "sine_lbfgs_step_97x999", tycho.clock() - t0, torch_time("sine", "float64"), torch_time("sine", "float32") }
end

print(("%-28s %12s %14s %8s %14s %8s"):format("program step (1 thread)", "tycho f64", "PyTorch f64", "ratio",
  "PyTorch f32", "ratio"))
for _, r in ipairs(rows) do
  local function ratio(t) return t and ("%.2fx"):format(t / r[2]) or "-" end
  print(("%-28s %12s %14s %8s %14s %8s"):format(r[1], fmt(r[2]), r[3] and fmt(r[3]) or "-", ratio(r[3]),
    r[4] and fmt(r[4]) or "-", ratio(r[4])))
end
