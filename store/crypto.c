#include "store/crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>
#include <stdlib.h>
#include <string.h>

int sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -1;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

int base64_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
    if (outlen < 4 * ((len + 2) / 3) + 1)
        return -1;
    return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

int base64_decode(const char *in, size_t len, uint8_t *out, size_t outlen)
{
    if (len == 0 || len % 4 || outlen < 3 * (len / 4))
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes */
    if (in[len - 1] == '=') n--;
    if (in[len - 2] == '=') n--;
    return n;
}

int hmac_sha256(const uint8_t *key, size_t keylen, const void *const *parts,
                const size_t *lens, int nparts, uint8_t mac[32])
{
    /* Fetched once: a fetch walks OpenSSL's provider tables. */
    static EVP_MAC *m;
    if (!m)
        m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    int rc = -1;
    EVP_MAC_CTX *mc = m ? EVP_MAC_CTX_new(m) : NULL;
    if (!mc)
        goto fail;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(mc, key, keylen, params) != 1)
        goto fail;
    for (int i = 0; i < nparts; i++)
        if (EVP_MAC_update(mc, parts[i], lens[i]) != 1)
            goto fail;
    size_t outl = 0;
    if (EVP_MAC_final(mc, mac, &outl, 32) != 1 || outl != 32)
        goto fail;
    rc = 0;
fail:
    EVP_MAC_CTX_free(mc);
    return rc;
}

int secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

void crypto_cleanse_free(void *p, size_t len)
{
    if (!p)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

int aead_seal(const uint8_t key[32], const void *ad, size_t adlen, const void *in, size_t len, uint8_t *out,
              size_t outlen)
{
    int n = 0, fin = 0, rc = -1;
    if (outlen < len + SEAL_OVERHEAD || len > INT32_MAX || adlen > INT32_MAX)
        return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || RAND_bytes(out, 12) != 1 || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1 ||
        EVP_EncryptUpdate(ctx, out + 12, &n, in, (int)len) != 1 || EVP_EncryptFinal_ex(ctx, out + 12 + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + n + fin) != 1)
        goto done;
    rc = 12 + n + fin + 16;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int aead_open(const uint8_t key[32], const void *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
              size_t outlen)
{
    int n = 0, fin = 0, rc = -1;
    if (len < SEAL_OVERHEAD || outlen < len - SEAL_OVERHEAD || len > INT32_MAX || adlen > INT32_MAX)
        return -1;
    size_t clen = len - SEAL_OVERHEAD;
    uint8_t tag[16];
    memcpy(tag, in + len - 16, 16);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1 ||
        EVP_DecryptUpdate(ctx, out, &n, in + 12, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1 || EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1)
        goto done;
    rc = n + fin;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

static EVP_PKEY *ed25519_key(const char *text, int private)
{
    uint8_t raw[48];
    const char *prefix = private ? "whsk_" : "whpk_";
    if (strncmp(text, prefix, 5) != 0 || base64_decode(text + 5, strlen(text + 5), raw, sizeof(raw)) != 32) {
        OPENSSL_cleanse(raw, sizeof(raw));
        return NULL;
    }
    EVP_PKEY *k = private ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32)
                          : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
    OPENSSL_cleanse(raw, sizeof(raw));
    return k;
}

int ed25519_keypair(char sk[ED25519_KEY_TEXT], char pk[ED25519_KEY_TEXT])
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    uint8_t priv[32], pub[32];
    size_t pl = sizeof(priv), ul = sizeof(pub);
    int rc = -1;
    if (k && EVP_PKEY_get_raw_private_key(k, priv, &pl) == 1 && EVP_PKEY_get_raw_public_key(k, pub, &ul) == 1 &&
        pl == 32 && ul == 32) {
        memcpy(sk, "whsk_", 5), memcpy(pk, "whpk_", 5);
        rc = base64_encode(priv, 32, sk + 5, ED25519_KEY_TEXT - 5) < 0 || base64_encode(pub, 32, pk + 5, ED25519_KEY_TEXT - 5) < 0
                 ? -1
                 : 0;
    }
    OPENSSL_cleanse(priv, sizeof(priv));
    EVP_PKEY_free(k);
    return rc;
}

/* The message as one buffer: EdDSA signs in one shot. Owned by the caller. */
static uint8_t *join_parts(const void *const *parts, const size_t *lens, int nparts, size_t *n)
{
    *n = 0;
    for (int i = 0; i < nparts; i++)
        *n += lens[i];
    uint8_t *m = malloc(*n + 1), *p = m;
    for (int i = 0; m && i < nparts; i++)
        memcpy(p, parts[i], lens[i]), p += lens[i];
    return m;
}

int ed25519_sign(const char *sk, const void *const *parts, const size_t *lens, int nparts, char out[96])
{
    EVP_PKEY *k = ed25519_key(sk, 1);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n, sl = 64;
    uint8_t sig[64], *m = join_parts(parts, lens, nparts, &n);
    int rc = -1;
    if (k && md && m && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 && EVP_DigestSign(md, sig, &sl, m, n) == 1 &&
        sl == 64)
        rc = base64_encode(sig, 64, out, 96) < 0 ? -1 : 0;
    free(m);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

int ed25519_verify(const char *pk, const void *const *parts, const size_t *lens, int nparts, const char *sig_b64)
{
    uint8_t sig[72];
    EVP_PKEY *k = ed25519_key(pk, 0);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t n;
    uint8_t *m = join_parts(parts, lens, nparts, &n);
    int sl = base64_decode(sig_b64, strlen(sig_b64), sig, sizeof(sig)), rc = -1;
    if (k && md && m && sl == 64 && EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1)
        rc = EVP_DigestVerify(md, sig, 64, m, n) == 1;
    ERR_clear_error();
    free(m);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}
