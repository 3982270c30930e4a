#include "reactor/http/server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/time.h>

#include "conf/conf.h"
#include "reactor/http/gate.h"
#include "conf/log.h"
#include "reactor/http/metrics.h"
#include "store/json.h"
#include "store/redis.h"

static struct {
    const struct route *routes; /* the one route table (handlers/routes.c), borrowed */
    size_t nroutes;
    struct evhttp *http;
    struct evconnlistener *listener;
    struct evhttp_bound_socket *bound;
    const struct conf *conf;
} S;

const struct conf *server_conf(void) { return S.conf; }

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void req_keep(struct req *r, void *state, void (*state_free)(void *))
{
    if (r->state && r->state_free)
        r->state_free(r->state);
    r->state = state;
    r->state_free = state_free;
}

static void req_free(struct req *r)
{
    req_keep(r, NULL, NULL);
    evhttp_clear_headers(&r->query);
    if (r->json)
        yajl_tree_free(r->json);
    free(r->body);
    free(r);
}

static void reply_finish(struct req *r, int status, const char *ctype, struct evbuffer *buf)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    if (ctype)
        evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD) {
        /* The length GET would have, and no body: libevent leaves out the
         * length of a HEAD response but would write the body it is given,
         * which a client then reads as the next response. */
        char n[24];
        snprintf(n, sizeof(n), "%zu", buf ? evbuffer_get_length(buf) : 0);
        evhttp_add_header(h, "Content-Length", n);
        buf = NULL;
    }
    evhttp_send_reply(r->ev, status, NULL, buf);
    metrics_http(r->route_idx, status, (double)(mono_us() - r->start_us) / 1e6);
    req_free(r);
}

void reply_raw(struct req *r, int status, const char *ctype, const char *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf && len)
        evbuffer_add(buf, body, len);
    reply_finish(r, status, ctype, buf);
    if (buf)
        evbuffer_free(buf);
}

void reply_json(struct req *r, int status, struct jw *w)
{
    const unsigned char *out;
    size_t len;
    if (jw_result(w, &out, &len) < 0) {
        jw_free(w);
        LOG_ERR("reply: JSON rendering failed", "route", r->route ? r->route->pattern : "", NULL);
        reply_raw(r, 500, "application/problem+json",
                  "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500,"
                  "\"detail\":\"response could not be rendered\"}", 110);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    if (buf && len)
        evbuffer_add(buf, out, len);
    jw_free(w); /* before r, which may own w (req_keep), is freed */
    reply_finish(r, status, "application/json", buf);
    if (buf)
        evbuffer_free(buf);
}

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* hookd's own errors: RFC 9457 problem details. */
static void render_problem(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    char t[128];
    snprintf(t, sizeof(t), "https://hookd.dev/problems/%s", code);
    jw_map_open(w);
    jw_kstr(w, "type", t);
    jw_kstr(w, "title", status_title(status));
    jw_kint(w, "status", status);
    jw_kstr(w, "detail", detail);
    jw_kstr(w, "code", code);
    if (field)
        jw_kstr(w, "field", field);
    jw_map_close(w);
}

const struct err_style err_problem = {"application/problem+json", 400, 422, 1, render_problem};

/* The style of r's errors: its route's, or the native one. */
static const struct err_style *style_of(const struct route *rt)
{
    return rt && rt->style ? rt->style : &err_problem;
}

void reply_error(struct req *r, int status, const char *code, const char *field, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    const struct err_style *style = style_of(r->route);
    struct jw w;
    const unsigned char *out;
    size_t len;
    if (jw_init(&w) < 0) {
        reply_raw(r, status, "text/plain", "error\n", 6);
        return;
    }
    style->render(&w, status, code, field, detail);
    if (jw_result(&w, &out, &len) < 0) {
        /* detail carried bytes that are not UTF-8 (an echoed bad input) */
        jw_free(&w);
        if (jw_init(&w) < 0) {
            reply_raw(r, status, "text/plain", "error\n", 6);
            return;
        }
        style->render(&w, status, code, field, "invalid request");
        if (jw_result(&w, &out, &len) < 0)
            len = 0;
    }
    if (status == 401 && style->bearer_challenge)
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "WWW-Authenticate", "Bearer");
    reply_raw(r, status, style->ctype, (const char *)out, len);
    jw_free(&w);
}

