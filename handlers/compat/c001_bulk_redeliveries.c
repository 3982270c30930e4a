/* Contract 001: POST /api/v2/webhook_deliveries/redeliveries
 * {delivery_ids[]} -> 201 {webhook_deliveries[], meta{requested_count,
 * created_count, dropped_ids}}. Unknown or foreign ids are dropped, never an
 * error; callers must be org admins (403, checked by the route table). */
#include <stdlib.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/compat/compat.h"
#include "store/ids.h"
#include "store/redeliver.h"

/* The ids sent to the store (valid UUIDs, first occurrence only); owned by
 * the request until the reply. */
struct c001 {
    int requested;
    int n;
    const char *ids[REDELIVER_MAX_IDS];
    yajl_val all; /* borrowed: the request's delivery_ids array */
};

static void render(struct jw *w, const redisReply *d)
{
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(d, "id"));
    jw_kstr(w, "webhook_id", flat_get(d, "endpoint_id"));
    jw_kstr(w, "event_id", flat_get(d, "event_id"));
    jw_kstr(w, "event_action", flat_get(d, "event_type"));
    jw_kstr(w, "state", flat_get(d, "state"));
    jw_key(w, "response");
    jw_null(w); /* null while pending, as the contract says */
    jw_kstr(w, "replay_of_delivery_id", flat_get(d, "replay_of"));
    jw_ktime(w, "created_at", flat_int(d, "created_at"));
    jw_ktime(w, "updated_at", flat_int(d, "updated_at"));
    jw_map_close(w);
}

static int was_sent(const struct c001 *c, const char *id)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->ids[i], id) == 0)
            return 1;
    return 0;
}

static void on_replayed(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct c001 *c = r->state;
    struct jw w;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_ARRAY || (int)rep->elements != c->n || jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "unexpected store reply");
        return;
    }
    int created = 0;
    jw_map_open(&w);
    jw_key(&w, "webhook_deliveries");
    jw_array_open(&w);
    for (size_t i = 0; i < rep->elements; i++)
        if (rep->element[i]->elements) {
            render(&w, rep->element[i]);
            created++;
        }
    jw_array_close(&w);
    jw_key(&w, "meta");
    jw_map_open(&w);
    jw_kint(&w, "requested_count", c->requested);
    jw_kint(&w, "created_count", created);
    jw_key(&w, "dropped_ids");
    jw_array_open(&w);
    /* in request order: ids that were not UUIDs, then those the store dropped */
    for (size_t i = 0; i < c->all->u.array.len; i++) {
        const char *id = json_string(c->all->u.array.values[i]);
        if (id && !was_sent(c, id))
            jw_str(&w, id);
    }
    for (size_t i = 0; i < rep->elements; i++)
        if (!rep->element[i]->elements)
            jw_str(&w, c->ids[i]);
    jw_array_close(&w);
    jw_map_close(&w);
    jw_map_close(&w);
    reply_json(r, 201, &w);
}

void h_c001_bulk_redeliver(struct req *r)
{
    yajl_val ids;
    const char *bad = NULL;
    char msg[128], p[32];
    struct json_field f[] = {{"delivery_ids", JT_ARRAY, 1, &ids}};
    if (json_fields(r->json, f, 1, 0, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "invalid_request", "delivery_ids", "delivery_ids (an array of strings) is required");
        return;
    }
    if (ids->u.array.len > REDELIVER_MAX_IDS) {
        reply_error(r, 400, "too_many_ids", "delivery_ids", "at most %d delivery_ids per call", REDELIVER_MAX_IDS);
        return;
    }
    struct c001 *c = calloc(1, sizeof(*c));
    if (!c) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    req_keep(r, c, free); /* its ids point into r->json, freed after it */
    c->all = ids;
    c->requested = (int)ids->u.array.len;
    for (size_t i = 0; i < ids->u.array.len; i++) {
        const char *id = json_string(ids->u.array.values[i]);
        if (!id) {
            reply_error(r, 400, "invalid_request", "delivery_ids", "delivery_ids[%zu] must be a string", i);
            return;
        }
        if (id_valid(id) && !was_sent(c, id))
            c->ids[c->n++] = id;
    }
    org_prefix(r->who.org_id, p);
    if (redeliver_ids(p, r->who.org_id, r->who.user_id, c->ids, c->n, "", on_replayed, r) < 0)
        reply_unavailable(r);
}
