#include "store/lease.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/log.h"
#include "store/crypto.h"
#include "store/keys.h"
#include "store/latency.h"
#include "store/payload.h"
#include "store/redis.h"
#include "store/secrets.h"

struct lease *lease_build(const char *const v[LEASE_FIELDS], const size_t len[LEASE_FIELDS], int partition,
                          size_t max_payload)
{
    if (len[LEASE_PAYLOAD] > max_payload)
        return NULL;
    size_t total = sizeof(struct lease);
    for (int i = 0; i < LEASE_FIELDS; i++)
        total += len[i] + 1;
    struct lease *l = calloc(1, total);
    if (!l)
        return NULL;
    char *p = (char *)(l + 1);
    char **dst[LEASE_FIELDS] = {
        [LEASE_ID] = &l->id,           [LEASE_EVENT_ID] = &l->event_id, [LEASE_ENDPOINT_ID] = &l->endpoint_id,
        [LEASE_URL] = &l->url,         [LEASE_SECRET] = &l->secret,     [LEASE_PREV_SECRET] = &l->prev_secret,
        [LEASE_PAYLOAD] = &l->payload, [LEASE_FENCE] = &l->fence,       [LEASE_ATTEMPT_COUNT] = &l->attempt_count,
        [LEASE_TLS_CA] = &l->tls_ca,   [LEASE_TLS_CERT] = &l->tls_cert, [LEASE_TLS_KEY] = &l->tls_key,
        [LEASE_SCHEME] = &l->scheme,   [LEASE_SIGN_KEY] = &l->sign_key, [LEASE_PREV_SIGN_KEY] = &l->prev_sign_key,
        [LEASE_AUTH_URL] = &l->auth_url, [LEASE_AUTH_CLIENT_ID] = &l->auth_client_id,
        [LEASE_AUTH_SECRET] = &l->auth_secret, [LEASE_AUTH_SCOPE] = &l->auth_scope, [LEASE_QUEUE] = &l->queue,
        [LEASE_HEADERS] = &l->headers,
    };
    for (int i = 0; i < LEASE_FIELDS; i++) {
        memcpy(p, v[i], len[i]);
        p[len[i]] = '\0';
        if (dst[i])
            *dst[i] = p;
        p += len[i] + 1;
    }
    /* the secrets as stored (sealed: store/secrets.h) opened in place: a
     * clear secret is never longer than its sealed form */
    char *secrets[6] = {l->secret, l->prev_secret, l->sign_key, l->prev_sign_key, l->auth_secret, NULL};
    for (int i = 0; secrets[i]; i++) {
        char clear[SECRET_SEALED_MAX];
        int rc = secrets_open(l->endpoint_id, secrets[i], clear, sizeof(clear), NULL);
        if (rc < 0)
            OPENSSL_cleanse(clear, sizeof(clear)); /* GCM wrote bytes before the tag failed */
        if (rc < 0 && (i == 1 || i == 3)) { /* a previous one only: sign with the current one alone */
            LOG_WARNING("an endpoint's previous secret opens with no configured key; signing with the current one",
                        "endpoint_id", l->endpoint_id, NULL);
            secrets[i][0] = '\0';
            continue;
        }
        if (rc < 0) {
            LOG_ERR("an endpoint secret opens with no configured key; not sent", "endpoint_id", l->endpoint_id, NULL);
            crypto_cleanse_free(l, total);
            return NULL;
        }
        strcpy(secrets[i], clear);
        OPENSSL_cleanse(clear, sizeof(clear));
    }
    if (l->tls_key[0]) { /* sealed like a secret; a key opens no larger than it is stored */
        size_t cap = strlen(l->tls_key) + 1;
        char *clear = malloc(cap);
        if (!clear || secrets_open(l->endpoint_id, l->tls_key, clear, cap, NULL) < 0) {
            LOG_ERR("an endpoint's TLS client key opens with no configured key; not sent", "endpoint_id",
                    l->endpoint_id, NULL);
            if (clear)
                OPENSSL_cleanse(clear, cap);
            free(clear);
            crypto_cleanse_free(l, total);
            return NULL;
        }
        strcpy(l->tls_key, clear);
        OPENSSL_cleanse(clear, cap);
        free(clear);
    }
    l->tries = atoi(v[LEASE_TRIES]);
    l->simple = v[LEASE_SIMPLE][0] == '1';
    l->payload_len = len[LEASE_PAYLOAD];
    l->partition = partition;
    return l;
}

