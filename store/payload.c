#include "store/payload.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static const unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

/* One context each, made once and reused: ZSTD_compress() would set up
 * (allocate and initialise) a fresh one per call, which costs more than
 * compressing a kilobyte. hookd is one thread; the contexts live for the
 * process. */
static ZSTD_CCtx *cctx;
static ZSTD_DCtx *dctx;

int payload_pack(const void *json, size_t n, void **out, size_t *outlen)
{
    *out = NULL;
    *outlen = 0;
    if (n < PAYLOAD_PACK_MIN)
        return 0;
    size_t cap = ZSTD_compressBound(n);
    void *buf = malloc(cap);
    if (!buf)
        return -1;
    if (!cctx && !(cctx = ZSTD_createCCtx())) {
        free(buf);
        return -1;
    }
    size_t z = ZSTD_compressCCtx(cctx, buf, cap, json, n, 1);
    if (ZSTD_isError(z) || z > n - n / 8) { /* not worth a decode on every send */
        free(buf);
        return 0;
    }
    *out = buf;
    *outlen = z;
    return 1;
}

int payload_unpack(const void *stored, size_t n, size_t max, void **out, size_t *outlen)
{
    *out = NULL;
    *outlen = n;
    if (n < sizeof(zstd_magic) || memcmp(stored, zstd_magic, sizeof(zstd_magic)) != 0)
        return 0;
    unsigned long long size = ZSTD_getFrameContentSize(stored, n);
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max)
        return -1;
    char *buf = malloc((size_t)size + 1);
    if (!buf)
        return -1;
    if (!dctx && !(dctx = ZSTD_createDCtx())) {
        free(buf);
        return -1;
    }
    size_t got = ZSTD_decompressDCtx(dctx, buf, (size_t)size, stored, n);
    if (ZSTD_isError(got) || got != size) {
        free(buf);
        return -1;
    }
    buf[got] = '\0';
    *out = buf;
    *outlen = got;
    return 1;
}
