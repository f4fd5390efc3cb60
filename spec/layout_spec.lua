-- layout_spec.lua: the source tree keeps its layering (README, "Where things are"): every C
-- file lives in a layer's folder, and a file includes only headers of its own layer or of
-- the layers below it; only the binding and the host see Lua's headers.
local lu = require "luaunit"

-- Which layers each layer may include.
local MAY = {
  core = { core = true },
  nn = { core = true, nn = true },
  io = { core = true, io = true },
  lua = { core = true, nn = true, io = true, lua = true },
  host = { core = true, nn = true, io = true, lua = true, host = true },
}
local LUA_HEADERS = { ["lua.h"] = true, ["lauxlib.h"] = true, ["lualib.h"] = true, ["luaconf.h"] = true }

local function lines(cmd)
  local p = assert(io.popen(cmd))
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

function test_every_source_file_is_in_a_layer_folder()
  local stray = lines("find src -maxdepth 1 -type f")
  lu.assertEquals(stray, {}, "files directly in src/")
  for _, dir in ipairs(lines("find src -mindepth 1 -maxdepth 1 -type d | sort")) do
    lu.assertNotNil(MAY[dir:match("^src/(.*)$")], dir .. " is not a layer")
  end
end

function test_no_layer_includes_a_higher_one()
  local files = lines("find src -name '*.[ch]' | sort")
  lu.assertTrue(#files > 10)
  local checked = 0
  for _, path in ipairs(files) do
    local layer = path:match("^src/([^/]+)/")
    local f = assert(io.open(path))
    local n = 0
    for line in f:lines() do
      n = n + 1
      local quoted = line:match('^%s*#%s*include%s+"([^"]+)"')
      local angled = line:match("^%s*#%s*include%s+<([^>]+)>")
      if quoted then
        local target = quoted:match("^([^/]+)/")
        if quoted == "tycho.h" then target = "host" end
        lu.assertNotNil(target, ("%s:%d includes %q without its layer folder"):format(path, n, quoted))
        lu.assertTrue(MAY[layer][target] == true,
          ("%s:%d: %s/ includes %s (a higher layer)"):format(path, n, layer, quoted))
        checked = checked + 1
      elseif angled and LUA_HEADERS[angled] then
        lu.assertTrue(layer == "lua" or layer == "host",
          ("%s:%d: %s/ includes Lua's %s"):format(path, n, layer, angled))
      end
    end
    f:close()
  end
  lu.assertTrue(checked > 20)
end
