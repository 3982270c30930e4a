#include "store/notice.h"

#include <stdio.h>
#include <string.h>

#include "conf/log.h"
#include "store/ids.h"
#include "store/ingest.h"
#include "store/json.h"
#include "store/keys.h"

static void on_noticed(void *arg, const struct ingest_result *res)
{
    (void)arg;
    if (!res->answered)
        LOG_WARNING("an operational event could not be stored", "error",
                    res->error ? res->error->str : "redis unavailable", NULL);
}

/* The payload, in Standard Webhooks' envelope (a receiver gets the payload
 * alone, so it names its type): {"type", "timestamp", "data": {...}}, the
 * caller having written the data map's members. User 0 stands for hookd. */
static int notice_open(struct jw *w, const char *type)
{
    if (jw_init(w) < 0)
        return -1;
    jw_map_open(w);
    jw_kstr(w, "type", type);
    jw_ktime(w, "timestamp", now_ms());
    jw_key(w, "data");
    jw_map_open(w);
    return 0;
}

static void notice_submit(const char *org, int partitions, const char *type, struct jw *payload)
{
    const unsigned char *json;
    size_t len;
    char evid[ID_LEN + 1], now[24];
    int64_t t = now_ms();
    jw_map_close(payload); /* data */
    jw_map_close(payload);
    if (jw_result(payload, &json, &len) < 0)
        return;
    id_new_event(evid, t);
    snprintf(now, sizeof(now), "%lld", (long long)t);
    const char *v[INGEST_FIELDS] = {
        [INGEST_ORG] = org, [INGEST_EVENT_ID] = evid, [INGEST_TYPE] = type, [INGEST_PAYLOAD] = (const char *)json,
        [INGEST_NOW] = now, [INGEST_IDEMPOTENCY_KEY] = "", [INGEST_SYNC_SESSION_ID] = "", [INGEST_REQUEST_ID] = "",
        [INGEST_USER_ID] = "0", [INGEST_FINGERPRINT] = "",
    };
    size_t lens[INGEST_FIELDS] = {[INGEST_PAYLOAD] = len};
    if (ingest_submit(key_partition(org, partitions), v, lens, (const char *)json, len, on_noticed, NULL) < 0)
        LOG_WARNING("an operational event could not be queued", "type", type, NULL);
}

void notice_endpoint(const char *org, int partitions, const char *type, const char *endpoint_id, const char *by)
{
    struct jw w;
    if (!org || !*org || notice_open(&w, type) < 0)
        return;
    jw_kstr(&w, "endpoint_id", endpoint_id);
    jw_kstr(&w, "by", by);
    notice_submit(org, partitions, type, &w);
    jw_free(&w);
}

void notice_exhausted(const char *org, int partitions, const char *delivery_id, const char *event_id,
                      const char *event_type, const char *endpoint_id, long long attempts)
{
    struct jw w;
    /* never about a notice's own delivery: no chain of notices */
    if (!org || !*org || strncmp(event_type, NOTICE_PREFIX, strlen(NOTICE_PREFIX)) == 0 ||
        notice_open(&w, NOTICE_DELIVERY_EXHAUSTED) < 0)
        return;
    jw_kstr(&w, "delivery_id", delivery_id);
    jw_kstr(&w, "event_id", event_id);
    jw_kstr(&w, "event_type", event_type);
    jw_kstr(&w, "endpoint_id", endpoint_id);
    jw_kint(&w, "attempts", attempts);
    notice_submit(org, partitions, NOTICE_DELIVERY_EXHAUSTED, &w);
    jw_free(&w);
}
