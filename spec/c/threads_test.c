/* threads_test.c: engines share no mutable state. Four engines in four threads run the same
   seeded RNN forward+backward several times; every result must equal, bit for bit, the one
   a single engine computes alone. Prints "N passed, N failed"; exit 1 on failure. */
#include "tycho.h"

#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { NTHREADS = 4, ROUNDS = 3 };
enum { N = 8, T = 6, D = 24, H = 40 };   /* big enough that the products go through BLAS */

static const char *const NAMES[] = { "h", "dx", "dh0", "dW_ih", "dW_hh", "db" };
enum { NOUT = sizeof NAMES / sizeof NAMES[0] };
static const size_t SIZES[NOUT] = { N * T * H, N * T * D, N * H, D * H, H * H, H };

typedef struct result {
    double v[NOUT][N * T * D > N * T * H ? N * T * D : N * T * H];
} result;

typedef struct job {
    int               seed;
    int               failures;   /* calls that failed or rounds that differed */
    char              err[256];
    result            first, cur;
} job;

static const char SCRIPT[] =
    "tycho.random.seed(%d)\n"
    "local nn = tycho.nn\n"
    "local x, h0 = tycho.randn(%d, %d, %d), tycho.randn(%d, %d)\n"
    "local rnn = nn.RNNLayer(%d, %d)\n"
    "h = rnn:forward(x, h0)\n"
    "dx, dh0, dW_ih, dW_hh, db = rnn:backward(tycho.randn(%d, %d, %d))\n";

/* One engine: open, run the script, copy the six results out, close. Returns 0 on failure. */
static int compute(job *j, result *r)
{
    char code[sizeof SCRIPT + 128];
    snprintf(code, sizeof code, SCRIPT, j->seed, N, T, D, N, H, D, H, N, T, H);
    tycho *E = tycho_open(NULL);
    if (!E) {
        snprintf(j->err, sizeof j->err, "tycho_open failed");
        return 0;
    }
    int ok = tycho_run_string(E, code, "=threads") == TYCHO_OK;
    for (int k = 0; ok && k < NOUT; k++)
        ok = tycho_get_tensor(E, NAMES[k], r->v[k], SIZES[k], NULL, NULL) == TYCHO_OK;
    if (!ok) snprintf(j->err, sizeof j->err, "%s", tycho_error(E));
    tycho_close(E);
    return ok;
}

static int same(const result *a, const result *b)
{
    for (int k = 0; k < NOUT; k++)
        if (memcmp(a->v[k], b->v[k], SIZES[k] * sizeof(double)) != 0) return 0;
    return 1;
}

/* The threads start together, so that their engines really overlap. */
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t  start_cond = PTHREAD_COND_INITIALIZER;
static int             go;

static void *worker(void *arg)
{
    job *j = arg;
    pthread_mutex_lock(&start_lock);
    while (!go) pthread_cond_wait(&start_cond, &start_lock);
    pthread_mutex_unlock(&start_lock);
    for (int round = 0; round < ROUNDS; round++) {
        result *r = round == 0 ? &j->first : &j->cur;
        if (!compute(j, r) || (round > 0 && !same(&j->first, r))) j->failures++;
    }
    return NULL;
}

static int passed, failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            passed++;                                                                 \
        } else {                                                                      \
            failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
        }                                                                             \
    } while (0)

static job alone, other, jobs[NTHREADS];

int main(void)
{
    /* OpenBLAS reads OPENBLAS_NUM_THREADS when it is loaded, before main, so setenv here
       would be too late: pin its own pool to one thread, so that the only threads are
       the engines' and each product is computed in one fixed order. */
    openblas_set_num_threads(1);

    alone.seed = 42;
    CHECK(compute(&alone, &alone.first));
    other.seed = 43;
    CHECK(compute(&other, &other.first));
    CHECK(!same(&alone.first, &other.first));   /* the comparison can tell seeds apart */

    pthread_t tid[NTHREADS];
    int started[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        jobs[i].seed = 42;
        started[i] = pthread_create(&tid[i], NULL, worker, &jobs[i]) == 0;
        CHECK(started[i]);
    }
    pthread_mutex_lock(&start_lock);
    go = 1;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_lock);
    for (int i = 0; i < NTHREADS; i++)
        if (started[i]) CHECK(pthread_join(tid[i], NULL) == 0);

    for (int i = 0; i < NTHREADS; i++) {
        CHECK(jobs[i].failures == 0);
        if (jobs[i].err[0]) fprintf(stderr, "thread %d: %s\n", i, jobs[i].err);
        CHECK(same(&jobs[i].first, &alone.first));
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
