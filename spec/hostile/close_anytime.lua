-- Run by hostile_spec.lua (tycho --sandbox, no instruction limit): the collector runs almost
-- continuously, and every finalizer it runs closes a few tensors of a shared pool and arms
-- the next one, so tensors get closed at any allocation inside any call. Random calls on
-- the pool must each either raise a "closed" error or give the result the same call gives
-- again afterwards (when its operands are still open). Prints "calls N closed N same N".
local ITER = tonumber(arg and arg[1]) or 20000
tycho.random.seed(7)
local R = tycho.random.rand
local function pick(n) return 1 + math.floor(R() * n) end

local SIZES = { { 3, 4 }, { 4, 4 }, { 10, 12 }, { 12, 12 } } -- small and storage-backed kinds
local pool = {}
local function refill(i)
  local s = SIZES[pick(#SIZES)]
  pool[i] = tycho.rand(s[1], s[2])
end
for i = 1, 40 do refill(i) end

local ops = {
  function(a, b) return a + b end,
  function(a, b) return a * b end,
  function(a) return a - 1 end,
  function(a) return -a end,
  function(a) return a:tanh() end,
  function(a) return a:exp() end,
  function(a) return a:clip(0.1, 0.9) end,
  function(a) return a:sum(1) end,
  function(a) return a:max(2) end,
  function(a) return a:argmin(1) end,
  function(a) return a:sum() end,
  function(a) return a:norm() end,
  function(a) return a:clone() end,
  function(a) return a.T end,
  function(a) return a.T:contiguous() end,
  function(a) return a.T:reshape(a:numel()) end,
  function(a) return a:view(-1) end,
  function(a) return a:flatten() end,
  function(a) return a:select(1, 1) end,
  function(a) return a:narrow(2, 2, 2) end,
  function(a) return a:transpose(1, 2):narrow(1, 1, 1) end,
  function(a) return a[1] end,
  function(a) return a:get(1, 2) end,
  function(a) return tycho.tensor(a:totable()) end,
  function(a) return tostring(a) end,
  function(a) return tycho.tensor(a:shape()):sum() end,
  function(a, b) return a:matmul(b.T) end,
  function(a, b) return tycho.outer(a, b) end,
  function(a, b) return tycho.where(a:gt(0.5), a, 0) end,
  function(a) return tycho.tensor(a) end,
  function(a) return tycho.zeros_like(a) + a end,
  function(a) return a:view(a:numel(), 1):sum(2) end,
  function(a) return tycho.nn.Tanh():forward(a) end,
  function(a) return a:sin() end,
  function(a, b) return tycho.atan2(a, b) end,
  function(a) return a.T:floor() end,
  function(a) return a:sort(1) end,
  function(a) return a:argsort(2, true) end,
  function(a) return a:softmax(2) end,
  function(a) return a.T:cumsum(1) end,
  function(a) return a:var(1, true) end,
  function(a) return a:prod() end,
  function(a) return a[a:gt(0.5)] end,
  function(a) a[a:lt(0.2)] = 0 return a:clone() end,
  function(a) return a[{ { 1, 1 }, {} }] end,
  function(a) return a[{ 1, { 1, -1, 2 } }] end,
  function(a) return a:index(1, { 1, 1 }) end,
  function(a, b) return tycho.cat({ a, a, a }, 1) end,
  function(a) return tycho.stack({ a, a }, 3) end,
  function(a) return a:unsqueeze(1):expand(2, a:size(1), a:size(2)):clone() end,
  function(a) return a:permute(2, 1):flatten() end,
  function(a)
    local l = tycho.nn.AffineLayer(a:size(2), 3)
    l.W, l.b = tycho.ones(a:size(2), 3), tycho.zeros(3)
    l:forward(a)
    return l:backward(tycho.ones(a:size(1), 3))
  end,
  function(a) local l = tycho.nn.Softmax() l:forward(a) return l:backward(a) end,
  function(a) return select(2, tycho.nn.softmax_loss(a, tycho.ones(a:size(1)))) end,
  function(a) return select(2, tycho.nn.mse_loss(a, a * 2)) end,
  function(a) local e = tycho.nn.Embedding(5, 2) e.W = tycho.ones(5, 2) return e:forward((a * 4):floor() + 1) end,
}

local function arm()
  setmetatable({}, { __gc = function()
    for _ = 1, 2 do
      local i = pick(#pool)
      local t <close> = pool[i]
    end
    arm()
  end })
end

local function open(t) return (pcall(t.dim, t)) end -- dim allocates nothing

local function same(x, y)
  if tycho.is_tensor(x) then return tycho.is_tensor(y) and x:equal(y) end
  return x == y
end

collectgarbage("incremental", 5, 1000, 0) -- a step at about every allocation
arm()
local calls, closed, agreed = 0, 0, 0
for _ = 1, ITER do
  local f = ops[pick(#ops)]
  local ia, ib = pick(#pool), pick(#pool)
  local a, b = pool[ia], pool[ib]
  if not open(a) then refill(ia) a = pool[ia] end
  if not open(b) then refill(ib) b = pool[ib] end
  local ok, got = pcall(f, a, b)
  calls = calls + 1
  if not ok then
    local msg = tostring(got)
    if msg:find("closed", 1, true) then
      closed = closed + 1
    elseif not msg:find("not aligned", 1, true) and not msg:find("broadcast", 1, true)
        and not msg:find("out of range", 1, true) then
      error("unexpected error: " .. msg)
    end
  elseif open(a) and open(b) then
    local ok2, again = pcall(f, a, b)
    if ok2 then
      if not same(got, again) then error("a call gave a different result: " .. tostring(got)) end
      agreed = agreed + 1
    end
  end
end
collectgarbage("generational")
print(("calls %d closed %d same %d"):format(calls, closed, agreed))
