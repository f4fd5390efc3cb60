/* safetensors.c: the .safetensors reader (every header field checked before any data is
   read) and writer; data goes through the byte sources, sinks and dtype conversion of
   bytes.h and dtype.h, the JSON header through cJSON. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "io/safetensors.h"

#include "io/bytes.h"
#include "io/dtype.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The safetensors library's own bound on the header */
#define MAX_HEADER 100000000

typedef struct st_entry {
    const char *name;       /* in the cJSON tree */
    ty_dtype    dt;
    int         ndim;
    int64_t     shape[TY_MAX_DIMS];
    int64_t     begin, end; /* in the data area */
} st_entry;

struct ty_st {
    int         fd;
    int64_t     data_at, data_size;
    cJSON      *root;
    int64_t     n, nmeta;
    st_entry   *entries;
    const char **meta;      /* key, value, key, value, ... */
    char        path[];
};

static const struct { const char *name; ty_dtype dt; } dtypes[] = {
    { "F64", { TY_DT_FLOAT, 8, 0 } },  { "F32", { TY_DT_FLOAT, 4, 0 } },
    { "F16", { TY_DT_FLOAT, 2, 0 } },  { "BF16", { TY_DT_BFLOAT, 2, 0 } },
    { "I64", { TY_DT_INT, 8, 0 } },    { "I32", { TY_DT_INT, 4, 0 } },
    { "I16", { TY_DT_INT, 2, 0 } },    { "I8", { TY_DT_INT, 1, 0 } },
    { "U64", { TY_DT_UINT, 8, 0 } },   { "U32", { TY_DT_UINT, 4, 0 } },
    { "U16", { TY_DT_UINT, 2, 0 } },   { "U8", { TY_DT_UINT, 1, 0 } },
    { "BOOL", { TY_DT_BOOL, 1, 0 } },
};

void ty_st_close(ty_st *st)
{
    if (!st) return;
    if (st->fd >= 0) close(st->fd);
    cJSON_Delete(st->root);
    free(st->entries);
    free(st->meta);
    free(st);
}

int64_t ty_st_count(const ty_st *st) { return st->n; }
const char *ty_st_name(const ty_st *st, int64_t i) { return st->entries[i].name; }
int64_t ty_st_meta_count(const ty_st *st) { return st->nmeta; }
const char *ty_st_meta_key(const ty_st *st, int64_t i) { return st->meta[2 * i]; }
const char *ty_st_meta_value(const ty_st *st, int64_t i) { return st->meta[2 * i + 1]; }

/* A non-negative integer (a JSON number without fraction, within 2^53) or -1. */
static int64_t json_count(const cJSON *v)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != floor(d)) return -1;
    return (int64_t)d;
}

#define ENTRY_FAIL(...) do { ty_fail(e, TY_EFORMAT, __VA_ARGS__); return TY_EFORMAT; } while (0)

