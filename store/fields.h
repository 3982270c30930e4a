/*
 * fields: the one table of the fields that C and the hot-path scripts
 * exchange, each list in its order on the wire.
 *
 * C takes its enums from the lists below; cmake/embed_lua.cmake reads this
 * same file and puts `local NAME = <0-based offset>` for every field, and
 * `local <LIST>_FIELDS = <count>`, ahead of each script that says
 * "-- requires: fields". A field is added, removed or moved here only, and
 * both sides follow. The generator expects each list as
 * `#define <LIST>_FIELD_LIST(X) \` followed by one `X(NAME)` per line, and
 * each list of names (below) as `X(NAME, "text")` lines.
 * tests/unit/test_fields.c round-trips every list through Redis.
 */
#ifndef HOOKD_STORE_FIELDS_H
#define HOOKD_STORE_FIELDS_H

/* One event's arguments to ingest.lua (store/ingest.h). */
#define INGEST_FIELD_LIST(X) \
    X(INGEST_ORG) \
    X(INGEST_EVENT_ID) \
    X(INGEST_TYPE) \
    X(INGEST_PAYLOAD) /* the stored form (store/payload.h) */ \
    X(INGEST_NOW) /* ms */ \
    X(INGEST_IDEMPOTENCY_KEY) /* "" when none */ \
    X(INGEST_SYNC_SESSION_ID) /* "" when none */ \
    X(INGEST_REQUEST_ID) /* "" when none */ \
    X(INGEST_USER_ID) \
    X(INGEST_FINGERPRINT) /* of the request an idempotency key stands for */ \
    X(INGEST_ROUTES_VERSION) /* the org's version its endpoints were matched under (store/subscriptions.h) */ \
    X(INGEST_ENDPOINTS) /* the matched endpoints' ids, 36 characters each, no separator */ \
    X(INGEST_ORDERING_KEY) /* "" when none (on a fifo endpoint the events without one share one queue) */ \
    X(INGEST_ORG_LIMITED) /* "1" when the org has a rate_limit (store/subscriptions.h): ingest.lua checks it */ \
    X(INGEST_TEST_ENDPOINT) /* "" or, for a test send (POST /v1/endpoints/{id}/test), the one endpoint it goes to: \
                               no matching, no routes version, no org limit; the event is flagged test */

/* One leased delivery in claim.lua's and ingest.lua's replies (store/lease.h). */
#define LEASE_FIELD_LIST(X) \
    X(LEASE_ID) \
    X(LEASE_EVENT_ID) \
    X(LEASE_ENDPOINT_ID) \
    X(LEASE_URL) \
    X(LEASE_SECRET) \
    X(LEASE_PREV_SECRET) /* "" when none in force */ \
    X(LEASE_PAYLOAD) /* the stored form */ \
    X(LEASE_TRIES) /* attempts counted for the retry schedule: since the last requeue */ \
    X(LEASE_FENCE) /* the lease's score: complete.lua refuses any other */ \
    X(LEASE_ATTEMPT_COUNT) /* all attempts before this one */ \
    X(LEASE_SIMPLE) /* "1": one delivery, payload inline, no idempotency key, session or \
                       request id, no delivery hash: retention removes it without a read */ \
    X(LEASE_TLS_CA) /* the endpoint's own CA bundle (PEM), "" for the system store */ \
    X(LEASE_TLS_CERT) /* its client certificate chain (PEM) for mutual TLS, or "" */ \
    X(LEASE_TLS_KEY) /* that certificate's key as stored (sealed: store/secrets.h), or "" */ \
    X(LEASE_SCHEME) /* signature_scheme: "" or "v1", "v1a", "both" (reactor/delivery/signing.h) */ \
    X(LEASE_SIGN_KEY) /* the Ed25519 key (whsk_) as stored (sealed), or "" */ \
    X(LEASE_PREV_SIGN_KEY) /* the previous one while the rotation overlap lasts, or "" */ \
    X(LEASE_AUTH_URL) /* OAuth2 to the receiver (reactor/delivery/receiver_auth.h): token_url, or "" for none */ \
    X(LEASE_AUTH_CLIENT_ID) \
    X(LEASE_AUTH_SECRET) /* its client_secret as stored (sealed) */ \
    X(LEASE_AUTH_SCOPE) /* "" for none */ \
    X(LEASE_QUEUE) /* "" or, when its endpoint keeps fifo queues, "q" and the event's ordering_key: \
                      the queue complete.lua advances when the delivery finishes (lib/fifo.lua) */ \
    X(LEASE_HEADERS) /* the endpoint's custom headers as "Name: value\n" lines, "" for none (a test send's \
                        lease adds LEASE_TEST_HEADER: store/lease.c) */

