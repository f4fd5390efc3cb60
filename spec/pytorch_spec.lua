-- nn.from_pytorch: PyTorch 1.13 modules' state_dicts (spec/fixtures/pytorch/make_pytorch.py,
-- float64, one .npy per entry under PyTorch's names) loaded into tycho's layers give
-- PyTorch's outputs; every error names the entry.
local lu = require "luaunit"
local tycho = require "tycho"
local nn = require "tycho.nn"
local checks = require "tycho.checks"

local DIR = "spec/fixtures/pytorch/"
local function F(name) return tycho.load(DIR .. name .. ".npy") end

-- The state_dict entries of module prefix, as tycho.load gives a .npz or .safetensors file.
local function state(prefix, names)
  local s = {}
  for _, n in ipairs(names) do s[prefix .. "." .. n] = F(prefix .. "." .. n) end
  return s
end
local function stack_names(two_biases)
  local names = {}
  for l = 0, 1 do
    for _, w in ipairs { "weight_ih", "weight_hh", "bias_ih", "bias_hh" } do names[#names + 1] = w .. "_l" .. l end
  end
  return names
end
local CELL = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" }

local function close(got, want, what)
  lu.assertEquals(got:shape(), want:shape(), what)
  local err = checks.rel_error(got, want)
  lu.assertTrue(err < 1e-12, ("%s: rel_error %g"):format(what, err))
end

local support = require "spec.support"
local assert_error = support.assert_error

function test_two_layer_stacks()
  local x = F "seq_x"
  for prefix, new in pairs { rnn = nn.RNNLayer, lstm = nn.LSTMLayer, gru = nn.GRULayer } do
    local s = state(prefix, stack_names())
    local l1, l2 = new(3, 4), new(4, 4)
    local W = l1.W_ih
    lu.assertTrue(rawequal(nn.from_pytorch(l1, s, prefix, 1), l1))
    nn.from_pytorch(l2, s, prefix, 2)
    lu.assertTrue(rawequal(l1.W_ih, W), "copied into the layer's own tensor")
    close(l2:forward(l1:forward(x)), F(prefix .. "_y"), prefix)
  end
end

function test_index_defaults_to_the_first_layer()
  local s = state("lstm", stack_names())
  local a, b = nn.LSTMLayer(3, 4), nn.LSTMLayer(3, 4)
  nn.from_pytorch(a, s, "lstm")
  nn.from_pytorch(b, s, "lstm", 1)
  lu.assertEquals(a.W_ih, b.W_ih)
  lu.assertEquals(a.b, s["lstm.bias_ih_l0"] + s["lstm.bias_hh_l0"])
  lu.assertEquals(a.W_hh, s["lstm.weight_hh_l0"].T)
end

function test_linear_and_embedding()
  local x = F "seq_x"
  local l = nn.Linear(3, 2)
  nn.from_pytorch(l, state("linear", { "weight", "bias" }), "linear")
  close(l:forward(x), F "linear_y", "linear")
  local nb = nn.Linear(3, 2)
  nn.from_pytorch(nb, state("nobias", { "weight" }), "nobias")
  lu.assertEquals(nb.b, tycho.zeros(2))
  close(nb:forward(x), F "nobias_y", "linear without bias")
  local e = nn.Embedding(6, 3)
  nn.from_pytorch(e, state("emb", { "weight" }), "emb")
  close(e:forward(F "emb_ids"), F "emb_y", "embedding")
end

function test_cells()
  local x, h0, c0 = F "cell_x", F "cell_h0", F "cell_c0"
  local r = nn.RNNLayer(3, 4)
  nn.from_pytorch(r, state("rnncell", CELL), "rnncell")
  close(r:forward_step(x, h0), F "rnncell_h1", "RNNCell")
  local g = nn.GRULayer(3, 4)
  nn.from_pytorch(g, state("grucell", CELL), "grucell")
  close(g:forward_step(x, h0), F "grucell_h1", "GRUCell")
  local l = nn.LSTMLayer(3, 4)
  nn.from_pytorch(l, state("lstmcell", CELL), "lstmcell")
  local h1, c1 = l:forward_step(x, h0, c0)
  close(h1, F "lstmcell_h1", "LSTMCell h")
  close(c1, F "lstmcell_c1", "LSTMCell c")
end

function test_errors_name_the_entry_and_change_nothing()
  local s = state("lstm", stack_names())
  local l = nn.LSTMLayer(3, 5)
  local before = l.W_ih:clone()
  assert_error(function() nn.from_pytorch(l, s, "lstm", 1) end, "lstm.weight_ih_l0 gives W_ih 3x16", "the layer's W_ih is 3x20")
  lu.assertEquals(l.W_ih, before, "nothing copied")
  assert_error(function() nn.from_pytorch(nn.LSTMLayer(3, 4), s, "lstm", 3) end,
    "the state has no lstm.weight_ih_l2", "lstm.bias_hh_l0")
  assert_error(function() nn.from_pytorch(nn.LSTMLayer(3, 4), s, "gru") end, "no gru.weight_ih_l0", "none")
  assert_error(function() nn.from_pytorch(nn.LSTMLayer(3, 4), s, "lstm", 0) end, "index must be a layer number")
  assert_error(function() nn.from_pytorch(nn.LSTMLayer(3, 4), s, "lstm", 1, 2) end, "at most 4")
  assert_error(function() nn.from_pytorch(nn.Linear(3, 2), s, "lstm", 1) end, "takes no index")
  assert_error(function() nn.from_pytorch(nn.ReLU(), s, "lstm") end, "ReLU()", "no PyTorch counterpart")
  assert_error(function() nn.from_pytorch({}, s, "lstm") end, "must be a tycho.nn layer")
  assert_error(function() nn.from_pytorch(nn.Linear(3, 2), "x", "lstm") end, "state must be a table")
  assert_error(function() nn.from_pytorch(nn.Linear(3, 2), s) end, "prefix must be a string")
  assert_error(function() nn.from_pytorch(nn.Linear(3, 2), { ["a.weight"] = 1 }, "a") end, "a.weight must be a tensor")
  local bi = { ["b.weight_ih_l0"] = tycho.zeros(16, 3), ["b.weight_hh_l0"] = tycho.zeros(16, 4),
               ["b.weight_ih_l0_reverse"] = tycho.zeros(16, 3) }
  assert_error(function() nn.from_pytorch(nn.LSTMLayer(3, 4), bi, "b") end, "bidirectional")
end

-- The shared fixture: a PyTorch state_dict (float32) of nn.LSTM(3, 4, num_layers=2,
-- batch_first=True) as lstm.* and nn.Linear(4, 2) as head.*, with an input and PyTorch's
-- float64 output beside it.
function test_torch_lstm2_linear_safetensors()
  local state, meta = tycho.load("spec/fixtures/safetensors/torch_lstm2_linear.safetensors")
  lu.assertEquals(type(meta), "table")
  local model = nn.Sequential { nn.LSTMLayer(3, 4), nn.LSTMLayer(4, 4), nn.Linear(4, 2) }
  nn.from_pytorch(model[1], state, "lstm", 1)
  nn.from_pytorch(model[2], state, "lstm", 2)
  nn.from_pytorch(model[3], state, "head")
  local y = model:forward(tycho.load("spec/fixtures/safetensors/torch_lstm2_linear_x.npy"))
  close(y, tycho.load("spec/fixtures/safetensors/torch_lstm2_linear_y.npy"), "LSTM x2 + Linear")
end
