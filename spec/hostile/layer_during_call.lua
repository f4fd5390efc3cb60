-- Run by hostile_spec.lua (tycho --sandbox, no instruction limit): while an RNN layer's method
-- allocates its results (big enough to step the collector), a finalizer replaces the
-- layer's weights with ones of other sizes, or calls the layer's methods itself, or closes
-- what the call uses. The call must raise an error that names what changed; never read or
-- write past a weight. Prints one line per case.
local nn = tycho.nn
local N, D, H = 200, 200, 200

-- setup() returns the layer and the call's arguments; change(layer) runs in a finalizer
-- pending during the call. When the collector steps depends on its debt: tried until the
-- finalizer runs inside the call.
local function attempt(name, setup, method, change)
  for _ = 1, 20 do
    local r, a, b = setup()
    local fired = false
    setmetatable({}, { __gc = function() fired = true change(r) end })
    local ok, err = pcall(r[method], r, a, b)
    if fired then
      if ok then print(name .. " ok") else print(name .. " error " .. tostring(err):gsub("^.-: ", "", 1)) end
      return
    end
  end
  print(name .. " not fired")
end

local replacements = {
  W_ih = function() return tycho.zeros(3, H + 1) end,
  W_hh = function() return tycho.zeros(H + 1, H + 1) end,
  b = function() return tycho.zeros(1) end,
}

local function for_step() return nn.RNNLayer(D, H), tycho.rand(N, D), tycho.rand(N, H) end
local function for_step_back()
  local r, x, h = for_step()
  r:forward_step(x, h)
  return r, h, tycho.ones(N, H)
end
local function for_seq() return nn.RNNLayer(D, H), tycho.rand(N, 1, D), tycho.rand(N, H) end
local function for_seq_back()
  local r, x, h0 = for_seq()
  r:forward(x, h0)
  return r, tycho.ones(N, 1, H)
end

for _, field in ipairs { "W_ih", "W_hh", "b" } do
  local function replace(r) r[field] = replacements[field]() end
  attempt("forward_step " .. field, for_step, "forward_step", replace)
  attempt("backward_step " .. field, for_step_back, "backward_step", replace)
  attempt("forward " .. field, for_seq, "forward", replace)
  attempt("backward " .. field, for_seq_back, "backward", replace)
end

-- the finalizer runs the layer's own methods, replacing what the outer call caches
attempt("backward while forward runs again", for_seq_back, "backward",
        function(r) r:forward(tycho.rand(2, 3, D), tycho.rand(2, H)) end)
attempt("backward_step while forward_step runs again", for_step_back, "backward_step",
        function(r) r:forward_step(tycho.rand(2, D), tycho.rand(2, H)) end)
-- it closes the forward's cached result, or a weight
attempt("backward while its cache is closed", for_seq_back, "backward",
        function(r) local b <close> = r.W_hh end)
attempt("forward while a weight is closed", for_seq, "forward",
        function(r) local b <close> = r.W_ih end)

-- the feed-forward layers the same way: AffineLayer's W and b, Embedding's W
local function for_affine() return nn.AffineLayer(D, H), tycho.rand(N, D) end
local function for_affine_back()
  local l, x = for_affine()
  l:forward(x)
  return l, tycho.ones(N, H)
end
attempt("affine forward W", for_affine, "forward", function(l) l.W = tycho.zeros(3, H + 1) end)
attempt("affine forward b", for_affine, "forward", function(l) l.b = tycho.zeros(1) end)
attempt("affine backward W", for_affine_back, "backward", function(l) l.W = tycho.zeros(D, H + 1) end)
attempt("affine backward while forward runs again", for_affine_back, "backward",
        function(l) l:forward(tycho.rand(2, D)) end)
local function for_embedding() return nn.Embedding(N, D), tycho.full({ N, 2 }, N) end
local function for_embedding_back()
  local e, ids = for_embedding()
  e:forward(ids)
  return e, tycho.ones(N, 2, D)
end
attempt("embedding forward W", for_embedding, "forward", function(e) e.W = tycho.zeros(2, D) end)
attempt("embedding backward W", for_embedding_back, "backward", function(e) e.W = tycho.zeros(N, D + 1) end)
