/* npy.h: NumPy .npy files in and out, so arrays move between a notebook and tycho
   unchanged. Core: no Lua here. */
#ifndef TYCHO_NPY_H
#define TYCHO_NPY_H

#include "core/tensor.h"

/* Reads a .npy file (format 1.0, 2.0 or 3.0; real, integer or bool dtypes, either byte
   order, C or Fortran order) into the empty slot out as a new contiguous float64 tensor
   whose data comes from a. On error out stays empty, nothing is leaked, and e names the
   path: TY_EFILE (cannot open or read), TY_EFORMAT (malformed or unsupported), TY_EMEM. */
int ty_npy_load(ty_tensor *out, const char *path, const ty_allocator *a, ty_error *e);

/* Writes t (any view) to path as a format 1.0 '<f8' C-order file, byte for byte what
   NumPy's np.save writes. TY_EFILE with the path and the system's reason on failure. */
int ty_npy_save(const ty_tensor *t, const char *path, ty_error *e);

#endif
