-- random_spec.lua: tycho.random against NumPy's legacy RandomState, from the fixtures in
-- spec/fixtures/random (np.random.seed(S); np.random.KIND(*SHAPE), made by NumPy 1.24; the
-- more_* files by make_random_more.py there, which names each call). Positions are NumPy's
-- plus one.
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

-- ---- randint, uniform, normal, permutation, shuffle, choice ------------------------------

local R = tycho.random

-- The values of several results (tensors or numbers) one after the other, as one list.
local function joined(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "number" then
      out[#out + 1] = v
    else
      for _, x in ipairs(flat(v)) do out[#out + 1] = x end
    end
  end
  return out
end

local function check(name, ulps, f)
  local want = flat(fixture(name))
  assert_same(joined(f()), want, ulps, name)
end

function TestRandom:test_randint_shared_fixtures()
  check("seed3_randint_0_10_12", 0, function() R.seed(3) return R.randint(0, 10, 12) end)
  check("seed3_randint_7_5", 0, function() R.seed(3) return R.randint(7, nil, 5) end)
  check("seed3_randint_m5_5_3x4", 0, function() R.seed(3) return R.randint(-5, 5, 3, 4) end)
  check("seed3_randint_m5_5_3x4", 0, function() R.seed(3) return R.randint(-5, 5, {3, 4}) end)
  -- 2^31 fits the 32-bit path; 2^40 takes the 64-bit one (two words, the high one first)
  check("seed5_randint_0_2e31_5", 0, function() R.seed(5) return R.randint(0, 2^31, 5) end)
  check("seed5_randint_0_2e40_4", 0, function() R.seed(5) return R.randint(0, 1 << 40, {4}) end)
end

function TestRandom:test_randint_shapes_and_kinds()
  R.seed(3)
  local t = R.randint(-5, 5, 3, 4)
  lu.assertTrue(tycho.is_tensor(t))
  lu.assertEquals(t:shape(), {3, 4})
  lu.assertEquals(R.randint(0, 10, {2, 0, 3}):shape(), {2, 0, 3})
  lu.assertEquals(R.randint(0, 10, {}):dim(), 0)   -- an explicit empty shape: a 0-d tensor
  lu.assertEquals(math.type(R.randint(0, 10)), "integer")
  lu.assertEquals(math.type(R.randint(10)), "integer")
  lu.assertEquals(math.type(R.randint(0, 1 << 40)), "integer")
  -- floats with integral values are integers too; trailing nils are left out
  R.seed(3)
  local a = flat(R.randint(0.0, 10.0, 12.0, nil))
  lu.assertEquals(a, flat(fixture("seed3_randint_0_10_12")))
  -- one bound: [0, low), with or without sizes
  R.seed(3)
  lu.assertEquals(flat(R.randint(7, nil, {5})), flat(fixture("seed3_randint_7_5")))
  R.seed(3)
  lu.assertEquals(R.randint(7), flat(fixture("seed3_randint_7_5"))[1])
end

function TestRandom:test_randint_edges_of_the_bounded_paths()
  -- rng == 0 draws nothing: rand() then gets the stream's first doubles
  check("more_seed11_randint_4_5_3_then_rand2", 0,
        function() R.seed(11) return R.randint(4, 5, 3), R.rand(2) end)
  check("more_seed11_randint_4_5_3_then_rand2", 0,
        function() R.seed(11) return R.randint(4, 5), R.randint(4, 5), R.randint(4, 5), R.rand(2) end)
  -- a range of exactly 2^32 (raw words), then 2^32 + 1 (the 64-bit path's narrowest)
  check("more_seed12_randint_0_2e32_6_then_2e32p1_4", 0,
        function() R.seed(12) return R.randint(0, 2^32, 6), R.randint(0, 2^32 + 1, 4) end)
  check("more_seed12_randint_m2e31_2e31_5", 0,
        function() R.seed(12) return R.randint(-2^31, 2^31, 5) end)
  -- negative ranges, and the widest one: [-2^53, 2^53)
  check("more_seed13_randint_m10_m3_8", 0, function() R.seed(13) return R.randint(-10, -3, 8) end)
  check("more_seed13_randint_m2e53_m2e53p1000_5", 0,
        function() R.seed(13) return R.randint(-2^53, -2^53 + 1000, 5) end)
  check("more_seed13_randint_m2e53_2e53_6", 0,
        function() R.seed(13) return R.randint(-(1 << 53), 1 << 53, 6) end)
  -- numbers one at a time are the same stream as one call with a size
  check("more_seed14_randint_0_100_scalars5", 0, function()
    R.seed(14)
    return R.randint(0, 100), R.randint(0, 100), R.randint(100), R.randint(0, 100), R.randint(0, 100)
  end)
  check("more_seed14_randint_1_2_scalar_then_rand", 0,
        function() R.seed(14) return R.randint(1, 2), R.rand() end)
end

function TestRandom:test_randint_values_in_range()
  R.seed(9)
  for _, range in ipairs{ {-3, 4}, {0, 1 << 33}, {-(1 << 52), 1 << 52} } do
    local lo, hi = range[1], range[2]
    for _, v in ipairs(flat(R.randint(lo, hi, 500))) do
      lu.assertTrue(v >= lo and v < hi and v == math.floor(v), tostring(v))
    end
  end
end

function TestRandom:test_randint_errors()
  lu.assertErrorMsgContains("randint: low must be an integer (got 2.5)", R.randint, 2.5, 7)
  lu.assertErrorMsgContains("randint: high must be an integer (got 7.5)", R.randint, 2, 7.5)
  lu.assertErrorMsgContains("randint: high must be an integer (got string)", R.randint, 2, "7")
  lu.assertErrorMsgContains("randint: low must be an integer (got no value)", R.randint)
  lu.assertErrorMsgContains("randint: low must be an integer (got nan)", R.randint, 0 / 0, 3)
  lu.assertErrorMsgContains("randint: high must be an integer (got inf)", R.randint, 0, math.huge)
  lu.assertErrorMsgContains("randint: low (5) must be less than high (5)", R.randint, 5, 5)
  lu.assertErrorMsgContains("randint: low (6) must be less than high (-2)", R.randint, 6, -2, 3)
  lu.assertErrorMsgContains("randint: randint(n) draws from [0, n): n must be positive (got 0)",
                            R.randint, 0)
  lu.assertErrorMsgContains("randint: randint(n) draws from [0, n): n must be positive (got -4)",
                            R.randint, -4, nil, 2)
  lu.assertErrorMsgContains("randint: high is 9007199254740993, beyond +-2^53",
                            R.randint, 0, (1 << 53) + 1)
  lu.assertErrorMsgContains("randint: low is -9007199254740994, beyond +-2^53",
                            R.randint, -2^53 - 2, 0)
  lu.assertErrorMsgContains("randint: high is 1e+300, beyond +-2^53", R.randint, 0, 1e300)
  lu.assertErrorMsgContains("randint: size -1 is negative", R.randint, 0, 3, -1)
  lu.assertErrorMsgContains("randint: size 1.5 is not an integer", R.randint, 0, 3, 2, 1.5)
  lu.assertErrorMsgContains("randint: sizes must be integers", R.randint, 0, 3, {2, "x"})
  lu.assertErrorMsgContains("randint: the shape table must be the last argument (got 1 more)",
                            R.randint, 0, 3, {2, 3}, 4)
  -- an error draws nothing
  R.seed(3)
  pcall(R.randint, 0, 10, -1)
  lu.assertEquals(flat(R.randint(0, 10, 12)), flat(fixture("seed3_randint_0_10_12")))
end

function TestRandom:test_uniform_and_normal()
  check("seed6_uniform_m2_3_7", 0, function() R.seed(6) return R.uniform(-2, 3, 7) end)
  check("seed6_normal_1_2_7", 1, function() R.seed(6) return R.normal(1, 2, {7}) end)
  check("more_seed21_uniform_scalars", 0,
        function() R.seed(21) return R.uniform(-1, 1), R.uniform(5, 2), R.uniform(3, 3) end)
  check("more_seed21_uniform_3_m1_2x3", 0, function() R.seed(21) return R.uniform(3, -1, 2, 3) end)
  check("more_seed22_normal_0_0_then_rand", 0,
        function() R.seed(22) return R.normal(7, 0, 2), R.rand() end)
  lu.assertEquals(R.uniform(0, 1, 2, 3):shape(), {2, 3})
  lu.assertEquals(R.normal(0, 1, {4, 0}):shape(), {4, 0})
  lu.assertEquals(math.type(R.uniform(0, 1)), "float")
  lu.assertEquals(math.type(R.normal(0, 1)), "float")
  lu.assertTrue(R.normal(0, 0 / 0) ~= R.normal(0, 0 / 0))   -- NaN sigma passes, as NumPy's
end

function TestRandom:test_cached_gaussian_carries_across_randn_normal_randint()
  local want = flat(fixture("more_seed22_randn_normal_randint_normal"))
  R.seed(22)
  local got = joined(R.randn(), R.normal(5, 2), R.randint(0, 10), R.normal(-1, 0.5, 3))
  assert_same({got[3]}, {want[3]}, 0, "randint between normals")
  assert_same({got[1], got[2], got[4], got[5], got[6]}, {want[1], want[2], want[4], want[5], want[6]},
              1, "randn, normal")
end

function TestRandom:test_mixed_sequence_of_every_kind()
  -- one seed, then rand(), randint(3, 9), randn(), choice(4), uniform(0, 2)
  local want = flat(fixture("seed10_mixed_rand_randint_randn_choice_uniform"))
  R.seed(10)
  local got = { R.rand(), R.randint(3, 9), R.randn(), R.choice(4), R.uniform(0, 2) }
  assert_same({got[1], got[2], got[4], got[5]}, {want[1], want[2], want[4], want[5]}, 0,
              "rand, randint, choice, uniform")
  assert_same({got[3]}, {want[3]}, 1, "randn")
  lu.assertEquals(math.type(got[2]), "integer")
  lu.assertEquals(math.type(got[4]), "integer")
end

function TestRandom:test_uniform_normal_errors()
  lu.assertErrorMsgContains("uniform: a must be a number (got no value)", R.uniform)
  lu.assertErrorMsgContains("uniform: b must be a number (got string)", R.uniform, 0, "1")
  lu.assertErrorMsgContains("uniform: b - a must be finite (a = 0, b = inf)", R.uniform, 0, math.huge)
  lu.assertErrorMsgContains("uniform: b - a must be finite (a = -1e+308, b = 1e+308)",
                            R.uniform, -1e308, 1e308)
  lu.assertErrorMsgContains("uniform: b - a must be finite (a = nan", R.uniform, 0 / 0, 1)
  lu.assertErrorMsgContains("uniform: size -2 is negative", R.uniform, 0, 1, 3, -2)
  lu.assertErrorMsgContains("normal: mu must be a number (got table)", R.normal, {}, 1)
  lu.assertErrorMsgContains("normal: sigma must be a number (got no value)", R.normal, 0)
  lu.assertErrorMsgContains("normal: sigma must not be negative (got -1)", R.normal, 0, -1)
  lu.assertErrorMsgContains("normal: sigma must not be negative (got -0)", R.normal, 0, -0.0, 3)
  lu.assertErrorMsgContains("normal: sigma must not be negative (got -inf)", R.normal, 0, -math.huge)
  lu.assertErrorMsgContains("normal: size 0.5 is not an integer", R.normal, 0, 1, 0.5)
  lu.assertErrorMsgContains("normal: the shape table must be the last argument (got 2 more)",
                            R.normal, 0, 1, {2}, 1, 2)
  lu.assertErrorMsgContains("uniform: the shape table must be the last argument (got 1 more)",
                            R.uniform, 0, 1, {2}, {3})
end

function TestRandom:test_permutation()
  check("seed8_permutation_10_plus1", 0, function() R.seed(8) return R.permutation(10) end)
  check("more_seed23_permutation_40_plus1", 0, function() R.seed(23) return R.permutation(40.0) end)
  -- permutation(1) and permutation(0) draw nothing
  check("more_seed20_permutation_1_then_rand", 0,
        function() R.seed(20) return R.permutation(1), R.rand() end)
  check("more_seed20_permutation_0_then_rand", 0,
        function() R.seed(20) return R.permutation(0), R.rand() end)
  lu.assertEquals(R.permutation(0):shape(), {0})
  local p = R.permutation(1000)
  lu.assertEquals(p:shape(), {1000})
  lu.assertEquals(flat(p:sort()), flat(tycho.arange(1, 1001)))
end

function TestRandom:test_permutation_errors()
  lu.assertErrorMsgContains("permutation: n must not be negative (got -1)", R.permutation, -1)
  lu.assertErrorMsgContains("permutation: n must be an integer (got 2.5)", R.permutation, 2.5)
  lu.assertErrorMsgContains("permutation: n must be an integer (got a tensor)", R.permutation,
                            tycho.zeros(3))
  lu.assertErrorMsgContains("permutation: takes at most 1 argument", R.permutation, 3, 4)
end

function TestRandom:test_shuffle()
  local function shuffled(seed, t, view)
    R.seed(seed)
    lu.assertEquals(select("#", R.shuffle(view and view(t) or t)), 0)   -- returns nothing
    return t
  end
  check("seed8_shuffle_arange15_5x3", 0,
        function() return shuffled(8, tycho.arange(15):reshape(5, 3)) end)
  check("more_seed19_shuffle_4x3x2", 0,
        function() return shuffled(19, tycho.arange(24):reshape(4, 3, 2)) end)
  -- views: the rows of a transpose, every other column, a strided block, a strided 1-d view
  check("more_seed19_shuffle_T_of_5x8", 0,
        function() return shuffled(19, tycho.arange(40):reshape(5, 8), function(t) return t.T end) end)
  check("more_seed19_shuffle_cols2_of_5x8", 0, function()
    return shuffled(19, tycho.arange(40):reshape(5, 8), function(t) return t[{{}, {2, 8, 2}}] end)
  end)
  check("more_seed19_shuffle_rows2_of_6x10", 0, function()
    return shuffled(19, tycho.arange(60):reshape(6, 10), function(t) return t[{{1, 6, 2}, {4, 7}}] end)
  end)
  check("more_seed19_shuffle_1d_step", 0,
        function() return shuffled(19, tycho.arange(9), function(t) return t[{{2, 9, 2}}] end) end)
  -- one row draws nothing, nor do rows without elements
  check("more_seed20_shuffle_1x3_then_rand", 0, function()
    local t = shuffled(20, tycho.arange(3):reshape(1, 3))
    return t, R.rand()
  end)
  check("more_seed20_shuffle_5x0_then_rand", 0, function()
    shuffled(20, tycho.zeros(5, 0))
    return R.rand()
  end)
  -- a shuffle keeps every row whole
  local t = tycho.arange(300):reshape(100, 3)
  R.shuffle(t)
  local seen = {}
  for i = 1, 100 do
    local a, b, c = t:get(i, 1), t:get(i, 2), t:get(i, 3)
    lu.assertEquals({b - a, c - a, a % 3}, {1, 2, 0})
    seen[a] = true
  end
  for a = 0, 297, 3 do lu.assertTrue(seen[a], tostring(a)) end
end

function TestRandom:test_shuffle_errors()
  lu.assertErrorMsgContains("shuffle: t is 0-d", R.shuffle, tycho.tensor(3))
  lu.assertErrorMsgContains("expanded view (stride 0)", R.shuffle, tycho.ones(1, 3):expand(4, 3))
  local c = tycho.ones(3)
  do local _ <close> = c end
  lu.assertErrorMsgContains("tensor was closed", R.shuffle, c)
  lu.assertErrorMsgContains("tensor expected, got table", R.shuffle, {1, 2, 3})
  lu.assertErrorMsgContains("shuffle: takes at most 1 argument", R.shuffle, tycho.ones(3), 2)
  -- expanded along a size-1 dimension only is no broadcast: allowed
  local e = tycho.arange(3):view(3, 1):expand(3, 1)
  R.shuffle(e)
  lu.assertEquals(flat(e:sort(1)), {0, 1, 2})
end

local P5 = {0.1, 0.2, 0.3, 0.25, 0.15}
local P8 = {0.05, 0.0, 0.4, 0.05, 0.3, 0.0, 0.1, 0.1}

function TestRandom:test_choice_shared_fixtures()
  check("seed10_choice_5_8_plus1", 0, function() R.seed(10) return R.choice(5, 8) end)
  check("seed10_choice_5_8_p_plus1", 0, function() R.seed(10) return R.choice(5, 8, {p = P5}) end)
  check("seed10_choice_5_8_p_plus1", 0,
        function() R.seed(10) return R.choice(5, {8}, {p = tycho.tensor(P5), replace = true}) end)
  check("seed10_choice_6_4_noreplace_plus1", 0,
        function() R.seed(10) return R.choice(6, 4, {replace = false}) end)
end

function TestRandom:test_choice_more()
  -- p without replacement: zeros in p, several rounds of NumPy's loop
  check("more_seed15_choice_8_5_noreplace_p_plus1", 0,
        function() R.seed(15) return R.choice(8, 5, {replace = false, p = P8}) end)
  check("more_seed15_choice_8_6_noreplace_p_plus1", 0,
        function() R.seed(15) return R.choice(8, 6, {replace = false, p = tycho.tensor(P8)}) end)
  check("more_seed16_choice_5_noreplace_p_scalar_plus1", 0,
        function() R.seed(16) return R.choice(5, nil, {replace = false, p = P5}), R.rand() end)
  -- shapes, with and without p; a large n and few samples draws the whole permutation
  check("more_seed17_choice_7_2x3_plus1", 0, function() R.seed(17) return R.choice(7, {2, 3}) end)
  check("more_seed17_choice_5_2x2_p_plus1", 0,
        function() R.seed(17) return R.choice(5, {2, 2}, {p = P5}) end)
  check("more_seed17_choice_1000_3_noreplace_then_rand_plus1", 0,
        function() R.seed(17) return R.choice(1000, 3, {replace = false}), R.rand() end)
  local p9 = {}
  for i = 1, 9 do p9[i] = 1 / 9 end
  check("more_seed17_choice_scalars_plus1", 0, function()
    R.seed(17)
    return R.choice(9), R.choice(9, nil, {p = p9}), R.choice(9, nil, {replace = false})
  end)
  -- size 0: without replacement still draws permutation(5); with p nothing
  check("more_seed18_choice_5_0_noreplace_then_rand", 0,
        function() R.seed(18) return R.choice(5, 0, {replace = false}), R.rand() end)
  check("more_seed18_choice_5_0_p_then_rand", 0,
        function() R.seed(18) return R.choice(5, 0, {p = {0.2, 0.2, 0.2, 0.2, 0.2}}), R.rand() end)
end

function TestRandom:test_choice_kinds_and_shapes()
  lu.assertEquals(math.type(R.choice(5)), "integer")
  lu.assertEquals(math.type(R.choice(5, nil, {p = P5})), "integer")
  lu.assertEquals(math.type(R.choice(5, nil, {replace = false, p = P5})), "integer")
  lu.assertEquals(R.choice(5, 3):shape(), {3})
  lu.assertEquals(R.choice(5, {2, 3}, {p = P5}):shape(), {2, 3})
  lu.assertEquals(R.choice(5, {1, 4}, {replace = false}):shape(), {1, 4})
  lu.assertEquals(R.choice(8, {2, 2}, {replace = false, p = P8}):shape(), {2, 2})
  lu.assertEquals(R.choice(5, {}):dim(), 0)
  lu.assertEquals(R.choice(0, 0):shape(), {0})   -- no samples from nothing, as NumPy allows
  lu.assertEquals(R.choice(0, {0, 3}, {replace = false}):shape(), {0, 3})
  -- without replacement every position once
  local all = R.choice(50, 50, {replace = false})
  lu.assertEquals(flat(all:sort()), flat(tycho.arange(1, 51)))
  local some = flat(R.choice(8, 6, {replace = false, p = P8}))
  local seen = {}
  for _, v in ipairs(some) do
    lu.assertNil(seen[v], "repeated " .. v)
    lu.assertTrue(v ~= 2 and v ~= 6, "a position of p 0: " .. v)
    seen[v] = true
  end
  -- with p, positions of p 0 never come
  for _, v in ipairs(flat(R.choice(8, 400, {p = P8}))) do lu.assertTrue(v ~= 2 and v ~= 6) end
  -- p as a non-contiguous tensor
  local pt = tycho.tensor{P5, {0, 0, 0, 0, 0}}.T[{{}, 1}]
  R.seed(10)
  lu.assertEquals(flat(R.choice(5, 8, {p = pt})), flat(fixture("seed10_choice_5_8_p_plus1")))
end

function TestRandom:test_choice_errors()
  local E = lu.assertErrorMsgContains
  E("choice: n must be an integer (got no value)", R.choice)
  E("choice: n must be an integer (got 2.5)", R.choice, 2.5, 1)
  E("choice: n must not be negative (got -3)", R.choice, -3, 1)
  E("choice: n must be at least 1 unless size is 0 (got n = 0)", R.choice, 0, 2)
  E("choice: n must be at least 1 unless size is 0 (got n = 0)", R.choice, 0)
  E("choice: size -1 is negative", R.choice, 5, -1)
  E("choice: size 1.5 is not an integer", R.choice, 5, 1.5)
  E("choice: sizes must be integers (argument 2 is boolean)", R.choice, 5, true)
  E("choice: size -2 is negative", R.choice, 5, {3, -2})
  E("choice: takes at most 3 arguments", R.choice, 5, 3, {}, 4)
  E("choice: options must be a table {replace = ..., p = ...} (got number)", R.choice, 5, 3, 1)
  E("choice: unknown option 'replce' (the options are replace, p)", R.choice, 5, 3, {replce = false})
  E("choice: unknown option key of type number", R.choice, 5, 3, {0.5})
  E("choice: replace must be a boolean (got number)", R.choice, 5, 3, {replace = 0})
  E("choice: cannot take 7 samples from 6 without replacement", R.choice, 6, 7, {replace = false})
  E("choice: cannot take 8 samples from 6 without replacement", R.choice, 6, {2, 4}, {replace = false})
  E("choice: p must be a 1-d tensor or a list of numbers (got number)", R.choice, 5, 3, {p = 1})
  E("choice: p has 4 probabilities but n is 5", R.choice, 5, 3, {p = {0.25, 0.25, 0.25, 0.25}})
  E("choice: p has 6 probabilities but n is 5", R.choice, 5, 3, {p = tycho.ones(6) / 6})
  E("choice: p must be 1-d (it is 1x5)", R.choice, 5, 3, {p = tycho.ones(1, 5) / 5})
  E("choice: p[2] is a string (probabilities are numbers)", R.choice, 3, 1, {p = {0.5, "0.5", 0}})
  E("choice: p has keys other than 1..2", R.choice, 2, 1, {p = {0.5, 0.5, x = 1}})
  E("choice: the probabilities contain NaN", R.choice, 3, 1, {p = {0.5, 0.5, 0 / 0}})
  E("choice: the probabilities must not be negative (p[2] is -0.5)", R.choice, 3, 1,
    {p = {1.5, -0.5, 0}})
  E("choice: the probabilities do not sum to 1 (their sum is 0.90000000000000002)", R.choice, 3, 1,
    {p = {0.5, 0.3, 0.1}})
  E("choice: the probabilities do not sum to 1", R.choice, 2, 1, {p = {1, math.huge}})
  E("choice: the probabilities do not sum to 1 (their sum is 0)", R.choice, 0, 0, {p = {}})
  E("choice: p has 2 positive probabilities, fewer than the 3 samples to take without replacement",
    R.choice, 4, 3, {replace = false, p = {0.5, 0, 0.5, 0}})
  local closed = tycho.ones(5) / 5
  do local _ <close> = closed end
  E("choice: p is a tensor that was closed", R.choice, 5, 3, {p = closed})
  -- within NumPy's tolerance, sqrt(eps) = 1.49e-8, a sum off 1 passes; past it, not
  R.choice(2, 1, {p = {0.5, 0.5 + 1.4e-8}})
  E("do not sum to 1", R.choice, 2, 1, {p = {0.5, 0.5 + 1.5e-8}})
  -- an error draws nothing
  R.seed(10)
  pcall(R.choice, 5, 8, {p = {0.1, 0.2, 0.3, 0.25, 0.1}})
  lu.assertEquals(flat(R.choice(5, 8, {p = P5})), flat(fixture("seed10_choice_5_8_p_plus1")))
end

-- ---- the whole state, for checkpoints ---------------------------------------------------------

function TestRandom:test_get_state_is_numpys()
  tycho.random.seed(5)
  tycho.random.randn()
  assert_same(flat(tycho.random.get_state()), flat(fixture("more_seed5_randn_get_state")), 0, "get_state")
end

function TestRandom:test_set_state_continues_the_stream()
  tycho.random.seed(9)
  tycho.random.rand(700)   -- past a regeneration of the key
  tycho.random.randn()     -- a Gaussian cached
  local st = tycho.random.get_state()
  local want = { tycho.random.randn(3), tycho.random.rand(5), tycho.random.randint(0, 1000, 4) }
  tycho.random.seed(1)
  tycho.random.set_state(st)
  local got = { tycho.random.randn(3), tycho.random.rand(5), tycho.random.randint(0, 1000, 4) }
  for i = 1, 3 do lu.assertEquals(got[i], want[i]) end
end

function TestRandom:test_set_state_errors()
  local st = tycho.random.get_state()
  local function err(t, msg)
    local ok, e = pcall(tycho.random.set_state, t)
    lu.assertFalse(ok)
    lu.assertStrContains(tostring(e), msg)
  end
  err(tycho.zeros(3), "state must be a vector of 627 numbers (got 3)")
  err({}, "state must be a tensor from get_state (got table)")
  local bad = st:clone(); bad[1] = -1; err(bad, "state[1] is -1, not a key word")
  bad = st:clone(); bad[2] = 2^32; err(bad, "state[2] is 4294967296")
  bad = st:clone(); bad[625] = 625; err(bad, "state[625] is 625, not pos")
  bad = st:clone(); bad[626] = 0.5; err(bad, "not has_gauss (0 or 1)")
  bad = st:clone(); bad[627] = 0 / 0; err(bad, "the cached Gaussian")
  local before = tycho.random.get_state()
  bad = st:clone(); bad[627] = math.huge; err(bad, "the cached Gaussian")
  lu.assertEquals(tycho.random.get_state(), before, "a refused state changes nothing")
  local ok, e = pcall(tycho.random.get_state, 1)
  lu.assertFalse(ok)
  lu.assertStrContains(e, "at most")
end
