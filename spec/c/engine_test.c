/* engine_test.c: the tycho.h embedding API from a host's side: every error code with its
   message, copies in and out, zero-copy release, the memory and instruction limits, the
   sandbox. Counts one per test function; prints "N passed, N failed"; exit 1 on failure. */
#include <lua.h>
#include <lauxlib.h>

#include "tycho.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed, checks_failed;
static const char *current;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            checks_failed++;                                                               \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, current, \
                    #cond);                                                                \
        }                                                                                  \
    } while (0)

/* rc must be want; on a mismatch the engine's message says why. */
#define CHECK_RC(T, call, want)                                                              \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ != (want)) {                                                                 \
            checks_failed++;                                                                 \
            fprintf(stderr, "%s:%d: %s: %s gave %d, expected %d (%s)\n", __FILE__, __LINE__, \
                    current, #call, rc_, (want), tycho_error(T));                            \
        }                                                                                    \
    } while (0)

#define CONTAINS(s, sub) (strstr((s), (sub)) != NULL)

static void run_test(const char *name, void (*fn)(void))
{
    current = name;
    checks_failed = 0;
    fn();
    if (checks_failed) {
        failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else {
        passed++;
    }
}

static char *write_temp(const char *contents, size_t len)
{
    static char paths[8][64];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, 64, "/tmp/tycho_engine_test_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    if (write(fd, contents, len) != (ssize_t)len) path = NULL;
    close(fd);
    return path;
}

static void count_release(void *ud, double *data)
{
    (void)data;
    (*(int *)ud)++;
}

/* ---- opening, running, messages --------------------------------------------------------- */

static void test_open_close_and_null_engine(void)
{
    /* the library's version is the header's, in both forms */
    CHECK(strcmp(tycho_version(), TYCHO_VERSION) == 0);
    char num[32];
    snprintf(num, sizeof num, "%d.%d.%d", TYCHO_VERSION_NUM / 10000, TYCHO_VERSION_NUM / 100 % 100,
             TYCHO_VERSION_NUM % 100);
    CHECK(strcmp(num, TYCHO_VERSION) == 0);
    tycho *T = tycho_open(NULL);
    CHECK(T != NULL);
    CHECK(strcmp(tycho_error(T), "") == 0);
    CHECK(tycho_lua(T) != NULL);
    tycho_close(T);
    tycho_close(NULL);
    CHECK(tycho_error(NULL) != NULL);
    CHECK(tycho_lua(NULL) == NULL);
    CHECK(tycho_run_string(NULL, "x = 1", NULL) == TYCHO_ERR_ARG);
    CHECK(tycho_run_file(NULL, "x.lua") == TYCHO_ERR_ARG);
    double d = 1;
    int64_t shape[1] = { 1 };
    CHECK(tycho_set_tensor(NULL, "x", &d, 1, shape) == TYCHO_ERR_ARG);
    CHECK(tycho_wrap_tensor(NULL, "x", &d, 1, shape, NULL, NULL) == TYCHO_ERR_ARG);
    CHECK(tycho_get_tensor(NULL, "x", &d, 1, NULL, NULL) == TYCHO_ERR_ARG);
}

static void test_runs_share_globals_and_clear_the_error(void)
{
    tycho *T = tycho_open(NULL);
    CHECK_RC(T, tycho_run_string(T, "x = 1 + 1", "=smoke"), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "error('boom')", "=smoke"), TYCHO_ERR_RUN);
    CHECK_RC(T, tycho_run_string(T, "assert(x == 2)", NULL), TYCHO_OK);
    CHECK(strcmp(tycho_error(T), "") == 0);
    CHECK_RC(T, tycho_run_string(T, "assert(tycho == require 'tycho' and tycho.nn and tycho.checks)",
                                 NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "code is NULL"));
    tycho_close(T);
}

