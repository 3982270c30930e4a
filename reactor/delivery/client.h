/*
 * client: outbound HTTP(S) for deliveries, on libevent's HTTP client.
 *
 * A send resolves the host with evdns, vets every address (netaddr.h),
 * connects to the chosen numeric address while sending the original Host
 * header and TLS SNI and verifying the certificate against the host name,
 * reuses keep-alive connections per (scheme, host, address, port), and ends
 * in exactly one callback with either an HTTP status or one of the error
 * names of DESIGN.md:
 *   private_uri, dns_lookup_failed, connection_timeout,
 *   destination_unreachable, failed_tls, response_too_large, proxy_error
 * (with egress_proxy set, every connection goes through a CONNECT tunnel:
 * egress_proxy.h)
 */
#ifndef HOOKD_CLIENT_H
#define HOOKD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "reactor/delivery/attempt.h"

struct event_base;
struct conf;
struct client_req;

#define CLIENT_BODY_HEAD 256

struct client_result {
    int status;              /* HTTP status, 0 when error is set */
    enum attempt_error error; /* ATTEMPT_HTTP_STATUS when a status came back */
    char body_head[CLIENT_BODY_HEAD + 1]; /* first bytes of the response, sanitized */
    char retry_after[64];
    char webhook_delivery[32]; /* the receiver's webhook-delivery header */
    int64_t started_ms;      /* wall clock */
    double seconds;          /* duration */
    char *body;              /* the whole body, only after client_keep_body(); the request's */
    size_t body_len;
};

struct client_header {
    const char *name, *value;
};

typedef void (*client_cb)(const struct client_result *res, void *arg);

int client_init(struct event_base *base, const struct conf *c);
/* 0 when ca_file ("" = none) loads as a PEM CA bundle; else -1 with why set.
 * Start-up and --check-config both run it. */
int client_check_ca_file(const char *path, char *why, size_t len);
void client_free(void);
/* An endpoint's own TLS material (PEM; NULL or "" when absent): its CA
 * bundle replaces the system store for its receiver, and a client
 * certificate with its key is sent when the receiver asks for one. */
struct client_tls {
    const char *ca, *cert, *key;
};

/* Start a POST. `body` is borrowed and must stay valid until the callback;
 * `tls` (NULL: the defaults) only until this returns.
 * Returns NULL only when out of memory (callback not called). */
struct client_req *client_post(const char *url, const struct client_header *h, int nh,
                               const char *body, size_t len, const struct client_tls *tls, client_cb cb, void *arg);
/* Keep the whole response body (up to response_max_bytes) for the
 * callback, as res->body: a token endpoint's answer, not a receiver's. */
void client_keep_body(struct client_req *cr);
/* Abandon a send; its callback will not run. */
void client_cancel(struct client_req *cr);

#endif