int lease_record_values(redisReply *const *rec, const char *v[LEASE_FIELDS], size_t len[LEASE_FIELDS])
{
    for (int f = 0; f < LEASE_FIELDS; f++) {
        if (rec[f]->type != REDIS_REPLY_STRING)
            return -1;
        v[f] = rec[f]->str, len[f] = rec[f]->len;
    }
    return 0;
}

/* What a test send's deliveries carry beyond their endpoint's headers, so
 * an example never passes for a real event (README, POST /v1/endpoints/{id}/test). */
#define LEASE_TEST_HEADER "Hookd-Test: true\n"

struct claim_call {
    int partition;
    size_t max_payload;
    lease_claimed_cb cb;
    void *arg;
};

/* The records after a claim's deliveries (CLAIM_REPLY_FIELD_LIST), each
 * event's payload unpacked once. */
struct claim_records {
    redisReply *const *endpoints; /* LEASE_FIELDS each */
    long nendpoints;
    redisReply *const *events;    /* EVENT_RECORD_FIELDS each */
    long nevents;
    void **unpacked;              /* owned: per event its unpacked JSON, or NULL where the stored bytes are it */
    const char **json;            /* owned array: per event its JSON, NULL when it could not be unpacked */
    size_t *json_len;             /* owned */
};

static int all_of_type(redisReply *const *f, size_t n, int type)
{
    for (size_t i = 0; i < n; i++)
        if (f[i]->type != type)
            return 0;
    return 1;
}

/* The head's counts, checked against the reply's length and types; 0 when
 * it has another shape. */
static int claim_shape(const redisReply *rep, long *n, struct claim_records *r)
{
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < CLAIM_REPLY_FIELDS ||
        rep->element[CLAIM_NEXT_READY]->type != REDIS_REPLY_STRING ||
        !all_of_type(rep->element + CLAIM_LEASED, CLAIM_REPLY_FIELDS - CLAIM_LEASED, REDIS_REPLY_INTEGER))
        return 0;
    long long leased = rep->element[CLAIM_LEASED]->integer, eps = rep->element[CLAIM_ENDPOINTS]->integer,
              evs = rep->element[CLAIM_EVENTS]->integer;
    if (leased < 0 || eps < 0 || evs < 0 || leased > (long long)rep->elements || eps > (long long)rep->elements ||
        evs > (long long)rep->elements ||
        CLAIM_REPLY_FIELDS + (size_t)leased * CLAIMED_FIELDS + (size_t)eps * LEASE_FIELDS +
                (size_t)evs * EVENT_RECORD_FIELDS != rep->elements)
        return 0;
    *n = (long)leased;
    r->endpoints = rep->element + CLAIM_REPLY_FIELDS + (size_t)leased * CLAIMED_FIELDS;
    r->nendpoints = (long)eps;
    r->events = r->endpoints + (size_t)eps * LEASE_FIELDS;
    r->nevents = (long)evs;
    return all_of_type(r->events, (size_t)evs * EVENT_RECORD_FIELDS, REDIS_REPLY_STRING); /* endpoints: per use */
}

