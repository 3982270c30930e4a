/*
 * conf: hookd's one configuration struct and the table that describes it.
 *
 * Every key has a row in conf_table (conf.c): its name, type, bounds, default
 * and help text. Values are layered: built-in defaults < config file
 * (`key = value` lines) < HOOKD_<KEY> environment < --key=value flags.
 * A bad value stops start-up with a message that names the key.
 */
#ifndef HOOKD_CONF_H
#define HOOKD_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CONF_MAX_ALLOW 32
#define CONF_MAX_SENTINELS 8
#define CONF_MAX_KEYS 64
#define CONF_MAX_SCHEDULE 32

struct conf_cidr {
    uint8_t addr[16]; /* IPv4 stored as IPv4-mapped IPv6 */
    int prefix;       /* 0..128, in IPv6 terms */
};

struct conf {
    char *listen;            /* host:port of the API listener */
    char *redis_url;         /* redis://host:port/db or redis+sentinel://h:p,h:p/master */
    char *secret_key;        /* base64 of 32 bytes; "" only with allow_plaintext_secrets */
    char *secret_key_previous;
    char *allow_plaintext_secrets; /* "yes" or "no" */
    char *admin_token;       /* root token; empty disables root */
    char *allow_networks;    /* CIDR list opened to deliveries */
    char *retry_schedule;    /* delays after each failure, e.g. 0,5s,5m */
    char *log_level;         /* debug|info|warn|error */
    char *delivery_id_header;
    char *ca_file;           /* extra CA bundle trusted for https deliveries */
    char *public_url;        /* what browsers reach hookd at, "" for none (portal links) */
    char *console_frame_ancestors; /* CSP frame-ancestors sources of the console */
    char *egress_proxy;      /* http://[user:password@]host:port, "" for none; never logged */
    char *durability;        /* master|replicated */
    int64_t partitions;
    int64_t max_body_bytes;
    int64_t max_body_memory;
    int64_t max_connections;
    int64_t request_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t response_max_bytes;
    int64_t lease_margin_ms;
    int64_t inflight_max;
    int64_t claim_batch;
    int64_t default_max_in_flight;
    int64_t disable_after_failures;
    int64_t disable_after_ms;
    int64_t retry_after_max_ms;
    int64_t throttle_max_ms;
    int64_t circuit_failures;
    int64_t circuit_cooldown_ms, circuit_cooldown_max_ms;
    int64_t retry_jitter_pct;
    int64_t shutdown_grace_ms;
    int64_t token_cache_ms;
    int64_t access_token_ttl_ms;
    int64_t secret_overlap_ms;
    int64_t redis_timeout_ms;
    int64_t replica_timeout_ms;
    int64_t http_idle_timeout_ms;
    int64_t retrigger_per_minute;
    int64_t job_batch;
    int64_t retention_ms;
    int64_t job_lease_ms;

    /* Where each key's value came from ("file:line", "HOOKD_X", "--x"; empty:
     * the default), by conf_table row, so every error can name its source. */
    char origin[CONF_MAX_KEYS][128];

    /* Derived by conf_finish(); not keys of their own. */
    int allow_count;
    struct conf_cidr allow[CONF_MAX_ALLOW];
    int schedule_len;
    int64_t schedule_ms[CONF_MAX_SCHEDULE];
    int replicated;          /* durability = replicated */
    char *redis_host;        /* "" with Sentinel: asked of the sentinels */
    int redis_port;          /* 0 with Sentinel */
    int redis_db;
    char *proxy_host;        /* egress_proxy's host (NULL without one) and port */
    int proxy_port;
    char proxy_authorization[700]; /* "Basic <base64 user:password>", or "" */
    int sentinels;           /* redis+sentinel://: how many, and where */
    char *sentinel_host[CONF_MAX_SENTINELS];
    int sentinel_port[CONF_MAX_SENTINELS];
    char *sentinel_master;   /* the master's name the sentinels know */
    char *listen_host;
    int listen_port;
};

/* CONF_ENUM: a string that must be one of the row's choices, checked when set. */
enum conf_type { CONF_STR, CONF_INT, CONF_DURATION, CONF_ENUM };

struct conf_row {
    const char *name;
    enum conf_type type;
    size_t offset;
    const char *def;
    int64_t min, max;
    const char *help;
    const char *choices; /* CONF_ENUM: "a,b,c"; else NULL */
};

extern const struct conf_row conf_table[];
extern const size_t conf_table_len;

/* Fill defaults. Returns 0, or -1 with err set. */
int conf_init(struct conf *c, char *err, size_t errlen);
/* Set one key from text; `origin` names where it came from for errors. A
 * duration needs a unit (ms, s, m, h, d) unless it is 0. */
int conf_set(struct conf *c, const char *key, const char *val, const char *origin,
             char *err, size_t errlen);
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);
int conf_load_env(struct conf *c, char *const *envp, char *err, size_t errlen);
/* Parse derived fields (schedule, CIDRs, URLs) and cross-check keys. */
int conf_finish(struct conf *c, char *err, size_t errlen);
void conf_free(struct conf *c);

/* Helpers also used by the unit tests. */
int conf_parse_duration(const char *s, int64_t *out_ms);
int conf_parse_cidr(const char *s, struct conf_cidr *out);
/* Does the 16-byte (IPv4-mapped for IPv4) address fall in the range? */
int conf_cidr_contains(const struct conf_cidr *r, const uint8_t a[16]);
/* Does the 16-byte (mapped) address fall in one of the allow-listed ranges? */
int conf_allowed(const struct conf *c, const uint8_t addr[16]);

#endif
