#include "store/ingest.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/log.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/loop_pass.h"
#include "store/notice.h"
#include "store/redis.h"
#include "store/redis_config.h"
#include "store/scripts.h"
#include "store/subscriptions.h"

#define IDEMPOTENCY_TTL_S "86400"
/* ingest.lua's header arguments before the events: offer, lease_ms, idem_ttl_s, payload chunk */
#define HEADER_ARGS 4

/* A match went stale this many times in a row (its org's endpoints kept
 * changing under it): the producer gets 503 and retries. */
#define STALE_TRIES_MAX 3

/* One queued event; its values live in the same allocation, but for its
 * match (store/subscriptions.h), which it owns. */
struct item {
    struct item *next;
    ingest_done_cb cb;
    void *arg;
    int partition;
    int stale_tries;
    struct subs_match match;
    const char *v[INGEST_FIELDS];
    size_t len[INGEST_FIELDS];
    const char *payload; /* the producer's JSON, for filters */
    size_t payload_len;
};

struct queue {
    struct item *head, **tail;
    int n;
    int in_flight; /* its calls awaiting their reply */
    double fanout; /* recent deliveries per event in this partition */
};

/* One ingest.lua call in flight: owns its items until the reply. */
struct batch {
    int partition;
    int n;
    long offered;
    struct item *items;
};

static struct {
    int pass;                /* its flush at the next loop pass (store/loop_pass.h) */
    int partitions;
    struct ingest_handoff h;
    struct queue *q;         /* owned, one per partition */
    struct item *parked;     /* owned: events whose org is being loaded (subscriptions.h) */
    unsigned long long calls, events;
} IG;

static void item_free(struct item *it)
{
    free(it->match.ids);
    free(it);
}

/* Every item is answered with the call's failure. */
static void free_items(struct item *it, const redisReply *error)
{
    struct ingest_result failed = {.answered = 0, .error = error};
    while (it) {
        struct item *next = it->next;
        it->cb(it->arg, &failed);
        item_free(it);
        it = next;
    }
}

static void enqueue(struct item *it);

/* Match the event to its org's endpoints, then queue it; or park it until
 * the org is loaded. */
static void route(struct item *it)
{
    free(it->match.ids);
    it->match.ids = NULL;
    int r = subs_match(it->v[INGEST_ORG], it->v[INGEST_TYPE], it->payload, it->payload_len, &it->match);
    if (r < 0) {
        it->next = NULL;
        free_items(it, NULL);
        return;
    }
    if (r == 0) {
        it->next = IG.parked;
        IG.parked = it;
        return;
    }
    it->v[INGEST_ROUTES_VERSION] = it->match.version, it->len[INGEST_ROUTES_VERSION] = strlen(it->match.version);
    it->v[INGEST_ENDPOINTS] = it->match.ids, it->len[INGEST_ENDPOINTS] = it->match.n * ID_LEN;
    /* hookd's own notices (hookd.* types, which producers cannot post) are not held to the org's rate_limit */
    int limited = it->match.org_limited && strncmp(it->v[INGEST_TYPE], NOTICE_PREFIX, strlen(NOTICE_PREFIX)) != 0;
    it->v[INGEST_ORG_LIMITED] = limited ? "1" : "", it->len[INGEST_ORG_LIMITED] = (size_t)limited;
    enqueue(it);
}

/* An org's load ended: its parked events are matched now, or fail. */
static void on_org_loaded(const char *org, int ok)
{
    struct item *mine = NULL;
    for (struct item **p = &IG.parked; *p;) {
        struct item *it = *p;
        if (strcmp(it->v[INGEST_ORG], org) == 0) {
            *p = it->next;
            it->next = mine;
            mine = it;
        } else {
            p = &it->next;
        }
    }
    if (!ok) {
        free_items(mine, NULL);
        return;
    }
    for (struct item *it = mine, *next; it; it = next) {
        next = it->next;
        route(it);
    }
}

#define UNEXPECTED "ERR unexpected reply shape from ingest.lua"
static const redisReply unexpected = {.type = REDIS_REPLY_ERROR, .str = UNEXPECTED, .len = sizeof(UNEXPECTED) - 1};

static int is(const redisReply *e, size_t i, int type)
{
    return i < e->elements && e->element[i]->type == type;
}

/* An event's entry: its INGEST_REPLY_FIELDS (for a reused key or a stale
 * match, only the status and the event id); 0 when it has another shape. */
