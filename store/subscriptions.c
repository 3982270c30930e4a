#include "store/subscriptions.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/log.h"
#include "store/filter.h"
#include "store/json.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/redis.h"
#include "store/scripts.h"

#define BUCKETS 4096
#define PAGE 512
#define OPT_IN_PREFIX "hookd." /* hookd's own types go only to endpoints that name them */

/* The endpoints taking one event type, as indexes into org.eps (ascending,
 * so creation order). */
struct type_list {
    char *type; /* owned */
    int *idx;   /* owned */
    int n;
};

/* An indexed filter's (path, key) and its endpoint (filter.h, "Equality
 * index"); an org's entries are sorted by path, then key. */
struct eq_entry {
    const char *path; /* in the endpoint's compiled filter */
    char *key;        /* owned */
    int idx;
};

/* A range-indexed filter's path, bounds and endpoint; sorted by path,
 * then lo. */
struct range_entry {
    const char *path; /* in the endpoint's compiled filter */
    double lo, hi;
    int idx;
};

struct org {
    struct org *next;        /* hash chain */
    char id[ID_LEN + 1];
    char version[24];        /* as the first page of the load read it */
    int limited;             /* the org has a rate_limit (as the first page read it) */
    int ready;               /* loaded and indexed */
    int loading;             /* a page is in flight: the entry is not freed meanwhile */
    int restart;             /* went stale during the load: start again when the page returns */
    char after[ID_LEN + 1];  /* the last id the load has read ("" before the first page) */
    int64_t used_ms;
    char (*eps)[ID_LEN + 1]; /* owned: every endpoint, in creation order */
    char **types;            /* owned, per endpoint while loading: ",a,b," or "" (every type) */
    struct filter **filters; /* owned, per endpoint: its compiled filter, or NULL for none */
    int n, cap;
    struct type_list *by_type; /* owned, sorted by type */
    int ntypes;
    int *every;              /* owned: endpoints taking every type */
    int nevery;
    struct eq_entry *eq;     /* owned: the equality index of the org's filters */
    int neq;
    const char **eq_paths;   /* owned array: the distinct paths of eq */
    int npaths;
    struct range_entry *ranges; /* owned: the range index of the filters eq does not hold */
    int nranges;
    unsigned char *indexed;  /* owned, per endpoint: 1 when its filter is in eq or ranges */
    struct filter_paths *paths; /* owned: the paths the org's filters name, each resolved once per event */
};

static struct {
    struct org *b[BUCKETS];
    int partitions;
    subs_loaded_cb loaded;
    unsigned long long orgs, loads;
} S;

static unsigned bucket(const char *org) { return fnv1a(org) % BUCKETS; }

/* Back to "not loaded": the data goes, the entry stays. */
static void org_clear(struct org *o)
{
    for (int i = 0; i < o->n; i++) {
        free(o->types ? o->types[i] : NULL);
        filter_free(o->filters ? o->filters[i] : NULL);
    }
    for (int t = 0; t < o->ntypes; t++) {
        free(o->by_type[t].type);
        free(o->by_type[t].idx);
    }
    free(o->eps);
    free(o->types);
    free(o->filters);
    free(o->by_type);
    free(o->every);
    for (int i = 0; i < o->neq; i++)
        free(o->eq[i].key);
    free(o->eq);
    free(o->eq_paths);
    free(o->indexed);
    free(o->ranges);
    filter_paths_free(o->paths);
    o->paths = NULL;
    o->eps = NULL, o->types = NULL, o->filters = NULL, o->by_type = NULL, o->every = NULL;
    o->eq = NULL, o->eq_paths = NULL, o->indexed = NULL, o->ranges = NULL;
    o->n = o->cap = o->ntypes = o->nevery = o->neq = o->npaths = o->nranges = 0;
    o->ready = 0;
    o->after[0] = '\0';
}

