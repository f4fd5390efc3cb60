-- bench/function_ulp.lua: the worst distance, in ulp, between tycho's elementwise functions
-- and NumPy's over a million inputs each (uniform over each function's domain, as in
-- spec/fixtures/functions). tycho computes and saves; bench/function_ulp.py compares.
local tycho = require "tycho"
local domains = {
  sin = { -40, 40 }, cos = { -40, 40 }, tan = { -10, 10 }, asin = { -1, 1 }, acos = { -1, 1 },
  atan = { -50, 50 }, sinh = { -20, 20 }, cosh = { -20, 20 }, log1p = { -0.999, 50 },
  expm1 = { -30, 30 }, log2 = { 1e-6, 1e6 }, log10 = { 1e-6, 1e6 }, exp = { -700, 700 },
  log = { 1e-300, 1e300 }, sqrt = { 0, 1e6 }, tanh = { -25, 25 }, sigmoid = { -40, 40 },
  floor = { -7.5, 7.5 }, ceil = { -7.5, 7.5 }, round = { -7.5, 7.5 }, trunc = { -7.5, 7.5 },
  sign = { -3, 3 }, square = { -1e3, 1e3 }, abs = { -3, 3 },
}
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir))
tycho.random.seed(7)
local names = {}
for name in pairs(domains) do names[#names + 1] = name end
table.sort(names)
for _, name in ipairs(names) do
  local lo, hi = table.unpack(domains[name])
  local x = tycho.random.rand(1000000) * (hi - lo) + lo
  tycho.save(dir .. "/" .. name .. "_x.npy", x)
  tycho.save(dir .. "/" .. name .. "_y.npy", x[name](x))
end
local ok = os.execute("/usr/bin/python3 bench/function_ulp.py " .. dir .. " " .. table.concat(names, ","))
os.execute("rm -rf " .. dir)
if not ok then os.exit(1) end
