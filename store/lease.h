/*
 * lease: the pump's two calls to Redis, claim.lua and complete.lua, and the
 * structs they exchange with it: a leased delivery (struct lease) and the
 * outcome of an attempt at one (struct outcome). The wire order of both is
 * store/fields.h's; outside store/ nobody reads a hot-path script's reply
 * or builds its arguments.
 */
#ifndef HOOKD_STORE_LEASE_H
#define HOOKD_STORE_LEASE_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "store/fields.h"

/* One leased delivery. One allocation: the strings live in the block after
 * the struct, so free() releases all of it. */
struct lease {
    int partition;
    int tries;               /* attempts counted for the retry schedule */
    int simple;              /* LEASE_SIMPLE */
    char *id, *event_id, *endpoint_id, *url, *secret, *prev_secret;
    char *payload;           /* the JSON, unpacked from its stored form */
    size_t payload_len;
    char *fence;             /* the lease's score, handed back with the outcome */
    char *attempt_count;     /* all attempts before this one */
    char *tls_ca, *tls_cert, *tls_key; /* the endpoint's own TLS material (PEM, key opened), "" when none */
    char *scheme, *sign_key, *prev_sign_key; /* signature_scheme and its Ed25519 keys (opened), "" when none */
    char *auth_url, *auth_client_id, *auth_secret, *auth_scope; /* OAuth2 to the receiver (secret opened), "" when none */
    char *queue;             /* LEASE_QUEUE, handed back with the outcome */
    char *headers;           /* LEASE_HEADERS: "Name: value\n" lines */
};

/* A lease (malloc'd, the caller owns it) from its LEASE_FIELDS values, as
 * ingest.c and claim put them together from their replies' records;
 * v[LEASE_PAYLOAD] is the JSON itself (each caller unpacked it, or sent it).
 * NULL when out of memory, a secret does not open, or the payload is over
 * max_payload bytes. */
struct lease *lease_build(const char *const v[LEASE_FIELDS], const size_t len[LEASE_FIELDS], int partition,
                          size_t max_payload);
/* An endpoint's record in a reply (LEASE_FIELDS strings with the delivery's
 * values "", as ingest.lua and claim.lua list them) as lease_build's values,
 * which the caller then fills with the delivery's own; 0, or -1 when one of
 * them is not a string. */
int lease_record_values(redisReply *const *rec, const char *v[LEASE_FIELDS], size_t len[LEASE_FIELDS]);

/* Leased deliveries as the pump receives them, from a claim or an ingest's
 * direct hand-off. The receiver owns each lease; the array is the caller's. */
typedef void (*lease_take_cb)(struct lease **leases, long n, int partition);

/* claim.lua for one partition: up to `budget` due deliveries, leased for
 * lease_ms. The callback gets the leases (owned by it), how many the script
 * leased (more than it got when some could not be read), and the earliest
 * time more work is ready (-1: none known); ok 0 when the call failed (Redis
 * away or an error: logged here). 0, or -1 when not sent (no callback). */
typedef void (*lease_claimed_cb)(void *arg, int ok, struct lease **leases, long n, long claimed,
                                 int64_t next_ready);
int lease_claim(int partition, long budget, int64_t now, int64_t lease_ms, size_t max_payload,
                lease_claimed_cb cb, void *arg);

enum attempt_result { RESULT_SUCCESS, RESULT_FAILURE, RESULT_RELEASE /* handed back unanswered */ };
/* PAUSE: a 429/503 with Retry-After paused the endpoint until next_at;
 * SLOW: a 429 without it halves the endpoint's rate. Neither is a failure
 * nor uses a retry (complete.lua). */
enum outcome_action { ACTION_NONE, ACTION_DISABLE, ACTION_ABORT, ACTION_PAUSE, ACTION_SLOW };

/* What one attempt at a lease came to. The strings are borrowed until the
 * complete call returns (it copies them). */
struct outcome {
    const struct lease *lease;
    enum attempt_result result;
    enum outcome_action action;
    int status;              /* HTTP status, 0 when none */
    const char *error;       /* the error class's name, "" for none */
    const char *attempt;     /* the attempt record (JSON), "" for a compact record or a release */
    const char *compact;     /* "code|started|ms|body" for a first-attempt success, else "" */
    int64_t started_ms;
    int64_t next_at;         /* ms of the next attempt, -1 when the attempts are used up */
    int64_t duration_ms;     /* how long the attempt took (the endpoint's stats) */
};

/* One outcome as complete.lua's OUTCOME_FIELDS arguments: f[i] point into
 * o, its lease, static strings or `text` (the numbers written out), which
 * must outlive them. */
struct outcome_text {
    char code[8], started[24], next_at[24], latency_bin[8];
};
void outcome_fields(const struct outcome *o, struct outcome_text *text, const char *f[OUTCOME_FIELDS]);

/* complete.lua's verdict on one outcome. */
struct outcome_verdict {
    int applied;             /* 0: the fence was stale (the lease was taken over) */
    int disabled;            /* 1: this outcome disabled the endpoint */
    const char *org;         /* the endpoint's org when disabled or given up, else "" */
    const char *event_type;  /* the event's type when the delivery gave up, else "" */
    const char *circuit;     /* "opened", "closed" or "" (VERDICT_CIRCUIT) */
};                           /* the strings live until the callback returns */

/* What complete.lua is told of auto-disable and the circuit breaker. */
struct disable_policy {
    long long after_failures, after_ms;
    long long circuit_failures, circuit_cooldown_ms, circuit_cooldown_max_ms; /* circuit_* of conf.h */
};

/* One complete.lua call for n outcomes of one partition. The callback gets
 * a verdict per outcome, or NULL when the call failed (logged here; the
 * leases then expire and are claimed again). 0, or -1 when not sent. */
typedef void (*lease_completed_cb)(void *arg, const struct outcome_verdict *v, int n);
int lease_complete(int partition, const struct outcome *const *o, int n, int64_t now,
                   const struct disable_policy *policy, lease_completed_cb cb, void *arg);

#endif