void reply_unavailable(struct req *r)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Retry-After", "1");
    reply_error(r, 503, "store_unavailable", NULL, "the data store is unavailable; retry shortly");
}

const char *req_query(struct req *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

int req_query_only(struct req *r, const char *const *allowed)
{
    for (struct evkeyval *kv = r->query.tqh_first; kv; kv = kv->next.tqe_next) {
        const char *const *a;
        for (a = allowed; *a; a++)
            if (strcmp(*a, kv->key) == 0)
                break;
        if (!*a) {
            reply_error(r, 400, "unknown_parameter", kv->key, "unknown query parameter '%s'", kv->key);
            return -1;
        }
    }
    return 0;
}

const char *req_header(struct req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

/* Match "/v1/endpoints/:id" against a path, capturing ':' segments. */
static int route_match(const char *pattern, const char *path, struct req *r)
{
    int np = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++;
        path++;
        const char *pe = strchr(pattern, '/'), *se = strchr(path, '/');
        size_t pl = pe ? (size_t)(pe - pattern) : strlen(pattern);
        size_t sl = se ? (size_t)(se - path) : strlen(path);
        if (*pattern == ':') {
            if (sl == 0 || sl >= sizeof(r->params[0]) || np == REQ_MAX_PARAMS)
                return 0;
            memcpy(r->params[np], path, sl);
            r->params[np++][sl] = '\0';
        } else if (pl != sl || memcmp(pattern, path, pl) != 0) {
            return 0;
        }
        pattern += pl;
        path += sl;
    }
    return *pattern == '\0' && (*path == '\0' || strcmp(path, "/") == 0);
}

static const char *bearer_token(struct req *r)
{
    return auth_credential(req_header(r, "Authorization"), req_header(r, "X-API-Key"));
}

static void run_handler(struct req *r)
{
    const struct route *rt = r->route;
    if (rt->auth == NEED_ROOT && r->who.kind != PRINCIPAL_ROOT) {
        reply_error(r, 403, "forbidden", NULL, "this operation needs the root token");
        return;
    }
    if (rt->auth != NEED_NONE && r->who.kind == PRINCIPAL_TOKEN) {
        if (rt->scope && !(r->who.scopes & rt->scope)) {
            reply_error(r, 403, "missing_scope", NULL, "the token lacks the scope this operation needs (%s)",
                        rt->scope & SCOPE_MANAGE ? "webhooks:manage" :
                        rt->scope & SCOPE_EVENTS ? "events:write" : "webhooks:read");
            return;
        }
        if ((rt->admin || rt->auth == NEED_ROOT_OR_ADMIN) && !r->who.admin) {
            reply_error(r, 403, "not_admin", NULL, "this operation needs an admin token");
            return;
        }
        if (r->who.n_endpoints && rt->portal == PORTAL_ORG) {
            reply_error(r, 403, "forbidden", NULL, "a portal session limited to endpoints cannot do this");
            return;
        }
        if (r->who.n_endpoints && rt->portal == PORTAL_ENDPOINT && !principal_sees_endpoint(&r->who, r->params[0])) {
            reply_error(r, 404, "not_found", NULL, "no such endpoint"); /* as another org's */
            return;
        }
    }
    if (rt->auth == NEED_TOKEN && r->who.kind == PRINCIPAL_ROOT) {
        reply_error(r, 403, "forbidden", NULL, "the root token manages orgs and tokens; use an org token here");
        return;
    }
    rt->fn(r);
}

static void on_auth(enum auth_result res, const struct principal *p, void *arg)
{
    struct req *r = arg;
    if (res == AUTH_UNAVAILABLE) {
        reply_unavailable(r);
        return;
    }
    if (res != AUTH_OK) {
        reply_error(r, 401, "unauthorized", NULL, "the token is missing, invalid, expired or revoked");
        return;
    }
    r->who = *p;
    run_handler(r);
}

static int read_body(struct req *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    size_t len = evbuffer_get_length(in);
    if (len > (size_t)S.conf->max_body_bytes) {
        reply_error(r, 413, "body_too_large", NULL, "request body is %zu bytes; the limit is %lld",
                    len, (long long)S.conf->max_body_bytes);
        return -1;
    }
    r->body = malloc(len + 1);
    if (!r->body) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return -1;
    }
    if (evbuffer_remove(in, r->body, len) != (int)len) {
        reply_error(r, 500, "internal", NULL, "could not read the body");
        return -1;
    }
    r->body[len] = '\0';
    r->body_len = len;
    enum evhttp_cmd_type m = evhttp_request_get_command(r->ev);
    if (r->route->form_body || (m != EVHTTP_REQ_POST && m != EVHTTP_REQ_PATCH))
        return 0;
    if (len == 0)
        return 0; /* handlers that need a body say so with json_fields */
    char err[256];
    r->json = json_parse(r->body, len, err, sizeof(err));
    if (!r->json) {
        int status = style_of(r->route)->malformed_status;
        reply_error(r, status, status == 422 ? "json_invalid" : "malformed_json", NULL, "%s", err);
        return -1;
    }
    char field[64];
    if (json_nul_member(r->body, len, r->route->verbatim_member, field, sizeof(field))) {
        int status = style_of(r->route)->nul_status;
        reply_error(r, status, "invalid_field", field, "%s: a string here cannot hold a NUL character (\\u0000)",
                    field);
        return -1;
    }
    return 0;
}

