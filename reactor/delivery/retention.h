/*
 * retention: removes what finished longer than `retention` ago
 * (store/lua/prune.lua), so Redis levels off under a steady load.
 *
 * Every second one partition, in turn, gets a pruning call; a call
 * that found a full batch is followed at once by another for the same
 * partition until it comes back short. Each call removes at most
 * PRUNE_BATCH records, so no Redis call runs long; the script is atomic,
 * so processes pruning side by side never remove a record twice. Idle, it
 * costs one script call (four commands) a second per process.
 */
#ifndef HOOKD_RETENTION_H
#define HOOKD_RETENTION_H

#include <stdint.h>

struct conf;
struct event_base;

enum prune_kind { PRUNED_DELIVERY, PRUNED_EVENT, PRUNED_CANCELED, PRUNED_KIND_COUNT };

struct retention_stats {
    unsigned long long pruned[PRUNED_KIND_COUNT]; /* CANCELED: deliveries canceled, not removed */
    double oldest_age_s; /* the oldest finished record still kept, as last seen; 0 when none */
};

int retention_start(struct event_base *base, const struct conf *c);
void retention_stats(struct retention_stats *out);
void retention_free(void);

#endif
