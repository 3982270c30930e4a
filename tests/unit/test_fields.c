/*
 * The field tables of store/fields.h round-trip between C and Lua: C encodes
 * by its enums, a script built the way the real ones are (the generated
 * prelude, lib/lease.lua) reads or writes by the generated names, and a real
 * redis-server carries both ways. A field moved on one side only fails here.
 *
 * usage: test_fields <store/lua/lib directory>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fields.h"
#include "store/lease.h"
#include "tests/unit/check.h"
#include "tests/unit/redis_child.h"

extern const char lua_fields[]; /* generated with the scripts (cmake/embed_lua.cmake) */

static char *read_file(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    if (buf)
        fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

/* EVAL of the prelude, `lib` and `body` with no keys and argc arguments. */
static redisReply *eval(redisContext *rc, const char *lib, const char *body, int argc, const char **argv)
{
    size_t n = strlen(lua_fields) + strlen(lib) + strlen(body) + 2;
    char *script = malloc(n);
    snprintf(script, n, "%s%s\n%s", lua_fields, lib, body);
    const char **a = calloc((size_t)argc + 3, sizeof(*a));
    a[0] = "EVAL", a[1] = script, a[2] = "0";
    for (int i = 0; i < argc; i++)
        a[3 + i] = argv[i];
    redisReply *r = redisCommandArgv(rc, argc + 3, a, NULL);
    free(a);
    free(script);
    return r;
}

/* lib/lease.lua writes a lease; lease_build reads each value back
 * under the name it was written by. */
static void lease_round_trip(redisContext *rc, const char *lib)
{
    const char *in[] = {"dl-1", "ev-1", "ep-1", "https://x.test/h", "whsec_a", "whsec_b", "{\"k\":1}", "3", "12345",
                        "4", "1", "ca-pem", "cert-pem", "", "both", "", "", "https://t.test/token", "cid", "", "s1", "qk", "X-A: 1\n"};
    redisReply *r = eval(rc, lib,
                         "local out = {'head'}\n"
                         "lease_append(out, unpack(ARGV))\n"
                         "return out",
                         (int)(sizeof(in) / sizeof(in[0])), in);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 + LEASE_FIELDS, "lease reply: %s",
          r && r->type == REDIS_REPLY_ERROR ? r->str : "wrong shape");
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1 + LEASE_FIELDS)
        goto done;
    const char *v[LEASE_FIELDS];
    size_t len[LEASE_FIELDS];
    for (int i = 0; i < LEASE_FIELDS; i++)
        v[i] = r->element[1 + i]->str, len[i] = r->element[1 + i]->len;
    struct lease *l = lease_build(v, len, 7, 1 << 20);
    CHECK(l != NULL, "lease_build");
    if (!l)
        goto done;
    CHECK_STR(l->id, "dl-1");
    CHECK_STR(l->event_id, "ev-1");
    CHECK_STR(l->queue, "qk");
    CHECK_STR(l->headers, "X-A: 1\n");
    CHECK_STR(l->endpoint_id, "ep-1");
    CHECK_STR(l->url, "https://x.test/h");
    CHECK_STR(l->secret, "whsec_a");
    CHECK_STR(l->prev_secret, "whsec_b");
    CHECK_STR(l->payload, "{\"k\":1}");
    CHECK(l->payload_len == 7, "payload_len %zu", l->payload_len);
    CHECK(l->tries == 3, "tries %d", l->tries);
    CHECK_STR(l->fence, "12345");
    CHECK_STR(l->attempt_count, "4");
    CHECK(l->simple == 1, "simple %d", l->simple);
    CHECK(l->partition == 7, "partition %d", l->partition);
    CHECK_STR(l->tls_ca, "ca-pem");
    CHECK_STR(l->tls_cert, "cert-pem");
    CHECK_STR(l->tls_key, "");
    CHECK_STR(l->scheme, "both");
    CHECK_STR(l->sign_key, "");
    CHECK_STR(l->auth_url, "https://t.test/token");
    CHECK_STR(l->auth_client_id, "cid");
    CHECK_STR(l->auth_scope, "s1");
    free(l);
done:
    freeReplyObject(r);
}

