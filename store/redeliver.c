#include "store/redeliver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/ids.h"
#include "store/keys.h"

int redeliver_ids(const char *prefix, const char *org, long long user_id, const char *const *ids, int n,
                  const char *endpoint, store_cb cb, void *priv)
{
    if (n < 0 || n > REDELIVER_MAX_IDS)
        return -1;
    char now[24], uid[24], base[ID_LEN + 1];
    int64_t t = now_ms();
    snprintf(now, sizeof(now), "%lld", (long long)t);
    snprintf(uid, sizeof(uid), "%lld", user_id);
    id_new(base, t);
    int argc = 7 + n;
    const char **argv = malloc(sizeof(char *) * (size_t)argc);
    if (!argv)
        return -1;
    const char *head[7] = {prefix, "ids", org, now, uid, base, endpoint};
    for (int i = 0; i < argc; i++)
        argv[i] = i < 7 ? head[i] : ids[i - 7];
    int rc = store_script(SCRIPT_REDELIVER, cb, priv, 1, argc, argv, NULL);
    free(argv);
    return rc;
}

int redeliver_requeue(const char *prefix, const char *org, const char *endpoint, const char *delivery_id, int batch,
                      store_cb cb, void *priv)
{
    char now[24], b[16];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms());
    snprintf(b, sizeof(b), "%d", batch);
    const char *argv[] = {prefix, org, endpoint, now, delivery_id, b};
    return store_script(SCRIPT_REQUEUE, cb, priv, 1, 6, argv, NULL);
}

int redeliver_ratelimit(const char *name, long long per_minute, store_cb cb, void *priv)
{
    char lim[24];
    snprintf(lim, sizeof(lim), "%lld", per_minute);
    const char *argv[] = {KEY_GLOBAL, name, "60", lim};
    return store_script(SCRIPT_RATELIMIT, cb, priv, 1, 4, argv, NULL);
}

/* the script's key, its mode, then n fields in their store/fields.h order */
static int job_call(const char *prefix, const char *mode, const char *const *v, int n, store_cb cb, void *priv)
{
    const char *argv[2 + JOB_FIELDS];
    if (n > JOB_FIELDS)
        return -1;
    argv[0] = prefix, argv[1] = mode;
    memcpy(argv + 2, v, (size_t)n * sizeof(*v));
    return store_script(SCRIPT_REDELIVER, cb, priv, 1, 2 + n, argv, NULL);
}

int redeliver_job_create(const char *prefix, const char *const v[JOB_FIELDS], store_cb cb, void *priv)
{
    return job_call(prefix, "job", v, JOB_FIELDS, cb, priv);
}

int redeliver_job_step(const char *prefix, const char *const v[JOB_STEP_FIELDS], store_cb cb, void *priv)
{
    return job_call(prefix, "range", v, JOB_STEP_FIELDS, cb, priv);
}

int redeliver_job_claim(const char *prefix, const char *now, const char *owner, const char *lease_until,
                        const char *job_id, store_cb cb, void *priv)
{
    const char *argv[] = {prefix, "claim", now, owner, lease_until, job_id ? job_id : ""};
    return store_script(SCRIPT_REDELIVER, cb, priv, 1, 6, argv, NULL);
}

int redeliver_job_cancel(const char *prefix, const char *org, const char *job_id, const char *now, store_cb cb,
                         void *priv)
{
    const char *argv[] = {prefix, "cancel", org, job_id, now};
    return store_script(SCRIPT_REDELIVER, cb, priv, 1, 5, argv, NULL);
}
