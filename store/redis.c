#include "store/redis.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "store/cluster.h"
#include "store/ids.h"
#include "store/keys.h"
#include "store/redis_config.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define NODES_MAX 64        /* masters, and former masters, ever seen */
#define REDIRECTS_MAX 5     /* MOVED/ASK/TRYAGAIN a command may follow */
#define RETRY_MS 20         /* ASK or TRYAGAIN: a slot is migrating; asked again */
#define READY_CBS_MAX 4
#define FUNCTION_RETRY_MS 10000 /* a FUNCTION LOAD refused for a reason that may pass (ACL, OOM) */

char (*key_cluster_tags)[KEY_TAG_MAX]; /* store/keys.h; NULL until a cluster is seen */

struct cmd;
TAILQ_HEAD(cmd_list, cmd);

enum link_kind { LINK_MAIN, LINK_WRITES, LINK_SUBSCRIBER };

/* One connection to a node, with its own reconnect backoff and watchdog. */
struct link {
    struct node *node;
    enum link_kind kind;
    redisAsyncContext *ac;   /* NULL while disconnected */
    int connected;
    long pending;
    int64_t progress_ms;     /* last reply, or when pending went 0 -> 1 */
    int64_t connect_ms;      /* when the current connect began */
    int64_t down_ms;         /* when it was last lost; 0 while connected */
    int64_t backoff_ms;
    struct event *reconnect_ev;
    /* durability = replicated: the replicated calls sent on this link and
     * not yet answered, oldest first. One WAIT covers every reply that came
     * before it was sent; wait_sent and wait_done number the WAITs. */
    struct cmd_list repl;
    unsigned long wait_sent, wait_done;
    int64_t repl_armed_ms;   /* when repl_ev fires; 0: not armed */
    struct event *repl_ev;   /* the earliest deadline in `repl` */
};

/* One Redis server: the seed of redis_url, or a cluster master. */
struct node {
    int index;               /* in S.nodes, as slot_node names it */
    char host[256];
    int port;
    char addr[280];          /* host:port, for log lines */
    struct link main;        /* every call (and the only link unless durability = replicated) */
    struct link writes;      /* durability = replicated: the replicated writes and their WAITs, so
                              * that a WAIT, which holds up its connection, holds up no read */
    int ready;               /* main connected and every script loaded */
    int loading;             /* SCRIPT LOAD and FUNCTION LOAD replies still awaited */
    int load_failed;         /* a SCRIPT LOAD failed: the watchdog loads all again once none is awaited */
    int functions;           /* every function library loaded: scripts that have one go as FCALL */
    int fn_failed;           /* a FUNCTION LOAD of this load failed (Redis 6, an ACL, OOM): EVALSHA */
    int64_t fn_retry_ms;     /* then: when the watchdog loads again; 0 never (a Redis without FUNCTION) */
    int fn_warned;           /* said so in the log: once until the functions load */
    int in_map;              /* single Redis: always; cluster: owns slots now */
};

/* A subscription (store_subscribe): a link of its own, made and remade by
 * the same code as the nodes' links (backoff, connect deadline, the
 * watchdog), to the server `address` names for each attempt. */
struct store_subscription {
    struct node where;       /* the server it is on now (not one of S.nodes): its address */
    struct link link;        /* LINK_SUBSCRIBER, link.node = &where */
    char channel[64];
    store_address_fn address;
    store_message_fn on_message;
    void *arg;
    int attempt;
    int follows_store;       /* its servers are the store's nodes: one the store lost is left */
    struct store_subscription *next;
};

enum store_mode { MODE_UNKNOWN, MODE_SINGLE, MODE_CLUSTER };

/* One heap context per command in flight: the only privdata hiredis sees.
 * Freed in exactly one place, on_reply, which hiredis runs once (with NULL
 * when the connection dies), unless on_reply sends it on (NOSCRIPT as EVAL,
 * MOVED/ASK to another master). It keeps a copy of the arguments for that. */
struct cmd {
    store_cb cb;
    void *priv;
    int script;              /* -1 for plain commands and EVAL */
    int no_fcall;            /* refused as FCALL up front (OOM, NOREPLICAS): sent as EVALSHA */
    int argc;
    const char **argv;       /* points into this same allocation */
    size_t *lens;            /* likewise */
    unsigned slot;           /* of the first key (cluster routing) */
    int redirects;           /* MOVED followed */
    int retries;             /* ASK/TRYAGAIN waited out */
    int replicated;          /* answered only once a replica has its writes (WAIT) */
    redisReply *held;        /* its reply, held while WAIT runs; owned */
    int in_repl;             /* on its link's `repl` list */
    int answered;            /* told NOTREPLICATED at its deadline; its late reply is dropped */
    unsigned long cover;     /* the number of the WAIT that confirms its held reply */
    int64_t deadline_ms;     /* sent + replica_timeout: answered by then either way */
    TAILQ_ENTRY(cmd) repl_link;
    struct link *link;       /* where it was sent */
    int64_t sent_ms;
};

static struct {
    struct event_base *base;
    const struct conf *conf;
    enum store_mode mode;
    struct node *nodes[NODES_MAX]; /* [0] is the seed; owned */
    int nnodes;
    unsigned char slot_node[CLUSTER_SLOTS]; /* cluster: index into nodes */
    int ready;
    int was_ready;           /* every master has been ready at least once */
    int refreshing;          /* a CLUSTER SLOTS in flight */
    int closing;
    struct event *watchdog_ev;
    unsigned long long sent;
    double rtt_sum_ms;
    unsigned long long rtt_n;
    struct {
        void (*fn)(void *);
        void *arg;
    } ready_cbs[READY_CBS_MAX];  /* run each time the store becomes ready */
    int nready_cbs;
    struct sentinel_ask *asking; /* the sentinel question in flight; owned */
    int sentinel_last;           /* the sentinel that answered last: asked first */
    int switched;                /* +switch-master gave the address: the next connect uses it */
    struct store_subscription *switch_sub; /* +switch-master, on one sentinel after another */
    struct store_subscription *subs; /* owned, each by its store_subscribe caller until store_unsubscribe */
} S;

static void link_connect(struct link *l);
static void link_close(struct link *l);
static void link_drop(struct link *l, const char *why);
static void sub_connect(struct store_subscription *s);
static int send_cmd(struct node *n, struct cmd *c);
static void load_scripts(struct node *n, int scripts);
static void refresh_topology(void);

