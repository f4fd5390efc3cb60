-- bench/run.lua: `make bench`. Times tycho on each case, runs the same cases in NumPy and
-- PyTorch (bench/numpy_ref.py, bench/torch_ref.py under /usr/bin/python3) when they are
-- installed, and prints one table with medians, GFLOP/s and the ratios.
package.path = "bench/?.lua;" .. package.path
local tycho = require "tycho"
local nn = require "tycho.nn"
local harness = require "harness"

local threads = os.getenv("OPENBLAS_NUM_THREADS") or "?"
local only = arg[1]

-- Flops of forward + backward of the RNN: 3 products of 2*N*T*(D*H + H*H) each.
local function rnn_flops(N, T, D, H) return 3 * 2 * N * T * (D * H + H * H) end

local function rnn_case(N, T, D, H)
  tycho.random.seed(0)
  local rnn = nn.RNNLayer(D, H)
  rnn.W_ih = tycho.randn(D, H) * 0.01
  rnn.W_hh = tycho.randn(H, H) * 0.01
  local x, h0, dout = tycho.randn(N, T, D), tycho.randn(N, H), tycho.randn(N, T, H)
  return function()
    rnn:forward(x, h0)
    rnn:backward(dout)
  end
end

-- forward + backward of a stack of LSTM or GRU layers (the first D to H, the others H to H)
local function gated_case(kind, N, T, D, H, layers)
  tycho.random.seed(0)
  local stack = {}
  for k = 1, layers or 1 do
    local l = nn[kind](k == 1 and D or H, H)
    l.W_ih:mul_(0.01)
    l.W_hh:mul_(0.01)
    stack[k] = l
  end
  local x, dout = tycho.randn(N, T, D), tycho.randn(N, T, H)
  local h0 = {}
  for k = 1, #stack do h0[k] = tycho.randn(N, H) end
  return function()
    local y = x
    for k, l in ipairs(stack) do y = l:forward(y, h0[k]) end
    local d = dout
    for k = #stack, 1, -1 do d = stack[k]:backward(d) end
  end
end

local function optim_case(name, opts)
  tycho.random.seed(0)
  local layer = { W = tycho.randn(1000000), dW = tycho.randn(1000000),
    parameters = function() return { "W" } end, forward = function() end }
  local opt = require("tycho.optim")[name](layer, opts)
  return function() opt:step() end
end

