/*
 * hookdctl: the operator's command line over hookd's API. One request at a
 * time over libevent's HTTP client, each on a fresh event loop run to its
 * reply or its timeout; replies are read with yajl and printed as a table
 * (or as they came, with --json).
 *
 * Exit codes say what failed: 0 done, 1 refused (400/409/422), 2 usage,
 * 3 not found, 4 authentication or permission, 5 the server (5xx, no
 * connection, a timeout, a reply that is not JSON).
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

enum exit_code { EX_DONE = 0, EX_REFUSED = 1, EX_USAGE = 2, EX_NOT_FOUND = 3, EX_AUTH = 4, EX_SERVER = 5 };

static struct {
    const char *url, *token;
    int json, timeout_s;
    struct evhttp_uri *uri; /* owned: parsed url */
} O = {.timeout_s = 15};

/* One reply: its status (0: none came) and body; owned by the caller. */
struct reply {
    int status;
    char *body;
    size_t len;
    char error[160]; /* why no reply came */
    struct event_base *base;
};

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hookdctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (hookdctl --help)\n", stderr);
    va_end(ap);
    exit(EX_USAGE);
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *r = arg;
    event_base_loopexit(r->base, NULL); /* one reply per loop run */
    if (!req || evhttp_request_get_response_code(req) == 0) {
        snprintf(r->error, sizeof(r->error), "no answer from %s (connection refused, closed or timed out)", O.url);
    } else {
        r->status = evhttp_request_get_response_code(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        r->len = evbuffer_get_length(in);
        r->body = malloc(r->len + 1);
        if (r->body) {
            evbuffer_remove(in, r->body, r->len);
            r->body[r->len] = '\0';
        }
    }
}

/* method path [body]: the reply, or status 0 with error set. */
static struct reply request(enum evhttp_cmd_type method, const char *path, const char *body)
{
    struct reply r = {0};
    struct event_base *base = event_base_new();
    r.base = base;
    const char *host = evhttp_uri_get_host(O.uri);
    int port = evhttp_uri_get_port(O.uri);
    struct evhttp_connection *conn =
        base ? evhttp_connection_base_new(base, NULL, host, (ev_uint16_t)(port > 0 ? port : 80)) : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(on_reply, &r) : NULL;
    if (!req) {
        snprintf(r.error, sizeof(r.error), "out of memory");
        goto done;
    }
    evhttp_connection_set_timeout(conn, O.timeout_s);
    evhttp_connection_set_retries(conn, 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hosthdr[300], auth[1100];
    snprintf(hosthdr, sizeof(hosthdr), "%s", host);
    evhttp_add_header(h, "Host", hosthdr);
    evhttp_add_header(h, "User-Agent", "hookdctl");
    evhttp_add_header(h, "Accept", "application/json");
    if (O.token) {
        snprintf(auth, sizeof(auth), "Bearer %s", O.token);
        evhttp_add_header(h, "Authorization", auth);
    }
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    const char *prefix = evhttp_uri_get_path(O.uri);
    char full[2048];
    snprintf(full, sizeof(full), "%s%s", prefix && strcmp(prefix, "/") != 0 ? prefix : "", path);
    if (evhttp_make_request(conn, req, method, full) < 0) { /* frees req */
        snprintf(r.error, sizeof(r.error), "cannot send the request to %s", O.url);
        goto done;
    }
    event_base_dispatch(base); /* until on_reply ends it (a timeout calls it too) */
done:
    r.base = NULL;
    if (conn)
        evhttp_connection_free(conn);
    if (base)
        event_base_free(base);
    return r;
}

/* The exit code for a reply's status; prints the server's words on failure. */
static int check(const struct reply *r, const char *what)
{
    if (r->status == 0) {
        fprintf(stderr, "hookdctl: %s: %s\n", what, r->error);
        return EX_SERVER;
    }
    if (r->status < 300)
        return EX_DONE;
    char detail[300] = "";
    yajl_val v = r->body ? yajl_tree_parse(r->body, NULL, 0) : NULL;
    const char *keys[][2] = {{"detail", NULL}, {"message", NULL}, {"error_description", NULL}, {"error", NULL}};
    for (size_t i = 0; v && i < sizeof(keys) / sizeof(keys[0]) && !detail[0]; i++) {
        yajl_val d = yajl_tree_get(v, keys[i], yajl_t_string);
        if (d)
            snprintf(detail, sizeof(detail), "%s", YAJL_GET_STRING(d));
    }
    if (v)
        yajl_tree_free(v);
    fprintf(stderr, "hookdctl: %s: HTTP %d%s%s\n", what, r->status, detail[0] ? ": " : "", detail);
    if (r->status == 404)
        return EX_NOT_FOUND;
    if (r->status == 401 || r->status == 403)
        return EX_AUTH;
    return r->status >= 500 ? EX_SERVER : EX_REFUSED;
}

/* ---- printing ---- */

/* A value as one table cell (strings bare, null as "-", others as JSON). */
static void cell(yajl_val v, char *out, size_t cap)
{
    if (!v || YAJL_IS_NULL(v))
        snprintf(out, cap, "-");
    else if (YAJL_IS_STRING(v))
        snprintf(out, cap, "%s", YAJL_GET_STRING(v));
    else if (YAJL_IS_NUMBER(v))
        snprintf(out, cap, "%s", YAJL_GET_NUMBER(v));
    else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v))
        snprintf(out, cap, "%s", YAJL_IS_TRUE(v) ? "true" : "false");
    else if (YAJL_IS_ARRAY(v)) {
        size_t n = 0;
        out[0] = '\0';
        for (size_t i = 0; i < v->u.array.len && n + 2 < cap; i++) {
            char one[128];
            cell(v->u.array.values[i], one, sizeof(one));
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", one);
        }
        if (!v->u.array.len)
            snprintf(out, cap, "-");
    } else
        snprintf(out, cap, "{...}");
}

