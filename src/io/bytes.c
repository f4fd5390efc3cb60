/* bytes.c: file, memory sources and sinks, and the atomic save (temporary file in the same
   folder, fsync, rename), so every format reads and writes through the same few lines. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700          /* realpath */
#endif
#include "io/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

const char *ty_printable(char *out, size_t outn, const char *s, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < outn; i++) {
        unsigned char c = (unsigned char)s[i];
        if (k + 4 >= outn && i + 1 < len && outn > 4) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        out[k++] = (c < 32 || c > 126) ? '?' : (char)c;
    }
    if (outn) out[k < outn ? k : outn - 1] = '\0';
    return out;
}

/* ---- sources */

static int file_read(ty_source *s, void *buf, size_t n, size_t *got, ty_error *e)
{
    size_t done = 0;
    if ((int64_t)n > s->end - s->pos) n = (size_t)(s->end - s->pos);
    while (done < n) {
        ssize_t r = pread(s->fd, (char *)buf + done, n - done, (off_t)s->pos);
        if (r < 0) {
            if (errno == EINTR) continue;
            return ty_fail(e, TY_EFILE, "%s: read failed: %s", s->name, strerror(errno));
        }
        if (r == 0) break;   /* the file shrank since its size was taken */
        done += (size_t)r;
        s->pos += r;
    }
    *got = done;
    return TY_OK;
}

void ty_source_file(ty_source *s, int fd, int64_t offset, int64_t size, const char *name)
{
    memset(s, 0, sizeof *s);
    s->read = file_read;
    s->fd = fd;
    s->pos = offset;
    s->end = offset + size;
    s->size = size;
    s->name = name;
}

static int memory_read(ty_source *s, void *buf, size_t n, size_t *got, ty_error *e)
{
    (void)e;
    if ((int64_t)n > s->end - s->pos) n = (size_t)(s->end - s->pos);
    if (n) memcpy(buf, s->mem + s->pos, n);
    s->pos += (int64_t)n;
    *got = n;
    return TY_OK;
}

void ty_source_memory(ty_source *s, const void *mem, int64_t size, const char *name)
{
    memset(s, 0, sizeof *s);
    s->read = memory_read;
    s->mem = mem;
    s->end = size;
    s->size = size;
    s->name = name;
}

int ty_source_read_exact(ty_source *s, void *buf, size_t n, ty_error *e)
{
    size_t got = 0;
    int rc = s->read(s, buf, n, &got, e);
    if (rc) return rc;
    if (got != n)
        return ty_fail(e, TY_EFORMAT, "%s: the data is truncated (it ends early)", s->name);
    return TY_OK;
}

/* ---- sinks */

static int file_write(ty_sink *s, const void *buf, size_t n, ty_error *e)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ty_fail(e, TY_EFILE, "%s: write failed: %s", s->name, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return TY_OK;
}

void ty_sink_file(ty_sink *s, int fd, const char *name)
{
    memset(s, 0, sizeof *s);
    s->write = file_write;
    s->fd = fd;
    s->name = name;
}

static int memory_write(ty_sink *s, const void *buf, size_t n, ty_error *e)
{
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap - s->len < n) {
            if (cap > SIZE_MAX / 2) return ty_fail(e, TY_EMEM, "%s: too large", s->name);
            cap *= 2;
        }
        unsigned char *b = s->a->fn(s->a->ud, s->buf, s->buf ? s->cap : 0, cap);
        if (!b) return ty_fail(e, TY_EMEM, "%s: not enough memory", s->name);
        s->buf = b;
        s->cap = cap;
    }
    if (n) memcpy(s->buf + s->len, buf, n);
    s->len += n;
    return TY_OK;
}

int ty_sink_memory(ty_sink *s, const ty_allocator *a, size_t cap, const char *name, ty_error *e)
{
    memset(s, 0, sizeof *s);
    s->write = memory_write;
    s->a = a;
    s->name = name;
    s->fd = -1;
    if (cap) {
        s->buf = a->fn(a->ud, NULL, 0, cap);
        if (!s->buf) return ty_fail(e, TY_EMEM, "%s: not enough memory", name);
        s->cap = cap;
    }
    return TY_OK;
}

void ty_sink_memory_free(ty_sink *s)
{
    if (s->buf) s->a->fn(s->a->ud, s->buf, s->cap, 0);
    s->buf = NULL;
    s->len = s->cap = 0;
}

/* ---- files */

int ty_open_regular(const char *path, int64_t *size, ty_error *e)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno)), -1;
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "is a directory";
    else if (!S_ISREG(st.st_mode)) why = "is not a regular file";
    if (why) {
        ty_fail(e, TY_EFILE, "%s: %s", path, why);
        close(fd);
        return -1;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (int64_t)st.st_size;
    return fd;
}

/* The temporary file: ".<name>.tmp-<pid>-<n>" beside the target, created exclusively (never
   another's file), with the mode a new file gets (0666 less the umask). */
static int create_temp(char *tmp, size_t tmpn, const char *target, const char *path,
                       ty_error *e)
{
    const char *slash = strrchr(target, '/');
    size_t dirlen = slash ? (size_t)(slash - target + 1) : 0;
    const char *base = slash ? slash + 1 : target;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned long seed = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20) ^
                         ((unsigned long)(uintptr_t)tmp >> 4);
    for (int attempt = 0; attempt < 100; attempt++) {
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        int n = snprintf(tmp, tmpn, "%.*s.%s.tmp-%ld-%06lx", (int)dirlen, target, base,
                         (long)getpid(), (seed >> 24) & 0xffffff);
        if (n < 0 || (size_t)n >= tmpn)
            return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(ENAMETOOLONG)), -1;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
        if (fd >= 0) return fd;
        if (errno != EEXIST) return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno)), -1;
    }
    return ty_fail(e, TY_EFILE, "%s: cannot create a temporary file beside it", path), -1;
}

int ty_save_atomic(const char *path, int (*writefn)(ty_sink *s, void *ctx, ty_error *e),
                   void *ctx, ty_error *e)
{
    char resolved[PATH_MAX], tmp[PATH_MAX + 64];
    const char *target = path;
    struct stat st;
    int exists = 0;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        /* the link's target is what a plain write would have replaced */
        if (realpath(path, resolved)) target = resolved;
        else if (errno != ENOENT) return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno));
    }
    if (stat(target, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            return ty_fail(e, TY_EFILE, "%s: %s", path,
                           S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
        exists = 1;
    }
    int fd = create_temp(tmp, sizeof tmp, target, path, e);
    if (fd < 0) return TY_EFILE;
    if (exists) (void)fchmod(fd, st.st_mode & 07777);
    ty_sink sink;
    ty_sink_file(&sink, fd, path);
    int rc = writefn(&sink, ctx, e);
    if (rc == TY_OK && fsync(fd) != 0)
        rc = ty_fail(e, TY_EFILE, "%s: write failed: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == TY_OK)
        rc = ty_fail(e, TY_EFILE, "%s: write failed: %s", path, strerror(errno));
    if (rc == TY_OK && rename(tmp, target) != 0)
        rc = ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno));
    if (rc != TY_OK) {
        unlink(tmp);
        return rc;
    }
    /* the rename itself reaches the disk with the folder's entry */
    const char *slash = strrchr(target, '/');
    char dir[PATH_MAX];
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - target + 1), target);
    else strcpy(dir, ".");
    int dfd = open(dir, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return TY_OK;
}
