#include "reactor/delivery/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "reactor/delivery/egress_proxy.h"
#include "reactor/delivery/netaddr.h"
#include "store/crypto.h"
#include "store/ids.h"
#include "store/keys.h"

#define POOL_BUCKETS 256
#define POOL_KEY_MAX 320
#define MAX_HEADERS 32 /* hookd's own 7 and an endpoint's 20 */
#define CLIENT_MAX_HEADER_BYTES (64 * 1024) /* a receiver's response header block */

/* One outbound connection. Owned by the pool while idle and by its request
 * while busy; freed only from a deferred callback (never inside libevent's
 * own callbacks for it). */
struct conn {
    struct evhttp_connection *evcon;
    struct conn *next; /* idle list link */
    unsigned bucket;
    char key[POOL_KEY_MAX];
    int tls;
    int busy;
    int dead;
    size_t rx_bytes;                  /* bytes the connection received, in all */
    int tls_heard;                    /* the peer sent a TLS message (on_tls_msg) */
    struct evbuffer_cb_entry *rx_watch;
};

struct client_req {
    client_cb cb;
    void *arg;
    char *scheme, *host, *path; /* owned, one block with the headers */
    int port;
    int ip_literal;
    struct client_header hdrs[MAX_HEADERS];
    int nh;
    char *hdr_block;            /* owned copy of header strings */
    const char *body;           /* borrowed from the caller */
    size_t len;
    struct evdns_getaddrinfo_request *dns_req;
    int resolving;
    struct conn *conn;
    struct evhttp_request *ev_req;
    struct event *deadline;     /* whole-request timeout, also used to finish */
    struct event *connect_timer;
    int finished;
    int err_code;
    int have_err;
    size_t rx_mark;             /* conn->rx_bytes when this request was sent */
    int64_t start_mono_us;
    struct client_result res;
    SSL_CTX *tls_ctx;           /* the endpoint's own (a reference held), NULL: C.ssl_ctx */
    int keep_body;              /* client_keep_body(): res.body is filled (owned here) */
    char tls_id[17];            /* that material's short hash, in the pool key */
    struct tunnel *tunnel;      /* the egress proxy's tunnel being opened (egress_proxy.h) */
    char ip[INET6_ADDRSTRLEN];  /* the vetted address, while a tunnel to it opens */
};

#define TLS_CTX_CACHE 64

static struct {
    struct event_base *base;
    const struct conf *conf;
    struct evdns_base *dns;
    SSL_CTX *ssl_ctx;
    struct conn *idle[POOL_BUCKETS];
    struct {
        char id[65];            /* SHA-256 of the material */
        SSL_CTX *ctx;           /* one reference is the cache's */
        uint64_t used;
    } tls[TLS_CTX_CACHE];       /* endpoints' own TLS contexts, least recently used replaced */
    uint64_t tls_clock;
} C;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static unsigned key_bucket(const char *k) { return fnv1a(k) % POOL_BUCKETS; }

static void conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
    if (bev && c->rx_watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->rx_watch);
    evhttp_connection_free(c->evcon);
    free(c);
}

static void conn_free_later(struct conn *c)
{
    struct timeval zero = {0, 0};
    if (event_base_once(C.base, -1, EV_TIMEOUT, conn_free_cb, c, &zero) < 0) {
        /* cannot defer: leak rather than free inside libevent's callback */
        LOG_ERR("client: could not schedule connection free", NULL);
    }
}

static void idle_remove(struct conn *c)
{
    for (struct conn **p = &C.idle[c->bucket]; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            return;
        }
}

/* The peer or libevent closed it: never reuse (a TLS session in particular
 * cannot be resumed on the same SSL object). */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *c = arg;
    if (c->dead)
        return;
    c->dead = 1;
    if (!c->busy) {
        idle_remove(c);
        conn_free_later(c);
    }
}

static void conn_release(struct conn *c)
{
    c->busy = 0;
    if (c->dead) {
        conn_free_later(c);
        return;
    }
    c->next = C.idle[c->bucket];
    C.idle[c->bucket] = c;
}

