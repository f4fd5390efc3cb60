/* npy.c: the .npy reader (every real dtype NumPy writes, either byte order, C or Fortran
   order, checked against the source's real size) and a writer byte-identical to np.save,
   over the byte sources and sinks of bytes.h (plain files, .npz members, memory). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "io/npy.h"

#include "core/format.h"
#include "io/dtype.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAGIC     "\x93NUMPY"
#define MAGIC_LEN 6
/* NumPy refuses longer headers unless asked (max_header_size); tycho's never come close. */
#define MAX_HEADER (1 << 20)
/* np.save pads the header with room for the first dimension to grow to this many digits. */
#define GROWTH_AXIS_MAX_DIGITS 21
#define ARRAY_ALIGN 64

typedef struct npy_header {
    char    descr[48];     /* as written in the file, cut to fit */
    int     has_descr, has_fortran, has_shape;
    int     fortran;
    int     ndim;
    int64_t shape[TY_MAX_DIMS];
    ty_dtype dt;
} npy_header;

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
    case 'f': h->dt.kind = TY_DT_FLOAT; ok = ok && (size == 2 || size == 4 || size == 8); break;
    case 'i': h->dt.kind = TY_DT_INT; ok = ok && (size == 1 || size == 2 || size == 4 || size == 8); break;
    case 'u': h->dt.kind = TY_DT_UINT; ok = ok && (size == 1 || size == 2 || size == 4 || size == 8); break;
    case 'b': h->dt.kind = TY_DT_BOOL; ok = ok && size == 1; break;
    default: ok = 0;
    }
    if (!ok)
        return ty_fail(e, TY_EFORMAT, "%s: dtype '%s' is not a dtype tycho can read", path,
                       h->descr);
    h->dt.size = size;
    h->dt.big = order == '>' || (order == '=' && !ty_host_is_little());
    return TY_OK;
}

