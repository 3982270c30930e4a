#include "reactor/delivery/pump.h"

#include <event2/event.h>
#include <stdint.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "reactor/delivery/client.h"
#include "conf/log.h"
#include "reactor/http/metrics.h"
#include "reactor/delivery/receiver_auth.h"
#include "reactor/delivery/retry.h"
#include "reactor/delivery/signing.h"
#include "store/ids.h"
#include "store/ingest.h"
#include "store/json.h"
#include "store/lease.h"
#include "store/loop_pass.h"
#include "store/notice.h"
#include "store/redis.h"
#include "store/wake.h"

/* An original delivery among its event's first COMPACT_MAX_INDEX that
 * succeeded at its first attempt is recorded as one short field of its event
 * (lib/delivery.lua) when "<delivered_ms>|" and this fit Redis's compact hash
 * value limit (64 bytes); else as a hash and a list. The index bound keeps
 * the event hash to few enough fields to stay a listpack. */
#define COMPACT_MAX 48
#define COMPACT_MAX_INDEX 64

#define NEVER INT64_MAX
#define POLL_MS 5000 /* safety poll: sweeps expired leases, catches lost wake-ups */

/* A flight: one claimed delivery being attempted ("job" is a redelivery
 * job, reactor/delivery/jobs.h), owned by the pump from its claim until complete.lua
 * has answered (or Redis was lost). */
struct flight {
    struct flight *prev, *next;   /* the in-flight list, for draining */
    struct client_req *cr;     /* the send in progress, or NULL */
    struct lease *l;           /* owned */
    struct receiver_auth_wait *auth_wait; /* waiting for the receiver's OAuth2 token, or NULL */
    char *token;               /* owned: the token this attempt sent, for a 401's refresh */
    int auth_retried;          /* a 401 has already fetched a fresh token once */
};

struct completion;

static struct {
    struct event_base *base;
    const struct conf *conf;
    int64_t *due_at;           /* per partition: earliest known due time, NEVER if none */
    int claims_out;            /* claim replies awaited */
    long inflight;             /* claimed, outcome not yet recorded */
    long offered;              /* budget lent to ingests awaiting their reply */
    int rr;                    /* round-robin start when budget < hot partitions */
    struct event *tick_ev;
    int64_t tick_at;           /* when tick_ev fires; 0 = not armed */
    struct event *poll_ev;
    struct flight *flights;
    int draining;
    void (*drained)(void *);
    void *drained_arg;
    struct event *grace_ev;
    int pass;                  /* sends queued completions at the next loop pass (store/loop_pass.h) */
    struct completion **pending; /* per partition, outcomes not yet sent */
    int *npending;
    int *completing;           /* per partition, complete.lua calls awaiting their reply */
    uint32_t rng;
} PM;

long pump_inflight(void) { return PM.inflight; }

static uint32_t rnd(void)
{
    PM.rng ^= PM.rng << 13;
    PM.rng ^= PM.rng >> 17;
    PM.rng ^= PM.rng << 5;
    return PM.rng;
}

static void kick_at(int64_t when)
{
    if (PM.draining)
        return;
    int64_t now = now_ms();
    if (when < now)
        when = now;
    if (PM.tick_at && PM.tick_at <= when)
        return;
    int64_t d = when - now;
    struct timeval tv = {d / 1000, (d % 1000) * 1000};
    PM.tick_at = when;
    evtimer_add(PM.tick_ev, &tv);
}

void pump_wake_partition(int p)
{
    if (p < 0 || p >= PM.conf->partitions)
        return;
    PM.due_at[p] = 0;
    kick_at(0);
}

void pump_wake(void)
{
    for (int p = 0; p < PM.conf->partitions; p++)
        PM.due_at[p] = 0;
    kick_at(0);
}

static void on_wake_message(int p)
{
    metrics_wakeup();
    if (p < 0)
        pump_wake();
    else
        pump_wake_partition(p);
}

static void maybe_drained(void)
{
    if (PM.draining && PM.inflight == 0 && PM.claims_out == 0 && PM.offered == 0 && !ingest_busy() && PM.drained) {
        void (*fn)(void *) = PM.drained;
        PM.drained = NULL;
        fn(PM.drained_arg);
    }
}

