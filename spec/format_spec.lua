-- format_spec.lua: tostring(t) is NumPy 1.24's repr of the same float64 array, with
-- "tensor(" for "array(" (continuation lines indent under the first "[", as for np.matrix).
local lu = require "luaunit"
local tycho = require "tycho"

-- Expected strings follow NumPy's arrayprint rules by hand: scientific when the largest
-- |x| >= 1e8, the smallest nonzero < 1e-4 or their ratio > 1e3; shortest digits capped at
-- 8 decimals; columns padded left (integer part) and right (fraction); rows wrap before
-- column 75 minus the closing ")"; more than 1000 elements show 3 items per end.

local function T(rows) return tycho.tensor(rows) end
local function is(t, expected) lu.assertEquals(tostring(t), expected) end

-- ---- one dimension, positional ----------------------------------------------------------

function test_mixed_signs_pad_to_widest_integer_part()
  is(T{0.1, -2.5}, "tensor([ 0.1, -2.5])")
end

function test_fraction_digits_pad_with_spaces()
  is(T{0.1, -2.5, 0.12345678}, "tensor([ 0.1       , -2.5       ,  0.12345678])")
  is(T{0.1, 0.25}, "tensor([0.1 , 0.25])")
  is(T{-1.5, 2.0, 3.25}, "tensor([-1.5 ,  2.  ,  3.25])")
end

function test_whole_numbers_print_a_trailing_point()
  is(T{1, 2}, "tensor([1., 2.])")
  is(tycho.zeros(3), "tensor([0., 0., 0.])")
  is(T{-3, 1}, "tensor([-3.,  1.])")
end

function test_negative_zero_keeps_its_sign()
  is(T{-0.0, 1}, "tensor([-0.,  1.])")
end

function test_eight_decimals_at_most()
  is(T{1 / 3, 2 / 3}, "tensor([0.33333333, 0.66666667])")
  is(T{0.123456789012, 1}, "tensor([0.12345679, 1.        ])")
  -- a value rounding up to a whole number trims back to "1."
  is(T{0.9999999999, 0.5}, "tensor([1. , 0.5])")
end

function test_shortest_round_trip_digits()
  is(T{0.1 + 0.2, 1}, "tensor([0.3, 1. ])")
  is(T{1e-4, 0.1}, "tensor([0.0001, 0.1   ])")
end

function test_ratio_up_to_a_thousand_stays_positional()
  is(T{1, 1000}, "tensor([   1., 1000.])")
  is(T{100, 2000, 30000}, "tensor([  100.,  2000., 30000.])")
end

-- ---- scientific -------------------------------------------------------------------------

function test_small_values_switch_to_scientific()
  is(T{1e-5, 1}, "tensor([1.e-05, 1.e+00])")
  is(T{1e-4, 1}, "tensor([1.e-04, 1.e+00])")   -- ratio 1e4
  is(T{0.00011, 1}, "tensor([1.1e-04, 1.0e+00])")
  is(T{-1e-5, 1}, "tensor([-1.e-05,  1.e+00])")
end

function test_large_values_switch_to_scientific()
  is(T{1e10, 2.5}, "tensor([1.0e+10, 2.5e+00])")
  is(T{1e8, 1}, "tensor([1.e+08, 1.e+00])")
  is(T{99999999, 1}, "tensor([9.9999999e+07, 1.0000000e+00])")
  is(T{123456789, 0.5}, "tensor([1.23456789e+08, 5.00000000e-01])")
  is(T{1, 1001}, "tensor([1.000e+00, 1.001e+03])")
  is(T{1e7, 1.5}, "tensor([1.0e+07, 1.5e+00])")
end

function test_scientific_caps_mantissa_at_eight_decimals()
  is(T{1 / 3, 1e-5}, "tensor([3.33333333e-01, 1.00000000e-05])")
end

function test_three_digit_exponents_widen_every_exponent()
  is(T{1e100, 1}, "tensor([1.e+100, 1.e+000])")
  is(T{-1e-300, 2}, "tensor([-1.e-300,  2.e+000])")
