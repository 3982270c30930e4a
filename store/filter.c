#include "store/filter.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/json.h"
#include "store/keys.h"

enum op { OP_AND, OP_OR, OP_NOT, OP_EQ, OP_NE, OP_IN, OP_NIN, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_EXISTS, OP_STARTS };

/* A compiled filter: a tree of nodes over the checked yajl tree (operands
 * and path names point into it), each path named once per filter so an
 * event resolves it once (struct filter_event). */
struct node {
    enum op op;
    int path;          /* a condition's path: its index in filter.paths */
    yajl_val operand;  /* a condition's operand, in filter.root */
    struct node *kids; /* owned: AND, OR and NOT's operands */
    int nkids;
};

struct filter {
    yajl_val root;      /* owned: the checked JSON */
    struct node top;    /* an AND of the top-level members */
    const char **paths; /* owned array; the names live in root */
    int *ids;           /* owned: each path's id in the org's filter_paths, -1 unbound */
    int npaths;
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

/* ---- compiling: a checked tree into nodes ---- */

static int path_index(struct filter *f, const char *path)
{
    for (int i = 0; i < f->npaths; i++)
        if (!strcmp(f->paths[i], path))
            return i;
    f->paths[f->npaths] = path;
    return f->npaths++;
}

static const struct {
    const char *name;
    enum op op;
} OPS[] = {{"$eq", OP_EQ},   {"$ne", OP_NE},   {"$in", OP_IN},   {"$nin", OP_NIN},       {"$gt", OP_GT},
           {"$gte", OP_GTE}, {"$lt", OP_LT},   {"$lte", OP_LTE}, {"$exists", OP_EXISTS}, {"$startsWith", OP_STARTS}};

static enum op op_named(const char *name)
{
    for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++)
        if (!strcmp(OPS[i].name, name))
            return OPS[i].op;
    return OP_EQ; /* check_ops admits no other name */
}

static int build_object(struct filter *f, yajl_val obj, struct node *out);

/* A member of a filter object: $and, $or, $not, or a path's conditions. */
static int build_member(struct filter *f, const char *k, yajl_val v, struct node *out)
{
    memset(out, 0, sizeof(*out));
    if (!strcmp(k, "$and") || !strcmp(k, "$or")) {
        out->op = k[1] == 'a' ? OP_AND : OP_OR;
        if (!(out->kids = calloc(v->u.array.len, sizeof(*out->kids))))
            return -1;
        out->nkids = (int)v->u.array.len;
        for (size_t i = 0; i < v->u.array.len; i++)
            if (build_object(f, v->u.array.values[i], &out->kids[i]) < 0)
                return -1;
        return 0;
    }
    if (!strcmp(k, "$not")) {
        out->op = OP_NOT;
        if (!(out->kids = calloc(1, sizeof(*out->kids))))
            return -1;
        out->nkids = 1;
        return build_object(f, v, &out->kids[0]);
    }
    int path = path_index(f, k);
    if (!YAJL_IS_OBJECT(v) || v->u.object.len == 0 || !is_op(v->u.object.keys[0])) {
        *out = (struct node){.op = OP_EQ, .path = path, .operand = v};
        return 0;
    }
    out->op = OP_AND; /* {"$gt": 1, "$lt": 5}: each operator holds */
    if (!(out->kids = calloc(v->u.object.len, sizeof(*out->kids))))
        return -1;
    out->nkids = (int)v->u.object.len;
    for (size_t i = 0; i < v->u.object.len; i++)
        out->kids[i] = (struct node){.op = op_named(v->u.object.keys[i]), .path = path, .operand = v->u.object.values[i]};
    return 0;
}

static int build_object(struct filter *f, yajl_val obj, struct node *out)
{
    memset(out, 0, sizeof(*out));
    out->op = OP_AND;
    if (!(out->kids = calloc(obj->u.object.len + 1, sizeof(*out->kids))))
        return -1;
    out->nkids = (int)obj->u.object.len;
    for (size_t i = 0; i < obj->u.object.len; i++)
        if (build_member(f, obj->u.object.keys[i], obj->u.object.values[i], &out->kids[i]) < 0)
            return -1;
    return 0;
}

