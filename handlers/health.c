#include <event2/buffer.h>

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "reactor/metrics.h"

void h_healthz(struct req *r)
{
    reply_raw(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

void h_readyz(struct req *r)
{
    if (store_ready())
        reply_raw(r, 200, "application/json", "{\"status\":\"ready\",\"redis\":\"up\"}", 32);
    else
        reply_error(r, 503, "not_ready", NULL, "Redis is not reachable or scripts are not loaded");
}

void h_metrics(struct req *r)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    metrics_render(b);
    size_t len = evbuffer_get_length(b);
    const char *p = (const char *)evbuffer_pullup(b, -1);
    reply_raw(r, 200, "text/plain; version=0.0.4", p, len);
    evbuffer_free(b);
}
