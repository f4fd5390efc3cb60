/* lanes.c: a loop of steps split into lanes on threads of their own (see lanes.h). The
   threads live for one run: a step of the RNN's recurrence takes a few hundred microseconds
   at the sizes that use lanes, and starting a thread a few tens, once per run; engines in
   different threads never share anything here. Lanes meet at the end of every step on a
   counter: they spin for a while (the next step is usually microseconds away), then yield
   the core, so an oversubscribed machine or a debugger still makes progress. */
#define _POSIX_C_SOURCE 200809L
#include "core/lanes.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define SPINS_BEFORE_YIELD 4096

typedef struct run {
    ty_lane_fn fn;
    void *ctx;
    int64_t steps;
    int lanes;               /* lanes taking part; written before go is released */
    atomic_int go;           /* set once every thread that could start has started */
    atomic_int arrived;      /* lanes done with the current step */
    atomic_long generation;  /* steps every lane has finished */
} run;

typedef struct lane_arg {
    run *r;
    int lane;
} lane_arg;

static void relax(unsigned *spins)
{
    if (++*spins < SPINS_BEFORE_YIELD) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

/* The end of a step: the last lane to arrive opens the next one. */
static void meet(run *r)
{
    long g = atomic_load_explicit(&r->generation, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&r->arrived, 1, memory_order_acq_rel) == r->lanes - 1) {
        atomic_store_explicit(&r->arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&r->generation, g + 1, memory_order_release);
    } else {
        unsigned spins = 0;
        while (atomic_load_explicit(&r->generation, memory_order_acquire) == g) relax(&spins);
    }
}

static void lane_loop(run *r, int lane)
{
    for (int64_t s = 0; s < r->steps; s++) {
        r->fn(r->ctx, lane, r->lanes, s);
        if (r->lanes > 1) meet(r);
    }
}

static void *lane_thread(void *p)
{
    lane_arg *a = p;
    unsigned spins = 0;
    while (!atomic_load_explicit(&a->r->go, memory_order_acquire)) relax(&spins);
    lane_loop(a->r, a->lane);
    return NULL;
}

int ty_lanes_run(int lanes, int64_t steps, ty_lane_fn fn, void *ctx)
{
    if (lanes < 1) lanes = 1;
    if (lanes > TY_MAX_LANES) lanes = TY_MAX_LANES;
    run r;
    r.fn = fn;
    r.ctx = ctx;
    r.steps = steps;
    r.lanes = 1;
    atomic_init(&r.go, 0);
    atomic_init(&r.arrived, 0);
    atomic_init(&r.generation, 0);
    pthread_t threads[TY_MAX_LANES];
    lane_arg args[TY_MAX_LANES];
    int started = 1;
    for (; started < lanes; started++) {
        args[started].r = &r;
        args[started].lane = started;
        if (pthread_create(&threads[started], NULL, lane_thread, &args[started])) break;
    }
    r.lanes = started; /* the threads read it only after go */
    atomic_store_explicit(&r.go, 1, memory_order_release);
    lane_loop(&r, 0);
    for (int i = 1; i < started; i++) pthread_join(threads[i], NULL);
    return started;
}

void ty_lane_columns(int64_t n, int64_t w, int lane, int lanes, int64_t *c0, int64_t *c1)
{
    int64_t panels = (n + w - 1) / w;
    int64_t p0 = panels * lane / lanes, p1 = panels * (lane + 1) / lanes;
    *c0 = p0 * w < n ? p0 * w : n;
    *c1 = p1 * w < n ? p1 * w : n;
}
