/*
 * console: the delivery console (handlers/console/) and the OpenAPI
 * document, served from the binary (cmake/embed_file.cmake), and GET /v1/me,
 * which tells the console what the signed-in token may do.
 *
 * The console's pages are served under a Content-Security-Policy that
 * allows only hookd's own script, style and API (no inline script, no other
 * origin, no framing), so a payload or a receiver's response that the
 * console shows could not run even if it reached the page as markup; the
 * script puts every value in the page as text anyway.
 */
#include <event2/http.h>
#include <stdio.h>

#include "handlers/common.h"
#include "handlers/handlers.h"
#include "conf/conf.h"
#include "store/auth.h"
#include "store/json.h"

extern const char openapi_json[], console_html[], console_js[], console_css[];
extern const unsigned long openapi_json_len, console_html_len, console_js_len, console_css_len;

#define CONSOLE_CSP "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " \
                    "base-uri 'none'; form-action 'none'; frame-ancestors "

/* Framing is refused unless console_frame_ancestors names the origins that
 * may embed it (a SaaS's settings page showing its customer's portal). */
static void reply_console(struct req *r, const char *ctype, const char *body, unsigned long len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    char csp[1024];
    snprintf(csp, sizeof(csp), "%s%s", CONSOLE_CSP, server_conf()->console_frame_ancestors);
    evhttp_add_header(h, "Content-Security-Policy", csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    reply_raw(r, 200, ctype, body, (size_t)len);
}

void h_console(struct req *r) { reply_console(r, "text/html; charset=utf-8", console_html, console_html_len); }
void h_console_js(struct req *r) { reply_console(r, "text/javascript; charset=utf-8", console_js, console_js_len); }
void h_console_css(struct req *r) { reply_console(r, "text/css; charset=utf-8", console_css, console_css_len); }

void h_openapi(struct req *r)
{
    reply_raw(r, 200, "application/json", openapi_json, (size_t)openapi_json_len);
}

void h_me(struct req *r)
{
    static const struct { unsigned bit; const char *name; } scopes[] = {
        {SCOPE_MANAGE, "webhooks:manage"}, {SCOPE_READ, "webhooks:read"}, {SCOPE_EVENTS, "events:write"}};
    struct jw w;
    if (jw_init(&w) < 0) {
        reply_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    jw_map_open(&w);
    jw_kstr(&w, "org_id", r->who.org_id);
    jw_kint(&w, "user_id", r->who.user_id);
    jw_key(&w, "scopes");
    jw_array_open(&w);
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
        if (r->who.scopes & scopes[i].bit)
            jw_str(&w, scopes[i].name);
    jw_array_close(&w);
    jw_kbool(&w, "admin", r->who.admin);
    jw_kbool(&w, "portal", r->who.portal);
    if (r->who.portal) { /* what the console hides and shows for a portal session */
        jw_key(&w, "endpoint_ids");
        jw_array_open(&w);
        for (int i = 0; i < r->who.n_endpoints; i++)
            jw_str(&w, r->who.endpoints[i]);
        jw_array_close(&w);
        jw_ktime(&w, "expires_at", r->who.expires_ms);
    }
    jw_map_close(&w);
    reply_json(r, 200, &w);
}
