-- finalizers that close operands and replace layer weights in the middle of calls
local a, b = tycho.rand(200, 200), tycho.rand(200, 200)
local r = tycho.nn.RNNLayer(200, 200)
local function arm(f) setmetatable({}, { __gc = f }) end
arm(function() local c <close> = a end)
print(pcall(function() return a + b end))
arm(function() r.W_ih = tycho.zeros(2, 3) end)
print(pcall(r.forward, r, b:view(1, 200, 200), tycho.zeros(1, 200)))
arm(function() local c <close> = b end)
print(pcall(tycho.matmul, b, b), pcall(tostring, b))
collectgarbage("incremental", 5, 1000, 0)
for i = 1, 50 do arm(function() local c <close> = a end) pcall(function() return a:tanh():sum(1) end) end
