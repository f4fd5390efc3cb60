-- tycho.checkpoint: a model's parameters, and an optimizer's state, in one file and back.
--   nn.save(path, model [, opt [, options]])   -- .npz or .safetensors, by extension
--   local extra = nn.load(path, model [, opt])
-- The file holds every parameter under its path (nn.named_parameters: "1.W_ih", "head.W"),
-- the optimizer's state (opt:state()) under "optimizer.<name>", the engine's random state
-- under "random.state" when options.random is set, and the tensors of options.extra under
-- "extra.<name>"; all float64, so training resumed from it continues exactly. nn.load checks
-- every name and shape first (what is missing, unexpected or misshapen is named) and changes
-- nothing unless all fit; it returns the extra tensors (a table, empty if none).
local _, tycho = ...
if type(tycho) ~= "table" then return require("tycho").checkpoint end

local nn = tycho.nn
local M = {}

local SAVE_OPTIONS = { extra = "table", random = "boolean", compress = "boolean", metadata = "table" }

local function shape_str(t) return t:dim() == 0 and "scalar" or table.concat(t:shape(), "x") end

local function same_shape(a, b)
  if a:dim() ~= b:dim() then return false end
  for d = 1, a:dim() do if a:size(d) ~= b:size(d) then return false end end
  return true
end

local function bare(msg) return (tostring(msg):gsub("^[^\n]-:%d+: ", "", 1)) end

local function is_optimizer(opt)
  return type(opt) == "table" and type(opt.state) == "function" and type(opt.load_state) == "function"
end

