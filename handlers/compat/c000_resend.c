/* Contract 000: POST /api/webhooks/resend, a resend by search. search_type
 * picks one of ten filters; the selection may hold millions of deliveries,
 * so it runs as a background job (reactor/delivery/jobs.h) and the reply comes at
 * once: 200 {success, message} plus job_id (an added field). An added
 * optional "dry_run": true only counts. 400 {success:false, message} for a
 * body that matches no variant. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/compat/compat.h"
#include "reactor/delivery/jobs.h"
#include "store/ids.h"

/* Which fields each search_type requires (S session, C counters, T time
 * range, U status, O org, R request id). */
static const struct {
    const char *name, *needs;
} variants[] = {
    {"sync_session", "S"},       {"sync_session_counter", "SC"}, {"sync_session_status", "SU"},
    {"sync_session_counter_status", "SCU"}, {"time_range", "T"}, {"time_range_status", "TU"},
    {"time_range_org", "TO"},    {"time_range_status_org", "TUO"}, {"org_only", "O"},
    {"request_id", "R"},
};

struct c000 {
    char job_id[ID_LEN + 1];
    int dry_run;
};

static void on_job(int ok, void *arg)
{
    struct req *r = arg;
    struct c000 *c = r->state;
    if (!ok) {
        reply_error(r, 500, "internal", NULL, "the resend could not be started");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kbool(&w, "success", 1);
    jw_kstr(&w, "message", c->dry_run ? "Webhook resend dry run started; see the job for the count."
                                      : "Webhook resend triggered successfully.");
    jw_kstr(&w, "job_id", c->job_id);
    jw_kbool(&w, "dry_run", c->dry_run);
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

static int bad(struct req *r, const char *fmt, const char *what)
{
    reply_error(r, 400, "invalid_request", NULL, fmt, what);
    return -1;
}

/* Fill the job's selection from the body; replies 400 and returns -1 when it
 * matches no variant. */
static int parse(struct req *r, struct job_spec *s)
{
    yajl_val st, sess, ctr, status, t0, t1, org, rid, dry, ep;
    const char *badf = NULL;
    char msg[128];
    struct json_field f[] = {{"search_type", JT_STRING, 1, &st}, {"sync_session_id", JT_STRING, 0, &sess},
                             {"webhook_counter", JT_ARRAY, 0, &ctr}, {"status", JT_STRING, 0, &status},
                             {"request_timestamp", JT_INT, 0, &t0}, {"end_request_timestamp", JT_INT, 0, &t1},
                             {"client_org_id", JT_STRING, 0, &org}, {"request_id", JT_STRING, 0, &rid},
                             {"dry_run", JT_BOOL, 0, &dry}, {"endpoint_id", JT_STRING, 0, &ep}};
    if (json_fields(r->json, f, 10, 0, &badf, msg, sizeof(msg)) < 0)
        return bad(r, "invalid request payload: %s", badf ? badf : "a JSON object with search_type is required");
    const char *needs = NULL;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
        if (strcmp(variants[i].name, st->u.string) == 0)
            needs = variants[i].needs;
    if (!needs)
        return bad(r, "invalid request payload: unknown search_type '%.64s'", st->u.string);
    snprintf(s->search_type, sizeof(s->search_type), "%s", st->u.string);
    snprintf(s->org, sizeof(s->org), "%s", r->who.org_id);
    s->user_id = r->who.user_id;
    s->dry_run = dry && YAJL_IS_TRUE(dry);
    if (ep && !id_valid(ep->u.string)) /* hookd's addition: one endpoint's deliveries only */
        return bad(r, "invalid request payload: %s", "endpoint_id must be a UUID");
    snprintf(s->endpoint_id, sizeof(s->endpoint_id), "%s", ep ? ep->u.string : "");
    strcpy(s->index, "org");
    strcpy(s->status, "all");
    s->min_ms = 0;
    s->max_ms = INT64_MAX;
    if (strchr(needs, 'S')) {
        if (!sess || !id_valid(sess->u.string))
            return bad(r, "invalid request payload: %s needs sync_session_id (a UUID)", s->search_type);
        snprintf(s->index, sizeof(s->index), "sess:%s", sess->u.string);
    }
    if (strchr(needs, 'C')) {
        if (!ctr || ctr->u.array.len == 0 || ctr->u.array.len > 100)
            return bad(r, "invalid request payload: %s needs webhook_counter (1 to 100 integers)", s->search_type);
        size_t n = 1;
        s->counters[0] = ',';
        for (size_t i = 0; i < ctr->u.array.len; i++) {
            yajl_val v = ctr->u.array.values[i];
            if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 1)
                return bad(r, "invalid request payload: %s", "webhook_counter items must be integers >= 1");
            n += (size_t)snprintf(s->counters + n, sizeof(s->counters) - n, "%lld,", YAJL_GET_INTEGER(v));
        }
    }
    if (strchr(needs, 'U')) {
        const char *v = json_string(status);
        if (!v || (strcmp(v, "success") && strcmp(v, "fail") && strcmp(v, "all")))
            return bad(r, "invalid request payload: %s needs status (success, fail or all)", s->search_type);
        snprintf(s->status, sizeof(s->status), "%s", v);
    }
    if (strchr(needs, 'T')) {
        if (!t0 || !t1 || YAJL_GET_INTEGER(t0) < 0 || YAJL_GET_INTEGER(t1) < YAJL_GET_INTEGER(t0) ||
            YAJL_GET_INTEGER(t1) > 100000000000LL)
            return bad(r, "invalid request payload: %s needs request_timestamp <= end_request_timestamp (epoch seconds)",
                       s->search_type);
        s->min_ms = YAJL_GET_INTEGER(t0) * 1000;
        s->max_ms = (YAJL_GET_INTEGER(t1) + 1) * 1000; /* the end second is included */
    }
    if (strchr(needs, 'O')) {
        if (!org || !id_valid(org->u.string))
            return bad(r, "invalid request payload: %s needs client_org_id (a UUID)", s->search_type);
        if (strcmp(org->u.string, r->who.org_id) != 0)
            s->max_ms = s->min_ms; /* another org: an empty selection, as if unknown */
    }
    if (strchr(needs, 'R')) {
        if (!rid || !valid_token_chars(rid->u.string, 128))
            return bad(r, "invalid request payload: %s needs request_id", s->search_type);
        snprintf(s->index, sizeof(s->index), "req:%s", rid->u.string);
    }
    return 0;
}

void h_c000_resend(struct req *r)
{
    struct job_spec s;
    memset(&s, 0, sizeof(s));
    if (parse(r, &s) < 0)
        return;
    struct c000 *c = calloc(1, sizeof(*c));
    if (!c) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    c->dry_run = s.dry_run;
    req_keep(r, c, free);
    if (jobs_start(&s, c->job_id, on_job, r) < 0)
        reply_unavailable(r);
}
