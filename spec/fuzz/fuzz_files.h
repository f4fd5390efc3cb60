/* fuzz_files.h: what the file readers' fuzz targets (fuzz_npy, fuzz_npz, fuzz_safetensors)
   share: the input bytes as a file, the checks on a failure, and the .npy round trip of a
   tensor that loaded. Include it after defining _GNU_SOURCE (memfd_create). */
#ifndef TYCHO_FUZZ_FILES_H
#define TYCHO_FUZZ_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The readers take a path: the input goes into one in-memory file per process, named
   through /proc; returns that name. */
static inline const char *fuzz_input_path(const uint8_t *data, size_t size)
{
    static int  fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz_input", 0);
        if (fd < 0) {
            perror("fuzz: memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    return path;
}

/* A failure has a reader's code and a message a Lua error can carry (NUL-terminated within
   the buffer, not empty), and leaves the tensor it was reading into (if any) empty. */
static inline void fuzz_check_failure(int rc, const ty_tensor *t, const ty_error *e)
{
    if (t && (t->storage || t->data)) abort();
    if (rc != TY_EFORMAT && rc != TY_EFILE && rc != TY_EMEM) abort();
    if (memchr(e->msg, '\0', sizeof e->msg) == NULL || e->msg[0] == '\0') abort();
}

/* A tensor that loaded, written as .npy ('<f8') into memory and read again, comes back
   bit for bit, in as many bytes as ty_npy_bytes says. */
static inline void fuzz_round_trip(const ty_tensor *t)
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

#endif