static void test_syntax_error(void)
{
    tycho *T = tycho_open(NULL);
    CHECK_RC(T, tycho_run_string(T, "x = = 1", "=smoke"), TYCHO_ERR_SYNTAX);
    CHECK(CONTAINS(tycho_error(T), "smoke:1:") && CONTAINS(tycho_error(T), "unexpected symbol"));
    CHECK_RC(T, tycho_run_string(T, "for", NULL), TYCHO_ERR_SYNTAX);
    CHECK(CONTAINS(tycho_error(T), "[string \"for\"]:1:"));
    CHECK_RC(T, tycho_run_string(T, "x = 1", NULL), TYCHO_OK);
    tycho_close(T);
}

static void test_runtime_error_has_a_traceback(void)
{
    tycho *T = tycho_open(NULL);
    CHECK_RC(T, tycho_run_string(T, "local function f() error('boom') end\nf()", "=smoke"),
             TYCHO_ERR_RUN);
    const char *msg = tycho_error(T);
    CHECK(CONTAINS(msg, "smoke:1: boom"));
    CHECK(CONTAINS(msg, "stack traceback:"));
    CHECK(CONTAINS(msg, "smoke:2: in main chunk"));
    CHECK_RC(T, tycho_run_string(T, "local _ = tycho.zeros(2) + tycho.zeros(3)", "=smoke"), TYCHO_ERR_RUN);
    CHECK(CONTAINS(tycho_error(T), "smoke:1:"));
    CHECK_RC(T, tycho_run_string(T, "error({})", NULL), TYCHO_ERR_RUN);
    CHECK(CONTAINS(tycho_error(T), "(error object is a table value)"));
    CHECK_RC(T, tycho_run_string(T, "error(setmetatable({}, {__tostring = function() "
                                    "return 'custom' end}))", NULL), TYCHO_ERR_RUN);
    CHECK(strcmp(tycho_error(T), "custom") == 0);
    CHECK_RC(T, tycho_run_string(T, "error(42)", NULL), TYCHO_ERR_RUN);
    CHECK(CONTAINS(tycho_error(T), "42"));
    tycho_close(T);
}

static void test_files(void)
{
    tycho *T = tycho_open(NULL);
    CHECK_RC(T, tycho_run_file(T, "/nonexistent/x.lua"), TYCHO_ERR_FILE);
    CHECK(CONTAINS(tycho_error(T), "cannot open /nonexistent/x.lua"));
    const char ok[] = "#!/usr/bin/env tycho\ny = tycho.ones(3):sum()\n";
    char *path = write_temp(ok, sizeof ok - 1);
    CHECK(path != NULL);
    CHECK_RC(T, tycho_run_file(T, path), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "assert(y == 3)", NULL), TYCHO_OK);
    remove(path);
    const char bad[] = "y = \n";
    path = write_temp(bad, sizeof bad - 1);
    CHECK_RC(T, tycho_run_file(T, path), TYCHO_ERR_SYNTAX);
    remove(path);
    const char boom[] = "error('from file')\n";
    path = write_temp(boom, sizeof boom - 1);
    CHECK_RC(T, tycho_run_file(T, path), TYCHO_ERR_RUN);
    CHECK(CONTAINS(tycho_error(T), ":1: from file") && CONTAINS(tycho_error(T), "traceback"));
    remove(path);
    tycho_close(T);
}

/* ---- tensors in and out ------------------------------------------------------------------ */

static void test_set_and_get_copy(void)
{
    tycho *T = tycho_open(NULL);
    double a[6] = { 1, 2, 3, 4, 5, 6 }, out[6] = { 0 };
    int64_t shape[2] = { 2, 3 }, oshape[TYCHO_MAX_DIMS];
    int ndim = -1;
    CHECK_RC(T, tycho_set_tensor(T, "a", a, 2, shape), TYCHO_OK);
    a[0] = 100;   /* a copy: the engine does not see this */
    CHECK_RC(T, tycho_run_string(T, "b = a.T * 2", "=smoke"), TYCHO_OK);
    CHECK_RC(T, tycho_get_tensor(T, "b", out, 6, &ndim, oshape), TYCHO_OK);
    CHECK(ndim == 2 && oshape[0] == 3 && oshape[1] == 2);
    CHECK(out[0] == 2 && out[1] == 8 && out[5] == 12);
    CHECK_RC(T, tycho_get_tensor(T, "b", out, 6, NULL, NULL), TYCHO_OK);
    /* 0-d and empty tensors */
    CHECK_RC(T, tycho_set_tensor(T, "s", a, 0, NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "assert(s:item() == 100 and s:dim() == 0)", NULL), TYCHO_OK);
    int64_t empty[2] = { 0, 4 };
    CHECK_RC(T, tycho_set_tensor(T, "e", NULL, 2, empty), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "assert(e:numel() == 0 and e:size(2) == 4)", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_get_tensor(T, "e", NULL, 0, &ndim, oshape), TYCHO_OK);
    CHECK(ndim == 2 && oshape[0] == 0 && oshape[1] == 4);
    tycho_close(T);
}

