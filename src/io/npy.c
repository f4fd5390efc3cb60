/* npy.c: the .npy reader (every real dtype NumPy writes, either byte order, C or Fortran
   order, checked against the file's real size) and a writer byte-identical to np.save. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L   /* fileno, fstat, fdopen, O_CLOEXEC */
#endif
#include "io/npy.h"

#include "core/format.h"
#include "core/iter.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC     "\x93NUMPY"
#define MAGIC_LEN 6
/* NumPy refuses longer headers unless asked (max_header_size); tycho's never come close. */
#define MAX_HEADER (1 << 20)
/* np.save pads the header with room for the first dimension to grow to this many digits. */
#define GROWTH_AXIS_MAX_DIGITS 21
#define ARRAY_ALIGN 64
/* Elements converted per fread/fwrite when bytes cannot go straight to or from the tensor. */
#define CHUNK 4096

typedef enum { DT_FLOAT, DT_INT, DT_UINT, DT_BOOL } dt_kind;

typedef struct npy_header {
    char    descr[48];     /* as written in the file, cut to fit */
    int     has_descr, has_fortran, has_shape;
    int     fortran;
    int     ndim;
    int64_t shape[TY_MAX_DIMS];
    dt_kind kind;
    int     size;          /* bytes per element */
    int     big;           /* big-endian data */
} npy_header;

static int host_is_little(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

/* ---- header parsing: the dict literal np.save writes, parsed strictly but without eval */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int accept_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* A Python string literal without escapes (NumPy never writes any); copied into out.
   Returns 1, 0 if there is no complete string here, -1 if it does not fit in outn - 1
   chars (cut, it could read as another value). */
static int parse_string(cursor *c, char *out, size_t outn)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || *c->p == '\n') return 0;
        if (k + 1 >= outn) return -1;
        out[k++] = *c->p;
        c->p++;
    }
    if (c->p >= c->end) return 0;
    c->p++;
    out[k] = '\0';
    return 1;
}

/* Makes a copy of s safe to quote in a message (no control characters). */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126) *s = '?';
}

static int parse_shape(cursor *c, npy_header *h, const char *path, ty_error *e)
{
    if (!accept(c, '('))
        return ty_fail(e, TY_EFORMAT, "%s: bad header: 'shape' is not a tuple", path);
    int n = 0;
    for (;;) {
        if (accept(c, ')')) break;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return ty_fail(e, TY_EFORMAT,
                           "%s: bad header: 'shape' is not a tuple of non-negative integers",
                           path);
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > ((int64_t)1 << 58))
                return ty_fail(e, TY_EFORMAT, "%s: bad header: a size in 'shape' is too large",
                               path);
            v = v * 10 + (*c->p++ - '0');
        }
        if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++;   /* Python 2 longs */
        if (n == TY_MAX_DIMS)
            return ty_fail(e, TY_EFORMAT,
                           "%s: the array has more than %d dimensions (tycho's limit)", path,
                           TY_MAX_DIMS);
        h->shape[n++] = v;
        if (accept(c, ',')) continue;
        if (accept(c, ')')) break;
        return ty_fail(e, TY_EFORMAT, "%s: bad header: 'shape' is not a tuple of integers",
                       path);
    }
    h->ndim = n;
    h->has_shape = 1;
    return TY_OK;
}

static int parse_dict(const char *text, size_t len, npy_header *h, const char *path,
                      ty_error *e)
{
    cursor c = { text, text + len };
    char key[32];
    int rc;
    if (!accept(&c, '{'))
        return ty_fail(e, TY_EFORMAT,
                       "%s: bad header: not a dict like {'descr': ..., 'fortran_order': ..., "
                       "'shape': ...}", path);
    for (;;) {
        if (accept(&c, '}')) break;
        if (parse_string(&c, key, sizeof key) != 1 || !accept(&c, ':'))
            return ty_fail(e, TY_EFORMAT, "%s: bad header: expected 'key': value in the dict",
                           path);
        if (strcmp(key, "descr") == 0) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[')
                return ty_fail(e, TY_EFORMAT,
                               "%s: structured dtype (a list of fields) is not supported; "
                               "tycho loads real numbers only", path);
            int got = parse_string(&c, h->descr, sizeof h->descr);
            if (got < 0)
                return ty_fail(e, TY_EFORMAT, "%s: bad header: 'descr' is longer than %d characters",
                               path, (int)sizeof h->descr - 1);
            if (!got)
                return ty_fail(e, TY_EFORMAT, "%s: bad header: 'descr' is not a string", path);
            h->has_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (accept_word(&c, "True")) h->fortran = 1;
            else if (accept_word(&c, "False")) h->fortran = 0;
            else
                return ty_fail(e, TY_EFORMAT,
                               "%s: bad header: 'fortran_order' is not True or False", path);
            h->has_fortran = 1;
        } else if (strcmp(key, "shape") == 0) {
            if ((rc = parse_shape(&c, h, path, e))) return rc;
        } else {
            printable(key);
            return ty_fail(e, TY_EFORMAT, "%s: bad header: unexpected key '%s'", path, key);
        }
        if (accept(&c, ',')) continue;
        if (accept(&c, '}')) break;
        return ty_fail(e, TY_EFORMAT, "%s: bad header: expected ',' or '}' in the dict", path);
    }
    skip_ws(&c);
    if (c.p != c.end)
        return ty_fail(e, TY_EFORMAT, "%s: bad header: unexpected text after the dict", path);
    if (!h->has_descr || !h->has_fortran || !h->has_shape)
        return ty_fail(e, TY_EFORMAT, "%s: bad header: the dict has no '%s' key", path,
                       !h->has_descr ? "descr" : !h->has_fortran ? "fortran_order" : "shape");
    return TY_OK;
}

