/*
 * errors: each redelivery contract's error body (and OAuth2's), as the
 * route table names them (struct err_style, reactor/http/server.h). hookd's own
 * routes use the server's problem details.
 */
#include <string.h>

#include "handlers/compat/compat.h"
#include "store/json.h"

/* Contract 003 and 004 name their errors with fixed codes. */
static const char *c003_name(int status, const char *code)
{
    if (code && (strcmp(code, "RETRIGGER_RATE_LIMITED") == 0 || strcmp(code, "ValidationFailed") == 0))
        return code;
    switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "AccessDenied";
    case 404: return "NotFound";
    case 409: return "Conflict";
    case 413: return "ValidationFailed";
    default: return "UnexpectedError";
    }
}

static const char *c004_code(int status)
{
    switch (status) {
    case 400: case 413: return "BAD_REQUEST";
    case 401: return "UNAUTHORIZED";
    case 403: return "FORBIDDEN";
    case 404: return "NOT_FOUND";
    case 503: return "UNAVAILABLE";
    default: return "INTERNAL";
    }
}

/* {success: false, message} */
static void render_c000(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    (void)status, (void)code, (void)field;
    jw_map_open(w);
    jw_kbool(w, "success", 0);
    jw_kstr(w, "message", detail);
    jw_map_close(w);
}

/* {error, message} */
static void render_c001(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    (void)status, (void)field;
    jw_map_open(w);
    jw_kstr(w, "error", code);
    jw_kstr(w, "message", detail);
    jw_map_close(w);
}

/* FastAPI: {detail} and, for 422, {detail: [{loc, msg, type}]} */
static void render_c002(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    jw_map_open(w);
    jw_key(w, "detail");
    if (status == 422) {
        jw_array_open(w);
        jw_map_open(w);
        jw_key(w, "loc");
        jw_array_open(w);
        jw_str(w, field && strcmp(field, "delivery_id") == 0 ? "path" : "body");
        if (field)
            jw_str(w, field);
        jw_array_close(w);
        jw_kstr(w, "msg", detail);
        jw_kstr(w, "type", code);
        jw_map_close(w);
        jw_array_close(w);
    } else {
        jw_str(w, detail);
    }
    jw_map_close(w);
}

/* {name, error, status} */
static void render_c003(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    (void)field;
    jw_map_open(w);
    jw_kstr(w, "name", c003_name(status, code));
    jw_kstr(w, "error", detail);
    jw_kint(w, "status", status);
    jw_map_close(w);
}

/* {code, message, status} */
static void render_c004(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    (void)code, (void)field;
    jw_map_open(w);
    jw_kstr(w, "code", c004_code(status));
    jw_kstr(w, "message", detail);
    jw_kint(w, "status", status);
    jw_map_close(w);
}

/* RFC 6749: {error, error_description} */
static void render_oauth(struct jw *w, int status, const char *code, const char *field, const char *detail)
{
    (void)status, (void)field;
    jw_map_open(w);
    jw_kstr(w, "error", code);
    jw_kstr(w, "error_description", detail);
    jw_map_close(w);
}

#define JSON_STYLE(malformed, fn) {"application/json", malformed, malformed, 0, fn}
const struct err_style err_c000 = JSON_STYLE(400, render_c000);
const struct err_style err_c001 = JSON_STYLE(400, render_c001);
const struct err_style err_c002 = JSON_STYLE(422, render_c002); /* FastAPI calls a body that is not JSON a 422 */
const struct err_style err_c003 = JSON_STYLE(400, render_c003);
const struct err_style err_c004 = JSON_STYLE(400, render_c004);
const struct err_style err_oauth = JSON_STYLE(400, render_oauth);
