-- fuzz_chunk timeout: node(d - 9) never reaches 0, and each of its coroutines ended before its own count hook fired, so the tree ran uncounted (engine.c: coroutines are now charged when made)
local function node(d)
  if d == 0 then while true do end end
  for i = 1, 3 do pcall(coroutine.wrap(node), d - 9) coroutine.resume(coroutine.create(node), d - 1) end
end
local co = coroutine.create(function()
  local x <close> = setmetatable({}, { __close = function() while true do end end })
  coroutine.yield()
end)
coroutine.resume(co)
print(xpcall(function() node(4) end, function(m) while true do end end))
print(coroutine.close(co), coroutine.status(co))