static void free_node(struct node *n)
{
    for (int i = 0; i < n->nkids; i++)
        free_node(&n->kids[i]);
    free(n->kids);
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
    /* at most one path per condition: the arrays never grow */
    if (!(f = calloc(1, sizeof(*f))) || !(f->paths = calloc((size_t)c.conditions + 1, sizeof(*f->paths))) ||
        !(f->ids = malloc(((size_t)c.conditions + 1) * sizeof(*f->ids)))) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    f->root = root;
    if (build_object(f, root, &f->top) < 0) {
        snprintf(why, whylen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < f->npaths; i++)
        f->ids[i] = -1;
    *out = f;
    return 0;
fail:
    if (f) {
        f->root = NULL; /* freed below */
        filter_free(f);
    }
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

static int op_match(enum op op, yajl_val operand, yajl_val v)
{
    switch (op) {
    case OP_EXISTS:
        return (v != NULL) == YAJL_IS_TRUE(operand);
    case OP_NE:
        return !v || !equal(v, operand);
    case OP_NIN:
        return !v || !in_list(v, operand);
    default:
        break;
    }
    if (!v)
        return 0; /* a missing path matches nothing else */
    switch (op) {
    case OP_EQ:
        return equal(v, operand);
    case OP_IN:
        return in_list(v, operand);
    case OP_STARTS:
        return YAJL_IS_STRING(v) && !strncmp(v->u.string, operand->u.string, strlen(operand->u.string));
    default:
        break;
    }
    int o = order(v, operand);
    if (o == 2)
        return 0;
    switch (op) {
    case OP_GT:
        return o > 0;
    case OP_GTE:
        return o >= 0;
    case OP_LT:
        return o < 0;
    default:
        return o <= 0; /* OP_LTE: compile makes nothing else */
    }
}

/* The value of the filter's path p in the event: resolved once per event
 * for a path bound to the org's table, else each time. */
static yajl_val path_value(const struct filter *f, int p, struct filter_event *ev)
{
    int id = f->ids[p];
    if (id < 0 || !ev->vals)
        return filter_resolve(f->paths[p], ev->type, ev->payload);
    if (!ev->resolved[id]) {
        ev->vals[id] = filter_resolve(f->paths[p], ev->type, ev->payload);
        ev->resolved[id] = 1;
    }
    return ev->vals[id];
}

static int eval(const struct filter *f, const struct node *n, struct filter_event *ev)
{
    switch (n->op) {
    case OP_AND:
        for (int i = 0; i < n->nkids; i++)
            if (!eval(f, &n->kids[i], ev))
                return 0;
        return 1;
    case OP_OR:
        for (int i = 0; i < n->nkids; i++)
            if (eval(f, &n->kids[i], ev))
                return 1;
        return 0;
    case OP_NOT:
        return !eval(f, &n->kids[0], ev);
    default:
        return op_match(n->op, n->operand, path_value(f, n->path, ev));
    }
}

void filter_type_value(struct yajl_val_s *out, const char *type)
{
    memset(out, 0, sizeof(*out));
    out->type = yajl_t_string;
    out->u.string = (char *)type; /* read only */
}

int filter_match_event(const struct filter *f, struct filter_event *ev)
{
    return eval(f, &f->top, ev);
}

int filter_match(const struct filter *f, const char *type, yajl_val payload)
{
    struct yajl_val_s t;
    filter_type_value(&t, type);
    struct filter_event ev = {.type = &t, .payload = payload};
    return eval(f, &f->top, &ev);
}

/* ---- paths shared by an org's filters ---- */

struct filter_paths {
    const char **names; /* open addressing; the names live in the filters */
    int *ids;
    size_t cap, n;
};

struct filter_paths *filter_paths_new(void) { return calloc(1, sizeof(struct filter_paths)); }

static int paths_grow(struct filter_paths *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    const char **names = calloc(cap, sizeof(*names));
    int *ids = malloc(cap * sizeof(*ids));
    if (!names || !ids) {
        free(names);
        free(ids);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->names[i])
            continue;
        size_t k = fnv1a(t->names[i]) & (cap - 1);
        while (names[k])
            k = (k + 1) & (cap - 1);
        names[k] = t->names[i], ids[k] = t->ids[i];
    }
    free(t->names);
    free(t->ids);
    t->names = names, t->ids = ids, t->cap = cap;
    return 0;
}

int filter_paths_bind(struct filter_paths *t, struct filter *f)
{
    for (int p = 0; p < f->npaths; p++) {
        if ((t->n + 1) * 2 > t->cap && paths_grow(t) < 0)
            return -1;
        size_t k = fnv1a(f->paths[p]) & (t->cap - 1);
        while (t->names[k] && strcmp(t->names[k], f->paths[p]))
            k = (k + 1) & (t->cap - 1);
        if (!t->names[k])
            t->names[k] = f->paths[p], t->ids[k] = (int)t->n++;
        f->ids[p] = t->ids[k];
    }
    return 0;
}

int filter_paths_count(const struct filter_paths *t) { return (int)t->n; }

void filter_paths_free(struct filter_paths *t)
{
    if (!t)
        return;
    free(t->names);
    free(t->ids);
    free(t);
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

/* Keys, into out[0..cap), at least one of which every event n matches
 * holds: their count, 0 when nothing can be said. */
static int node_keys(const struct filter *f, const struct node *n, struct filter_key *out, int cap)
{
    struct filter_key best[FILTER_INDEX_MAX];
    int nbest = 0, got = 0;
    switch (n->op) {
    case OP_EQ:
        if (cap < 1 || !filter_value_key(n->operand, out[0].key))
            return 0;
        out[0].path = f->paths[n->path];
        return 1;
    case OP_IN:
        if (n->operand->u.array.len == 0 || n->operand->u.array.len > (size_t)cap)
            return 0;
        for (size_t i = 0; i < n->operand->u.array.len; i++) {
            if (!filter_value_key(n->operand->u.array.values[i], out[i].key))
                return 0;
            out[i].path = f->paths[n->path];
        }
        return (int)n->operand->u.array.len;
    case OP_AND: /* any member's keys will do: the fewest */
        for (int i = 0; i < n->nkids; i++) {
            int k = node_keys(f, &n->kids[i], best, cap);
            if (k > 0 && (nbest == 0 || k < nbest)) {
                memcpy(out, best, (size_t)k * sizeof(*out));
                nbest = k;
            }
        }
        return nbest;
    case OP_OR: /* every branch must have keys: all of them */
        for (int i = 0; i < n->nkids; i++) {
            int k = node_keys(f, &n->kids[i], out + got, cap - got);
            if (k == 0)
                return 0;
            got += k;
        }
        return got;
    default:
        return 0;
    }
}

int filter_index_keys(const struct filter *f, struct filter_key out[FILTER_INDEX_MAX])
{
    return node_keys(f, &f->top, out, FILTER_INDEX_MAX);
}

/* A range bound of one condition node onto [*lo, *hi] when it names path
 * p (or p is unset: it becomes the node's). */
static void bound(const struct node *c, int *p, double *lo, double *hi)
{
    if (c->op < OP_GT || c->op > OP_LTE || !YAJL_IS_NUMBER(c->operand) || (*p >= 0 && c->path != *p))
        return;
    double v = YAJL_GET_DOUBLE(c->operand);
    *p = c->path;
    if ((c->op == OP_GT || c->op == OP_GTE) && v > *lo)
        *lo = v;
    if ((c->op == OP_LT || c->op == OP_LTE) && v < *hi)
        *hi = v;
}

int filter_index_range(const struct filter *f, const char **path, double *lo, double *hi)
{
    int p = -1;
    *lo = -HUGE_VAL, *hi = HUGE_VAL;
    for (int i = 0; i < f->top.nkids; i++) {
        const struct node *k = &f->top.kids[i];
        if (k->op == OP_AND) { /* a member's operators: {"$gte": 1, "$lt": 5} */
            for (int j = 0; j < k->nkids; j++)
                if (!k->kids[j].kids)
                    bound(&k->kids[j], &p, lo, hi);
        } else if (!k->kids) {
            bound(k, &p, lo, hi);
        }
    }
    if (p < 0)
        return 0;
    *path = f->paths[p];
    return 1;
}

void filter_free(struct filter *f)
{
    if (!f)
        return;
    free_node(&f->top);
    free(f->paths);
    free(f->ids);
    yajl_tree_free(f->root);
    free(f);
}
