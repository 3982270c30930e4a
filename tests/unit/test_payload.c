#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "store/payload.h"

int main(void)
{
    char json[2048];
    size_t n = 0;
    n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"lines\":[");
    for (int i = 0; i < 20; i++)
        n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{\"id\":\"il_%06d\",\"amount\":%d,\"note\":\"monthly seat\"}",
                              i ? "," : "", i * 7919, i * 31);
    n += (size_t)snprintf(json + n, sizeof(json) - n, "]}");
    void *packed, *back;
    size_t plen, blen;
    CHECK(payload_pack(json, n, &packed, &plen) == 1, "a repetitive %zu-byte payload is packed", n);
    CHECK(plen < n / 2, "packed to %zu of %zu bytes", plen, n);
    CHECK(((unsigned char *)packed)[0] == 0x28, "a frame starts with zstd's magic");
    CHECK(payload_unpack(packed, plen, 1 << 20, &back, &blen) == 1, "unpacks");
    CHECK(blen == n && memcmp(back, json, n) == 0 && ((char *)back)[n] == '\0', "round trip, NUL-terminated");
    free(back);
    CHECK(payload_unpack(packed, plen, n - 1, &back, &blen) == -1, "a frame decoding past max is refused");
    ((unsigned char *)packed)[plen - 1] ^= 0xff;
    ((unsigned char *)packed)[plen / 2] ^= 0xff;
    int rc = payload_unpack(packed, plen, 1 << 20, &back, &blen);
    CHECK(rc == -1 || (rc == 1 && blen == n), "a damaged frame is refused or decodes to its stated size");
    if (rc == 1)
        free(back);
    CHECK(payload_unpack(packed, 3, 1 << 20, &back, &blen) == 0, "three bytes are not a frame");
    free(packed);
    CHECK(payload_pack("{\"a\":1}", 7, &packed, &plen) == 0 && !packed, "small payloads are stored as they are");
    CHECK(payload_unpack("{\"a\":1}", 7, 1 << 20, &back, &blen) == 0 && !back && blen == 7, "JSON reads as itself");
    char noise[1024];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (char)((x = x * 1103515245u + 12345u) >> 16);
    noise[0] = '"';
    CHECK(payload_pack(noise, sizeof(noise), &packed, &plen) == 0 && !packed, "incompressible bytes are stored as they are");
    return CHECK_DONE();
}
