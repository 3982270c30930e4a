/*
 * hookd-sink: a webhook receiver for demos and benchmarks. Answers every
 * POST with 200 as fast as libevent allows, over keep-alive, and counts.
 *   hookd-sink [--port N] [--verbose]
 * --verbose prints each request's webhook headers and body (demos).
 * On SIGINT/SIGTERM it prints the number of requests received.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long received;
static int verbose;

static void on_request(struct evhttp_request *req, void *arg)
{
    received++;
    if (verbose) {
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        const char *names[] = {"webhook-id", "webhook-timestamp", "webhook-signature", "webhook-delivery-id"};
        printf("POST %s\n", evhttp_request_get_uri(req));
        for (int i = 0; i < 4; i++) {
            const char *v = evhttp_find_header(h, names[i]);
            if (v)
                printf("  %s: %s\n", names[i], v);
        }
        printf("  body: %.*s\n", (int)(n > 2048 ? 2048 : n), (const char *)evbuffer_pullup(in, -1));
        fflush(stdout);
    }
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evbuffer_add(out, "ok", 2);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    int port = 9000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--verbose") == 0)
            verbose = 1;
        else {
            fprintf(stderr, "usage: hookd-sink [--port N] [--verbose]\n");
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) < 0) {
        fprintf(stderr, "hookd-sink: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    evhttp_set_gencb(http, on_request, NULL);
    struct event *s1 = evsignal_new(base, SIGINT, on_signal, base);
    struct event *s2 = evsignal_new(base, SIGTERM, on_signal, base);
    if (!s1 || !s2 || event_add(s1, NULL) < 0 || event_add(s2, NULL) < 0)
        return 1;
    fprintf(stderr, "hookd-sink listening on 127.0.0.1:%d\n", port);
    event_base_dispatch(base);
    printf("received %llu\n", received);
    event_free(s1);
    event_free(s2);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
