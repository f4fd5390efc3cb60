/* functions_test.c: the contiguous kernels of tycho's own functions (ty_vtanh, ty_vsigmoid,
   ty_vexp, ty_vlog) give every element the value it has alone, bit for bit, at every run
   length and offset, out of place and in place (the layers apply tanh and sigmoid to their
   rows in place, and a run's last elements may be computed apart from its whole vectors).
   Prints "N passed, N failed". */
#include "core/ops.h"

#include <stdio.h>
#include <string.h>

static int passed, failed;

typedef void (*kernel)(double *out, const double *in, int64_t n);

#define MAX_N   70
#define OFFSETS 9

static void check_kernel(const char *name, kernel f, double lo, double hi)
{
    double x[MAX_N + OFFSETS], alone[MAX_N + OFFSETS], out[MAX_N + OFFSETS], place[MAX_N + OFFSETS];
    int n_all = MAX_N + OFFSETS;
    for (int i = 0; i < n_all; i++) x[i] = lo + (hi - lo) * (double)((i * 37) % n_all) / (n_all - 1);
    for (int i = 0; i < n_all; i++) f(&alone[i], &x[i], 1);
    int bad = 0;
    for (int off = 0; off < OFFSETS && !bad; off++) {
        for (int n = 1; n <= MAX_N && !bad; n++) {
            for (int i = 0; i < n_all; i++) out[i] = place[i] = -7.0; /* outside the run */
            memcpy(place + off, x + off, (size_t)n * sizeof(double));
            f(out + off, x + off, n);
            f(place + off, place + off, n);
            for (int i = 0; i < n_all; i++) {
                int inside = i >= off && i < off + n;
                double want = inside ? alone[i] : -7.0;
                if (memcmp(&out[i], &want, sizeof want) != 0 ||
                    memcmp(&place[i], &want, sizeof want) != 0) {
                    printf("FAIL %s: element %d of a run of %d from %d: %.17g out of place, %.17g "
                           "in place, %.17g alone\n",
                           name, i - off, n, off, out[i], place[i], want);
                    bad = 1;
                    break;
                }
            }
        }
    }
    if (bad) failed++;
    else passed++;
}

int main(void)
{
    check_kernel("tanh", ty_vtanh, -25.0, 25.0);
    check_kernel("tanh near 0", ty_vtanh, -1.0, 1.0);
    check_kernel("sigmoid", ty_vsigmoid, -40.0, 40.0);
    check_kernel("exp", ty_vexp, -700.0, 700.0);
    check_kernel("log", ty_vlog, 1e-6, 1e6);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