long store_pending(void)
{
    long p = 0;
    for (int i = 0; i < S.nnodes; i++)
        p += S.nodes[i]->main.pending + S.nodes[i]->writes.pending;
    return p;
}
unsigned long long store_commands_sent(void) { return S.sent; }
double store_rtt_avg_ms(void) { return S.rtt_n ? S.rtt_sum_ms / (double)S.rtt_n : 0; }
int store_ready(void) { return S.ready; }

int store_usable(void)
{
    if (S.mode != MODE_CLUSTER || !S.was_ready)
        return S.ready; /* a cluster starts once every master is ready */
    for (int i = 0; i < S.nnodes; i++)
        if (S.nodes[i]->in_map && S.nodes[i]->ready)
            return 1;
    return 0;
}

int store_node_addr(int i, char *host, size_t hostlen, int *port)
{
    int owners = 0;
    for (int k = 0; k < S.nnodes; k++)
        owners += S.nodes[k]->in_map;
    if (owners == 0 || i < 0)
        return -1;
    i %= owners;
    for (int k = 0; k < S.nnodes; k++)
        if (S.nodes[k]->in_map && i-- == 0) {
            snprintf(host, hostlen, "%s", S.nodes[k]->host);
            *port = S.nodes[k]->port;
            return 0;
        }
    return -1;
}

int store_on_ready(void (*fn)(void *), void *arg)
{
    if (S.nready_cbs == READY_CBS_MAX)
        return -1;
    S.ready_cbs[S.nready_cbs].fn = fn;
    S.ready_cbs[S.nready_cbs++].arg = arg;
    return 0;
}

/* Ready when every node that owns slots is: one Redis, or every master. */
static void update_ready(void)
{
    int ready = S.mode != MODE_UNKNOWN;
    for (int i = 0; i < S.nnodes && ready; i++)
        if (S.nodes[i]->in_map && !S.nodes[i]->ready)
            ready = 0;
    if (S.mode == MODE_CLUSTER)
        for (int s = 0; s < CLUSTER_SLOTS && ready; s++)
            if (S.slot_node[s] >= S.nnodes)
                ready = 0; /* a slot nobody serves */
    int was = S.ready;
    S.ready = ready;
    S.was_ready |= ready;
    if (ready && !was) {
        LOG_INFO("redis: ready", "mode", S.mode == MODE_CLUSTER ? "cluster" : "single", NULL);
        redis_config_check();
        for (int i = 0; i < S.nready_cbs; i++)
            S.ready_cbs[i].fn(S.ready_cbs[i].arg);
    }
}

static struct node *node_find(const char *host, int port)
{
    for (int i = 0; i < S.nnodes; i++)
        if (S.nodes[i]->port == port && strcmp(S.nodes[i]->host, host) == 0)
            return S.nodes[i];
    return NULL;
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg);
static void on_repl_deadline(evutil_socket_t fd, short what, void *arg);

static int link_init(struct link *l, struct node *n, enum link_kind kind)
{
    l->node = n;
    l->kind = kind;
    l->backoff_ms = BACKOFF_MIN_MS;
    TAILQ_INIT(&l->repl);
    l->reconnect_ev = evtimer_new(S.base, on_reconnect_timer, l);
    l->repl_ev = evtimer_new(S.base, on_repl_deadline, l);
    return l->reconnect_ev && l->repl_ev ? 0 : -1;
}

static void link_free_events(struct link *l)
{
    if (l->reconnect_ev)
        event_free(l->reconnect_ev);
    if (l->repl_ev)
        event_free(l->repl_ev);
    l->reconnect_ev = l->repl_ev = NULL;
}

/* The node for host:port, made (and connecting) if new; NULL when full. */
static struct node *node_get(const char *host, int port)
{
    struct node *n = node_find(host, port);
    if (n || S.nnodes == NODES_MAX)
        return n;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    snprintf(n->host, sizeof(n->host), "%s", host);
    n->port = port;
    snprintf(n->addr, sizeof(n->addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    if (link_init(&n->main, n, LINK_MAIN) < 0 || link_init(&n->writes, n, LINK_WRITES) < 0) {
        link_free_events(&n->main);
        link_free_events(&n->writes);
        free(n);
        return NULL;
    }
    n->index = S.nnodes;
    S.nodes[S.nnodes++] = n;
    link_connect(&n->main);
    return n;
}

/* Where a command for `slot` goes: the one Redis, or the slot's master. */
static struct node *route(unsigned slot)
{
    if (S.mode != MODE_CLUSTER)
        return S.nodes[0];
    int i = S.slot_node[slot];
    return i < S.nnodes ? S.nodes[i] : NULL;
}

static void schedule_reconnect(struct link *l)
{
    if (S.closing || event_pending(l->reconnect_ev, EV_TIMEOUT, NULL))
        return;
    struct timeval tv = {l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000};
    event_add(l->reconnect_ev, &tv);
    l->backoff_ms = l->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff_ms * 2;
}

/* A copy of a call, routed in a cluster by its first key (argv[key]; -1:
 * none): a single Redis needs no slot. */
static struct cmd *cmd_new(store_cb cb, void *priv, int script, int argc, const char **argv, const size_t *lens,
                           int key)
{
    size_t bytes = sizeof(struct cmd) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < argc; i++)
        bytes += (lens ? lens[i] : strlen(argv[i])) + 1;
    struct cmd *c = calloc(1, bytes);
    if (!c)
        return NULL;
    c->cb = cb, c->priv = priv, c->script = script, c->argc = argc;
    c->argv = (const char **)(c + 1);
    c->lens = (size_t *)(c->argv + argc);
    char *data = (char *)(c->lens + argc);
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        memcpy(data, argv[i], len);
        data[len] = '\0';
        c->argv[i] = data, c->lens[i] = len;
        data += len + 1;
    }
    if (S.mode == MODE_CLUSTER && key >= 0 && key < argc)
        c->slot = cluster_keyslot(c->argv[key], c->lens[key]);
    return c;
}

static void repl_remove(struct link *l, struct cmd *c);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    struct cmd *c = arg;
    if (c->answered) { /* its replica deadline passed while it waited here: told NOTREPLICATED */
        free(c);
        return;
    }
    struct node *n = route(c->slot);
    if (!n || send_cmd(n, c) < 0) {
        if (c->in_repl)
            repl_remove(c->link, c);
        c->cb(NULL, c->priv);
        free(c);
    }
}

