/*
 * hookd-pace: posts events to hookd at a fixed rate (or as fast as it can),
 * over keep-alive connections, and reports what it achieved.
 *
 *   hookd-pace --url http://127.0.0.1:8080/v1/events --token T
 *              [--rate N (0 = saturate)] [--seconds S] [--conns C] [--size B] [--type T]
 *              [--keys K (events carry ordering_key k0..k<K-1> in turn; 0: none)]
 *
 * --url, --token and --type may be comma-separated lists (several hookd
 * processes, several orgs, several endpoints of one org; the URLs differ
 * only in their port): connection i uses the i-th of each, round robin.
 *
 * Each payload carries "sent_us" (wall clock, microseconds) so hookd-sink can
 * measure producer-to-receiver delay. Latency is measured from the moment a
 * request was due, not when a connection was free (no coordinated omission).
 * Prints one JSON line: {sent, ok, errors, seconds, rate, p50_us, p99_us, max_us}.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PACE_MAX_PORTS 64
#define PACE_MAX_TOKENS 1024

struct conn {
    struct evhttp_connection *evcon;
    const char *auth, *type;
    int port;
    struct conn *next_idle;
    int64_t due_us;
};

static struct {
    struct event_base *base;
    char host[256], path[512], type[65536];
    char *auth[PACE_MAX_TOKENS], *types[PACE_MAX_TOKENS];
    int ports[PACE_MAX_PORTS], nports, nauth, ntypes;
    int conns, size, keys;
    double rate, seconds;
    int64_t start_us, end_us;
    long issued, done, ok, errors;
    struct conn *idle;
    uint32_t *lat; /* microseconds, one per answered request */
    size_t nlat, caplat;
    int stopping;
} P;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_one(struct conn *c, int64_t due);

static void on_done(struct evhttp_request *req, void *arg)
{
    struct conn *c = arg;
    int64_t lat = now_us() - c->due_us;
    P.done++;
    if (req && evhttp_request_get_response_code(req) / 100 == 2)
        P.ok++;
    else
        P.errors++;
    if (P.nlat == P.caplat) {
        P.caplat = P.caplat ? P.caplat * 2 : 1 << 16;
        P.lat = realloc(P.lat, P.caplat * sizeof(uint32_t));
        if (!P.lat)
            abort();
    }
    P.lat[P.nlat++] = (uint32_t)(lat > UINT32_MAX ? UINT32_MAX : lat);
    if (!req) { /* the connection failed: make a fresh one, to the same port */
        evhttp_connection_free(c->evcon);
        c->evcon = evhttp_connection_base_new(P.base, NULL, P.host, (unsigned short)c->port);
    }
    if (P.stopping) {
        if (P.done == P.issued)
            event_base_loopexit(P.base, NULL);
        return;
    }
    if (P.rate <= 0) {
        send_one(c, now_us());
        return;
    }
    c->next_idle = P.idle;
    P.idle = c;
}

