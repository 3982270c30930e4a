/*
 * retry: when the next attempt of a failed delivery happens.
 *
 * conf.retry_schedule lists the delay before each attempt: entry 0 before
 * the first (normally 0), entry k after the k-th failure. A delivery that
 * has used every entry is errored. Delays get +-retry_jitter_pct of jitter
 * so a receiver that comes back is not hit by every retry at once.
 */
#ifndef HOOKD_RETRY_H
#define HOOKD_RETRY_H

#include <stdint.h>

struct conf;

/* Delay after `attempts` failed attempts, or -1 when the schedule is spent.
 * `rnd` is any 32-bit random value. */
int64_t retry_delay(const struct conf *c, int attempts, uint32_t rnd);
/* A Retry-After header (seconds or HTTP date) as a delay in ms, clamped to
 * [1s, retry_after_max]; -1 when absent or unparsable. */
int64_t retry_after_delay(const struct conf *c, const char *value, int64_t now);

#endif
