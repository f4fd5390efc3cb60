/* format.c: NumPy 1.24's arrayprint (FloatingFormat, _formatArray, array_repr) for float64
   tensors, and Python's float repr. Digits come from the C library's exact printf/strtod. */
#include "core/format.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NumPy's default print options. */
#define PRECISION 8
#define THRESHOLD 1000
#define EDGEITEMS 3
#define LINEWIDTH 75
/* The continuation indent follows from the prefix length, as for any ndarray subclass
   (np.matrix indents by 8), so columns line up under the first row. */
static const char PREFIX[] = "tensor(";
#define PREFIX_LEN ((int)sizeof PREFIX - 1)

/* One decimal number: digits d[0..n-1], the first one worth 10^e. */
typedef struct decimal {
    int  neg;
    int  n;
    int  e;
    char d[32];
} decimal;

/* Reads printf's "%e" text. Any non-digit before the 'e' is taken as the decimal point,
   so a script that changes LC_NUMERIC does not break printing. */
static void parse_e(const char *s, decimal *dec)
{
    dec->neg = 0;
    dec->n = 0;
    if (*s == '-') {
        dec->neg = 1;
        s++;
    }
    for (; *s && *s != 'e' && *s != 'E'; s++)
        if (*s >= '0' && *s <= '9' && dec->n < (int)sizeof dec->d) dec->d[dec->n++] = *s;
    dec->e = *s ? atoi(s + 1) : 0;
    while (dec->n > 1 && dec->d[dec->n - 1] == '0') dec->n--;
}

/* The fewest significant digits that read back as x (x finite), if at most maxp are
   needed: returns 1, else 0. printf rounds correctly, so the first precision that
   round-trips gives the nearest shortest digits, as Dragon4 (unique mode) and Python's
   repr do. Testing maxp first spares the search for values NumPy's cap cuts anyway. */
static int shortest_within(double x, int maxp, decimal *dec)
{
    char buf[48];
    if (maxp > 17) maxp = 17;
    if (maxp < 1) return 0;
    snprintf(buf, sizeof buf, "%.*e", maxp - 1, x);
    if (strtod(buf, NULL) != x) return 0;
    for (int p = 1; p < maxp; p++) {
        char b2[48];
        snprintf(b2, sizeof b2, "%.*e", p - 1, x);
        if (strtod(b2, NULL) == x) {
            parse_e(b2, dec);
            return 1;
        }
    }
    parse_e(buf, dec);
    return 1;
}

/* dragon4_positional(x, precision=8, unique=True, fractional=True, trim='.'), split at the
   point: ip gets the sign and integer digits, fp the fraction digits (maybe none).
   Callers guarantee |x| < 1e8 (NumPy switches to scientific above). */
static void positional(double x, char *ip, char *fp)
{
    decimal dec;
    char ebuf[32];
    snprintf(ebuf, sizeof ebuf, "%.16e", x);
    parse_e(ebuf, &dec);
    /* at most PRECISION fraction digits means at most e + 1 + PRECISION significant ones */
    if (!shortest_within(x, dec.e + 1 + PRECISION, &dec)) {
        /* More unique digits than the precision allows: Dragon4 then rounds the exact
           binary value at the cutoff, half to even, which is what printf does. */
        char buf[64];
        snprintf(buf, sizeof buf, "%.*f", PRECISION, x);
        const char *s = buf;
        if (*s == '-') *ip++ = *s++;
        while (*s >= '0' && *s <= '9') *ip++ = *s++;
        *ip = '\0';
        if (*s) s++;                                   /* the point */
        char *f0 = fp;
        while (*s >= '0' && *s <= '9') *fp++ = *s++;
        while (fp > f0 && fp[-1] == '0') fp--;
        *fp = '\0';
        return;
    }
    if (dec.neg) *ip++ = '-';
    if (dec.e < 0) {
        *ip++ = '0';
        for (int i = 0; i < -dec.e - 1; i++) *fp++ = '0';
        for (int i = 0; i < dec.n; i++) *fp++ = dec.d[i];
    } else {
        for (int i = 0; i <= dec.e; i++) *ip++ = i < dec.n ? dec.d[i] : '0';
        for (int i = dec.e + 1; i < dec.n; i++) *fp++ = dec.d[i];
    }
    *ip = '\0';
    *fp = '\0';
}

/* dragon4_scientific(x, precision=8, unique=True, trim='.'): sign and first digit in ip,
   the other digits in fp, the decimal exponent in *e10. */
static void scientific(double x, char *ip, char *fp, int *e10)
{
    decimal dec;
    if (!shortest_within(x, PRECISION + 1, &dec)) {
        char buf[48];
        snprintf(buf, sizeof buf, "%.*e", PRECISION, x);
        parse_e(buf, &dec);
    }
    if (dec.neg) *ip++ = '-';
    *ip++ = dec.d[0];
    *ip = '\0';
    memcpy(fp, dec.d + 1, (size_t)(dec.n - 1));
    fp[dec.n - 1] = '\0';
    *e10 = dec.e;
}