static uint32_t le_uint(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* The magic string, the version and the header, parsed into h; *data_at is where the data
   starts (the source is there on return). */
static int read_header(ty_source *s, npy_header *h, int64_t *data_at, const ty_allocator *a,
                       ty_error *e)
{
    const char *path = s->name;
    unsigned char pre[12];
    size_t got = 0;
    int rc = s->read(s, pre, 10, &got, e);
    if (rc) return rc;
    if (got < 10 || memcmp(pre, MAGIC, MAGIC_LEN) != 0)
        return ty_fail(e, TY_EFORMAT, "%s: not a .npy file (bad magic string)", path);
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return ty_fail(e, TY_EFORMAT, "%s: .npy format version %d.%d is not supported "
                       "(tycho reads 1.0, 2.0 and 3.0)", path, major, minor);
    int lenbytes = major == 1 ? 2 : 4;
    if (lenbytes == 4) {
        if ((rc = s->read(s, pre + 10, 2, &got, e))) return rc;
        if (got != 2)
            return ty_fail(e, TY_EFORMAT, "%s: the file ends inside the header length", path);
    }
    uint32_t hlen = le_uint(pre + 8, lenbytes);
    *data_at = 8 + lenbytes + (int64_t)hlen;
    if (hlen > MAX_HEADER)
        return ty_fail(e, TY_EFORMAT, "%s: header length %lu is over the limit of %d bytes",
                       path, (unsigned long)hlen, MAX_HEADER);
    if (*data_at > s->size)
        return ty_fail(e, TY_EFORMAT, "%s: header length %lu runs past the end of the file",
                       path, (unsigned long)hlen);
    char *text = a->fn(a->ud, NULL, 0, (size_t)hlen + 1);
    if (!text) return ty_fail(e, TY_EMEM, "%s: not enough memory for the header", path);
    memset(h, 0, sizeof *h);
    if ((rc = s->read(s, text, hlen, &got, e)) == TY_OK) {
        if (got != hlen)
            rc = ty_fail(e, TY_EFORMAT, "%s: header length %lu runs past the end of the file",
                         path, (unsigned long)hlen);
        else if (memchr(text, '\0', hlen))
            rc = ty_fail(e, TY_EFORMAT, "%s: bad header: it contains a NUL byte", path);
        else
            rc = parse_dict(text, hlen, h, path, e);
    }
    a->fn(a->ud, text, (size_t)hlen + 1, 0);
    return rc ? rc : parse_descr(h, path, e);
}

int ty_npy_read(ty_source *s, ty_tensor *out, const ty_allocator *a, ty_error *e)
{
    const char *path = s->name;
    int64_t data_at = 0;
    npy_header h;
    int rc = read_header(s, &h, &data_at, a, e);
    if (rc) return rc;
    char srepr[200];
    ty_shape_repr(srepr, sizeof srepr, h.ndim, h.shape);
    /* NumPy bounds the product of the sizes without the zeros, so (0, 10**11, 10**11) is too
       large too; the bound is the tensor core's, whose strides could not hold more */
    if (ty_check_shape(h.ndim, h.shape, NULL))
        return ty_fail(e, TY_EFORMAT, "%s: shape %s is too large", path, srepr);
    int64_t n = ty_shape_numel(h.ndim, h.shape);
    if (n * h.dt.size > s->size - data_at)
        return ty_fail(e, TY_EFORMAT,
                       "%s: data too short: shape %s of '%s' needs %lld bytes, the file "
                       "has %lld (truncated, or a wrong shape in the header)", path, srepr,
                       h.descr, (long long)(n * h.dt.size), (long long)(s->size - data_at));
    if (!h.fortran || h.ndim < 2) {
        if ((rc = ty_tensor_alloc(out, a, h.ndim, h.shape, e))) return rc;
        if ((rc = ty_read_elements(s, out->data, n, h.dt, e))) ty_tensor_free(out);
        return rc;
    }
    /* Fortran order is C order of the reversed shape: read that, then copy transposed. */
    int64_t rev[TY_MAX_DIMS];
    for (int i = 0; i < h.ndim; i++) rev[i] = h.shape[h.ndim - 1 - i];
    ty_tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    if ((rc = ty_tensor_alloc(&tmp, a, h.ndim, rev, e))) return rc;
    if ((rc = ty_read_elements(s, tmp.data, n, h.dt, e)) == TY_OK &&
        (rc = ty_tensor_alloc(out, a, h.ndim, h.shape, e)) == TY_OK) {
        ty_view_reverse_dims(&tmp);
        ty_copy_flat(out, &tmp);
    }
    ty_tensor_free(&tmp);
    return rc;
}

int ty_npy_load(ty_tensor *out, const char *path, const ty_allocator *a, ty_error *e)
{
    int64_t size;
    int fd = ty_open_regular(path, &size, e);
    if (fd < 0) return TY_EFILE;
    ty_source s;
    ty_source_file(&s, fd, 0, size, path);
    int rc = ty_npy_read(&s, out, a, e);
    close(fd);
    return rc;
}

/* ---- writer */

/* Header as NumPy's _write_array_header + _wrap_header: keys sorted, repr of the shape,
   growth room for dimension 0, then spaces and '\n' up to a multiple of ARRAY_ALIGN.
   Returns its length. */
static int make_header(char *head, size_t headn, const ty_tensor *t)
{
    char srepr[200];
    ty_shape_repr(srepr, sizeof srepr, t->ndim, t->shape);
    int len = snprintf(head + 10, headn - 10,
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
    return 10 + len;
}

size_t ty_npy_bytes(const ty_tensor *t)
{
    char head[512];
    return (size_t)make_header(head, sizeof head, t) + (size_t)ty_numel(t) * 8;
}

int ty_npy_write(ty_sink *s, const ty_tensor *t, ty_error *e)
{
    if (!t->data && ty_numel(t) > 0)
        return ty_fail(e, TY_EARG, "%s: the tensor has no data", s->name);
    char head[512];
    int len = make_header(head, sizeof head, t);
    const ty_dtype f8 = { TY_DT_FLOAT, 8, 0 };
    int rc = s->write(s, head, (size_t)len, e);
    return rc ? rc : ty_write_elements(s, t, f8, e);
}

static int write_npy(ty_sink *s, void *ctx, ty_error *e)
{
    return ty_npy_write(s, ctx, e);
}

int ty_npy_save(const ty_tensor *t, const char *path, ty_error *e)
{
    if (!t->data && ty_numel(t) > 0)
        return ty_fail(e, TY_EARG, "%s: the tensor has no data", path);
    return ty_save_atomic(path, write_npy, (void *)t, e);
}