static void finish(struct client_req *cr)
{
    if (cr->finished)
        return;
    cr->finished = 1;
    cr->res.seconds = (double)(mono_us() - cr->start_mono_us) / 1e6;
    struct timeval zero = {0, 0};
    event_add(cr->deadline, &zero); /* deliver from the loop, never re-entrantly */
}

static void fail(struct client_req *cr, enum attempt_error error)
{
    cr->res.error = error;
    cr->res.status = 0;
    finish(cr);
}

static void client_req_free(struct client_req *cr)
{
    free(cr->res.body);
    if (cr->tls_ctx)
        SSL_CTX_free(cr->tls_ctx); /* the request's reference */
    if (cr->deadline)
        event_free(cr->deadline);
    if (cr->connect_timer)
        event_free(cr->connect_timer);
    free(cr->hdr_block);
    free(cr);
}

static int tls_failed(struct client_req *cr)
{
    if (!cr->conn || !cr->conn->tls)
        return 0;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(cr->conn->evcon);
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    /* No TLS message ever came back (refused, reset, unreachable): the
     * connection failed before TLS could, whatever OpenSSL queued. */
    if (!cr->conn->tls_heard) {
        ERR_clear_error();
        return 0;
    }
    int bad = 0;
    if (bev) {
        unsigned long e;
        while ((e = bufferevent_get_openssl_error(bev)) != 0)
            bad = 1;
    }
    if (ssl && (SSL_get_verify_result(ssl) != X509_V_OK || ERR_peek_error() != 0))
        bad = 1;
    ERR_clear_error();
    return bad;
}

static void sanitize_head(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch >= 0x20 && ch < 0x7f) || ch == '\n' || ch == '\t' ? (char)ch : '?';
    }
    dst[n] = '\0';
}

static void on_req_error(enum evhttp_request_error err, void *arg)
{
    struct client_req *cr = arg;
    cr->err_code = (int)err;
    cr->have_err = 1;
}

static void on_response(struct evhttp_request *req, void *arg)
{
    struct client_req *cr = arg;
    cr->ev_req = NULL; /* libevent frees it after we return */
    if (cr->connect_timer)
        event_del(cr->connect_timer);
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code == 0) {
        if (tls_failed(cr))
            cr->res.error = ATTEMPT_FAILED_TLS;
        else if (cr->have_err && cr->err_code == EVREQ_HTTP_TIMEOUT)
            cr->res.error = ATTEMPT_CONNECTION_TIMEOUT;
        else if (cr->have_err && cr->err_code == EVREQ_HTTP_DATA_TOO_LONG)
            cr->res.error = ATTEMPT_RESPONSE_TOO_LARGE;
        /* evhttp reports a header block over its limit as an invalid
         * header: tell them apart by what arrived */
        else if (cr->have_err && cr->err_code == EVREQ_HTTP_INVALID_HEADER && cr->conn &&
                 cr->conn->rx_bytes - cr->rx_mark >= CLIENT_MAX_HEADER_BYTES)
            cr->res.error = ATTEMPT_RESPONSE_TOO_LARGE;
        else
            cr->res.error = ATTEMPT_DESTINATION_UNREACHABLE;
        cr->conn->dead = 1;
    } else {
        cr->res.status = code;
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        const char *ra = evhttp_find_header(h, "Retry-After");
        const char *wd = evhttp_find_header(h, "webhook-delivery");
        if (ra)
            snprintf(cr->res.retry_after, sizeof(cr->res.retry_after), "%s", ra);
        if (wd)
            snprintf(cr->res.webhook_delivery, sizeof(cr->res.webhook_delivery), "%s", wd);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n > CLIENT_BODY_HEAD)
            n = CLIENT_BODY_HEAD;
        char tmp[CLIENT_BODY_HEAD];
        n = (size_t)evbuffer_copyout(in, tmp, n);
        sanitize_head(cr->res.body_head, tmp, n);
        size_t all = evbuffer_get_length(in);
        if (cr->keep_body && (cr->res.body = malloc(all + 1))) {
            cr->res.body_len = (size_t)evbuffer_copyout(in, cr->res.body, all);
            cr->res.body[cr->res.body_len] = '\0';
        }
    }
    conn_release(cr->conn);
    cr->conn = NULL;
    finish(cr);
}

