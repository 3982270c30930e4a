/*
 * loop_pass: one hook that runs at the start of the next pass of the event
 * loop, for the batchers (store/ingest.c's events, reactor/delivery/pump.c's
 * outcomes): each gathers the work one pass brings and sends it as one
 * script call per partition. Redis's ae has a before-sleep hook; libevent
 * has none, so each batcher has a zero-timeout event here, armed when it
 * asks (loop_pass.c says why not one shared).
 * It sits in store/ so that both layers reach it without an upward include.
 */
#ifndef HOOKD_STORE_LOOP_PASS_H
#define HOOKD_STORE_LOOP_PASS_H

struct event_base;

#define LOOP_PASS_MAX 4 /* batchers */
/* Group commit by the call: a batcher has at most this many calls of one
 * partition in Redis at once. What it queues meanwhile waits for the reply,
 * which asks for a pass, and goes in the next call (a full batch goes at
 * once). At low load a call goes at the next pass as it would anyway; under
 * load an item waits at most one call's time, and the calls per item fall:
 * with work spread over many partitions, one pass brings a few items to
 * each (docs/BENCHMARKS.md). */
#define LOOP_PASS_CALLS_IN_FLIGHT 1

int loop_pass_init(struct event_base *base);
/* A batcher's flush: its id for loop_pass_want, or -1 when full (or not
 * initialised). */
int loop_pass_add(void (*flush)(void *arg), void *arg);
/* Run batcher `id`'s flush once at the start of the next pass; 0, or -1
 * when the event cannot be armed (the caller flushes at once instead). */
int loop_pass_want(int id);
/* Work queued for a partition with `in_flight` calls in Redis: the next pass
 * is asked for, or left to the reply of the call in Redis. 0, or -1 when the
 * pass cannot be asked (the caller flushes at once instead). */
int loop_pass_queued(int id, int in_flight);
void loop_pass_free(void);

#endif
