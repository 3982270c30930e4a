/*
 * ingest: accepted events into Redis, a batch per partition (group commit).
 *
 * The events handler hands each validated event over with ingest_submit()
 * and answers its producer from the callback; it never sees the script or
 * the pump. Events submitted to one partition go to Redis as one ingest.lua
 * call (at most INGEST_BATCH_MAX events), flushed at the start of the next
 * loop pass, or, while that partition's previous call is still in Redis,
 * when its reply has come (store/loop_pass.h): when Redis is the
 * saturated part, the fixed cost of a call (parsing, the Lua call, the
 * reply, two syscalls) is paid once per batch instead of once per event,
 * and the busier Redis is, the more a batch carries. Nothing is
 * acknowledged early: each callback runs with the reply of the call that
 * stored its event, so a producer holding a 202 holds an event in Redis.
 *
 * Direct hand-off: each call asks the pump (through the handoff set at
 * start, so this layer does not know the reactor) how many deliveries it
 * may lease for this process, and settles that budget once per call with
 * the deliveries the script leased.
 */
#ifndef HOOKD_STORE_INGEST_H
#define HOOKD_STORE_INGEST_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "store/fields.h" /* enum ingest_field: one event's arguments */
#include "store/lease.h"

struct event_base;

#define INGEST_BATCH_MAX 32
/* A call's deliveries are its work: batches are cut short so that the
 * deliveries they are expected to make (events x the partition's recent mean
 * fan-out) stay about this many, keeping every call far under a millisecond. */
#define INGEST_DELIVERIES_MAX 128

/* The pump, as this layer sees it (reactor/delivery/pump.h): its budget for direct
 * hand-off, which takes the leased deliveries, the largest payload it
 * sends, and a wake-up for deliveries the script scheduled instead. */
struct ingest_handoff {
    long (*offer)(char lease_ms[24], long events);
    void (*settle)(long offered, struct lease **leased, long n);
    void (*wake)(int partition);
    size_t max_payload;
};

/* What became of one event, read from its entry of ingest.lua's reply
 * (INGEST_REPLY_FIELD_LIST). Everything in it lives during the callback. */
struct ingest_result {
    int answered;                /* 0: the call failed: `error` says how */
    const redisReply *error;     /* !answered: the error reply, or NULL when Redis was unavailable */
    enum ingest_status status;   /* stored, replayed (the idempotency key's event), or the key reused */
    const char *event_id;        /* the event's; for a reused key the one it stands for */
    const char *webhook_counter; /* "" without a session */
    const char *delivery_ids;    /* "id,id,..." */
    long long retry_after_s;     /* INGEST_LIMITED: seconds until the org's rate_limit admits one */
};

typedef void (*ingest_done_cb)(void *arg, const struct ingest_result *res);

/* h: every member set (main.c takes them from pump_handoff()). */
int ingest_start(struct event_base *base, int partitions, const struct ingest_handoff *h);
/* Queue one event (the values are copied; len[i] may be 0 for a C string;
 * INGEST_ROUTES_VERSION and INGEST_ENDPOINTS are filled here). `payload`
 * is its JSON as the producer sent it (v[INGEST_PAYLOAD] may be packed):
 * what endpoint filters are evaluated on. The event is matched to its
 * org's endpoints here (store/subscriptions.h). 0, or -1 when it could not
 * be queued (not started, out of memory): then cb is not called. */
int ingest_submit(int partition, const char *const v[INGEST_FIELDS], const size_t len[INGEST_FIELDS],
                  const char *payload, size_t payload_len, ingest_done_cb cb, void *arg);
/* Events queued or in Redis: a drain waits for their answers (reactor/delivery/pump.c). */
int ingest_busy(void);
/* Script calls made and events they carried (metrics: their ratio is the
 * mean batch size). */
void ingest_counts(unsigned long long *calls, unsigned long long *events);
/* Events still queued get their callback with NULL; then everything is freed. */
void ingest_free(void);

#endif
