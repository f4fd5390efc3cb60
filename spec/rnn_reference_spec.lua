-- The optimised RNN (whole-sequence GEMMs, the shifted dW_hh product, the tiny-matrix path,
-- vectorized tanh) against a plain step-by-step reference written with tensor ops, the way
-- the notebook's NumPy code reads, on odd sizes from 1 to 129.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"

-- tanh computed elementwise from exp, independently of the vectorized kernel
local function plain_tanh(m)
  local e = (m * 2):exp()
  return (e - 1) / (e + 1)
end

local function reference(W_ih, W_hh, b, x, h0, dout)
  local N, T, H = x:size(1), x:size(2), W_ih:size(2)
  local h = tycho.zeros(N, T, H)
  local prev = h0
  for t = 1, T do
    local a = x:select(2, t):matmul(W_ih) + prev:matmul(W_hh) + b
    prev = plain_tanh(a:clip(-19, 19))
    h:select(2, t):copy_(prev)
  end
  local dx = tycho.zeros_like(x)
  local dW_ih, dW_hh, db = tycho.zeros_like(W_ih), tycho.zeros_like(W_hh), tycho.zeros_like(b)
  local dnext = tycho.zeros(N, H)
  for t = T, 1, -1 do
    local ht = h:select(2, t)
    local hp = t == 1 and h0 or h:select(2, t - 1)
    local da = (dout:select(2, t) + dnext) * (1 - ht * ht)
    dx:select(2, t):copy_(da:matmul(W_ih.T))
    dW_ih:add_(x:select(2, t).T:matmul(da))
    dW_hh:add_(hp.T:matmul(da))
    db:add_(da:sum(1))
    dnext = da:matmul(W_hh.T)
  end
  return h, dx, dnext, dW_ih, dW_hh, db
end

-- max |a - b| relative to the largest |b| (1 when b is all zeros)
local function close(a, b, tol, what)
  lu.assertEquals(a:shape(), b:shape(), what)
  local scale = math.max(b:abs():max(), 1)
  local err = (a - b):abs():max() / scale
  lu.assertTrue(err <= tol, ("%s: error %g"):format(what, err))
end

local function check(N, T, D, H)
  tycho.random.seed(N * 1000 + T * 100 + D * 10 + H)
  local rnn = nn.RNNLayer(D, H)
  rnn.W_ih = tycho.randn(D, H) * (1 / math.sqrt(D))
  rnn.W_hh = tycho.randn(H, H) * (1 / math.sqrt(H))
  rnn.b = tycho.randn(H) * 0.1
  local x, h0, dout = tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H)
  local h = rnn:forward(x, h0)
  local dx, dh0, dW_ih, dW_hh, db = rnn:backward(dout)
  local rh, rdx, rdh0, rdW_ih, rdW_hh, rdb = reference(rnn.W_ih, rnn.W_hh, rnn.b, x, h0, dout)
  local label = ("N=%d T=%d D=%d H=%d"):format(N, T, D, H)
  close(h, rh, 1e-13, label .. " h")
  close(dx, rdx, 1e-12, label .. " dx")
  close(dh0, rdh0, 1e-12, label .. " dh0")
  close(dW_ih, rdW_ih, 1e-12, label .. " dW_ih")
  close(dW_hh, rdW_hh, 1e-12, label .. " dW_hh")
  close(db, rdb, 1e-12, label .. " db")
  -- one step agrees with the first step of the sequence
  local s1 = rnn:forward_step(x:select(2, 1), h0)
  close(s1, rh:select(2, 1), 1e-13, label .. " forward_step")
end

TestAgainstReference = {}
local sizes = { 1, 3, 7, 33, 129 }
for _, N in ipairs({ 1, 3, 33 }) do
  for _, T in ipairs({ 1, 3, 7 }) do
    for _, H in ipairs(sizes) do
      local D = sizes[(N + T + H) % #sizes + 1]
      TestAgainstReference[("test_N%d_T%d_D%d_H%d"):format(N, T, D, H)] = function() check(N, T, D, H) end
    end
  end
end
TestAgainstReference.test_N129_T33_D129_H33 = function() check(129, 33, 129, 33) end
TestAgainstReference.test_N7_T129_D3_H7 = function() check(7, 129, 3, 7) end
-- big enough that with more than one BLAS thread every product is split between lanes
TestAgainstReference.test_N33_T33_D7_H129 = function() check(33, 33, 7, 129) end
