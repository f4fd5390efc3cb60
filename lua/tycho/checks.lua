-- tycho.checks: the notebook's numerical checks (blg561.checks): rel_error and a
-- central-difference grad_check that perturbs x in place, exactly as the notebook does.
local _, tycho = ...
-- Found by stock Lua's require in share/lua/5.4 (an installed copy), the second argument is
-- this file's path: the real module is the one built into tycho.so.
if type(tycho) ~= "table" then return require("tycho").checks end

local checks = {}

local function as_tensor(v, name)
  if type(v) == "number" then return tycho.tensor(v) end
  if tycho.is_tensor(v) then return v end
  error(("rel_error: %s must be a tensor or a number (got %s)"):format(name, type(v)), 3)
end

local function shape_of(t) return t:dim() == 0 and "scalar" or table.concat(t:shape(), "x") end

-- An error from a tensor function, without the position inside this file.
local function bare(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1)) end

local function relative(a, b)
  local num = (a - b):abs()
  local den = tycho.maximum(a:abs() + b:abs(), 1e-8)
  return (num / den):max()
end

--- max(|x - y| / max(1e-8, |x| + |y|)) over all elements (broadcasting as NumPy). Errors
-- name the caller's line, as Lua's own functions do.
-- Nothing is silently ignored: a call with more arguments than the function takes (trailing
-- nils count as left out) is an error naming the function.
local function at_most(fname, n, ...)
  local count = select("#", ...)
  while count > n and select(count, ...) == nil do count = count - 1 end
  if count > n then
    error(("%s: takes at most %d arguments, got %d"):format(fname, n, count), 3)
  end
end

function checks.rel_error(x, y, ...)
  at_most("rel_error", 2, x, y, ...)
  local a, b = as_tensor(x, "x"), as_tensor(y, "y")
  local ok, r = pcall(relative, a, b)
  if not ok then
    error(("rel_error: x is %s and y is %s (%s)"):format(shape_of(a), shape_of(b), bare(r)), 2)
  end
  return r
end

-- Calls fn(idx) for every multi-index of shape, in row-major order.
local function each_index(shape, fn)
  local nd = #shape
  for _, n in ipairs(shape) do if n == 0 then return end end
  local idx = {}
  for d = 1, nd do idx[d] = 1 end
  while true do
    fn(idx)
    local d = nd
    while d >= 1 do
      idx[d] = idx[d] + 1
      if idx[d] <= shape[d] then break end
      idx[d] = 1
      d = d - 1
    end
    if d < 1 then return end
  end
end

local function set(x, idx, v)
  local args = { table.unpack(idx) }
  args[#args + 1] = v
  x:set(table.unpack(args))
end

-- The numerical gradient of f at x by a central difference: each element of x is perturbed
-- in place by the offsets (in units of h) and restored; the gradient is the weighted sum of
-- the results over h. fname names the public function in errors (level 3: its caller).
local function differences(fname, f, x, df, h, offsets, weights, divisor)
  if type(f) ~= "function" then
    error(("%s: f must be a function (got %s)"):format(fname, type(f)), 3)
  end
  if not tycho.is_tensor(x) then
    error(("%s: x must be a tensor (got %s)"):format(fname, type(x)), 3)
  end
  if df ~= nil and not tycho.is_tensor(df) then
    error(("%s: df must be a tensor or nil (got %s)"):format(fname, type(df)), 3)
  end
  if h ~= nil and type(h) ~= "number" then
    error(("%s: h must be a number or nil (got %s)"):format(fname, type(h)), 3)
  end
  local grad = tycho.zeros_like(x)
  -- f's result must fit df: checked once, before any perturbation, with the caller's line
  if df then
    local y = f(x)
    if not tycho.is_tensor(y) or not pcall(function() return y * df end) then
      error(("%s: df is %s but f(x) gives %s"):format(fname, shape_of(df),
            tycho.is_tensor(y) and shape_of(y) or type(y)), 3)
    end
  elseif type(f(x)) ~= "number" then
    error(("%s: without df, f(x) must return a number"):format(fname), 3)
  end
  each_index(x:shape(), function(idx)
    local old = x:get(table.unpack(idx))
    local acc = 0
    for k, off in ipairs(offsets) do
      set(x, idx, old + off * h)
      local y = f(x)
      if df then y = tycho.is_tensor(y) and y:clone() or y end
      acc = k == 1 and y * weights[k] or acc + y * weights[k]
    end
    set(x, idx, old)
    set(grad, idx, (df and (acc * df):sum() or acc) / (divisor * h))
  end)
  return grad
end

--- Numerical gradient of f at x: with df, of sum(f(x) * df); without, of the number f(x).
-- x is perturbed in place one element at a time and restored. The notebook's central
-- difference (f(x + h) - f(x - h)) / 2h, h = 1e-5 unless given.
function checks.grad_check(f, x, df, h, ...)
  at_most("grad_check", 4, f, x, df, h, ...)
  local grad = differences("grad_check", f, x, df, h or 1e-5, { 1, -1 }, { 1, -1 }, 2)
  return grad -- not a tail call: the errors' level 3 is the caller
end

--- The same with the fourth-order central difference (f(x - 2h) - 8 f(x - h) + 8 f(x + h)
-- - f(x + 2h)) / 12h, h = 1e-3 unless given: its error falls as h^4 where grad_check's falls
-- as h^2, for functions whose third derivatives are large (saturated gates).
function checks.grad_check4(f, x, df, h, ...)
  at_most("grad_check4", 4, f, x, df, h, ...)
  local grad = differences("grad_check4", f, x, df, h or 1e-3, { 1, -1, 2, -2 }, { 8, -8, -1, 1 }, 12)
  return grad
end

return checks
