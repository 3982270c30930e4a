#include "conf/conf.h"
#include "store/crypto.h"

#include <openssl/crypto.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F(field) offsetof(struct conf, field)
#define DAY (86400LL * 1000)

/* The one table of settings: the example file, --help and the README's
 * reference are written from it. */
const struct conf_row conf_table[] = {
    {"listen", CONF_STR, F(listen), "127.0.0.1:8080", 0, 0, "address:port the API listens on", NULL},
    {"secret_key", CONF_STR, F(secret_key), "", 0, 0, "base64 of 32 random bytes (openssl rand -base64 32): endpoint secrets are stored sealed under it. Prefer the environment", NULL},
    {"secret_key_previous", CONF_STR, F(secret_key_previous), "", 0, 0, "the key before a rotation: what it sealed still opens, and is sealed again under secret_key", NULL},
    {"allow_plaintext_secrets", CONF_ENUM, F(allow_plaintext_secrets), "no", 0, 0, "yes: start without secret_key and store endpoint secrets in clear", "yes,no"},
    {"redis_url", CONF_STR, F(redis_url), "redis://127.0.0.1:6379/0", 0, 0, "Redis to keep all state in: redis://host:port/db, or redis+sentinel://host:port,host:port/master-name", NULL},
    {"admin_token", CONF_STR, F(admin_token), "", 0, 0, "root token that creates orgs and tokens (empty: no root)", NULL},
    {"allow_networks", CONF_STR, F(allow_networks), "", 0, 0, "comma-separated CIDRs that deliveries may reach although private", NULL},
    {"retry_schedule", CONF_STR, F(retry_schedule), "0,5s,5m,30m,2h,5h,10h,10h", 0, 0, "delay before each attempt; its length is the number of attempts", NULL},
    {"log_level", CONF_ENUM, F(log_level), "info", 0, 0, "debug, info, warn or error", "debug,info,warn,error"},
    {"delivery_id_header", CONF_STR, F(delivery_id_header), "webhook-delivery-id", 0, 0, "header that carries the delivery id", NULL},
    {"ca_file", CONF_STR, F(ca_file), "", 0, 0, "extra PEM CA bundle trusted for https deliveries (beside the system store)", NULL},
    {"public_url", CONF_STR, F(public_url), "", 0, 0, "the URL this hookd is reached at from browsers (https://hooks.example.com): portal links point into its console (empty: no portal links)", NULL},
    {"console_frame_ancestors", CONF_STR, F(console_frame_ancestors), "'none'", 0, 0, "CSP frame-ancestors of the console: the origins that may embed it in an iframe, space-separated ('none': none may)", NULL},
    {"egress_proxy", CONF_STR, F(egress_proxy), "", 0, 0, "http://[user:password@]host:port: every delivery goes through an HTTP CONNECT tunnel of this proxy (empty: direct)", NULL},
    {"partitions", CONF_INT, F(partitions), "16", 1, 1024, "Redis partitions (hash tags); fixed for the life of the data", NULL},
    {"max_body_bytes", CONF_INT, F(max_body_bytes), "1048576", 1024, 64 << 20, "largest request body accepted (413 above)", NULL},
    {"max_body_memory", CONF_INT, F(max_body_memory), "67108864", 1 << 20, 1LL << 40, "bytes all request bodies in flight may hold together (503 above)", NULL},
    {"max_connections", CONF_INT, F(max_connections), "10000", 16, 10000000, "API connections held at once; at the cap the longest idle one is closed for a new one", NULL},
    {"request_timeout", CONF_DURATION, F(request_timeout_ms), "15s", 100, 300000, "whole-delivery timeout", NULL},
    {"connect_timeout", CONF_DURATION, F(connect_timeout_ms), "5s", 100, 300000, "delivery connect timeout", NULL},
    {"response_max_bytes", CONF_INT, F(response_max_bytes), "65536", 256, 16 << 20, "largest receiver response body read", NULL},
    {"lease_margin", CONF_DURATION, F(lease_margin_ms), "15s", 1000, 600000, "how long a lease outlives request_timeout", NULL},
    {"inflight_max", CONF_INT, F(inflight_max), "1024", 1, 100000, "deliveries in flight per process", NULL},
    {"claim_batch", CONF_INT, F(claim_batch), "128", 1, 10000, "deliveries claimed per partition per round trip", NULL},
    {"default_max_in_flight", CONF_INT, F(default_max_in_flight), "16", 1, 10000, "max_in_flight of an endpoint that sets none", NULL},
    {"disable_after_failures", CONF_INT, F(disable_after_failures), "50", 1, 1000000, "consecutive failures before auto-disable may happen", NULL},
    {"disable_after", CONF_DURATION, F(disable_after_ms), "5d", 0, 365 * DAY, "how long an endpoint must keep failing before auto-disable", NULL},
    {"retry_after_max", CONF_DURATION, F(retry_after_max_ms), "1h", 0, 7 * DAY, "cap on a receiver's Retry-After", NULL},
    {"circuit_failures", CONF_INT, F(circuit_failures), "10", 1, 1000000, "consecutive failed attempts that open an endpoint's circuit", NULL},
    {"circuit_cooldown", CONF_DURATION, F(circuit_cooldown_ms), "30s", 100, DAY, "how long an open circuit sends nothing before a probe", NULL},
    {"circuit_cooldown_max", CONF_DURATION, F(circuit_cooldown_max_ms), "10m", 100, 7 * DAY, "the cooldown doubles on each failed probe up to this", NULL},
    {"throttle_max", CONF_DURATION, F(throttle_max_ms), "10m", 1000, DAY, "longest pause of an endpoint on a 429 or 503 with Retry-After", NULL},
    {"retry_jitter_pct", CONF_INT, F(retry_jitter_pct), "10", 0, 50, "random +- percent applied to each retry delay", NULL},
    {"shutdown_grace", CONF_DURATION, F(shutdown_grace_ms), "10s", 0, 600000, "how long in-flight deliveries may finish on SIGTERM", NULL},
    {"token_cache", CONF_DURATION, F(token_cache_ms), "5s", 0, 600000, "how long a token lookup is cached (a revoked token dies within it)", NULL},
    {"access_token_ttl", CONF_DURATION, F(access_token_ttl_ms), "2h", 1000, 30 * DAY, "lifetime of OAuth2 access tokens", NULL},
    {"secret_overlap", CONF_DURATION, F(secret_overlap_ms), "24h", 0, 30 * DAY, "how long the previous secret still signs after a rotation", NULL},
    {"durability", CONF_ENUM, F(durability), "master", 0, 0, "master: a write is acknowledged once the Redis master has it; replicated: once a replica has it too (WAIT)", "master,replicated"},
    {"replica_timeout", CONF_DURATION, F(replica_timeout_ms), "1s", 10, 60000, "durability = replicated: how long to wait for a replica before answering 503", NULL},
    {"redis_timeout", CONF_DURATION, F(redis_timeout_ms), "5s", 100, 600000, "a Redis reply later than this drops the connection", NULL},
    {"http_idle_timeout", CONF_DURATION, F(http_idle_timeout_ms), "60s", 1000, 3600000, "idle API connections are closed after this", NULL},
    {"retrigger_per_minute", CONF_INT, F(retrigger_per_minute), "10", 1, 100000, "contract 003 retrigger calls per webhook per minute", NULL},
    {"retention", CONF_DURATION, F(retention_ms), "72h", 1000, 3650 * DAY, "how long finished deliveries, their events and attempts are kept", NULL},
    {"job_lease", CONF_DURATION, F(job_lease_ms), "10s", 1000, 600000, "how long a background job stays with a process that stops stepping it before another takes it over", NULL},
    {"job_batch", CONF_INT, F(job_batch), "50", 1, 100000, "deliveries a background redelivery job handles per step", NULL},
};
const size_t conf_table_len = sizeof(conf_table) / sizeof(conf_table[0]);

