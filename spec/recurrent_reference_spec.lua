-- The optimised LSTM and GRU (whole-sequence GEMMs, the one-pass step, the packed product,
-- the lanes, the chunked backward) on every path a layer can take, against plain
-- step-by-step references written with tensor ops from PyTorch's equations, on odd sizes
-- from 1 to 129. (The RNN's own reference is rnn_reference_spec.lua; its paths are here.)
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"

-- sigmoid and tanh computed elementwise from exp, independently of the vectorized kernels
local function plain_sigmoid(m) return 1 / ((-m):clip(-700, 700):exp() + 1) end
local function plain_tanh(m)
  local e = (m:clip(-19, 19) * 2):exp()
  return (e - 1) / (e + 1)
end

local function cols(m, k, H) return m:narrow(2, k * H + 1, H) end

-- LSTM: gates i, f, g, o; c' = f c + i g; h' = o tanh(c')
local function lstm_reference(W_ih, W_hh, b, x, h0, c0, dout)
  local N, T, H = x:size(1), x:size(2), W_hh:size(1)
  local h, c, gates = tycho.zeros(N, T, H), tycho.zeros(N, T, H), {}
  local ph, pc = h0, c0
  for t = 1, T do
    local a = x:select(2, t):matmul(W_ih) + ph:matmul(W_hh) + b
    local i, f = plain_sigmoid(cols(a, 0, H)), plain_sigmoid(cols(a, 1, H))
    local g, o = plain_tanh(cols(a, 2, H)), plain_sigmoid(cols(a, 3, H))
    pc = f * pc + i * g
    ph = o * plain_tanh(pc)
    gates[t] = { i, f, g, o }
    h:select(2, t):copy_(ph)
    c:select(2, t):copy_(pc)
  end
  local dx, dW_ih, dW_hh, db = tycho.zeros_like(x), tycho.zeros_like(W_ih), tycho.zeros_like(W_hh), tycho.zeros_like(b)
  local dh, dc = tycho.zeros(N, H), tycho.zeros(N, H)
  for t = T, 1, -1 do
    local i, f, g, o = table.unpack(gates[t])
    local tc = plain_tanh(c:select(2, t))
    local cp = t == 1 and c0 or c:select(2, t - 1)
    local hp = t == 1 and h0 or h:select(2, t - 1)
    local d = dout:select(2, t) + dh
    local dct = dc + d * o * (1 - tc * tc)
    local da = tycho.zeros(N, 4 * H)
    cols(da, 0, H):copy_(dct * g * i * (1 - i))
    cols(da, 1, H):copy_(dct * cp * f * (1 - f))
    cols(da, 2, H):copy_(dct * i * (1 - g * g))
    cols(da, 3, H):copy_(d * tc * o * (1 - o))
    dx:select(2, t):copy_(da:matmul(W_ih.T))
    dW_ih:add_(x:select(2, t).T:matmul(da))
    dW_hh:add_(hp.T:matmul(da))
    db:add_(da:sum(1))
    dh = da:matmul(W_hh.T)
    dc = dct * f
  end
  return h, { dx, dh, dW_ih, dW_hh, db }, dc
end

-- GRU: r, z, n = tanh(x W_in + b_in + r (h W_hn + b_hn)); h' = (1 - z) n + z h
local function gru_reference(W_ih, W_hh, b_ih, b_hh, x, h0, dout)
  local N, T, H = x:size(1), x:size(2), W_hh:size(1)
  local h, saved = tycho.zeros(N, T, H), {}
  local ph = h0
  for t = 1, T do
    local gx = x:select(2, t):matmul(W_ih) + b_ih
    local gh = ph:matmul(W_hh) + b_hh
    local r = plain_sigmoid(cols(gx, 0, H) + cols(gh, 0, H))
    local z = plain_sigmoid(cols(gx, 1, H) + cols(gh, 1, H))
    local n = plain_tanh(cols(gx, 2, H) + r * cols(gh, 2, H))
    saved[t] = { r, z, n, cols(gh, 2, H) }
    ph = (1 - z) * n + z * ph
    h:select(2, t):copy_(ph)
  end
  local dx, dW_ih, dW_hh = tycho.zeros_like(x), tycho.zeros_like(W_ih), tycho.zeros_like(W_hh)
  local db_ih, db_hh = tycho.zeros_like(b_ih), tycho.zeros_like(b_hh)
  local dh = tycho.zeros(N, H)
  for t = T, 1, -1 do
    local r, z, n, hn = table.unpack(saved[t])
    local hp = t == 1 and h0 or h:select(2, t - 1)
    local d = dout:select(2, t) + dh
    local dan = d * (1 - z) * (1 - n * n)
    local dgx, dgh = tycho.zeros(N, 3 * H), tycho.zeros(N, 3 * H)
    local dar, daz = dan * hn * r * (1 - r), d * (hp - n) * z * (1 - z)
    for _, m in ipairs { dgx, dgh } do
      cols(m, 0, H):copy_(dar)
      cols(m, 1, H):copy_(daz)
    end
    cols(dgx, 2, H):copy_(dan)
    cols(dgh, 2, H):copy_(dan * r)
    dx:select(2, t):copy_(dgx:matmul(W_ih.T))
    dW_ih:add_(x:select(2, t).T:matmul(dgx))
    dW_hh:add_(hp.T:matmul(dgh))
    db_ih:add_(dgx:sum(1))
    db_hh:add_(dgh:sum(1))
    dh = d * z + dgh:matmul(W_hh.T)
  end
  return h, { dx, dh, dW_ih, dW_hh, db_ih, db_hh }
end

local function rnn_reference(W_ih, W_hh, b, x, h0, dout)
  local N, T, H = x:size(1), x:size(2), W_hh:size(1)
  local h, ph = tycho.zeros(N, T, H), h0
  for t = 1, T do
    ph = plain_tanh(x:select(2, t):matmul(W_ih) + ph:matmul(W_hh) + b)
    h:select(2, t):copy_(ph)
  end
  local dx, dW_ih, dW_hh, db = tycho.zeros_like(x), tycho.zeros_like(W_ih), tycho.zeros_like(W_hh), tycho.zeros_like(b)
  local dh = tycho.zeros(N, H)
  for t = T, 1, -1 do
    local ht, hp = h:select(2, t), t == 1 and h0 or h:select(2, t - 1)
    local da = (dout:select(2, t) + dh) * (1 - ht * ht)
    dx:select(2, t):copy_(da:matmul(W_ih.T))
    dW_ih:add_(x:select(2, t).T:matmul(da))
    dW_hh:add_(hp.T:matmul(da))
    db:add_(da:sum(1))
    dh = da:matmul(W_hh.T)
  end
  return h, { dx, dh, dW_ih, dW_hh, db }
end

-- max |a - b| relative to the largest |b| (1 when b is all zeros)
local function close(a, b, tol, what)
  lu.assertEquals(a:shape(), b:shape(), what)
  local scale = math.max(b:abs():max(), 1)
  local err = (a - b):abs():max() / scale
  lu.assertTrue(err <= tol, ("%s: error %g"):format(what, err))
end

local PATHS = { "auto", "blas", "steps", 1, 2, 3 }

local function check(kind, N, T, D, H)
  tycho.random.seed(N * 1000 + T * 100 + D * 10 + H)
  local l = nn[kind](D, H)
  for _, p in ipairs(l:parameters()) do
    local shape = l[p]:shape()
    l[p] = tycho.randn(table.unpack(shape)) * (#shape == 2 and 1 / math.sqrt(shape[1]) or 0.1)
  end
  local x, h0, dout = tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H)
  local c0 = kind == "LSTMLayer" and tycho.randn(N, H) or nil
  local rh, rg, rdc0
  if kind == "LSTMLayer" then rh, rg, rdc0 = lstm_reference(l.W_ih, l.W_hh, l.b, x, h0, c0, dout)
  elseif kind == "GRULayer" then rh, rg = gru_reference(l.W_ih, l.W_hh, l.b_ih, l.b_hh, x, h0, dout)
  else rh, rg = rnn_reference(l.W_ih, l.W_hh, l.b, x, h0, dout) end
  for _, path in ipairs(PATHS) do
    l.path = path
    local label = ("%s N=%d T=%d D=%d H=%d path %s"):format(kind, N, T, D, H, path)
    close(l:forward(x, h0, c0), rh, 1e-13, label .. " h")
    local g = { l:backward(dout) }
    local names = { "dx", "dh0", table.unpack(l:parameters()) }
    for i = 1, #rg do close(g[i], rg[i], 1e-12, label .. " " .. (i <= 2 and names[i] or "d" .. names[i])) end
    if rdc0 then close(l.dc0, rdc0, 1e-12, label .. " dc0") end
  end
end

TestAgainstReference = {}
local sizes = { 1, 3, 7, 33, 129 }
for _, kind in ipairs { "LSTMLayer", "GRULayer", "RNNLayer" } do
  for _, N in ipairs { 1, 3, 33 } do
    for _, T in ipairs { 1, 3, 7 } do
      for _, H in ipairs(sizes) do
        local D = sizes[(N + T + H) % #sizes + 1]
        TestAgainstReference[("test_%s_N%d_T%d_D%d_H%d"):format(kind, N, T, D, H)] = function()
          check(kind, N, T, D, H)
        end
      end
    end
  end
  -- long sequences: the packed products and, on 2 and 3 lanes, every product split
  TestAgainstReference[("test_%s_N129_T33_D129_H33"):format(kind)] = function() check(kind, 129, 33, 129, 33) end
  TestAgainstReference[("test_%s_N7_T129_D3_H7"):format(kind)] = function() check(kind, 7, 129, 3, 7) end
  TestAgainstReference[("test_%s_N33_T33_D7_H129"):format(kind)] = function() check(kind, 33, 33, 7, 129) end
end