-- The parameters of model: a list of {path, tensor}.
local function parameters(model, fname)
  local ok, list = pcall(function()
    local out = {}
    for path, layer, name in nn.named_parameters(model) do out[#out + 1] = { path, layer[name] } end
    return out
  end)
  if not ok then error(fname .. ": " .. bare(list):gsub("^named_parameters: ", ""), 3) end
  return list
end

--- nn.state(model [, opt]): the flat table nn.save writes (without extra and random).
function M.state(model, opt, more)
  if more ~= nil then error("state: takes at most 2 arguments (model, opt)", 2) end
  local out = {}
  for _, p in ipairs(parameters(model, "state")) do out[p[1]] = p[2] end
  if opt ~= nil then
    if not is_optimizer(opt) then error("state: opt must be a tycho.optim optimizer", 2) end
    for k, v in pairs(opt:state()) do out["optimizer." .. k] = v end
  end
  return out
end

--- nn.save(path, model [, opt [, options]]): options.extra (name -> tensor), options.random
-- (true: the engine's random state too), options.compress (.npz), options.metadata
-- (.safetensors).
function M.save(path, model, opt, options, more)
  if more ~= nil then error("save: takes at most 4 arguments (path, model, opt, options)", 2) end
  if type(path) ~= "string" then error(("save: path must be a string (got %s)"):format(type(path)), 2) end
  if not (path:match("%.npz$") or path:match("%.safetensors$")) then
    error(("save: %s: a checkpoint is an .npz or .safetensors file"):format(path), 2)
  end
  if opt ~= nil and not is_optimizer(opt) then error("save: opt must be a tycho.optim optimizer (or nil)", 2) end
  options = options or {}
  if type(options) ~= "table" then error(("save: options must be a table (got %s)"):format(type(options)), 2) end
  for k, v in pairs(options) do
    if not SAVE_OPTIONS[k] then
      error(("save: unknown option %s (options: extra, random, compress, metadata)"):format(tostring(k)), 2)
    end
    if type(v) ~= SAVE_OPTIONS[k] then error(("save: option %s must be a %s"):format(k, SAVE_OPTIONS[k]), 2) end
  end
  local ok, entries = pcall(M.state, model, opt)
  if not ok then error("save: " .. bare(entries):gsub("^state: ", ""), 2) end
  for k, v in pairs(options.extra or {}) do
    if type(k) ~= "string" then error("save: extra's names must be strings", 2) end
    if not tycho.is_tensor(v) then error(("save: extra %s must be a tensor (got %s)"):format(k, type(v)), 2) end
    entries["extra." .. k] = v
  end
  if options.random then entries["random.state"] = tycho.random.get_state() end
  local file_opts
  if path:match("%.npz$") then
    if options.metadata then error("save: metadata is for .safetensors files", 2) end
    file_opts = { compress = options.compress }
  else
    if options.compress ~= nil then error("save: compress is for .npz files", 2) end
    file_opts = { dtype = "F64", metadata = options.metadata }
  end
  local saved, err = pcall(tycho.save, path, entries, file_opts)
  if not saved then error(bare(err), 2) end
end

-- Raises, listing what does not fit, unless problems is empty.
local function report(fname, path, problems)
  if #problems == 0 then return end
  error(("%s: %s does not fit the model: %s"):format(fname, path, table.concat(problems, "; ")), 3)
end

--- nn.load(path, model [, opt]): see the top of this file.
function M.load(path, model, opt, more)
  if more ~= nil then error("load: takes at most 3 arguments (path, model, opt)", 2) end
  if type(path) ~= "string" then error(("load: path must be a string (got %s)"):format(type(path)), 2) end
  if opt ~= nil and not is_optimizer(opt) then error("load: opt must be a tycho.optim optimizer (or nil)", 2) end
  local params = parameters(model, "load")
  local ok, entries = pcall(tycho.load, path)
  if not ok then error(bare(entries), 2) end
  if type(entries) ~= "table" then error(("load: %s is a single tensor, not a checkpoint"):format(path), 2) end
  local missing, misshapen, unexpected = {}, {}, {}
  local known = {}
  for _, p in ipairs(params) do
    local name, target = p[1], p[2]
    known[name] = true
    local t = entries[name]
    if t == nil then
      missing[#missing + 1] = name
    elseif not same_shape(t, target) then
      misshapen[#misshapen + 1] = ("%s is %s in the file, %s in the model"):format(name, shape_str(t), shape_str(target))
    end
  end
  local opt_state, has_opt, extra = {}, false, {}
  local names = {}
  for k in pairs(entries) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    if not known[k] then
      local o = k:match("^optimizer%.(.+)$")
      local x = k:match("^extra%.(.+)$")
      if o then
        opt_state[o] = entries[k]
        has_opt = true
      elseif x then
        extra[x] = entries[k]
      elseif k ~= "random.state" then
        unexpected[#unexpected + 1] = k
      end
    end
  end
  local problems = {}
  if #missing > 0 then problems[#problems + 1] = "missing " .. table.concat(missing, ", ") end
  if #unexpected > 0 then problems[#problems + 1] = "unexpected " .. table.concat(unexpected, ", ") end
  if #misshapen > 0 then problems[#problems + 1] = table.concat(misshapen, ", ") end
  if opt ~= nil and not has_opt then problems[#problems + 1] = "it holds no optimizer state" end
  report("load", path, problems)
  -- the random state and the optimizer's each check theirs whole and change nothing on an
  -- error; the generator goes back if the optimizer refuses: nothing is half-loaded
  local saved_random
  if entries["random.state"] then
    saved_random = tycho.random.get_state()
    local set, err = pcall(tycho.random.set_state, entries["random.state"])
    if not set then error(("load: %s: random.state: %s"):format(path, bare(err)), 2) end
  end
  if opt ~= nil then
    local loaded, err = pcall(opt.load_state, opt, opt_state)
    if not loaded then
      if saved_random then tycho.random.set_state(saved_random) end
      error(("load: %s: %s"):format(path, bare(err)), 2)
    end
  end
  for _, p in ipairs(params) do p[2]:copy_(entries[p[1]]) end
  return extra
end

nn.save, nn.load, nn.state = M.save, M.load, M.state
return M
