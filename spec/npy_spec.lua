-- npy_spec.lua: tycho.load on every layout in spec/fixtures/npy (made by NumPy 1.24),
-- tycho.save byte for byte as np.save, round trips of views, and the error messages.
local lu = require "luaunit"
local support = require "spec.support"
local tycho = require "tycho"

local DIR = "spec/fixtures/npy/"

local flat = support.flat

local slurp = support.slurp

local function load(name) return tycho.load(DIR .. name .. ".npy") end

local F8_2X3 = {-0.5, -0.25, 0, 0.25, 0.5, 0.75}

TestNpyLoad = {}

function TestNpyLoad:test_f8()
  local t = load("f8_2x3")
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(flat(t), F8_2X3)
end

function TestNpyLoad:test_f4()
  local t = load("f4_2x3")
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(flat(t), F8_2X3)
end

function TestNpyLoad:test_big_endian_f8()
  local t = load("f8be_2x3")
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(flat(t), F8_2X3)
end

function TestNpyLoad:test_version_2_header()
  local t = load("f8_v2_2x3")
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(flat(t), F8_2X3)
end

function TestNpyLoad:test_integers()
  for _, name in ipairs{"i8_2x3", "i4_2x3"} do
    local t = load(name)
    lu.assertEquals(t:shape(), {2, 3}, name)
    lu.assertEquals(flat(t), {-2, -1, 0, 1, 2, 3}, name)
  end
  local u = load("u1_2x3")
  lu.assertEquals(u:shape(), {2, 3})
  lu.assertEquals(flat(u), {0, 1, 2, 3, 4, 5})
end

function TestNpyLoad:test_bool()
  local t = load("bool_2x3")
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(flat(t), {0, 0, 0, 1, 1, 1})
end

