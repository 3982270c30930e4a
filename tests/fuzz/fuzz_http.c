/*
 * libFuzzer target over whole HTTP requests: each input is the raw bytes a
 * client sends on one connection (one request or several, well-formed or
 * not). They go over a real loopback socket into hookd's real server: the
 * gate, evhttp's parser, the one route table, authentication and every
 * handler. The store is hookd's own Redis client pointed at a closed port,
 * so each handler runs its parsing and validation and then meets the
 * "store unavailable" path; org tokens come from the auth cache.
 *
 * Tokens an input may use (the seed corpus and the integration tests'
 * recorded requests carry them):
 *   fuzz-root-token-0123456789     the root token
 *   fuzz-org-admin-token-0123456   an org admin with every scope
 *   fuzz-org-read-token-01234567   an org token with webhooks:read only
 *
 * An exchange that does not end (hookd neither answers nor closes within
 * five seconds of the client's half-close) aborts: that is a hang.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf/conf.h"
#include "reactor/delivery/jobs.h"
#include "conf/log.h"
#include "reactor/delivery/pump.h"
#include "reactor/http/server.h"
#include "store/ingest.h"
#include "store/loop_pass.h"
#include "store/auth.h"
#include "store/redis.h"

static struct event_base *base;
static struct conf conf;
static int port;

static int setup(void)
{
    char err[256];
    signal(SIGPIPE, SIG_IGN);
    if (conf_init(&conf, err, sizeof(err)) < 0 ||
        conf_set(&conf, "listen", "127.0.0.1:0", "fuzz", err, sizeof(err)) < 0 ||
        conf_set(&conf, "redis_url", "redis://127.0.0.1:1/0", "fuzz", err, sizeof(err)) < 0 ||
        conf_set(&conf, "admin_token", "fuzz-root-token-0123456789", "fuzz", err, sizeof(err)) < 0 ||
        conf_set(&conf, "token_cache", "10m", "fuzz", err, sizeof(err)) < 0 ||
        conf_set(&conf, "max_body_bytes", "65536", "fuzz", err, sizeof(err)) < 0 ||
        conf_set(&conf, "max_body_memory", "1048576", "fuzz", err, sizeof(err)) < 0 ||
        conf_finish(&conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        return -1;
    }
    log_set_level("error");
    base = event_base_new();
    if (!base)
        return -1;
    auth_init(&conf);
    if (jobs_init(base, &conf) < 0)
        return -1;
    struct ingest_handoff handoff;
    if (store_init(base, &conf) < 0 || server_start(base, &conf, routes, routes_len) < 0 || loop_pass_init(base) < 0 || pump_start(base, &conf) < 0 ||
        (pump_handoff(&handoff), ingest_start(base, (int)conf.partitions, &handoff)) < 0) {
        fprintf(stderr, "fuzz_http: cannot start the store or the server\n");
        return -1;
    }
    port = server_port();
    struct principal admin = {.kind = PRINCIPAL_TOKEN, .org_id = "0190c0de-0000-7000-8000-000000000001",
                              .token_id = "0190c0de-0000-7000-8000-0000000000aa", .user_id = 1,
                              .scopes = SCOPE_MANAGE | SCOPE_READ | SCOPE_EVENTS, .admin = 1};
    struct principal reader = admin;
    reader.scopes = SCOPE_READ;
    reader.admin = 0;
    auth_cache_put("fuzz-org-admin-token-0123456", &admin);
    auth_cache_put("fuzz-org-read-token-01234567", &reader);
    if (port <= 0)
        fprintf(stderr, "fuzz_http: the listener has no port\n");
    return port > 0 ? 0 : -1;
}

static void on_client_readable(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096];
    if (what & EV_TIMEOUT) {
        fprintf(stderr, "fuzz_http: hookd neither answered nor closed the connection\n");
        abort();
    }
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) /* hookd closed: the exchange is over */
        event_base_loopbreak(base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (setup() < 0)
            abort();
        ready = 1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        abort();
    /* Inputs are small (-max_len), so the kernel buffers them whole. */
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            break; /* hookd refused and closed early: fine */
        off += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    evutil_make_socket_nonblocking(fd);
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, on_client_readable, NULL);
    struct timeval tv = {5, 0};
    if (!ev || event_add(ev, &tv) < 0)
        abort();
    event_base_dispatch(base);
    event_free(ev);
    close(fd);
    return 0;
}
