-- my_spec.lua: a spec of your own computation (README, "Your own specs")
local lu = require "luaunit"
local tycho = require "tycho"
local checks = require "tycho.checks"

function test_softmax_rows_sum_to_one()
  local x = tycho.tensor{{1, 2, 3}, {0, 0, 0}}
  local e = (x - x:max()):exp()
  local p = e / e:sum(2):view(2, 1)
  lu.assertTrue(tycho.allclose(p:sum(2), tycho.ones(2)))
  lu.assertAlmostEquals(p:get(2, 1), 1 / 3, 1e-12)
end

function test_gradient_of_a_square()
  local x = tycho.tensor{1, -2, 3}
  local num = checks.grad_check(function(v) return (v * v):sum() end, x)
  lu.assertTrue(checks.rel_error(num, x * 2) < 1e-8)
end

os.exit(lu.LuaUnit.run())
