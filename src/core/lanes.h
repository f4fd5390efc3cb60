/* lanes.h: a loop of steps, each step's work split into lanes that run on threads of their
   own, every lane of a step finished before any lane starts the next one. The RNN's
   recurrence runs this way on more than one core. */
#ifndef TYCHO_LANES_H
#define TYCHO_LANES_H

#include <stdint.h>

#define TY_MAX_LANES 16

/* One lane's share of step s: the lanes-way split is the callee's to make. */
typedef void (*ty_lane_fn)(void *ctx, int lane, int lanes, int64_t s);

/* Runs fn(ctx, lane, lanes, s) for s = 0 .. steps-1 and lane = 0 .. lanes-1, all lanes of
   step s before any of step s+1. Lane 0 runs on the calling thread and the others on
   threads started here and joined before it returns, so nothing outlives the call. If a
   thread cannot start, the run goes on with the lanes that did (at least lane 0); returns
   how many took part. lanes is clamped to 1 .. TY_MAX_LANES. */
int ty_lanes_run(int lanes, int64_t steps, ty_lane_fn fn, void *ctx);

/* Columns [*c0, *c1) of lane's share of n columns cut in panels of width w (every lane but
   the last starts and ends on a panel boundary; a lane may get none). */
void ty_lane_columns(int64_t n, int64_t w, int lane, int lanes, int64_t *c0, int64_t *c1);

#endif
