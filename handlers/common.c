#include "handlers/common.h"

#include <ctype.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "reactor/delivery/netaddr.h"
#include "store/ids.h"
#include "store/payload.h"
#include "store/ingest.h"
#include "store/tls_material.h"
#include "store/keys.h"

void org_prefix(const char *org_id, char out[32])
{
    key_prefix(out, key_partition(org_id, (int)server_conf()->partitions));
}

/* EVALSHA with KEYS[1] = key; `lens` NULL: the arguments are C strings. */
static int script_with_key(struct req *r, const char *key, enum script_id id, store_cb cb, int argc,
                           const char **argv, const size_t *lens)
{
    const char *all[64];
    size_t all_lens[64];
    if (argc + 1 > 64) {
        reply_error(r, 500, "internal", NULL, "too many script arguments");
        return -1;
    }
    all[0] = key;
    memcpy(all + 1, argv, (size_t)argc * sizeof(*argv));
    if (lens) {
        all_lens[0] = strlen(key);
        memcpy(all_lens + 1, lens, (size_t)argc * sizeof(*lens));
    }
    if (store_script(id, cb, r, 1, argc + 1, all, lens ? all_lens : NULL) < 0) {
        reply_unavailable(r);
        return -1;
    }
    return 0;
}

int call_script_key(struct req *r, const char *key, enum script_id id, store_cb cb, int argc,
                    const char **argv)
{
    return script_with_key(r, key, id, cb, argc, argv, NULL);
}

int call_script_lens(struct req *r, enum script_id id, store_cb cb, int argc, const char **argv,
                     const size_t *lens)
{
    char p[32];
    org_prefix(r->who.org_id, p);
    return script_with_key(r, p, id, cb, argc, argv, lens);
}

int call_script(struct req *r, enum script_id id, store_cb cb, int argc, const char **argv)
{
    return call_script_lens(r, id, cb, argc, argv, NULL);
}

long long flat_int(const redisReply *f, const char *name)
{
    const char *v = flat_get(f, name);
    return v ? strtoll(v, NULL, 10) : 0;
}

void reply_record(struct req *r, const redisReply *rep, int status, const char *what,
                  void (*render)(struct jw *w, const redisReply *rec, const void *arg), const void *arg)
{
    if (reply_failed(r, rep))
        return;
    if (reply_empty(rep)) {
        reply_error(r, 404, "not_found", NULL, "no such %s", what);
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    render(&w, rep, arg);
    reply_json(r, status, &w);
}

void render_id_list(struct jw *w, const char *csv)
{
    jw_array_open(w);
    while (csv && *csv) {
        const char *e = strchr(csv, ',');
        size_t n = e ? (size_t)(e - csv) : strlen(csv);
        jw_strn(w, csv, n);
        csv += n + (e ? 1 : 0);
    }
    jw_array_close(w);
}

void submit_event(struct req *r, const char *v[INGEST_FIELDS], const char *payload, size_t len, ingest_done_cb cb)
{
    char evid[ID_LEN + 1], now[24], uid[24];
    int64_t t = now_ms();
    id_new_event(evid, t);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(uid, sizeof(uid), "%lld", r->who.user_id);
    void *packed = NULL;
    size_t packed_len = 0;
    if (payload_pack(payload, len, &packed, &packed_len) < 0)
        packed = NULL; /* out of memory: store it as it is */
    v[INGEST_ORG] = r->who.org_id, v[INGEST_EVENT_ID] = evid, v[INGEST_NOW] = now, v[INGEST_USER_ID] = uid;
    v[INGEST_PAYLOAD] = packed ? (const char *)packed : payload;
    size_t lens[INGEST_FIELDS] = {[INGEST_PAYLOAD] = packed ? packed_len : len}; /* 0: a C string */
    int p = key_partition(r->who.org_id, (int)server_conf()->partitions);
    if (ingest_submit(p, v, lens, payload, len, cb, r) < 0)
        reply_unavailable(r);
    free(packed); /* the store copied the arguments */
}

void reply_removed(struct req *r, const redisReply *rep, const char *what)
{
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
        reply_error(r, 404, "not_found", NULL, "no such %s", what);
        return;
    }
    reply_raw(r, 204, NULL, NULL, 0);
}

void reply_rate_limited(struct req *r, long long retry_after_s, const char *what)
{
    char ra[24];
    snprintf(ra, sizeof(ra), "%lld", retry_after_s);
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", ra);
    reply_error(r, 429, "rate_limited", NULL, "this org's rate_limit is reached; retry after %s s (nothing was %s)", ra,
                what);
}