/* rows: the objects; cols: field names (a dotted path is one level deep). */
static void table(yajl_val rows, const char *const *cols)
{
    size_t ncols = 0, nrows = rows && YAJL_IS_ARRAY(rows) ? rows->u.array.len : 0;
    while (cols[ncols])
        ncols++;
    size_t width[16] = {0};
    for (size_t c = 0; c < ncols; c++)
        width[c] = strlen(cols[c]);
    char buf[512];
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (size_t c = 0; c < ncols; c++)
                printf("%-*s%s", (int)width[c], cols[c], c + 1 < ncols ? "  " : "\n");
        }
        for (size_t i = 0; i < nrows; i++) {
            for (size_t c = 0; c < ncols; c++) {
                const char *path[] = {cols[c], NULL};
                cell(yajl_tree_get(rows->u.array.values[i], path, yajl_t_any), buf, sizeof(buf));
                if (pass == 0 && strlen(buf) > width[c])
                    width[c] = strlen(buf) > 60 ? 60 : strlen(buf);
                if (pass == 1)
                    printf("%-*.*s%s", (int)width[c], (int)width[c], buf, c + 1 < ncols ? "  " : "\n");
            }
        }
    }
}

/* One object as "field: value" lines. */
static void fields(yajl_val obj)
{
    char buf[1024];
    for (size_t i = 0; obj && YAJL_IS_OBJECT(obj) && i < obj->u.object.len; i++) {
        cell(obj->u.object.values[i], buf, sizeof(buf));
        printf("%-22s %s\n", obj->u.object.keys[i], buf);
    }
}

enum shape { SHAPE_OBJECT, SHAPE_LIST };

/* Send, check, and print the reply as `shape` (with these columns for a
 * list, under "data"). The exit code. */