/* One outcome in complete.lua's arguments (store/lease.h). */
#define OUTCOME_FIELD_LIST(X) \
    X(OUT_ID) \
    X(OUT_FENCE) \
    X(OUT_ENDPOINT_ID) \
    X(OUT_ATTEMPT_COUNT) /* before this attempt, as claimed */ \
    X(OUT_OK) /* "1", "0" or "release" */ \
    X(OUT_CODE) /* HTTP status, "" when none */ \
    X(OUT_ERROR) /* the error class's name (reactor/delivery/attempt.h), "" for a success */ \
    X(OUT_ATTEMPT) /* the attempt record, JSON; "" for a compact record or a release */ \
    X(OUT_STARTED) /* ms */ \
    X(OUT_NEXT_AT) /* ms of the next attempt, -1 when the attempts are used up */ \
    X(OUT_ACTION) /* "", "disable", "abort", "pause" (until OUT_NEXT_AT) or "slow" (store/lease.h) */ \
    X(OUT_EVENT_ID) \
    X(OUT_COMPACT) /* a first-attempt success as "code|started|ms|body", else "" */ \
    X(OUT_SIMPLE) /* "1": compact, and the event is simple (LEASE_SIMPLE) */ \
    X(OUT_QUEUE) /* LEASE_QUEUE as leased */ \
    X(OUT_LATENCY_BIN) /* "b<bin>": the attempt's duration as a bin of store/latency.h, the field the \
                          endpoint's stats count it in (lib/stats.lua); "x" for one that got no response \
                          (counted, no latency); "" for a release */

/* A redelivery job's record, as redeliver.lua's 'job' mode creates it
 * (after the mode; store/redeliver.h). */
#define JOB_FIELD_LIST(X) \
    X(JOB_ORG) \
    X(JOB_NOW) \
    X(JOB_ID) \
    X(JOB_SEARCH_TYPE) /* the contract's name for the search, echoed back */ \
    X(JOB_DRY_RUN) /* "1": count matches, replay nothing */ \
    X(JOB_OWNER) /* the process running it (reactor/delivery/jobs.h) */ \
    X(JOB_LEASE_UNTIL) /* ms: another process takes it over after this */ \
    X(JOB_INDEX) /* "org", "sess:<sid>" or "req:<rid>" */ \
    X(JOB_MIN_ID) /* the walk covers ids in [min, max) */ \
    X(JOB_MAX_ID) \
    X(JOB_STATUS) /* success, fail or all */ \
    X(JOB_COUNTERS) /* ",1,2," or "" */ \
    X(JOB_USER_ID) \
    X(JOB_ENDPOINT_ID) /* only this endpoint's deliveries, or "" for all */

/* One step of a job, redeliver.lua's 'range' mode (after the mode). */
#define JOB_STEP_FIELD_LIST(X) \
    X(STEP_ORG) \
    X(STEP_NOW) \
    X(STEP_BASE_ID) /* the first id of the replays it makes */ \
    X(STEP_JOB_ID) \
    X(STEP_OWNER) \
    X(STEP_LEASE_UNTIL) \
    X(STEP_LIMIT) /* ids walked at most */ \
    X(STEP_RETENTION_MS) /* how long a finished job's record is kept */

/* One event's entry in ingest.lua's reply (store/ingest.c reads it into a
 * struct ingest_result); INGR_LEASED hand-offs of HANDOFF_FIELDS follow it.
 * The reply's last element, after the events' entries, lists the endpoints
 * the call handed deliveries to, once each, as LEASE_FIELDS records holding
 * only the endpoint's own fields (the others ""): a hand-off's lease is its
 * endpoint's record, its HANDOFF_FIELDS and the event hookd sent (its id,
 * and its payload as the producer posted it), so a call's reply carries
 * neither the payloads back nor an endpoint's settings once per delivery. */
#define INGEST_REPLY_FIELD_LIST(X) \
    X(INGR_STATUS) /* an INGEST_STATUS value */ \
    X(INGR_EVENT_ID) /* the stored event's, or the first request's for a reused key */ \
    X(INGR_WEBHOOK_COUNTER) /* "" without a session */ \
    X(INGR_DELIVERY_IDS) /* "id,id,..." */ \
    X(INGR_SCHEDULED) /* deliveries put on the schedule */ \
    X(INGR_LEASED) /* deliveries leased to the caller (direct hand-off) */ \
    X(INGR_RETRY_AFTER) /* INGEST_LIMITED: seconds until the org's rate_limit admits an event; else 0 */