static int exp_digits(int e)
{
    int n = 0;
    e = abs(e);
    do {
        n++;
        e /= 10;
    } while (e);
    return n < 2 ? 2 : n;
}

typedef struct fmt {
    const ty_tensor *t;
    int   summarize;        /* more than THRESHOLD elements: show EDGEITEMS per end */
    /* FloatingFormat, fitted to the elements shown */
    int   exp_mode;
    int   pad_left, pad_right;
    int   prec;             /* scientific: fraction digits of every mantissa */
    int   exp_size;         /* scientific: exponent digits */
    /* statistics for fitting */
    int   n_finite, n_nonfinite, neg_inf;
    double max_abs, min_abs;
    int   n_nonzero;
    /* output */
    ty_writer w;
    void *ud;
    int   rc;
} fmt;

typedef void (*visit_fn)(fmt *f, double x);

/* Visits the elements that will be printed (all, or the corners when summarising). */
static void walk(fmt *f, int dim, const double *p, visit_fn fn)
{
    const ty_tensor *t = f->t;
    if (dim == t->ndim) {
        fn(f, *p);
        return;
    }
    int64_t n = t->shape[dim];
    int summary = f->summarize && n > 2 * EDGEITEMS;
    for (int64_t i = 0; i < n; i++) {
        if (summary && i == EDGEITEMS) i = n - EDGEITEMS;
        walk(f, dim + 1, p + i * t->stride[dim], fn);
    }
}

static void visit_range(fmt *f, double x)
{
    if (!isfinite(x)) {
        f->n_nonfinite++;
        if (isinf(x) && x < 0) f->neg_inf = 1;
        return;
    }
    f->n_finite++;
    if (x == 0) return;
    double a = fabs(x);
    if (f->n_nonzero++ == 0) f->max_abs = f->min_abs = a;
    if (a > f->max_abs) f->max_abs = a;
    if (a < f->min_abs) f->min_abs = a;
}

static void visit_widths(fmt *f, double x)
{
    char ip[64], fp[64];
    if (!isfinite(x)) return;
    if (f->exp_mode) {
        int e10;
        scientific(x, ip, fp, &e10);
        int ne = exp_digits(e10);
        if (ne > f->exp_size) f->exp_size = ne;
        if ((int)strlen(fp) > f->prec) f->prec = (int)strlen(fp);
    } else {
        positional(x, ip, fp);
        if ((int)strlen(fp) > f->pad_right) f->pad_right = (int)strlen(fp);
    }
    if ((int)strlen(ip) > f->pad_left) f->pad_left = (int)strlen(ip);
}

/* FloatingFormat.fillFormat. */
static void fit(fmt *f)
{
    walk(f, 0, f->t->data, visit_range);
    if (f->n_nonzero > 0 &&
        (f->max_abs >= 1e8 || f->min_abs < 1e-4 || f->max_abs / f->min_abs > 1e3))
        f->exp_mode = 1;
    if (f->n_finite > 0) {
        walk(f, 0, f->t->data, visit_widths);
        /* pad_right only sizes nan and inf in scientific mode */
        if (f->exp_mode) f->pad_right = f->exp_size + 2 + f->prec;
    }
    if (f->n_nonfinite > 0) {
        int offset = f->pad_right + 1;
        if (3 - offset > f->pad_left) f->pad_left = 3 - offset;
        if (3 + f->neg_inf - offset > f->pad_left) f->pad_left = 3 + f->neg_inf - offset;
    }
}

/* FloatingFormat.__call__: one element, padded like its column. Returns the length. */
static int format_elem(const fmt *f, double x, char *out, size_t cap)
{
    char ip[64], fp[64];
    if (!isfinite(x)) {
        const char *s = isnan(x) ? "nan" : x < 0 ? "-inf" : "inf";
        return snprintf(out, cap, "%*s", f->pad_left + f->pad_right + 1, s);
    }
    if (f->exp_mode) {
        int e10;
        scientific(x, ip, fp, &e10);
        /* min_digits = precision: shorter mantissas get zeros (their exact digits, as
           Dragon4 would print, are zeros at 9 significant digits) */
        return snprintf(out, cap, "%*s.%s%.*se%c%0*d", f->pad_left, ip, fp,
                        f->prec - (int)strlen(fp), "00000000", e10 < 0 ? '-' : '+',
                        f->exp_size, abs(e10));
    }
    positional(x, ip, fp);
    return snprintf(out, cap, "%*s.%-*s", f->pad_left, ip, f->pad_right, fp);
}

static void put(fmt *f, const char *s, size_t n)
{
    if (!f->rc && n > 0) f->rc = f->w(f->ud, s, n);
}

static void put_spaces(fmt *f, int n)
{
    static const char sp[] = "                ";
    while (n > 0) {
        int k = n < 16 ? n : 16;
        put(f, sp, (size_t)k);
        n -= k;
    }
}