function TestNpyLoad:test_fortran_order()
  local t = load("f8_fortran_3x4")
  lu.assertEquals(t:shape(), {3, 4})
  lu.assertEquals(flat(t), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
  lu.assertEquals(t:get(2, 1), 4)
  lu.assertEquals(t:get(1, 2), 1)
  lu.assertEquals(t[3][4], 11)
end

function TestNpyLoad:test_3d()
  local t = load("f8_2x3x4")
  lu.assertEquals(t:shape(), {2, 3, 4})
  local v = flat(t)
  -- np.linspace(-1, 1, 24): start + i*step, the last one exactly stop
  local step = 2 / 23
  for i = 0, 22 do lu.assertEquals(v[i + 1], i * step + -1, "element " .. i + 1) end
  lu.assertEquals(v[24], 1)
  lu.assertEquals(t:get(2, 3, 4), 1)
  lu.assertEquals(t:get(1, 1, 1), -1)
end

function TestNpyLoad:test_scalar()
  local t = load("f8_scalar")
  lu.assertEquals(t:dim(), 0)
  lu.assertEquals(t:shape(), {})
  lu.assertEquals(t:item(), 3.25)
end

function TestNpyLoad:test_empty()
  local a = load("f8_empty_0")
  lu.assertEquals(a:shape(), {0})
  lu.assertEquals(a:numel(), 0)
  local b = load("f8_2x0x3")
  lu.assertEquals(b:shape(), {2, 0, 3})
  lu.assertEquals(b:numel(), 0)
end

function TestNpyLoad:test_notebook_fixtures_load()
  local shapes = {dx = {2, 5, 10}, dh0 = {2, 5}, dW_ih = {10, 5}, dW_hh = {5, 5}, db = {5}}
  for name, shape in pairs(shapes) do
    lu.assertEquals(tycho.load("spec/fixtures/notebook/" .. name .. ".npy"):shape(), shape, name)
  end
end

function TestNpyLoad:test_complex_refused()
  lu.assertErrorMsgContains(
    "load: spec/fixtures/npy/c16_2.npy: dtype '<c16' (complex) is not supported; " ..
    "tycho loads real numbers only", tycho.load, DIR .. "c16_2.npy")
end

function TestNpyLoad:test_object_refused()
  lu.assertErrorMsgContains("object_2.npy: dtype '|O' (Python objects) is not supported",
                            tycho.load, DIR .. "object_2.npy")
end

function TestNpyLoad:test_bad_magic()
  lu.assertErrorMsgContains("load: spec/fixtures/npy/bad_magic.npy: not a .npy file (bad magic",
                            tycho.load, DIR .. "bad_magic.npy")
end

function TestNpyLoad:test_truncated_data()
  lu.assertErrorMsgContains("bad_truncated.npy: data too short: shape (2, 3) of '<f8' needs " ..
                            "48 bytes, the file has 43", tycho.load, DIR .. "bad_truncated.npy")
end

function TestNpyLoad:test_shape_the_data_cannot_fill()
  lu.assertErrorMsgContains("bad_header.npy: data too short: shape (9, 9) of '<f8' needs " ..
                            "648 bytes, the file has 48", tycho.load, DIR .. "bad_header.npy")
end

function TestNpyLoad:test_missing_file_names_path()
  lu.assertErrorMsgContains("load: spec/fixtures/npy/no_such_file.npy: No such file",
                            tycho.load, DIR .. "no_such_file.npy")
end

function TestNpyLoad:test_directory()
  lu.assertErrorMsgContains("load: spec/fixtures/npy", tycho.load, "spec/fixtures/npy")
end

function TestNpyLoad:test_argument_types()
  lu.assertErrorMsgContains("load: path must be a string (got no value)", tycho.load)
  lu.assertErrorMsgContains("load: path must be a string (got number)", tycho.load, 42)
  lu.assertErrorMsgContains("load: path must be a string (got tensor)", tycho.load,
                            tycho.zeros(2))
end

-- Writes bytes to a temporary file, loads it, removes the file; returns ok, result.
local function load_bytes(bytes)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  local ok, r = pcall(tycho.load, path)
  os.remove(path)
  return ok, r
end

local function npy(header, data, version)
  local pad = 64 - (10 + #header + 1) % 64
  header = header .. string.rep(" ", pad) .. "\n"
  if version == 2 then
    return "\x93NUMPY\x02\x00" .. string.pack("<I4", #header) .. header .. data
  end
  return "\x93NUMPY\x01\x00" .. string.pack("<I2", #header) .. header .. data
end

function TestNpyLoad:test_other_dtypes()
  local cases = {
    {"<i2", string.pack("<i2i2i2", -2, 0, 7)}, {">i2", string.pack(">i2i2i2", -2, 0, 7)},
    {"|i1", string.pack("bbb", -2, 0, 7)}, {"<u2", string.pack("<I2I2I2", 65534, 0, 7)},
    {">u4", string.pack(">I4I4I4", 4294967294, 0, 7)},
    {"<u8", string.pack("<I8I8I8", 2, 0, 7)}, {">i8", string.pack(">i8i8i8", -2, 0, 7)},
    {">f4", string.pack(">fff", -2, 0, 7)}, {"<f2", "\x00\xc0\x00\x00\x00\x47"},
  }
  for _, c in ipairs(cases) do
    local ok, t = load_bytes(npy("{'descr': '" .. c[1] .. "', 'fortran_order': False, " ..
                                 "'shape': (3,), }", c[2]))
    lu.assertTrue(ok, c[1] .. ": " .. tostring(t))
    local want = {-2, 0, 7}
    if c[1] == "<u2" then want[1] = 65534 elseif c[1] == "<u8" then want[1] = 2
    elseif c[1] == ">u4" then want[1] = 4294967294 end
    lu.assertEquals(flat(t), want, c[1])
  end
end

function TestNpyLoad:test_header_variants()
  -- key order, double quotes and no trailing comma are all valid Python dicts
  local ok, t = load_bytes(npy('{"shape": (2,), "fortran_order": False, "descr": "<f8"}',
                               string.pack("<dd", 1.5, -2)))
  lu.assertTrue(ok, tostring(t))
  lu.assertEquals(flat(t), {1.5, -2})
  ok, t = load_bytes(npy("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2, 2), }",
                         string.pack("<dddddddd", 0, 4, 2, 6, 1, 5, 3, 7), 2))
  lu.assertTrue(ok, tostring(t))
  lu.assertEquals(flat(t), {0, 1, 2, 3, 4, 5, 6, 7})
end

function TestNpyLoad:test_malformed_headers()
  local cases = {
    {"['descr', '<f8']", "not a dict"},
    {"{'descr': '<f8', 'fortran_order': False}", "no 'shape' key"},
    {"{'descr': '<f8', 'shape': (2,)}", "no 'fortran_order' key"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': [2], }", "'shape' is not a tuple"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, x), }", "'shape' is not a tuple"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }", "'shape' is not a tuple"},
    {"{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }", "not True or False"},
    {"{'descr': 8, 'fortran_order': False, 'shape': (2,), }", "'descr' is not a string"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected key 'x'"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } junk", "after the dict"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
     "more than 8 dimensions"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }",
     "too large"},
    {"{'descr': '<f7', 'fortran_order': False, 'shape': (2,), }", "'<f7' is not a dtype"},
    {"{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", "(unicode strings)"},
    {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (2,), }", "structured"},
  }
  for _, c in ipairs(cases) do
    local ok, err = load_bytes(npy(c[1], string.rep("\0", 16)))
    lu.assertFalse(ok, c[1])
    lu.assertStrContains(err, c[2], false, c[1])
    lu.assertStrContains(err, "load: ")
  end
end

function TestNpyLoad:test_malformed_prefix()
  local ok, err = load_bytes("\x93NUMPY\x01\x00\xff\x7f{'descr'")
  lu.assertFalse(ok)
  lu.assertStrContains(err, "header length 32767 runs past the end of the file")
  ok, err = load_bytes("\x93NUM")
  lu.assertFalse(ok)
  lu.assertStrContains(err, "bad magic")
  ok, err = load_bytes("")
  lu.assertFalse(ok)
  lu.assertStrContains(err, "bad magic")
  ok, err = load_bytes("\x93NUMPY\x04\x00\x10\x00")
  lu.assertFalse(ok)
  lu.assertStrContains(err, "version 4.0 is not supported")
end

function TestNpyLoad:test_every_truncation_of_a_file_errors()
  local bytes = slurp(DIR .. "f8_2x3.npy")
  for n = 0, #bytes - 1 do
    local ok = load_bytes(bytes:sub(1, n))
    lu.assertFalse(ok, "loaded a file cut at " .. n .. " bytes")
  end
end

TestNpySave = {}

local function tmp()
  local path = os.tmpname()
  return path
end

local function roundtrip(t)
  local path = tmp()
  tycho.save(path, t)
  local u = tycho.load(path)
  os.remove(path)
  lu.assertEquals(u:shape(), t:shape())
  lu.assertEquals(flat(u), flat(t))
  return u
end

function TestNpySave:test_roundtrip_contiguous()
  roundtrip(tycho.linspace(-1, 1, 24):reshape(2, 3, 4))
end

function TestNpySave:test_roundtrip_transposed()
  local t = tycho.arange(12):reshape(3, 4)
  local u = roundtrip(t.T)
  lu.assertEquals(u:shape(), {4, 3})
  lu.assertEquals(flat(u), {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11})
  roundtrip(tycho.arange(24):reshape(2, 3, 4):transpose(1, 3))
end

function TestNpySave:test_roundtrip_narrowed()
  local t = tycho.arange(20):reshape(4, 5)
  local u = roundtrip(t:narrow(2, 2, 3))
  lu.assertEquals(flat(u), {1, 2, 3, 6, 7, 8, 11, 12, 13, 16, 17, 18})
  roundtrip(t:narrow(1, 2, 2):narrow(2, 4, 2))
  roundtrip(t:select(2, 3))
end

function TestNpySave:test_roundtrip_0d()
  local t = tycho.zeros{}
  t:fill_(2.5)
  local u = roundtrip(t)
  lu.assertEquals(u:dim(), 0)
  lu.assertEquals(u:item(), 2.5)
end

function TestNpySave:test_roundtrip_empty()
  roundtrip(tycho.zeros(0))
  roundtrip(tycho.zeros(2, 0, 3))
end

function TestNpySave:test_roundtrip_1d()
  roundtrip(tycho.tensor{1, -2.5, 1e300, -1e-300, 0})
end

function TestNpySave:test_roundtrip_large_strided()
  -- more than one write chunk through the strided path
  local t = tycho.rand(300, 70)
  roundtrip(t.T)
end

function TestNpySave:test_header_bytes()
  local path = tmp()
  tycho.save(path, tycho.tensor{{1, 2, 3}, {4, 5, 6}})
  local s = slurp(path)
  os.remove(path)
  lu.assertEquals(s:sub(1, 8), "\x93NUMPY\x01\x00")
  local hlen = string.unpack("<I2", s, 9)
  lu.assertEquals((10 + hlen) % 64, 0)
  lu.assertEquals(#s, 10 + hlen + 6 * 8)
  local header = s:sub(11, 10 + hlen)
  lu.assertStrMatches(header, "{'descr': '<f8', 'fortran_order': False, 'shape': %(2, 3%), } *\n")
  lu.assertEquals(s:sub(11 + hlen), string.pack("<dddddd", 1, 2, 3, 4, 5, 6))
end

function TestNpySave:test_header_shapes_0d_and_1d()
  local path = tmp()
  tycho.save(path, tycho.zeros{})
  lu.assertStrContains(slurp(path), "'shape': (), }")
  tycho.save(path, tycho.zeros(5))
  lu.assertStrContains(slurp(path), "'shape': (5,), }")
  os.remove(path)
end

function TestNpySave:test_same_bytes_as_numpy()
  -- np.save wrote these; loading and saving them must give the very same file
  local files = {DIR .. "f8_2x3.npy", DIR .. "f8_2x3x4.npy", DIR .. "f8_scalar.npy",
                 DIR .. "f8_empty_0.npy", DIR .. "f8_2x0x3.npy",
                 "spec/fixtures/random/seed1_rand_4x5.npy", "spec/fixtures/notebook/dx.npy"}
  local path = tmp()
  for _, f in ipairs(files) do
    tycho.save(path, tycho.load(f))
    lu.assertEquals(slurp(path), slurp(f), f)
  end
  -- a Fortran-order or big-endian file is saved as the C-order '<f8' NumPy would write
  tycho.save(path, load("f8be_2x3"))
  lu.assertEquals(slurp(path), slurp(DIR .. "f8_2x3.npy"))
  os.remove(path)
end

function TestNpySave:test_method_same_as_function()
  local t = tycho.arange(6):reshape(2, 3).T
  local p1, p2 = tmp(), tmp()
  tycho.save(p1, t)
  t:save(p2)
  lu.assertEquals(slurp(p2), slurp(p1))
  os.remove(p1)
  os.remove(p2)
end

function TestNpySave:test_unwritable_path_named()
  local t = tycho.zeros(2)
  lu.assertErrorMsgContains("save: /nonexistent_dir/x.npy: No such file or directory",
                            tycho.save, "/nonexistent_dir/x.npy", t)
  lu.assertErrorMsgContains("save: /nonexistent_dir/x.npy:", t.save, t, "/nonexistent_dir/x.npy")
end

function TestNpySave:test_argument_types()
  local t = tycho.zeros(2)
  lu.assertErrorMsgContains("save: expected save(path, tensor) (got tensor, string)",
                            tycho.save, t, "x.npy")
  lu.assertErrorMsgContains("save: expected save(path, tensor) (got string, no value)",
                            tycho.save, "x.npy")
  lu.assertErrorMsgContains("save: expected save(path, tensor) (got string, table)",
                            tycho.save, "x.npy", {1, 2})
  lu.assertErrorMsgContains("save: expected t:save(path) (got tensor, number)", t.save, t, 5)
end

-- File access is one capability, denied to a sandboxed state before the module opens: every
-- file function says so by name, and no other route (require again, package.loaded, a
-- tensor's methods) reaches the real ones.
function TestNpySave:test_file_access_is_denied_as_one_capability()
  local bin = os.getenv("TYCHO_BIN") or ((os.getenv("TYCHO_BUILD") or "build") .. "/tycho")
  local out = support.run({ bin, "--sandbox", "-e", [[
local t = tycho.zeros(2)
local calls = {
  function() return tycho.load("spec/fixtures/npy/f8_2x3.npy") end,
  function() return tycho.save("/tmp/tycho_denied.npy", t) end,
  function() return t:save("/tmp/tycho_denied.npy") end,
  function() return require("tycho").load("spec/fixtures/npy/f8_2x3.npy") end,
  function() return package.loaded.tycho.save("/tmp/tycho_denied.npy", t) end,
  function() return tycho.ones(100).save(tycho.ones(100), "/tmp/tycho_denied.npy") end,
}
for _, f in ipairs(calls) do print(select(2, pcall(f))) end]] })
  local want = { "load", "save", "save", "load", "save", "save" }
  local i = 0
  for line in out:gmatch("[^\n]+") do
    i = i + 1
    lu.assertStrMatches(line, "%(command line%):%d+: " .. want[i] .. ": disabled in the sandbox")
  end
  lu.assertEquals(i, #want, out)
  lu.assertNil(io.open("/tmp/tycho_denied.npy"))
  -- and granted where nothing denies it
  local path = tmp()
  tycho.zeros(2):save(path)
  lu.assertEquals(tycho.load(path):numel(), 2)
  os.remove(path)
end
