/* npz.c: .npz archives through libzip. Members are .npy files read by npy.c through a
   source over a zip_file_t; writing builds the archive in memory (members stored or
   deflated) and hands it to the atomic save. */
#include "io/npz.h"

#include "io/bytes.h"
#include "io/npy.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

struct ty_npz {
    zip_t  *za;
    int64_t n;
    int64_t file_size;
    char    path[];
};

/* Deflate expands at most about 1032 to 1: a member claiming more lies about its size,
   and the reader would allocate what it claims before finding out. */
#define DEFLATE_MAX_RATIO 1032

/* A member's name as messages quote it. */
static void member_label(char *out, size_t n, const char *path, const char *member)
{
    char name[160];
    ty_printable(name, sizeof name, member, strlen(member));
    snprintf(out, n, "%s: member '%s'", path, name);
}

static int zip_failure(ty_error *e, const char *path, int code)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    int rc;
    if (code == ZIP_ER_MEMORY) rc = ty_fail(e, TY_EMEM, "%s: not enough memory", path);
    else if (code == ZIP_ER_NOZIP)
        rc = ty_fail(e, TY_EFORMAT, "%s: not a .npz file (not a zip archive, or truncated)", path);
    else if (code == ZIP_ER_EXISTS)
        rc = ty_fail(e, TY_EFORMAT, "%s: bad zip archive: two members have the same name", path);
    else rc = ty_fail(e, TY_EFORMAT, "%s: bad zip archive: %s", path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return rc;
}

void ty_npz_close(ty_npz *z)
{
    if (!z) return;
    if (z->za) zip_discard(z->za);
    free(z);
}

int ty_npz_open(ty_npz **out, const char *path, ty_error *e)
{
    *out = NULL;
    int64_t size;
    int fd = ty_open_regular(path, &size, e);
    if (fd < 0) return TY_EFILE;
    size_t plen = strlen(path);
    ty_npz *z = malloc(sizeof *z + plen + 1);
    if (!z) {
        close(fd);
        return ty_fail(e, TY_EMEM, "%s: not enough memory", path);
    }
    memcpy(z->path, path, plen + 1);
    z->file_size = size;
    int code = 0;
    z->za = zip_fdopen(fd, ZIP_CHECKCONS, &code);
    if (!z->za) {
        close(fd);   /* zip_fdopen leaves it open when it fails */
        free(z);
        return zip_failure(e, path, code);
    }
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    z->n = n < 0 ? 0 : n;
    for (int64_t i = 0; i < z->n; i++) {
        zip_stat_t st;
        char label[320];
        if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
            ty_npz_close(z);
            return ty_fail(e, TY_EFORMAT, "%s: bad zip archive: member %lld has no name", path,
                           (long long)i + 1);
        }
        size_t len = strlen(st.name);
        if (len <= 4 || memcmp(st.name + len - 4, ".npy", 4) != 0) {
            member_label(label, sizeof label, path, st.name);
            ty_npz_close(z);
            return ty_fail(e, TY_EFORMAT, "%s is not a .npy file (a .npz holds only NumPy "
                           "arrays named <name>.npy)", label);
        }
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
            member_label(label, sizeof label, path, st.name);
            ty_npz_close(z);
            return ty_fail(e, TY_EFORMAT, "%s is encrypted", label);
        }
        const char *why = NULL;
        zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
        if ((st.valid & need) != need) why = "has no sizes in the archive's directory";
        else if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
            why = "is compressed by a method other than deflate (NumPy stores or deflates)";
        else if (st.comp_size > (zip_uint64_t)size ||
                 (st.comp_method == ZIP_CM_STORE && st.size != st.comp_size) ||
                 st.size / DEFLATE_MAX_RATIO > st.comp_size + 1)
            why = "has sizes that do not fit the archive (truncated or damaged)";
        if (why) {
            member_label(label, sizeof label, path, st.name);
            ty_npz_close(z);
            return ty_fail(e, TY_EFORMAT, "%s %s", label, why);
        }
    }
    *out = z;
    return TY_OK;
}