static void test_argument_errors(void)
{
    tycho *T = tycho_open(NULL);
    double a[6] = { 1, 2, 3, 4, 5, 6 }, out[6];
    int64_t shape[2] = { 2, 3 }, oshape[TYCHO_MAX_DIMS];
    int ndim = -1;
    CHECK_RC(T, tycho_set_tensor(T, "bad", a, 9, shape), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "tycho_set_tensor: ndim is 9 (must be 0..8)"));
    CHECK_RC(T, tycho_set_tensor(T, "bad", a, -1, shape), TYCHO_ERR_ARG);
    CHECK_RC(T, tycho_wrap_tensor(T, "bad", a, 9, shape, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "tycho_wrap_tensor: ndim is 9"));
    int64_t neg[1] = { -1 };
    CHECK_RC(T, tycho_set_tensor(T, "bad", a, 1, neg), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "negative"));
    CHECK_RC(T, tycho_set_tensor(T, NULL, a, 2, shape), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "global name is NULL"));
    CHECK_RC(T, tycho_wrap_tensor(T, NULL, a, 2, shape, NULL, NULL), TYCHO_ERR_ARG);
    CHECK_RC(T, tycho_get_tensor(T, NULL, out, 6, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "global name is NULL"));
    CHECK_RC(T, tycho_set_tensor(T, "bad", a, 2, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "shape is NULL"));
    CHECK_RC(T, tycho_set_tensor(T, "bad", NULL, 2, shape), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "data is NULL"));
    CHECK_RC(T, tycho_get_tensor(T, "x", NULL, 6, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "out is NULL"));
    CHECK_RC(T, tycho_run_string(T, "assert(bad == nil)", NULL), TYCHO_OK);

    /* get of something that is not a tensor */
    CHECK_RC(T, tycho_run_string(T, "n = 42; do local c <close> = tycho.ones(2); closed = c end",
                                 NULL), TYCHO_OK);
    CHECK_RC(T, tycho_get_tensor(T, "n", out, 6, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "global 'n' is not a tensor (a number value)"));
    CHECK_RC(T, tycho_get_tensor(T, "missing", out, 6, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "global 'missing' is not a tensor (a nil value)"));
    CHECK_RC(T, tycho_get_tensor(T, "closed", out, 6, NULL, NULL), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "closed tensor"));

    /* too small: an error, but the shape is filled in so the host can retry */
    CHECK_RC(T, tycho_set_tensor(T, "a", a, 2, shape), TYCHO_OK);
    CHECK_RC(T, tycho_get_tensor(T, "a", out, 5, &ndim, oshape), TYCHO_ERR_ARG);
    CHECK(CONTAINS(tycho_error(T), "'a' (2x3) has 6 elements but capacity is 5"));
    CHECK(ndim == 2 && oshape[0] == 2 && oshape[1] == 3);
    CHECK_RC(T, tycho_get_tensor(T, "a", out, 6, &ndim, oshape), TYCHO_OK);
    CHECK(strcmp(tycho_error(T), "") == 0);
    tycho_close(T);
}

