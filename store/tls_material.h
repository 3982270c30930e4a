/*
 * tls_material: an endpoint's own TLS material, as the API takes it (PEM):
 * a CA bundle its receiver's certificate is verified against instead of the
 * system store, and a client certificate chain with its key for mutual TLS.
 * Pure OpenSSL parsing, no I/O: the handlers check and describe it, the
 * client (reactor/delivery/client.c) builds an SSL_CTX from it.
 */
#ifndef HOOKD_STORE_TLS_MATERIAL_H
#define HOOKD_STORE_TLS_MATERIAL_H

#include <stddef.h>

#define TLS_PEM_MAX (64 * 1024)

/* 0 when every given piece parses (NULL or "": absent), the certificate and
 * key come together and match; else -1 with *field naming the culprit and
 * why saying what is wrong. */
int tls_material_check(const char *ca, const char *cert, const char *key, const char **field, char *why,
                       size_t len);

/* A certificate chain's first certificate: subject (one line), not_after
 * (RFC 3339) and the SHA-256 of its DER in hex. 0 or -1. */
int tls_cert_describe(const char *pem, char *subject, size_t slen, char not_after[32], char sha256[65],
                      int *expired);
/* How many certificates a bundle holds, and the SHA-256 of the bundle's text. */
int tls_ca_describe(const char *pem, int *count, char sha256[65]);

#endif
