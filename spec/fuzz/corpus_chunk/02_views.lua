local t = tycho.arange(24):reshape(2, 3, 4)
local v = t:select(2, 3):narrow(2, 2, 2)
v:fill_(-1)
local u = t:transpose(1, 3):contiguous():view(4, -1)
print(t[2][-1], t.T:shape(), u:size(2), #t, t:dim(), t:numel())
t[1] = 0
t[2][1] = tycho.tensor{9, 8, 7, 6}
