#include "reactor/http/metrics.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <string.h>

#include "reactor/http/server.h"
#include "reactor/http/gate.h"
#include "reactor/delivery/retention.h"
#include "conf/log.h"
#include "store/ingest.h"
#include "store/redis.h"
#include "store/redis_config.h"

#define MAX_ROUTES 64
#define NBUCKETS 14
static const double buckets[NBUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const int codes[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 503, 0};
#define NCODES (int)(sizeof(codes) / sizeof(codes[0]))

struct histo {
    unsigned long long b[NBUCKETS];
    unsigned long long count;
    double sum;
};


static struct {
    unsigned long long http[MAX_ROUTES + 1][NCODES];
    struct histo http_lat[MAX_ROUTES + 1];
    unsigned long long outcomes[OUTCOME_COUNT];
    unsigned long long errors[ATTEMPT_ERROR_COUNT];
    struct histo attempt_lat;
    unsigned long long disabled;
    unsigned long long org_refused;
    unsigned long long handed_off;
    unsigned long long complete_calls, complete_outcomes;
    unsigned long long wakeups;
    const struct route *routes; /* for labels; the server's table */
    size_t nroutes;
    double gauges[GAUGE_COUNT];
    char gauge_set[GAUGE_COUNT]; /* rendered once set */
} M;

static void histo_add(struct histo *h, double v)
{
    for (int i = 0; i < NBUCKETS; i++)
        if (v <= buckets[i])
            h->b[i]++;
    h->count++;
    h->sum += v;
}

void metrics_http(int route_idx, int status, double seconds)
{
    int r = route_idx < 0 || route_idx >= MAX_ROUTES ? MAX_ROUTES : route_idx;
    int c;
    for (c = 0; c < NCODES - 1; c++)
        if (codes[c] == status)
            break;
    M.http[r][c]++;
    histo_add(&M.http_lat[r], seconds);
}

void metrics_attempt(enum delivery_outcome o, enum attempt_error e, double seconds)
{
    M.outcomes[o]++;
    if (o == OUTCOME_STALE)
        return;
    histo_add(&M.attempt_lat, seconds);
    if (o == OUTCOME_COMPLETED)
        return;
    M.errors[(unsigned)e < ATTEMPT_ERROR_COUNT ? e : ATTEMPT_HTTP_STATUS]++;
}

void metrics_set_routes(const struct route *routes, size_t n)
{
    M.routes = routes;
    M.nroutes = n;
}

void metrics_endpoint_disabled(void) { M.disabled++; }
void metrics_handed_off(long n) { M.handed_off += (unsigned long long)n; }
void metrics_complete_call(int outcomes) { M.complete_calls++, M.complete_outcomes += (unsigned long long)outcomes; }
void metrics_wakeup(void) { M.wakeups++; }
void metrics_org_refused(void) { M.org_refused++; }

static const struct {
    const char *name, *help;
} gauge_info[GAUGE_COUNT] = {
    [GAUGE_DELIVERIES_IN_FLIGHT] = {"deliveries_in_flight", "Deliveries this process is sending now."},
    [GAUGE_DELIVERIES_SCHEDULED] = {"deliveries_scheduled",
                                    "Deliveries waiting in the due sets of all partitions (pending or retrying)."},
    [GAUGE_DELIVERIES_LEASED] = {"deliveries_leased", "Deliveries leased to some process for sending, fleet-wide."},
    [GAUGE_ENDPOINTS_READY] = {"endpoints_ready", "Endpoints with due work and free capacity, fleet-wide."},
    [GAUGE_ENDPOINTS_CIRCUIT_OPEN] = {"endpoints_circuit_open", "Endpoints whose circuit is open or half-open, fleet-wide."},
    [GAUGE_ENDPOINTS_THROTTLED] = {"endpoints_throttled", "Endpoints paused or slowed by their receiver's 429/503."},
    [GAUGE_HELD_BY_RATE] = {"deliveries_held_by_rate",
                            "Due deliveries of rate-limited endpoints (the first 100 such endpoints per partition)."},
    [GAUGE_HELD_BY_THROTTLE] = {"deliveries_held_by_throttle", "Due deliveries of throttled endpoints (likewise)."},
    [GAUGE_HELD_BY_CIRCUIT] = {"deliveries_held_by_circuit",
                               "Due deliveries of endpoints with an open circuit (likewise)."},
};

void metrics_gauge_set(enum gauge g, double v)
{
    M.gauges[g] = v;
    M.gauge_set[g] = 1;
}

static void histo_render(struct evbuffer *o, const char *name, const char *labels, const struct histo *h)
{
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i < NBUCKETS; i++)
        evbuffer_add_printf(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, buckets[i], h->b[i]);
    evbuffer_add_printf(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, h->count);
    if (labels[0]) {
        evbuffer_add_printf(o, "%s_sum{%s} %.6f\n", name, labels, h->sum);
        evbuffer_add_printf(o, "%s_count{%s} %llu\n", name, labels, h->count);
    } else {
        evbuffer_add_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, h->count);
    }
}

