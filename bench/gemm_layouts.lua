-- bench/gemm_layouts.lua: `make bench-detail`. OpenBLAS's GFLOP/s (one thread) at the shapes
-- of the large RNN case's products, for each operand layout (N: row-major, T: a transposed
-- view), which is why the backward multiplies by a row-major copy of W_hh^T.
local tycho = require "tycho"

local function best(f, reps)
  local b = math.huge
  for _ = 1, reps do
    local t0 = tycho.clock()
    f()
    b = math.min(b, tycho.clock() - t0)
  end
  return b
end

local shapes = {
  { "step h_t W_hh", 64, 512, 512 },
  { "dW_ih", 256, 512, 512 },
  { "dW_hh", 512, 512, 512 },
  { "dx chunk", 512, 256, 512 },
}
print(("%-14s %-14s %s"):format("product", "M x N x K", "GFLOP/s for NN NT TN TT (best of 10 batches of 20)"))
for _, s in ipairs(shapes) do
  local name, M, N, K = s[1], s[2], s[3], s[4]
  local rates = {}
  for _, ta in ipairs { false, true } do
    for _, tb in ipairs { false, true } do
      local a = ta and tycho.randn(K, M).T or tycho.randn(M, K)
      local b = tb and tycho.randn(N, K).T or tycho.randn(K, N)
      local t = best(function() for _ = 1, 20 do tycho.matmul(a, b) end end, 10)
      rates[#rates + 1] = ("%5.1f"):format(20 * 2 * M * N * K / t / 1e9)
    end
  end
  print(("%-14s %-14s %s"):format(name, ("%dx%dx%d"):format(M, N, K), table.concat(rates, " ")))
end
