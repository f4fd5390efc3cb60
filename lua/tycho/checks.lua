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
function checks.rel_error(x, y)
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

--- Numerical gradient of f at x: with df, of sum(f(x) * df); without, of the number f(x).
-- x is perturbed in place one element at a time and restored.
function checks.grad_check(f, x, df, h)
  if type(f) ~= "function" then
    error(("grad_check: f must be a function (got %s)"):format(type(f)), 2)
  end
  if not tycho.is_tensor(x) then
    error(("grad_check: x must be a tensor (got %s)"):format(type(x)), 2)
  end
  if df ~= nil and not tycho.is_tensor(df) then
    error(("grad_check: df must be a tensor or nil (got %s)"):format(type(df)), 2)
  end
  if h ~= nil and type(h) ~= "number" then
    error(("grad_check: h must be a number or nil (got %s)"):format(type(h)), 2)
  end
  h = h or 1e-5
  local grad = tycho.zeros_like(x)
  -- f's result must fit df: checked once, before any perturbation, with the caller's line
  if df then
    local y = f(x)
    if not tycho.is_tensor(y) or not pcall(function() return y * df end) then
      error(("grad_check: df is %s but f(x) gives %s"):format(shape_of(df),
            tycho.is_tensor(y) and shape_of(y) or type(y)), 2)
    end
  elseif type(f(x)) ~= "number" then
    error("grad_check: without df, f(x) must return a number", 2)
  end
  each_index(x:shape(), function(idx)
    local old = x:get(table.unpack(idx))
    set(x, idx, old + h)
    local pos = f(x)
    if df then pos = tycho.is_tensor(pos) and pos:clone() or pos end
    set(x, idx, old - h)
    local neg = f(x)
    set(x, idx, old)
    local g
    if df then
      g = ((pos - neg) * df):sum() / (2 * h)
    else
      g = (pos - neg) / (2 * h)
    end
    set(grad, idx, g)
  end)
  return grad
end

return checks
