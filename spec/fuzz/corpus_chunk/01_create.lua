local t = tycho.tensor{{1, 2, 3}, {4, 5, 6}}
local z = tycho.zeros(2, 3) + tycho.ones{2, 3} * 2
local e = tycho.eye(3, 4)
local l = tycho.linspace(-1, 1, 7)
local a = tycho.arange(1, 10, 2)
print(t, z, e, l, a, tycho.full({2, 2}, 7), tycho.empty(0, 3), tycho.zeros_like(t))
