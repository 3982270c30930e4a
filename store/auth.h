/*
 * auth: who is calling. Tokens are stored only as SHA-256 hashes
 * (hookd:token:<sha256>); a lookup hashes the presented token and reads the
 * record, through a small in-process cache whose entries live token_cache
 * milliseconds, so a revoked token dies within that time.
 */
#ifndef HOOKD_AUTH_H
#define HOOKD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define SCOPE_MANAGE 1u  /* webhooks:manage */
#define SCOPE_READ 2u    /* webhooks:read */
#define SCOPE_EVENTS 4u  /* events:write */

enum principal_kind { PRINCIPAL_NONE, PRINCIPAL_ROOT, PRINCIPAL_TOKEN };

#define PORTAL_ENDPOINTS_MAX 20 /* endpoint_ids one portal link may name */
#define PORTAL_ENDPOINTS_CSV (PORTAL_ENDPOINTS_MAX * 37) /* bytes of them as "id,id", with the NUL */

struct principal {
    enum principal_kind kind;
    char org_id[37];
    char token_id[37];
    long long user_id;
    unsigned scopes;
    int admin;
    int portal;               /* a portal session (handlers/portal.c): never admin */
    int64_t expires_ms;       /* when the token stops working, 0: never (until revoked) */
    int n_endpoints;          /* > 0: it sees only these endpoints of its org */
    char endpoints[PORTAL_ENDPOINTS_MAX][37];
};

/* 1 when p may see endpoint ep of its org: always, unless p is limited to
 * some endpoints (a portal session given endpoint_ids). */
int principal_sees_endpoint(const struct principal *p, const char *ep);
/* Its endpoints as "id,id" in out (cap bytes), "" when it is not limited. */
const char *principal_endpoints(const struct principal *p, char *out, size_t cap);

struct conf;
struct event_base;

enum auth_result { AUTH_OK, AUTH_INVALID, AUTH_UNAVAILABLE };
typedef void (*auth_cb)(enum auth_result res, const struct principal *p, void *arg);

void auth_init(const struct conf *c);
/* The token a request presents, from its header values (NULL when a header
 * is absent): Authorization, with or without "Bearer ", else X-API-Key.
 * NULL when there is none. Points into the arguments. */
const char *auth_credential(const char *authorization, const char *api_key);
/* Resolve a presented token. May call cb before returning (root, cache hit). */
void auth_lookup(const char *token, auth_cb cb, void *arg);
/* Put a token in the cache for token_cache, as a lookup would. The fuzz
 * target uses it to have org tokens without a Redis. */
void auth_cache_put(const char *token, const struct principal *p);
/* Parse "webhooks:manage,webhooks:read" style lists; -1 on an unknown scope,
 * with `bad` pointing at it. */
int scopes_parse_one(const char *s, unsigned *out);
void scopes_format(unsigned scopes, char *out, size_t len);

#endif
