/*
 * signing: Standard Webhooks signatures.
 *
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
 *   webhook-signature: v1a,<base64 Ed25519 signature of the same>
 *
 * where key is the base64 after "whsec_". During a rotation overlap both
 * the current and the previous secret sign, space-separated, so a receiver
 * holding either verifies.
 */
#ifndef HOOKD_SIGNING_H
#define HOOKD_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#define SIGNATURE_MAX 512

/* An endpoint's signature_scheme: v1 (HMAC-SHA256 with the whsec_ secret),
 * v1a (Ed25519 with its whsk_ key: "v1a,<base64>"), or both. */
enum sig_scheme { SIG_V1, SIG_V1A, SIG_BOTH };
enum sig_scheme sig_scheme_parse(const char *s); /* "" and unknown: v1 */

/* The keys an attempt signs with; the previous ones (NULL or "") during a
 * rotation's overlap, when both sign. */
struct sig_keys {
    enum sig_scheme scheme;
    const char *secret, *prev_secret; /* whsec_ */
    const char *sign_key, *prev_sign_key; /* whsk_ */
};

/* 0 and `out` filled, or -1 when a key the scheme needs is malformed. */
int sign_payload(const char *msg_id, int64_t ts_s, const char *body, size_t len, const struct sig_keys *k,
                 char out[SIGNATURE_MAX]);

#endif
