-- tycho.containers: models made of layers, added to tycho.nn: nn.Sequential, the walk over a
-- model's parameters (nn.named_parameters: the order optimizers and checkpoints use) and
-- nn.clip_grad_norm (PyTorch 1.13's clip_grad_norm_).
local _, tycho = ...
-- Found by stock Lua's require in share/lua/5.4 (an installed copy), the second argument is
-- this file's path: the real module is the one built into tycho.so.
if type(tycho) ~= "table" then return require("tycho").containers end

local nn = tycho.nn
local K = nn._optim -- the kernels (lua_optim.c), internal
local containers = {}

-- Nothing is silently ignored: more arguments than the function takes (trailing nils count
-- as left out) is an error naming it.
local function at_most(fname, n, ...)
  local count = select("#", ...)
  while count > n and select(count, ...) == nil do count = count - 1 end
  if count > n then
    error(("%s: takes at most %d arguments, got %d"):format(fname, n, count), 3)
  end
end
containers.at_most = at_most

-- Raises err again from the caller's caller (level as error's, from the function that calls
-- this): a message gets that position; Lua's memory error stays exactly what it is.
local function rethrow(err, level)
  if type(err) ~= "string" or err == "not enough memory" then error(err, 0) end
  error(err, level + 1)
end
containers.rethrow = rethrow

-- A C layer's field, or nil if it has none: a C layer raises for a field it does not have.
local function raw_index(obj, key) return obj[key] end
local function field(obj, key)
  if type(obj) == "table" then return obj[key] end
  local ok, v = pcall(raw_index, obj, key)
  if ok then return v end
  return nil
end

local SEQ = {}     -- Sequential's metatable
local LAYERS = {}  -- the private key of a Sequential's list of layers
local TRAINING = {} -- and of its mode

--- What kind of model m is: "sequential", "layer" (a C layer, or a table with a forward or
-- parameters function), "table" (a plain table of models), or nil (not a model).
local function kind(m)
  local t = type(m)
  if t == "table" then
    if getmetatable(m) == SEQ then return "sequential" end
    if type(m.forward) == "function" or type(m.parameters) == "function" then return "layer" end
    return "table"
  elseif t == "userdata" then
    if tycho.is_tensor(m) then return nil end
    return "layer"
  end
  return nil
end
containers.kind = kind

local function join(path, key)
  if path == nil then return tostring(key) end
  return path .. "." .. tostring(key)
end

local function describe(m)
  if tycho.is_tensor(m) then return "a tensor" end
  return "a " .. type(m)
end

