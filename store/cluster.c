#include "store/cluster.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CRC16-CCITT (XMODEM), the variant Redis Cluster uses; table-driven, as
 * cluster_tag() runs it many times. */
static uint16_t crc_table[256];

static uint16_t crc16_more(uint16_t crc, const char *s, size_t n)
{
    if (!crc_table[1])
        for (int i = 0; i < 256; i++) {
            uint16_t c = (uint16_t)(i << 8);
            for (int b = 0; b < 8; b++)
                c = c & 0x8000 ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
            crc_table[i] = c;
        }
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ (uint8_t)s[i]) & 0xff]);
    return crc;
}

static uint16_t crc16(const char *s, size_t n)
{
    return crc16_more(0, s, n);
}

unsigned cluster_keyslot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) & (CLUSTER_SLOTS - 1);
    }
    return crc16(key, len) & (CLUSTER_SLOTS - 1);
}

void cluster_tag(int p, int partitions, char out[KEY_TAG_MAX])
{
    /* exactly the middle slot of the p-th span: about 16,384 tries (CRC16
     * spreads the suffixes evenly), each the CRC of "<p>." carried on over
     * the digits of n */
    long target = (2L * p + 1) * CLUSTER_SLOTS / (2L * partitions), best = 0, best_d = CLUSTER_SLOTS;
    int head = snprintf(out, KEY_TAG_MAX, "%d.", p);
    uint16_t base = crc16(out, (size_t)head);
    for (long n = 0; n < 4L * 1024 * 1024; n++) {
        char digits[24];
        int len = 0;
        for (long v = n; len == 0 || v > 0; v /= 10)
            digits[sizeof(digits) - 1 - len++] = (char)('0' + v % 10);
        long d = labs((long)(crc16_more(base, digits + sizeof(digits) - len, (size_t)len) & (CLUSTER_SLOTS - 1)) -
                      target);
        if (d < best_d)
            best = n, best_d = d;
        if (d == 0)
            break;
    }
    snprintf(out, KEY_TAG_MAX, "%d.%ld", p, best);
}

int cluster_parse_slots(const redisReply *r, struct cluster_range *out, int max)
{
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return -1;
    int n = 0;
    for (size_t i = 0; i < r->elements && n < max; i++) {
        const redisReply *e = r->element[i];
        /* {first, last, {host, port, id, ...} master, replicas...} */
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || e->element[0]->type != REDIS_REPLY_INTEGER ||
            e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY)
            continue;
        const redisReply *m = e->element[2];
        if (m->elements < 2 || m->element[0]->type != REDIS_REPLY_STRING || m->element[1]->type != REDIS_REPLY_INTEGER)
            continue;
        struct cluster_range *c = &out[n];
        c->first = (int)e->element[0]->integer;
        c->last = (int)e->element[1]->integer;
        if (c->first < 0 || c->last >= CLUSTER_SLOTS || c->first > c->last)
            continue;
        snprintf(c->host, sizeof(c->host), "%s", m->element[0]->str);
        c->port = (int)m->element[1]->integer;
        n++;
    }
    return n;
}

int cluster_redirect(const char *err, int *slot, char host[256], int *port)
{
    int kind = strncmp(err, "MOVED ", 6) == 0 ? 1 : strncmp(err, "ASK ", 4) == 0 ? 2 : 0;
    if (!kind)
        return 0;
    const char *s = strchr(err, ' ') + 1;
    char *end;
    long sl = strtol(s, &end, 10);
    if (end == s || *end != ' ' || sl < 0 || sl >= CLUSTER_SLOTS)
        return 0;
    const char *addr = end + 1, *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= 256)
        return 0; /* an empty host means the node that answered */
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = atoi(colon + 1);
    *slot = (int)sl;
    return *port > 0 && *port < 65536 ? kind : 0;
}
