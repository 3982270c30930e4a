#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "handlers/common.h"
#include "handlers/handlers.h"
#include "reactor/http/metrics.h"
#include "store/crypto.h"
#include "store/ids.h"
#include "store/ingest.h"
#include "store/keys.h"
#include "store/notice.h"
#include "store/payload.h"


/* The reply for one event of an ingest batch (store/ingest.h). */
static void on_ingested(void *arg, const struct ingest_result *res)
{
    struct req *r = arg;
    if (!res->answered) {
        reply_failed(r, res->error);
        return;
    }
    if (res->status == INGEST_LIMITED) {
        metrics_org_refused();
        reply_rate_limited(r, res->retry_after_s, "stored");
        return;
    }
    if (res->status == INGEST_KEY_REUSED) {
        reply_error(r, 409, "idempotency_key_reused", NULL,
                    "this Idempotency-Key was used for a different request (event %.36s)", res->event_id);
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "id", res->event_id);
    jw_key(&w, "delivery_ids");
    render_id_list(&w, res->delivery_ids);
    if (res->webhook_counter[0])
        jw_kint(&w, "webhook_counter", strtoll(res->webhook_counter, NULL, 10));
    jw_map_close(&w);
    if (res->status == INGEST_REPLAYED)
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Idempotent-Replayed", "true");
    reply_json(r, 202, &w);
}

/* What an Idempotency-Key stands for: the first 64 bits of SHA-256 over the
 * event's type, payload (its bytes as sent), session and request id, in hex. The
 * same key with another fingerprint is a different request: 409. */
static void request_fingerprint(const char *type, const unsigned char *payload, size_t plen, const char *sess,
                                const char *reqid, char out[17])
{
    size_t tl = strlen(type), sl = strlen(sess), rl = strlen(reqid), n = tl + plen + sl + rl + 3;
    char *buf = malloc(n), hex[SHA256_HEX_LEN + 1];
    out[0] = '\0';
    if (!buf)
        return;
    char *p = buf;
    memcpy(p, type, tl), p += tl, *p++ = '\n';
    memcpy(p, payload, plen), p += plen, *p++ = '\n';
    memcpy(p, sess, sl), p += sl, *p++ = '\n';
    memcpy(p, reqid, rl);
    if (sha256_hex(buf, n, hex) == 0) {
        memcpy(out, hex, 16);
        out[16] = '\0';
    }
    free(buf);
}

