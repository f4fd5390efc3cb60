-- The elementwise functions against NumPy 1.24 (spec/fixtures/functions/make_functions.py):
-- libm's functions within a few ulp of NumPy's on each one's domain and on special values
-- (zeros, tiny, ±1, ±inf, NaN); the exact ones (floor, ceil, round half to even, trunc,
-- sign, square, abs, relu) bit for bit, signed zeros included; on strided inputs too.
local lu = require "luaunit"
local tycho = require "tycho"

local dir = "spec/fixtures/functions/"
local N = 4001
local special = { 0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 1.0, -1.0, math.huge, -math.huge, 0 / 0 }
-- the fixture's domains (domains.json)
local domains = {
  sin = { -40, 40 }, cos = { -40, 40 }, tan = { -10, 10 }, asin = { -1, 1 }, acos = { -1, 1 },
  atan = { -50, 50 }, sinh = { -20, 20 }, cosh = { -20, 20 }, log1p = { -0.999, 50 },
  expm1 = { -30, 30 }, log2 = { 1e-6, 1e6 }, log10 = { 1e-6, 1e6 }, exp = { -700, 700 },
  log = { 1e-300, 1e300 }, sqrt = { 0, 1e6 }, tanh = { -25, 25 }, sigmoid = { -40, 40 },
  floor = { -7.5, 7.5 }, ceil = { -7.5, 7.5 }, round = { -7.5, 7.5 }, trunc = { -7.5, 7.5 },
  sign = { -3, 3 }, square = { -1e3, 1e3 }, abs = { -3, 3 },
}
-- the most ulp tycho's result may differ from NumPy's: libmvec and libm are within 4 ulp
-- of the exact value (glibc's manual), as NumPy's own loops are
local bound = {
  sin = 4, cos = 4, tan = 4, asin = 4, acos = 4, atan = 4, sinh = 4, cosh = 4, log1p = 4,
  expm1 = 4, log2 = 4, log10 = 4, exp = 1, log = 1, sqrt = 0, tanh = 2, sigmoid = 4,
}

local function inputs(name)
  local lo, hi = table.unpack(domains[name])
  return tycho.cat({ tycho.linspace(lo, hi, N), tycho.tensor(special) })
end

-- distance in units in the last place; 0 for the same value (±0 alike, NaN with NaN)
local function ordered(x)
  local i = string.unpack("<i8", string.pack("<d", x))
  return i < 0 and math.mininteger - i or i
end
local function ulp(a, b)
  if a ~= a or b ~= b then return (a ~= a and b ~= b) and 0 or math.huge end
  if a == b then return 0 end
  if a == math.huge or b == math.huge or a == -math.huge or b == -math.huge then return math.huge end
  local d = ordered(a) - ordered(b)
  return d < 0 and -d or d
end

local function worst(got, want)
  local g, w = got:totable(), want:totable()
  local m, at = 0, nil
  for i = 1, #w do
    local u = ulp(g[i], w[i])
    if u > m then m, at = u, i end
  end
  return m, at, at and g[at], at and w[at]
end

local function bits(x) return string.pack("<d", x) end

TestFunctions = {}

function TestFunctions:test_libm_functions_within_a_few_ulp_of_numpy()
  for name, b in pairs(bound) do
    local x = inputs(name)
    local got = x[name](x)
    local want = tycho.load(dir .. name .. ".npy")
    local m, at, g, w = worst(got, want)
    if m > b then lu.fail(("%s: %s ulp from NumPy at element %s (%.17g vs %.17g)"):format(name, m, at, g, w)) end
    -- the module's function is the method
    if tycho[name] then lu.assertEquals(worst(tycho[name](x), got), 0, name .. ": tycho." .. name .. " differs") end
  end
end

function TestFunctions:test_exact_functions_bit_for_bit()
  for _, name in ipairs { "floor", "ceil", "round", "trunc", "sign", "square", "abs" } do
    local x = inputs(name)
    local g, w = x[name](x):totable(), tycho.load(dir .. name .. ".npy"):totable()
    for i = 1, #w do
      lu.assertTrue(bits(g[i]) == bits(w[i]) or (g[i] ~= g[i] and w[i] ~= w[i]),
        ("%s at element %d: %.17g vs NumPy's %.17g"):format(name, i, g[i], w[i]))
    end
  end
  local relu = tycho.linspace(-3, 3, 7):relu()
  lu.assertTrue(relu == tycho.load(dir .. "relu.npy"))
  lu.assertTrue(tycho.tensor { 0 / 0 }:relu():item() ~= tycho.tensor { 0 / 0 }:relu():item())
end

function TestFunctions:test_round_is_half_to_even()
  lu.assertEquals(tycho.tensor { 0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5 }:round():totable(),
    { 0, 2, 2, 4, -0.0, -2, -2 })
end

function TestFunctions:test_atan2_broadcasts()
  local x = tycho.linspace(-5, 5, 101)
  local y = tycho.linspace(-3, 7, 101):view(101, 1)
  local m, at, g, w = worst(tycho.atan2(y, x):flatten(), tycho.load(dir .. "atan2.npy"):flatten())
  if m > 4 then lu.fail(("atan2: %s ulp at %s (%.17g vs %.17g)"):format(m, at, g, w)) end
  lu.assertEquals(tycho.atan2(1, tycho.tensor { 1 }):item(), math.atan(1, 1))
end

function TestFunctions:test_strided_and_empty_inputs()
  -- a transposed view runs through the strided path; it must agree with the contiguous one
  local x = tycho.linspace(-10, 10, 600):reshape(20, 30)
  for _, name in ipairs { "sin", "cos", "tan", "atan", "sinh", "expm1", "floor", "round", "sign", "square", "relu" } do
    lu.assertTrue(x.T[name](x.T) == x[name](x):contiguous().T, name .. " on a transposed view")
    lu.assertEquals(tycho.zeros(0, 3)[name](tycho.zeros(0, 3)):shape(), { 0, 3 })
  end
  lu.assertTrue(tycho.tensor(0.5):sin() == tycho.tensor(math.sin(0.5))
    or math.abs(tycho.tensor(0.5):sin():item() - math.sin(0.5)) < 1e-15)
  -- every length around the vector width, so the padded tails are covered
  for n = 1, 19 do
    local v = tycho.linspace(0.1, 3, n)
    local s = v:sin():totable()
    for i = 1, n do
      lu.assertTrue(ulp(s[i], math.sin(v[i])) <= 4, ("sin of %d elements, element %d"):format(n, i))
    end
  end
end

function TestFunctions:test_sqrt_is_correctly_rounded_at_every_length_and_stride()
  -- the vector square root rounds correctly, as libm's: equal bit for bit, tails included
  for n = 1, 19 do
    local v = tycho.linspace(0.1, 1e6, n)
    local s = v:sqrt():totable()
    for i = 1, n do
      lu.assertEquals(ulp(s[i], math.sqrt(v[i])), 0, ("sqrt of %d elements, element %d"):format(n, i))
    end
  end
  local x = tycho.linspace(0, 1e3, 600):reshape(20, 30)
  lu.assertTrue(x.T:sqrt() == x:sqrt():contiguous().T, "sqrt on a transposed view")
  local r = tycho.tensor { -1, -0.0, math.huge, 0 / 0 }:sqrt()
  lu.assertTrue(r[1] ~= r[1] and r[4] ~= r[4], "sqrt of -1 and of NaN are NaN")
  lu.assertEquals(1 / r[2], -math.huge, "sqrt(-0) is -0")
  lu.assertEquals(r[3], math.huge)
end

-- A checker of tycho's function name against libm's (math.*, within 0.5 ulp of exact): at
-- most 1 ulp apart on every element of x, a failure naming what the inputs are.
local function within_1_ulp_of_libm(name, libm)
  return function(x, what)
    local y = x[name](x):contiguous():view(-1):totable()
    local xs = x:contiguous():view(-1):totable()
    for i = 1, #xs do
      local u = ulp(y[i], libm(xs[i]))
      if u > 1 then
        lu.fail(("%s: %s(%.17g) = %.17g, libm %.17g (%d ulp)"):format(what, name, xs[i], y[i], libm(xs[i]), u))
      end
    end
  end
end

function TestFunctions:test_exp_within_1_ulp_of_libm_to_the_ends_of_its_range()
  -- tycho's own exp against libm's (math.exp, within 0.5 ulp of exact): where 2^m leaves the
  -- normal range (results near overflow, subnormal ones), at every tail length, strided
  local check = within_1_ulp_of_libm("exp", math.exp)
  check(tycho.linspace(-745.2, -700, 4001), "subnormal and small results")
  check(tycho.linspace(700, 709.79, 4001), "results near overflow")
  check(tycho.linspace(-1, 1, 4001), "around 0")
  check(tycho.tensor { 709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412,
    -708.3964185322641, 710, -746, 1e-310, -1e-310, 1e300, -1e300 }, "the range's ends")
  for n = 1, 19 do check(tycho.linspace(-3, 3, n), ("%d elements"):format(n)) end
  local x = tycho.linspace(-20, 20, 600):reshape(20, 30)
  lu.assertTrue(x.T:exp() == x:exp():contiguous().T, "exp on a transposed view")
  local s = tycho.tensor { math.huge, -math.huge, 0 / 0, 0, -0.0 }:exp()
  lu.assertEquals({ s[1], s[2], s[4], s[5] }, { math.huge, 0, 1, 1 })
  lu.assertTrue(s[3] ~= s[3], "exp(NaN) is NaN")
end

function TestFunctions:test_log_within_1_ulp_of_libm_over_every_binade()
  -- tycho's own log against libm's (math.log): subnormal inputs, both sides of 1 (where the
  -- result is small and every rounding shows), the largest doubles, tails, strides, specials
  local check = within_1_ulp_of_libm("log", math.log)
  check(tycho.linspace(0, 60, 4001):mul_(-math.log(2) * 1074 / 60):exp(), "every binade down to the subnormals")
  check(tycho.linspace(0.99, 1.01, 4001), "around 1")
  check(tycho.linspace(0.7, 1.42, 4001), "across sqrt(1/2) and sqrt(2)")
  check(tycho.tensor { 4.9406564584124654e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
    1.7976931348623157e308, 1 + 2 ^ -52, 1 - 2 ^ -53, 0.7071067811865476, 1.4142135623730951 }, "the ends")
  for n = 1, 19 do check(tycho.linspace(0.5, 3, n), ("%d elements"):format(n)) end
  local x = tycho.linspace(0.01, 20, 600):reshape(20, 30)
  lu.assertTrue(x.T:log() == x:log():contiguous().T, "log on a transposed view")
  local s = tycho.tensor { 0, -0.0, math.huge, 1, -1, -math.huge, 0 / 0 }:log()
  lu.assertEquals({ s[1], s[2], s[3], s[4] }, { -math.huge, -math.huge, math.huge, 0 })
  lu.assertTrue(s[5] ~= s[5] and s[6] ~= s[6] and s[7] ~= s[7], "log of a negative and of NaN are NaN")
end

function TestFunctions:test_own_functions_give_an_element_the_same_value_wherever_it_falls()
  -- tycho's own tanh, sigmoid, exp and log run as vector loops with a remainder; a value
  -- must not depend on whether its element falls in the loop or the remainder, on the run's
  -- offset or length, or on a stride (those go through blocks on the stack)
  local domains = { tanh = { -25, 25 }, sigmoid = { -40, 40 }, exp = { -700, 700 }, log = { 1e-6, 1e6 } }
  for name, d in pairs(domains) do
    local x = tycho.linspace(d[1], d[2], 997)
    if name == "tanh" or name == "sigmoid" then x = tycho.cat { x, tycho.linspace(-1, 1, 997) } end
    if name == "log" then x = tycho.cat { x, tycho.linspace(0.5, 2, 997) } end
    local whole = x[name](x)
    for offset = 0, 17 do
      for len = 1, 33 do
        local v = x:narrow(1, 1 + offset * 37, len)
        lu.assertTrue(v[name](v) == whole:narrow(1, 1 + offset * 37, len),
          ("%s of %d elements from %d"):format(name, len, 1 + offset * 37))
      end
    end
    for step = 2, 5 do
      local v = x[{ { 1, -1, step } }]
      lu.assertTrue(v[name](v) == whole[{ { 1, -1, step } }], ("%s with stride %d"):format(name, step))
    end
    local one = {}
    for i = 1, x:size(1), 101 do one[#one + 1] = x[{ { i, i } }][name](x[{ { i, i } }])[1] == whole[i] end
    for i, same in ipairs(one) do lu.assertTrue(same, ("%s of element %d alone"):format(name, 1 + (i - 1) * 101)) end
  end
end

function TestFunctions:test_arguments()
  local x = tycho.ones(2)
  local ok, err = pcall(x.sin, x, 1)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "sin: takes at most 1 argument")
  ok, err = pcall(tycho.atan2, x)
  lu.assertFalse(ok)
  lu.assertStrContains(err, "tensor or number expected, got no value")
end
