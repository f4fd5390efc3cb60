-- Run by hostile_spec.lua (tycho --sandbox, no instruction limit, so __gc is allowed): each
-- call below gets operands of 40000 elements, whose result's allocation steps the collector,
-- while a finalizer is pending that closes every operand. Prints one line per call:
-- "name closed" (the call raised "closed"), "name same" (it finished and its result equals
-- the result of the same call on untouched copies), or what went wrong. Memory errors
-- (use after free) crash the process or, under AddressSanitizer, report.
local nn = tycho.nn
local N = 200 -- 200 x 200 = 40000 elements: 320 KB, past the collector's 256 KB step

local function big() return tycho.rand(N, N) end

-- { name, f, prep }: prep(a, b, c) makes the operands f gets (default a, b, c); the
-- finalizer closes exactly those.
local function rows(a) return a:view(N * N, 1) end
local cases = {
  { "add", function(a, b) return a + b end },
  { "sub number", function(a) return a - 2 end },
  { "mul", function(a, b) return a * b end },
  { "div", function(a, b) return b / a end },
  { "pow", function(a) return a ^ 2 end },
  { "unm", function(a) return -a end },
  { "eq", function(a, b) return a:eq(b) end },
  { "maximum", function(a, b) return tycho.maximum(a, b) end },
  { "where", function(a, b, c) return tycho.where(c, a, b) end },
  { "clip", function(a) return a:clip(0.2, 0.7) end },
  { "tanh", function(a) return a:tanh() end },
  { "sigmoid", function(a) return tycho.sigmoid(a) end },
  { "sum dim", function(a) return a:sum(2) end, rows },
  { "mean dim", function(a) return a:mean(2) end, rows },
  { "argmax dim", function(a) return a:argmax(2) end, rows },
  { "matmul", function(a, b) return a:matmul(b) end },
  { "dot", function(a, b) return tycho.dot(a, b) end },
  { "matvec", function(a, v) return tycho.matmul(a, v) end,
    function(a, b) return rows(a), b[1]:narrow(1, 1, 1) end },
  { "vecmat", function(v, a) return tycho.matmul(v, a) end,
    function(a, b) return b[1]:narrow(1, 1, 1), a:view(1, N * N) end },
  { "batched", function(a, b) return tycho.matmul(a, b) end,
    function(a, b) return a:view(2, N / 2, N), b end },
  { "outer", function(a, b) return tycho.outer(a, b) end,
    function(a, b) return a:view(-1):narrow(1, 1, N * N / 4), b[1]:narrow(1, 1, 4) end },
  { "outer of copies", function(a, b) return tycho.outer(a, b) end,
    function(a, b) return a.T:narrow(1, 1, 1), b.T:narrow(1, 1, N) end },
  { "clone", function(a) return a:clone() end },
  { "tensor copy", function(a) return tycho.tensor(a) end },
  { "contiguous", function(a) return a:contiguous() end, function(a) return a.T end },
  { "reshape copy", function(a) return a:reshape(N * N) end, function(a) return a.T end },
  { "flatten", function(a) return a:flatten() end, function(a) return a.T end },
  { "add_ overlapping", function(x, y) return x:add_(y) end,
    function(a) return a:narrow(1, 1, N - 1), a:narrow(1, 2, N - 1) end },
  { "copy_ overlapping", function(x, y) return x:copy_(y) end,
    function(a) return a:narrow(1, 2, N - 1), a:narrow(1, 1, N - 1) end },
  { "newindex overlapping", function(x, y) x[1] = y return x end,
    function() local x = tycho.rand(2, N * N) return x, x:view(-1):narrow(1, 2, N * N) end },
  { "rnn forward", function(x, h0)
      local r = nn.RNNLayer(N, N)
      return r:forward(x, h0)
    end, function(a, b) return a:view(1, N, N), b[1]:view(1, N) end },
  { "rnn forward of a copy", function(x, h0)
      local r = nn.RNNLayer(N, N)
      return r:forward(x, h0)
    end, function(a, b) return a.T:view(1, N, N), b[1]:view(1, N) end },
  { "tanh layer", function(a) return nn.Tanh():forward(a) end },
  { "sin", function(a) return a:sin() end },
  { "sin of a view", function(a) return a:sin() end, function(a) return a.T end },
  { "atan2", function(a, b) return tycho.atan2(a, b) end },
  { "floor", function(a) return a:floor() end },
  { "prod dim", function(a) return a:prod(2) end, rows },
  { "var dim keepdim", function(a) return a:var(2, true) end, rows },
  { "std dim", function(a) return a:std(2) end, rows },
  { "cumsum", function(a) return a:cumsum(1) end },
  { "cumprod flat", function(a) return a:cumprod() end },
  { "sort", function(a) return a:sort(1) end },
  { "argsort", function(a) return a:argsort(2, true) end },
  { "softmax", function(a) return a:softmax(2) end },
  { "log_softmax", function(a) return a:log_softmax(1) end },
  { "mask", function(a, m) return a[m] end, function(a, b) return a, b:gt(-1) end },
  { "mask assign", function(a, m, v) a[m] = v return a end,
    function(a, b) local m = b:gt(0.5) return a, m, tycho.rand(m:sum()) end },
  { "index", function(a, p) return a:index(1, p) end,
    function(a, b) return a, (b[1] * (N - 1)):floor() + 1 end },
  { "cat", function(a, b) return tycho.cat({ a, b }, 2) end },
  { "stack", function(a, b) return tycho.stack({ a, b }, 1) end },
  { "expanded clone", function(e) return e:clone() end, function(a) return a:expand(2, N, N) end },
  { "slice clone", function(v) return v:clone() end, function(a) return a[{ {}, { 2, -1 } }] end },
  { "slice assign", function(a, b) a[{ {}, { 1, N } }] = b:sin() return a end },
  { "affine layer", function(a) return nn.AffineLayer(N, N):forward(a) end },
  { "affine layer of a copy", function(a) return nn.AffineLayer(N, N):forward(a) end,
    function(a) return a:view(N / 2, 2, N):transpose(1, 2) end },
  { "affine layer backward", function(x, dout)
      local l = nn.AffineLayer(N, N)
      l:forward(x)
      return l:backward(dout)
    end },
  { "relu layer", function(a) return nn.ReLU():forward(a) end },
  { "sigmoid layer backward", function(a, b)
      local l = nn.Sigmoid()
      l:forward(a)
      return l:backward(b)
    end },
  { "softmax layer backward of a view", function(a, b)
      local l = nn.Softmax()
      l:forward(a)
      return l:backward(b)
    end, function(a, b) return a, b.T end },
  { "dropout layer", function(a) return nn.Dropout(0.5):forward(a) end },
  { "embedding layer", function(ids) return nn.Embedding(N, 2):forward(ids) end,
    function(a) return (a * (N - 1)):floor() + 1 end },
  { "embedding layer backward", function(ids, dout)
      local e = nn.Embedding(N, 2)
      e:forward(ids)
      return e:backward(dout)
    end, function(a) return (a * (N - 1)):floor() + 1, tycho.rand(N, N, 2) end },
  { "softmax_loss", function(s, y) return select(2, nn.softmax_loss(s, y)) end,
    function(a, b) return a, (b[1] * (N - 1)):floor() + 1 end },
  { "softmax_loss of views", function(s, y) return select(2, nn.softmax_loss(s, y)) end,
    function(a, b) return a.T, b.T[1] * 0 + 1 end },
  { "mse_loss", function(p, t) return select(2, nn.mse_loss(p, t)) end },
  -- the optimizer's buffers are made at construction, the step then checks every parameter
  { "adam step", function(w, g)
      local l = { W = w, dW = g, parameters = function() return { "W" } end, forward = function() end }
      tycho.optim.Adam(l):step()
      return w
    end },
  { "lbfgs step", function(w, g)
      local l = { W = w, parameters = function() return { "W" } end, forward = function() end }
      tycho.optim.LBFGS(l, { max_iter = 2 }):step(function() l.dW = g return 1 end)
      return w
    end },
  { "choice p", function(p) return tycho.random.choice(N * N, 10, { p = p }) end,
    function(a) return (a / a:sum()):view(-1) end },
  { "choice p without replacement", function(p)
      return tycho.random.choice(N * N, 10, { p = p, replace = false })
    end, function(a) return (a / a:sum()).T:reshape(N * N) end },
  -- shuffle allocates nothing, so no finalizer runs inside it: the tensor is closed by
  -- the allocation just before the call, which shuffle must then refuse
  { "shuffle after an allocation", function(a)
      local _ = tycho.zeros(N, N)
      tycho.random.shuffle(a)
      return a
    end },
}