/* A delivery ingest.lua leased to the caller (direct hand-off). */
#define HANDOFF_FIELD_LIST(X) \
    X(HANDOFF_ID) \
    X(HANDOFF_ENDPOINT) /* its endpoint's record in the reply's last element, counted from 0 */ \
    X(HANDOFF_FENCE) /* LEASE_FENCE */ \
    X(HANDOFF_SIMPLE) /* LEASE_SIMPLE */ \
    X(HANDOFF_QUEUE) /* LEASE_QUEUE */

/* INGR_STATUS's values, by position: a list of numbers, not of fields. */
#define INGEST_STATUS_FIELD_LIST(X) \
    X(INGEST_STORED) \
    X(INGEST_REPLAYED) /* the idempotency key's event, stored before */ \
    X(INGEST_KEY_REUSED) /* the idempotency key stands for another request: only INGR_EVENT_ID follows */ \
    X(INGEST_STALE) /* the org's endpoints changed since it was matched: nothing written; match again */ \
    X(INGEST_LIMITED) /* over the org's rate_limit: nothing written (INGR_RETRY_AFTER says how long) */ \
    X(INGEST_GONE) /* a test send's endpoint is not the org's (deleted a moment ago): nothing written */

/* claim.lua's reply: this head, then CLAIM_LEASED claimed deliveries of
 * CLAIMED_FIELDS, then CLAIM_ENDPOINTS endpoint records of LEASE_FIELDS
 * (the endpoint's own fields and the call's fence, the delivery's ""), then
 * CLAIM_EVENTS event records of EVENT_RECORD_FIELDS: an endpoint's settings
 * and an event's payload cross once a call, however many of their
 * deliveries it leases (a fan-out to 100 endpoints claims one event's
 * deliveries by the dozen). store/lease.c builds each lease from them. */
#define CLAIM_REPLY_FIELD_LIST(X) \
    X(CLAIM_NEXT_READY) /* ms when more work is ready, "" when none is known */ \
    X(CLAIM_LEASED) \
    X(CLAIM_ENDPOINTS) \
    X(CLAIM_EVENTS)

/* A delivery claim.lua leased. */
#define CLAIMED_FIELD_LIST(X) \
    X(CLAIMED_ID) \
    X(CLAIMED_ENDPOINT) /* its endpoint's record in the reply, counted from 0 (a number) */ \
    X(CLAIMED_EVENT) /* its event's record in the reply, counted from 0 (a number) */ \
    X(CLAIMED_TRIES) /* LEASE_TRIES */ \
    X(CLAIMED_ATTEMPT_COUNT) /* LEASE_ATTEMPT_COUNT */ \
    X(CLAIMED_SIMPLE) /* LEASE_SIMPLE */ \
    X(CLAIMED_QUEUE) /* LEASE_QUEUE */

/* An event as claim.lua's reply lists it, once a call. */
#define EVENT_RECORD_FIELD_LIST(X) \
    X(EVREC_ID) \
    X(EVREC_PAYLOAD) /* the stored form */ \
    X(EVREC_TEST) /* "1" for a test send's (POST /v1/endpoints/{id}/test): its deliveries carry Hookd-Test */

/* complete.lua's verdict on each outcome, in the outcomes' order. */
#define VERDICT_FIELD_LIST(X) \
    X(VERDICT_APPLIED) /* 1, or 0 when the fence was stale */ \
    X(VERDICT_DISABLED) /* 1 when this outcome disabled the endpoint */ \
    X(VERDICT_ORG) /* the endpoint's org when disabled or given up, else "" */ \
    X(VERDICT_EVENT_TYPE) /* the event's type when the delivery gave up, else "" */ \
    X(VERDICT_CIRCUIT) /* "opened" or "closed" when this outcome did that to the endpoint's circuit, else "" */

/*
 * Names stored in Redis, declared once: `#define <LIST>_NAME_LIST(X)` with
 * one X(NAME, "text") per line. C gets `enum` values and a names table
 * below; a script that requires fields gets `local NAME = 'text'`.
 */
#define DELIVERY_STATE_NAME_LIST(X) \
    X(DL_PENDING, "pending") \
    X(DL_IN_PROGRESS, "in_progress") /* leased: an attempt is being made */ \
    X(DL_RETRYING, "retrying") \
    X(DL_COMPLETED, "completed") \
    X(DL_ERRORED, "errored") /* its attempts are used up, or it was aborted */ \
    X(DL_CANCELED, "canceled") /* its endpoint was deleted first */

