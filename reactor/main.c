/*
 * main: configuration, the one event loop, signals and graceful shutdown.
 *
 * Start-up order: config (defaults < file < HOOKD_* env < flags), then the
 * loop, Redis (connects in the background; the API answers 503 until it is
 * ready), the HTTP listener, and the delivery pump. SIGTERM or SIGINT stops
 * accepting and claiming, lets in-flight deliveries finish within
 * shutdown_grace, and exits 0.
 */
#include <event2/event.h>
#include <signal.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "conf/conf.h"
#include "reactor/delivery/client.h"
#include "reactor/delivery/jobs.h"
#include "conf/log.h"
#include "reactor/notify.h"
#include "reactor/delivery/pump.h"
#include "reactor/delivery/retention.h"
#include "reactor/http/server.h"
#include "store/ingest.h"
#include "store/loop_pass.h"
#include "store/auth.h"
#include "store/redis.h"
#include "store/redis_config.h"
#include "store/secrets.h"
#include "store/subscriptions.h"

extern char **environ;

static struct event_base *base;
static const char *config_file; /* argv's or the environment's; NULL: none */

static void usage(FILE *out)
{
    fprintf(out, "usage: hookd [--config FILE] [--check-config] [--KEY=VALUE ...]\n\n"
                 "Every KEY may also be set as HOOKD_<KEY> in the environment or in the config file.\n\n");
    for (size_t i = 0; i < conf_table_len; i++)
        fprintf(out, "  --%-24s %s (default: %s)\n", conf_table[i].name, conf_table[i].help,
                conf_table[i].def[0] ? conf_table[i].def : "\"\"");
}

/* What start-up would refuse beyond the values themselves, so that
 * --check-config passes exactly when hookd would start. */
static int check_startup(const struct conf *c, char *err, size_t len)
{
    char why[400], hp[300];
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    size_t ca = 0;
    while (ca < conf_table_len && strcmp(conf_table[ca].name, "ca_file") != 0)
        ca++;
    if (client_check_ca_file(c->ca_file, why, sizeof(why)) < 0) {
        snprintf(err, len, "%s: ca_file: %s", ca < conf_table_len && c->origin[ca][0] ? c->origin[ca] : "default", why);
        return -1;
    }
    if (!c->secret_key[0] && strcmp(c->allow_plaintext_secrets, "yes") != 0) {
        snprintf(err, len, "secret_key: not set, so endpoint signing secrets would be stored in clear in Redis, "
                           "where anyone who reads a dump can forge webhooks. Set HOOKD_SECRET_KEY to "
                           "`openssl rand -base64 32` (and keep it), or allow_plaintext_secrets = yes");
        return -1;
    }
    snprintf(hp, sizeof(hp), strchr(c->listen_host, ':') ? "[%s]:1" : "%s:1", c->listen_host);
    if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, len, "listen: '%s' must be a numeric address and a port", c->listen);
        return -1;
    }
    return 0;
}

/* Two passes over argv: find --config first (the file is below flags), then
 * apply every --key=value. */
static int load_config(struct conf *c, int argc, char **argv, int *check_only)
{
    char err[512];
    const char *file = getenv("HOOKD_CONFIG");
    *check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    config_file = file;
    if (conf_init(c, err, sizeof(err)) < 0 || (file && conf_load_file(c, file, err, sizeof(err)) < 0) ||
        conf_load_env(c, environ, err, sizeof(err)) < 0)
        goto fail;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strcmp(a, "--check-config") == 0) {
            *check_only = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            conf_free(c);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("hookd %s\n", HOOKD_VERSION);
            conf_free(c);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, sizeof(err), "unexpected argument '%s'", a);
            goto fail;
        }
        char key[128];
        const char *eq = strchr(a, '='), *val;
        size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (kl >= sizeof(key)) {
            snprintf(err, sizeof(err), "flag too long");
            goto fail;
        }
        memcpy(key, a + 2, kl);
        key[kl] = '\0';
        for (char *k = key; *k; k++)
            if (*k == '-')
                *k = '_';
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, sizeof(err), "--%s needs a value", key);
            goto fail;
        }
        char flag[140];
        snprintf(flag, sizeof(flag), "--%s", key);
        if (conf_set(c, key, val, flag, err, sizeof(err)) < 0)
            goto fail;
    }
    if (conf_finish(c, err, sizeof(err)) < 0 || check_startup(c, err, sizeof(err)) < 0)
        goto fail;
    return 0;
fail:
    fprintf(stderr, "hookd: configuration error: %s\n", err);
    conf_free(c);
    return -1;
}

/* Every API connection, delivery and Redis link is a descriptor: take the
 * hard limit, and say so when max_connections cannot fit under it (accept
 * errors then pause the listener rather than spin). */
static void raise_fd_limit(const struct conf *c)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)(c->max_connections + c->inflight_max + 64) > rl.rlim_cur) {
        char have[24], want[24];
        snprintf(have, sizeof(have), "%llu", (unsigned long long)rl.rlim_cur);
        snprintf(want, sizeof(want), "%lld", (long long)(c->max_connections + c->inflight_max + 64));
        LOG_WARNING("the descriptor limit is below max_connections + inflight_max + 64; accepting will pause when it runs out",
                    "nofile", have, "wanted", want, NULL);
    }
}