/* A cluster's answer that the call belongs elsewhere (or later): sent on,
 * and 1; 0 when it is not such an answer or the call is out of tries.
 *
 * ASK is waited out like TRYAGAIN, never followed with ASKING: hookd's
 * scripts declare only their partition's prefix as a key and reach the
 * partition's other keys by name, so during a migration neither node holds
 * the whole partition. The source answers ASK for every script from the
 * moment the slot is MIGRATING (the declared key never exists), and MOVED
 * once the slot is the target's, so waiting for MOVED never runs a script on
 * half a partition. The wait is bounded by redis_timeout. */
static int follow_redirect(struct node *from, struct cmd *c, const redisReply *reply)
{
    if (S.mode != MODE_CLUSTER)
        return 0;
    if (strncmp(reply->str, "TRYAGAIN", 8) == 0 || strncmp(reply->str, "ASK ", 4) == 0) {
        if (++c->retries > S.conf->redis_timeout_ms / RETRY_MS)
            return 0;
        struct timeval tv = {0, RETRY_MS * 1000};
        return event_base_once(S.base, -1, EV_TIMEOUT, on_retry, c, &tv) == 0;
    }
    char host[256];
    int slot, port;
    if (c->redirects >= REDIRECTS_MAX || cluster_redirect(reply->str, &slot, host, &port) != 1)
        return 0;
    c->redirects++;
    struct node *to = node_get(host[0] ? host : from->host, port);
    if (!to || !to->main.ac)
        return 0;
    /* the slot has a new owner: use it now, and learn the whole map */
    S.slot_node[slot] = (unsigned char)to->index;
    to->in_map = 1;
    refresh_topology();
    return send_cmd(to, c) == 0;
}

/* Take a reply's contents out of hiredis's hands (it frees the reply when
 * the callback returns): the copy is owned by the caller, freeReplyObject. */
static redisReply *reply_steal(redisReply *r)
{
    redisReply *copy = malloc(sizeof(*copy));
    if (!copy)
        return NULL;
    *copy = *r;
    r->type = REDIS_REPLY_NIL, r->str = NULL, r->len = 0, r->element = NULL, r->elements = 0;
    return copy;
}

#define NOT_REPLICATED "NOTREPLICATED no replica confirmed the write within replica_timeout"
static redisReply not_replicated = {.type = REDIS_REPLY_ERROR, .str = NOT_REPLICATED, .len = sizeof(NOT_REPLICATED) - 1};

static int link_call(struct link *l, store_cb cb, void *priv, int argc, const char **argv);
static void wait_send(struct link *l);

/* ---- durability = replicated ----
 * Redis answers WAIT only when a replica has acknowledged everything the
 * connection wrote before it, and serves nothing else on that connection
 * meanwhile. So the replicated writes go on a link of their own (reads,
 * claims and every other call keep the main one, and never queue behind a
 * WAIT), and WAITs are not one per call: one WAIT confirms every reply that
 * had come when it was sent (the next one those that came during it). Each
 * call is answered within replica_timeout of being sent, by a deadline
 * timer, even when it sits behind a WAIT of a replica that does not answer,
 * instead of one replica_timeout per call queued before it. */

static void repl_arm(struct link *l, int64_t at)
{
    if (l->repl_armed_ms && l->repl_armed_ms <= at)
        return;
    int64_t ms = at - now_ms();
    if (ms < 0)
        ms = 0;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (event_add(l->repl_ev, &tv) == 0)
        l->repl_armed_ms = at;
}

static void repl_remove(struct link *l, struct cmd *c)
{
    if (c->in_repl)
        TAILQ_REMOVE(&l->repl, c, repl_link);
    c->in_repl = 0;
}

/* The held reply's answer; frees the call. */
static void repl_answer(struct link *l, struct cmd *c, redisReply *reply)
{
    repl_remove(l, c);
    c->cb(reply, c->priv);
    freeReplyObject(c->held);
    free(c);
}

static void on_waited(redisReply *reply, void *priv)
{
    struct link *l = priv;
    l->wait_done++;
    int ok = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer >= 1;
    struct cmd *c, *next;
    for (c = TAILQ_FIRST(&l->repl); c; c = next) {
        next = TAILQ_NEXT(c, repl_link);
        if (c->held && (c->cover <= l->wait_done || !reply)) /* a lost connection answers them all */
            repl_answer(l, c, ok ? c->held : reply ? &not_replicated : NULL);
    }
    if (reply)
        wait_send(l);
}

/* A WAIT for the replies held and not yet covered, unless one is in flight
 * (it answers, then this runs again for those that came meanwhile). */
static void wait_send(struct link *l)
{
    if (l->wait_sent != l->wait_done)
        return;
    struct cmd *c;
    int uncovered = 0;
    TAILQ_FOREACH(c, &l->repl, repl_link)
        uncovered |= c->held && c->cover > l->wait_sent;
    if (!uncovered)
        return;
    char ms[24];
    snprintf(ms, sizeof(ms), "%lld", (long long)S.conf->replica_timeout_ms);
    const char *argv[3] = {"WAIT", "1", ms};
    if (link_call(l, on_waited, l, 3, argv) == 0) {
        l->wait_sent++;
        return;
    }
    struct cmd *next;
    for (c = TAILQ_FIRST(&l->repl); c; c = next) { /* the connection is gone */
        next = TAILQ_NEXT(c, repl_link);
        if (c->held)
            repl_answer(l, c, NULL);
    }
}

/* A replicated call's reply: held until a WAIT confirms it (or its deadline). */
static void repl_hold(struct link *l, struct cmd *c, redisReply *reply)
{
    c->held = reply_steal(reply);
    if (!c->held) { /* out of memory: answered as unconfirmed */
        repl_remove(l, c);
        c->cb(&not_replicated, c->priv);
        free(c);
        return;
    }
    c->cover = l->wait_sent + 1;
    wait_send(l);
}

/* Calls past their deadline get NOTREPLICATED now; one whose reply has not
 * come stays with hiredis, marked, and its reply is dropped. */
static void on_repl_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;
    int64_t now = now_ms(), next_at = 0;
    l->repl_armed_ms = 0;
    struct cmd *c, *next;
    for (c = TAILQ_FIRST(&l->repl); c; c = next) {
        next = TAILQ_NEXT(c, repl_link);
        if (c->deadline_ms > now) {
            if (!next_at || c->deadline_ms < next_at)
                next_at = c->deadline_ms;
            continue;
        }
        if (c->held) {
            repl_answer(l, c, &not_replicated);
        } else {
            repl_remove(l, c);
            c->answered = 1;
            c->cb(&not_replicated, c->priv);
        }
    }
    if (next_at)
        repl_arm(l, next_at);
}

