/*
 * attempt: why a delivery attempt failed, as DESIGN.md names the classes.
 * Declared once here: the client sets one, the pump records its name in the
 * attempt and the outcome, the metrics count by it.
 */
#ifndef HOOKD_ATTEMPT_H
#define HOOKD_ATTEMPT_H

enum attempt_error {
    ATTEMPT_HTTP_STATUS, /* none of the below: an HTTP status came back */
    ATTEMPT_PRIVATE_URI,
    ATTEMPT_DNS_LOOKUP_FAILED,
    ATTEMPT_CONNECTION_TIMEOUT,
    ATTEMPT_DESTINATION_UNREACHABLE,
    ATTEMPT_FAILED_TLS,
    ATTEMPT_RESPONSE_TOO_LARGE,
    ATTEMPT_FAILED_SIGNING,
    ATTEMPT_AUTH_FAILED, /* the endpoint's OAuth2 token endpoint gave no token */
    ATTEMPT_ERROR_COUNT
};

/* "http_status", "private_uri", ... (the metrics' label values) */
static inline const char *attempt_error_label(enum attempt_error e)
{
    static const char *const names[ATTEMPT_ERROR_COUNT] = {
        [ATTEMPT_HTTP_STATUS] = "http_status",
        [ATTEMPT_PRIVATE_URI] = "private_uri",
        [ATTEMPT_DNS_LOOKUP_FAILED] = "dns_lookup_failed",
        [ATTEMPT_CONNECTION_TIMEOUT] = "connection_timeout",
        [ATTEMPT_DESTINATION_UNREACHABLE] = "destination_unreachable",
        [ATTEMPT_FAILED_TLS] = "failed_tls",
        [ATTEMPT_RESPONSE_TOO_LARGE] = "response_too_large",
        [ATTEMPT_FAILED_SIGNING] = "failed_signing",
        [ATTEMPT_AUTH_FAILED] = "auth_failed",
    };
    return (unsigned)e < ATTEMPT_ERROR_COUNT ? names[e] : "http_status";
}

/* The error name an attempt record carries: "" when a status came back. */
static inline const char *attempt_error_name(enum attempt_error e)
{
    return e == ATTEMPT_HTTP_STATUS ? "" : attempt_error_label(e);
}

#endif
