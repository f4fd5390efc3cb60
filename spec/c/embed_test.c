/* embed_test.c: a quick check of the tycho.h embedding API (codes, messages, copies in
   and out, zero-copy release, memory limit). Prints "N passed, N failed"; exit 1 on failure.
   cc -std=c99 -Isrc spec/c/embed_test.c build/libtycho.a $(pkg-config --libs lua5.4 openblas) -lm */
#include "tycho.h"

#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            passed++;                                                                 \
        } else {                                                                      \
            failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

static void count_release(void *ud, double *data)
{
    (void)data;
    (*(int *)ud)++;
}

int main(void)
{
    tycho *T = tycho_open(NULL);
    CHECK(T != NULL);
    CHECK(strcmp(tycho_error(T), "") == 0);

    /* run, and the engine stays usable after each kind of failure */
    CHECK(tycho_run_string(T, "x = 1 + 1", "=smoke") == TYCHO_OK);
    CHECK(tycho_run_string(T, "x = = 1", "=smoke") == TYCHO_ERR_SYNTAX);
    CHECK(strstr(tycho_error(T), "smoke:1:") != NULL);
    CHECK(tycho_run_string(T, "error('boom')", "=smoke") == TYCHO_ERR_RUN);
    CHECK(strstr(tycho_error(T), "boom") && strstr(tycho_error(T), "stack traceback"));
    CHECK(tycho_run_file(T, "/nonexistent/x.lua") == TYCHO_ERR_FILE);
    CHECK(tycho_run_string(T, "assert(x == 2)", NULL) == TYCHO_OK);
    CHECK(strcmp(tycho_error(T), "") == 0);
    CHECK(tycho_run_string(T, NULL, NULL) == TYCHO_ERR_ARG);

    /* copy in, compute, copy out */
    double a[6] = { 1, 2, 3, 4, 5, 6 }, out[6] = { 0 };
    int64_t shape[2] = { 2, 3 }, oshape[TYCHO_MAX_DIMS];
    int ndim = -1;
    CHECK(tycho_set_tensor(T, "a", a, 2, shape) == TYCHO_OK);
    a[0] = 100;   /* a copy: the engine does not see this */
    CHECK(tycho_run_string(T, "b = a.T * 2", "=smoke") == TYCHO_OK);
    CHECK(tycho_get_tensor(T, "b", out, 6, &ndim, oshape) == TYCHO_OK);
    CHECK(ndim == 2 && oshape[0] == 3 && oshape[1] == 2);
    CHECK(out[0] == 2 && out[1] == 8 && out[5] == 12);
    CHECK(tycho_get_tensor(T, "b", out, 5, &ndim, oshape) == TYCHO_ERR_ARG);
    CHECK(strstr(tycho_error(T), "capacity") != NULL && oshape[0] == 3);
    CHECK(tycho_get_tensor(T, "x", out, 6, NULL, NULL) == TYCHO_ERR_ARG);
    CHECK(strstr(tycho_error(T), "not a tensor") != NULL);
    CHECK(tycho_set_tensor(T, "bad", a, 9, shape) == TYCHO_ERR_ARG);
    int64_t neg[1] = { -1 };
    CHECK(tycho_set_tensor(T, "bad", a, 1, neg) == TYCHO_ERR_ARG);
    CHECK(tycho_set_tensor(T, "s", a, 0, NULL) == TYCHO_OK);
    CHECK(tycho_run_string(T, "assert(s:item() == 100 and s:dim() == 0)", NULL) == TYCHO_OK);

    /* zero-copy: the script writes into host memory; release runs once, at the end */
    double w[3] = { 1, 2, 3 };
    int64_t wshape[1] = { 3 };
    int released = 0;
    CHECK(tycho_wrap_tensor(T, "w", w, 1, wshape, count_release, &released) == TYCHO_OK);
    CHECK(tycho_run_string(T, "w:mul_(10); v = w[2]; w = nil; collectgarbage()", NULL) ==
          TYCHO_OK);
    CHECK(w[0] == 10 && w[2] == 30);
    CHECK(released == 1);
    CHECK(tycho_wrap_tensor(T, "w2", w, 1, wshape, count_release, &released) == TYCHO_OK);
    tycho_close(T);
    CHECK(released == 2);
    tycho_close(NULL);

    /* memory limit: a too-large tensor fails, the engine stays usable */
    tycho_config cfg = { 4u << 20, 0, 0 };
    T = tycho_open(&cfg);
    CHECK(T != NULL);
    int rc = tycho_run_string(T, "big = tycho.zeros(1000000)", NULL);   /* 8 MB > 4 MB */
    CHECK(rc == TYCHO_ERR_MEMORY || rc == TYCHO_ERR_RUN);
    CHECK(tycho_run_string(T, "local s = {} for i = 1, 1e6 do s[i] = i end", NULL) ==
          TYCHO_ERR_MEMORY);
    CHECK(tycho_run_string(T, "small = tycho.zeros(1000)", NULL) == TYCHO_OK);
    tycho_close(T);
    cfg.memory_limit = 1000;   /* not even room for the standard libraries */
    CHECK(tycho_open(&cfg) == NULL);

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
