#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "store/ids.h"
#include "store/keys.h"

/* Kept until the store answers; freed in on_created. */
struct org_new {
    char id[ID_LEN + 1];
    char name[256];
    int64_t created;
};

static void on_created(redisReply *rep, void *priv)
{
    struct req *r = priv;
    struct org_new *o = r->state;
    r->state = NULL;
    if (reply_failed(r, rep)) {
        free(o);
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        free(o);
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "id", o->id);
    jw_kstr(&w, "name", o->name);
    jw_ktime(&w, "created_at", o->created);
    jw_map_close(&w);
    free(o);
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
    r->state = o;
    if (call_script_key(r, KEY_GLOBAL, SCRIPT_ORG_CREATE, on_created, 3, argv) < 0)
        free(o);
}

static void render_org(struct jw *w, const redisReply *o)
{
    jw_map_open(w);
    jw_kstr(w, "id", flat_get(o, "id"));
    jw_kstr(w, "name", flat_get(o, "name"));
    jw_ktime(w, "created_at", flat_int(o, "created_at"));
    jw_map_close(w);
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