/* Turns descr ('<f8', '>i4', '|b1' ...) into kind, size and byte order. */
static int parse_descr(npy_header *h, const char *path, ty_error *e)
{
    const char *s = h->descr;
    char order = '=';
    if (*s == '<' || *s == '>' || *s == '|' || *s == '=') order = *s++;
    char kind = *s ? *s++ : '\0';
    int size = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && size < 1000) {
        size = size * 10 + (*s++ - '0');
        digits++;
    }
    const char *what = NULL;
    switch (kind) {
    case 'c': what = "complex"; break;
    case 'O': what = "Python objects"; break;
    case 'U': what = "unicode strings"; break;
    case 'S': case 'a': what = "byte strings"; break;
    case 'V': what = "raw bytes or records"; break;
    case 'M': what = "datetime"; break;
    case 'm': what = "timedelta"; break;
    case 'f': if (size > 8) what = "extended precision"; break;
    default: break;
    }
    printable(h->descr);
    if (what)
        return ty_fail(e, TY_EFORMAT,
                       "%s: dtype '%s' (%s) is not supported; tycho loads real numbers only",
                       path, h->descr, what);
    int ok = digits > 0 && *s == '\0';
    switch (kind) {
    case 'f': h->kind = DT_FLOAT; ok = ok && (size == 2 || size == 4 || size == 8); break;
    case 'i': h->kind = DT_INT; ok = ok && (size == 1 || size == 2 || size == 4 || size == 8); break;
    case 'u': h->kind = DT_UINT; ok = ok && (size == 1 || size == 2 || size == 4 || size == 8); break;
    case 'b': h->kind = DT_BOOL; ok = ok && size == 1; break;
    default: ok = 0;
    }
    if (!ok)
        return ty_fail(e, TY_EFORMAT, "%s: dtype '%s' is not a dtype tycho can read", path,
                       h->descr);
    h->size = size;
    h->big = order == '>' || (order == '=' && !host_is_little());
    return TY_OK;
}

/* ---- conversion of raw elements to float64 */

static double half_to_double(unsigned h)
{
    int ex = (int)((h >> 10) & 0x1f);
    unsigned m = h & 0x3ff;
    double v;
    if (ex == 0) v = ldexp((double)m, -24);
    else if (ex == 31) v = m ? NAN : INFINITY;
    else v = ldexp((double)(m | 0x400), ex - 25);
    return (h & 0x8000) ? -v : v;
}

static void convert(double *dst, const unsigned char *src, size_t n, const npy_header *h)
{
    int size = h->size;
    for (size_t k = 0; k < n; k++, src += size) {
        uint64_t v = 0;
        if (h->big)
            for (int i = 0; i < size; i++) v = v << 8 | src[i];
        else
            for (int i = size - 1; i >= 0; i--) v = v << 8 | src[i];
        double d;
        switch (h->kind) {
        case DT_FLOAT:
            if (size == 8) {
                memcpy(&d, &v, 8);
            } else if (size == 4) {
                uint32_t w = (uint32_t)v;
                float f;
                memcpy(&f, &w, 4);
                d = f;
            } else {
                d = half_to_double((unsigned)v);
            }
            break;
        case DT_INT:
            if (size == 8) {
                int64_t s;
                memcpy(&s, &v, 8);
                d = (double)s;
            } else {
                uint64_t sign = (uint64_t)1 << (8 * size - 1);
                d = (double)((int64_t)(v ^ sign) - (int64_t)sign);
            }
            break;
        case DT_UINT: d = (double)v; break;
        default: d = v != 0; break;
        }
        dst[k] = d;
    }
}

