#include "reactor/delivery/retry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"

int64_t retry_delay(const struct conf *c, int attempts, uint32_t rnd)
{
    if (attempts < 0 || attempts >= c->schedule_len)
        return -1;
    int64_t d = c->schedule_ms[attempts];
    if (d > 0 && c->retry_jitter_pct > 0) {
        int64_t span = d * c->retry_jitter_pct / 100;
        if (span > 0)
            d += (int64_t)(rnd % (uint64_t)(2 * span + 1)) - span;
    }
    return d;
}

int64_t retry_after_delay(const struct conf *c, const char *v, int64_t now)
{
    if (!v || !*v)
        return -1;
    int64_t ms;
    if (isdigit((unsigned char)*v)) {
        char *end;
        long long s = strtoll(v, &end, 10);
        if (*end || s < 0 || s > 10LL * 365 * 86400)
            return -1;
        ms = s * 1000;
    } else {
        struct tm tm;
        memset(&tm, 0, sizeof(tm));
        const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (!end || *end)
            return -1;
        ms = (int64_t)timegm(&tm) * 1000 - now;
    }
    if (ms < 1000)
        ms = 1000;
    if (ms > c->retry_after_max_ms)
        ms = c->retry_after_max_ms;
    return ms;
}
