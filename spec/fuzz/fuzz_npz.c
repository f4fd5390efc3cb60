/* fuzz_npz.c: libFuzzer target for the .npz reader (libzip's archive, then each member
   through the .npy reader). Any bytes must load or fail with a code and a message, never
   crash or leak; what loads is written again into memory as .npy and read back bit for bit.
   Built and run by `make fuzz`; build/replay/npz replays the corpus in `make test`. */
#define _GNU_SOURCE   /* memfd_create */
#include "io/npy.h"
#include "io/npz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ty_npz_open takes a path: the input goes into an in-memory file, named through /proc. */
static int  in_fd = -1;
static char in_path[64];

static void check_message(const ty_error *e)
{
    if (memchr(e->msg, '\0', sizeof e->msg) == NULL || e->msg[0] == '\0') abort();
}

static void check_failure(int rc, const ty_tensor *t, const ty_error *e)
{
    if (t && (t->storage || t->data)) abort();   /* a failed read leaves the slot empty */
    if (rc != TY_EFORMAT && rc != TY_EFILE && rc != TY_EMEM) abort();
    check_message(e);
}

/* The tensor written as .npy into memory and read back must be the same. */
static void round_trip(const ty_tensor *t)
{
    ty_error e;
    ty_sink out;
    ty_source back;
    ty_tensor u;
    memset(&u, 0, sizeof u);
    if (ty_sink_memory(&out, &ty_system_allocator, 0, "out", &e) != TY_OK) abort();
    if (ty_npy_write(&out, t, &e) != TY_OK || out.len != ty_npy_bytes(t)) abort();
    ty_source_memory(&back, out.buf, (int64_t)out.len, "out");
    if (ty_npy_read(&back, &u, &ty_system_allocator, &e) != TY_OK) abort();
    int64_t n = ty_numel(t);
    if (u.ndim != t->ndim || memcmp(u.shape, t->shape, (size_t)t->ndim * sizeof t->shape[0]) ||
        ty_numel(&u) != n || (n > 0 && memcmp(u.data, t->data, (size_t)n * sizeof(double))))
        abort();
    ty_tensor_free(&u);
    ty_sink_memory_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (in_fd < 0) {
        in_fd = memfd_create("fuzz_npz_in", 0);
        if (in_fd < 0) abort();
        snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
    }
    if (ftruncate(in_fd, 0) != 0 || pwrite(in_fd, data, size, 0) != (ssize_t)size) abort();

    ty_error e;
    memset(&e, 0, sizeof e);
    ty_npz *z = NULL;
    int rc = ty_npz_open(&z, in_path, &e);
    if (rc != TY_OK) {
        if (z) abort();
        check_failure(rc, NULL, &e);
        return 0;
    }
    for (int64_t i = 0; i < ty_npz_count(z); i++) {
        size_t len;
        const char *key = ty_npz_key(z, i, &len);
        if (!key || len == 0) abort();
        ty_tensor t;
        memset(&t, 0, sizeof t);
        rc = ty_npz_read(z, i, &t, &ty_system_allocator, &e);
        if (rc != TY_OK) {
            check_failure(rc, &t, &e);
            continue;
        }
        round_trip(&t);
        ty_tensor_free(&t);
    }
    ty_npz_close(z);
    return 0;
}