static int show(enum evhttp_cmd_type m, const char *path, const char *body, enum shape shape,
                const char *const *cols, const char *what)
{
    struct reply r = request(m, path, body);
    int rc = check(&r, what);
    if (rc == EX_DONE && r.status != 204) {
        yajl_val v = r.body ? yajl_tree_parse(r.body, NULL, 0) : NULL;
        if (!v) {
            fprintf(stderr, "hookdctl: %s: the reply is not JSON\n", what);
            rc = EX_SERVER;
        } else if (O.json) {
            printf("%s\n", r.body);
        } else if (shape == SHAPE_LIST) {
            const char *data[] = {"data", NULL};
            table(yajl_tree_get(v, data, yajl_t_array), cols);
            const char *cur[] = {"next_cursor", NULL};
            yajl_val next = yajl_tree_get(v, cur, yajl_t_string);
            if (next)
                printf("(more: --cursor %s)\n", YAJL_GET_STRING(next));
        } else {
            fields(v);
        }
        if (v)
            yajl_tree_free(v);
    } else if (rc == EX_DONE) {
        printf("done\n");
    }
    free(r.body);
    return rc;
}

/* ---- arguments ---- */

/* --name value or --name=value in argv[*i...]; NULL when absent. */
static const char *opt(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], name, n) != 0)
            continue;
        if (argv[i][n] == '=')
            return argv[i] + n + 1;
        if (argv[i][n] == '\0') {
            if (i + 1 >= argc)
                die_usage("%s needs a value", name);
            return argv[i + 1];
        }
    }
    return NULL;
}

static int flag(int argc, char **argv, const char *name)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

/* The first positional argument after the command words (not an option
 * or an option's value). */
static const char *positional(int argc, char **argv, const char *const *valued)
{
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] != '-')
            return argv[i];
        int takes = 0;
        for (size_t k = 0; valued && valued[k]; k++)
            takes |= strcmp(argv[i], valued[k]) == 0;
        i += takes;
    }
    return NULL;
}

/* A path segment from the user: only what an id can hold. */
static const char *id_arg(const char *s, const char *what)
{
    if (!s)
        die_usage("%s is required", what);
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-' ||
              *p == '_'))
            die_usage("%s '%s' is not an id", what, s);
    return s;
}

/* Query string from (name, value) pairs, values percent-encoded. */
static void query(char *out, size_t cap, const char *const *kv)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; kv[i]; i += 2) {
        if (!kv[i + 1])
            continue;
        char *enc = evhttp_encode_uri(kv[i + 1]);
        if (!enc)
            continue;
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%c%s=%s", n ? '&' : '?', kv[i], enc);
        free(enc);
    }
}

/* A JSON object from (name, kind, value) triples; kind 's' string, 'r' raw
 * JSON (number, bool, array). Owned by the caller. */
static char *object(const char *const *kv)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *buf;
    size_t len;
    char *out = NULL;
    if (!g)
        return NULL;
    yajl_gen_map_open(g);
    for (size_t i = 0; kv[i]; i += 3) {
        if (!kv[i + 2])
            continue;
        yajl_gen_string(g, (const unsigned char *)kv[i], strlen(kv[i]));
        if (kv[i + 1][0] == 's')
            yajl_gen_string(g, (const unsigned char *)kv[i + 2], strlen(kv[i + 2]));
        else
            yajl_gen_number(g, kv[i + 2], strlen(kv[i + 2]));
    }
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok && (out = malloc(len + 1))) {
        memcpy(out, buf, len);
        out[len] = '\0';
    }
    yajl_gen_free(g);
    return out;
}

/* Unix seconds from seconds or RFC 3339 UTC ("2026-01-02T03:04:05Z"). */
static long long when(const char *s, const char *what)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end)
        return v;
    struct tm tm = {0};
    end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && strcmp(end, "Z") != 0))
        die_usage("%s '%s' must be Unix seconds or 2026-01-02T03:04:05Z", what, s);
    return (long long)timegm(&tm);
}

/* ---- commands ---- */

static const char *const ORG_COLS[] = {"id", "name", "created_at", NULL};
static const char *const TOKEN_COLS[] = {"id", "org_id", "user_id", "name", "admin", "scopes", "created_at", NULL};
static const char *const EP_COLS[] = {"id", "url", "status", "event_types", "max_in_flight", "created_at", NULL};
static const char *const DL_COLS[] = {"id", "endpoint_id", "event_type", "state", "attempt_count", "created_at", NULL};
static const char *const ATT_COLS[] = {"number", "started_at", "duration_ms", "status_code", "error", NULL};