/* Each event's payload unpacked, once: 0, or -1 out of memory. */
static int claim_unpack(struct claim_records *r, size_t max_payload)
{
    size_t n = (size_t)r->nevents ? (size_t)r->nevents : 1;
    r->unpacked = calloc(n, sizeof(*r->unpacked));
    r->json = calloc(n, sizeof(*r->json));
    r->json_len = calloc(n, sizeof(*r->json_len));
    if (!r->unpacked || !r->json || !r->json_len)
        return -1;
    for (long i = 0; i < r->nevents; i++) {
        const redisReply *stored = r->events[(size_t)i * EVENT_RECORD_FIELDS + EVREC_PAYLOAD];
        int rc = payload_unpack(stored->str, stored->len, max_payload, &r->unpacked[i], &r->json_len[i]);
        if (rc < 0)
            LOG_ERR("a stored payload could not be unpacked", "event_id",
                    r->events[(size_t)i * EVENT_RECORD_FIELDS + EVREC_ID]->str, NULL);
        else
            r->json[i] = r->unpacked[i] ? r->unpacked[i] : stored->str;
        if (rc == 0)
            r->json_len[i] = stored->len;
    }
    return 0;
}

static void claim_records_free(struct claim_records *r)
{
    for (long i = 0; r->unpacked && i < r->nevents; i++)
        free(r->unpacked[i]);
    free(r->unpacked);
    free(r->json);
    free(r->json_len);
}

/* One claimed delivery (CLAIMED_FIELDS at c) as a lease: its endpoint's
 * record, its own fields, its event's id and payload. NULL when it cannot
 * be read or built (its lease then expires and it is claimed again). */
static struct lease *claimed_lease(redisReply *const *c, const struct claim_records *r, int partition,
                                   size_t max_payload)
{
    for (int f = 0; f < CLAIMED_FIELDS; f++)
        if (c[f]->type != (f == CLAIMED_ENDPOINT || f == CLAIMED_EVENT ? REDIS_REPLY_INTEGER : REDIS_REPLY_STRING))
            return NULL;
    long long ei = c[CLAIMED_ENDPOINT]->integer, vi = c[CLAIMED_EVENT]->integer;
    if (ei < 0 || ei >= r->nendpoints || vi < 0 || vi >= r->nevents || !r->json[vi])
        return NULL;
    redisReply *const *ev = r->events + (size_t)vi * EVENT_RECORD_FIELDS;
    const char *v[LEASE_FIELDS];
    size_t len[LEASE_FIELDS];
    if (lease_record_values(r->endpoints + (size_t)ei * LEASE_FIELDS, v, len) < 0)
        return NULL;
    static const int own[][2] = {{LEASE_ID, CLAIMED_ID},
                                 {LEASE_TRIES, CLAIMED_TRIES},
                                 {LEASE_ATTEMPT_COUNT, CLAIMED_ATTEMPT_COUNT},
                                 {LEASE_SIMPLE, CLAIMED_SIMPLE},
                                 {LEASE_QUEUE, CLAIMED_QUEUE}};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        v[own[i][0]] = c[own[i][1]]->str, len[own[i][0]] = c[own[i][1]]->len;
    v[LEASE_EVENT_ID] = ev[EVREC_ID]->str, len[LEASE_EVENT_ID] = ev[EVREC_ID]->len;
    v[LEASE_PAYLOAD] = r->json[vi], len[LEASE_PAYLOAD] = r->json_len[vi];
    char *headers = NULL; /* a test send's: LEASE_TEST_HEADER first */
    if (ev[EVREC_TEST]->str[0] == '1') {
        size_t hlen = strlen(LEASE_TEST_HEADER) + len[LEASE_HEADERS];
        if (!(headers = malloc(hlen + 1)))
            return NULL;
        snprintf(headers, hlen + 1, "%s%s", LEASE_TEST_HEADER, v[LEASE_HEADERS]);
        v[LEASE_HEADERS] = headers, len[LEASE_HEADERS] = hlen;
    }
    struct lease *l = lease_build(v, len, partition, max_payload);
    free(headers);
    return l;
}

