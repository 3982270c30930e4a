/*
 * POST /v1/endpoints/{id}/test {type?, payload?}: an example event sent to
 * that one endpoint, whatever it subscribes to or filters. It is a real
 * event and delivery (signed, retried, shown, redeliverable like any other)
 * flagged test: true. It goes through the ingest batcher with
 * INGEST_TEST_ENDPOINT set (store/fields.h): no matching, but the org's
 * rate_limit holds (429 like POST /v1/events); ingest.lua checks the
 * endpoint is the org's in the same atomic step. The receiver gets the
 * header Hookd-Test: true (store/lua/lib/lease.lua), so an example can never
 * pass for a real event, whatever type and payload it was given. A disabled
 * endpoint's test waits, like its other deliveries, to be enabled.
 */
#include <stdio.h>
#include <string.h>

#include "handlers/common.h"
#include "handlers/handlers.h"

#define TEST_TYPE "hookd.test"
#define TEST_PAYLOAD "{\"type\":\"hookd.test\",\"message\":\"a test event sent from hookd\"}"

static void on_test_ingested(void *arg, const struct ingest_result *res)
{
    struct req *r = arg;
    if (!res->answered) {
        reply_failed(r, res->error);
        return;
    }
    if (res->status == INGEST_LIMITED) {
        reply_rate_limited(r, res->retry_after_s, "sent");
        return;
    }
    if (res->status != INGEST_STORED) { /* INGEST_GONE: deleted a moment ago */
        reply_error(r, 404, "not_found", NULL, "no such endpoint");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "event_id", res->event_id);
    jw_kstr(&w, "delivery_id", res->delivery_ids);
    jw_kbool(&w, "test", 1);
    jw_map_close(&w);
    reply_json(r, 202, &w);
}

void h_endpoint_test(struct req *r)
{
    yajl_val type = NULL, payload = NULL;
    const char *bad = NULL, *id = path_id(r, 0, "endpoint");
    char msg[128];
    struct json_field f[] = {{"type", JT_STRING, 0, &type}, {"payload", JT_ANY, 0, &payload}};
    if (!id)
        return;
    if (r->json && json_fields(r->json, f, 2, 1, &bad, msg, sizeof(msg)) < 0) {
        reply_error(r, 422, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return;
    }
    if (type && !valid_event_type(type->u.string)) {
        reply_error(r, 422, "invalid_field", "type", "type must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        return;
    }
    /* the payload as sent (its bytes are owed to the receiver), else the example */
    struct json_span span;
    const char *pbytes = TEST_PAYLOAD;
    size_t plen = strlen(TEST_PAYLOAD);
    if (payload && json_member_span(r->body, r->body_len, "payload", &span))
        pbytes = r->body + span.at, plen = span.len;
    const char *v[INGEST_FIELDS] = {[INGEST_TYPE] = type ? type->u.string : TEST_TYPE, [INGEST_TEST_ENDPOINT] = id};
    submit_event(r, v, pbytes, plen, on_test_ingested);
}
