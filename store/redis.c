#include "store/redis.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "store/ids.h"
#include "store/redis_config.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

/* One heap context per command in flight: the only privdata hiredis sees.
 * Freed in exactly one place, on_reply, which hiredis runs once (with NULL
 * when the connection dies). For scripts it keeps a copy of the arguments
 * so a NOSCRIPT answer can be retried as EVAL. */
struct cmd {
    store_cb cb;
    void *priv;
    int script; /* -1 for plain commands */
    int argc;
    const char **argv; /* scripts only: points into this same allocation */
    size_t *lens;      /* scripts only: likewise */
    int64_t sent_ms;
};

static struct {
    struct event_base *base;
    const struct conf *conf;
    redisAsyncContext *ac; /* NULL while disconnected */
    int connected;
    int ready;
    int loading;           /* SCRIPT LOAD replies still awaited */
    int closing;
    int64_t backoff_ms;
    struct event *reconnect_ev;
    struct event *watchdog_ev;
    long pending;
    int64_t progress_ms;   /* last reply, or when pending went 0 -> 1 */
    int64_t connect_ms;    /* when the current connect began */
    unsigned long long sent;
    double rtt_sum_ms;
    unsigned long long rtt_n;
    void (*on_ready)(void *);
    void *on_ready_arg;
    char addr[280];        /* host:port, for log lines */
} S;

static void connect_now(void);

long store_pending(void) { return S.pending; }
unsigned long long store_commands_sent(void) { return S.sent; }
double store_rtt_avg_ms(void) { return S.rtt_n ? S.rtt_sum_ms / (double)S.rtt_n : 0; }
int store_ready(void) { return S.ready && S.ac != NULL; }

void store_on_ready(void (*fn)(void *), void *arg)
{
    S.on_ready = fn;
    S.on_ready_arg = arg;
}

static void cmd_free(struct cmd *c)
{
    free(c); /* the argument copy lives in the same block */
}

static void schedule_reconnect(void)
{
    if (S.closing)
        return;
    struct timeval tv = {S.backoff_ms / 1000, (S.backoff_ms % 1000) * 1000};
    event_add(S.reconnect_ev, &tv);
    S.backoff_ms = S.backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : S.backoff_ms * 2;
}

static int send_cmd(struct cmd *c, int argc, const char **argv, const size_t *lens);
static void load_scripts(void);

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct cmd *c = privdata;
    redisReply *reply = r;
    S.pending--;
    int64_t now = now_ms();
    S.progress_ms = now;
    S.rtt_sum_ms += (double)(now - c->sent_ms);
    S.rtt_n++;
    if (reply && reply->type == REDIS_REPLY_ERROR && c->script >= 0 &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* Redis lost its script cache (restart, SCRIPT FLUSH): run this one
         * call as EVAL and reload the cache for the calls that follow. */
        const struct script *s = script_get((enum script_id)c->script);
        c->argv[0] = "EVAL";
        c->argv[1] = s->body; /* static: the block keeps only the caller's arguments */
        c->lens[0] = 4;
        c->lens[1] = strlen(s->body);
        c->script = -1;
        if (send_cmd(c, c->argc, c->argv, c->lens) == 0) {
            if (!S.loading)
                load_scripts();
            return;
        }
        reply = NULL;
    }
    c->cb(reply, c->priv);
    cmd_free(c);
}

static int send_cmd(struct cmd *c, int argc, const char **argv, const size_t *lens)
{
    if (!S.ac)
        return -1;
    if (redisAsyncCommandArgv(S.ac, on_reply, c, argc, argv, lens) != REDIS_OK)
        return -1;
    if (S.pending++ == 0)
        S.progress_ms = now_ms();
    c->sent_ms = now_ms();
    S.sent++;
    return 0;
}

