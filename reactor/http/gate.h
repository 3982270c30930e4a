/*
 * gate: what a connection must show before hookd reads a request body, and
 * how many connections hookd holds at once.
 *
 * libevent 2.1's evhttp reads a whole body before it calls hookd, and offers
 * no server-side hook between the header block and the body (the
 * new-request and header callbacks for servers came in 2.2). So the gate sits
 * under evhttp, on each connection's bufferevent: it keeps a request's bytes
 * from evhttp until its header block is complete, decides, and only then
 * lets evhttp parse them. Before a single body byte is buffered it answers:
 *
 *   413  Content-Length above max_body_bytes
 *   401  a body for a route that needs credentials, sent with none or with
 *        a token that does not resolve (looked up while reading is paused)
 *   503  the body would take all bodies in flight past max_body_memory
 *   411  Transfer-Encoding: hookd must know a body's length to decide
 *   404/405  a body for a path or method no route serves
 *   400/431/408  a header block that is malformed, too large or too slow
 *
 * and closes the connection after a short lingering drain. The error body
 * comes from the server in the route's own error style (gate_policy).
 *
 * Staying in step with evhttp: the gate hands evhttp exactly one request's
 * bytes (head + Content-Length, the framing evhttp itself uses) and keeps any
 * later bytes (pipelining) in its own buffer until evhttp has answered the
 * request (evhttp's on-complete hook), so evhttp never parses a byte the gate
 * has not vetted. evhttp resets the bufferevent callbacks at each request;
 * the input buffer's own callback, which runs before any read callback, puts
 * the gate's read callback back.
 *
 * It also counts connections (the listener pauses at max_connections),
 * pauses accepting for a moment when accept() fails (out of descriptors)
 * instead of spinning, and hands memory back to the system after a burst.
 */
#ifndef HOOKD_GATE_H
#define HOOKD_GATE_H

#include <event2/http.h>
#include <stddef.h>

#include "store/auth.h"

struct conf;
struct event_base;
struct evbuffer;
struct evconnlistener;
struct evhttp;
struct evhttp_request;

enum gate_route {
    GATE_ROUTE_OPEN,        /* a route that reads its body without a token */
    GATE_ROUTE_TOKEN,       /* a route that needs credentials */
    GATE_ROUTE_NOT_FOUND,   /* no route has this path */
    GATE_ROUTE_NOT_ALLOWED, /* the path exists, not with this method */
};

/* What the gate needs from the server, which owns routes and error styles. */
struct gate_policy {
    enum gate_route (*route)(enum evhttp_cmd_type method, const char *path);
    /* Appends the error body for (path, status) to `body`; returns its
     * content type and sets *title to the status line's reason phrase. */
    const char *(*render_error)(const char *path, int status, const char *code, const char *detail,
                                struct evbuffer *body, const char **title);
    /* The methods the path's routes take, "GET, POST", for a 405's Allow. */
    void (*allow)(const char *path, char *out, size_t len);
};

enum gate_refusal {
    GATE_REFUSED_NO_CREDENTIALS, /* 401 */
    GATE_REFUSED_TOO_LARGE,      /* 413 */
    GATE_REFUSED_BUSY,           /* 503: body memory or Redis */
    GATE_REFUSED_MALFORMED,      /* 400, 411, 431, 404, 405 */
    GATE_REFUSED_SLOW,           /* 408 */
    GATE_REFUSED_COUNT
};

struct gate_stats {
    size_t connections;
    size_t body_bytes_reserved;
    unsigned long long accept_pauses;
    unsigned long long idle_closed; /* idle keep-alive connections closed to admit new ones */
    unsigned long long refused[GATE_REFUSED_COUNT];
};

int gate_start(struct event_base *base, struct evhttp *http, struct evconnlistener *listener,
               const struct conf *c, const struct gate_policy *policy);
/* The server calls this for every request evhttp hands it: it arms the hook
 * that starts the next request's gating, and fills *who (returning 1) when
 * the gate already resolved this request's credentials. */
int gate_request_begin(struct evhttp_request *req, struct principal *who);
/* The listener is going away (shutdown): stop managing it. */
void gate_forget_listener(void);
void gate_stats(struct gate_stats *out);
void gate_free(void);

#endif