end

function test_zero_in_scientific()
  is(T{0, 1e-5}, "tensor([0.e+00, 1.e-05])")
end

-- ---- nan and inf ------------------------------------------------------------------------

function test_nan_and_inf_pad_like_the_column()
  local nan, inf = 0 / 0, math.huge
  -- NumPy widens the column by one when a -inf is present
  is(T{nan, inf, -inf}, "tensor([ nan,  inf, -inf])")
  is(T{nan, inf, -inf, 1}, "tensor([ nan,  inf, -inf,   1.])")
  is(T{nan, 1}, "tensor([nan,  1.])")
  is(T{inf, 0.5}, "tensor([inf, 0.5])")
  is(T{nan, 1e-5}, "tensor([   nan, 1.e-05])")
end

-- ---- shapes -----------------------------------------------------------------------------

function test_zero_dimensional()
  is(tycho.tensor(3.5), "tensor(3.5)")
  is(tycho.tensor(1), "tensor(1.)")
  is(tycho.tensor(-1e-7), "tensor(-1.e-07)")
end

function test_empty()
  is(tycho.zeros(0), "tensor([], dtype=float64)")
  is(tycho.zeros(2, 0, 3), "tensor([], shape=(2, 0, 3), dtype=float64)")
  is(tycho.zeros(0, 3), "tensor([], shape=(0, 3), dtype=float64)")
end

function test_two_dimensional()
  is(T{{1, 2}, {3, 4}}, "tensor([[1., 2.],\n        [3., 4.]])")
  is(T{{1.5, 2}, {3, -4.25}}, "tensor([[ 1.5 ,  2.  ],\n        [ 3.  , -4.25]])")
  is(T{{1}, {2}, {3}}, "tensor([[1.],\n        [2.],\n        [3.]])")
end

function test_three_dimensional_blocks_are_separated_by_a_blank_line()
  is(tycho.arange(24):reshape(2, 3, 4),
     "tensor([[[ 0.,  1.,  2.,  3.],\n" ..
     "         [ 4.,  5.,  6.,  7.],\n" ..
     "         [ 8.,  9., 10., 11.]],\n" ..
     "\n" ..
     "        [[12., 13., 14., 15.],\n" ..
     "         [16., 17., 18., 19.],\n" ..
     "         [20., 21., 22., 23.]]])")
  is(tycho.arange(8):reshape(2, 2, 2) / 2,
     "tensor([[[0. , 0.5],\n         [1. , 1.5]],\n\n        [[2. , 2.5],\n         [3. , 3.5]]])")
end

function test_four_dimensional_uses_two_blank_lines()
  is(tycho.arange(4):reshape(2, 1, 1, 2),
     "tensor([[[[0., 1.]]],\n\n\n        [[[2., 3.]]]])")
end

-- ---- line wrapping ----------------------------------------------------------------------

