#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "handlers/common.h"
#include "store/fields.h" /* endpoint_status_names */
#include "store/secrets.h"
#include "store/tls_material.h"
#include "handlers/handlers.h"
#include "store/crypto.h"
#include "store/filter.h"
#include "store/ids.h"
#include "store/notice.h"

#define MAX_EVENT_TYPES 64
#define TYPES_BUF (MAX_EVENT_TYPES * 130 + 2)

/* Render an endpoint reply (HGETALL) or 404 when the script found none. */
static void render_endpoint_with(struct jw *w, const redisReply *e, const void *secret)
{
    render_endpoint(w, e, secret);
}

static void reply_endpoint(struct req *r, redisReply *rep, int status, const char *secret)
{
    reply_record(r, rep, status, "endpoint", render_endpoint_with, secret);
}

/* create and rotate: the clear secret, kept by the request for the reply
 * (Redis gets it sealed, store/secrets.h). */
static void clear_secret_free(void *p)
{
    OPENSSL_cleanse(p, strlen(p));
    free(p);
}

static void reply_with_secret(struct req *r, redisReply *rep, int status)
{
    reply_endpoint(r, rep, status, r->state); /* rendered before r (and the secret) is freed */
}

/* The secret as Redis gets it into `sealed`, the clear one kept by the
 * request; -1 after replying. */
static int seal_for_store(struct req *r, const char *id, const char *clear, char *sealed, size_t cap)
{
    if (!secrets_ready()) { /* the key is not yet checked against this store */
        reply_unavailable(r);
        return -1;
    }
    char *kept = strdup(clear);
    if (!kept || secrets_seal(id, clear, sealed, cap) < 0) {
        free(kept);
        reply_error(r, 500, "internal", NULL, "could not seal the secret");
        return -1;
    }
    req_keep(r, kept, clear_secret_free);
    return 0;
}

static void on_endpoint_created(redisReply *rep, void *priv)
{
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(rep->element[0]->str, "limit") == 0) {
        reply_error(priv, 422, "limit_reached", NULL, "an org has at most 65535 endpoints");
        return;
    }
    reply_with_secret(priv, rep, 201);
}
static void on_endpoint(redisReply *rep, void *priv) { reply_endpoint(priv, rep, 200, NULL); }

/* enable/disable: announced (an operational event) when the status changed */
static void on_status(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (rep && rep->type == REDIS_REPLY_ARRAY && flat_get(rep, "changed")) {
        const char *status = flat_get(rep, "status");
        notice_endpoint(r->who.org_id, (int)server_conf()->partitions,
                        status && strcmp(status, endpoint_status_names[EP_ACTIVE]) == 0 ? NOTICE_ENDPOINT_ENABLED : NOTICE_ENDPOINT_DISABLED,
                        flat_get(rep, "id"), "api");
    }
    reply_endpoint(r, rep, 200, NULL);
}
static void on_endpoint_secret(redisReply *rep, void *priv) { reply_with_secret(priv, rep, 200); }

/* "whsec_" + base64 of 24 to 64 bytes, as Standard Webhooks libraries expect. */
static int valid_secret(const char *s)
{
    uint8_t raw[96];
    if (strncmp(s, "whsec_", 6) != 0)
        return 0;
    int n = base64_decode(s + 6, strlen(s + 6), raw, sizeof(raw));
    return n >= 24 && n <= 64;
}

static int new_secret(char out[128])
{
    uint8_t raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    strcpy(out, "whsec_");
    return base64_encode(raw, sizeof(raw), out + 6, 122) < 0 ? -1 : 0;
}

/* event_types array -> ",a,b," ("" for all). */
static int types_join(struct req *r, yajl_val arr, char out[TYPES_BUF])
{
    out[0] = '\0';
    if (!arr || arr->u.array.len == 0)
        return 0;
    if (arr->u.array.len > MAX_EVENT_TYPES) {
        reply_error(r, 400, "invalid_field", "event_types", "event_types has more than %d entries",
                    MAX_EVENT_TYPES);
        return -1;
    }
    size_t n = 1;
    out[0] = ',';
    for (size_t i = 0; i < arr->u.array.len; i++) {
        const char *t = json_string(arr->u.array.values[i]);
        if (!t || !valid_event_type(t)) {
            reply_error(r, 400, "invalid_field", "event_types",
                        "event_types[%zu] must be 1-128 characters of A-Z a-z 0-9 . _ : -", i);
            return -1;
        }
        size_t l = strlen(t);
        memcpy(out + n, t, l);
        n += l;
        out[n++] = ',';
    }
    out[n] = '\0';
    return 0;
}