static void test_wrap_is_zero_copy_and_released_once(void)
{
    tycho *T = tycho_open(NULL);
    double w[3] = { 1, 2, 3 };
    int64_t wshape[1] = { 3 };
    int released = 0;
    CHECK_RC(T, tycho_wrap_tensor(T, "w", w, 1, wshape, count_release, &released), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "w:mul_(10); v = w[2]; w = nil; collectgarbage()", NULL),
             TYCHO_OK);
    CHECK(w[0] == 10 && w[2] == 30);
    CHECK(released == 1);
    /* a view keeps the data alive; close releases what is left */
    CHECK_RC(T, tycho_wrap_tensor(T, "w2", w, 1, wshape, count_release, &released), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "keep = w2:narrow(1, 2, 2); w2 = nil; collectgarbage()",
                                 NULL), TYCHO_OK);
    CHECK(released == 1);
    CHECK_RC(T, tycho_wrap_tensor(T, "w3", w, 1, wshape, NULL, NULL), TYCHO_OK);
    tycho_close(T);
    CHECK(released == 2);
}

/* A sandboxed script cannot take the release away: the metatables are locked, so __gc can
   be neither removed (the data would leak past tycho_close, release never called) nor
   replaced; closing and collecting still release exactly once. */
static void test_scripts_cannot_stop_the_release(void)
{
    tycho_config cfg = { 0, 0, 1 };
    tycho *T = tycho_open(&cfg);
    double w[4] = { 1, 2, 3, 4 };
    int64_t shape[1] = { 4 };
    int released = 0;
    CHECK_RC(T, tycho_wrap_tensor(T, "w", w, 1, shape, count_release, &released), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "assert(not pcall(function() getmetatable(w).__gc = nil end))\n"
                                    "assert(getmetatable(w) == 'tycho.Tensor')\n"
                                    "assert(not pcall(setmetatable, w, {}))\n"
                                    "keep = w", NULL), TYCHO_OK);
    CHECK(released == 0);
    CHECK_RC(T, tycho_wrap_tensor(T, "w2", w, 1, shape, count_release, &released), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "do local c <close> = w2 end w2 = nil collectgarbage()", NULL),
             TYCHO_OK);
    CHECK(released == 1);
    tycho_close(T);
    CHECK(released == 2);
}

/* A finalizer that runs at tycho_close (Lua marks nothing new for finalization then) may
   not make a view of a wrapped buffer: it would hold the storage for good, and release
   would never be called. */
static void test_finalizers_at_close_release_wrapped_data(void)
{
    tycho *T = tycho_open(NULL);
    double w[4] = { 1, 2, 3, 4 };
    int64_t shape[1] = { 4 };
    int released = 0;
    CHECK_RC(T, tycho_wrap_tensor(T, "W", w, 1, shape, count_release, &released), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "keep = setmetatable({}, {__gc = function() V = W:view(2, 2) "
                                    "L = tycho.nn.RNNLayer(2, 3) end})", NULL), TYCHO_OK);
    tycho_close(T);
    CHECK(released == 1);
}

/* A wrap that fails for want of memory leaves the global as it was (an existing value, or
   none) and never calls release. */
static void test_failed_wrap_leaves_the_global_as_it_was(void)
{
    tycho *T = tycho_open(NULL);
    double a[2] = { 1, 2 };
    int64_t shape[1] = { 2 };
    int released_old = 0, released_new = 0, wrapped_new = 0, rc = TYCHO_ERR_MEMORY, failures = 0;
    char code[64];
    CHECK_RC(T, tycho_run_string(T, "old = 'kept'", NULL), TYCHO_OK);
    for (int n = 1; rc == TYCHO_ERR_MEMORY && n < 100; n++) {
        snprintf(code, sizeof code, "tycho.engine.fail_allocation(%d)", n);
        CHECK_RC(T, tycho_run_string(T, code, NULL), TYCHO_OK);
        rc = tycho_wrap_tensor(T, "old", a, 1, shape, count_release, &released_old);
        if (rc == TYCHO_ERR_MEMORY) {
            failures++;
            CHECK_RC(T, tycho_run_string(T, "assert(old == 'kept', tostring(old))", NULL), TYCHO_OK);
        }
        snprintf(code, sizeof code, "tycho.engine.fail_allocation(%d)", n);
        CHECK_RC(T, tycho_run_string(T, code, NULL), TYCHO_OK);
        int rc2 = tycho_wrap_tensor(T, "absent_before", a, 1, shape, count_release, &released_new);
        if (rc2 == TYCHO_OK) wrapped_new++;
        else CHECK_RC(T, tycho_run_string(T, "assert(absent_before == nil, tostring(absent_before))",
                                          NULL), TYCHO_OK);
        CHECK_RC(T, tycho_run_string(T, "absent_before = nil collectgarbage()", NULL), TYCHO_OK);
        CHECK(released_old == 0);
        CHECK(released_new == wrapped_new); /* exactly once for each wrap that succeeded */
    }
    CHECK(rc == TYCHO_OK && failures > 0);
    CHECK_RC(T, tycho_run_string(T, "assert(old:sum() == 3)", NULL), TYCHO_OK);
    tycho_close(T);
    CHECK(released_old == 1);
}

