-- Run by hostile_spec.lua (tycho --sandbox --mem-limit 64M): coroutine A, with no memory
-- left, resumes a dead coroutine. Lua 5.4.4 makes the message ("cannot resume dead
-- coroutine") on the dead thread, which has no error handler: a memory error there would be
-- thrown on the main thread, past A's frames, and the next error on A would jump into a
-- dead C frame (a crash). The engine keeps those messages made, so nothing is allocated
-- there. Prints "A <status>", "survived", then "nested <ok>" (the coroutine nesting count
-- the engine keeps is still right: 300 nested closes work).
local slots, n = {}, 0
for i = 1, 400000 do slots[i] = false end
local rep, sz, len = string.rep
local function bigs() while true do n = n + 1; slots[n] = rep("x", 40 + sz) end end
local function shorts() local base = rep("y", len) while true do n = n + 1; slots[n] = base .. n end end
local function tabs() while true do n = n + 1; slots[n] = {} end end
local function fill() -- takes the whole memory budget, everything held in slots
  for _ = 1, 3 do
    collectgarbage()
    sz = 1 << 22 while sz >= 1 do pcall(bigs) n = n - 1 sz = sz // 2 end
    pcall(tabs) n = n - 1
    len = 20 while len >= 0 do pcall(shorts) n = n - 1 len = len - 1 end
  end
end
local function release() for i = 1, n do slots[i] = false end n = 0 collectgarbage() collectgarbage() end

local dead = coroutine.create(function() end)
coroutine.resume(dead)
local A
for _ = 1, 10 do
  release()
  A = coroutine.create(function() fill() coroutine.resume(dead) end)
  pcall(coroutine.resume, A)
  release()
  if coroutine.status(A) == "normal" then break end -- stuck: its resume was thrown past
end
print("A " .. coroutine.status(A))
for _ = 1, 10 do
  release()
  pcall(function() fill() pcall(coroutine.resume, A) end)
end
release()
print("survived")
local prev
for _ = 1, 300 do
  local p = prev
  local co = coroutine.create(function()
    local x <close> = setmetatable({}, { __close = function() if p then assert(coroutine.close(p)) end end })
    coroutine.yield()
  end)
  coroutine.resume(co)
  prev = co
end
print("nested " .. tostring(coroutine.close(prev)))
