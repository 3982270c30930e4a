/*
 * crypto: the hashing and signing hookd needs, on OpenSSL 3.
 */
#ifndef HOOKD_CRYPTO_H
#define HOOKD_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

/* Lowercase hex SHA-256 of bytes; out must hold 65. */
int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1]);
/* Base64 (standard alphabet, padded). Returns output length or -1. */
int base64_encode(const uint8_t *in, size_t len, char *out, size_t outlen);
int base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen);
/* HMAC-SHA256 into mac[32]. */
int hmac_sha256(const uint8_t *key, size_t keylen, const void *const *parts,
                const size_t *lens, int nparts, uint8_t mac[32]);
/* Wipe then free a struct that held credentials. */
#define cleanse_free(p) crypto_cleanse_free((p), sizeof(*(p)))
void crypto_cleanse_free(void *p, size_t len);
/* Constant-time string compare for secrets. */
int secret_equal(const char *a, const char *b);

/* Ed25519 (Standard Webhooks v1a). Keys travel as "whsk_" + base64 of the
 * raw 32-byte private key and "whpk_" + base64 of the raw public key. */
#define ED25519_KEY_TEXT 64
int ed25519_keypair(char sk[ED25519_KEY_TEXT], char pk[ED25519_KEY_TEXT]);
/* 0 with the base64 of the 64-byte signature in out (89 bytes), or -1. */
int ed25519_sign(const char *sk, const void *const *parts, const size_t *lens, int nparts, char out[96]);
/* 1 when sig_b64 is pk's signature of the parts, 0 when not, -1 on bad input. */
int ed25519_verify(const char *pk, const void *const *parts, const size_t *lens, int nparts, const char *sig_b64);

/* AES-256-GCM with a fresh random 12-byte nonce: out = nonce | ciphertext |
 * tag (16), so outlen >= len + 28. `ad` is authenticated, not stored: a
 * ciphertext opens only with the same ad. Returns the output length, -1. */
#define SEAL_OVERHEAD 28
int aead_seal(const uint8_t key[32], const void *ad, size_t adlen, const void *in, size_t len, uint8_t *out,
              size_t outlen);
/* The reverse: the plaintext length, or -1 when the key, the ad or the
 * bytes are not the ones sealed. */
int aead_open(const uint8_t key[32], const void *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
              size_t outlen);

#endif
