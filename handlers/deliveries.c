#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/fields.h" /* delivery_state_names */
#include "store/ids.h"

#define LIST_SCAN_MAX "2000" /* index entries one list call may read */

static void on_delivery_list(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    if (rep->type == REDIS_REPLY_NIL) {
        reply_error(r, 404, "not_found", "endpoint_id", "no such endpoint");
        return;
    }
    reply_page(r, rep, render_delivery); /* a portal session's: only its endpoints (delivery_list.lua) */
}

/* A time filter: Unix seconds, or RFC 3339 UTC ("2026-01-02T03:04:05Z"). */
static int parse_time(const char *s, int64_t *ms)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end && v >= 0 && v < 100000000000LL) {
        *ms = v * 1000;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end)
        return -1;
    int frac = 0;
    if (*end == '.') {
        end++;
        int digits = 0;
        while (*end >= '0' && *end <= '9') {
            if (digits++ < 3)
                frac = frac * 10 + (*end - '0');
            end++;
        }
        while (digits++ < 3)
            frac *= 10;
    }
    if (strcmp(end, "Z") != 0 && strcmp(end, "+00:00") != 0)
        return -1;
    *ms = (int64_t)timegm(&tm) * 1000 + frac;
    return 0;
}

void h_delivery_list(struct req *r)
{
    static const char *const allowed[] = {"limit", "cursor", "endpoint_id", "state", "event_type",
                                          "sync_session_id", "created_since", "created_until", NULL};
    int limit;
    const char *cursor;
    if (req_query_only(r, allowed) < 0 || list_params(r, 50, 200, &limit, &cursor) < 0)
        return;
    const char *ep = req_query(r, "endpoint_id"), *state = req_query(r, "state"),
               *type = req_query(r, "event_type"), *sess = req_query(r, "sync_session_id"),
               *since = req_query(r, "created_since"), *until = req_query(r, "created_until");
    if (ep && !id_valid(ep)) {
        reply_error(r, 400, "invalid_parameter", "endpoint_id", "endpoint_id must be a UUID");
        return;
    }
    if (ep && !principal_sees_endpoint(&r->who, ep)) {
        reply_error(r, 404, "not_found", "endpoint_id", "no such endpoint");
        return;
    }
    char seen[PORTAL_ENDPOINTS_CSV];
    if (!ep && r->who.n_endpoints) /* a portal session limited to endpoints: the script keeps only theirs */
        ep = principal_endpoints(&r->who, seen, sizeof(seen));
    if (state) {
        int s = 0;
        while (s < DELIVERY_STATES && strcmp(delivery_state_names[s], state) != 0)
            s++;
        if (s == DELIVERY_STATES) {
            reply_error(r, 400, "invalid_parameter", "state",
                        "state must be one of pending, in_progress, retrying, completed, errored, canceled");
            return;
        }
    }
    if (type && !valid_event_type(type)) {
        reply_error(r, 400, "invalid_parameter", "event_type", "event_type is not a valid event type");
        return;
    }
    if (sess && !id_valid(sess)) {
        reply_error(r, 400, "invalid_parameter", "sync_session_id", "sync_session_id must be a UUID");
        return;
    }
    char since_id[ID_LEN + 1] = "", until_id[ID_LEN + 1] = "", lim[16];
    int64_t ms;
    if (since) {
        if (parse_time(since, &ms) < 0) {
            reply_error(r, 400, "invalid_parameter", "created_since",
                        "created_since must be Unix seconds or RFC 3339 UTC");
            return;
        }
        id_floor(since_id, ms);
    }
    if (until) {
        if (parse_time(until, &ms) < 0) {
            reply_error(r, 400, "invalid_parameter", "created_until",
                        "created_until must be Unix seconds or RFC 3339 UTC");
            return;
        }
        id_floor(until_id, ms + 1); /* inclusive of the given millisecond */
    }
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *argv[] = {r->who.org_id, cursor, lim, ep ? ep : "", state ? state : "",
                          type ? type : "", sess ? sess : "", since_id, until_id, LIST_SCAN_MAX};
    call_script(r, SCRIPT_DELIVERY_LIST, on_delivery_list, 10, argv);
}

static void render_delivery_with(struct jw *w, const redisReply *d, const void *arg)
{
    (void)arg;
    render_delivery(w, d);
}

static void on_delivery(redisReply *rep, void *priv)
{
    struct req *r = priv;
    const char *ep = rep && !reply_empty(rep) ? flat_get(rep, "endpoint_id") : NULL;
    if (ep && !principal_sees_endpoint(&r->who, ep)) {
        reply_error(r, 404, "not_found", NULL, "no such delivery"); /* a portal session's other endpoint */
        return;
    }
    reply_record(r, rep, 200, "delivery", render_delivery_with, NULL);
}

void h_delivery_get(struct req *r)
{
    const char *id = path_id(r, 0, "delivery");
    if (!id)
        return;
    const char *argv[] = {"dl", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_delivery, 3, argv);
}

/* One stored attempt (JSON written by the pump, times in Unix ms) as the
 * API shows it: through the parser, so the reply is always well-formed, with
 * started_at in RFC 3339 like every time of the native API. */
static void render_attempt(struct jw *w, yajl_val a)
{
    if (!YAJL_IS_OBJECT(a)) {
        jw_tree(w, a);
        return;
    }
    jw_map_open(w);
    for (size_t k = 0; k < a->u.object.len; k++) {
        const char *key = a->u.object.keys[k];
        yajl_val v = a->u.object.values[k];
        if (strcmp(key, "started_at") == 0 && YAJL_IS_INTEGER(v)) {
            jw_ktime(w, key, YAJL_GET_INTEGER(v));
            continue;
        }
        jw_key(w, key);
        jw_tree(w, v);
    }
    jw_map_close(w);
}

static void on_attempts(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    if (rep->type != REDIS_REPLY_ARRAY) {
        reply_error(r, 404, "not_found", NULL, "no such delivery");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_key(&w, "data");
    jw_array_open(&w);
    for (size_t i = 0; i < rep->elements; i++) {
        char err[64];
        yajl_val v = json_parse(rep->element[i]->str, rep->element[i]->len, err, sizeof(err));
        if (!v)
            continue;
        render_attempt(&w, v);
        yajl_tree_free(v);
    }
    jw_array_close(&w);
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

void h_delivery_attempts(struct req *r)
{
    const char *id = path_id(r, 0, "delivery");
    if (!id || delivery_guard(r, id, h_delivery_attempts))
        return;
    const char *argv[] = {"att", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_attempts, 3, argv);
}