static int cmd_health(int argc, char **argv)
{
    struct reply r = request(EVHTTP_REQ_GET, "/readyz", NULL);
    int rc = check(&r, "health");
    if (rc == EX_DONE)
        printf(O.json ? "%s\n" : "ready: %s\n", r.body ? r.body : "");
    free(r.body);
    return rc;
}

/* `X ls [--limit N] [--cursor C]`: one page of a collection as a table. */
static int list_cmd(int argc, char **argv, const char *base, const char *const *cols, const char *what)
{
    char q[512], path[600];
    const char *kv[] = {"limit", opt(argc, argv, "--limit"), "cursor", opt(argc, argv, "--cursor"), NULL};
    query(q, sizeof(q), kv);
    snprintf(path, sizeof(path), "%s%s", base, q);
    return show(EVHTTP_REQ_GET, path, NULL, SHAPE_LIST, cols, what);
}

static int cmd_orgs(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "ls") == 0)
        return list_cmd(argc, argv, "/v1/orgs", ORG_COLS, "orgs ls");
    if (argc >= 2 && strcmp(argv[0], "create") == 0) {
        const char *kv[] = {"name", "s", argv[1], NULL};
        char *body = object(kv);
        int rc = show(EVHTTP_REQ_POST, "/v1/orgs", body, SHAPE_OBJECT, NULL, "orgs create");
        free(body);
        return rc;
    }
    die_usage("orgs ls | orgs create NAME");
}

static int cmd_tokens(int argc, char **argv)
{
    static const char *const valued[] = {"--org", "--user", "--scopes", "--name", "--limit", "--cursor", NULL};
    if (argc >= 1 && strcmp(argv[0], "ls") == 0)
        return list_cmd(argc, argv, "/v1/tokens", TOKEN_COLS, "tokens ls");
    if (argc >= 1 && strcmp(argv[0], "create") == 0) {
        const char *org = opt(argc, argv, "--org"), *scopes = opt(argc, argv, "--scopes");
        if (!org || !scopes)
            die_usage("tokens create --org ORG --scopes a,b [--user N] [--name NAME] [--admin]");
        char list[512] = "[";
        for (const char *p = scopes; *p;) { /* a,b -> ["a","b"] */
            size_t n = strcspn(p, ",");
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%.*s\"", list[1] ? "," : "", (int)n, p);
            p += n + (p[n] == ',');
        }
        strncat(list, "]", sizeof(list) - strlen(list) - 1);
        const char *user = opt(argc, argv, "--user");
        const char *kv[] = {"org_id", "s", id_arg(org, "--org"), "user_id", "r", user ? user : "0", "scopes", "r", list,
                            "admin", "r", flag(argc, argv, "--admin") ? "true" : "false", "name", "s",
                            opt(argc, argv, "--name") ? opt(argc, argv, "--name") : "hookdctl", NULL};
        if (user && strspn(user, "0123456789") != strlen(user))
            die_usage("--user must be a number");
        char *body = object(kv);
        int rc = show(EVHTTP_REQ_POST, "/v1/tokens", body, SHAPE_OBJECT, NULL, "tokens create");
        free(body);
        return rc;
    }
    if (argc >= 2 && strcmp(argv[0], "revoke") == 0) {
        char path[300];
        snprintf(path, sizeof(path), "/v1/tokens/%s", id_arg(positional(argc - 1, argv + 1, valued), "TOKEN_ID"));
        return show(EVHTTP_REQ_DELETE, path, NULL, SHAPE_OBJECT, NULL, "tokens revoke");
    }
    die_usage("tokens ls | tokens create --org ORG --scopes a,b [--admin] | tokens revoke ID");
}

