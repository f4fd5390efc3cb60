/* random.c: MT19937 and the legacy NumPy samplers on top of it, reproduced operation for
   operation (built with -ffp-contract=off) so seeded streams match NumPy bit for bit. */
#include "core/random.h"

#include "core/iter.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#define MT_M          397
#define MT_MATRIX_A   0x9908b0dfU
#define MT_UPPER_MASK 0x80000000U
#define MT_LOWER_MASK 0x7fffffffU

void ty_random_seed(ty_random *r, uint32_t s)
{
    r->key[0] = s;
    for (int i = 1; i < TY_MT_N; i++) {
        uint32_t k = r->key[i - 1];
        r->key[i] = 1812433253U * (k ^ (k >> 30)) + (uint32_t)i;
    }
    r->pos = TY_MT_N;
    r->has_gauss = 0;
    r->gauss = 0.0;
}

/* Mixes a 64-bit value so nearby clock readings give unrelated seeds (splitmix64). */
static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ty_random_seed_entropy(ty_random *r)
{
    /* Like NumPy before SeedSequence: the whole key from /dev/urandom when it is there. */
    int filled = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        filled = fread(r->key, sizeof r->key, 1, f) == 1;
        fclose(f);
    }
    if (!filled) {
        uint64_t h = mix64((uint64_t)time(NULL));
        h = mix64(h ^ (uint64_t)clock());
        h = mix64(h ^ (uint64_t)(uintptr_t)r);
        h = mix64(h ^ (uint64_t)(uintptr_t)&h);
        ty_random_seed(r, (uint32_t)(h ^ (h >> 32)));
    }
    /* An all-zero key would make MT19937 emit zeros forever. */
    r->key[0] |= 0x80000000U;
    r->pos = TY_MT_N;
    r->has_gauss = 0;
    r->gauss = 0.0;
}

static void mt_generate(ty_random *r)
{
    uint32_t *k = r->key, y;
    int i;
    for (i = 0; i < TY_MT_N - MT_M; i++) {
        y = (k[i] & MT_UPPER_MASK) | (k[i + 1] & MT_LOWER_MASK);
        k[i] = k[i + MT_M] ^ (y >> 1) ^ (-(y & 1U) & MT_MATRIX_A);
    }
    for (; i < TY_MT_N - 1; i++) {
        y = (k[i] & MT_UPPER_MASK) | (k[i + 1] & MT_LOWER_MASK);
        k[i] = k[i + (MT_M - TY_MT_N)] ^ (y >> 1) ^ (-(y & 1U) & MT_MATRIX_A);
    }
    y = (k[TY_MT_N - 1] & MT_UPPER_MASK) | (k[0] & MT_LOWER_MASK);
    k[TY_MT_N - 1] = k[MT_M - 1] ^ (y >> 1) ^ (-(y & 1U) & MT_MATRIX_A);
    r->pos = 0;
}

