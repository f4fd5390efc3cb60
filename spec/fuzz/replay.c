/* replay.c: a main for a fuzz target without libFuzzer. It runs LLVMFuzzerTestOneInput on
   every file of the target's seed corpus (which holds the regression inputs of past crashes
   too), so `make test` and the sanitizer runs replay them. Prints "N passed, N failed"; a
   violated check aborts, and the last name printed is the input that did it. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CORPUS
#define CORPUS "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *more = realloc(buf, cap *= 2);
            if (!more) free(buf);
            buf = more;
        }
    }
    int ok = buf && !ferror(f);
    fclose(f);
    if (ok) LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return ok;
}

static int visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (int a = 1; a < argc || a == 1; a++) {
        const char *dir = a < argc ? argv[a] : CORPUS;
        struct dirent **names;
        int n = scandir(dir, &names, visible, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: cannot read %s\n", dir);
            failed++;
            continue;
        }
        printf("replay %s:", dir);
        for (int i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            printf(" %s", names[i]->d_name);
            fflush(stdout);
            if (run_file(path)) passed++;
            else failed++, fprintf(stderr, "\nreplay: cannot read %s\n", path);
            free(names[i]);
        }
        printf("\n");
        free(names);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
