#include "reactor/jobs.h"

#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "reactor/log.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/redis.h"

/* One running job; owned by this module's list until its walk ends. */
struct job_run {
    struct job_run *prev, *next;
    struct job_spec spec;
    char id[ID_LEN + 1];
    char prefix[KEY_PREFIX_MAX];
    char min_id[ID_LEN + 1], max_id[ID_LEN + 1], cursor[ID_LEN + 1];
    struct event *step_ev;
    struct timeval step_started;
    void (*created)(int, void *);
    void *created_arg;
};

static struct {
    struct event_base *base;
    const struct conf *conf;
    struct job_run *runs;
} J;

static void run_free(struct job_run *j)
{
    if (j->prev) j->prev->next = j->next;
    else J.runs = j->next;
    if (j->next) j->next->prev = j->prev;
    if (j->step_ev)
        event_free(j->step_ev);
    free(j);
}

static void step_later(struct job_run *j, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(j->step_ev, &tv);
}

/* A job rests as long as its last step took (queueing behind other work
 * included): it gets at most about half of the store's time and backs off
 * when the store is busy, so live traffic keeps its latency during a bulk
 * resend. */
static void step_after_rest(struct job_run *j)
{
    struct timeval now, took;
    evutil_gettimeofday(&now, NULL);
    evutil_timersub(&now, &j->step_started, &took);
    if (took.tv_sec < 0 || took.tv_sec >= 1)
        took = (struct timeval){1, 0};
    event_add(j->step_ev, &took);
}

static void on_step(redisReply *rep, void *priv)
{
    struct job_run *j = priv;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        LOG_WARNING("job step failed; retrying", "job_id", j->id,
                    "error", rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "redis unavailable", NULL);
        step_later(j, 1000);
        return;
    }
    const char *next = rep->element[0]->str;
    if (!next || !*next) {
        LOG_INFO("job finished", "job_id", j->id, NULL);
        run_free(j);
        return;
    }
    snprintf(j->cursor, sizeof(j->cursor), "%s", next);
    step_after_rest(j);
}

static void do_step(evutil_socket_t fd, short what, void *arg)
{
    struct job_run *j = arg;
    char now[24], uid[24], base[ID_LEN + 1], lim[16], keep[24];
    int64_t t = now_ms();
    snprintf(keep, sizeof(keep), "%lld", (long long)J.conf->retention_ms);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(uid, sizeof(uid), "%lld", j->spec.user_id);
    snprintf(lim, sizeof(lim), "%lld", (long long)J.conf->job_batch);
    id_new(base, t);
    const char *argv[] = {j->prefix, "range", j->spec.org, now, uid, base, j->spec.index, j->min_id,
                          j->max_id, j->cursor, j->spec.status, j->spec.counters, lim,
                          j->spec.dry_run ? "1" : "0", j->id, keep};
    size_t lens[16];
    for (int i = 0; i < 16; i++)
        lens[i] = strlen(argv[i]);
    evutil_gettimeofday(&j->step_started, NULL);
    if (store_script(SCRIPT_REDELIVER, on_step, j, 1, 16, argv, lens) < 0)
        step_later(j, 1000);
}

static void on_created(redisReply *rep, void *priv)
{
    struct job_run *j = priv;
    int ok = rep && rep->type == REDIS_REPLY_INTEGER;
    j->created(ok, j->created_arg);
    if (!ok) {
        run_free(j);
        return;
    }
    LOG_INFO("job started", "job_id", j->id, "search_type", j->spec.search_type, NULL);
    step_later(j, 0);
}

int jobs_start(const struct job_spec *s, char job_id[37], void (*created)(int, void *), void *arg)
{
    struct job_run *j = calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->spec = *s;
    j->created = created;
    j->created_arg = arg;
    int64_t t = now_ms();
    id_new(j->id, t);
    memcpy(job_id, j->id, sizeof(j->id));
    key_prefix(j->prefix, key_partition(s->org, (int)J.conf->partitions));
    /* never walk past the job's own start: its replays are newer and must
     * not be picked up by the walk that creates them */
    id_floor(j->min_id, s->min_ms);
    id_floor(j->max_id, s->max_ms < t ? s->max_ms : t);
    j->step_ev = evtimer_new(J.base, do_step, j);
    j->next = J.runs;
    if (J.runs)
        J.runs->prev = j;
    J.runs = j;
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)t);
    const char *argv[] = {j->prefix, "job", s->org, now, j->id, s->search_type, s->dry_run ? "1" : "0"};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    if (!j->step_ev || store_script(SCRIPT_REDELIVER, on_created, j, 1, 7, argv, lens) < 0) {
        run_free(j);
        return -1;
    }
    return 0;
}

void jobs_init(struct event_base *base, const struct conf *c)
{
    J.base = base;
    J.conf = c;
}

void jobs_free(void)
{
    while (J.runs)
        run_free(J.runs);
}