static const struct conf_row *conf_find(const char *key)
{
    for (size_t i = 0; i < conf_table_len; i++)
        if (strcmp(conf_table[i].name, key) == 0)
            return &conf_table[i];
    return NULL;
}

/* "250ms", "15s", "5m", "2h", "5d", or a bare number of milliseconds. */
int conf_parse_duration(const char *s, int64_t *out_ms)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0)
        return -1;
    int64_t mul;
    if (strcmp(end, "") == 0 && v != 0) return -1; /* 30: seconds? milliseconds? say which */
    if (strcmp(end, "") == 0 || strcmp(end, "ms") == 0) mul = 1;
    else if (strcmp(end, "s") == 0) mul = 1000;
    else if (strcmp(end, "m") == 0) mul = 60000;
    else if (strcmp(end, "h") == 0) mul = 3600000;
    else if (strcmp(end, "d") == 0) mul = 86400000;
    else return -1;
    if (v > INT64_MAX / mul)
        return -1;
    *out_ms = v * mul;
    return 0;
}

/* 1 when val is one of the comma-separated choices. */
static int conf_choice(const char *choices, const char *val)
{
    size_t n = strlen(val);
    for (const char *c = choices; c && *c;) {
        const char *e = strchr(c, ',');
        size_t l = e ? (size_t)(e - c) : strlen(c);
        if (l == n && strncmp(c, val, n) == 0)
            return 1;
        c += l + (e ? 1 : 0);
    }
    return 0;
}

