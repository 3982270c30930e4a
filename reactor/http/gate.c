#include "reactor/http/gate.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "conf/log.h"

#define GATE_MAX_HEAD 65536     /* the same cap the server gives evhttp */
#define GATE_MAX_HELD 65536     /* pipelined bytes kept before reading pauses */
#define GATE_LINGER_MS 2000     /* a refused peer's remaining bytes are read and dropped this long */
#define GATE_ACCEPT_PAUSE_MS 100
#define GATE_TRIM_EVERY_MS 10000
#define GATE_TOKEN_MAX 512

enum gate_state {
    GS_HEAD,    /* collecting a header block; evhttp has seen none of it */
    GS_AUTH,    /* header block complete, token lookup in flight, reading paused */
    GS_BODY,    /* admitted: evhttp gets the next `remaining` bytes */
    GS_DONE,    /* evhttp has the whole request; later bytes wait in `held` */
    GS_REFUSED, /* refusal written; the peer's bytes are dropped until close */
};

/* One per accepted connection. Created in the bevcb, freed when evhttp frees
 * the connection (its close callback) or, if evhttp drops it while accepting,
 * at adoption. The bufferevent and the evhttp connection are evhttp's. */
struct gate_conn {
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct evbuffer_cb_entry *watch; /* on the bev's input buffer */
    struct evbuffer *held;           /* owned: bytes after the current request */
    struct event timer;              /* adoption, then resume / head deadline / linger */
    enum gate_state state;
    size_t remaining;                /* GS_BODY: bytes evhttp still gets */
    size_t unseen;                   /* input bytes not yet offered to evhttp (it leaves a
                                      * partial body in the buffer until the rest comes) */
    size_t scanned;                  /* GS_HEAD: input bytes already searched for the head's end */
    size_t reserved;                 /* body bytes counted against max_body_memory */
    int fd;
    int adopted, moving, lookup_pending, closed, who_set;
    int http_answering;              /* evhttp cleared its read callback: it is replying */
    struct principal who;            /* resolved at the gate for the current request */
    char path[256];                  /* for the refusal's error style */
    int head_method;                 /* the request is a HEAD: its refusal has no body */
    int idle, evicting;              /* on G.idle (between requests, nothing buffered); being closed for room */
    TAILQ_ENTRY(gate_conn) idle_link;
};
TAILQ_HEAD(gate_idle_list, gate_conn);

/* A request head as the gate reads it. */
struct head {
    size_t len;                       /* bytes up to and including the empty line */
    enum evhttp_cmd_type method;
    char path[256];
    long long content_length;         /* -1: none */
    int transfer_encoding;
    int may_have_body;
    char token[GATE_TOKEN_MAX + 16];  /* empty: no credentials */
};

static struct {
    const struct conf *conf;
    const struct gate_policy *policy;
    struct evconnlistener *listener;
    struct event *accept_resume, *trim;
    int listener_on, accept_paused;
    size_t conns, peak_conns, reserved, peak_reserved;
    struct gate_conn **by_fd; /* owned array; entries are the connections */
    struct gate_idle_list idle; /* connections between requests, longest idle first */
    size_t nidle;
    unsigned long long idle_closed;
    size_t by_fd_len;
    bufferevent_data_cb http_read; /* evhttp's read callback, learned at adoption */
    unsigned long long accept_pauses, refused[GATE_REFUSED_COUNT];
} G;

static void gate_read(struct bufferevent *bev, void *evcon);
static void gate_refusal_written(struct bufferevent *bev, void *evcon);

static void listener_update(void)
{
    if (!G.listener)
        return;
    /* at the cap, an idle connection makes room for a new one (see new_conn) */
    int want = !G.accept_paused && (G.conns < (size_t)G.conf->max_connections || G.nidle > 0);
    if (want == G.listener_on)
        return;
    if ((want ? evconnlistener_enable(G.listener) : evconnlistener_disable(G.listener)) == 0)
        G.listener_on = want;
}

