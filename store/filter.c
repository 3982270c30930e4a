#include "store/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"

/* The compiled form is the checked tree itself: evaluation walks it and
 * never parses. */
struct filter {
    yajl_val root; /* owned */
};

struct check {
    int conditions;
    char *why;
    size_t whylen;
};

static int check_filter(yajl_val f, int depth, struct check *c);

static int refuse(struct check *c, const char *fmt, const char *a, const char *b)
{
    snprintf(c->why, c->whylen, fmt, a, b);
    return -1;
}

static int is_op(const char *k) { return k[0] == '$'; }

static int valid_path(const char *p)
{
    size_t n = strlen(p);
    return n > 0 && n <= 256 && p[0] != '.' && p[n - 1] != '.' && !strstr(p, "..");
}

/* {"$op": operand, ...} at `path`. */
static int check_ops(const char *path, yajl_val ops, struct check *c)
{
    for (size_t i = 0; i < ops->u.object.len; i++) {
        const char *op = ops->u.object.keys[i];
        yajl_val v = ops->u.object.values[i];
        if (++c->conditions > FILTER_MAX_CONDITIONS)
            return refuse(c, "more than 64 conditions (at %s %s)", path, op);
        if (!strcmp(op, "$eq") || !strcmp(op, "$ne"))
            continue;
        if (!strcmp(op, "$in") || !strcmp(op, "$nin")) {
            if (!YAJL_IS_ARRAY(v))
                return refuse(c, "%s at '%s' takes an array", op, path);
        } else if (!strcmp(op, "$gt") || !strcmp(op, "$gte") || !strcmp(op, "$lt") || !strcmp(op, "$lte")) {
            if (!YAJL_IS_NUMBER(v) && !YAJL_IS_STRING(v))
                return refuse(c, "%s at '%s' takes a number or a string", op, path);
        } else if (!strcmp(op, "$exists")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v))
                return refuse(c, "%s at '%s' takes true or false", op, path);
        } else if (!strcmp(op, "$startsWith")) {
            if (!YAJL_IS_STRING(v))
                return refuse(c, "%s at '%s' takes a string", op, path);
        } else {
            return refuse(c, "unknown operator %s at '%s'", op, path);
        }
    }
    return 0;
}

/* What a path is held to: an operator object, or a value to equal. */
static int check_condition(const char *path, yajl_val v, struct check *c)
{
    if (!valid_path(path))
        return refuse(c, "'%s' is not a path (dotted names, e.g. payload.amount)%s", path, "");
    if (!YAJL_IS_OBJECT(v) || v->u.object.len == 0 || !is_op(v->u.object.keys[0])) {
        if (YAJL_IS_OBJECT(v))
            for (size_t i = 0; i < v->u.object.len; i++)
                if (is_op(v->u.object.keys[i]))
                    return refuse(c, "'%s' mixes operators and fields (%s)", path, v->u.object.keys[i]);
        if (++c->conditions > FILTER_MAX_CONDITIONS)
            return refuse(c, "more than 64 conditions (at %s%s)", path, "");
        return 0; /* equality */
    }
    for (size_t i = 0; i < v->u.object.len; i++)
        if (!is_op(v->u.object.keys[i]))
            return refuse(c, "'%s' mixes operators and fields (%s)", path, v->u.object.keys[i]);
    return check_ops(path, v, c);
}

static int check_filter(yajl_val f, int depth, struct check *c)
{
    if (depth > FILTER_MAX_DEPTH)
        return refuse(c, "nested deeper than 8 ($and, $or, $not)%s%s", "", "");
    if (!YAJL_IS_OBJECT(f))
        return refuse(c, "each filter must be a JSON object%s%s", "", "");
    for (size_t i = 0; i < f->u.object.len; i++) {
        const char *k = f->u.object.keys[i];
        yajl_val v = f->u.object.values[i];
        if (!strcmp(k, "$and") || !strcmp(k, "$or")) {
            if (!YAJL_IS_ARRAY(v) || v->u.array.len == 0)
                return refuse(c, "%s takes a non-empty array of filters%s", k, "");
            for (size_t j = 0; j < v->u.array.len; j++)
                if (check_filter(v->u.array.values[j], depth + 1, c) < 0)
                    return -1;
        } else if (!strcmp(k, "$not")) {
            if (check_filter(v, depth + 1, c) < 0)
                return -1;
        } else if (is_op(k)) {
            return refuse(c, "unknown operator %s at the top of a filter%s", k, "");
        } else if (check_condition(k, v, c) < 0) {
            return -1;
        }
    }
    return 0;
}

