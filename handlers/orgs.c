#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/ids.h"
#include "store/keys.h"

/* Kept by the request until the store answers. */
struct org_new {
    char id[ID_LEN + 1];
    char name[256];
    int64_t created;
};

static void on_created(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct org_new *o = r->state;
    if (reply_failed(r, rep))
        return;
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "id", o->id);
    jw_kstr(&w, "name", o->name);
    jw_ktime(&w, "created_at", o->created);
    jw_map_close(&w);
    reply_json(r, 201, &w);
}

void h_org_create(struct req *r)
{
    yajl_val name;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"name", JT_STRING, 1, &name}};
    if (!r->json) {
        reply_error(r, 400, "missing_body", NULL, "a JSON body {\"name\": ...} is required");
        return;
    }
    if (json_fields(r->json, f, 1, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 400, "invalid_field", bad, "%s%s%s", bad ? bad : "", bad ? " " : "", msg);
        return;
    }
    size_t n = strlen(name->u.string);
    if (n == 0 || n > 200) {
        reply_error(r, 400, "invalid_field", "name", "name must be 1 to 200 characters");
        return;
    }
    struct org_new *o = calloc(1, sizeof(*o));
    if (!o) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    o->created = now_ms();
    id_new(o->id, o->created);
    memcpy(o->name, name->u.string, n + 1);
    char now[24];
    snprintf(now, sizeof(now), "%lld", (long long)o->created);
    const char *argv[] = {o->id, o->name, now};
    req_keep(r, o, free);
    call_script_key(r, KEY_GLOBAL, SCRIPT_ORG_CREATE, on_created, 3, argv); /* a failure has replied */
}

static void render_org(struct jw *w, const redisReply *o)
{
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(o, "id"));
    jw_kstr(w, "name", flat_get(o, "name"));
    render_kint_opt(w, "rate_limit", flat_get(o, "rate_limit"));
    jw_ktime(w, "created_at", flat_int(o, "created_at"));
    jw_map_close(w);
}

/* PATCH /v1/orgs/{id}: the org as rendered after the global record
 * changed, kept by the request until the partition's bucket is set too. */
struct org_patch {
    struct jw w; /* g NULL until rendered, and again once replied */
    char id[ID_LEN + 1], rate[24];
};

static void org_patch_free(void *p)
{
    jw_free(&((struct org_patch *)p)->w);
    free(p);
}

static void on_org_limited(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct org_patch *op = r->state;
    if (!reply_failed(r, rep))
        reply_json(r, 200, &op->w); /* it takes the writer */
}

static void on_org_updated(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct org_patch *op = r->state;
    if (reply_failed(r, rep))
        return;
    if (reply_empty(rep)) {
        reply_error(r, 404, "not_found", NULL, "no such org");
        return;
    }
    if (jw_init(&op->w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    render_org(&op->w, rep);
    char p[32];
    org_prefix(op->id, p);
    const char *argv[] = {op->id, op->rate};
    call_script_key(r, p, SCRIPT_ORG_LIMIT, on_org_limited, 2, argv); /* a failure has replied */
}

void h_org_update(struct req *r)
{
    const char *id = path_id(r, 0, "org");
    yajl_val rate = NULL;
    const char *bad = NULL;
    char msg[128];
    if (!id)
        return;
    const char *path[] = {"rate_limit", NULL};
    struct json_field f[] = {{"rate_limit", JT_ANY, 0, &rate}};
    if (!r->json || json_fields(r->json, f, 1, 1, &bad, msg, sizeof(msg)) < 0 ||
        !yajl_tree_get(r->json, path, yajl_t_any)) {
        reply_error(r, 400, "invalid_field", bad ? bad : "rate_limit",
                    "a JSON body {\"rate_limit\": events per second or null} is required");
        return;
    }
    rate = yajl_tree_get(r->json, path, yajl_t_any); /* null included */
    if (!YAJL_IS_NULL(rate) && !valid_rate_limit(rate)) {
        reply_error(r, 422, "invalid_field", "rate_limit",
                    "rate_limit must be a whole number of events per second from 1 to 100000, or null");
        return;
    }
    struct org_patch *op = calloc(1, sizeof(*op));
    if (!op) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    snprintf(op->id, sizeof(op->id), "%s", id);
    if (!YAJL_IS_NULL(rate))
        snprintf(op->rate, sizeof(op->rate), "%lld", YAJL_GET_INTEGER(rate));
    const char *argv[] = {op->id, op->rate};
    req_keep(r, op, org_patch_free);
    call_script_key(r, KEY_GLOBAL, SCRIPT_ORG_UPDATE, on_org_updated, 2, argv); /* a failure has replied */
}

static void on_org_list(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (!reply_failed(r, rep))
        reply_page(r, rep, render_org);
}

/* GET /v1/orgs (root): every org, in creation order. */
void h_org_list(struct req *r)
{
    const char *cursor;
    char lim[16];
    if (list_query(r, 100, 1000, &cursor, lim) < 0)
        return;
    const char *argv[] = {"orgs", cursor, lim};
    call_script_key(r, KEY_GLOBAL, SCRIPT_ADMIN, on_org_list, 3, argv);
}
