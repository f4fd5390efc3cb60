/* sort.h: stable sorts along a dimension (NumPy's kind="stable", NaN last). */
#ifndef TYCHO_SORT_H
#define TYCHO_SORT_H

#include "core/tensor.h"

/* values, positions (a's shape) = each line of a along dim sorted ascending (descending:
   the numbers in reverse, NaN still last), equal values in their order, positions 1-based.
   ws holds 3 x a->shape[dim] doubles. values and positions must not alias a. */
void ty_sort(ty_tensor *values, ty_tensor *positions, const ty_tensor *a, int dim, int descending,
             void *ws);

#endif
