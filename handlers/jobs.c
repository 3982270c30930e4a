#include "handlers/common.h"
#include "handlers/handlers.h"
#include "reactor/delivery/jobs.h"

#include <string.h>

/* GET /v1/jobs/{id}: a background redelivery's progress, and which process
 * runs it since when (reactor/delivery/jobs.h). */
static void render_job(struct jw *w, const redisReply *rep, const void *arg)
{
    (void)arg;
    int running = flat_get(rep, "state") && strcmp(flat_get(rep, "state"), "running") == 0;
    jw_map_open(w);
    render_kstr_opt(w, "process", running ? flat_get(rep, "owner") : NULL);
    jw_ktime(w, "process_since", running ? flat_int(rep, "owner_since") : 0);
    jw_kstr(w, "id", flat_get(rep, "id"));
    jw_kstr(w, "state", flat_get(rep, "state"));
    jw_kstr(w, "search_type", flat_get(rep, "search_type"));
    jw_kbool(w, "dry_run", flat_int(rep, "dry_run") == 1);
    jw_kint(w, "matched", flat_int(rep, "matched"));
    jw_kint(w, "done", flat_int(rep, "done"));
    jw_ktime(w, "created_at", flat_int(rep, "created_at"));
    jw_ktime(w, "updated_at", flat_int(rep, "updated_at"));
    jw_map_close(w);
}

static void on_job(redisReply *rep, void *priv)
{
    reply_record(priv, rep, 200, "job", render_job, NULL);
}

void h_job_get(struct req *r)
{
    const char *id = path_id(r, 0, "job");
    if (!id)
        return;
    const char *argv[] = {"job", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_job, 3, argv);
}

static void on_canceled(int ok, void *arg)
{
    struct req *r = arg;
    if (ok < 0) {
        reply_unavailable(r);
        return;
    }
    if (!ok) {
        reply_error(r, 409, "not_running", NULL, "no running job with this id (unknown, finished or canceled)");
        return;
    }
    const char *argv[] = {"job", r->params[0], r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_job, 3, argv);
}

/* POST /v1/jobs/{id}/cancel: the job stops at its next step (no step is
 * undone); 200 with the job, now canceled. */
void h_job_cancel(struct req *r)
{
    const char *id = path_id(r, 0, "job");
    if (!id)
        return;
    if (jobs_cancel(r->who.org_id, id, on_canceled, r) < 0)
        reply_unavailable(r);
}
