/*
 * wake: a second Redis connection subscribed to hookd:wake, on which the
 * ingest and enable scripts announce "partition P has new due work". It lets
 * every process sleep until work exists instead of polling. The connection
 * is one of the store's (store_subscribe, store/redis.h): its backoff, its
 * watchdog, the next node that owns slots after a failure (a cluster
 * forwards every PUBLISH to all its nodes); after each (re)subscribe it
 * reports "all partitions", since messages sent while it was away are lost.
 */
#ifndef HOOKD_WAKE_H
#define HOOKD_WAKE_H

struct event_base;
struct conf;

/* fn(p) for a partition, fn(-1) for "all". */
int wake_start(struct event_base *base, const struct conf *c, void (*fn)(int partition));
void wake_stop(void);

#endif
