local lu = require "luaunit"; local tycho = require "tycho"
-- tensor_spec.lua: every row of DESIGN.md §2's tensor table. Expected values follow NumPy
-- semantics and are worked out by hand (or by plain Lua loops), never taken from tycho.

local NAN, INF = 0 / 0, math.huge

-- ---- helpers -----------------------------------------------------------------------------

local function same(a, e, tol)
  if e ~= e then return a ~= a end
  if e == INF or e == -INF then return a == e end
  return type(a) == "number" and math.abs(a - e) <= tol
end

-- Compares a (nested table or number) with e, element by element; returns ok, where.
local function deep(a, e, tol, path)
  if type(e) == "number" then
    if type(a) ~= "number" then return false, path .. ": got " .. type(a) .. ", expected a number" end
    if not same(a, e, tol) then return false, ("%s: got %.17g, expected %.17g"):format(path, a, e) end
    return true
  end
  if type(a) ~= "table" then return false, path .. ": got " .. type(a) .. ", expected a table" end
  if #a ~= #e then return false, ("%s: length %d, expected %d"):format(path, #a, #e) end
  for i = 1, #e do
    local ok, where = deep(a[i], e[i], tol, path .. "[" .. i .. "]")
    if not ok then return false, where end
  end
  return true
end

-- The shape implied by a nested table (stops at the first empty level).
local function table_shape(e)
  local s = {}
  while type(e) == "table" do
    s[#s + 1] = #e
    if #e == 0 then return s, false end
    e = e[1]
  end
  return s, true
end

-- t must be a tensor whose shape and values are those of the nested table (or number) e.
local function assertTensor(t, e, tol)
  tol = tol or 0
  lu.assertTrue(tycho.is_tensor(t), "not a tensor: " .. tostring(t))
  local s, full = table_shape(e)
  local ts = t:shape()
  if full then
    lu.assertEquals(ts, s, "shape")
  else
    for i = 1, #s do lu.assertEquals(ts[i], s[i], "shape at dimension " .. i) end
  end
  local ok, where = deep(t:totable(), e, tol, "t")
  lu.assertTrue(ok, where)
end

local function assertNear(a, e, tol, msg)
  lu.assertTrue(same(a, e, tol or 0), ("%s: got %s, expected %s"):format(msg or "value", tostring(a), tostring(e)))
end

-- f(...) must raise an error whose message contains every string in `parts` (plain find).
local function assertErrorWith(parts, f, ...)
  local ok, err = pcall(f, ...)
  lu.assertFalse(ok, "expected an error containing: " .. table.concat(parts, ", "))
  err = tostring(err)
  for _, p in ipairs(parts) do
    lu.assertTrue(err:find(p, 1, true) ~= nil, ("error %q does not contain %q"):format(err, p))
  end
  return err
end

-- A deterministic m x n Lua matrix of multiples of 1/8 in [-1, 1], so products are exact.
local function lmat(m, n, seed)
  local r = {}
  for i = 1, m do
    r[i] = {}
    for j = 1, n do r[i][j] = ((i * 37 + j * 11 + seed * 5) % 17 - 8) / 8 end
  end
  return r
end

local function lmatmul(a, b)
  local m, k, n = #a, #b, #b[1]
  local c = {}
  for i = 1, m do
    c[i] = {}
    for j = 1, n do
      local s = 0
      for p = 1, k do s = s + a[i][p] * b[p][j] end
      c[i][j] = s
    end
  end
  return c
end

local function ltranspose(a)
  local r = {}
  for j = 1, #a[1] do
    r[j] = {}
    for i = 1, #a do r[j][i] = a[i][j] end
  end
  return r
end

-- 0 .. n-1 as a Lua table.
local function range(n)
  local r = {}
  for i = 1, n do r[i] = i - 1 end
  return r
end

-- ---- creation ----------------------------------------------------------------------------

TestCreate = {}

function TestCreate:test_tensor_nested_2d()
  local t = tycho.tensor{{1, 2}, {3, 4}}
  assertTensor(t, {{1, 2}, {3, 4}})
  lu.assertEquals(t:get(2, 1), 3)
end

function TestCreate:test_tensor_1d_and_3d()
  assertTensor(tycho.tensor{1.5, -2, 3}, {1.5, -2, 3})
  local t = tycho.tensor{{{1, 2}}, {{3, 4}}}
  lu.assertEquals(t:shape(), {2, 1, 2})
  lu.assertEquals(t:get(2, 1, 2), 4)
end

function TestCreate:test_tensor_empty_tables()
  local t = tycho.tensor{}
  lu.assertEquals(t:shape(), {0})
  lu.assertEquals(t:numel(), 0)
  lu.assertEquals(tycho.tensor{{}, {}}:shape(), {2, 0})
end

function TestCreate:test_tensor_from_number_is_0d()
  local t = tycho.tensor(5)
  lu.assertEquals(t:dim(), 0)
  lu.assertEquals(t:shape(), {})
  lu.assertEquals(t:item(), 5)
end

function TestCreate:test_tensor_ragged_row_length()
  assertErrorWith({ "tensor", "ragged" }, tycho.tensor, {{1, 2}, {3}})
end

function TestCreate:test_tensor_ragged_number_among_tables()
  assertErrorWith({ "tensor", "ragged" }, tycho.tensor, {{1, 2}, 3})
  assertErrorWith({ "tensor", "ragged" }, tycho.tensor, {1, {2}})
end

function TestCreate:test_tensor_non_number_element()
  assertErrorWith({ "tensor", "string" }, tycho.tensor, {1, "a"})
end

function TestCreate:test_zeros_varargs_and_table()
  assertTensor(tycho.zeros(2, 3), {{0, 0, 0}, {0, 0, 0}})
  assertTensor(tycho.zeros{2, 3}, {{0, 0, 0}, {0, 0, 0}})
end

function TestCreate:test_zeros_no_args_is_0d()
  local t = tycho.zeros()
  lu.assertEquals(t:dim(), 0)
  lu.assertEquals(t:numel(), 1)
  lu.assertEquals(t:item(), 0)
end

function TestCreate:test_ones()
  assertTensor(tycho.ones(3), {1, 1, 1})
  assertTensor(tycho.ones{2, 2}, {{1, 1}, {1, 1}})
end

function TestCreate:test_full()
  assertTensor(tycho.full({2, 2}, 7), {{7, 7}, {7, 7}})
  assertTensor(tycho.full(3, -1.5), {-1.5, -1.5, -1.5})
end

function TestCreate:test_empty_shape()
  local t = tycho.empty(2, 3)
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertEquals(t:numel(), 6)
  lu.assertEquals(tycho.empty{4}:shape(), {4})
end

function TestCreate:test_eye_square()
  assertTensor(tycho.eye(3), {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}})
end

function TestCreate:test_eye_rectangular()
  assertTensor(tycho.eye(2, 3), {{1, 0, 0}, {0, 1, 0}})
  assertTensor(tycho.eye(3, 2), {{1, 0}, {0, 1}, {0, 0}})
end

function TestCreate:test_linspace_basic()
  assertTensor(tycho.linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1})
  assertTensor(tycho.linspace(-1, 1, 3), {-1, 0, 1})
  assertTensor(tycho.linspace(1, 0, 5), {1, 0.75, 0.5, 0.25, 0})
end

function TestCreate:test_linspace_start_plus_i_step_last_exactly_stop()
  -- NumPy: step = 0.3/3; y[i] = i*step + start; y[-1] = stop exactly (3*step ~= 0.3)
  local t = tycho.linspace(0, 0.3, 4)
  local step = 0.3 / 3
  lu.assertEquals(t[1], 0)
  lu.assertEquals(t[2], step)
  lu.assertEquals(t[3], 2 * step)
  lu.assertEquals(t[4], 0.3)
end

function TestCreate:test_linspace_n1_n0_default()
  assertTensor(tycho.linspace(2, 3, 1), {2})
  local e = tycho.linspace(0, 1, 0)
  lu.assertEquals(e:shape(), {0})
  local d = tycho.linspace(0, 1) -- NumPy's default num=50
  lu.assertEquals(d:numel(), 50)
  lu.assertEquals(d[50], 1)
  lu.assertEquals(d[2], 1 / 49)
end

function TestCreate:test_linspace_constant()
  assertTensor(tycho.linspace(5, 5, 3), {5, 5, 5})
end

function TestCreate:test_arange_stop_only()
  assertTensor(tycho.arange(5), {0, 1, 2, 3, 4})
  lu.assertEquals(tycho.arange(0):shape(), {0})
end

function TestCreate:test_arange_start_stop()
  assertTensor(tycho.arange(2, 5), {2, 3, 4})
  assertTensor(tycho.arange(-3, 3, 2), {-3, -1, 1})
  lu.assertEquals(tycho.arange(5, 1):shape(), {0})
end

function TestCreate:test_arange_negative_step()
  assertTensor(tycho.arange(5, 1, -1), {5, 4, 3, 2})
  assertTensor(tycho.arange(1, 0, -0.25), {1, 0.75, 0.5, 0.25})
end

