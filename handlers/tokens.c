#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/auth.h"
#include "store/crypto.h"
#include "store/ids.h"
#include "store/keys.h"

/* The clear credentials live only here, between minting and the one reply
 * that shows them; Redis receives their SHA-256. Kept by the request. */
struct token_new {
    char id[ID_LEN + 1];
    char org_id[ID_LEN + 1];
    char token[80];
    char client_id[48];
    char client_secret[80];
    long long user_id;
    unsigned scopes;
    int admin;
    int64_t created;
};

static void token_new_free(void *t)
{
    cleanse_free((struct token_new *)t);
}

static void on_token_created(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct token_new *t = r->state;
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
    char scopes[128];
    scopes_format(t->scopes, scopes, sizeof(scopes));
    jw_map_open(&w);
    jw_kstr(&w, "id", t->id);
    jw_kstr(&w, "token", t->token);
    jw_kstr(&w, "client_id", t->client_id);
    jw_kstr(&w, "client_secret", t->client_secret);
    jw_kstr(&w, "org_id", t->org_id);
    jw_kint(&w, "user_id", t->user_id);
    jw_key(&w, "scopes");
    jw_array_open(&w);
    for (char *s = scopes, *save = NULL, *tok; (tok = strtok_r(s, ",", &save)); s = NULL)
        jw_str(&w, tok);
    jw_array_close(&w);
    jw_kbool(&w, "admin", t->admin);
    jw_ktime(&w, "created_at", t->created);
    jw_map_close(&w);
    reply_json(r, 201, &w);
}

static int parse_token_body(struct req *r, struct token_new *t)
{
    yajl_val org, uid, scopes, admin, name;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"org_id", JT_STRING, 0, &org}, {"user_id", JT_INT, 0, &uid},
                             {"scopes", JT_ARRAY, 1, &scopes}, {"admin", JT_BOOL, 0, &admin},
                             {"name", JT_STRING, 0, &name}};
    if (!r->json) {
        reply_error(r, 400, "missing_body", NULL, "a JSON body is required");
        return -1;
    }
    if (json_fields(r->json, f, 5, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return -1;
    }
    const char *org_id = json_string(org);
    if (r->who.kind == PRINCIPAL_ROOT) {
        if (!org_id) {
            reply_error(r, 400, "invalid_field", "org_id", "org_id is required");
            return -1;
        }
    } else if (!org_id) {
        org_id = r->who.org_id;
    } else if (strcmp(org_id, r->who.org_id) != 0) {
        /* an org admin may only mint tokens for its own org */
        reply_error(r, 404, "org_not_found", "org_id", "no such org");
        return -1;
    }
    if (!id_valid(org_id)) {
        reply_error(r, 400, "invalid_field", "org_id", "org_id must be a UUID");
        return -1;
    }
    strcpy(t->org_id, org_id);
    t->user_id = uid ? YAJL_GET_INTEGER(uid) : 0;
    if (t->user_id < 0) {
        reply_error(r, 400, "invalid_field", "user_id", "user_id must not be negative");
        return -1;
    }
    for (size_t i = 0; i < scopes->u.array.len; i++) {
        const char *s = json_string(scopes->u.array.values[i]);
        if (!s || scopes_parse_one(s, &t->scopes) < 0) {
            reply_error(r, 400, "invalid_field", "scopes",
                        "scopes[%zu] must be one of webhooks:manage, webhooks:read, events:write", i);
            return -1;
        }
    }
    t->admin = admin && YAJL_IS_TRUE(admin);
    if (name && strlen(name->u.string) > 200) {
        reply_error(r, 400, "invalid_field", "name", "name must be at most 200 characters");
        return -1;
    }
    return 0;
}

void h_token_create(struct req *r)
{
    struct token_new *t = calloc(1, sizeof(*t));
    if (!t) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    req_keep(r, t, token_new_free);
    if (parse_token_body(r, t) < 0)
        return;
    yajl_val nm = yajl_tree_get(r->json, (const char *[]){"name", NULL}, yajl_t_string);
    t->created = now_ms();
    id_new(t->id, t->created);
    char tok_sha[65], sec_sha[65], scopes[128], uid[24], now[24];
    if (random_token(t->token, sizeof(t->token), "hkd_", 32) < 0 ||
        random_token(t->client_id, sizeof(t->client_id), "hkc_", 16) < 0 ||
        random_token(t->client_secret, sizeof(t->client_secret), "hks_", 32) < 0 ||
        sha256_hex(t->token, strlen(t->token), tok_sha) < 0 ||
        sha256_hex(t->client_secret, strlen(t->client_secret), sec_sha) < 0) {
        reply_error(r, 500, "internal", NULL, "could not mint credentials");
        return;
    }
    scopes_format(t->scopes, scopes, sizeof(scopes));
    snprintf(uid, sizeof(uid), "%lld", t->user_id);
    snprintf(now, sizeof(now), "%lld", (long long)t->created);
    const char *argv[] = {tok_sha, t->client_id, sec_sha, t->id, t->org_id, uid, scopes,
                          t->admin ? "1" : "0", nm ? nm->u.string : "", now};
    call_script_key(r, KEY_GLOBAL, SCRIPT_TOKEN_CREATE, on_token_created, 10, argv); /* a failure has replied */
}