static const char *route_label(int r, char *buf, size_t len)
{
    if (r == MAX_ROUTES || (size_t)r >= M.nroutes)
        return "unmatched";
    snprintf(buf, len, "%s %s", server_method_name(M.routes[r].method), M.routes[r].pattern);
    return buf;
}

static void render_retention(struct evbuffer *o)
{
    static const char *kinds[PRUNED_KIND_COUNT] = {"delivery", "event", "canceled"};
    struct retention_stats s;
    retention_stats(&s);
    evbuffer_add_printf(o, "# HELP hookd_pruned_total Records removed by retention (canceled: queued deliveries of deleted endpoints marked canceled).\n"
                           "# TYPE hookd_pruned_total counter\n");
    for (int i = 0; i < PRUNED_KIND_COUNT; i++)
        evbuffer_add_printf(o, "hookd_pruned_total{kind=\"%s\"} %llu\n", kinds[i], s.pruned[i]);
    evbuffer_add_printf(o, "# HELP hookd_retained_oldest_age_seconds Age of the oldest finished record still kept.\n"
                           "# TYPE hookd_retained_oldest_age_seconds gauge\nhookd_retained_oldest_age_seconds %.3f\n",
                        s.oldest_age_s);
}

static void render_redis_config(struct evbuffer *o)
{
    unsigned w = redis_config_warnings();
    evbuffer_add_printf(o, "# HELP hookd_redis_config_warning 1 when Redis can lose hookd's data (evicts: maxmemory-policy is not noeviction; not_persistent: no AOF and no RDB; unknown: CONFIG refused).\n"
                           "# TYPE hookd_redis_config_warning gauge\n"
                           "hookd_redis_config_warning{kind=\"evicts\"} %d\n"
                           "hookd_redis_config_warning{kind=\"not_persistent\"} %d\n"
                           "hookd_redis_config_warning{kind=\"unknown\"} %d\n",
                        !!(w & REDIS_WARN_EVICTS), !!(w & REDIS_WARN_NOT_PERSISTENT), !!(w & REDIS_WARN_UNKNOWN));
}

static void render_gate(struct evbuffer *o)
{
    static const char *reasons[GATE_REFUSED_COUNT] = {"no_credentials", "too_large", "busy", "malformed", "slow"};
    struct gate_stats g;
    gate_stats(&g);
    evbuffer_add_printf(o, "# HELP hookd_http_connections API connections open.\n"
                           "# TYPE hookd_http_connections gauge\nhookd_http_connections %zu\n", g.connections);
    evbuffer_add_printf(o, "# HELP hookd_http_body_bytes_reserved Request body bytes admitted and in flight.\n"
                           "# TYPE hookd_http_body_bytes_reserved gauge\nhookd_http_body_bytes_reserved %zu\n",
                        g.body_bytes_reserved);
    evbuffer_add_printf(o, "# HELP hookd_http_refused_total Requests refused from their headers, before any body was read.\n"
                           "# TYPE hookd_http_refused_total counter\n");
    for (int i = 0; i < GATE_REFUSED_COUNT; i++)
        evbuffer_add_printf(o, "hookd_http_refused_total{reason=\"%s\"} %llu\n", reasons[i], g.refused[i]);
    evbuffer_add_printf(o, "# HELP hookd_accept_pauses_total Times accept() failed (e.g. out of descriptors) and accepting paused.\n"
                           "# TYPE hookd_accept_pauses_total counter\nhookd_accept_pauses_total %llu\n", g.accept_pauses);
    evbuffer_add_printf(o, "# HELP hookd_http_idle_closed_total Idle keep-alive connections closed at max_connections to admit new ones.\n"
                           "# TYPE hookd_http_idle_closed_total counter\nhookd_http_idle_closed_total %llu\n", g.idle_closed);
    evbuffer_add_printf(o, "# HELP hookd_log_lines_suppressed_total Log lines dropped as repeats.\n"
                           "# TYPE hookd_log_lines_suppressed_total counter\nhookd_log_lines_suppressed_total %llu\n",
                        log_suppressed_total());
}

