/*
 * server: the evhttp front door. It routes a request through the one route
 * table (handlers/routes.c), enforces the body limit, resolves the caller's
 * credentials, parses JSON bodies, and owns the request context until the
 * single reply.
 *
 * Lifetime: server_dispatch allocates a struct req; the handler (possibly
 * after several Redis round trips, one at a time) calls exactly one reply_*
 * function, which sends the reply and frees the req. A handler must not
 * touch `r` after replying, and must not have two callbacks outstanding
 * that could both reply. What a handler keeps across its round trips it
 * gives the request (req_keep): the request frees it when it is freed, on
 * every path, so no handler frees its state by hand.
 */
#ifndef HOOKD_SERVER_H
#define HOOKD_SERVER_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

#include "store/auth.h"

struct conf;
struct event_base;
struct jw;
struct req;

typedef void (*handler_fn)(struct req *r);

/* How a route shapes its errors: hookd's own problem details (err_problem,
 * the default, also for paths no route has) or a contract's, declared with
 * the contracts (handlers/compat/compat.h) and named by the route table. */
struct err_style {
    const char *ctype;     /* the error body's Content-Type */
    int malformed_status;  /* a body that is not JSON: 400, or 422 (FastAPI) */
    int nul_status;        /* a \u0000 in a member that cannot hold one */
    int bearer_challenge;  /* a 401 carries WWW-Authenticate: Bearer */
    void (*render)(struct jw *w, int status, const char *code, const char *field, const char *detail);
};
extern const struct err_style err_problem;

enum auth_need {
    NEED_NONE,   /* public */
    NEED_ROOT,   /* HOOKD_ADMIN_TOKEN only */
    NEED_TOKEN,  /* any org token, optionally with scope/admin */
    NEED_ROOT_OR_ADMIN,
};

/* What a portal session limited to some endpoints (store/auth.h
 * principal.n_endpoints) may do on a route. */
enum portal_reach {
    PORTAL_ORG,      /* org-wide: refused (403) to such a session */
    PORTAL_ENDPOINT, /* the path's :id is an endpoint: 404 unless the session was given it */
    PORTAL_FILTERED, /* the handler shows such a session only its endpoints' records */
};

struct route {
    enum evhttp_cmd_type method;
    const char *pattern; /* "/v1/endpoints/:id/enable" */
    handler_fn fn;
    enum auth_need auth;
    unsigned scope;      /* SCOPE_* any of which suffices; 0 = none needed */
    int admin;           /* the token must carry the admin flag */
    const struct err_style *style; /* NULL: err_problem */
    int form_body;       /* body is x-www-form-urlencoded, not JSON */
    const char *verbatim_member; /* a top-level member the handler takes as sent (json_member_span),
                                  * so its strings may hold \u0000; NULL: none */
    enum portal_reach portal;
};

#define REQ_MAX_PARAMS 2

struct req {
    struct evhttp_request *ev;  /* borrowed from libevent until the reply */
    const struct route *route;
    int route_idx;
    char params[REQ_MAX_PARAMS][128];
    struct evkeyvalq query;     /* owned; parsed query string */
    char *body;                 /* owned NUL-terminated copy */
    size_t body_len;
    yajl_val json;              /* owned; NULL for bodiless or form routes */
    struct principal who;
    int64_t start_us;
    void *state;                /* the handler's, kept with req_keep: freed with the request */
    void (*state_free)(void *);
    int endpoint_seen;          /* a delivery guard (handlers/common.h) found its endpoint the caller's */
};

/* The route table: defined by handlers/routes.c, the layer above, and
 * declared here, where its type is, so that main.c wires the layers without
 * including anything above the reactor. */
extern const struct route routes[];
extern const size_t routes_len;

/* Listen and serve a route table (main passes the one above; the fuzz
 * target too). */
int server_start(struct event_base *base, const struct conf *c, const struct route *routes, size_t nroutes);
/* "GET", "POST", ...: the one table of method names. */
const char *server_method_name(enum evhttp_cmd_type m);
/* The port the listener is bound to (useful with port 0); -1 if none. */
int server_port(void);
void server_stop_accepting(void);
void server_free(void);
const struct conf *server_conf(void);

/* Reply helpers: each sends exactly one reply and frees r. */
void reply_json(struct req *r, int status, struct jw *w);     /* w consumed (freed) */
void reply_raw(struct req *r, int status, const char *ctype, const char *body, size_t len);
/* `code` is a machine name (e.g. "invalid_field"); `field` may be NULL. */
void reply_error(struct req *r, int status, const char *code, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void reply_unavailable(struct req *r); /* 503: Redis is away */

/* r keeps `state` (freed by state_free, which may be NULL for none) until it
 * is freed or keeps another: a state kept before is freed first. */
void req_keep(struct req *r, void *state, void (*state_free)(void *));

const char *req_query(struct req *r, const char *name);
/* 0 when every query parameter is in `allowed` (NULL-terminated); else
 * replies 400 naming the parameter and returns -1. */
int req_query_only(struct req *r, const char *const *allowed);
const char *req_header(struct req *r, const char *name);

#endif