static int read_entry(const redisReply *e, struct ingest_result *res)
{
    memset(res, 0, sizeof(*res));
    if (e->type != REDIS_REPLY_ARRAY || !is(e, INGR_STATUS, REDIS_REPLY_INTEGER) || !is(e, INGR_EVENT_ID, REDIS_REPLY_STRING))
        return 0;
    res->answered = 1;
    res->status = (enum ingest_status)e->element[INGR_STATUS]->integer;
    res->event_id = e->element[INGR_EVENT_ID]->str;
    if (res->status == INGEST_KEY_REUSED || res->status == INGEST_STALE || res->status == INGEST_GONE)
        return 1;
    if (res->status == INGEST_LIMITED) {
        res->retry_after_s = is(e, INGR_RETRY_AFTER, REDIS_REPLY_INTEGER) ? e->element[INGR_RETRY_AFTER]->integer : 1;
        return 1;
    }
    if ((res->status != INGEST_STORED && res->status != INGEST_REPLAYED) ||
        !is(e, INGR_WEBHOOK_COUNTER, REDIS_REPLY_STRING) || !is(e, INGR_DELIVERY_IDS, REDIS_REPLY_STRING) ||
        !is(e, INGR_SCHEDULED, REDIS_REPLY_INTEGER) || !is(e, INGR_LEASED, REDIS_REPLY_INTEGER))
        return 0;
    res->webhook_counter = e->element[INGR_WEBHOOK_COUNTER]->str;
    res->delivery_ids = e->element[INGR_DELIVERY_IDS]->str;
    return 1;
}

/* What a batch's reply says, read in one pass over its entries. */
struct batch_reply {
    struct lease **leased; /* owned array; each lease goes to the pump */
    long nleased;          /* in the array */
    long leased_by_script; /* in the reply (more when some could not be read) */
    long scheduled;        /* deliveries put on the schedule instead */
};

/* The lease of one hand-off (HANDOFF_FIELDS at h) of the event `it`: its
 * endpoint's record in `eps` (the reply's last element), its own fields,
 * and the event's id and payload as hookd sent them. NULL when it cannot be
 * read (its lease then expires and claim.lua sends it). */
static struct lease *handoff_lease(redisReply *const *h, const redisReply *eps, const struct item *it, int partition)
{
    for (int f = 0; f < HANDOFF_FIELDS; f++)
        if (h[f]->type != (f == HANDOFF_ENDPOINT ? REDIS_REPLY_INTEGER : REDIS_REPLY_STRING))
            return NULL;
    long long at = h[HANDOFF_ENDPOINT]->integer;
    if (at < 0 || (unsigned long long)(at + 1) * LEASE_FIELDS > eps->elements)
        return NULL;
    const char *v[LEASE_FIELDS];
    size_t len[LEASE_FIELDS];
    if (lease_record_values(eps->element + (size_t)at * LEASE_FIELDS, v, len) < 0)
        return NULL;
    static const int own[][2] = {
        {LEASE_ID, HANDOFF_ID}, {LEASE_FENCE, HANDOFF_FENCE}, {LEASE_SIMPLE, HANDOFF_SIMPLE}, {LEASE_QUEUE, HANDOFF_QUEUE}};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        v[own[i][0]] = h[own[i][1]]->str, len[own[i][0]] = h[own[i][1]]->len;
    v[LEASE_EVENT_ID] = it->v[INGEST_EVENT_ID], len[LEASE_EVENT_ID] = it->len[INGEST_EVENT_ID];
    v[LEASE_PAYLOAD] = it->payload, len[LEASE_PAYLOAD] = it->payload_len;
    v[LEASE_TRIES] = v[LEASE_ATTEMPT_COUNT] = "0", len[LEASE_TRIES] = len[LEASE_ATTEMPT_COUNT] = 1;
    return lease_build(v, len, partition, IG.h.max_payload);
}

/* Each entry's INGR_LEASED hand-offs follow its INGEST_REPLY_FIELDS; their
 * leases go to the pump as one array. */
static void read_reply(const redisReply *rep, const struct batch *b, struct batch_reply *out)
{
    memset(out, 0, sizeof(*out));
    const redisReply *eps = rep->element[b->n];
    const struct item *it = b->items;
    for (size_t i = 0; i < (size_t)b->n; i++, it = it->next) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_ARRAY || !is(e, INGR_SCHEDULED, REDIS_REPLY_INTEGER) ||
            !is(e, INGR_LEASED, REDIS_REPLY_INTEGER))
            continue;
        long n = (long)e->element[INGR_LEASED]->integer;
        out->scheduled += (long)e->element[INGR_SCHEDULED]->integer;
        if (n <= 0 || INGEST_REPLY_FIELDS + (size_t)n * HANDOFF_FIELDS != e->elements)
            continue;
        out->leased_by_script += n;
        struct lease **grown = realloc(out->leased, (size_t)(out->nleased + n) * sizeof(*grown));
        if (!grown)
            continue; /* their leases expire and claim.lua sends them */
        out->leased = grown;
        for (long k = 0; k < n; k++) {
            struct lease *l =
                handoff_lease(e->element + INGEST_REPLY_FIELDS + (size_t)k * HANDOFF_FIELDS, eps, it, b->partition);
            if (l)
                out->leased[out->nleased++] = l;
        }
    }
}

