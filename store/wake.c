#include "store/wake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "store/keys.h"
#include "store/redis.h"

static struct {
    const struct conf *conf;
    struct store_subscription *sub; /* owned: store_unsubscribe */
    void (*fn)(int);
} W;

/* In a cluster any node carries every PUBLISH: the store's nodes one after
 * another, so the loss of the redis_url node does not leave this process on
 * its safety poll; before the store knows any, redis_url's address (none
 * while a Sentinel has not named the master). */
static int wake_address(int attempt, char *host, size_t len, int *port, void *arg)
{
    (void)arg;
    if (store_node_addr(attempt, host, len, port) == 0)
        return 0;
    if (!W.conf->redis_port)
        return -1;
    snprintf(host, len, "%s", W.conf->redis_host);
    *port = W.conf->redis_port;
    return 0;
}

/* Messages are "hookd:{P}" (the partition prefix); NULL: (re)subscribed. */
static void on_wake(const redisReply *msg, void *arg)
{
    (void)arg;
    if (!msg) {
        W.fn(-1);
        return;
    }
    const char *brace = strchr(msg->str, '{');
    int p = brace ? atoi(brace + 1) : -1;
    W.fn(p >= 0 && p < W.conf->partitions ? p : -1);
}

int wake_start(struct event_base *base, const struct conf *c, void (*fn)(int))
{
    (void)base;
    memset(&W, 0, sizeof(W));
    W.conf = c;
    W.fn = fn;
    W.sub = store_subscribe(KEY_WAKE, wake_address, on_wake, NULL);
    return W.sub ? 0 : -1;
}

void wake_stop(void)
{
    store_unsubscribe(W.sub);
    W.sub = NULL;
}
