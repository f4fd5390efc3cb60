local ok, err = pcall(tycho.zeros, 4096, 4096)
print(ok, err)
local keep = {}
for i = 1, 100 do keep[i] = tycho.rand(100, 10) end
local s = string.rep("x", 1 << 20)
print(collectgarbage("count"), #s, pcall(string.rep, "y", 1 << 30))