/* OAuth2 client credentials (RFC 6749 4.4); the reply shape is contract 001's. */
struct oauth_new {
    char token[80];
    int64_t created;
};

static void oauth_new_free(void *o)
{
    cleanse_free((struct oauth_new *)o);
}

static void on_oauth(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct oauth_new *o = r->state;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
        reply_error(r, 401, "invalid_client", NULL, "client authentication failed");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "access_token", o->token);
    jw_kstr(&w, "token_type", "Bearer");
    jw_kint(&w, "expires_in", server_conf()->access_token_ttl_ms / 1000);
    jw_kint(&w, "created_at", o->created / 1000);
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

void h_oauth_token(struct req *r)
{
    struct evkeyvalq form;
    TAILQ_INIT(&form);
    if (evhttp_parse_query_str(r->body, &form) < 0) {
        reply_error(r, 400, "invalid_request", NULL, "body must be application/x-www-form-urlencoded");
        goto done;
    }
    const char *gt = evhttp_find_header(&form, "grant_type");
    const char *cid = evhttp_find_header(&form, "client_id");
    const char *sec = evhttp_find_header(&form, "client_secret");
    if (!gt || strcmp(gt, "client_credentials") != 0) {
        reply_error(r, 400, "unsupported_grant_type", NULL, "grant_type must be client_credentials");
        goto done;
    }
    if (!cid || !sec || !valid_token_chars(cid, 64) || strlen(sec) > 256) {
        reply_error(r, 400, "invalid_request", NULL, "client_id and client_secret are required");
        goto done;
    }
    struct oauth_new *o = calloc(1, sizeof(*o));
    if (o)
        req_keep(r, o, oauth_new_free);
    char sec_sha[65], tok_sha[65], id[ID_LEN + 1], ttl[24], now[24];
    if (!o || random_token(o->token, sizeof(o->token), "hka_", 32) < 0 ||
        sha256_hex(sec, strlen(sec), sec_sha) < 0 || sha256_hex(o->token, strlen(o->token), tok_sha) < 0) {
        reply_error(r, 500, "server_error", NULL, "could not mint a token");
        goto done;
    }
    o->created = now_ms();
    id_new(id, o->created);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)server_conf()->access_token_ttl_ms);
    snprintf(now, sizeof(now), "%lld", (long long)o->created);
    const char *argv[] = {cid, sec_sha, tok_sha, ttl, now, id};
    call_script_key(r, KEY_GLOBAL, SCRIPT_OAUTH, on_oauth, 6, argv); /* a failure has replied */
done:
    evhttp_clear_headers(&form); /* the store copied the arguments */
}

/* One token record as the API lists it: never a secret (Redis holds none). */
static void render_token(struct jw *w, const redisReply *t)
{
    char scopes[128];
    snprintf(scopes, sizeof(scopes), "%s", flat_get(t, "scopes") ? flat_get(t, "scopes") : "");
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(t, "id"));
    jw_kstr(w, "org_id", flat_get(t, "org_id"));
    jw_kint(w, "user_id", flat_int(t, "user_id"));
    jw_key(w, "scopes");
    jw_array_open(w);
    for (char *s = scopes, *save = NULL, *tok; (tok = strtok_r(s, ",", &save)); s = NULL)
        jw_str(w, tok);
    jw_array_close(w);
    jw_kbool(w, "admin", flat_int(t, "admin") == 1);
    render_kstr_opt(w, "name", flat_get(t, "name"));
    jw_kstr(w, "client_id", flat_get(t, "client_id"));
    jw_ktime(w, "created_at", flat_int(t, "created_at"));
    jw_map_close(w);
}

static void on_token_list(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (!reply_failed(r, rep))
        reply_page(r, rep, render_token);
}

/* GET /v1/tokens: root sees every org's tokens, an org admin its own org's. */
void h_token_list(struct req *r)
{
    const char *cursor;
    char lim[16];
    if (list_query(r, 100, 1000, &cursor, lim) < 0)
        return;
    const char *org = r->who.kind == PRINCIPAL_ROOT ? "" : r->who.org_id;
    const char *argv[] = {"tokens", org, cursor, lim};
    call_script_key(r, KEY_GLOBAL, SCRIPT_ADMIN, on_token_list, 4, argv);
}

static void on_token_revoked(redisReply *rep, void *priv) { reply_removed(priv, rep, "token"); }

/* DELETE /v1/tokens/{id}: the token (and its OAuth2 client, and the access
 * tokens that client minted) stops working within token_cache. */
void h_token_revoke(struct req *r)
{
    const char *id = path_id(r, 0, "token");
    if (!id)
        return;
    const char *org = r->who.kind == PRINCIPAL_ROOT ? "" : r->who.org_id;
    const char *argv[] = {"revoke", org, id};
    call_script_key(r, KEY_GLOBAL, SCRIPT_ADMIN, on_token_revoked, 3, argv);
}
