-- tycho.plot (line plots through gnuplot) and tycho.progress (progress bars): the PNG's
-- signature and size, the series an SVG holds, the lines a bar writes on a terminal and to a
-- log, every error, and both refused in the sandbox.
local lu = require "luaunit"
local tycho = require "tycho"
local plot = require "tycho.plot"
local support = require "spec.support"

local assert_error = support.assert_error

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. support.q(d)))
  return d
end

-- Under AddressSanitizer the engine runs with libasan preloaded, and gnuplot would inherit it
-- (its own leaks then fail it); plot.lua is Lua only, so nothing sanitizable is skipped.
local function skip_under_asan()
  if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then lu.skip("gnuplot would run with libasan preloaded") end
end

local function be32(s, at) return s:byte(at) << 24 | s:byte(at + 1) << 16 | s:byte(at + 2) << 8 | s:byte(at + 3) end

function test_png_signature_and_size()
  skip_under_asan()
  local d = tmpdir()
  local path = d .. "/loss.png"
  lu.assertEquals(plot.lines(path, { { y = tycho.linspace(2, 1, 40), title = "train" },
                                     { x = { 1, 20, 40 }, y = { 1.9, 1.5, 1.2 }, title = "validation", dashed = true } },
                             { xlabel = "step", ylabel = "loss", logy = true, title = "it's a loss" }), path)
  local png = support.slurp(path)
  lu.assertEquals(png:sub(1, 8), "\137PNG\r\n\26\n")
  lu.assertEquals(png:sub(13, 16), "IHDR")
  lu.assertEquals({ be32(png, 17), be32(png, 21) }, { 900, 540 })
  plot.lines(path, { { y = { 1, 2 } } }, { size = { 320, 200 } }) -- replaces the old file
  png = support.slurp(path)
  lu.assertEquals({ be32(png, 17), be32(png, 21) }, { 320, 200 })
  local ls = io.popen("ls " .. support.q(d)):read("a")
  lu.assertEquals(ls, "loss.png\n", "no temporary file left")
  os.execute("rm -rf " .. support.q(d))
end

function test_svg_holds_one_group_per_series()
  skip_under_asan()
  local path = os.tmpname() .. ".svg"
  plot.lines(path, { { y = { 1, 2, 3 }, title = "a" }, { y = tycho.tensor { 3, 2, 1 }, title = "b" },
                     { y = { 2, 2, 2 }, dashed = true, color = "#ff0000" } })
  local svg = support.slurp(path)
  os.remove(path)
  local n = 0
  for _ in svg:gmatch('<g id="gnuplot_plot_%d+"') do n = n + 1 end
  lu.assertEquals(n, 3)
  lu.assertStrContains(svg, "<title>a</title>")
  lu.assertStrContains(svg, "<title>b</title>")
end

function test_plot_errors()
  local ok = { { y = { 1, 2 } } }
  assert_error(function() plot.lines("/tmp/x.jpg", ok) end, "must end in .png or .svg")
  assert_error(function() plot.lines("/tmp/x.png", {}) end, "non-empty list")
  assert_error(function() plot.lines("/tmp/x.png", ok, { colour = 1 }) end, "unknown option colour")
  assert_error(function() plot.lines("/tmp/x.png", { { y = { 1 }, z = 2 } }) end, "series[1]: unknown field z")
  assert_error(function() plot.lines("/tmp/x.png", { { x = { 1 }, y = { 1, 2 } } }) end, "1 x but 2 y")
  assert_error(function() plot.lines("/tmp/x.png", { { y = { 1, "a" } } }) end, "series[1].y[2] must be a number")
  assert_error(function() plot.lines("/tmp/x.png", { { y = tycho.zeros(2, 2) } }) end, "1-d tensor")
  assert_error(function() plot.lines("/tmp/x.png", { { y = { 1, 0 } } }, { logy = true }) end, "logy needs positive")
  assert_error(function() plot.lines("/tmp/x.png", ok, {}, 1) end, "at most 3")
  assert_error(function() plot.lines("/nonexistent/dir/x.png", ok) end, "gnuplot could not write /nonexistent/dir/x.png")
