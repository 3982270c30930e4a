/*
 * jobs: background redeliveries over selections that may hold millions of
 * deliveries (contract 000). A job walks one Redis index range in steps of
 * job_batch ids (redeliver.lua 'range'), and yields to the loop between
 * steps, so API requests are served in between. Progress lives in the job
 * record (GET /v1/jobs/{id}: matched, done, state).
 *
 * Jobs are leased like deliveries: the record names the process running it
 * (owner, owner_since) and P:jobs holds its lease expiry, which every step
 * extends. Each process asks one partition every 2 s for a running job whose
 * lease ran out (its process died or stalled) and takes it over from its
 * last completed step: a step moves the cursor, the counts and the lease in
 * one atomic script call, and a step by a process that lost the lease is
 * refused, so no step is applied twice. A job is canceled through
 * POST /v1/jobs/{id}/cancel: its next step sees it and stops.
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
    char endpoint_id[37]; /* only this endpoint's deliveries; "" for all */
};

int jobs_init(struct event_base *base, const struct conf *c);
/* This process as job records name it: "host:pid:random". */
const char *jobs_process_name(void);
/* Cancel a running job of org: done(1) canceled, done(0) unknown, another
 * org's or no longer running, done(-1) Redis went away. -1 when Redis is
 * away now (done not called). */
int jobs_cancel(const char *org, const char *id, void (*done)(int, void *), void *arg);
/* Create the job record, then run it. `created(ok, arg)` runs once the record
 * exists (ok=1) or could not be made (ok=0). Returns -1 when Redis is away
 * (created not called). */
int jobs_start(const struct job_spec *s, char job_id[37], void (*created)(int ok, void *arg), void *arg);
void jobs_free(void);

#endif