int conf_set(struct conf *c, const char *key, const char *val, const char *origin,
             char *err, size_t errlen)
{
    const struct conf_row *r = conf_find(key);
    if (!r) {
        snprintf(err, errlen, "%s: unknown key '%s'", origin, key);
        return -1;
    }
    void *field = (char *)c + r->offset;
    snprintf(c->origin[r - conf_table], sizeof(c->origin[0]), "%s", origin);
    if (r->type == CONF_ENUM && !conf_choice(r->choices, val)) {
        snprintf(err, errlen, "%s: %s: '%s' is not one of %s", origin, key, val, r->choices);
        return -1;
    }
    if (r->type == CONF_STR || r->type == CONF_ENUM) {
        char *copy = strdup(val);
        if (!copy) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    int64_t v;
    if (r->type == CONF_DURATION) {
        if (conf_parse_duration(val, &v) < 0) {
            snprintf(err, errlen, "%s: %s: '%s' is not a duration: a number with a unit, ms, s, m, h or d "
                     "(like 500ms, 15s, 5m, 2h, 1d)", origin, key, val);
            return -1;
        }
    } else {
        char *end;
        errno = 0;
        long long n = strtoll(val, &end, 10);
        if (errno || end == val || *end) {
            snprintf(err, errlen, "%s: %s: '%s' is not an integer", origin, key, val);
            return -1;
        }
        v = n;
    }
    if (v < r->min || v > r->max) {
        snprintf(err, errlen, "%s: %s: %s is out of range [%lld, %lld]", origin, key, val,
                 (long long)r->min, (long long)r->max);
        return -1;
    }
    *(int64_t *)field = v;
    return 0;
}

int conf_init(struct conf *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < conf_table_len; i++)
        if (conf_set(c, conf_table[i].name, conf_table[i].def, "default", err, errlen) < 0)
            return -1;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], origin[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        /* '#' at the start of a line, or after blank space, starts a comment */
        for (char *h = strchr(line, '#'); h; h = strchr(h + 1, '#'))
            if (h == line || h[-1] == ' ' || h[-1] == '\t') {
                *h = '\0';
                break;
            }
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        snprintf(origin, sizeof(origin), "%s:%d", path, lineno);
        if (!eq) {
            snprintf(err, errlen, "%s: expected 'key = value'", origin);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (conf_set(c, trim(s), trim(eq + 1), origin, err, errlen) < 0) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* HOOKD_<KEY> for every key in the table; other HOOKD_ names are ignored
 * so that scripts may keep their own variables beside ours. */
int conf_load_env(struct conf *c, char *const *envp, char *err, size_t errlen)
{
    for (size_t i = 0; i < conf_table_len; i++) {
        char name[128];
        int n = snprintf(name, sizeof(name), "HOOKD_%s", conf_table[i].name);
        for (int j = 6; j < n; j++)
            name[j] = (char)toupper((unsigned char)name[j]);
        for (char *const *e = envp; *e; e++) {
            if (strncmp(*e, name, (size_t)n) == 0 && (*e)[n] == '=') {
                if (conf_set(c, conf_table[i].name, *e + n + 1, name, err, errlen) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

int conf_parse_cidr(const char *s, struct conf_cidr *out)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int maxp;
    memset(out->addr, 0, 16);
    if (inet_pton(AF_INET, buf, out->addr + 12) == 1) {
        out->addr[10] = out->addr[11] = 0xff;
        maxp = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        maxp = 128;
    } else {
        return -1;
    }
    int p = maxp;
    if (slash) {
        char *end;
        errno = 0;
        long v = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || v < 0 || v > maxp)
            return -1;
        p = (int)v;
    }
    out->prefix = maxp == 32 ? p + 96 : p;
    return 0;
}

int conf_cidr_contains(const struct conf_cidr *r, const uint8_t a[16])
{
    int bits = r->prefix;
    for (int i = 0; i < 16 && bits > 0; i++, bits -= 8) {
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));
        if ((a[i] & mask) != (r->addr[i] & mask))
            return 0;
    }
    return 1;
}

int conf_allowed(const struct conf *c, const uint8_t addr[16])
{
    for (int i = 0; i < c->allow_count; i++)
        if (conf_cidr_contains(&c->allow[i], addr))
            return 1;
    return 0;
}

static int parse_allow(struct conf *c, char *err, size_t errlen)
{
    char *copy = strdup(c->allow_networks), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    c->allow_count = 0;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        if (c->allow_count == CONF_MAX_ALLOW) {
            snprintf(err, errlen, "allow_networks: more than %d ranges", CONF_MAX_ALLOW);
            rc = -1;
            break;
        }
        if (conf_parse_cidr(t, &c->allow[c->allow_count]) < 0) {
            snprintf(err, errlen, "allow_networks: '%s' is not a CIDR range", t);
            rc = -1;
            break;
        }
        c->allow_count++;
    }
    free(copy);
    return rc;
}

static int parse_schedule(struct conf *c, char *err, size_t errlen)
{
    char *copy = strdup(c->retry_schedule), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    c->schedule_len = 0;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int64_t ms;
        if (c->schedule_len == CONF_MAX_SCHEDULE || conf_parse_duration(t, &ms) < 0) {
            snprintf(err, errlen, "retry_schedule: '%s' is not a duration (or over %d entries)",
                     t, CONF_MAX_SCHEDULE);
            rc = -1;
            break;
        }
        c->schedule_ms[c->schedule_len++] = ms;
    }
    if (rc == 0 && c->schedule_len == 0) {
        snprintf(err, errlen, "retry_schedule: needs at least one entry");
        rc = -1;
    }
    free(copy);
    return rc;
}

/* host:port with an optional [v6] host. Writes a malloc'd host. */
static int parse_hostport(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    const char *h = s, *he = colon;
    if (*h == '[' && he[-1] == ']') {
        h++;
        he--;
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || p < 0 || p > 65535 || he <= h)
        return -1;
    free(*host);
    *host = strndup(h, (size_t)(he - h));
    *port = (int)p;
    return *host ? 0 : -1;
}

/* redis+sentinel://host[:port],host[:port]/master-name (port 26379 when
 * left out): hookd asks the sentinels which server is the master. */
static int parse_sentinel_url(struct conf *c)
{
    const char *s = c->redis_url + strlen("redis+sentinel://");
    const char *slash = strchr(s, '/');
    if (!slash || !slash[1] || strchr(slash + 1, '/') || strchr(s, '@') || slash == s)
        return -1;
    for (const char *p = s; p < slash;) {
        size_t n = strcspn(p, ",/");
        char hp[256];
        if (n == 0 || n >= sizeof(hp) - 8 || c->sentinels == CONF_MAX_SENTINELS)
            return -1;
        memcpy(hp, p, n);
        hp[n] = '\0';
        if (!strchr(hp, ':') || (hp[0] == '[' && hp[n - 1] == ']'))
            strcat(hp, ":26379");
        int k = c->sentinels;
        if (parse_hostport(hp, &c->sentinel_host[k], &c->sentinel_port[k]) < 0 || c->sentinel_port[k] == 0)
            return -1;
        c->sentinels++;
        p += n + (p[n] == ',');
    }
    for (const char *m = slash + 1; *m; m++)
        if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') || (*m >= '0' && *m <= '9') || strchr("-_.", *m)))
            return -1;
    free(c->sentinel_master);
    c->sentinel_master = strdup(slash + 1);
    free(c->redis_host);
    c->redis_host = strdup("");
    c->redis_port = 0;
    c->redis_db = 0;
    return c->sentinel_master && c->redis_host ? 0 : -1;
}

static int parse_redis_url(struct conf *c)
{
    const char *s = c->redis_url;
    for (int k = 0; k < c->sentinels; k++) {
        free(c->sentinel_host[k]);
        c->sentinel_host[k] = NULL;
    }
    c->sentinels = 0;
    if (strncmp(s, "redis+sentinel://", 17) == 0)
        return parse_sentinel_url(c);
    if (strncmp(s, "redis://", 8) != 0)
        return -1;
    s += 8;
    const char *at = strchr(s, '@');
    if (at) /* credentials are not supported by this build: refuse, never ignore */
        return -1;
    const char *slash = strchr(s, '/');
    char hp[256];
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(hp))
        return -1;
    memcpy(hp, s, n);
    hp[n] = '\0';
    if (!strchr(hp, ':'))
        strcat(hp, ":6379");
    if (parse_hostport(hp, &c->redis_host, &c->redis_port) < 0 || c->redis_port == 0)
        return -1;
    c->redis_db = 0;
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000)
            return -1;
        c->redis_db = (int)db;
    }
    return 0;
}

