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

-- The same shapes from Lua reach the tensor core directly (src/core/tensor.c, ty_check_shape and
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

-- fuzz_ops: narrow(d, start, len) checked start - 1 + len > size, which wraps for a huge len
-- (math.maxinteger): the view got length 2^63-1 over a 4-element storage, and reading or
-- writing it ran off the heap from a sandboxed script (src/lua/lua_tensor.c, m_narrow).
-- Input: spec/fuzz/corpus_ops/regress_narrow_length_overflow.
function test_narrow_with_a_huge_length_fails()
  local t = tycho.zeros(4)
  for _, c in ipairs { {2, math.maxinteger}, {5, math.maxinteger}, {-1, math.maxinteger},
                       {1, math.maxinteger - 1}, {2, -1}, {1, math.mininteger} } do
    local ok, err = pcall(t.narrow, t, 1, c[1], c[2])
    lu.assertFalse(ok, ("narrow(1, %d, %d)"):format(c[1], c[2]))
    lu.assertStrContains(err, "do not fit dimension 1 of size 4")
  end
end

-- Found while reducing the above: view/reshape multiplied the sizes without a bound, so
-- tycho.zeros(0):view(2^32, 2^32) gave a 2^32 x 2^32 tensor whose element count wrapped to
-- 0; its rows then reached 2^32 elements past an empty storage (a heap write from Lua).
function test_view_sizes_that_wrap_are_refused()
  local big = 1 << 32
  for _, f in ipairs {
    function() return tycho.zeros(0):view(big, big) end,
    function() return tycho.zeros(0):reshape(big, big, big, big) end,
    function() return tycho.zeros(4):view(1 << 62, 4, -1) end,
    function() return tycho.zeros(4):view(-1, 1 << 62, 1 << 62) end,
  } do
    local ok, v = pcall(f)
    if ok then  -- only an empty result with an honest shape would do
      local n = 1.0   -- a float: Lua's integers would wrap just the same
      for _, s in ipairs(v:shape()) do n = n * s end
      lu.assertEquals(v:numel(), 0)
      lu.assertEquals(n, 0)
    end
  end
end

-- fuzz_ops: Tanh.backward read the output forward had cached after the script closed it
-- (`do local c <close> = y end`): a load through a NULL data pointer. A layer's cached
-- tensors closed by the script now give an error that says so, in every backward.
function test_backward_after_the_cached_tensors_were_closed()
  local tanh = tycho.nn.Tanh()
  local y = tanh:forward(tycho.ones(3))
  do local c <close> = y end
  -- a closed tensor has no shape left, so a 0-d dout used to pass the shape check
  for _, dout in ipairs { tycho.ones(3), tycho.tensor(1.0) } do
    local ok, err = pcall(tanh.backward, tanh, dout)
    lu.assertFalse(ok)
    lu.assertStrContains(err, "Tanh.backward: forward's output y was closed; call forward again")
  end

  local function layer() return tycho.nn.RNNLayer(2, 3) end
  for _, closed in ipairs { "x", "h0", "h" } do
    local r = layer()
    local t = { x = tycho.ones(1, 2, 2), h0 = tycho.zeros(1, 3) }
    t.h = r:forward(t.x, t.h0)
    do local c <close> = t[closed] end
    local ok, err = pcall(r.backward, r, tycho.ones(1, 2, 3))
    lu.assertFalse(ok, closed)
    lu.assertStrContains(err, "backward: forward's " .. closed .. " was closed; call forward again")
  end
  for _, closed in ipairs { "x", "next_h" } do
    local r = layer()
    local t = { x = tycho.ones(1, 2) }
    t.next_h = r:forward_step(t.x, tycho.zeros(1, 3))
    do local c <close> = t[closed] end
    local ok, err = pcall(r.backward_step, r, tycho.zeros(1, 3), tycho.ones(1, 3))
    lu.assertFalse(ok, closed)
    lu.assertStrContains(err,
      "backward_step: forward_step's " .. closed .. " was closed; call forward_step again")
  end
end

-- fuzz_ops: an empty view that is not contiguous (the transpose of a broadcast sum, shape
-- (3, 0, 2)) reshaped to 1-d, as tycho.outer flattens its operands, read past the new shape
-- while ty_view_reshape matched runs of sizes (a stack-buffer-overflow under ASan; input
-- corpus_ops/regress_empty_view_reshape). Views without elements take contiguous strides,
-- as NumPy's do.
function test_empty_views_that_are_not_contiguous_reshape()
  local t = (tycho.zeros(0, 3) + tycho.zeros(2, 1, 3)).T
  lu.assertEquals(t:shape(), { 3, 0, 2 })
  lu.assertEquals(tycho.outer(t, t):shape(), { 0, 0 })
  lu.assertEquals(t:reshape(0):shape(), { 0 })
  lu.assertEquals(t:view(3, 0, 2, 1):shape(), { 3, 0, 2, 1 })
  lu.assertEquals(t:view(0, 5):shape(), { 0, 5 })
end
