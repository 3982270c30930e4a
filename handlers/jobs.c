#include "handlers/common.h"
#include "handlers/compat/compat.h"

/* GET /v1/jobs/{id}: a background redelivery's progress. */
static void on_job(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct jw w;
    if (reply_failed(r, rep))
        return;
    if (reply_empty(rep)) {
        reply_error(r, 404, "not_found", NULL, "no such job");
        return;
    }
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "id", flat_get(rep, "id"));
    jw_kstr(&w, "state", flat_get(rep, "state"));
    jw_kstr(&w, "search_type", flat_get(rep, "search_type"));
    jw_kbool(&w, "dry_run", flat_int(rep, "dry_run") == 1);
    jw_kint(&w, "matched", flat_int(rep, "matched"));
    jw_kint(&w, "done", flat_int(rep, "done"));
    jw_ktime(&w, "created_at", flat_int(rep, "created_at"));
    jw_ktime(&w, "updated_at", flat_int(rep, "updated_at"));
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

void h_job_get(struct req *r)
{
    const char *id = path_id(r, 0, "job");
    if (!id)
        return;
    const char *argv[] = {"job", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_job, 3, argv);
}
