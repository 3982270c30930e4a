#include "store/redis_config.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/log.h"
#include "store/redis.h"

#define RECHECK_MS 60000

static struct {
    int chunk; /* hash-max-listpack-value, 64-2048: the payload chunk that keeps an event hash compact */
    struct event *timer;
    unsigned warnings;
    int checked;
    char policy[64];
} RC;

unsigned redis_config_warnings(void) { return RC.warnings; }
int redis_config_payload_chunk(void) { return RC.chunk ? RC.chunk : 64; }

void redis_config_describe(char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    if (RC.warnings & REDIS_WARN_EVICTS)
        n += (size_t)snprintf(out + n, len - n, "maxmemory-policy is %s: Redis deletes keys (schedules included) "
                              "when full; set noeviction", RC.policy);
    if ((RC.warnings & REDIS_WARN_NOT_PERSISTENT) && n < len)
        n += (size_t)snprintf(out + n, len - n, "%sRedis has no persistence (appendonly no, no save points): "
                              "a restart loses every event and schedule", n ? "; " : "");
    if ((RC.warnings & REDIS_WARN_UNKNOWN) && n < len)
        snprintf(out + n, len - n, "%sCONFIG GET is refused: eviction policy and persistence unknown", n ? "; " : "");
}

/* One check is a CONFIG GET to every master (in a cluster each keeps its
 * own settings): its warnings are any master's, its chunk the smallest. */
static struct {
    int awaited;       /* replies still to come; 0: no check in flight */
    int answered;      /* replies that were not a lost connection */
    unsigned warnings;
    int chunk;
    char policy[64];   /* the first unsafe policy seen, else the last one */
} Round;

static void round_add(const redisReply *r)
{
    const char *policy = r->type == REDIS_REPLY_ARRAY ? flat_get(r, "maxmemory-policy") : NULL;
    const char *aof = policy ? flat_get(r, "appendonly") : NULL, *save = policy ? flat_get(r, "save") : NULL;
    if (!policy || !aof || !save) {
        Round.warnings |= REDIS_WARN_UNKNOWN;
    } else {
        if (!(Round.warnings & REDIS_WARN_EVICTS))
            snprintf(Round.policy, sizeof(Round.policy), "%s", policy);
        if (strcmp(policy, "noeviction") != 0)
            Round.warnings |= REDIS_WARN_EVICTS;
        if (strcmp(aof, "yes") != 0 && save[0] == '\0')
            Round.warnings |= REDIS_WARN_NOT_PERSISTENT;
    }
    const char *lpv = r->type == REDIS_REPLY_ARRAY ? flat_get(r, "hash-max-listpack-value") : NULL;
    long v = lpv ? strtol(lpv, NULL, 10) : 64;
    int chunk = v < 64 ? 64 : v > 2048 ? 2048 : (int)v;
    if (!Round.chunk || chunk < Round.chunk)
        Round.chunk = chunk;
    Round.answered++;
}

static void round_apply(void)
{
    unsigned w = Round.warnings;
    RC.chunk = Round.chunk;
    snprintf(RC.policy, sizeof(RC.policy), "%s", Round.policy);
    if (w != RC.warnings || !RC.checked) {
        char text[512];
        RC.warnings = w;
        redis_config_describe(text, sizeof(text));
        if (w)
            LOG_WARNING("redis: this Redis can lose hookd's data", "problem", text, NULL);
        else
            LOG_INFO("redis: eviction policy and persistence are safe", "maxmemory_policy", RC.policy, NULL);
    }
    RC.checked = 1;
}

static void on_config(redisReply *r, void *priv)
{
    (void)priv;
    if (r) /* NULL: that connection was lost; the next ready checks again */
        round_add(r);
    if (--Round.awaited == 0 && Round.answered)
        round_apply();
}

void redis_config_check(void)
{
    if (Round.awaited > 0)
        return; /* one check at a time: its replies are on their way */
    const char *argv[] = {"CONFIG", "GET", "maxmemory-policy", "appendonly", "save", "hash-max-listpack-value"};
    memset(&Round, 0, sizeof(Round));
    int n = store_command_each(on_config, NULL, 6, argv); /* not ready: the ready hook calls again */
    Round.awaited = n > 0 ? n : 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    if (store_ready())
        redis_config_check();
}

int redis_config_start(struct event_base *base)
{
    struct timeval tv = {RECHECK_MS / 1000, 0};
    RC.timer = event_new(base, -1, EV_PERSIST, on_timer, NULL);
    return RC.timer && event_add(RC.timer, &tv) == 0 ? 0 : -1;
}

void redis_config_free(void)
{
    if (RC.timer)
        event_free(RC.timer);
    RC.timer = NULL;
}