/* A function is refused whole when Redis is at maxmemory or short of
 * replicas (min-replicas-to-write), where a script is refused only at its
 * first write that may grow memory: complete.lua, which removes its leases
 * first, still records its outcomes then, as it always did. */
static int refused_as_function(const struct cmd *c, const char *err)
{
    return c->script >= 0 && !c->no_fcall && strcmp(c->argv[0], "FCALL") == 0 &&
           (strncmp(err, "OOM", 3) == 0 || strncmp(err, "NOREPLICAS", 10) == 0);
}

/* The errors of a script or function this Redis does not hold (any more). */
static int script_forgotten(const char *err)
{
    return strncmp(err, "NOSCRIPT", 8) == 0 || strcmp(err, "ERR Function not found") == 0;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct cmd *c = privdata;
    struct link *l = c->link;
    struct node *n = l->node;
    redisReply *reply = r;
    l->pending--;
    int64_t now = now_ms();
    l->progress_ms = now;
    S.rtt_sum_ms += (double)(now - c->sent_ms);
    S.rtt_n++;
    if (c->answered) { /* already told NOTREPLICATED at its deadline */
        repl_remove(l, c);
        free(c);
        return;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR && refused_as_function(c, reply->str)) {
        c->no_fcall = 1; /* this one call again, as the script */
        if (send_cmd(n, c) == 0)
            return;
        reply = NULL;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR && c->script >= 0 && script_forgotten(reply->str)) {
        /* This Redis lost its script cache or functions (restart, SCRIPT
         * FLUSH, FUNCTION FLUSH, a new master): run this one call as EVAL and
         * load both again for the calls that follow. */
        const struct script *s = script_get((enum script_id)c->script);
        c->argv[0] = "EVAL";
        c->argv[1] = s->body; /* static: the block keeps only the caller's arguments */
        c->lens[0] = 4;
        c->lens[1] = strlen(s->body);
        c->script = -1;
        if (send_cmd(n, c) == 0) {
            if (!n->loading)
                load_scripts(n, 1);
            return;
        }
        reply = NULL;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR && follow_redirect(n, c, reply))
        return;
    if (S.conf->sentinels && reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "READONLY", 8) == 0 &&
        n->main.ac) { /* the master was demoted: ask the sentinels again (its reconnect does) */
        LOG_WARNING("redis: the master became a replica; asking the sentinels again", "redis", n->addr, NULL);
        link_close(&n->main);
    }
    if (c->in_repl && reply && reply->type != REDIS_REPLY_ERROR) {
        repl_hold(l, c, reply);
        return;
    }
    repl_remove(l, c);
    c->cb(reply, c->priv);
    free(c); /* the argument copy lives in the same block */
}

static int link_send(struct link *l, struct cmd *c)
{
    if (!l->ac)
        return -1;
    if (redisAsyncCommandArgv(l->ac, on_reply, c, c->argc, c->argv, c->lens) != REDIS_OK)
        return -1;
    if (l->pending++ == 0)
        l->progress_ms = now_ms();
    if (c->in_repl) /* sent on (NOSCRIPT, MOVED): its deadline goes with it */
        repl_remove(c->link, c);
    c->link = l;
    c->sent_ms = now_ms();
    if (c->replicated) {
        if (!c->deadline_ms)
            c->deadline_ms = c->sent_ms + S.conf->replica_timeout_ms;
        TAILQ_INSERT_TAIL(&l->repl, c, repl_link);
        c->in_repl = 1;
        repl_arm(l, c->deadline_ms);
    }
    S.sent++;
    return 0;
}

/* A script call's head for node n: FCALL fn where n holds the script's
 * function library, else EVALSHA sha (store_script). The strings are static. */
static void script_head(const struct node *n, struct cmd *c)
{
    const struct script *s = script_get((enum script_id)c->script);
    int fcall = n->functions && s->library && !c->no_fcall;
    c->argv[0] = fcall ? "FCALL" : "EVALSHA";
    c->argv[1] = fcall ? s->fn : s->sha;
    c->lens[0] = strlen(c->argv[0]);
    c->lens[1] = strlen(c->argv[1]);
}

/* A replicated write goes on the writes link while it is up, else with the
 * rest (its WAIT then follows it there). */
static int send_cmd(struct node *n, struct cmd *c)
{
    if (c->script >= 0)
        script_head(n, c);
    return link_send(c->replicated && n->writes.connected ? &n->writes : &n->main, c);
}