function TestCreate:test_arange_float_step()
  assertTensor(tycho.arange(0, 1, 0.25), {0, 0.25, 0.5, 0.75})
  local t = tycho.arange(0, 1, 0.1)
  lu.assertEquals(t:numel(), 10)
  assertNear(t[4], 0.3, 1e-15)
  -- NumPy: len = ceil((1.3 - 1) / 0.1) = ceil(3.0000000000000004) = 4
  lu.assertEquals(tycho.arange(1, 1.3, 0.1):numel(), 4)
end

function TestCreate:test_arange_zero_step_error()
  assertErrorWith({ "arange", "step" }, tycho.arange, 0, 1, 0)
end

function TestCreate:test_zeros_like_ones_like()
  local t = tycho.tensor{{1, 2, 3}, {4, 5, 6}}
  assertTensor(tycho.zeros_like(t), {{0, 0, 0}, {0, 0, 0}})
  assertTensor(tycho.ones_like(t), {{1, 1, 1}, {1, 1, 1}})
  -- of a view: its shape, fresh storage
  local o = tycho.ones_like(t:transpose())
  assertTensor(o, {{1, 1}, {1, 1}, {1, 1}})
  o:fill_(9)
  assertTensor(t, {{1, 2, 3}, {4, 5, 6}})
end

