#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "store/keys.h"
#include "store/redis_config.h"

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "reactor/http/metrics.h"

void h_healthz(struct req *r)
{
    reply_raw(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

/* Ready: Redis is up with the scripts loaded. Warnings about a Redis that
 * can lose data (redis_config.h) do not make hookd unready (it still works),
 * but they are in the body for whoever looks. In a cluster, ready while any
 * master is ("redis": "degraded" when not all are): a failover pauses one
 * master's partitions, and taking every process out of rotation for it
 * would stop the others too. */
void h_readyz(struct req *r)
{
    struct jw w;
    char text[512];
    if (!store_usable()) {
        reply_error(r, 503, "not_ready", NULL, "Redis is not reachable or scripts are not loaded");
        return;
    }
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    redis_config_describe(text, sizeof(text));
    jw_map_open(&w);
    jw_kstr(&w, "status", "ready");
    jw_kstr(&w, "redis", store_ready() ? "up" : "degraded");
    if (text[0]) {
        jw_key(&w, "warnings");
        jw_array_open(&w);
        jw_str(&w, text);
        jw_array_close(&w);
    }
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

/* Gauges read from Redis across partitions, gathered before rendering. Owned
 * by the request until the last partition answers. */
struct gauges {
    int waiting;
    int failed;
    long long due, leased, ready, circuits, throttled, by_rate, by_throttle, by_circuit;
};

static void render_metrics(struct req *r, struct gauges *g)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (!g->failed) {
        metrics_gauge_set(GAUGE_DELIVERIES_SCHEDULED, (double)g->due);
        metrics_gauge_set(GAUGE_DELIVERIES_LEASED, (double)g->leased);
        metrics_gauge_set(GAUGE_ENDPOINTS_READY, (double)g->ready);
        metrics_gauge_set(GAUGE_ENDPOINTS_CIRCUIT_OPEN, (double)g->circuits);
        metrics_gauge_set(GAUGE_ENDPOINTS_THROTTLED, (double)g->throttled);
        metrics_gauge_set(GAUGE_HELD_BY_RATE, (double)g->by_rate);
        metrics_gauge_set(GAUGE_HELD_BY_THROTTLE, (double)g->by_throttle);
        metrics_gauge_set(GAUGE_HELD_BY_CIRCUIT, (double)g->by_circuit);
    }
    metrics_render(b);
    size_t len = evbuffer_get_length(b);
    const char *p = (const char *)evbuffer_pullup(b, -1);
    reply_raw(r, 200, "text/plain; version=0.0.4", p, len);
    evbuffer_free(b);
}

static void on_stats(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct gauges *g = r->state;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 8) {
        long long *sum[] = {&g->due, &g->leased, &g->ready, &g->circuits, &g->throttled,
                            &g->by_rate, &g->by_throttle, &g->by_circuit}; /* stats.lua's order */
        for (size_t i = 0; i < 8; i++)
            *sum[i] += rep->element[i]->integer;
    } else {
        g->failed = 1;
    }
    if (--g->waiting > 0)
        return;
    render_metrics(r, g); /* replies: r frees g */
}

void h_metrics(struct req *r)
{
    struct gauges *g = calloc(1, sizeof(*g));
    if (!g) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    req_keep(r, g, free);
    int P = (int)server_conf()->partitions;
    for (int p = 0; p < P; p++) {
        char prefix[KEY_PREFIX_MAX];
        key_prefix(prefix, p);
        const char *argv[] = {prefix};
        size_t lens[] = {strlen(prefix)};
        if (store_script(SCRIPT_STATS, on_stats, r, 1, 1, argv, lens) == 0) {
            g->waiting++;
        } else {
            g->failed = 1;
            break; /* Redis away: render what this process knows */
        }
    }
    if (g->waiting == 0)
        render_metrics(r, g);
}

