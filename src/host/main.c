/* main.c: the `tycho` command: a stand-alone Lua 5.4 interpreter with tycho loaded, whose
   options, `arg` table, REPL, messages and exit codes follow the stock `lua` command. */
#include <lua.h>
#include <lauxlib.h>

#include "tycho.h"
#include "host/engine.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <readline/history.h>
#include <readline/readline.h>

#define PROGNAME "tycho"
#define PROMPT   "> "
#define PROMPT2  ">> "

/* A C signal handler reaches the interpreter only through a global, as in lua.c. */
static lua_State *volatile globalL = NULL;
/* Messages name the program, except inside the REPL (lua.c does the same). */
static const char *progname = PROGNAME;
/* How the REPL loads lines: source only in a sandbox, as the engine loads chunks. */
static const char *chunkmode = "bt";

static void lstop(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

/* Only sets a hook: a signal cannot touch a Lua state safely in any other way. */
static void laction(int sig)
{
    signal(sig, SIG_DFL);   /* a second Ctrl-C kills the process */
    lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void print_usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options] [script [args]]\n"
            "Available options are:\n"
            "  -e stat   execute string 'stat'\n"
            "  -i        enter interactive mode after executing 'script'\n"
            "  -l mod    require library 'mod' into global 'mod'\n"
            "  -l g=mod  require library 'mod' into global 'g'\n"
            "  -v        show version information\n"
            "  -E        ignore environment variables (LUA_INIT)\n"
            "  -W        turn warnings on\n"
            "  -h        show this help (also --help; --version is -v)\n"
            "  --sandbox          run scripts in the sandbox: no io, debug, os beyond\n"
            "                     clock/date/difftime/time, file loading, tycho.load/save\n"
            "  --mem-limit SIZE   cap Lua objects and tensor data at SIZE bytes (suffix\n"
            "                     K, M or G: 64M); past it allocations fail\n"
            "  --instr-limit N    end each chunk (script, -e, -l, REPL line) after N Lua VM\n"
            "                     instructions (an integer or 1e9 notation); pcall cannot\n"
            "                     catch it\n"
            "  --        stop handling options\n"
            "  -         stop handling options and execute stdin\n"
            "With no arguments: an interactive prompt if stdin is a terminal, else stdin\n"
            "runs as a script. The module `tycho` is preloaded as a global. Exit status: 0,\n"
            "or 1 after an error (also a usage error).\n",
            PROGNAME);
}

static void l_message(const char *pname, const char *msg)
{
    if (pname) fprintf(stderr, "%s: ", pname);
    fprintf(stderr, "%s\n", msg);
    fflush(stderr);
}

