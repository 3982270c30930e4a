/*
 * scripts: the Lua scripts of store/lua/, compiled in (cmake/embed_lua.cmake)
 * and named here. Each script touches the keys of one partition only; its
 * first key is the partition prefix (store/keys.h).
 */
#ifndef HOOKD_SCRIPTS_H
#define HOOKD_SCRIPTS_H

enum script_id {
    SCRIPT_INGEST,
    SCRIPT_CLAIM,
    SCRIPT_COMPLETE,
    SCRIPT_ENDPOINT_CREATE,
    SCRIPT_ENDPOINT_UPDATE,
    SCRIPT_ENDPOINT_DELETE,
    SCRIPT_ENDPOINT_STATUS,
    SCRIPT_ENDPOINT_ROTATE,
    SCRIPT_ENDPOINT_LIST,
    SCRIPT_RECORD_GET,
    SCRIPT_DELIVERY_LIST,
    SCRIPT_ORG_CREATE,
    SCRIPT_TOKEN_CREATE,
    SCRIPT_OAUTH,
    SCRIPT_REDELIVER,
    SCRIPT_REQUEUE,
    SCRIPT_RATELIMIT,
    SCRIPT_STATS,
    SCRIPT_PRUNE,
    SCRIPT_ADMIN,
    SCRIPT_AUTH,
    SCRIPT_SEAL,
    SCRIPT_SUBS_LOAD,
    SCRIPT_ORG_UPDATE,
    SCRIPT_ORG_LIMIT,
    SCRIPT_PORTAL,
    SCRIPT_ENDPOINT_STATS,
    SCRIPT_COUNT
};

/* A script is sent as EVALSHA sha, or, where it has a function library and
 * the Redis has it loaded (store/redis.c), as FCALL fn: the same code
 * without its prelude run again at every call (cmake/embed_lua.cmake). */
struct script {
    const char *name;
    const char *body;
    const char *library;     /* "#!lua name=<fn>..." or NULL: EVALSHA only */
    char sha[41];
    char fn[64];             /* the library's (and its one function's) name */
};

/* Computes each script's SHA1 and function name once; 0 or -1. */
int scripts_init(void);
const struct script *script_get(enum script_id id);

#endif