/* ---- memory ------------------------------------------------------------------------------- */

static void test_memory_limit_at_top_level_then_the_engine_works(void)
{
    tycho_config cfg = { 4u << 20, 0, 0 };
    tycho *T = tycho_open(&cfg);
    CHECK(T != NULL);
    CHECK_RC(T, tycho_run_string(T, "big = tycho.zeros(1000000)", NULL), TYCHO_ERR_MEMORY);   /* 8 MB */
    CHECK(strcmp(tycho_error(T), "not enough memory") == 0);
    CHECK_RC(T, tycho_run_string(T, "local s = {} for i = 1, 1e6 do s[i] = i end", NULL),
             TYCHO_ERR_MEMORY);
    CHECK_RC(T, tycho_run_string(T, "local s = string.rep('x', 1e7)", NULL), TYCHO_ERR_MEMORY);
    CHECK(CONTAINS(tycho_error(T), "not enough memory"));
    /* matmul's temporary copies fail inside the core, after the output exists */
    CHECK_RC(T, tycho_run_string(T, "m = tycho.ones(380, 380, 2):select(3, 1)", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "local p = tycho.matmul(m, m)", NULL), TYCHO_ERR_MEMORY);
    CHECK(CONTAINS(tycho_error(T), "not enough memory"));
    CHECK_RC(T, tycho_run_string(T, "m = nil", NULL), TYCHO_OK);
    /* caught inside, the script goes on */
    CHECK_RC(T, tycho_run_string(T, "local ok, e = pcall(tycho.zeros, 1000000)\n"
                                    "assert(not ok and e == 'not enough memory')", NULL),
             TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "small = tycho.zeros(1000); assert(small:sum() == 0)", NULL),
             TYCHO_OK);
    /* the host's own tensors count too */
    static double host[1000000];
    int64_t n[1] = { 1000000 };
    CHECK_RC(T, tycho_set_tensor(T, "h", host, 1, n), TYCHO_ERR_MEMORY);
    CHECK(CONTAINS(tycho_error(T), "not enough memory"));
    n[0] = 1000;
    CHECK_RC(T, tycho_set_tensor(T, "h", host, 1, n), TYCHO_OK);
    /* an error raised as "not enough memory" without any refused allocation is a script's */
    CHECK_RC(T, tycho_run_string(T, "error('not enough memory')", NULL), TYCHO_ERR_RUN);
    /* and so is one that mentions memory after a refused allocation was caught: the code
       comes from the error's status, never from its text */
    CHECK_RC(T, tycho_run_string(T, "pcall(tycho.zeros, 1000000)\n"
                                    "error('the model ran out: not enough memory for it')", NULL),
             TYCHO_ERR_RUN);
    CHECK(CONTAINS(tycho_error(T), "the model ran out: not enough memory for it"));
    /* a core temporary refused inside a script's pcall is a memory error there too */
    CHECK_RC(T, tycho_run_string(T, "m = tycho.ones(380, 380, 2):select(3, 1)\n"
                                    "local ok, e = pcall(tycho.matmul, m, m) m = nil\n"
                                    "assert(not ok and e == 'not enough memory', e)", NULL),
             TYCHO_OK);
    tycho_close(T);
    cfg.memory_limit = 1000;   /* not even room for the standard libraries */
    CHECK(tycho_open(&cfg) == NULL);
}