/* accept() failed for a reason other than "try again" (EMFILE, ENFILE,
 * ENOBUFS): libevent would retry at once and spin, so pause a moment. (The
 * logger limits the repeats of this line, as of every line.) */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
    int err = EVUTIL_SOCKET_ERROR();
    G.accept_pauses++;
    LOG_WARNING("accept failed; pausing new connections", "error", evutil_socket_error_to_string(err), NULL);
    G.accept_paused = 1;
    listener_update();
    struct timeval tv = {0, GATE_ACCEPT_PAUSE_MS * 1000};
    event_add(G.accept_resume, &tv);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    G.accept_paused = 0;
    listener_update();
}

/* Hand memory back after a burst: glibc keeps freed heap for reuse. */
static void on_trim(evutil_socket_t fd, short what, void *arg)
{
    if (G.peak_conns > G.conns + 64 || G.peak_reserved > G.reserved + (8u << 20))
        malloc_trim(0);
    G.peak_conns = G.conns;
    G.peak_reserved = G.reserved;
}

static struct gate_conn *conn_of(struct bufferevent *bev)
{
    int fd = bufferevent_getfd(bev);
    if (fd < 0 || (size_t)fd >= G.by_fd_len || !G.by_fd[fd] || G.by_fd[fd]->bev != bev)
        return NULL;
    return G.by_fd[fd];
}

static int by_fd_set(int fd, struct gate_conn *c)
{
    if ((size_t)fd >= G.by_fd_len) {
        size_t n = G.by_fd_len ? G.by_fd_len : 1024;
        while (n <= (size_t)fd)
            n *= 2;
        struct gate_conn **t = realloc(G.by_fd, n * sizeof(*t));
        if (!t)
            return -1;
        memset(t + G.by_fd_len, 0, (n - G.by_fd_len) * sizeof(*t));
        G.by_fd = t;
        G.by_fd_len = n;
    }
    G.by_fd[fd] = c;
    return 0;
}

/* Idle: between requests with nothing buffered, so closing it loses no
 * request (a client must be ready for a keep-alive connection to close). */
static void idle_set(struct gate_conn *c, int idle)
{
    if (c->idle == idle)
        return;
    if (idle)
        TAILQ_INSERT_TAIL(&G.idle, c, idle_link);
    else
        TAILQ_REMOVE(&G.idle, c, idle_link);
    c->idle = idle;
    G.nidle += idle ? 1 : (size_t)-1;
    listener_update();
}

/* At max_connections, as nginx does: the connection idle longest is closed
 * (in the next loop pass, outside evhttp's accept) to admit the new one. */
static void make_room(void)
{
    struct gate_conn *old = TAILQ_FIRST(&G.idle);
    if (G.conns < (size_t)G.conf->max_connections || !old)
        return;
    idle_set(old, 0);
    old->evicting = 1;
    G.idle_closed++;
    event_active(&old->timer, EV_TIMEOUT, 1);
}

static void release_body(struct gate_conn *c)
{
    G.reserved -= c->reserved;
    c->reserved = 0;
}

/* The connection is no longer found by its descriptor (it is closing). */
static void by_fd_clear(struct gate_conn *c)
{
    if (c->fd >= 0 && (size_t)c->fd < G.by_fd_len && G.by_fd[c->fd] == c)
        G.by_fd[c->fd] = NULL;
}

static void conn_free(struct gate_conn *c)
{
    idle_set(c, 0);
    release_body(c);
    by_fd_clear(c);
    event_del(&c->timer); /* assigned in new_conn before anything can free c */
    evbuffer_free(c->held);
    free(c);
    G.conns--;
    listener_update();
}

/* evhttp frees the connection: it is the last the gate hears of it. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct gate_conn *c = arg;
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    c->watch = NULL;
    if (c->lookup_pending) { /* the token lookup's callback frees it */
        idle_set(c, 0);
        c->closed = 1;
        by_fd_clear(c);
        event_del(&c->timer);
        return;
    }
    conn_free(c);
}

