-- gc_spec.lua: garbage tensors are collected at the pace a script makes them, in the `tycho`
-- command and in stock lua5.4: a loop of temporaries runs in bounded memory. Each case runs
-- in a process of its own and reads the process's peak resident memory (VmHWM) at its end.
local lu = require "luaunit"
local support = require "spec.support"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local q = support.q

-- Runs script under the tycho command (or stock lua5.4 when stock is set) and returns the
-- numbers it prints: the script ends by printing its own peak memory in KB and the size of
-- the Lua heap in KB.
local function run(script, stock)
  script = script .. [[

local hwm
for line in io.lines("/proc/self/status") do
  hwm = hwm or tonumber(line:match("^VmHWM:%s*(%d+)"))
end
print(hwm, collectgarbage("count"))
]]
  local path = support.tmpfile(script)
  local cmd
  if stock then
    cmd = "LUA_CPATH=" .. q(BUILD .. "/?.so") .. " LUA_PATH=" .. q("lua/?.lua;lua/?/init.lua")
      .. " lua5.4 " .. q(path)
  else
    cmd = q(BUILD .. "/tycho") .. " " .. q(path)
  end
  -- under AddressSanitizer, freed blocks would wait in its quarantine and count as resident
  local asan = os.getenv("ASAN_OPTIONS")
  local env = "OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS="
    .. q((asan and asan ~= "" and asan .. ":" or "") .. "quarantine_size_mb=0") .. " "
  local p = io.popen(env .. cmd .. " 2>&1")
  local out = p:read("a")
  p:close()
  os.remove(path)
  local hwm, heap = out:match("(%d+)%s+([%d%.]+)%s*$")
  lu.assertNotNil(hwm, "no memory figures in the output of " .. cmd .. ":\n" .. out)
  return tonumber(hwm), tonumber(heap)
end

local have_stock = os.execute("command -v lua5.4 >/dev/null 2>&1")

-- A baseline: the same process doing the same setup without the loop.
local SETUP = [[
local tycho = require "tycho"
local a = tycho.randn(1000)
local W = tycho.randn(100000)
]]

-- 8 KB tensors: their data is outside the Lua heap and each one has a finalizer. Lua 5.4's
-- incremental collector, with the pause the command used to set (400), never caught up with
-- them: 200000 temporaries left the Lua heap at 32 MB and the process at 1.1 GB.
local MEDIUM = SETUP .. [[
for i = 1, 200000 do local _ = a * 2.5 end
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
end
]]

local function check(name, script, stock, heap_kb, growth_kb)
  local base_hwm = run(SETUP, stock)
  local hwm, heap = run(script, stock)
  lu.assertTrue(heap < heap_kb, string.format("%s: Lua heap %.0f KB after the loop (limit %d KB)",
    name, heap, heap_kb))
  lu.assertTrue(hwm - base_hwm < growth_kb, string.format(
    "%s: peak memory grew by %d KB over the loop's setup (limit %d KB)", name, hwm - base_hwm,
    growth_kb))
end

function test_command_collects_medium_temporaries()
  check("tycho, 8 KB temporaries", MEDIUM, false, 2048, 16 * 1024)
end

function test_command_collects_old_big_garbage()
  check("tycho, 800 KB tensors that grow old", OLD, false, 2048, 64 * 1024)
end

function test_stock_lua_collects_medium_temporaries()
  if not have_stock then lu.skip("lua5.4 is not installed") end
  check("lua5.4, 8 KB temporaries", MEDIUM, true, 2048, 16 * 1024)
end

-- Lua 5.4's incremental collector, which a script or a host may choose, falls behind objects
-- with finalizers made in a loop (plain Lua tables with __gc too); the tensor data they hold
-- still may not pile up.
function test_incremental_collector_collects_medium_temporaries()
  check("tycho, incremental collector, 8 KB temporaries",
    'collectgarbage("incremental")\n' .. MEDIUM, false, 64 * 1024, 48 * 1024)
end

function test_stock_lua_collects_old_big_garbage()
  if not have_stock then lu.skip("lua5.4 is not installed") end
  check("lua5.4, 800 KB tensors that grow old", OLD, true, 2048, 64 * 1024)
end