/* Every allocation of tycho_set_tensor, tycho_wrap_tensor and tycho_get_tensor fails in
   turn (armed from a script; the next tycho_run_* disarms it): each gives
   TYCHO_ERR_MEMORY, a failed wrap never calls release, and nothing leaks. */
static void test_memory_errors_inside_tensor_calls(void)
{
    tycho *T = tycho_open(NULL);
    double a[6] = { 1, 2, 3, 4, 5, 6 }, out[6];
    int64_t shape[2] = { 2, 3 };
    int released = 0, rc = TYCHO_ERR_MEMORY, n, failures = 0;
    char code[64];
    for (n = 1; rc == TYCHO_ERR_MEMORY && n < 100; n++) {
        snprintf(code, sizeof code, "tycho.engine.fail_allocation(%d)", n);
        CHECK_RC(T, tycho_run_string(T, code, NULL), TYCHO_OK);
        rc = tycho_set_tensor(T, "fresh_name_for_set", a, 2, shape);
        if (rc == TYCHO_ERR_MEMORY) {
            failures++;
            CHECK(strcmp(tycho_error(T), "not enough memory") == 0);
        }
    }
    CHECK(rc == TYCHO_OK && failures > 0);
    for (rc = TYCHO_ERR_MEMORY, n = 1; rc == TYCHO_ERR_MEMORY && n < 100; n++) {
        snprintf(code, sizeof code, "tycho.engine.fail_allocation(%d)", n);
        CHECK_RC(T, tycho_run_string(T, code, NULL), TYCHO_OK);
        rc = tycho_wrap_tensor(T, "fresh_name_for_wrap", a, 2, shape, count_release, &released);
        CHECK(released == 0);
    }
    CHECK(rc == TYCHO_OK);
    for (rc = TYCHO_ERR_MEMORY, n = 1; rc == TYCHO_ERR_MEMORY && n < 100; n++) {
        snprintf(code, sizeof code, "tycho.engine.fail_allocation(%d)", n);
        CHECK_RC(T, tycho_run_string(T, code, NULL), TYCHO_OK);
        rc = tycho_get_tensor(T, "fresh_name_for_set", out, 6, NULL, NULL);
    }
    CHECK(rc == TYCHO_OK && out[5] == 6);
    CHECK_RC(T, tycho_run_string(T, "assert(fresh_name_for_wrap:sum() == 21)", NULL), TYCHO_OK);
    tycho_close(T);
    CHECK(released == 1);
}

/* ---- the instruction limit ----------------------------------------------------------------- */

