-- bench/memory.lua: peak resident memory of one forward + backward of the large RNN case,
-- against what the call cannot do without: inputs, outputs, the cached activations and the
-- gradients. Reads VmRSS / VmHWM from /proc/self/status (Linux).
local tycho = require "tycho"
local nn = require "tycho.nn"

local function status(field)
  local f = io.open("/proc/self/status")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  local kb = text:match(field .. ":%s*(%d+)")
  return kb and tonumber(kb) * 1024
end

local N, T, D, H = 64, 50, 256, 512
tycho.random.seed(0)
local rnn = nn.RNNLayer(D, H)
local x, h0, dout = tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H)
-- A first call touches what a process pays once (OpenBLAS's packing buffers, the layer's
-- workspace); the peak of the second call is what each call costs.
rnn:forward(x, h0)
rnn:backward(dout)
collectgarbage()
collectgarbage()
local before = status("VmRSS")
local reset = io.open("/proc/self/clear_refs", "w") -- "5" resets VmHWM to the current RSS
if not before or not reset then print("peak memory: /proc/self/status not available") return end
reset:write("5")
reset:close()
local h = rnn:forward(x, h0)
local dx, dh0, dW_ih, dW_hh, db = rnn:backward(dout)
local inputs = x:numel() + h0:numel() + dout:numel() + rnn.W_ih:numel() + rnn.W_hh:numel() + rnn.b:numel()
local outputs = h:numel() -- h is also the activation cache the backward reads
local grads = dx:numel() + dh0:numel() + dW_ih:numel() + dW_hh:numel() + db:numel()
local needed = (inputs + outputs + grads) * 8
local peak = inputs * 8 + status("VmHWM") - before
print(("peak memory, forward+backward N%d T%d D%d H%d: %.1f MB (inputs + the call's peak growth) over %.1f MB of inputs + outputs/cache + gradients = %.2fx")
  :format(N, T, D, H, peak / 2^20, needed / 2^20, peak / needed))
