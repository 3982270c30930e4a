/* Contract 003: POST /api/notifications/v1/admin/webhooks/{webhookId}/notifications/retrigger
 * {webhookNotificationIds[] (max 25)} -> 200 with totals and per-id results.
 * Errors are {name, error, status}: 400 ValidationFailed (26+ ids, bad ids),
 * 400 RETRIGGER_RATE_LIMITED (retrigger_per_minute per webhook), 403
 * AccessDenied (not admin, via the route table), 404 NotFound (webhook).
 * Three round trips, one at a time: the webhook exists, the rate limit,
 * the replays (restricted to that webhook). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "handlers/common.h"
#include "handlers/compat/compat.h"
#include "store/ids.h"
#include "store/redeliver.h"

#define C003_MAX 25

struct c003 {
    int n;
    const char *ids[C003_MAX]; /* borrowed from the request's JSON */
    char prefix[32];
};

static void on_replayed(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct c003 *c = r->state;
    struct jw w;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_ARRAY || (int)rep->elements != c->n || jw_init(&w) < 0) {
        reply_error(r, 500, "UnexpectedError", NULL, "unexpected store reply");
        return;
    }
    int ok = 0;
    for (size_t i = 0; i < rep->elements; i++)
        ok += rep->element[i]->elements > 0;
    jw_map_open(&w);
    jw_kint(&w, "totalRequested", c->n);
    jw_kint(&w, "totalSuccess", ok);
    jw_kint(&w, "totalFailed", c->n - ok);
    for (int pass = 0; pass < 2; pass++) {
        jw_key(&w, pass == 0 ? "successfulNotifications" : "failedNotifications");
        jw_array_open(&w);
        for (size_t i = 0; i < rep->elements; i++) {
            int success = rep->element[i]->elements > 0;
            if (success != (pass == 0))
                continue;
            jw_map_open(&w);
            jw_kstr(&w, "webhookNotificationId", c->ids[i]);
            if (success)
                jw_kstr(&w, "retriggeredNotificationRequestId", flat_get(rep->element[i], "id"));
            else
                jw_kstr(&w, "error", "notification not found for this webhook");
            jw_map_close(&w);
        }
        jw_array_close(&w);
    }
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

static void on_rate(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct c003 *c = r->state;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_INTEGER || rep->integer != 1) {
        reply_error(r, 400, "RETRIGGER_RATE_LIMITED", NULL,
                    "too many retrigger calls for this webhook; at most %lld per minute",
                    (long long)server_conf()->retrigger_per_minute);
        return;
    }
    if (redeliver_ids(c->prefix, r->who.org_id, r->who.user_id, c->ids, c->n, r->params[0], on_replayed, r) < 0)
        reply_unavailable(r);
}

static void on_webhook(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    if (reply_empty(rep)) {
        reply_error(r, 404, "NotFound", NULL, "webhook not found");
        return;
    }
    char name[160];
    snprintf(name, sizeof(name), "c003:%s", r->params[0]);
    if (redeliver_ratelimit(name, server_conf()->retrigger_per_minute, on_rate, r) < 0)
        reply_unavailable(r);
}

void h_c003_retrigger(struct req *r)
{
    yajl_val ids;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"webhookNotificationIds", JT_ARRAY, 1, &ids}};
    if (json_fields(r->json, f, 1, 0, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "ValidationFailed", NULL, "webhookNotificationIds (an array of UUIDs) is required");
        return;
    }
    if (ids->u.array.len == 0 || ids->u.array.len > C003_MAX) {
        reply_error(r, 400, "ValidationFailed", NULL, "webhookNotificationIds must hold 1 to %d ids, got %zu",
                    C003_MAX, ids->u.array.len);
        return;
    }
    struct c003 *c = calloc(1, sizeof(*c));
    if (!c) {
        reply_error(r, 500, "UnexpectedError", NULL, "out of memory");
        return;
    }
    req_keep(r, c, free);
    for (size_t i = 0; i < ids->u.array.len; i++) {
        const char *id = json_string(ids->u.array.values[i]);
        if (!id || !id_valid(id)) {
            reply_error(r, 400, "ValidationFailed", NULL, "webhookNotificationIds[%zu] must be a UUID", i);
            return;
        }
        c->ids[c->n++] = id;
    }
    if (!id_valid(r->params[0])) {
        reply_error(r, 404, "NotFound", NULL, "webhook not found");
        return;
    }
    org_prefix(r->who.org_id, c->prefix);
    const char *argv[] = {"ep", r->params[0], r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_webhook, 3, argv); /* a failure has replied */
}
