/*
 * redeliver: the one core behind the five redelivery contracts and the
 * native jobs API (store/lua/redeliver.lua, requeue.lua, ratelimit.lua).
 *
 *   replay  - a new delivery of the same event to the same endpoint,
 *             replay_of_delivery_id set, pending, signed afresh at send time;
 *             never deduplicated (asking twice sends twice).
 *   requeue - the same delivery back on its endpoint's schedule with a
 *             fresh retry schedule (contract 004).
 *
 * `prefix` is the org's partition prefix (store/keys.h). Every operation is scoped to one org: ids of another org are treated as
 * unknown. Callbacks follow store/redis.h's contract.
 */
#ifndef HOOKD_REDELIVER_H
#define HOOKD_REDELIVER_H

#include "store/fields.h"
#include "store/redis.h"

#define REDELIVER_MAX_IDS 1000

/* Replay each id; reply: one element per id, the new delivery as HGETALL
 * pairs or an empty array when dropped. `endpoint` ("" = any) restricts the
 * ids to one endpoint. */
int redeliver_ids(const char *prefix, const char *org, long long user_id, const char *const *ids, int n,
                  const char *endpoint, store_cb cb, void *priv);
/* Requeue one delivery ("" = a batch of the endpoint's errored ones);
 * reply {'ok', n, more, endpoint} or {'no_endpoint'} / {'no_delivery'}. */
int redeliver_requeue(const char *prefix, const char *org, const char *endpoint, const char *delivery_id, int batch,
                      store_cb cb, void *priv);
/* Redelivery jobs (reactor/delivery/jobs.c runs them). Create the record: reply 1.
 * One step: {'ok'|'done', cursor, matched, created}, {'stop', state} or
 * {'lost'} (store/lua/redeliver.lua). Claim a job whose lease expired (any
 * in the partition, or the one named by job_id): {job_id, org}; else {},
 * or for a named job {0} (not running) or {lease expiry} (not orphaned).
 * Cancel: 1, or 0 when unknown or finished. */
int redeliver_job_create(const char *prefix, const char *const v[JOB_FIELDS], store_cb cb, void *priv);
int redeliver_job_step(const char *prefix, const char *const v[JOB_STEP_FIELDS], store_cb cb, void *priv);
int redeliver_job_claim(const char *prefix, const char *now, const char *owner, const char *lease_until,
                        const char *job_id, store_cb cb, void *priv);
int redeliver_job_cancel(const char *prefix, const char *org, const char *job_id, const char *now, store_cb cb,
                         void *priv);
/* Fixed one-minute window counter; reply 1 within the limit, 0 over it. */
int redeliver_ratelimit(const char *name, long long per_minute, store_cb cb, void *priv);

#endif