static int exit_code; /* set before the loop is broken for a fatal reason */

/* A configured key that does not open this store's secrets: stop before
 * anything is written with it. */
static void on_drained(void *arg);

static void on_secrets_fatal(const char *why)
{
    LOG_ERR("start-up refused", "error", why, NULL);
    fprintf(stderr, "hookd: %s\n", why);
    exit_code = 2;
    /* the same way out as SIGTERM: calls in flight finish before the
     * modules they answer to are freed */
    notify_systemd("STOPPING=1");
    server_stop_accepting();
    pump_drain(on_drained, NULL);
}

static void on_drained(void *arg)
{
    LOG_INFO("shutdown: deliveries drained", NULL);
    event_base_loopexit(base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    static int stopping;
    if (stopping++) {
        LOG_WARNING("shutdown: second signal, exiting now", NULL);
        event_base_loopbreak(base);
        return;
    }
    LOG_INFO("shutdown: stop accepting and claiming", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    notify_systemd("STOPPING=1");
    server_stop_accepting();
    pump_drain(on_drained, NULL);
}

/* SIGHUP: the config file and environment are read again and what can
 * change while running is applied: log_level. Everything else needs a
 * restart (said in the log line). Logs go to stderr, so there is no file
 * to reopen. */
static void on_reload(evutil_socket_t sig, short what, void *arg)
{
    struct conf fresh;
    char err[512];
    notify_systemd("RELOADING=1");
    if (conf_init(&fresh, err, sizeof(err)) < 0 ||
        (config_file && conf_load_file(&fresh, config_file, err, sizeof(err)) < 0) ||
        conf_load_env(&fresh, environ, err, sizeof(err)) < 0 || conf_finish(&fresh, err, sizeof(err)) < 0) {
        LOG_ERR("reload: configuration error; nothing changed", "error", err, NULL);
    } else {
        log_set_level(fresh.log_level);
        LOG_WARNING("reload: log_level applied; other keys take effect at the next start", "log_level",
                    fresh.log_level, NULL);
    }
    conf_free(&fresh);
    notify_systemd("READY=1");
}

/* The store is ready and the listener has been open since before the loop
 * ran: systemd may now start what depends on hookd. Once. */
static void on_first_ready(void *arg)
{
    static int told;
    if (!told++)
        notify_systemd("READY=1\nSTATUS=serving");
}

int main(int argc, char **argv)
{
    struct conf c;
    int check_only, rc = 1;
    struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
    if (load_config(&c, argc, argv, &check_only) < 0)
        return 2;
    if (check_only) {
        printf("configuration ok\n");
        conf_free(&c);
        return 0;
    }
    log_set_level(c.log_level);
    log_capture_libevent();
    raise_fd_limit(&c);
    signal(SIGPIPE, SIG_IGN); /* a peer reset must not kill the process */
    /* The changelist folds the many enable/disable pairs of one loop pass
     * (hiredis and evhttp toggle write interest per operation) into at most
     * one epoll_ctl per fd; profiles showed epoll_ctl as the top syscall. */
    struct event_config *cfg = event_config_new();
    if (!cfg || event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) < 0)
        goto out;
    base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base)
        goto out;
    sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    sighup = evsignal_new(base, SIGHUP, on_reload, NULL);
    if (!sigterm || !sigint || !sighup || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0 ||
        event_add(sighup, NULL) < 0)
        goto out;
    auth_init(&c);
    secrets_init(&c);
    if (jobs_init(base, &c) < 0)
        goto out;
    if (store_init(base, &c) < 0) {
        LOG_ERR("cannot initialise the Redis client", NULL);
        goto out;
    }
    if (server_start(base, &c, routes, routes_len) < 0 || redis_config_start(base) < 0)
        goto out;
    if (loop_pass_init(base) < 0 || pump_start(base, &c) < 0) {
        LOG_ERR("cannot start the delivery pump", NULL);
        goto out;
    }
    struct ingest_handoff handoff;
    pump_handoff(&handoff);
    if (ingest_start(base, (int)c.partitions, &handoff) < 0) {
        LOG_ERR("cannot start ingest", NULL);
        goto out;
    }
    if (retention_start(base, &c) < 0) {
        LOG_ERR("cannot start retention", NULL);
        goto out;
    }
    if (store_on_ready(on_first_ready, NULL) < 0 || secrets_start(base, on_secrets_fatal) < 0)
        goto out;
    LOG_INFO("hookd listening", "listen", c.listen, "version", HOOKD_VERSION, NULL);
    if (event_base_dispatch(base) < 0)
        goto out;
    rc = exit_code;
    LOG_INFO("hookd stopped", NULL);
out:
    pump_free();
    server_free();
    ingest_free(); /* before store_close: what it still queues gets NULL too */
    loop_pass_free();
    store_close();
    /* after store_close, which answers every pending call with NULL: their
     * callbacks still find these modules' state */
    subs_free();
    retention_free();
    redis_config_free();
    jobs_free();
    secrets_free();
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sighup)
        event_free(sighup);
    if (base)
        event_base_free(base);
    conf_free(&c);
    return rc;
}