static const struct {
    const char *name;
    enum evhttp_cmd_type cmd;
} method_names[] = {
    {"GET", EVHTTP_REQ_GET},       {"POST", EVHTTP_REQ_POST},       {"PUT", EVHTTP_REQ_PUT},
    {"PATCH", EVHTTP_REQ_PATCH},   {"DELETE", EVHTTP_REQ_DELETE},   {"HEAD", EVHTTP_REQ_HEAD},
    {"OPTIONS", EVHTTP_REQ_OPTIONS}, {"TRACE", EVHTTP_REQ_TRACE}, {"CONNECT", EVHTTP_REQ_CONNECT},
};

const char *server_method_name(enum evhttp_cmd_type m)
{
    for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (method_names[i].cmd == m)
            return method_names[i].name;
    return "OTHER";
}

/* The route for (method, path), its ':' segments captured into params; NULL
 * when none. *first_for_path: the first route with this path whatever its
 * method (for 405 and for the error style), NULL when no route has it. */
static const struct route *route_find(enum evhttp_cmd_type method, const char *path, struct req *params,
                                      const struct route **first_for_path)
{
    *first_for_path = NULL;
    if (method == EVHTTP_REQ_HEAD)
        method = EVHTTP_REQ_GET; /* answered as GET is, without the body (reply_finish) */
    for (size_t i = 0; i < S.nroutes; i++) {
        if (!route_match(S.routes[i].pattern, path, params))
            continue;
        if (!*first_for_path)
            *first_for_path = &S.routes[i];
        if (S.routes[i].method == method)
            return &S.routes[i];
    }
    return NULL;
}

static void allow_for_path(const char *path, char *out, size_t len);

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct principal gated;
    int have_gated = gate_request_begin(ev, &gated);
    struct req *r = calloc(1, sizeof(*r));
    if (!r) {
        evhttp_send_error(ev, 500, NULL);
        return;
    }
    r->ev = ev;
    r->start_us = mono_us();
    r->route_idx = -1;
    TAILQ_INIT(&r->query);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = evhttp_uri_get_path(uri);
    const char *q = evhttp_uri_get_query(uri);
    if (!path || !*path)
        path = "/";
    if (q && evhttp_parse_query_str(q, &r->query) < 0) {
        reply_error(r, 400, "bad_query", NULL, "the query string is malformed");
        return;
    }
    const struct route *any;
    r->route = route_find(evhttp_request_get_command(ev), path, r, &any);
    if (r->route)
        r->route_idx = (int)(r->route - S.routes);
    if (!r->route) {
        if (any) {
            char allow[96];
            allow_for_path(path, allow, sizeof(allow));
            evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", allow);
            reply_error(r, 405, "method_not_allowed", NULL, "method not allowed on this path");
        }
        else
            reply_error(r, 404, "not_found", NULL, "no such route");
        return;
    }
    if (read_body(r) < 0)
        return;
    if (r->route->auth == NEED_NONE) {
        r->route->fn(r);
        return;
    }
    if (have_gated) { /* the gate resolved these credentials before the body was read */
        r->who = gated;
        run_handler(r);
        return;
    }
    const char *tok = bearer_token(r);
    if (!tok) {
        reply_error(r, 401, "unauthorized", NULL, "no credentials: send Authorization: Bearer <token> or X-API-Key");
        return;
    }
    auth_lookup(tok, on_auth, r);
}


