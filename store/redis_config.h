/*
 * redis_config: is the Redis hookd writes to one that keeps what it is
 * given? Two settings make it lose work silently: a maxmemory-policy other
 * than noeviction (Redis then deletes keys, schedules included, when full)
 * and no persistence at all (a restart empties it). hookd reads them when
 * the connection becomes ready and every minute after, and warns loudly:
 * a log line when they change, hookd_redis_config_warning, and /readyz.
 * Redis with CONFIG disabled (a managed service) is reported as unknown.
 */
#ifndef HOOKD_REDIS_CONFIG_H
#define HOOKD_REDIS_CONFIG_H

#include <stddef.h>

struct event_base;

enum redis_warning {
    REDIS_WARN_EVICTS = 1,         /* maxmemory-policy is not noeviction */
    REDIS_WARN_NOT_PERSISTENT = 2, /* appendonly no and no RDB save points */
    REDIS_WARN_UNKNOWN = 4,        /* CONFIG GET refused: cannot tell */
};

int redis_config_start(struct event_base *base);
/* Run a check now (the store calls it each time the connection is ready). */
void redis_config_check(void);
unsigned redis_config_warnings(void);
/* Redis's hash-max-listpack-value (64 until read; clamped to 64-2048): a
 * payload stored in its event hash is cut into chunks of this size, so a
 * Redis configured with a larger value stores it in fewer fields. */
int redis_config_payload_chunk(void);
/* The warnings as text, "; "-separated, into out; "" when none. */
void redis_config_describe(char *out, size_t len);
void redis_config_free(void);

#endif