int reply_empty(const redisReply *rep)
{
    return rep->type == REDIS_REPLY_NIL || (rep->type == REDIS_REPLY_ARRAY && rep->elements == 0);
}

int reply_failed(struct req *r, const redisReply *rep)
{
    if (!rep) {
        reply_unavailable(r);
        return 1;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        /* Redis refusing writes (out of memory under noeviction, a failed
         * disk write, a read-only replica, a cluster mid-failover or a slot
         * still migrating after the store's retries) is an outage to wait
         * out, not a bug: 503 with Retry-After. Nothing was written, except
         * for NOTREPLICATED (durability = replicated: the master has it, no
         * replica confirmed it in time; a retry with the same Idempotency-Key
         * is answered with the stored event). */
        static const char *const refusing[] = {"OOM", "MISCONF", "READONLY", "NOREPLICAS", "BUSY", "LOADING",
                                               "NOTREPLICATED", "CLUSTERDOWN", "TRYAGAIN", "ASK", "MOVED"};
        for (size_t i = 0; i < sizeof(refusing) / sizeof(refusing[0]); i++)
            if (rep->str && strncmp(rep->str, refusing[i], strlen(refusing[i])) == 0) {
                LOG_WARNING("redis: refusing writes", "error", rep->str, NULL);
                reply_unavailable(r);
                return 1;
            }
        LOG_ERR("redis: script error", "error", rep->str, NULL);
        reply_error(r, 500, "internal", NULL, "the data store rejected the operation");
        return 1;
    }
    return 0;
}

void render_kstr_opt(struct jw *w, const char *k, const char *v)
{
    jw_kstr(w, k, v && *v ? v : NULL);
}

void render_kint_opt(struct jw *w, const char *k, const char *v)
{
    jw_key(w, k);
    if (v && *v)
        jw_int(w, strtoll(v, NULL, 10));
    else
        jw_null(w);
}

/* event_types are stored as ",a,b," so the ingest script can match with
 * one substring search; render them back as an array. */
static void render_types(struct jw *w, const char *s)
{
    jw_array_open(w);
    while (s && *s) {
        if (*s == ',') {
            s++;
            continue;
        }
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        jw_strn(w, s, n);
        s += n;
    }
    jw_array_close(w);
}

