/*
 * portal: links that sign an org's customer into a scoped console.
 *
 * POST /v1/portal-links mints a one-time code and answers the URL
 * <public_url>/console#code=<code>: the code rides in the fragment, which a
 * browser never sends, so it is in no request line, log or Referer. The
 * console exchanges it (POST /v1/portal-sessions) within ten minutes, once,
 * for a session token that lasts expires_in. A session is a token record of
 * kind "portal" (store/lua/portal.lua): never admin, so it mints no token,
 * link or org; read_only leaves it webhooks:read alone; endpoint_ids limit
 * it to those endpoints (reactor/http/server.c and the handlers marked
 * PORTAL_ENDPOINT / PORTAL_FILTERED in handlers/routes.c enforce it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/auth.h"
#include "store/crypto.h"
#include "store/ids.h"
#include "store/keys.h"

#define CODE_TTL_MS 600000            /* a link's code must be exchanged within 10 minutes */
#define SESSION_TTL_DEFAULT_S 3600
#define SESSION_TTL_MIN_S 60
#define SESSION_TTL_MAX_S 86400
#define SESSION_TOKEN_CAP 80         /* hkp_ and 32 random bytes, encoded */

/* A link being minted: its clear code lives only here until the reply.
 * Kept by the request (req_keep), wiped when it is freed. */
struct portal_link {
    char code[80];
    char code_sha[SHA256_HEX_LEN + 1];
    char org_id[ID_LEN + 1];
    char eps[PORTAL_ENDPOINTS_CSV]; /* "id,id", "" for every endpoint */
    int n_eps;
    int read_only;
    long long ttl_s;
    int64_t expires_ms;
};

static void on_linked(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct portal_link *l = r->state;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
        reply_error(r, 404, "org_not_found", "org_id", "no such org");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    const char *base = server_conf()->public_url;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    char url[600];
    snprintf(url, sizeof(url), "%.*s/console#code=%s", (int)blen, base, l->code);
    jw_map_open(&w);
    jw_kstr(&w, "url", url);
    jw_ktime(&w, "expires_at", l->expires_ms);
    jw_kstr(&w, "org_id", l->org_id);
    jw_key(&w, "endpoint_ids");
    render_id_list(&w, l->eps);
    jw_kbool(&w, "read_only", l->read_only);
    jw_kint(&w, "expires_in", l->ttl_s);
    jw_map_close(&w);
    reply_json(r, 201, &w);
}

static int link_store(struct req *r, struct portal_link *l)
{
    char ro[2] = {l->read_only ? '1' : '0', 0}, ttl[24], code_ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", l->ttl_s * 1000);
    snprintf(code_ttl, sizeof(code_ttl), "%d", CODE_TTL_MS);
    const char *argv[] = {"link", l->code_sha, l->org_id, l->eps, ro, ttl, code_ttl};
    return call_script_key(r, KEY_GLOBAL, SCRIPT_PORTAL, on_linked, 7, argv);
}

static void on_owned(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct portal_link *l = r->state;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != l->n_eps) {
        reply_error(r, 422, "invalid_field", "endpoint_ids", "endpoint_ids names an endpoint the org does not have");
        return;
    }
    link_store(r, l); /* a failure has replied */
}

static void portal_link_free(void *l)
{
    cleanse_free((struct portal_link *)l);
}

/* endpoint_ids: UUIDs, each once, at most PORTAL_ENDPOINTS_MAX; -1 after a 422. */
static int parse_endpoint_ids(struct req *r, yajl_val a, struct portal_link *l)
{
    if (!a)
        return 0;
    if (a->u.array.len > PORTAL_ENDPOINTS_MAX) {
        reply_error(r, 422, "invalid_field", "endpoint_ids", "endpoint_ids holds at most %d ids", PORTAL_ENDPOINTS_MAX);
        return -1;
    }
    size_t n = 0;
    for (size_t i = 0; i < a->u.array.len; i++) {
        const char *id = json_string(a->u.array.values[i]);
        if (!id || !id_valid(id)) {
            reply_error(r, 422, "invalid_field", "endpoint_ids", "endpoint_ids[%zu] is not an endpoint id", i);
            return -1;
        }
        if (strstr(l->eps, id)) {
            reply_error(r, 422, "invalid_field", "endpoint_ids", "endpoint_ids[%zu] is listed twice", i);
            return -1;
        }
        n += (size_t)snprintf(l->eps + n, sizeof(l->eps) - n, "%s%s", n ? "," : "", id);
        l->n_eps++;
    }
    return 0;
}

