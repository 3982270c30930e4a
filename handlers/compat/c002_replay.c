/* Contract 002: POST /v1/webhooks/deliveries/{delivery_id}/replay
 * -> 200 with the new delivery's full record; 422 {detail:[{loc,msg,type}]}
 * on a malformed id; 404 {detail} when unknown (or another org's). */
#include <stdlib.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/compat/compat.h"
#include "store/ids.h"
#include "store/redeliver.h"

static void render(struct jw *w, const redisReply *d)
{
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(d, "id"));
    jw_kstr(w, "endpoint_id", flat_get(d, "endpoint_id"));
    jw_kint(w, "user_id", flat_int(d, "user_id"));
    jw_kstr(w, "event_id", flat_get(d, "event_id"));
    jw_kstr(w, "event_type", flat_get(d, "event_type"));
    jw_key(w, "event_group");
    jw_null(w);
    jw_kstr(w, "status", flat_get(d, "state"));
    jw_kint(w, "scheduled_attempt", flat_int(d, "attempt_count") + 1);
    jw_ktime(w, "next_retry_at", flat_int(d, "next_retry_at"));
    jw_ktime(w, "last_attempt_at", flat_int(d, "last_attempt_at"));
    jw_ktime(w, "delivered_at", flat_int(d, "delivered_at"));
    render_kint_opt(w, "final_http_status", flat_get(d, "code"));
    render_kstr_opt(w, "error_message", flat_get(d, "error_message"));
    render_kstr_opt(w, "replay_of_delivery_id", flat_get(d, "replay_of"));
    jw_ktime(w, "created_at", flat_int(d, "created_at"));
    jw_ktime(w, "updated_at", flat_int(d, "updated_at"));
    jw_map_close(w);
}

static void on_replayed(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct jw w;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 || rep->element[0]->elements == 0) {
        reply_error(r, 404, "not_found", NULL, "Delivery not found");
        return;
    }
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    render(&w, rep->element[0]);
    reply_json(r, 200, &w);
}

void h_c002_replay(struct req *r)
{
    const char *id = r->params[0];
    char p[32];
    if (!id_valid(id)) {
        reply_error(r, 422, "uuid_parsing", "delivery_id", "Input should be a valid UUID");
        return;
    }
    if (delivery_guard(r, id, h_c002_replay))
        return;
    org_prefix(r->who.org_id, p);
    const char *ids[1] = {id};
    if (redeliver_ids(p, r->who.org_id, r->who.user_id, ids, 1, "", on_replayed, r) < 0)
        reply_unavailable(r);
}
