/*
 * fields: the one table of the fields that C and the hot-path scripts
 * exchange, each list in its order on the wire.
 *
 * C takes its enums from the lists below; cmake/embed_lua.cmake reads this
 * same file and puts `local NAME = <0-based offset>` for every field, and
 * `local <LIST>_FIELDS = <count>`, ahead of each script that says
 * "-- requires: fields". A field is added, removed or moved here only, and
 * both sides follow. The generator expects each list as
 * `#define <LIST>_FIELD_LIST(X) \` followed by one `X(NAME)` per line.
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
    X(INGEST_FINGERPRINT) /* of the request an idempotency key stands for */

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
                       request id, no delivery hash: retention removes it without a read */

/* One outcome in complete.lua's arguments (store/lease.h). */
#define OUTCOME_FIELD_LIST(X) \
    X(OUT_ID) \
    X(OUT_FENCE) \
    X(OUT_ENDPOINT_ID) \
    X(OUT_ATTEMPT_COUNT) /* before this attempt, as claimed */ \
    X(OUT_OK) /* "1", "0" or "release" */ \
    X(OUT_CODE) /* HTTP status, "" when none */ \
    X(OUT_ERROR) /* the error class's name (reactor/attempt.h), "" for a success */ \
    X(OUT_ATTEMPT) /* the attempt record, JSON; "" for a compact record or a release */ \
    X(OUT_STARTED) /* ms */ \
    X(OUT_NEXT_AT) /* ms of the next attempt, -1 when the attempts are used up */ \
    X(OUT_ACTION) /* "", "disable" or "abort" */ \
    X(OUT_EVENT_ID) \
    X(OUT_COMPACT) /* a first-attempt success as "code|started|ms|body", else "" */ \
    X(OUT_SIMPLE) /* "1": compact, and the event is simple (LEASE_SIMPLE) */

/* A redelivery job's record, as redeliver.lua's 'job' mode creates it
 * (after the mode; store/redeliver.h). */
#define JOB_FIELD_LIST(X) \
    X(JOB_ORG) \
    X(JOB_NOW) \
    X(JOB_ID) \
    X(JOB_SEARCH_TYPE) /* the contract's name for the search, echoed back */ \
    X(JOB_DRY_RUN) /* "1": count matches, replay nothing */ \
    X(JOB_OWNER) /* the process running it (reactor/jobs.h) */ \
    X(JOB_LEASE_UNTIL) /* ms: another process takes it over after this */ \
    X(JOB_INDEX) /* "org", "sess:<sid>" or "req:<rid>" */ \
    X(JOB_MIN_ID) /* the walk covers ids in [min, max) */ \
    X(JOB_MAX_ID) \
    X(JOB_STATUS) /* success, fail or all */ \
    X(JOB_COUNTERS) /* ",1,2," or "" */ \
    X(JOB_USER_ID)

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

#define FIELD_ENUM_MEMBER(name) name,
enum ingest_field { INGEST_FIELD_LIST(FIELD_ENUM_MEMBER) INGEST_FIELDS };
enum lease_field { LEASE_FIELD_LIST(FIELD_ENUM_MEMBER) LEASE_FIELDS };
enum outcome_field { OUTCOME_FIELD_LIST(FIELD_ENUM_MEMBER) OUTCOME_FIELDS };
enum job_field { JOB_FIELD_LIST(FIELD_ENUM_MEMBER) JOB_FIELDS };
enum job_step_field { JOB_STEP_FIELD_LIST(FIELD_ENUM_MEMBER) JOB_STEP_FIELDS };

#endif