/* how many events the next call of partition p may carry */
static int batch_limit(int p)
{
    double f = IG.q[p].fanout < 1 ? 1 : IG.q[p].fanout;
    int n = (int)(INGEST_DELIVERIES_MAX / f);
    return n < 1 ? 1 : n > INGEST_BATCH_MAX ? INGEST_BATCH_MAX : n;
}

static void send_batch(int p);

/* A call of partition p answered: what queued behind it goes at the next
 * pass, with whatever else that pass brings. */
static void call_answered(int p)
{
    struct queue *q = &IG.q[p];
    q->in_flight--;
    if (q->n && loop_pass_want(IG.pass) < 0)
        send_batch(p);
}

static void on_batch(redisReply *rep, void *priv)
{
    struct batch *b = priv;
    /* an entry per event, then the hand-offs' endpoints */
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)b->n + 1 &&
             rep->element[b->n]->type == REDIS_REPLY_ARRAY;
    struct batch_reply br = {0};
    /* replies come before ingest_free: store_close answers later ones with NULL */
    if (IG.q)
        call_answered(b->partition);
    if (ok) {
        read_reply(rep, b, &br);
        struct queue *q = &IG.q[b->partition];
        q->fanout = 0.5 * q->fanout + 0.5 * (double)(br.scheduled + br.leased_by_script) / (double)b->n;
    }
    if (ok) {
        size_t i = 0;
        for (struct item *it = b->items, *next; it; it = next, i++) {
            next = it->next;
            struct ingest_result res;
            if (!read_entry(rep->element[i], &res))
                res = (struct ingest_result){.answered = 0, .error = &unexpected};
            if (res.answered && res.status == INGEST_STALE && ++it->stale_tries <= STALE_TRIES_MAX) {
                subs_stale(it->v[INGEST_ORG], it->match.version);
                route(it); /* matched again against the org as it is now */
                continue;
            }
            if (res.answered && res.status == INGEST_STALE)
                res = (struct ingest_result){.answered = 0, .error = NULL};
            it->cb(it->arg, &res);
            item_free(it);
        }
    } else {
        if (rep && rep->type != REDIS_REPLY_ERROR)
            LOG_ERR("ingest: unexpected reply shape", NULL);
        free_items(b->items, rep && rep->type == REDIS_REPLY_ERROR ? rep : NULL);
    }
    /* after the producers are answered: a draining pump may end the loop here */
    IG.h.settle(b->offered, br.leased, br.nleased);
    free(br.leased);
    if (br.scheduled > 0)
        IG.h.wake(b->partition);
    free(b);
}

static void send_batch(int p)
{
    struct queue *q = &IG.q[p];
    struct batch *b = malloc(sizeof(*b));
    size_t argc = 1 + HEADER_ARGS + (size_t)q->n * INGEST_FIELDS;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *lens = malloc(argc * sizeof(*lens));
    char prefix[KEY_PREFIX_MAX], offer[24], lease[24] = "0";
    struct item *items = q->head;
    int n = q->n;
    q->head = NULL, q->tail = &q->head, q->n = 0;
    if (!b || !argv || !lens)
        goto fail;
    b->partition = p, b->n = n, b->items = items;
    b->offered = IG.h.offer(lease, n);
    snprintf(offer, sizeof(offer), "%ld", b->offered);
    key_prefix(prefix, p);
    size_t a = 0;
    char chunk[16];
    snprintf(chunk, sizeof(chunk), "%d", redis_config_payload_chunk());
    argv[a++] = prefix, argv[a++] = offer, argv[a++] = lease, argv[a++] = IDEMPOTENCY_TTL_S, argv[a++] = chunk;
    for (size_t i = 0; i < a; i++)
        lens[i] = strlen(argv[i]);
    for (struct item *it = items; it; it = it->next)
        for (int f = 0; f < INGEST_FIELDS; f++, a++)
            argv[a] = it->v[f], lens[a] = it->len[f];
    IG.calls++, IG.events += (unsigned long long)n;
    if (store_script(SCRIPT_INGEST, on_batch, b, 1, (int)argc, argv, lens) < 0) {
        IG.h.settle(b->offered, NULL, 0);
        goto fail;
    }
    q->in_flight++;
    free(argv); /* the store copied the arguments */
    free(lens);
    return;
fail:
    free(b);
    free(argv);
    free(lens);
    free_items(items, NULL);
}