/* %XX-decoded copy of [s, s + n) into out (size cap); -1 on a bad escape. */
static int url_unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (o + 1 >= cap)
            return -1;
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
            return -1;
        char hex[3] = {s[i + 1], s[i + 2], '\0'};
        long v = strtol(hex, NULL, 16);
        if (v == 0)
            return -1;
        out[o++] = (char)v;
        i += 2;
    }
    out[o] = '\0';
    return 0;
}

/* egress_proxy = http://[user:password@]host:port[/]: the host and port,
 * and with credentials the Proxy-Authorization value ("Basic ..."). Errors
 * never repeat the value: it may hold a password. */
static int parse_egress_proxy(struct conf *c, char *err, size_t errlen)
{
    const char *s = c->egress_proxy;
    free(c->proxy_host);
    c->proxy_host = NULL;
    c->proxy_port = 0;
    c->proxy_authorization[0] = '\0';
    if (!s[0])
        return 0;
    if (strncmp(s, "http://", 7) != 0) {
        snprintf(err, errlen, "egress_proxy: must be http://[user:password@]host:port (https proxies are not supported)");
        return -1;
    }
    s += 7;
    const char *at = strrchr(s, '@'), *hp = at ? at + 1 : s;
    size_t n = strcspn(hp, "/");
    char host[300];
    if (n == 0 || n >= sizeof(host) - 8 || (hp[n] == '/' && hp[n + 1])) {
        snprintf(err, errlen, "egress_proxy: must be http://[user:password@]host:port with nothing after the port");
        return -1;
    }
    memcpy(host, hp, n);
    host[n] = '\0';
    if (parse_hostport(host, &c->proxy_host, &c->proxy_port) < 0 || c->proxy_port == 0) {
        snprintf(err, errlen, "egress_proxy: the proxy's host:port is missing or malformed");
        return -1;
    }
    if (at) {
        char cred[512];
        uint8_t raw[512];
        if (url_unescape(s, (size_t)(at - s), cred, sizeof(cred)) < 0 || !strchr(cred, ':')) {
            snprintf(err, errlen, "egress_proxy: credentials must be user:password, %%-escaped");
            return -1;
        }
        size_t cl = strlen(cred);
        memcpy(raw, cred, cl);
        memcpy(c->proxy_authorization, "Basic ", 6);
        int rc = base64_encode(raw, cl, c->proxy_authorization + 6, sizeof(c->proxy_authorization) - 6);
        OPENSSL_cleanse(cred, sizeof(cred));
        OPENSSL_cleanse(raw, sizeof(raw));
        if (rc < 0) {
            snprintf(err, errlen, "egress_proxy: credentials too long");
            return -1;
        }
    }
    return 0;
}