/* Put the gate's read callback in front of evhttp's, keeping evhttp's
 * write and event callbacks and their argument (the evhttp connection). */
static void install(struct gate_conn *c)
{
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    if (rd == gate_read)
        return;
    c->http_answering = rd == NULL;
    if (rd && !G.http_read)
        G.http_read = rd;
    bufferevent_setcb(c->bev, gate_read, wr, ev, arg);
}

static void arm(struct gate_conn *c, int64_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(&c->timer, &tv);
}

/* Move bytes between buffers without the input watch reacting to them. */
static void input_to_held(struct gate_conn *c, struct evbuffer *in)
{
    c->moving = 1;
    evbuffer_add_buffer(c->held, in);
    c->moving = 0;
    if (evbuffer_get_length(c->held) > GATE_MAX_HELD)
        bufferevent_disable(c->bev, EV_READ); /* the kernel holds the rest */
}

static void refuse(struct gate_conn *c, int status, enum gate_refusal why, const char *code, const char *detail)
{
    struct evbuffer *body = evbuffer_new(), *out = bufferevent_get_output(c->bev);
    struct evbuffer *in = bufferevent_get_input(c->bev);
    const char *title = "Error", *ctype = "text/plain";
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    G.refused[why]++;
    if (body)
        ctype = G.policy->render_error(c->path, status, code, detail, body, &title);
    char allow[128] = "";
    if (status == 405) {
        char methods[96];
        G.policy->allow(c->path, methods, sizeof(methods));
        snprintf(allow, sizeof(allow), "Allow: %s\r\n", methods);
    }
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                             "Cache-Control: no-store\r\nConnection: close\r\n%s%s%s\r\n",
                        status, title, ctype, body ? evbuffer_get_length(body) : 0,
                        status == 401 ? "WWW-Authenticate: Bearer\r\n" : "",
                        status == 503 ? "Retry-After: 1\r\n" : "", allow);
    if (body) {
        if (!c->head_method) /* a HEAD response has the length GET's would have, and no body */
            evbuffer_add_buffer(out, body);
        evbuffer_free(body);
    }
    c->state = GS_REFUSED;
    release_body(c);
    c->moving = 1;
    evbuffer_drain(in, evbuffer_get_length(in));
    evbuffer_drain(c->held, evbuffer_get_length(c->held));
    c->moving = 0;
    /* The reply goes out through the gate's own write callback: evhttp's
     * would run its completion for a request it never saw. */
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    bufferevent_setcb(c->bev, gate_read, gate_refusal_written, ev, arg);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    arm(c, GATE_LINGER_MS);
}

/* The refusal is on the wire: half-close, keep dropping what the peer still
 * sends (so its close is clean and it reads the reply) until it closes or the
 * linger ends. */
static void gate_refusal_written(struct bufferevent *bev, void *evcon)
{
    shutdown(bufferevent_getfd(bev), SHUT_WR);
    bufferevent_disable(bev, EV_WRITE);
}

/* Close a refused or stalled connection the way evhttp closes one whose
 * peer went away: through its own event callback, which frees it. */
static void close_via_evhttp(struct gate_conn *c)
{
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    if (ev)
        ev(c->bev, BEV_EVENT_READING | BEV_EVENT_EOF, arg); /* frees c via on_close */
}

