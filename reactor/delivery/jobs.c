#include "reactor/delivery/jobs.h"

#include <event2/event.h>
#include <event2/util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/redeliver.h"
#include "store/redis.h"

#define JOB_CLAIM_EVERY_MS 2000 /* the lease hint is read each tick: a takeover within job_lease + 2 s */
#define JOB_SWEEP_EVERY 8       /* and every 8th tick one partition is asked directly, in turn (a job
                                 * whose hint was never written: its creator died right after) */
#define JOB_HINTS_PER_TICK 16

/* One job this process runs; owned by this module's list until it stops.
 * The job's selection, cursor and counts live in its Redis record: a step
 * reads them there, so whichever process holds the lease can step it. */
struct job_run {
    struct job_run *prev, *next;
    char id[ID_LEN + 1];
    char org[ID_LEN + 1];
    char prefix[KEY_PREFIX_MAX];
    struct event *step_ev;
    struct timeval step_started;
    void (*created)(int, void *);
    void *created_arg;
};

static struct {
    struct event_base *base;
    const struct conf *conf;
    struct job_run *runs;
    struct event *claim_ev;
    int claim_next;   /* the partition the next sweep asks */
    int claim_busy;   /* claim calls in flight */
    unsigned ticks;
    char owner[128];  /* "host:pid:random": this process, as job records name it */
} J;

const char *jobs_process_name(void) { return J.owner; }

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

static void lease_until(char out[24])
{
    snprintf(out, 24, "%lld", (long long)(now_ms() + J.conf->job_lease_ms));
}

static void on_hint_written(redisReply *rep, void *priv)
{
    (void)rep, (void)priv; /* a hint lost is found by the sweep */
}

/* Every running job is in KEY_JOB_LEASES with its lease as last seen (never
 * later than the real one): the claim tick reads only the expired entries. */
static void hint_set(const struct job_run *j, int64_t lease_ms)
{
    char member[KEY_PREFIX_MAX + ID_LEN + 2], score[24];
    snprintf(member, sizeof(member), "%d:%s", key_partition(j->org, (int)J.conf->partitions), j->id);
    snprintf(score, sizeof(score), "%lld", (long long)lease_ms);
    const char *add[] = {"ZADD", KEY_JOB_LEASES, score, member}, *rem[] = {"ZREM", KEY_JOB_LEASES, member};
    if (lease_ms > 0)
        store_command(on_hint_written, NULL, 4, add, NULL);
    else
        store_command(on_hint_written, NULL, 3, rem, NULL);
}

static void on_step(redisReply *rep, void *priv)
{
    struct job_run *j = priv;
    const char *verdict = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
                                  rep->element[0]->type == REDIS_REPLY_STRING
                              ? rep->element[0]->str
                              : NULL;
    if (!verdict) {
        LOG_WARNING("job step failed; retrying", "job_id", j->id,
                    "error", rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "redis unavailable", NULL);
        step_later(j, 1000);
        return;
    }
    if (strcmp(verdict, "ok") == 0) {
        step_after_rest(j);
        return;
    }
    if (strcmp(verdict, "lost") != 0)
        hint_set(j, 0);
    if (strcmp(verdict, "done") == 0)
        LOG_INFO("job finished", "job_id", j->id, NULL);
    else if (strcmp(verdict, "lost") == 0)
        LOG_WARNING("job taken over by another process (this one stalled past its lease)", "job_id", j->id, NULL);
    else
        LOG_INFO("job stopped", "job_id", j->id, "state", rep->elements > 1 ? rep->element[1]->str : "", NULL);
    run_free(j);
}