static int parse_entry(const ty_st *st, const cJSON *item, st_entry *en, ty_error *e)
{
    char name[160];
    ty_printable(name, sizeof name, item->string, strlen(item->string));
    const char *path = st->path;
    if (!cJSON_IsObject(item))
        ENTRY_FAIL("%s: entry '%s' is not an object {dtype, shape, data_offsets}", path, name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL, *f;
    cJSON_ArrayForEach(f, item) {
        const cJSON **slot = strcmp(f->string, "dtype") == 0 ? &dtype
                           : strcmp(f->string, "shape") == 0 ? &shape
                           : strcmp(f->string, "data_offsets") == 0 ? &offsets : NULL;
        char field[64];
        ty_printable(field, sizeof field, f->string, strlen(f->string));
        if (!slot)
            ENTRY_FAIL("%s: entry '%s' has an unexpected field '%s' (an entry has dtype, "
                       "shape and data_offsets)", path, name, field);
        if (*slot) ENTRY_FAIL("%s: entry '%s' has the field '%s' twice", path, name, field);
        *slot = f;
    }
    if (!dtype || !shape || !offsets)
        ENTRY_FAIL("%s: entry '%s' has no '%s'", path, name,
                   !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dtype)) ENTRY_FAIL("%s: entry '%s': dtype is not a string", path, name);
    size_t k = 0, nd = sizeof dtypes / sizeof dtypes[0];
    while (k < nd && strcmp(dtypes[k].name, dtype->valuestring) != 0) k++;
    if (k == nd) {
        char dname[40];
        ty_printable(dname, sizeof dname, dtype->valuestring, strlen(dtype->valuestring));
        ENTRY_FAIL("%s: entry '%s': dtype '%s' is not supported (tycho reads F64, F32, F16, "
                   "BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL)", path, name, dname);
    }
    en->dt = dtypes[k].dt;
    if (!cJSON_IsArray(shape)) ENTRY_FAIL("%s: entry '%s': shape is not a list", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > TY_MAX_DIMS)
        ENTRY_FAIL("%s: entry '%s' has more than %d dimensions (tycho's limit)", path, name,
                   TY_MAX_DIMS);
    en->ndim = 0;
    cJSON_ArrayForEach(f, shape) {
        int64_t v = json_count(f);
        if (v < 0)
            ENTRY_FAIL("%s: entry '%s': shape is not a list of non-negative integers", path, name);
        en->shape[en->ndim++] = v;
    }
    char srepr[200];
    int at = snprintf(srepr, sizeof srepr, "[");
    for (int d = 0; d < en->ndim && at < 150; d++)
        at += snprintf(srepr + at, sizeof srepr - (size_t)at, "%s%lld", d ? ", " : "",
                       (long long)en->shape[d]);
    snprintf(srepr + at, sizeof srepr - (size_t)at, "]");
    if (ty_check_shape(en->ndim, en->shape, NULL))
        ENTRY_FAIL("%s: entry '%s': shape %s is too large", path, name, srepr);
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        (en->begin = json_count(offsets->child)) < 0 ||
        (en->end = json_count(offsets->child->next)) < 0 || en->begin > en->end)
        ENTRY_FAIL("%s: entry '%s': data_offsets is not [begin, end] with 0 <= begin <= end",
                   path, name);
    if (en->end > st->data_size)
        ENTRY_FAIL("%s: entry '%s': data_offsets [%lld, %lld] run past the end of the data "
                   "(%lld bytes)", path, name, (long long)en->begin, (long long)en->end,
                   (long long)st->data_size);
    int64_t bytes = ty_shape_numel(en->ndim, en->shape) * en->dt.size;
    if (bytes != en->end - en->begin)
        ENTRY_FAIL("%s: entry '%s': shape %s of %s needs %lld bytes, data_offsets [%lld, %lld] "
                   "hold %lld", path, name, srepr, dtypes[k].name, (long long)bytes,
                   (long long)en->begin, (long long)en->end, (long long)(en->end - en->begin));
    en->name = item->string;
    return TY_OK;
}

static int parse_metadata(ty_st *st, const cJSON *meta, ty_error *e)
{
    if (!cJSON_IsObject(meta))
        ENTRY_FAIL("%s: __metadata__ is not an object of strings", st->path);
    const cJSON *f;
    int64_t k = 0;
    st->meta = malloc((2 * (size_t)cJSON_GetArraySize(meta) + 2) * sizeof *st->meta);
    if (!st->meta) return ty_fail(e, TY_EMEM, "%s: not enough memory", st->path);
    cJSON_ArrayForEach(f, meta) {
        if (!cJSON_IsString(f)) {
            char key[100];
            ENTRY_FAIL("%s: __metadata__ '%s' is not a string", st->path,
                       ty_printable(key, sizeof key, f->string, strlen(f->string)));
        }
        st->meta[2 * k] = f->string;
        st->meta[2 * k + 1] = f->valuestring;
        k++;
    }
    st->nmeta = k;
    return TY_OK;
}