void render_endpoint(struct jw *w, const redisReply *e, const char *secret)
{
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(e, "id"));
    jw_kstr(w, "org_id", flat_get(e, "org_id"));
    jw_kstr(w, "url", flat_get(e, "url"));
    jw_kstr(w, "description", flat_get(e, "description"));
    jw_key(w, "event_types");
    render_types(w, flat_get(e, "event_types"));
    const char *ordering = flat_get(e, "ordering");
    jw_key(w, "ordering");
    jw_str(w, ordering && ordering[0] ? ordering : "none");
    render_kint_opt(w, "rate_limit", flat_get(e, "rate_limit"));
    /* throttling (store/lua/complete.lua): a paused_until in the past is over */
    long long paused = flat_int(e, "paused_until");
    jw_key(w, "throttle");
    jw_map_open(w);
    render_kint_opt(w, "effective_rate", flat_get(e, "eff_rate"));
    jw_ktime(w, "paused_until", paused > now_ms() ? paused : 0);
    jw_map_close(w);
    const char *circuit = flat_get(e, "circuit"); /* store/lua/complete.lua */
    jw_key(w, "circuit");
    jw_map_open(w);
    jw_kstr(w, "state", circuit && circuit[0] ? circuit : "closed");
    jw_ktime(w, "opened_at", flat_int(e, "circuit_opened_at"));
    jw_ktime(w, "next_probe_at", circuit && circuit[0] ? flat_int(e, "circuit_next_probe") : 0);
    jw_map_close(w);
    jw_key(w, "headers"); /* "Name: value\n" lines, checked when they were set */
    jw_map_open(w);
    for (const char *h = flat_get(e, "headers"); h && *h;) {
        const char *colon = strstr(h, ": "), *end = strchr(h, '\n');
        if (!colon || !end || colon > end)
            break;
        jw_strn(w, h, (size_t)(colon - h)); /* a key: yajl writes it as one in a map */
        jw_strn(w, colon + 2, (size_t)(end - colon - 2));
        h = end + 1;
    }
    jw_map_close(w);
    const char *filter = flat_get(e, "filter");
    jw_key(w, "filter"); /* stored as given, checked when it was */
    if (filter && filter[0])
        jw_raw_number(w, filter, strlen(filter));
    else
        jw_null(w);
    jw_kstr(w, "status", flat_get(e, "status"));
    jw_kint(w, "consecutive_failures", flat_int(e, "consecutive_failures"));
    jw_ktime(w, "failing_since", flat_int(e, "failing_since"));
    jw_ktime(w, "disabled_at", flat_int(e, "disabled_at"));
    render_kstr_opt(w, "disabled_reason", flat_get(e, "disabled_reason"));
    jw_kint(w, "max_in_flight", flat_int(e, "max_in_flight"));
    jw_ktime(w, "created_at", flat_int(e, "created_at"));
    jw_ktime(w, "updated_at", flat_int(e, "updated_at"));
    const char *au = flat_get(e, "auth_token_url"), *asc = flat_get(e, "auth_scope");
    jw_key(w, "auth"); /* never the client secret */
    if (au && au[0]) {
        jw_map_open(w);
        jw_kstr(w, "type", "oauth2_client_credentials");
        jw_kstr(w, "token_url", au);
        jw_kstr(w, "client_id", flat_get(e, "auth_client_id"));
        render_kstr_opt(w, "scope", asc);
        jw_map_close(w);
    } else {
        jw_null(w);
    }
    const char *scheme = flat_get(e, "signature_scheme"), *pk = flat_get(e, "public_key");
    jw_kstr(w, "signature_scheme", scheme && scheme[0] ? scheme : "v1");
    jw_kstr(w, "public_key", pk && pk[0] && scheme && strcmp(scheme, "v1") ? pk : NULL);
    /* the endpoint's own TLS material, described, never the key */
    const char *ca = flat_get(e, "tls_ca"), *cert = flat_get(e, "tls_cert");
    char sha[65], subject[256], not_after[32];
    int count, expired = 0;
    jw_key(w, "tls_ca");
    if (ca && ca[0] && tls_ca_describe(ca, &count, sha) == 0) {
        jw_map_open(w);
        jw_kint(w, "certificates", count);
        jw_kstr(w, "sha256", sha);
        jw_map_close(w);
    } else {
        jw_null(w);
    }
    jw_key(w, "tls_client_cert");
    if (cert && cert[0] && tls_cert_describe(cert, subject, sizeof(subject), not_after, sha, &expired) == 0) {
        jw_map_open(w);
        jw_kstr(w, "subject", subject);
        jw_kstr(w, "not_after", not_after);
        jw_kstr(w, "sha256", sha);
        jw_kbool(w, "expired", expired); /* accepted all the same: the receiver decides */
        jw_map_close(w);
    } else {
        jw_null(w);
    }
    if (secret) /* the clear secret the handler just made: Redis holds it sealed */
        jw_kstr(w, "secret", secret);
    jw_map_close(w);
}

void render_delivery(struct jw *w, const redisReply *d)
{
    const char *code = flat_get(d, "code"), *err = flat_get(d, "error");
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(d, "id"));
    jw_kstr(w, "org_id", flat_get(d, "org_id"));
    jw_kstr(w, "event_id", flat_get(d, "event_id"));
    jw_kstr(w, "endpoint_id", flat_get(d, "endpoint_id"));
    jw_kbool(w, "test", flat_get(d, "test") != NULL);
    jw_kstr(w, "event_type", flat_get(d, "event_type"));
    jw_kint(w, "user_id", flat_int(d, "user_id"));
    jw_kstr(w, "state", flat_get(d, "state"));
    jw_kint(w, "attempt_count", flat_int(d, "attempt_count"));
    jw_ktime(w, "next_retry_at", flat_int(d, "next_retry_at"));
    jw_ktime(w, "last_attempt_at", flat_int(d, "last_attempt_at"));
    jw_ktime(w, "delivered_at", flat_int(d, "delivered_at"));
    jw_key(w, "response");
    if ((code && *code) || (err && *err)) {
        jw_map_open(w);
        render_kint_opt(w, "code", code);
        render_kstr_opt(w, "error", err);
        jw_map_close(w);
    } else {
        jw_null(w);
    }
    render_kstr_opt(w, "error_message", flat_get(d, "error_message"));
    render_kstr_opt(w, "replay_of_delivery_id", flat_get(d, "replay_of"));
    render_kstr_opt(w, "sync_session_id", flat_get(d, "sync_session_id"));
    render_kint_opt(w, "webhook_counter", flat_get(d, "webhook_counter"));
    render_kstr_opt(w, "request_id", flat_get(d, "request_id"));
    render_kstr_opt(w, "ordering_key", flat_get(d, "ordering_key"));
    render_kstr_opt(w, "held_by", flat_get(d, "held_by"));
    jw_ktime(w, "created_at", flat_int(d, "created_at"));
    jw_ktime(w, "updated_at", flat_int(d, "updated_at"));
    jw_map_close(w);
}

