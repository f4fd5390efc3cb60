-- gc_spec.lua: garbage tensors are collected at the pace a script makes them, in the `tycho`
-- command and in stock lua5.4: a loop of temporaries runs in bounded memory. Each case runs
-- in a process of its own; it samples the tensor data it holds (tycho.memory) in its loop and
-- reads the process's peak resident memory (VmHWM) at its end.
local lu = require "luaunit"
local support = require "spec.support"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local q = support.q

-- The output (stdout and stderr) of a shell command, with one BLAS thread; under
-- AddressSanitizer, freed blocks would wait in its quarantine and count as resident.
local function capture(cmd)
  local asan = os.getenv("ASAN_OPTIONS")
  local env = "OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="
    .. q((asan and asan ~= "" and asan .. ":" or "") .. "quarantine_size_mb=0") .. " "
  local p = io.popen(env .. cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

-- Runs script under the tycho command (or stock lua5.4 when stock is set) and returns the
-- numbers it prints: the script ends by printing its own peak memory in KB, the size of the
-- Lua heap in KB and the most tensor data its loop held, in KB.
local function run(script, stock)
  script = script .. [[

local hwm
for line in io.lines("/proc/self/status") do
  hwm = hwm or tonumber(line:match("^VmHWM:%s*(%d+)"))
end
print(hwm, collectgarbage("count"), peak // 1024)
]]
  local path = support.tmpfile(script)
  local cmd
  if stock then
    cmd = "LUA_CPATH=" .. q(BUILD .. "/?.so") .. " LUA_PATH=" .. q("lua/?.lua;lua/?/init.lua")
      .. " lua5.4 " .. q(path)
  else
    cmd = q(BUILD .. "/tycho") .. " " .. q(path)
  end
  local out = capture(cmd)
  os.remove(path)
  local hwm, heap, peak = out:match("(%d+)%s+([%d%.]+)%s+(%d+)%s*$")
  lu.assertNotNil(hwm, "no memory figures in the output of " .. cmd .. ":\n" .. out)
  return tonumber(hwm), tonumber(heap), tonumber(peak)
end

local have_stock = os.execute("command -v lua5.4 >/dev/null 2>&1")

-- A baseline: the same process doing the same setup without the loop.
local SETUP = [[
local tycho = require "tycho"
local a = tycho.randn(1000)
local W = tycho.randn(100000)
local peak = 0
local function sample() peak = math.max(peak, tycho.memory().bytes) end
]]

-- 8 KB tensors: their data is outside the Lua heap and each one has a finalizer. Lua 5.4's
-- incremental collector, with the pause the command used to set (400), never caught up with
-- them: 200000 temporaries left the Lua heap at 32 MB and the process at 1.1 GB.
local MEDIUM = SETUP .. [[
for i = 1, 200000 do
  local _ = a * 2.5
  if i % 256 == 0 then sample() end
end
]]

-- 800 KB tensors that live long enough to become old in a generational collector and then
-- die: only a full collection frees them, which the Lua heap alone would seldom ask for
-- (190 MB of dead weights before this was paced by the tensor bytes themselves).
local OLD = SETUP .. [[
for i = 1, 2000 do
  local t1 = W * 2
  local t2 = W * 3
  local t3 = W * 4
  W = W + 1
  sample()
end
]]

-- heap_kb bounds the Lua heap after the loop, data_kb the tensor data held in it, growth_kb
-- the process's peak over a process that only does the setup.
local function check(name, script, stock, heap_kb, data_kb, growth_kb)
  local base_hwm = run(SETUP, stock)
  local hwm, heap, peak = run(script, stock)
  lu.assertTrue(heap < heap_kb, string.format("%s: Lua heap %.0f KB after the loop (limit %d KB)",
    name, heap, heap_kb))
  lu.assertTrue(peak < data_kb, string.format(
    "%s: the loop held up to %d KB of tensor data (limit %d KB)", name, peak, data_kb))
  lu.assertTrue(hwm - base_hwm < growth_kb, string.format(
    "%s: peak memory grew by %d KB over the loop's setup (limit %d KB)", name, hwm - base_hwm,
    growth_kb))
end

function test_command_collects_medium_temporaries()
  check("tycho, 8 KB temporaries", MEDIUM, false, 2048, 16 * 1024, 16 * 1024)
end

function test_command_collects_old_big_garbage()
  check("tycho, 800 KB tensors that grow old", OLD, false, 2048, 48 * 1024, 64 * 1024)
end

function test_stock_lua_collects_medium_temporaries()
  if not have_stock then lu.skip("lua5.4 is not installed") end
  check("lua5.4, 8 KB temporaries", MEDIUM, true, 2048, 16 * 1024, 16 * 1024)
end

-- Lua 5.4's incremental collector, which a script or a host may choose, falls behind objects
-- with finalizers made in a loop (plain Lua tables with __gc too); the tensor data they hold
-- still may not pile up.
function test_incremental_collector_collects_medium_temporaries()
  check("tycho, incremental collector, 8 KB temporaries",
    'collectgarbage("incremental")\n' .. MEDIUM, false, 64 * 1024, 40 * 1024, 64 * 1024)
end

function test_stock_lua_collects_old_big_garbage()
  if not have_stock then lu.skip("lua5.4 is not installed") end
  check("lua5.4, 800 KB tensors that grow old", OLD, true, 2048, 48 * 1024, 64 * 1024)
end

-- A loop's big temporaries die young: a minor collection frees them, and a full one, which
-- marks the whole Lua heap, must not run each time one outgrows what the last left
-- (40 MB temporaries in a program of a few MB).
local function full_collections(body)
  local out = capture(q(BUILD .. "/tycho") .. " -e " .. q([[
    local tycho = require "tycho"
    ]] .. body .. [[
    print("full collections: " .. tycho.memory().full_collections)
  ]]))
  local n = out:match("full collections: (%d+)")
  lu.assertNotNil(n, out)
  return tonumber(n)
end

function test_big_young_temporaries_cost_no_full_collection()
  lu.assertEquals(full_collections([[
    local function step() local t = tycho.zeros(5000000) end
    for i = 1, 10 do step() end
  ]]), 0)
end

-- In a for loop the last pass's local stays reachable until the next value replaces it, so
-- two temporaries overlap; the first full collection learns that much and no more follow.
function test_loop_locals_cost_at_most_one_full_collection()
  lu.assertTrue(full_collections([[
    for i = 1, 10 do local t = tycho.zeros(5000000) end
  ]]) <= 1)
end

function test_memory_counts_tensor_data()
  local tycho = require "tycho"
  collectgarbage()
  local before = tycho.memory().bytes
  local t = tycho.zeros(1000, 1000)
  local view = t:narrow(1, 1, 10)
  lu.assertTrue(tycho.memory().bytes - before >= 8000000, "a new 1000x1000 tensor is counted")
  lu.assertTrue(tycho.memory().bytes - before < 8000000 + 4096, "a view adds nothing")
  t, view = nil, nil
  collectgarbage()
  collectgarbage()
  lu.assertEquals(tycho.memory().bytes, before)
end