static void flight_link(struct flight *j)
{
    j->next = PM.flights;
    j->prev = NULL;
    if (PM.flights)
        PM.flights->prev = j;
    PM.flights = j;
}

static void flight_unlink(struct flight *j)
{
    if (j->prev) j->prev->next = j->next;
    else PM.flights = j->next;
    if (j->next) j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

/* The receiver's bearer token this flight sent: wiped before it goes. */
static void token_free(struct flight *j)
{
    if (j->token) {
        OPENSSL_cleanse(j->token, strlen(j->token));
        free(j->token);
    }
    j->token = NULL;
}

static void flight_done(struct flight *j)
{
    PM.inflight--;
    metrics_gauge_set(GAUGE_DELIVERIES_IN_FLIGHT, (double)PM.inflight);
    free(j->l);
    token_free(j);
    free(j);
    maybe_drained();
}

/* One outcome waiting to be recorded; queued per partition and flushed in
 * one complete.lua call per partition per loop pass (or per BATCH_MAX), or,
 * while that partition's previous call is in Redis, at the first pass after
 * its reply (store/loop_pass.h): the busier Redis is, the more one call
 * carries. */
struct completion {
    struct completion *next;
    struct flight *flight;
    struct outcome out;              /* out.attempt is owned */
    enum attempt_error error;
    double seconds;
    char compact[COMPACT_MAX + 1];   /* out.compact */
};

#define BATCH_MAX 128

struct batch {
    int partition;
    int n;
    struct completion *items[BATCH_MAX];
};

/* A completion the pump can no longer act on (pump_free has run): its
 * flight and lease go with it; the lease expires in Redis. */
static void completion_drop(struct completion *c)
{
    free(c->flight->l);
    token_free(c->flight);
    free(c->flight);
    free((char *)c->out.attempt);
    free(c);
}

/* pump_free has run: the store answers the calls still in Redis with NULL
 * afterwards (store_close), which find no pump to report to */
static int pump_freed(void)
{
    return PM.conf == NULL;
}

static void completion_done(struct completion *c)
{
    flight_done(c->flight);
    free((char *)c->out.attempt);
    free(c);
}

/* the metrics' name for what an applied outcome did to its delivery */
static enum delivery_outcome metrics_outcome(const struct outcome *o)
{
    if (o->result == RESULT_SUCCESS)
        return OUTCOME_COMPLETED;
    return o->next_at < 0 ? OUTCOME_ERRORED : OUTCOME_RETRYING;
}

static void flush_partition(int p);

static void on_completed(void *priv, const struct outcome_verdict *v, int n)
{
    struct batch *b = priv;
    int p = b->partition;
    if (pump_freed()) {
        for (int i = 0; i < b->n; i++)
            completion_drop(b->items[i]);
        free(b);
        return;
    }
    PM.completing[p]--;
    if (PM.pending[p] && loop_pass_want(PM.pass) < 0) /* what queued behind this call */
        flush_partition(p);
    for (int i = 0; i < n; i++) {
        struct completion *c = b->items[i];
        if (v && v[i].applied) {
            if (c->out.result != RESULT_RELEASE)
                metrics_attempt(metrics_outcome(&c->out), c->error, c->seconds);
            const struct lease *l = c->flight->l;
            int partitions = (int)PM.conf->partitions;
            if (v[i].disabled) {
                metrics_endpoint_disabled();
                LOG_WARNING("endpoint disabled", "endpoint_id", l->endpoint_id, "delivery_id", l->id, NULL);
                notice_endpoint(v[i].org, partitions, NOTICE_ENDPOINT_DISABLED, l->endpoint_id, "auto");
            }
            if (v[i].circuit[0]) {
                int opened = v[i].circuit[0] == 'o';
                LOG_WARNING(opened ? "endpoint circuit opened" : "endpoint circuit closed", "endpoint_id",
                            l->endpoint_id, NULL);
                notice_endpoint(v[i].org, partitions,
                                opened ? NOTICE_ENDPOINT_CIRCUIT_OPENED : NOTICE_ENDPOINT_CIRCUIT_CLOSED,
                                l->endpoint_id, "auto");
            }
            if (v[i].event_type[0])
                notice_exhausted(v[i].org, partitions, l->id, l->event_id, v[i].event_type, l->endpoint_id,
                                 atoll(l->attempt_count) + 1);
        } else if (v) {
            metrics_attempt(OUTCOME_STALE, ATTEMPT_HTTP_STATUS, 0);
            LOG_WARNING("stale completion refused (lease was taken over)", "delivery_id", c->flight->l->id, NULL);
        } /* else not recorded: the leases will expire and the deliveries will be sent again */
        completion_done(c);
    }
    /* the endpoints may have gained capacity or new due work */
    if (PM.due_at[b->partition] > now_ms())
        PM.due_at[b->partition] = now_ms();
    kick_at(0);
    free(b);
}

static void flush_partition(int p)
{
    struct completion *list = PM.pending[p];
    PM.pending[p] = NULL;
    PM.npending[p] = 0;
    struct disable_policy policy = {PM.conf->disable_after_failures, PM.conf->disable_after_ms,
                                    PM.conf->circuit_failures, PM.conf->circuit_cooldown_ms,
                                    PM.conf->circuit_cooldown_max_ms};
    while (list) {
        struct batch *b = calloc(1, sizeof(*b));
        if (!b) {
            while (list) {
                struct completion *c = list;
                list = c->next;
                completion_done(c);
            }
            return;
        }
        b->partition = p;
        const struct outcome *out[BATCH_MAX];
        while (list && b->n < BATCH_MAX) {
            out[b->n] = &list->out;
            b->items[b->n++] = list;
            list = list->next;
        }
        if (lease_complete(p, out, b->n, now_ms(), &policy, on_completed, b) < 0) {
            LOG_WARNING("could not record outcomes: redis unavailable", NULL);
            for (int i = 0; i < b->n; i++)
                completion_done(b->items[i]);
            free(b);
            continue;
        }
        PM.completing[p]++;
        metrics_complete_call(b->n);
    }
}

static void on_pass(void *arg)
{
    (void)arg;
    for (int p = 0; p < PM.conf->partitions; p++)
        if (PM.pending[p] && PM.completing[p] < LOOP_PASS_CALLS_IN_FLIGHT)
            flush_partition(p);
}

/* The attempt record kept in the delivery's attempt list; malloc'd, NULL
 * when out of memory. Built here, not in complete.lua: C does it cheaper. */
static char *attempt_json(const struct lease *l, int status, enum attempt_error error, const char *body,
                          int64_t started, double seconds)
{
    struct jw w;
    const unsigned char *buf;
    size_t len;
    char *out = NULL;
    if (jw_init(&w) < 0)
        return NULL;
    jw_map_open(&w);
    jw_kint(&w, "number", atoll(l->attempt_count) + 1);
    jw_kint(&w, "started_at", started);
    jw_kint(&w, "duration_ms", (long long)(seconds * 1000));
    jw_kstr(&w, "response_body", body);
    if (status)
        jw_kint(&w, "status_code", status);
    if (error != ATTEMPT_HTTP_STATUS)
        jw_kstr(&w, "error", attempt_error_name(error));
    jw_map_close(&w);
    if (jw_result(&w, &buf, &len) == 0)
        out = strndup((const char *)buf, len);
    jw_free(&w);
    return out;
}

/* The index of an original delivery among its event's (its id is the event
 * id with the low 16 bits counting from 1, lib/delivery.lua); INT_MAX for
 * a replay. */
static int original_index(const struct lease *l)
{
    if (strlen(l->id) != ID_LEN || strncmp(l->id, l->event_id, 32) != 0 || strcmp(l->event_id + 32, "0000") != 0)
        return INT_MAX;
    int i = (int)strtol(l->id + 32, NULL, 16);
    return i > 0 ? i : INT_MAX;
}

/* Queued, then sent with the others of this loop pass: completions are
 * pipelined, never one blocking wait each. */
static void record(struct flight *j, enum attempt_result result, int status, enum attempt_error error,
                   const char *body, int64_t started, double seconds, int64_t next_at, enum outcome_action action)
{
    struct completion *c = calloc(1, sizeof(*c));
    if (!c) {
        flight_done(j);
        return;
    }
    const struct lease *l = j->l;
    c->flight = j;
    c->error = error;
    c->seconds = seconds;
    if (result == RESULT_SUCCESS && strcmp(l->attempt_count, "0") == 0 && original_index(l) <= COMPACT_MAX_INDEX) {
        int n = snprintf(c->compact, sizeof(c->compact), "%d|%lld|%lld|%s", status, (long long)started,
                         (long long)(seconds * 1000), body);
        if (n < 0 || n > COMPACT_MAX)
            c->compact[0] = '\0'; /* too long: the full record */
    }
    /* a compact record needs no attempt JSON, and a release none at all */
    char *attempt = c->compact[0] || result == RESULT_RELEASE ? strdup("")
                                                               : attempt_json(l, status, error, body, started, seconds);
    if (!attempt) {
        free(c);
        flight_done(j); /* its lease will expire and it will be claimed again */
        return;
    }
    c->out = (struct outcome){.lease = l, .result = result, .action = action, .status = status,
                              .error = attempt_error_name(error), .attempt = attempt, .compact = c->compact,
                              .started_ms = started, .next_at = next_at, .duration_ms = (int64_t)(seconds * 1000)};
    int p = l->partition;
    c->next = PM.pending[p];
    PM.pending[p] = c;
    if (++PM.npending[p] >= BATCH_MAX)
        flush_partition(p);
    else if (loop_pass_queued(PM.pass, PM.completing[p]) < 0)
        flush_partition(p); /* cannot wait for the next pass: alone */
}

static void flight_authorize(struct flight *j, const char *stale);

static void on_sent(const struct client_result *res, void *arg)
{
    struct flight *j = arg;
    j->cr = NULL;
    flight_unlink(j);
    if (res->status == 401 && j->l->auth_url[0] && !j->auth_retried) {
        j->auth_retried = 1; /* a token the receiver refused: one fresh one, one more try */
        flight_authorize(j, j->token);
        return;
    }
    int ok = res->status >= 200 && res->status < 300;
    enum outcome_action action = ACTION_NONE;
    if (!ok && res->status == 410)
        action = ACTION_DISABLE;
    if (strcasecmp(res->webhook_delivery, "disable") == 0)
        action = ACTION_DISABLE;
    else if (!ok && strcasecmp(res->webhook_delivery, "abort-message") == 0)
        action = ACTION_ABORT;
    int64_t next_at = -1;
    if (!ok && action == ACTION_NONE && (res->status == 429 || res->status == 503)) {
        /* throttled: the endpoint pauses or slows down, the delivery keeps its retries */
        int64_t ra = retry_after_delay(PM.conf, res->retry_after, now_ms());
        if (ra >= 0)
            action = ACTION_PAUSE, next_at = now_ms() + (ra < PM.conf->throttle_max_ms ? ra : PM.conf->throttle_max_ms);
        else if (res->status == 429)
            action = ACTION_SLOW, next_at = now_ms();
    }
    if (!ok && next_at < 0) {
        int64_t delay = retry_delay(PM.conf, j->l->tries + 1, rnd());
        if (delay >= 0)
            next_at = now_ms() + delay;
    }
    LOG_DBG("attempt finished", "delivery_id", j->l->id, "error", attempt_error_name(res->error), NULL);
    record(j, ok ? RESULT_SUCCESS : RESULT_FAILURE, res->status, res->error, res->body_head, res->started_ms, res->seconds,
           next_at, action);
}

#define CUSTOM_HEADERS_MAX 20 /* handlers/endpoints.c allows no more */

/* The endpoint's custom headers ("Name: value\n" lines) into h, split in
 * buf (the lease stays as it is: a 401 sends it again); their number. An
 * Authorization of its own is left out when OAuth2 supplies one. */
static int custom_headers(const char *lines, char *buf, size_t cap, struct client_header *h, int oauth)
{
    int n = 0;
    if (snprintf(buf, cap, "%s", lines) >= (int)cap)
        return 0; /* longer than handlers/endpoints.c allows: not ours */
    for (char *s = buf, *end; n < CUSTOM_HEADERS_MAX && (end = strchr(s, '\n')); s = end + 1) {
        char *colon = strstr(s, ": ");
        *end = '\0';
        if (!colon || colon > end)
            continue;
        *colon = '\0';
        if (oauth && !strcasecmp(s, "Authorization"))
            continue;
        h[n].name = s, h[n].value = colon + 2;
        n++;
    }
    return n;
}

/* Send with the receiver's token, if it needs one. */
static void flight_post(struct flight *j, const char *token)
{
    const struct lease *l = j->l;
    char ts[24], sig[SIGNATURE_MAX], ua[64];
    int64_t now_s = now_ms() / 1000;
    snprintf(ts, sizeof(ts), "%lld", (long long)now_s);
    snprintf(ua, sizeof(ua), "hookd/%s", HOOKD_VERSION);
    struct sig_keys keys = {sig_scheme_parse(l->scheme), l->secret, l->prev_secret, l->sign_key, l->prev_sign_key};
    if (sign_payload(l->event_id, now_s, l->payload, l->payload_len, &keys, sig) < 0) {
        LOG_ERR("cannot sign: endpoint secret is malformed", "endpoint_id", l->endpoint_id, NULL);
        record(j, RESULT_FAILURE, 0, ATTEMPT_FAILED_SIGNING, "", now_ms(), 0, -1, ACTION_ABORT);
        return;
    }
    char bearer[4096];
    if (token && snprintf(bearer, sizeof(bearer), "Bearer %s", token) >= (int)sizeof(bearer))
        token = NULL; /* a token this long is no token: the receiver answers 401 */
    struct client_header h[7 + CUSTOM_HEADERS_MAX] = {
        {"Content-Type", "application/json"}, {"User-Agent", ua},
        {"webhook-id", l->event_id}, {"webhook-timestamp", ts},
        {"webhook-signature", sig}, {PM.conf->delivery_id_header, l->id},
        {"Authorization", token ? bearer : ""},
    };
    int nh = token ? 7 : 6;
    char custom[8192];
    if (l->headers[0])
        nh += custom_headers(l->headers, custom, sizeof(custom), h + nh, token != NULL);
    flight_link(j);
    struct client_tls tls = {l->tls_ca, l->tls_cert, l->tls_key};
    j->cr = client_post(l->url, h, nh, l->payload, l->payload_len, &tls, on_sent, j);
    if (!j->cr) {
        flight_unlink(j);
        record(j, RESULT_RELEASE, 0, ATTEMPT_HTTP_STATUS, "", now_ms(), 0, 0, ACTION_NONE);
    }
}

static void on_flight_token(void *arg, const char *token, const char *why)
{
    struct flight *j = arg;
    j->auth_wait = NULL;
    flight_unlink(j);
    if (!token) {
        LOG_WARNING("no token from the endpoint's token_url", "endpoint_id", j->l->endpoint_id, "why", why, NULL);
        int64_t delay = retry_delay(PM.conf, j->l->tries + 1, rnd());
        record(j, RESULT_FAILURE, 0, ATTEMPT_AUTH_FAILED, why, now_ms(), 0, delay >= 0 ? now_ms() + delay : -1,
               ACTION_NONE);
        return;
    }
    token_free(j);
    j->token = strdup(token);
    flight_post(j, j->token);
}

/* The receiver's OAuth2 token first (cached, or fetched: the flight waits in
 * the in-flight list, so draining finds it); `stale`: one it refused. */
static void flight_authorize(struct flight *j, const char *stale)
{
    struct receiver_auth a = {j->l->endpoint_id, j->l->auth_url, j->l->auth_client_id, j->l->auth_secret,
                              j->l->auth_scope};
    flight_link(j);
    /* the callback may run before this returns, and may free j: only a wait touches it */
    struct receiver_auth_wait *w = receiver_auth_token(&a, stale, on_flight_token, j);
    if (w)
        j->auth_wait = w;
}

static void flight_send(struct flight *j)
{
    if (j->l->auth_url[0])
        flight_authorize(j, NULL);
    else
        flight_post(j, NULL);
}

/* Leased deliveries (each now owned by a flight) are sent. */
static void take_flights(struct lease **leases, long n)
{
    int64_t now = now_ms();
    for (long i = 0; i < n; i++) {
        struct flight *j = calloc(1, sizeof(*j));
        if (!j) {
            free(leases[i]); /* its lease will expire and it will be claimed again */
            continue;
        }
        j->l = leases[i];
        PM.inflight++;
        if (PM.draining)
            record(j, RESULT_RELEASE, 0, ATTEMPT_HTTP_STATUS, "", now, 0, 0, ACTION_NONE);
        else
            flight_send(j);
    }
    metrics_gauge_set(GAUGE_DELIVERIES_IN_FLIGHT, (double)PM.inflight);
}

/* A lease outlasts the request it covers by lease_margin. */
static int64_t lease_ms(void)
{
    return PM.conf->request_timeout_ms + PM.conf->lease_margin_ms;
}

/* Deliveries one event may lease for this process; a wider fan-out goes
 * through the schedule and claim.lua. */
#define OFFER_MAX 8

long pump_offer(char lease[24], long events)
{
    long free = PM.conf->inflight_max - PM.inflight - PM.offered, want = events * OFFER_MAX;
    long n = PM.draining || free <= 0 ? 0 : free < want ? free : want;
    PM.offered += n;
    snprintf(lease, 24, "%lld", (long long)lease_ms());
    return n;
}

void pump_settle(long offered, struct lease **leases, long n)
{
    PM.offered -= offered;
    for (long i = offered; i < n; i++)
        free(leases[i]); /* never more than lent: their leases expire */
    if (n > offered)
        n = offered;
    metrics_handed_off(n);
    take_flights(leases, n);
    maybe_drained();
}

void pump_handoff(struct ingest_handoff *out)
{
    out->offer = pump_offer;
    out->settle = pump_settle;
    out->wake = pump_wake_partition;
    out->max_payload = (size_t)PM.conf->max_body_bytes;
}

/* One claim.lua call in flight. */
struct claim {
    int partition;
    long budget;
};

static void on_claimed(void *priv, int ok, struct lease **leases, long n, long claimed, int64_t next_ready)
{
    struct claim *cl = priv;
    int p = cl->partition;
    long budget = cl->budget;
    free(cl);
    if (pump_freed()) {
        for (long i = 0; i < n; i++)
            free(leases[i]);
        return;
    }
    PM.claims_out--;
    int64_t now = now_ms();
    if (!ok)
        PM.due_at[p] = now + 1000;
    else
        PM.due_at[p] = claimed >= budget ? now : next_ready >= 0 ? next_ready : NEVER;
    take_flights(leases, n);
    if (PM.claims_out == 0) {
        kick_at(0);
        maybe_drained();
    }
}

static void claim_partition(int p, long budget, int64_t now)
{
    struct claim *cl = malloc(sizeof(*cl));
    if (!cl)
        return;
    cl->partition = p;
    cl->budget = budget;
    PM.due_at[p] = NEVER; /* known again when the reply comes */
    if (lease_claim(p, budget, now, lease_ms(), (size_t)PM.conf->max_body_bytes, on_claimed, cl) < 0) {
        free(cl);
        PM.due_at[p] = now_ms() + 1000;
        return;
    }
    PM.claims_out++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    PM.tick_at = 0;
    if (PM.draining || PM.claims_out > 0)
        return; /* the last claim reply kicks again */
    if (!store_usable()) {
        kick_at(now_ms() + 500);
        return;
    }
    long budget = PM.conf->inflight_max - PM.inflight - PM.offered;
    if (budget <= 0)
        return; /* a completion kicks again */
    int64_t now = now_ms(), next = NEVER;
    int P = (int)PM.conf->partitions, nhot = 0;
    int hot[1024];
    for (int i = 0; i < P; i++) {
        int p = (PM.rr + i) % P;
        if (PM.due_at[p] <= now)
            hot[nhot++] = p;
        else if (PM.due_at[p] < next)
            next = PM.due_at[p];
    }
    if (nhot == 0) {
        if (next != NEVER)
            kick_at(next);
        return;
    }
    PM.rr = (PM.rr + 1) % P;
    if (nhot > budget)
        nhot = (int)budget;
    long per = budget / nhot;
    if (per > PM.conf->claim_batch)
        per = PM.conf->claim_batch;
    for (int i = 0; i < nhot; i++)
        claim_partition(hot[i], per, now);
    if (next != NEVER)
        kick_at(next);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    pump_wake();
}

/* Redis is (back) up: whatever was due while it was away is due now. */
static void on_store_ready(void *arg)
{
    pump_wake();
}

int pump_start(struct event_base *base, const struct conf *c)
{
    memset(&PM, 0, sizeof(PM));
    PM.base = base;
    PM.conf = c;
    PM.rng = (uint32_t)now_ms() | 1;
    PM.due_at = calloc((size_t)c->partitions, sizeof(int64_t)); /* all 0: look everywhere first */
    PM.tick_ev = evtimer_new(base, on_tick, NULL);
    PM.poll_ev = event_new(base, -1, EV_PERSIST, on_poll, NULL);
    PM.pass = loop_pass_add(on_pass, NULL);
    PM.pending = calloc((size_t)c->partitions, sizeof(*PM.pending));
    PM.npending = calloc((size_t)c->partitions, sizeof(int));
    PM.completing = calloc((size_t)c->partitions, sizeof(int));
    struct timeval poll = {POLL_MS / 1000, 0};
    if (!PM.due_at || !PM.tick_ev || !PM.poll_ev || PM.pass < 0 || !PM.pending || !PM.npending || !PM.completing ||
        event_add(PM.poll_ev, &poll) < 0)
        return -1;
    if (client_init(base, c) < 0 || wake_start(base, c, on_wake_message) < 0 ||
        store_on_ready(on_store_ready, NULL) < 0)
        return -1;
    kick_at(0);
    return 0;
}

/* The first flight, taken off the in-flight list with its send (or its
 * wait for a receiver token) abandoned; NULL when none is left. */
static struct flight *flight_abandon_first(void)
{
    struct flight *j = PM.flights;
    if (!j)
        return NULL;
    flight_unlink(j);
    if (j->auth_wait)
        receiver_auth_cancel(j->auth_wait);
    if (j->cr)
        client_cancel(j->cr);
    j->cr = NULL;
    j->auth_wait = NULL;
    return j;
}

/* Grace is over: abandon the sends still waiting and hand their deliveries
 * back to the schedule so another process (or our restart) sends them. */
static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    for (struct flight *j; (j = flight_abandon_first());)
        record(j, RESULT_RELEASE, 0, ATTEMPT_HTTP_STATUS, "", now_ms(), 0, 0, ACTION_NONE);
    maybe_drained();
}