int filter_compile(const char *json, size_t len, struct filter **out, char *why, size_t whylen)
{
    char err[128];
    *out = NULL;
    if (len > FILTER_MAX_BYTES) {
        snprintf(why, whylen, "larger than %d bytes", FILTER_MAX_BYTES);
        return -1;
    }
    yajl_val root = json_parse(json, len, err, sizeof(err));
    if (!root) {
        snprintf(why, whylen, "is not valid JSON (%s)", err);
        return -1;
    }
    struct check c = {0, why, whylen};
    struct filter *f = NULL;
    if (check_filter(root, 1, &c) < 0)
        goto fail;
    if (!(f = malloc(sizeof(*f)))) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    f->root = root;
    *out = f;
    return 0;
fail:
    yajl_tree_free(root);
    return -1;
}

/* ---- evaluation ---- */

/* The node `path` names in the document, or NULL when it is missing. */
yajl_val filter_resolve(const char *path, yajl_val type, yajl_val payload)
{
    size_t n = strcspn(path, ".");
    yajl_val v;
    if (n == 4 && !memcmp(path, "type", 4))
        v = type;
    else if (n == 7 && !memcmp(path, "payload", 7))
        v = payload;
    else
        return NULL;
    for (const char *s = path + n; v && *s == '.';) {
        s++;
        n = strcspn(s, ".");
        yajl_val next = NULL;
        if (YAJL_IS_OBJECT(v)) {
            for (size_t i = 0; i < v->u.object.len; i++)
                if (strlen(v->u.object.keys[i]) == n && !memcmp(v->u.object.keys[i], s, n)) {
                    next = v->u.object.values[i];
                    break;
                }
        } else if (YAJL_IS_ARRAY(v) && n > 0 && n < 10 && strspn(s, "0123456789") >= n) {
            size_t idx = (size_t)strtoul(s, NULL, 10);
            next = idx < v->u.array.len ? v->u.array.values[idx] : NULL;
        }
        v = next;
        s += n;
    }
    return v;
}

static int equal(yajl_val a, yajl_val b)
{
    if (YAJL_IS_NUMBER(a) && YAJL_IS_NUMBER(b))
        return YAJL_GET_DOUBLE(a) == YAJL_GET_DOUBLE(b);
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case yajl_t_string:
        return strcmp(a->u.string, b->u.string) == 0;
    case yajl_t_object:
        if (a->u.object.len != b->u.object.len)
            return 0;
        for (size_t i = 0; i < a->u.object.len; i++) {
            size_t j = 0;
            while (j < b->u.object.len && strcmp(a->u.object.keys[i], b->u.object.keys[j]))
                j++;
            if (j == b->u.object.len || !equal(a->u.object.values[i], b->u.object.values[j]))
                return 0;
        }
        return 1;
    case yajl_t_array:
        if (a->u.array.len != b->u.array.len)
            return 0;
        for (size_t i = 0; i < a->u.array.len; i++)
            if (!equal(a->u.array.values[i], b->u.array.values[i]))
                return 0;
        return 1;
    default: /* true, false, null */
        return 1;
    }
}

