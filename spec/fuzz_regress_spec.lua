-- fuzz_regress_spec.lua: what fuzzing (make fuzz) and its follow-up probes found, one test
-- each. The crashing inputs themselves are in spec/fuzz/corpus_*/regress_*, which the C tests
-- build/replay/{npy,chunk} replay; under check-asan UBSan turns a regression into an abort.
local lu = require "luaunit"
local tycho = require "tycho"

local DIR = "spec/fuzz/corpus_npy/"

-- fuzz_npy: shapes whose sizes multiply past 2^50 once the zeros are left out, e.g.
-- (0, 10**11, 10**11), overflowed the strides (signed overflow: undefined behaviour), and
-- (10**17, 0) or a Fortran-order (2, 0, ..., 10**17) failed with TY_EARG and no path.
-- NumPy calls such arrays too big; tycho's loader now says the shape is too large.
function test_npy_zero_sized_but_huge_shapes_are_too_large()
  for _, f in ipairs { "regress_zero_dim_stride_overflow.npy", "regress_huge_then_zero_dim.npy",
                       "regress_fortran_zero_dim_huge_shape.npy" } do
    local ok, err = pcall(tycho.load, DIR .. f)
    lu.assertFalse(ok, f)
    lu.assertStrContains(err, "load: " .. DIR .. f .. ": shape (", false, f)
    lu.assertStrContains(err, ") is too large", false, f)
  end
end

-- The same shapes from Lua reach the tensor core directly (src/tensor.c, ty_check_shape and
-- ty_contiguous_strides; lua_tensor.c's -1 in view/reshape): they must fail or give an
-- empty tensor, without overflowing on the way (which only UBSan sees).
function test_zero_sized_but_huge_shapes_from_lua()
  local big = 1 << 40
  local cases = {
    function() return tycho.zeros(0, big, big) end,
    function() return tycho.full({big, 0, big}, 1) end,
    function() return tycho.zeros(0):view(0, big, big) end,
    function() return tycho.zeros(0):reshape(big, big, 0) end,
    function() return tycho.zeros(0):view(-1, big, big) end,
  }
  for i, f in ipairs(cases) do
    local ok, r = pcall(f)
    if ok then
      lu.assertEquals(r:numel(), 0, "case " .. i)
    else
      lu.assertStrContains(r, "fuzz_regress_spec.lua:", false, "case " .. i)
    end
  end
end
