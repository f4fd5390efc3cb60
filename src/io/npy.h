/* npy.h: NumPy .npy files in and out, so arrays move between a notebook and tycho
   unchanged. Core: no Lua here. */
#ifndef TYCHO_NPY_H
#define TYCHO_NPY_H

#include "core/tensor.h"
#include "io/bytes.h"

/* Reads a .npy (format 1.0, 2.0 or 3.0; real, integer or bool dtypes, either byte order, C
   or Fortran order) from s into the empty slot out as a new contiguous float64 tensor whose
   data comes from a. On error out stays empty, nothing is leaked, and e names s: TY_EFILE
   (cannot read), TY_EFORMAT (malformed, unsupported or truncated), TY_EMEM. */
int ty_npy_read(ty_source *s, ty_tensor *out, const ty_allocator *a, ty_error *e);
/* The same from the regular file at path (e names the path). */
int ty_npy_load(ty_tensor *out, const char *path, const ty_allocator *a, ty_error *e);

/* Writes t (any view) to s as a format 1.0 '<f8' C-order .npy, byte for byte what NumPy's
   np.save writes; ty_npy_bytes is its exact length. */
int    ty_npy_write(ty_sink *s, const ty_tensor *t, ty_error *e);
size_t ty_npy_bytes(const ty_tensor *t);
/* Writes t to path atomically (ty_save_atomic). TY_EFILE with the path and the system's
   reason on failure, the old file untouched. */
int ty_npy_save(const ty_tensor *t, const char *path, ty_error *e);

#endif
