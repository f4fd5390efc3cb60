-- bench/harness.lua: timing for `make bench`: warm-up, repeated batches until a time budget
-- is spent, and the median and spread (min..max of the batch means) of one call.
local tycho = require "tycho"

local harness = {}

-- Runs fn in batches sized so one batch takes about 5 ms; returns median, lo, hi seconds.
function harness.time(fn, budget)
  budget = budget or 0.5
  local clock = tycho.clock
  -- warm-up, and the batch size
  local n, t0 = 1, clock()
  fn()
  local one = clock() - t0
  for _ = 1, 3 do fn() end
  n = math.max(1, math.floor(0.005 / math.max(one, 1e-9)))
  local samples = {}
  local start = clock()
  repeat
    local s = clock()
    for _ = 1, n do fn() end
    samples[#samples + 1] = (clock() - s) / n
  until (clock() - start > budget and #samples >= 5) or #samples >= 1000
  table.sort(samples)
  local m = #samples
  local median = m % 2 == 1 and samples[(m + 1) // 2] or (samples[m // 2] + samples[m // 2 + 1]) / 2
  return median, samples[1], samples[m]
end

local function fmt_time(s)
  if s < 1e-6 then return ("%.0f ns"):format(s * 1e9) end
  if s < 1e-3 then return ("%.2f us"):format(s * 1e6) end
  if s < 1 then return ("%.2f ms"):format(s * 1e3) end
  return ("%.2f s"):format(s)
end
harness.fmt_time = fmt_time

return harness
