/*
 * store/cluster.c: a key's slot agrees with Redis's own CLUSTER KEYSLOT
 * (hash-tag edge cases included), MOVED/ASK errors parse, and the cluster
 * partition tags spread evenly: for 1 to 6 masters splitting the slots as
 * `redis-cli --cluster create` does, each master owns the same number of
 * partitions plus or minus one (the table is printed).
 */
#include <stdio.h>
#include <string.h>
#include <math.h>

#include "store/cluster.h"
#include "tests/unit/check.h"
#include "tests/unit/redis_child.h"

static void keyslot_matches_redis(redisContext *rc)
{
    const char *keys[] = {"", "a", "hookd:{7}:ev:1", "hookd:{g}:token:x", "{user1000}.following", "foo{}{bar}",
                          "foo{{bar}}zap", "foo{bar}{zap}", "{}", "{", "}", "x{y", "hookd:{3.41}:stats",
                          "123456789", "\xff\xfe{\x01}"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        redisReply *r = redisCommand(rc, "CLUSTER KEYSLOT %b", keys[i], strlen(keys[i]));
        CHECK(r && r->type == REDIS_REPLY_INTEGER, "CLUSTER KEYSLOT '%s': %s", keys[i],
              r && r->type == REDIS_REPLY_ERROR ? r->str : "no integer");
        if (r && r->type == REDIS_REPLY_INTEGER)
            CHECK(cluster_keyslot(keys[i], strlen(keys[i])) == (unsigned)r->integer, "'%s': %u != redis %lld",
                  keys[i], cluster_keyslot(keys[i], strlen(keys[i])), r->integer);
        freeReplyObject(r);
    }
}

static void redirects_parse(void)
{
    char host[256];
    int slot, port;
    CHECK(cluster_redirect("MOVED 3999 127.0.0.1:6381", &slot, host, &port) == 1, "moved");
    CHECK(slot == 3999 && port == 6381 && strcmp(host, "127.0.0.1") == 0, "moved fields");
    CHECK(cluster_redirect("ASK 1 ::1:7000", &slot, host, &port) == 2, "ask");
    CHECK(slot == 1 && port == 7000 && strcmp(host, "::1") == 0, "ask fields");
    CHECK(cluster_redirect("MOVED 5 :7001", &slot, host, &port) == 1 && host[0] == '\0', "empty host");
    CHECK(cluster_redirect("MOVED 16384 h:1", &slot, host, &port) == 0, "slot out of range");
    CHECK(cluster_redirect("ERR something", &slot, host, &port) == 0, "not a redirect");
    CHECK(cluster_redirect("MOVED x h:1", &slot, host, &port) == 0, "bad slot");
}

/* The master owning `slot` when `masters` split the slots as redis-cli's
 * cluster create does (clusterManagerCommandCreate: lround of a running
 * cursor of 16384/masters). */
static int owner(int slot, int masters)
{
    double per = (double)CLUSTER_SLOTS / masters, cursor = 0;
    int first = 0;
    for (int m = 0; m < masters; m++) {
        int last = (int)lround(cursor + per - 1);
        if (last > CLUSTER_SLOTS - 1 || m == masters - 1)
            last = CLUSTER_SLOTS - 1;
        if (slot >= first && slot <= last)
            return m;
        first = last + 1;
        cursor += per;
    }
    return masters - 1;
}

static void partitions_spread(void)
{
    const int counts[] = {16, 64, 256, 1024};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        int P = counts[c], slot[1024];
        for (int p = 0; p < P; p++) {
            char tag[KEY_TAG_MAX];
            cluster_tag(p, P, tag);
            slot[p] = (int)cluster_keyslot(tag, strlen(tag));
        }
        printf("%4d partitions:", P);
        for (int masters = 1; masters <= 6; masters++) {
            int per[6] = {0};
            for (int p = 0; p < P; p++)
                per[owner(slot[p], masters)]++;
            int lo = P, hi = 0;
            printf("  %d:", masters);
            for (int m = 0; m < masters; m++) {
                printf("%s%d", m ? "/" : "", per[m]);
                lo = per[m] < lo ? per[m] : lo;
                hi = per[m] > hi ? per[m] : hi;
            }
            CHECK(hi - lo <= 1, "%d partitions on %d masters: %d..%d", P, masters, lo, hi);
        }
        printf("\n");
    }
}

int main(void)
{
    redirects_parse();
    partitions_spread();
    struct redis_child rs;
    int up = redis_child_start(&rs, 1) == 0;
    CHECK(up, "cannot start a cluster-enabled redis-server");
    if (up)
        keyslot_matches_redis(rs.rc);
    redis_child_stop(&rs);
    return CHECK_DONE();
}
