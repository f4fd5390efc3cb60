/* host.c: an example host program. It lends a buffer to a sandboxed, limited engine without
   copying, runs an RNN forward over it from a Lua script, reads the result back and checks
   it against the same recurrence computed here in plain C.

   Build and run against an installed tycho:
       cc host.c $(pkg-config --cflags --libs tycho) -lm -o host && ./host
   or in the source tree (`make test` does this): build/examples/host */
#include <tycho.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 2, T = 4, D = 3, H = 5 };   /* batch, time steps, input and hidden sizes */

/* The script sees the host's buffer as the global x (N x T x D) and leaves its results in
   globals; sizes come from x, the hidden size from the host. */
static const char SCRIPT[] =
    "tycho.random.seed(231)\n"
    "local n, d = x:size(1), x:size(3)\n"
    "rnn = tycho.nn.RNNLayer(d, %d)\n"
    "h = rnn:forward(x, tycho.zeros(n, %d))\n"
    "W_ih, W_hh, b = rnn.W_ih, rnn.W_hh, rnn.b\n";

/* The engine owns the buffer once tycho_wrap_tensor succeeds: it calls this exactly once. */
typedef struct lent {
    int released;
} lent;

static void release_x(void *ud, double *data)
{
    ((lent *)ud)->released++;
    free(data);
}

/* Copies global `name` out and checks its shape; prints tycho_error and returns 0 on failure. */
static int get(tycho *E, const char *name, double *out, size_t cap, int ndim,
               const int64_t *shape)
{
    int nd;
    int64_t sh[TYCHO_MAX_DIMS];
    if (tycho_get_tensor(E, name, out, cap, &nd, sh) != TYCHO_OK) {
        fprintf(stderr, "host: %s\n", tycho_error(E));
        return 0;
    }
    if (nd != ndim || memcmp(sh, shape, (size_t)ndim * sizeof *sh) != 0) {
        fprintf(stderr, "host: %s has an unexpected shape\n", name);
        return 0;
    }
    return 1;
}

/* h[n][t] = tanh(x[n][t] W_ih + h[n][t-1] W_hh + b), h[n][-1] = 0: the RNN, as a triple loop. */
static void rnn_forward(const double *x, const double *W_ih, const double *W_hh,
                        const double *b, double *h)
{
    for (int n = 0; n < N; n++)
        for (int t = 0; t < T; t++) {
            const double *xt = x + (n * T + t) * D;
            const double *prev = t > 0 ? h + (n * T + t - 1) * H : NULL;
            for (int j = 0; j < H; j++) {
                double s = b[j];
                for (int k = 0; k < D; k++) s += xt[k] * W_ih[k * H + j];
                for (int k = 0; prev && k < H; k++) s += prev[k] * W_hh[k * H + j];
                h[(n * T + t) * H + j] = tanh(s);
            }
        }
}

int main(void)
{
    /* An untrusted script: no files, 64 MB for Lua objects and tensors, 1e8 instructions. */
    tycho_config cfg = { 64u << 20, 100000000u, 1 };
    tycho *E = tycho_open(&cfg);
    if (!E) {
        fprintf(stderr, "host: tycho_open failed (no memory)\n");
        return 1;
    }

    double *x = malloc(N * T * D * sizeof *x);
    if (!x) return 1;
    for (int i = 0; i < N * T * D; i++) x[i] = sin(0.7 * i + 0.3);
    int64_t xshape[3] = { N, T, D };
    lent lease = { 0 };
    if (tycho_wrap_tensor(E, "x", x, 3, xshape, release_x, &lease) != TYCHO_OK) {
        fprintf(stderr, "host: %s\n", tycho_error(E));
        free(x);   /* on failure the buffer stays the host's */
        tycho_close(E);
        return 1;
    }

    char code[sizeof SCRIPT + 32];
    snprintf(code, sizeof code, SCRIPT, H, H);
    if (tycho_run_string(E, code, "=rnn_host") != TYCHO_OK) {
        fprintf(stderr, "host: %s\n", tycho_error(E));
        tycho_close(E);
        return 1;
    }

    /* A script error is a code and a message; the engine stays usable. */
    int rc = tycho_run_string(E, "rnn:forward(x:narrow(3, 1, 2), tycho.zeros(2, 5))", "=bad");
    const char *msg = tycho_error(E);
    printf("a bad call gives code %d: %.*s\n", rc, (int)strcspn(msg, "\n"), msg);

    static double h[N * T * H], W_ih[D * H], W_hh[H * H], b[H], ref[N * T * H];
    const int64_t hshape[3] = { N, T, H }, ihshape[2] = { D, H }, hhshape[2] = { H, H },
                  bshape[1] = { H };
    if (!get(E, "h", h, N * T * H, 3, hshape) || !get(E, "W_ih", W_ih, D * H, 2, ihshape) ||
        !get(E, "W_hh", W_hh, H * H, 2, hhshape) || !get(E, "b", b, H, 1, bshape)) {
        tycho_close(E);
        return 1;
    }

    for (int n = 0; n < N; n++) {
        printf("h[%d] =\n", n + 1);
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < H; j++) printf(" % .8f", h[(n * T + t) * H + j]);
            printf("\n");
        }
    }

    rnn_forward(x, W_ih, W_hh, b, ref);   /* x is still alive: the engine holds it */
    double maxdiff = 0;
    for (int i = 0; i < N * T * H; i++) {
        double dif = fabs(h[i] - ref[i]);
        if (isnan(dif) || dif > maxdiff) maxdiff = dif;   /* a NaN sticks */
    }
    int held = lease.released == 0;
    tycho_close(E);
    int once = lease.released == 1;

    printf("max |tycho - plain C| = %.3g; x released %d time(s)\n", maxdiff, lease.released);
    int ok = rc == TYCHO_ERR_RUN && maxdiff <= 1e-12 && held && once;
    printf("%d passed, %d failed\n", ok, !ok);
    return ok ? 0 : 1;
}
