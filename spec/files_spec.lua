-- files_spec.lua: .npz and .safetensors through tycho.load and tycho.save: every sample of
-- spec/fixtures/npz and spec/fixtures/safetensors against the float64 values NumPy gives for
-- them (expected/, made by the make_*.py beside them), the broken files' errors, round trips
-- of every layout, the files' exact layout, the options and argument errors, and atomic
-- saves (a save failing midway, and a process killed midway, leave the old file whole).
local lu = require "luaunit"
local support = require "spec.support"
local tycho = require "tycho"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local BIN = os.getenv("TYCHO_BIN") or (BUILD .. "/tycho")
local NPZ = "spec/fixtures/npz/"
local ST = "spec/fixtures/safetensors/"

local function lines(path)
  local out = {}
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- Same shape and the same values bit for bit (NaN equal to NaN).
local function assert_same(got, want, what)
  lu.assertEquals(got:shape(), want:shape(), what)
  local g, w = support.flat(got), support.flat(want)
  if got:numel() == 0 then return end
  for i = 1, #w do
    if w[i] ~= w[i] then
      lu.assertTrue(g[i] ~= g[i], what .. " element " .. i)
    else
      lu.assertEquals(string.pack("<d", g[i]), string.pack("<d", w[i]), what .. " element " .. i
        .. ": " .. tostring(g[i]) .. " ~= " .. tostring(w[i]))
    end
  end
end

-- A loaded table against expected/<name>/: the keys and each key's float64 values.
local function assert_expected(dir, name, got)
  local keys = lines(dir .. "expected/" .. name .. "/keys.txt")
  lu.assertEquals(sorted_keys(got), keys, name)
  for i, k in ipairs(keys) do
    assert_same(got[k], tycho.load(("%sexpected/%s/%d.npy"):format(dir, name, i)), name .. ": " .. k)
  end
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir " .. support.q(d)))
  return d
end

local function rmdir(d) os.execute("rm -rf " .. support.q(d)) end

local function ls(d)
  local p = io.popen("ls -A " .. support.q(d))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  table.sort(out)
  return out
end

local function load_error(path)
  local ok, err = pcall(tycho.load, path)
  lu.assertFalse(ok, path)
  return err
end

-- ---- .npz samples --------------------------------------------------------------------

TestNpzLoad = {}

function TestNpzLoad:test_named_positional_compressed()
  for _, name in ipairs { "named", "positional", "compressed" } do
    assert_expected(NPZ, name, tycho.load(NPZ .. name .. ".npz"))
  end
  -- what the shared fixtures' README states
  local t = tycho.load(NPZ .. "named.npz")
  lu.assertEquals(t.W:shape(), { 2, 3 })
  lu.assertEquals(t["layer1.W_ih"]:shape(), { 3, 4 })
  lu.assertEquals(support.flat(t.ints), { 0, 1, 2, 3, 4 })
  lu.assertEquals(t.f4:shape(), { 2, 3 })
  local p = tycho.load(NPZ .. "positional.npz")
  lu.assertEquals(p.arr_1:dim(), 0)
  lu.assertEquals(p.arr_2:shape(), { 2, 0 })
  local c = tycho.load(NPZ .. "compressed.npz")
  assert_same(c.W, tycho.linspace(0, 1, 1000):reshape(10, 100), "compressed W")
  assert_same(c.b, tycho.ones(3), "compressed b")
end

function TestNpzLoad:test_every_dtype_stored_and_deflated()
  assert_expected(NPZ, "dtypes", tycho.load(NPZ .. "dtypes.npz"))
  assert_expected(NPZ, "dtypes_compressed", tycho.load(NPZ .. "dtypes_compressed.npz"))
end

function TestNpzLoad:test_names_with_dots_slashes_spaces_and_utf8()
  local t = tycho.load(NPZ .. "names.npz")
  assert_expected(NPZ, "names", t)
  lu.assertEquals(support.flat(t["a/b"]), { 1, 2 })
  lu.assertEquals(support.flat(t["x.npy"]), { 5, 6, 7 })   -- member "x.npy.npy"
  lu.assertEquals(t["\u{fc}ber"][1], 8)
