#include "reactor/delivery/retention.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/redis.h"

/* work units per prune.lua call (see there): 96 simple records, or 24 of
 * the costliest kind */
#define PRUNE_BATCH 96
#define PRUNE_EVERY_MS 1000

static struct {
    const struct conf *conf;
    struct event *tick;
    int next;          /* the partition the next tick visits */
    char *busy;        /* owned, one per partition: a call is in flight */
    int64_t *oldest;   /* owned, one per partition: oldest kept finish time, ms; 0 none */
    unsigned long long pruned[PRUNED_KIND_COUNT];
} RT;

static void prune_partition(int p);

static long long reply_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

static void on_pruned(redisReply *rep, void *priv)
{
    int p = (int)(intptr_t)priv;
    if (!RT.busy)
        return; /* answered after retention_free */
    RT.busy[p] = 0;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 5) {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            LOG_WARNING("retention: pruning failed", "error", rep->str, NULL);
        return;
    }
    RT.pruned[PRUNED_DELIVERY] += (unsigned long long)reply_int(rep->element[0]);
    RT.pruned[PRUNED_EVENT] += (unsigned long long)reply_int(rep->element[1]);
    RT.pruned[PRUNED_CANCELED] += (unsigned long long)reply_int(rep->element[2]);
    const redisReply *o = rep->element[4];
    RT.oldest[p] = o->type == REDIS_REPLY_STRING && o->len ? strtoll(o->str, NULL, 10) : 0;
    if (reply_int(rep->element[3]) && RT.tick) /* a full batch: there is more now */
        prune_partition(p);
}

static void prune_partition(int p)
{
    char prefix[KEY_PREFIX_MAX], now[24], cutoff[24], limit[16];
    int64_t t = now_ms();
    if (RT.busy[p] || !store_usable())
        return;
    key_prefix(prefix, p);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(cutoff, sizeof(cutoff), "%lld", (long long)(t - RT.conf->retention_ms));
    snprintf(limit, sizeof(limit), "%d", PRUNE_BATCH);
    const char *argv[] = {prefix, now, cutoff, limit};
    if (store_script(SCRIPT_PRUNE, on_pruned, (void *)(intptr_t)p, 1, 4, argv, NULL) == 0)
        RT.busy[p] = 1;
}

/* Each second: the next partition in turn (to learn what each holds), and
 * every partition whose oldest finished record, as its last visit saw it,
 * is due now. So under a steady load each partition is pruned every second
 * and Redis holds `retention` plus about a second of finished records, not
 * plus a whole round of visits; an idle partition costs one call a round. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    int64_t due = now_ms() - RT.conf->retention_ms;
    prune_partition(RT.next);
    for (int p = 0; p < (int)RT.conf->partitions; p++)
        if (RT.oldest[p] && RT.oldest[p] <= due)
            prune_partition(p);
    RT.next = (RT.next + 1) % (int)RT.conf->partitions;
}

int retention_start(struct event_base *base, const struct conf *c)
{
    RT.conf = c;
    RT.busy = calloc((size_t)c->partitions, 1);
    RT.oldest = calloc((size_t)c->partitions, sizeof(*RT.oldest));
    RT.tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = {PRUNE_EVERY_MS / 1000, (PRUNE_EVERY_MS % 1000) * 1000};
    if (!RT.busy || !RT.oldest || !RT.tick || event_add(RT.tick, &tv) < 0) {
        retention_free();
        return -1;
    }
    return 0;
}

void retention_stats(struct retention_stats *out)
{
    int64_t oldest = 0;
    memcpy(out->pruned, RT.pruned, sizeof(out->pruned));
    for (int p = 0; RT.oldest && p < (int)RT.conf->partitions; p++)
        if (RT.oldest[p] && (!oldest || RT.oldest[p] < oldest))
            oldest = RT.oldest[p];
    out->oldest_age_s = oldest ? (double)(now_ms() - oldest) / 1000.0 : 0;
}

void retention_free(void)
{
    if (RT.tick)
        event_free(RT.tick);
    RT.tick = NULL;
    free(RT.busy);
    free(RT.oldest);
    RT.busy = NULL;
    RT.oldest = NULL;
}