/* A Lua status with its message on the stack (REPL syntax errors, the pmain call). */
static int report_lua(lua_State *L, int status)
{
    if (status != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        l_message(progname, msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
    }
    return status;
}

/* A tycho code with its message in tycho_error. */
static int report(tycho *T, int rc)
{
    if (rc != TYCHO_OK) l_message(progname, tycho_error(T));
    return rc;
}

/* Calls the function below narg arguments as the engine runs a chunk (sandbox, limits,
   traceback), with Ctrl-C turned into a Lua error. Returns a tycho code. */
static int docall(tycho *T, int narg, int nres)
{
    globalL = tycho_lua(T);
    signal(SIGINT, laction);
    int rc = tycho_cli_call(T, narg, nres);
    signal(SIGINT, SIG_DFL);
    return rc;
}

static void print_version(void)
{
    printf("%s %s (%s)\n", PROGNAME, TYCHO_VERSION, LUA_RELEASE);
    fflush(stdout);
}

/* ---- warnings (-W), as lauxlib's handler: off until "@on" ------------------------------ */

static void warn_off(void *ud, const char *msg, int tocont);
static void warn_on(void *ud, const char *msg, int tocont);
static void warn_cont(void *ud, const char *msg, int tocont);

static int warn_control(lua_State *L, const char *msg, int tocont)
{
    if (tocont || *(msg++) != '@') return 0;
    if (strcmp(msg, "off") == 0) lua_setwarnf(L, warn_off, L);
    else if (strcmp(msg, "on") == 0) lua_setwarnf(L, warn_on, L);
    return 1;
}

static void warn_off(void *ud, const char *msg, int tocont)
{
    warn_control((lua_State *)ud, msg, tocont);
}

static void warn_cont(void *ud, const char *msg, int tocont)
{
    lua_State *L = ud;
    fputs(msg, stderr);
    if (tocont) {
        lua_setwarnf(L, warn_cont, L);
    } else {
        fputs("\n", stderr);
        lua_setwarnf(L, warn_on, L);
    }
}

static void warn_on(void *ud, const char *msg, int tocont)
{
    if (warn_control((lua_State *)ud, msg, tocont)) return;
    fputs("Lua warning: ", stderr);
    warn_cont(ud, msg, tocont);
}

/* ---- options --------------------------------------------------------------------------- */

enum { has_error = 1, has_i = 2, has_v = 4, has_e = 8, has_E = 16, has_h = 32 };

/* "64M": bytes, with an optional K, M or G suffix (powers of 1024). */
static int parse_size(const char *s, size_t *out)
{
    if (*s < '0' || *s > '9') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (errno || *end != '\0' || v > (unsigned long long)(SIZE_MAX >> shift)) return 0;
    *out = (size_t)v << shift;
    return 1;
}

/* "1000000" or "1e9": a whole number of instructions. */
static int parse_count(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9' || s[strspn(s, "0123456789.eE+-")] != '\0') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!errno && *end == '\0') {
        *out = v;
        return 1;
    }
    double d = strtod(s, &end);
    if (*end != '\0' || !(d >= 0) || d >= 18446744073709551616.0 || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* The long options that take a value; "--opt value" and "--opt=value" both work. */
static const char *value_option(const char *arg, const char **inline_value)
{
    static const char *const names[] = { "--mem-limit", "--instr-limit" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        size_t n = strlen(names[k]);
        if (strncmp(arg, names[k], n) == 0 && (arg[n] == '\0' || arg[n] == '=')) {
            *inline_value = arg[n] == '=' ? arg + n + 1 : NULL;
            return names[k];
        }
    }
    return NULL;
}

/* Why collectargs failed, for print_bad_option. */
typedef struct bad_arg {
    const char *option;   /* a value option whose value is missing or bad, else NULL */
    const char *value;    /* the bad value, NULL when missing */
} bad_arg;

/* lua.c's collectargs plus -h, --help, --version, --sandbox, --mem-limit, --instr-limit.
   One function, as lua.c's, for one switch over the options in lua.c's order.
   *first gets the script's index (argc if none) or the bad option's. */
static int collectargs(char **argv, int *first, tycho_config *cfg, bad_arg *bad)
{
    int args = 0, i;
    for (i = 1; argv[i] != NULL; i++) {
        *first = i;
        if (argv[i][0] != '-') return args;
        switch (argv[i][1]) {
        case '-': {
            const char *value, *opt;
            if (strcmp(argv[i], "--help") == 0) {
                args |= has_h;
                break;
            }
            if (strcmp(argv[i], "--version") == 0) {
                args |= has_v;
                break;
            }
            if (strcmp(argv[i], "--sandbox") == 0) {
                cfg->sandbox = 1;
                break;
            }
            if ((opt = value_option(argv[i], &value)) != NULL) {
                bad->option = opt;
                if (!value) value = argv[++i];
                if (!value) return has_error;
                bad->value = value;
                int ok = opt[2] == 'm' ? parse_size(value, &cfg->memory_limit)
                                       : parse_count(value, &cfg->instruction_limit);
                if (!ok) return has_error;
                bad->option = bad->value = NULL;
                break;
            }
            if (argv[i][2] != '\0') return has_error;
            *first = i + 1;
            return args;
        }
        case '\0':
            return args;   /* script "name" is '-': stdin */
        case 'E':
            if (argv[i][2] != '\0') return has_error;
            args |= has_E;
            break;
        case 'W':
            if (argv[i][2] != '\0') return has_error;
            break;
        case 'h':
            if (argv[i][2] != '\0') return has_error;
            args |= has_h;
            break;
        case 'i':
            args |= has_i; /* -i implies -v */ /* FALLTHROUGH */
        case 'v':
            if (argv[i][2] != '\0') return has_error;
            args |= has_v;
            break;
        case 'e':
            args |= has_e; /* FALLTHROUGH */
        case 'l':
            if (argv[i][2] == '\0') {
                i++;
                if (argv[i] == NULL || argv[i][0] == '-') return has_error;
            }
            break;
        default:
            return has_error;
        }
    }
    *first = i;
    return args;
}

static void print_bad_option(const char *opt, const bad_arg *bad)
{
    if (bad->option && bad->value)
        fprintf(stderr, "%s: bad value '%s' for %s (%s)\n", PROGNAME, bad->value, bad->option,
                bad->option[2] == 'm' ? "bytes with an optional K, M or G suffix, e.g. 64M"
                                      : "a whole number of instructions, e.g. 1000000 or 1e9");
    else if (bad->option)
        fprintf(stderr, "%s: '%s' needs argument\n", PROGNAME, bad->option);
    else if (opt[1] == 'e' || opt[1] == 'l')
        fprintf(stderr, "%s: '%s' needs argument\n", PROGNAME, opt);
    else
        fprintf(stderr, "%s: unrecognized option '%s'\n", PROGNAME, opt);
    print_usage(stderr);
}

/* The command reads and sets globals raw: a script may give _G a metatable, and its
   metamethods would run outside any counted run (the instruction limit counts runs only). */
static int get_global(lua_State *L, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, name);
    int t = lua_rawget(L, -2);
    lua_remove(L, -2);
    return t;
}

/* Sets global name to the value on top (popped). */
static void set_global(lua_State *L, const char *name)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, name);
    lua_pushvalue(L, -3);
    lua_rawset(L, -3);
    lua_pop(L, 2);
}

