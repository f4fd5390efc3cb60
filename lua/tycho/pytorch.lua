-- tycho.pytorch: nn.from_pytorch(layer, state, prefix [, index]) fills a layer from a PyTorch
-- state_dict read with tycho.load (a table name -> tensor): Linear, Embedding, RNN, LSTM and
-- GRU (layer `index` of a stack: names "_l<index - 1>"), and RNNCell, LSTMCell, GRUCell.
-- PyTorch keeps weights as out x in; tycho's are in x out, so the weights are transposed. An
-- RNN or LSTM has two biases where tycho has one b: their sum. Every value is copied into the
-- layer's own parameter tensors (an optimizer built on the model keeps working on them).
local _, tycho = ...
if type(tycho) ~= "table" then return require("tycho").pytorch end

local nn = tycho.nn
local M = {}

local function shape_str(t) return t:dim() == 0 and "a 0-d tensor" or table.concat(t:shape(), "x") end

-- Names of the state's entries under prefix, for the message of a missing one.
local function names_under(state, prefix)
  local names = {}
  for k in pairs(state) do
    if type(k) == "string" and k:sub(1, #prefix + 1) == prefix .. "." then names[#names + 1] = k end
  end
  table.sort(names)
  return #names > 0 and table.concat(names, ", ") or "none"
end

local function entry(state, prefix, name, optional)
  local key = prefix .. "." .. name
  local t = rawget(state, key)
  if t == nil then
    if optional then return nil end
    error(("from_pytorch: the state has no %s (its entries under %s: %s)"):format(key, prefix,
      names_under(state, prefix)), 0)
  end
  if not tycho.is_tensor(t) then
    error(("from_pytorch: %s must be a tensor (got %s)"):format(key, type(t)), 0)
  end
  return t, key
end

local function kind_of(layer)
  if type(layer) ~= "userdata" then
    error(("from_pytorch: layer must be a tycho.nn layer (got %s)"):format(type(layer)), 0)
  end
  local name = tostring(layer):match("^(%w+)")
  if name == "AffineLayer" or name == "Embedding" or name == "RNNLayer" or name == "LSTMLayer"
     or name == "GRULayer" then
    return name
  end
  error(("from_pytorch: %s has no PyTorch counterpart (Linear, Embedding, RNN, LSTM, GRU and their cells)")
    :format(tostring(layer)), 0)
end

--- nn.from_pytorch(layer, state, prefix [, index]): see the top of this file. Every entry is
-- checked (present, a tensor, the layer's shape) before any parameter changes.
function M.from_pytorch(layer, state, prefix, index, extra)
  if extra ~= nil then error("from_pytorch: takes at most 4 arguments (layer, state, prefix, index)", 2) end
  local kind = kind_of(layer)
  if type(state) ~= "table" then
    error(("from_pytorch: state must be a table name -> tensor (got %s)"):format(type(state)), 2)
  end
  if type(prefix) ~= "string" then
    error(("from_pytorch: prefix must be a string such as \"lstm\" (got %s)"):format(type(prefix)), 2)
  end
  if index ~= nil and (math.type(index) ~= "integer" or index < 1) then
    error(("from_pytorch: index must be a layer number 1, 2, ... (got %s)"):format(tostring(index)), 2)
  end
  local fills = {} -- { parameter, value, key }, checked before any is copied
  if kind == "AffineLayer" or kind == "Embedding" then
    if index ~= nil then error(("from_pytorch: %s takes no index"):format(tostring(layer)), 2) end
    local w, wkey = entry(state, prefix, "weight")
    if kind == "AffineLayer" then
      if w:dim() ~= 2 then error(("from_pytorch: %s must be a matrix (got %s)"):format(wkey, shape_str(w)), 2) end
      fills[1] = { "W", w:transpose(), wkey }
      local b, bkey = entry(state, prefix, "bias", true)
      fills[2] = { "b", b or tycho.zeros(w:size(1)), bkey or (prefix .. ".bias (absent: zeros)") }
    else
      fills[1] = { "W", w, wkey }
    end
  else
    -- a stack's layer index has "_l<index - 1>" names; a cell's have none
    local suffix = ""
    if index ~= nil then
      suffix = "_l" .. (index - 1)
    elseif rawget(state, prefix .. ".weight_ih") == nil then
      suffix = "_l0"
    end
    for _, unsupported in ipairs { "weight_hr" .. suffix, "weight_ih" .. suffix .. "_reverse" } do
      if rawget(state, prefix .. "." .. unsupported) ~= nil then
        error(("from_pytorch: %s.%s: tycho's layers have no %s"):format(prefix, unsupported,
          unsupported:find("reverse") and "reverse direction (bidirectional)" or "projection (proj_size)"), 2)
      end
    end
    local wih, kih = entry(state, prefix, "weight_ih" .. suffix)
    local whh, khh = entry(state, prefix, "weight_hh" .. suffix)
    for _, w in ipairs { { wih, kih }, { whh, khh } } do
      if w[1]:dim() ~= 2 then error(("from_pytorch: %s must be a matrix (got %s)"):format(w[2], shape_str(w[1])), 2) end
    end
    fills[1] = { "W_ih", wih:transpose(), kih }
    fills[2] = { "W_hh", whh:transpose(), khh }
    local bih, kbih = entry(state, prefix, "bias_ih" .. suffix, true)
    local bhh, kbhh = entry(state, prefix, "bias_hh" .. suffix, true)
    local zeros = tycho.zeros(wih:size(1))
    if kind == "GRULayer" then
      fills[3] = { "b_ih", bih or zeros, kbih or (prefix .. ".bias_ih" .. suffix .. " (absent: zeros)") }
      fills[4] = { "b_hh", bhh or zeros, kbhh or (prefix .. ".bias_hh" .. suffix .. " (absent: zeros)") }
    else
      local ok, sum = pcall(function() return (bih or zeros) + (bhh or zeros) end)
      if not ok or sum:dim() ~= 1 then
        error(("from_pytorch: %s and %s must be vectors of one length"):format(prefix .. ".bias_ih" .. suffix,
          prefix .. ".bias_hh" .. suffix), 2)
      end
      fills[3] = { "b", sum, (kbih or kbhh or (prefix .. ".bias")) .. " + bias_hh" .. suffix }
    end
  end
  -- every shape first, then the copies: nothing is half-filled
  for _, f in ipairs(fills) do
    local target, value = layer[f[1]], f[2]
    if table.concat(value:shape(), "x") ~= table.concat(target:shape(), "x") or value:dim() ~= target:dim() then
      error(("from_pytorch: %s gives %s %s for %s but the layer's %s is %s"):format(f[3], f[1], shape_str(value),
        tostring(layer), f[1], shape_str(target)), 2)
    end
  end
  for _, f in ipairs(fills) do layer[f[1]]:copy_(f[2]) end
  return layer
end

nn.from_pytorch = M.from_pytorch
return M