int store_command(store_cb cb, void *priv, int argc, const char **argv, const size_t *lens)
{
    if (!store_ready())
        return -1;
    struct cmd *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->cb = cb;
    c->priv = priv;
    c->script = -1;
    if (send_cmd(c, argc, argv, lens) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

int store_script(enum script_id id, store_cb cb, void *priv, int nkeys, int argc,
                 const char **argv, const size_t *lens)
{
    if (!store_ready())
        return -1;
    /* One allocation: the context, the argv and lens arrays, and a copy of
     * the caller's arguments (kept so that NOSCRIPT can be retried as EVAL). */
    int total = argc + 3;
    size_t bytes = sizeof(struct cmd) + (size_t)total * (sizeof(char *) + sizeof(size_t)) + 16;
    for (int i = 0; i < argc; i++)
        bytes += (lens ? lens[i] : strlen(argv[i])) + 1;
    struct cmd *c = calloc(1, bytes);
    if (!c)
        return -1;
    c->cb = cb;
    c->priv = priv;
    c->script = (int)id;
    c->argc = total;
    c->argv = (const char **)(c + 1);
    c->lens = (size_t *)(c->argv + total);
    char *data = (char *)(c->lens + total);
    char *nk = data;
    data += snprintf(nk, 16, "%d", nkeys) + 1;
    c->argv[0] = "EVALSHA";
    c->argv[1] = script_get(id)->sha;
    c->argv[2] = nk;
    for (int i = 0; i < 3; i++)
        c->lens[i] = strlen(c->argv[i]);
    for (int i = 0; i < argc; i++) {
        size_t len = lens ? lens[i] : strlen(argv[i]);
        memcpy(data, argv[i], len);
        data[len] = '\0';
        c->argv[i + 3] = data;
        c->lens[i + 3] = len;
        data += len + 1;
    }
    if (send_cmd(c, total, c->argv, c->lens) < 0) {
        free(c);
        return -1;
    }
    return 0;
}

static void on_script_loaded(redisReply *reply, void *priv)
{
    const struct script *s = priv;
    if (!reply || reply->type != REDIS_REPLY_STRING || strcmp(reply->str, s->sha) != 0) {
        LOG_ERR("redis: SCRIPT LOAD failed", "script", s->name,
                "error", reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply", NULL);
        S.loading = 0;
        return; /* stays not ready; the watchdog or a disconnect retries */
    }
    if (--S.loading == 0 && !S.ready) {
        S.ready = 1;
        S.backoff_ms = BACKOFF_MIN_MS;
        LOG_INFO("redis: ready", NULL);
        redis_config_check();
        if (S.on_ready)
            S.on_ready(S.on_ready_arg);
    }
}

static void load_scripts(void)
{
    S.loading = SCRIPT_COUNT;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        const struct script *s = script_get((enum script_id)i);
        struct cmd *c = calloc(1, sizeof(*c));
        const char *argv[3] = {"SCRIPT", "LOAD", s->body};
        size_t lens[3] = {6, 4, strlen(s->body)};
        if (!c) {
            S.loading = 0;
            return;
        }
        c->cb = on_script_loaded;
        c->priv = (void *)s;
        c->script = -1;
        if (send_cmd(c, 3, argv, lens) < 0) {
            free(c);
            S.loading = 0;
            return;
        }
    }
}

static void on_select(redisReply *reply, void *priv)
{
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        LOG_ERR("redis: SELECT failed", "error", reply ? reply->str : "no reply", NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status != REDIS_OK) {
        LOG_WARNING("redis: connect failed", "redis", S.addr, "error", ac->errstr, NULL);
        S.ac = NULL; /* hiredis frees the context after this callback */
        schedule_reconnect();
        return;
    }
    S.connected = 1;
    LOG_INFO("redis: connected", "redis", S.addr, NULL);
    if (S.conf->redis_db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", S.conf->redis_db);
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, strlen(db)};
        struct cmd *c = calloc(1, sizeof(*c));
        if (c) {
            c->cb = on_select;
            c->script = -1;
            if (send_cmd(c, 2, argv, lens) < 0)
                free(c);
        }
    }
    load_scripts();
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    S.ac = NULL;
    S.connected = 0;
    S.ready = 0;
    S.loading = 0;
    S.pending = 0;
    if (!S.closing)
        LOG_WARNING("redis: disconnected", "redis", S.addr, "error", status == REDIS_OK ? "closed" : ac->errstr, NULL);
    schedule_reconnect();
}

static void connect_now(void)
{
    redisAsyncContext *ac = redisAsyncConnect(S.conf->redis_host, S.conf->redis_port);
    if (!ac) {
        schedule_reconnect();
        return;
    }
    if (ac->err) {
        LOG_WARNING("redis: connect failed", "redis", S.addr, "error", ac->errstr, NULL);
        redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    if (redisLibeventAttach(ac, S.base) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_reconnect();
        return;
    }
    S.connect_ms = now_ms();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    S.ac = ac;
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    if (!S.ac && !S.closing)
        connect_now();
}

/* hiredis has no command timeouts: if replies stop coming while commands
 * wait, drop the connection; every waiting callback then gets NULL. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    if (S.ac && S.pending > 0 && now_ms() - S.progress_ms > S.conf->redis_timeout_ms) {
        LOG_WARNING("redis: replies stalled; reconnecting", "redis", S.addr, NULL);
        redisAsyncContext *ac = S.ac;
        S.ac = NULL;
        redisAsyncFree(ac);
        if (!event_pending(S.reconnect_ev, EV_TIMEOUT, NULL))
            schedule_reconnect();
    } else if (S.ac && !S.connected && now_ms() - S.connect_ms > S.conf->redis_timeout_ms) {
        LOG_WARNING("redis: connect timed out", "redis", S.addr, NULL);
        redisAsyncContext *ac = S.ac;
        S.ac = NULL;
        redisAsyncFree(ac);
        if (!event_pending(S.reconnect_ev, EV_TIMEOUT, NULL))
            schedule_reconnect();
    } else if (S.ac && S.connected && !S.ready && S.loading == 0) {
        load_scripts(); /* an earlier SCRIPT LOAD failed: try again */
    }
}

int store_init(struct event_base *base, const struct conf *c)
{
    memset(&S, 0, sizeof(S));
    S.base = base;
    S.conf = c;
    S.backoff_ms = BACKOFF_MIN_MS;
    snprintf(S.addr, sizeof(S.addr), strchr(c->redis_host, ':') ? "[%s]:%d" : "%s:%d", c->redis_host, c->redis_port);
    if (scripts_init() < 0)
        return -1;
    S.reconnect_ev = evtimer_new(base, on_reconnect_timer, NULL);
    S.watchdog_ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL);
    struct timeval sec = {1, 0};
    if (!S.reconnect_ev || !S.watchdog_ev || event_add(S.watchdog_ev, &sec) < 0)
        return -1;
    connect_now();
    return 0;
}

void store_close(void)
{
    S.closing = 1;
    if (S.ac) {
        redisAsyncContext *ac = S.ac;
        S.ac = NULL;
        redisAsyncFree(ac);
    }
    if (S.reconnect_ev)
        event_free(S.reconnect_ev);
    if (S.watchdog_ev)
        event_free(S.watchdog_ev);
    S.reconnect_ev = S.watchdog_ev = NULL;
}