static void on_claimed(redisReply *rep, void *priv)
{
    struct claim_call *cl = priv;
    struct claim_records r = {0};
    long n = 0, got = 0;
    int ok = claim_shape(rep, &n, &r);
    if (!ok && rep && rep->type == REDIS_REPLY_ERROR)
        LOG_ERR("claim failed", "error", rep->str, NULL);
    else if (!ok && rep)
        LOG_ERR("claim: unexpected reply shape", NULL);
    struct lease **leases = ok && n ? malloc((size_t)n * sizeof(*leases)) : NULL;
    if (leases && claim_unpack(&r, cl->max_payload) == 0)
        for (long i = 0; i < n; i++) {
            struct lease *l =
                claimed_lease(rep->element + CLAIM_REPLY_FIELDS + (size_t)i * CLAIMED_FIELDS, &r, cl->partition,
                              cl->max_payload);
            if (l) /* else its lease expires and it is claimed again */
                leases[got++] = l;
        }
    const redisReply *nr = ok ? rep->element[CLAIM_NEXT_READY] : NULL;
    int64_t next = nr && nr->len ? strtoll(nr->str, NULL, 10) : -1;
    cl->cb(cl->arg, ok, leases, got, n, next);
    free(leases);
    claim_records_free(&r);
    free(cl);
}

int lease_claim(int partition, long budget, int64_t now, int64_t lease_ms, size_t max_payload,
                lease_claimed_cb cb, void *arg)
{
    char prefix[KEY_PREFIX_MAX], nows[24], lease[24], b[24];
    key_prefix(prefix, partition);
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    snprintf(lease, sizeof(lease), "%lld", (long long)lease_ms);
    snprintf(b, sizeof(b), "%ld", budget);
    const char *argv[] = {prefix, nows, lease, b};
    struct claim_call *cl = malloc(sizeof(*cl));
    if (!cl)
        return -1;
    *cl = (struct claim_call){partition, max_payload, cb, arg};
    if (store_script(SCRIPT_CLAIM, on_claimed, cl, 1, 4, argv, NULL) < 0) {
        free(cl);
        return -1;
    }
    return 0;
}

struct complete_call {
    int partition, n;
    lease_completed_cb cb;
    void *arg;
};

static void on_completed(redisReply *rep, void *priv)
{
    struct complete_call *cc = priv;
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)(VERDICT_FIELDS * cc->n);
    for (size_t i = 0; ok && i < rep->elements; i++) {
        size_t f = i % VERDICT_FIELDS;
        ok = rep->element[i]->type ==
             (f == VERDICT_APPLIED || f == VERDICT_DISABLED ? REDIS_REPLY_INTEGER : REDIS_REPLY_STRING);
    }
    struct outcome_verdict *v = ok ? calloc((size_t)cc->n, sizeof(*v)) : NULL;
    if (!v) {
        char part[16];
        snprintf(part, sizeof(part), "%d", cc->partition);
        LOG_WARNING("could not record outcomes", "partition", part, "error",
                    rep && rep->type == REDIS_REPLY_ERROR ? rep->str : rep ? "unexpected reply" : "redis unavailable",
                    NULL);
    }
    for (int i = 0; v && i < cc->n; i++) {
        redisReply **e = rep->element + VERDICT_FIELDS * i;
        v[i] = (struct outcome_verdict){e[VERDICT_APPLIED]->integer == 1, e[VERDICT_DISABLED]->integer == 1,
                                        e[VERDICT_ORG]->str, e[VERDICT_EVENT_TYPE]->str, e[VERDICT_CIRCUIT]->str};
    }
    cc->cb(cc->arg, v, cc->n);
    free(v);
    free(cc);
}

static const char *const result_text[] = {[RESULT_SUCCESS] = "1", [RESULT_FAILURE] = "0", [RESULT_RELEASE] = "release"};
static const char *const action_text[] = {[ACTION_NONE] = "", [ACTION_DISABLE] = "disable", [ACTION_ABORT] = "abort",
                                          [ACTION_PAUSE] = "pause", [ACTION_SLOW] = "slow"};