end

function test_plot_without_gnuplot_says_what_to_install()
  local out, err, code = support.run { "env", "PATH=/nonexistent", os.getenv("TYCHO_BUILD") .. "/tycho", "-e",
    "require('tycho.plot').lines('/tmp/never.png', {{y = {1, 2}}})" }
  lu.assertEquals(code, 1, out .. err)
  lu.assertStrContains(err, "gnuplot is not installed (Debian: apt-get install gnuplot-nox)")
end

function test_plot_and_progress_are_refused_in_the_sandbox()
  for code, msg in pairs {
    ["require('tycho.plot').lines('/tmp/x.png', {{y = {1}}})"] = "plot.lines: disabled in the sandbox",
    ["tycho.progress(10)"] = "progress: disabled in the sandbox",
  } do
    local out, err, status = support.run { os.getenv("TYCHO_BUILD") .. "/tycho", "--sandbox", "-e", code }
    lu.assertEquals(status, 1, out .. err)
    lu.assertStrContains(err, msg)
  end
end

-- ---- progress ---------------------------------------------------------------------------------

local function capture(opts, steps)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  opts.stream = f
  local bar = tycho.progress(20, opts)
  for _, s in ipairs(steps) do bar:update(s[1], s[2]) end
  bar:finish()
  f:close()
  local text = support.slurp(path)
  os.remove(path)
  return text
end

function test_progress_to_a_log_writes_a_line_each_tenth()
  local steps = {}
  for i = 1, 20 do steps[i] = { i, { loss = 1 / i } } end
  local text = capture({ label = "train" }, steps)
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  lu.assertEquals(#lines, 10)
  lu.assertStrMatches(lines[1], "train 2/20  10%% .* it/s %d:%d%d<%d:%d%d  loss 0%.5")
  lu.assertStrMatches(lines[10], "train 20/20 100%% .*  loss 0%.05")
  lu.assertFalse(text:find("\r", 1, true) ~= nil, "no carriage return in a log")
end

function test_progress_on_a_terminal_redraws_one_line()
  local text = capture({ label = "t", terminal = true, width = 10 }, { { 5, { acc = "ok" } }, { 20 } })
  -- the first update draws, the last count always draws, and finish ends the line
  lu.assertStrContains(text, "\rt [##........] 5/20  25%")
  lu.assertStrContains(text, "\rt [##########] 20/20 100%")
  lu.assertStrContains(text, "  acc ok\27[K")
  lu.assertEquals(text:sub(-1), "\n")
  local n = select(2, text:gsub("\n", ""))
  lu.assertEquals(n, 1, "one line")
end

function test_progress_finish_without_reaching_the_total()
  local text = capture({ label = "x" }, { { 3 } })
  lu.assertStrMatches(text, "x 3/20  15%% .*\n")
  lu.assertEquals(select(2, text:gsub("\n", "")), 1)
end

function test_progress_errors()
  assert_error(function() tycho.progress(-1) end, "total must not be negative")
  assert_error(function() tycho.progress(1.5) end, "total must be a whole number")
  assert_error(function() tycho.progress("a") end, "total must be a whole number")
  assert_error(function() tycho.progress(3, { lable = "x" }) end, "unknown option lable")
  assert_error(function() tycho.progress(3, { label = 1 }) end, "label must be a string")
  assert_error(function() tycho.progress(3, { width = 0 }) end, "width must be a whole number in 1..200")
  assert_error(function() tycho.progress(3, {}, 1) end, "at most 2")
  local bar = tycho.progress(3, { terminal = false, stream = io.open("/dev/null", "w") })
  assert_error(function() bar:update(4) end, "i must be in 0..3")
  bar:update(2)
  assert_error(function() bar:update(1) end, "i must be in 2..3")
  assert_error(function() bar:update(3, { loss = {} }) end, "field loss must be a number or a string")
  assert_error(function() bar:update(3, 1) end, "fields must be a table")
  assert_error(function() bar.update(nil, 1) end, "bar:update")
  bar:finish()
  assert_error(function() bar:update(3) end, "the bar was finished")
end
