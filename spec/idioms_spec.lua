-- The NumPy idioms of the table form: slices (Torch7's t[{...}]) and boolean masks, read
-- and assigned; squeeze, unsqueeze, permute, expand, flatten; keepdim reductions; full;
-- == as equal; shapes that print as tuples; and nothing silently ignored (extra arguments,
-- arguments of the wrong kind, writes through expanded views). Expected values from NumPy
-- (spec/fixtures/idioms/make_idioms.py).
local lu = require "luaunit"
local tycho = require "tycho"

local function F(name) return tycho.load("spec/fixtures/idioms/" .. name .. ".npy") end

local function assert_error(fn, ...)
  local ok, err = pcall(fn)
  lu.assertFalse(ok, "expected an error")
  err = tostring(err)
  for _, part in ipairs({ ... }) do
    lu.assertTrue(err:find(part, 1, true) ~= nil, ("error %q lacks %q"):format(err, part))
  end
end

local function same(got, want)
  lu.assertEquals(tostring(got:shape()), tostring(want:shape()))
  lu.assertTrue(got:equal(want), "values differ from NumPy's:\n" .. tostring(got) .. "\n" .. tostring(want))
end

-- shares storage: writing through the view changes the base
local function is_view_of(v, base)
  local before = base:sum()
  local k = v:numel() > 0 and 1 or 0
  if k == 0 then return true end
  local keep = v:clone()
  v:add_(1)
  local changed = base:sum() ~= before
  v:copy_(keep)
  return changed
end

TestSlices = {}

function TestSlices:test_ranges_positions_steps_against_numpy()
  local a = F("a")
  same(a[{ 2, { 2, 4 }, {} }], F("slice_2_r24_all"))
  same(a[{ {}, -1, { 1, 5, 2 } }], F("slice_all_m1_r153"))
  same(a[{ { -3, -1 }, { 3 } }], F("slice_rm3m1_r_a"))
  same(a[{ { 1, 4, 2 } }], F("slice_r14_step2"))
  same(a:permute(3, 2, 1)[{ { 2, 5 }, { 1, 3 } }], F("slice_t_r25_r13"))
  same(a[{ {}, { 4, 3 } }], F("slice_empty"))
end

function TestSlices:test_slices_are_views()
  local a = F("a")
  lu.assertTrue(is_view_of(a[{ 2, { 2, 4 }, {} }], a))
  lu.assertTrue(is_view_of(a[{ {}, -1, { 1, 5, 2 } }], a))
  lu.assertTrue(is_view_of(a:permute(3, 2, 1)[{ { 2, 5 }, { 1, 3 } }], a))
end

function TestSlices:test_assignment_broadcasts_against_numpy()
  local a = F("a")
  a[{ { 2, 3 }, { 1, 5, 2 }, -1 }] = tycho.tensor { { 100 }, { 200 } }
  same(a, F("assign_slice_broadcast"))
  local b = tycho.zeros(2, 3)
  b[{ {}, 2 }] = 5
  same(b, tycho.tensor { { 0, 5, 0 }, { 0, 5, 0 } })
end

function TestSlices:test_errors_name_the_entry()
  local a = F("a")
  assert_error(function() return a[{ 1, 2, 3, 4 }] end, "index: 4 slice entries for the 3-d 4x5x6 tensor")
  assert_error(function() return a[{ { 2, 9 } }] end, "slice entry 1, {2, 9}, does not fit dimension 1 of size 4")
  assert_error(function() return a[{ { 1, 4, 0 } }] end, "slice entry 1 has step 0")
  assert_error(function() return a[{ { 1, 2, 3, 4 } }] end, "slice entry 1 has 4 parts")
  assert_error(function() return a[{ "x" }] end, "slice entry 1 is string")
  assert_error(function() return a[{ { 1.5 } }] end, "part 1 of slice entry 1 is 1.5, not an integer")
  assert_error(function() return a[{ 5 }] end, "index 5 is out of range for dimension 1 of size 4")
  assert_error(function() return a[{ 1, x = 2 }] end, "the slice table has keys other than 1..1")
  assert_error(function() return a[true] end, "a tensor's key is a position, a slice table, a mask or a method name, not boolean")
  assert_error(function() a[{ { 1, 2 } }] = tycho.zeros(3) end, "cannot broadcast a 3 operand into the 2x5x6 tensor")
end

function TestSlices:test_tables_with_metamethods_are_refused()
  local a = F("a")
  local tricky = setmetatable({}, { __len = function() return 1 end, __index = function() return 1 end })
  assert_error(function() return a[tricky] end, "the slice table has a __len metamethod")
  local range = setmetatable({}, { __index = function() return 2 end })
  assert_error(function() return a[{ range }] end, "a slice range has a __index metamethod")
end

TestMasks = {}

function TestMasks:test_select_and_assign_against_numpy()
  local a = F("a")
  same(a[a:gt(3)], F("mask_gt3"))
  local t = a:permute(3, 1, 2)
  same(t[t:lt(0)], F("mask_t_lt0"))
  local b = a:clone()
  b[b:gt(10)] = -1
  same(b, F("assign_mask_number"))
  local c = a:clone()
  local m = c:lt(-5)
  c[m] = tycho.arange(m:sum())
  same(c, F("assign_mask_values"))
end

function TestMasks:test_a_mask_is_a_copy()
  local a = tycho.tensor { 1, 2, 3 }
  local s = a[a:gt(1)]
  s:fill_(0)
  same(a, tycho.tensor { 1, 2, 3 })
end

function TestMasks:test_a_mask_that_is_the_tensor_is_read_before_the_writes()
  -- NumPy evaluates the mask first: t[t] = v writes where t was 1
  local t = tycho.tensor { 1, 0, 1, 1 }
  local w = t:narrow(1, 1, 3)
  w[t:narrow(1, 2, 3)] = 7
  same(t, tycho.tensor { 1, 7, 7, 1 })
  local u = tycho.tensor { 1, 0, 1 }
  u[u] = tycho.tensor { 5, 6 }
  same(u, tycho.tensor { 5, 0, 6 })
end

function TestMasks:test_empty_and_0d()
  local e = tycho.zeros(0, 3)
  same(e[e:gt(0)], tycho.zeros(0))
  local s = tycho.tensor(4)
  same(s[s:gt(1)], tycho.tensor { 4 })
end

function TestMasks:test_errors()
  local a = tycho.arange(6):reshape(2, 3)
  assert_error(function() return a[tycho.ones(3)] end, "index: the mask is 3 but the tensor is 2x3")
  assert_error(function() return a[a * 0.5] end, "the mask holds values other than 0 and 1")
  assert_error(function() a[a:gt(1)] = tycho.zeros(3) end, "the mask selects 4 elements but the value is 3")
  assert_error(function() a[a:gt(1)] = "x" end, "tensor expected, got string")
end

TestShapeViews = {}

function TestShapeViews:test_against_numpy()
  local a = F("a")
  same(tycho.ones(1, 3, 1, 2):squeeze(), F("squeeze"))
  same(a:permute(3, 1, 2), F("permute_312"))
  same(a[{ 2, { 3 }, {} }]:expand(3, 4, 6), F("expand_3x4x6"))
  same(a:flatten(2, 3), F("flatten_23"))
  same(a:permute(2, 1, 3):flatten(), F("flatten_t"))
end

function TestShapeViews:test_shapes()
  local a = tycho.zeros(2, 1, 3)
  lu.assertEquals(a:squeeze(2):shape(), { 2, 3 })
  lu.assertEquals(a:squeeze(-2):shape(), { 2, 3 })
  lu.assertEquals(a:unsqueeze(1):shape(), { 1, 2, 1, 3 })
  lu.assertEquals(a:unsqueeze(4):shape(), { 2, 1, 3, 1 })
  lu.assertEquals(a:unsqueeze(-1):shape(), { 2, 1, 3, 1 })
  lu.assertEquals(a:unsqueeze(-4):shape(), { 1, 2, 1, 3 })
  lu.assertEquals(tycho.tensor(5):flatten():shape(), { 1 })
  lu.assertEquals(tycho.tensor(5):unsqueeze(1):shape(), { 1 })
  lu.assertEquals(tycho.ones(3):expand(2, -1):shape(), { 2, 3 })
  lu.assertEquals(tycho.ones(3):expand { 4, 3 }:shape(), { 4, 3 })
  lu.assertEquals(tycho.zeros(0, 2):expand(3, 0, 2):shape(), { 3, 0, 2 })
end

function TestShapeViews:test_views_where_numpy_gives_views()
  local a = tycho.arange(24):reshape(2, 3, 4)
  lu.assertTrue(is_view_of(a:unsqueeze(2), a))
  lu.assertTrue(is_view_of(a:permute(3, 1, 2), a))
  lu.assertTrue(is_view_of(a:flatten(1, 2), a))
  lu.assertTrue(is_view_of(a:unsqueeze(1):squeeze(), a))
  lu.assertFalse(is_view_of(a:permute(2, 1, 3):flatten(), a)) -- not contiguous: a copy
end

function TestShapeViews:test_an_expanded_view_cannot_be_written_through()
  local e = tycho.ones(3):expand(2, 3)
  local msg = "is an expanded view (stride 0)"
  assert_error(function() e:add_(1) end, "add_: the 2x3 tensor", msg)
  assert_error(function() e:fill_(0) end, "fill_:", msg)
  assert_error(function() e:zero_() end, "zero_:", msg)
  assert_error(function() e:copy_(tycho.zeros(2, 3)) end, "copy_:", msg)
  assert_error(function() e:set(1, 1, 5) end, "set:", msg)
  assert_error(function() e[1] = 5 end, "newindex:", msg)
  assert_error(function() e[{ 1, 2 }] = 5 end, "newindex:", msg)
  assert_error(function() e[e:gt(0)] = 5 end, "newindex:", msg)
  assert_error(function() e[{ {}, { 1, 2 } }]:mul_(2) end, "mul_: the 2x2 tensor", msg) -- a view that still repeats
  -- reading is fine, and a clone is writable
  lu.assertEquals((e + 1):sum(), 12)
  local c = e:clone()
  c:add_(1)
  lu.assertEquals(c:sum(), 12)
  -- a size-1 dimension of stride 0 does not repeat anything
  local one = tycho.ones(3):expand(1, 3)
  one:add_(1)
  lu.assertEquals(one:sum(), 6)
end

function TestShapeViews:test_errors()
  local a = tycho.zeros(2, 3)
  assert_error(function() a:squeeze(1) end, "squeeze: dimension 1 of the 2x3 tensor has size 2, not 1")
  assert_error(function() a:unsqueeze(4) end, "unsqueeze: dimension 4 is out of range", "1 to 3")
  assert_error(function() a:permute(1) end, "permute: 1 dimensions given for the 2-d 2x3 tensor")
  assert_error(function() a:permute(1, 1) end, "permute: dimension 1 is named twice")
  assert_error(function() a:permute(1, 3) end, "permute: dimension 3 is out of range")
  assert_error(function() a:expand(4, 3) end, "expand: the 2x3 tensor cannot be expanded to 4x3 (dimension 1: 2 vs 4)")
  assert_error(function() a:expand(3) end, "expand: the 2x3 tensor cannot be expanded to 1 dimensions")
  assert_error(function() a:expand(2, -2) end, "expand: size -2 is negative")
  assert_error(function() a:flatten(2, 1) end, "flatten: end dimension 1 is before start dimension 2")
end

TestReductions = {}

function TestReductions:test_keepdim_against_numpy()
  local a = F("a")
  same(a:sum(2, true), F("sum_2_keep"))
  same(a:mean(3, true), F("mean_3_keep"))
  same(a:max(1, true), F("max_1_keep"))
  same(a:argmax(2, true), F("argmax_2_keep_plus1"))
  same(a:sum(nil, true), F("sum_all_keep"))
  -- on a strided input
  same(a:permute(3, 2, 1):sum(2, true), F("sum_2_keep"):permute(3, 2, 1))
  same(tycho.sum(a, 2, false), F("sum_2_keep"):squeeze(2))
end

function TestReductions:test_dimension_errors_carry_the_1_based_hint()
  local a = tycho.zeros(2, 3)
  assert_error(function() a:sum(0) end,
    "sum: dimension 0 is out of range for a 2-d tensor (2x3) (dimensions are 1-based, negative ones count from the end)")
  assert_error(function() a:size(3) end, "size: dimension 3 is out of range", "1-based")
  assert_error(function() a:sum(1, 1) end, "sum: keepdim (argument 3) must be a boolean, got number")
end

TestNothingIgnored = {}

function TestNothingIgnored:test_extra_arguments_are_errors()
  local a = tycho.ones(2, 3)
  assert_error(function() a:sum(1, true, 5) end, "sum: takes at most 3 arguments", "got 4")
  assert_error(function() tycho.eye(2, 3, 4) end, "eye: takes at most 2 arguments")
  assert_error(function() a:clone(1) end, "clone: takes at most 1 argument", "got 2")
  assert_error(function() a:tanh(2) end, "tanh: takes at most 1 argument")
  assert_error(function() a:add_(1, 2) end, "add_: takes at most 2 arguments")
  assert_error(function() tycho.linspace(0, 1, 5, 6) end, "linspace: takes at most 3 arguments")
  assert_error(function() a:squeeze(1, 2) end, "squeeze: takes at most 2 arguments")
  assert_error(function() tycho.where(a, 1, 2, 3) end, "where: takes at most 3 arguments")
  -- trailing nils are arguments left out
  lu.assertEquals(a:sum(1, nil), tycho.full(3, 2))
  lu.assertEquals(a:clone(nil), a)
end

function TestNothingIgnored:test_full_takes_sizes_then_the_value()
  same(tycho.full(2, 3, 7), tycho.tensor { { 7, 7, 7 }, { 7, 7, 7 } })
  same(tycho.full({ 2, 3 }, 7), tycho.tensor { { 7, 7, 7 }, { 7, 7, 7 } })
  same(tycho.full(2, 3), tycho.tensor { 3, 3 })
  assert_error(function() tycho.full(2) end, "full: expected the sizes then the value")
  assert_error(function() tycho.full({ 2 }, 3, 4) end, "full: a shape table is followed by the value alone")
  assert_error(function() tycho.full(2, "x") end, "full: the value (argument 2, after the sizes) must be a number, got string")
end

function TestNothingIgnored:test_eq_is_equal()
  lu.assertTrue(tycho.ones(2) == tycho.ones(2))
  lu.assertFalse(tycho.ones(2) == tycho.zeros(2))
  lu.assertFalse(tycho.ones(2) == tycho.ones(1, 2)) -- same values, another shape
  lu.assertTrue(tycho.ones(2) ~= tycho.ones(3))
  local nan = tycho.tensor { 0 / 0 }
  lu.assertFalse(nan == nan:clone()) -- NaN is equal to nothing, as in NumPy's array_equal
  lu.assertEquals(tycho.arange(3), tycho.tensor { 0, 1, 2 }) -- so LuaUnit compares tensors
  lu.assertFalse(tycho.ones(2) == tycho.nn.Tanh())
end

function TestNothingIgnored:test_shapes_print_as_tuples()
  lu.assertEquals(tostring(tycho.zeros(2, 3):shape()), "(2, 3)")
  lu.assertEquals(tostring(tycho.zeros(5):shape()), "(5,)")
  lu.assertEquals(tostring(tycho.tensor(1):shape()), "()")
  lu.assertEquals(tostring(tycho.zeros(2, 0, 4):size()), "(2, 0, 4)")
  lu.assertTrue(tycho.zeros(2, 3):shape() == tycho.ones(2, 3):shape())
  lu.assertFalse(tycho.zeros(2, 3):shape() == tycho.ones(3, 2):shape())
  lu.assertEquals(tycho.zeros(2, 3):shape(), { 2, 3 })
  lu.assertEquals(getmetatable(tycho.zeros(2):shape()), "tycho.Shape")
  local s = tycho.zeros(2, 3):shape()
  s[1] = 7 -- a plain table of the caller's
  lu.assertEquals(tostring(s), "(7, 3)")
end