static int link_call(struct link *l, store_cb cb, void *priv, int argc, const char **argv)
{
    struct cmd *c = cmd_new(cb, priv, -1, argc, argv, NULL, -1);
    if (!c)
        return -1;
    if (link_send(l, c) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

/* A call to node n itself, not routed (topology, SCRIPT LOAD, SELECT). */
static int node_call(struct node *n, store_cb cb, void *priv, int argc, const char **argv)
{
    return link_call(&n->main, cb, priv, argc, argv);
}

static int submit(struct cmd *c)
{
    struct node *n = route(c->slot);
    if (!n || !n->ready || send_cmd(n, c) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

int store_command(store_cb cb, void *priv, int argc, const char **argv, const size_t *lens)
{
    if (!store_usable())
        return -1;
    struct cmd *c = cmd_new(cb, priv, -1, argc, argv, lens, argc > 1 ? 1 : -1);
    return c ? submit(c) : -1;
}

int store_command_each(store_cb cb, void *priv, int argc, const char **argv)
{
    if (!store_usable())
        return -1;
    int sent = 0;
    for (int i = 0; i < S.nnodes; i++) /* a single Redis is in its own map */
        if (S.nodes[i]->in_map && S.nodes[i]->ready && node_call(S.nodes[i], cb, priv, argc, argv) == 0)
            sent++;
    return sent;
}

int store_script(enum script_id id, store_cb cb, void *priv, int nkeys, int argc,
                 const char **argv, const size_t *lens)
{
    if (!store_usable())
        return -1;
    /* EVALSHA sha nkeys (or FCALL fn nkeys: send_cmd chooses per node),
     * then the caller's keys and arguments */
    const char *all[argc + 3];
    size_t all_lens[argc + 3];
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    all[0] = "EVALSHA", all[1] = script_get(id)->sha, all[2] = nk;
    for (int i = 0; i < 3; i++)
        all_lens[i] = strlen(all[i]);
    for (int i = 0; i < argc; i++)
        all[i + 3] = argv[i], all_lens[i + 3] = lens ? lens[i] : strlen(argv[i]);
    struct cmd *c = cmd_new(cb, priv, (int)id, argc + 3, all, all_lens, nkeys > 0 ? 3 : -1);
    if (!c)
        return -1;
    /* the calls whose success someone is told of: a 202, a recorded outcome */
    c->replicated = S.conf->replicated && (id == SCRIPT_INGEST || id == SCRIPT_COMPLETE || id == SCRIPT_REDELIVER ||
                                           id == SCRIPT_REQUEUE);
    return submit(c);
}

/* One SCRIPT LOAD or FUNCTION LOAD answered. Every reply counts, failed or
 * not: a Redis still loading its AOF fails the first and answers the rest. */
static void load_counted(struct node *n)
{
    if (n->loading > 0)
        n->loading--;
    if (n->loading > 0 || n->load_failed)
        return;
    n->functions = !n->fn_failed;
    if (n->functions)
        n->fn_warned = 0;
    if (!n->ready) {
        n->ready = 1;
        n->main.backoff_ms = BACKOFF_MIN_MS;
        update_ready();
    }
}

/* A SCRIPT LOAD reply; priv is the node's index and the script's, packed. */
static void on_script_loaded(redisReply *reply, void *priv)
{
    long v = (long)(intptr_t)priv;
    struct node *n = S.nodes[v / SCRIPT_COUNT];
    const struct script *s = script_get((enum script_id)(v % SCRIPT_COUNT));
    if (!reply || reply->type != REDIS_REPLY_STRING || strcmp(reply->str, s->sha) != 0) {
        LOG_ERR("redis: SCRIPT LOAD failed", "redis", n->addr, "script", s->name,
                "error", reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply", NULL);
        n->load_failed = 1; /* stays not ready; the watchdog or a disconnect retries */
    }
    load_counted(n);
}

/* A FUNCTION LOAD reply; priv as for SCRIPT LOAD. A library of that name
 * is this same code (its name holds the library's hash). A failure costs
 * only speed: the node keeps EVALSHA, which SCRIPT LOAD made ready, until
 * the libraries load (the watchdog's retry, a reconnect, a script it forgot). */
static void on_function_loaded(redisReply *reply, void *priv)
{
    long v = (long)(intptr_t)priv;
    struct node *n = S.nodes[v / SCRIPT_COUNT];
    const struct script *s = script_get((enum script_id)(v % SCRIPT_COUNT));
    int ok = reply && ((reply->type == REDIS_REPLY_STRING && strcmp(reply->str, s->fn) == 0) ||
                       (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "already exists")));
    if (!ok) {
        const char *err = reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply";
        if (!n->fn_warned)
            LOG_WARNING("redis: FUNCTION LOAD failed; its scripts go as EVALSHA", "redis", n->addr, "script",
                        s->name, "error", err, NULL);
        n->fn_warned = 1;
        n->fn_failed = 1;
        /* an ACL or a full Redis may change; a Redis without the command will not */
        n->fn_retry_ms = strstr(err, "unknown command") ? 0 : now_ms() + FUNCTION_RETRY_MS;
    }
    load_counted(n);
}

/* SCRIPT LOAD of every script (a node is ready once they are) and FUNCTION
 * LOAD of every library; `scripts` 0: the libraries alone (the watchdog's
 * retry of a refused FUNCTION LOAD, on a node that is ready). */
static void load_scripts(struct node *n, int scripts)
{
    int idx = n->index;
    n->loading = 0;
    n->load_failed = n->fn_failed = n->functions = 0;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        const struct script *s = script_get((enum script_id)i);
        void *priv = (void *)(intptr_t)(idx * SCRIPT_COUNT + i);
        const char *load[3] = {"SCRIPT", "LOAD", s->body};
        const char *fload[3] = {"FUNCTION", "LOAD", s->library};
        if (scripts) {
            if (node_call(n, on_script_loaded, priv, 3, load) < 0)
                goto fail;
            n->loading++;
        }
        if (!s->library)
            continue;
        if (node_call(n, on_function_loaded, priv, 3, fload) < 0)
            goto fail;
        n->loading++;
    }
    return;
fail:
    n->loading = 0, n->load_failed = 1; /* the replies of those sent change nothing */
}

/* The slot map from CLUSTER SLOTS: each range's master (a new one is
 * connected), and which nodes own slots now. */
static void apply_topology(const struct cluster_range *r, int nr)
{
    for (int i = 0; i < S.nnodes; i++)
        S.nodes[i]->in_map = 0;
    memset(S.slot_node, 0xff, sizeof(S.slot_node));
    for (int i = 0; i < nr; i++) {
        struct node *n = node_get(r[i].host[0] ? r[i].host : S.nodes[0]->host, r[i].port);
        if (!n)
            continue;
        n->in_map = 1;
        memset(S.slot_node + r[i].first, n->index, (size_t)(r[i].last - r[i].first + 1));
        if (n->main.connected && !n->ready && !n->loading)
            load_scripts(n, 1);
    }
}

static void on_topology(redisReply *reply, void *priv)
{
    struct node *from = priv;
    S.refreshing = 0;
    struct cluster_range ranges[CLUSTER_SLOTS / 8];
    int nr = reply ? cluster_parse_slots(reply, ranges, (int)(sizeof(ranges) / sizeof(ranges[0]))) : -1;
    if (S.mode == MODE_UNKNOWN && reply && nr < 0) {
        S.mode = MODE_SINGLE; /* "cluster support disabled": one Redis, as always */
        from->in_map = 1;
        load_scripts(from, 1);
        return;
    }
    if (nr <= 0)
        return; /* Redis went away, or a cluster with no slots yet: asked again */
    if (S.mode == MODE_UNKNOWN) {
        int P = (int)S.conf->partitions;
        char(*tags)[24] = calloc((size_t)P, sizeof(*tags));
        if (!tags)
            return;
        for (int p = 0; p < P; p++)
            cluster_tag(p, P, tags[p]);
        key_cluster_tags = tags;
        S.mode = MODE_CLUSTER;
        char masters[16];
        snprintf(masters, sizeof(masters), "%d", nr);
        LOG_INFO("redis: cluster", "slot_ranges", masters, NULL);
    }
    apply_topology(ranges, nr);
    update_ready();
}

/* Ask a connected node for the slot map (at most one question at a time). */
static void refresh_topology(void)
{
    if (S.refreshing || S.closing)
        return;
    for (int i = 0; i < S.nnodes; i++) {
        struct node *n = S.nodes[i];
        const char *argv[2] = {"CLUSTER", "SLOTS"};
        if (n->main.connected && node_call(n, on_topology, n, 2, argv) == 0) {
            S.refreshing = 1;
            return;
        }
    }
}

static void on_select(redisReply *reply, void *priv)
{
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        LOG_ERR("redis: SELECT failed", "error", reply ? reply->str : "no reply", NULL);
}

static void link_select(struct link *l)
{
    if (S.mode == MODE_CLUSTER || !S.conf->redis_db)
        return;
    char db[16];
    snprintf(db, sizeof(db), "%d", S.conf->redis_db);
    const char *argv[2] = {"SELECT", db};
    link_call(l, on_select, NULL, 2, argv);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct node *n = l->node;
    if (status != REDIS_OK) {
        LOG_WARNING("redis: connect failed", "redis", n->addr, "error", ac->errstr, NULL);
        l->ac = NULL; /* hiredis frees the context after this callback */
        schedule_reconnect(l);
        return;
    }
    l->connected = 1;
    l->down_ms = 0;
    link_select(l);
    if (l->kind == LINK_WRITES) {
        l->backoff_ms = BACKOFF_MIN_MS;
        return;
    }
    LOG_INFO("redis: connected", "redis", n->addr, NULL);
    if (S.conf->replicated && !n->writes.ac)
        link_connect(&n->writes);
    if (S.mode == MODE_SINGLE)
        load_scripts(n, 1);
    else if (S.mode == MODE_UNKNOWN) {
        S.refreshing = 0;
        refresh_topology(); /* its answer says which kind of Redis this is */
    } else if (n->in_map)
        load_scripts(n, 1);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    struct node *n = l->node;
    l->ac = NULL;
    l->connected = 0;
    l->pending = 0;
    l->down_ms = now_ms();
    if (S.closing)
        return;
    if (l->kind == LINK_WRITES) { /* its calls were answered NULL: the callers retry */
        schedule_reconnect(l);
        return;
    }
    n->ready = n->loading = 0;
    LOG_WARNING("redis: disconnected", "redis", n->addr, "error", status == REDIS_OK ? "closed" : ac->errstr, NULL);
    update_ready();
    schedule_reconnect(l);
    if (S.conf->sentinels && n->writes.ac) /* the master may move: writes follows main there */
        link_close(&n->writes);
    if (S.mode == MODE_CLUSTER)
        refresh_topology(); /* a failover may have promoted a replica */
}

/* ---- Redis Sentinel (redis_url = redis+sentinel://...): before each
 * connect of the master's main link, the sentinels are asked in turn which
 * server is the master (SENTINEL get-master-addr-by-name), so a failover is
 * followed by the reconnect that losing the old master starts; a master
 * demoted to a replica answers READONLY, which drops the link the same way.
 * One question at a time, each bounded by redis_timeout. ---- */
struct sentinel_ask {
    redisAsyncContext *ac;   /* hiredis's; NULL once it is gone */
    struct event *timeout;   /* owned */
    int which;               /* index into conf->sentinel_host */
    int tries;               /* sentinels asked before this one, this round */
    int connected, ok, abandoned;
    int stale;               /* a +switch-master came meanwhile: its answer is not used */
};

static void link_connect_now(struct link *l);
static void sentinel_ask(int which, int tries);

/* The one end of a question: the master's link connects, or the next
 * sentinel is asked, or (every one tried) the link's backoff runs. */
static void sentinel_finish(struct sentinel_ask *q)
{
    int ok = q->ok && !q->stale, next = (q->which + 1) % S.conf->sentinels, tries = q->tries + 1;
    if (ok)
        S.sentinel_last = q->which; /* asked first next time */
    event_free(q->timeout);
    free(q);
    S.asking = NULL;
    struct link *l = &S.nodes[0]->main;
    if (S.closing)
        return;
    if (ok)
        link_connect_now(l);
    else if (S.switched)
        link_connect(l); /* the address +switch-master gave */
    else if (tries < S.conf->sentinels)
        sentinel_ask(next, tries);
    else {
        LOG_WARNING("redis: no sentinel named the master; asking again", "master", S.conf->sentinel_master, NULL);
        schedule_reconnect(l);
    }
}

static void on_sentinel_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct sentinel_ask *q = priv;
    redisReply *reply = r;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING && reply->element[1]->type == REDIS_REPLY_STRING) {
        struct node *n = S.nodes[0];
        int port = atoi(reply->element[1]->str);
        if (!q->stale && port > 0 && port < 65536 && reply->element[0]->len < sizeof(n->host)) {
            if (port != n->port || strcmp(n->host, reply->element[0]->str) != 0) {
                snprintf(n->host, sizeof(n->host), "%s", reply->element[0]->str);
                n->port = port;
                snprintf(n->addr, sizeof(n->addr), strchr(n->host, ':') ? "[%s]:%d" : "%s:%d", n->host, port);
                LOG_INFO("redis: the sentinels name the master", "master", S.conf->sentinel_master, "redis", n->addr,
                         NULL);
            }
            q->ok = 1;
        }
    }
    if (!q->abandoned)
        redisAsyncDisconnect(ac); /* its disconnect callback finishes the question */
}

static void on_sentinel_connect(const redisAsyncContext *cac, int status)
{
    struct sentinel_ask *q = cac->data;
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    if (status != REDIS_OK) {
        q->ac = NULL; /* hiredis frees it after this callback */
        sentinel_finish(q);
        return;
    }
    q->connected = 1;
    if (redisAsyncCommand(ac, on_sentinel_reply, q, "SENTINEL get-master-addr-by-name %s", S.conf->sentinel_master) !=
        REDIS_OK)
        event_active(q->timeout, EV_TIMEOUT, 1); /* not from inside hiredis's connect callback */
}

static void on_sentinel_disconnect(const redisAsyncContext *ac, int status)
{
    struct sentinel_ask *q = ac->data;
    q->ac = NULL;
    sentinel_finish(q);
}

static void on_sentinel_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct sentinel_ask *q = arg;
    q->abandoned = 1;
    redisAsyncContext *ac = q->ac;
    int connected = q->connected;
    q->ac = NULL;
    redisAsyncFree(ac); /* connected: its disconnect callback finishes the question */
    if (!connected)
        sentinel_finish(q);
}

