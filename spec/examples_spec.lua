-- The examples run as a user runs them (build/tycho examples/NAME.lua) and print the
-- notebook's kind of lines, "<what> error:  <value>", each under its cell's bound: the RNN
-- notebook's as the notebook's own output (its expected arrays carry 8 decimals), the LSTM
-- and GRU cells' under the bounds of their issue (forward 1e-9, numerical gradients 1e-8,
-- backward against expected arrays 1e-12).
local lu = require "luaunit"
local support = require "spec.support"

local BIN = (os.getenv("TYCHO_BUILD") or "build") .. "/tycho"

-- {cell title, label, value} for every error line, in order
local function errors_of(script)
  local out, err, code = support.run({ BIN, script }, 120)
  lu.assertEquals(code, 0, err)
  local rows, cell = {}, nil
  for line in out:gmatch("[^\n]+") do
    cell = line:match("^### (.*)") or cell
    local label, value = line:match("^(.-) error:  (%S+)$")
    if label then rows[#rows + 1] = { cell, label, tonumber(value) } end
  end
  return rows
end

local function bound_of(cell, rules)
  for _, r in ipairs(rules) do if cell:find(r[1], 1, true) then return r[2] end end
  error("no bound for cell " .. cell)
end

local function check(script, rules, count)
  local rows = errors_of(script)
  lu.assertEquals(#rows, count, script)
  for _, r in ipairs(rows) do
    local bound = bound_of(r[1], rules)
    lu.assertTrue(r[3] and r[3] < bound, ("%s, %s: %s error %s (bound %g)"):format(script, r[1], r[2], r[3], bound))
  end
end

function test_rnn_notebook()
  check("examples/rnn_notebook.lua", { { "Forward step", 1e-8 }, { "Forward Pass", 1e-7 },
        { "Backward step", 1e-9 }, { "Backward pass", 1e-12 } }, 12)
end

function test_lstm_notebook()
  check("examples/lstm_notebook.lua", { { "Forward step", 1e-9 }, { "Forward Pass", 1e-9 },
        { "Backward step", 1e-8 }, { "Backward pass", 1e-12 } }, 29)
end

-- The README's training example: the loss falls, and training resumed from its checkpoint
-- ends where training that never stopped does, to the bit.
function test_training_example()
  local out, err, code = support.run({ BIN, "examples/training.lua" }, 120)
  lu.assertEquals(code, 0, err)
  local l300 = tonumber(out:match("after 300 steps: loss ([%d.]+)"))
  local l600 = tonumber(out:match("\nafter 600 steps: loss ([%d.]+)"))
  lu.assertNotNil(l300, out)
  lu.assertTrue(l600 < l300 and l600 < 0.01, out)
  lu.assertStrContains(out, "(the same to the bit)")
end
