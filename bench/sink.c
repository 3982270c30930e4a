/*
 * hookd-sink: a webhook receiver for demos and benchmarks. Answers every
 * POST with 200 over keep-alive, and counts.
 *   hookd-sink [--port N] [--verbose] [--delay-ms N] [--secret whsec_... | --public-key whpk_...]
 * --verbose  prints each request's webhook headers and body (demos)
 * --secret   checks each request's Standard Webhooks signature against the
 *            endpoint's secret and prints (with --verbose) and counts the verdict
 * --delay-ms holds each answer that long (deliveries stay in flight)
 * GET /stats answers {received, delay_p50_us, delay_p99_us, delay_max_us},
 *   the delay being receive time minus the payload's "sent_us" (hookd-pace);
 * GET /reset clears the counters; GET /delay?ms=N changes --delay-ms.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reactor/delivery/signing.h"
#include "store/crypto.h"

static unsigned long long received, bad_signatures;
static const char *secret, *public_key;
static int verbose, delay_ms;
static struct event_base *base;
static uint32_t *delays;
static size_t ndelays, capdelays;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void answer_stats(struct evhttp_request *req)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    if (ndelays)
        qsort(delays, ndelays, sizeof(uint32_t), cmp_u32);
    evbuffer_add_printf(out, "{\"received\":%llu,\"bad_signatures\":%llu,\"delay_p50_us\":%u,"
                        "\"delay_p99_us\":%u,\"delay_max_us\":%u}\n",
                        received, bad_signatures, ndelays ? delays[ndelays / 2] : 0,
                        ndelays ? delays[(size_t)(ndelays * 0.99)] : 0, ndelays ? delays[ndelays - 1] : 0);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void reply_ok(evutil_socket_t fd, short what, void *arg)
{
    struct evhttp_request *req = arg;
    evbuffer_add(evhttp_request_get_output_buffer(req), "ok", 2);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void record_delay(struct evbuffer *in)
{
    size_t n = evbuffer_get_length(in);
    const char *body = (const char *)evbuffer_pullup(in, n < 256 ? (ev_ssize_t)n : 256);
    const char *p = body ? memmem(body, n < 256 ? n : 256, "\"sent_us\":", 10) : NULL;
    if (!p)
        return;
    long long sent = strtoll(p + 10, NULL, 10), d = now_us() - sent;
    if (d < 0)
        d = 0;
    if (ndelays == capdelays) {
        capdelays = capdelays ? capdelays * 2 : 1 << 16;
        delays = realloc(delays, capdelays * sizeof(uint32_t));
        if (!delays)
            abort();
    }
    delays[ndelays++] = (uint32_t)(d > UINT32_MAX ? UINT32_MAX : d);
}

/* 1 when one of the request's signatures is what --secret makes of it. */
static int signature_verifies(struct evhttp_request *req, struct evbuffer *in)
{
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *id = evhttp_find_header(h, "webhook-id"), *ts = evhttp_find_header(h, "webhook-timestamp");
    const char *sigs = evhttp_find_header(h, "webhook-signature");
    char want[SIGNATURE_MAX];
    size_t n = evbuffer_get_length(in);
    if (!id || !ts || !sigs)
        return 0;
    const char *body = (const char *)evbuffer_pullup(in, -1);
    if (public_key) { /* v1a: any Ed25519 signature the public key verifies */
        const void *parts[] = {id, ".", ts, ".", body ? body : ""};
        size_t lens[] = {strlen(id), 1, strlen(ts), 1, n};
        for (const char *p = strstr(sigs, "v1a,"); p; p = strstr(p + 4, "v1a,")) {
            char one[100];
            size_t l = strcspn(p + 4, " ");
            if (l >= sizeof(one))
                continue;
            memcpy(one, p + 4, l);
            one[l] = '\0';
            if (ed25519_verify(public_key, parts, lens, 5, one) == 1)
                return 1;
        }
        return 0;
    }
    struct sig_keys k = {SIG_V1, secret, NULL, NULL, NULL};
    if (sign_payload(id, strtoll(ts, NULL, 10), body, n, &k, want) < 0)
        return 0;
    size_t wl = strlen(want);
    for (const char *p = sigs; (p = strstr(p, want)) != NULL; p += wl)
        if ((p == sigs || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
            return 1;
    return 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        if (strcmp(uri, "/stats") == 0) {
            answer_stats(req);
            return;
        }
        if (strcmp(uri, "/reset") == 0) {
            received = 0;
            ndelays = 0;
        } else if (strncmp(uri, "/delay?ms=", 10) == 0) {
            delay_ms = atoi(uri + 10);
        }
        evhttp_send_reply(req, 200, "OK", NULL);
        return;
    }
    received++;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    record_delay(in);
    int verified = secret || public_key ? signature_verifies(req, in) : -1;
    if (verified == 0)
        bad_signatures++;
    if (verbose) {
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        size_t n = evbuffer_get_length(in);
        const char *names[] = {"webhook-id", "webhook-timestamp", "webhook-signature", "webhook-delivery-id"};
        printf("POST %s\n", uri);
        for (int i = 0; i < 4; i++) {
            const char *v = evhttp_find_header(h, names[i]);
            if (v)
                printf("  %s: %s\n", names[i], v);
        }
        printf("  body: %.*s\n", (int)(n > 2048 ? 2048 : n), (const char *)evbuffer_pullup(in, -1));
        if (verified >= 0)
            printf("  signature: %s\n", verified ? "verified" : "INVALID (no signature matches --secret or --public-key)");
        fflush(stdout);
    }
    if (delay_ms > 0) {
        struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
        if (event_base_once(base, -1, EV_TIMEOUT, reply_ok, req, &tv) == 0)
            return;
    }
    reply_ok(-1, 0, req);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(base, NULL);
}

int main(int argc, char **argv)
{
    int port = 9000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc)
            delay_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc)
            secret = argv[++i];
        else if (strcmp(argv[i], "--public-key") == 0 && i + 1 < argc)
            public_key = argv[++i];
        else {
            fprintf(stderr, "usage: hookd-sink [--port N] [--verbose] [--delay-ms N] [--secret whsec_... | --public-key whpk_...]\n");
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) < 0) {
        fprintf(stderr, "hookd-sink: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    evhttp_set_gencb(http, on_request, NULL);
    struct event *s1 = evsignal_new(base, SIGINT, on_signal, NULL);
    struct event *s2 = evsignal_new(base, SIGTERM, on_signal, NULL);
    if (!s1 || !s2 || event_add(s1, NULL) < 0 || event_add(s2, NULL) < 0)
        return 1;
    fprintf(stderr, "hookd-sink listening on 127.0.0.1:%d\n", port);
    event_base_dispatch(base);
    printf("received %llu\n", received);
    event_free(s1);
    event_free(s2);
    evhttp_free(http);
    event_base_free(base);
    free(delays);
    return 0;
}