static void do_step(evutil_socket_t fd, short what, void *arg)
{
    struct job_run *j = arg;
    char now[24], base[ID_LEN + 1], lim[16], keep[24], until[24];
    int64_t t = now_ms();
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(lim, sizeof(lim), "%lld", (long long)J.conf->job_batch);
    snprintf(keep, sizeof(keep), "%lld", (long long)J.conf->retention_ms);
    lease_until(until);
    id_new(base, t);
    const char *v[JOB_STEP_FIELDS] = {
        [STEP_ORG] = j->org,       [STEP_NOW] = now,   [STEP_BASE_ID] = base,     [STEP_JOB_ID] = j->id,
        [STEP_OWNER] = J.owner,    [STEP_LEASE_UNTIL] = until, [STEP_LIMIT] = lim, [STEP_RETENTION_MS] = keep,
    };
    evutil_gettimeofday(&j->step_started, NULL);
    if (redeliver_job_step(j->prefix, v, on_step, j) < 0)
        step_later(j, 1000);
}

static struct job_run *run_new(const char *id, const char *org)
{
    struct job_run *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->org, sizeof(j->org), "%s", org);
    key_prefix(j->prefix, key_partition(org, (int)J.conf->partitions));
    j->step_ev = evtimer_new(J.base, do_step, j);
    j->next = J.runs;
    if (J.runs)
        J.runs->prev = j;
    J.runs = j;
    if (!j->step_ev) {
        run_free(j);
        return NULL;
    }
    return j;
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
    LOG_INFO("job started", "job_id", j->id, NULL);
    hint_set(j, now_ms() + J.conf->job_lease_ms);
    step_later(j, 0);
}

int jobs_start(const struct job_spec *s, char job_id[37], void (*created)(int, void *), void *arg)
{
    char id[ID_LEN + 1], min_id[ID_LEN + 1], max_id[ID_LEN + 1], now[24], until[24], uid[24];
    int64_t t = now_ms();
    id_new(id, t);
    struct job_run *j = run_new(id, s->org);
    if (!j)
        return -1;
    j->created = created;
    j->created_arg = arg;
    memcpy(job_id, j->id, sizeof(j->id));
    /* never walk past the job's own start: its replays are newer and must
     * not be picked up by the walk that creates them */
    id_floor(min_id, s->min_ms);
    id_floor(max_id, s->max_ms < t ? s->max_ms : t);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(uid, sizeof(uid), "%lld", s->user_id);
    lease_until(until);
    const char *v[JOB_FIELDS] = {
        [JOB_ORG] = s->org,         [JOB_NOW] = now,         [JOB_ID] = j->id,
        [JOB_SEARCH_TYPE] = s->search_type, [JOB_DRY_RUN] = s->dry_run ? "1" : "0",
        [JOB_OWNER] = J.owner,      [JOB_LEASE_UNTIL] = until, [JOB_INDEX] = s->index,
        [JOB_MIN_ID] = min_id,      [JOB_MAX_ID] = max_id,   [JOB_STATUS] = s->status,
        [JOB_COUNTERS] = s->counters, [JOB_USER_ID] = uid, [JOB_ENDPOINT_ID] = s->endpoint_id,
    };
    if (redeliver_job_create(j->prefix, v, on_created, j) < 0) {
        run_free(j);
        return -1;
    }
    return 0;
}

static int running_here(const char *id)
{
    for (struct job_run *j = J.runs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return 1;
    return 0;
}

/* What a claim asked about: a hinted job (its hint is corrected from the
 * answer) or, for a sweep, a whole partition. Freed in on_claimed. */
struct claim_ask {
    char member[KEY_PREFIX_MAX + ID_LEN + 2]; /* "<partition>:<job>"; empty for a sweep */
};

/* A job whose process died (its lease ran out) is taken over here, from its
 * last completed step. */
static void on_claimed(redisReply *rep, void *priv)
{
    struct claim_ask *ask = priv;
    J.claim_busy--;
    if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_INTEGER &&
        ask->member[0]) { /* the hinted job is not orphaned: correct the hint */
        long long lease = rep->element[0]->integer;
        char score[24];
        snprintf(score, sizeof(score), "%lld", lease);
        const char *add[] = {"ZADD", KEY_JOB_LEASES, score, ask->member}, *rem[] = {"ZREM", KEY_JOB_LEASES, ask->member};
        store_command(on_hint_written, NULL, lease > 0 ? 4 : 3, lease > 0 ? add : rem, NULL);
    }
    free(ask);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING || running_here(rep->element[0]->str))
        return;
    struct job_run *j = run_new(rep->element[0]->str, rep->element[1]->str);
    if (!j)
        return; /* its lease will run out again and someone takes it */
    LOG_WARNING("job taken over from a process that stopped running it", "job_id", j->id, NULL);
    hint_set(j, now_ms() + J.conf->job_lease_ms);
    step_later(j, 0);
}