static int finish_checks(struct conf *c, char *err, size_t errlen);

/* Checks across keys; an error names the key and where its value came from. */
int conf_finish(struct conf *c, char *err, size_t errlen)
{
    if (finish_checks(c, err, errlen) == 0)
        return 0;
    char key[64], msg[512];
    size_t kl = strcspn(err, ":");
    if (kl < sizeof(key)) {
        memcpy(key, err, kl);
        key[kl] = '\0';
        const struct conf_row *r = conf_find(key);
        snprintf(msg, sizeof(msg), "%s", err);
        snprintf(err, errlen, "%s: %s", r && c->origin[r - conf_table][0] ? c->origin[r - conf_table] : "default",
                 msg);
    }
    return -1;
}

/* How many bytes a padded standard base64 string decodes to; -1 if it is not one. */
static int base64_bytes(const char *v)
{
    uint8_t raw[96];
    size_t n = strlen(v);
    /* EVP_DecodeBlock would skip surrounding blanks: a key must be only base64 */
    if (strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != n)
        return -1;
    return base64_decode(v, n, raw, sizeof(raw));
}

static int finish_checks(struct conf *c, char *err, size_t errlen)
{
    if (parse_hostport(c->listen, &c->listen_host, &c->listen_port) < 0) {
        snprintf(err, errlen, "listen: '%s' is not host:port", c->listen);
        return -1;
    }
    if (parse_redis_url(c) < 0) {
        snprintf(err, errlen, "redis_url: '%s' is not redis://host:port/db nor redis+sentinel://host:port,.../master-name",
                 c->redis_url);
        return -1;
    }
    if (parse_allow(c, err, errlen) < 0 || parse_schedule(c, err, errlen) < 0 ||
        parse_egress_proxy(c, err, errlen) < 0)
        return -1;
    for (int k = 0; k < 2; k++) {
        const char *v = k ? c->secret_key_previous : c->secret_key;
        if (v[0] && base64_bytes(v) != 32) {
            snprintf(err, errlen, "%s: must be base64 of 32 random bytes (openssl rand -base64 32)",
                     k ? "secret_key_previous" : "secret_key"); /* never the value itself */
            return -1;
        }
    }
    if (c->secret_key_previous[0] && !c->secret_key[0]) {
        snprintf(err, errlen, "secret_key_previous: set only with secret_key (the key it rotates to)");
        return -1;
    }
    c->replicated = strcmp(c->durability, "replicated") == 0;
    if (c->admin_token[0] && strlen(c->admin_token) < 16) {
        snprintf(err, errlen, "admin_token: must be at least 16 characters");
        return -1;
    }
    for (const char *h = c->delivery_id_header; *h; h++)
        if (!isalnum((unsigned char)*h) && *h != '-') {
            snprintf(err, errlen, "delivery_id_header: '%s' is not a header name", c->delivery_id_header);
            return -1;
        }
    if (!c->delivery_id_header[0]) {
        snprintf(err, errlen, "delivery_id_header: must not be empty");
        return -1;
    }
    if (c->public_url[0] && strncmp(c->public_url, "https://", 8) && strncmp(c->public_url, "http://", 7)) {
        snprintf(err, errlen, "public_url: '%s' is not an http(s) URL", c->public_url);
        return -1;
    }
    for (const char *s = c->public_url; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == '#' || *s == '?' || *s == '"' || *s == 0x7f) {
            snprintf(err, errlen, "public_url: must be a URL without spaces, query or fragment");
            return -1;
        }
    if (!c->console_frame_ancestors[0] || strlen(c->console_frame_ancestors) > 512) {
        snprintf(err, errlen, "console_frame_ancestors: 1 to 512 characters ('none' refuses every embedding)");
        return -1;
    }
    for (const char *s = c->console_frame_ancestors; *s; s++)
        if ((unsigned char)*s < ' ' || *s == ';' || *s == ',' || *s == 0x7f) {
            /* one directive's sources: a ';' would start another directive */
            snprintf(err, errlen, "console_frame_ancestors: a space-separated list of sources, without ';' or ','");
            return -1;
        }
    if (c->max_body_memory < c->max_body_bytes) {
        snprintf(err, errlen, "max_body_memory: %lld is below max_body_bytes (%lld), so no body would fit",
                 (long long)c->max_body_memory, (long long)c->max_body_bytes);
        return -1;
    }
    return 0;
}

void conf_free(struct conf *c)
{
    for (size_t i = 0; i < conf_table_len; i++)
        if (conf_table[i].type == CONF_STR || conf_table[i].type == CONF_ENUM)
            free(*(char **)((char *)c + conf_table[i].offset));
    free(c->redis_host);
    for (int k = 0; k < c->sentinels; k++)
        free(c->sentinel_host[k]);
    free(c->sentinel_master);
    free(c->listen_host);
    free(c->proxy_host);
    OPENSSL_cleanse(c->proxy_authorization, sizeof(c->proxy_authorization));
    memset(c, 0, sizeof(*c));
}
