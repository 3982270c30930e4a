#include "reactor/delivery/egress_proxy.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/log.h"

#define REPLY_MAX 16384         /* the proxy's answer to CONNECT, headers included */
#define SPLICE_HIGH (256 * 1024)  /* bytes queued toward one side before reading the other pauses */

struct tunnel {
    struct bufferevent *proxy;  /* our connection to the proxy (owned) */
    struct bufferevent *local;  /* evhttp's connection, once accepted (owned) */
    struct evconnlistener *listener;
    struct event *timer;        /* connect_timeout for each phase; a zero timer for an early failure */
    struct sockaddr_storage expect; /* the only peer accepted (tunnel_attach) */
    socklen_t expect_len;
    tunnel_cb cb;               /* NULL once it ran or the client abandoned the tunnel */
    void *arg;
    int closing;                /* one side has closed: flush the other, then free */
    struct tunnel *prev, *next; /* every live tunnel, so shutdown frees them */
};

static struct {
    struct event_base *base;
    const struct conf *conf;
    struct sockaddr_storage addr; /* the proxy, resolved at start-up */
    socklen_t addr_len;
    int enabled;
    struct tunnel *live;
} X;

static void tunnel_free(struct tunnel *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        X.live = t->next;
    if (t->next)
        t->next->prev = t->prev;
    if (t->proxy)
        bufferevent_free(t->proxy);
    if (t->local)
        bufferevent_free(t->local);
    if (t->listener)
        evconnlistener_free(t->listener);
    if (t->timer)
        event_free(t->timer);
    free(t);
}

/* The answer to the client: ok with a port, or a proxy_error (then freed). */
static void report(struct tunnel *t, int ok, int port)
{
    tunnel_cb cb = t->cb;
    t->cb = NULL;
    if (!ok) {
        if (cb)
            cb(t, 0, 0, t->arg);
        tunnel_free(t);
        return;
    }
    cb(t, 1, port, t->arg);
}

static void arm(struct tunnel *t, int64_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(t->timer, &tv);
}

/* A phase ran out of time (or an early failure was deferred to here). */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    if (t->cb) {
        LOG_WARNING("egress proxy: no tunnel in time", NULL);
        report(t, 0, 0);
    } else {
        tunnel_free(t); /* nobody connected to the listener */
    }
}

static struct bufferevent *other_side(struct tunnel *t, struct bufferevent *bev)
{
    return bev == t->local ? t->proxy : t->local;
}

static void splice_read(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    struct bufferevent *to = other_side(t, bev);
    if (!to || evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(bev)) < 0)
        return;
    if (evbuffer_get_length(bufferevent_get_output(to)) > SPLICE_HIGH)
        bufferevent_disable(bev, EV_READ); /* resumed by splice_drained */
}

/* The side `bev` has written what was queued toward it. */
static void splice_drained(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    if (t->closing) {
        tunnel_free(t);
        return;
    }
    struct bufferevent *from = other_side(t, bev);
    if (from)
        bufferevent_enable(from, EV_READ);
}

static void splice_event(struct bufferevent *bev, short what, void *arg)
{
    struct tunnel *t = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    struct bufferevent *to = other_side(t, bev);
    if (to)
        evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(bev));
    bufferevent_free(bev);
    if (bev == t->local)
        t->local = NULL;
    else
        t->proxy = NULL;
    if (!to || evbuffer_get_length(bufferevent_get_output(to)) == 0) {
        tunnel_free(t);
        return;
    }
    t->closing = 1; /* splice_drained frees it once `to` has written the rest */
    bufferevent_disable(to, EV_READ);
}

static int same_peer(const struct tunnel *t, const struct sockaddr *sa, int len)
{
    return t->expect_len > 0 && (socklen_t)len == t->expect_len && memcmp(sa, &t->expect, t->expect_len) == 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
    struct tunnel *t = arg;
    if (!same_peer(t, sa, len)) {
        evutil_closesocket(fd); /* not the connection the client made */
        return;
    }
    evconnlistener_free(t->listener);
    t->listener = NULL;
    event_del(t->timer);
    t->local = bufferevent_socket_new(X.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!t->local) {
        evutil_closesocket(fd);
        tunnel_free(t);
        return;
    }
    bufferevent_setcb(t->local, splice_read, splice_drained, splice_event, t);
    bufferevent_setcb(t->proxy, splice_read, splice_drained, splice_event, t);
    if (bufferevent_enable(t->local, EV_READ) < 0 || bufferevent_enable(t->proxy, EV_READ) < 0) {
        tunnel_free(t);
        return;
    }
    splice_read(t->proxy, t); /* anything the proxy sent after its 200 */
}

