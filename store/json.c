#include "store/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Refuse NULs, comments and excessive depth before yajl sees the bytes.
 * String contents (most of a payload) are skipped with memchr, not walked
 * byte by byte: this runs on every request body. */
static int json_prescan(const char *buf, size_t len, char *err, size_t errlen)
{
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        snprintf(err, errlen, "body contains a NUL byte at offset %zu", (size_t)(nul - buf));
        return -1;
    }
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        switch (buf[i]) {
        case '"':
            for (i++; i < len; i++) { /* to the closing quote, past escapes */
                const char *q = memchr(buf + i, '"', len - i);
                if (!q)
                    return 0; /* unterminated: yajl names the error */
                const char *bs = memchr(buf + i, '\\', (size_t)(q - (buf + i)));
                if (!bs) {
                    i = (size_t)(q - buf);
                    break;
                }
                i = (size_t)(bs - buf) + 1; /* skip the escaped character */
            }
            break;
        case '{': case '[':
            if (++depth > JSON_MAX_DEPTH) {
                snprintf(err, errlen, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
                return -1;
            }
            break;
        case '}': case ']': depth--; break;
        case '/':
            snprintf(err, errlen, "malformed JSON: unexpected '/' at offset %zu", i);
            return -1;
        }
    }
    return 0;
}

yajl_val json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "request body is empty; a JSON object is required");
        return NULL;
    }
    if (json_prescan(buf, len, err, errlen) < 0)
        return NULL;
    char *copy = malloc(len + 1); /* yajl_tree_parse wants a C string */
    if (!copy) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(copy, buf, len);
    copy[len] = '\0';
    char yerr[256] = "";
    yajl_val v = yajl_tree_parse(copy, yerr, sizeof(yerr));
    free(copy);
    if (!v) {
        /* yajl's message spans lines; keep the first one */
        char *nl = strchr(yerr, '\n');
        if (nl)
            *nl = '\0';
        snprintf(err, errlen, "malformed JSON: %s", yerr[0] ? yerr : "parse error");
    }
    return v;
}

static int json_type_ok(yajl_val v, enum json_type t)
{
    switch (t) {
    case JT_STRING: return YAJL_IS_STRING(v);
    case JT_INT: return YAJL_IS_INTEGER(v);
    case JT_BOOL: return YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v);
    case JT_ARRAY: return YAJL_IS_ARRAY(v);
    case JT_OBJECT: return YAJL_IS_OBJECT(v);
    case JT_ANY: return 1;
    }
    return 0;
}

static const char *json_type_name(enum json_type t)
{
    static const char *names[] = {"a string", "an integer", "a boolean", "an array", "an object", "a value"};
    return names[t];
}

int json_fields(yajl_val obj, const struct json_field *f, size_t n, int strict,
                const char **field, char *msg, size_t msglen)
{
    *field = NULL;
    if (!obj || !YAJL_IS_OBJECT(obj)) { /* no body at all, or not an object */
        snprintf(msg, msglen, "request body must be a JSON object");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        *f[i].out = NULL;
    for (size_t k = 0; k < obj->u.object.len; k++) {
        const char *key = obj->u.object.keys[k];
        yajl_val v = obj->u.object.values[k];
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(f[i].name, key) == 0)
                break;
        if (i == n) {
            if (!strict)
                continue;
            *field = key;
            snprintf(msg, msglen, "unknown field");
            return -1;
        }
        if (YAJL_IS_NULL(v))
            continue;
        if (!json_type_ok(v, f[i].type)) {
            *field = f[i].name;
            snprintf(msg, msglen, "must be %s", json_type_name(f[i].type));
            return -1;
        }
        *f[i].out = v;
    }
    for (size_t i = 0; i < n; i++)
        if (f[i].required && !*f[i].out) {
            *field = f[i].name;
            snprintf(msg, msglen, "is required");
            return -1;
        }
    return 0;
}