int64_t ty_npz_count(const ty_npz *z)
{
    return z->n;
}

const char *ty_npz_key(const ty_npz *z, int64_t i, size_t *len)
{
    const char *name = zip_get_name(z->za, (zip_uint64_t)i, 0);
    *len = name ? strlen(name) - 4 : 0;
    return name ? name : "";
}

static int member_read(ty_source *s, void *buf, size_t n, size_t *got, ty_error *e)
{
    zip_file_t *f = s->ud;
    size_t done = 0;
    while (done < n) {
        zip_int64_t r = zip_fread(f, (char *)buf + done, n - done);
        if (r < 0) return ty_fail(e, TY_EFORMAT, "%s: %s", s->name, zip_file_strerror(f));
        if (r == 0) break;
        done += (size_t)r;
    }
    *got = done;
    return TY_OK;
}

int ty_npz_read(ty_npz *z, int64_t i, ty_tensor *out, const ty_allocator *a, ty_error *e)
{
    char label[320];
    zip_stat_t st;
    if (zip_stat_index(z->za, (zip_uint64_t)i, 0, &st) != 0)
        return ty_fail(e, TY_EFORMAT, "%s: bad zip archive: %s", z->path,
                       zip_strerror(z->za));
    member_label(label, sizeof label, z->path, st.name);
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)i, 0);
    if (!f) {
        int code = zip_error_code_zip(zip_get_error(z->za));
        if (code == ZIP_ER_MEMORY) return ty_fail(e, TY_EMEM, "%s: not enough memory", label);
        return ty_fail(e, TY_EFORMAT, "%s: %s", label, zip_strerror(z->za));
    }
    ty_source s;
    memset(&s, 0, sizeof s);
    s.read = member_read;
    s.name = label;
    s.ud = f;
    s.size = (st.valid & ZIP_STAT_SIZE) && st.size < (zip_uint64_t)INT64_MAX ? (int64_t)st.size : 0;
    int rc = ty_npy_read(&s, out, a, e);
    /* read to the member's end, where libzip checks its CRC: a damaged member is reported
       as such, even where the damage also made its .npy header unreadable */
    if (rc == TY_OK || rc == TY_EFORMAT) {
        char rest[512];
        size_t got = sizeof rest;
        ty_error crc;
        int drc = TY_OK;
        while (drc == TY_OK && got == sizeof rest) drc = member_read(&s, rest, sizeof rest, &got, &crc);
        if (drc != TY_OK) {
            *e = crc;
            rc = drc;
        }
    }
    if (rc != TY_OK) ty_tensor_free(out);
    zip_fclose(f);
    return rc;
}

/* ---- writer */