/* Abandon the request in flight on cr's connection: libevent forgets it,
 * and the connection, whose state is now unknown, is closed (later: we may
 * be inside its own callback). */
static void request_abandon(struct client_req *cr)
{
    evhttp_cancel_request(cr->ev_req);
    cr->ev_req = NULL;
    cr->conn->busy = 0;
    cr->conn->dead = 1;
    conn_free_later(cr->conn);
    cr->conn = NULL;
}

/* connect_timeout: a connection that has no peer by then is given up. */
static void on_connect_timer(evutil_socket_t fd, short what, void *arg)
{
    struct client_req *cr = arg;
    if (cr->finished || !cr->conn || !cr->ev_req)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(cr->conn->evcon);
    evutil_socket_t s = bev ? bufferevent_getfd(bev) : -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (s >= 0 && getpeername(s, (struct sockaddr *)&ss, &sl) == 0)
        return; /* connected; the whole-request deadline still applies */
    request_abandon(cr);
    fail(cr, ATTEMPT_CONNECTION_TIMEOUT);
}

static void on_rx(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *c = arg;
    c->rx_bytes += info->n_added;
}

/* OpenSSL's message callback: a record from the peer means the connection
 * was up, so a failure from here on is TLS's. */
static void on_tls_msg(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
    struct conn *c = SSL_get_app_data(ssl);
    if (!write_p && c)
        c->tls_heard = 1;
}

