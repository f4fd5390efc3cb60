local a = tycho.arange(6):reshape(2, 3, 1)
local b = tycho.arange(4):reshape(1, 4)
local c = a * b - 1 / (b + 1) + 2 ^ a
c:add_(tycho.ones(3, 1)):mul_(0.5):div_(3):sub_(c:narrow(3, 1, 1))
print(c:sum(), c:mean(2), c:max(-1), c:argmax(1), c:min(), c:norm())