/* arg[0] is the script, arg[1..] its arguments, negative indices the program and options;
   without a script the program is at 0. */
static void createargtable(lua_State *L, char **argv, int argc, int script)
{
    if (script == argc) script = 0;
    lua_createtable(L, argc - (script + 1), script + 1);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - script);
    }
    set_global(L, "arg");
}

/* ---- running code ---------------------------------------------------------------------- */

static int dostring(tycho *T, const char *code, const char *name)
{
    globalL = tycho_lua(T);
    signal(SIGINT, laction);
    int rc = tycho_run_string(T, code, name);
    signal(SIGINT, SIG_DFL);
    return report(T, rc);
}

/* require(mod) into global mod (without a "-suffix", as lua 5.4), or into g for "g=mod". */
static int dolibrary(tycho *T, const char *spec)
{
    lua_State *L = tycho_lua(T);
    const char *eq = strchr(spec, '=');
    const char *mod = eq ? eq + 1 : spec;
    size_t globlen = eq ? (size_t)(eq - spec) : strcspn(spec, "-");
    get_global(L, "require");
    lua_pushstring(L, mod);
    int rc = docall(T, 1, 1);
    if (rc == TYCHO_OK) {
        lua_pushlstring(L, spec, globlen);
        lua_insert(L, -2);
        set_global(L, lua_tostring(L, -2));
        lua_pop(L, 1);
    }
    return report(T, rc);
}

