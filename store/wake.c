#include "store/wake.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "store/keys.h"
#include "store/redis.h"

static struct {
    struct event_base *base;
    const struct conf *conf;
    redisAsyncContext *ac;
    struct event *retry_ev;
    void (*fn)(int);
    int stopping;
    int backoff_ms;
    int attempt;       /* which of the store's nodes to try next */
} W;

static void wake_retry_later(void)
{
    if (W.stopping)
        return;
    struct timeval tv = {W.backoff_ms / 1000, (W.backoff_ms % 1000) * 1000};
    event_add(W.retry_ev, &tv);
    W.backoff_ms = W.backoff_ms >= 5000 ? 5000 : W.backoff_ms * 2;
}

/* Messages are "hookd:{P}" (the partition prefix). */
static void on_message(redisAsyncContext *ac, void *r, void *priv)
{
    redisReply *rep = r;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
        return;
    redisReply *kind = rep->element[0], *msg = rep->element[2];
    if (kind->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(kind->str, "subscribe") == 0) {
        W.backoff_ms = 100;
        W.fn(-1);
        return;
    }
    if (strcmp(kind->str, "message") != 0 || msg->type != REDIS_REPLY_STRING)
        return;
    const char *brace = strchr(msg->str, '{');
    int p = brace ? atoi(brace + 1) : -1;
    W.fn(p >= 0 && p < W.conf->partitions ? p : -1);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        W.ac = NULL;
        wake_retry_later();
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    W.ac = NULL;
    wake_retry_later();
}

static void wake_connect(evutil_socket_t fd, short what, void *arg)
{
    if (W.ac || W.stopping)
        return;
    /* In a cluster any node carries every PUBLISH; after a failed attempt
     * the next node the store knows is tried, so the loss of the redis_url
     * node does not leave this process on its safety poll. */
    char host[256];
    int port;
    if (store_node_addr(W.attempt++, host, sizeof(host), &port) < 0) {
        if (!W.conf->redis_port) { /* Sentinel: no master named yet */
            wake_retry_later();
            return;
        }
        snprintf(host, sizeof(host), "%s", W.conf->redis_host), port = W.conf->redis_port;
    }
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err || redisLibeventAttach(ac, W.base) != REDIS_OK) {
        if (ac)
            redisAsyncFree(ac);
        wake_retry_later();
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE %s", KEY_WAKE) != REDIS_OK) {
        redisAsyncFree(ac);
        wake_retry_later();
        return;
    }
    W.ac = ac;
}

int wake_start(struct event_base *base, const struct conf *c, void (*fn)(int))
{
    memset(&W, 0, sizeof(W));
    W.base = base;
    W.conf = c;
    W.fn = fn;
    W.backoff_ms = 100;
    W.retry_ev = evtimer_new(base, wake_connect, NULL);
    if (!W.retry_ev)
        return -1;
    wake_connect(-1, 0, NULL);
    return 0;
}

void wake_stop(void)
{
    W.stopping = 1;
    if (W.ac) {
        redisAsyncContext *ac = W.ac;
        W.ac = NULL;
        redisAsyncFree(ac);
    }
    if (W.retry_ev)
        event_free(W.retry_ev);
    W.retry_ev = NULL;
}
