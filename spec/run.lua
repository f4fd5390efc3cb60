-- Runs every spec file given on the command line (default: spec/*_spec.lua) in one LuaUnit
-- run and ends with the plain line "N passed, N failed". Each file gets its own globals.
local files = {}
local extra_passed, extra_failed = 0, 0
local luaunit_args = { "-o", "text" }
for _, a in ipairs(arg) do
  local p, f = a:match("^%-%-extra=(%d+),(%d+)$")
  if p then
    extra_passed, extra_failed = extra_passed + tonumber(p), extra_failed + tonumber(f)
  elseif a:match("%.lua$") then
    files[#files + 1] = a
  else
    luaunit_args[#luaunit_args + 1] = a
  end
end
-- LuaUnit reads its options from the global arg when it is loaded.
local script_args = arg
arg = luaunit_args
local lu = require "luaunit"
arg = script_args

if #files == 0 then
  local ls = io.popen("ls spec/*_spec.lua")
  for line in ls:lines() do files[#files + 1] = line end
  ls:close()
end

-- Load each file in an environment of its own, so test names never collide across files.
local tests = {}
for _, file in ipairs(files) do
  local env = setmetatable({}, { __index = _G })
  local chunk, err = loadfile(file, "t", env)
  if not chunk then error(err, 0) end
  chunk()
  local names = {}
  for k, v in pairs(env) do
    if type(k) == "string" and (k:match("^[Tt]est") and (type(v) == "table" or type(v) == "function")) then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  local base = file:match("([^/]+)_spec%.lua$") or file
  for _, k in ipairs(names) do tests[#tests + 1] = { base .. "/" .. k, env[k] } end
end

local runner = lu.LuaUnit.new()
runner:runSuiteByInstances(tests)
local r = runner.result
local passed = r.successCount + extra_passed
local failed = r.notSuccessCount + extra_failed
for _, t in ipairs(r.skippedTests or {}) do print(("skipped %s: %s"):format(t.testName, t.msg)) end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and r.runCount > 0 and 0 or 1, true) -- close the state: leak checkers see a clean exit