/* The proxy answered 2xx: listen for the client's connection. */
static void listen_for_client(struct tunnel *t)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->listener = evconnlistener_new_bind(X.base, on_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 4,
                                          (struct sockaddr *)&sin, sizeof(sin));
    socklen_t sl = sizeof(sin);
    if (!t->listener || getsockname(evconnlistener_get_fd(t->listener), (struct sockaddr *)&sin, &sl) < 0) {
        LOG_ERR("egress proxy: cannot listen on 127.0.0.1 for a tunnel", NULL);
        report(t, 0, 0);
        return;
    }
    bufferevent_disable(t->proxy, EV_READ); /* until the client's connection is spliced to it */
    arm(t, X.conf->connect_timeout_ms);
    report(t, 1, ntohs(sin.sin_port));
}

/* The proxy's answer to CONNECT: a status line and headers. */
static void on_reply(struct bufferevent *bev, void *arg)
{
    struct tunnel *t = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > REPLY_MAX) {
            LOG_WARNING("egress proxy: answer to CONNECT too long", NULL);
            report(t, 0, 0);
        }
        return;
    }
    char line[64] = "";
    size_t n = evbuffer_copyout(in, line, sizeof(line) - 1) > 0 ? strcspn(line, "\r") : 0;
    line[n] = '\0';
    evbuffer_drain(in, (size_t)end.pos + 4);
    /* "HTTP/1.x 2xx ...": nothing else opens a tunnel */
    if (n < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' || line[9] != '2') {
        char code[4] = {n >= 12 ? line[9] : '?', n >= 12 ? line[10] : '?', n >= 12 ? line[11] : '?', '\0'};
        LOG_WARNING("egress proxy refused the tunnel", "status", code, NULL);
        report(t, 0, 0);
        return;
    }
    listen_for_client(t);
}

static void on_proxy_event(struct bufferevent *bev, short what, void *arg)
{
    struct tunnel *t = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        LOG_WARNING("egress proxy: connection failed or closed before the tunnel", NULL);
        report(t, 0, 0);
    }
}

struct tunnel *tunnel_open(const char *ip, int port, tunnel_cb cb, void *arg)
{
    struct tunnel *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->cb = cb;
    t->arg = arg;
    t->next = X.live;
    if (X.live)
        X.live->prev = t;
    X.live = t;
    t->timer = evtimer_new(X.base, on_timer, t);
    t->proxy = bufferevent_socket_new(X.base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!t->timer || !t->proxy) {
        tunnel_free(t);
        return NULL;
    }
    bufferevent_setcb(t->proxy, on_reply, NULL, on_proxy_event, t);
    char target[INET6_ADDRSTRLEN + 16];
    snprintf(target, sizeof(target), strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
    struct evbuffer *out = bufferevent_get_output(t->proxy);
    int rc = evbuffer_add_printf(out, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target, target);
    if (rc >= 0 && X.conf->proxy_authorization[0])
        rc = evbuffer_add_printf(out, "Proxy-Authorization: %s\r\n", X.conf->proxy_authorization);
    if (rc >= 0)
        rc = evbuffer_add(out, "\r\n", 2);
    if (rc < 0 || bufferevent_enable(t->proxy, EV_READ) < 0 ||
        bufferevent_socket_connect(t->proxy, (struct sockaddr *)&X.addr, (int)X.addr_len) < 0) {
        /* answered from the loop, never inside tunnel_open */
        LOG_WARNING("egress proxy: cannot connect", NULL);
        arm(t, 0);
        return t;
    }
    arm(t, X.conf->connect_timeout_ms);
    return t;
}

void tunnel_attach(struct tunnel *t, evutil_socket_t fd)
{
    t->expect_len = sizeof(t->expect);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&t->expect, &t->expect_len) < 0)
        t->expect_len = 0; /* accepts nobody; the timer frees it */
}

void tunnel_abandon(struct tunnel *t)
{
    if (t)
        tunnel_free(t);
}

int egress_proxy_init(struct event_base *base, const struct conf *c)
{
    memset(&X, 0, sizeof(X));
    X.base = base;
    X.conf = c;
    if (!c->proxy_host)
        return 0;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    char port[8];
    snprintf(port, sizeof(port), "%d", c->proxy_port);
    int rc = getaddrinfo(c->proxy_host, port, &hints, &res); /* once, before the loop runs */
    if (rc != 0 || !res || res->ai_addrlen > sizeof(X.addr)) {
        LOG_ERR("egress_proxy: cannot resolve the proxy's host", "host", c->proxy_host, NULL);
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    memcpy(&X.addr, res->ai_addr, res->ai_addrlen);
    X.addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    X.enabled = 1;
    LOG_INFO("deliveries go through an egress proxy", "host", c->proxy_host, NULL);
    return 0;
}

int egress_proxy_enabled(void)
{
    return X.enabled;
}

void egress_proxy_free(void)
{
    while (X.live)
        tunnel_free(X.live);
    memset(&X, 0, sizeof(X));
}