static int cmd_endpoints(int argc, char **argv)
{
    static const char *const valued[] = {"--limit", "--cursor", NULL};
    char path[600];
    if (argc >= 1 && strcmp(argv[0], "ls") == 0)
        return list_cmd(argc, argv, "/v1/endpoints", EP_COLS, "endpoints ls");
    static const struct {
        const char *word, *suffix;
        enum evhttp_cmd_type method;
    } acts[] = {{"get", "", EVHTTP_REQ_GET},
                {"enable", "/enable", EVHTTP_REQ_POST},
                {"disable", "/disable", EVHTTP_REQ_POST},
                {"rotate-secret", "/rotate-secret", EVHTTP_REQ_POST}};
    for (size_t i = 0; argc >= 1 && i < sizeof(acts) / sizeof(acts[0]); i++)
        if (strcmp(argv[0], acts[i].word) == 0) {
            const char *id = id_arg(positional(argc - 1, argv + 1, valued), "ENDPOINT_ID");
            snprintf(path, sizeof(path), "/v1/endpoints/%s%s", id, acts[i].suffix);
            return show(acts[i].method, path, acts[i].method == EVHTTP_REQ_POST ? "{}" : NULL, SHAPE_OBJECT, NULL,
                        "endpoints");
        }
    die_usage("endpoints ls | endpoints get|enable|disable|rotate-secret ID");
}

static int cmd_events(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[0], "get") == 0) {
        char path[300];
        snprintf(path, sizeof(path), "/v1/events/%s", id_arg(argv[1], "EVENT_ID"));
        return show(EVHTTP_REQ_GET, path, NULL, SHAPE_OBJECT, NULL, "events get");
    }
    die_usage("events get ID");
}

static int cmd_deliveries(int argc, char **argv)
{
    char path[1200];
    if (argc >= 1 && strcmp(argv[0], "ls") == 0) {
        char q[1024], since[24] = "", until[24] = "";
        const char *s = opt(argc, argv, "--since"), *u = opt(argc, argv, "--until");
        if (s)
            snprintf(since, sizeof(since), "%lld", when(s, "--since"));
        if (u)
            snprintf(until, sizeof(until), "%lld", when(u, "--until"));
        const char *kv[] = {"endpoint_id", opt(argc, argv, "--endpoint"), "state", opt(argc, argv, "--state"),
                            "event_type", opt(argc, argv, "--event-type"), "sync_session_id",
                            opt(argc, argv, "--session"), "created_since", s ? since : NULL, "created_until",
                            u ? until : NULL, "limit", opt(argc, argv, "--limit"), "cursor",
                            opt(argc, argv, "--cursor"), NULL};
        query(q, sizeof(q), kv);
        snprintf(path, sizeof(path), "/v1/deliveries%s", q);
        return show(EVHTTP_REQ_GET, path, NULL, SHAPE_LIST, DL_COLS, "deliveries ls");
    }
    if (argc >= 2 && strcmp(argv[0], "get") == 0) {
        snprintf(path, sizeof(path), "/v1/deliveries/%s", id_arg(argv[1], "DELIVERY_ID"));
        return show(EVHTTP_REQ_GET, path, NULL, SHAPE_OBJECT, NULL, "deliveries get");
    }
    if (argc >= 2 && strcmp(argv[0], "attempts") == 0) {
        snprintf(path, sizeof(path), "/v1/deliveries/%s/attempts", id_arg(argv[1], "DELIVERY_ID"));
        return show(EVHTTP_REQ_GET, path, NULL, SHAPE_LIST, ATT_COLS, "deliveries attempts");
    }
    die_usage("deliveries ls [--endpoint E] [--state S] [--event-type T] [--since T] [--until T] | "
              "deliveries get|attempts ID");
}

static int cmd_redeliver(int argc, char **argv)
{
    char path[300];
    snprintf(path, sizeof(path), "/v1/webhooks/deliveries/%s/replay",
             id_arg(argc >= 1 ? argv[0] : NULL, "DELIVERY_ID"));
    return show(EVHTTP_REQ_POST, path, NULL, SHAPE_OBJECT, NULL, "redeliver");
}

