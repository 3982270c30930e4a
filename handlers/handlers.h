/*
 * handlers: the HTTP API, one file per resource. Each handler parses and
 * checks its input, calls one store operation (a Lua script), and renders.
 */
#ifndef HOOKD_HANDLERS_H
#define HOOKD_HANDLERS_H

#include "reactor/http/server.h"

void h_healthz(struct req *r);
void h_readyz(struct req *r);
void h_metrics(struct req *r);
void h_openapi(struct req *r);
void h_console(struct req *r);
void h_console_js(struct req *r);
void h_console_css(struct req *r);
void h_me(struct req *r);

void h_org_create(struct req *r);
void h_org_list(struct req *r);
void h_org_update(struct req *r);
void h_token_create(struct req *r);
void h_token_list(struct req *r);
void h_token_revoke(struct req *r);
void h_oauth_token(struct req *r);

void h_portal_link_create(struct req *r);
void h_portal_session_create(struct req *r);
void h_portal_session_list(struct req *r);
void h_portal_session_revoke(struct req *r);

void h_endpoint_create(struct req *r);
void h_endpoint_list(struct req *r);
void h_endpoint_get(struct req *r);
void h_endpoint_patch(struct req *r);
void h_endpoint_delete(struct req *r);
void h_endpoint_enable(struct req *r);
void h_endpoint_disable(struct req *r);
void h_endpoint_rotate(struct req *r);
void h_endpoint_test_filter(struct req *r);
void h_endpoint_stats(struct req *r);
void h_endpoint_test(struct req *r);

void h_event_create(struct req *r);
void h_event_get(struct req *r);

void h_delivery_list(struct req *r);
void h_delivery_get(struct req *r);
void h_delivery_attempts(struct req *r);

void h_job_get(struct req *r);
void h_job_cancel(struct req *r);

#endif