void pump_drain(void (*done)(void *), void *arg)
{
    PM.draining = 1;
    PM.drained = done;
    PM.drained_arg = arg;
    event_del(PM.tick_ev);
    event_del(PM.poll_ev);
    wake_stop();
    int64_t g = PM.conf->shutdown_grace_ms;
    struct timeval tv = {g / 1000, (g % 1000) * 1000};
    PM.grace_ev = evtimer_new(PM.base, on_grace, NULL);
    if (PM.grace_ev)
        evtimer_add(PM.grace_ev, &tv);
    maybe_drained();
}

void pump_free(void)
{
    for (struct flight *j; (j = flight_abandon_first());) { /* only when the loop ended without draining */
        free(j->l);
        token_free(j);
        free(j);
    }
    receiver_auth_free(); /* its token fetches are the client's */
    client_free();
    for (int p = 0; PM.pending && p < PM.conf->partitions; p++)
        while (PM.pending[p]) { /* never sent: their leases expire */
            struct completion *c = PM.pending[p];
            PM.pending[p] = c->next;
            completion_drop(c);
        }
    free(PM.pending);
    free(PM.npending);
    free(PM.completing);
    if (PM.tick_ev) event_free(PM.tick_ev);
    if (PM.poll_ev) event_free(PM.poll_ev);
    if (PM.grace_ev) event_free(PM.grace_ev);
    free(PM.due_at);
    memset(&PM, 0, sizeof(PM));
}