static void sentinel_ask(int which, int tries)
{
    struct sentinel_ask *q = calloc(1, sizeof(*q));
    struct timeval tv = {S.conf->redis_timeout_ms / 1000, (S.conf->redis_timeout_ms % 1000) * 1000};
    if (!q || !(q->timeout = evtimer_new(S.base, on_sentinel_timeout, q))) {
        free(q);
        schedule_reconnect(&S.nodes[0]->main);
        return;
    }
    q->which = which;
    q->tries = tries;
    S.asking = q;
    redisAsyncContext *ac = redisAsyncConnect(S.conf->sentinel_host[which], S.conf->sentinel_port[which]);
    if (!ac || ac->err || redisLibeventAttach(ac, S.base) != REDIS_OK) {
        if (ac)
            redisAsyncFree(ac);
        sentinel_finish(q);
        return;
    }
    ac->data = q;
    q->ac = ac;
    redisAsyncSetConnectCallback(ac, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(ac, on_sentinel_disconnect);
    event_add(q->timeout, &tv);
}

/* +switch-master "<name> <old ip> <old port> <new ip> <new port>": when it
 * names our master and an address other than the one connected, the main
 * link is closed and its reconnect asks the sentinels. */
static void on_switch_message(const redisReply *msg, void *arg)
{
    (void)arg;
    if (!msg)
        return; /* (re)subscribed */
    char name[128], oldip[64], newip[64];
    int oldport, newport;
    struct node *n = S.nodes[0];
    if (sscanf(msg->str, "%127s %63s %d %63s %d", name, oldip, &oldport, newip, &newport) != 5 ||
        strcmp(name, S.conf->sentinel_master) != 0)
        return;
    LOG_WARNING("redis: the sentinels switched the master", "master", name, "to", newip, NULL);
    if (n->port == newport && strcmp(n->host, newip) == 0)
        return;
    /* the message's address, not a question a lagging sentinel may answer
     * with the old master: the next connect goes there at once */
    if (newport > 0 && newport < 65536 && strlen(newip) < sizeof(n->host)) {
        snprintf(n->host, sizeof(n->host), "%s", newip);
        n->port = newport;
        snprintf(n->addr, sizeof(n->addr), strchr(n->host, ':') ? "[%s]:%d" : "%s:%d", n->host, n->port);
        S.switched = 1;
        if (S.asking)
            S.asking->stale = 1;
    }
    link_close(&n->main);
}

/* The sentinels, one after another, for the +switch-master subscription. */
static int sentinel_address(int attempt, char *host, size_t len, int *port, void *arg)
{
    (void)arg;
    int k = attempt % S.conf->sentinels;
    snprintf(host, len, "%s", S.conf->sentinel_host[k]);
    *port = S.conf->sentinel_port[k];
    return 0;
}

/* ---- Subscriptions: the same link machinery for a subscribed connection ---- */

static void sub_on_reply(redisAsyncContext *ac, void *r, void *priv)
{
    struct store_subscription *s = priv;
    redisReply *reply = r;
    (void)ac;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return; /* the connection going */
    if (strcmp(reply->element[0]->str, "subscribe") == 0) {
        s->link.backoff_ms = BACKOFF_MIN_MS;
        s->on_message(NULL, s->arg); /* what was published while it was away is lost */
    } else if (strcmp(reply->element[0]->str, "message") == 0 && reply->element[2]->type == REDIS_REPLY_STRING) {
        s->on_message(reply->element[2], s->arg);
    }
}

static void sub_on_connect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    if (!l)
        return; /* unsubscribed */
    if (status != REDIS_OK) {
        l->ac = NULL; /* hiredis frees the context after this callback */
        schedule_reconnect(l);
        return;
    }
    l->connected = 1;
}

