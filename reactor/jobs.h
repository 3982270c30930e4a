/*
 * jobs: background redeliveries over selections that may hold millions of
 * deliveries (contract 000). A job walks one Redis index range in steps of
 * job_batch ids (redeliver.lua 'range'), and yields to the loop between
 * steps, so API requests are served in between. Progress lives in the job
 * record (GET /v1/jobs/{id}: matched, done, state).
 *
 * A job runs in the process that accepted it; if that process dies, the
 * record stays "running" (see docs/ARCHITECTURE.md).
 */
#ifndef HOOKD_JOBS_H
#define HOOKD_JOBS_H

#include <stdint.h>

struct event_base;
struct conf;

struct job_spec {
    char org[37];
    long long user_id;
    char index[200];      /* "org", "sess:<sid>" or "req:<rid>" */
    int64_t min_ms, max_ms; /* creation time range, [min, max) */
    char status[8];       /* success | fail | all */
    char counters[1024];  /* ",1,2," or "" */
    int dry_run;
    char search_type[40];
};

void jobs_init(struct event_base *base, const struct conf *c);
/* Create the job record, then run it. `created(ok, arg)` runs once the record
 * exists (ok=1) or could not be made (ok=0). Returns -1 when Redis is away
 * (created not called). */
int jobs_start(const struct job_spec *s, char job_id[37], void (*created)(int ok, void *arg), void *arg);
void jobs_free(void);

#endif