const char *json_string(yajl_val v)
{
    return v && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

int jw_init(struct jw *w)
{
    w->err = 0;
    w->g = yajl_gen_alloc(NULL);
    if (!w->g)
        return -1;
    if (!yajl_gen_config(w->g, yajl_gen_validate_utf8, 1)) {
        yajl_gen_free(w->g);
        w->g = NULL;
        return -1;
    }
    return 0;
}

void jw_free(struct jw *w)
{
    if (w->g)
        yajl_gen_free(w->g);
    w->g = NULL;
}

int jw_result(struct jw *w, const unsigned char **buf, size_t *len)
{
    if (w->err || yajl_gen_get_buf(w->g, buf, len) != yajl_gen_status_ok)
        return -1;
    return 0;
}

#define JW(call) do { if ((call) != yajl_gen_status_ok) w->err = 1; } while (0)

void jw_map_open(struct jw *w) { JW(yajl_gen_map_open(w->g)); }
void jw_map_close(struct jw *w) { JW(yajl_gen_map_close(w->g)); }
void jw_array_open(struct jw *w) { JW(yajl_gen_array_open(w->g)); }
void jw_array_close(struct jw *w) { JW(yajl_gen_array_close(w->g)); }
void jw_key(struct jw *w, const char *k) { JW(yajl_gen_string(w->g, (const unsigned char *)k, strlen(k))); }
void jw_strn(struct jw *w, const char *s, size_t n) { JW(yajl_gen_string(w->g, (const unsigned char *)s, n)); }
void jw_str(struct jw *w, const char *s)
{
    if (s) jw_strn(w, s, strlen(s));
    else jw_null(w);
}
void jw_int(struct jw *w, long long v) { JW(yajl_gen_integer(w->g, v)); }
void jw_bool(struct jw *w, int v) { JW(yajl_gen_bool(w->g, v)); }
void jw_null(struct jw *w) { JW(yajl_gen_null(w->g)); }
void jw_raw_number(struct jw *w, const char *s, size_t n) { JW(yajl_gen_number(w->g, s, n)); }
/* yajl_gen_number writes its bytes as they are, with the separators a value
 * needs: the one way to put raw JSON into yajl's output. */
void jw_kstr(struct jw *w, const char *k, const char *s) { jw_key(w, k); jw_str(w, s); }
void jw_kint(struct jw *w, const char *k, long long v) { jw_key(w, k); jw_int(w, v); }
void jw_kbool(struct jw *w, const char *k, int v) { jw_key(w, k); jw_bool(w, v); }

void jw_tree(struct jw *w, yajl_val v)
{
    if (YAJL_IS_STRING(v)) {
        jw_str(w, v->u.string);
    } else if (YAJL_IS_NUMBER(v)) {
        jw_raw_number(w, v->u.number.r, strlen(v->u.number.r));
    } else if (YAJL_IS_OBJECT(v)) {
        jw_map_open(w);
        for (size_t i = 0; i < v->u.object.len; i++) {
            jw_key(w, v->u.object.keys[i]);
            jw_tree(w, v->u.object.values[i]);
        }
        jw_map_close(w);
    } else if (YAJL_IS_ARRAY(v)) {
        jw_array_open(w);
        for (size_t i = 0; i < v->u.array.len; i++)
            jw_tree(w, v->u.array.values[i]);
        jw_array_close(w);
    } else if (YAJL_IS_TRUE(v)) {
        jw_bool(w, 1);
    } else if (YAJL_IS_FALSE(v)) {
        jw_bool(w, 0);
    } else {
        jw_null(w);
    }
}

void format_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

void jw_ktime(struct jw *w, const char *k, int64_t ms)
{
    jw_key(w, k);
    if (ms <= 0) {
        jw_null(w);
        return;
    }
    char buf[32];
    format_time(ms, buf);
    jw_str(w, buf);
}

/* ---- top-level members of a document yajl has accepted ----
 * yajl's tree keeps strings NUL-terminated, so "x\u0000y" would come out as
 * "x": the event payload is taken from the request's own bytes instead, and
 * a \u0000 anywhere else is found here and refused by name. These walkers
 * trust that the bytes are valid JSON (json_parse said so). */

static size_t skip_ws(const char *b, size_t n, size_t i)
{
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
        i++;
    return i;
}

/* i at an opening quote; returns the index just past the closing one.
 * memchr, not a byte loop: most of a payload is string contents. */
static size_t skip_string(const char *b, size_t n, size_t i)
{
    for (i++; i < n;) {
        const char *q = memchr(b + i, '"', n - i);
        if (!q)
            return n;
        const char *bs = memchr(b + i, '\\', (size_t)(q - (b + i)));
        if (!bs)
            return (size_t)(q - b) + 1;
        i = (size_t)(bs - b) + 2; /* past the escaped character */
    }
    return n;
}

static size_t skip_value(const char *b, size_t n, size_t i)
{
    if (i < n && b[i] == '"')
        return skip_string(b, n, i);
    if (i < n && (b[i] == '{' || b[i] == '[')) {
        int depth = 0;
        for (; i < n; i++) {
            if (b[i] == '"')
                i = skip_string(b, n, i) - 1;
            else if (b[i] == '{' || b[i] == '[')
                depth++;
            else if ((b[i] == '}' || b[i] == ']') && --depth == 0)
                return i + 1;
        }
        return n;
    }
    while (i < n && !strchr(",}] \t\r\n", b[i]))
        i++;
    return i;
}

/* The next member of the top-level object from *at: its name's bytes
 * between the quotes (escapes as sent) and its value's span. 0 at the end. */
static int next_member(const char *b, size_t n, size_t *at, struct json_span *name, struct json_span *value)
{
    size_t i = skip_ws(b, n, *at);
    if (i < n && (b[i] == '{' || b[i] == ','))
        i = skip_ws(b, n, i + 1);
    if (i >= n || b[i] != '"')
        return 0;
    size_t end = skip_string(b, n, i);
    name->at = i + 1;
    name->len = end - i - 2;
    i = skip_ws(b, n, end);
    if (i >= n || b[i] != ':')
        return 0;
    i = skip_ws(b, n, i + 1);
    value->at = i;
    *at = skip_value(b, n, i);
    value->len = *at - i;
    return 1;
}

/* A member name as sent equals `want` (plain ASCII) once its escapes are read. */
static int name_is(const char *raw, size_t len, const char *want)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++, w++) {
        unsigned ch = (unsigned char)raw[i];
        if (ch == '\\' && i + 1 < len) {
            char e = raw[++i];
            if (e == 'u' && i + 4 < len) {
                char hex[5] = {raw[i + 1], raw[i + 2], raw[i + 3], raw[i + 4], 0};
                ch = (unsigned)strtoul(hex, NULL, 16);
                i += 4;
            } else {
                ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : (unsigned char)e;
            }
        }
        if (!want[w] || ch != (unsigned char)want[w])
            return 0;
    }
    return want[w] == '\0';
}

