/*
 * metrics: counters and histograms kept in process memory and rendered in
 * the Prometheus text format by GET /metrics. Recording is a few array
 * increments; nothing here allocates on the hot path.
 */
#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include "reactor/delivery/attempt.h"
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

enum delivery_outcome { OUTCOME_COMPLETED, OUTCOME_RETRYING, OUTCOME_ERRORED, OUTCOME_STALE, OUTCOME_COUNT };

struct route;
/* The route table, for the labels of the per-route request metrics. */
void metrics_set_routes(const struct route *routes, size_t n);
void metrics_http(int route_idx, int status, double seconds);
/* e: why it failed (ATTEMPT_HTTP_STATUS: by its status) */
void metrics_attempt(enum delivery_outcome o, enum attempt_error e, double seconds);
/* Gauges set by their owners; each has its name and HELP in metrics.c. */
enum gauge {
    GAUGE_DELIVERIES_IN_FLIGHT,
    GAUGE_DELIVERIES_SCHEDULED,
    GAUGE_DELIVERIES_LEASED,
    GAUGE_ENDPOINTS_READY,
    GAUGE_ENDPOINTS_CIRCUIT_OPEN,
    GAUGE_ENDPOINTS_THROTTLED,
    GAUGE_HELD_BY_RATE,
    GAUGE_HELD_BY_THROTTLE,
    GAUGE_HELD_BY_CIRCUIT,
    GAUGE_COUNT
};
void metrics_gauge_set(enum gauge g, double v);
void metrics_endpoint_disabled(void);
void metrics_handed_off(long n); /* deliveries leased by their own ingest */
void metrics_complete_call(int outcomes); /* a complete.lua call sent */
void metrics_wakeup(void);       /* a hookd:wake message received */
void metrics_org_refused(void);  /* an event refused by its org's rate_limit */
void metrics_render(struct evbuffer *out);

#endif
