-- spec/support.lua: small helpers the spec files share (files, shell quoting, errors that
-- must name their parts, tensor values as a flat Lua list).
-- `local support = require "spec.support"`.
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

--- Runs a command (a list of words, quoted here) with stdin from the text `input` (default
--- none: /dev/null), killed after `seconds` (default 120); returns stdout, stderr, exit code
--- and the seconds it took. An exit code of 124 means it ran out of time, 128 + n that
--- signal n ended it.
function support.run(words, seconds, input)
  local parts = { "timeout", "-k", "5", tostring(seconds or 120) }
  for _, w in ipairs(words) do parts[#parts + 1] = support.q(w) end
  local errpath = os.tmpname()
  local inpath = input and support.tmpfile(input) or "/dev/null"
  local clock = require("tycho").clock
  local t0 = clock()
  local p = assert(io.popen(table.concat(parts, " ") .. " <" .. inpath .. " 2>" .. errpath, "r"))
  local out = p:read("a")
  local _, _, code = p:close()
  local err = support.slurp(errpath)
  os.remove(errpath)
  if input then os.remove(inpath) end
  return out, err, code, clock() - t0
end

--- Asserts that fn() raises an error whose text holds every one of the given parts
--- (plain substrings); returns the error's text.
function support.assert_error(fn, ...)
  local lu = require "luaunit"
  local ok, err = pcall(fn)
  lu.assertFalse(ok, "expected an error")
  err = tostring(err)
  for _, part in ipairs({ ... }) do
    lu.assertTrue(err:find(part, 1, true) ~= nil, ("error %q lacks %q"):format(err, part))
  end
  return err
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