static int by_offset(const void *pa, const void *pb)
{
    const st_entry *x = pa, *y = pb;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int by_name(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int check_layout(ty_st *st, ty_error *e)
{
    int rc = TY_OK;
    size_t n = (size_t)st->n;
    if (n < 2) return TY_OK;
    st_entry *sorted = malloc(n * sizeof *sorted);
    const char **names = malloc(n * sizeof *names);
    if (!sorted || !names) {
        rc = ty_fail(e, TY_EMEM, "%s: not enough memory", st->path);
        goto done;
    }
    memcpy(sorted, st->entries, n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) names[i] = st->entries[i].name;
    qsort(sorted, n, sizeof *sorted, by_offset);
    qsort(names, n, sizeof *names, by_name);
    char a[160], b[160];
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            rc = ty_fail(e, TY_EFORMAT, "%s: entry '%s' appears twice", st->path,
                         ty_printable(a, sizeof a, names[i], strlen(names[i])));
            goto done;
        }
    /* empty entries take no bytes; the others must not share any */
    const st_entry *last = NULL;
    for (size_t i = 0; i < n; i++) {
        const st_entry *en = &sorted[i];
        if (en->begin == en->end) continue;
        if (last && en->begin < last->end) {
            rc = ty_fail(e, TY_EFORMAT, "%s: entries '%s' [%lld, %lld] and '%s' [%lld, %lld] "
                         "overlap", st->path,
                         ty_printable(a, sizeof a, last->name, strlen(last->name)),
                         (long long)last->begin, (long long)last->end,
                         ty_printable(b, sizeof b, en->name, strlen(en->name)),
                         (long long)en->begin, (long long)en->end);
            goto done;
        }
        last = en;
    }
done:
    free(sorted);
    free(names);
    return rc;
}

static int read_at(int fd, void *buf, size_t n, int64_t at, const char *path, ty_error *e)
{
    ty_source s;
    ty_source_file(&s, fd, at, (int64_t)n, path);
    return ty_source_read_exact(&s, buf, n, e);
}

int ty_st_open(ty_st **out, const char *path, ty_error *e)
{
    *out = NULL;
    int64_t size;
    int fd = ty_open_regular(path, &size, e);
    if (fd < 0) return TY_EFILE;
    size_t plen = strlen(path);
    ty_st *st = calloc(1, sizeof *st + plen + 1);
    if (!st) {
        close(fd);
        return ty_fail(e, TY_EMEM, "%s: not enough memory", path);
    }
    st->fd = fd;
    memcpy(st->path, path, plen + 1);
    unsigned char len8[8];
    char *text = NULL;
    int rc;
    if (size < 8) {
        rc = ty_fail(e, TY_EFORMAT, "%s: not a .safetensors file (%lld bytes, shorter than "
                     "the header length)", path, (long long)size);
        goto fail;
    }
    if ((rc = read_at(fd, len8, 8, 0, path, e))) goto fail;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    if (hlen > (uint64_t)(size - 8)) {
        rc = ty_fail(e, TY_EFORMAT, "%s: header length %llu runs past the end of the file "
                     "(%lld bytes)", path, (unsigned long long)hlen, (long long)size);
        goto fail;
    }
    if (hlen > MAX_HEADER) {
        rc = ty_fail(e, TY_EFORMAT, "%s: header length %llu is over the limit of %d bytes",
                     path, (unsigned long long)hlen, MAX_HEADER);
        goto fail;
    }
    st->data_at = 8 + (int64_t)hlen;
    st->data_size = size - st->data_at;
    if (!(text = malloc((size_t)hlen + 1))) {
        rc = ty_fail(e, TY_EMEM, "%s: not enough memory for the header", path);
        goto fail;
    }
    if ((rc = read_at(fd, text, (size_t)hlen, 8, path, e))) goto fail;
    text[hlen] = '\0';
    const char *end = NULL;
    st->root = cJSON_ParseWithLengthOpts(text, (size_t)hlen, &end, 0);
    if (!st->root) {
        long at = end ? (long)(end - text) : 0;
        rc = ty_fail(e, TY_EFORMAT, "%s: bad header: not valid JSON (at byte %ld of %llu)",
                     path, at, (unsigned long long)hlen);
        goto fail;
    }
    /* only the spaces the format pads with may follow the object */
    for (size_t i = (size_t)(end - text); i < hlen; i++)
        if (!strchr(" \t\r\n", text[i]) || text[i] == '\0') {
            rc = ty_fail(e, TY_EFORMAT, "%s: bad header: text after the JSON object", path);
            goto fail;
        }
    free(text);
    text = NULL;
    if (!cJSON_IsObject(st->root)) {
        rc = ty_fail(e, TY_EFORMAT, "%s: bad header: not a JSON object of entries", path);
        goto fail;
    }
    int count = cJSON_GetArraySize(st->root);
    st->entries = calloc((size_t)count + 1, sizeof *st->entries);
    if (!st->entries) {
        rc = ty_fail(e, TY_EMEM, "%s: not enough memory", path);
        goto fail;
    }
    const cJSON *item;
    int have_meta = 0;
    cJSON_ArrayForEach(item, st->root) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (have_meta++) {
                rc = ty_fail(e, TY_EFORMAT, "%s: __metadata__ appears twice", path);
                goto fail;
            }
            if ((rc = parse_metadata(st, item, e))) goto fail;
            continue;
        }
        if ((rc = parse_entry(st, item, &st->entries[st->n], e))) goto fail;
        st->n++;
    }
    if ((rc = check_layout(st, e))) goto fail;
    *out = st;
    return TY_OK;
