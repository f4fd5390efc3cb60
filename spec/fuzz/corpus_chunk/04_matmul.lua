local a = tycho.rand(3, 4)
local b = tycho.randn(4, 2)
local c = tycho.matmul(a, b)
local d = a:dot(b) - c
local batch = tycho.matmul(tycho.ones(5, 3, 4), tycho.ones(4, 6))
print(c, d:abs():max(), batch:shape()[1], tycho.outer(tycho.arange(3), tycho.arange(2)))
print(a.T:matmul(a), tycho.arange(4):dot(tycho.arange(4)))
