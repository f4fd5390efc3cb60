-- examples/sine_lstm.lua end to end on a small version of the data (8 waves of 60 steps):
-- with the PyTorch example's initial weights (spec/fixtures/sine/make_sine.py: PyTorch 1.13,
-- float64, bias_hh folded into bias_ih and frozen), every loss the closure prints and the test
-- loss after each step are PyTorch's to 1e-8; the plots are PNGs; bad options exit 1.
local lu = require "luaunit"
local tycho = require "tycho"
local support = require "spec.support"

local BIN = (os.getenv("TYCHO_BUILD") or "build") .. "/tycho"
local DIR = "spec/fixtures/sine/"
local ASAN = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) ~= nil -- gnuplot would inherit it

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  return d
end

local function numbers(out, pattern)
  local list = {}
  for v in out:gmatch(pattern) do list[#list + 1] = tonumber(v) end
  return list
end

function test_the_first_steps_are_pytorchs()
  local dir = tmpdir()
  local args = { BIN, "examples/sine_lstm.lua", "--steps", "2", "--waves", "8", "--length", "60",
                 "--future", "20", "--init", DIR .. "sine_init.safetensors", "--out", dir }
  if ASAN then args[#args + 1] = "--no-plots" end
  local out, err, code = support.run(args, 300)
  lu.assertEquals(code, 0, err)
  local losses = numbers(out, "\nloss: (%S+)")
  local first = tonumber(out:match("^loss: (%S+)"))
  table.insert(losses, 1, first)
  local want = tycho.load(DIR .. "small_closure_losses.npy"):totable()
  lu.assertEquals(#losses, #want, "closure calls")
  for i = 1, #want do
    lu.assertTrue(math.abs(losses[i] - want[i]) < 1e-8, ("loss %d: %.17g, PyTorch %.17g"):format(i, losses[i], want[i]))
  end
  local tests = numbers(out, "test loss: (%S+)")
  local want_tests = tycho.load(DIR .. "small_test_losses.npy"):totable()
  lu.assertEquals(#tests, 2)
  for i = 1, 2 do lu.assertTrue(math.abs(tests[i] - want_tests[i]) < 1e-8, "test loss " .. i) end
  lu.assertStrContains(err, "sine_lstm") -- the progress line
  if not ASAN then
    for _, f in ipairs { "predict1.png", "predict2.png", "loss.png" } do
      lu.assertEquals(support.slurp(dir .. "/" .. f):sub(1, 8), "\137PNG\r\n\26\n", f)
    end
  end
  os.execute("rm -rf " .. support.q(dir))
end

function test_adam_and_the_default_initialisation_run()
  local out, err, code = support.run({ BIN, "examples/sine_lstm.lua", "--steps", "1", "--waves", "5", "--length",
    "20", "--future", "5", "--optim", "adam", "--no-plots" }, 300)
  lu.assertEquals(code, 0, err)
  local losses = numbers(out, "loss: (%S+)")
  lu.assertEquals(#losses, 21, "20 Adam updates and the test loss")
end

function test_bad_options_exit_1()
  for args, msg in pairs {
    [{ "--optim", "sgd" }] = "--optim must be lbfgs or adam",
    [{ "--steps", "x" }] = "--steps must be a whole number",
    [{ "--bogus" }] = "unknown argument --bogus",
    [{ "--init", "/nonexistent.safetensors" }] = "/nonexistent.safetensors",
    [{ "--init", DIR .. "small_test_losses.npy" }] = "not a state_dict",
  } do
    local words = { BIN, "examples/sine_lstm.lua", "--no-plots" }
    for _, a in ipairs(args) do words[#words + 1] = a end
    local _, err, code = support.run(words, 60)
    lu.assertEquals(code, 1, table.concat(args, " "))
    lu.assertStrContains(err, msg)
  end
end