/* lib/lease.lua writes a hand-off; C reads each value by its enum. */
static void handoff_round_trip(redisContext *rc, const char *lib)
{
    const char *in[] = {"dl-2", "3", "67890", "1", "qk"};
    redisReply *r = eval(rc, lib,
                         "local out = {'head'}\n"
                         "handoff_append(out, ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5])\n"
                         "return out",
                         (int)(sizeof(in) / sizeof(in[0])), in);
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 + HANDOFF_FIELDS;
    CHECK(ok, "handoff reply: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : "wrong shape");
    if (ok) {
        redisReply *const *h = r->element + 1;
        CHECK_STR(h[HANDOFF_ID]->str, "dl-2");
        CHECK(h[HANDOFF_ENDPOINT]->type == REDIS_REPLY_INTEGER && h[HANDOFF_ENDPOINT]->integer == 3,
              "HANDOFF_ENDPOINT is not the integer 3");
        CHECK_STR(h[HANDOFF_FENCE]->str, "67890");
        CHECK_STR(h[HANDOFF_SIMPLE]->str, "1");
        CHECK_STR(h[HANDOFF_QUEUE]->str, "qk");
    }
    freeReplyObject(r);
}

/* Every field a script reads by name, joined with newlines (no value here
 * holds one): one comparison per list. `names` are the Lua expressions. */
static void expect_read(redisContext *rc, const char *what, const char *names, int argc, const char **argv,
                        const char *want)
{
    char body[2048];
    snprintf(body, sizeof(body), "return table.concat({%s}, '\\n')", names);
    redisReply *r = eval(rc, "", body, argc, argv);
    CHECK(r && r->type == REDIS_REPLY_STRING, "%s reply: %s", what,
          r && r->type == REDIS_REPLY_ERROR ? r->str : "not a string");
    if (r && r->type == REDIS_REPLY_STRING)
        CHECK(strcmp(r->str, want) == 0, "%s read back as\n%s\nnot\n%s", what, r->str, want);
    freeReplyObject(r);
}

/* outcome_fields() places each value; the script reads it by its name. */
static void outcome_round_trip(redisContext *rc)
{
    struct lease l = {.id = "dl-2", .event_id = "ev-2", .endpoint_id = "ep-2", .fence = "999",
                      .attempt_count = "0", .simple = 1, .queue = "qk"};
    struct outcome o = {.lease = &l, .result = RESULT_FAILURE, .action = ACTION_DISABLE, .status = 410,
                        .error = "failed_tls", .attempt = "{\"number\":1}", .compact = "410|5|6|x",
                        .started_ms = 1700000000123, .next_at = -1, .duration_ms = 300};
    struct outcome_text text;
    const char *f[OUTCOME_FIELDS];
    outcome_fields(&o, &text, f);
    expect_read(rc, "outcome",
                "ARGV[1 + OUT_ID], ARGV[1 + OUT_FENCE], ARGV[1 + OUT_ENDPOINT_ID], ARGV[1 + OUT_ATTEMPT_COUNT],"
                " ARGV[1 + OUT_OK], ARGV[1 + OUT_CODE], ARGV[1 + OUT_ERROR], ARGV[1 + OUT_ATTEMPT],"
                " ARGV[1 + OUT_STARTED], ARGV[1 + OUT_NEXT_AT], ARGV[1 + OUT_ACTION], ARGV[1 + OUT_EVENT_ID],"
                " ARGV[1 + OUT_COMPACT], ARGV[1 + OUT_SIMPLE], ARGV[1 + OUT_QUEUE], ARGV[1 + OUT_LATENCY_BIN]",
                OUTCOME_FIELDS, f,
                "dl-2\n999\nep-2\n0\n0\n410\nfailed_tls\n{\"number\":1}\n1700000000123\n-1\ndisable\nev-2\n"
                "410|5|6|x\n1\nqk\nb32");
}

/* An event's arguments as the events handler fills them, by enum. */
static void ingest_round_trip(redisContext *rc)
{
    const char *v[INGEST_FIELDS] = {
        [INGEST_ORG] = "org", [INGEST_EVENT_ID] = "evid", [INGEST_TYPE] = "type", [INGEST_PAYLOAD] = "{}",
        [INGEST_NOW] = "42", [INGEST_IDEMPOTENCY_KEY] = "idem", [INGEST_SYNC_SESSION_ID] = "sess",
        [INGEST_REQUEST_ID] = "req", [INGEST_USER_ID] = "uid", [INGEST_FINGERPRINT] = "fp",
        [INGEST_ROUTES_VERSION] = "7", [INGEST_ENDPOINTS] = "ep1ep2", [INGEST_ORDERING_KEY] = "ok",
        [INGEST_ORG_LIMITED] = "1", [INGEST_TEST_ENDPOINT] = "tep",
    };
    expect_read(rc, "ingest",
                "ARGV[1 + INGEST_ORG], ARGV[1 + INGEST_EVENT_ID], ARGV[1 + INGEST_TYPE], ARGV[1 + INGEST_PAYLOAD],"
                " ARGV[1 + INGEST_NOW], ARGV[1 + INGEST_IDEMPOTENCY_KEY], ARGV[1 + INGEST_SYNC_SESSION_ID],"
                " ARGV[1 + INGEST_REQUEST_ID], ARGV[1 + INGEST_USER_ID], ARGV[1 + INGEST_FINGERPRINT],"
                " ARGV[1 + INGEST_ROUTES_VERSION], ARGV[1 + INGEST_ENDPOINTS], ARGV[1 + INGEST_ORDERING_KEY],"
                " ARGV[1 + INGEST_ORG_LIMITED], ARGV[1 + INGEST_TEST_ENDPOINT]",
                INGEST_FIELDS, v, "org\nevid\ntype\n{}\n42\nidem\nsess\nreq\nuid\nfp\n7\nep1ep2\nok\n1\ntep");
}

/* A job's record and step arguments as reactor/delivery/jobs.c fills them, by enum;
 * and every list's length as Lua counts it. */
static void job_round_trip(redisContext *rc)
{
    const char *v[JOB_FIELDS] = {
        [JOB_ORG] = "o", [JOB_NOW] = "n", [JOB_ID] = "i", [JOB_SEARCH_TYPE] = "t", [JOB_DRY_RUN] = "d",
        [JOB_OWNER] = "w", [JOB_LEASE_UNTIL] = "l", [JOB_INDEX] = "x", [JOB_MIN_ID] = "a", [JOB_MAX_ID] = "b",
        [JOB_STATUS] = "s", [JOB_COUNTERS] = "c", [JOB_USER_ID] = "u", [JOB_ENDPOINT_ID] = "e",
    };
    expect_read(rc, "job",
                "ARGV[1 + JOB_ORG], ARGV[1 + JOB_NOW], ARGV[1 + JOB_ID], ARGV[1 + JOB_SEARCH_TYPE],"
                " ARGV[1 + JOB_DRY_RUN], ARGV[1 + JOB_OWNER], ARGV[1 + JOB_LEASE_UNTIL], ARGV[1 + JOB_INDEX],"
                " ARGV[1 + JOB_MIN_ID], ARGV[1 + JOB_MAX_ID], ARGV[1 + JOB_STATUS], ARGV[1 + JOB_COUNTERS],"
                " ARGV[1 + JOB_USER_ID], ARGV[1 + JOB_ENDPOINT_ID]",
                JOB_FIELDS, v, "o\nn\ni\nt\nd\nw\nl\nx\na\nb\ns\nc\nu\ne");
    const char *w[JOB_STEP_FIELDS] = {
        [STEP_ORG] = "o", [STEP_NOW] = "n", [STEP_BASE_ID] = "b", [STEP_JOB_ID] = "j", [STEP_OWNER] = "w",
        [STEP_LEASE_UNTIL] = "l", [STEP_LIMIT] = "m", [STEP_RETENTION_MS] = "r",
    };
    expect_read(rc, "job step",
                "ARGV[1 + STEP_ORG], ARGV[1 + STEP_NOW], ARGV[1 + STEP_BASE_ID], ARGV[1 + STEP_JOB_ID],"
                " ARGV[1 + STEP_OWNER], ARGV[1 + STEP_LEASE_UNTIL], ARGV[1 + STEP_LIMIT], ARGV[1 + STEP_RETENTION_MS]",
                JOB_STEP_FIELDS, w, "o\nn\nb\nj\nw\nl\nm\nr");
}

/* every list's length, as the generated prelude counts it */
static void counts_agree(redisContext *rc)
{
    char want[64];
    snprintf(want, sizeof(want), "%d\n%d\n%d\n%d\n%d", INGEST_FIELDS, LEASE_FIELDS, OUTCOME_FIELDS, JOB_FIELDS,
             JOB_STEP_FIELDS);
    expect_read(rc, "list lengths", "INGEST_FIELDS, LEASE_FIELDS, OUTCOME_FIELDS, JOB_FIELDS, JOB_STEP_FIELDS", 0,
                NULL, want);
}

/* A reply list a script writes by name is read back by C's enum: each
 * position holds the name of its field. */
static void expect_written(redisContext *rc, const char *what, const char *names, int n, const char *const *want)
{
    char script[2048];
    snprintf(script, sizeof(script), "local out = {}\n%s\nreturn out", names);
    redisReply *r = eval(rc, "", script, 0, NULL);
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)n, "%s reply: %s", what,
          r && r->type == REDIS_REPLY_ERROR ? r->str : "not an array of the list's length");
    for (int i = 0; r && r->type == REDIS_REPLY_ARRAY && i < n && (size_t)i < r->elements; i++)
        CHECK(r->element[i]->type == REDIS_REPLY_STRING && strcmp(r->element[i]->str, want[i]) == 0,
              "%s: position %d holds %s, C reads %s there", what, i, r->element[i]->str, want[i]);
    freeReplyObject(r);
}

