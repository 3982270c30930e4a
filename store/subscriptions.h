/*
 * subscriptions: each org's endpoints as hookd matches events to them,
 * cached in the process and versioned.
 *
 * An org's entry holds every endpoint id with the event types it takes,
 * indexed by type, its filter compiled (store/filter.h), and the org's routes version (P:org:<org>:ver,
 * store/lua/lib/routes.lua) as read when the entry was loaded. Every script
 * that adds, removes, retypes or refilters an endpoint bumps that version, and
 * ingest.lua refuses an event matched under another one (INGEST_STALE) in
 * the same atomic step as its writes; store/ingest.c then drops the entry
 * and matches the event again. So a stale entry costs a retry, never a
 * wrong fan-out: an event goes to exactly the endpoints subscribed when it
 * was stored, whichever process changed them a moment before.
 *
 * An entry is loaded a page at a time (subs_load.lua), so an org with many
 * endpoints never holds Redis for long; events of an org being loaded wait
 * for it. Entries not used for SUBS_IDLE_MS are dropped when the cache is
 * over SUBS_MAX_ORGS.
 */
#ifndef HOOKD_STORE_SUBSCRIPTIONS_H
#define HOOKD_STORE_SUBSCRIPTIONS_H

#include <stddef.h>

#define SUBS_MAX_ORGS 10000
#define SUBS_IDLE_MS 60000

/* The endpoints an event goes to: their ids, ID_LEN characters each with
 * no separator, in creation order (owned: free(ids)), and the version they
 * were matched under. */
struct subs_match {
    char version[24];
    int org_limited;     /* the org has a rate_limit: ingest.lua checks it (INGEST_ORG_LIMITED) */
    char *ids;
    size_t n;
};

/* An org's entry was loaded (ok), or could not be (Redis unavailable). */
typedef void (*subs_loaded_cb)(const char *org, int ok);

/* partitions: conf.partitions; loaded: told of every load that ends. */
int subs_start(int partitions, subs_loaded_cb loaded);
/* The endpoints an event of `type` with this payload (its JSON bytes) goes
 * to: those taking the type whose filter, if any, matches (store/filter.h;
 * the payload is parsed only when one has a filter). 1: matched (out
 * filled); 0: the org is being loaded, ask again once `loaded` has been
 * called for it; -1: out of memory. */
int subs_match(const char *org, const char *type, const char *payload, size_t plen, struct subs_match *out);
/* ingest.lua said the org's endpoints changed since `version`: forget the
 * entry (unless a newer one is already loaded). */
void subs_stale(const char *org, const char *version);
/* Orgs cached and loads made (metrics). */
void subs_counts(unsigned long long *orgs, unsigned long long *loads);
/* After store_close: a load still in flight has been answered by then. */
void subs_free(void);

#endif
