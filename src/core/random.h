/* random.h: NumPy's legacy RandomState (MT19937, 53-bit doubles, polar Box-Muller) so a
   script seeded like a notebook draws the very same numbers. Core: no Lua here. */
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

#endif
