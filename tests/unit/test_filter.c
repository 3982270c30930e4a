/* The filter grammar (store/filter.h), one row per case: a filter, an event
 * (type and payload) and whether it matches; then the filters that must be
 * refused, with a word the reason must contain. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "store/filter.h"
#include "store/json.h"

static const char *const PAYLOAD =
    "{\"amount\": 10, \"currency\": \"EUR\", \"code\": \"10\", \"customer\": {\"id\": \"c_1\", \"vip\": true,"
    " \"tags\": [\"a\", \"b\"]}, \"items\": [{\"sku\": \"x\", \"qty\": 2}], \"note\": null, \"ratio\": 0.5}";

static const struct {
    const char *filter, *type;
    int want;
} MATCH[] = {
    {"{}", "order.paid", 1},
    {"{\"payload.amount\": 10}", "order.paid", 1},
    {"{\"payload.amount\": 10.0}", "order.paid", 1},
    {"{\"payload.amount\": \"10\"}", "order.paid", 0}, /* no coercion */
    {"{\"payload.code\": 10}", "order.paid", 0},
    {"{\"payload.code\": \"10\"}", "order.paid", 1},
    {"{\"type\": \"order.paid\"}", "order.paid", 1},
    {"{\"type\": {\"$startsWith\": \"order.\"}}", "order.paid", 1},
    {"{\"type\": {\"$startsWith\": \"user.\"}}", "order.paid", 0},
    {"{\"payload.customer.id\": \"c_1\"}", "t", 1},
    {"{\"payload.customer.tags.1\": \"b\"}", "t", 1},
    {"{\"payload.customer.tags.2\": \"b\"}", "t", 0},
    {"{\"payload.items.0.qty\": {\"$gte\": 2}}", "t", 1},
    {"{\"payload.items.0.qty\": {\"$gt\": 2}}", "t", 0},
    {"{\"payload.amount\": {\"$lt\": 11, \"$gt\": 9}}", "t", 1},
    {"{\"payload.amount\": {\"$lte\": 9}}", "t", 0},
    {"{\"payload.currency\": {\"$gt\": \"DKK\"}}", "t", 1},
    {"{\"payload.code\": {\"$gt\": 5}}", "t", 0}, /* a string never orders against a number */
    {"{\"payload.amount\": {\"$in\": [5, 10]}}", "t", 1},
    {"{\"payload.amount\": {\"$in\": [\"10\"]}}", "t", 0},
    {"{\"payload.amount\": {\"$nin\": [5, 6]}}", "t", 1},
    {"{\"payload.amount\": {\"$ne\": 10}}", "t", 0},
    {"{\"payload.amount\": {\"$eq\": 10}}", "t", 1},
    {"{\"payload.customer\": {\"id\": \"c_1\", \"vip\": true, \"tags\": [\"a\", \"b\"]}}", "t", 1},
    {"{\"payload.customer.tags\": [\"b\", \"a\"]}", "t", 0},
    {"{\"payload.note\": null}", "t", 1},
    {"{\"payload.note\": {\"$exists\": true}}", "t", 1},
    /* a missing path: only $exists false, $ne and $nin match */
    {"{\"payload.missing\": {\"$exists\": false}}", "t", 1},
    {"{\"payload.missing\": {\"$exists\": true}}", "t", 0},
    {"{\"payload.missing\": {\"$ne\": 1}}", "t", 1},
    {"{\"payload.missing\": {\"$nin\": [1]}}", "t", 1},
    {"{\"payload.missing\": {\"$in\": [null]}}", "t", 0},
    {"{\"payload.missing\": null}", "t", 0},
    {"{\"payload.missing\": {\"$lt\": 1}}", "t", 0},
    {"{\"other.x\": {\"$exists\": false}}", "t", 1},
    {"{\"payload.amount.deeper\": {\"$exists\": false}}", "t", 1},
    /* combinations */
    {"{\"payload.amount\": 10, \"payload.currency\": \"USD\"}", "t", 0},
    {"{\"$or\": [{\"payload.currency\": \"USD\"}, {\"payload.amount\": {\"$gte\": 10}}]}", "t", 1},
    {"{\"$or\": [{\"payload.currency\": \"USD\"}, {\"payload.amount\": 3}]}", "t", 0},
    {"{\"$and\": [{\"payload.currency\": \"EUR\"}, {\"payload.ratio\": {\"$lt\": 1}}]}", "t", 1},
    {"{\"$not\": {\"payload.currency\": \"EUR\"}}", "t", 0},
    {"{\"$not\": {\"payload.missing\": {\"$exists\": true}}}", "t", 1},
    {"{\"$and\": [{\"$or\": [{\"type\": \"t\"}, {\"type\": \"u\"}]}, {\"$not\": {\"payload.amount\": 3}}]}", "t", 1},
};