static void test_instruction_limit(void)
{
    tycho_config cfg = { 0, 100000, 0 };
    tycho *T = tycho_open(&cfg);
    CHECK_RC(T, tycho_run_string(T, "while true do end", "=loop"), TYCHO_ERR_LIMIT);
    CHECK(CONTAINS(tycho_error(T), "loop:1: instruction limit of 100000 exceeded"));
    CHECK(CONTAINS(tycho_error(T), "stack traceback:"));
    /* pcall, xpcall and coroutines cannot catch it */
    CHECK_RC(T, tycho_run_string(T, "while true do pcall(function() while true do end end) end",
                                 NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "local ok = pcall(function() while true do end end)\n"
                                    "caught = true", NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "while true do xpcall(function() while true do end end, "
                                    "function(m) return m end) end", NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "local co = coroutine.wrap(function() while true do end end)\n"
                                    "while true do pcall(co) end", NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "co = coroutine.create(function() for i = 1, 30000 do "
                                    "coroutine.yield(i) end end)", NULL), TYCHO_OK);
    /* a coroutine made in an earlier run is counted in this one */
    CHECK_RC(T, tycho_run_string(T, "while true do coroutine.resume(co) end", NULL),
             TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "assert(caught == nil)", NULL), TYCHO_OK);
    /* each run starts afresh: 70000 instructions fit, twice in a row in one run do not */
    CHECK_RC(T, tycho_run_string(T, "for i = 1, 70000 do end", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "for i = 1, 70000 do end", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "for i = 1, 140000 do end", NULL), TYCHO_ERR_LIMIT);
    /* tensor work between the limits is unaffected */
    CHECK_RC(T, tycho_run_string(T, "x = tycho.ones(100, 100):matmul(tycho.ones(100, 100))",
                                 NULL), TYCHO_OK);
    /* finalizers run outside the count, so scripts cannot make them */
    CHECK_RC(T, tycho_run_string(T, "setmetatable({}, {__gc = function() end})", NULL),
             TYCHO_ERR_RUN);
    CHECK(CONTAINS(tycho_error(T), "__gc metamethods are disabled under the instruction limit"));
    tycho_close(T);

    /* limits of separate engines are separate */
    tycho_config big = { 0, 10000000, 0 };
    tycho *A = tycho_open(&cfg), *B = tycho_open(&big);
    CHECK_RC(A, tycho_run_string(A, "for i = 1, 1000000 do end", NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(B, tycho_run_string(B, "for i = 1, 1000000 do end", NULL), TYCHO_OK);
    tycho_close(A);
    tycho_close(B);
}

/* A host function that runs a chunk of its own in the middle of a script's run. */
static int host_nested_run(lua_State *L)
{
    tycho *T = lua_touserdata(L, lua_upvalueindex(1));
    int rc = tycho_run_string(T, luaL_checkstring(L, 1), "=nested");
    lua_pushinteger(L, rc);
    return 1;
}

static void test_nested_run_shares_the_budget(void)
{
    tycho_config cfg = { 0, 100000, 0 };
    tycho *T = tycho_open(&cfg);
    lua_State *L = tycho_lua(T);
    lua_pushlightuserdata(L, T);
    lua_pushcclosure(L, host_nested_run, 1);
    lua_setglobal(L, "host_run");
    CHECK_RC(T, tycho_run_string(T, "assert(host_run('y = 5') == 0 and y == 5)", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "assert(host_run('error(1)') == 1)", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "for i = 1, 60000 do end; host_run('for i = 1, 60000 do end')"
                                    "; while true do end", NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "assert(host_run('while true do end') == 4)", NULL),
             TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "x = 1", NULL), TYCHO_OK);
    tycho_close(T);
}

/* ---- the sandbox ----------------------------------------------------------------------------- */