local function elevenths()
  local v = {}
  for i = 0, 10 do v[#v + 1] = i / 11 end
  v[#v + 1] = 1
  return v
end

function test_long_rows_wrap_at_75_columns()
  -- 13 words of 3 characters plus ", " fit after the 8-column indent
  is(tycho.arange(30),
     "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12.,\n" ..
     "        13., 14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25.,\n" ..
     "        26., 27., 28., 29.])")
  is(T(elevenths()),
     "tensor([0.        , 0.09090909, 0.18181818, 0.27272727, 0.36363636,\n" ..
     "        0.45454545, 0.54545455, 0.63636364, 0.72727273, 0.81818182,\n" ..
     "        0.90909091, 1.        ])")
end

function test_rows_of_a_matrix_wrap_independently()
  is(T(elevenths()):reshape(2, 6),
     "tensor([[0.        , 0.09090909, 0.18181818, 0.27272727, 0.36363636,\n" ..
     "         0.45454545],\n" ..
     "        [0.54545455, 0.63636364, 0.72727273, 0.81818182, 0.90909091,\n" ..
     "         1.        ]])")
end

-- ---- summaries (more than 1000 elements) ------------------------------------------------

function test_a_thousand_elements_print_in_full()
  local s = tostring(tycho.arange(1000))
  lu.assertNil(s:find("...", 1, true))
  lu.assertStrContains(s, " 999.])")
end

function test_summarised_one_dimensional()
  -- the format is fitted to the six values shown: 1000/1 is not above 1e3
  is(tycho.arange(1001), "tensor([   0.,    1.,    2., ...,  998.,  999., 1000.])")
  -- 1999/1 is: scientific, and the last word no longer fits on the line
  is(tycho.arange(2000),
     "tensor([0.000e+00, 1.000e+00, 2.000e+00, ..., 1.997e+03, 1.998e+03,\n" ..
     "        1.999e+03])")
end

function test_summarised_two_dimensional()
  is(tycho.ones(50, 50),
     "tensor([[1., 1., 1., ..., 1., 1., 1.],\n" ..
     "        [1., 1., 1., ..., 1., 1., 1.],\n" ..
     "        [1., 1., 1., ..., 1., 1., 1.],\n" ..
     "        ...,\n" ..
     "        [1., 1., 1., ..., 1., 1., 1.],\n" ..
     "        [1., 1., 1., ..., 1., 1., 1.],\n" ..
     "        [1., 1., 1., ..., 1., 1., 1.]])")
  is(tycho.arange(2500):reshape(50, 50),
     "tensor([[0.000e+00, 1.000e+00, 2.000e+00, ..., 4.700e+01, 4.800e+01,\n" ..
     "         4.900e+01],\n" ..
     "        [5.000e+01, 5.100e+01, 5.200e+01, ..., 9.700e+01, 9.800e+01,\n" ..
     "         9.900e+01],\n" ..
     "        [1.000e+02, 1.010e+02, 1.020e+02, ..., 1.470e+02, 1.480e+02,\n" ..
     "         1.490e+02],\n" ..
     "        ...,\n" ..
     "        [2.350e+03, 2.351e+03, 2.352e+03, ..., 2.397e+03, 2.398e+03,\n" ..
     "         2.399e+03],\n" ..
     "        [2.400e+03, 2.401e+03, 2.402e+03, ..., 2.447e+03, 2.448e+03,\n" ..
     "         2.449e+03],\n" ..
     "        [2.450e+03, 2.451e+03, 2.452e+03, ..., 2.497e+03, 2.498e+03,\n" ..
     "         2.499e+03]])")
end

function test_summary_applies_per_dimension()
  -- 2 x 600: the short first dimension is shown whole
  is(tycho.arange(1200):reshape(2, 600) + 100,
     "tensor([[ 100.,  101.,  102., ...,  697.,  698.,  699.],\n" ..
     "        [ 700.,  701.,  702., ..., 1297., 1298., 1299.]])")
end

-- ---- views print their logical values ---------------------------------------------------

function test_transposed_view()
  local t = T{{1, 2, 3}, {4, 5, 6}}
  is(t.T, "tensor([[1., 4.],\n        [2., 5.],\n        [3., 6.]])")
  is(t:transpose(1, 2), tostring(t.T))
end

function test_selected_and_narrowed_views()
  local t = T{{1, 2, 3}, {4, 5, 6}}
  is(t[2], "tensor([4., 5., 6.])")
  is(t:select(2, 1), "tensor([1., 4.])")
  is(t:narrow(2, 2, 2), "tensor([[2., 3.],\n        [5., 6.]])")
end

function test_strided_view_is_summarised_on_its_own_values()
  -- every other element of 0..2999: 0, 2, 4, ..., 2998 (1500 elements)
  is(tycho.arange(3000):reshape(1500, 2):select(2, 1),
     "tensor([0.000e+00, 2.000e+00, 4.000e+00, ..., 2.994e+03, 2.996e+03,\n" ..
     "        2.998e+03])")
end

function test_print_uses_the_same_text()
  local t = T{0.5, 1}
  lu.assertEquals(string.format("%s", t), "tensor([0.5, 1. ])")
end
