/* format.h: text for tensors exactly as NumPy 1.24 reprs a float64 array at default print
   options (with "tensor(" for "array("). */
#ifndef TYCHO_FORMAT_H
#define TYCHO_FORMAT_H

#include <stddef.h>
#include "core/tensor.h"

/* Receives the text piece by piece; a nonzero return stops formatting and is passed back.
   The formatter holds no heap memory, so a writer may also longjmp (raise a Lua error). */
typedef int (*ty_writer)(void *ud, const char *s, size_t n);

/* Writes repr(t): precision 8, floatmode 'maxprec', threshold 1000, edgeitems 3,
   linewidth 75. Returns 0, or the first nonzero value the writer returned. */
int ty_format_tensor(const ty_tensor *t, ty_writer w, void *ud);

/* Writes a shape as Python's repr of a tuple into buf (cut to n): (), (5,), (2, 3). */
void ty_shape_repr(char *buf, size_t n, int ndim, const int64_t *shape);

#endif
