#include "reactor/delivery/signing.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "store/crypto.h"

static int sign_one(const char *msg_id, const char *ts, const char *body, size_t len,
                    const char *secret, char *out, size_t outlen)
{
    uint8_t key[96], mac[32];
    if (strncmp(secret, "whsec_", 6) != 0)
        return -1;
    int klen = base64_decode(secret + 6, strlen(secret + 6), key, sizeof(key));
    if (klen <= 0)
        return -1;
    const void *parts[] = {msg_id, ".", ts, ".", body};
    size_t lens[] = {strlen(msg_id), 1, strlen(ts), 1, len};
    int rc = hmac_sha256(key, (size_t)klen, parts, lens, 5, mac);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc < 0)
        return -1;
    if (outlen < 3 + 45)
        return -1;
    memcpy(out, "v1,", 3);
    return base64_encode(mac, sizeof(mac), out + 3, outlen - 3) < 0 ? -1 : 0;
}

enum sig_scheme sig_scheme_parse(const char *s)
{
    return s && strcmp(s, "v1a") == 0 ? SIG_V1A : s && strcmp(s, "both") == 0 ? SIG_BOTH : SIG_V1;
}

static int sign_ed25519(const char *msg_id, const char *ts, const char *body, size_t len, const char *sk, char *out,
                        size_t outlen)
{
    const void *parts[] = {msg_id, ".", ts, ".", body};
    size_t lens[] = {strlen(msg_id), 1, strlen(ts), 1, len};
    char sig[96];
    if (outlen < 4 + sizeof(sig) || ed25519_sign(sk, parts, lens, 5, sig) < 0)
        return -1;
    snprintf(out, outlen, "v1a,%s", sig);
    return 0;
}

/* Append " " + one signature; a key that fails is left out unless `must`. */
static int append(char out[SIGNATURE_MAX], int must, int ed, const char *msg_id, const char *ts, const char *body,
                  size_t len, const char *key)
{
    if (!key || !*key)
        return must ? -1 : 0;
    size_t n = strlen(out), sep = n ? 1 : 0;
    if (n + sep >= SIGNATURE_MAX)
        return -1;
    if (sep)
        out[n] = ' ';
    int rc = ed ? sign_ed25519(msg_id, ts, body, len, key, out + n + sep, SIGNATURE_MAX - n - sep)
                : sign_one(msg_id, ts, body, len, key, out + n + sep, SIGNATURE_MAX - n - sep);
    if (rc < 0)
        out[n] = '\0'; /* a bad previous key must not block delivery */
    return rc < 0 && must ? -1 : 0;
}

int sign_payload(const char *msg_id, int64_t ts_s, const char *body, size_t len, const struct sig_keys *k,
                 char out[SIGNATURE_MAX])
{
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)ts_s);
    out[0] = '\0';
    int v1 = k->scheme != SIG_V1A, v1a = k->scheme != SIG_V1;
    if (v1 && (append(out, 1, 0, msg_id, ts, body, len, k->secret) < 0 ||
               append(out, 0, 0, msg_id, ts, body, len, k->prev_secret) < 0))
        return -1;
    if (v1a && (append(out, 1, 1, msg_id, ts, body, len, k->sign_key) < 0 ||
                append(out, 0, 1, msg_id, ts, body, len, k->prev_sign_key) < 0))
        return -1;
    return 0;
}
