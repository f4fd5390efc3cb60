-- BLG561E Assignment 4.1, Recurrent Neural Networks, cell by cell in tycho:
-- the same inputs, the same checks and the same printed lines as the notebook.
local tycho  = require "tycho"
local nn     = require "tycho.nn"
local checks = require "tycho.checks"

local RNNLayer, rel_error, grad_check = nn.RNNLayer, checks.rel_error, checks.grad_check
local np = tycho -- the notebook's np.linspace, np.random, np.load

-- Expected arrays live beside the specs; find them from this script's own location.
local script = (arg and arg[0]) or debug.getinfo(1, "S").source:gsub("^@", "")
local here = script:match("^(.*)[/\\]") or "."
local expected_dir = here .. "/../spec/fixtures/notebook/"

-- Python's print(a, b): one space between, floats as repr (shortest round trip).
local function repr(v)
  if math.type(v) ~= "float" then return tostring(v) end
  for p = 15, 17 do
    local s = ("%." .. p .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
end
local function pyprint(label, value) print(label .. " " .. repr(value)) end

print("### RNN Layer: Forward step (5 points)")
do
  local N, D, H = 3, 10, 4
  local rnn = RNNLayer(3, 3)
  local x = np.linspace(-0.4, 0.7, N*D):reshape(N, D)
  local prev_h = np.linspace(-0.2, 0.5, N*H):reshape(N, H)
  rnn.W_ih = np.linspace(-0.1, 0.9, D*H):reshape(D, H)
  rnn.W_hh = np.linspace(-0.3, 0.7, H*H):reshape(H, H)
  rnn.b = np.linspace(-0.2, 0.4, H)

  local next_h = rnn:forward_step(x, prev_h)
  local expected_next_h = tycho.tensor{
    {-0.58172089, -0.50182032, -0.41232771, -0.31410098},
    { 0.66854692,  0.79562378,  0.87755553,  0.92795967},
    { 0.97934501,  0.99144213,  0.99646691,  0.99854353}}

  pyprint("next_h error: ", rel_error(expected_next_h, next_h))
end

print()
print("### RNN Forward Pass (5 points)")
do
  local N, T, D, H = 2, 3, 4, 5
  local rnn = RNNLayer(4, 5)
  local x = np.linspace(-0.1, 0.3, N*T*D):reshape(N, T, D)
  local prev_h = np.linspace(-0.3, 0.1, N*H):reshape(N, H)
  rnn.W_ih = np.linspace(-0.2, 0.4, D*H):reshape(D, H)
  rnn.W_hh = np.linspace(-0.4, 0.1, H*H):reshape(H, H)
  rnn.b = np.linspace(-0.7, 0.1, H)

  local h = rnn:forward(x, prev_h)
  local expected_h = tycho.tensor{
    {
      {-0.42070749, -0.27279261, -0.11074945,  0.05740409,  0.22236251},
      {-0.39525808, -0.22554661, -0.0409454,   0.14649412,  0.32397316},
      {-0.42305111, -0.24223728, -0.04287027,  0.15997045,  0.35014525},
    },
    {
      {-0.55857474, -0.39065825, -0.19198182,  0.02378408,  0.23735671},
      {-0.27150199, -0.07088804,  0.13562939,  0.33099728,  0.50158768},
      {-0.51014825, -0.30524429, -0.06755202,  0.17806392,  0.40333043}}}
  pyprint("h error: ", rel_error(expected_h[1], h[1]))
end

print()
print("### RNN Layer: Backward step (5 points)")
do
  np.random.seed(1)
  local N, D, H = 4, 5, 6
  local rnn = RNNLayer(D, H)

  local x = np.linspace(-0.4, 0.7, N*D):reshape(N, D)
  local prev_H = np.linspace(-0.2, 0.5, N*H):reshape(N, H)
  rnn.W_ih = np.linspace(-0.1, 0.9, D*H):reshape(D, H)
  rnn.W_hh = np.linspace(-0.3, 0.7, H*H):reshape(H, H)
  rnn.b = np.linspace(-0.2, 0.4, H)
  -- (the notebook's rnn.x = [x] fed its Python layer's cache; tycho's layer keeps
  -- forward_step's x itself, and a field it does not have is an error)
  local out = rnn:forward_step(x, prev_H)

  local dnext_h = np.linspace(-0.2, 0.4, N*H):reshape(N, H)

  local dx = rnn:backward_step(prev_H, dnext_h)
  local dprev_h = rnn.dprev_H
  local dW_ih = rnn.dW_ih
  local dW_hh = rnn.dW_hh
  local db = rnn.db
  local f = function(_) return rnn:forward_step(x, prev_H) end

  local dx_num = grad_check(f, x, dnext_h)
  local dprev_h_num = grad_check(f, prev_H, dnext_h)
  local dW_ih_num = grad_check(f, rnn.W_ih, dnext_h)
  local dW_hh_num = grad_check(f, rnn.W_hh, dnext_h)
  local db_num = grad_check(f, rnn.b, dnext_h)

  pyprint("dx error: ", rel_error(dx_num, dx))
  pyprint("dprev_h error: ", rel_error(dprev_h_num, dprev_h))
  pyprint("dWx error: ", rel_error(dW_ih_num, dW_ih))
  pyprint("dWh error: ", rel_error(dW_hh_num, dW_hh))
  pyprint("db error: ", rel_error(db_num, db))
  local _ = out
end

print()
print("### RNNLayer: Backward pass (5 points)")
do
  np.random.seed(1)

  local N, D, T, H = 2, 10, 5, 5
  local rnn = RNNLayer(D, H)

  local x = np.linspace(-0.4, 0.7, N*D*T):reshape(N, T, D)
  local h = np.linspace(-0.2, 0.5, N*H):reshape(N, H)
  rnn.W_ih = np.linspace(-0.1, 0.9, D*H):reshape(D, H)
  rnn.W_hh = np.linspace(-0.3, 0.7, H*H):reshape(H, H)
  rnn.b = np.linspace(-0.2, 0.4, H)

  local out = rnn:forward(x, h)

  local dout = np.linspace(-0.2, 0.4, N*H*T):reshape(N, T, H)

  local dx, dh, dWx, dWh, db = rnn:backward(dout)

  local dx_num = np.load(expected_dir .. "dx.npy")
  local dh0_num = np.load(expected_dir .. "dh0.npy")
  local dWx_num = np.load(expected_dir .. "dW_ih.npy")
  local dWh_num = np.load(expected_dir .. "dW_hh.npy")
  local db_num = np.load(expected_dir .. "db.npy")

  pyprint("dx error: ", rel_error(dx_num, dx))
  pyprint("dh0 error: ", rel_error(dh0_num, dh))
  pyprint("dWx error: ", rel_error(dWx_num, dWx))
  pyprint("dWh error: ", rel_error(dWh_num, dWh))
  pyprint("db error: ", rel_error(db_num, db))
  local _ = out
end