end

function TestNpzLoad:test_zip64_and_empty_archives()
  local raw = support.slurp(NPZ .. "zip64.npz")
  lu.assertStrContains(raw, "PK\6\6")   -- the zip64 end of central directory record
  assert_expected(NPZ, "zip64", tycho.load(NPZ .. "zip64.npz"))
  lu.assertEquals(next(tycho.load(NPZ .. "empty.npz")), nil)
end

function TestNpzLoad:test_broken_archives_name_file_and_member()
  local cases = {
    bad_crc = "member 'W.npy': CRC error",
    bad_crc_deflated = "member 'f8.npy': CRC error",
    bad_member = "member 'readme.txt' is not a .npy file",
    bad_truncated = "not a .npz file (not a zip archive, or truncated)",
    bad_folder = "member 'sub/' is not a .npy file",
    bad_not_npy = "member 'W.npy': not a .npy file (bad magic string)",
    bad_short_member = "member 'W.npy': data too short: shape (4, 4) of '<f8' needs 128 bytes",
    bad_duplicate = "bad zip archive: two members have the same name",
    bad_size = "member 'W.npy' has sizes that do not fit the archive (truncated or damaged)",
    bad_bzip2 = "member 'W.npy' is compressed by a method other than deflate",
  }
  for name, msg in pairs(cases) do
    local path = NPZ .. name .. ".npz"
    lu.assertStrContains(load_error(path), "load: " .. path .. ": " .. msg, false, name)
  end
  -- a .npy file is not an archive, and no file is no file
  local path = support.tmpfile(support.slurp("spec/fixtures/npy/f8_2x3.npy"))
  os.rename(path, path .. ".npz")
  lu.assertStrContains(load_error(path .. ".npz"), "not a .npz file")
  os.remove(path .. ".npz")
  lu.assertStrContains(load_error("/nonexistent_dir/x.npz"), "load: /nonexistent_dir/x.npz: No such file")
  lu.assertStrContains(load_error("spec.npz"), "No such file")
end

-- ---- .safetensors samples -------------------------------------------------------------

TestSafetensorsLoad = {}

local function assert_metadata(name, meta)
  local want = {}
  for _, l in ipairs(lines(ST .. "expected/" .. name .. "/metadata.txt")) do
    local k, v = l:match("^([^=]*)=(.*)$")
    want[k] = v
  end
  lu.assertEquals(meta, want, name)
end

function TestSafetensorsLoad:test_samples_values_and_metadata()
  for _, name in ipairs { "dtypes", "torch_lstm2_linear", "all_dtypes", "unordered" } do
    local t, meta = tycho.load(ST .. name .. ".safetensors")
    assert_expected(ST, name, t)
    assert_metadata(name, meta)
  end
  local t, meta = tycho.load(ST .. "dtypes.safetensors")
  lu.assertEquals(meta, { format = "pt", note = "made by NumPy" })
  assert_same(t.f16, tycho.load(ST .. "dtypes_expected_f16.npy"), "f16")
  assert_same(t.bf16, tycho.load(ST .. "dtypes_expected_bf16.npy"), "bf16")
  lu.assertEquals(t.scalar:dim(), 0)
  lu.assertEquals(t.empty:shape(), { 0, 3 })
  -- no __metadata__: an empty table
  local _, none = tycho.load(ST .. "unordered.safetensors")
  lu.assertEquals(none, {})
end

function TestSafetensorsLoad:test_broken_samples()
  local cases = {
    bad_dtype = "entry 'a': dtype 'C64' is not supported",
    bad_header_len = "header length 1099511627776 runs past the end of the file",
    bad_json = "bad header: not valid JSON",
    bad_overlap = "entries 'a' [0, 16] and 'b' [8, 24] overlap",
    bad_shape = "entry 'a': shape [3] of F64 needs 24 bytes, data_offsets [0, 16] hold 16",
    bad_truncated = "entry 'scalar': data_offsets [138, 146] run past the end of the data (139 bytes)",
  }
  for name, msg in pairs(cases) do
    local path = ST .. name .. ".safetensors"
    lu.assertStrContains(load_error(path), "load: " .. path .. ": " .. msg, false, name)
  end