static int cmd_requeue(int argc, char **argv)
{
    static const char *const valued[] = {"--delivery", NULL};
    const char *ep = id_arg(positional(argc, argv, valued), "ENDPOINT_ID"), *dl = opt(argc, argv, "--delivery");
    if (!dl && !flag(argc, argv, "--failed"))
        die_usage("requeue ENDPOINT_ID --failed (every errored delivery) | --delivery ID");
    char path[300];
    snprintf(path, sizeof(path), "/api/partner/v1/webhook-endpoints/%s/redeliver", ep);
    const char *kv[] = {"deliveryId", "s", dl ? id_arg(dl, "--delivery") : NULL, NULL};
    char *body = object(kv);
    int rc = show(EVHTTP_REQ_POST, path, body, SHAPE_OBJECT, NULL, "requeue");
    free(body);
    return rc;
}

/* The job's counts until it is no longer running; a progress line on a
 * terminal. */
static int follow_job(const char *id)
{
    char path[300];
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    int tty = isatty(STDOUT_FILENO) && !O.json;
    for (;;) {
        struct reply r = request(EVHTTP_REQ_GET, path, NULL);
        int rc = check(&r, "jobs get");
        yajl_val v = rc == EX_DONE && r.body ? yajl_tree_parse(r.body, NULL, 0) : NULL;
        if (rc == EX_DONE && !v) {
            fprintf(stderr, "hookdctl: jobs get: the reply is not JSON\n");
            rc = EX_SERVER;
        }
        if (rc != EX_DONE) {
            free(r.body);
            return rc;
        }
        const char *st[] = {"state", NULL}, *mt[] = {"matched", NULL}, *dn[] = {"done", NULL};
        char state[32], matched[32], done[32];
        cell(yajl_tree_get(v, st, yajl_t_any), state, sizeof(state));
        cell(yajl_tree_get(v, mt, yajl_t_any), matched, sizeof(matched));
        cell(yajl_tree_get(v, dn, yajl_t_any), done, sizeof(done));
        int running = strcmp(state, "running") == 0;
        if (tty)
            printf("\rjob %s: %s, %s of %s matched replayed   ", id, state, done, matched);
        if (!running) {
            if (tty)
                printf("\n");
            if (O.json)
                printf("%s\n", r.body);
            else if (!tty)
                fields(v);
        }
        fflush(stdout);
        yajl_tree_free(v);
        free(r.body);
        if (!running)
            return EX_DONE;
        sleep(1);
    }
}

static int cmd_resend(int argc, char **argv)
{
    const char *s = opt(argc, argv, "--since"), *u = opt(argc, argv, "--until");
    if (!s || !u)
        die_usage("resend --since T --until T [--endpoint E] [--dry-run]");
    const char *ep = opt(argc, argv, "--endpoint");
    char since[24], until[24];
    snprintf(since, sizeof(since), "%lld", when(s, "--since"));
    snprintf(until, sizeof(until), "%lld", when(u, "--until"));
    const char *kv[] = {"search_type", "s", "time_range", "request_timestamp", "r", since, "end_request_timestamp", "r",
                        until, "dry_run", "r", flag(argc, argv, "--dry-run") ? "true" : "false", "endpoint_id", "s",
                        ep ? id_arg(ep, "--endpoint") : NULL, NULL};
    char *body = object(kv);
    struct reply r = request(EVHTTP_REQ_POST, "/api/webhooks/resend", body);
    free(body);
    int rc = check(&r, "resend");
    yajl_val v = rc == EX_DONE && r.body ? yajl_tree_parse(r.body, NULL, 0) : NULL;
    const char *jp[] = {"job_id", NULL};
    yajl_val job = v ? yajl_tree_get(v, jp, yajl_t_string) : NULL;
    if (rc == EX_DONE && !job) {
        fprintf(stderr, "hookdctl: resend: the reply names no job\n");
        rc = EX_SERVER;
    }
    char id[64] = "";
    if (job)
        snprintf(id, sizeof(id), "%s", YAJL_GET_STRING(job));
    if (v)
        yajl_tree_free(v);
    free(r.body);
    return rc == EX_DONE ? follow_job(id_arg(id, "job id")) : rc;
}

