-- spec/support.lua: small helpers the spec files share (files, shell quoting, tensor
-- values as a flat Lua list). `local support = require "spec.support"`.
local support = {}

--- s quoted for a POSIX shell.
function support.q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- The whole file at path, as bytes.
function support.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- A new temporary file holding contents; returns its path.
function support.tmpfile(contents)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(contents)
  f:close()
  return path
end

--- The values of a tensor in row-major order, as a Lua list (a 0-d tensor gives one value).
function support.flat(t)
  if t:dim() == 0 then return { t:item() } end
  local out = {}
  local function walk(x)
    if type(x) == "table" then
      for _, v in ipairs(x) do walk(v) end
    else
      out[#out + 1] = x
    end
  end
  walk(t:totable())
  return out
end

return support