/* The fields create and patch share; NULL members were absent (or null:
 * *_null says which, for the TLS fields PATCH removes with null). */
#define HEADERS_MAX 20
#define HEADERS_MAX_BYTES 4096

struct endpoint_in {
    yajl_val url, types, desc, secret, mif, ca, cert, key, scheme, auth, filter, ordering, headers, rate;
    int ca_null, cert_null, key_null, auth_null, filter_null, headers_null, rate_null;
    char rate_text[24];
    char filter_text[FILTER_MAX_BYTES + 1]; /* the filter's own bytes from the body, checked */
    char headers_text[HEADERS_MAX_BYTES + HEADERS_MAX * 3 + 1]; /* "Name: value\n" lines, checked */
};

static int member_null(yajl_val obj, const char *name)
{
    const char *path[] = {name, NULL};
    return yajl_tree_get(obj, path, yajl_t_null) != NULL;
}

/* A header name as RFC 9110 allows one (a token). */
static int header_name_valid(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 256 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                          "!#$%&'*+-.^_`|~") == n;
}

/* Headers hookd sets itself, and those that frame the request. */
static int header_reserved(const char *s)
{
    static const char *const own[] = {"host", "content-length", "content-type", "transfer-encoding", "connection",
                                      "user-agent"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (!strcasecmp(s, own[i]))
            return 1;
    return !strncasecmp(s, "webhook-", 8) || !strncasecmp(s, "hookd-", 6) || /* hookd-test: a test send */
           !strcasecmp(s, server_conf()->delivery_id_header);
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* headers: custom request headers sent with every delivery, or null; kept
 * as "Name: value\n" lines (the lease carries them, reactor/delivery/pump.c). */
static int headers_check(struct req *r, struct endpoint_in *in)
{
    yajl_val h = in->headers;
    size_t total = 0, at = 0;
    in->headers_null = member_null(r->json, "headers");
    if (!h)
        return 0;
    if (h->u.object.len > HEADERS_MAX) {
        reply_error(r, 422, "invalid_field", "headers", "headers holds at most %d headers", HEADERS_MAX);
        return -1;
    }
    for (size_t i = 0; i < h->u.object.len; i++) {
        const char *name = h->u.object.keys[i];
        yajl_val v = h->u.object.values[i];
        const char *why = !header_name_valid(name)     ? "is not a valid header name"
                          : header_reserved(name)      ? "is set by hookd and cannot be given"
                          : !YAJL_IS_STRING(v)         ? "must have a string value"
                          : has_control(v->u.string)   ? "has control characters in its value"
                                                       : NULL;
        if (why) {
            reply_error(r, 422, "invalid_field", "headers", "header '%.64s' %s", has_control(name) ? "?" : name, why);
            return -1;
        }
        total += strlen(name) + strlen(v->u.string);
        if (total > HEADERS_MAX_BYTES) {
            reply_error(r, 422, "invalid_field", "headers", "headers are larger than %d bytes in all", HEADERS_MAX_BYTES);
            return -1;
        }
        at += (size_t)snprintf(in->headers_text + at, sizeof(in->headers_text) - at, "%s: %s\n", name, v->u.string);
    }
    in->headers_text[at] = '\0';
    return 0;
}

/* filter: an object in the filter grammar (store/filter.h), or null. What
 * is stored is the parsed filter written out again, so reads return plain
 * JSON whatever the body held (yajl's parser accepts comments). */
static int filter_check(struct req *r, struct endpoint_in *in)
{
    struct json_span span;
    struct filter *f = NULL;
    char why[160] = "";
    in->filter_null = member_null(r->json, "filter");
    if (!in->filter)
        return 0;
    if (!json_member_span(r->body, r->body_len, "filter", &span) || span.len > FILTER_MAX_BYTES) {
        reply_error(r, 422, "invalid_field", "filter", "filter is larger than %d bytes", FILTER_MAX_BYTES);
        return -1;
    }
    if (filter_compile(r->body + span.at, span.len, &f, why, sizeof(why)) < 0) {
        reply_error(r, 422, "invalid_field", "filter", "filter: %s", why);
        return -1;
    }
    filter_free(f);
    struct jw w;
    const unsigned char *out;
    size_t len;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return -1;
    }
    jw_tree(&w, in->filter);
    if (jw_result(&w, &out, &len) < 0 || len > FILTER_MAX_BYTES) {
        jw_free(&w);
        reply_error(r, 422, "invalid_field", "filter", "filter is larger than %d bytes", FILTER_MAX_BYTES);
        return -1;
    }
    memcpy(in->filter_text, out, len);
    in->filter_text[len] = '\0';
    jw_free(&w);
    return 0;
}

#define AUTH_TYPE "oauth2_client_credentials"

/* auth: {type, token_url, client_id, client_secret, scope?} or null; 422
 * naming the member at fault. */
static int auth_check(struct req *r, struct endpoint_in *in)
{
    in->auth_null = member_null(r->json, "auth");
    if (!in->auth)
        return 0;
    yajl_val type, url, id, secret, scope;
    const char *bad = NULL;
    char msg[160], why[128] = "";
    struct json_field f[] = {{"type", JT_STRING, 1, &type}, {"token_url", JT_STRING, 1, &url},
                             {"client_id", JT_STRING, 1, &id}, {"client_secret", JT_STRING, 1, &secret},
                             {"scope", JT_STRING, 0, &scope}};
    if (json_fields(in->auth, f, 5, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 422, "invalid_field", "auth", "auth%s%s %s", bad ? "." : "", bad ? bad : "", msg);
        return -1;
    }
    if (strcmp(type->u.string, AUTH_TYPE) != 0) {
        reply_error(r, 422, "invalid_field", "auth", "auth.type must be " AUTH_TYPE);
        return -1;
    }
    if (!valid_url(url->u.string, why, sizeof(why))) {
        reply_error(r, 422, "invalid_field", "auth", "auth.token_url %s", why);
        return -1;
    }
    if (url_host_ambiguous(url->u.string)) {
        reply_error(r, 422, "invalid_field", "auth",
                    "auth.token_url names an IPv4 address in an ambiguous spelling; write it as four decimal parts");
        return -1;
    }
    if (!id->u.string[0] || strlen(id->u.string) > 256 || !secret->u.string[0] || strlen(secret->u.string) > 128 ||
        (scope && strlen(scope->u.string) > 1024)) {
        reply_error(r, 422, "invalid_field", "auth",
                    "auth.client_id (1-256), auth.client_secret (1-128) and auth.scope (up to 1024) are too long or empty");
        return -1;
    }
    return 0;
}

/* A v1a key pair for the script: the private key sealed (*sealed owned by
 * the caller) and the public one; -1 after replying. */
static int new_sign_keys(struct req *r, const char *id, char **sealed, char pk[ED25519_KEY_TEXT])
{
    char sk[ED25519_KEY_TEXT];
    size_t cap = 256;
    *sealed = NULL;
    if (!secrets_ready() || ed25519_keypair(sk, pk) < 0 || !(*sealed = malloc(cap)) ||
        secrets_seal(id, sk, *sealed, cap) < 0) {
        OPENSSL_cleanse(sk, sizeof(sk));
        free(*sealed);
        *sealed = NULL;
        reply_unavailable(r);
        return -1;
    }
    OPENSSL_cleanse(sk, sizeof(sk));
    return 0;
}

/* The endpoint's own TLS material: parses, the key matches, or 422. */
static int tls_check(struct req *r, struct endpoint_in *in)
{
    in->ca_null = member_null(r->json, "tls_ca");
    in->cert_null = member_null(r->json, "tls_client_cert");
    in->key_null = member_null(r->json, "tls_client_key");
    if ((in->cert || in->cert_null || in->key || in->key_null) && !((in->cert && in->key) || (in->cert_null && in->key_null))) {
        reply_error(r, 422, "invalid_field", in->cert || in->cert_null ? "tls_client_key" : "tls_client_cert",
                    "tls_client_cert and tls_client_key are set (or removed with null) together");
        return -1;
    }
    const char *field = NULL;
    char why[160];
    if (tls_material_check(in->ca ? in->ca->u.string : NULL, in->cert ? in->cert->u.string : NULL,
                           in->key ? in->key->u.string : NULL, &field, why, sizeof(why)) < 0) {
        reply_error(r, 422, "invalid_field", field, "%s", why);
        return -1;
    }
    return 0;
}

/* argv pairs for the optional fields given: filter, auth, the signature
 * scheme, the TLS fields (the keys sealed into sealed[0..2], owned by the
 * caller; pk holds the public key); the number of argv entries added, or
 * -1 after replying. */
static int optional_pairs(struct req *r, const char *id, const struct endpoint_in *in, const char **argv, char **sealed,
                     char pk[ED25519_KEY_TEXT])
{
    int n = 0;
    sealed[0] = sealed[1] = sealed[2] = NULL;
    if (in->filter || in->filter_null) /* "" removes it */
        argv[n++] = "filter", argv[n++] = in->filter ? in->filter_text : "";
    if (in->rate || in->rate_null) /* "" removes it */
        argv[n++] = "rate_limit", argv[n++] = in->rate && !in->rate_null ? in->rate_text : "";
    if (in->headers || in->headers_null) /* "" removes them */
        argv[n++] = "headers", argv[n++] = in->headers ? in->headers_text : "";
    if (in->ordering) {
        argv[n++] = "ordering", argv[n++] = in->ordering->u.string;
        if (!strcmp(in->ordering->u.string, "fifo")) /* for good: its queues drain in order (store/lua/lib/fifo.lua) */
            argv[n++] = "fifo_used", argv[n++] = "1";
    }
    if (in->auth || in->auth_null) {
        const char *path[] = {NULL, NULL};
        const char *names[] = {"token_url", "client_id", "client_secret", "scope"};
        const char *fields[] = {"auth_token_url", "auth_client_id", "auth_client_secret", "auth_scope"};
        for (int i = 0; i < 4; i++) {
            path[0] = names[i];
            yajl_val v = in->auth ? yajl_tree_get(in->auth, path, yajl_t_string) : NULL;
            const char *val = v ? YAJL_GET_STRING(v) : "";
            if (i == 2 && val[0]) { /* the client secret is sealed like the signing secret */
                size_t cap = strlen(val) * 4 / 3 + 128;
                if (!secrets_ready() || !(sealed[2] = malloc(cap)) || secrets_seal(id, val, sealed[2], cap) < 0) {
                    free(sealed[2]);
                    sealed[2] = NULL;
                    reply_unavailable(r);
                    return -1;
                }
                val = sealed[2];
            }
            argv[n++] = fields[i], argv[n++] = val;
        }
    }
    if (in->scheme) {
        argv[n++] = "signature_scheme", argv[n++] = in->scheme->u.string;
        if (strcmp(in->scheme->u.string, "v1") != 0) { /* made once: the script keeps an existing pair */
            if (new_sign_keys(r, id, &sealed[1], pk) < 0) {
                free(sealed[2]); /* the auth client secret, sealed just before */
                sealed[2] = NULL;
                return -1;
            }
            argv[n++] = "sign_key", argv[n++] = sealed[1];
            argv[n++] = "public_key", argv[n++] = pk;
        }
    }
    if (in->ca || in->ca_null)
        argv[n++] = "tls_ca", argv[n++] = in->ca ? in->ca->u.string : "";
    if (in->cert || in->cert_null)
        argv[n++] = "tls_cert", argv[n++] = in->cert ? in->cert->u.string : "";
    if (in->key || in->key_null) {
        const char *key = in->key ? in->key->u.string : "";
        size_t cap = strlen(key) * 4 / 3 + 128;
        if (!secrets_ready() || !(sealed[0] = malloc(cap)) || secrets_seal(id, key, sealed[0], cap) < 0) {
            free(sealed[0]);
            free(sealed[1]);
            free(sealed[2]);
            sealed[0] = sealed[1] = sealed[2] = NULL;
            reply_unavailable(r);
            return -1;
        }
        argv[n++] = "tls_key", argv[n++] = sealed[0];
    }
    return n;
}

static int endpoint_check(struct req *r, struct endpoint_in *in, int creating, char *types)
{
    const char *bad = NULL;
    char msg[160], why[128];
    struct json_field f[] = {{"url", JT_STRING, creating, &in->url},
                             {"event_types", JT_ARRAY, 0, &in->types},
                             {"description", JT_STRING, 0, &in->desc},
                             {"secret", JT_STRING, 0, &in->secret},
                             {"max_in_flight", JT_INT, 0, &in->mif},
                             {"tls_ca", JT_STRING, 0, &in->ca},
                             {"tls_client_cert", JT_STRING, 0, &in->cert},
                             {"tls_client_key", JT_STRING, 0, &in->key},
                             {"signature_scheme", JT_STRING, 0, &in->scheme},
                             {"auth", JT_OBJECT, 0, &in->auth},
                             {"filter", JT_OBJECT, 0, &in->filter},
                             {"ordering", JT_STRING, 0, &in->ordering},
                             {"headers", JT_OBJECT, 0, &in->headers},
                             {"rate_limit", JT_ANY, 0, &in->rate}};
    if (!r->json) {
        reply_error(r, 400, "missing_body", NULL, "a JSON object body is required");
        return -1;
    }
    static const char *const read_only[] = {"throttle", "circuit"};
    for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
        const char *path[] = {read_only[i], NULL};
        if (yajl_tree_get(r->json, path, yajl_t_any)) {
            reply_error(r, 422, "invalid_field", read_only[i], "%s is read-only: hookd sets it from the receiver's answers",
                        read_only[i]);
            return -1;
        }
    }
    if (json_fields(r->json, f, sizeof(f) / sizeof(f[0]), 1, &bad, msg, sizeof(msg)) < 0) {
        if (bad && !strcmp(bad, "filter")) /* the grammar's own field: 422 like its other errors */
            reply_error(r, 422, "invalid_field", bad, "filter must be a JSON object (or null to remove it)");
        else if (bad && !strcmp(bad, "headers"))
            reply_error(r, 422, "invalid_field", bad, "headers must be an object of name -> value (or null)");
        else
            reply_error(r, 400, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return -1;
    }
    if (!creating && in->secret) {
        reply_error(r, 400, "invalid_field", "secret", "secret changes through rotate-secret");
        return -1;
    }
    if (in->url && !valid_url(in->url->u.string, why, sizeof(why))) {
        reply_error(r, 400, "invalid_field", "url", "url %s", why);
        return -1;
    }
    if (in->url && url_host_ambiguous(in->url->u.string)) {
        reply_error(r, 422, "ambiguous_address", "url",
                    "url names an IPv4 address in a spelling that clients read differently; write it as four "
                    "decimal parts without leading zeros (e.g. 192.0.2.1)");
        return -1;
    }
    if (in->desc && strlen(in->desc->u.string) > 1024) {
        reply_error(r, 400, "invalid_field", "description", "description is longer than 1024 characters");
        return -1;
    }
    if (in->secret && !valid_secret(in->secret->u.string)) {
        reply_error(r, 400, "invalid_field", "secret", "secret must be whsec_ followed by base64 of 24 to 64 bytes");
        return -1;
    }
    if (in->mif && (YAJL_GET_INTEGER(in->mif) < 1 || YAJL_GET_INTEGER(in->mif) > 10000)) {
        reply_error(r, 400, "invalid_field", "max_in_flight", "max_in_flight must be between 1 and 10000");
        return -1;
    }
    if (tls_check(r, in) < 0 || auth_check(r, in) < 0 || filter_check(r, in) < 0 || headers_check(r, in) < 0)
        return -1;
    /* rate_limit: deliveries per second across the fleet (claim.lua), or null */
    in->rate_null = member_null(r->json, "rate_limit");
    if (in->rate && !in->rate_null) {
        if (!valid_rate_limit(in->rate)) {
            reply_error(r, 422, "invalid_field", "rate_limit",
                        "rate_limit must be a whole number of deliveries per second from 1 to 100000, or null");
            return -1;
        }
        snprintf(in->rate_text, sizeof(in->rate_text), "%lld", YAJL_GET_INTEGER(in->rate));
    }
    const char *ord = in->ordering ? in->ordering->u.string : NULL;
    if (ord && strcmp(ord, "none") && strcmp(ord, "fifo")) {
        reply_error(r, 422, "invalid_field", "ordering", "ordering must be none or fifo");
        return -1;
    }
    const char *sch = in->scheme ? in->scheme->u.string : NULL;
    if (sch && strcmp(sch, "v1") && strcmp(sch, "v1a") && strcmp(sch, "both")) {
        reply_error(r, 422, "invalid_field", "signature_scheme", "signature_scheme must be v1, v1a or both");
        return -1;
    }
    return types_join(r, in->types, types);
}

void h_endpoint_create(struct req *r)
{
    struct endpoint_in in;
    char types[TYPES_BUF], id[ID_LEN + 1], secret[128], mif[24], now[24];
    if (endpoint_check(r, &in, 1, types) < 0)
        return;
    if (in.secret)
        snprintf(secret, sizeof(secret), "%s", in.secret->u.string);
    else if (new_secret(secret) < 0) {
        reply_error(r, 500, "internal", NULL, "could not generate a secret");
        return;
    }
    int64_t t = now_ms();
    id_new(id, t);
    snprintf(mif, sizeof(mif), "%lld",
             in.mif ? YAJL_GET_INTEGER(in.mif) : (long long)server_conf()->default_max_in_flight);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    const char *argv[48] = {r->who.org_id, id, in.url->u.string, in.desc ? in.desc->u.string : "", types, NULL,
                            mif, now};
    char *sealed_key[3], pk[ED25519_KEY_TEXT];
    int extra = optional_pairs(r, id, &in, argv + 8, sealed_key, pk);
    if (extra < 0) {
        OPENSSL_cleanse(secret, sizeof(secret));
        return;
    }
    char sealed[SECRET_SEALED_MAX];
    int kept = seal_for_store(r, id, secret, sealed, sizeof(sealed));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (kept == 0) {
        argv[5] = sealed;
        call_script(r, SCRIPT_ENDPOINT_CREATE, on_endpoint_created, 8 + extra, argv); /* a failure has replied */
    }
    free(sealed_key[0]); /* the store copied the arguments */
    free(sealed_key[1]);
    free(sealed_key[2]);
}

void h_endpoint_patch(struct req *r)
{
    const char *id = path_id(r, 0, "endpoint");
    struct endpoint_in in;
    char types[TYPES_BUF], mif[24], now[24];
    if (!id || endpoint_check(r, &in, 0, types) < 0)
        return;
    const char *argv[48] = {r->who.org_id, id, now};
    int argc = 3;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    if (in.url) {
        argv[argc++] = "url";
        argv[argc++] = in.url->u.string;
    }
    if (in.desc) {
        argv[argc++] = "description";
        argv[argc++] = in.desc->u.string;
    }
    if (in.types) {
        argv[argc++] = "event_types";
        argv[argc++] = types;
    }
    if (in.mif) {
        snprintf(mif, sizeof(mif), "%lld", YAJL_GET_INTEGER(in.mif));
        argv[argc++] = "max_in_flight";
        argv[argc++] = mif;
    }
    char *sealed_key[3], pk[ED25519_KEY_TEXT];
    int extra = optional_pairs(r, id, &in, argv + argc, sealed_key, pk);
    if (extra < 0)
        return;
    call_script(r, SCRIPT_ENDPOINT_UPDATE, on_endpoint, argc + extra, argv);
    free(sealed_key[0]); /* the store copied the arguments */
    free(sealed_key[1]);
    free(sealed_key[2]);
}

void h_endpoint_get(struct req *r)
{
    const char *id = path_id(r, 0, "endpoint");
    if (!id)
        return;
    const char *argv[] = {"ep", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_endpoint, 3, argv);
}

static void render_listed_endpoint(struct jw *w, const redisReply *e)
{
    render_endpoint(w, e, NULL);
}

static void on_endpoint_list(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (!reply_failed(r, rep))
        reply_page(r, rep, render_listed_endpoint); /* a portal session's: only its endpoints (endpoint_list.lua) */
}

void h_endpoint_list(struct req *r)
{
    const char *cursor;
    char lim[16];
    if (list_query(r, 50, 200, &cursor, lim) < 0)
        return;
    char seen[PORTAL_ENDPOINTS_CSV];
    const char *argv[] = {r->who.org_id, cursor, lim, principal_endpoints(&r->who, seen, sizeof(seen))};
    call_script(r, SCRIPT_ENDPOINT_LIST, on_endpoint_list, r->who.n_endpoints ? 4 : 3, argv);
}

static void on_endpoint_deleted(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1)
        reply_error(r, 404, "not_found", NULL, "no such endpoint");
    else
        reply_raw(r, 204, NULL, NULL, 0);
}

