#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "store/json.h"

static void test_parse_rejects(void)
{
    static const char *bad[] = {
        "", "{", "{\"a\":1,}", "{\"a\": /* c */ 1}", "[1,2", "{\"a\":\"\xff\xfe\"}", "nul\0l",
    };
    size_t lens[] = {0, 1, 8, 15, 4, 10, 5};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256];
        yajl_val v = json_parse(bad[i], lens[i], err, sizeof(err));
        CHECK(v == NULL, "case %zu parsed", i);
        CHECK(err[0] != '\0', "case %zu has a message", i);
        if (v)
            yajl_tree_free(v);
    }
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    char err[256];
    CHECK(json_parse(deep, 200, err, sizeof(err)) == NULL && strstr(err, "deeper"), "depth cap: %s", err);
    /* brackets, slashes and escaped quotes inside strings are string content */
    char str[300];
    int n = snprintf(str, sizeof(str), "{\"a\":\"\\\"%.*s/\\\\\",\"b\":[1]}", 150, deep);
    yajl_val v = json_parse(str, (size_t)n, err, sizeof(err));
    CHECK(v != NULL, "brackets in a string: %s", err);
    if (v)
        yajl_tree_free(v);
    CHECK(json_parse("{\"a\":\"x\\\"\"}/", 12, err, sizeof(err)) == NULL && strstr(err, "'/'"),
          "a slash after an escaped quote's string: %s", err);
    CHECK(json_parse("{\"a\":\"x\0\"}", 10, err, sizeof(err)) == NULL && strstr(err, "NUL"), "NUL in a string: %s", err);
}

static void test_fields(void)
{
    char err[256], msg[128];
    const char *bad;
    const char *src = "{\"url\":\"http://x\",\"n\":3,\"b\":true,\"x\":null}";
    yajl_val v = json_parse(src, strlen(src), err, sizeof(err)), url, n, b, x, miss;
    CHECK(v != NULL, "%s", err);
    struct json_field f[] = {{"url", JT_STRING, 1, &url}, {"n", JT_INT, 1, &n}, {"b", JT_BOOL, 0, &b},
                             {"x", JT_STRING, 0, &x}, {"missing", JT_ARRAY, 0, &miss}};
    CHECK(json_fields(v, f, 5, 1, &bad, msg, sizeof(msg)) == 0, "%s", msg);
    CHECK(x == NULL && miss == NULL, "null counts as absent");
    struct json_field g[] = {{"url", JT_INT, 1, &url}};
    CHECK(json_fields(v, g, 1, 0, &bad, msg, sizeof(msg)) < 0 && strcmp(bad, "url") == 0, "type named");
    CHECK(json_fields(v, g, 1, 1, &bad, msg, sizeof(msg)) < 0, "unknown refused when strict");
    struct json_field h[] = {{"url", JT_STRING, 1, &url}, {"n", JT_INT, 1, &n}, {"b", JT_BOOL, 0, &b},
                             {"x", JT_STRING, 0, &x}, {"need", JT_STRING, 1, &miss}};
    CHECK(json_fields(v, h, 5, 1, &bad, msg, sizeof(msg)) < 0 && strcmp(bad, "need") == 0, "required named");
    yajl_tree_free(v);
}

static void test_roundtrip(void)
{
    char err[256];
    const char *src = "{\"a\":[1,2.5,\"x\\u00e9\"],\"big\":123456789012345678901234567890,\"t\":true,\"n\":null}";
    yajl_val v = json_parse(src, strlen(src), err, sizeof(err));
    CHECK(v != NULL, "%s", err);
    struct jw w;
    CHECK(jw_init(&w) == 0, "init");
    jw_tree(&w, v);
    const unsigned char *out;
    size_t len;
    CHECK(jw_result(&w, &out, &len) == 0, "render");
    CHECK(strstr((const char *)out, "123456789012345678901234567890") != NULL, "big number kept: %.*s", (int)len, out);
    CHECK(strstr((const char *)out, "2.5") != NULL, "float kept");
    jw_free(&w);
    yajl_tree_free(v);
    CHECK(jw_init(&w) == 0, "init");
    jw_str(&w, "\xff");
    CHECK(jw_result(&w, &out, &len) < 0, "bad UTF-8 refused on output");
    jw_free(&w);
    char t[32];
    format_time(1700000000123LL, t);
    CHECK_STR(t, "2023-11-14T22:13:20.123Z");
}

/* A member's value is found as sent, whatever its spelling around it. */
static void test_member_span(void)
{
    static const struct {
        const char *doc, *name, *want; /* want NULL: absent */
    } cases[] = {
        {"{\"type\":\"t\",\"payload\":{\"a\":\"x\\u0000y\"}}", "payload", "{\"a\":\"x\\u0000y\"}"},
        {"{ \"payload\" : [1, \"]\\\"}\", {}] , \"z\":1}", "payload", "[1, \"]\\\"}\", {}]"},
        {"{\"pay\\u006coad\": 12.5e3}", "payload", "12.5e3"},
        {"{\"payload\":1,\"payload\":\"last\"}", "payload", "\"last\""},
        {"{\"p\":{\"payload\":1}}", "payload", NULL},
        {"{\"payloadx\":1}", "payload", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_span sp;
        int found = json_member_span(cases[i].doc, strlen(cases[i].doc), cases[i].name, &sp);
        CHECK(found == (cases[i].want != NULL), "case %zu: found %d", i, found);
        if (found && cases[i].want)
            CHECK(sp.len == strlen(cases[i].want) && memcmp(cases[i].doc + sp.at, cases[i].want, sp.len) == 0,
                  "case %zu: %.*s", i, (int)sp.len, cases[i].doc + sp.at);
    }
    char name[64];
    const char *nul = "{\"payload\":\"\\u0000\",\"description\":\"a\\u0000b\"}";
    CHECK(json_nul_member(nul, strlen(nul), "payload", name, sizeof(name)) == 1, "NUL outside the payload found");
    CHECK_STR(name, "description");
    const char *ok = "{\"payload\":\"\\u0000\",\"d\":\"\\\\u0000\"}"; /* an escaped backslash, then u0000 */
    CHECK(json_nul_member(ok, strlen(ok), "payload", name, sizeof(name)) == 0, "escaped backslash is no NUL");
    const char *key = "{\"a\\u0000\":1}";
    CHECK(json_nul_member(key, strlen(key), NULL, name, sizeof(name)) == 1, "NUL in a name found");
    CHECK_STR(name, "a");
}

int main(void)
{
    test_parse_rejects();
    test_fields();
    test_roundtrip();
    test_member_span();
    return CHECK_DONE();
}
