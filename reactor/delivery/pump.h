/*
 * pump: moves due deliveries from Redis to receivers and records outcomes.
 *
 * The pump sleeps until the earliest known due time of any partition, or
 * until work is enqueued (pump_wake() from this process, the hookd:wake
 * channel from others), then claims due deliveries in batches with
 * claim.lua (one pipelined round trip over the partitions that have due
 * work), sends them with client.h, and records each outcome with
 * complete.lua. It never holds more than inflight_max deliveries. A slow
 * safety poll also sweeps leases left by crashed processes.
 */
#ifndef HOOKD_PUMP_H
#define HOOKD_PUMP_H

#include "store/lease.h"

struct event_base;
struct conf;

int pump_start(struct event_base *base, const struct conf *c);
/* New work may be due now (any partition). */
void pump_wake(void);
void pump_wake_partition(int p);
/* Stop claiming; let in-flight sends finish for up to shutdown_grace, then
 * return what is left to the schedule; then call done(). */
void pump_drain(void (*done)(void *), void *arg);
void pump_free(void);
long pump_inflight(void);

/* Direct hand-off: an ingest call of `events` events may lease up to
 * pump_offer()'s answer of their new deliveries in the same script call
 * (ingest.lua), for leases of `lease` ms, sparing them the due set and the
 * claim round trip. The budget is lent until pump_settle(), which every
 * offer must reach once, with the n leased deliveries (the pump takes them)
 * or none. */
long pump_offer(char lease[24], long events);
void pump_settle(long offered, struct lease **leases, long n);
/* The above, with pump_wake_partition, as store/ingest.h takes them
 * (after pump_start). */
struct ingest_handoff;
void pump_handoff(struct ingest_handoff *out);

#endif