/* The draws the samplers make, inlined into their loops (the public functions wrap them). */
static inline uint32_t next32(ty_random *r)
{
    if (r->pos >= TY_MT_N) mt_generate(r);
    uint32_t y = r->key[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

static inline double next_double(ty_random *r)
{
    int32_t a = (int32_t)(next32(r) >> 5), b = (int32_t)(next32(r) >> 6);
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

/* NumPy's smallest all-ones mask covering max. */
static inline uint64_t mask_of(uint64_t max)
{
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    return mask;
}

/* An integer in [0, max] by masked rejection, mask = mask_of(max): no draw for max 0,
   32-bit words while max fits 32 bits, above them NumPy's next_uint64 for MT19937, two
   words with the first one the high half. */
static inline uint64_t masked32(ty_random *r, uint64_t max, uint64_t mask)
{
    uint64_t v;
    while ((v = next32(r) & mask) > max) {}
    return v;
}

static inline uint64_t masked64(ty_random *r, uint64_t max, uint64_t mask)
{
    for (;;) {
        uint64_t hi = next32(r);
        uint64_t v = ((hi << 32) | next32(r)) & mask;
        if (v <= max) return v;
    }
}

static inline uint64_t masked(ty_random *r, uint64_t max, uint64_t mask)
{
    if (max == 0) return 0;
    return max <= 0xffffffffU ? masked32(r, max, mask) : masked64(r, max, mask);
}

uint32_t ty_random_uint32(ty_random *r)
{
    return next32(r);
}

double ty_random_double(ty_random *r)
{
    return next_double(r);
}

double ty_random_gauss(ty_random *r)
{
    if (r->has_gauss) {
        double g = r->gauss;
        r->has_gauss = 0;
        r->gauss = 0.0;
        return g;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * next_double(r) - 1.0;
        x2 = 2.0 * next_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

/* Sets each element of t to EXPR, evaluated once per element in row-major order whatever
   t's strides: the order NumPy fills in. One loop per sampler, the draw inlined. */
#define FILL(t, EXPR)                                                                      \
    do {                                                                                   \
        int64_t n_all_ = ty_numel(t);                                                      \
        if (n_all_ == 0) break;                                                            \
        if (ty_is_contiguous(t)) {                                                         \
            double *p_ = (t)->data;                                                        \
            for (int64_t k_ = 0; k_ < n_all_; k_++) p_[k_] = (EXPR);                       \
            break;                                                                         \
        }                                                                                  \
        const ty_tensor *ops_[1] = { (t) };                                                \
        ty_iter it_;                                                                       \
        ty_iter_init(&it_, (t)->ndim, (t)->shape, 1, ops_);                                \
        TY_ITER_RUNS(it_, {                                                                \
            int64_t s_ = it_.stride[0][last_];                                             \
            for (int64_t i_ = 0; i_ < n_; i_++) it_.ptr[0][i_ * s_] = (EXPR);              \
        });                                                                                \
    } while (0)

void ty_random_fill_uniform(ty_random *r, ty_tensor *t)
{
    FILL(t, next_double(r));
}

void ty_random_fill_normal(ty_random *r, ty_tensor *t)
{
    FILL(t, ty_random_gauss(r));
}

/* legacy uniform and normal: low + scale * draw, scale = high - low or sigma */
void ty_random_fill_range(ty_random *r, ty_tensor *t, double low, double high)
{
    double scale = high - low;
    FILL(t, low + scale * next_double(r));
}

void ty_random_fill_gauss(ty_random *r, ty_tensor *t, double mu, double sigma)
{
    FILL(t, mu + sigma * ty_random_gauss(r));
}

double ty_random_uniform(ty_random *r, double low, double high)
{
    double scale = high - low;
    return low + scale * next_double(r);
}

double ty_random_normal(ty_random *r, double mu, double sigma)
{
    return mu + sigma * ty_random_gauss(r);
}

uint64_t ty_random_interval(ty_random *r, uint64_t max)
{
    return masked(r, max, mask_of(max));
}

int64_t ty_random_integer(ty_random *r, int64_t low, uint64_t rng)
{
    return (int64_t)((uint64_t)low + masked(r, rng, mask_of(rng)));
}

void ty_random_fill_integers(ty_random *r, ty_tensor *t, int64_t low, uint64_t rng)
{
    /* one loop per path, so the choice of path is made once */
    uint64_t mask = mask_of(rng), ulow = (uint64_t)low;
    if (rng == 0) FILL(t, (double)low);
    else if (rng <= 0xffffffffU) FILL(t, (double)(int64_t)(ulow + masked32(r, rng, mask)));
    else FILL(t, (double)(int64_t)(ulow + masked64(r, rng, mask)));
}

/* Swaps rows i and j of t (row i is t with dimension 0 selected at i). */
static void swap_rows(ty_tensor *t, int64_t i, int64_t j)
{
    ty_tensor a = *t, b = *t;
    ty_view_select(&a, 0, i);
    ty_view_select(&b, 0, j);
    if (a.ndim == 0) {
        double v = *a.data;
        *a.data = *b.data;
        *b.data = v;
        return;
    }
    const ty_tensor *ops[2] = { &a, &b };
    ty_iter it;
    ty_iter_init(&it, a.ndim, a.shape, 2, ops);
    TY_ITER_RUNS(it, {
        int64_t sa = it.stride[0][last_], sb = it.stride[1][last_];
        for (int64_t k = 0; k < n_; k++) {
            double v = it.ptr[0][k * sa];
            it.ptr[0][k * sa] = it.ptr[1][k * sb];
            it.ptr[1][k * sb] = v;
        }
    });
}

void ty_random_shuffle(ty_random *r, ty_tensor *t)
{
    TY_ASSERT(t->ndim >= 1);
    if (ty_numel(t) == 0) return;   /* NumPy 1.24 draws nothing for an empty array either */
    if (t->ndim == 1) {
        double *p = t->data;
        int64_t s = t->stride[0];
        for (int64_t i = t->shape[0] - 1; i >= 1; i--) {
            int64_t j = (int64_t)masked(r, (uint64_t)i, mask_of((uint64_t)i));
            double v = p[i * s];
            p[i * s] = p[j * s];
            p[j * s] = v;
        }
        return;
    }
    for (int64_t i = t->shape[0] - 1; i >= 1; i--) {
        int64_t j = (int64_t)masked(r, (uint64_t)i, mask_of((uint64_t)i));
        if (j != i) swap_rows(t, i, j);
    }
}

int ty_random_check_p(const double *p, int64_t n, ty_error *e)
{
    /* mtrand's kahan_sum, then its checks in its order */
    double sum = n > 0 ? p[0] : 0.0, c = 0.0;
    for (int64_t i = 1; i < n; i++) {
        double y = p[i] - c, t = sum + y;
        c = (t - sum) - y;
        sum = t;
    }
    if (isnan(sum)) return ty_fail(e, TY_EARG, "the probabilities contain NaN");
    for (int64_t i = 0; i < n; i++)
        if (p[i] < 0)
            return ty_fail(e, TY_EARG, "the probabilities must not be negative (p[%lld] is %.17g)",
                           (long long)(i + 1), p[i]);
    /* sqrt of float64's machine epsilon, NumPy's tolerance */
    if (fabs(sum - 1.0) > 1.4901161193847656e-08)
        return ty_fail(e, TY_EARG, "the probabilities do not sum to 1 (their sum is %.17g)", sum);
    return TY_OK;
}

/* cdf = cumsum(p) (sequential, as NumPy's add.accumulate), divided by its last element. */
static void make_cdf(const double *p, int64_t n, double *cdf)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) cdf[i] = s = s + p[i];
    double last = cdf[n - 1];
    for (int64_t i = 0; i < n; i++) cdf[i] /= last;
}

/* searchsorted(cdf, u, side='right'): the number of elements <= u of the sorted cdf. */
static int64_t search_right(const double *cdf, int64_t n, double u)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] <= u) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void ty_random_choice_p(ty_random *r, const double *p, int64_t n, double *cdf, double *out,
                        int64_t size)
{
    if (size == 0) return;
    make_cdf(p, n, cdf);
    for (int64_t k = 0; k < size; k++) out[k] = (double)search_right(cdf, n, next_double(r));
}

void ty_random_choice_p_unique(ty_random *r, double *p, int64_t n, double *cdf, double *seen,
                               double *x, double *out, int64_t size)
{
    /* seen[i] is the round that last drew position i: dedupes within a round without
       clearing (np.unique with return_index, in order of first occurrence) */
    for (int64_t i = 0; i < n; i++) seen[i] = 0.0;
    int64_t found = 0;
    for (double round = 1.0; found < size; round += 1.0) {
        int64_t m = size - found;
        for (int64_t k = 0; k < m; k++) x[k] = next_double(r);
        for (int64_t k = 0; k < found; k++) p[(int64_t)out[k]] = 0.0;
        make_cdf(p, n, cdf);
        int64_t before = found;
        for (int64_t k = 0; k < m; k++) {
            int64_t pos = search_right(cdf, n, x[k]);
            TY_ASSERT(pos < n);
            if (seen[pos] == round) continue;
            seen[pos] = round;
            out[found++] = (double)pos;
        }
        TY_ASSERT(found > before);
        (void)before;
    }
}

void ty_random_get_state(const ty_random *r, double *out)
{
    for (int i = 0; i < TY_MT_N; i++) out[i] = (double)r->key[i];
    out[TY_MT_N] = (double)r->pos;
    out[TY_MT_N + 1] = r->has_gauss ? 1.0 : 0.0;
    out[TY_MT_N + 2] = r->has_gauss ? r->gauss : 0.0;
}

int ty_random_set_state(ty_random *r, const double *in)
{
    for (int i = 0; i < TY_MT_N; i++)
        if (!(in[i] >= 0 && in[i] < 4294967296.0 && in[i] == floor(in[i]))) return i;
    if (!(in[TY_MT_N] >= 0 && in[TY_MT_N] <= TY_MT_N && in[TY_MT_N] == floor(in[TY_MT_N]))) return TY_MT_N;
    if (in[TY_MT_N + 1] != 0 && in[TY_MT_N + 1] != 1) return TY_MT_N + 1;
    if (!isfinite(in[TY_MT_N + 2])) return TY_MT_N + 2;
    for (int i = 0; i < TY_MT_N; i++) r->key[i] = (uint32_t)in[i];
    r->pos = (int)in[TY_MT_N];
    r->has_gauss = in[TY_MT_N + 1] != 0;
    r->gauss = in[TY_MT_N + 2];
    return -1;
}