/* The org a root or org-admin call is about, given the org_id it names
 * (NULL: none): required of root, else the caller's own (another org's id
 * is 404 to an admin). NULL after a reply. */
static const char *admin_org(struct req *r, const char *org)
{
    if (r->who.kind == PRINCIPAL_ROOT && !org) {
        reply_error(r, 422, "invalid_field", "org_id", "org_id is required");
        return NULL;
    }
    if (r->who.kind != PRINCIPAL_ROOT && org && strcmp(org, r->who.org_id) != 0) {
        reply_error(r, 404, "org_not_found", "org_id", "no such org");
        return NULL;
    }
    if (!org)
        org = r->who.org_id;
    if (!id_valid(org)) {
        reply_error(r, 422, "invalid_field", "org_id", "org_id must be a UUID");
        return NULL;
    }
    return org;
}

static int parse_link_body(struct req *r, struct portal_link *l)
{
    yajl_val org, eps, ro, ttl;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"org_id", JT_STRING, 0, &org}, {"endpoint_ids", JT_ARRAY, 0, &eps},
                             {"read_only", JT_BOOL, 0, &ro}, {"expires_in", JT_INT, 0, &ttl}};
    if (r->json && json_fields(r->json, f, 4, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 422, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return -1;
    }
    if (!r->json)
        org = eps = ro = ttl = NULL;
    const char *org_id = admin_org(r, json_string(org));
    if (!org_id)
        return -1;
    strcpy(l->org_id, org_id);
    l->read_only = ro && YAJL_IS_TRUE(ro);
    l->ttl_s = ttl ? YAJL_GET_INTEGER(ttl) : SESSION_TTL_DEFAULT_S;
    if (l->ttl_s < SESSION_TTL_MIN_S || l->ttl_s > SESSION_TTL_MAX_S) {
        reply_error(r, 422, "invalid_field", "expires_in", "expires_in must be from %d to %d seconds",
                    SESSION_TTL_MIN_S, SESSION_TTL_MAX_S);
        return -1;
    }
    return parse_endpoint_ids(r, eps, l);
}

/* POST /v1/portal-links {org_id?, endpoint_ids?, read_only?, expires_in?} */
void h_portal_link_create(struct req *r)
{
    if (!server_conf()->public_url[0]) {
        reply_error(r, 422, "not_configured", "public_url",
                    "portal links need public_url set in the configuration (the URL browsers reach hookd at)");
        return;
    }
    struct portal_link *l = calloc(1, sizeof(*l));
    if (!l) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    req_keep(r, l, portal_link_free);
    if (parse_link_body(r, l) < 0)
        return;
    if (random_token(l->code, sizeof(l->code), "hkpc_", 32) < 0 ||
        sha256_hex(l->code, strlen(l->code), l->code_sha) < 0) {
        reply_error(r, 500, "internal", NULL, "could not mint a code");
        return;
    }
    l->expires_ms = now_ms() + CODE_TTL_MS;
    if (l->n_eps == 0) {
        link_store(r, l); /* a failure has replied */
        return;
    }
    /* the endpoints live in the org's partition, the code in the global slot:
     * two calls, so each touches one Redis Cluster slot */
    const char *argv[2 + PORTAL_ENDPOINTS_MAX];
    char ids[PORTAL_ENDPOINTS_MAX][ID_LEN + 1];
    argv[0] = "owned";
    argv[1] = l->org_id;
    for (int i = 0; i < l->n_eps; i++) {
        memcpy(ids[i], l->eps + i * (ID_LEN + 1), ID_LEN);
        ids[i][ID_LEN] = '\0';
        argv[2 + i] = ids[i];
    }
    char p[32];
    org_prefix(l->org_id, p);
    call_script_key(r, p, SCRIPT_PORTAL, on_owned, 2 + l->n_eps, argv); /* a failure has replied */
}

