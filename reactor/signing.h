/*
 * signing: Standard Webhooks signatures.
 *
 *   webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>
 *
 * where key is the base64 after "whsec_". During a rotation overlap both
 * the current and the previous secret sign, space-separated, so a receiver
 * holding either verifies.
 */
#ifndef HOOKD_SIGNING_H
#define HOOKD_SIGNING_H

#include <stddef.h>
#include <stdint.h>

#define SIGNATURE_MAX 256

/* 0 and `out` filled, or -1 when a secret is malformed. `prev` may be NULL or "". */
int sign_payload(const char *msg_id, int64_t ts_s, const char *body, size_t len,
                 const char *secret, const char *prev, char out[SIGNATURE_MAX]);

#endif
