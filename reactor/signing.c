#include "reactor/signing.h"

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
    if (hmac_sha256(key, (size_t)klen, parts, lens, 5, mac) < 0)
        return -1;
    if (outlen < 3 + 45)
        return -1;
    memcpy(out, "v1,", 3);
    return base64_encode(mac, sizeof(mac), out + 3, outlen - 3) < 0 ? -1 : 0;
}

int sign_payload(const char *msg_id, int64_t ts_s, const char *body, size_t len,
                 const char *secret, const char *prev, char out[SIGNATURE_MAX])
{
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)ts_s);
    if (sign_one(msg_id, ts, body, len, secret, out, SIGNATURE_MAX) < 0)
        return -1;
    if (prev && *prev) {
        size_t n = strlen(out);
        out[n] = ' ';
        if (sign_one(msg_id, ts, body, len, prev, out + n + 1, SIGNATURE_MAX - n - 1) < 0)
            out[n] = '\0'; /* a bad previous secret must not block delivery */
    }
    return 0;
}
