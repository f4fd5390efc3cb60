/* bytes.h: the one byte source and sink every file format reads and writes through (plain
   files, members of a zip archive, memory), and the atomic save all formats share. */
#ifndef TYCHO_BYTES_H
#define TYCHO_BYTES_H

#include "core/tensor.h"

#include <stddef.h>
#include <stdint.h>

/* A source of size bytes, read front to back. read puts up to n bytes into buf and sets
   *got; fewer than n only at the end of the source. name names it in messages ("a.npz:
   member 'x.npy'"). The fields after read are the built-in sources' state. */
typedef struct ty_source ty_source;
struct ty_source {
    int (*read)(ty_source *s, void *buf, size_t n, size_t *got, ty_error *e);
    const char *name;
    int64_t     size;
    int64_t     pos, end;            /* file: pread offsets; memory: offsets into mem */
    int         fd;
    const unsigned char *mem;
    void       *ud;                  /* other sources' own state */
};

/* Reads [offset, offset + size) of the open regular file fd, which stays the caller's. */
void ty_source_file(ty_source *s, int fd, int64_t offset, int64_t size, const char *name);
/* Reads the size bytes at mem, which stay the caller's. */
void ty_source_memory(ty_source *s, const void *mem, int64_t size, const char *name);
/* Exactly n bytes, or TY_EFORMAT "<name>: the data is truncated" (or the source's error). */
int  ty_source_read_exact(ty_source *s, void *buf, size_t n, ty_error *e);

/* A sink: write takes all n bytes or fails with a message naming the sink. */
typedef struct ty_sink ty_sink;
struct ty_sink {
    int (*write)(ty_sink *s, const void *buf, size_t n, ty_error *e);
    const char *name;
    int         fd;                  /* file sink */
    unsigned char *buf;              /* memory sink: len bytes used of cap, from a */
    size_t      len, cap;
    const ty_allocator *a;
};

/* A sink that appends to the file fd (the caller's). */
void ty_sink_file(ty_sink *s, int fd, const char *name);
/* A sink into memory from a, which grows as needed (reserve cap bytes first to avoid any
   growth); ty_sink_memory_free returns the memory. */
int  ty_sink_memory(ty_sink *s, const ty_allocator *a, size_t cap, const char *name,
                    ty_error *e);
void ty_sink_memory_free(ty_sink *s);

/* Opens path for reading: only a regular file (a FIFO could block forever, a device never
   end). Returns the descriptor and its size, or -1 with TY_EFILE naming the path. */
int  ty_open_regular(const char *path, int64_t *size, ty_error *e);

/* Writes path atomically: write(sink, ctx) fills a new temporary file in path's folder,
   which is flushed to disk (fsync) and renamed over path. On any error the temporary file
   is removed and path keeps its old contents. path must be a regular file or not exist
   (TY_EFILE "is a directory", "is not a regular file"); a symbolic link's target is
   replaced, the link stays. An existing file's permissions are kept. */
int  ty_save_atomic(const char *path, int (*write)(ty_sink *s, void *ctx, ty_error *e),
                    void *ctx, ty_error *e);

/* Copies s into out (size outn) with control and non-ASCII bytes as '?', cut to fit with
   "..." when longer: names from a file, safe to quote in a message. Returns out. */
const char *ty_printable(char *out, size_t outn, const char *s, size_t len);

#endif
