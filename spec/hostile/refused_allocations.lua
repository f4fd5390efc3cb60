-- Run by hostile_spec.lua (tycho --sandbox --mem-limit 64M --instr-limit 1e6): the memory
-- budget is full of small tables, then a loop allocates and fails again and again. Lua
-- collects the whole heap before it refuses an allocation, so each failure costs a full
-- collection (13.6 ms here): the engine charges it to the instruction budget, and the run
-- ends within it instead of after minutes. Ends with the limit's error or a memory error.
local small = {}
for i = 1, 100000 do small[i] = false end
local hold = {}
for k = 1, 40 do hold[k] = false end
local k, j, n, fails = 0, 0, 0, 0
local zeros = tycho.zeros
local function big() while true do k = k + 1 hold[k] = zeros(20000, 1):totable() end end
local function tiny() while true do j = j + 1 small[j] = {} end end
local function f() return {} end
local N = tonumber(arg[1]) or 200
local function loop() while true do n = n + 1 if not pcall(f) then fails = fails + 1 end if n == N then error("stop") end end end
local clock = os.clock
pcall(big) pcall(tiny)
local t0 = clock()
local ok, e = pcall(loop)
local dt = clock() - t0
hold = nil small = nil collectgarbage()
print(k, j, n, fails, dt, e)