#define ENDPOINT_STATUS_NAME_LIST(X) \
    X(EP_ACTIVE, "ACTIVE") \
    X(EP_DISABLED, "DISABLED")

#define JOB_STATE_NAME_LIST(X) \
    X(JOB_STATE_RUNNING, "running") \
    X(JOB_STATE_COMPLETED, "completed") \
    X(JOB_STATE_CANCELED, "canceled")

/* An attempt's error class (reactor/delivery/attempt.h): the client sets one, the
 * attempt record and the metrics carry its name, complete.lua reads it. */
#define ATTEMPT_ERROR_NAME_LIST(X) \
    X(ATTEMPT_HTTP_STATUS, "http_status") /* none of the below: an HTTP status came back */ \
    X(ATTEMPT_PRIVATE_URI, "private_uri") \
    X(ATTEMPT_DNS_LOOKUP_FAILED, "dns_lookup_failed") \
    X(ATTEMPT_CONNECTION_TIMEOUT, "connection_timeout") \
    X(ATTEMPT_DESTINATION_UNREACHABLE, "destination_unreachable") \
    X(ATTEMPT_FAILED_TLS, "failed_tls") \
    X(ATTEMPT_RESPONSE_TOO_LARGE, "response_too_large") \
    X(ATTEMPT_FAILED_SIGNING, "failed_signing") \
    X(ATTEMPT_AUTH_FAILED, "auth_failed") /* the endpoint's OAuth2 token endpoint gave no token */ \
    X(ATTEMPT_PROXY_ERROR, "proxy_error") /* the egress proxy was down or refused the tunnel: not the endpoint's fault */

#define FIELD_ENUM_MEMBER(name) name,
enum ingest_field { INGEST_FIELD_LIST(FIELD_ENUM_MEMBER) INGEST_FIELDS };
enum lease_field { LEASE_FIELD_LIST(FIELD_ENUM_MEMBER) LEASE_FIELDS };
enum outcome_field { OUTCOME_FIELD_LIST(FIELD_ENUM_MEMBER) OUTCOME_FIELDS };
enum job_field { JOB_FIELD_LIST(FIELD_ENUM_MEMBER) JOB_FIELDS };
enum job_step_field { JOB_STEP_FIELD_LIST(FIELD_ENUM_MEMBER) JOB_STEP_FIELDS };
enum ingest_reply_field { INGEST_REPLY_FIELD_LIST(FIELD_ENUM_MEMBER) INGEST_REPLY_FIELDS };
enum ingest_status { INGEST_STATUS_FIELD_LIST(FIELD_ENUM_MEMBER) INGEST_STATUS_FIELDS };
enum handoff_field { HANDOFF_FIELD_LIST(FIELD_ENUM_MEMBER) HANDOFF_FIELDS };
enum claim_reply_field { CLAIM_REPLY_FIELD_LIST(FIELD_ENUM_MEMBER) CLAIM_REPLY_FIELDS };
enum claimed_field { CLAIMED_FIELD_LIST(FIELD_ENUM_MEMBER) CLAIMED_FIELDS };
enum event_record_field { EVENT_RECORD_FIELD_LIST(FIELD_ENUM_MEMBER) EVENT_RECORD_FIELDS };
enum verdict_field { VERDICT_FIELD_LIST(FIELD_ENUM_MEMBER) VERDICT_FIELDS };

#define NAME_ENUM_MEMBER(name, text) name,
#define NAME_TEXT(name, text) [name] = text,
enum delivery_state { DELIVERY_STATE_NAME_LIST(NAME_ENUM_MEMBER) DELIVERY_STATES };
enum endpoint_status { ENDPOINT_STATUS_NAME_LIST(NAME_ENUM_MEMBER) ENDPOINT_STATUSES };
enum job_state { JOB_STATE_NAME_LIST(NAME_ENUM_MEMBER) JOB_STATES };
static const char *const delivery_state_names[DELIVERY_STATES] = {DELIVERY_STATE_NAME_LIST(NAME_TEXT)};
static const char *const endpoint_status_names[ENDPOINT_STATUSES] = {ENDPOINT_STATUS_NAME_LIST(NAME_TEXT)};
static const char *const job_state_names[JOB_STATES] = {JOB_STATE_NAME_LIST(NAME_TEXT)};

#endif
