#include "store/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "store/crypto.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/redis.h"

#define CACHE_SLOTS 1024 /* direct-mapped by the token hash: bounded, no eviction logic */

struct cache_entry {
    char sha[SHA256_HEX_LEN + 1];
    int64_t expires_ms;
    struct principal p;
};

static struct {
    const struct conf *conf;
    char root_sha[SHA256_HEX_LEN + 1]; /* empty: no root token configured */
    struct cache_entry cache[CACHE_SLOTS];
} A;

/* One per lookup in flight: owned by the Redis call, freed in on_token. */
struct lookup {
    auth_cb cb;
    void *arg;
    char sha[SHA256_HEX_LEN + 1];
};

static const struct { const char *name; unsigned bit; } scope_names[] = {
    {"webhooks:manage", SCOPE_MANAGE},
    {"webhooks:read", SCOPE_READ},
    {"events:write", SCOPE_EVENTS},
};

int scopes_parse_one(const char *s, unsigned *out)
{
    for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
        if (strcmp(s, scope_names[i].name) == 0) {
            *out |= scope_names[i].bit;
            return 0;
        }
    return -1;
}

void scopes_format(unsigned scopes, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof(scope_names) / sizeof(scope_names[0]); i++)
        if (scopes & scope_names[i].bit) {
            size_t l = strlen(scope_names[i].name);
            if (n + l + 2 > len)
                break;
            if (n)
                out[n++] = ',';
            memcpy(out + n, scope_names[i].name, l + 1);
            n += l;
        }
}

void auth_init(const struct conf *c)
{
    memset(&A, 0, sizeof(A));
    A.conf = c;
    if (c->admin_token[0] && sha256_hex(c->admin_token, strlen(c->admin_token), A.root_sha) < 0)
        A.root_sha[0] = '\0';
}

static struct cache_entry *slot(const char *sha)
{
    unsigned h = (unsigned)strtoul((char[9]){sha[0], sha[1], sha[2], sha[3], sha[4], sha[5], sha[6], sha[7], 0}, NULL, 16);
    return &A.cache[h % CACHE_SLOTS];
}

int principal_sees_endpoint(const struct principal *p, const char *ep)
{
    if (p->n_endpoints == 0)
        return 1;
    for (int i = 0; i < p->n_endpoints; i++)
        if (strcmp(p->endpoints[i], ep) == 0)
            return 1;
    return 0;
}

const char *principal_endpoints(const struct principal *p, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < p->n_endpoints && n + (i ? 1 : 0) + 36 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", p->endpoints[i]);
    return out;
}

/* "id,id,...": a portal session's endpoints; -1 when malformed. */
static int parse_endpoints(const char *s, struct principal *p)
{
    while (*s) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n != 36 || p->n_endpoints == PORTAL_ENDPOINTS_MAX)
            return -1;
        memcpy(p->endpoints[p->n_endpoints], s, 36);
        p->endpoints[p->n_endpoints++][36] = '\0';
        s += n + (e ? 1 : 0);
    }
    return 0;
}

static int parse_record(const redisReply *r, struct principal *p)
{
    const char *org = flat_get(r, "org_id"), *id = flat_get(r, "id"), *uid = flat_get(r, "user_id"),
               *scopes = flat_get(r, "scopes"), *admin = flat_get(r, "admin"), *kind = flat_get(r, "kind"),
               *expires = flat_get(r, "expires_at"), *eps = flat_get(r, "endpoint_ids");
    if (!org || !id || !uid || !scopes || strlen(org) > 36 || strlen(id) > 36)
        return -1;
    memset(p, 0, sizeof(*p));
    p->kind = PRINCIPAL_TOKEN;
    strcpy(p->org_id, org);
    strcpy(p->token_id, id);
    p->user_id = strtoll(uid, NULL, 10);
    p->admin = admin && strcmp(admin, "1") == 0;
    p->expires_ms = expires ? strtoll(expires, NULL, 10) : 0;
    if (p->expires_ms && p->expires_ms <= now_ms())
        return -1; /* Redis expires the key a moment later */
    if (kind && strcmp(kind, "portal") == 0) {
        p->portal = 1;
        p->admin = 0;
        if (eps && parse_endpoints(eps, p) < 0)
            return -1;
    }
    char buf[256];
    strncpy(buf, scopes, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        scopes_parse_one(t, &p->scopes);
    return 0;
}

static void on_token(redisReply *reply, void *priv)
{
    struct lookup *l = priv;
    struct principal p;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        l->cb(AUTH_UNAVAILABLE, NULL, l->arg);
    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 || parse_record(reply, &p) < 0) {
        l->cb(AUTH_INVALID, NULL, l->arg);
    } else {
        struct cache_entry *e = slot(l->sha);
        memcpy(e->sha, l->sha, sizeof(e->sha));
        e->expires_ms = now_ms() + A.conf->token_cache_ms;
        if (p.expires_ms && p.expires_ms < e->expires_ms)
            e->expires_ms = p.expires_ms; /* an expiring token is not served past its end */
        e->p = p;
        l->cb(AUTH_OK, &p, l->arg);
    }
    free(l);
}

const char *auth_credential(const char *authorization, const char *api_key)
{
    const char *h = authorization;
    if (h) {
        if (strncasecmp(h, "Bearer ", 7) == 0)
            h += 7;
        while (*h == ' ')
            h++;
        return *h ? h : NULL;
    }
    return api_key && *api_key ? api_key : NULL;
}

void auth_cache_put(const char *token, const struct principal *p)
{
    char sha[SHA256_HEX_LEN + 1];
    if (sha256_hex(token, strlen(token), sha) < 0)
        return;
    struct cache_entry *e = slot(sha);
    memcpy(e->sha, sha, sizeof(e->sha));
    e->expires_ms = now_ms() + A.conf->token_cache_ms;
    e->p = *p;
}

void auth_lookup(const char *token, auth_cb cb, void *arg)
{
    char sha[SHA256_HEX_LEN + 1];
    size_t len = strlen(token);
    if (len < 8 || len > 512 || sha256_hex(token, len, sha) < 0) {
        cb(AUTH_INVALID, NULL, arg);
        return;
    }
    if (A.root_sha[0] && secret_equal(sha, A.root_sha)) {
        struct principal root = {.kind = PRINCIPAL_ROOT, .admin = 1};
        cb(AUTH_OK, &root, arg);
        return;
    }
    struct cache_entry *e = slot(sha);
    if (A.conf->token_cache_ms > 0 && strcmp(e->sha, sha) == 0 && e->expires_ms > now_ms()) {
        struct principal p = e->p;
        cb(AUTH_OK, &p, arg);
        return;
    }
    struct lookup *l = malloc(sizeof(*l));
    if (!l) {
        cb(AUTH_UNAVAILABLE, NULL, arg);
        return;
    }
    l->cb = cb;
    l->arg = arg;
    memcpy(l->sha, sha, sizeof(sha));
    const char *argv[2] = {KEY_GLOBAL, l->sha};
    size_t lens[2] = {strlen(KEY_GLOBAL), SHA256_HEX_LEN};
    if (store_script(SCRIPT_AUTH, on_token, l, 1, 2, argv, lens) < 0) {
        free(l);
        cb(AUTH_UNAVAILABLE, NULL, arg);
    }
}