/* A connection for cr, made to ip:port (the receiver, or a tunnel's local end). */
static struct conn *conn_new(struct client_req *cr, const char *ip, int port, const char *key, unsigned bucket)
{
    struct conn *c = calloc(1, sizeof(*c));
    SSL *ssl = NULL;
    struct bufferevent *bev = NULL;
    if (!c)
        return NULL;
    c->tls = strcmp(cr->scheme, "https") == 0;
    c->bucket = bucket;
    snprintf(c->key, sizeof(c->key), "%s", key);
    if (c->tls) {
        ssl = SSL_new(cr->tls_ctx ? cr->tls_ctx : C.ssl_ctx);
        if (!ssl || SSL_set_app_data(ssl, c) != 1)
            goto fail;
        SSL_set_msg_callback(ssl, on_tls_msg);
        if (cr->ip_literal) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), cr->host) != 1)
                goto fail;
        } else if (SSL_set_tlsext_host_name(ssl, cr->host) != 1 || SSL_set1_host(ssl, cr->host) != 1) {
            goto fail;
        }
        bev = bufferevent_openssl_socket_new(C.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev)
            goto fail;
        ssl = NULL; /* the bufferevent owns it now */
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    c->evcon = evhttp_connection_base_bufferevent_new(C.base, C.dns, bev, ip, (unsigned short)port);
    if (!c->evcon)
        goto fail;
    bev = NULL; /* owned by the connection */
    struct timeval tv = {C.conf->request_timeout_ms / 1000, (C.conf->request_timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(c->evcon, &tv);
    evhttp_connection_set_retries(c->evcon, 0);
    evhttp_connection_set_max_body_size(c->evcon, C.conf->response_max_bytes);
    evhttp_connection_set_max_headers_size(c->evcon, CLIENT_MAX_HEADER_BYTES);
    struct bufferevent *cbev = evhttp_connection_get_bufferevent(c->evcon);
    c->rx_watch = cbev ? evbuffer_add_cb(bufferevent_get_input(cbev), on_rx, c) : NULL;
    evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
    return c;
fail:
    if (bev)
        bufferevent_free(bev);
    if (ssl)
        SSL_free(ssl);
    free(c);
    return NULL;
}

static void pool_key(const struct client_req *cr, const char *ip, char key[POOL_KEY_MAX])
{
    snprintf(key, POOL_KEY_MAX, "%s|%s|%s|%d|%s", cr->scheme, cr->host, ip, cr->port, cr->tls_id);
}

static struct conn *conn_idle(const char *key, unsigned b, int take)
{
    for (struct conn **p = &C.idle[b]; *p; p = &(*p)->next) {
        if (strcmp((*p)->key, key) == 0) {
            struct conn *c = *p;
            if (take) {
                *p = c->next;
                c->busy = 1;
            }
            return c;
        }
    }
    return NULL;
}

/* An idle connection to ip, else a new one made to via_port on 127.0.0.1
 * (a tunnel) or, when via_port is 0, to ip itself. */
static struct conn *conn_get(struct client_req *cr, const char *ip, int via_port, int *fresh)
{
    char key[POOL_KEY_MAX];
    pool_key(cr, ip, key);
    unsigned b = key_bucket(key);
    struct conn *c = conn_idle(key, b, 1);
    if (c) {
        *fresh = 0;
        return c;
    }
    c = via_port ? conn_new(cr, "127.0.0.1", via_port, key, b) : conn_new(cr, ip, cr->port, key, b);
    if (c) {
        c->busy = 1;
        *fresh = 1;
    }
    return c;
}

static void send_on(struct client_req *cr, const char *ip, int via_port)
{
    int fresh = 0;
    cr->conn = conn_get(cr, ip, via_port, &fresh);
    if (!cr->conn) {
        fail(cr, ATTEMPT_DESTINATION_UNREACHABLE);
        return;
    }
    cr->rx_mark = cr->conn->rx_bytes;
    struct evhttp_request *req = evhttp_request_new(on_response, cr);
    if (!req) {
        conn_release(cr->conn);
        cr->conn = NULL;
        fail(cr, ATTEMPT_DESTINATION_UNREACHABLE);
        return;
    }
    evhttp_request_set_error_cb(req, on_req_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    int dflt = cr->port == (strcmp(cr->scheme, "https") == 0 ? 443 : 80);
    snprintf(hostport, sizeof(hostport), strchr(cr->host, ':') ? "[%s]" : "%s", cr->host);
    if (!dflt)
        snprintf(hostport + strlen(hostport), sizeof(hostport) - strlen(hostport), ":%d", cr->port);
    evhttp_add_header(h, "Host", hostport); /* libevent 2.1 adds none for us */
    for (int i = 0; i < cr->nh; i++)
        evhttp_add_header(h, cr->hdrs[i].name, cr->hdrs[i].value);
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), cr->body, cr->len, NULL, NULL);
    cr->ev_req = req;
    if (evhttp_make_request(cr->conn->evcon, req, EVHTTP_REQ_POST, cr->path) < 0) {
        cr->ev_req = NULL; /* libevent freed it */
        cr->conn->dead = 1;
        conn_release(cr->conn);
        cr->conn = NULL;
        fail(cr, ATTEMPT_DESTINATION_UNREACHABLE);
        return;
    }
    if (fresh) {
        struct timeval tv = {C.conf->connect_timeout_ms / 1000, (C.conf->connect_timeout_ms % 1000) * 1000};
        cr->connect_timer = evtimer_new(C.base, on_connect_timer, cr);
        if (cr->connect_timer)
            evtimer_add(cr->connect_timer, &tv);
    }
}

/* The proxy's tunnel is up (or not): connect evhttp to its local end and
 * name that socket, so the tunnel splices only it. */
static void on_tunnel(struct tunnel *t, int ok, int port, void *arg)
{
    struct client_req *cr = arg;
    cr->tunnel = NULL;
    if (!ok) {
        fail(cr, ATTEMPT_PROXY_ERROR);
        return;
    }
    send_on(cr, cr->ip, port);
    struct bufferevent *bev = cr->conn ? evhttp_connection_get_bufferevent(cr->conn->evcon) : NULL;
    tunnel_attach(t, bev ? bufferevent_getfd(bev) : -1);
}

/* Through the egress proxy: a pooled connection (already tunnelled) when
 * there is one, else a new tunnel to the vetted address. */
