#include "store/scripts.h"

#include <openssl/evp.h>
#include <string.h>

extern const char lua_ingest[], lua_claim[], lua_complete[], lua_endpoint_create[],
    lua_endpoint_update[], lua_endpoint_delete[], lua_endpoint_status[], lua_endpoint_rotate[],
    lua_endpoint_list[], lua_record_get[], lua_delivery_list[], lua_org_create[], lua_token_create[], lua_oauth[],
    lua_redeliver[], lua_requeue[], lua_ratelimit[], lua_stats[], lua_prune[], lua_admin[], lua_auth[],
    lua_seal[], lua_subs_load[], lua_org_update[], lua_org_limit[], lua_portal[], lua_endpoint_stats[];
/* the hot path's function libraries (FUNCTION_SCRIPTS of embed_lua.cmake);
 * the other scripts run rarely, and a function without flags is refused up
 * front when Redis is out of memory, where a script that only deletes (prune,
 * a removal) runs: they stay scripts */
extern const char lua_fn_ingest[], lua_fn_claim[], lua_fn_complete[];

static struct script scripts[SCRIPT_COUNT] = {
    [SCRIPT_INGEST] = {"ingest", lua_ingest, lua_fn_ingest},
    [SCRIPT_CLAIM] = {"claim", lua_claim, lua_fn_claim},
    [SCRIPT_COMPLETE] = {"complete", lua_complete, lua_fn_complete},
    [SCRIPT_ENDPOINT_CREATE] = {"endpoint_create", lua_endpoint_create},
    [SCRIPT_ENDPOINT_UPDATE] = {"endpoint_update", lua_endpoint_update},
    [SCRIPT_ENDPOINT_DELETE] = {"endpoint_delete", lua_endpoint_delete},
    [SCRIPT_ENDPOINT_STATUS] = {"endpoint_status", lua_endpoint_status},
    [SCRIPT_ENDPOINT_ROTATE] = {"endpoint_rotate", lua_endpoint_rotate},
    [SCRIPT_ENDPOINT_LIST] = {"endpoint_list", lua_endpoint_list},
    [SCRIPT_RECORD_GET] = {"record_get", lua_record_get},
    [SCRIPT_DELIVERY_LIST] = {"delivery_list", lua_delivery_list},
    [SCRIPT_ORG_CREATE] = {"org_create", lua_org_create},
    [SCRIPT_TOKEN_CREATE] = {"token_create", lua_token_create},
    [SCRIPT_OAUTH] = {"oauth", lua_oauth},
    [SCRIPT_REDELIVER] = {"redeliver", lua_redeliver},
    [SCRIPT_REQUEUE] = {"requeue", lua_requeue},
    [SCRIPT_RATELIMIT] = {"ratelimit", lua_ratelimit},
    [SCRIPT_STATS] = {"stats", lua_stats},
    [SCRIPT_PRUNE] = {"prune", lua_prune},
    [SCRIPT_ADMIN] = {"admin", lua_admin},
    [SCRIPT_AUTH] = {"auth", lua_auth},
    [SCRIPT_SEAL] = {"seal", lua_seal},
    [SCRIPT_SUBS_LOAD] = {"subs_load", lua_subs_load},
    [SCRIPT_ORG_UPDATE] = {"org_update", lua_org_update},
    [SCRIPT_ORG_LIMIT] = {"org_limit", lua_org_limit},
    [SCRIPT_PORTAL] = {"portal", lua_portal},
    [SCRIPT_ENDPOINT_STATS] = {"endpoint_stats", lua_endpoint_stats},
};

/* The function name from the library's first line, "#!lua name=<fn>\n". */
static int script_fn_name(struct script *s)
{
    static const char head[] = "#!lua name=";
    if (strncmp(s->library, head, sizeof(head) - 1) != 0)
        return -1;
    const char *name = s->library + sizeof(head) - 1;
    size_t n = strcspn(name, "\n");
    if (n == 0 || n >= sizeof(s->fn))
        return -1;
    memcpy(s->fn, name, n);
    s->fn[n] = '\0';
    return 0;
}

/* The SHA1 Redis will name each script by, known before SCRIPT LOAD answers,
 * so EVALSHA can be sent from the first moment. */
int scripts_init(void)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        unsigned char md[20];
        unsigned int n = 0;
        if (EVP_Digest(scripts[i].body, strlen(scripts[i].body), md, &n, EVP_sha1(), NULL) != 1)
            return -1;
        for (int j = 0; j < 20; j++) {
            scripts[i].sha[2 * j] = hex[md[j] >> 4];
            scripts[i].sha[2 * j + 1] = hex[md[j] & 15];
        }
        scripts[i].sha[40] = '\0';
        if (scripts[i].library && script_fn_name(&scripts[i]) < 0)
            return -1;
    }
    return 0;
}

const struct script *script_get(enum script_id id)
{
    return &scripts[id];
}
