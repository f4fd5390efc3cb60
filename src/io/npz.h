/* npz.h: NumPy .npz archives (np.savez, np.savez_compressed) through libzip: a zip of .npy
   members, each read and written by npy.c. Core: no Lua here. */
#ifndef TYCHO_NPZ_H
#define TYCHO_NPZ_H

#include "core/tensor.h"

/* A name and a tensor, for the writers (name: len bytes, no NUL, not empty). */
typedef struct ty_named {
    const char      *name;
    size_t           len;
    const ty_tensor *t;
} ty_named;

typedef struct ty_npz ty_npz;

/* Opens the archive at path and checks its directory: every member a file named
   "<key>.npy" (else TY_EFORMAT naming the member). *out is NULL on error. */
int         ty_npz_open(ty_npz **out, const char *path, ty_error *e);
int64_t     ty_npz_count(const ty_npz *z);
/* The key of member i (its name without ".npy"), *len bytes; valid until close. */
const char *ty_npz_key(const ty_npz *z, int64_t i, size_t *len);
/* Member i into the empty slot out (as ty_npy_read; a CRC mismatch or a truncated member is
   TY_EFORMAT naming the file and the member). */
int         ty_npz_read(ty_npz *z, int64_t i, ty_tensor *out, const ty_allocator *a,
                        ty_error *e);
/* Closes the archive; NULL is fine. */
void        ty_npz_close(ty_npz *z);

/* Writes items (sorted here by name, in place) as "<name>.npy" members to path atomically,
   deflated when compress is set, with fixed timestamps: the same tensors give the same
   bytes. The members are made in memory from a first. */
int ty_npz_save(const char *path, ty_named *items, int64_t n, int compress,
                const ty_allocator *a, ty_error *e);

/* Sorts items by name (bytewise), and fails naming the first duplicate name. */
int ty_named_sort(ty_named *items, int64_t n, const char *path, ty_error *e);

#endif