void metrics_render(struct evbuffer *o)
{
    static const char *outcome_names[] = {"completed", "retrying", "errored", "stale"};
    char lbl[256], rl[160];
    evbuffer_add_printf(o, "# HELP hookd_http_requests_total API requests by route and status.\n"
                           "# TYPE hookd_http_requests_total counter\n");
    for (int r = 0; r <= MAX_ROUTES; r++)
        for (int c = 0; c < NCODES; c++)
            if (M.http[r][c]) {
                char code[8];
                snprintf(code, sizeof(code), "%d", codes[c]);
                evbuffer_add_printf(o, "hookd_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                                    route_label(r, rl, sizeof(rl)), codes[c] ? code : "other", M.http[r][c]);
            }
    evbuffer_add_printf(o, "# HELP hookd_http_request_duration_seconds API latency by route.\n"
                           "# TYPE hookd_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= MAX_ROUTES; r++)
        if (M.http_lat[r].count) {
            snprintf(lbl, sizeof(lbl), "route=\"%s\"", route_label(r, rl, sizeof(rl)));
            histo_render(o, "hookd_http_request_duration_seconds", lbl, &M.http_lat[r]);
        }
    evbuffer_add_printf(o, "# HELP hookd_delivery_attempts_total Delivery attempts by outcome.\n"
                           "# TYPE hookd_delivery_attempts_total counter\n");
    for (int i = 0; i < OUTCOME_COUNT; i++)
        evbuffer_add_printf(o, "hookd_delivery_attempts_total{outcome=\"%s\"} %llu\n", outcome_names[i],
                            M.outcomes[i]);
    evbuffer_add_printf(o, "# HELP hookd_delivery_failures_total Failed attempts by error class.\n"
                           "# TYPE hookd_delivery_failures_total counter\n");
    for (int i = 0; i < ATTEMPT_ERROR_COUNT; i++)
        evbuffer_add_printf(o, "hookd_delivery_failures_total{error=\"%s\"} %llu\n",
                            attempt_error_label((enum attempt_error)i), M.errors[i]);
    evbuffer_add_printf(o, "# HELP hookd_delivery_attempt_duration_seconds Attempt latency.\n"
                           "# TYPE hookd_delivery_attempt_duration_seconds histogram\n");
    histo_render(o, "hookd_delivery_attempt_duration_seconds", "", &M.attempt_lat);
    evbuffer_add_printf(o, "# HELP hookd_org_ingest_refused_total Events this process refused by their org's "
                           "rate_limit (429).\n# TYPE hookd_org_ingest_refused_total counter\n"
                           "hookd_org_ingest_refused_total %llu\n", M.org_refused);
    evbuffer_add_printf(o, "# HELP hookd_endpoints_disabled_total Endpoints this process disabled.\n"
                           "# TYPE hookd_endpoints_disabled_total counter\n"
                           "hookd_endpoints_disabled_total %llu\n", M.disabled);
    evbuffer_add_printf(o, "# HELP hookd_deliveries_handed_off_total Deliveries leased by their own ingest, without a claim.\n"
                           "# TYPE hookd_deliveries_handed_off_total counter\n"
                           "hookd_deliveries_handed_off_total %llu\n", M.handed_off);
    evbuffer_add_printf(o, "# HELP hookd_wakeups_total Wake-ups: hookd:wake messages (new work scheduled by any process) and (re)subscriptions.\n"
                           "# TYPE hookd_wakeups_total counter\n"
                           "hookd_wakeups_total %llu\n", M.wakeups);
    unsigned long long ingest_calls, ingest_events;
    ingest_counts(&ingest_calls, &ingest_events);
    evbuffer_add_printf(o, "# HELP hookd_ingest_calls_total Ingest script calls (group commit: one carries up to 32 events).\n"
                           "# TYPE hookd_ingest_calls_total counter\nhookd_ingest_calls_total %llu\n"
                           "# HELP hookd_ingest_events_total Events sent to Redis by those calls.\n"
                           "# TYPE hookd_ingest_events_total counter\nhookd_ingest_events_total %llu\n",
                        ingest_calls, ingest_events);
    evbuffer_add_printf(o, "# HELP hookd_complete_calls_total Outcome-recording script calls (one per partition at a time, up to 128 outcomes).\n"
                           "# TYPE hookd_complete_calls_total counter\nhookd_complete_calls_total %llu\n"
                           "# HELP hookd_complete_outcomes_total Attempt outcomes sent to Redis by those calls.\n"
                           "# TYPE hookd_complete_outcomes_total counter\nhookd_complete_outcomes_total %llu\n",
                        M.complete_calls, M.complete_outcomes);
    evbuffer_add_printf(o, "# HELP hookd_redis_commands_total Redis commands sent.\n"
                           "# TYPE hookd_redis_commands_total counter\n"
                           "hookd_redis_commands_total %llu\n", store_commands_sent());
    evbuffer_add_printf(o, "# HELP hookd_redis_pending Redis commands awaiting a reply.\n"
                           "# TYPE hookd_redis_pending gauge\nhookd_redis_pending %ld\n", store_pending());
    evbuffer_add_printf(o, "# HELP hookd_redis_rtt_avg_seconds Mean Redis round-trip time.\n"
                           "# TYPE hookd_redis_rtt_avg_seconds gauge\nhookd_redis_rtt_avg_seconds %.6f\n",
                        store_rtt_avg_ms() / 1000.0);
    evbuffer_add_printf(o, "# HELP hookd_redis_up Whether Redis is connected with scripts loaded.\n"
                           "# TYPE hookd_redis_up gauge\nhookd_redis_up %d\n", store_ready());
    render_gate(o);
    render_retention(o);
    render_redis_config(o);
    for (int i = 0; i < GAUGE_COUNT; i++)
        if (M.gauge_set[i])
            evbuffer_add_printf(o, "# HELP hookd_%s %s\n# TYPE hookd_%s gauge\nhookd_%s %g\n", gauge_info[i].name,
                                gauge_info[i].help, gauge_info[i].name, gauge_info[i].name, M.gauges[i]);
}