static void test_sandbox(void)
{
    tycho_config cfg = { 0, 0, 1 };
    tycho *T = tycho_open(&cfg);
    static const struct { const char *code, *msg; } refused[] = {
        { "io.open('/etc/passwd')", "io.open is disabled in the sandbox" },
        { "debug.getinfo(1)", "debug.getinfo is disabled in the sandbox" },
        { "os.execute('true')", "os.execute is disabled in the sandbox" },
        { "os.getenv('HOME')", "os.getenv is disabled in the sandbox" },
        { "dofile('/dev/null')", "dofile is disabled in the sandbox" },
        { "loadfile('/dev/null')", "loadfile is disabled in the sandbox" },
        { "string.dump(print)", "string.dump is disabled in the sandbox" },
        { "load('\\27Lua')", "load: binary chunks are disabled in the sandbox" },
        { "package.loadlib('x', 'y')", "package.loadlib is disabled in the sandbox" },
        { "require 'socket'", "require: module 'socket' not found (loading modules from files "
                              "is disabled in the sandbox)" },
        { "tycho.load('spec/fixtures/npy/f8_2x3.npy')", "load: disabled in the sandbox" },
        { "tycho.save('/tmp/tycho_never.npy', tycho.ones(1))", "save: disabled in the sandbox" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK_RC(T, tycho_run_string(T, refused[i].code, "=sandboxed"), TYCHO_ERR_RUN);
        if (!CONTAINS(tycho_error(T), refused[i].msg)) {
            checks_failed++;
            fprintf(stderr, "%s: %s gave: %s\n", current, refused[i].code, tycho_error(T));
        }
    }
    CHECK_RC(T, tycho_run_string(T, "local nn = require 'tycho.nn'\n"
                                    "local checks = require 'tycho.checks'\n"
                                    "h = nn.RNNLayer(3, 4):forward(tycho.ones(2, 5, 3), tycho.zeros(2, 4))\n"
                                    "t0 = os.time(); c = os.clock(); d = os.date('%Y')",
                                 NULL), TYCHO_OK);
    double out[40];
    int ndim;
    int64_t shape[TYCHO_MAX_DIMS];
    CHECK_RC(T, tycho_get_tensor(T, "h", out, 40, &ndim, shape), TYCHO_OK);
    CHECK(ndim == 3 && shape[2] == 4);

    /* the host may still run its own files */
    const char script[] = "from_file = tycho.ones(2):sum()\n";
    char *path = write_temp(script, sizeof script - 1);
    CHECK_RC(T, tycho_run_file(T, path), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "assert(from_file == 2)", NULL), TYCHO_OK);
    remove(path);

    /* but no bytecode, by string or by file */
    tycho *plain = tycho_open(NULL);
    CHECK_RC(plain, tycho_run_string(plain, "bc = string.dump(load('x = 1'))", NULL), TYCHO_OK);
    lua_State *PL = tycho_lua(plain);
    lua_getglobal(PL, "bc");
    size_t len;
    const char *bc = lua_tolstring(PL, -1, &len);
    path = write_temp(bc, len);
    CHECK_RC(plain, tycho_run_file(plain, path), TYCHO_OK);   /* outside the sandbox: fine */
    CHECK_RC(T, tycho_run_file(T, path), TYCHO_ERR_SYNTAX);
    CHECK(CONTAINS(tycho_error(T), "binary chunks are disabled in the sandbox"));
    CHECK_RC(T, tycho_run_string(T, bc, "=host"), TYCHO_ERR_SYNTAX);
    CHECK(strcmp(tycho_error(T), "host: binary chunks are disabled in the sandbox") == 0);
    remove(path);
    lua_pop(PL, 1);
    tycho_close(plain);
    tycho_close(T);
}

static void test_sandbox_with_limits(void)
{
    tycho_config cfg = { 32u << 20, 1000000, 1 };
    tycho *T = tycho_open(&cfg);
    CHECK_RC(T, tycho_run_string(T, "while true do end", NULL), TYCHO_ERR_LIMIT);
    CHECK_RC(T, tycho_run_string(T, "x = tycho.zeros(1e7)", NULL), TYCHO_ERR_MEMORY);
    CHECK_RC(T, tycho_run_string(T, "x = tycho.zeros(1e5):add_(1)", NULL), TYCHO_OK);
    CHECK_RC(T, tycho_run_string(T, "io.write('x')", NULL), TYCHO_ERR_RUN);
    tycho_close(T);
}

int main(void)
{
    run_test("open_close_and_null_engine", test_open_close_and_null_engine);
    run_test("runs_share_globals_and_clear_the_error", test_runs_share_globals_and_clear_the_error);
    run_test("syntax_error", test_syntax_error);
    run_test("runtime_error_has_a_traceback", test_runtime_error_has_a_traceback);
    run_test("files", test_files);
    run_test("set_and_get_copy", test_set_and_get_copy);
    run_test("argument_errors", test_argument_errors);
    run_test("wrap_is_zero_copy_and_released_once", test_wrap_is_zero_copy_and_released_once);
    run_test("scripts_cannot_stop_the_release", test_scripts_cannot_stop_the_release);
    run_test("failed_wrap_leaves_the_global_as_it_was", test_failed_wrap_leaves_the_global_as_it_was);
    run_test("finalizers_at_close_release_wrapped_data", test_finalizers_at_close_release_wrapped_data);
    run_test("memory_limit_at_top_level_then_the_engine_works",
             test_memory_limit_at_top_level_then_the_engine_works);
    run_test("memory_errors_inside_tensor_calls", test_memory_errors_inside_tensor_calls);
    run_test("instruction_limit", test_instruction_limit);
    run_test("nested_run_shares_the_budget", test_nested_run_shares_the_budget);
    run_test("sandbox", test_sandbox);
    run_test("sandbox_with_limits", test_sandbox_with_limits);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
