/*
 * common: what every handler needs: calling a script in the caller's
 * partition, reading HGETALL-shaped replies, rendering records, and
 * checking input values.
 */
#ifndef HOOKD_HANDLERS_COMMON_H
#define HOOKD_HANDLERS_COMMON_H

#include <hiredis/hiredis.h>

#include "reactor/http/server.h"
#include "store/ingest.h"
#include "store/json.h"
#include "store/redis.h"

/* EVALSHA `id` with the caller's partition prefix as KEYS[1] and C-string
 * args. On failure it replies 503 and returns -1 (the callback never runs). */
int call_script(struct req *r, enum script_id id, store_cb cb, int argc, const char **argv);
/* Same with explicit lengths, for binary arguments (a packed payload);
 * lens NULL is call_script. */
int call_script_lens(struct req *r, enum script_id id, store_cb cb, int argc, const char **argv,
                     const size_t *lens);
/* Same with an explicit KEYS[1]. */
int call_script_key(struct req *r, const char *key, enum script_id id, store_cb cb, int argc,
                    const char **argv);
/* The caller's partition prefix. */
void org_prefix(const char *org_id, char out[32]);

/* flat_get's value as an integer, 0 when absent (flat_get: store/redis.h). */
long long flat_int(const redisReply *flat, const char *name);
/* 1 when a script reply is an empty array or nil (not found / not the org's). */
int reply_empty(const redisReply *rep);
/* How a read of one record ends: 503 when the call failed, 404 "no such
 * <what>" when the record is absent, else `status` with render(w, rec, arg). */
void reply_record(struct req *r, const redisReply *rep, int status, const char *what,
                  void (*render)(struct jw *w, const redisReply *rec, const void *arg), const void *arg);
/* Ids the scripts return as "a,b,c" (NULL or "": none) as a JSON array. */
void render_id_list(struct jw *w, const char *csv);
/* Hand an accepted event to the ingest batcher (store/ingest.h): fills v's
 * org, event id, time, user and payload (packed from `payload`, the JSON
 * as sent); cb answers the caller. Replies 503 itself when it cannot queue. */
void submit_event(struct req *r, const char *v[INGEST_FIELDS], const char *payload, size_t len, ingest_done_cb cb);
/* How a removal ends: 503 when the call failed, 204 when the script said
 * 1, else 404 "no such <what>" (unknown, or another org's). */
void reply_removed(struct req *r, const redisReply *rep, const char *what);
/* 429 with Retry-After: the org's rate_limit refused; nothing was <what>. */
void reply_rate_limited(struct req *r, long long retry_after_s, const char *what);
/* 1 when the reply is a Redis error or missing; replies 503/500 itself. */
int reply_failed(struct req *r, const redisReply *rep);

/* key: the stored string, or null when absent or empty */
void render_kstr_opt(struct jw *w, const char *k, const char *v);
/* key: the stored decimal as an integer, or null when absent or empty */
void render_kint_opt(struct jw *w, const char *k, const char *v);
/* secret: the clear signing secret to show (create, rotate), else NULL. */
void render_endpoint(struct jw *w, const redisReply *e, const char *secret);
void render_delivery(struct jw *w, const redisReply *d);

/* Input checks: 1 when valid. */
int valid_event_type(const char *s);
int valid_token_chars(const char *s, size_t max); /* [A-Za-z0-9._:-], 1..max */
int valid_url(const char *s, char *why, size_t whylen);
/* 1 when a (valid) URL's host is an IPv4 literal in a non-canonical spelling. */
int url_host_ambiguous(const char *url);
/* ?limit= and ?cursor= of list routes; replies 400 and returns -1 on bad values. */
int list_params(struct req *r, int def, int max, int *limit, const char **cursor);
/* The same for a route that takes no other query parameter, with the limit
 * as text for a script argument. */
int list_query(struct req *r, int def, int max, const char **cursor, char limit[16]);
/* Replies 200 {data: [...], next_cursor} from a list script's reply
 * {next_cursor or "", record, record, ...}, each record rendered by `one`. */
void reply_page(struct req *r, const redisReply *rep, void (*one)(struct jw *w, const redisReply *rec));
/* For a portal session limited to endpoints (route reach PORTAL_FILTERED):
 * reads delivery `id` first and runs next(r) again once its endpoint is one
 * the session sees (else 404). Returns 0 when the caller may go on at once,
 * 1 when the guard took the request over (it has replied or will run next). */
int delivery_guard(struct req *r, const char *id, handler_fn next);
/* The path's :id as a UUID, or replies 404 and returns NULL. */
const char *path_id(struct req *r, int i, const char *what);
/* A rate_limit value (endpoints, orgs): a whole number from 1 to RATE_LIMIT_MAX. */
#define RATE_LIMIT_MAX 100000
int valid_rate_limit(yajl_val v);

#endif