/* Offer evhttp the current request's bytes, no more. May free c. */
static void body_step(struct gate_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = c->unseen;
    if (n > c->remaining) { /* the tail is the next request's (pipelining): hide it */
        size_t len = evbuffer_get_length(in), keep = len - (n - c->remaining);
        struct evbuffer *mine = evbuffer_new();
        if (!mine) {
            close_via_evhttp(c);
            return;
        }
        /* The input's end is frozen (only the bufferevent appends to it),
         * so the request's bytes go back in at the front. */
        c->moving = 1;
        int rc = evbuffer_remove_buffer(in, mine, keep) == (int)keep && evbuffer_prepend_buffer(c->held, in) == 0 &&
                 evbuffer_prepend_buffer(in, mine) == 0;
        c->moving = 0;
        evbuffer_free(mine);
        if (!rc) {
            close_via_evhttp(c);
            return;
        }
        n = c->remaining;
    }
    c->unseen = 0;
    c->remaining -= n;
    if (c->remaining == 0)
        c->state = GS_DONE;
    if (c->http_answering) { /* evhttp refused the request itself and closes after its reply */
        c->moving = 1;
        evbuffer_drain(in, evbuffer_get_length(in));
        c->moving = 0;
        return;
    }
    if (n)
        G.http_read(c->bev, c->evcon); /* last: evhttp may free the connection */
}

static void admit(struct gate_conn *c, const struct head *h)
{
    size_t body = h->may_have_body && h->content_length > 0 ? (size_t)h->content_length : 0;
    if (body && G.reserved + body > (size_t)G.conf->max_body_memory) {
        refuse(c, 503, GATE_REFUSED_BUSY, "server_busy",
               "too many request bodies are in flight; retry shortly");
        return;
    }
    c->reserved = body;
    G.reserved += body;
    if (G.reserved > G.peak_reserved)
        G.peak_reserved = G.reserved;
    event_del(&c->timer);
    c->remaining = h->len + body;
    c->unseen = evbuffer_get_length(bufferevent_get_input(c->bev));
    c->state = GS_BODY;
    body_step(c);
}

struct lookup_ctx {
    struct gate_conn *c;
    struct head h;
};

static void on_token(enum auth_result res, const struct principal *p, void *arg)
{
    struct lookup_ctx *l = arg;
    struct gate_conn *c = l->c;
    c->lookup_pending = 0;
    if (c->closed) {
        conn_free(c);
        free(l);
        return;
    }
    bufferevent_enable(c->bev, EV_READ);
    if (res == AUTH_OK) {
        c->who = *p;
        c->who_set = 1;
        admit(c, &l->h);
    } else if (res == AUTH_UNAVAILABLE) {
        refuse(c, 503, GATE_REFUSED_BUSY, "store_unavailable", "the data store is unavailable; retry shortly");
    } else {
        refuse(c, 401, GATE_REFUSED_NO_CREDENTIALS, "unauthorized",
               "the token is missing, invalid, expired or revoked");
    }
    free(l);
}

static void decide(struct gate_conn *c, const struct head *h)
{
    snprintf(c->path, sizeof(c->path), "%s", h->path);
    c->head_method = h->method == EVHTTP_REQ_HEAD;
    if (h->transfer_encoding) {
        refuse(c, 411, GATE_REFUSED_MALFORMED, "length_required",
               "send the request body with a Content-Length (Transfer-Encoding is not accepted)");
        return;
    }
    if (!h->may_have_body && h->content_length > 0) {
        /* evhttp reads no body for HEAD or TRACE, so the body would be
         * parsed as the next request, which a proxy never sent. */
        refuse(c, 400, GATE_REFUSED_MALFORMED, "body_not_allowed", "a HEAD or TRACE request cannot carry a body");
        return;
    }
    if (h->content_length > G.conf->max_body_bytes) {
        char d[128];
        snprintf(d, sizeof(d), "request body is %lld bytes; the limit is %lld", h->content_length,
                 (long long)G.conf->max_body_bytes);
        refuse(c, 413, GATE_REFUSED_TOO_LARGE, "body_too_large", d);
        return;
    }
    if (!h->may_have_body || h->content_length <= 0) {
        admit(c, h); /* nothing to buffer: the server authenticates as usual */
        return;
    }
    switch (G.policy->route(h->method, h->path)) {
    case GATE_ROUTE_NOT_FOUND:
        refuse(c, 404, GATE_REFUSED_MALFORMED, "not_found", "no such route");
        return;
    case GATE_ROUTE_NOT_ALLOWED:
        refuse(c, 405, GATE_REFUSED_MALFORMED, "method_not_allowed", "method not allowed on this path");
        return;
    case GATE_ROUTE_OPEN:
        admit(c, h);
        return;
    case GATE_ROUTE_TOKEN:
        break;
    }
    if (!h->token[0]) {
        refuse(c, 401, GATE_REFUSED_NO_CREDENTIALS, "unauthorized",
               "no credentials: send Authorization: Bearer <token> or X-API-Key");
        return;
    }
    struct lookup_ctx *l = malloc(sizeof(*l));
    if (!l) {
        refuse(c, 503, GATE_REFUSED_BUSY, "server_busy", "out of memory; retry shortly");
        return;
    }
    l->c = c;
    l->h = *h;
    c->state = GS_AUTH;
    c->lookup_pending = 1;
    bufferevent_disable(c->bev, EV_READ);
    auth_lookup(l->h.token, on_token, l); /* may answer before it returns */
}

