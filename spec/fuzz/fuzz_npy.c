/* fuzz_npy.c: libFuzzer target for the .npy reader. Any bytes must load or fail with a
   code and a message, never crash or leak; what loads must survive a save and reload bit
   for bit. Built and run by `make fuzz`. */
#define _GNU_SOURCE   /* memfd_create */
#include "io/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ty_npy_load takes a path: the input goes into an in-memory file, named through /proc. */
static int  in_fd = -1;
static char in_path[64];

static void open_files(void)
{
    in_fd = memfd_create("fuzz_npy_in", 0);
    if (in_fd < 0) {
        perror("fuzz_npy: memfd_create");
        abort();
    }
    snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
}

/* The messages must be text a Lua error can carry: NUL-terminated, within the buffer. */
static void check_message(const ty_error *e)
{
    if (memchr(e->msg, '\0', sizeof e->msg) == NULL || e->msg[0] == '\0') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (in_fd < 0) open_files();
    if (ftruncate(in_fd, 0) != 0 || pwrite(in_fd, data, size, 0) != (ssize_t)size) abort();

    ty_tensor t, u;
    memset(&t, 0, sizeof t);
    memset(&u, 0, sizeof u);
    ty_error e;
    memset(&e, 0, sizeof e);
    int rc = ty_npy_load(&t, in_path, &ty_system_allocator, &e);
    if (rc != TY_OK) {
        if (t.storage || t.data) abort();   /* a failed load leaves the slot empty */
        if (rc != TY_EFORMAT && rc != TY_EFILE && rc != TY_EMEM) abort();
        check_message(&e);
        return 0;
    }

    /* round trip: write as '<f8' into memory and read again; the values must come back
       exactly, in as many bytes as ty_npy_bytes says */
    ty_sink out;
    ty_source back;
    if (ty_sink_memory(&out, &ty_system_allocator, 0, "out", &e) != TY_OK) abort();
    if (ty_npy_write(&out, &t, &e) != TY_OK || out.len != ty_npy_bytes(&t)) abort();
    ty_source_memory(&back, out.buf, (int64_t)out.len, "out");
    if (ty_npy_read(&back, &u, &ty_system_allocator, &e) != TY_OK) abort();
    ty_sink_memory_free(&out);
    int64_t n = ty_numel(&t);
    if (u.ndim != t.ndim || memcmp(u.shape, t.shape, (size_t)t.ndim * sizeof t.shape[0]) ||
        ty_numel(&u) != n || (n > 0 && memcmp(u.data, t.data, (size_t)n * sizeof(double))))
        abort();
    ty_tensor_free(&u);
    ty_tensor_free(&t);
    return 0;
}