/* Ask partition p for an orphaned job: the one named (member
 * "<p>:<job>"), or any when member is NULL. */
static void claim_ask(int p, const char *member)
{
    char prefix[KEY_PREFIX_MAX], now[24], until[24];
    struct claim_ask *ask = calloc(1, sizeof(*ask));
    if (!ask)
        return;
    if (member)
        snprintf(ask->member, sizeof(ask->member), "%s", member);
    const char *job = member ? strchr(member, ':') + 1 : NULL;
    key_prefix(prefix, p);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    lease_until(until);
    if (redeliver_job_claim(prefix, now, J.owner, until, job, on_claimed, ask) == 0)
        J.claim_busy++;
    else
        free(ask);
}

/* The hint's expired entries: each is asked of its partition. */
static void on_hints(redisReply *rep, void *priv)
{
    (void)priv;
    J.claim_busy--;
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *m = rep->element[i];
        char *end;
        long p = m->type == REDIS_REPLY_STRING ? strtol(m->str, &end, 10) : -1;
        if (p < 0 || p >= J.conf->partitions || *end != ':' || strlen(end + 1) != ID_LEN)
            continue; /* not one of ours */
        claim_ask((int)p, m->str);
    }
}

static void on_claim_tick(evutil_socket_t fd, short what, void *arg)
{
    char now[24], limit[16];
    if (J.claim_busy || !store_usable())
        return;
    if (++J.ticks % JOB_SWEEP_EVERY == 0) {
        claim_ask(J.claim_next, NULL);
        J.claim_next = (J.claim_next + 1) % (int)J.conf->partitions;
    }
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    snprintf(limit, sizeof(limit), "%d", JOB_HINTS_PER_TICK);
    const char *argv[] = {"ZRANGEBYSCORE", KEY_JOB_LEASES, "-inf", now, "LIMIT", "0", limit};
    if (store_command(on_hints, NULL, 7, argv, NULL) == 0)
        J.claim_busy++;
}

/* A cancel in flight; freed in on_cancel. */
struct job_cancel {
    void (*done)(int, void *);
    void *arg;
};

static void on_cancel(redisReply *rep, void *priv)
{
    struct job_cancel *c = priv;
    c->done(rep ? (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 1 : 0) : -1, c->arg);
    free(c);
}

int jobs_cancel(const char *org, const char *id, void (*done)(int, void *), void *arg)
{
    char prefix[KEY_PREFIX_MAX], now[24];
    struct job_cancel *c = malloc(sizeof(*c));
    if (!c)
        return -1;
    c->done = done;
    c->arg = arg;
    key_prefix(prefix, key_partition(org, (int)J.conf->partitions));
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    if (redeliver_job_cancel(prefix, org, id, now, on_cancel, c) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

int jobs_init(struct event_base *base, const struct conf *c)
{
    char host[64] = "", rnd[20];
    J.base = base;
    J.conf = c;
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "hookd");
    if (random_token(rnd, sizeof(rnd), "", 4) < 0)
        snprintf(rnd, sizeof(rnd), "%lld", (long long)now_ms());
    snprintf(J.owner, sizeof(J.owner), "%s:%d:%s", host, (int)getpid(), rnd);
    struct timeval tv = {JOB_CLAIM_EVERY_MS / 1000, (JOB_CLAIM_EVERY_MS % 1000) * 1000};
    J.claim_ev = event_new(base, -1, EV_PERSIST, on_claim_tick, NULL);
    return J.claim_ev && event_add(J.claim_ev, &tv) == 0 ? 0 : -1;
}

void jobs_free(void)
{
    while (J.runs)
        run_free(J.runs);
    if (J.claim_ev)
        event_free(J.claim_ev);
    J.claim_ev = NULL;
}