/* Reads n elements into the contiguous dst. */
static int read_data(FILE *f, double *dst, int64_t n, const npy_header *h, const char *path,
                     ty_error *e)
{
    if (h->kind == DT_FLOAT && h->size == 8 && h->big == !host_is_little()) {
        if (n > 0 && fread(dst, sizeof(double), (size_t)n, f) != (size_t)n) goto short_read;
        return TY_OK;
    }
    unsigned char buf[CHUNK * 8];
    for (int64_t done = 0; done < n;) {
        size_t m = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        if (fread(buf, (size_t)h->size, m, f) != m) goto short_read;
        convert(dst + done, buf, m, h);
        done += (int64_t)m;
    }
    return TY_OK;
short_read:
    if (ferror(f)) return ty_fail(e, TY_EFILE, "%s: read failed: %s", path, strerror(errno));
    return ty_fail(e, TY_EFORMAT, "%s: the data is truncated (the file ends early)", path);
}

static uint32_t le_uint(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The magic string, the version and the header of the file, parsed into h; *data_at is
   where the data starts. */
static int read_header(FILE *f, npy_header *h, int64_t fsize, int64_t *data_at,
                       const char *path, const ty_allocator *a, ty_error *e)
{
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (got < 10 || memcmp(pre, MAGIC, MAGIC_LEN) != 0) {
        if (ferror(f)) return ty_fail(e, TY_EFILE, "%s: read failed: %s", path, strerror(errno));
        return ty_fail(e, TY_EFORMAT, "%s: not a .npy file (bad magic string)", path);
    }
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return ty_fail(e, TY_EFORMAT, "%s: .npy format version %d.%d is not supported "
                       "(tycho reads 1.0, 2.0 and 3.0)", path, major, minor);
    int lenbytes = major == 1 ? 2 : 4;
    if (lenbytes == 4 && fread(pre + 10, 1, 2, f) != 2)
        return ty_fail(e, TY_EFORMAT, "%s: the file ends inside the header length", path);
    uint32_t hlen = le_uint(pre + 8, lenbytes);
    *data_at = 8 + lenbytes + (int64_t)hlen;
    if (hlen > MAX_HEADER)
        return ty_fail(e, TY_EFORMAT, "%s: header length %lu is over the limit of %d bytes",
                       path, (unsigned long)hlen, MAX_HEADER);
    if (*data_at > fsize)
        return ty_fail(e, TY_EFORMAT, "%s: header length %lu runs past the end of the file",
                       path, (unsigned long)hlen);
    char *text = a->fn(a->ud, NULL, 0, (size_t)hlen + 1);
    if (!text) return ty_fail(e, TY_EMEM, "%s: not enough memory for the header", path);
    memset(h, 0, sizeof *h);
    int rc;
    if (fread(text, 1, hlen, f) != hlen)
        rc = ty_fail(e, TY_EFORMAT, "%s: header length %lu runs past the end of the file",
                     path, (unsigned long)hlen);
    else if (memchr(text, '\0', hlen))
        rc = ty_fail(e, TY_EFORMAT, "%s: bad header: it contains a NUL byte", path);
    else
        rc = parse_dict(text, hlen, h, path, e);
    a->fn(a->ud, text, (size_t)hlen + 1, 0);
    return rc ? rc : parse_descr(h, path, e);
}

static int load_file(FILE *f, ty_tensor *out, const char *path, const ty_allocator *a,
                     ty_error *e)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0) return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno));
    int64_t fsize = (int64_t)st.st_size, data_at = 0; /* a regular file: ty_npy_load checked */
    npy_header h;
    int rc = read_header(f, &h, fsize, &data_at, path, a, e);
    if (rc) return rc;
    char srepr[200];
    ty_shape_repr(srepr, sizeof srepr, h.ndim, h.shape);
    /* NumPy bounds the product of the sizes without the zeros, so (0, 10**11, 10**11) is too
       large too; the bound is the tensor core's, whose strides could not hold more */
    if (ty_check_shape(h.ndim, h.shape, NULL))
        return ty_fail(e, TY_EFORMAT, "%s: shape %s is too large", path, srepr);
    int64_t n = ty_shape_numel(h.ndim, h.shape);
    if (n * h.size > fsize - data_at)
        return ty_fail(e, TY_EFORMAT,
                       "%s: data too short: shape %s of '%s' needs %lld bytes, the file "
                       "has %lld (truncated, or a wrong shape in the header)", path, srepr,
                       h.descr, (long long)(n * h.size), (long long)(fsize - data_at));
    if (!h.fortran || h.ndim < 2) {
        if ((rc = ty_tensor_alloc(out, a, h.ndim, h.shape, e))) return rc;
        if ((rc = read_data(f, out->data, n, &h, path, e))) ty_tensor_free(out);
        return rc;
    }
    /* Fortran order is C order of the reversed shape: read that, then copy transposed. */
    int64_t rev[TY_MAX_DIMS];
    for (int i = 0; i < h.ndim; i++) rev[i] = h.shape[h.ndim - 1 - i];
    ty_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    if ((rc = ty_tensor_alloc(&tmp, a, h.ndim, rev, e))) return rc;
    if ((rc = read_data(f, tmp.data, n, &h, path, e)) == TY_OK &&
        (rc = ty_tensor_alloc(out, a, h.ndim, h.shape, e)) == TY_OK) {
        ty_view_reverse_dims(&tmp);
        ty_copy_flat(out, &tmp);
    }
    ty_tensor_free(&tmp);
    return rc;
}

