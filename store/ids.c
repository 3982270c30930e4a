#include "store/ids.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char hex[] = "0123456789abcdef";

static void id_format(char out[ID_LEN + 1], const uint8_t b[16])
{
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

/* Random bits come from a buffer refilled from OpenSSL, so an id costs a
 * memcpy instead of a RAND_bytes call; ids need uniqueness, not secrecy. */
static uint8_t pool[4096];
static size_t pool_pos = sizeof(pool);

static void rand_fill(uint8_t *dst, size_t n)
{
    if (pool_pos + n > sizeof(pool)) {
        if (RAND_bytes(pool, sizeof(pool)) != 1) {
            /* OpenSSL's CSPRNG failing is not recoverable; ids must stay unique */
            fprintf(stderr, "{\"level\":\"error\",\"msg\":\"RAND_bytes failed\"}\n");
            abort();
        }
        pool_pos = 0;
    }
    memcpy(dst, pool + pool_pos, n);
    pool_pos += n;
}

static void id_bytes(uint8_t b[16], int64_t ms)
{
    /* Monotonic: within one millisecond, 12-bit rand_a acts as a counter. */
    static int64_t last_ms;
    static uint16_t seq;
    rand_fill(b, 16);
    if (ms <= last_ms) {
        ms = last_ms;
        if (++seq > 0xfff) {
            ms = ++last_ms;
            seq = 0;
        }
    } else {
        last_ms = ms;
        seq = (uint16_t)((b[6] << 8 | b[7]) & 0x3ff); /* room to count up */
    }
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (seq >> 8));
    b[7] = (uint8_t)(seq & 0xff);
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
}

void id_new(char out[ID_LEN + 1], int64_t ms)
{
    uint8_t b[16];
    id_bytes(b, ms);
    id_format(out, b);
}

void id_new_event(char out[ID_LEN + 1], int64_t ms)
{
    uint8_t b[16];
    id_bytes(b, ms);
    b[14] = b[15] = 0; /* the event's deliveries count up from here */
    id_format(out, b);
}

void id_floor(char out[ID_LEN + 1], int64_t ms)
{
    uint8_t b[16] = {0};
    if (ms < 0)
        ms = 0;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    id_format(out, b);
}

int id_valid(const char *s)
{
    if (!s || strlen(s) != ID_LEN)
        return 0;
    for (int i = 0; i < ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

int64_t id_time(const char *id)
{
    int64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8)
            continue;
        char c = id[i];
        ms = ms * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    return ms;
}

int random_token(char *out, size_t outlen, const char *prefix, size_t nbytes)
{
    uint8_t b[64];
    size_t pl = strlen(prefix);
    if (nbytes > sizeof(b) || outlen < pl + 2 * nbytes + 1)
        return -1;
    if (RAND_bytes(b, (int)nbytes) != 1)
        return -1;
    memcpy(out, prefix, pl);
    for (size_t i = 0; i < nbytes; i++) {
        out[pl + 2 * i] = hex[b[i] >> 4];
        out[pl + 2 * i + 1] = hex[b[i] & 15];
    }
    out[pl + 2 * nbytes] = '\0';
    return 0;
}
