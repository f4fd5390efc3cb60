/* iter.c: laying operands over a shape for the strided iterator (iter.h): strides per
   operand, broadcast dimensions at stride 0, contiguous dimensions merged. */
#include "core/iter.h"

void ty_iter_init(ty_iter *it, int nd, const int64_t *shape, int nop,
                  const ty_tensor *const *ops)
{
    TY_ASSERT(nop >= 1 && nop <= TY_ITER_MAX_OPS && nd >= 0 && nd <= TY_MAX_DIMS);
    it->nop = nop;
    int k = 0;
    for (int d = 0; d < nd; d++) {
        if (shape[d] == 1) continue;
        it->shape[k] = shape[d];
        for (int o = 0; o < nop; o++) {
            const ty_tensor *t = ops[o];
            int td = d - (nd - t->ndim);
            TY_ASSERT(td < 0 || t->shape[td] == 1 || t->shape[td] == shape[d]);
            it->stride[o][k] = (td < 0 || t->shape[td] == 1) ? 0 : t->stride[td];
        }
        k++;
    }
    for (int o = 0; o < nop; o++) it->ptr[o] = ops[o]->data;
    /* merge dimensions from the inside out */
    int m = 0;
    for (int d = 0; d < k; d++) {
        if (m > 0) {
            int ok = 1;
            for (int o = 0; o < nop; o++)
                if (it->stride[o][m - 1] != it->stride[o][d] * it->shape[d]) ok = 0;
            if (ok) {
                it->shape[m - 1] *= it->shape[d];
                for (int o = 0; o < nop; o++) it->stride[o][m - 1] = it->stride[o][d];
                continue;
            }
        }
        it->shape[m] = it->shape[d];
        for (int o = 0; o < nop; o++) it->stride[o][m] = it->stride[o][d];
        m++;
    }
    if (m == 0) {
        it->shape[0] = 1;
        for (int o = 0; o < nop; o++) it->stride[o][0] = 0;
        m = 1;
    }
    it->ndim = m;
}