fail:
    free(text);
    ty_st_close(st);
    return rc;
}

int ty_st_read(ty_st *st, int64_t i, ty_tensor *out, const ty_allocator *a, ty_error *e)
{
    const st_entry *en = &st->entries[i];
    char name[160], label[400];
    snprintf(label, sizeof label, "%s: entry '%s'", st->path,
             ty_printable(name, sizeof name, en->name, strlen(en->name)));
    int rc = ty_tensor_alloc(out, a, en->ndim, en->shape, e);
    if (rc) return rc;
    ty_source s;
    ty_source_file(&s, st->fd, st->data_at + en->begin, en->end - en->begin, label);
    if ((rc = ty_read_elements(&s, out->data, ty_numel(out), en->dt, e))) ty_tensor_free(out);
    return rc;
}

/* ---- writer */

typedef struct st_writer {
    const ty_named *items;
    int64_t         n;
    int             f32;
    const char     *header;
    size_t          header_len, padded;
} st_writer;

static int write_st(ty_sink *s, void *ctx, ty_error *e)
{
    const st_writer *w = ctx;
    unsigned char len8[8];
    uint64_t v = w->padded;
    for (int i = 0; i < 8; i++, v >>= 8) len8[i] = (unsigned char)v;
    int rc = s->write(s, len8, 8, e);
    if (!rc) rc = s->write(s, w->header, w->header_len, e);
    static const char spaces[8] = "        ";
    if (!rc && w->padded > w->header_len) rc = s->write(s, spaces, w->padded - w->header_len, e);
    ty_dtype dt = { TY_DT_FLOAT, w->f32 ? 4 : 8, 0 };
    for (int64_t i = 0; i < w->n && !rc; i++) rc = ty_write_elements(s, w->items[i].t, dt, e);
    return rc;
}

int ty_st_save(const char *path, ty_named *items, int64_t n, int f32,
               const char *const *keys, const char *const *values, int64_t nmeta,
               ty_error *e)
{
    int rc = ty_named_sort(items, n, path, e);
    if (rc) return rc;
    cJSON *root = cJSON_CreateObject();
    char *name = NULL, *text = NULL;
    if (!root) goto no_memory;
    if (nmeta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        if (!meta) goto no_memory;
        for (int64_t i = 0; i < nmeta; i++)
            if (!cJSON_AddStringToObject(meta, keys[i], values[i])) goto no_memory;
    }
    int64_t offset = 0, size = f32 ? 4 : 8;
    for (int64_t i = 0; i < n; i++) {
        const ty_tensor *t = items[i].t;
        if (!t->data && ty_numel(t) > 0) {
            rc = ty_fail(e, TY_EARG, "%s: the tensor '%.*s' has no data", path,
                         (int)(items[i].len < 100 ? items[i].len : 100), items[i].name);
            goto done;
        }
        if (!(name = malloc(items[i].len + 1))) goto no_memory;
        memcpy(name, items[i].name, items[i].len);
        name[items[i].len] = '\0';
        cJSON *en = cJSON_AddObjectToObject(root, name);
        free(name);
        name = NULL;
        if (!en || !cJSON_AddStringToObject(en, "dtype", f32 ? "F32" : "F64")) goto no_memory;
        cJSON *shape = cJSON_AddArrayToObject(en, "shape");
        if (!shape) goto no_memory;
        for (int d = 0; d < t->ndim; d++) {
            cJSON *dim = cJSON_CreateNumber((double)t->shape[d]);
            if (!dim || !cJSON_AddItemToArray(shape, dim)) {
                cJSON_Delete(dim);
                goto no_memory;
            }
        }
        int64_t bytes = ty_numel(t) * size;
        double off[2] = { (double)offset, (double)(offset + bytes) };
        cJSON *offs = cJSON_CreateDoubleArray(off, 2);
        if (!offs || !cJSON_AddItemToObject(en, "data_offsets", offs)) {
            cJSON_Delete(offs);
            goto no_memory;
        }
        offset += bytes;
    }
    if (!(text = cJSON_PrintUnformatted(root))) goto no_memory;
    st_writer w = { items, n, f32, text, strlen(text), 0 };
    w.padded = (w.header_len + 7) / 8 * 8;
    rc = ty_save_atomic(path, write_st, &w, e);
    goto done;
no_memory:
    rc = ty_fail(e, TY_EMEM, "%s: not enough memory", path);
done:
    free(name);
    if (text) cJSON_free(text);
    cJSON_Delete(root);
    return rc;
}