int valid_token_chars(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
            return 0;
    return 1;
}

int valid_event_type(const char *s)
{
    return valid_token_chars(s, 128);
}

int valid_url(const char *s, char *why, size_t whylen)
{
    if (strlen(s) > 2048) {
        snprintf(why, whylen, "is longer than 2048 characters");
        return 0;
    }
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            snprintf(why, whylen, "contains a space, control or non-ASCII character");
            return 0;
        }
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(s, 0);
    int ok = 0;
    if (!u) {
        snprintf(why, whylen, "is not a valid URL");
        return 0;
    }
    const char *scheme = evhttp_uri_get_scheme(u), *host = evhttp_uri_get_host(u);
    if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        snprintf(why, whylen, "must be an http or https URL");
    else if (!host || !*host)
        snprintf(why, whylen, "has no host");
    else if (evhttp_uri_get_userinfo(u))
        snprintf(why, whylen, "must not carry credentials");
    else if (evhttp_uri_get_fragment(u))
        snprintf(why, whylen, "must not have a fragment");
    else
        ok = 1;
    evhttp_uri_free(u);
    return ok;
}

int url_host_ambiguous(const char *url)
{
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    int bad = host && netaddr_ipv4_spelling(host) == IPV4_AMBIGUOUS;
    if (u)
        evhttp_uri_free(u);
    return bad;
}

const char *path_id(struct req *r, int i, const char *what)
{
    if (!id_valid(r->params[i])) {
        reply_error(r, 404, "not_found", NULL, "no such %s", what);
        return NULL;
    }
    return r->params[i];
}

/* limit (1..max, default def) and cursor (an id) from the query; replies 400 on bad values. */
int list_query(struct req *r, int def, int max, const char **cursor, char limit[16])
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    int n;
    if (req_query_only(r, allowed) < 0 || list_params(r, def, max, &n, cursor) < 0)
        return -1;
    snprintf(limit, 16, "%d", n);
    return 0;
}

void reply_page(struct req *r, const redisReply *rep, void (*one)(struct jw *w, const redisReply *rec))
{
    struct jw w;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "unexpected store reply");
        return;
    }
    jw_map_open(&w);
    jw_key(&w, "data");
    jw_array_open(&w);
    for (size_t i = 1; i < rep->elements; i++)
        one(&w, rep->element[i]);
    jw_array_close(&w);
    jw_kstr(&w, "next_cursor", rep->element[0]->len ? rep->element[0]->str : NULL);
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

/* A delivery guard in flight: which handler runs once the delivery's
 * endpoint is known to be the caller's. Kept by the request. */
struct delivery_guard {
    handler_fn next;
};

static void on_guard_delivery(redisReply *rep, void *priv)
{
    struct req *r = priv;
    handler_fn next = ((struct delivery_guard *)r->state)->next;
    req_keep(r, NULL, NULL); /* the handler it runs keeps its own */
    if (reply_failed(r, rep))
        return;
    const char *ep = rep->type == REDIS_REPLY_ARRAY ? flat_get(rep, "endpoint_id") : NULL;
    if (!ep || !principal_sees_endpoint(&r->who, ep)) {
        reply_error(r, 404, "not_found", NULL, "no such delivery");
        return;
    }
    r->endpoint_seen = 1;
    next(r);
}

int delivery_guard(struct req *r, const char *id, handler_fn next)
{
    if (!r->who.n_endpoints || r->endpoint_seen)
        return 0;
    struct delivery_guard *g = malloc(sizeof(*g));
    if (!g) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return 1;
    }
    g->next = next;
    req_keep(r, g, free);
    const char *argv[] = {"dl", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_guard_delivery, 3, argv); /* a failure has replied */
    return 1;
}

int list_params(struct req *r, int def, int max, int *limit, const char **cursor)
{
    const char *l = req_query(r, "limit"), *c = req_query(r, "cursor");
    *limit = def;
    *cursor = "";
    if (l) {
        char *end;
        long v = strtol(l, &end, 10);
        if (!*l || *end || v < 1 || v > max) {
            reply_error(r, 400, "invalid_parameter", "limit", "limit must be an integer from 1 to %d", max);
            return -1;
        }
        *limit = (int)v;
    }
    if (c) {
        if (!id_valid(c)) {
            reply_error(r, 400, "invalid_parameter", "cursor", "cursor must be a value returned as next_cursor");
            return -1;
        }
        *cursor = c;
    }
    return 0;
}

int valid_rate_limit(yajl_val v)
{
    return YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 1 && YAJL_GET_INTEGER(v) <= RATE_LIMIT_MAX;
}