/* "GET, POST": the methods of the routes matching path, in table order. */
static void allow_for_path(const char *path, char *out, size_t len)
{
    struct req scratch;
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < S.nroutes; i++) {
        if (!route_match(S.routes[i].pattern, path, &scratch))
            continue;
        const char *name = server_method_name(S.routes[i].method);
        if (!strstr(out, name) && n + strlen(name) + 3 < len)
            n += (size_t)snprintf(out + n, len - n, "%s%s", n ? ", " : "", name);
        if (S.routes[i].method == EVHTTP_REQ_GET && !strstr(out, "HEAD") && n + 7 < len)
            n += (size_t)snprintf(out + n, len - n, ", HEAD");
    }
}

/* The gate asks, from a request line alone, what the route table says. */
static enum gate_route gate_route_of(enum evhttp_cmd_type method, const char *path)
{
    struct req scratch; /* route_match writes captured params here */
    const struct route *any, *rt = route_find(method, path, &scratch, &any);
    if (rt)
        return rt->auth == NEED_NONE ? GATE_ROUTE_OPEN : GATE_ROUTE_TOKEN;
    return any ? GATE_ROUTE_NOT_ALLOWED : GATE_ROUTE_NOT_FOUND;
}

/* A refusal by the gate, in the error style of the route the path names. */
static const char *gate_render_error(const char *path, int status, const char *code, const char *detail,
                                     struct evbuffer *body, const char **title)
{
    struct req scratch;
    const struct route *any;
    route_find(EVHTTP_REQ_GET, path, &scratch, &any);
    const struct err_style *style = style_of(any);
    struct jw w;
    const unsigned char *out;
    size_t len;
    *title = status_title(status);
    if (jw_init(&w) < 0)
        return "text/plain";
    style->render(&w, status, code, NULL, detail);
    if (jw_result(&w, &out, &len) == 0)
        evbuffer_add(body, out, len);
    jw_free(&w);
    return style->ctype;
}

static const struct gate_policy gate_policy = {gate_route_of, gate_render_error, allow_for_path};

int server_start(struct event_base *base, const struct conf *c, const struct route *routes, size_t nroutes)
{
    S.conf = c;
    S.routes = routes;
    S.nroutes = nroutes;
    metrics_set_routes(routes, nroutes);
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char hp[300];
    /* evutil refuses port 0 (any free port, which the tests and the fuzz
     * target use), so parse with port 1 and set the real one after. */
    snprintf(hp, sizeof(hp), strchr(c->listen_host, ':') ? "[%s]:1" : "%s:1", c->listen_host);
    if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sslen) < 0) {
        LOG_ERR("listen: not a numeric address", "listen", c->listen, NULL);
        return -1;
    }
    if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)c->listen_port);
    else
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)c->listen_port);
    S.http = evhttp_new(base);
    if (!S.http)
        return -1;
    evhttp_set_max_body_size(S.http, c->max_body_bytes); /* a backstop: the gate refuses first */
    evhttp_set_max_headers_size(S.http, 64 * 1024);
    evhttp_set_timeout(S.http, (int)(c->http_idle_timeout_ms / 1000));
    evhttp_set_allowed_methods(S.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PATCH |
                                           EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD);
    if (evhttp_set_flags(S.http, EVHTTP_SERVER_LINGERING_CLOSE) < 0)
        return -1;
    evhttp_set_gencb(S.http, on_request, NULL);
    S.listener = evconnlistener_new_bind(base, NULL, NULL,
                                         LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                         1024, (struct sockaddr *)&ss, sslen);
    if (!S.listener) {
        LOG_ERR("listen: bind failed", "listen", c->listen, NULL);
        return -1;
    }
    S.bound = evhttp_bind_listener(S.http, S.listener);
    if (!S.bound)
        return -1;
    return gate_start(base, S.http, S.listener, c, &gate_policy);
}

int server_port(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (!S.listener || getsockname(evconnlistener_get_fd(S.listener), (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

void server_stop_accepting(void)
{
    if (S.bound) {
        gate_forget_listener();
        evhttp_del_accept_socket(S.http, S.bound); /* frees the listener too */
        S.bound = NULL;
        S.listener = NULL;
    }
}

void server_free(void)
{
    server_stop_accepting();
    if (S.http)
        evhttp_free(S.http); /* frees every connection, and so the gate's */
    S.http = NULL;
    gate_free();
}