/* Whether bytes of valid JSON hold the escape \u0000 (a backslash outside
 * a string cannot occur, and "\\u0000" is an escaped backslash). */
static int has_nul_escape(const char *b, size_t n)
{
    for (const char *p = memchr(b, '\\', n); p; p = memchr(p, '\\', n - (size_t)(p - b))) {
        if ((size_t)(p - b) + 6 <= n && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
            return 1;
        p += 2;
        if (p >= b + n)
            break;
    }
    return 0;
}

int json_member_span(const char *buf, size_t len, const char *name, struct json_span *out)
{
    struct json_span k, v;
    size_t at = 0;
    int found = 0;
    while (next_member(buf, len, &at, &k, &v))
        if (name_is(buf + k.at, k.len, name) && !(v.len == 4 && memcmp(buf + v.at, "null", 4) == 0)) {
            *out = v; /* the last one not null, as json_fields reads a repeated name */
            found = 1;
        }
    return found;
}

int json_nul_member(const char *buf, size_t len, const char *except, char *name, size_t cap)
{
    struct json_span k, v;
    size_t at = 0;
    if (!memmem(buf, len, "\\u0000", 6))
        return 0; /* the common case: one fast search of the body */
    while (next_member(buf, len, &at, &k, &v)) {
        int in_name = has_nul_escape(buf + k.at, k.len);
        if (!in_name && (!has_nul_escape(buf + v.at, v.len) || (except && name_is(buf + k.at, k.len, except))))
            continue;
        /* the name as sent, cut at its first escape: enough to point at it */
        size_t n = 0;
        while (n < k.len && buf[k.at + n] != '\\' && n + 1 < cap)
            n++;
        memcpy(name, buf + k.at, n);
        name[n] = '\0';
        return 1;
    }
    return 0;
}
