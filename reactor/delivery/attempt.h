/*
 * attempt: why a delivery attempt failed, as DESIGN.md names the classes.
 * Declared once, in store/fields.h (complete.lua reads the names too): the
 * client sets one, the pump records its name in the attempt and the
 * outcome, the metrics count by it.
 */
#ifndef HOOKD_ATTEMPT_H
#define HOOKD_ATTEMPT_H

#include "store/fields.h"

enum attempt_error { ATTEMPT_ERROR_NAME_LIST(NAME_ENUM_MEMBER) ATTEMPT_ERROR_COUNT };

/* "http_status", "private_uri", ... (the metrics' label values) */
static inline const char *attempt_error_label(enum attempt_error e)
{
    static const char *const names[ATTEMPT_ERROR_COUNT] = {ATTEMPT_ERROR_NAME_LIST(NAME_TEXT)};
    return (unsigned)e < ATTEMPT_ERROR_COUNT ? names[e] : "http_status";
}

/* The error name an attempt record carries: "" when a status came back. */
static inline const char *attempt_error_name(enum attempt_error e)
{
    return e == ATTEMPT_HTTP_STATUS ? "" : attempt_error_label(e);
}

#endif
