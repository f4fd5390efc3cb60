-- char_rnn.lua: a character-level language model, as Torch7's char-rnn: an embedding, a stack
-- of LSTM (or GRU, or tanh RNN) layers and an affine head over the characters, trained with
-- truncated backpropagation through time on a text (the hidden state carried from batch to
-- batch), Adam and gradient clipping; then sampled one character at a time.
--
--   tycho examples/char_rnn.lua train [--input FILE...] [--model lstm|gru|rnn] [--layers 2]
--       [--hidden 128] [--embed 64] [--seq 50] [--batch 50] [--dropout 0] [--lr 2e-3]
--       [--max-iters 1000] [--val-frac 0.05] [--checkpoint DIR] [--every 100]
--       [--resume FILE] [--seed 123] [--clip 5] [--no-plots]
--   tycho examples/char_rnn.lua sample --checkpoint FILE [--length 500] [--temperature 0.8]
--       [--prime TEXT] [--seed S]
--
-- Without --input the corpus is the license texts under /usr/share/common-licenses. The
-- vocabulary is the text's characters (UTF-8 code points), kept in every checkpoint with the
-- options, the iteration, the carried hidden state, the losses so far and the random state,
-- so --resume continues exactly as if training had not stopped. Every --every iterations the
-- validation loss is measured and DIR/iter<k>.npz and DIR/latest.npz are written (each
-- atomically), and DIR/loss.png is drawn. Ctrl-C writes DIR/latest.npz and stops.
local tycho = require "tycho"
local nn = require "tycho.nn"

local M = {}

local LICENSES = "/usr/share/common-licenses"

-- ---- options -----------------------------------------------------------------------------

local TRAIN_OPTIONS = {
  input = "list", model = "string", layers = "int", hidden = "int", embed = "int", seq = "int",
  batch = "int", dropout = "number", lr = "number", ["max-iters"] = "int", ["val-frac"] = "number",
  checkpoint = "string", every = "int", resume = "string", seed = "int", clip = "number",
}
local SAMPLE_OPTIONS = { checkpoint = "string", length = "int", temperature = "number", prime = "string", seed = "int" }

local TRAIN_DEFAULTS = {
  model = "lstm", layers = 2, hidden = 128, embed = 64, seq = 50, batch = 50, dropout = 0, lr = 2e-3,
  ["max-iters"] = 1000, ["val-frac"] = 0.05, checkpoint = "checkpoints", every = 100, seed = 123, clip = 5,
}