/* <0, 0, >0, or 2 when the two cannot be ordered (other types). */
static int order(yajl_val a, yajl_val b)
{
    if (YAJL_IS_NUMBER(a) && YAJL_IS_NUMBER(b)) {
        double x = YAJL_GET_DOUBLE(a), y = YAJL_GET_DOUBLE(b);
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (YAJL_IS_STRING(a) && YAJL_IS_STRING(b)) {
        int c = strcmp(a->u.string, b->u.string);
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    return 2;
}

static int in_list(yajl_val v, yajl_val list)
{
    for (size_t i = 0; i < list->u.array.len; i++)
        if (equal(v, list->u.array.values[i]))
            return 1;
    return 0;
}

static int op_match(const char *op, yajl_val operand, yajl_val v)
{
    if (!strcmp(op, "$exists"))
        return (v != NULL) == YAJL_IS_TRUE(operand);
    if (!strcmp(op, "$ne"))
        return !v || !equal(v, operand);
    if (!strcmp(op, "$nin"))
        return !v || !in_list(v, operand);
    if (!v)
        return 0; /* a missing path matches nothing else */
    if (!strcmp(op, "$eq"))
        return equal(v, operand);
    if (!strcmp(op, "$in"))
        return in_list(v, operand);
    if (!strcmp(op, "$startsWith"))
        return YAJL_IS_STRING(v) && !strncmp(v->u.string, operand->u.string, strlen(operand->u.string));
    int o = order(v, operand);
    if (o == 2)
        return 0;
    if (!strcmp(op, "$gt"))
        return o > 0;
    if (!strcmp(op, "$gte"))
        return o >= 0;
    if (!strcmp(op, "$lt"))
        return o < 0;
    return o <= 0; /* $lte: compile admits nothing else */
}

static int eval(yajl_val f, yajl_val type, yajl_val payload)
{
    for (size_t i = 0; i < f->u.object.len; i++) {
        const char *k = f->u.object.keys[i];
        yajl_val c = f->u.object.values[i];
        int ok;
        if (!strcmp(k, "$and") || !strcmp(k, "$or")) {
            int any = k[1] == 'o';
            ok = !any;
            for (size_t j = 0; j < c->u.array.len && ok == !any; j++)
                ok = eval(c->u.array.values[j], type, payload);
        } else if (!strcmp(k, "$not")) {
            ok = !eval(c, type, payload);
        } else {
            yajl_val v = filter_resolve(k, type, payload);
            if (YAJL_IS_OBJECT(c) && c->u.object.len > 0 && c->u.object.keys[0][0] == '$') {
                ok = 1;
                for (size_t j = 0; j < c->u.object.len && ok; j++)
                    ok = op_match(c->u.object.keys[j], c->u.object.values[j], v);
            } else {
                ok = v && equal(v, c);
            }
        }
        if (!ok)
            return 0;
    }
    return 1;
}

void filter_type_value(struct yajl_val_s *out, const char *type)
{
    memset(out, 0, sizeof(*out));
    out->type = yajl_t_string;
    out->u.string = (char *)type; /* read only */
}

int filter_match(const struct filter *f, const char *type, yajl_val payload)
{
    struct yajl_val_s t;
    filter_type_value(&t, type);
    return eval(f->root, &t, payload);
}

int filter_value_key(yajl_val v, char key[FILTER_KEY_MAX])
{
    if (!v)
        return 0;
    if (YAJL_IS_NUMBER(v)) {
        double d = YAJL_GET_DOUBLE(v);
        snprintf(key, FILTER_KEY_MAX, "n%.17g", d == 0 ? 0.0 : d); /* -0 equals 0 */
        return 1;
    }
    if (YAJL_IS_STRING(v)) {
        size_t n = strlen(v->u.string);
        if (n + 2 > FILTER_KEY_MAX)
            return 0;
        key[0] = 's';
        memcpy(key + 1, v->u.string, n + 1);
        return 1;
    }
    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v) || YAJL_IS_NULL(v)) {
        snprintf(key, FILTER_KEY_MAX, "%s", YAJL_IS_TRUE(v) ? "t" : YAJL_IS_FALSE(v) ? "f" : "z");
        return 1;
    }
    return 0;
}

int filter_index_key(const struct filter *f, const char **path, char key[FILTER_KEY_MAX])
{
    yajl_val root = f->root;
    for (size_t i = 0; i < root->u.object.len; i++) {
        const char *k = root->u.object.keys[i];
        yajl_val c = root->u.object.values[i];
        if (k[0] == '$')
            continue; /* $and, $or, $not */
        if (YAJL_IS_OBJECT(c) && c->u.object.len > 0 && c->u.object.keys[0][0] == '$') {
            for (size_t j = 0; j < c->u.object.len; j++)
                if (!strcmp(c->u.object.keys[j], "$eq") && filter_value_key(c->u.object.values[j], key)) {
                    *path = k;
                    return 1;
                }
        } else if (filter_value_key(c, key)) {
            *path = k;
            return 1;
        }
    }
    return 0;
}

void filter_free(struct filter *f)
{
    if (!f)
        return;
    yajl_tree_free(f->root);
    free(f);
}
