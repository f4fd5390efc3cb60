-- tycho.progress(total [, opts]): a progress bar for loops that run long.
--   local bar = tycho.progress(n, { label = "train" })
--   for i = 1, n do ...; bar:update(i, { loss = loss }) end
--   bar:finish()
-- On a terminal: one line redrawn in place (label, bar, count, rate, ETA, the fields), at most
-- ten times a second. Otherwise (a log file, a pipe): a plain line each tenth of the way.
-- Options: label (a string), stream (a Lua file, default io.stderr), terminal (true or false:
-- force the kind of output; default: whether stream is a terminal), width (bar characters).
local _, tycho, internal = ...
if type(tycho) ~= "table" then return require("tycho").progress end

local Bar = {}
Bar.__index = Bar
Bar.__name = "tycho.progress"

local OPTIONS = { label = "string", stream = "userdata", terminal = "boolean", width = "number" }

local function clock() return tycho.clock() end

-- "1:02:03", "2:03" or "0:05"
local function hms(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  local h, m = s // 3600, s % 3600 // 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s % 60) end
  return ("%d:%02d"):format(m, s % 60)
end

local function number(v)
  if math.type(v) == "integer" then return tostring(v) end
  return ("%.4g"):format(v)
end

local function fields_text(fields)
  if not fields then return "" end
  local keys = {}
  for k in pairs(fields) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = fields[k]
    parts[#parts + 1] = ("%s %s"):format(k, type(v) == "number" and number(v) or tostring(v))
  end
  return #parts > 0 and ("  " .. table.concat(parts, "  ")) or ""
end

local function check_fields(fields, fname)
  if fields == nil then return nil end
  if type(fields) ~= "table" then
    error(("%s: fields must be a table such as {loss = 0.5} (got %s)"):format(fname, type(fields)), 3)
  end
  for k, v in pairs(fields) do
    if type(k) ~= "string" then error(("%s: field names must be strings (got %s)"):format(fname, type(k)), 3) end
    if type(v) ~= "number" and type(v) ~= "string" then
      error(("%s: field %s must be a number or a string (got %s)"):format(fname, k, type(v)), 3)
    end
  end
  return fields
end

-- The line for count i: label, [bar,] i/total, percent, rate, elapsed<ETA, fields.
function Bar:line(i, bar)
  local elapsed = clock() - self.start
  local rate = i > 0 and elapsed > 0 and i / elapsed or 0
  local eta = rate > 0 and (self.total - i) / rate or math.huge
  local pct = self.total > 0 and 100 * i / self.total or 100
  local parts = {}
  if self.label then parts[#parts + 1] = self.label end
  if bar then
    local filled = self.total > 0 and math.floor(self.width * i / self.total + 1e-9) or self.width
    parts[#parts + 1] = "[" .. ("#"):rep(filled) .. ("."):rep(self.width - filled) .. "]"
  end
  parts[#parts + 1] = ("%d/%d %3.0f%%"):format(i, self.total, pct)
  parts[#parts + 1] = rate >= 100 and ("%.0f it/s"):format(rate) or rate >= 1 and ("%.2f it/s"):format(rate) or
                      rate > 0 and ("%.2f s/it"):format(1 / rate) or "- it/s"
  parts[#parts + 1] = ("%s<%s"):format(hms(elapsed), i >= self.total and "0:00" or hms(eta))
  return table.concat(parts, " ") .. fields_text(self.fields)
end

--- bar:update(i [, fields]): i items done (0..total, not decreasing); fields (a table of
-- numbers or strings, e.g. {loss = 0.5}) are shown after the counts until replaced.
function Bar:update(i, fields, extra)
  if getmetatable(self) ~= Bar then error("update: call it as bar:update(i [, fields])", 2) end
  if extra ~= nil then error("update: takes at most 2 arguments (i, fields)", 2) end
  if self.done then error("update: the bar was finished", 2) end
  if math.type(i) == nil then error(("update: i must be a number (got %s)"):format(type(i)), 2) end
  if i < self.count or i > self.total then
    error(("update: i must be in %d..%d (got %s)"):format(self.count, self.total, number(i)), 2)
  end
  self.fields = check_fields(fields, "update") or self.fields
  self.count = i
  local now = clock()
  if self.terminal then
    if now - self.drawn >= 0.1 or i == self.total then
      self.drawn = now
      self.stream:write("\r", self:line(i, true), "\27[K")
      self.stream:flush()
    end
  else
    local tenth = self.total > 0 and math.floor(10 * i / self.total) or 10
    if tenth > self.tenth then
      self.tenth = tenth
      self.printed = i
      self.stream:write(self:line(i, false), "\n")
      self.stream:flush()
    end
  end
end

--- bar:finish(): the last line (with the count reached) and a newline on a terminal.
function Bar:finish(extra)
  if getmetatable(self) ~= Bar then error("finish: call it as bar:finish()", 2) end
  if extra ~= nil then error("finish: takes no arguments", 2) end
  if self.done then return end
  self.done = true
  if self.terminal then
    self.stream:write("\r", self:line(self.count, true), "\27[K\n")
  elseif self.printed ~= self.count then
    self.stream:write(self:line(self.count, false), "\n")
  end
  self.stream:flush()
end

Bar.__close = function(self) self:finish() end

return function(total, opts, extra)
  if extra ~= nil then error("progress: takes at most 2 arguments (total, opts)", 2) end
  if not internal.files then error("progress: disabled in the sandbox", 2) end
  if math.type(total) ~= "integer" and not (type(total) == "number" and total == math.floor(total)) then
    error(("progress: total must be a whole number (got %s)"):format(type(total) == "number" and number(total) or type(total)), 2)
  end
  if total < 0 then error(("progress: total must not be negative (got %s)"):format(number(total)), 2) end
  opts = opts or {}
  if type(opts) ~= "table" then error(("progress: opts must be a table (got %s)"):format(type(opts)), 2) end
  for k, v in pairs(opts) do
    local want = OPTIONS[k]
    if not want then
      error(("progress: unknown option %s (options: label, stream, terminal, width)"):format(tostring(k)), 2)
    end
    if type(v) ~= want then error(("progress: %s must be a %s (got %s)"):format(k, want, type(v)), 2) end
  end
  local stream = opts.stream or io.stderr
  if io.type(stream) ~= "file" then error("progress: stream must be an open Lua file", 2) end
  local width = opts.width or 30
  if width ~= math.floor(width) or width < 1 or width > 200 then
    error(("progress: width must be a whole number in 1..200 (got %s)"):format(number(width)), 2)
  end
  local terminal = opts.terminal
  if terminal == nil then terminal = internal.isatty(stream) end
  return setmetatable({
    total = math.tointeger(total), label = opts.label, stream = stream, terminal = terminal,
    width = math.tointeger(width), start = clock(), drawn = -math.huge, count = 0, tenth = 0, printed = nil,
    done = false,
  }, Bar)
end
