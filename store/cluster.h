/*
 * cluster: what hookd needs to know of Redis Cluster, written here because
 * hiredis 0.14 has no cluster support and Debian 12 packages no C cluster
 * client: a key's hash slot (CRC16, Redis's own rule for {hash tags}), the
 * slot map read from CLUSTER SLOTS, and the partitions' hash tags.
 *
 * Partition tags. With a single Redis a partition's tag is its number,
 * "{7}". In a cluster the numbers' slots fall unevenly on the masters (16
 * partitions over 3 masters made 6/6/4), so there partition p's tag is
 * "<p>.<n>" with the smallest n whose slot is the middle slot of the p-th
 * of `partitions` equal spans of the slot space: a split of the slots into
 * contiguous even ranges, as `redis-cli --cluster create` makes, then gives
 * each master the same number of partitions, plus or minus one
 * (tests/unit/test_cluster.c checks 16 to 1,024 partitions on 1 to 6
 * masters). Finding them costs ~16,000 CRC16s a partition, once, at start.
 */
#ifndef HOOKD_STORE_CLUSTER_H
#define HOOKD_STORE_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "store/keys.h"

#define CLUSTER_SLOTS 16384

/* The slot Redis Cluster puts `key` in: CRC16 of the text inside the first
 * non-empty {...}, or of the whole key. */
unsigned cluster_keyslot(const char *key, size_t len);

/* Partition p's tag in a cluster (without braces). */
void cluster_tag(int p, int partitions, char out[KEY_TAG_MAX]);

/* One master's slot ranges, as CLUSTER SLOTS says. */
struct cluster_range {
    int first, last;
    char host[256];
    int port;
};

/* CLUSTER SLOTS's reply -> up to max ranges; their count, or -1 when the
 * reply is not a slot map (an error: cluster support disabled). */
int cluster_parse_slots(const redisReply *r, struct cluster_range *out, int max);

/* "MOVED 3999 127.0.0.1:6381" or "ASK ...": 1 moved, 2 ask, 0 neither. */
int cluster_redirect(const char *err, int *slot, char host[256], int *port);

#endif
