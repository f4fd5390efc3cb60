-- tables whose metamethods lie, as shapes and data
local c = 0
local liar = setmetatable({}, { __len = function() c = c + 1 return c == 1 and 1 or 100000 end,
                                __index = function() return 1 end })
print(pcall(tycho.tensor, liar), pcall(tycho.zeros, liar), pcall(tycho.ones(4).view, tycho.ones(4), liar))
print(pcall(tycho.ones(4).reshape, tycho.ones(4), setmetatable({}, { __len = function() return -1 end })))
print(tycho.tensor { { 1, 2 }, { 3, 4 } }, tycho.zeros { 2, 2 }:view { 4 })
local t = {} for i = 1, 200 do t[i] = {} for j = 1, 200 do t[i][j] = j end end
setmetatable({}, { __gc = function() t[1] = { 1 } end })
print(pcall(tycho.tensor, t))
