local co = coroutine.wrap(function() while true do coroutine.yield(tycho.ones(2):sum()) end end)
print(co(), co())
print(pcall(setmetatable, {}, { __gc = function() while true do end end }))
print(pcall(function() while true do end end))