/* Drop entries idle for SUBS_IDLE_MS (none that is loading). */
static void evict_idle(void)
{
    int64_t cut = now_ms() - SUBS_IDLE_MS; /* idleness: a clock step only evicts early */
    for (int b = 0; b < BUCKETS; b++)
        for (struct org **p = &S.b[b]; *p;) {
            struct org *o = *p;
            if (!o->loading && o->used_ms < cut) {
                *p = o->next;
                org_clear(o);
                free(o);
                S.orgs--;
            } else {
                p = &o->next;
            }
        }
}

static struct org *org_find(const char *org, int create)
{
    unsigned h = bucket(org);
    for (struct org *o = S.b[h]; o; o = o->next)
        if (strcmp(o->id, org) == 0)
            return o;
    if (!create)
        return NULL;
    if (S.orgs >= SUBS_MAX_ORGS)
        evict_idle();
    struct org *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    snprintf(o->id, sizeof(o->id), "%s", org);
    o->next = S.b[h];
    S.b[h] = o;
    S.orgs++;
    return o;
}

/* (type, endpoint index) pairs, sorted, make the index. */
struct pair {
    const char *type;
    size_t len;
    int idx;
};

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->type, y->type, n);
    if (c == 0 && x->len != y->len)
        c = x->len < y->len ? -1 : 1;
    return c ? c : x->idx - y->idx;
}

static int eq_cmp(const void *a, const void *b)
{
    const struct eq_entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : strcmp(x->key, y->key);
}