/* ---- reading a head: only what the decision needs ---- */

static const struct {
    const char *name;
    enum evhttp_cmd_type cmd;
    int body; /* evhttp reads a body for it (evhttp_method_may_have_body) */
} methods[] = {
    {"GET", EVHTTP_REQ_GET, 1},         {"POST", EVHTTP_REQ_POST, 1},     {"PUT", EVHTTP_REQ_PUT, 1},
    {"PATCH", EVHTTP_REQ_PATCH, 1},     {"DELETE", EVHTTP_REQ_DELETE, 1}, {"OPTIONS", EVHTTP_REQ_OPTIONS, 1},
    {"CONNECT", EVHTTP_REQ_CONNECT, 1}, {"HEAD", EVHTTP_REQ_HEAD, 0},     {"TRACE", EVHTTP_REQ_TRACE, 0},
};

static int copy_trimmed(char *out, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    if (n >= cap)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

/* RFC 9110 section 5.6.2: a field name is a token. */
static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* A control byte other than HTAB: never part of a request line or a field
 * (RFC 9110 section 5.5); a NUL or a bare CR could be read two ways. */
static int has_ctl(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return 1;
    }
    return 0;
}

static int header_is(const char *line, size_t nlen, const char *name)
{
    return strlen(name) == nlen && strncasecmp(line, name, nlen) == 0;
}

/* The first value of each credential header, as evhttp would find it. */
struct head_credentials {
    int have_auth, have_key;
    char auth[GATE_TOKEN_MAX + 16], key[GATE_TOKEN_MAX + 16];
};

/* Keep a credential header's value; one too long to be a token is kept as
 * "x", which no lookup accepts. */
static void keep_value(char *out, size_t cap, const char *v, size_t n)
{
    if (copy_trimmed(out, cap, v, n) < 0)
        snprintf(out, cap, "x");
}

/* 0 when the header line is understood (or ignored), -1 when malformed. */
static int head_header(struct head *h, const char *line, size_t n, struct head_credentials *cr)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line)
        return -1; /* no name (a folded line starts with a space: not a token either) */
    size_t nlen = (size_t)(colon - line);
    for (size_t i = 0; i < nlen; i++)
        if (!is_tchar((unsigned char)line[i]))
            return -1; /* "Content-Length : 5" is not Content-Length to hookd, but may be to a proxy */
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    if (has_ctl(v, vlen))
        return -1;
    char val[GATE_TOKEN_MAX + 16];
    if (header_is(line, nlen, "Content-Length")) {
        if (h->content_length >= 0 || copy_trimmed(val, sizeof(val), v, vlen) < 0 || !val[0] ||
            strspn(val, "0123456789") != strlen(val) || strlen(val) > 18)
            return -1;
        h->content_length = strtoll(val, NULL, 10);
    } else if (header_is(line, nlen, "Transfer-Encoding")) {
        h->transfer_encoding = 1;
    } else if (header_is(line, nlen, "Authorization") && !cr->have_auth) { /* evhttp reads the first */
        keep_value(cr->auth, sizeof(cr->auth), v, vlen);
        cr->have_auth = 1;
    } else if (header_is(line, nlen, "X-API-Key") && !cr->have_key) {
        keep_value(cr->key, sizeof(cr->key), v, vlen);
        cr->have_key = 1;
    }
    return 0;
}