static int valid_idem_key(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

#define ORDERING_KEY_MAX 128

void h_event_create(struct req *r)
{
    yajl_val type, payload, sess, reqid, okey;
    const char *bad = NULL;
    char msg[128];
    struct json_field f[] = {{"type", JT_STRING, 1, &type}, {"payload", JT_ANY, 1, &payload},
                             {"sync_session_id", JT_STRING, 0, &sess},
                             {"request_id", JT_STRING, 0, &reqid},
                             {"ordering_key", JT_STRING, 0, &okey}};
    if (!r->json) {
        reply_error(r, 400, "missing_body", NULL, "a JSON body {\"type\", \"payload\"} is required");
        return;
    }
    if (json_fields(r->json, f, sizeof(f) / sizeof(f[0]), 1, &bad, msg, sizeof(msg)) < 0) {
        int own = bad && !strcmp(bad, "ordering_key"); /* 422 like its other errors */
        reply_error(r, own ? 422 : 400, "invalid_field", bad, "%s %s", bad ? bad : "body", msg);
        return;
    }
    if (!valid_event_type(type->u.string)) {
        reply_error(r, 400, "invalid_field", "type", "type must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        return;
    }
    if (strncmp(type->u.string, NOTICE_PREFIX, strlen(NOTICE_PREFIX)) == 0) {
        reply_error(r, 422, "reserved_type", "type", "event types starting with %s are hookd's own", NOTICE_PREFIX);
        return;
    }
    if (sess && !id_valid(sess->u.string)) {
        reply_error(r, 400, "invalid_field", "sync_session_id", "sync_session_id must be a lowercase UUID");
        return;
    }
    if (reqid && !valid_token_chars(reqid->u.string, 128)) {
        reply_error(r, 400, "invalid_field", "request_id", "request_id must be 1-128 characters of A-Z a-z 0-9 . _ : -");
        return;
    }
    if (okey && (!okey->u.string[0] || strlen(okey->u.string) > ORDERING_KEY_MAX)) {
        reply_error(r, 422, "invalid_field", "ordering_key", "ordering_key must be a string of 1 to %d bytes",
                    ORDERING_KEY_MAX);
        return;
    }
    const char *idem = req_header(r, "Idempotency-Key");
    if (idem && !valid_idem_key(idem)) {
        reply_error(r, 400, "invalid_header", "Idempotency-Key", "Idempotency-Key must be 1-255 printable ASCII characters");
        return;
    }
    /* The payload exactly as the producer sent it: yajl's tree cuts a string
     * at \u0000 and the receiver is owed the same bytes. */
    struct json_span span;
    if (!json_member_span(r->body, r->body_len, "payload", &span)) {
        reply_error(r, 400, "invalid_field", "payload", "payload is required");
        return;
    }
    const char *pbytes = r->body + span.at;
    size_t plen = span.len;
    char fp[17] = "";
    if (idem)
        request_fingerprint(type->u.string, (const unsigned char *)pbytes, plen, sess ? sess->u.string : "", reqid ? reqid->u.string : "", fp);
    const char *v[INGEST_FIELDS] = {
        [INGEST_TYPE] = type->u.string, [INGEST_IDEMPOTENCY_KEY] = idem ? idem : "",
        [INGEST_SYNC_SESSION_ID] = sess ? sess->u.string : "", [INGEST_REQUEST_ID] = reqid ? reqid->u.string : "",
        [INGEST_FINGERPRINT] = fp, [INGEST_ORDERING_KEY] = okey ? okey->u.string : "",
    };
    submit_event(r, v, pbytes, plen, on_ingested);
}

/* The event's delivery ids ("id,id") whose endpoints (dl_eps: 36 bytes
 * each, in the same order) the caller sees, into out; their count. */
static int seen_deliveries(const struct req *r, const char *dls, const char *dl_eps, char *out, size_t cap)
{
    size_t n = 0, neps = strlen(dl_eps) / ID_LEN;
    int seen = 0;
    out[0] = '\0';
    for (size_t i = 0; dls && *dls; i++) {
        const char *e = strchr(dls, ',');
        size_t len = e ? (size_t)(e - dls) : strlen(dls);
        char ep[ID_LEN + 1] = "";
        if (i < neps) {
            memcpy(ep, dl_eps + i * ID_LEN, ID_LEN);
            ep[ID_LEN] = '\0';
        }
        if (ep[0] && principal_sees_endpoint(&r->who, ep) && n + (n ? 1 : 0) + len < cap) {
            n += (size_t)snprintf(out + n, cap - n, "%s%.*s", n ? "," : "", (int)len, dls);
            seen++;
        }
        dls += len + (e ? 1 : 0);
    }
    return seen;
}

static void on_event(redisReply *rep, void *priv)
{
    struct req *r = priv;
    if (reply_failed(r, rep))
        return;
    char seen[PORTAL_ENDPOINTS_CSV];
    const char *dls = reply_empty(rep) ? NULL : flat_get(rep, "dls");
    if (dls && r->who.n_endpoints) {
        const char *eps = flat_get(rep, "dl_eps");
        if (seen_deliveries(r, dls, eps ? eps : "", seen, sizeof(seen)) == 0)
            dls = NULL; /* none of its deliveries is the session's: it does not exist to it */
        else
            dls = seen;
    }
    if (!dls) {
        reply_error(r, 404, "not_found", NULL, "no such event");
        return;
    }
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    const redisReply *stored = flat_reply(rep, "payload");
    const char *wc = flat_get(rep, "webhook_counter");
    void *unpacked = NULL;
    size_t plen = 0;
    int have = stored && payload_unpack(stored->str, stored->len, 64u << 20, &unpacked, &plen) >= 0;
    jw_map_open(&w);
    jw_kstr(&w, "id", flat_get(rep, "id"));
    jw_kstr(&w, "org_id", flat_get(rep, "org_id"));
    jw_kstr(&w, "type", flat_get(rep, "type"));
    jw_kbool(&w, "test", flat_get(rep, "test") != NULL);
    jw_key(&w, "payload");
    if (have && plen) /* stored as the producer sent it (valid JSON, checked at ingest) */
        jw_raw_number(&w, unpacked ? unpacked : stored->str, plen);
    else
        jw_null(&w);
    free(unpacked);
    render_kstr_opt(&w, "sync_session_id", flat_get(rep, "sync_session_id"));
    render_kint_opt(&w, "webhook_counter", wc);
    render_kstr_opt(&w, "request_id", flat_get(rep, "request_id"));
    render_kstr_opt(&w, "ordering_key", flat_get(rep, "okey"));
    jw_key(&w, "delivery_ids");
    render_id_list(&w, dls);
    jw_ktime(&w, "created_at", flat_int(rep, "created_at"));
    jw_map_close(&w);
    reply_json(r, 200, &w);
}

void h_event_get(struct req *r)
{
    const char *id = path_id(r, 0, "event");
    if (!id)
        return;
    const char *argv[] = {"ev", id, r->who.org_id};
    call_script(r, SCRIPT_RECORD_GET, on_event, 3, argv);
}