function TestCreate:test_zeros_0_is_empty_1d()
  local t = tycho.zeros(0)
  lu.assertEquals(t:shape(), {0})
  lu.assertEquals(t:dim(), 1)
  lu.assertEquals(t:numel(), 0)
  lu.assertEquals(#t, 0)
  lu.assertEquals(t:totable(), {})
end

function TestCreate:test_empty_dimension_in_middle()
  local t = tycho.zeros(2, 0, 3)
  lu.assertEquals(t:shape(), {2, 0, 3})
  lu.assertEquals(t:dim(), 3)
  lu.assertEquals(t:numel(), 0)
  lu.assertEquals(#t, 2)
  lu.assertEquals(t:totable(), {{}, {}})
  lu.assertEquals(t:sum(), 0)
  lu.assertEquals((t + 1):shape(), {2, 0, 3})
  lu.assertEquals(t[2]:shape(), {0, 3})
end

-- ---- shape -------------------------------------------------------------------------------

TestShape = {}

function TestShape:test_shape_is_a_new_table_each_time()
  local t = tycho.zeros(2, 3)
  local s = t:shape()
  lu.assertEquals(s, {2, 3})
  s[1] = 99
  lu.assertEquals(t:shape(), {2, 3})
  lu.assertFalse(rawequal(t:shape(), t:shape()))
end

function TestShape:test_size_positive_and_negative()
  local t = tycho.zeros(2, 3, 4)
  lu.assertEquals(t:size(1), 2)
  lu.assertEquals(t:size(3), 4)
  lu.assertEquals(t:size(-1), 4)
  lu.assertEquals(t:size(-3), 2)
  lu.assertEquals(math.type(t:size(2)), "integer")
end

function TestShape:test_dim_numel_len()
  local t = tycho.zeros(2, 3, 4)
  lu.assertEquals(t:dim(), 3)
  lu.assertEquals(t:numel(), 24)
  lu.assertEquals(#t, 2)
  lu.assertEquals(tycho.tensor(3):numel(), 1)
end

function TestShape:test_size_bad_dimensions()
  local t = tycho.zeros(2, 3, 4)
  assertErrorWith({ "size", "dimension 0", "2x3x4" }, t.size, t, 0)
  assertErrorWith({ "size", "dimension 4", "2x3x4" }, t.size, t, 4)
  assertErrorWith({ "size", "dimension -4" }, t.size, t, -4)
end

function TestShape:test_len_of_0d_is_an_error()
  local t = tycho.tensor(1)
  local ok = pcall(function() return #t end)
  lu.assertFalse(ok)
end

-- ---- views -------------------------------------------------------------------------------

TestViews = {}

local function a23() return tycho.arange(6):view(2, 3) end -- {{0,1,2},{3,4,5}}

function TestViews:test_index_row_is_a_view()
  local t = a23()
  local r = t[2]
  assertTensor(r, {3, 4, 5})
  r[1] = 10
  lu.assertEquals(t:get(2, 1), 10)
  t:set(2, 2, 20)
  lu.assertEquals(r[2], 20)
end

function TestViews:test_negative_row_index()
  assertTensor(a23()[-1], {3, 4, 5})
  assertTensor(a23()[-2], {0, 1, 2})
end

function TestViews:test_select_row_and_column()
  local t = a23()
  assertTensor(t:select(1, 2), {3, 4, 5})
  assertTensor(t:select(2, 3), {2, 5})
  assertTensor(t:select(2, -1), {2, 5})
  assertTensor(t:select(-1, 1), {0, 3})
end

function TestViews:test_select_writes_through()
  local t = a23()
  t:select(2, 3):fill_(0)
  assertTensor(t, {{0, 1, 0}, {3, 4, 0}})
end

function TestViews:test_select_on_1d_is_0d_view()
  local t = tycho.arange(3)
  local v = t:select(1, 2)
  lu.assertEquals(v:dim(), 0)
  lu.assertEquals(v:item(), 1)
  v:fill_(9)
  lu.assertEquals(t[2], 9)
end

function TestViews:test_narrow_values()
  local t = a23()
  assertTensor(t:narrow(2, 2, 2), {{1, 2}, {4, 5}})
  assertTensor(t:narrow(1, -1, 1), {{3, 4, 5}})
  lu.assertEquals(t:narrow(2, 4, 0):shape(), {2, 0})
end

function TestViews:test_narrow_writes_through()
  local t = a23()
  local n = t:narrow(2, 2, 2)
  n:set(1, 1, -1)
  lu.assertEquals(t:get(1, 2), -1)
  t:set(2, 3, 50)
  lu.assertEquals(n:get(2, 2), 50)
end

function TestViews:test_transpose_no_args_and_dims()
  local t = a23()
  assertTensor(t:transpose(), {{0, 3}, {1, 4}, {2, 5}})
  assertTensor(t:transpose(1, 2), {{0, 3}, {1, 4}, {2, 5}})
  assertTensor(t:transpose(2, 1), {{0, 3}, {1, 4}, {2, 5}})
  assertTensor(tycho.transpose(t), {{0, 3}, {1, 4}, {2, 5}})
end

function TestViews:test_T_property()
  local t = a23()
  assertTensor(t.T, {{0, 3}, {1, 4}, {2, 5}})
  t.T:set(3, 1, 100)
  lu.assertEquals(t:get(1, 3), 100)
end

function TestViews:test_transpose_3d()
  local t = tycho.arange(24):view(2, 3, 4)
  local r = t:transpose() -- NumPy .T reverses all axes
  lu.assertEquals(r:shape(), {4, 3, 2})
  lu.assertEquals(t.T:shape(), {4, 3, 2})
  for i = 1, 4 do for j = 1, 3 do for k = 1, 2 do
    lu.assertEquals(r:get(i, j, k), (k - 1) * 12 + (j - 1) * 4 + (i - 1))
  end end end
  lu.assertEquals(t:transpose(1, 3):shape(), {4, 3, 2})
  local s = t:transpose(2, -1)
  lu.assertEquals(s:shape(), {2, 4, 3})
  lu.assertEquals(s:get(2, 4, 1), 12 + 3) -- t[2][1][4]
end

function TestViews:test_view_values_and_minus_one()
  local t = tycho.arange(6)
  assertTensor(t:view(2, 3), {{0, 1, 2}, {3, 4, 5}})
  assertTensor(t:view(3, -1), {{0, 1}, {2, 3}, {4, 5}})
  assertTensor(t:view(2, 3):view{-1}, {0, 1, 2, 3, 4, 5})
  lu.assertEquals(t:view(1, 2, 1, 3):shape(), {1, 2, 1, 3})
end

function TestViews:test_view_shares_storage()
  local t = tycho.arange(6)
  local v = t:view(2, 3)
  v:set(2, 1, -7)
  lu.assertEquals(t[4], -7)
  t[6] = 42
  lu.assertEquals(v:get(2, 3), 42)
end

function TestViews:test_view_of_non_contiguous_is_an_error()
  local t = a23():transpose()
  assertErrorWith({ "view", "3x2" }, t.view, t, 6)
end

function TestViews:test_reshape_contiguous_is_a_view()
  local t = tycho.arange(6)
  local r = t:reshape(2, 3)
  assertTensor(r, {{0, 1, 2}, {3, 4, 5}})
  r:set(1, 2, 77)
  lu.assertEquals(t[2], 77)
  assertTensor(t:reshape(-1, 2), {{0, 77}, {2, 3}, {4, 5}}) -- t[2] was written above
  lu.assertEquals(tycho.reshape(t, 3, 2):shape(), {3, 2})
end

function TestViews:test_reshape_non_contiguous_is_a_copy()
  local t = a23()
  local r = t:transpose():reshape(6)
  assertTensor(r, {0, 3, 1, 4, 2, 5})
  r[1] = 99
  lu.assertEquals(t:get(1, 1), 0)
  assertTensor(t.T:reshape(-1, 3), {{0, 3, 1}, {4, 2, 5}})
end

function TestViews:test_reshape_non_contiguous_view_when_possible()
  -- columns 1..2 of a 3x4: rows are not adjacent, but (3,2)->(3,1,2) needs no copy (NumPy: a view)
  local p = tycho.arange(12):view(3, 4)
  local n = p:narrow(2, 1, 2)
  local r = n:reshape(3, 1, 2)
  assertTensor(r, {{{0, 1}}, {{4, 5}}, {{8, 9}}})
  r:set(3, 1, 2, -1)
  lu.assertEquals(p:get(3, 2), -1)
end

function TestViews:test_contiguous()
  local t = a23()
  local c = t.T:contiguous()
  assertTensor(c, {{0, 3}, {1, 4}, {2, 5}})
  lu.assertTrue(c:is_contiguous())
  c:set(1, 1, 99)
  lu.assertEquals(t:get(1, 1), 0)
  assertTensor(t:contiguous(), {{0, 1, 2}, {3, 4, 5}})
end

function TestViews:test_parent_write_seen_by_views()
  local t = a23()
  local v1, v2, v3 = t[1], t.T, t:narrow(2, 3, 1)
  t:fill_(3)
  assertTensor(v1, {3, 3, 3})
  assertTensor(v2, {{3, 3}, {3, 3}, {3, 3}})
  assertTensor(v3, {{3}, {3}})
end

function TestViews:test_view_outlives_parent()
  local v, n
  do
    local p = tycho.arange(6):view(2, 3)
    v = p[2]
    n = p:transpose():narrow(1, 2, 2)
    p = nil -- luacheck: ignore
  end
  collectgarbage("collect")
  collectgarbage("collect")
  local junk = {}
  for i = 1, 50 do junk[i] = tycho.full({2, 3}, -1) end -- reuse freed memory if any
  assertTensor(v, {3, 4, 5})
  assertTensor(n, {{1, 4}, {2, 5}})
end

function TestViews:test_view_of_view_outlives_all()
  local w
  do
    local p = tycho.arange(24):view(2, 3, 4)
    local a = p[2]
    local b = a:narrow(2, 2, 2)
    w = b:transpose()
  end
  collectgarbage("collect")
  collectgarbage("collect")
  assertTensor(w, {{13, 17, 21}, {14, 18, 22}})
end

function TestViews:test_view_of_a_big_tensor_outlives_it()
  -- big tensors share refcounted storage; small ones keep their base alive: both must hold
  local v
  do
    local p = tycho.arange(2000):view(40, 50)
    v = p:narrow(1, 3, 2):transpose()[7]
  end
  collectgarbage("collect")
  collectgarbage("collect")
  local junk = {}
  for i = 1, 20 do junk[i] = tycho.full({40, 50}, -1) end -- reuse freed memory if any
  assertTensor(v, {106, 156})
end

function TestViews:test_views_of_views_write_through()
  local t = tycho.arange(24):view(2, 3, 4)
  local v = t[2]:narrow(2, 2, 2):transpose()
  assertTensor(v, {{13, 17, 21}, {14, 18, 22}})
  v:set(2, 3, -5)
  lu.assertEquals(t:get(2, 3, 3), -5)
  local w = v:select(1, 1):narrow(1, 2, 2)
  assertTensor(w, {17, 21})
  w:fill_(0)
  lu.assertEquals(t:get(2, 2, 2), 0)
  lu.assertEquals(t:get(2, 3, 2), 0)
end

-- ---- elements ----------------------------------------------------------------------------

TestElements = {}

function TestElements:test_index_1d_is_a_number()
  local t = tycho.tensor{10, 20, 30}
  lu.assertEquals(type(t[2]), "number")
  lu.assertEquals(t[2], 20)
  lu.assertEquals(t[2.0], 20)
end

function TestElements:test_negative_indexes()
  local t = tycho.tensor{10, 20, 30}
  lu.assertEquals(t[-1], 30)
  lu.assertEquals(t[-3], 10)
end

function TestElements:test_assign_number_1d()
  local t = tycho.tensor{10, 20, 30}
  t[2] = 5
  t[-1] = 7
  assertTensor(t, {10, 5, 7})
end

function TestElements:test_assign_number_to_row()
  local t = tycho.ones(2, 3)
  t[1] = 0
  assertTensor(t, {{0, 0, 0}, {1, 1, 1}})
end

function TestElements:test_assign_tensor_to_row_and_broadcast()
  local t = tycho.zeros(2, 3)
  t[2] = tycho.tensor{7, 8, 9}
  t[1] = tycho.tensor{4}
  assertTensor(t, {{4, 4, 4}, {7, 8, 9}})
  local u = tycho.zeros(2, 2, 3)
  u[-1] = tycho.tensor{1, 2, 3} -- (3) broadcast into (2,3)
  assertTensor(u, {{{0, 0, 0}, {0, 0, 0}}, {{1, 2, 3}, {1, 2, 3}}})
end

function TestElements:test_assign_tensor_bad_broadcast()
  local t = tycho.zeros(2, 3)
  assertErrorWith({ "2", "3", "broadcast" }, function() t[1] = tycho.ones(2) end)
end

function TestElements:test_get_set_multi_index()
  local t = tycho.arange(24):view(2, 3, 4)
  lu.assertEquals(t:get(2, 3, 4), 23)
  lu.assertEquals(t:get(1, 2, 3), 6)
  lu.assertEquals(t:get(-1, -1, 1), 20)
  t:set(1, -1, 2, 100)
  lu.assertEquals(t:get(1, 3, 2), 100)
  local m = tycho.zeros(2, 2)
  m:set(2, 1, 3.5)
  assertTensor(m, {{0, 0}, {3.5, 0}})
end

function TestElements:test_item()
  lu.assertEquals(tycho.tensor{{42}}:item(), 42)
  lu.assertEquals(tycho.tensor(-3):item(), -3)
  lu.assertEquals(tycho.arange(5)[4], 3)
  assertErrorWith({ "item", "2" }, function() return tycho.ones(2):item() end)
end

function TestElements:test_totable_nested_and_0d()
  lu.assertEquals(tycho.tensor{{1, 2}, {3, 4}}:totable(), {{1, 2}, {3, 4}})
  lu.assertEquals(tycho.tensor(5):totable(), 5)
  lu.assertEquals(type(tycho.tensor(5):totable()), "number")
  lu.assertEquals(a23().T:totable(), {{0, 3}, {1, 4}, {2, 5}})
end

-- ---- copy --------------------------------------------------------------------------------

TestCopy = {}

function TestCopy:test_clone_is_independent()
  local t = tycho.tensor{1, 2, 3}
  local c = t:clone()
  assertTensor(c, {1, 2, 3})
  c[1] = 99
  lu.assertEquals(t[1], 1)
  t[2] = -1
  lu.assertEquals(c[2], 2)
end

function TestCopy:test_clone_of_view()
  local t = a23()
  local c = tycho.clone(t.T)
  assertTensor(c, {{0, 3}, {1, 4}, {2, 5}})
  c:fill_(0)
  assertTensor(t, {{0, 1, 2}, {3, 4, 5}})
end

function TestCopy:test_copy_same_shape_returns_self()
  local t = tycho.zeros(2, 2)
  local r = t:copy_(tycho.tensor{{1, 2}, {3, 4}})
  lu.assertTrue(rawequal(r, t))
  assertTensor(t, {{1, 2}, {3, 4}})
end

function TestCopy:test_copy_broadcasts_source()
  local t = tycho.zeros(2, 3)
  t:copy_(tycho.tensor{1, 2, 3})
  assertTensor(t, {{1, 2, 3}, {1, 2, 3}})
  t:copy_(tycho.tensor{{5}, {6}})
  assertTensor(t, {{5, 5, 5}, {6, 6, 6}})
end

function TestCopy:test_copy_from_view_and_into_view()
  local t = a23()
  local d = tycho.zeros(3, 2)
  d:copy_(t.T)
  assertTensor(d, {{0, 3}, {1, 4}, {2, 5}})
  t:narrow(2, 2, 2):copy_(tycho.tensor{{-1, -2}, {-3, -4}})
  assertTensor(t, {{0, -1, -2}, {3, -3, -4}})
end

function TestCopy:test_copy_refuses_bigger_source()
  local t = tycho.zeros(3)
  assertErrorWith({ "copy_", "2x3", "3" }, t.copy_, t, tycho.ones(2, 3))
end

-- ---- arithmetic --------------------------------------------------------------------------

TestArith = {}

local function m22() return tycho.tensor{{1, 2}, {3, 4}} end

function TestArith:test_tensor_tensor_ops()
  local a, b = m22(), tycho.tensor{{10, 20}, {30, 40}}
  assertTensor(a + b, {{11, 22}, {33, 44}})
  assertTensor(b - a, {{9, 18}, {27, 36}})
  assertTensor(a * b, {{10, 40}, {90, 160}})
  assertTensor(b / a, {{10, 10}, {10, 10}})
  assertTensor(a ^ tycho.tensor{{2, 0}, {1, 0.5}}, {{1, 1}, {3, 2}})
end

function TestArith:test_tensor_number_ops()
  local t = tycho.tensor{1, 2, 3, 4}
  assertTensor(t + 1, {2, 3, 4, 5})
  assertTensor(t - 1, {0, 1, 2, 3})
  assertTensor(t * 3, {3, 6, 9, 12})
  assertTensor(t / 2, {0.5, 1, 1.5, 2})
  assertTensor(t ^ 2, {1, 4, 9, 16})
  assertTensor(tycho.tensor{4, 9} ^ 0.5, {2, 3})
end

function TestArith:test_number_tensor_ops()
  local t = tycho.tensor{1, 2, 3, 4}
  assertTensor(1 + t, {2, 3, 4, 5})
  assertTensor(2 - t, {1, 0, -1, -2})
  assertTensor(3 * t, {3, 6, 9, 12})
  assertTensor(2 / t, {2, 1, 2 / 3, 0.5})
  assertTensor(2 ^ t, {2, 4, 8, 16})
end

function TestArith:test_unary_minus()
  assertTensor(-m22(), {{-1, -2}, {-3, -4}})
  assertTensor(-(a23().T), {{0, -3}, {-1, -4}, {-2, -5}})
end

function TestArith:test_results_are_new_tensors()
  local a = m22()
  local s = a + 0
  s:fill_(0)
  assertTensor(a, {{1, 2}, {3, 4}})
end

function TestArith:test_division_by_zero_ieee()
  assertTensor(tycho.tensor{1, -1, 0} / 0, {INF, -INF, NAN})
end

function TestArith:test_broadcast_3x1_plus_1x4()
  local a = tycho.tensor{{0}, {10}, {20}}
  local b = tycho.tensor{{1, 2, 3, 4}}
  assertTensor(a + b, {{1, 2, 3, 4}, {11, 12, 13, 14}, {21, 22, 23, 24}})
  assertTensor(b + a, {{1, 2, 3, 4}, {11, 12, 13, 14}, {21, 22, 23, 24}})
end

function TestArith:test_broadcast_2x3_plus_3()
  local a = tycho.tensor{{1, 2, 3}, {4, 5, 6}}
  local b = tycho.tensor{10, 20, 30}
  assertTensor(a + b, {{11, 22, 33}, {14, 25, 36}})
  assertTensor(b - a, {{9, 18, 27}, {6, 15, 24}})
end

function TestArith:test_broadcast_4x1x3_times_2x1()
  local a = tycho.arange(12):view(4, 1, 3)
  local b = tycho.tensor{{1}, {-1}}
  local r = a * b
  lu.assertEquals(r:shape(), {4, 2, 3})
  for i = 1, 4 do for k = 1, 3 do
    local v = (i - 1) * 3 + (k - 1)
    lu.assertEquals(r:get(i, 1, k), v)
    lu.assertEquals(r:get(i, 2, k), -v)
  end end
end

function TestArith:test_broadcast_0d_and_empty()
  assertTensor(tycho.tensor(2) + tycho.tensor{1, 2}, {3, 4})
  local s = tycho.tensor(2) * tycho.tensor(3)
  lu.assertEquals(s:dim(), 0)
  lu.assertEquals(s:item(), 6)
  lu.assertEquals((tycho.zeros(0, 3) + tycho.ones(3)):shape(), {0, 3})
  lu.assertEquals((tycho.ones(2, 1) + tycho.zeros(0)):shape(), {2, 0})
end

function TestArith:test_broadcast_error_names_both_shapes()
  local a, b = tycho.ones(2, 3), tycho.ones(4)
  assertErrorWith({ "add", "2x3", "4" }, function() return a + b end)
  assertErrorWith({ "2x3", "3x2" }, function() return a * tycho.ones(3, 2) end)
  assertErrorWith({ "4", "2x3" }, function() return b - a end)
  assertErrorWith({ "2x3", "4" }, function() return a / b end)
end

function TestArith:test_inplace_add_returns_self()
  local t = m22()
  local r = t:add_(1)
  lu.assertTrue(rawequal(r, t))
  assertTensor(t, {{2, 3}, {4, 5}})
end

function TestArith:test_inplace_sub_mul_div()
  local t = m22()
  lu.assertTrue(rawequal(t:sub_(1), t))
  assertTensor(t, {{0, 1}, {2, 3}})
  lu.assertTrue(rawequal(t:mul_(tycho.tensor{2, 10}), t))
  assertTensor(t, {{0, 10}, {4, 30}})
  lu.assertTrue(rawequal(t:div_(tycho.tensor{{2}, {4}}), t))
  assertTensor(t, {{0, 5}, {1, 7.5}})
end

function TestArith:test_inplace_with_tensor_broadcast()
  local t = tycho.zeros(2, 3)
  t:add_(tycho.tensor{1, 2, 3})
  assertTensor(t, {{1, 2, 3}, {1, 2, 3}})
end

function TestArith:test_fill_and_zero_return_self()
  local t = m22()
  lu.assertTrue(rawequal(t:fill_(7), t))
  assertTensor(t, {{7, 7}, {7, 7}})
  lu.assertTrue(rawequal(t:zero_(), t))
  assertTensor(t, {{0, 0}, {0, 0}})
end

function TestArith:test_inplace_on_views_changes_parent()
  local t = a23()
  t:narrow(2, 1, 1):add_(10)
  t.T:select(1, 3):mul_(-1)
  assertTensor(t, {{10, 1, -2}, {13, 4, -5}})
  t[2]:zero_()
  assertTensor(t, {{10, 1, -2}, {0, 0, 0}})
end

function TestArith:test_inplace_refuses_to_grow_target()
  local t = tycho.zeros(3)
  assertErrorWith({ "add_", "2x3", "3" }, t.add_, t, tycho.ones(2, 3))
  local c = tycho.zeros(3, 1)
  assertErrorWith({ "mul_", "1x4", "3x1" }, c.mul_, c, tycho.ones(1, 4))
  assertErrorWith({ "sub_" }, c.sub_, c, tycho.ones(4))
  assertErrorWith({ "div_" }, c.div_, c, tycho.ones(2, 3, 1))
  assertTensor(c, {{0}, {0}, {0}}) -- unchanged after the errors
end

-- ---- contiguous vs non-contiguous inputs -------------------------------------------------

TestStrides = {}

function TestStrides:test_transposed_plus_tensor()
  local a = a23()
  local b = tycho.tensor{{1, 2}, {3, 4}, {5, 6}}
  local expect = {{1, 5}, {4, 8}, {7, 11}}
  assertTensor(a:transpose() + b, expect)
  assertTensor(a:transpose():contiguous() + b, expect)
  assertTensor(b + a.T, expect)
end

function TestStrides:test_narrowed_inputs()
  local x = tycho.arange(12):view(3, 4):narrow(2, 2, 2) -- {{1,2},{5,6},{9,10}}
  local c = x:contiguous()
  assertTensor(x, {{1, 2}, {5, 6}, {9, 10}})
  assertTensor(x * x, {{1, 4}, {25, 36}, {81, 100}})
  assertTensor(x * c, {{1, 4}, {25, 36}, {81, 100}})
  assertTensor(x - tycho.tensor{1, 2}, {{0, 0}, {4, 4}, {8, 8}})
  assertTensor(x:sum(1), {15, 18})
  assertTensor(x:exp(), c:exp():totable(), 0)
end

function TestStrides:test_permuted_3d()
  local p = tycho.arange(24):view(2, 3, 4):transpose(1, 3) -- (4,3,2), p[i][j][k] = 12k+4j+i (0-based)
  local c = p:contiguous()
  local s, q = p + 1, p * c
  for i = 1, 4 do for j = 1, 3 do for k = 1, 2 do
    local v = (k - 1) * 12 + (j - 1) * 4 + (i - 1)
    lu.assertEquals(c:get(i, j, k), v)
    lu.assertEquals(s:get(i, j, k), v + 1)
    lu.assertEquals(q:get(i, j, k), v * v)
  end end end
  lu.assertTrue(p:tanh():equal(c:tanh()))
  lu.assertTrue(p:sum(2):equal(c:sum(2)))
  lu.assertEquals(p:sum(), 276)
  lu.assertEquals(p:max(), 23)
end

function TestStrides:test_broadcast_with_non_contiguous_operand()
  local t = a23()
  assertTensor(t.T + tycho.tensor{100, 200}, {{100, 203}, {101, 204}, {102, 205}})
  assertTensor(tycho.tensor{{1}, {2}, {3}} * t.T, {{0, 3}, {2, 8}, {6, 15}})
end

function TestStrides:test_inplace_into_non_contiguous_target()
  local t = a23()
  t.T:add_(tycho.tensor{1, 2}) -- T[i][j] += {1,2}[j] -> row j of t gains j
  assertTensor(t, {{1, 2, 3}, {5, 6, 7}})
end

function TestStrides:test_reductions_non_contiguous()
  local t = tycho.tensor{{1, 5}, {3, 2}}
  local tt = t.T -- {{1,3},{5,2}}, flat 1,3,5,2
  lu.assertEquals(tt:argmax(), 3)
  lu.assertEquals(tt:argmin(), 1)
  assertTensor(tt:max(2), {3, 5})
  assertTensor(tt:argmax(2), {2, 1})
  assertTensor(tt:sum(1), {6, 5})
end

-- ---- linear algebra ----------------------------------------------------------------------

TestLinalg = {}

function TestLinalg:test_dot_1d_1d_is_a_number()
  local r = tycho.tensor{1, 2, 3}:dot(tycho.tensor{4, 5, 6})
  lu.assertEquals(type(r), "number")
  lu.assertEquals(r, 32)
  lu.assertEquals(tycho.dot(tycho.tensor{1, 2}, tycho.tensor{3, 4}), 11)
end

function TestLinalg:test_dot_2d_2d()
  assertTensor(m22():dot(tycho.tensor{{5, 6}, {7, 8}}), {{19, 22}, {43, 50}})
end

function TestLinalg:test_dot_2d_1d_and_1d_2d()
  assertTensor(m22():dot(tycho.tensor{5, 6}), {17, 39})
  assertTensor(tycho.tensor{5, 6}:dot(m22()), {23, 34})
end

function TestLinalg:test_dot_with_scalar()
  assertTensor(tycho.dot(2, m22()), {{2, 4}, {6, 8}})
  assertTensor(m22():dot(3), {{3, 6}, {9, 12}})
end

function TestLinalg:test_matmul_2d()
  local a = tycho.tensor{{1, 2, 3}, {4, 5, 6}}
  local b = tycho.tensor{{7, 8}, {9, 10}, {11, 12}}
  assertTensor(tycho.matmul(a, b), {{58, 64}, {139, 154}})
  assertTensor(a:matmul(b), {{58, 64}, {139, 154}})
  assertTensor(b:matmul(a), {{39, 54, 69}, {49, 68, 87}, {59, 82, 105}})
end

function TestLinalg:test_matmul_batched_3d_by_2d()
  local a = tycho.tensor{{{1, 0}, {0, 1}}, {{2, 0}, {0, 2}}, {{0, 1}, {1, 0}}}
  local b = m22()
  assertTensor(tycho.matmul(a, b), {{{1, 2}, {3, 4}}, {{2, 4}, {6, 8}}, {{3, 4}, {1, 2}}})
end

function TestLinalg:test_matmul_batched_3d_by_3d()
  local a = tycho.arange(12):view(2, 2, 3)
  assertTensor(tycho.matmul(a, tycho.ones(2, 3, 1)), {{{3}, {12}}, {{21}, {30}}})
  local b = tycho.tensor{{{1}, {0}, {0}}, {{0}, {0}, {1}}}
  assertTensor(a:matmul(b), {{{0}, {3}}, {{8}, {11}}})
end

function TestLinalg:test_matmul_batch_broadcast_and_vectors()
  local a = tycho.tensor{{1, 0, 0}, {0, 0, 1}}          -- (2,3): picks rows 1 and 3
  local b = tycho.arange(12):view(2, 3, 2)              -- (2,3,2)
  assertTensor(tycho.matmul(a, b), {{{0, 1}, {4, 5}}, {{6, 7}, {10, 11}}})
  local c = tycho.arange(12):view(2, 2, 3)
  assertTensor(tycho.matmul(c, tycho.tensor{1, 1, 1}), {{3, 12}, {21, 30}})
  assertTensor(tycho.matmul(tycho.tensor{1, 1, 1}, b), {{6, 9}, {24, 27}})
end

function TestLinalg:test_outer()
  assertTensor(tycho.outer(tycho.tensor{1, 2, 3}, tycho.tensor{4, 5}), {{4, 5}, {8, 10}, {12, 15}})
  assertTensor(tycho.tensor{1, -1}:outer(tycho.tensor{2}), {{2}, {-2}})
end

function TestLinalg:test_outer_flattens_and_handles_views()
  -- NumPy outer flattens its inputs (C order of the view)
  assertTensor(tycho.outer(m22(), tycho.tensor{1, 10}), {{1, 10}, {2, 20}, {3, 30}, {4, 40}})
  assertTensor(tycho.outer(m22().T, tycho.tensor{1}), {{1}, {3}, {2}, {4}})
  assertTensor(tycho.outer(tycho.tensor{2}, a23():select(2, 2)), {{2, 8}})
end

function TestLinalg:test_small_products_of_views_equal_contiguous()
  local a = tycho.arange(12):view(3, 4)
  local b = tycho.tensor{{1, 2, 0}, {0, 1, 1}, {3, 0, 1}, {1, 1, 1}}
  local at = a.T                             -- (4,3) transposed
  local an = a:narrow(2, 2, 3)               -- (3,3) narrowed
  lu.assertTrue(tycho.matmul(at, a):equal(tycho.matmul(at:contiguous(), a)))
  lu.assertTrue(tycho.matmul(an, b:narrow(1, 1, 3)):equal(tycho.matmul(an:contiguous(), b:narrow(1, 1, 3):contiguous())))
  assertTensor(tycho.matmul(an, tycho.eye(3)), {{1, 2, 3}, {5, 6, 7}, {9, 10, 11}})
  assertTensor(at:dot(tycho.tensor{1, 0, 1}), {8, 10, 12, 14})
end

local function big_check(got, expect, tol)
  lu.assertEquals(got:shape(), table_shape(expect))
  local ok, where = deep(got:totable(), expect, tol or 1e-9, "product")
  lu.assertTrue(ok, where)
end

function TestLinalg:test_blas_product_matches_triple_loop()
  local A, B = lmat(40, 50, 1), lmat(50, 30, 2)
  big_check(tycho.matmul(tycho.tensor(A), tycho.tensor(B)), lmatmul(A, B))
end

function TestLinalg:test_small_products_of_every_layout_match_triple_loop()
  -- below BLAS's threshold: row-major b in vectors of four columns with a scalar tail,
  -- transposed b packed first, and dot products when b is too big to pack
  for _, mkn in ipairs({ { 1, 1, 1 }, { 3, 5, 7 }, { 2, 9, 5 }, { 4, 4, 4 }, { 5, 3, 6 }, { 1, 64, 64 } }) do
    local M, K, N = mkn[1], mkn[2], mkn[3]
    local A, B = lmat(M, K, M + N), lmat(K, N, K)
    local E = lmatmul(A, B)
    local At = tycho.tensor(ltranspose(A)).T
    local Bt = tycho.tensor(ltranspose(B)).T
    big_check(tycho.matmul(tycho.tensor(A), tycho.tensor(B)), E, 1e-12)
    big_check(tycho.matmul(tycho.tensor(A), Bt), E, 1e-12)
    big_check(tycho.matmul(At, Bt), E, 1e-12)
    big_check(tycho.matmul(At, tycho.tensor(B)), E, 1e-12)
  end
end

function TestLinalg:test_blas_transposed_views()
  local A, B = lmat(40, 50, 3), lmat(50, 30, 4)
  local At = tycho.tensor(ltranspose(A)):transpose() -- (40,50), column-major in memory
  local Bt = tycho.tensor(ltranspose(B)).T           -- (50,30)
  local E = lmatmul(A, B)
  big_check(tycho.matmul(At, tycho.tensor(B)), E)
  big_check(tycho.matmul(tycho.tensor(A), Bt), E)
  big_check(tycho.matmul(At, Bt), E)
  lu.assertTrue(tycho.matmul(At, Bt):equal(tycho.matmul(At:contiguous(), Bt:contiguous())))
end

function TestLinalg:test_blas_narrowed_and_strided_views()
  local A, B = lmat(45, 60, 5), lmat(50, 35, 6)
  local An = tycho.tensor(A):narrow(1, 3, 40):narrow(2, 6, 50)  -- rows 3..42, cols 6..55
  local Bn = tycho.tensor(B):narrow(2, 2, 30)                   -- cols 2..31
  local As, Bs = {}, {}
  for i = 1, 40 do As[i] = {} for j = 1, 50 do As[i][j] = A[i + 2][j + 5] end end
  for i = 1, 50 do Bs[i] = {} for j = 1, 30 do Bs[i][j] = B[i][j + 1] end end
  local E = lmatmul(As, Bs)
  big_check(tycho.matmul(An, Bn), E)
  big_check(tycho.matmul(An:contiguous(), Bn:contiguous()), E)
  -- every other element in both directions: no BLAS layout, goes through a copy
  local W = tycho.zeros(40, 2, 50, 2)
  W:select(4, 1):select(2, 1):copy_(tycho.tensor(As))
  local Aw = W:select(4, 1):select(2, 1)
  big_check(tycho.matmul(Aw, Bn), E)
end

function TestLinalg:test_blas_matrix_vector()
  local A = lmat(60, 50, 7)
  local x = {}
  for k = 1, 50 do x[k] = ((k * 3) % 7 - 3) / 4 end
  local e = {}
  for i = 1, 60 do
    local s = 0
    for k = 1, 50 do s = s + A[i][k] * x[k] end
    e[i] = s
  end
  local tx = tycho.tensor(x)
  big_check(tycho.matmul(tycho.tensor(A), tx), e)
  big_check(tycho.tensor(ltranspose(A)).T:dot(tx), e)
  -- strided vector: a column of a matrix
  local X = tycho.zeros(50, 3)
  X:select(2, 2):copy_(tx)
  big_check(tycho.tensor(A):dot(X:select(2, 2)), e)
  -- vector times matrix: x^T A^T = (A x)^T
  big_check(tx:dot(tycho.tensor(ltranspose(A))), e)
end

function TestLinalg:test_blas_batched()
  local A1, A2, B = lmat(40, 50, 8), lmat(40, 50, 9), lmat(50, 30, 10)
  local a = tycho.zeros(2, 40, 50)
  a[1] = tycho.tensor(A1)
  a[2] = tycho.tensor(A2)
  local r = tycho.matmul(a, tycho.tensor(B))
  lu.assertEquals(r:shape(), {2, 40, 30})
  big_check(r[1], lmatmul(A1, B))
  big_check(r[2], lmatmul(A2, B))
end

function TestLinalg:test_shape_mismatch_errors()
  local a = tycho.ones(2, 3)
  assertErrorWith({ "matmul", "2x3" }, tycho.matmul, a, a)
  assertErrorWith({ "matmul", "2x3", "4x2" }, tycho.matmul, a, tycho.ones(4, 2))
  assertErrorWith({ "dot", "3", "2" }, tycho.dot, tycho.ones(3), tycho.ones(2))
  assertErrorWith({ "2x3", "2" }, function() return a:dot(tycho.ones(2)) end)
  assertErrorWith({ "matmul", "2x2x3", "2x2" }, tycho.matmul, tycho.ones(2, 2, 3), tycho.ones(2, 2))
end

-- ---- functions ---------------------------------------------------------------------------

TestFunctions = {}

local function vals() return tycho.tensor{-1, 0, 0.5, 2} end
local function map(xs, f) local r = {} for i, x in ipairs(xs) do r[i] = f(x) end return r end
local X = {-1, 0, 0.5, 2}

function TestFunctions:test_tanh()
  local e = map(X, function(x) return (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1) end)
  assertTensor(vals():tanh(), e, 1e-15)
  assertTensor(tycho.tanh(vals()), e, 1e-15)
end

function TestFunctions:test_sigmoid()
  local e = map(X, function(x) return 1 / (1 + math.exp(-x)) end)
  assertTensor(vals():sigmoid(), e, 1e-15)
  assertTensor(tycho.sigmoid(vals()), e, 1e-15)
  assertTensor(tycho.tensor{-1000, 1000}:sigmoid(), {0, 1}, 0)
end

function TestFunctions:test_exp_log()
  assertTensor(vals():exp(), map(X, math.exp), 1e-15)
  assertTensor(tycho.exp(tycho.tensor{0}), {1})
  local l = tycho.tensor{1, math.exp(1), 10, 0, -1}:log()
  assertTensor(l, {0, 1, math.log(10), -INF, NAN}, 1e-15)
  assertTensor(tycho.log(tycho.tensor{1}), {0})
end

function TestFunctions:test_sqrt_abs()
  assertTensor(tycho.tensor{4, 2, 0, -1}:sqrt(), {2, math.sqrt(2), 0, NAN}, 0)
  assertTensor(tycho.sqrt(tycho.tensor{9}), {3})
  assertTensor(vals():abs(), {1, 0, 0.5, 2})
  assertTensor(tycho.abs(tycho.tensor{{-3}}), {{3}})
end

function TestFunctions:test_pow()
  assertTensor(vals():pow(2), {1, 0, 0.25, 4})
  assertTensor(tycho.pow(tycho.tensor{4, 9}, 0.5), {2, 3})
  assertTensor(tycho.pow(2, tycho.tensor{0, 3, -1}), {1, 8, 0.5})
  assertTensor(tycho.pow(tycho.tensor{{2}, {3}}, tycho.tensor{1, 2}), {{2, 4}, {3, 9}})
end

function TestFunctions:test_clip()
  assertTensor(vals():clip(0, 1), {0, 0, 0.5, 1})
  assertTensor(tycho.clip(vals(), -0.5, 0.5), {-0.5, 0, 0.5, 0.5})
end

function TestFunctions:test_functions_on_views()
  local t = tycho.tensor{{-1, 4}, {9, -16}}
  assertTensor(t.T:abs(), {{1, 9}, {4, 16}})
  assertTensor(t:select(2, 2):abs():sqrt(), {2, 4})
  assertTensor(t.T:clip(0, 5), {{0, 5}, {4, 0}})
end

function TestFunctions:test_maximum_minimum()
  assertTensor(tycho.maximum(tycho.tensor{1, 5, 3}, 2), {2, 5, 3})
  assertTensor(tycho.minimum(tycho.tensor{1, 5, 3}, 2), {1, 2, 2})
  assertTensor(tycho.maximum(tycho.tensor{{1}, {4}}, tycho.tensor{2, 3}), {{2, 3}, {4, 4}})
  assertTensor(tycho.minimum(2, tycho.tensor{{1}, {4}}), {{1}, {2}})
end

function TestFunctions:test_maximum_minimum_propagate_nan()
  assertTensor(tycho.maximum(tycho.tensor{NAN, 1}, tycho.tensor{0, NAN}), {NAN, NAN})
  assertTensor(tycho.minimum(tycho.tensor{NAN, 1}, tycho.tensor{0, NAN}), {NAN, NAN})
end

function TestFunctions:test_where()
  local c = tycho.tensor{1, 0, 1}
  assertTensor(tycho.where(c, tycho.tensor{1, 2, 3}, tycho.tensor{10, 20, 30}), {1, 20, 3})
  assertTensor(tycho.where(tycho.tensor{{1}, {0}}, tycho.tensor{1, 2}, -1), {{1, 2}, {-1, -1}})
  assertTensor(tycho.where(tycho.tensor{0, -2}, 5, 6), {6, 5})
end

function TestFunctions:test_where_broadcast_error()
  assertErrorWith({ "where", "2x3", "4" }, tycho.where, tycho.ones(2, 3), tycho.ones(4), 0)
end

-- ---- reductions --------------------------------------------------------------------------

TestReduce = {}

local function r23() return tycho.tensor{{1, 5, 2}, {4, 3, 6}} end

function TestReduce:test_sum()
  local s = r23():sum()
  lu.assertEquals(type(s), "number")
  lu.assertEquals(s, 21)
  assertTensor(r23():sum(1), {5, 8, 8})
  assertTensor(r23():sum(2), {8, 13})
  assertTensor(r23():sum(-1), {8, 13})
  assertTensor(r23():sum(-2), {5, 8, 8})
  lu.assertEquals(tycho.sum(r23()), 21)
end

function TestReduce:test_mean()
  lu.assertEquals(r23():mean(), 3.5)
  assertTensor(r23():mean(1), {2.5, 4, 4})
  assertTensor(r23():mean(2), {8 / 3, 13 / 3}, 1e-15)
end

function TestReduce:test_max_min()
  lu.assertEquals(r23():max(), 6)
  assertTensor(r23():max(1), {4, 5, 6})
  assertTensor(r23():max(2), {5, 6})
  lu.assertEquals(r23():min(), 1)
  assertTensor(r23():min(1), {1, 3, 2})
  assertTensor(tycho.min(r23(), -1), {1, 3})
  lu.assertEquals(tycho.max(tycho.tensor{-3, -1, -2}), -1)
end

function TestReduce:test_argmax_argmin_1_based()
  local a = r23():argmax()
  lu.assertEquals(a, 6)
  lu.assertEquals(math.type(a), "integer")
  assertTensor(r23():argmax(1), {2, 1, 2})
  assertTensor(r23():argmax(2), {2, 3})
  lu.assertEquals(r23():argmin(), 1)
  assertTensor(r23():argmin(1), {1, 2, 1})
  assertTensor(r23():argmin(2), {1, 2})
end

function TestReduce:test_argmax_ties_first()
  lu.assertEquals(tycho.tensor{3, 1, 3}:argmax(), 1)
  lu.assertEquals(tycho.tensor{2, 1, 1}:argmin(), 2)
end

function TestReduce:test_nan_propagates_in_max()
  local t = tycho.tensor{1, NAN, 3}
  assertNear(t:max(), NAN)
  assertNear(t:min(), NAN)
  lu.assertEquals(t:argmax(), 2)
end

function TestReduce:test_norm()
  lu.assertEquals(tycho.tensor{3, 4}:norm(), 5)
  lu.assertEquals(tycho.tensor{{1, 2}, {2, 4}}:norm(), 5)
  lu.assertEquals(tycho.norm(tycho.tensor{{1, 2}, {2, 4}}.T), 5)
  lu.assertEquals(tycho.zeros(0):norm(), 0)
end

function TestReduce:test_reduce_3d_middle_dimension()
  local r = tycho.arange(24):view(2, 3, 4):sum(2) -- 36i + 12 + 3k
  assertTensor(r, {{12, 15, 18, 21}, {48, 51, 54, 57}})
  assertTensor(tycho.arange(24):view(2, 3, 4):max(-2), {{8, 9, 10, 11}, {20, 21, 22, 23}})
end

function TestReduce:test_reduce_1d_over_dimension_is_0d()
  local r = tycho.tensor{1, 2, 3}:sum(1)
  lu.assertTrue(tycho.is_tensor(r))
  lu.assertEquals(r:dim(), 0)
  lu.assertEquals(r:item(), 6)
  lu.assertEquals(tycho.tensor{1, 7, 3}:argmax(1):item(), 2)
end

function TestReduce:test_empty_sum_and_mean()
  lu.assertEquals(tycho.zeros(0):sum(), 0)
  assertTensor(tycho.zeros(2, 0):sum(2), {0, 0})
  lu.assertEquals(tycho.zeros(2, 0):sum(1):shape(), {0})
end

function TestReduce:test_empty_max_argmax_errors()
  local e = tycho.zeros(0)
  assertErrorWith({ "max", "empty" }, e.max, e)
  assertErrorWith({ "argmax", "empty" }, e.argmax, e)
  assertErrorWith({ "min", "empty" }, e.min, e)
  assertErrorWith({ "argmin", "empty" }, e.argmin, e)
  local z = tycho.zeros(0, 3)
  assertErrorWith({ "max", "0x3" }, z.max, z, 1)
  assertErrorWith({ "argmax", "0x3" }, z.argmax, z, 1)
  lu.assertEquals(z:max(2):shape(), {0})
end

function TestReduce:test_bad_dimension()
  local t = r23()
  assertErrorWith({ "sum", "dimension 3", "2x3" }, t.sum, t, 3)
  assertErrorWith({ "argmax", "dimension 0" }, t.argmax, t, 0)
  assertErrorWith({ "mean", "dimension -3" }, t.mean, t, -3)
end

-- ---- compare -----------------------------------------------------------------------------

TestCompare = {}

function TestCompare:test_allclose_default_tolerances()
  lu.assertTrue(tycho.allclose(tycho.tensor{1}, tycho.tensor{1 + 1e-6}))
  lu.assertFalse(tycho.allclose(tycho.tensor{1, 2}, tycho.tensor{1, 2.001}))
  lu.assertFalse(tycho.allclose(tycho.tensor{0}, tycho.tensor{1e-7})) -- atol 1e-8
  lu.assertTrue(tycho.allclose(tycho.tensor{0}, tycho.tensor{5e-9}))
  lu.assertTrue(tycho.allclose(tycho.ones(2, 2), 1))
  lu.assertTrue(m22():allclose(m22()))
end

function TestCompare:test_allclose_given_tolerances()
  local a, b = tycho.tensor{1.0}, tycho.tensor{1.1}
  lu.assertTrue(tycho.allclose(a, b, 0, 0.2))
  lu.assertFalse(tycho.allclose(a, b, 0, 0.05))
  lu.assertTrue(tycho.allclose(a, b, 0.2, 0))
  -- rtol scales |b| (NumPy): |1-0.5| <= 0.5*0.5 is false, |0.5-1| <= 0.5*1 is true
  lu.assertFalse(tycho.allclose(tycho.tensor{1}, tycho.tensor{0.5}, 0.5, 0))
  lu.assertTrue(tycho.allclose(tycho.tensor{0.5}, tycho.tensor{1}, 0.5, 0))
end

function TestCompare:test_allclose_nan_and_equal_inf()
  lu.assertFalse(tycho.allclose(tycho.tensor{NAN}, tycho.tensor{NAN}))
  lu.assertFalse(tycho.allclose(tycho.tensor{1}, tycho.tensor{NAN}))
  lu.assertTrue(tycho.allclose(tycho.tensor{INF, -INF}, tycho.tensor{INF, -INF}))
end

-- NumPy isclose: where x or y is not finite, the result is x == y (so inf is close only to
-- the same inf); the finite formula would give |x-y| = inf <= atol + rtol*inf = inf.
function TestCompare:test_allclose_opposite_infinities()
  lu.assertFalse(tycho.allclose(tycho.tensor{INF}, tycho.tensor{-INF}))
end

function TestCompare:test_allclose_finite_vs_inf()
  lu.assertFalse(tycho.allclose(tycho.tensor{1}, tycho.tensor{INF}))
  lu.assertFalse(tycho.allclose(tycho.tensor{INF}, tycho.tensor{1}))
end

function TestCompare:test_allclose_broadcast_error()
  assertErrorWith({ "allclose", "2x3", "4" }, tycho.allclose, tycho.ones(2, 3), tycho.ones(4))
end

function TestCompare:test_equal()
  lu.assertTrue(m22():equal(m22()))
  lu.assertFalse(m22():equal(tycho.tensor{{1, 2}, {3, 4.000001}}))
  lu.assertFalse(tycho.tensor{1, 2}:equal(tycho.tensor{{1, 2}}))
  lu.assertTrue(a23().T:equal(a23().T:contiguous()))
  lu.assertFalse(tycho.tensor{NAN}:equal(tycho.tensor{NAN}))
  lu.assertTrue(tycho.equal(tycho.zeros(0), tycho.zeros(0)))
end

-- ---- print, clock ------------------------------------------------------------------------

TestMisc = {}

function TestMisc:test_tostring_starts_with_tensor()
  lu.assertEquals(tostring(m22()):sub(1, 7), "tensor(")
  lu.assertEquals(tostring(tycho.tensor(1)):sub(1, 7), "tensor(")
  lu.assertEquals(tostring(a23().T):sub(1, 7), "tensor(")
  lu.assertEquals(tostring(tycho.zeros(2, 0)):sub(1, 7), "tensor(")
end

function TestMisc:test_clock_is_a_non_decreasing_number()
  local prev = tycho.clock()
  lu.assertEquals(math.type(prev), "float")
  for _ = 1, 1000 do
    local now = tycho.clock()
    lu.assertTrue(now >= prev)
    prev = now
  end
end

-- ---- errors ------------------------------------------------------------------------------

TestErrors = {}

function TestErrors:test_creation_argument_types()
  assertErrorWith({ "zeros" }, tycho.zeros, "a")
  assertErrorWith({ "zeros", "negative" }, tycho.zeros, -1)
  assertErrorWith({ "ones", "1.5" }, tycho.ones, 1.5)
  assertErrorWith({ "full" }, tycho.full, {2}, "x")
end

function TestErrors:test_method_argument_types()
  local t = tycho.ones(2, 3)
  -- called as users call them, so Lua knows the function's name
  assertErrorWith({ "narrow" }, function() return t:narrow("x") end)
  assertErrorWith({ "select" }, function() return t:select(1, "y") end)
  assertErrorWith({ "transpose" }, function() return t:transpose("a", 1) end)
  assertErrorWith({ "matmul", "tensor" }, function() return tycho.matmul(t, 3) end)
  assertErrorWith({ "matmul", "tensor" }, function() return t:matmul({}) end)
end

function TestErrors:test_arithmetic_with_string()
  local t = tycho.ones(2)
  assertErrorWith({ "tensor or number" }, function() return t + "s" end)
  assertErrorWith({ "tensor or number" }, function() return "s" * t end)
  assertErrorWith({ "tensor or number" }, function() return t:add_({}) end)
end

function TestErrors:test_index_zero_and_past_end()
  local t = tycho.tensor{1, 2, 3}
  assertErrorWith({ "index", "0", "size 3" }, function() return t[0] end)
  assertErrorWith({ "index", "4", "size 3" }, function() return t[4] end)
  assertErrorWith({ "index", "-4", "size 3" }, function() return t[-4] end)
  assertErrorWith({ "0", "size 3" }, function() t[0] = 1 end)
  assertErrorWith({ "4", "size 3" }, function() t[4] = 1 end)
  assertErrorWith({ "index", "1.5" }, function() return t[1.5] end)
end

function TestErrors:test_get_set_bad_indexes()
  local t = tycho.zeros(2, 3)
  assertErrorWith({ "get", "0", "size 2" }, t.get, t, 0, 1)
  assertErrorWith({ "get", "index 3", "size 2" }, t.get, t, 3, 1)
  assertErrorWith({ "get", "index 4", "size 3" }, t.get, t, 1, 4)
  assertErrorWith({ "get", "2x3" }, t.get, t, 1)
  assertErrorWith({ "set", "index 3", "size 2" }, t.set, t, 3, 1, 0)
end

function TestErrors:test_select_bad_indexes()
  local t = tycho.zeros(2, 3)
  assertErrorWith({ "select", "0", "size 2" }, t.select, t, 1, 0)
  assertErrorWith({ "select", "3", "size 2" }, t.select, t, 1, 3)
  assertErrorWith({ "select", "dimension 3", "2x3" }, t.select, t, 3, 1)
end

function TestErrors:test_narrow_bad_ranges()
  local t = tycho.zeros(2, 3)
  assertErrorWith({ "narrow", "size 2" }, t.narrow, t, 1, 0, 1)
  assertErrorWith({ "narrow", "size 3" }, t.narrow, t, 2, 3, 2)
  assertErrorWith({ "narrow", "size 3" }, t.narrow, t, 2, 1, -1)
  assertErrorWith({ "narrow", "dimension 3" }, t.narrow, t, 3, 1, 1)
end

function TestErrors:test_reshape_view_transpose_errors()
  local t = tycho.arange(6)
  assertErrorWith({ "reshape", "6", "4x2" }, t.reshape, t, 4, 2)
  assertErrorWith({ "view", "6" }, t.view, t, 4, -1)
  assertErrorWith({ "reshape", "-1" }, t.reshape, t, -1, -1)
  local m = t:view(2, 3)
  assertErrorWith({ "transpose", "dimension 3" }, m.transpose, m, 1, 3)
end

-- ---- __close -----------------------------------------------------------------------------

TestClose = {}

function TestClose:test_close_variable_works()
  local ran = false
  do
    local t <close> = tycho.ones(2)
    lu.assertEquals(t:sum(), 2)
    ran = true
  end
  lu.assertTrue(ran)
end

function TestClose:test_using_a_closed_tensor_is_an_error()
  local t = tycho.ones(2, 2)
  do local c <close> = t end -- luacheck: ignore
  assertErrorWith({ "closed" }, t.sum, t)
  assertErrorWith({ "closed" }, function() return t + 1 end)
  assertErrorWith({ "closed" }, function() return 1 - t end)
  assertErrorWith({ "closed" }, function() return t[1] end)
  assertErrorWith({ "closed" }, function() return #t end)
  assertErrorWith({ "closed" }, function() t[1] = 0 end)
  assertErrorWith({ "closed" }, t.shape, t)
  assertErrorWith({ "closed" }, tycho.matmul, t, t)
  assertErrorWith({ "closed" }, function() return t.T end)
  lu.assertEquals(type(tostring(t)), "string")
  do local again <close> = t end -- closing twice is harmless -- luacheck: ignore
end

function TestClose:test_view_survives_closing_its_parent()
  local v
  do
    local p <close> = tycho.arange(4)
    v = p:narrow(1, 2, 2)
  end
  collectgarbage("collect")
  assertTensor(v, {1, 2})
end

-- A closed tensor passed to tycho.tensor (which copies its argument) must raise an error; a
-- crash would take down the whole run, so it runs in a child interpreter.
function TestClose:test_tensor_of_closed_tensor_is_an_error_not_a_crash()
  local exe, i = "lua5.4", -1
  while arg and arg[i] do exe = arg[i]; i = i - 1 end
  local code = 'local tycho = require "tycho"; local t = tycho.ones(2); ' ..
               'do local c <close> = t end; local ok, e = pcall(tycho.tensor, t); ' ..
               'io.write(ok and "NOERROR" or ("ERROR " .. tostring(e)))'
  -- the child loads the same library as this run
  local p = io.popen("LUA_CPATH='" .. package.cpath .. "' " .. exe .. " -e '" .. code .. "' 2>&1")
  local out = p:read("a")
  local ok, how, status = p:close()
  lu.assertTrue(ok, ("child exited by %s %s: %s"):format(tostring(how), tostring(status), out))
  lu.assertStrContains(out, "ERROR")
  lu.assertStrContains(out, "closed")
end

-- ---- overlapping in-place operations (NumPy copies to a temporary when operands overlap) ---

TestOverlap = {}

function TestOverlap:test_add_shifted_1d()
  local x = tycho.arange(5) -- x[1:] += x[:-1] -> {0, 1, 3, 5, 7}
  x:narrow(1, 2, 4):add_(x:narrow(1, 1, 4))
  assertTensor(x, {0, 1, 3, 5, 7})
end

function TestOverlap:test_add_own_transpose()
  local t = m22() -- t += t.T -> {{2,5},{5,8}}
  t:add_(t.T)
  assertTensor(t, {{2, 5}, {5, 8}})
end

function TestOverlap:test_copy_own_transpose()
  local t = m22() -- t[...] = t.T
  t:copy_(t.T)
  assertTensor(t, {{1, 3}, {2, 4}})
end

function TestOverlap:test_copy_shifted_block()
  local a = tycho.arange(9):view(3, 3) -- a[1:3, 0:2] = a[0:2, 0:2]
  a:narrow(1, 2, 2):narrow(2, 1, 2):copy_(a:narrow(1, 1, 2):narrow(2, 1, 2))
  assertTensor(a, {{0, 1, 2}, {0, 1, 5}, {3, 4, 8}})
end

function TestOverlap:test_copy_shifted_contiguous()
  local x = tycho.arange(5) -- x[1:] = x[:-1]
  x:narrow(1, 2, 4):copy_(x:narrow(1, 1, 4))
  assertTensor(x, {0, 0, 1, 2, 3})
end

-- ---- more edges --------------------------------------------------------------------------

TestEdges = {}

function TestEdges:test_products_with_empty_inner_dimension()
  assertTensor(tycho.matmul(tycho.zeros(2, 0), tycho.zeros(0, 3)), {{0, 0, 0}, {0, 0, 0}})
  assertTensor(tycho.zeros(2, 0):dot(tycho.zeros(0)), {0, 0})
  lu.assertEquals(tycho.zeros(0):dot(tycho.zeros(0)), 0)
  lu.assertEquals(tycho.matmul(tycho.zeros(0, 3), tycho.ones(3, 2)):shape(), {0, 2})
end

function TestEdges:test_matmul_1d_1d_is_a_number()
  lu.assertEquals(tycho.matmul(tycho.tensor{1, 2, 3}, tycho.tensor{4, 5, 6}), 32)
end

function TestEdges:test_matmul_size_one_batch_broadcasts()
  local a = tycho.arange(6):view(1, 2, 3)            -- {{0,1,2},{3,4,5}}
  local b = tycho.zeros(2, 3, 1)
  b:select(1, 1):fill_(1)                            -- batch 1: ones, batch 2: {1,0,0}^T
  b:set(2, 1, 1, 1)
  assertTensor(tycho.matmul(a, b), {{{3}, {12}}, {{0}, {3}}})
  assertTensor(tycho.matmul(b:transpose(2, 3), a:select(1, 1).T), {{{3, 12}}, {{0, 3}}})
end

function TestEdges:test_matmul_permuted_3d()
  local p = tycho.arange(24):view(2, 3, 4):transpose(1, 3) -- (4,3,2): 12k + 4j + i
  local r = tycho.matmul(p, tycho.ones(2, 1))
  lu.assertEquals(r:shape(), {4, 3, 1})
  for i = 1, 4 do for j = 1, 3 do
    lu.assertEquals(r:get(i, j, 1), 12 + 8 * (j - 1) + 2 * (i - 1))
  end end
  lu.assertTrue(r:equal(tycho.matmul(p:contiguous(), tycho.ones(2, 1))))
end

function TestEdges:test_dot_nd_by_2d_is_matmul()
  local a = tycho.arange(12):view(2, 2, 3)
  local b = tycho.tensor{{1, 0}, {0, 1}, {1, 1}}
  -- dot(a, b)[i,j,k] = sum_m a[i,j,m] b[m,k]
  assertTensor(a:dot(b), {{{2, 3}, {8, 9}}, {{14, 15}, {20, 21}}})
end

function TestEdges:test_sum_long_and_strided()
  lu.assertEquals(tycho.arange(1000):sum(), 499500)
  local m = tycho.arange(2000):view(1000, 2)
  lu.assertEquals(m:select(2, 1):sum(), 999000)  -- 0 + 2 + ... + 1998
  lu.assertEquals(m:select(2, 2):sum(), 1000000) -- 1 + 3 + ... + 1999
  assertTensor(m:sum(1), {999000, 1000000})
  lu.assertEquals(m:mean(), 999.5)
end

function TestEdges:test_mean_over_empty_dimension_is_nan()
  assertTensor(tycho.zeros(2, 0):mean(2), {NAN, NAN})
end

function TestEdges:test_at_most_8_dimensions()
  assertErrorWith({ "zeros", "9 dimensions" }, tycho.zeros, 1, 1, 1, 1, 1, 1, 1, 1, 1)
  local t = tycho.ones(6)
  assertErrorWith({ "view", "9 dimensions" }, t.view, t, 1, 1, 1, 1, 1, 1, 1, 1, 6)
  lu.assertEquals(tycho.ones(1, 1, 1, 1, 1, 1, 1, 2):numel(), 2)
end

function TestEdges:test_negative_linspace_count()
  assertErrorWith({ "linspace", "-1" }, tycho.linspace, 0, 1, -1)
end

function TestEdges:test_too_large_shape_names_the_function()
  assertErrorWith({ "zeros" }, tycho.zeros, 2 ^ 30, 2 ^ 30)
  assertErrorWith({ "ones" }, tycho.ones, { 2 ^ 30, 2 ^ 30 })
end

function TestEdges:test_assign_row_from_its_own_parent()
  local t = a23()
  t[1] = t[2]            -- disjoint rows: plain copy
  assertTensor(t, {{3, 4, 5}, {3, 4, 5}})
end

function TestOverlap:test_assign_row_from_overlapping_column()
  local t = tycho.arange(9):view(3, 3) -- a[1] = a[:, 0] -> row 2 = {0, 3, 6}
  t[2] = t:select(2, 1)
  assertTensor(t, {{0, 1, 2}, {0, 3, 6}, {6, 7, 8}})
end
