-- tycho.optim: PyTorch 1.13's optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, LBFGS) with its
-- option names, defaults and single-tensor formulas; each parameter's update is one C call.
local _, tycho = ...
-- Found by stock Lua's require in share/lua/5.4 (an installed copy), the second argument is
-- this file's path: the real module is the one built into tycho.so.
if type(tycho) ~= "table" then return require("tycho").optim end

local nn = tycho.nn
local K = nn._optim                -- the kernels (lua_optim.c), internal
local C = tycho.containers
local at_most = C.at_most
local rethrow = C.rethrow

local optim = {}

-- ---- options ---------------------------------------------------------------------------------

local function nonneg(what)
  return function(v, name, fname)
    if not (v >= 0) then
      error(("%s: invalid %s %s = %s (must be >= 0)"):format(fname, what, name, tostring(v)), 0)
    end
  end
end

local function positive_integer(v, name, fname)
  if math.tointeger(v) == nil or not (v >= 1) then
    error(("%s: %s must be an integer >= 1 (got %s)"):format(fname, name, tostring(v)), 0)
  end
end

local KINDS = { number = "a number", boolean = "a boolean", betas = "a list of two numbers",
  integer = "an integer", line_search = 'nil or "strong_wolfe"' }

-- The options of opts (a plain table or nil) for def: defaults filled, every name known,
-- every value of its kind and in range, as PyTorch's constructors check them.
local function read_options(def, opts, fname)
  if opts ~= nil and (type(opts) ~= "table" or getmetatable(opts) ~= nil) then
    error(("%s: options must be a plain table (got %s)"):format(fname, type(opts)), 0)
  end
  opts = opts or {}
  local known, names = {}, {}
  for _, spec in ipairs(def.options) do
    known[spec[1]] = spec
    names[#names + 1] = spec[1]
  end
  local unknown = {}
  for k in pairs(opts) do
    if not known[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown > 0 then
    table.sort(unknown)
    error(("%s: unknown option%s %s (its options: %s)"):format(fname, #unknown > 1 and "s" or "",
      table.concat(unknown, ", "), table.concat(names, ", ")), 0)
  end
  local o = {}
  for _, spec in ipairs(def.options) do
    local name, kind, default, check = spec[1], spec[2], spec[3], spec[4]
    local v = opts[name]
    if v == nil then
      if default == "required" then
        error(("%s: option %s is required"):format(fname, name), 0)
      end
      v = default
      if type(v) == "table" then v = { v[1], v[2] } end
    elseif kind == "number" or kind == "integer" then
      if type(v) ~= "number" then
        error(("%s: option %s must be %s (got %s)"):format(fname, name, KINDS[kind], type(v)), 0)
      end
      if kind == "integer" then v = math.tointeger(v) or v end
    elseif kind == "boolean" then
      if type(v) ~= "boolean" then
        error(("%s: option %s must be a boolean (got %s)"):format(fname, name, type(v)), 0)
      end
    elseif kind == "betas" then
      if type(v) ~= "table" or #v ~= 2 or type(v[1]) ~= "number" or type(v[2]) ~= "number" then
        error(("%s: option betas must be a list of two numbers"):format(fname), 0)
      end
      for i = 1, 2 do
        if not (v[i] >= 0 and v[i] < 1) then
          error(("%s: invalid beta parameter at index %d: %s (must be in [0, 1))"):format(fname, i,
            tostring(v[i])), 0)
        end
      end
      v = { v[1], v[2] }
    elseif kind == "line_search" then
      if v ~= "strong_wolfe" then
        error(('%s: line_search_fn must be nil or "strong_wolfe" (got %s)'):format(fname,
          type(v) == "string" and ('"' .. v .. '"') or type(v)), 0)
      end
    end
    if v ~= nil and check then check(v, name, fname) end
    o[name] = v
  end
  if def.check then def.check(o, fname) end
  return o
end

-- ---- the optimizer object --------------------------------------------------------------------

local Optimizer = {}   -- methods
local MT = {}

local function new(def, model, opts, ...)
  local fname = def.name
  at_most(fname, 2, model, opts, ...)
  local ok, o = pcall(read_options, def, opts, fname)
  if not ok then rethrow(o, 3) end
  local list
  ok, list = pcall(C.parameter_list, model, fname)
  if not ok then rethrow(list, 3) end
  if #list == 0 then error(fname .. ": the model has no parameters", 3) end
  local seen = {}
  for _, e in ipairs(list) do
    if seen[e.param] then
      error(("%s: parameters %s and %s are the same tensor"):format(fname, seen[e.param], e.path), 3)
    end
    seen[e.param] = e.path
    e.dname = "d" .. e.name
    e.gpath = C.grad_path(e.path, e.name)
  end
  local self = { _def = def, _o = o, _params = list, _grads = {}, _step = 0 }
  for i = 1, #list do self._grads[i] = false end
  def.init(self)
  return setmetatable(self, MT)
end

-- Reads every gradient into self._grads after checking them all (present, a tensor of the
-- parameter's shape, the parameter still the layer's): nothing is updated unless all are.
-- Errors carry no position (the callers add theirs).
local function read_grads(self, fname)
  local grads = self._grads
  for i, e in ipairs(self._params) do
    local layer = e.layer
    if not rawequal(layer[e.name], e.param) then
      error(("%s: parameter %s was replaced since the optimizer was made (make the optimizer "
        .. "after assigning parameters, or copy_ into them)"):format(fname, e.path), 0)
    end
    local g = layer[e.dname]
    if g == nil then
      error(("%s: gradient %s is missing (call backward before step)"):format(fname, e.gpath), 0)
    end
    local msg = K.check(e.param, g, false)
    if msg then error(("%s: gradient %s %s"):format(fname, e.gpath, msg), 0) end
    grads[i] = g
  end
  return grads
end

local function clear_grads(self)
  local grads = self._grads
  for i = 1, #grads do grads[i] = false end
end

--- opt:step([closure]): one update of every parameter from its gradient d<p>; with a
-- closure (forward, loss, backward), calls it first and returns what it returned.
function Optimizer.step(self, closure, ...)
  local def = self._def
  local fname = def.fstep
  at_most(fname, 2, self, closure, ...)
  if def.step then
    local loss = def.step(self, closure, fname)
    return loss
  end
  local loss
  if closure ~= nil then
    if type(closure) ~= "function" then
      error(("%s: closure must be a function (got %s)"):format(fname, type(closure)), 2)
    end
    loss = closure()
  end
  local ok, grads = pcall(read_grads, self, fname)
  if not ok then rethrow(grads, 2) end
  def.update(self, self._params, grads, self._o)
  clear_grads(self)
  return loss
end

--- opt:zero_grad(): sets every gradient d<p> there is to zero, as PyTorch's zero_grad()
-- (set_to_none=False). Not needed in tycho: backward replaces the d<p>.
function Optimizer.zero_grad(self, ...)
  at_most(self._def.name .. ".zero_grad", 1, self, ...)
  for _, e in ipairs(self._params) do
    local g = e.layer[e.dname]
    if tycho.is_tensor(g) then g:zero_() end
  end
end

local function shape_str(t)
  if t:dim() == 0 then return "scalar" end
  return table.concat(t:shape(), "x")
end

local function counter(v) return tycho.tensor(v + 0.0) end

--- opt:state(): a flat table name -> tensor (copies): the counters ("step", "lr", ...) as 0-d
-- tensors and each parameter's buffers as "<path>.<buffer>".
function Optimizer.state(self, ...)
  local def = self._def
  at_most(def.name .. ".state", 1, self, ...)
  local out = {}
  if def.state then
    def.state(self, out)
  else
    out.step = counter(self._step)
    out.lr = counter(self._o.lr)
    for _, e in ipairs(self._params) do
      for _, b in ipairs(self._buffers) do
        out[e.path .. "." .. b] = e[b]:clone()
      end
    end
  end
  return out
end

-- The number in a counter entry (0-d or one element).
local function counter_value(t) return t:reshape(1)[1] end

-- Checks st against expected (name -> tensor whose shape it must have, or "counter") and
-- raises naming what is missing, unexpected or misshapen.
local function check_state(st, expected, fname)
  local missing, unexpected = {}, {}
  for k, v in pairs(st) do
    if type(k) ~= "string" then
      error(("%s: the state has a key of type %s (names are strings)"):format(fname, type(k)), 0)
    end
    if expected[k] == nil then
      unexpected[#unexpected + 1] = k
    elseif not tycho.is_tensor(v) then
      error(("%s: entry %s is a %s, not a tensor"):format(fname, k, type(v)), 0)
    end
  end
  for k in pairs(expected) do
    if st[k] == nil then missing[#missing + 1] = k end
  end
  if #missing > 0 or #unexpected > 0 then
    table.sort(missing)
    table.sort(unexpected)
    local parts = {}
    if #missing > 0 then parts[#parts + 1] = "missing " .. table.concat(missing, ", ") end
    if #unexpected > 0 then parts[#parts + 1] = "unexpected " .. table.concat(unexpected, ", ") end
    error(("%s: the state does not fit this optimizer: %s"):format(fname, table.concat(parts, "; ")), 0)
  end
  local names = {}
  for k in pairs(expected) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local want, got = expected[k], st[k]
    if want == "counter" then
      if got:numel() ~= 1 then
        error(("%s: entry %s is %s (a counter has one element)"):format(fname, k, shape_str(got)), 0)
      end
    elseif not (got:dim() == want:dim() and shape_str(got) == shape_str(want)) then
      error(("%s: entry %s is %s but the optimizer's is %s"):format(fname, k, shape_str(got),
        shape_str(want)), 0)
    end
  end
end

local function check_count(v, name, fname)
  if not (v >= 0 and v == math.floor(v) and v < 2 ^ 53) then
    error(("%s: entry %s is %s (a count must be an integer >= 0)"):format(fname, name, tostring(v)), 0)
  end
end

local function check_lr(v, fname)
  if not (v >= 0) then
    error(("%s: entry lr is %s (must be >= 0)"):format(fname, tostring(v)), 0)
  end
end

--- opt:load_state(st): takes a table as state() gives back, checking every name and shape;
-- nothing changes on an error.
function Optimizer.load_state(self, st, ...)
  local def = self._def
  local fname = def.name .. ".load_state"
  at_most(fname, 2, self, st, ...)
  if type(st) ~= "table" then
    error(("%s: expects a table name -> tensor (got %s)"):format(fname, type(st)), 2)
  end
  if def.load_state then
    local ok, err = pcall(def.load_state, self, st, fname)
    if not ok then rethrow(err, 2) end
    return
  end
  local expected, dsts, srcs = { step = "counter", lr = "counter" }, {}, {}
  for _, e in ipairs(self._params) do
    for _, b in ipairs(self._buffers) do
      local name = e.path .. "." .. b
      expected[name] = e[b]
      dsts[#dsts + 1] = e[b]
      srcs[#srcs + 1] = st[name]
    end
  end
  local ok, err = pcall(check_state, st, expected, fname)
  if not ok then rethrow(err, 2) end
  local step, lr = counter_value(st.step), counter_value(st.lr)
  ok, err = pcall(check_count, step, "step", fname)
  if ok then ok, err = pcall(check_lr, lr, fname) end
  if not ok then rethrow(err, 2) end
  K.copy_all(dsts, srcs) -- checks all, then copies all
  self._step = math.tointeger(step)
  self._o.lr = lr
end

MT.__name = "tycho.Optimizer"
MT.__index = function(self, key)
  local m = Optimizer[key]
  if m then return m end
  local o = rawget(self, "_o")
  local v = o[key]
  if v ~= nil then
    if type(v) == "table" then return { v[1], v[2] } end
    return v
  end
  local def = rawget(self, "_def")
  for _, spec in ipairs(def.options) do
    if spec[1] == key then return nil end -- an option left nil (line_search_fn)
  end
  local names = {}
  for _, spec in ipairs(def.options) do names[#names + 1] = spec[1] end
  error(("%s: no field %s (its options: %s; methods: step, zero_grad, state, load_state)")
    :format(def.name, tostring(key), table.concat(names, ", ")), 2)
end
MT.__newindex = function(self, key, value)
  local def = rawget(self, "_def")
  if key == "lr" then
    if type(value) ~= "number" or not (value >= 0) then
      error(("%s: lr must be a number >= 0 (got %s)"):format(def.name, tostring(value)), 2)
    end
    rawget(self, "_o").lr = value
    return
  end
  error(("%s: cannot set %s (only lr can be set after construction)"):format(def.name, tostring(key)), 2)
end
MT.__tostring = function(self)
  local def, o = rawget(self, "_def"), rawget(self, "_o")
  local parts = {}
  for _, spec in ipairs(def.options) do
    local v = o[spec[1]]
    if type(v) == "table" then v = "{" .. v[1] .. ", " .. v[2] .. "}" end
    if v ~= nil then parts[#parts + 1] = spec[1] .. " = " .. tostring(v) end
  end
  return def.name .. "(" .. table.concat(parts, ", ") .. ")"
end

-- Per-parameter buffers named in order, made at construction (zeros, or fill).
local function make_buffers(self, names, fill)
  self._buffers = names
  for _, e in ipairs(self._params) do
    for _, b in ipairs(names) do
      local ok, t = pcall(tycho.zeros_like, e.param)
      if not ok and not tostring(t):find("closed", 1, true) then error(t, 0) end -- out of memory
      if not ok then -- a finalizer run by an allocation closed it
        error(("%s: parameter %s: %s"):format(self._def.name, e.path, (tostring(t):gsub("^.-%((.*)%)$", "%1"))), 0)
      end
      if fill and fill ~= 0 then t:fill_(fill) end
      e[b] = t
    end
  end
end

-- ---- SGD ---------------------------------------------------------------------------------------

local SGD = {
  name = "SGD",
  options = {
    { "lr", "number", "required", nonneg("learning rate") },
    { "momentum", "number", 0, nonneg("momentum value") },
    { "dampening", "number", 0 },
    { "weight_decay", "number", 0, nonneg("weight_decay value") },
    { "nesterov", "boolean", false },
    { "maximize", "boolean", false },
  },
  check = function(o, fname)
    if o.nesterov and (o.momentum <= 0 or o.dampening ~= 0) then
      error(fname .. ": Nesterov momentum requires a momentum and zero dampening", 0)
    end
  end,
  init = function(self)
    make_buffers(self, self._o.momentum ~= 0 and { "momentum_buffer" } or {})
  end,
  update = function(self, params, grads, o)
    local first = self._step == 0
    self._step = self._step + 1
    local lr, mu, damp, wd, nest, max = o.lr, o.momentum, o.dampening, o.weight_decay, o.nesterov, o.maximize
    local sgd = K.sgd
    for i = 1, #params do
      local e = params[i]
      sgd(e.param, grads[i], e.momentum_buffer or false, lr, mu, damp, wd, nest, max, first)
    end
  end,
}

-- ---- Adam, AdamW -------------------------------------------------------------------------------

local function adam_def(name, weight_decay, decoupled)
  return {
    name = name,
    options = {
      { "lr", "number", 1e-3, nonneg("learning rate") },
      { "betas", "betas", { 0.9, 0.999 } },
      { "eps", "number", 1e-8, nonneg("epsilon value") },
      { "weight_decay", "number", weight_decay, nonneg("weight_decay value") },
      { "amsgrad", "boolean", false },
      { "maximize", "boolean", false },
    },
    init = function(self)
      make_buffers(self, self._o.amsgrad and { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" }
        or { "exp_avg", "exp_avg_sq" })
    end,
    update = function(self, params, grads, o)
      local step = self._step + 1
      self._step = step
      local lr, b1, b2, eps, wd, max = o.lr, o.betas[1], o.betas[2], o.eps, o.weight_decay, o.maximize
      local step_size = lr / (1 - b1 ^ step)
      local bias2_sqrt = math.sqrt(1 - b2 ^ step)
      local decay = decoupled and 1 - lr * wd or 1.0
      local adam = K.adam
      for i = 1, #params do
        local e = params[i]
        adam(e.param, grads[i], e.exp_avg, e.exp_avg_sq, e.max_exp_avg_sq or false, step_size,
          bias2_sqrt, b1, b2, eps, wd, decay, not decoupled, max)
      end
    end,
  }
end

-- ---- RMSprop -----------------------------------------------------------------------------------

local RMSprop = {
  name = "RMSprop",
  options = {
    { "lr", "number", 1e-2, nonneg("learning rate") },
    { "alpha", "number", 0.99, nonneg("alpha value") },
    { "eps", "number", 1e-8, nonneg("epsilon value") },
    { "weight_decay", "number", 0, nonneg("weight_decay value") },
    { "momentum", "number", 0, nonneg("momentum value") },
    { "centered", "boolean", false },
    { "maximize", "boolean", false },
  },
  init = function(self)
    local names = { "square_avg" }
    if self._o.momentum > 0 then names[#names + 1] = "momentum_buffer" end
    if self._o.centered then names[#names + 1] = "grad_avg" end
    make_buffers(self, names)
  end,
  update = function(self, params, grads, o)
    self._step = self._step + 1
    local lr, alpha, eps, wd, mu, max = o.lr, o.alpha, o.eps, o.weight_decay, o.momentum, o.maximize
    local rmsprop = K.rmsprop
    for i = 1, #params do
      local e = params[i]
      rmsprop(e.param, grads[i], e.square_avg, e.grad_avg or false, e.momentum_buffer or false, lr,
        alpha, eps, wd, mu, max)
    end
  end,
}

-- ---- Adagrad -----------------------------------------------------------------------------------

local Adagrad = {
  name = "Adagrad",
  options = {
    { "lr", "number", 1e-2, nonneg("learning rate") },
    { "lr_decay", "number", 0, nonneg("lr_decay value") },
    { "weight_decay", "number", 0, nonneg("weight_decay value") },
    { "initial_accumulator_value", "number", 0, nonneg("initial_accumulator_value value") },
    { "eps", "number", 1e-10, nonneg("epsilon value") },
    { "maximize", "boolean", false },
  },
  init = function(self)
    make_buffers(self, { "sum" }, self._o.initial_accumulator_value)
  end,
  update = function(self, params, grads, o)
    local step = self._step + 1
    self._step = step
    local clr = o.lr / (1 + (step - 1) * o.lr_decay)
    local eps, wd, max = o.eps, o.weight_decay, o.maximize
    local adagrad = K.adagrad
    for i = 1, #params do
      local e = params[i]
      adagrad(e.param, grads[i], e.sum, clr, eps, wd, max)
    end
  end,
}

-- ---- LBFGS -------------------------------------------------------------------------------------

-- torch/optim/lbfgs.py's _cubic_interpolate (from Torch7's polyinterp.lua): the minimizer of
-- the cubic through two points with their derivatives, within bounds.
local function cubic_interpolate(x1, f1, g1, x2, f2, g2, lo, hi)
  local xmin_bound, xmax_bound
  if lo ~= nil then
    xmin_bound, xmax_bound = lo, hi
  elseif x1 <= x2 then
    xmin_bound, xmax_bound = x1, x2
  else
    xmin_bound, xmax_bound = x2, x1
  end
  local d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
  local d2_square = d1 * d1 - g1 * g2
  if d2_square >= 0 then
    local d2 = math.sqrt(d2_square)
    local min_pos
    if x1 <= x2 then
      min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else
      min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    end
    return math.min(math.max(min_pos, xmin_bound), xmax_bound)
  end
  return (xmin_bound + xmax_bound) / 2
end

-- lbfgs.py's _strong_wolfe (from Torch7's lswolfe.lua), with its defaults c1 = 1e-4,
-- c2 = 0.9, tolerance_change = 1e-9, max_ls = 25. obj(t) evaluates at x + t d and returns the
-- loss and a new flat gradient (never written afterwards, so kept without copies).
local function strong_wolfe(obj, t, d, f, g, gtd)
  local c1, c2, tolerance_change, max_ls = 1e-4, 0.9, 1e-9, 25
  local d_norm = K.norm(d, math.huge)
  local f_new, g_new = obj(t)
  local ls_func_evals = 1
  local gtd_new = g_new:dot(d)
  local t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
  local done = false
  local ls_iter = 0
  local bracket, bracket_f, bracket_g, bracket_gtd
  while ls_iter < max_ls do
    if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev) then
      bracket, bracket_f = { t_prev, t }, { f_prev, f_new }
      bracket_g, bracket_gtd = { g_prev, g_new }, { gtd_prev, gtd_new }
      break
    end
    if math.abs(gtd_new) <= -c2 * gtd then
      bracket, bracket_f, bracket_g = { t }, { f_new }, { g_new }
      done = true
      break
    end
    if gtd_new >= 0 then
      bracket, bracket_f = { t_prev, t }, { f_prev, f_new }
      bracket_g, bracket_gtd = { g_prev, g_new }, { gtd_prev, gtd_new }
      break
    end
    local min_step = t + 0.01 * (t - t_prev)
    local max_step = t * 10
    local tmp = t
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step)
    t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new, gtd_new
    f_new, g_new = obj(t)
    ls_func_evals = ls_func_evals + 1
    gtd_new = g_new:dot(d)
    ls_iter = ls_iter + 1
  end
  if ls_iter == max_ls then
    bracket, bracket_f, bracket_g = { 0, t }, { f, f_new }, { g, g_new }
  end

  -- zoom: refine the bracket until a point satisfies the conditions
  local insuf_progress = false
  local low_pos, high_pos = 1, 2
  if not (bracket_f[1] <= bracket_f[#bracket_f]) then low_pos, high_pos = 2, 1 end
  while not done and ls_iter < max_ls do
    if math.abs(bracket[2] - bracket[1]) * d_norm < tolerance_change then break end
    t = cubic_interpolate(bracket[1], bracket_f[1], bracket_gtd[1], bracket[2], bracket_f[2],
      bracket_gtd[2])
    local bmax, bmin = math.max(bracket[1], bracket[2]), math.min(bracket[1], bracket[2])
    local eps = 0.1 * (bmax - bmin)
    if math.min(bmax - t, t - bmin) < eps then
      if insuf_progress or t >= bmax or t <= bmin then
        if math.abs(t - bmax) < math.abs(t - bmin) then t = bmax - eps else t = bmin + eps end
        insuf_progress = false
      else
        insuf_progress = true
      end
    else
      insuf_progress = false
    end
    f_new, g_new = obj(t)
    ls_func_evals = ls_func_evals + 1
    gtd_new = g_new:dot(d)
    ls_iter = ls_iter + 1
    if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos] then
      bracket[high_pos], bracket_f[high_pos] = t, f_new
      bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
      if bracket_f[1] <= bracket_f[2] then low_pos, high_pos = 1, 2 else low_pos, high_pos = 2, 1 end
    else
      if math.abs(gtd_new) <= -c2 * gtd then
        done = true
      elseif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0 then
        bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
        bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
      end
      bracket[low_pos], bracket_f[low_pos] = t, f_new
      bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new
    end
  end
  return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
end

-- The loss the closure returned, checked, and the flat gradient after it.
local function evaluate(self, closure, fname)
  local loss = closure()
  if type(loss) ~= "number" then
    error(("%s: the closure returned %s, not the loss (a number)"):format(fname, type(loss)), 0)
  end
  local flat = tycho.empty(self._numel) -- first: nothing is made between the checks and the copy
  local grads = read_grads(self, fname)
  K.gather(flat, grads)
  clear_grads(self)
  return loss, flat
end

local function lbfgs_step(self, closure, fname)
  if type(closure) ~= "function" then
    error(("%s: needs a closure (forward, loss, backward; returns the loss), got %s")
      :format(fname, type(closure)), 3)
  end
  local o, st, plist = self._o, self._lbfgs, self._plist
  local lr, max_iter, max_eval = o.lr, o.max_iter, o.max_eval
  local tolerance_grad, tolerance_change = o.tolerance_grad, o.tolerance_change
  local history_size = o.history_size
  local inf = math.huge

  local orig_loss, flat_grad = evaluate(self, closure, fname)
  local loss = orig_loss
  local current_evals = 1
  st.func_evals = st.func_evals + 1
  local opt_cond = K.norm(flat_grad, inf) <= tolerance_grad
  if opt_cond then return orig_loss end

  local d, t = st.d, st.t
  local old_dirs, old_stps, ro, H_diag = st.old_dirs, st.old_stps, st.ro, st.H_diag
  local prev_flat_grad, prev_loss = st.prev_flat_grad, st.prev_loss
  local n_iter = 0
  while n_iter < max_iter do
    n_iter = n_iter + 1
    st.n_iter = st.n_iter + 1
    -- the direction
    if st.n_iter == 1 then
      d = -flat_grad
      old_dirs, old_stps, ro = {}, {}, {}
      H_diag = 1
    else
      local y = flat_grad - prev_flat_grad
      local s = d * t
      local ys = y:dot(s)
      if ys > 1e-10 then
        if #old_dirs == history_size then
          table.remove(old_dirs, 1)
          table.remove(old_stps, 1)
          table.remove(ro, 1)
        end
        old_dirs[#old_dirs + 1] = y
        old_stps[#old_stps + 1] = s
        ro[#ro + 1] = 1 / ys
        H_diag = ys / y:dot(y)
      end
      local num_old = #old_dirs
      local al = {}
      local q = -flat_grad
      for i = num_old, 1, -1 do
        al[i] = old_stps[i]:dot(q) * ro[i]
        K.axpy(q, -al[i], old_dirs[i])
      end
      d = q * H_diag
      for i = 1, num_old do
        local be_i = old_dirs[i]:dot(d) * ro[i]
        K.axpy(d, al[i] - be_i, old_stps[i])
      end
    end
    if prev_flat_grad == nil then
      prev_flat_grad = flat_grad:clone()
    else
      prev_flat_grad:copy_(flat_grad)
    end
    prev_loss = loss
    -- the step length
    if st.n_iter == 1 then
      t = math.min(1, 1 / K.norm(flat_grad, 1)) * lr
    else
      t = lr
    end
    local gtd = flat_grad:dot(d)
    if gtd > -tolerance_change then break end
    local ls_func_evals = 0
    if o.line_search_fn ~= nil then
      local x_init = tycho.empty(self._numel)
      K.gather(x_init, plist)
      local function obj(tt)
        K.add_flat(plist, tt, d)
        local l, g = evaluate(self, closure, fname)
        K.scatter(plist, x_init)
        return l, g
      end
      loss, flat_grad, t, ls_func_evals = strong_wolfe(obj, t, d, loss, flat_grad, gtd)
      K.add_flat(plist, t, d)
      opt_cond = K.norm(flat_grad, inf) <= tolerance_grad
    else
      K.add_flat(plist, t, d)
      if n_iter ~= max_iter then
        loss, flat_grad = evaluate(self, closure, fname)
        opt_cond = K.norm(flat_grad, inf) <= tolerance_grad
        ls_func_evals = 1
      end
    end
    current_evals = current_evals + ls_func_evals
    st.func_evals = st.func_evals + ls_func_evals
    -- the conditions
    if n_iter == max_iter then break end
    if current_evals >= max_eval then break end
    if opt_cond then break end
    if K.norm(d, inf) * math.abs(t) <= tolerance_change then break end
    if math.abs(loss - prev_loss) < tolerance_change then break end
  end
  st.d, st.t = d, t
  st.old_dirs, st.old_stps, st.ro, st.H_diag = old_dirs, old_stps, ro, H_diag
  st.prev_flat_grad, st.prev_loss = prev_flat_grad, prev_loss
  return orig_loss
end

local function lbfgs_state(self, out)
  local st = self._lbfgs
  out.n_iter = counter(st.n_iter)
  out.func_evals = counter(st.func_evals)
  out.lr = counter(self._o.lr)
  if st.d then
    out.d = st.d:clone()
    out.t = counter(st.t)
    out.H_diag = counter(st.H_diag)
    out.prev_flat_grad = st.prev_flat_grad:clone()
    out.prev_loss = counter(st.prev_loss)
    local k = #st.ro
    out.ro = k > 0 and tycho.tensor(st.ro) or tycho.zeros(0)
    for i = 1, k do
      out["old_dirs." .. i] = st.old_dirs[i]:clone()
      out["old_stps." .. i] = st.old_stps[i]:clone()
    end
  end
end

local function lbfgs_load(self, st, fname)
  local n = self._numel
  local flat = tycho.zeros(n)
  local expected = { n_iter = "counter", func_evals = "counter", lr = "counter" }
  local n_iter = tycho.is_tensor(st.n_iter) and st.n_iter:numel() == 1 and counter_value(st.n_iter)
  local k = 0
  if n_iter and n_iter > 0 then
    for _, name in ipairs { "t", "H_diag", "prev_loss" } do expected[name] = "counter" end
    expected.d, expected.prev_flat_grad = flat, flat
    local ro = st.ro
    k = tycho.is_tensor(ro) and ro:dim() == 1 and ro:size(1) or 0
    if k > self._o.history_size then
      error(("%s: entry ro holds %d pairs, more than history_size %d"):format(fname, k,
        self._o.history_size), 0)
    end
    expected.ro = tycho.zeros(k)
    for i = 1, k do
      expected["old_dirs." .. i], expected["old_stps." .. i] = flat, flat
    end
  end
  check_state(st, expected, fname)
  local func_evals, lr = counter_value(st.func_evals), counter_value(st.lr)
  check_count(n_iter, "n_iter", fname)
  check_count(func_evals, "func_evals", fname)
  check_lr(lr, fname)
  -- everything new is made before anything changes
  local new = { n_iter = math.tointeger(n_iter), func_evals = math.tointeger(func_evals) }
  if n_iter > 0 then
    new.d, new.prev_flat_grad = st.d:flatten():clone(), st.prev_flat_grad:flatten():clone()
    new.t, new.H_diag, new.prev_loss = counter_value(st.t), counter_value(st.H_diag), counter_value(st.prev_loss)
    new.old_dirs, new.old_stps, new.ro = {}, {}, {}
    for i = 1, k do
      new.old_dirs[i] = st["old_dirs." .. i]:clone()
      new.old_stps[i] = st["old_stps." .. i]:clone()
      new.ro[i] = st.ro[i]
    end
  end
  self._lbfgs = new
  self._o.lr = lr
end

local LBFGS = {
  name = "LBFGS",
  options = {
    { "lr", "number", 1, nonneg("learning rate") },
    { "max_iter", "integer", 20, positive_integer },
    { "max_eval", "integer", nil, positive_integer },
    { "tolerance_grad", "number", 1e-7, nonneg("tolerance_grad value") },
    { "tolerance_change", "number", 1e-9, nonneg("tolerance_change value") },
    { "history_size", "integer", 100, positive_integer },
    { "line_search_fn", "line_search", nil },
  },
  check = function(o)
    if o.max_eval == nil then o.max_eval = o.max_iter * 5 // 4 end
  end,
  init = function(self)
    local plist, n = {}, 0
    for i, e in ipairs(self._params) do
      plist[i] = e.param
      n = n + e.param:numel()
    end
    self._plist, self._numel = plist, n
    self._lbfgs = { n_iter = 0, func_evals = 0 }
  end,
  step = lbfgs_step,
  state = lbfgs_state,
  load_state = lbfgs_load,
}

-- ---- constructors ------------------------------------------------------------------------------

local DEFS = { SGD = SGD, Adam = adam_def("Adam", 0, false), AdamW = adam_def("AdamW", 1e-2, true),
  RMSprop = RMSprop, Adagrad = Adagrad, LBFGS = LBFGS }

for name, def in pairs(DEFS) do
  def.fstep = name .. ".step" -- made once: a step allocates nothing
  --- optim.<name>(model [, opts]): the optimizer of every parameter of model
  -- (nn.named_parameters' order), with PyTorch 1.13's options.
  optim[name] = function(model, opts, ...)
    local opt = new(def, model, opts, ...)
    return opt
  end
end

return optim