static int head_request_line(struct head *h, const char *line, size_t n)
{
    if (has_ctl(line, n) || memchr(line, '\t', n))
        return -1;
    const char *sp = memchr(line, ' ', n);
    if (!sp)
        return -1;
    size_t ml = (size_t)(sp - line);
    h->may_have_body = -1;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strlen(methods[i].name) == ml && memcmp(methods[i].name, line, ml) == 0) {
            h->method = methods[i].cmd;
            h->may_have_body = methods[i].body;
        }
    if (h->may_have_body < 0)
        return -1;
    const char *t = sp + 1, *end = line + n;
    size_t tl = 0;
    while (t + tl < end && t[tl] != ' ' && t[tl] != '?' && t[tl] != '#')
        tl++;
    if (tl >= sizeof(h->path))
        tl = sizeof(h->path) - 1; /* a long path matches no route anyway */
    memcpy(h->path, t, tl);
    h->path[tl] = '\0';
    return 0;
}

/* 1 with *h filled when p[0..n) starts with a whole head (head_end found its
 * end), -1 when it is malformed; 0 only if p holds no empty line. Lines end
 * in LF or CRLF, as evhttp reads them. */
static int head_parse(const char *p, size_t n, struct head *h)
{
    memset(h, 0, sizeof(*h));
    h->content_length = -1;
    struct head_credentials cr = {0};
    int lineno = 0;
    size_t at = 0;
    while (at < n) {
        const char *nl = memchr(p + at, '\n', n - at);
        if (!nl)
            return 0;
        size_t len = (size_t)(nl - (p + at));
        size_t content = len && p[at + len - 1] == '\r' ? len - 1 : len;
        if (content == 0) {
            if (lineno == 0)
                return -1;
            h->len = at + len + 1;
            /* the server's rule for which header carries the token */
            const char *t = auth_credential(cr.have_auth ? cr.auth : NULL, cr.have_key ? cr.key : NULL);
            snprintf(h->token, sizeof(h->token), "%s", t ? t : "");
            return 1;
        }
        int rc = lineno == 0 ? head_request_line(h, p + at, content) : head_header(h, p + at, content, &cr);
        if (rc < 0)
            return -1;
        lineno++;
        at += len + 1;
    }
    return 0;
}

/* Where the header block ends (just past its empty line), or 0 while it
 * has not arrived. Only the bytes that came since the last look are
 * searched, and nothing is copied until the end is there: a client that
 * sends its head a byte at a time costs linear work, not quadratic. */
static size_t head_end(struct gate_conn *c, struct evbuffer *in, size_t n)
{
    static const char *const ends[] = {"\n\r\n", "\n\n"}; /* lines end in CRLF or LF, as evhttp reads them */
    size_t from = c->scanned > 2 ? c->scanned - 2 : 0, best = 0;
    for (int k = 0; k < 2; k++) {
        struct evbuffer_ptr start, hit;
        if (evbuffer_ptr_set(in, &start, from, EVBUFFER_PTR_SET) < 0)
            return 0;
        size_t len = strlen(ends[k]);
        hit = evbuffer_search(in, ends[k], len, &start);
        if (hit.pos >= 0 && (!best || (size_t)hit.pos + len < best))
            best = (size_t)hit.pos + len;
    }
    c->scanned = n;
    return best;
}