void outcome_fields(const struct outcome *o, struct outcome_text *text, const char *f[OUTCOME_FIELDS])
{
    const struct lease *l = o->lease;
    text->code[0] = '\0';
    if (o->status)
        snprintf(text->code, sizeof(text->code), "%d", o->status);
    snprintf(text->started, sizeof(text->started), "%lld", (long long)o->started_ms);
    snprintf(text->next_at, sizeof(text->next_at), "%lld", (long long)o->next_at);
    f[OUT_ID] = l->id, f[OUT_FENCE] = l->fence, f[OUT_ENDPOINT_ID] = l->endpoint_id;
    f[OUT_ATTEMPT_COUNT] = l->attempt_count, f[OUT_OK] = result_text[o->result], f[OUT_CODE] = text->code;
    f[OUT_ERROR] = o->error, f[OUT_ATTEMPT] = o->attempt, f[OUT_STARTED] = text->started;
    f[OUT_NEXT_AT] = text->next_at, f[OUT_ACTION] = action_text[o->action], f[OUT_EVENT_ID] = l->event_id;
    f[OUT_COMPACT] = o->compact, f[OUT_SIMPLE] = o->compact[0] && l->simple ? "1" : "";
    f[OUT_QUEUE] = l->queue;
    text->latency_bin[0] = '\0';
    if (o->status == 0 && o->result == RESULT_FAILURE) /* no response (DNS, connect, TLS): an attempt, no latency */
        snprintf(text->latency_bin, sizeof(text->latency_bin), "x");
    else if (o->result != RESULT_RELEASE) /* a release is no attempt: the stats skip it */
        snprintf(text->latency_bin, sizeof(text->latency_bin), "b%d", latency_bin(o->duration_ms));
    f[OUT_LATENCY_BIN] = text->latency_bin;
}

int lease_complete(int partition, const struct outcome *const *o, int n, int64_t now,
                   const struct disable_policy *policy, lease_completed_cb cb, void *arg)
{
    enum { HEAD = 7 }; /* prefix, now, disable_after_failures, disable_after_ms, the circuit's three */
    char prefix[KEY_PREFIX_MAX], nows[24], thr[24], after[24], cf[24], cd[24], cdmax[24];
    size_t argc = HEAD + (size_t)n * OUTCOME_FIELDS;
    const char **argv = malloc(argc * sizeof(*argv));
    struct outcome_text *num = malloc((size_t)n * sizeof(*num));
    struct complete_call *cc = malloc(sizeof(*cc));
    if (!argv || !num || !cc)
        goto fail;
    key_prefix(prefix, partition);
    snprintf(nows, sizeof(nows), "%lld", (long long)now);
    snprintf(thr, sizeof(thr), "%lld", policy->after_failures);
    snprintf(after, sizeof(after), "%lld", policy->after_ms);
    snprintf(cf, sizeof(cf), "%lld", policy->circuit_failures);
    snprintf(cd, sizeof(cd), "%lld", policy->circuit_cooldown_ms);
    snprintf(cdmax, sizeof(cdmax), "%lld", policy->circuit_cooldown_max_ms);
    argv[0] = prefix, argv[1] = nows, argv[2] = thr, argv[3] = after, argv[4] = cf, argv[5] = cd, argv[6] = cdmax;
    for (int i = 0; i < n; i++)
        outcome_fields(o[i], &num[i], argv + HEAD + (size_t)i * OUTCOME_FIELDS);
    *cc = (struct complete_call){partition, n, cb, arg};
    if (store_script(SCRIPT_COMPLETE, on_completed, cc, 1, (int)argc, argv, NULL) < 0)
        goto fail;
    free(argv); /* the store copied the arguments */
    free(num);
    return 0;
fail:
    free(argv);
    free(num);
    free(cc);
    return -1;
}
