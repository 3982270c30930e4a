/*
 * keys: every Redis key hookd uses, in one place.
 *
 * An org and all it owns live in one partition, p = fnv1a(org_id) mod P
 * (conf.partitions). Every key of a partition starts with the partition
 * prefix "hookd:{p}" whose hash tag {p} keeps them in one Redis Cluster slot,
 * so each Lua script (given the prefix as KEYS[1]) touches one partition.
 * In a cluster the tag is "{p.n}" instead (key_cluster_tags below).
 * The scripts in store/lua/ build the per-partition names below from that
 * prefix; this comment is their reference.
 *
 * Ids are UUIDv7, so the "lex" sorted sets below (all scores 0, ordered by
 * member) are ordered by creation time: a cursor is the last id seen and a
 * time range is an id range (id_floor()).
 *
 * Per partition, P = "hookd:{p}":
 *   P:org:<org>:eps                lex    the org's endpoint ids
 *   P:org:<org>:ver                string the org's routes version: bumped when an endpoint is
 *                                         added, removed or retyped (lib/routes.lua, store/subscriptions.h)
 *   P:org:<org>:dls                lex    the org's delivery ids
 *   P:org:<org>:limit              hash   the org's ingest rate_limit: rate, tokens, at (ingest.lua)
 *   P:org:<org>:idem:<key>         string event id for an Idempotency-Key (24 h TTL)
 *   P:org:<org>:sess:<sid>         string last webhook_counter of a sync session
 *   P:org:<org>:sess:<sid>:dls     lex    deliveries of a sync session
 *   P:org:<org>:req:<rid>:dls      lex    deliveries of a request id
 *   P:ep:<ep>                      hash   endpoint (see endpoint_create.lua)
 *   P:ep:<ep>:failed               lex    the endpoint's errored delivery ids
 *   P:ep:<ep>:due                  zset   delivery id -> next_retry_at (ms)
 *   P:ep:<ep>:fifo:<key>           list   a fifo endpoint's deliveries of one ordering key, in
 *                                         acceptance order: the first is scheduled, the rest held
 *                                         (lib/fifo.lua)
 *   P:ep:<ep>:fifos                set    the ordering keys that have a P:ep:<ep>:fifo:<key>
 *   P:ep:<ep>:st:<w>:<start>       hash   the endpoint's attempts in one stats bucket (w: m, q, h for
 *                                         1 min, 15 min, 2 h buckets): c, f, t, b<latency bin>;
 *                                         expires when it leaves its window (lib/stats.lua)
 *   P:ep:<ep>:canceling            zset   a deleted endpoint's queued deliveries, being
 *                                         marked canceled a batch at a time (prune.lua)
 *   P:ev:<ev>                      hash   event: type, created_at, n (deliveries), ep (the
 *                                         endpoint when n is 1), live (deliveries not yet
 *                                         pruned, once a replay made it differ from n),
 *                                         r<i> (delivery i's compact record: it succeeded
 *                                         at its first attempt, lib/delivery.lua), okey (its
 *                                         ordering_key, when it has one), ...
 *   P:ev:<ev>                      ...    b1..b<k>, b: the payload in 64-byte chunks, when its stored form
 *                                         is at most 2 KiB (lib/payload.lua); the hash stays a listpack
 *   P:ev:<ev>:body                 string a larger payload: JSON, or a zstd frame of it (store/payload.h)
 *   P:ev:<ev>:eps                  string when n > 1: the endpoint ids, 36 bytes each, in delivery order
 *   P:dl:<dl>                      hash   delivery: only what differs from its event, written
 *                                         when an outcome is recorded (lib/delivery.lua)
 *   P:dl:<dl>:att                  list   attempts, JSON, oldest first
 *   P:ready                        zset   endpoint id -> earliest due (ms); only
 *                                         ACTIVE endpoints with due work and free capacity
 *   P:lease                        zset   delivery id -> lease expiry (ms), also the fencing token
 *   P:stats                        hash   due: deliveries in the partition's due sets (for /metrics)
 *   P:finished                     list   "<finished ms><s|c|d|e><id>[<org>]": what retention prunes,
 *                                         in the order it finished (prune.lua)
 *   P:requeued                     hash   delivery id -> its stale P:finished entries (a requeue)
 *   P:pinned                       set    simple events a replay was made of (prune.lua)
 *   P:retain                       zset   the retain set of earlier versions, drained into P:finished
 *   P:canceling                    set    deleted endpoints whose queued deliveries await canceling
 *   P:limited, P:throttled,        set    endpoints with a rate_limit, paused or slowed by their
 *   P:circuits                            receiver, with an open circuit: what /metrics counts
 *   P:job:<job>                    hash   background redelivery job
 *
 * Global, tag {g} (looked up by credential before the org is known):
 *   hookd:{g}:token:<sha>          hash   token record (org_id, user_id, scopes, admin)
 *   hookd:{g}:client:<cid>        hash   OAuth2 client: secret_sha256 + token record
 *   hookd:{g}:portalcode:<sha>     hash   a portal link's one-time code (10 min TTL; portal.lua)
 *   hookd:{g}:portal:<id>          hash   a portal session by id: the sha of its token record (TTL)
 *   hookd:{g}:org:<org>:portals    zset   the org's portal session ids -> expires_at (ms)
 *   hookd:{g}:org:<org>            hash   org: name, created_at
 *   hookd:{g}:job:<job>            string partition of a job (so /v1/jobs/{id} finds it)
 *   hookd:{g}:secret-check         string "hookd" sealed under secret_key (store/secrets.h): a wrong key is
 *                                         refused at start-up before anything is written
 *   hookd:{g}:job-leases           zset   "<partition>:<job>" -> its lease expiry (ms) as last seen:
 *                                         a hint, so any process finds an orphaned job in one read
 *   hookd:{g}:rl:<webhook>:<min>   string contract 003 retrigger counter (TTL)
 *   hookd:wake                     pubsub channel: new work was scheduled
 */
#ifndef HOOKD_KEYS_H
#define HOOKD_KEYS_H

#include <stdint.h>
#include <stdio.h>

#define KEY_PREFIX_MAX 32
#define KEY_TAG_MAX 24 /* a partition's hash tag, without braces */

/* FNV-1a of a C string: partitions, and the in-process hash tables that
 * key by name (store/subscriptions.c, store/filter.c). */
static inline uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static inline int key_partition(const char *org_id, int partitions)
{
    return (int)(fnv1a(org_id) % (uint32_t)partitions);
}

/* Each partition's hash tag when Redis is a cluster (store/cluster.h says
 * why they differ); NULL with a single Redis, whose tags are the partition
 * numbers. Set by store/redis.c before the store is first ready, so every
 * prefix made after that names the right keys. */
extern char (*key_cluster_tags)[KEY_TAG_MAX];

static inline void key_prefix(char out[KEY_PREFIX_MAX], int partition)
{
    if (key_cluster_tags)
        snprintf(out, KEY_PREFIX_MAX, "hookd:{%s}", key_cluster_tags[partition]);
    else
        snprintf(out, KEY_PREFIX_MAX, "hookd:{%d}", partition);
}

#define KEY_GLOBAL "hookd:{g}"
#define KEY_JOB_LEASES "hookd:{g}:job-leases"
#define KEY_SECRET_CHECK "hookd:{g}:secret-check"
/* the check value a complete start-up walk of the secrets ran under, for a
 * day (store/secrets.c): a start that finds it the same walks nothing */
#define KEY_SECRET_WALKED "hookd:{g}:secret-walked"
#define KEY_TOKEN "hookd:{g}:token:"
#define KEY_WAKE "hookd:wake"

#endif
