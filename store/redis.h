/*
 * redis: hookd's connections to Redis, asynchronous, on the loop: one to a
 * single Redis, or one to each master of a Redis Cluster (the kind is asked
 * of the redis_url node with CLUSTER SLOTS when it first connects). In a
 * cluster each call goes to the master of its first key's slot, follows
 * MOVED (and learns the new map) and ASK, and is retried on TRYAGAIN; a
 * disconnect or MOVED refreshes the map, so a failover is followed.
 *
 * Commands are pipelined by hiredis. The connection is "ready" once it is
 * up and every Lua script is loaded; until then, and while Redis is away,
 * store_command() refuses work (callers answer 503) and a backoff timer
 * reconnects. A command whose reply is later than redis_timeout drops the
 * connection, so no caller waits forever.
 *
 * Contract of every call here: when it returns 0 the callback runs exactly
 * once, with the reply, or with NULL if the connection was lost first; when
 * it returns -1 the callback never runs and the caller still owns `priv`.
 */
#ifndef HOOKD_REDIS_H
#define HOOKD_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "store/scripts.h"

struct event_base;
struct conf;

typedef void (*store_cb)(redisReply *reply, void *priv);

int store_init(struct event_base *base, const struct conf *c);
void store_close(void);
int store_ready(void);
/* Some calls can be sent: with a single Redis the same as store_ready(); in
 * a cluster that has been wholly ready once, while at least one master is
 * (a call whose master is not is refused alone, so a failover pauses only
 * that master's partitions). */
int store_usable(void);
/* The address of the i-th node (modulo their number) that owns slots now
 * (a single Redis: the one); 0, or -1 when none is known yet. */
int store_node_addr(int i, char *host, size_t hostlen, int *port);
/* fn is called each time the store becomes ready (first time and after a
 * reconnect), e.g. to wake the pump; up to 4 of them. 0, or -1 when full. */
int store_on_ready(void (*fn)(void *), void *arg);

/* A command routed by its key, argv[1] (in a cluster, to that key's master). */
int store_command(store_cb cb, void *priv, int argc, const char **argv, const size_t *lens);
/* A command without a key (CONFIG GET) sent to every Redis that owns slots:
 * cb runs once per node. How many it went to, or -1 when the store is down. */
int store_command_each(store_cb cb, void *priv, int argc, const char **argv);
/* EVALSHA of script `id` with `nkeys` keys followed by arguments; falls back
 * to EVAL (and reloads scripts) on NOSCRIPT. `lens` NULL: the arguments are
 * NUL-terminated strings. */
int store_script(enum script_id id, store_cb cb, void *priv, int nkeys, int argc,
                 const char **argv, const size_t *lens);

/* Subscriptions (store/wake.c; the Sentinel's +switch-master inside the
 * store) are connections of the same manager: reconnected with the store's
 * backoff, to the server `address` names for each attempt (attempt counts
 * up: the next one after a failure), their connects bounded by
 * redis_timeout, and left for the next server when the store loses theirs.
 * on_message(NULL) after each (re)subscribe: what was published meanwhile
 * is lost. */
struct store_subscription;
typedef int (*store_address_fn)(int attempt, char *host, size_t hostlen, int *port, void *arg);
typedef void (*store_message_fn)(const redisReply *msg, void *arg);
struct store_subscription *store_subscribe(const char *channel, store_address_fn address, store_message_fn on_message,
                                           void *arg);
void store_unsubscribe(struct store_subscription *s);

/* The value element of a field in an HGETALL-shaped reply (binary-safe: it
 * has a length); NULL when absent or not a string. */
const redisReply *flat_reply(const redisReply *flat, const char *name);
/* The same as a C string: a field of an HGETALL-shaped array reply. */
const char *flat_get(const redisReply *flat, const char *name);

/* Round trips in flight and a running count of commands sent (metrics). */
long store_pending(void);
unsigned long long store_commands_sent(void);
double store_rtt_avg_ms(void);

#endif
