local t = tycho.tensor{{1.5, -2e-9}, {1e300, 0/0}}
print(tostring(t), t:totable()[2][1], t:get(1, 2), t:set(2, 2, 3), pcall(t.item, t))
print(tycho.tensor(3):item(), tycho.zeros{}, tycho.clock() >= 0, tycho.version)
local big = tycho.arange(2000):reshape(2, 10, 100)
print(big, big.T)
