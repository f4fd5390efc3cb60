/* random.h: NumPy's legacy RandomState (MT19937, 53-bit doubles, polar Box-Muller, masked
   rejection for integers) so a script seeded like a notebook draws the very same numbers. */
#ifndef TYCHO_RANDOM_H
#define TYCHO_RANDOM_H

#include <stdint.h>
#include "core/tensor.h"

#define TY_MT_N 624

typedef struct ty_random {
    uint32_t key[TY_MT_N];
    int      pos;         /* next word of key; TY_MT_N means "regenerate first" */
    int      has_gauss;   /* polar Box-Muller makes two normals: the second waits here */
    double   gauss;
} ty_random;

/* The whole state as TY_RANDOM_STATE_SIZE numbers, as NumPy's get_state() holds it: the 624
   key words, pos, has_gauss, the cached Gaussian. ty_random_set_state checks them (integer
   words below 2^32, pos in 0..624, has_gauss 0 or 1, a finite Gaussian) and returns the
   0-based position of the first bad one, or -1 after setting the state. */
#define TY_RANDOM_STATE_SIZE (TY_MT_N + 3)
void ty_random_get_state(const ty_random *r, double *out);
int  ty_random_set_state(ty_random *r, const double *in);

/* NumPy's np.random.seed(s) for an integer s (init_genrand); clears the cached normal. */
void     ty_random_seed(ty_random *r, uint32_t s);
/* Seeds from OS entropy (/dev/urandom, else time and addresses), like RandomState();
   never fails. */
void     ty_random_seed_entropy(ty_random *r);
uint32_t ty_random_uint32(ty_random *r);
/* Uniform in [0, 1) with 53 random bits, as random_sample. */
double   ty_random_double(ty_random *r);
/* Standard normal, as legacy standard_normal / randn. */
double   ty_random_gauss(ty_random *r);
/* Fill t (any strides) in row-major order, as rand(*shape) / randn(*shape). */
void     ty_random_fill_uniform(ty_random *r, ty_tensor *t);
void     ty_random_fill_normal(ty_random *r, ty_tensor *t);
/* Fill t as uniform(low, high, shape): low + (high - low) * random_sample(), in order. */
void     ty_random_fill_range(ty_random *r, ty_tensor *t, double low, double high);
/* One draw of uniform(low, high) and of normal(mu, sigma), by the fills' formulas. */
double   ty_random_uniform(ty_random *r, double low, double high);
double   ty_random_normal(ty_random *r, double mu, double sigma);
/* Fill t as normal(mu, sigma, shape): mu + sigma * gauss, in order. */
void     ty_random_fill_gauss(ty_random *r, ty_tensor *t, double mu, double sigma);

/* An integer in [0, max] by NumPy's masked rejection (random_interval, and the legacy
   bounded integers' masked paths): no draw for max 0; 32-bit words while max fits 32 bits;
   above, 64-bit ones made of two words, the first the high half. */
uint64_t ty_random_interval(ty_random *r, uint64_t max);
/* Fill t in order as legacy randint(low, low + rng + 1, shape) for int64: each value is
   low + ty_random_interval(rng). The caller keeps low and low + rng within +-2^53, so
   every value is exact in a double. */
void     ty_random_fill_integers(ty_random *r, ty_tensor *t, int64_t low, uint64_t rng);
int64_t  ty_random_integer(ty_random *r, int64_t low, uint64_t rng);
/* Shuffles the rows (dimension 0) of t in place as legacy shuffle: for i = n-1 down to 1,
   swap rows i and ty_random_interval(i). t has ndim >= 1 and no stride-0 dimension of size
   > 1 (ty_is_broadcast); without elements it draws nothing, as NumPy. Allocates nothing. */
void     ty_random_shuffle(ty_random *r, ty_tensor *t);

/* NumPy's checks of choice's p (n probabilities; n >= 0): no NaN in their Kahan sum, none
   negative, the sum within sqrt(eps) of 1. TY_EARG with the reason otherwise. */
int      ty_random_check_p(const double *p, int64_t n, ty_error *e);
/* choice(n, size, replace=True, p): cdf = cumsum(p) / its last, then out[k] (0-based
   positions) = searchsorted(cdf, random_sample(), side='right'). cdf has room for n. */
void     ty_random_choice_p(ty_random *r, const double *p, int64_t n, double *cdf, double *out,
                            int64_t size);
/* choice(n, size, replace=False, p) as legacy's loop: draws rand(size - found) each round,
   zeroes the found positions' p, takes the new positions in order of first occurrence.
   p (n, checked, at least size of them positive) is overwritten; cdf and seen (n each) and
   x (size) are workspace. */
void     ty_random_choice_p_unique(ty_random *r, double *p, int64_t n, double *cdf, double *seen,
                                   double *x, double *out, int64_t size);

#endif
