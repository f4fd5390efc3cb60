-- tycho.plot: line plots through gnuplot (Debian: gnuplot-nox).
--   plot.lines("loss.png", { { y = losses, title = "train" },
--                            { x = steps, y = val, title = "validation", dashed = true } },
--              { xlabel = "step", ylabel = "loss", logy = true })
-- The file's extension picks the format: .png (gnuplot's pngcairo terminal) or .svg. A series'
-- y (and x, default 1, 2, ...) is a 1-d tensor or a Lua list of numbers. The data goes to
-- gnuplot inline; the image is written to a temporary file beside the target and renamed
-- into place when gnuplot succeeds. Disabled in the sandbox (it spawns a program).
local _, tycho, internal = ...
if type(tycho) ~= "table" then return require("tycho").plot end

local plot = {}

local SERIES = { x = true, y = true, title = true, dashed = true, color = true, width = true }
local OPTIONS = { title = "string", xlabel = "string", ylabel = "string", logx = "boolean",
                  logy = "boolean", size = "table", xrange = "table", yrange = "table",
                  key = "string" }

-- A gnuplot string literal: single quotes, a quote doubled.
local function quote(s) return "'" .. s:gsub("'", "''") .. "'" end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function list_of(v, what)
  if tycho.is_tensor(v) then
    if v:dim() ~= 1 then
      error(("plot.lines: %s must be a 1-d tensor or a list of numbers (got a %s tensor)"):format(what,
        table.concat(v:shape(), "x")), 4)
    end
    return v:totable()
  end
  if type(v) ~= "table" then
    error(("plot.lines: %s must be a 1-d tensor or a list of numbers (got %s)"):format(what, type(v)), 4)
  end
  local out = {}
  for i = 1, #v do
    local n = rawget(v, i)
    if type(n) ~= "number" then
      error(("plot.lines: %s[%d] must be a number (got %s)"):format(what, i, type(n)), 4)
    end
    out[i] = n
  end
  return out
end

local function number(v)
  if v ~= v then return "NaN" end
  if v == math.huge or v == -math.huge then return "NaN" end -- gnuplot skips it, as a gap
  return ("%.17g"):format(v)
end

local function gnuplot_path()
  local h = io.popen("command -v gnuplot 2>/dev/null")
  local path = h and h:read("l")
  if h then h:close() end
  return path and path ~= "" and path or nil
end

local function range(r, name)
  if #r ~= 2 or type(r[1]) ~= "number" or type(r[2]) ~= "number" then
    error(("plot.lines: %s must be {min, max} (two numbers)"):format(name), 4)
  end
  return ("[%s:%s]"):format(number(r[1]), number(r[2]))
end

-- The gnuplot script (with the data inline) for the plot.
local function script(kind, series, opts, tmp)
  local size = opts.size or { 900, 540 }
  if #size ~= 2 or math.type(size[1]) ~= "integer" or math.type(size[2]) ~= "integer" or
     size[1] < 16 or size[2] < 16 or size[1] > 10000 or size[2] > 10000 then
    error("plot.lines: size must be {width, height} in pixels (whole numbers in 16..10000)", 3)
  end
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  if kind == "png" then
    add(("set terminal pngcairo size %d,%d enhanced font 'sans,10'"):format(size[1], size[2]))
  else
    add(("set terminal svg size %d,%d enhanced font 'sans,10'"):format(size[1], size[2]))
  end
  add("set output " .. quote(tmp))
  add("set encoding utf8")
  add("set grid")
  if opts.title then add("set title " .. quote(opts.title) .. " noenhanced") end
  if opts.xlabel then add("set xlabel " .. quote(opts.xlabel) .. " noenhanced") end
  if opts.ylabel then add("set ylabel " .. quote(opts.ylabel) .. " noenhanced") end
  if opts.logx then add("set logscale x") end
  if opts.logy then add("set logscale y") end
  if opts.xrange then add("set xrange " .. range(opts.xrange, "xrange")) end
  if opts.yrange then add("set yrange " .. range(opts.yrange, "yrange")) end
  add("set key " .. (opts.key or "top right"))
  local specs = {}
  for i, s in ipairs(series) do
    local spec = ("'-' using 1:2 with lines lw %s dt %d"):format(number(s.width or 1.5), s.dashed and 2 or 1)
    if s.color then spec = spec .. " lc rgb " .. quote(s.color) end
    spec = spec .. (s.title and (" title " .. quote(s.title) .. " noenhanced") or " notitle")
    specs[i] = spec
  end
  add("plot " .. table.concat(specs, ", \\\n     "))
  for _, s in ipairs(series) do
    for j = 1, #s.y do add(number(s.x[j]) .. " " .. number(s.y[j])) end
    add("e")
  end
  add("unset output")
  return table.concat(lines, "\n") .. "\n"