/* The line being filled in the innermost dimension (_extendLine). Its first `indent`
   characters stand for the hanging indent; on the row's first line they become "[". */
#define LINE_CAP 256
typedef struct row {
    char buf[LINE_CAP];
    int  len, indent, width, first;
} row;

static void row_flush(fmt *f, row *r, int rstrip)
{
    int len = r->len;
    if (rstrip)
        while (len > r->indent && r->buf[len - 1] == ' ') len--;
    if (r->first) {
        put(f, "[", 1);
        put(f, r->buf + r->indent, (size_t)(len - r->indent));
        r->first = 0;
    } else {
        put(f, r->buf, (size_t)len);
    }
}

static void row_add(row *r, const char *s, int n)
{
    if (n > LINE_CAP - r->len) n = LINE_CAP - r->len;   /* cannot happen at these widths */
    memcpy(r->buf + r->len, s, (size_t)n);
    r->len += n;
}

static void row_word(fmt *f, row *r, const char *word, int n)
{
    /* wrap when the word would pass the width, unless the line holds no word yet */
    if (r->len + n > r->width && r->len > r->indent) {
        row_flush(f, r, 1);
        put(f, "\n", 1);
        r->len = r->indent;
    }
    row_add(r, word, n);
}

/* _formatArray's recurser for dimension dim at p. */
static void emit(fmt *f, int dim, const double *p, int indent, int width)
{
    const ty_tensor *t = f->t;
    int left = t->ndim - dim;
    int64_t n = t->shape[dim], st = t->stride[dim];
    int summary = f->summarize && n > 2 * EDGEITEMS;

    if (left == 1) {
        row r;
        memset(r.buf, ' ', (size_t)indent);
        r.len = r.indent = indent;
        r.width = width - 1;                 /* room for the "," or "]" after a word */
        r.first = 1;
        for (int64_t i = 0; i < n; i++) {
            if (summary && i == EDGEITEMS) {
                row_word(f, &r, "...", 3);
                row_add(&r, ", ", 2);
                i = n - EDGEITEMS;
            }
            char word[96];
            int wn = format_elem(f, p[i * st], word, sizeof word);
            row_word(f, &r, word, wn < (int)sizeof word ? wn : (int)sizeof word - 1);
            if (i < n - 1) row_add(&r, ", ", 2);
        }
        row_flush(f, &r, 0);
        put(f, "]", 1);
        return;
    }

    /* rows end in ",\n", 2-d blocks in ",\n\n", and so on */
    static const char sep[] = ",\n\n\n\n\n\n\n\n";
    size_t nsep = (size_t)left;
    put(f, "[", 1);
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) {
            put(f, sep, nsep);
            put_spaces(f, indent);
        }
        if (summary && i == EDGEITEMS) {
            put(f, "...", 3);
            put(f, sep, nsep);
            put_spaces(f, indent);
            i = n - EDGEITEMS;
        }
        emit(f, dim + 1, p + i * st, indent + 1, width - 1);
    }
    put(f, "]", 1);
}

void ty_shape_repr(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
}

/* array_repr of an empty array: "[]" plus the shape (unless it is (0,)) and the dtype. */
static void emit_empty(fmt *f)
{
    const ty_tensor *t = f->t;
    char extra[320];
    size_t k = 0;
    extra[0] = '\0';
    if (t->ndim != 1) {
        char tuple[300];
        ty_shape_repr(tuple, sizeof tuple, t->ndim, t->shape);
        k += (size_t)snprintf(extra + k, sizeof extra - k, "shape=%s, ", tuple);
    }
    if (k < sizeof extra) k += (size_t)snprintf(extra + k, sizeof extra - k, "dtype=float64)");
    if (k >= sizeof extra) k = sizeof extra - 1;
    put(f, "[],", 3);
    /* the extras go to a new line when they would pass the line width */
    if (PREFIX_LEN + 3 + (int)k + 1 > LINEWIDTH) {
        put(f, "\n", 1);
        put_spaces(f, PREFIX_LEN);
    } else {
        put(f, " ", 1);
    }
    put(f, extra, k);
}

int ty_format_tensor(const ty_tensor *t, ty_writer w, void *ud)
{
    fmt f;
    memset(&f, 0, sizeof f);
    f.t = t;
    f.w = w;
    f.ud = ud;
    put(&f, PREFIX, (size_t)PREFIX_LEN);
    if (ty_numel(t) == 0) {
        emit_empty(&f);
        return f.rc;
    }
    f.summarize = ty_numel(t) > THRESHOLD;
    fit(&f);
    if (t->ndim == 0) {
        char word[96];
        int n = format_elem(&f, *t->data, word, sizeof word);
        put(&f, word, (size_t)(n < (int)sizeof word ? n : (int)sizeof word - 1));
    } else {
        /* the ")" after the array counts against the line width */
        emit(&f, 0, t->data, PREFIX_LEN + 1, LINEWIDTH - 1);
    }
    put(&f, ")", 1);
    return f.rc;
}