-- Temporary .npy files of the file cases, removed at the end.
local temp_files = {}
local function temp_path()
  temp_files[#temp_files + 1] = os.tmpname()
  return temp_files[#temp_files]
end

-- a + b on 10^e elements: where the collector's cost per temporary shows, up to memory speed
local function add_case(e)
  return { ("add_1e%d"):format(e), nil, function()
      local a, b = tycho.randn(10 ^ e // 1), tycho.randn(10 ^ e // 1)
      return function() local _ = a + b end
    end }
end

-- Elementwise functions on 1e6 elements drawn uniformly from each one's domain
-- (bench/function_domains.txt, which the baselines read too).
local FUNCTIONS = {}
for line in io.lines("bench/function_domains.txt") do
  if not line:match("^#") then
    local name, lo, hi = line:match("^(%S+) (%S+) (%S+)$")
    FUNCTIONS[#FUNCTIONS + 1] = { name, assert(tonumber(lo), line), assert(tonumber(hi), line) }
  end
end
local function function_case(name, lo, hi)
  return { name .. "_1e6", nil, function()
      local a = tycho.rand(1000000) * (hi - lo) + lo
      return function() local _ = a[name](a) end
    end }
end

local cases = {
  { "rnn_step_N3_D10_H4", nil, function()
      local rnn = nn.RNNLayer(10, 4)
      local x, h = tycho.rand(3, 10), tycho.rand(3, 4)
      return function() rnn:forward_step(x, h) end
    end },
  { "rnn_fwd_bwd_N2_T5_D10_H5", rnn_flops(2, 5, 10, 5), function() return rnn_case(2, 5, 10, 5) end },
  { "rnn_fwd_bwd_N64_T50_D256_H512", rnn_flops(64, 50, 256, 512),
    function() return rnn_case(64, 50, 256, 512) end },
  { "lstm_step_N3_D10_H4", nil, function()
      local l = nn.LSTMLayer(10, 4)
      local x, h, c = tycho.rand(3, 10), tycho.rand(3, 4), tycho.rand(3, 4)
      return function() l:forward_step(x, h, c) end
    end },
  { "gru_step_N3_D10_H4", nil, function()
      local l = nn.GRULayer(10, 4)
      local x, h = tycho.rand(3, 10), tycho.rand(3, 4)
      return function() l:forward_step(x, h) end
    end },
  -- flops: an LSTM's products are 4 RNNs' (its gates), a GRU's 3
  { "lstm_fwd_bwd_N64_T50_D256_H512", 4 * rnn_flops(64, 50, 256, 512),
    function() return gated_case("LSTMLayer", 64, 50, 256, 512) end },
  { "gru_fwd_bwd_N64_T50_D256_H512", 3 * rnn_flops(64, 50, 256, 512),
    function() return gated_case("GRULayer", 64, 50, 256, 512) end },
  -- char-rnn's size: two stacked layers of 128 over 64-wide inputs
  { "charrnn_lstm2_N50_T50_D64_H128", 4 * (rnn_flops(50, 50, 64, 128) + rnn_flops(50, 50, 128, 128)),
    function() return gated_case("LSTMLayer", 50, 50, 64, 128, 2) end },
  { "dgemm_3200x512x512", 2 * 3200 * 512 * 512, function()
      local a, b = tycho.randn(3200, 512), tycho.randn(512, 512)
      return function() tycho.matmul(a, b) end
    end },
  { "matmul_512", 2 * 512 ^ 3, function()
      local a, b = tycho.randn(512, 512), tycho.randn(512, 512)
      return function() tycho.matmul(a, b) end
    end },
  add_case(3), add_case(4), add_case(5), add_case(6),
  { "mul_scalar_1e6", nil, function()
      local a = tycho.randn(1000000)
      return function() local _ = a * 2.5 end
    end },
  { "tanh_1e6", nil, function()
      local a = tycho.randn(1000000)
      return function() local _ = a:tanh() end
    end },
  { "sum_1e6", nil, function()
      local a = tycho.randn(1000000)
      return function() local _ = a:sum() end
    end },
  { "prod_1e6", nil, function()
      local a = tycho.rand(1000000) * 0.002 + 0.999
      return function() local _ = a:prod() end
    end },
  { "var_1e6", nil, function()
      local a = tycho.randn(1000000)
      return function() local _ = a:var() end
    end },
  { "std_1000x1000_d2", nil, function()
      local a = tycho.randn(1000, 1000)
      return function() local _ = a:std(2) end
    end },
  { "cumsum_1e6", nil, function()
      local a = tycho.randn(1000000)
      return function() local _ = a:cumsum() end
    end },
  { "cumprod_1e6", nil, function()
      local a = tycho.rand(1000000) * 0.002 + 0.999
      return function() local _ = a:cumprod() end
    end },
  { "sort_1e6", nil, function()
      local a = tycho.randn(1000000)
      return function() local _ = a:sort() end
    end },
  { "softmax_1000x1000", nil, function()
      local a = tycho.randn(1000, 1000)
      return function() local _ = a:softmax(2) end
    end },
  { "slice_1000x1000", nil, function()
      local a = tycho.randn(1000, 1000)
      return function() local _ = a[{ { 2, 500 }, { 1, 1000, 2 } }] end
    end },
  { "mask_1000x1000", nil, function()
      local a = tycho.randn(1000, 1000)
      local m = a:gt(0)
      return function() local _ = a[m] end
    end },
  { "cat_100x100x100", nil, function()
      local parts = {}
      for i = 1, 100 do parts[i] = tycho.randn(100, 100) end
      return function() local _ = tycho.cat(parts, 1) end
    end },
  { "add_broadcast_1000x1000", nil, function()
      local a, b = tycho.randn(1000, 1000), tycho.randn(1000)
      return function() local _ = a + b end
    end },
  { "npy_save_1e6", nil, function()
      local a, path = tycho.randn(1000, 1000), temp_path()
      return function() tycho.save(path, a) end
    end },
  { "npy_load_1e6", nil, function()
      local path = temp_path()
      tycho.save(path, tycho.randn(1000, 1000))
      return function() tycho.load(path) end
    end },
  -- one optimizer step on a parameter of 1e6 elements (its gradient fixed), as opt.step()
  { "optim_sgd_momentum_1e6", nil, function() return optim_case("SGD", { lr = 1e-3, momentum = 0.9 }) end },
  { "optim_adam_1e6", nil, function() return optim_case("Adam", { lr = 1e-3 }) end },
}
-- the functions' rows go after tanh's
do
  local at
  for i, c in ipairs(cases) do if c[1] == "tanh_1e6" then at = i end end
  for k, f in ipairs(FUNCTIONS) do table.insert(cases, at + k, function_case(f[1], f[2], f[3])) end
end

-- A baseline run of one case: the script prints "case median lo hi".
local PY = "/usr/bin/python3"
local function have_python()
  local f = io.open(PY, "r")
  if f then f:close() end
  return f ~= nil
end

local function baseline(script, case)
  local p = io.popen(("%s bench/%s %s 2>/dev/null"):format(PY, script, case))
  local med
  for line in p:lines() do
    local name, m = line:match("^(%S+)%s+(%S+)")
    if name == case then med = tonumber(m) end
  end
  p:close()
  return med
end

local function median(xs)
  local t = {}
  for _, v in ipairs(xs) do t[#t + 1] = v end
  if #t == 0 then return nil end
  table.sort(t)
  local m = #t
  return m % 2 == 1 and t[(m + 1) // 2] or (t[m // 2] + t[m // 2 + 1]) / 2
end

-- Each case runs in tycho, NumPy and PyTorch back to back, for several rounds. The machine's
-- speed drifts from one second to the next, so a ratio is taken within each round and the
-- table gives the median of those ratios; the times are medians over the rounds.
local rounds = tonumber(os.getenv("BENCH_ROUNDS") or "5")
local python = have_python()
local results = {}
local fns = {}
for _, c in ipairs(cases) do
  if not only or c[1]:find(only, 1, true) then
    local r = { name = c[1], flops = c[2], tycho = {}, numpy = {}, torch = {}, np_ratio = {},
                th_ratio = {}, lo = math.huge, hi = 0 }
    local fn = c[3]()
    for round = 1, rounds do
      -- tycho goes first in odd rounds and last in even ones, so neither side always
      -- follows the other's process
      local np_t, th_t
      if python and round % 2 == 0 then
        np_t, th_t = baseline("numpy_ref.py", c[1]), baseline("torch_ref.py", c[1])
      end
      local med, lo, hi = harness.time(fn, 0.3)
      r.tycho[#r.tycho + 1] = med
      r.lo, r.hi = math.min(r.lo, lo), math.max(r.hi, hi)
      collectgarbage()
      if python and round % 2 == 1 then
        np_t, th_t = baseline("numpy_ref.py", c[1]), baseline("torch_ref.py", c[1])
      end
      r.numpy[#r.numpy + 1], r.torch[#r.torch + 1] = np_t, th_t
      if np_t then r.np_ratio[#r.np_ratio + 1] = np_t / med end
      if th_t then r.th_ratio[#r.th_ratio + 1] = th_t / med end
    end
    r.med = median(r.tycho)
    results[#results + 1] = r
    if c[1] == "rnn_fwd_bwd_N64_T50_D256_H512" or c[1] == "dgemm_3200x512x512" then
      fns[c[1]] = { fn = fn, flops = c[2] } -- kept for the roofline rounds below
    end
    collectgarbage()
  end
end

-- The large RNN against DGEMM, the roofline: the two alternate within each round.
local roofline
local rnn_big, gemm = fns.rnn_fwd_bwd_N64_T50_D256_H512, fns.dgemm_3200x512x512
if rnn_big and gemm then
  roofline = {}
  for _ = 1, rounds do
    local t_rnn = harness.time(rnn_big.fn, 0.3)
    local t_gemm = harness.time(gemm.fn, 0.3)
    roofline[#roofline + 1] = (rnn_big.flops / t_rnn) / (gemm.flops / t_gemm)
  end
end
fns = nil
collectgarbage()
for _, f in ipairs(temp_files) do os.remove(f) end

-- The machine: the FMA peak (bench/fma_peak.c, built by make bench) on one thread and on the
-- threads of this run, and the core OpenBLAS runs on each side, under the same environment.
local peaks, isa = {}, "?"
local peak_bin = os.getenv("BENCH_FMA_PEAK")
local nthreads = tonumber(threads) or 1
if peak_bin then
  local p = io.popen(("%s 1 %d 2>/dev/null"):format(peak_bin, nthreads))
  for line in p:lines() do
    local i, n, g = line:match("^fma_peak (%S+) (%d+) (%S+)")
    if i then isa, peaks[tonumber(n)] = i, tonumber(g) end
  end
  p:close()
end
local function core_of(script)
  if not python then return "n/a" end
  local p = io.popen(("cd bench && %s %s --core 2>/dev/null"):format(PY, script))
  local out = p:read("a")
  p:close()
  return out:match("^core (%S+)") or "n/a"
end
local env_core, env_l2 = os.getenv("OPENBLAS_CORETYPE"), os.getenv("OPENBLAS_L2_SIZE")

local T = harness.fmt_time
print(("tycho %s, OPENBLAS_NUM_THREADS=%s (the baselines pin the same count), %d rounds; times are " ..
  "medians over the rounds, ratios medians of the per-round ratios"):format(tycho.version, threads, rounds))
print(("OpenBLAS core: tycho %s, NumPy %s, PyTorch %s; OPENBLAS_CORETYPE=%s, OPENBLAS_L2_SIZE=%s%s")
  :format(tycho.blas().core, core_of("numpy_ref.py"), core_of("torch_ref.py"), env_core or "(unset)",
          env_l2 or "(unset)", (env_core or env_l2) and " (make bench BLAS_CORE=native unsets both)" or ""))
if peaks[1] then
  print(("FMA peak (%s, independent chains): %.1f GFLOP/s on 1 thread%s; 'peak' is a row's share of " ..
    "the peak of %d thread%s"):format(isa, peaks[1],
    nthreads > 1 and peaks[nthreads] and (", %.1f on %d"):format(peaks[nthreads], nthreads) or "",
    nthreads, nthreads > 1 and "s" or ""))
end
local peak = peaks[nthreads]
print(("| %-30s | %-24s | %-7s | %-5s | %-9s | %-8s | %-9s | %-8s |"):format("case", "tycho median (range)",
  "GFLOP/s", "peak", "NumPy", "NumPy/ty", "PyTorch", "Torch/ty"))
print("|" .. ("-"):rep(32) .. "|" .. ("-"):rep(26) .. "|" .. ("-"):rep(9) .. "|" .. ("-"):rep(7) .. "|" ..
  ("-"):rep(11) .. "|" .. ("-"):rep(10) .. "|" .. ("-"):rep(11) .. "|" .. ("-"):rep(10) .. "|")
local missing = false
for _, r in ipairs(results) do
  local gf = r.flops and ("%.1f"):format(r.flops / r.med / 1e9) or "-"
  local of_peak = r.flops and peak and ("%.2f"):format(r.flops / r.med / 1e9 / peak) or "-"
  local np_t, th_t = median(r.numpy), median(r.torch)
  local np_r, th_r = median(r.np_ratio), median(r.th_ratio)
  missing = missing or not np_t
  print(("| %-30s | %-24s | %7s | %5s | %9s | %8s | %9s | %8s |"):format(r.name,
    ("%s (%s..%s)"):format(T(r.med), T(r.lo), T(r.hi)), gf, of_peak,
    np_t and T(np_t) or "n/a", np_r and ("%.2fx"):format(np_r) or "-",
    th_t and T(th_t) or "n/a", th_r and ("%.2fx"):format(th_r) or "-"))
end
if missing then
  print("(n/a: the baseline did not run; `make bench-deps` installs python3-numpy and python3-torch)")
end
if roofline then
  table.sort(roofline)
  print(("rnn_fwd_bwd_N64_T50_D256_H512 runs at %.2f of DGEMM's GFLOP/s (median of %d alternating rounds, %.2f..%.2f)")
    :format(median(roofline), #roofline, roofline[1], roofline[#roofline]))
end
