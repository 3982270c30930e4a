/*
 * secrets: endpoint signing secrets at rest. With `secret_key` set, every
 * secret hookd writes to Redis is sealed with AES-256-GCM (store/crypto.h)
 * under that key, the endpoint's id as associated data (a sealed value
 * copied to another endpoint does not open), and stored as
 * "hk1:" + base64(nonce | ciphertext | tag). `secret_key_previous` still
 * opens what the last key sealed, so keys rotate by restarting with both;
 * secrets_migrate() then seals, in batches, what is still clear or under
 * the previous key. Without a key (allow_plaintext_secrets = yes) values
 * are written and read as they are.
 */
#ifndef HOOKD_STORE_SECRETS_H
#define HOOKD_STORE_SECRETS_H

#include <stddef.h>

struct conf;
struct event_base;

#define SEALED_PREFIX "hk1:"
#define SECRET_SEALED_MAX 256 /* a sealed whsec_ of 64 bytes is ~150 characters */

/* The keys from the configuration (checked there: base64 of 32 bytes). */
int secrets_init(const struct conf *c);
/* 1 when a key seals new values. */
int secrets_sealing(void);
/* `plain` for endpoint `ad`, ready to store (a copy of plain when not
 * sealing; "" stays ""). 0, or -1 when it does not fit or sealing failed. */
int secrets_seal(const char *ad, const char *plain, char *out, size_t cap);
/* A stored value as the secret it holds (a clear one as it is). 0, or -1
 * when no configured key opens it. *previous is set to 1 when only the
 * previous key did (NULL: not asked). */
int secrets_open(const char *ad, const char *stored, char *out, size_t cap, int *previous);

/* Once the store is ready: checks the key against the store (a wrong key is
 * fatal: `fatal` is called with the reason and nothing is written), then
 * seals every endpoint secret still clear or under the previous key, a
 * batch at a time, unless a complete walk under the same check value is
 * recorded from the last day (KEY_SECRET_WALKED). */
int secrets_start(struct event_base *base, void (*fatal)(const char *why));
/* 1 once the key has been checked against the store: until then nothing
 * new is sealed (the handlers answer 503), so a wrong key writes nothing. */
int secrets_ready(void);
void secrets_free(void);

#endif