static int pushargs(lua_State *L)
{
    if (get_global(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
    int n = (int)luaL_len(L, -1);
    luaL_checkstack(L, n + 3, "too many arguments to script");
    int i;
    for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
    lua_remove(L, -i);
    return n;
}

/* The script gets its arguments as `...` too; "-" (not after "--") is stdin. */
static int handle_script(tycho *T, char **argv)
{
    const char *fname = argv[0];
    if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL;
    int rc = tycho_cli_load_file(T, fname);
    if (rc == TYCHO_OK) {
        int n = pushargs(tycho_lua(T));
        rc = docall(T, n, 0);
    }
    return report(T, rc);
}

static int runargs(tycho *T, lua_State *L, char **argv, int n)
{
    for (int i = 1; i < n; i++) {
        const char *value;
        if (value_option(argv[i], &value)) {
            if (!value) i++;   /* "1e9" is a value, not an -e */
            continue;
        }
        int option = argv[i][1];
        if (option == 'e' || option == 'l') {
            const char *extra = argv[i] + 2;
            if (*extra == '\0') extra = argv[++i];
            int failed = option == 'e' ? dostring(T, extra, "=(command line)") != TYCHO_OK
                                       : dolibrary(T, extra) != TYCHO_OK;
            if (failed) return 0;
        } else if (option == 'W') {
            lua_warning(L, "@on", 0);
        }
    }
    return 1;
}

static int handle_luainit(tycho *T)
{
    const char *name = "=LUA_INIT_5_4";
    const char *init = getenv(name + 1);
    if (init == NULL) {
        name = "=LUA_INIT";
        init = getenv(name + 1);
    }
    if (init == NULL) return TYCHO_OK;
    int rc = init[0] == '@' ? tycho_run_file(T, init + 1) : tycho_run_string(T, init, name);
    return report(T, rc);
}

/* ---- the REPL -------------------------------------------------------------------------- */

static const char *get_prompt(lua_State *L, int firstline)
{
    get_global(L, firstline ? "_PROMPT" : "_PROMPT2");
    const char *p = lua_tostring(L, -1);
    return p ? p : firstline ? PROMPT : PROMPT2;
}

/* On a terminal the prompt edits lines and recalls earlier ones (GNU readline, as Debian's
   lua5.4), keeping them in ~/.tycho_history (TYCHO_HISTORY names another file; empty: none)
   across sessions, at most HISTORY_LINES of them. Otherwise lines are read plainly. */
#define HISTORY_LINES 1000
static int use_readline;
static char history_path[4096];

static void history_open(void)
{
    use_readline = isatty(0);
    if (!use_readline) return;
    rl_readline_name = PROGNAME;
    const char *path = getenv("TYCHO_HISTORY"), *home = getenv("HOME");
    if (path) snprintf(history_path, sizeof history_path, "%s", path);
    else if (home && home[0]) snprintf(history_path, sizeof history_path, "%s/.tycho_history", home);
    stifle_history(HISTORY_LINES);
    if (history_path[0]) read_history(history_path);
}

static void history_add(const char *line)
{
    if (!use_readline || !line[0]) return;
    add_history(line);
    /* line by line, so that a session that ends abruptly keeps what it had */
    if (history_path[0] && append_history(1, history_path) != 0) write_history(history_path);
}

static void history_close(void)
{
    if (use_readline && history_path[0]) history_truncate_file(history_path, HISTORY_LINES);
}

/* Shows the prompt and pushes one input line of any length, without its newline.
   Returns 0 at end of input. */
static int pushline(lua_State *L, int firstline)
{
    const char *prompt = get_prompt(L, firstline);
    if (use_readline) {
        char *text = readline(prompt);
        lua_pop(L, 1);
        if (!text) return 0;
        lua_pushstring(L, text);
        history_add(text);
        free(text);
    } else {
        fputs(prompt, stdout);
        fflush(stdout);
        lua_pop(L, 1);
        luaL_Buffer b;
        char chunk[512];
        int got = 0;
        luaL_buffinit(L, &b);
        while (fgets(chunk, sizeof chunk, stdin) != NULL) {
            size_t l = strlen(chunk);
            got = 1;
            if (l > 0 && chunk[l - 1] == '\n') {
                luaL_addlstring(&b, chunk, l - 1);
                break;
            }
            luaL_addlstring(&b, chunk, l);
        }
        luaL_pushresult(&b);
        if (!got) {
            lua_pop(L, 1);
            return 0;
        }
    }
    const char *line = lua_tostring(L, -1);
    if (firstline && line[0] == '=') {   /* "=expr", kept by lua 5.4 for 5.2 users */
        lua_pushfstring(L, "return %s", line + 1);
        lua_remove(L, -2);
    }
    return 1;
}

static int incomplete(lua_State *L, int status)
{
    static const char mark[] = "<eof>";
    if (status == LUA_ERRSYNTAX) {
        size_t lmsg;
        const char *msg = lua_tolstring(L, -1, &lmsg);
        if (lmsg >= sizeof mark - 1 && strcmp(msg + lmsg - (sizeof mark - 1), mark) == 0) {
            lua_pop(L, 1);
            return 1;
        }
    }
    return 0;
}

/* An expression line prints its values: try "return <line>;" first, as lua.c does. */
static int addreturn(lua_State *L)
{
    const char *line = lua_tostring(L, -1);
    const char *retline = lua_pushfstring(L, "return %s;", line);
    int status = luaL_loadbufferx(L, retline, strlen(retline), "=stdin", chunkmode);
    if (status == LUA_OK) lua_remove(L, -2);
    else lua_pop(L, 2);
    return status;
}

static int multiline(lua_State *L)
{
    for (;;) {
        size_t len;
        const char *line = lua_tolstring(L, 1, &len);
        int status = luaL_loadbufferx(L, line, len, "=stdin", chunkmode);
        if (!incomplete(L, status) || !pushline(L, 0)) return status;
        lua_pushliteral(L, "\n");
        lua_insert(L, -2);
        lua_concat(L, 3);
    }
}

static int loadline(lua_State *L)
{
    lua_settop(L, 0);
    if (!pushline(L, 1)) return -1;
    int status = addreturn(L);
    if (status != LUA_OK) status = multiline(L);
    lua_remove(L, 1);
    return status;
}

/* Prints a line's values as lua.c does, through print, run as a chunk is (counted). */
static void l_print(tycho *T)
{
    lua_State *L = tycho_lua(T);
    int n = lua_gettop(L);
    if (n > 0) {
        luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
        get_global(L, "print");
        lua_insert(L, 1);
        if (tycho_cli_call(T, n, 0) != TYCHO_OK)
            l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)", tycho_error(T)));
    }
}

static void doREPL(tycho *T)
{
    lua_State *L = tycho_lua(T);
    int status;
    const char *oldprogname = progname;
    progname = NULL;
    history_open();
    while ((status = loadline(L)) != -1) {
        if (status != LUA_OK) report_lua(L, status);
        else if (report(T, docall(T, 0, LUA_MULTRET)) == TYCHO_OK) l_print(T);
    }
    lua_settop(L, 0);
    history_close();
    fputs("\n", stdout);
    fflush(stdout);
    progname = oldprogname;
}

/* ---- main ------------------------------------------------------------------------------ */

typedef struct cli {
    tycho       *T;
    tycho_config cfg;
    int          argc;
    char       **argv;
    int          script;
    int          args;
} cli;

/* Everything that touches the Lua state runs here, protected, as lua.c's pmain. */
static int pmain(lua_State *L)
{
    cli *c = lua_touserdata(L, 1);
    lua_setwarnf(L, warn_off, L);
    createargtable(L, c->argv, c->argc, c->script);
    if (!(c->args & has_E) && handle_luainit(c->T) != TYCHO_OK) return 0;
    if (!runargs(c->T, L, c->argv, c->script)) return 0;
    if (c->script < c->argc && handle_script(c->T, c->argv + c->script) != TYCHO_OK) return 0;
    if (c->args & has_i) {
        doREPL(c->T);
    } else if (c->script == c->argc && !(c->args & (has_e | has_v))) {
        if (isatty(0)) {
            print_version();
            doREPL(c->T);
        } else if (report(c->T, tycho_run_file(c->T, NULL)) != TYCHO_OK) {
            return 0;
        }
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* Tensors of a few MB come and go on every line of a script. glibc hands blocks from 128 KB
   up to 32 MB out of fresh mmaps until its adaptive threshold catches up, and gives the top
   of the heap back to the system once 2x that threshold is free there, so the next tensor
   faults its pages in again, zeroed. The command owns its process: blocks below
   KEEP_BYTES come from the heap and stay mapped for the next tensor (5% off a*2.5 on 1e6
   elements, 1% off the large RNN case). Host programs keep their own malloc settings. */
#define KEEP_BYTES (256 << 20)

static void tune_malloc(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, KEEP_BYTES);
    mallopt(M_TRIM_THRESHOLD, KEEP_BYTES);
#endif
}

int main(int argc, char **argv)
{
    tune_malloc();
    cli c;
    bad_arg bad = { NULL, NULL };
    memset(&c.cfg, 0, sizeof c.cfg);
    c.argc = argc;
    c.argv = argv;
    c.script = argc;
    c.args = collectargs(argv, &c.script, &c.cfg, &bad);
    if (c.args == has_error) {
        print_bad_option(argv[c.script], &bad);
        return EXIT_FAILURE;
    }
    if (c.cfg.sandbox) chunkmode = "t";
    if (c.args & has_h) {
        print_usage(stdout);
        return EXIT_SUCCESS;
    }
    if (c.args & has_v) print_version();
    c.T = tycho_open(&c.cfg);
    if (!c.T) {
        l_message(PROGNAME, c.cfg.memory_limit ? "cannot create state: not enough memory "
                                                 "(--mem-limit too small?)"
                                               : "cannot create state: not enough memory");
        return EXIT_FAILURE;
    }
    lua_State *L = tycho_lua(c.T);
    lua_pushcfunction(L, pmain);
    lua_pushlightuserdata(L, &c);
    int status = lua_pcall(L, 1, 1, 0);
    int ok = status == LUA_OK && lua_toboolean(L, -1);
    if (status != LUA_OK) report_lua(L, status);
    tycho_close(c.T);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