static void sub_on_disconnect(const redisAsyncContext *ac, int status)
{
    struct link *l = ac->data;
    (void)status;
    if (!l)
        return; /* unsubscribed */
    l->ac = NULL;
    l->connected = 0;
    if (!S.closing)
        schedule_reconnect(l);
}

static void sub_connect(struct store_subscription *s)
{
    struct link *l = &s->link;
    char host[256];
    int port;
    if (l->ac || S.closing)
        return;
    if (s->address(s->attempt++, host, sizeof(host), &port, s->arg) < 0) {
        schedule_reconnect(l); /* nowhere to go yet (a Sentinel has named no master) */
        return;
    }
    snprintf(s->where.host, sizeof(s->where.host), "%s", host);
    s->where.port = port;
    snprintf(s->where.addr, sizeof(s->where.addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err || redisLibeventAttach(ac, S.base) != REDIS_OK) {
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    ac->data = l;
    redisAsyncSetConnectCallback(ac, sub_on_connect);
    redisAsyncSetDisconnectCallback(ac, sub_on_disconnect);
    if (redisAsyncCommand(ac, sub_on_reply, s, "SUBSCRIBE %s", s->channel) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    redisEnableKeepAlive(&ac->c); /* a peer gone without a word is noticed */
    l->ac = ac;
    l->connect_ms = now_ms();
}

static struct store_subscription *sub_new(const char *channel, store_address_fn address, store_message_fn on_message,
                                          void *arg, int follows_store)
{
    struct store_subscription *s = calloc(1, sizeof(*s));
    if (!s || strlen(channel) >= sizeof(s->channel) || link_init(&s->link, &s->where, LINK_SUBSCRIBER) < 0) {
        if (s)
            link_free_events(&s->link);
        free(s);
        return NULL;
    }
    snprintf(s->channel, sizeof(s->channel), "%s", channel);
    s->address = address, s->on_message = on_message, s->arg = arg, s->follows_store = follows_store;
    s->next = S.subs;
    S.subs = s;
    sub_connect(s);
    return s;
}

struct store_subscription *store_subscribe(const char *channel, store_address_fn address, store_message_fn on_message,
                                           void *arg)
{
    return sub_new(channel, address, on_message, arg, 1);
}

void store_unsubscribe(struct store_subscription *s)
{
    if (!s)
        return;
    for (struct store_subscription **p = &S.subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    redisAsyncContext *ac = s->link.ac;
    s->link.ac = NULL;
    if (ac) {
        ac->data = NULL; /* its disconnect callback, run by the free, finds no link: nothing reconnects */
        redisAsyncFree(ac);
    }
    link_free_events(&s->link);
    free(s);
}

/* The watchdog's look at a subscription: a connect that takes too long is
 * given up; one on a server the store has lost (its main link down past
 * redis_timeout) moves to the next server at once. */
static void sub_watch(struct store_subscription *s, int64_t now)
{
    struct link *l = &s->link;
    if (l->ac && !l->connected && now - l->connect_ms > S.conf->redis_timeout_ms) {
        link_drop(l, "redis: subscription connect timed out");
        return;
    }
    struct node *n = s->follows_store && l->connected ? node_find(s->where.host, s->where.port) : NULL;
    if (n && !n->main.connected && n->main.down_ms && now - n->main.down_ms > S.conf->redis_timeout_ms)
        link_drop(l, "redis: the subscription's server is lost; subscribing elsewhere");
}

static void link_connect(struct link *l)
{
    if (S.conf->sentinels && l->kind == LINK_MAIN && l->node == S.nodes[0] && !S.switched)
        sentinel_ask(S.sentinel_last, 0); /* where the master is now; it connects the link */
    else {
        S.switched = l->kind == LINK_MAIN ? 0 : S.switched;
        link_connect_now(l);
    }
}

static void link_connect_now(struct link *l)
{
    struct node *n = l->node;
    redisAsyncContext *ac = redisAsyncConnect(n->host, n->port);
    if (!ac) {
        schedule_reconnect(l);
        return;
    }
    if (ac->err) {
        LOG_WARNING("redis: connect failed", "redis", n->addr, "error", ac->errstr, NULL);
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    ac->data = l;
    if (redisLibeventAttach(ac, S.base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    l->connect_ms = now_ms();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    l->ac = ac;
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    struct link *l = arg;
    struct node *n = l->node;
    if (l->ac || S.closing)
        return;
    if (l->kind == LINK_SUBSCRIBER) {
        sub_connect((struct store_subscription *)((char *)l - offsetof(struct store_subscription, link)));
        return;
    }
    if (l->kind == LINK_MAIN ? n->in_map || n == S.nodes[0] /* a former master that owns nothing is left alone */
                             : n->main.connected)
        link_connect(l);
}

static void link_drop(struct link *l, const char *why)
{
    LOG_WARNING(why, "redis", l->node->addr, NULL);
    redisAsyncContext *ac = l->ac;
    l->ac = NULL;
    redisAsyncFree(ac);
    schedule_reconnect(l);
}

/* Close a link so that it reconnects: a connected one through hiredis's
 * disconnect (its callbacks answer what waits), one still connecting at
 * once (hiredis frees those without any callback). Safe inside callbacks. */
static void link_close(struct link *l)
{
    if (!l->ac)
        return;
    if (l->connected)
        redisAsyncDisconnect(l->ac);
    else
        link_drop(l, "redis: connect abandoned; reconnecting");
}

/* Stalled: commands wait and no reply came for this long (a WAIT may
 * rightly hold the writes link for replica_timeout). */
static int link_stalled(const struct link *l, int64_t now)
{
    /* a WAIT may rightly hold its link for replica_timeout (main carries them while writes is down) */
    int waiting = l->kind == LINK_WRITES || l->wait_sent != l->wait_done;
    int64_t limit = S.conf->redis_timeout_ms + (waiting ? S.conf->replica_timeout_ms : 0);
    return l->ac && l->pending > 0 && now - l->progress_ms > limit;
}

/* hiredis has no command timeouts: if replies stop coming while commands
 * wait, drop the connection; every waiting callback then gets NULL. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    int64_t now = now_ms();
    for (int i = 0; i < S.nnodes; i++) {
        struct node *n = S.nodes[i];
        struct link *links[2] = {&n->main, &n->writes};
        for (int k = 0; k < 2; k++) {
            struct link *l = links[k];
            if (link_stalled(l, now))
                link_drop(l, "redis: replies stalled; reconnecting");
            else if (l->ac && !l->connected && now - l->connect_ms > S.conf->redis_timeout_ms)
                link_drop(l, "redis: connect timed out");
        }
        if (n->main.ac && n->main.connected && n->in_map && !n->ready && n->loading == 0)
            load_scripts(n, 1); /* an earlier SCRIPT LOAD failed: try again */
        else if (n->ready && n->fn_failed && n->fn_retry_ms && now >= n->fn_retry_ms && n->loading == 0)
            load_scripts(n, 0); /* likewise a FUNCTION LOAD, less often: EVALSHA works meanwhile */
    }
    for (struct store_subscription *sub = S.subs; sub; sub = sub->next)
        sub_watch(sub, now);
    if (S.mode == MODE_CLUSTER && !S.ready)
        refresh_topology(); /* until every slot has a live master */
}

int store_init(struct event_base *base, const struct conf *c)
{
    memset(&S, 0, sizeof(S));
    S.base = base;
    S.conf = c;
    if (scripts_init() < 0)
        return -1;
    S.watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
    struct timeval sec = {1, 0};
    if (!S.watchdog_ev || event_add(S.watchdog_ev, &sec) < 0)
        return -1;
    if (!node_get(c->redis_host, c->redis_port))
        return -1;
    if (c->sentinels && !(S.switch_sub = sub_new("+switch-master", sentinel_address, on_switch_message, NULL, 0)))
        return -1;
    return 0;
}

void store_close(void)
{
    S.closing = 1;
    if (S.asking) /* as if it timed out: its end frees it and, closing, connects nothing */
        on_sentinel_timeout(-1, 0, S.asking);
    store_unsubscribe(S.switch_sub);
    S.switch_sub = NULL;
    while (S.subs) /* left by a caller: theirs to stop first, but not leaked */
        store_unsubscribe(S.subs);
    for (int i = 0; i < S.nnodes; i++) { /* every waiting callback gets NULL */
        struct link *links[2] = {&S.nodes[i]->writes, &S.nodes[i]->main};
        for (int k = 0; k < 2; k++)
            if (links[k]->ac) {
                redisAsyncContext *ac = links[k]->ac;
                links[k]->ac = NULL;
                redisAsyncFree(ac);
            }
    }
    for (int i = 0; i < S.nnodes; i++) {
        link_free_events(&S.nodes[i]->main);
        link_free_events(&S.nodes[i]->writes);
        free(S.nodes[i]);
    }
    S.nnodes = 0;
    if (S.watchdog_ev)
        event_free(S.watchdog_ev);
    S.watchdog_ev = NULL;
    free(key_cluster_tags);
    key_cluster_tags = NULL;
}

const redisReply *flat_reply(const redisReply *f, const char *name)
{
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0)
            return f->element[i + 1]->type == REDIS_REPLY_STRING ? f->element[i + 1] : NULL;
    return NULL;
}

const char *flat_get(const redisReply *f, const char *name)
{
    if (!f || f->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0)
            return f->element[i + 1]->type == REDIS_REPLY_STRING ? f->element[i + 1]->str : NULL;
    return NULL;
}
