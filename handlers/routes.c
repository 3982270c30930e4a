#include "handlers/compat/compat.h"
#include "handlers/handlers.h"
#include "store/auth.h"

#define GET EVHTTP_REQ_GET
#define POST EVHTTP_REQ_POST
#define PATCH EVHTTP_REQ_PATCH
#define DELETE EVHTTP_REQ_DELETE
#define RW (SCOPE_MANAGE)
#define RO (SCOPE_MANAGE | SCOPE_READ)
#define ORG PORTAL_ORG
#define EP PORTAL_ENDPOINT
#define FILT PORTAL_FILTERED

/* method, path, handler, who may call, scope (any of), admin, error style,
 * (NULL: hookd's problem details), form body, verbatim member, reach of a
 * portal session limited to endpoints */
const struct route routes[] = {
    {GET, "/healthz", h_healthz, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/readyz", h_readyz, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/metrics", h_metrics, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/openapi.json", h_openapi, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/console", h_console, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/console/app.js", h_console_js, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/console/app.css", h_console_css, NEED_NONE, 0, 0, NULL, 0, NULL, FILT},
    {GET, "/v1/me", h_me, NEED_TOKEN, 0, 0, NULL, 0, NULL, FILT},

    {POST, "/v1/orgs", h_org_create, NEED_ROOT, 0, 0, NULL, 0, NULL, ORG},
    {GET, "/v1/orgs", h_org_list, NEED_ROOT, 0, 0, NULL, 0, NULL, ORG},
    {PATCH, "/v1/orgs/:id", h_org_update, NEED_ROOT, 0, 0, NULL, 0, NULL, ORG},
    {POST, "/v1/tokens", h_token_create, NEED_ROOT_OR_ADMIN, 0, 0, NULL, 0, NULL, ORG},
    {GET, "/v1/tokens", h_token_list, NEED_ROOT_OR_ADMIN, 0, 0, NULL, 0, NULL, ORG},
    {DELETE, "/v1/tokens/:id", h_token_revoke, NEED_ROOT_OR_ADMIN, 0, 0, NULL, 0, NULL, ORG},
    {POST, "/v1/portal-links", h_portal_link_create, NEED_ROOT_OR_ADMIN, 0, 0, NULL, 0, NULL, ORG},
    {POST, "/v1/portal-sessions", h_portal_session_create, NEED_NONE, 0, 0, NULL, 0, NULL, ORG},
    {GET, "/v1/portal-sessions", h_portal_session_list, NEED_ROOT_OR_ADMIN, 0, 0, NULL, 0, NULL, ORG},
    {DELETE, "/v1/portal-sessions/:id", h_portal_session_revoke, NEED_ROOT_OR_ADMIN, 0, 0, NULL, 0, NULL, ORG},
    {POST, "/oauth/token", h_oauth_token, NEED_NONE, 0, 0, &err_oauth, 1, NULL, ORG},

    {POST, "/v1/endpoints", h_endpoint_create, NEED_TOKEN, RW, 0, NULL, 0, NULL, ORG},
    {GET, "/v1/endpoints", h_endpoint_list, NEED_TOKEN, RO, 0, NULL, 0, NULL, FILT},
    {GET, "/v1/endpoints/:id", h_endpoint_get, NEED_TOKEN, RO, 0, NULL, 0, NULL, EP},
    {PATCH, "/v1/endpoints/:id", h_endpoint_patch, NEED_TOKEN, RW, 0, NULL, 0, NULL, EP},
    {DELETE, "/v1/endpoints/:id", h_endpoint_delete, NEED_TOKEN, RW, 0, NULL, 0, NULL, EP},
    {POST, "/v1/endpoints/:id/enable", h_endpoint_enable, NEED_TOKEN, RW, 0, NULL, 0, NULL, EP},
    {POST, "/v1/endpoints/:id/disable", h_endpoint_disable, NEED_TOKEN, RW, 0, NULL, 0, NULL, EP},
    {POST, "/v1/endpoints/:id/rotate-secret", h_endpoint_rotate, NEED_TOKEN, RW, 0, NULL, 0, NULL, EP},
    {POST, "/v1/endpoints/:id/test-filter", h_endpoint_test_filter, NEED_TOKEN, RO, 0, NULL, 0, NULL, EP},
    {GET, "/v1/endpoints/:id/stats", h_endpoint_stats, NEED_TOKEN, RO, 0, NULL, 0, NULL, EP},
    {POST, "/v1/endpoints/:id/test", h_endpoint_test, NEED_TOKEN, RW, 0, NULL, 0, "payload", EP},

    {POST, "/v1/events", h_event_create, NEED_TOKEN, SCOPE_EVENTS, 0, NULL, 0, "payload", ORG},
    {GET, "/v1/events/:id", h_event_get, NEED_TOKEN, RO, 0, NULL, 0, NULL, FILT},

    {GET, "/v1/deliveries", h_delivery_list, NEED_TOKEN, RO, 0, NULL, 0, NULL, FILT},
    {GET, "/v1/deliveries/:id", h_delivery_get, NEED_TOKEN, RO, 0, NULL, 0, NULL, FILT},
    {GET, "/v1/deliveries/:id/attempts", h_delivery_attempts, NEED_TOKEN, RO, 0, NULL, 0, NULL, FILT},
    {GET, "/v1/jobs/:id", h_job_get, NEED_TOKEN, RO, 0, NULL, 0, NULL, ORG},
    {POST, "/v1/jobs/:id/cancel", h_job_cancel, NEED_TOKEN, RW, 0, NULL, 0, NULL, ORG},

    /* the redelivery contracts of shared/contracts/, at their own paths */
    {POST, "/api/webhooks/resend", h_c000_resend, NEED_TOKEN, RW, 0, &err_c000, 0, NULL, ORG},
    {POST, "/api/v2/webhook_deliveries/redeliveries", h_c001_bulk_redeliver, NEED_TOKEN, RW, 1, &err_c001, 0, NULL, ORG},
    {POST, "/v1/webhooks/deliveries/:id/replay", h_c002_replay, NEED_TOKEN, RW, 0, &err_c002, 0, NULL, FILT},
    {POST, "/api/notifications/v1/admin/webhooks/:id/notifications/retrigger", h_c003_retrigger, NEED_TOKEN, RW, 1, &err_c003, 0, NULL, ORG},
    {POST, "/api/partner/v1/webhook-endpoints/:id/redeliver", h_c004_redeliver, NEED_TOKEN, RW, 0, &err_c004, 0, NULL, EP},
};
const size_t routes_len = sizeof(routes) / sizeof(routes[0]);