static void send_via_proxy(struct client_req *cr, const char *ip)
{
    char key[POOL_KEY_MAX];
    pool_key(cr, ip, key);
    if (conn_idle(key, key_bucket(key), 0)) {
        send_on(cr, ip, 0);
        return;
    }
    snprintf(cr->ip, sizeof(cr->ip), "%s", ip);
    cr->tunnel = tunnel_open(ip, cr->port, on_tunnel, cr);
    if (!cr->tunnel)
        fail(cr, ATTEMPT_PROXY_ERROR);
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    if (result == EVUTIL_EAI_CANCEL)
        return; /* the request was abandoned; arg may be gone */
    struct client_req *cr = arg;
    cr->dns_req = NULL;
    cr->resolving = 0;
    if (result != 0 || !res) {
        if (res)
            evutil_freeaddrinfo(res);
        fail(cr, ATTEMPT_DNS_LOOKUP_FAILED);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    for (struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
        uint8_t a[16];
        if (netaddr_from_sockaddr(ai->ai_addr, a) < 0 || !netaddr_permitted(C.conf, a))
            continue;
        if (ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof(ip));
        break;
    }
    evutil_freeaddrinfo(res);
    if (!ip[0]) {
        fail(cr, ATTEMPT_PRIVATE_URI);
        return;
    }
    if (egress_proxy_enabled())
        send_via_proxy(cr, ip);
    else
        send_on(cr, ip, 0);
}

/* The deadline event both ends a request that ran out of time and delivers
 * the result of one that finished (finish() fires it at once). */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct client_req *cr = arg;
    if (!cr->finished) {
        if (cr->dns_req) {
            struct evdns_getaddrinfo_request *d = cr->dns_req;
            cr->dns_req = NULL;
            evdns_getaddrinfo_cancel(d);
        }
        if (cr->ev_req)
            request_abandon(cr);
        cr->res.error = cr->resolving ? ATTEMPT_DNS_LOOKUP_FAILED
                        : cr->tunnel  ? ATTEMPT_PROXY_ERROR
                                      : ATTEMPT_CONNECTION_TIMEOUT;
        tunnel_abandon(cr->tunnel);
        cr->tunnel = NULL;
        cr->res.status = 0;
        cr->finished = 1;
        cr->res.seconds = (double)(mono_us() - cr->start_mono_us) / 1e6;
    }
    cr->cb(&cr->res, cr->arg);
    client_req_free(cr);
}

static int parse_target(struct client_req *cr, const char *url, const struct client_header *h, int nh)
{
    struct evhttp_uri *u = evhttp_uri_parse_with_flags(url, 0);
    if (!u)
        return -1;
    const char *scheme = evhttp_uri_get_scheme(u), *host = evhttp_uri_get_host(u),
               *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
    int port = evhttp_uri_get_port(u);
    size_t need = 0;
    if (!scheme || !host || !*host) {
        evhttp_uri_free(u);
        return -1;
    }
    for (int i = 0; i < nh; i++)
        need += strlen(h[i].name) + strlen(h[i].value) + 2;
    need += strlen(scheme) + strlen(host) + (path ? strlen(path) : 0) + (query ? strlen(query) : 0) + 8;
    char *p = cr->hdr_block = malloc(need);
    if (!p) {
        evhttp_uri_free(u);
        return -1;
    }
#define COPY(dst, s) do { size_t l_ = strlen(s); memcpy(p, s, l_ + 1); dst = p; p += l_ + 1; } while (0)
    for (int i = 0; i < nh; i++) {
        COPY(cr->hdrs[i].name, h[i].name);
        COPY(cr->hdrs[i].value, h[i].value);
    }
    cr->nh = nh;
    COPY(cr->scheme, scheme);
    if (host[0] == '[') { /* bracketed IPv6 literal */
        size_t l = strlen(host);
        memcpy(p, host + 1, l - 2);
        p[l - 2] = '\0';
        cr->host = p;
        p += l - 1;
    } else {
        COPY(cr->host, host);
    }
    cr->path = p;
    p += sprintf(p, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "") + 1;
#undef COPY
    cr->port = port > 0 ? port : strcmp(scheme, "https") == 0 ? 443 : 80;
    struct in6_addr tmp;
    cr->ip_literal = inet_pton(AF_INET, cr->host, &tmp) == 1 || inet_pton(AF_INET6, cr->host, &tmp) == 1;
    evhttp_uri_free(u);
    return 0;
}