/* A session's record as the API shows it: never its token or the token's hash. */
static void render_session(struct jw *w, const redisReply *s, const char *token)
{
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(s, "id"));
    if (token)
        jw_kstr(w, "token", token);
    jw_kstr(w, "org_id", flat_get(s, "org_id"));
    jw_key(w, "endpoint_ids");
    render_id_list(w, flat_get(s, "endpoint_ids"));
    jw_kbool(w, "read_only", flat_int(s, "read_only") == 1);
    jw_ktime(w, "created_at", flat_int(s, "created_at"));
    jw_ktime(w, "expires_at", flat_int(s, "expires_at"));
    jw_map_close(w);
}

static void on_exchanged(redisReply *rep, void *priv)
{
    struct req *r = priv;
    const char *token = r->state; /* the clear session token, shown once */
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0) {
        reply_error(r, 401, "unauthorized", NULL, "the code is invalid, expired or already used");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    render_session(&w, rep, token);
    reply_json(r, 201, &w);
}

static void session_token_free(void *t)
{
    crypto_cleanse_free(t, SESSION_TOKEN_CAP);
}

/* POST /v1/portal-sessions {code}: no credentials but the code. */
void h_portal_session_create(struct req *r)
{
    yajl_val code;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"code", JT_STRING, 1, &code}};
    if (!r->json || json_fields(r->json, f, 1, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "invalid_field", bad ? bad : "code", "%s %s", bad ? bad : "code", r->json ? msg : "is required");
        return;
    }
    const char *c = code->u.string;
    if (!valid_token_chars(c, 128)) { /* a forged or cut code reads like an unknown one */
        reply_error(r, 401, "unauthorized", NULL, "the code is invalid, expired or already used");
        return;
    }
    char *token = calloc(1, SESSION_TOKEN_CAP);
    if (token)
        req_keep(r, token, session_token_free);
    char code_sha[SHA256_HEX_LEN + 1], tok_sha[SHA256_HEX_LEN + 1], id[ID_LEN + 1], now[24];
    int64_t t = now_ms();
    if (!token || random_token(token, SESSION_TOKEN_CAP, "hkp_", 32) < 0 || sha256_hex(c, strlen(c), code_sha) < 0 ||
        sha256_hex(token, strlen(token), tok_sha) < 0) {
        reply_error(r, 500, "internal", NULL, "could not mint a session");
        return;
    }
    id_new(id, t);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    const char *argv[] = {"exchange", code_sha, tok_sha, id, now};
    call_script_key(r, KEY_GLOBAL, SCRIPT_PORTAL, on_exchanged, 5, argv); /* a failure has replied */
}

static void on_session_list(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    struct jw w;
    if (rep->type != REDIS_REPLY_ARRAY || jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "unexpected store reply");
        return;
    }
    jw_map_open(&w);
    jw_key(&w, "data");
    jw_array_open(&w);
    for (size_t i = 0; i < rep->elements; i++)
        render_session(&w, rep->element[i], NULL);
    jw_array_close(&w);
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

/* GET /v1/portal-sessions[?org_id=]: the org's live sessions, soonest to
 * expire first, at most ?limit= (100 by default, 1000 at most). */
void h_portal_session_list(struct req *r)
{
    static const char *const allowed[] = {"org_id", "limit", NULL};
    if (req_query_only(r, allowed) < 0)
        return;
    int limit;
    const char *cursor;
    if (list_params(r, 100, 1000, &limit, &cursor) < 0)
        return;
    const char *org = admin_org(r, req_query(r, "org_id"));
    if (!org)
        return;
    char lim[16], now[24];
    snprintf(lim, sizeof(lim), "%d", limit);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    const char *argv[] = {"list", org, now, lim};
    call_script_key(r, KEY_GLOBAL, SCRIPT_PORTAL, on_session_list, 4, argv);
}

static void on_session_revoked(redisReply *rep, void *priv) { reply_removed(priv, rep, "portal session"); }

/* DELETE /v1/portal-sessions/{id}: it stops working within token_cache. */
void h_portal_session_revoke(struct req *r)
{
    const char *id = path_id(r, 0, "portal session");
    if (!id)
        return;
    const char *org = r->who.kind == PRINCIPAL_ROOT ? "" : r->who.org_id;
    const char *argv[] = {"revoke", org, id};
    call_script_key(r, KEY_GLOBAL, SCRIPT_PORTAL, on_session_revoked, 3, argv);
}