end

--- plot.lines(path, series [, opts]): see the top of this file. Returns path.
function plot.lines(path, series, opts, extra)
  if extra ~= nil then error("plot.lines: takes at most 3 arguments (path, series, opts)", 2) end
  if not internal.files then error("plot.lines: disabled in the sandbox", 2) end
  if type(path) ~= "string" or path:find("\0", 1, true) then
    error("plot.lines: path must be a string (a .png or .svg file name)", 2)
  end
  local kind = path:lower():match("%.(png)$") or path:lower():match("%.(svg)$")
  if not kind then
    error(("plot.lines: %s: the file name must end in .png or .svg"):format(path), 2)
  end
  if type(series) ~= "table" or #series == 0 then
    error("plot.lines: series must be a non-empty list of {y = ..., x = ..., title = ...}", 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then error(("plot.lines: opts must be a table (got %s)"):format(type(opts)), 2) end
  for k, v in pairs(opts) do
    if not OPTIONS[k] then
      error(("plot.lines: unknown option %s (options: title, xlabel, ylabel, logx, logy, size, xrange, yrange, key)")
        :format(tostring(k)), 2)
    end
    if type(v) ~= OPTIONS[k] then error(("plot.lines: %s must be a %s (got %s)"):format(k, OPTIONS[k], type(v)), 2) end
  end
  local data = {}
  for i = 1, #series do
    local s = series[i]
    if type(s) ~= "table" then error(("plot.lines: series[%d] must be a table (got %s)"):format(i, type(s)), 2) end
    for k in pairs(s) do
      if not SERIES[k] then
        error(("plot.lines: series[%d]: unknown field %s (fields: x, y, title, dashed, color, width)"):format(i,
          tostring(k)), 2)
      end
    end
    if s.y == nil then error(("plot.lines: series[%d] has no y"):format(i), 2) end
    local y = list_of(s.y, ("series[%d].y"):format(i))
    local x
    if s.x ~= nil then
      x = list_of(s.x, ("series[%d].x"):format(i))
      if #x ~= #y then
        error(("plot.lines: series[%d] has %d x but %d y values"):format(i, #x, #y), 2)
      end
    else
      x = {}
      for j = 1, #y do x[j] = j end
    end
    if s.title ~= nil and type(s.title) ~= "string" then error(("plot.lines: series[%d].title must be a string"):format(i), 2) end
    if s.color ~= nil and type(s.color) ~= "string" then error(("plot.lines: series[%d].color must be a string such as \"#1f77b4\""):format(i), 2) end
    if s.width ~= nil and (type(s.width) ~= "number" or not (s.width > 0)) then error(("plot.lines: series[%d].width must be a positive number"):format(i), 2) end
    if #y == 0 then error(("plot.lines: series[%d] has no points"):format(i), 2) end
    data[i] = { x = x, y = y, title = s.title, dashed = s.dashed and true or false, color = s.color, width = s.width }
  end
  if opts.logy then
    for i, s in ipairs(data) do
      for j = 1, #s.y do
        if s.y[j] <= 0 then error(("plot.lines: logy needs positive values (series[%d].y[%d] is %s)"):format(i, j, number(s.y[j])), 2) end
      end
    end
  end
  local gnuplot = gnuplot_path()
  if not gnuplot then
    error("plot.lines: gnuplot is not installed (Debian: apt-get install gnuplot-nox)", 2)
  end
  local tmp = path .. ".tmp" .. tostring(math.random(1 << 30))
  local errfile = os.tmpname()
  local text = script(kind, data, opts, tmp)
  local h = io.popen(shell_quote(gnuplot) .. " >/dev/null 2>" .. shell_quote(errfile), "w")
  h:write(text)
  local ok = h:close()
  local ef = io.open(errfile, "r")
  local msg = ef and ef:read("a") or ""
  if ef then ef:close() end
  os.remove(errfile)
  local size_ok = false
  local f = io.open(tmp, "rb")
  if f then size_ok = f:seek("end") > 0 f:close() end
  if not ok or not size_ok then
    os.remove(tmp)
    error(("plot.lines: gnuplot could not write %s: %s"):format(path, msg:gsub("%s+$", "")), 2)
  end
  local renamed, err = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    error(("plot.lines: %s"):format(err), 2)
  end
  return path
end

return plot