static void head_step(struct gate_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t n = evbuffer_get_length(in);
    if (n == 0)
        return;
    if (!event_pending(&c->timer, EV_TIMEOUT, NULL))
        arm(c, G.conf->http_idle_timeout_ms); /* the whole head must arrive within it */
    size_t end = head_end(c, in, n);
    if ((!end && n >= GATE_MAX_HEAD) || end > GATE_MAX_HEAD) {
        refuse(c, 431, GATE_REFUSED_MALFORMED, "headers_too_large", "the request header block is too large");
        return;
    }
    if (!end)
        return;
    const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)end);
    struct head h;
    if (!p || head_parse(p, end, &h) != 1)
        refuse(c, 400, GATE_REFUSED_MALFORMED, "malformed_request", "the request line or a header is malformed");
    else
        decide(c, &h);
}

/* The read callback in front of evhttp's; its argument is evhttp's. */
static void gate_read(struct bufferevent *bev, void *evcon)
{
    struct gate_conn *c = conn_of(bev);
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!c) { /* not adopted (out of memory at accept): evhttp alone */
        if (G.http_read)
            G.http_read(bev, evcon);
        return;
    }
    switch (c->state) {
    case GS_HEAD: head_step(c); break;
    case GS_AUTH: break; /* reading is paused; bytes wait in the buffer */
    case GS_BODY: body_step(c); break;
    case GS_DONE: input_to_held(c, in); break;
    case GS_REFUSED:
        c->moving = 1;
        evbuffer_drain(in, evbuffer_get_length(in));
        c->moving = 0;
        break;
    }
}

/* Runs before any read callback whenever bytes arrive: evhttp may have put
 * its own read callback back (a new request, a 100-continue). */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct gate_conn *c = arg;
    if (c->moving || info->n_added == 0 || !c->adopted)
        return;
    idle_set(c, 0);
    if (c->evicting) { /* a request came before its eviction ran: it stays, another makes room */
        c->evicting = 0;
        event_del(&c->timer);
        G.idle_closed--;
        make_room();
    }
    c->unseen += info->n_added;
    install(c);
}

/* evhttp answered the request: the next bytes start a new head. */
static void on_complete(struct evhttp_request *req, void *arg)
{
    struct gate_conn *c = arg;
    release_body(c);
    c->state = GS_HEAD;
    c->scanned = 0;
    c->head_method = 0;
    if (evbuffer_get_length(c->held)) /* pipelined: vet it once evhttp is ready */
        event_active(&c->timer, EV_TIMEOUT, 1);
    else if (!evbuffer_get_length(bufferevent_get_input(c->bev)))
        idle_set(c, 1);
}

static void adopt(struct gate_conn *c)
{
    bufferevent_data_cb rd, wr;
    bufferevent_event_cb ev;
    void *arg;
    bufferevent_getcb(c->bev, &rd, &wr, &ev, &arg);
    c->adopted = 1;
    c->evcon = arg;
    c->fd = bufferevent_getfd(c->bev);
    if (c->fd < 0 || by_fd_set(c->fd, c) < 0) {
        c->fd = -1; /* unguarded, as before the gate; only out of memory */
        return;
    }
    evhttp_connection_set_closecb(c->evcon, on_close, c);
    install(c);
    if (!evbuffer_get_length(bufferevent_get_input(c->bev)))
        idle_set(c, 1);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct gate_conn *c = arg;
    if (!c->adopted) {
        struct bufferevent *bev = c->bev;
        bufferevent_event_cb ev;
        bufferevent_getcb(bev, NULL, NULL, &ev, NULL);
        if (!ev) { /* evhttp dropped it while accepting */
            evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->watch);
            conn_free(c);
        } else {
            adopt(c);
        }
        bufferevent_decref(bev); /* the hold taken in new_conn */
        return;
    }
    if (c->evicting) {
        c->evicting = 0;
        int unread = 0; /* a request the kernel has and libevent has not read yet */
        if (c->state == GS_HEAD && !c->lookup_pending && !evbuffer_get_length(c->held) &&
            !evbuffer_get_length(bufferevent_get_input(c->bev)) && ioctl(c->fd, FIONREAD, &unread) == 0 &&
            unread == 0) {
            close_via_evhttp(c); /* frees c */
            return;
        }
        G.idle_closed--; /* busy again after all: kept, and another makes room */
        make_room();
    }
    switch (c->state) {
    case GS_HEAD:
        if (evbuffer_get_length(c->held)) { /* resume a pipelined request */
            struct evbuffer *in = bufferevent_get_input(c->bev);
            install(c);
            c->moving = 1;
            int rc = evbuffer_prepend_buffer(in, c->held); /* the input's end is frozen */
            c->moving = 0;
            if (rc < 0) {
                close_via_evhttp(c);
                break;
            }
            bufferevent_enable(c->bev, EV_READ);
            head_step(c);
        } else if (evbuffer_get_length(bufferevent_get_input(c->bev))) {
            refuse(c, 408, GATE_REFUSED_SLOW, "request_timeout", "the request header block took too long");
        }
        break;
    case GS_REFUSED:
        close_via_evhttp(c);
        break;
    default:
        break;
    }
}

