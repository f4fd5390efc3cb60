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

uint32_t ty_random_uint32(ty_random *r)
{
    if (r->pos >= TY_MT_N) mt_generate(r);
    uint32_t y = r->key[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= y >> 18;
    return y;
}

double ty_random_double(ty_random *r)
{
    int32_t a = (int32_t)(ty_random_uint32(r) >> 5), b = (int32_t)(ty_random_uint32(r) >> 6);
    return (a * 67108864.0 + b) / 9007199254740992.0;
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
        x1 = 2.0 * ty_random_double(r) - 1.0;
        x2 = 2.0 * ty_random_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

/* Visits t's elements in row-major order whatever its strides: the order NumPy fills in.
   With range set each gets low + scale * draw (legacy uniform's formula), else the draw. */
static void fill(ty_random *r, ty_tensor *t, double (*draw)(ty_random *), int range,
                 double low, double scale)
{
    int64_t n = ty_numel(t);
    if (n == 0) return;
    if (ty_is_contiguous(t)) {
        double *p = t->data;
        for (int64_t k = 0; k < n; k++) p[k] = range ? low + scale * draw(r) : draw(r);
        return;
    }
    const ty_tensor *ops[1] = { t };
    ty_iter it;
    ty_iter_init(&it, t->ndim, t->shape, 1, ops);
    TY_ITER_RUNS(it, {
        int64_t s = it.stride[0][last_];
        for (int64_t i = 0; i < n_; i++)
            it.ptr[0][i * s] = range ? low + scale * draw(r) : draw(r);
    });
}

void ty_random_fill_uniform(ty_random *r, ty_tensor *t)
{
    fill(r, t, ty_random_double, 0, 0.0, 0.0);
}

void ty_random_fill_normal(ty_random *r, ty_tensor *t)
{
    fill(r, t, ty_random_gauss, 0, 0.0, 0.0);
}

void ty_random_fill_range(ty_random *r, ty_tensor *t, double low, double high)
{
    fill(r, t, ty_random_double, 1, low, high - low);
}