static void on_pass(void *arg)
{
    (void)arg;
    for (int p = 0; p < IG.partitions; p++)
        if (IG.q[p].n && IG.q[p].in_flight < LOOP_PASS_CALLS_IN_FLIGHT)
            send_batch(p);
}

int ingest_start(struct event_base *base, int partitions, const struct ingest_handoff *h)
{
    IG.partitions = partitions;
    IG.h = *h;
    IG.q = calloc((size_t)partitions, sizeof(*IG.q));
    IG.pass = loop_pass_add(on_pass, NULL);
    if (!IG.q || IG.pass < 0 || subs_start(partitions, on_org_loaded) < 0) {
        ingest_free();
        return -1;
    }
    for (int p = 0; p < partitions; p++)
        IG.q[p].tail = &IG.q[p].head, IG.q[p].fanout = 1;
    return 0;
}

/* The fields this layer fills in itself (route). */
static int is_routing(int f)
{
    return f == INGEST_ROUTES_VERSION || f == INGEST_ENDPOINTS || f == INGEST_ORG_LIMITED;
}

int ingest_submit(int partition, const char *const v[INGEST_FIELDS], const size_t len[INGEST_FIELDS],
                  const char *payload, size_t payload_len, ingest_done_cb cb, void *arg)
{
    if (!IG.q || partition < 0 || partition >= IG.partitions)
        return -1;
    size_t lens[INGEST_FIELDS], total = sizeof(struct item);
    for (int f = 0; f < INGEST_FIELDS; f++)
        total += (lens[f] = is_routing(f) || !v[f] ? 0 : len && len[f] ? len[f] : strlen(v[f])) + 1; /* NULL: "" */
    total += payload_len + 1;
    struct item *it = malloc(total);
    if (!it)
        return -1;
    char *p = (char *)(it + 1);
    for (int f = 0; f < INGEST_FIELDS; f++) {
        if (lens[f])
            memcpy(p, v[f], lens[f]);
        p[lens[f]] = '\0';
        it->v[f] = p, it->len[f] = lens[f];
        p += lens[f] + 1;
    }
    memcpy(p, payload, payload_len);
    p[payload_len] = '\0';
    it->payload = p, it->payload_len = payload_len;
    it->cb = cb, it->arg = arg, it->next = NULL;
    it->partition = partition, it->stale_tries = 0;
    memset(&it->match, 0, sizeof(it->match));
    if (it->len[INGEST_TEST_ENDPOINT]) { /* a test send: its one endpoint, checked by ingest.lua */
        it->v[INGEST_ENDPOINTS] = it->v[INGEST_TEST_ENDPOINT], it->len[INGEST_ENDPOINTS] = it->len[INGEST_TEST_ENDPOINT];
        it->v[INGEST_ORG_LIMITED] = "1", it->len[INGEST_ORG_LIMITED] = 1; /* held to the org's rate_limit, if any */
        enqueue(it);
        return 0;
    }
    route(it);
    return 0;
}

static void enqueue(struct item *it)
{
    int partition = it->partition;
    it->next = NULL;
    struct queue *q = &IG.q[partition];
    *q->tail = it, q->tail = &it->next;
    if (++q->n >= batch_limit(partition))
        send_batch(partition);
    else if (loop_pass_queued(IG.pass, q->in_flight) < 0)
        send_batch(partition); /* cannot wait for the next pass: alone */
}

/* Parked events are not counted: none of them is in Redis yet, and one
 * whose org fails to load is answered with no call to settle. */
int ingest_busy(void)
{
    for (int p = 0; IG.q && p < IG.partitions; p++)
        if (IG.q[p].n || IG.q[p].in_flight)
            return 1;
    return 0;
}

void ingest_counts(unsigned long long *calls, unsigned long long *events)
{
    *calls = IG.calls, *events = IG.events;
}

void ingest_free(void)
{
    for (int p = 0; IG.q && p < IG.partitions; p++) {
        free_items(IG.q[p].head, NULL);
        IG.q[p].head = NULL;
    }
    free_items(IG.parked, NULL);
    IG.parked = NULL;
    free(IG.q);
    IG.q = NULL;
}