/* An SSL_CTX made from the endpoint's material: its CA bundle alone as
 * the trust store (else the system's and ca_file), its certificate chain
 * and key. NULL with the reason logged when it does not load. */
static SSL_CTX *tls_ctx_build(const struct client_tls *t)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    BIO *b = NULL;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        goto fail;
    if (t->ca && t->ca[0]) {
        X509_STORE *st = SSL_CTX_get_cert_store(ctx);
        int n = 0;
        if (!(b = BIO_new_mem_buf(t->ca, -1)))
            goto fail;
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
            if (X509_STORE_add_cert(st, x) != 1)
                goto fail;
            X509_free(x);
            x = NULL;
            n++;
        }
        ERR_clear_error();
        BIO_free(b);
        b = NULL;
        if (n == 0)
            goto fail;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1 ||
               (C.conf->ca_file[0] && SSL_CTX_load_verify_locations(ctx, C.conf->ca_file, NULL) != 1)) {
        goto fail;
    }
    if (t->cert && t->cert[0]) {
        if (!(b = BIO_new_mem_buf(t->cert, -1)) || !(x = PEM_read_bio_X509(b, NULL, NULL, NULL)) ||
            SSL_CTX_use_certificate(ctx, x) != 1)
            goto fail;
        X509_free(x);
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) /* the rest of the chain */
            if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
                goto fail;
        ERR_clear_error();
        BIO_free(b);
        if (!(b = BIO_new_mem_buf(t->key, -1)) || !(k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) ||
            SSL_CTX_use_PrivateKey(ctx, k) != 1 || SSL_CTX_check_private_key(ctx) != 1)
            goto fail;
        EVP_PKEY_free(k);
        k = NULL;
        BIO_free(b);
        b = NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return ctx;
fail:
    LOG_WARNING("client: an endpoint's TLS material does not load", NULL);
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(b);
    SSL_CTX_free(ctx);
    return NULL;
}

/* The context for an endpoint's material, from the cache or built (a
 * reference for the request); its id goes in the pool key. */
static SSL_CTX *tls_ctx_for(const struct client_tls *t, char id_out[17])
{
    char id[65];
    size_t a = t->ca ? strlen(t->ca) : 0, b = t->cert ? strlen(t->cert) : 0, c = t->key ? strlen(t->key) : 0;
    char *all = malloc(a + b + c + 3);
    if (!all)
        return NULL;
    snprintf(all, a + b + c + 3, "%s\n%s\n%s", t->ca ? t->ca : "", t->cert ? t->cert : "", t->key ? t->key : "");
    int rc = sha256_hex(all, strlen(all), id);
    OPENSSL_cleanse(all, a + b + c + 3);
    free(all);
    if (rc < 0)
        return NULL;
    int slot = 0;
    for (int i = 0; i < TLS_CTX_CACHE; i++) {
        if (C.tls[i].ctx && strcmp(C.tls[i].id, id) == 0) {
            slot = i;
            goto found;
        }
        if (!C.tls[i].ctx || C.tls[i].used < C.tls[slot].used)
            slot = i;
        if (!C.tls[slot].ctx)
            break;
    }
    SSL_CTX *ctx = tls_ctx_build(t);
    if (!ctx)
        return NULL;
    if (C.tls[slot].ctx)
        SSL_CTX_free(C.tls[slot].ctx); /* connections still using it hold their own references */
    C.tls[slot].ctx = ctx;
    snprintf(C.tls[slot].id, sizeof(C.tls[slot].id), "%s", id);
found:
    C.tls[slot].used = ++C.tls_clock;
    if (SSL_CTX_up_ref(C.tls[slot].ctx) != 1)
        return NULL;
    memcpy(id_out, id, 16);
    id_out[16] = '\0';
    return C.tls[slot].ctx;
}