end

-- A file of the header text (padded to 8 as the format says, or not) and data.
local function st_file(header, data, len)
  return support.tmpfile(string.pack("<I8", len or #header) .. header .. (data or ""))
end

local function st_error(header, data, len)
  local path = st_file(header, data, len)
  os.rename(path, path .. ".safetensors")
  path = path .. ".safetensors"
  local ok, err = pcall(tycho.load, path)
  os.remove(path)
  lu.assertFalse(ok, header)
  return err, path
end

function TestSafetensorsLoad:test_every_header_field_is_checked()
  local e = '{"dtype":"F64","shape":[2],"data_offsets":[0,16]}'
  local data16 = string.pack("<dd", 1, 2)
  local cases = {
    { "[1, 2]", "bad header: not a JSON object of entries" },
    { '{"a":[1]}', "entry 'a' is not an object {dtype, shape, data_offsets}" },
    { '{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16],"extra":1}}',
      "entry 'a' has an unexpected field 'extra'" },
    { '{"a":{"dtype":"F64","shape":[2]}}', "entry 'a' has no 'data_offsets'" },
    { '{"a":{"shape":[2],"data_offsets":[0,16]}}', "entry 'a' has no 'dtype'" },
    { '{"a":{"dtype":"F64","data_offsets":[0,16]}}', "entry 'a' has no 'shape'" },
    { '{"a":{"dtype":"F64","dtype":"F64","shape":[2],"data_offsets":[0,16]}}',
      "entry 'a' has the field 'dtype' twice" },
    { '{"a":{"dtype":64,"shape":[2],"data_offsets":[0,16]}}', "entry 'a': dtype is not a string" },
    { '{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,16]}}',
      "entry 'a': dtype 'F8_E4M3' is not supported" },
    { '{"a":{"dtype":"F64","shape":2,"data_offsets":[0,16]}}', "entry 'a': shape is not a list" },
    { '{"a":{"dtype":"F64","shape":[-2],"data_offsets":[0,16]}}',
      "entry 'a': shape is not a list of non-negative integers" },
    { '{"a":{"dtype":"F64","shape":[1.5],"data_offsets":[0,16]}}',
      "entry 'a': shape is not a list of non-negative integers" },
    { '{"a":{"dtype":"F64","shape":[1,1,1,1,1,1,1,1,2],"data_offsets":[0,16]}}',
      "entry 'a' has more than 8 dimensions" },
    { '{"a":{"dtype":"F64","shape":[2],"data_offsets":[16,0]}}',
      "entry 'a': data_offsets is not [begin, end] with 0 <= begin <= end" },
    { '{"a":{"dtype":"F64","shape":[2],"data_offsets":[-8,8]}}', "entry 'a': data_offsets is not [begin, end]" },
    { '{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16,24]}}', "entry 'a': data_offsets is not [begin, end]" },
    { '{"a":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}',
      "entry 'a': data_offsets [8, 24] run past the end of the data (16 bytes)" },
    { '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}',
      "entry 'a': shape [2] of F32 needs 8 bytes, data_offsets [0, 16] hold 16" },
    { '{"a":' .. e .. ',"a":' .. e .. '}', "entry 'a' appears twice" },
    { '{"a":' .. e .. ',"b":' .. e .. '}', "entries 'a' [0, 16] and 'b' [0, 16] overlap" },
    { '{"__metadata__":[],"a":' .. e .. '}', "__metadata__ is not an object of strings" },
    { '{"__metadata__":{"k":1},"a":' .. e .. '}', "__metadata__ 'k' is not a string" },
    { '{"__metadata__":{},"__metadata__":{},"a":' .. e .. '}', "__metadata__ appears twice" },
    { '{"a":' .. e .. '} x', "bad header: text after the JSON object" },
    { '{"a":' .. e, "bad header: not valid JSON" },
  }
  for _, c in ipairs(cases) do
    local err, path = st_error(c[1], data16)
    lu.assertStrContains(err, "load: " .. path .. ": " .. c[2], false, c[1])
  end
  -- shorter than its header length; over the format's limit of 100 MB
  lu.assertStrContains(st_error("{}", "", 3), "header length 3 runs past the end of the file (10 bytes)")
  local short = support.tmpfile("\1\0\0")
  os.rename(short, short .. ".safetensors")
  lu.assertStrContains(load_error(short .. ".safetensors"), "shorter than the header length")
  os.remove(short .. ".safetensors")
  local big = st_file("{}", "", 100000001)
  assert(os.execute("truncate -s 100000100 " .. support.q(big)))
  os.rename(big, big .. ".safetensors")
  lu.assertStrContains(load_error(big .. ".safetensors"),
    "header length 100000001 is over the limit of 100000000 bytes")
  os.remove(big .. ".safetensors")
end

function TestSafetensorsLoad:test_what_the_format_allows()
  -- empty entries anywhere, gaps, an empty header, padding spaces
  local path = st_file('{"e":{"dtype":"F64","shape":[0,4],"data_offsets":[8,8]},'
    .. '"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},'
    .. '"b":{"dtype":"I8","shape":[2],"data_offsets":[16,18]}}    ',
    string.pack("<d", 1.5) .. string.rep("\0", 8) .. "\255\1")
  os.rename(path, path .. ".safetensors")
  local t, meta = tycho.load(path .. ".safetensors")
  os.remove(path .. ".safetensors")
  lu.assertEquals(sorted_keys(t), { "a", "b", "e" })
  lu.assertEquals(t.e:shape(), { 0, 4 })
  lu.assertEquals(support.flat(t.a), { 1.5 })
  lu.assertEquals(support.flat(t.b), { -1, 1 })
  lu.assertEquals(meta, {})
  path = st_file("{}        ")
  os.rename(path, path .. ".safetensors")
  t, meta = tycho.load(path .. ".safetensors")
  os.remove(path .. ".safetensors")
  lu.assertEquals(next(t), nil)
  lu.assertEquals(meta, {})
end

-- ---- saving --------------------------------------------------------------------------

TestFilesSave = {}

function TestFilesSave:setUp() self.dir = tmpdir() end
function TestFilesSave:tearDown() rmdir(self.dir) end

-- Tensors of every layout: 0-d, empty, 3-d, a transposed view, an expanded view, a
-- strided slice, a small one.
local function layouts()
  tycho.random.seed(5)
  local base = tycho.randn(4, 6)
  return {
    scalar = tycho.tensor(-2.5):view(),
    empty = tycho.zeros(2, 0),
    cube = tycho.randn(2, 3, 4),
    ["layer1.W_ih"] = base.T,
    ["a/b"] = tycho.tensor { 1, 2, 3 }:view(1, 3):expand(2, 3),
    step = base[{ {}, { 1, 6, 2 } }],
    small = tycho.tensor { 1e300, -0.0, 1 / 3 },
    nan = tycho.tensor { 0 / 0, math.huge, -math.huge },
  }
end

local function assert_tables_same(got, want, what)
  lu.assertEquals(sorted_keys(got), sorted_keys(want), what)
  for k, v in pairs(want) do assert_same(got[k], v:contiguous(), what .. ": " .. k) end
end

function TestFilesSave:test_npz_round_trips_stored_and_deflated()
  local t = layouts()
  for _, opts in ipairs { false, { compress = false }, { compress = true } } do
    local path = self.dir .. "/m.npz"
    if opts then tycho.save(path, t, opts) else tycho.save(path, t) end
    assert_tables_same(tycho.load(path), t, "npz " .. tostring(opts and opts.compress))
  end
  -- deflate makes a compressible table smaller
  local z = { z = tycho.zeros(1000) }
  tycho.save(self.dir .. "/s.npz", z)
  tycho.save(self.dir .. "/c.npz", z, { compress = true })
  lu.assertTrue(#support.slurp(self.dir .. "/c.npz") < #support.slurp(self.dir .. "/s.npz") / 4)
  -- the empty table
  tycho.save(self.dir .. "/e.npz", {})
  lu.assertEquals(next(tycho.load(self.dir .. "/e.npz")), nil)
end

function TestFilesSave:test_npz_members_are_sorted_npy_files_and_deterministic()
  local path = self.dir .. "/m.npz"
  local t = { b = tycho.ones(2), a = tycho.zeros(3), ["a.b"] = tycho.tensor(1) }
  tycho.save(path, t)
  local raw = support.slurp(path)
  local pa, pab, pb = raw:find("a.npy", 1, true), raw:find("a.b.npy", 1, true), raw:find("b.npy", 1, true)
  lu.assertTrue(pa < pab and pab < pb, "members in name order")
  -- each member is what np.save writes (byte for byte, as the .npy saver)
  tycho.save(self.dir .. "/a.npy", t.a)
  lu.assertStrContains(raw, support.slurp(self.dir .. "/a.npy"), false)
  tycho.save(self.dir .. "/again.npz", { a = t.a, ["a.b"] = t["a.b"], b = t.b })
  lu.assertEquals(support.slurp(self.dir .. "/again.npz"), raw)
  tycho.save(self.dir .. "/c1.npz", t, { compress = true })
  tycho.save(self.dir .. "/c2.npz", t, { compress = true })
  lu.assertEquals(support.slurp(self.dir .. "/c1.npz"), support.slurp(self.dir .. "/c2.npz"))
end

function TestFilesSave:test_safetensors_round_trips_f64_and_f32()
  local t = layouts()
  local path = self.dir .. "/m.safetensors"
  tycho.save(path, t)
  local got, meta = tycho.load(path)
  assert_tables_same(got, t, "F64")
  lu.assertEquals(meta, {})
  tycho.save(path, t, { dtype = "F64", metadata = { format = "pt", note = "x=y \"q\" \u{e9}" } })
  got, meta = tycho.load(path)
  assert_tables_same(got, t, "F64 with metadata")
  lu.assertEquals(meta, { format = "pt", note = "x=y \"q\" \u{e9}" })
  -- F32: each value rounded to the nearest float32 (C's conversion, through string.pack)
  tycho.save(path, t, { dtype = "F32" })
  got = tycho.load(path)
  for k, v in pairs(t) do
    local want = support.flat(v:contiguous())
    for i = 1, #want do want[i] = string.unpack("<f", string.pack("<f", want[i])) end
    local g = support.flat(got[k])
    lu.assertEquals(got[k]:shape(), v:shape(), k)
    for i = 1, #want do
      if want[i] ~= want[i] then lu.assertTrue(g[i] ~= g[i]) else lu.assertEquals(g[i], want[i], k) end
    end
  end
  lu.assertEquals(got.small[1], math.huge)   -- 1e300 overflows float32
  lu.assertTrue(got.cube[1][1][1] ~= t.cube[1][1][1])
  tycho.save(path, {})
  got, meta = tycho.load(path)
  lu.assertEquals(next(got), nil)
end

function TestFilesSave:test_safetensors_layout_exactly()
  local path = self.dir .. "/m.safetensors"
  tycho.save(path, { w = tycho.tensor { { 1, 2 } }, b = tycho.tensor { 3 } }, { metadata = { k = "v" } })
  local raw = support.slurp(path)
  local n = string.unpack("<I8", raw)
  lu.assertEquals((8 + n) % 8, 0)
  local header = '{"__metadata__":{"k":"v"},'
    .. '"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},'
    .. '"w":{"dtype":"F64","shape":[1,2],"data_offsets":[8,24]}}'
  lu.assertEquals(raw:sub(9, 8 + n), header .. string.rep(" ", n - #header))
  lu.assertTrue(n - #header < 8)
  lu.assertEquals(raw:sub(9 + n), string.pack("<ddd", 3, 1, 2))
  tycho.save(path, { x = tycho.tensor { 0.1 } }, { dtype = "F32" })
  raw = support.slurp(path)
  n = string.unpack("<I8", raw)
  lu.assertEquals(raw:sub(9, 8 + n):gsub(" +$", ""), '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}')
  lu.assertEquals(raw:sub(9 + n), string.pack("<f", 0.1))
  -- the same tensors, the same bytes
  tycho.save(self.dir .. "/again.safetensors", { x = tycho.tensor { 0.1 } }, { dtype = "F32" })
  lu.assertEquals(support.slurp(self.dir .. "/again.safetensors"), raw)
  -- metadata in key order
  local meta = {}
  for i = 1, 30 do meta["k" .. i] = tostring(i) end
  tycho.save(path, {}, { metadata = meta })
  raw = support.slurp(path)
  local keys = {}
  for k in raw:gmatch('"(k%d+)"') do keys[#keys + 1] = k end
  local want = sorted_keys(meta)
  lu.assertEquals(keys, want)
  lu.assertEquals(select(2, tycho.load(path)), meta)
end

function TestFilesSave:test_argument_and_option_errors()
  local d = self.dir
  local t = tycho.ones(2)
  local closed = tycho.ones(3)
  do local c <close> = closed end
  local cases = {
    { "save: " .. d .. "/x.npz: unknown option 'dtype' (a .npz save takes compress)",
      d .. "/x.npz", { a = t }, { dtype = "F32" } },
    { "save: " .. d .. "/x.safetensors: unknown option 'compress' (a .safetensors save takes dtype and metadata)",
      d .. "/x.safetensors", { a = t }, { compress = true } },
    { "unknown option 'number'", d .. "/x.npz", { a = t }, { 1 } },
    { "save: option compress must be a boolean (got number)", d .. "/x.npz", { a = t }, { compress = 1 } },
    { "save: option dtype must be \"F64\" or \"F32\" (got F16)", d .. "/x.safetensors", { a = t }, { dtype = "F16" } },
    { "save: option metadata must be a table of strings (got string)", d .. "/x.safetensors", { a = t }, { metadata = "x" } },
    { "save: metadata 'n' must be a string (got number)", d .. "/x.safetensors", { a = t }, { metadata = { n = 1 } } },
    { "save: options must be a table (got number)", d .. "/x.npz", { a = t }, 5 },
    { "save: 'w' is number, not a tensor", d .. "/x.npz", { a = t, w = 1 } },
    { "save: 'w' is table, not a tensor", d .. "/x.safetensors", { w = {} } },
    { "save: tensor names must be strings (got a number key)", d .. "/x.npz", { t } },
    { "save: tensor names must not be empty", d .. "/x.npz", { [""] = t } },
    { "save: tensor name 'a' contains a NUL byte", d .. "/x.npz", { ["a\0b"] = t } },
    { "save: '__metadata__' is not a tensor name", d .. "/x.safetensors", { __metadata__ = t } },
    { "save: 'c': tensor was closed", d .. "/x.npz", { c = closed } },
    { "save: a .npy save takes no options", d .. "/x.npy", t, { compress = true } },
    { "save: expected save(path, tensor) (got string, table)", d .. "/x.npy", { a = t } },
    { "save: " .. d .. "/x.npz: a .npz file holds named tensors: save(path, {name = t, ...})", d .. "/x.npz", t },
    { "save: " .. d .. "/x.pt: unknown extension '.pt' (tycho reads and writes .npy, .npz and .safetensors)",
      d .. "/x.pt", { a = t } },
    { "save: takes at most 3 arguments", d .. "/x.npz", { a = t }, {}, 1 },
    { "the options table has a __index metamethod", d .. "/x.npz", { a = t }, setmetatable({}, { __index = {} }) },
    { "the table of tensors has a __index metamethod", d .. "/x.npz", setmetatable({}, { __index = { a = t } }) },
  }
  for _, c in ipairs(cases) do
    local ok, err = pcall(tycho.save, table.unpack(c, 2, 5))
    lu.assertFalse(ok, c[1])
    lu.assertStrContains(err, c[1], false)
  end
  lu.assertEquals(ls(d), {}, "no file, no temporary file")
  local ok, err = pcall(t.save, t, d .. "/x.safetensors")
  lu.assertStrContains(err, "a .safetensors file holds named tensors")
  lu.assertStrContains(load_error(d .. "/x.bin"), "load: " .. d .. "/x.bin: unknown extension '.bin'")
  -- a directory, and a folder that does not exist
  lu.assertStrContains(select(2, pcall(tycho.save, d .. "/noext", { a = t })),
    "save: expected save(path, tensor) (got string, table); a table of tensors is saved as .npz or .safetensors")
  assert(os.execute("mkdir " .. support.q(d .. "/dir.npz")))
  lu.assertStrContains(select(2, pcall(tycho.save, d .. "/dir.npz", { a = t })), d .. "/dir.npz: is a directory")
  lu.assertStrContains(select(2, pcall(tycho.save, "/nonexistent_dir/x.safetensors", { a = t })),
    "save: /nonexistent_dir/x.safetensors: No such file or directory")
end

function TestFilesSave:test_permissions_and_links_are_kept()
  local path = self.dir .. "/m.npz"
  tycho.save(path, { a = tycho.ones(1) })
  assert(os.execute("chmod 640 " .. support.q(path)))
  tycho.save(path, { a = tycho.zeros(1) })
  local p = io.popen("stat -c %a " .. support.q(path))
  lu.assertEquals(p:read("l"), "640")
  p:close()
  assert(os.execute("ln -s m.npz " .. support.q(self.dir .. "/link.npz")))
  tycho.save(self.dir .. "/link.npz", { a = tycho.full({ 1 }, 7) })
  lu.assertEquals(tycho.load(path).a[1], 7)
  lu.assertTrue(os.execute("test -L " .. support.q(self.dir .. "/link.npz")))
end

-- A tensor of the table closed by a finalizer while the save allocates: an error saying
-- so, or a whole file of the values (never freed memory read).
function TestFilesSave:test_tensors_closed_during_the_save()
  local landed = 0
  local mode = collectgarbage("incremental", 5, 1000, 0) -- a step at about every allocation
  for _, ext in ipairs { ".npz", ".safetensors" } do
    for attempt = 1, 60 do
      local w = tycho.rand(200, 200)
      local copy = w:clone()
      local fired = false
      setmetatable({}, { __gc = function() fired = true local c <close> = w end })
      local names = {}
      for i = 1, 50 do names["n" .. i] = copy end
      names.w = w
      local ok, err = pcall(tycho.save, self.dir .. "/m" .. ext, names)
      if fired then
        landed = landed + 1
        if ok then assert_same(tycho.load(self.dir .. "/m" .. ext).w, copy, "saved")
        else lu.assertStrContains(err, "closed") end
      end
      collectgarbage()
    end
  end
  lu.assertTrue(landed > 0)
  -- the table itself changed by a finalizer between the walk that counts it and the one
  -- that reads it: an error saying so, or a whole file
  landed = 0
  for attempt = 1, 60 do
    local names = {}
    for i = 1, 50 do names["n" .. i] = tycho.ones(2) end
    local fired = false
    setmetatable({}, { __gc = function() fired = true for i = 51, 60 do names["n" .. i] = tycho.ones(2) end end })
    local ok, err = pcall(tycho.save, self.dir .. "/t.npz", names)
    if fired then
      landed = landed + 1
      if ok then lu.assertTrue(tycho.load(self.dir .. "/t.npz").n1:equal(tycho.ones(2)))
      else lu.assertStrContains(err, "save: the table changed during the call") end
    end
    collectgarbage()
  end
  collectgarbage(mode)
  lu.assertTrue(landed > 0)
  lu.assertEquals(#ls(self.dir) <= 3, true)
end

-- ---- atomic saves --------------------------------------------------------------------

TestAtomicSave = {}

function TestAtomicSave:setUp() self.dir = tmpdir() end
function TestAtomicSave:tearDown() rmdir(self.dir) end

local OLD = { w = tycho.linspace(-1, 1, 6):reshape(2, 3), b = tycho.tensor { 0.5 } }

local function save_old(path)
  if path:match("%.npy$") then tycho.save(path, OLD.w) else tycho.save(path, OLD) end
end

local function assert_old(path)
  local got = tycho.load(path)
  if path:match("%.npy$") then assert_same(got, OLD.w, path) else assert_tables_same(got, OLD, path) end
end

-- A child whose file size limit (ulimit -f, SIGXFSZ ignored) stops the write at 64 KB with
-- EFBIG: its save fails, the old file is whole and no temporary file is left.
function TestAtomicSave:test_a_save_failing_midway_leaves_the_old_file()
  for _, ext in ipairs { ".npy", ".npz", ".safetensors" } do
    for _, opts in ipairs { "", ", { compress = true }", ", { dtype = 'F32' }" } do
      if (opts:find("compress") and ext ~= ".npz") or (opts:find("dtype") and ext ~= ".safetensors") then
        goto continue
      end
      local path = self.dir .. "/model" .. ext
      save_old(path)
      local big = ext == ".npy" and "tycho.rand(400, 400)" or "{ w = tycho.rand(400, 400), b = tycho.rand(300) }"
      local code = ("tycho.random.seed(1) print(pcall(tycho.save, %q, %s%s))"):format(path, big, opts)
      local out, err, status = support.run({ "sh", "-c",
        "ulimit -f 128; trap '' XFSZ; exec " .. support.q(BIN) .. " -e " .. support.q(code) })
      lu.assertEquals(status, 0, err)
      lu.assertStrContains(out, "false\tsave: " .. path .. ": write failed: File too large", false, ext .. opts)
      assert_old(path)
      lu.assertEquals(ls(self.dir), { "model" .. ext }, "no temporary file left")
      os.remove(path)
      ::continue::
    end
  end
end

-- A child saving big tables over the file again and again, killed (SIGKILL) after a moment:
-- the file is the old one or one of the new ones, whole.
function TestAtomicSave:test_a_process_killed_midway_leaves_a_whole_file()
  for _, ext in ipairs { ".npz", ".safetensors", ".npy" } do
    local path = self.dir .. "/model" .. ext
    save_old(path)
    local value = ext == ".npy" and "t.w" or "t"
    local code = ([[
local t = { w = tycho.full({ 1000, 1000 }, 3), b = tycho.full({ 1000 }, 3) }
io.stdout:write("saving\n") io.stdout:flush()
while true do tycho.save(%q, %s) end]]):format(path, value)
    local sh = ("%s -e %s > %s & pid=$!; while [ ! -s %s ]; do sleep 0.01; done; sleep 0.3; kill -9 $pid; wait $pid")
      :format(support.q(BIN), support.q(code), support.q(self.dir .. "/out"), support.q(self.dir .. "/out"))
    local _, err, status = support.run({ "sh", "-c", sh }, 60)
    lu.assertEquals(status, 128 + 9, err)   -- the child was killed, not done
    local got = tycho.load(path)
    if ext == ".npy" then got = { w = got } end
    if got.w:numel() == 6 then
      assert_old(path)
    else
      lu.assertEquals(got.w:shape(), { 1000, 1000 })
      lu.assertTrue(got.w:eq(3):sum() == 1e6, "whole new values")
      if ext ~= ".npy" then lu.assertTrue(got.b:eq(3):sum() == 1000) end
    end
    os.remove(self.dir .. "/out")
  end
end

-- ---- the sandbox ---------------------------------------------------------------------

function test_npz_and_safetensors_are_denied_in_the_sandbox()
  local out = support.run({ BIN, "--sandbox", "-e", [[
for _, f in ipairs {
  function() return tycho.load("spec/fixtures/npz/named.npz") end,
  function() return tycho.load("spec/fixtures/safetensors/dtypes.safetensors") end,
  function() return tycho.save("/tmp/tycho_denied.npz", { a = tycho.ones(2) }) end,
  function() return tycho.save("/tmp/tycho_denied.safetensors", { a = tycho.ones(2) }, { dtype = "F32" }) end,
} do print(select(2, pcall(f))) end]] })
  lu.assertEquals(out, ("(command line):%d: %s: disabled in the sandbox\n"):rep(4)
    :format(2, "load", 3, "load", 4, "save", 5, "save"))
  lu.assertNil(io.open("/tmp/tycho_denied.npz"))
  lu.assertNil(io.open("/tmp/tycho_denied.safetensors"))
end