-- Appends {path, layer, name} for every parameter of model m (at path) to out.
local function walk(m, path, out, visiting, fname)
  local k = kind(m)
  if k == "sequential" then
    if visiting[m] then error(("%s: %s contains itself"):format(fname, path or "the model"), 0) end
    visiting[m] = true
    local layers = rawget(m, LAYERS)
    for i = 1, #layers do walk(layers[i], join(path, i), out, visiting, fname) end
    visiting[m] = nil
  elseif k == "layer" then
    local pf = field(m, "parameters")
    if pf == nil then return end -- a layer without parameters (Tanh, a Lua activation)
    local names = pf(m)
    if type(names) ~= "table" then
      error(("%s: %s:parameters() returned %s, not a list of names"):format(fname,
        path or "the model", type(names)), 0)
    end
    for i, name in ipairs(names) do
      if type(name) ~= "string" then
        error(("%s: %s:parameters() name %d is %s, not a string"):format(fname,
          path or "the model", i, type(name)), 0)
      end
      local p = m[name]
      if not tycho.is_tensor(p) then
        error(("%s: parameter %s is %s, not a tensor"):format(fname, join(path, name), describe(p)), 0)
      end
      out[#out + 1] = { path = join(path, name), layer = m, name = name, param = p }
    end
  elseif k == "table" then
    if visiting[m] then error(("%s: %s contains itself"):format(fname, path or "the model"), 0) end
    visiting[m] = true
    local ints, strs = {}, {}
    for key in pairs(m) do
      if math.type(key) == "integer" then ints[#ints + 1] = key
      elseif type(key) == "string" then strs[#strs + 1] = key
      else
        error(("%s: %s has a key of type %s (a table of models has integer and string keys)")
          :format(fname, path or "the model", math.type(key) or type(key)), 0)
      end
    end
    table.sort(ints)
    table.sort(strs)
    for _, key in ipairs(ints) do walk(m[key], join(path, key), out, visiting, fname) end
    for _, key in ipairs(strs) do walk(m[key], join(path, key), out, visiting, fname) end
    visiting[m] = nil
  else
    error(("%s: %s is %s, not a layer, an nn.Sequential or a table of models")
      :format(fname, path or "the model", describe(m)), 0)
  end
end

--- The parameters of model as a list of {path, layer, name, param}, in named_parameters'
-- order; errors begin with fname. (For optim.lua.)
function containers.parameter_list(model, fname)
  local out = {}
  walk(model, nil, out, {}, fname)
  return out
end

--- The path of the gradient of the parameter at path named name ("1.W" -> "1.dW").
function containers.grad_path(path, name)
  return path:sub(1, #path - #name) .. "d" .. name
end

--- for path, layer, name in nn.named_parameters(model): every parameter of the model.
function nn.named_parameters(model, ...)
  at_most("named_parameters", 1, model, ...)
  local ok, list = pcall(containers.parameter_list, model, "named_parameters")
  if not ok then rethrow(list, 2) end
  local i = 0
  return function()
    i = i + 1
    local e = list[i]
    if e then return e.path, e.layer, e.name end
  end
end

-- ---- Sequential ------------------------------------------------------------------------------

local methods = {}

-- A layer's method m (a C layer has train/evaluate; a Lua layer may), or nil.
local function method(layer, m)
  local f = field(layer, m)
  if type(f) == "function" then return f end
  return nil
end

local function check_element(layer, i, fname)
  local k = kind(layer)
  if k == "sequential" or (k == "layer" and (type(layer) == "userdata" or type(layer.forward) == "function")) then
    return
  end
  if k == "layer" then
    error(("%s: layer %d has no forward function"):format(fname, i), 3)
  end
  error(("%s: element %d is %s, not a layer or an nn.Sequential"):format(fname, i, describe(layer)), 3)
end

--- model:forward(x): each layer's forward of the previous one's first result.
function methods.forward(self, x, ...)
  at_most("Sequential.forward", 2, self, x, ...)
  local layers = rawget(self, LAYERS)
  for i = 1, #layers do
    local l = layers[i]
    x = l:forward(x)
    if x == nil then error(("Sequential.forward: layer %d returned nothing"):format(i), 2) end
  end
  return x
end

--- model:backward(dy): each layer's backward in reverse, of the next one's first result.
function methods.backward(self, dy, ...)
  at_most("Sequential.backward", 2, self, dy, ...)
  local layers = rawget(self, LAYERS)
  for i = #layers, 1, -1 do
    local l = layers[i]
    local b = method(l, "backward")
    if not b then error(("Sequential.backward: layer %d has no backward"):format(i), 2) end
    dy = b(l, dy)
    if dy == nil then error(("Sequential.backward: layer %d returned nothing"):format(i), 2) end
  end
  return dy
end

local function set_mode(self, m, flag)
  local layers = rawget(self, LAYERS)
  for i = 1, #layers do
    local l = layers[i]
    local f = method(l, m)
    if f then f(l) end
  end
  rawset(self, TRAINING, flag)
  return self
end

--- model:train(), model:evaluate(): the mode of every layer that has one (Dropout).
function methods.train(self, ...)
  at_most("Sequential.train", 1, self, ...)
  return set_mode(self, "train", true)
end

function methods.evaluate(self, ...)
  at_most("Sequential.evaluate", 1, self, ...)
  return set_mode(self, "evaluate", false)
end

local FIELDS = "forward, backward, train, evaluate, training, 1..#model"

SEQ.__name = "tycho.Sequential"
SEQ.__index = function(self, key)
  if math.type(key) == "integer" then return rawget(self, LAYERS)[key] end
  local m = methods[key]
  if m then return m end
  if key == "training" then return rawget(self, TRAINING) end
  error(("Sequential: no field %s (its fields: %s; parameters: nn.named_parameters(model))")
    :format(tostring(key), FIELDS), 2)
end
SEQ.__newindex = function(self, key, value)
  local layers = rawget(self, LAYERS)
  if math.type(key) == "integer" and key >= 1 and key <= #layers then
    check_element(value, key, "Sequential")
    local ok, err = pcall(containers.parameter_list, value, "Sequential")
    if not ok then rethrow(err, 2) end
    local old = layers[key]
    layers[key] = value
    ok, err = pcall(containers.parameter_list, self, "Sequential")
    if not ok then
      layers[key] = old
      rethrow(err, 2)
    end
    return
  end
  error(("Sequential: cannot assign %s (layers 1..%d can be replaced; fields are read-only)")
    :format(tostring(key), #layers), 2)
end
SEQ.__len = function(self) return #rawget(self, LAYERS) end
SEQ.__tostring = function(self)
  local parts = {}
  for i, l in ipairs(rawget(self, LAYERS)) do
    parts[i] = type(l) == "table" and getmetatable(l) ~= SEQ and "layer" or tostring(l)
  end
  return "Sequential(" .. table.concat(parts, ", ") .. ")"
end

--- nn.Sequential{layer, ...}: layers chained by forward, backward in reverse.
function nn.Sequential(list, ...)
  at_most("Sequential", 1, list, ...)
  if type(list) ~= "table" or getmetatable(list) ~= nil or kind(list) == "layer" then
    local what = kind(list) == "layer" and "a layer: wrap it as nn.Sequential{layer}" or describe(list)
    error(("Sequential: expects a plain list of layers, {layer, ...} (got %s)"):format(what), 2)
  end
  local n = #list
  for key in pairs(list) do
    if math.type(key) ~= "integer" or key < 1 or key > n then
      error(("Sequential: the list has a key %s besides 1..%d"):format(tostring(key), n), 2)
    end
  end
  local layers = {}
  for i = 1, n do
    check_element(list[i], i, "Sequential")
    layers[i] = list[i]
  end
  local self = setmetatable({ [LAYERS] = layers, [TRAINING] = true }, SEQ)
  local ok, err = pcall(containers.parameter_list, self, "Sequential")
  if not ok then rethrow(err, 2) end
  return self
end

--- nn.is_sequential(m)
function containers.is_sequential(m) return getmetatable(m) == SEQ end

-- ---- clip_grad_norm --------------------------------------------------------------------------

--- nn.clip_grad_norm(model, max_norm [, norm_type = 2]): PyTorch 1.13's clip_grad_norm_: the
-- norm of all gradients together; each d<p> scaled in place by min(1, max_norm / (norm +
-- 1e-6)). Returns the norm (before clipping). norm_type may be math.huge.
function nn.clip_grad_norm(model, max_norm, norm_type, ...)
  local fname = "clip_grad_norm"
  at_most(fname, 3, model, max_norm, norm_type, ...)
  if type(max_norm) ~= "number" or not (max_norm >= 0) then
    error(("%s: max_norm must be a number >= 0 (got %s)"):format(fname, tostring(max_norm)), 2)
  end
  if norm_type == nil then norm_type = 2 end
  if type(norm_type) ~= "number" or not (norm_type > 0) then
    error(("%s: norm_type must be a number > 0 or math.huge (got %s)"):format(fname, tostring(norm_type)), 2)
  end
  local ok, list = pcall(containers.parameter_list, model, fname)
  if not ok then rethrow(list, 2) end
  local grads, seen = {}, {}
  for _, e in ipairs(list) do
    local dname = "d" .. e.name
    local g = e.layer[dname]
    local gpath = containers.grad_path(e.path, e.name)
    if g == nil then
      error(("%s: gradient %s is missing (call backward first)"):format(fname, gpath), 2)
    end
    local msg = K.check(e.param, g, true)
    if msg then error(("%s: gradient %s %s"):format(fname, gpath, msg), 2) end
    if not seen[g] then
      seen[g] = true
      grads[#grads + 1] = g
    end
  end
  local inf = norm_type == math.huge
  local total = 0.0
  for _, g in ipairs(grads) do
    local n = K.norm(g, norm_type)
    if inf then
      if n ~= n or n > total then total = n end
      if total ~= total then break end
    elseif norm_type == 2 then
      total = total + n * n
    elseif norm_type == 1 then
      total = total + n
    else
      total = total + n ^ norm_type
    end
  end
  if not inf then
    if norm_type == 2 then total = math.sqrt(total)
    elseif norm_type ~= 1 then total = total ^ (1 / norm_type) end
  end
  local coef = max_norm / (total + 1e-6)
  if coef > 1.0 then coef = 1.0 end -- torch.clamp(max=1): a NaN stays NaN
  if coef ~= 1.0 then
    for _, g in ipairs(grads) do g:mul_(coef) end
  end
  return total
end

return containers