#define WRITE_BY_NAME(name) "out[1 + " #name "] = '" #name "'\n"
#define NAME_STRING(name) #name,
#define NAME_VALUE_CHECK(name, text) #name ", "

/* The reply lists (ingest's entry and hand-off, claim's head, complete's verdict) and the
 * value lists land where C's enums read them; the names stored in Redis
 * (delivery states, endpoint statuses, job states) are the same text in
 * both. */
static void replies_and_names_agree(redisContext *rc)
{
    static const char *const ingest[] = {INGEST_REPLY_FIELD_LIST(NAME_STRING)};
    static const char *const status[] = {INGEST_STATUS_FIELD_LIST(NAME_STRING)};
    static const char *const claim[] = {CLAIM_REPLY_FIELD_LIST(NAME_STRING)};
    static const char *const verdict[] = {VERDICT_FIELD_LIST(NAME_STRING)};
    static const char *const handoff[] = {HANDOFF_FIELD_LIST(NAME_STRING)};
    static const char *const claimed[] = {CLAIMED_FIELD_LIST(NAME_STRING)};
    static const char *const evrec[] = {EVENT_RECORD_FIELD_LIST(NAME_STRING)};
    expect_written(rc, "ingest reply", INGEST_REPLY_FIELD_LIST(WRITE_BY_NAME), INGEST_REPLY_FIELDS, ingest);
    expect_written(rc, "ingest status", INGEST_STATUS_FIELD_LIST(WRITE_BY_NAME), INGEST_STATUS_FIELDS, status);
    expect_written(rc, "hand-off", HANDOFF_FIELD_LIST(WRITE_BY_NAME), HANDOFF_FIELDS, handoff);
    expect_written(rc, "claimed delivery", CLAIMED_FIELD_LIST(WRITE_BY_NAME), CLAIMED_FIELDS, claimed);
    expect_written(rc, "event record", EVENT_RECORD_FIELD_LIST(WRITE_BY_NAME), EVENT_RECORD_FIELDS, evrec);
    expect_written(rc, "claim reply", CLAIM_REPLY_FIELD_LIST(WRITE_BY_NAME), CLAIM_REPLY_FIELDS, claim);
    expect_written(rc, "verdict", VERDICT_FIELD_LIST(WRITE_BY_NAME), VERDICT_FIELDS, verdict);
    char want[512] = "";
    for (int i = 0; i < DELIVERY_STATES; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", i ? "\n" : "", delivery_state_names[i]);
    for (int i = 0; i < ENDPOINT_STATUSES; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "\n%s", endpoint_status_names[i]);
    for (int i = 0; i < JOB_STATES; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "\n%s", job_state_names[i]);
    expect_read(rc, "names", DELIVERY_STATE_NAME_LIST(NAME_VALUE_CHECK) ENDPOINT_STATUS_NAME_LIST(NAME_VALUE_CHECK)
                JOB_STATE_NAME_LIST(NAME_VALUE_CHECK) "nil", 0, NULL, want);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_fields <store/lua/lib>\n");
        return 2;
    }
    char *lease_lib = read_file(argv[1], "lease.lua");
    CHECK(lease_lib != NULL, "cannot read %s/lease.lua", argv[1]);
    struct redis_child rs;
    int up = redis_child_start(&rs, 0) == 0;
    CHECK(up, "cannot start redis-server");
    if (up && lease_lib) {
        lease_round_trip(rs.rc, lease_lib);
        handoff_round_trip(rs.rc, lease_lib);
        outcome_round_trip(rs.rc);
        ingest_round_trip(rs.rc);
        job_round_trip(rs.rc);
        counts_agree(rs.rc);
        replies_and_names_agree(rs.rc);
    }
    redis_child_stop(&rs);
    free(lease_lib);
    return CHECK_DONE();
}