static int cmd_jobs(int argc, char **argv)
{
    char path[300];
    if (argc >= 2 && strcmp(argv[0], "get") == 0) {
        snprintf(path, sizeof(path), "/v1/jobs/%s", id_arg(argv[1], "JOB_ID"));
        return show(EVHTTP_REQ_GET, path, NULL, SHAPE_OBJECT, NULL, "jobs get");
    }
    if (argc >= 2 && strcmp(argv[0], "cancel") == 0) {
        snprintf(path, sizeof(path), "/v1/jobs/%s/cancel", id_arg(argv[1], "JOB_ID"));
        return show(EVHTTP_REQ_POST, path, "{}", SHAPE_OBJECT, NULL, "jobs cancel");
    }
    die_usage("jobs get|cancel ID");
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"health", cmd_health},         {"orgs", cmd_orgs},         {"tokens", cmd_tokens}, {"endpoints", cmd_endpoints},
    {"events", cmd_events},         {"deliveries", cmd_deliveries}, {"redeliver", cmd_redeliver},
    {"requeue", cmd_requeue},       {"resend", cmd_resend},     {"jobs", cmd_jobs},
};

static void usage(FILE *out)
{
    fputs("usage: hookdctl [--url URL] [--token TOKEN] [--json] [--timeout S] COMMAND ...\n"
          "\n"
          "URL and TOKEN default to $HOOKD_URL (else http://127.0.0.1:8080) and $HOOKD_TOKEN.\n"
          "\n"
          "  health\n"
          "  orgs ls | orgs create NAME\n"
          "  tokens ls | tokens create --org ORG --scopes a,b [--user N] [--name NAME] [--admin]\n"
          "  tokens revoke ID\n"
          "  endpoints ls | endpoints get|enable|disable|rotate-secret ID\n"
          "  events get ID\n"
          "  deliveries ls [--endpoint E] [--state S] [--event-type T] [--session S] [--since T] [--until T]\n"
          "  deliveries get ID | deliveries attempts ID\n"
          "  redeliver DELIVERY_ID                  send one delivery again (a new delivery)\n"
          "  requeue ENDPOINT_ID --failed | --delivery ID\n"
          "  resend --since T --until T [--endpoint E] [--dry-run]\n"
          "                                         replay a time range, following its job\n"
          "  jobs get|cancel ID\n"
          "\n"
          "Lists take --limit N and --cursor C. Times are Unix seconds or 2026-01-02T03:04:05Z.\n"
          "Exit codes: 0 done, 1 refused (400/409/422), 2 usage, 3 not found, 4 authentication\n"
          "or permission, 5 the server (5xx, no answer, a timeout, a reply that is not JSON).\n",
          out);
}

int main(int argc, char **argv)
{
    int i = 1;
    O.url = getenv("HOOKD_URL") ? getenv("HOOKD_URL") : "http://127.0.0.1:8080";
    O.token = getenv("HOOKD_TOKEN");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EX_DONE;
        } else if (strcmp(argv[i], "--json") == 0) {
            O.json = 1;
        } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
            O.url = argv[++i];
        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            O.token = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            O.timeout_s = atoi(argv[++i]);
            if (O.timeout_s < 1 || O.timeout_s > 3600)
                die_usage("--timeout must be 1 to 3600 seconds");
        } else {
            die_usage("unknown option '%s'", argv[i]);
        }
    }
    if (i >= argc)
        die_usage("no command");
    O.uri = evhttp_uri_parse(O.url);
    const char *scheme = O.uri ? evhttp_uri_get_scheme(O.uri) : NULL;
    if (!O.uri || !scheme || strcmp(scheme, "http") != 0 || !evhttp_uri_get_host(O.uri))
        die_usage("--url '%s' must be http://host[:port] (put a TLS proxy's plain side or hookd itself)", O.url);
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (strcmp(argv[i], commands[c].name) == 0) {
            if (!O.token && strcmp(argv[i], "health") != 0)
                die_usage("no token: set HOOKD_TOKEN or pass --token");
            int rc = commands[c].fn(argc - i - 1, argv + i + 1);
            evhttp_uri_free(O.uri);
            return rc;
        }
    die_usage("unknown command '%s'", argv[i]);
}
