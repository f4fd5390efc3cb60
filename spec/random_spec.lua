-- random_spec.lua: tycho.random against NumPy's legacy RandomState, from the fixtures in
-- spec/fixtures/random (np.random.seed(S); np.random.KIND(*SHAPE), made by NumPy 1.24).
local lu = require "luaunit"
local support = require "spec.support"
local tycho = require "tycho"

local DIR = "spec/fixtures/random/"

-- All elements of t in row-major order, as a Lua array.
local flat = support.flat

local function fixture(name) return tycho.load(DIR .. name .. ".npy") end

-- uniform draws are exact; normals go through log and sqrt, whose last bit may differ
-- between libms, so they get one ulp
local function assert_same(got, want, ulps, what)
  lu.assertEquals(#got, #want, what .. ": length")
  for i = 1, #want do
    local a, b = got[i], want[i]
    if ulps == 0 then
      if a ~= b then
        lu.fail(string.format("%s: element %d is %.17g, NumPy gives %.17g", what, i, a, b))
      end
    elseif math.abs(a - b) > ulps * 2^-52 * math.abs(b) then
      lu.fail(string.format("%s: element %d is %.17g, NumPy gives %.17g", what, i, a, b))
    end
  end
end

TestRandom = {}

function TestRandom:test_seed0_rand_10()
  tycho.random.seed(0)
  local t = tycho.random.rand(10)
  lu.assertEquals(t:shape(), {10})
  assert_same(flat(t), flat(fixture("seed0_rand_10")), 0, "seed(0) rand(10)")
end

function TestRandom:test_seed1_rand_4x5()
  tycho.random.seed(1)
  local t = tycho.rand(4, 5)
  lu.assertEquals(t:shape(), {4, 5})
  assert_same(flat(t), flat(fixture("seed1_rand_4x5")), 0, "seed(1) rand(4, 5)")
end

function TestRandom:test_seed1_randn_3x4()
  tycho.random.seed(1)
  local t = tycho.random.randn(3, 4)
  lu.assertEquals(t:shape(), {3, 4})
  assert_same(flat(t), flat(fixture("seed1_randn_3x4")), 1, "seed(1) randn(3, 4)")
end

function TestRandom:test_largest_seed()
  tycho.random.seed(4294967295)
  local want = flat(fixture("seed4294967295_rand_2x3"))
  assert_same(flat(tycho.rand{2, 3}), want, 0, "seed(2^32-1) rand(2, 3)")
  tycho.random.seed(2^32 - 1)   -- a float with an integral value is a valid seed too
  assert_same(flat(tycho.rand{2, 3}), want, 0, "seed(2.0^32-1) rand(2, 3)")
end

function TestRandom:test_seed42_randn_7()
  tycho.random.seed(42)
  assert_same(flat(tycho.randn(7)), flat(fixture("seed42_randn_7")), 1, "seed(42) randn(7)")
end

function TestRandom:test_randn_keeps_second_gaussian_between_calls()
  -- randn(3) leaves a cached Gaussian that randn(4) must use first, as NumPy does
  tycho.random.seed(42)
  local got = flat(tycho.randn(3))
  for _, v in ipairs(flat(tycho.randn(4))) do got[#got + 1] = v end
  assert_same(got, flat(fixture("seed42_randn_7")), 1, "seed(42) randn(3), randn(4)")
end

function TestRandom:test_seed7_mixed_sequence()
  local want = flat(fixture("seed7_rand3_randn5_rand2"))
  tycho.random.seed(7)
  local got = {}
  for _, t in ipairs{tycho.rand(3), tycho.randn(5), tycho.rand(2)} do
    for _, v in ipairs(flat(t)) do got[#got + 1] = v end
  end
  assert_same({table.unpack(got, 1, 3)}, {table.unpack(want, 1, 3)}, 0, "rand(3)")
  assert_same({table.unpack(got, 4, 8)}, {table.unpack(want, 4, 8)}, 1, "randn(5)")
  assert_same({table.unpack(got, 9, 10)}, {table.unpack(want, 9, 10)}, 0, "rand(2)")
end

function TestRandom:test_seed7_mixed_sequence_as_scalars()
  local want = flat(fixture("seed7_rand3_randn5_rand2"))
  tycho.random.seed(7)
  local u, n = {}, {}
  for i = 1, 3 do u[i] = tycho.random.rand() end
  for i = 1, 5 do n[i] = tycho.random.randn() end
  for i = 4, 5 do u[i] = tycho.random.rand() end
  assert_same(u, {want[1], want[2], want[3], want[9], want[10]}, 0, "rand()")
  assert_same(n, {table.unpack(want, 4, 8)}, 1, "randn()")
end

function TestRandom:test_seed_clears_cached_gaussian()
  tycho.random.seed(1)
  tycho.randn()   -- leaves the second Gaussian of the pair cached
  tycho.random.seed(1)
  assert_same(flat(tycho.randn(3, 4)), flat(fixture("seed1_randn_3x4")), 1,
              "seed(1) randn() seed(1) randn(3, 4)")
end

function TestRandom:test_same_seed_same_stream()
  tycho.random.seed(123)
  local a = flat(tycho.rand(50))
  local an = flat(tycho.randn(51))
  tycho.random.seed(123)
  lu.assertEquals(flat(tycho.rand(50)), a)
  lu.assertEquals(flat(tycho.randn(51)), an)
end

function TestRandom:test_different_seeds_differ()
  tycho.random.seed(1)
  local a = tycho.rand()
  tycho.random.seed(2)
  lu.assertNotEquals(tycho.rand(), a)
end

function TestRandom:test_seed_without_argument_uses_entropy()
  tycho.random.seed()
  local a = flat(tycho.rand(4))
  tycho.random.seed()
  lu.assertNotEquals(flat(tycho.rand(4)), a)
end

function TestRandom:test_seed_range_errors()
  local msg = "seed: seed must be an integer between 0 and 2^32-1 (got "
  lu.assertErrorMsgContains(msg .. "-1)", tycho.random.seed, -1)
  lu.assertErrorMsgContains(msg .. "4294967296)", tycho.random.seed, 2^32)
  lu.assertErrorMsgContains(msg .. "4294967296)", tycho.random.seed, 4294967296)
  lu.assertErrorMsgContains(msg .. "1.5)", tycho.random.seed, 1.5)
  lu.assertErrorMsgContains(msg .. "string)", tycho.random.seed, "x")
  lu.assertErrorMsgContains(msg .. "table)", tycho.random.seed, {})
end

function TestRandom:test_scalar_results_are_numbers()
  tycho.random.seed(0)
  local u, n = tycho.rand(), tycho.randn()
  lu.assertEquals(math.type(u), "float")
  lu.assertEquals(math.type(n), "float")
  lu.assertEquals(math.type(tycho.random.rand()), "float")
  lu.assertEquals(math.type(tycho.random.randn()), "float")
end

function TestRandom:test_shapes_varargs_and_table()
  lu.assertEquals(tycho.rand(2, 3):shape(), {2, 3})
  lu.assertEquals(tycho.rand{2, 3}:shape(), {2, 3})
  lu.assertEquals(tycho.randn(2, 3, 4):shape(), {2, 3, 4})
  lu.assertEquals(tycho.randn{4}:shape(), {4})
  lu.assertEquals(tycho.random.rand(0):shape(), {0})
  lu.assertEquals(tycho.random.randn(2, 0):shape(), {2, 0})
end

function TestRandom:test_table_and_varargs_draw_the_same()
  tycho.random.seed(5)
  local a = flat(tycho.randn(2, 3))
  tycho.random.seed(5)
  lu.assertEquals(flat(tycho.randn{2, 3}), a)
end

function TestRandom:test_aliases_share_one_stream()
  lu.assertIs(tycho.rand, tycho.random.rand)
  lu.assertIs(tycho.randn, tycho.random.randn)
  tycho.random.seed(0)
  local want = flat(fixture("seed0_rand_10"))
  local a = tycho.rand()
  local b = tycho.random.rand()
  lu.assertEquals({a, b}, {want[1], want[2]})
end

function TestRandom:test_uniform_range()
  tycho.random.seed(9)
  for _, v in ipairs(flat(tycho.rand(1000))) do
    lu.assertTrue(v >= 0 and v < 1)
  end
end

function TestRandom:test_bad_shapes()
  lu.assertErrorMsgContains("rand", tycho.rand, -1)
  lu.assertErrorMsgContains("randn", tycho.randn, "x")
  lu.assertErrorMsgContains("rand", tycho.rand, 1.5)
end
