-- bench/memory.lua: peak memory of one forward + backward of the large RNN case, against
-- what the call cannot do without: inputs (x, h0, dout, weights), the output h (which is
-- also the activation cache the backward reads) and the five gradients. Counted exactly by
-- the engine's allocator (tycho.engine.memory_peak), so OpenBLAS's own buffers, which a
-- process pays once, are left out.
local tycho = require "tycho"
local nn = require "tycho.nn"

local E = tycho.engine
if not (E and E.memory_peak) then
  print("peak memory: run under the tycho command (tycho.engine is not available)")
  return
end

local N, T, D, H = 64, 50, 256, 512
tycho.random.seed(0)
local rnn = nn.RNNLayer(D, H)
local x, h0, dout = tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H)
collectgarbage()
collectgarbage()
local before = E.memory_used()
E.memory_peak(true)
local h = rnn:forward(x, h0)
local dx, dh0, dW_ih, dW_hh, db = rnn:backward(dout)
local peak = E.memory_peak() - before

local inputs = x:numel() + h0:numel() + dout:numel() + rnn.W_ih:numel() + rnn.W_hh:numel() + rnn.b:numel()
local outputs = h:numel()
local grads = dx:numel() + dh0:numel() + dW_ih:numel() + dW_hh:numel() + db:numel()
local needed = (inputs + outputs + grads) * 8
local total = inputs * 8 + peak
print(("peak memory, forward+backward N%d T%d D%d H%d, %s BLAS thread(s): %.1f MB (inputs + the call's peak) over %.1f MB of inputs + output/cache + gradients = %.2fx")
  :format(N, T, D, H, os.getenv("OPENBLAS_NUM_THREADS") or "?", total / 2^20, needed / 2^20, total / needed))
