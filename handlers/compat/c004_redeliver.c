/* Contract 004: POST /api/partner/v1/webhook-endpoints/{endpointId}/redeliver
 * {deliveryId?} -> 200 {webhookEndpoint, requeued, message}. With deliveryId
 * that delivery is requeued whatever its state; without, every errored
 * delivery of the endpoint, in batches of job_batch (one round trip each,
 * yielding to the loop in between). Requeued work waits while the endpoint
 * is DISABLED; the message says so. */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "handlers/common.h"
#include "store/fields.h" /* endpoint_status_names */
#include "handlers/compat/compat.h"
#include "store/ids.h"
#include "store/redeliver.h"

struct c004 {
    char prefix[32];
    char delivery[40];
    long long requeued;
};

static void render_endpoint_c004(struct jw *w, const redisReply *e)
{
    const char *types = flat_get(e, "event_types");
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(e, "id"));
    jw_kstr(w, "url", flat_get(e, "url"));
    jw_key(w, "eventTypes");
    jw_array_open(w);
    for (const char *s = types; s && *s;) {
        const char *end = strchr(s + 1, ',');
        if (*s == ',')
            s++;
        size_t n = end ? (size_t)(end - s) : strlen(s);
        if (n)
            jw_strn(w, s, n);
        s += n;
    }
    jw_array_close(w);
    jw_kstr(w, "status", flat_get(e, "status"));
    jw_ktime(w, "createdAt", flat_int(e, "created_at"));
    jw_kint(w, "consecutiveFailures", flat_int(e, "consecutive_failures"));
    jw_ktime(w, "disabledAt", flat_int(e, "disabled_at"));
    render_kstr_opt(w, "disabledReason", flat_get(e, "disabled_reason"));
    jw_map_close(w);
}

static void step(struct req *r);

static void on_requeued(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct c004 *c = r->state;
    if (reply_failed(r, rep))
        return;
    const char *tag = rep->type == REDIS_REPLY_ARRAY && rep->elements ? rep->element[0]->str : "";
    if (!tag || strcmp(tag, "ok") != 0 || rep->elements != 4) {
        int no_ep = tag && strcmp(tag, "no_endpoint") == 0;
        reply_error(r, 404, "NOT_FOUND", NULL, no_ep ? "Endpoint not found" : "Delivery not found");
        return;
    }
    c->requeued += rep->element[1]->integer;
    if (rep->element[2]->integer == 1) { /* more errored deliveries wait */
        step(r);
        return;
    }
    const redisReply *ep = rep->element[3];
    int active = strcmp(flat_get(ep, "status") ? flat_get(ep, "status") : "", endpoint_status_names[EP_ACTIVE]) == 0;
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "INTERNAL", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_key(&w, "webhookEndpoint");
    render_endpoint_c004(&w, ep);
    jw_kint(&w, "requeued", c->requeued);
    jw_kstr(&w, "message", active
        ? "Requeued deliveries will be attempted on the next delivery run (within seconds)."
        : "The endpoint is DISABLED: requeued deliveries will not be attempted until it is re-enabled.");
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

static void step(struct req *r)
{
    struct c004 *c = r->state;
    if (redeliver_requeue(c->prefix, r->who.org_id, r->params[0], c->delivery,
                          (int)server_conf()->job_batch, on_requeued, r) < 0)
        reply_unavailable(r);
}

void h_c004_redeliver(struct req *r)
{
    yajl_val did = NULL;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"deliveryId", JT_STRING, 0, &did}};
    if (r->json && json_fields(r->json, f, 1, 0, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "BAD_REQUEST", bad, "%s %s", bad ? bad : "body", msg);
        return;
    }
    if (!id_valid(r->params[0])) {
        reply_error(r, 404, "NOT_FOUND", NULL, "Endpoint not found");
        return;
    }
    if (did && !id_valid(did->u.string)) {
        reply_error(r, 404, "NOT_FOUND", NULL, "Delivery not found");
        return;
    }
    struct c004 *c = calloc(1, sizeof(*c));
    if (!c) {
        reply_error(r, 500, "INTERNAL", NULL, "out of memory");
        return;
    }
    org_prefix(r->who.org_id, c->prefix);
    if (did)
        strcpy(c->delivery, did->u.string);
    req_keep(r, c, free);
    step(r);
}