/* Only regular files are read: a FIFO, a device or a socket could block forever or never
   end. The file is opened without blocking (a FIFO's open would wait for a writer), then
   checked. */
int ty_npy_load(ty_tensor *out, const char *path, const ty_allocator *a, ty_error *e)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno));
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "is a directory";
    else if (!S_ISREG(st.st_mode)) why = "is not a regular file";
    if (why) {
        ty_fail(e, TY_EFILE, "%s: %s", path, why);
        close(fd);
        return TY_EFILE;
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int err = errno;
        close(fd);
        return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(err));
    }
    int rc = load_file(f, out, path, a, e);
    fclose(f);
    return rc;
}

/* ---- writer */

static void put_le(unsigned char *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    for (int i = 0; i < 8; i++, v >>= 8) p[i] = (unsigned char)v;
}

static int write_data(FILE *f, const ty_tensor *t)
{
    int64_t n = ty_numel(t);
    if (n == 0) return 1;
    if (ty_is_contiguous(t) && host_is_little())
        return fwrite(t->data, sizeof(double), (size_t)n, f) == (size_t)n;
    unsigned char buf[CHUNK * 8];
    size_t used = 0;
    int ok = 1;
    const ty_tensor *ops[1] = { t };
    ty_iter it;
    ty_iter_init(&it, t->ndim, t->shape, 1, ops);
    TY_ITER_RUNS(it, {
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_ && ok; i++) {
            put_le(buf + 8 * used++, it.ptr[0][i * s]);
            if (used == CHUNK) {
                ok = fwrite(buf, 8, used, f) == used;
                used = 0;
            }
        }
    });
    return ok && (used == 0 || fwrite(buf, 8, used, f) == used);
}

int ty_npy_save(const ty_tensor *t, const char *path, ty_error *e)
{
    if (!t->data && ty_numel(t) > 0)
        return ty_fail(e, TY_EARG, "%s: the tensor has no data", path);
    /* Header as NumPy's _write_array_header + _wrap_header: keys sorted, repr of the shape,
       growth room for dimension 0, then spaces and '\n' up to a multiple of ARRAY_ALIGN. */
    char head[512], srepr[200];
    ty_shape_repr(srepr, sizeof srepr, t->ndim, t->shape);
    int len = snprintf(head + 10, sizeof head - 10,
                       "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", srepr);
    if (t->ndim > 0) {
        char first[32];
        int grow = GROWTH_AXIS_MAX_DIGITS -
                   snprintf(first, sizeof first, "%lld", (long long)t->shape[0]);
        for (; grow > 0; grow--) head[10 + len++] = ' ';
    }
    int pad = ARRAY_ALIGN - (10 + len + 1) % ARRAY_ALIGN;
    memset(head + 10 + len, ' ', (size_t)pad);
    len += pad;
    head[10 + len++] = '\n';
    memcpy(head, MAGIC "\x01\x00", 8);
    head[8] = (char)(len & 0xff);
    head[9] = (char)(len >> 8);

    /* only a regular file (or a new one) is written: a FIFO would block, a device never fill */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return ty_fail(e, TY_EFILE, "%s: %s", path,
                       S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    int fd = open(path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd < 0) return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ty_fail(e, TY_EFILE, "%s: is not a regular file", path);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = ftruncate(fd, 0) == 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int err = errno;
        close(fd);
        return ty_fail(e, TY_EFILE, "%s: %s", path, strerror(err));
    }
    int ok = fwrite(head, 1, (size_t)(10 + len), f) == (size_t)(10 + len) && write_data(f, t);
    int err = errno;
    if (!ok) {
        fclose(f);
        return ty_fail(e, TY_EFILE, "%s: write failed: %s", path, strerror(err));
    }
    if (fclose(f) != 0)
        return ty_fail(e, TY_EFILE, "%s: write failed: %s", path, strerror(errno));
    return TY_OK;
}
