-- fuzz_chunk timeout (a mutation of 16_coroutines.lua): node(d - 9) never reaches 0, and each
-- of its coroutines ended before its own count hook fired, so the tree ran uncounted
-- (engine.c: a coroutine is now charged when it is made)
local function node(d)
  if d == 0 then while true do end end
  for i = 1, 3 do pcall(coroutine.wrap(node), d - 9) end
end
print(xpcall(function() node(4) end, function(m) return m end))
