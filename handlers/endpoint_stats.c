/*
 * GET /v1/endpoints/{id}/stats?window=1h|24h|7d: the endpoint's attempts
 * (succeeded, failed, throttled) and latency p50/p95 per bucket, oldest
 * first, read from the buckets complete.lua keeps (store/lua/lib/stats.lua).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/ids.h"
#include "store/latency.h"

/* A bucket's counters as stored, and its latency quantiles. */
struct bucket_stats {
    long long completed, failed, throttled, samples;
    long long bins[LATENCY_BINS];
};

static void bucket_read(const redisReply *h, struct bucket_stats *b)
{
    memset(b, 0, sizeof(*b));
    for (size_t i = 0; h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str;
        long long n = strtoll(h->element[i + 1]->str, NULL, 10);
        if (n < 0)
            continue;
        if (f[0] == 'f' && !f[1])
            b->failed = n, b->completed -= n;
        else if (f[0] == 't' && !f[1])
            b->throttled = n, b->completed -= n;
        else if (f[0] == 'x' && !f[1])
            b->completed += n; /* attempts without a response: counted, no latency */
        else if (f[0] == 'b') {
            long bin = strtol(f + 1, NULL, 10);
            if (bin >= 0 && bin < LATENCY_BINS) {
                b->bins[bin] += n;
                b->samples += n;
                b->completed += n; /* every attempt has a bin; the failed and throttled come off */
            }
        }
    }
}

/* The q-quantile (q in percent) of a bucket's durations, in ms. */
static long long bucket_quantile(const struct bucket_stats *b, int q)
{
    long long rank = (b->samples * q + 99) / 100, seen = 0;
    for (int i = 0; i < LATENCY_BINS; i++)
        if ((seen += b->bins[i]) >= rank && b->bins[i])
            return latency_bin_ms(i);
    return 0;
}

static void render_bucket(struct jw *w, int64_t start_ms, const struct bucket_stats *b)
{
    jw_map_open(w);
    jw_ktime(w, "start", start_ms);
    jw_kint(w, "completed", b->completed > 0 ? b->completed : 0);
    jw_kint(w, "failed", b->failed);
    jw_kint(w, "throttled", b->throttled);
    jw_key(w, "p50_ms");
    b->samples ? jw_int(w, bucket_quantile(b, 50)) : jw_null(w);
    jw_key(w, "p95_ms");
    b->samples ? jw_int(w, bucket_quantile(b, 95)) : jw_null(w);
    jw_map_close(w);
}

static void on_stats(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_ARRAY) {
        reply_error(r, 404, "not_found", NULL, "no such endpoint");
        return;
    }
    struct bucket_stats *b = malloc(sizeof(*b)); /* ~1.3 KiB: off the stack; freed here */
    struct jw w;
    if (rep->elements < 2 || !b || jw_init(&w) < 0) {
        free(b);
        reply_error(r, 500, "internal", NULL, "unexpected store reply");
        return;
    }
    long long bucket_ms = strtoll(rep->element[0]->str, NULL, 10), first = strtoll(rep->element[1]->str, NULL, 10);
    jw_map_open(&w);
    jw_kstr(&w, "window", req_query(r, "window") ? req_query(r, "window") : "24h");
    jw_kint(&w, "bucket_seconds", bucket_ms / 1000);
    jw_key(&w, "buckets");
    jw_array_open(&w);
    for (size_t i = 2; i < rep->elements; i++) {
        bucket_read(rep->element[i], b);
        render_bucket(&w, first + (int64_t)(i - 2) * bucket_ms, b);
    }
    jw_array_close(&w);
    jw_map_close(&w);
    free(b);
    reply_json(r, 200, &w);
}

void h_endpoint_stats(struct req *r)
{
    static const char *const allowed[] = {"window", NULL};
    if (req_query_only(r, allowed) < 0)
        return;
    const char *id = path_id(r, 0, "endpoint"), *window = req_query(r, "window");
    if (!id)
        return;
    if (!window)
        window = "24h";
    if (strcmp(window, "1h") && strcmp(window, "24h") && strcmp(window, "7d")) {
        reply_error(r, 422, "invalid_parameter", "window", "window must be 1h, 24h or 7d");
        return;
    }
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    const char *argv[] = {r->who.org_id, id, window, now};
    call_script(r, SCRIPT_ENDPOINT_STATS, on_stats, 4, argv);
}
