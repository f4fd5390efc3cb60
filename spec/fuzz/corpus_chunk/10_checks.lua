local checks = require "tycho.checks"
tycho.random.seed(0)
local x = tycho.randn(3, 4)
local function f(t) return (t * t):sum() end
local num = checks.grad_check(f, x, nil)
print(checks.rel_error(num, x * 2), checks.rel_error(1, 1.0000001))