static const struct {
    const char *filter, *because;
} REFUSE[] = {
    {"[]", "object"},
    {"\"x\"", "object"},
    {"{\"payload.a\": {\"$regex\": \"x\"}}", "$regex"},
    {"{\"$where\": \"1\"}", "$where"},
    {"{\"payload.a\": {\"$in\": 3}}", "array"},
    {"{\"payload.a\": {\"$nin\": {}}}", "array"},
    {"{\"payload.a\": {\"$gt\": true}}", "number or a string"},
    {"{\"payload.a\": {\"$exists\": 1}}", "true or false"},
    {"{\"payload.a\": {\"$startsWith\": 1}}", "string"},
    {"{\"payload.a\": {\"$eq\": 1, \"b\": 2}}", "mixes"},
    {"{\"$and\": []}", "$and"},
    {"{\"$or\": {}}", "$or"},
    {"{\"$not\": 3}", "object"},
    {"{\"\": 1}", "path"},
    {"{\"payload..a\": 1}", "path"},
    {"{\"payload.a.\": 1}", "path"},
    {"{\"payload.a\": 1", "JSON"},
    {"{\"$not\":{\"$not\":{\"$not\":{\"$not\":{\"$not\":{\"$not\":{\"$not\":{\"$not\":{\"a\":1}}}}}}}}}", "deeper"},
};

