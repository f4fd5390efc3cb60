-- The four cells of BLG561E Assignment 4.1 again, for an LSTM and for a GRU layer (PyTorch's
-- gates and equations): forward step, forward pass, backward step checked by numerical
-- gradients, backward pass checked against expected arrays. The inputs and expected values
-- are those of spec/fixtures/lstm and gru, made by independent NumPy code.
local tycho  = require "tycho"
local nn     = require "tycho.nn"
local checks = require "tycho.checks"

-- The backward step's numerical gradients are fourth-order central differences: the
-- fixtures' step cell saturates the GRU's gates, where the notebook's second-order
-- grad_check is off by up to 2e-7 (elementwise) on its smallest entries.
local rel_error, grad_check = checks.rel_error, checks.grad_check4
local np = tycho -- the notebook's np.linspace, np.load

local script = (arg and arg[0]) or debug.getinfo(1, "S").source:gsub("^@", "")
local here = script:match("^(.*)[/\\]") or "."
local function expected(layer, name) return np.load(here .. "/../spec/fixtures/" .. layer .. "/" .. name .. ".npy") end

-- np.linspace(a, b, num=prod(shape)).reshape(shape)
local function lin(a, b, ...)
  local n = 1
  for _, s in ipairs { ... } do n = n * s end
  return np.linspace(a, b, n):reshape(...)
end

-- Python's print(a, b): one space between, floats as repr (shortest round trip).
local function repr(v)
  for p = 15, 17 do
    local s = ("%." .. p .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
end
local function pyprint(label, value) print(label .. " " .. repr(value)) end

for _, kind in ipairs { "LSTM", "GRU" } do
  local lstm = kind == "LSTM"
  local Layer, k, dir = lstm and nn.LSTMLayer or nn.GRULayer, lstm and 4 or 3, lstm and "lstm" or "gru"
  -- the fixtures' weights: one bias b for the LSTM, b_ih and b_hh for the GRU
  local function weights(layer, D, H, wi, wh, b1, b2)
    layer.W_ih = lin(wi[1], wi[2], D, k * H)
    layer.W_hh = lin(wh[1], wh[2], H, k * H)
    if lstm then layer.b = lin(b1[1], b1[2], k * H)
    else layer.b_ih, layer.b_hh = lin(b1[1], b1[2], k * H), lin(b2[1], b2[2], k * H) end
  end

  print(("### %s Layer: Forward step"):format(kind))
  local N, D, H = 3, 4, 5
  local layer = Layer(D, H)
  weights(layer, D, H, { -2.1, 1.3 }, { -0.7, 2.2 }, { 0.3, 0.7 }, { -0.2, 0.5 })
  local x = lin(-0.4, 1.2, N, D)
  local prev_h, prev_c = lin(-0.3, 0.7, N, H), lstm and lin(-0.4, 0.9, N, H) or nil
  local next_h, next_c = layer:forward_step(x, prev_h, prev_c)
  pyprint("next_h error: ", rel_error(expected(dir, "step_next_h"), next_h))
  if lstm then pyprint("next_c error: ", rel_error(expected(dir, "step_next_c"), next_c)) end

  print()
  print(("### %s Forward Pass"):format(kind))
  do
    local N2, T, D2, H2 = 2, 3, 5, 4
    local seq = Layer(D2, H2)
    weights(seq, D2, H2, { -0.2, 0.9 }, { -0.3, 0.6 }, { 0.2, 0.7 }, { -0.1, 0.3 })
    local h = seq:forward(lin(-0.4, 0.6, N2, T, D2), lin(-0.4, 0.8, N2, H2))
    pyprint("h error: ", rel_error(expected(dir, "forward_h"), h))
  end

  print()
  print(("### %s Layer: Backward step"):format(kind))
  do
    local dnext_h, dnext_c = lin(-0.5, 0.6, N, H), lin(-0.3, 0.8, N, H)
    -- the loss the upstream gradients stand for: sum(next_h * dnext_h) (+ sum(next_c * dnext_c))
    local function loss()
      local h, c = layer:forward_step(x, prev_h, prev_c)
      return (h * dnext_h):sum() + (lstm and (c * dnext_c):sum() or 0)
    end
    loss()
    local dx = lstm and layer:backward_step(dnext_h, dnext_c) or layer:backward_step(dnext_h)
    local got = { dx = dx, dprev_h = layer.dprev_H, dprev_c = lstm and layer.dprev_C or nil,
                  dW_ih = layer.dW_ih, dW_hh = layer.dW_hh }
    pyprint("dx error: ", rel_error(grad_check(loss, x), got.dx))
    pyprint("dprev_h error: ", rel_error(grad_check(loss, prev_h), got.dprev_h))
    if lstm then pyprint("dprev_c error: ", rel_error(grad_check(loss, prev_c), got.dprev_c)) end
    pyprint("dWx error: ", rel_error(grad_check(loss, layer.W_ih), got.dW_ih))
    pyprint("dWh error: ", rel_error(grad_check(loss, layer.W_hh), got.dW_hh))
    for _, b in ipairs(layer:parameters()) do
      if b:sub(1, 1) == "b" then
        local db = layer["d" .. b]
        pyprint("d" .. b .. " error: ", rel_error(grad_check(loss, layer[b]), db))
      end
    end
  end

  print()
  print(("### %s Layer: Backward pass"):format(kind))
  do
    local seq = Layer(3, 6)
    for _, p in ipairs(seq:parameters()) do seq[p] = expected(dir, "backward_" .. p) end
    seq:forward(expected(dir, "backward_x"), expected(dir, "backward_h0"))
    local r = { seq:backward(expected(dir, "backward_dout")) }
    local names = { "dx", "dh0", "dW_ih", "dW_hh", table.unpack(seq:parameters(), 3) }
    local labels = { dx = "dx", dh0 = "dh0", dW_ih = "dWx", dW_hh = "dWh" }
    for i, name in ipairs(names) do
      local field = i <= 4 and name or "d" .. name
      pyprint((labels[field] or field) .. " error: ", rel_error(expected(dir, "backward_" .. field), r[i]))
    end
    if lstm then pyprint("dc0 error: ", rel_error(expected(dir, "backward_dc0"), seq.dc0)) end
  end
  print()
end
