/*
 * json: the two halves of hookd's JSON handling on top of yajl.
 *
 * Reading: json_parse() takes untrusted bytes and refuses what yajl would
 * otherwise accept or choke on (embedded NULs, comments, nesting deeper than
 * JSON_MAX_DEPTH, which would overflow yajl's recursive free) before building
 * a tree. json_fields() checks an object against a field list so every error
 * names its field.
 *
 * Writing: struct jw wraps yajl_gen and remembers the first failure, so a
 * renderer can emit a whole document and check once at the end.
 */
#ifndef HOOKD_JSON_H
#define HOOKD_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#define JSON_MAX_DEPTH 32

yajl_val json_parse(const char *buf, size_t len, char *err, size_t errlen);

/* Bytes [at, at + len) of a request body. */
struct json_span {
    size_t at, len;
};

/* Over a body json_parse accepted: the value of the top-level member
 * `name` exactly as sent (the last, if repeated); 1 when present. */
int json_member_span(const char *buf, size_t len, const char *name, struct json_span *out);
/* 1 with the member's name in `name` when a top-level member other than
 * `except` (NULL: none) holds a \u0000 escape in a string or its name:
 * yajl's tree would cut that string at it. */
int json_nul_member(const char *buf, size_t len, const char *except, char *name, size_t cap);

enum json_type { JT_STRING, JT_INT, JT_BOOL, JT_ARRAY, JT_OBJECT, JT_ANY };

struct json_field {
    const char *name;
    enum json_type type;
    int required;
    yajl_val *out; /* borrowed from the tree; NULL when absent or JSON null */
};

/* 0 when `obj` is an object whose fields match; else -1 with `field` set to
 * the offending name (NULL when the body as a whole is at fault: absent,
 * as with an empty body, or not an object) and `msg` saying why. `field`
 * and `msg` are always set on failure. Unknown fields are refused when
 * `strict`. JSON null counts as absent. */
int json_fields(yajl_val obj, const struct json_field *f, size_t n, int strict,
                const char **field, char *msg, size_t msglen);

/* Helpers over a checked tree. */
const char *json_string(yajl_val v); /* NULL unless a string */

struct jw {
    yajl_gen g;
    int err;
};

int jw_init(struct jw *w);
void jw_free(struct jw *w);
/* The rendered bytes, valid until jw_free. */
int jw_result(struct jw *w, const unsigned char **buf, size_t *len);
void jw_map_open(struct jw *w);
void jw_map_close(struct jw *w);
void jw_array_open(struct jw *w);
void jw_array_close(struct jw *w);
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s); /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, long long v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* Any JSON value as already-valid bytes (a number, or a payload as the
 * producer sent it): yajl copies a number's bytes verbatim. */
void jw_raw_number(struct jw *w, const char *s, size_t n);
/* key + value in one call */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, long long v);
void jw_kbool(struct jw *w, const char *k, int v);
/* Re-emit a parsed value (used to copy an event payload out of a request). */
void jw_tree(struct jw *w, yajl_val v);
/* RFC 3339 UTC with milliseconds, or null for ms <= 0. */
void jw_ktime(struct jw *w, const char *k, int64_t ms);
void format_time(int64_t ms, char out[32]);

#endif