local pending -- the operands the next finalizer closes
local fired = false

local function arm()
  setmetatable({}, { __gc = function()
    fired = true
    for _, t in ipairs(pending) do local c <close> = t end
  end })
end

local function same(x, y)
  if tycho.is_tensor(x) then return tycho.is_tensor(y) and x:equal(y) end
  return x == y
end

local function operands(case)
  tycho.random.seed(1)
  local a, b, c = big(), big(), big()
  if case[3] then return { case[3](a, b, c) } end
  return { a, b, c }
end

for _, case in ipairs(cases) do
  local name, f = case[1], case[2]
  local want = f(table.unpack(operands(case)))
  -- the layer's own rand() draws follow the operands': same seed, same draws. When the
  -- collector steps depends on its debt: try until the finalizer runs inside the call.
  local line = name .. " not fired"
  for _ = 1, 20 do
    pending = operands(case)
    fired = false
    arm()
    local ok, got = pcall(f, table.unpack(pending))
    if fired then
      if ok then
        line = name .. (same(got, want) and " same" or " DIFFERENT")
      elseif tostring(got):find("closed", 1, true) then
        line = name .. " closed"
      else
        line = name .. " error " .. tostring(got)
      end
      break
    end
  end
  print(line)
  pending = {}
  collectgarbage()
end