static int range_cmp(const void *a, const void *b)
{
    const struct range_entry *x = a, *y = b;
    int c = strcmp(x->path, y->path);
    return c ? c : x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* A filter without keys but with numeric bounds (filter_index_range) goes
 * in the range index. */
static int index_range(struct org *o, int i)
{
    struct range_entry r = {.idx = i};
    if (!filter_index_range(o->filters[i], &r.path, &r.lo, &r.hi))
        return 0;
    if (!o->ranges && !(o->ranges = malloc((size_t)o->n * sizeof(*o->ranges))))
        return -1;
    o->ranges[o->nranges++] = r;
    o->indexed[i] = 1;
    return 0;
}

/* The equality index of the org's filters: a filter with keys
 * (filter_index_keys) is tried only on events that hold one of them. */
static int org_index_filters(struct org *o)
{
    struct filter_key keys[FILTER_INDEX_MAX];
    int cap = 0;
    if (o->n && !(o->indexed = calloc((size_t)o->n, 1)))
        return -1;
    if (!(o->paths = filter_paths_new()))
        return -1;
    for (int i = 0; i < o->n; i++) {
        if (!o->filters[i])
            continue;
        if (filter_paths_bind(o->paths, o->filters[i]) < 0)
            return -1;
        int nk = filter_index_keys(o->filters[i], keys);
        if (o->neq + nk > cap) {
            int ncap = cap ? cap * 2 : 64;
            while (ncap < o->neq + nk)
                ncap *= 2;
            struct eq_entry *g = realloc(o->eq, (size_t)ncap * sizeof(*g));
            if (!g)
                return -1;
            o->eq = g, cap = ncap;
        }
        for (int k = 0; k < nk; k++) {
            if (!(o->eq[o->neq].key = strdup(keys[k].key)))
                return -1;
            o->eq[o->neq].path = keys[k].path;
            o->eq[o->neq++].idx = i;
        }
        o->indexed[i] = nk > 0;
        if (nk == 0 && index_range(o, i) < 0)
            return -1;
    }
    if (o->nranges)
        qsort(o->ranges, (size_t)o->nranges, sizeof(*o->ranges), range_cmp);
    if (!o->neq)
        return 0;
    qsort(o->eq, (size_t)o->neq, sizeof(*o->eq), eq_cmp);
    if (!(o->eq_paths = malloc((size_t)o->neq * sizeof(*o->eq_paths))))
        return -1;
    for (int i = 0; i < o->neq; i++)
        if (o->npaths == 0 || strcmp(o->eq_paths[o->npaths - 1], o->eq[i].path))
            o->eq_paths[o->npaths++] = o->eq[i].path;
    return 0;
}

static int org_index(struct org *o)
{
    if (org_index_filters(o) < 0)
        return -1;
    size_t np = 0, cap = 0;
    struct pair *pairs = NULL;
    if (o->n && !(o->every = malloc((size_t)o->n * sizeof(int))))
        return -1;
    for (int i = 0; i < o->n; i++) {
        const char *t = o->types[i];
        if (!t[0]) {
            o->every[o->nevery++] = i;
            continue;
        }
        for (const char *s = t; *s;) {
            size_t len = strcspn(s, ",");
            if (len) {
                if (np == cap) {
                    struct pair *g = realloc(pairs, (cap = cap ? cap * 2 : 64) * sizeof(*g));
                    if (!g)
                        goto fail;
                    pairs = g;
                }
                pairs[np++] = (struct pair){s, len, i};
            }
            s += len + (s[len] == ',');
        }
    }
    if (np)
        qsort(pairs, np, sizeof(*pairs), pair_cmp);
    if (np && !(o->by_type = calloc(np, sizeof(*o->by_type))))
        goto fail;
    for (size_t k = 0; k < np;) {
        size_t e = k;
        while (e < np && pairs[e].len == pairs[k].len && memcmp(pairs[e].type, pairs[k].type, pairs[k].len) == 0)
            e++;
        struct type_list *tl = &o->by_type[o->ntypes++];
        tl->type = strndup(pairs[k].type, pairs[k].len);
        tl->idx = malloc((e - k) * sizeof(int));
        if (!tl->type || !tl->idx)
            goto fail;
        for (size_t q = k; q < e; q++)
            if (tl->n == 0 || tl->idx[tl->n - 1] != pairs[q].idx) /* a type named twice */
                tl->idx[tl->n++] = pairs[q].idx;
        k = e;
    }
    free(pairs);
    for (int i = 0; i < o->n; i++)
        free(o->types[i]);
    free(o->types); /* the index holds what matching needs */
    o->types = NULL;
    return 0;
fail:
    free(pairs);
    return -1;
}

static int load_page(struct org *o);

/* An endpoint's stored filter, compiled; NULL for none. A filter that no
 * longer compiles (the grammar's limits changed) matches nothing. */
static struct filter *compile_stored(const redisReply *text, const char *ep, int *bad)
{
    struct filter *f = NULL;
    char why[160];
    *bad = 0;
    if (text->len == 0)
        return NULL;
    if (filter_compile(text->str, text->len, &f, why, sizeof(why)) < 0) {
        LOG_WARNING("subscriptions: a stored filter does not compile; the endpoint gets nothing", "endpoint_id", ep,
                    "why", why, NULL);
        *bad = 1;
    }
    return f;
}

/* One page of subs_load.lua: {version, limited, id, types, filter, ...}. */
static void on_page(redisReply *rep, void *priv)
{
    struct org *o = priv;
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 && rep->elements % 3 == 2 &&
             rep->element[0]->type == REDIS_REPLY_STRING && rep->element[1]->type == REDIS_REPLY_STRING;
    o->loading = 0;
    if (o->restart) {
        o->restart = 0;
        org_clear(o);
        if (ok) {
            if (load_page(o) < 0)
                on_page(NULL, o);
            return;
        }
    }
    if (ok && o->after[0] == '\0') { /* the first page: its version stands for the load */
        snprintf(o->version, sizeof(o->version), "%s", rep->element[0]->str);
        o->limited = rep->element[1]->str[0] == '1';
    }
    size_t got = ok ? (rep->elements - 2) / 3 : 0;
    if (ok && o->n + (int)got > o->cap) {
        int cap = o->n + (int)got;
        void *e = realloc(o->eps, (size_t)cap * sizeof(*o->eps));
        if (e)
            o->eps = e;
        void *t = e ? realloc(o->types, (size_t)cap * sizeof(*o->types)) : NULL;
        if (t)
            o->types = t;
        void *f = t ? realloc(o->filters, (size_t)cap * sizeof(*o->filters)) : NULL;
        if (f)
            o->filters = f;
        ok = e && t && f;
        if (ok)
            o->cap = cap;
    }
    for (size_t k = 0; ok && k < got; k++) {
        const redisReply *id = rep->element[2 + 3 * k], *types = rep->element[3 + 3 * k],
                         *filter = rep->element[4 + 3 * k];
        int bad;
        if (id->type != REDIS_REPLY_STRING || id->len != ID_LEN || types->type != REDIS_REPLY_STRING ||
            filter->type != REDIS_REPLY_STRING) {
            ok = 0;
            break;
        }
        memcpy(o->after, id->str, ID_LEN + 1);
        o->filters[o->n] = compile_stored(filter, id->str, &bad);
        if (bad)
            continue; /* matches nothing: left out */
        if (!(o->types[o->n] = strdup(types->str))) {
            filter_free(o->filters[o->n]);
            ok = 0;
            break;
        }
        memcpy(o->eps[o->n], id->str, ID_LEN + 1);
        o->n++;
    }
    if (ok && got == PAGE) {
        if (load_page(o) < 0)
            on_page(NULL, o);
        return;
    }
    if (ok && org_index(o) == 0) {
        o->ready = 1;
        S.loads++;
    } else {
        if (rep && rep->type == REDIS_REPLY_ERROR)
            LOG_WARNING("subscriptions: cannot load an org's endpoints", "org_id", o->id, "error", rep->str, NULL);
        org_clear(o);
        ok = 0;
    }
    char org[ID_LEN + 1];
    memcpy(org, o->id, sizeof(org)); /* the callback may drop the entry */
    S.loaded(org, ok);
}

/* 0, or -1 when the call could not be sent (nothing in flight). */
static int load_page(struct org *o)
{
    char prefix[KEY_PREFIX_MAX], limit[16];
    key_prefix(prefix, key_partition(o->id, S.partitions));
    snprintf(limit, sizeof(limit), "%d", PAGE);
    const char *argv[] = {prefix, o->id, o->after, limit};
    o->loading = 1;
    if (store_script(SCRIPT_SUBS_LOAD, on_page, o, 1, 4, argv, NULL) < 0) {
        o->loading = 0;
        return -1;
    }
    return 0;
}

static const struct type_list *find_type(const struct org *o, const char *type)
{
    int lo = 0, hi = o->ntypes - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(o->by_type[mid].type, type);
        if (c == 0)
            return &o->by_type[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

/* What one event's matching works out once, on the first endpoint that
 * needs it: the parsed payload, and which indexed filters hold its keys. */
struct event_view {
    const char *type, *payload;
    size_t plen;
    int parsed, looked_up;
    yajl_val doc;        /* owned */
    unsigned char *hits; /* owned, a bit per endpoint: its indexed filter holds the event's key */
    struct yajl_val_s type_value;
    struct filter_event fe; /* vals and resolved: owned, one block */
};

/* The first entry of eq at (path, key) or after it. */
static int eq_lower_bound(const struct org *o, const char *path, const char *key)
{
    struct eq_entry want = {path, (char *)key, 0};
    int lo = 0, hi = o->neq;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (eq_cmp(&o->eq[mid], &want) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void look_up_keys(const struct org *o, struct event_view *ev)
{
    char key[FILTER_KEY_MAX];
    struct yajl_val_s t;
    ev->looked_up = 1;
    if (!ev->doc || !(ev->hits = calloc((size_t)o->n / 8 + 1, 1)))
        return;
    filter_type_value(&t, ev->type);
    for (int p = 0; p < o->npaths; p++) {
        if (!filter_value_key(filter_resolve(o->eq_paths[p], &t, ev->doc), key))
            continue;
        for (int i = eq_lower_bound(o, o->eq_paths[p], key);
             i < o->neq && !strcmp(o->eq[i].path, o->eq_paths[p]) && !strcmp(o->eq[i].key, key); i++)
            ev->hits[o->eq[i].idx / 8] |= (unsigned char)(1u << (o->eq[i].idx % 8));
    }
    /* ranges, a path at a time, ascending by lo: those with lo <= x, and hi >= x */
    for (int g = 0, e; g < o->nranges; g = e) {
        for (e = g + 1; e < o->nranges && !strcmp(o->ranges[e].path, o->ranges[g].path); e++)
            ;
        yajl_val v = filter_resolve(o->ranges[g].path, &t, ev->doc);
        if (!v || !YAJL_IS_NUMBER(v))
            continue;
        double x = YAJL_GET_DOUBLE(v);
        for (int i = g; i < e && o->ranges[i].lo <= x; i++)
            if (o->ranges[i].hi >= x)
                ev->hits[o->ranges[i].idx / 8] |= (unsigned char)(1u << (o->ranges[i].idx % 8));
    }
}

/* Endpoint k takes the event: no filter, or its filter matches the
 * payload. An indexed filter is tried only when the event holds its key. */
static int passes(const struct org *o, int k, struct event_view *ev)
{
    if (!o->filters[k])
        return 1;
    if (!ev->parsed) {
        char err[64];
        size_t n = (size_t)filter_paths_count(o->paths);
        ev->parsed = 1;
        ev->doc = ev->payload ? json_parse(ev->payload, ev->plen, err, sizeof(err)) : NULL;
        filter_type_value(&ev->type_value, ev->type);
        ev->fe.type = &ev->type_value, ev->fe.payload = ev->doc;
        if (n && (ev->fe.vals = calloc(n, sizeof(*ev->fe.vals) + 1))) /* NULL: resolved each time */
            ev->fe.resolved = (unsigned char *)(ev->fe.vals + n);
    }
    if (!ev->doc)
        return 0;
    if (o->indexed[k]) {
        if (!ev->looked_up)
            look_up_keys(o, ev);
        if (ev->hits && !(ev->hits[k / 8] & (1u << (k % 8))))
            return 0;
    }
    return filter_match_event(o->filters[k], &ev->fe);
}

int subs_match(const char *org, const char *type, const char *payload, size_t plen, struct subs_match *out)
{
    struct org *o = org_find(org, 1);
    if (!o)
        return -1;
    o->used_ms = now_ms();
    if (!o->ready) {
        /* a load that cannot start fails the event now: nothing would
         * answer it later */
        if (!o->loading && load_page(o) < 0) {
            org_clear(o);
            return -1;
        }
        return 0;
    }
    const struct type_list *tl = find_type(o, type);
    int na = tl ? tl->n : 0, nb = strncmp(type, OPT_IN_PREFIX, strlen(OPT_IN_PREFIX)) == 0 ? 0 : o->nevery;
    memset(out, 0, sizeof(*out));
    snprintf(out->version, sizeof(out->version), "%s", o->version);
    out->org_limited = o->limited;
    if (!(out->ids = malloc((size_t)(na + nb) * ID_LEN + 1)))
        return -1;
    char *w = out->ids;
    struct event_view ev = {.type = type, .payload = payload, .plen = plen};
    for (int i = 0, j = 0; i < na || j < nb;) { /* two ascending lists merged: creation order */
        int k = j >= nb || (i < na && tl->idx[i] < o->every[j]) ? tl->idx[i++] : o->every[j++];
        if (!passes(o, k, &ev))
            continue;
        memcpy(w, o->eps[k], ID_LEN);
        w += ID_LEN;
        out->n++;
    }
    *w = '\0';
    if (ev.doc)
        yajl_tree_free(ev.doc);
    free(ev.hits);
    free(ev.fe.vals);
    return 1;
}

void subs_stale(const char *org, const char *version)
{
    struct org *o = org_find(org, 0);
    if (!o)
        return;
    if (o->loading)
        o->restart = 1;
    else if (!o->ready || strcmp(o->version, version) == 0)
        org_clear(o);
}

int subs_start(int partitions, subs_loaded_cb loaded)
{
    S.partitions = partitions;
    S.loaded = loaded;
    return 0;
}

void subs_counts(unsigned long long *orgs, unsigned long long *loads)
{
    *orgs = S.orgs, *loads = S.loads;
}

void subs_free(void)
{
    for (int b = 0; b < BUCKETS; b++)
        while (S.b[b]) {
            struct org *o = S.b[b];
            S.b[b] = o->next;
            org_clear(o);
            free(o);
        }
    memset(&S, 0, sizeof(S));
}
