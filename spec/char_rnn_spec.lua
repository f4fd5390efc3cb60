-- examples/char_rnn.lua: its pieces (UTF-8 vocabulary, encoding, truncated-BPTT batches) and
-- the program end to end on a small text in a temporary folder: checkpoints, a resumed run
-- bit-identical to one that never stopped (with dropout: the random state travels too),
-- sampling reproducible by seed, Ctrl-C writing a last checkpoint, and clear errors with a
-- non-zero exit for a bad --input or a checkpoint of another text.
local lu = require "luaunit"
local tycho = require "tycho"
local support = require "spec.support"

local BIN = (os.getenv("TYCHO_BUILD") or "build") .. "/tycho"
local C = assert(loadfile("examples/char_rnn.lua"))("--module")

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. support.q(d)))
  return d
end

local TEXT = ("Über tycho: a small text, ünïcode ✓ included. "):rep(40) -- 1840 characters, 25 kinds

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function train(dir, extra)
  local words = { BIN, "examples/char_rnn.lua", "train", "--input", dir .. "/text.txt", "--batch", "4",
                  "--seq", "10", "--hidden", "16", "--embed", "8", "--every", "3", "--no-plots" }
  for _, w in ipairs(extra) do words[#words + 1] = w end
  return support.run(words, 120)
end

-- ---- pieces -----------------------------------------------------------------------------------

function test_vocabulary_of_code_points_and_back()
  local cps = C.code_points("héllo ✓ hé")
  lu.assertEquals(#cps, 10)
  local vocab = C.vocabulary(cps)
  lu.assertEquals(vocab, tycho.tensor { 32, 104, 108, 111, 233, 10003 })
  local ids = C.encode(cps, vocab)
  lu.assertEquals(ids, tycho.tensor { 2, 5, 3, 3, 4, 1, 6, 1, 2, 5 })
  lu.assertEquals(C.decode(ids, vocab), "héllo ✓ hé")
  local ok, err = pcall(C.encode, C.code_points("x"), vocab)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "character x (U+0078) is not in the vocabulary")
  ok, err = pcall(C.code_points, "a\255b")
  lu.assertFalse(ok)
  lu.assertStrContains(err, "not UTF-8 (byte 2)")
end

function test_batches_are_contiguous_streams_and_their_next_ids()
  local ids = tycho.arange(1, 102) -- 101 ids: 100 follow another one
  local b = C.batches(ids, 2, 5, 0.2)
  -- (101 - 1) // 10 = 10 batches of 2 x 5; the last 2 for validation
  lu.assertEquals(#b.x, 10)
  lu.assertEquals({ b.ntrain, b.nval }, { 8, 2 })
  lu.assertEquals(b.x[1], tycho.tensor { { 1, 2, 3, 4, 5 }, { 51, 52, 53, 54, 55 } })
  lu.assertEquals(b.x[2], tycho.tensor { { 6, 7, 8, 9, 10 }, { 56, 57, 58, 59, 60 } })
  for k = 1, 10 do lu.assertEquals(b.y[k], b.x[k] + 1) end
  local ok, err = pcall(C.batches, tycho.arange(1, 10), 2, 5, 0)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "too few for one batch of 2 x 5")
  ok, err = pcall(C.batches, tycho.arange(1, 12), 2, 5, 0.5) -- one batch: none left to train on
  lu.assertFalse(ok)
  lu.assertStrContains(err, "too few to keep")
end

function test_options_parse_and_refuse()
  local o = C.parse({ "--layers", "3", "--lr", "1e-3", "--input", "a", "b", "--no-plots" },
    { layers = "int", lr = "number", input = "list" }, { layers = 2 })
  lu.assertEquals(o.layers, 3)
  lu.assertEquals(o.lr, 1e-3)
  lu.assertEquals(o.input, { "a", "b" })
  lu.assertFalse(o.plots)
  for words, msg in pairs { [{ "--layers", "x" }] = "--layers must be a whole number",
                            [{ "--what" }] = "unknown argument --what", [{ "--lr" }] = "--lr needs a value" } do
    local ok, err = pcall(C.parse, words, { layers = "int", lr = "number" }, {})
    lu.assertFalse(ok)
    lu.assertStrContains(err, msg)
  end
end

-- ---- the program ------------------------------------------------------------------------------

function test_train_resume_bit_identical_and_sample()
  local dir = tmpdir()
  write(dir .. "/text.txt", TEXT)
  local out, err, code = train(dir, { "--max-iters", "9", "--dropout", "0.2", "--checkpoint", dir .. "/a" })
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "vocabulary 25")
  for _, f in ipairs { "iter3.npz", "iter6.npz", "iter9.npz", "latest.npz" } do
    lu.assertNotNil(io.open(dir .. "/a/" .. f), f)
  end
  out, err, code = train(dir, { "--max-iters", "9", "--checkpoint", dir .. "/b", "--resume", dir .. "/a/iter3.npz" })
  lu.assertEquals(code, 0, err)
  lu.assertStrContains(out, "resumed at iteration 3")
  local a, b = tycho.load(dir .. "/a/latest.npz"), tycho.load(dir .. "/b/latest.npz")
  local n = 0
  for k, v in pairs(a) do
    n = n + 1
    lu.assertTrue(b[k] ~= nil and v:equal(b[k]), k)
  end
  for k in pairs(b) do lu.assertNotNil(a[k], k) end
  lu.assertTrue(n > 20)
  lu.assertEquals(a["extra.iteration"]:item(), 9)
  -- sampling: the same seed, the same text, beginning with the prime
  local function sample(seed)
    local s, e, c = support.run({ BIN, "examples/char_rnn.lua", "sample", "--checkpoint", dir .. "/a/latest.npz",
      "--length", "40", "--seed", seed, "--prime", "Über" }, 60)
    lu.assertEquals(c, 0, e)
    return s
  end
  local s1, s2, s3 = sample("1"), sample("1"), sample("2")
  lu.assertEquals(s1, s2)
  lu.assertNotEquals(s1, s3)
  lu.assertEquals(s1:sub(1, #"Über"), "Über")
  lu.assertEquals(utf8.len(s1), 4 + 40 + 1) -- and a newline
  os.execute("rm -rf " .. support.q(dir))
end

function test_bad_input_and_another_texts_checkpoint_fail_clearly()
  local dir = tmpdir()
  write(dir .. "/text.txt", TEXT)
  local _, err, code = support.run({ BIN, "examples/char_rnn.lua", "train", "--input", dir .. "/none.txt" }, 60)
  lu.assertEquals(code, 1)
  lu.assertStrContains(err, "char_rnn: --input: " .. dir .. "/none.txt")
  local _, err2, code2 = train(dir, { "--max-iters", "3", "--checkpoint", dir .. "/a" })
  lu.assertEquals(code2, 0, err2)
  write(dir .. "/text.txt", TEXT .. "XYZ")
  local _, err3, code3 = train(dir, { "--max-iters", "6", "--checkpoint", dir .. "/b", "--resume", dir .. "/a/latest.npz" })
  lu.assertEquals(code3, 1)
  lu.assertStrContains(err3, "was trained on another text: its vocabulary has 25 characters, this text's 28")
  local _, err4, code4 = train(dir, { "--max-iters", "6", "--hidden", "20", "--resume", dir .. "/a/latest.npz" })
  lu.assertEquals(code4, 1)
  lu.assertStrContains(err4, "--hidden: " .. dir .. "/a/latest.npz was trained with hidden 16")
  local _, err5, code5 = support.run({ BIN, "examples/char_rnn.lua", "sample", "--checkpoint", dir .. "/text.txt" }, 60)
  lu.assertEquals(code5, 1)
  lu.assertStrContains(err5, "char_rnn:")
  local _, err6, code6 = support.run({ BIN, "examples/char_rnn.lua", "fly" }, 60)
  lu.assertEquals(code6, 1)
  lu.assertStrContains(err6, "unknown command fly")
  local _, err7, code7 = train(dir, { "--model", "tree" })
  lu.assertEquals(code7, 1)
  lu.assertStrContains(err7, "--model must be lstm, gru or rnn")
  os.execute("rm -rf " .. support.q(dir))
end

function test_gru_and_rnn_models_train()
  local dir = tmpdir()
  write(dir .. "/text.txt", TEXT)
  for _, model in ipairs { "gru", "rnn" } do
    local out, err, code = train(dir, { "--max-iters", "3", "--model", model, "--layers", "1",
      "--checkpoint", dir .. "/" .. model })
    lu.assertEquals(code, 0, err)
    lu.assertStrContains(out, model .. " 1 x 16")
    local s, e, c = support.run({ BIN, "examples/char_rnn.lua", "sample", "--checkpoint",
      dir .. "/" .. model .. "/latest.npz", "--length", "5", "--seed", "3" }, 60)
    lu.assertEquals(c, 0, e)
    lu.assertEquals(utf8.len(s), 6)
  end
  os.execute("rm -rf " .. support.q(dir))
end

function test_ctrl_c_writes_a_last_checkpoint()
  local dir = tmpdir()
  write(dir .. "/text.txt", TEXT)
  local cmd = table.concat({ support.q(BIN), "examples/char_rnn.lua", "train", "--input", support.q(dir .. "/text.txt"),
    "--batch", "4", "--seq", "10", "--hidden", "16", "--embed", "8", "--every", "1000000", "--max-iters", "100000000",
    "--no-plots", "--checkpoint", support.q(dir .. "/c") }, " ")
  local script = cmd .. " >" .. support.q(dir .. "/out") .. " 2>" .. support.q(dir .. "/err") .. " & pid=$!; "
    .. "sleep 1.5; kill -INT $pid; wait $pid; echo $?"
  local p = io.popen(script)
  local status = p:read("a")
  p:close()
  lu.assertEquals(tonumber(status), 130)
  local err = support.slurp(dir .. "/err")
  local it = tonumber(err:match("interrupted at iteration (%d+); wrote"))
  if not it then lu.assertStrContains(err, "interrupted during an update") return end
  local t = tycho.load(dir .. "/c/latest.npz")
  lu.assertEquals(t["extra.iteration"]:item(), it)
  lu.assertTrue(it > 0)
  os.execute("rm -rf " .. support.q(dir))
end