int main(void)
{
    char err[128], why[160];
    yajl_val payload = json_parse(PAYLOAD, strlen(PAYLOAD), err, sizeof(err));
    CHECK(payload != NULL, "payload parses: %s", err);
    for (size_t i = 0; i < sizeof(MATCH) / sizeof(MATCH[0]); i++) {
        struct filter *f = NULL;
        int rc = filter_compile(MATCH[i].filter, strlen(MATCH[i].filter), &f, why, sizeof(why));
        CHECK(rc == 0, "%s compiles: %s", MATCH[i].filter, why);
        if (rc == 0) {
            CHECK(filter_match(f, MATCH[i].type, payload) == MATCH[i].want, "%s on %s: want %d", MATCH[i].filter,
                  MATCH[i].type, MATCH[i].want);
            /* the same through a path table, each path resolved once (twice over: the second from the table) */
            struct filter_paths *paths = filter_paths_new();
            CHECK(paths && filter_paths_bind(paths, f) == 0, "bind");
            struct yajl_val_s t;
            filter_type_value(&t, MATCH[i].type);
            yajl_val vals[256];
            unsigned char resolved[256] = {0};
            struct filter_event ev = {&t, payload, vals, resolved};
            CHECK(filter_paths_count(paths) <= 256, "paths");
            CHECK(filter_match_event(f, &ev) == MATCH[i].want && filter_match_event(f, &ev) == MATCH[i].want,
                  "%s on %s through the table: want %d", MATCH[i].filter, MATCH[i].type, MATCH[i].want);
            filter_paths_free(paths);
        }
        filter_free(f);
    }
    for (size_t i = 0; i < sizeof(REFUSE) / sizeof(REFUSE[0]); i++) {
        struct filter *f = NULL;
        why[0] = '\0';
        int rc = filter_compile(REFUSE[i].filter, strlen(REFUSE[i].filter), &f, why, sizeof(why));
        CHECK(rc < 0 && f == NULL, "%s refused", REFUSE[i].filter);
        CHECK(strstr(why, REFUSE[i].because) != NULL, "%s: reason '%s' names '%s'", REFUSE[i].filter, why,
              REFUSE[i].because);
    }
    /* the limits: 64 conditions, 4 KiB */
    char big[8192] = "{";
    for (int i = 0; i < 65; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"payload.f%d\": %d", i ? ", " : "", i, i);
    strcat(big, "}");
    struct filter *f = NULL;
    CHECK(filter_compile(big, strlen(big), &f, why, sizeof(why)) < 0 && strstr(why, "64"), "65 conditions: %s", why);
    memset(big, ' ', 5000);
    memcpy(big, "{}", 2);
    CHECK(filter_compile(big, 5000, &f, why, sizeof(why)) < 0 && strstr(why, "4096"), "5000 bytes: %s", why);
    /* the equality index: which keys a filter has ("" none), and equal values share one */
    static const struct {
        const char *filter, *keys; /* "path=key" joined by "|" */
    } INDEX[] = {
        {"{\"payload.a\": 10}", "payload.a=n10"},
        {"{\"payload.a\": {\"$gt\": 1}, \"payload.b\": {\"$eq\": \"x\", \"$ne\": 3}}", "payload.b=sx"},
        {"{\"type\": \"order.paid\"}", "type=sorder.paid"},
        {"{\"payload.a\": -0.0}", "payload.a=n0"},
        {"{\"payload.a\": null}", "payload.a=z"},
        {"{\"payload.a\": {\"x\": 1}}", ""},
        {"{\"payload.a\": [1]}", ""},
        {"{\"payload.a\": {\"$gt\": 1}}", ""},
        {"{\"$not\": {\"payload.a\": 1}}", ""},
        {"{\"$or\": [{\"payload.a\": 1}, {\"type\": \"t\"}]}", "payload.a=n1|type=st"},
        {"{\"$or\": [{\"payload.a\": 1}, {\"payload.b\": {\"$gt\": 2}}]}", ""},
        {"{\"payload.a\": {\"$in\": [1, \"1\"]}}", "payload.a=n1|payload.a=s1"},
        {"{\"payload.a\": {\"$in\": [1, [2]]}}", ""},
        {"{\"$and\": [{\"payload.x\": {\"$in\": [1, 2]}}, {\"payload.y\": 3}]}", "payload.y=n3"},
        {"{\"payload.a\": {\"$in\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}}", ""},
    };
    for (size_t i = 0; i < sizeof(INDEX) / sizeof(INDEX[0]); i++) {
        struct filter_key keys[FILTER_INDEX_MAX];
        char got[1024] = "";
        f = NULL;
        CHECK(filter_compile(INDEX[i].filter, strlen(INDEX[i].filter), &f, why, sizeof(why)) == 0, "%s", why);
        if (!f)
            continue;
        int n = filter_index_keys(f, keys);
        for (int k = 0; k < n; k++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s=%s", k ? "|" : "", keys[k].path, keys[k].key);
        CHECK(!strcmp(got, INDEX[i].keys), "%s: keys '%s', want '%s'", INDEX[i].filter, got, INDEX[i].keys);
        filter_free(f);
    }
    /* the range index: a path and closed bounds, or none */
    static const struct {
        const char *filter, *path;
        double lo, hi;
    } RANGE[] = {
        {"{\"payload.a\": {\"$gte\": 1, \"$lt\": 5}}", "payload.a", 1, 5},
        {"{\"payload.a\": {\"$gt\": 1}, \"payload.a\": {\"$lte\": 3}}", "payload.a", 1, 3},
        {"{\"payload.b\": \"x\", \"payload.a\": {\"$lt\": -2}}", "payload.a", -HUGE_VAL, -2},
        {"{\"payload.a\": {\"$gt\": \"m\"}}", NULL, 0, 0},
        {"{\"$or\": [{\"payload.a\": {\"$gt\": 1}}]}", NULL, 0, 0},
        {"{\"payload.a\": {\"$gt\": 1}, \"payload.c\": {\"$lt\": 0}}", "payload.a", 1, HUGE_VAL},
    };
    for (size_t i = 0; i < sizeof(RANGE) / sizeof(RANGE[0]); i++) {
        const char *path = NULL;
        double lo = 0, hi = 0;
        f = NULL;
        CHECK(filter_compile(RANGE[i].filter, strlen(RANGE[i].filter), &f, why, sizeof(why)) == 0, "%s", why);
        if (!f)
            continue;
        int has = filter_index_range(f, &path, &lo, &hi);
        CHECK(has == (RANGE[i].path != NULL), "%s ranged: %d", RANGE[i].filter, has);
        if (has && RANGE[i].path)
            CHECK(!strcmp(path, RANGE[i].path) && lo == RANGE[i].lo && hi == RANGE[i].hi, "%s: %s [%g, %g]",
                  RANGE[i].filter, path, lo, hi);
        filter_free(f);
    }
    const char *same[][2] = {{"10", "1e1"}, {"10", "10.0"}, {"0", "-0"}, {"\"a\"", "\"a\""}};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char err[64], ka[FILTER_KEY_MAX], kb[FILTER_KEY_MAX];
        yajl_val a = json_parse(same[i][0], strlen(same[i][0]), err, sizeof(err)),
                 b = json_parse(same[i][1], strlen(same[i][1]), err, sizeof(err));
        CHECK(a && b && filter_value_key(a, ka) && filter_value_key(b, kb) && !strcmp(ka, kb), "%s and %s share a key",
              same[i][0], same[i][1]);
        yajl_tree_free(a);
        yajl_tree_free(b);
    }
    yajl_tree_free(payload);
    return CHECK_DONE();
}
