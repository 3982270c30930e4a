/*
 * filter: an endpoint's payload filter, MongoDB-style, evaluated against
 * the document {"type": <event type>, "payload": <payload>}.
 *
 *   {"payload.amount": 10}                 equality (deep for objects and
 *                                          arrays); dotted paths, a number
 *                                          segment indexes an array
 *   {"<path>": {"$eq"|"$ne": v}}           {"$in"|"$nin": [v, ...]}
 *   {"<path>": {"$gt"|"$gte"|"$lt"|"$lte": number or string}}
 *   {"<path>": {"$exists": true|false}}    {"<path>": {"$startsWith": "s"}}
 *   several keys in one object: AND;       {"$and": [f, ...]}, {"$or": [f, ...]},
 *                                          {"$not": f}
 *
 * Comparisons never coerce types ("10" is not 10; a number compares with
 * a number, a string with a string, bytewise). A missing path matches only
 * $exists: false, $ne and $nin. Limits: FILTER_MAX_BYTES of JSON, depth
 * FILTER_MAX_DEPTH, FILTER_MAX_CONDITIONS conditions.
 *
 * A filter is compiled once (parsed and checked) and evaluated many times
 * without parsing: store/subscriptions.c compiles an org's filters when it
 * loads the org.
 */
#ifndef HOOKD_STORE_FILTER_H
#define HOOKD_STORE_FILTER_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

#define FILTER_MAX_BYTES 4096
#define FILTER_MAX_DEPTH 8
#define FILTER_MAX_CONDITIONS 64

struct filter;

/* 0 with *out (owned by the caller: filter_free), or -1 with `why` naming
 * the path and operator at fault. */
int filter_compile(const char *json, size_t len, struct filter **out, char *why, size_t whylen);
/* 1 when the event (its type, its parsed payload) matches. */
int filter_match(const struct filter *f, const char *type, yajl_val payload);

/* Many filters, one event (store/subscriptions.c): an org's filters are
 * bound to one table of the paths they name, and an event resolves each
 * path once, whatever the number of filters that name it. */
struct filter_paths;
struct filter_paths *filter_paths_new(void);
/* Gives f's paths their ids in t (f must outlive t's use); 0, or -1 when
 * out of memory. */
int filter_paths_bind(struct filter_paths *t, struct filter *f);
int filter_paths_count(const struct filter_paths *t);
void filter_paths_free(struct filter_paths *t);

/* An event as the filters of one org see it. vals and resolved have
 * filter_paths_count() entries (resolved zeroed); NULL: resolve each time. */
struct filter_event {
    yajl_val type, payload;
    yajl_val *vals;
    unsigned char *resolved;
};
int filter_match_event(const struct filter *f, struct filter_event *ev);
void filter_free(struct filter *f);

/* Equality index (store/subscriptions.c): a filter that can match only
 * events holding one of a few fixed scalars at fixed paths is tried only on
 * events that hold one of them. Such keys come from equality ({"<path>":
 * scalar}, $eq), $in of scalars, any member of an AND, and every branch
 * of an $or. Keys are equal whenever the values are equal by the filter's
 * rules (so no match is lost); a shared key only means the filter is tried. */
#define FILTER_KEY_MAX 128
#define FILTER_INDEX_MAX 16
struct filter_key {
    const char *path; /* owned by the filter */
    char key[FILTER_KEY_MAX];
};
/* How many keys (1..FILTER_INDEX_MAX) f wrote, 0 when it has none. */
int filter_index_keys(const struct filter *f, struct filter_key out[FILTER_INDEX_MAX]);
/* Range index: 1 with a path and bounds [lo, hi] (closed, from the
 * filter's top-level $gt, $gte, $lt, $lte on numbers at that path; a
 * missing side is infinite) when every event f matches holds a number
 * within them there; 0 when f has no such bound. */
int filter_index_range(const struct filter *f, const char **path, double *lo, double *hi);
/* 1 with the key of a document value, 0 when it has none (missing, object,
 * array, a string too long for any key). */
int filter_value_key(yajl_val v, char key[FILTER_KEY_MAX]);
/* The value `path` names in {"type": type, "payload": payload}, or NULL. */
yajl_val filter_resolve(const char *path, yajl_val type, yajl_val payload);
/* `type` as a document value, for filter_resolve (it points at type). */
void filter_type_value(struct yajl_val_s *out, const char *type);

#endif
