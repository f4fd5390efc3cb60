-- coroutine trees, handlers and <close> under the instruction limit
local function node(d)
  if d == 0 then while true do end end
  for i = 1, 3 do pcall(coroutine.wrap(node), d - 1) coroutine.resume(coroutine.create(node), d - 1) end
end
local co = coroutine.create(function()
  local x <close> = setmetatable({}, { __close = function() while true do end end })
  coroutine.yield()
end)
coroutine.resume(co)
print(xpcall(function() node(3) end, function(m) while true do end end))
print(coroutine.close(co), coroutine.status(co))