static int cmp_named(const void *pa, const void *pb)
{
    const ty_named *x = pa, *y = pb;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

int ty_named_sort(ty_named *items, int64_t n, const char *path, ty_error *e)
{
    if (n > 1) qsort(items, (size_t)n, sizeof *items, cmp_named);
    for (int64_t i = 1; i < n; i++)
        if (cmp_named(&items[i - 1], &items[i]) == 0) {
            char name[160];
            return ty_fail(e, TY_EARG, "%s: the name '%s' is given twice", path,
                           ty_printable(name, sizeof name, items[i].name, items[i].len));
        }
    return TY_OK;
}

/* The empty archive: an end of central directory record alone (what zipfile writes). */
static int write_empty(ty_sink *s, void *ctx, ty_error *e)
{
    (void)ctx;
    static const unsigned char eocd[22] = { 'P', 'K', 5, 6 };
    return s->write(s, eocd, sizeof eocd, e);
}

static int write_archive(ty_sink *s, void *ctx, ty_error *e)
{
    zip_source_t *src = ctx;
    if (zip_source_open(src) != 0)
        return ty_fail(e, TY_EMEM, "%s: %s", s->name, zip_error_strerror(zip_source_error(src)));
    unsigned char buf[1 << 15];
    int rc = TY_OK;
    for (;;) {
        zip_int64_t r = zip_source_read(src, buf, sizeof buf);
        if (r < 0) {
            rc = ty_fail(e, TY_EMEM, "%s: %s", s->name, zip_error_strerror(zip_source_error(src)));
            break;
        }
        if (r == 0) break;
        if ((rc = s->write(s, buf, (size_t)r, e))) break;
    }
    zip_source_close(src);
    return rc;
}

int ty_npz_save(const char *path, ty_named *items, int64_t n, int compress,
                const ty_allocator *a, ty_error *e)
{
    int rc = ty_named_sort(items, n, path, e);
    if (rc) return rc;
    for (int64_t i = 0; i < n; i++)
        if (!items[i].t->data && ty_numel(items[i].t) > 0)
            return ty_fail(e, TY_EARG, "%s: the tensor '%.*s' has no data", path,
                           (int)(items[i].len < 100 ? items[i].len : 100), items[i].name);
    if (n == 0) return ty_save_atomic(path, write_empty, NULL, e);

    size_t sinks_bytes = (size_t)n * sizeof(ty_sink);
    ty_sink *members = a->fn(a->ud, NULL, 0, sinks_bytes);
    if (!members) return ty_fail(e, TY_EMEM, "%s: not enough memory", path);
    memset(members, 0, sinks_bytes);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = NULL;
    char *name = NULL;
    if (!src) goto no_memory;
    zip_source_keep(src);   /* the archive's bytes stay in it after zip_close */
    if (!(za = zip_open_from_source(src, ZIP_TRUNCATE, &ze))) goto zip_error;
    for (int64_t i = 0; i < n; i++) {
        const ty_named *it = &items[i];
        if ((rc = ty_sink_memory(&members[i], a, ty_npy_bytes(it->t), path, e)) ||
            (rc = ty_npy_write(&members[i], it->t, e)))
            goto fail;
        if (!(name = malloc(it->len + 5))) goto no_memory;
        memcpy(name, it->name, it->len);
        memcpy(name + it->len, ".npy", 5);
        zip_source_t *ms = zip_source_buffer(za, members[i].buf, members[i].len, 0);
        if (!ms) goto zip_archive_error;
        zip_int64_t idx = zip_file_add(za, name, ms, ZIP_FL_ENC_UTF_8);
        if (idx < 0) {
            zip_source_free(ms);
            goto zip_archive_error;
        }
        free(name);
        name = NULL;
        if (zip_set_file_compression(za, (zip_uint64_t)idx, compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) ||
            zip_file_set_dostime(za, (zip_uint64_t)idx, 0, (1 << 5) | 1, 0))   /* 1980-01-01 */
            goto zip_archive_error;
    }
    if (zip_close(za) != 0) goto zip_archive_error;
    za = NULL;
    rc = ty_save_atomic(path, write_archive, src, e);
    goto done;

zip_archive_error:
    zip_error_set(&ze, zip_error_code_zip(zip_get_error(za)), zip_error_code_system(zip_get_error(za)));
zip_error:
    if (zip_error_code_zip(&ze) == ZIP_ER_MEMORY) goto no_memory;
    rc = ty_fail(e, TY_EFILE, "%s: cannot make the archive: %s", path, zip_error_strerror(&ze));
    goto fail;
no_memory:
    rc = ty_fail(e, TY_EMEM, "%s: not enough memory", path);
fail:
done:
    free(name);
    if (za) zip_discard(za);
    if (src) zip_source_free(src);
    zip_error_fini(&ze);
    for (int64_t i = 0; i < n; i++) ty_sink_memory_free(&members[i]);
    a->fn(a->ud, members, sinks_bytes, 0);
    return rc;
}
