/*
 * notice: hookd's own events about an org's webhooks (operational events),
 * ingested like any event of that org, so they are signed, retried and
 * redeliverable, and go only to the org's endpoints that name their type
 * (store/subscriptions.c matches hookd.* types only to the endpoints that
 * name them):
 *
 * Each payload is {"type": <type>, "timestamp": <ISO 8601>, "data": {...}}
 * (Standard Webhooks' envelope: a receiver gets the payload only), data:
 *
 *   hookd.endpoint.disabled   {endpoint_id, by: "auto"|"api"}
 *   hookd.endpoint.enabled    {endpoint_id, by: "api"}
 *   hookd.endpoint.circuit_opened, hookd.endpoint.circuit_closed
 *                             {endpoint_id, by: "auto"} (the circuit breaker,
 *                              store/lua/complete.lua)
 *   hookd.delivery.exhausted  {delivery_id, event_id, event_type, endpoint_id,
 *                              attempts}  (a delivery gave up: its attempts
 *                              used up, or the receiver aborted it)
 *
 * A notice is sent once its cause is recorded in Redis; a process that dies
 * in between loses it (at most once). Producers cannot post hookd.* types.
 */
#ifndef HOOKD_STORE_NOTICE_H
#define HOOKD_STORE_NOTICE_H

#define NOTICE_PREFIX "hookd."
#define NOTICE_ENDPOINT_DISABLED "hookd.endpoint.disabled"
#define NOTICE_ENDPOINT_ENABLED "hookd.endpoint.enabled"
#define NOTICE_DELIVERY_EXHAUSTED "hookd.delivery.exhausted"
#define NOTICE_ENDPOINT_CIRCUIT_OPENED "hookd.endpoint.circuit_opened"
#define NOTICE_ENDPOINT_CIRCUIT_CLOSED "hookd.endpoint.circuit_closed"

/* Queue one notice for `org` (partitions: conf.partitions). A failure is
 * logged; nobody waits for it. */
void notice_endpoint(const char *org, int partitions, const char *type, const char *endpoint_id, const char *by);
void notice_exhausted(const char *org, int partitions, const char *delivery_id, const char *event_id,
                      const char *event_type, const char *endpoint_id, long long attempts);

#endif