void h_endpoint_delete(struct req *r)
{
    const char *id = path_id(r, 0, "endpoint");
    if (!id)
        return;
    const char *argv[] = {r->who.org_id, id};
    call_script(r, SCRIPT_ENDPOINT_DELETE, on_endpoint_deleted, 2, argv);
}

static void set_status(struct req *r, const char *status, const char *reason)
{
    const char *id = path_id(r, 0, "endpoint");
    char now[24];
    if (!id)
        return;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    const char *argv[] = {r->who.org_id, id, status, now, reason};
    call_script(r, SCRIPT_ENDPOINT_STATUS, on_status, 5, argv);
}

void h_endpoint_enable(struct req *r) { set_status(r, endpoint_status_names[EP_ACTIVE], ""); }
void h_endpoint_disable(struct req *r) { set_status(r, endpoint_status_names[EP_DISABLED], "disabled by API"); }

void h_endpoint_rotate(struct req *r)
{
    const char *id = path_id(r, 0, "endpoint");
    yajl_val sec = NULL;
    const char *bad = NULL;
    char msg[128], secret[128], until[24], now[24];
    if (!id)
        return;
    struct json_field f[] = {{"secret", JT_STRING, 0, &sec}};
    if (r->json && json_fields(r->json, f, 1, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return;
    }
    if (sec && !valid_secret(sec->u.string)) {
        reply_error(r, 400, "invalid_field", "secret", "secret must be whsec_ followed by base64 of 24 to 64 bytes");
        return;
    }
    if (sec)
        snprintf(secret, sizeof(secret), "%s", sec->u.string);
    else if (new_secret(secret) < 0) {
        reply_error(r, 500, "internal", NULL, "could not generate a secret");
        return;
    }
    int64_t t = now_ms();
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(until, sizeof(until), "%lld", (long long)(t + server_conf()->secret_overlap_ms));
    char sealed[SECRET_SEALED_MAX];
    int kept = seal_for_store(r, id, secret, sealed, sizeof(sealed));
    OPENSSL_cleanse(secret, sizeof(secret));
    if (kept < 0)
        return;
    char *sealed_sk, pk[ED25519_KEY_TEXT];
    if (new_sign_keys(r, id, &sealed_sk, pk) < 0) /* replied */
        return;
    /* the script moves the pair to prev_ only when the endpoint has one (v1a) */
    const char *argv[] = {r->who.org_id, id, sealed, until, now, sealed_sk, pk};
    call_script(r, SCRIPT_ENDPOINT_ROTATE, on_endpoint_secret, 7, argv); /* a failure has replied */
    free(sealed_sk);
}

/* test-filter: the endpoint's stored filter against a sample event, the
 * same compile and match the router uses (store/subscriptions.c). Only the
 * filter is tried: whether the type is subscribed is the endpoint's
 * event_types, shown in its read. */
static void on_filter_tested(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct filter *f = NULL;
    char why[160];
    int matches = 1;
    if (reply_failed(r, rep))
        return;
    if (reply_empty(rep)) {
        reply_error(r, 404, "not_found", NULL, "no such endpoint");
        return;
    }
    const char *text = flat_get(rep, "filter");
    if (text && text[0]) {
        if (filter_compile(text, strlen(text), &f, why, sizeof(why)) < 0) {
            reply_error(r, 500, "internal", NULL, "the stored filter no longer compiles: %s", why);
            return;
        }
        const char *type_path[] = {"type", NULL}, *payload_path[] = {"payload", NULL};
        yajl_val type = yajl_tree_get(r->json, type_path, yajl_t_string);
        matches = filter_match(f, YAJL_GET_STRING(type), yajl_tree_get(r->json, payload_path, yajl_t_any));
        filter_free(f);
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_key(&w, "matches");
    jw_bool(&w, matches);
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

void h_endpoint_test_filter(struct req *r)
{
    const char *id = path_id(r, 0, "endpoint");
    yajl_val type = NULL, payload = NULL;
    const char *bad = NULL;
    char msg[128];
    if (!id)
        return;
    struct json_field f[] = {{"type", JT_STRING, 1, &type}, {"payload", JT_ANY, 1, &payload}};
    if (!r->json) {
        reply_error(r, 400, "missing_body", NULL, "a JSON object body with type and payload is required");
        return;
    }
    if (json_fields(r->json, f, 2, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return;
    }
    const char *argv[] = {"ep", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_filter_tested, 3, argv);
}
