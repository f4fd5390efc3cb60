/* engine.h: what the tycho command needs beyond tycho.h (not installed): a script loaded
   and called with arguments, under the same sandbox, limits and messages as tycho_run_*. */
#ifndef TYCHO_ENGINE_H
#define TYCHO_ENGINE_H

#include "tycho.h"

/* Loads a Lua file (path NULL: stdin) as tycho_run_file does (source only in a sandbox) and
   pushes the chunk on tycho_lua(T)'s stack. On failure pushes nothing: code + tycho_error. */
int tycho_cli_load_file(tycho *T, const char *path);
/* Calls the function below the nargs arguments on top of tycho_lua(T)'s stack as a
   tycho_run_* runs its chunk: protected, with a traceback, the instruction limit counted
   afresh. Leaves nresults results (LUA_MULTRET: all) on success; on failure nothing, and
   returns the code with the message in tycho_error. */
int tycho_cli_call(tycho *T, int nargs, int nresults);

#endif