/* evhttp's bevcb: every accepted connection passes here first. */
static struct bufferevent *new_conn(struct event_base *base, void *arg)
{
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct gate_conn *c = calloc(1, sizeof(*c));
    if (!bev || !c)
        goto fail;
    c->bev = bev;
    c->fd = -1;
    c->held = evbuffer_new();
    c->watch = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
    if (!c->held || !c->watch || event_assign(&c->timer, base, -1, 0, on_timer, c) < 0)
        goto fail;
    /* evhttp finishes accepting after this returns; adoption runs next in this loop pass (before any
     * read on the new socket), holding the bufferevent so it outlives a failed accept. */
    bufferevent_incref(bev);
    event_active(&c->timer, EV_TIMEOUT, 1);
    make_room();
    G.conns++;
    if (G.conns > G.peak_conns)
        G.peak_conns = G.conns;
    listener_update();
    return bev;
fail:
    if (c) {
        if (c->watch)
            evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->watch);
        if (c->held)
            evbuffer_free(c->held);
        free(c);
    }
    return bev; /* NULL lets evhttp make its own */
}

int gate_request_begin(struct evhttp_request *req, struct principal *who)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct gate_conn *c = evcon ? conn_of(evhttp_connection_get_bufferevent(evcon)) : NULL;
    if (!c)
        return 0;
    evhttp_request_set_on_complete_cb(req, on_complete, c);
    if (!c->who_set)
        return 0;
    *who = c->who;
    c->who_set = 0;
    return 1;
}

int gate_start(struct event_base *base, struct evhttp *http, struct evconnlistener *listener,
               const struct conf *c, const struct gate_policy *policy)
{
    G.conf = c;
    G.policy = policy;
    G.listener = listener;
    G.listener_on = 1;
    TAILQ_INIT(&G.idle);
    G.accept_resume = evtimer_new(base, on_accept_resume, NULL);
    G.trim = event_new(base, -1, EV_PERSIST, on_trim, NULL);
    if (!G.accept_resume || !G.trim)
        return -1;
    struct timeval tv = {GATE_TRIM_EVERY_MS / 1000, 0};
    if (event_add(G.trim, &tv) < 0)
        return -1;
    evconnlistener_set_error_cb(listener, on_accept_error);
    evhttp_set_bevcb(http, new_conn, NULL);
    return 0;
}

void gate_forget_listener(void)
{
    G.listener = NULL;
}

void gate_stats(struct gate_stats *out)
{
    out->connections = G.conns;
    out->body_bytes_reserved = G.reserved;
    out->accept_pauses = G.accept_pauses;
    out->idle_closed = G.idle_closed;
    memcpy(out->refused, G.refused, sizeof(out->refused));
}

void gate_free(void)
{
    if (G.accept_resume)
        event_free(G.accept_resume);
    if (G.trim)
        event_free(G.trim);
    G.accept_resume = G.trim = NULL;
    free(G.by_fd);
    G.by_fd = NULL;
    G.by_fd_len = 0;
}
