-- own_spec_spec.lua: the README's example of a user's own LuaUnit spec (examples/my_spec.lua,
-- the same text as the README's block) runs with build/tycho and with stock lua5.4 and the
-- C module, as the README says; a copy with a wrong expectation fails, naming its line.
local lu = require "luaunit"
local support = require "spec.support"

local BUILD = os.getenv("TYCHO_BUILD") or "build"
local BIN = os.getenv("TYCHO_BIN") or (BUILD .. "/tycho")
-- stock lua5.4 with this build's C module (and, under check-asan, the sanitizer preload the
-- suite runs with, which the sanitized module needs)
local STOCK = "LUA_CPATH=" .. support.q(BUILD .. "/?.so;;") .. " lua5.4 "

local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

function test_the_readme_shows_the_example_file()
  local readme = support.slurp("README.md")
  local block = readme:match("```lua\n(%-%- my_spec%.lua:.-)```")
  lu.assertNotNil(block)
  lu.assertEquals(block, support.slurp("examples/my_spec.lua"))
end

function test_the_example_spec_passes_both_ways()
  for _, cmd in ipairs { support.q(BIN) .. " examples/my_spec.lua", STOCK .. "examples/my_spec.lua" } do
    local out, code = sh(cmd)
    lu.assertEquals(code, 0, cmd .. "\n" .. out)
    lu.assertStrContains(out, "Ran 2 tests", false, cmd)
    lu.assertStrContains(out, "OK", false, cmd)
  end
  local out, code = sh(support.q(BIN) .. " examples/my_spec.lua -v test_gradient_of_a_square")
  lu.assertEquals(code, 0, out)
  lu.assertStrContains(out, "test_gradient_of_a_square ... Ok")
  lu.assertStrContains(out, "Ran 1 tests")
end

function test_a_wrong_expectation_fails_with_its_line()
  local text = support.slurp("examples/my_spec.lua"):gsub("1 / 3, 1e%-12", "0.3, 1e-12")
  local path = support.tmpfile(text)
  for _, cmd in ipairs { support.q(BIN) .. " " .. path, STOCK .. path } do
    local out, code = sh(cmd)
    lu.assertEquals(code, 1, cmd .. "\n" .. out)
    lu.assertStrContains(out, path .. ":11: ", false, cmd)
    lu.assertStrContains(out, "1 failure", false, cmd)
  end
  os.remove(path)
end