static void send_one(struct conn *c, int64_t due)
{
    struct evhttp_request *req = evhttp_request_new(on_done, c);
    char head[128];
    int64_t t = now_us();
    c->due_us = due;
    int hl = snprintf(head, sizeof(head), "{\"type\":\"%s\",\"payload\":{\"sent_us\":%lld,\"pad\":\"", c->type,
                      (long long)t);
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evbuffer_add(out, head, (size_t)hl);
    int pad = P.size - hl - 3;
    static char xs[65536];
    if (!xs[0])
        memset(xs, 'x', sizeof(xs));
    if (pad > 0)
        evbuffer_add(out, xs, (size_t)(pad < 65536 ? pad : 65536));
    if (P.keys > 0)
        evbuffer_add_printf(out, "\"},\"ordering_key\":\"k%ld\"}", P.issued % P.keys);
    else
        evbuffer_add(out, "\"}}", 3);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", P.host);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Authorization", c->auth);
    P.issued++;
    /* libevent leaves Nagle on; a request then waits for the peer's delayed ACK */
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(c->evcon));
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, P.path) < 0) {
        P.errors++;
        P.done++;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    int64_t t = now_us();
    if (t >= P.end_us) {
        P.stopping = 1;
        if (P.done == P.issued)
            event_base_loopexit(P.base, NULL);
        return;
    }
    long want = (long)((double)(t - P.start_us) / 1e6 * P.rate) + 1; /* request k is due at k/rate */
    while (P.issued < want && P.idle) {
        struct conn *c = P.idle;
        P.idle = c->next_idle;
        /* the request was due at start + issued/rate */
        send_one(c, P.start_us + (int64_t)((double)P.issued / P.rate * 1e6));
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:8080/v1/events", *token = "";
    P.conns = 64;
    P.size = 1024;
    P.seconds = 5;
    strcpy(P.type, "bench");
    static const char usage[] =
        "usage: hookd-pace [--url URL] [--token T] [--rate N] [--seconds S] [--conns N] [--size BYTES] [--type T] [--keys K]\n"
        "  posts events at --rate per second (0: as fast as it can) for --seconds over --conns\n"
        "  keep-alive connections and prints {sent, ok, rate, p50_us, p99_us, ...} as JSON\n";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        }
    if (argc % 2 == 0) { /* every option takes a value */
        fprintf(stderr, "hookd-pace: %s needs a value\n%s", argv[argc - 1], usage);
        return 2;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url")) url = argv[i + 1];
        else if (!strcmp(argv[i], "--token")) token = argv[i + 1];
        else if (!strcmp(argv[i], "--rate")) P.rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) P.seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) P.conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) P.size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--keys")) P.keys = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--type")) snprintf(P.type, sizeof(P.type), "%s", argv[i + 1]);
        else {
            fprintf(stderr, "hookd-pace: unknown option %s\n%s", argv[i], usage);
            return 2;
        }
    }
    char *urls = strdup(url), *toks = strdup(token), *save = NULL;
    for (char *one = strtok_r(urls, ",", &save); one && P.nports < PACE_MAX_PORTS; one = strtok_r(NULL, ",", &save)) {
        struct evhttp_uri *u = evhttp_uri_parse(one);
        if (!u || !evhttp_uri_get_host(u)) {
            fprintf(stderr, "hookd-pace: bad url %s\n", one);
            return 2;
        }
        snprintf(P.host, sizeof(P.host), "%s", evhttp_uri_get_host(u));
        snprintf(P.path, sizeof(P.path), "%s", evhttp_uri_get_path(u) ? evhttp_uri_get_path(u) : "/");
        P.ports[P.nports++] = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
        evhttp_uri_free(u);
    }
    for (char *one = strtok_r(toks, ",", &save); one && P.nauth < PACE_MAX_TOKENS; one = strtok_r(NULL, ",", &save)) {
        P.auth[P.nauth] = malloc(strlen(one) + 8);
        sprintf(P.auth[P.nauth++], "Bearer %s", one);
    }
    for (char *one = strtok_r(P.type, ",", &save); one && P.ntypes < PACE_MAX_TOKENS; one = strtok_r(NULL, ",", &save))
        P.types[P.ntypes++] = one;
    if (!P.nports || !P.nauth || !P.ntypes) {
        fprintf(stderr, "hookd-pace: no url or no token\n");
        return 2;
    }
    P.base = event_base_new();
    P.start_us = now_us();
    P.end_us = P.start_us + (int64_t)(P.seconds * 1e6);
    for (int i = 0; i < P.conns; i++) {
        struct conn *c = calloc(1, sizeof(*c));
        c->port = P.ports[i % P.nports];
        c->evcon = evhttp_connection_base_new(P.base, NULL, P.host, (unsigned short)c->port);
        c->auth = P.auth[i % P.nauth];
        c->type = P.types[i % P.ntypes];
        if (P.rate <= 0) {
            send_one(c, now_us());
        } else {
            c->next_idle = P.idle;
            P.idle = c;
        }
    }
    struct event *tick = event_new(P.base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval ms = {0, 500};
    event_add(tick, &ms);
    event_base_dispatch(P.base);
    double secs = (double)(now_us() - P.start_us) / 1e6;
    qsort(P.lat, P.nlat, sizeof(uint32_t), cmp_u32);
    uint32_t p50 = P.nlat ? P.lat[P.nlat / 2] : 0, p99 = P.nlat ? P.lat[(size_t)(P.nlat * 0.99)] : 0,
             mx = P.nlat ? P.lat[P.nlat - 1] : 0;
    printf("{\"sent\":%ld,\"ok\":%ld,\"errors\":%ld,\"seconds\":%.3f,\"rate\":%.1f,"
           "\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u}\n",
           P.issued, P.ok, P.errors, secs, (double)P.ok / secs, p50, p99, mx);
    return 0;
}