--- Parses command-line words into a table by the schema (name -> "int", "number", "string",
-- "list"); "--no-plots" is a flag. Raises with a message for the user.
function M.parse(words, schema, defaults)
  local o, given = {}, {}
  for k, v in pairs(defaults or {}) do o[k] = v end
  o.plots = true
  local i = 1
  while i <= #words do
    local w = words[i]
    local name = w:match("^%-%-([%w-]+)$")
    if w == "--no-plots" then
      o.plots = false
      i = i + 1
    elseif name and schema[name] then
      local kind = schema[name]
      if kind == "list" then
        local list = {}
        i = i + 1
        while words[i] and not words[i]:match("^%-%-") do list[#list + 1] = words[i]; i = i + 1 end
        if #list == 0 then error(("--%s needs at least one value"):format(name), 0) end
        o[name] = list
      else
        local v = words[i + 1]
        if v == nil then error(("--%s needs a value"):format(name), 0) end
        if kind == "int" then
          v = math.tointeger(tonumber(v))
          if not v or v < 0 then error(("--%s must be a whole number (got %s)"):format(name, words[i + 1]), 0) end
        elseif kind == "number" then
          v = tonumber(v)
          if not v or v ~= v then error(("--%s must be a number (got %s)"):format(name, words[i + 1]), 0) end
        end
        o[name] = v
        i = i + 2
      end
      given[name] = true
    else
      error(("unknown argument %s"):format(w), 0)
    end
  end
  return o, given
end

local function check_train_options(o)
  if o.model ~= "lstm" and o.model ~= "gru" and o.model ~= "rnn" then
    error(("--model must be lstm, gru or rnn (got %s)"):format(o.model), 0)
  end
  for _, k in ipairs { "layers", "hidden", "embed", "seq", "batch", "every" } do
    if o[k] < 1 then error(("--%s must be at least 1"):format(k), 0) end
  end
  if not (o.dropout >= 0 and o.dropout < 1) then error("--dropout must be in [0, 1)", 0) end
  if not (o["val-frac"] >= 0 and o["val-frac"] < 1) then error("--val-frac must be in [0, 1)", 0) end
  if not (o.lr > 0) then error("--lr must be positive", 0) end
  if not (o.clip > 0) then error("--clip must be positive", 0) end
end

-- ---- text --------------------------------------------------------------------------------

--- The text of the files (in order, joined), or the licenses' when files is nil.
function M.read_corpus(files)
  if not files then
    local h = io.popen("ls " .. LICENSES .. " 2>/dev/null")
    files = {}
    for name in h:lines() do
      local path = LICENSES .. "/" .. name
      local f = io.open(path, "rb")
      if f then f:close() files[#files + 1] = path end
    end
    h:close()
    if #files == 0 then error(LICENSES .. " holds no files: give --input FILE", 0) end
  end
  local parts = {}
  for _, path in ipairs(files) do
    local f, err = io.open(path, "rb")
    if not f then error(("--input: %s"):format(err), 0) end
    local s = f:read("a")
    f:close()
    if s == nil then error(("--input: %s: cannot read it (a folder?)"):format(path), 0) end
    parts[#parts + 1] = s
  end
  return table.concat(parts)
end

--- The code points of text, as a list; an error naming the byte where text is not UTF-8.
function M.code_points(text)
  local ok, bad = utf8.len(text)
  if not ok then error(("the text is not UTF-8 (byte %d)"):format(bad), 0) end
  local cps, n = {}, 0
  for _, c in utf8.codes(text) do n = n + 1; cps[n] = c end
  return cps
end

--- The vocabulary of a list of code points: a tensor of the distinct ones, ascending.
function M.vocabulary(cps)
  local seen, list = {}, {}
  for i = 1, #cps do
    local c = cps[i]
    if not seen[c] then seen[c] = true; list[#list + 1] = c end
  end
  table.sort(list)
  return tycho.tensor(list)
end

--- ids (a 1-d tensor of 1-based positions in vocab) of the code points; an error for one the
-- vocabulary does not have.
function M.encode(cps, vocab)
  local index = {}
  for i, c in ipairs(vocab:totable()) do index[c] = i end
  local ids = {}
  for i = 1, #cps do
    local id = index[cps[i]]
    if not id then error(("character %s (U+%04X) is not in the vocabulary"):format(utf8.char(cps[i]), cps[i]), 0) end
    ids[i] = id
  end
  return tycho.tensor(ids)
end

--- The text of ids (a tensor or a list of 1-based positions in vocab).
function M.decode(ids, vocab)
  local cps = vocab:totable()
  local list = tycho.is_tensor(ids) and ids:totable() or ids
  local out = {}
  for i, id in ipairs(list) do out[i] = utf8.char(cps[math.tointeger(id)]) end
  return table.concat(out)
end

--- Batches of a 1-d tensor of ids for truncated BPTT, as char-rnn's loader: the text cut into
-- `batch` contiguous streams, each batch the next `seq` ids of every stream (x, batch x seq)
-- and the ids that follow them (y). The last val_frac of the batches (at least one when
-- val_frac > 0) are for validation. Returns {x = {...}, y = {...}, ntrain, nval}.
function M.batches(ids, batch, seq, val_frac)
  local n = ids:numel()
  local nb = (n - 1) // (batch * seq)
  if nb < 1 then
    error(("the text has %d characters: too few for one batch of %d x %d (give a longer --input or a "
      .. "smaller --batch or --seq)"):format(n, batch, seq), 0)
  end
  local used = nb * batch * seq
  local xs = ids:narrow(1, 1, used):view(batch, nb * seq)
  local ys = ids:narrow(1, 2, used):view(batch, nb * seq)
  local out = { x = {}, y = {} }
  for k = 1, nb do
    out.x[k] = xs:narrow(2, (k - 1) * seq + 1, seq)
    out.y[k] = ys:narrow(2, (k - 1) * seq + 1, seq)
  end
  local nval = val_frac > 0 and math.max(1, math.floor(nb * val_frac)) or 0
  if nval >= nb then
    error(("%d batches: too few to keep %d for validation (lower --val-frac, --batch or --seq)"):format(nb, nval), 0)
  end
  out.ntrain, out.nval = nb - nval, nval
  return out
end

-- ---- the model ---------------------------------------------------------------------------

local LAYER = { lstm = "LSTMLayer", gru = "GRULayer", rnn = "RNNLayer" }

--- The model for the options and a vocabulary of V characters: {emb, rnn = {layers...},
-- drop = {Dropout...} (when dropout > 0), head}, uniform(-0.08, 0.08) as char-rnn starts.
function M.model(o, V)
  local m = { emb = nn.Embedding(V, o.embed), rnn = {}, head = nn.AffineLayer(o.hidden, V) }
  for i = 1, o.layers do
    m.rnn[i] = nn[LAYER[o.model]](i == 1 and o.embed or o.hidden, o.hidden)
  end
  if o.dropout > 0 then
    m.drop = {}
    for i = 1, o.layers do m.drop[i] = nn.Dropout(o.dropout) end
  end
  for _, layer in pairs { m.emb, m.head, table.unpack(m.rnn) } do layer:reset(0.08) end
  return m
end

local function is_lstm(l) return tostring(l):match("^LSTMLayer") ~= nil end

-- Zero states for the model's layers, batch rows each: {h = {...}, c = {...}}.
function M.zero_state(m, rows)
  local s = { h = {}, c = {} }
  for i, l in ipairs(m.rnn) do
    local H = l.W_hh:size(1)
    s.h[i] = tycho.zeros(rows, H)
    if is_lstm(l) then s.c[i] = tycho.zeros(rows, H) end
  end
  return s
end

-- Forward through the model from state s (replaced by the last states): the scores
-- (batch x seq x V).
local function forward(m, x, s)
  local h = m.emb:forward(x)
  for i, l in ipairs(m.rnn) do
    if is_lstm(l) then h = l:forward(h, s.h[i], s.c[i]) else h = l:forward(h, s.h[i]) end
    s.h[i], s.c[i] = l.h_n, is_lstm(l) and l.c_n or nil
    if m.drop then h = m.drop[i]:forward(h) end
  end
  return m.head:forward(h)
end

local function backward(m, dscores)
  local d = m.head:backward(dscores)
  for i = #m.rnn, 1, -1 do
    if m.drop then d = m.drop[i]:backward(d) end
    d = m.rnn[i]:backward(d)
  end
  m.emb:backward(d)
end

local function set_mode(m, training)
  for _, l in ipairs(m.drop or {}) do if training then l:train() else l:evaluate() end end
end

--- One training iteration on batch (x, y) from state s: the loss (before the update).
function M.train_step(m, opt, x, y, s, clip)
  local loss, ds = nn.softmax_loss(forward(m, x, s), y)
  backward(m, ds)
  nn.clip_grad_norm(m, clip)
  opt:step()
  return loss
end

--- The mean loss over the validation batches, the state carried from zeros, dropout off.
function M.validation_loss(m, b, rows)
  if b.nval == 0 then return nil end
  set_mode(m, false)
  local s, total = M.zero_state(m, rows), 0
  for k = b.ntrain + 1, b.ntrain + b.nval do
    total = total + nn.softmax_loss(forward(m, b.x[k], s), b.y[k])
  end
  set_mode(m, true)
  return total / b.nval
end

-- ---- checkpoints -------------------------------------------------------------------------

local SAVED = { "model", "layers", "hidden", "embed", "seq", "batch", "dropout", "lr", "val-frac", "clip", "seed" }

-- The options as a tensor of bytes ("model=lstm\nlayers=2\n..."), and back.
local function options_tensor(o)
  local lines = {}
  for _, k in ipairs(SAVED) do lines[#lines + 1] = k .. "=" .. tostring(o[k]) end
  local s = table.concat(lines, "\n")
  return tycho.tensor { s:byte(1, -1) }
end

local function options_from(t)
  local bytes = t:totable()
  local chars = {}
  for i, b in ipairs(bytes) do chars[i] = string.char(math.tointeger(b)) end
  local o = {}
  for k, v in table.concat(chars):gmatch("([%w-]+)=([^\n]*)") do
    local n = tonumber(v)
    o[k] = (TRAIN_OPTIONS[k] == "int" and math.tointeger(n)) or (TRAIN_OPTIONS[k] == "number" and n) or v
  end
  return o
end

local function list_tensor(list) return #list > 0 and tycho.tensor(list) or tycho.zeros(0) end

-- Everything a resumed run needs beyond the parameters and the optimizer's state.
local function extra_of(o, vocab, iter, s, history)
  local e = { vocab = vocab, options = options_tensor(o), iteration = tycho.tensor(iter + 0.0),
              train_loss = list_tensor(history.train), val_loss = list_tensor(history.val),
              val_iter = list_tensor(history.val_iter) }
  for i = 1, #s.h do
    e["state.h" .. i] = s.h[i]
    if s.c[i] then e["state.c" .. i] = s.c[i] end
  end
  return e
end

--- Writes the checkpoint (atomically) to path.
function M.save(path, m, opt, o, vocab, iter, s, history)
  nn.save(path, m, opt, { extra = extra_of(o, vocab, iter, s, history), random = true })
end

--- What a checkpoint file says about its run, before a model is made: options, vocabulary.
function M.peek(path)
  local ok, entries = pcall(tycho.load, path)
  if not ok then error(tostring(entries), 0) end
  if type(entries) ~= "table" or not entries["extra.options"] or not entries["extra.vocab"] then
    error(("%s is not a char_rnn checkpoint"):format(path), 0)
  end
  return options_from(entries["extra.options"]), entries["extra.vocab"]
end

-- ---- commands ----------------------------------------------------------------------------

local function same_vocab(a, b) return a:numel() == b:numel() and a:equal(b) end

function M.train(words)
  local o, given = M.parse(words, TRAIN_OPTIONS, TRAIN_DEFAULTS)
  local resume = o.resume
  local saved_vocab
  if resume then
    -- the run's own options come from the checkpoint; the command line may change only
    -- --max-iters, --every, --checkpoint and --input
    local saved
    saved, saved_vocab = M.peek(resume)
    for _, k in ipairs(SAVED) do
      if given[k] and saved[k] ~= o[k] then
        error(("--%s: %s was trained with %s %s (leave it out to resume)"):format(k, resume, k, tostring(saved[k])), 0)
      end
      o[k] = saved[k]
    end
  end
  check_train_options(o)
  local cps = M.code_points(M.read_corpus(o.input))
  local vocab = M.vocabulary(cps)
  if saved_vocab and not same_vocab(vocab, saved_vocab) then
    error(("%s was trained on another text: its vocabulary has %d characters, this text's %d "
      .. "(give the same --input)"):format(resume, saved_vocab:numel(), vocab:numel()), 0)
  end
  local ids = M.encode(cps, vocab)
  local b = M.batches(ids, o.batch, o.seq, o["val-frac"])
  tycho.random.seed(o.seed)
  local m = M.model(o, vocab:numel())
  local opt = require("tycho.optim").Adam(m, { lr = o.lr })
  local s = M.zero_state(m, o.batch)
  local iter, history = 0, { train = {}, val = {}, val_iter = {} }
  if resume then
    local extra = nn.load(resume, m, opt)
    iter = math.tointeger(extra.iteration:item())
    for i = 1, #s.h do
      s.h[i] = extra["state.h" .. i]
      if s.c[i] then s.c[i] = extra["state.c" .. i] end
    end
    history.train = extra.train_loss:numel() > 0 and extra.train_loss:totable() or {}
    history.val = extra.val_loss:numel() > 0 and extra.val_loss:totable() or {}
    history.val_iter = extra.val_iter:numel() > 0 and extra.val_iter:totable() or {}
  end
  local dir = o.checkpoint
  os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "'")
  local nparams = 0
  for _, layer, name in nn.named_parameters(m) do nparams = nparams + layer[name]:numel() end
  print(("char_rnn: %d characters, vocabulary %d, %d train and %d validation batches of %d x %d; "
    .. "%s %d x %d, %d parameters%s"):format(ids:numel(), vocab:numel(), b.ntrain, b.nval, o.batch, o.seq,
    o.model, o.layers, o.hidden, nparams, resume and (", resumed at iteration " .. iter) or ""))
  local plot = o.plots and require "tycho.plot"
  local function draw()
    if not plot or #history.train == 0 then return end
    local series = { { y = history.train, title = "train" } }
    if #history.val > 0 then series[2] = { x = history.val_iter, y = history.val, title = "validation" } end
    plot.lines(dir .. "/loss.png", series, { xlabel = "iteration", ylabel = "loss (nats per character)", title = "char_rnn" })
  end
  local max = o["max-iters"]
  local bar = tycho.progress(max, { label = "train" })
  if iter > 0 and iter <= max then bar:update(iter) end
  local in_step = false
  local ok, err = pcall(function()
    while iter < max do
      local k = iter % b.ntrain + 1
      if k == 1 and iter > 0 then s = M.zero_state(m, o.batch) end -- a new pass over the text
      in_step = true
      local loss = M.train_step(m, opt, b.x[k], b.y[k], s, o.clip)
      in_step = false
      iter = iter + 1
      history.train[#history.train + 1] = loss
      bar:update(iter, { loss = loss })
      if iter % o.every == 0 or iter == max then
        local v = M.validation_loss(m, b, o.batch)
        if v then
          history.val[#history.val + 1] = v
          history.val_iter[#history.val_iter + 1] = iter
        end
        M.save(("%s/iter%d.npz"):format(dir, iter), m, opt, o, vocab, iter, s, history)
        M.save(dir .. "/latest.npz", m, opt, o, vocab, iter, s, history)
        draw()
      end
    end
  end)
  bar:finish()
  if not ok then
    if tostring(err):find("interrupted!", 1, true) then
      if in_step then
        -- a step stopped midway leaves some parameters updated: the last whole checkpoint stands
        io.stderr:write(("char_rnn: interrupted during an update; %s/latest.npz holds the last checkpoint\n"):format(dir))
      else
        M.save(dir .. "/latest.npz", m, opt, o, vocab, iter, s, history)
        draw()
        io.stderr:write(("char_rnn: interrupted at iteration %d; wrote %s/latest.npz\n"):format(iter, dir))
      end
      os.exit(130)
    end
    error(err, 0)
  end
  local last = history.val[#history.val]
  print(("char_rnn: %d iterations, train loss %.4f%s; %s/latest.npz"):format(iter, history.train[#history.train] or 0 / 0,
    last and (", validation loss " .. ("%.4f"):format(last)) or "", dir))
end

--- Samples length characters from the checkpoint's model after the prime text.
function M.sample_text(path, length, temperature, prime, seed)
  local o, vocab = M.peek(path)
  o.dropout = 0 -- sampling runs without dropout: no Dropout layers to load
  local m = M.model(o, vocab:numel())
  local ok, err = pcall(nn.load, path, m)
  if not ok then error(tostring(err), 0) end
  if seed then tycho.random.seed(seed) end
  local V = vocab:numel()
  local s = M.zero_state(m, 1)
  local function step(id)
    local h = m.emb:forward(tycho.tensor { { id } }):view(1, o.embed)
    for i, l in ipairs(m.rnn) do
      if is_lstm(l) then s.h[i], s.c[i] = l:forward_step(h, s.h[i], s.c[i]) else s.h[i] = l:forward_step(h, s.h[i]) end
      h = s.h[i]
    end
    return m.head:forward(h)
  end
  local prime_ids = prime ~= "" and M.encode(M.code_points(prime), vocab):totable() or { 1 }
  local scores
  for _, id in ipairs(prime_ids) do scores = step(id) end
  local out = {}
  for i = 1, length do
    local p = (scores / temperature):softmax(2):view(V)
    local id = tycho.random.choice(V, 1, { p = p })[1]
    out[i] = id
    scores = step(id)
  end
  return (prime or "") .. M.decode(out, vocab)
end

function M.sample(words)
  local o = M.parse(words, SAMPLE_OPTIONS, { length = 500, temperature = 0.8, prime = "" })
  if not o.checkpoint then error("sample needs --checkpoint FILE", 0) end
  if not (o.temperature > 0) then error("--temperature must be positive", 0) end
  io.write(M.sample_text(o.checkpoint, o.length, o.temperature, o.prime, o.seed), "\n")
end

local USAGE = "usage: tycho examples/char_rnn.lua train [options]   (see the top of the file)\n"
  .. "       tycho examples/char_rnn.lua sample --checkpoint FILE [--length N] [--temperature T] [--prime TEXT] [--seed S]"

local function main(words)
  local command = words[1]
  local rest = { table.unpack(words, 2) }
  local ok, err = pcall(function()
    if command == "train" then M.train(rest)
    elseif command == "sample" then M.sample(rest)
    else error(command and ("unknown command " .. command) or "a command is needed", 0) end
  end)
  if not ok then
    io.stderr:write("char_rnn: ", tostring(err), "\n")
    if not command or (command ~= "train" and command ~= "sample") then io.stderr:write(USAGE, "\n") end
    os.exit(1)
  end
end

if select(1, ...) == "--module" then return M end
main(arg or {})
