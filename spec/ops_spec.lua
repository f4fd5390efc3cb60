-- Elementwise functions against NumPy (spec/fixtures/numpy/functions.npy, made by
-- make_functions.py beside it), on contiguous and strided inputs.
local lu = require "luaunit"
local tycho = require "tycho"

local F = tycho.load("spec/fixtures/numpy/functions.npy")
local x = F[1]

-- Largest difference in units of the last place of the expected value.
local function max_ulps(got, want)
  local worst = 0
  for i = 1, #want do
    local g, w = got[i], want[i]
    if g ~= w then
      if w ~= w then return math.huge end
      local m, e = math.frexp(math.abs(w))
      local ulp = w == 0 and 2^-1074 or 2^(e - 53)
      worst = math.max(worst, math.abs(g - w) / ulp)
    end
  end
  return worst
end

TestFunctions = {}

function TestFunctions:test_tanh_within_4_ulp_of_numpy()
  -- NumPy's tanh and ours are each within 2 ulp of the exact value
  lu.assertTrue(max_ulps(x:tanh(), F[2]) <= 4)
  lu.assertTrue(max_ulps(tycho.tanh(x), F[2]) <= 4)
end

function TestFunctions:test_tanh_on_a_strided_view()
  local wide = tycho.zeros(x:numel(), 2)
  local strided = wide:select(2, 1)            -- a column: stride 2
  strided:copy_(x)
  local view = strided:contiguous()
  lu.assertFalse(strided:is_contiguous())
  lu.assertTrue(max_ulps(strided:tanh(), F[2]) <= 4)
  lu.assertTrue(view:tanh():equal(strided:tanh()))
end

function TestFunctions:test_tanh_special_values()
  local t = tycho.tensor{ 0, 1 / 0, -1 / 0, 0 / 0, 40, -40 }:tanh()
  lu.assertEquals(t[1], 0)
  lu.assertEquals(t[2], 1)
  lu.assertEquals(t[3], -1)
  lu.assertTrue(t[4] ~= t[4])
  lu.assertEquals(t[5], 1)
  lu.assertEquals(t[6], -1)
  lu.assertEquals(1 / tycho.tensor{ -0.0 }:tanh()[1], -1 / 0) -- tanh(-0) is -0
end

function TestFunctions:test_exp_log_sqrt_sigmoid()
  lu.assertTrue(max_ulps(x:exp(), F[3]) <= 2)
  lu.assertTrue(max_ulps((x:abs() + 1e-300):log(), F[4]) <= 2)
  lu.assertTrue(max_ulps(x:abs():sqrt(), F[5]) <= 1)
  lu.assertTrue(max_ulps(x:sigmoid(), F[6]) <= 4)
end

-- spec/fixtures/numpy/sigmoid.npy (make_sigmoid.py): the logistic function correctly
-- rounded, from -750 to 40, on contiguous and strided inputs, and its special values.
function TestFunctions:test_sigmoid_within_4_ulp_of_exact_over_its_range()
  local S = tycho.load("spec/fixtures/numpy/sigmoid.npy")
  local sx, exact = S[1], S[2]
  local strided = tycho.zeros(#sx, 3):select(2, 2)
  strided:copy_(sx)
  local normal = 2^-1022
  for _, got in ipairs { sx:sigmoid(), tycho.sigmoid(sx), strided:sigmoid() } do
    local worst, tiny = 0, 0
    for i = 1, #sx do
      local w, v = exact[i], got[i]
      if w >= normal then
        if v ~= w then
          local _, e = math.frexp(math.abs(w))
          worst = math.max(worst, math.abs(v - w) / 2^(e - 53))
        end
      else -- below the smallest normal: 0 up to it
        tiny = tiny + 1
        lu.assertTrue(v >= 0 and v <= normal, "x " .. sx[i] .. ": " .. v)
      end
    end
    lu.assertTrue(worst <= 4, "worst " .. worst .. " ulp")
    lu.assertTrue(tiny > 0)
  end
  local t = tycho.tensor{ 0, -0.0, 1 / 0, -1 / 0, 0 / 0, 800, -800 }:sigmoid()
  for i, want in pairs { 0.5, 0.5, 1, 0, [6] = 1, [7] = 0 } do lu.assertEquals(t[i], want) end
  lu.assertTrue(t[5] ~= t[5])
end

TestSum = {}

-- sum_data.npy and sum_expected.npy are made by make_sums.py with NumPy
function TestSum:test_sums_equal_numpy_to_the_bit()
  local data = tycho.load("spec/fixtures/numpy/sum_data.npy")
  local expected = tycho.load("spec/fixtures/numpy/sum_expected.npy")
  for k = 1, expected:size(2) do
    local n = math.tointeger(expected:get(1, k))
    local want = expected:get(2, k)
    local got = data:narrow(1, 1, n):sum()
    lu.assertEquals(got, want, ("sum of the first %d elements: %.17g, NumPy %.17g"):format(n, got, want))
    -- the same elements as a matrix, and through a copy: the same order of additions
    if n % 2 == 0 then
      lu.assertEquals(data:narrow(1, 1, n):view(2, -1):sum(), want)
    end
    lu.assertEquals(data:narrow(1, 1, n):clone():sum(), want)
  end
end

function TestSum:test_strided_sum_adds_in_the_contiguous_order()
  -- every other element of the data: the strided path adds in the same order as NumPy's
  -- on the contiguous copy
  local data = tycho.load("spec/fixtures/numpy/sum_data.npy")
  local strided = data:narrow(1, 1, 20010):view(10005, 2):select(2, 1)
  local got, want = strided:sum(), strided:contiguous():sum()
  lu.assertEquals(got, want)
end