struct client_req *client_post(const char *url, const struct client_header *h, int nh,
                               const char *body, size_t len, const struct client_tls *tls, client_cb cb, void *arg)
{
    if (nh > MAX_HEADERS)
        return NULL;
    struct client_req *cr = calloc(1, sizeof(*cr));
    if (!cr)
        return NULL;
    cr->cb = cb;
    cr->arg = arg;
    cr->body = body;
    cr->len = len;
    cr->start_mono_us = mono_us();
    cr->res.started_ms = now_ms();
    cr->deadline = evtimer_new(C.base, on_deadline, cr);
    if (!cr->deadline) {
        client_req_free(cr);
        return NULL;
    }
    struct timeval tv = {C.conf->request_timeout_ms / 1000, (C.conf->request_timeout_ms % 1000) * 1000};
    evtimer_add(cr->deadline, &tv);
    if (tls && ((tls->ca && tls->ca[0]) || (tls->cert && tls->cert[0])) &&
        !(cr->tls_ctx = tls_ctx_for(tls, cr->tls_id))) {
        fail(cr, ATTEMPT_FAILED_TLS);
        return cr;
    }
    if (parse_target(cr, url, h, nh) < 0) {
        fail(cr, ATTEMPT_DESTINATION_UNREACHABLE);
        return cr;
    }
    char port[8];
    snprintf(port, sizeof(port), "%d", cr->port);
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    cr->resolving = 1;
    /* may run on_resolved before returning (literals, hosts file, cache) */
    struct evdns_getaddrinfo_request *d = evdns_getaddrinfo(C.dns, cr->host, port, &hints, on_resolved, cr);
    if (cr->resolving)
        cr->dns_req = d;
    return cr;
}

void client_keep_body(struct client_req *cr)
{
    cr->keep_body = 1;
}

void client_cancel(struct client_req *cr)
{
    if (cr->dns_req)
        evdns_getaddrinfo_cancel(cr->dns_req);
    tunnel_abandon(cr->tunnel);
    if (cr->ev_req)
        request_abandon(cr);
    else if (cr->conn)
        conn_release(cr->conn);
    client_req_free(cr);
}

int client_init(struct event_base *base, const struct conf *c)
{
    memset(&C, 0, sizeof(C));
    C.base = base;
    C.conf = c;
    C.dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!C.dns) {
        /* no usable resolv.conf: keep the hosts file, fail other lookups fast */
        C.dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!C.dns || evdns_base_load_hosts(C.dns, NULL) < 0)
            return -1;
    }
    evdns_base_set_option(C.dns, "timeout:", "2");
    evdns_base_set_option(C.dns, "attempts:", "2");
    C.ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!C.ssl_ctx)
        return -1;
    if (SSL_CTX_set_min_proto_version(C.ssl_ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_default_verify_paths(C.ssl_ctx) != 1)
        return -1;
    if (c->ca_file[0] && SSL_CTX_load_verify_locations(C.ssl_ctx, c->ca_file, NULL) != 1) {
        LOG_ERR("client: cannot load ca_file", "path", c->ca_file, NULL);
        return -1;
    }
    SSL_CTX_set_verify(C.ssl_ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_options(C.ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return egress_proxy_init(base, c);
}

int client_check_ca_file(const char *path, char *why, size_t len)
{
    if (!path[0])
        return 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int ok = ctx && SSL_CTX_load_verify_locations(ctx, path, NULL) == 1;
    if (!ok) {
        unsigned long e = ERR_peek_last_error();
        snprintf(why, len, "cannot load '%s' as a PEM CA bundle (%s)", path,
                 e ? ERR_reason_error_string(e) : "unreadable");
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return ok ? 0 : -1;
}

void client_free(void)
{
    for (int b = 0; b < POOL_BUCKETS; b++)
        while (C.idle[b]) {
            struct conn *c = C.idle[b];
            C.idle[b] = c->next;
            evhttp_connection_free(c->evcon);
            free(c);
        }
    egress_proxy_free();
    if (C.dns)
        evdns_base_free(C.dns, 0);
    if (C.ssl_ctx)
        SSL_CTX_free(C.ssl_ctx);
    for (int i = 0; i < TLS_CTX_CACHE; i++)
        if (C.tls[i].ctx)
            SSL_CTX_free(C.tls[i].ctx);
    memset(&C, 0, sizeof(C));
}
