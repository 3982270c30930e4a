#include "store/secrets.h"

#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/log.h"
#include "store/crypto.h"
#include "store/keys.h"
#include "store/redis.h"

#define CHECK_PLAIN "hookd"
#define CHECK_AD "secret-check"
#define SCAN_COUNT "256"
/* How long a complete walk spares later starts theirs. The walk scans the
 * whole keyspace once per partition, which a store of millions of keys
 * feels at every process start; within a day of a complete one, the only
 * values it could find are those a process without the key wrote during a
 * rollout that brought the key, and the first start after the day seals
 * them. */
#define WALKED_TTL_S "86400"

static struct {
    uint8_t key[32], previous[32];
    int have_key, have_previous;
    const struct conf *conf;
    struct event_base *base;
    void (*fatal)(const char *why);
    struct event *step_ev;   /* the next batch of the walk */
    struct event *check_ev;  /* the check, asked (again) */
    int started, checked, partition, resealed_check, passes, incomplete;
    char cursor[32];
    char check[SECRET_SEALED_MAX]; /* the check value this process walks under */
    struct timeval step_started;
    unsigned long long sealed;
} K;

static int key_from(const char *b64, uint8_t out[32])
{
    uint8_t raw[48];
    return b64 && b64[0] && base64_decode(b64, strlen(b64), raw, sizeof(raw)) == 32 ? (memcpy(out, raw, 32), 1) : 0;
}

int secrets_init(const struct conf *c)
{
    memset(&K, 0, sizeof(K));
    K.conf = c;
    K.have_key = key_from(c->secret_key, K.key);
    K.have_previous = key_from(c->secret_key_previous, K.previous);
    return 0;
}

int secrets_sealing(void) { return K.have_key; }

static int seal_with(const uint8_t key[32], const char *ad, const char *plain, char *out, size_t cap)
{
    size_t n = strlen(plain), p = strlen(SEALED_PREFIX);
    uint8_t *box = malloc(n + SEAL_OVERHEAD); /* values run from a secret to a TLS key of 64 KiB */
    int len = box ? aead_seal(key, ad, strlen(ad), plain, n, box, n + SEAL_OVERHEAD) : -1;
    int rc = len < 0 || cap <= p ? -1 : 0;
    if (rc == 0) {
        memcpy(out, SEALED_PREFIX, p);
        rc = base64_encode(box, (size_t)len, out + p, cap - p) < 0 ? -1 : 0;
    }
    free(box);
    return rc;
}

int secrets_seal(const char *ad, const char *plain, char *out, size_t cap)
{
    if (!K.have_key || !plain[0]) {
        if (strlen(plain) >= cap)
            return -1;
        strcpy(out, plain);
        return 0;
    }
    return seal_with(K.key, ad, plain, out, cap);
}

static int open_with(const uint8_t key[32], const char *ad, const uint8_t *box, int len, char *out, size_t cap)
{
    int n = aead_open(key, ad, strlen(ad), box, (size_t)len, (uint8_t *)out, cap - 1);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

int secrets_open(const char *ad, const char *stored, char *out, size_t cap, int *previous)
{
    size_t p = strlen(SEALED_PREFIX);
    if (previous)
        *previous = 0;
    if (strncmp(stored, SEALED_PREFIX, p) != 0) { /* clear: written before a key, or without one */
        if (strlen(stored) >= cap)
            return -1;
        strcpy(out, stored);
        return 0;
    }
    size_t b64 = strlen(stored + p);
    uint8_t *box = malloc(b64 / 4 * 3 + 3);
    int len = box ? base64_decode(stored + p, b64, box, b64 / 4 * 3 + 3) : -1, rc = -1;
    if (len >= 0 && K.have_key && open_with(K.key, ad, box, len, out, cap) == 0)
        rc = 0;
    else if (len >= 0 && K.have_previous && open_with(K.previous, ad, box, len, out, cap) == 0) {
        if (previous)
            *previous = 1;
        rc = 0;
    }
    free(box);
    return rc;
}

/* ---- start-up: the key against the store, then the walk ---- */

static void step(evutil_socket_t fd, short what, void *arg);

static void on_ignored(redisReply *rep, void *priv) { (void)rep, (void)priv; }

/* What a stored value should become: 1 with `out` set when it must be
 * (re)sealed under the current key, 0 when it is fine, -1 when no key opens it. */
static int reseal(const char *ad, const char *stored, char *out, size_t cap)
{
    int previous;
    if (!stored[0])
        return 0;
    size_t pcap = strlen(stored) + 1; /* a clear value is never longer than it is stored */
    char *plain = malloc(pcap);
    if (!plain || secrets_open(ad, stored, plain, pcap, &previous) < 0) {
        if (plain)
            OPENSSL_cleanse(plain, pcap);
        free(plain);
        return -1;
    }
    int clear = strncmp(stored, SEALED_PREFIX, strlen(SEALED_PREFIX)) != 0;
    int rc = clear || previous ? (seal_with(K.key, ad, plain, out, cap) == 0 ? 1 : -1) : 0;
    OPENSSL_cleanse(plain, pcap);
    free(plain);
    return rc;
}

static void rest_then_step(void)
{
    struct timeval now, took;
    evutil_gettimeofday(&now, NULL);
    evutil_timersub(&now, &K.step_started, &took);
    if (took.tv_sec < 0 || took.tv_sec >= 1)
        took = (struct timeval){1, 0};
    event_add(K.step_ev, &took); /* half of the store's time at most, as jobs do */
}

/* The batch is done: the next one, the next partition, or the pass's end.
 * A pass that left anything (a failed write, a rotation that won a
 * compare-and-set, a value no key opens) is followed by another, up to 3. */
static void advance(void)
{
    if (strcmp(K.cursor, "0") != 0 || ++K.partition < (int)K.conf->partitions) {
        rest_then_step();
        return;
    }
    if (K.incomplete && ++K.passes < 3) {
        K.incomplete = 0;
        K.partition = 0;
        rest_then_step();
        return;
    }
    if (K.incomplete) {
        LOG_WARNING("secrets: some endpoint secrets could not be sealed under secret_key; keep secret_key_previous "
                    "and restart to try again", NULL);
        return;
    }
    char count[24];
    snprintf(count, sizeof(count), "%llu", K.sealed);
    LOG_INFO("secrets: every endpoint secret is sealed under secret_key", "sealed_now", count, NULL);
    if (K.resealed_check) { /* the check value last, once nothing needs the previous key */
        char box[SECRET_SEALED_MAX];
        if (seal_with(K.key, CHECK_AD, CHECK_PLAIN, box, sizeof(box)) < 0)
            return;
        const char *set[] = {"SET", KEY_SECRET_CHECK, box};
        if (store_command(on_ignored, NULL, 3, set, NULL) < 0)
            return;
        memcpy(K.check, box, sizeof(box));
    }
    const char *walked[] = {"SET", KEY_SECRET_WALKED, K.check, "EX", WALKED_TTL_S};
    store_command(on_ignored, NULL, 5, walked, NULL); /* lost: the next start walks again */
}

/* seal.lua's write: how many fields it changed, against how many were sent. */
static void on_written(redisReply *rep, void *priv)
{
    long expected = (long)(intptr_t)priv;
    if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer < expected)
        K.incomplete = 1;
    advance();
}

/* The endpoint hash's fields that hold something sealed. */
static const char *const SEALED_FIELDS[] = {"secret", "prev_secret", "sign_key", "prev_sign_key", "tls_key",
                                            "auth_client_secret"};
#define NSEALED (int)(sizeof(SEALED_FIELDS) / sizeof(SEALED_FIELDS[0]))

static void on_scanned(redisReply *rep, void *priv)
{
    (void)priv;
    size_t w = 1 + NSEALED; /* an endpoint's id and its fields */
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || (rep->elements - 1) % w ||
        rep->element[0]->type != REDIS_REPLY_STRING) {
        struct timeval sec = {1, 0};
        event_add(K.step_ev, &sec); /* Redis away: the same batch again */
        return;
    }
    size_t n = (rep->elements - 1) / w, argc = 2;
    long fields = 0;
    const char **argv = calloc(2 + 4 * n * NSEALED, sizeof(*argv));
    char **sealed = calloc(n * NSEALED + 1, sizeof(*sealed)); /* owned: the new values */
    char prefix[KEY_PREFIX_MAX];
    key_prefix(prefix, K.partition);
    if (!argv || !sealed)
        K.incomplete = 1;
    for (size_t i = 0; argv && sealed && i < n; i++) {
        redisReply **e = rep->element + 1 + w * i;
        const char *id = e[0]->str;
        for (int f = 0; f < NSEALED; f++) {
            const char *stored = e[1 + f]->str;
            size_t cap = strlen(stored) * 4 / 3 + 128;
            char **slot = &sealed[i * NSEALED + f];
            int rc = (*slot = malloc(cap)) ? reseal(id, stored, *slot, cap) : -1;
            if (rc < 0) {
                LOG_ERR("a stored secret opens with neither secret_key nor secret_key_previous; left as it is",
                        "endpoint_id", id, "field", SEALED_FIELDS[f], NULL);
                K.incomplete = 1;
            }
            if (rc <= 0)
                continue;
            argv[argc++] = id, argv[argc++] = SEALED_FIELDS[f], argv[argc++] = stored, argv[argc++] = *slot;
            fields++;
        }
    }
    snprintf(K.cursor, sizeof(K.cursor), "%s", rep->element[0]->str);
    int sent = 0;
    if (argv && argc > 2) {
        argv[0] = prefix, argv[1] = "write";
        sent = store_script(SCRIPT_SEAL, on_written, (void *)(intptr_t)fields, 1, (int)argc, argv, NULL) == 0;
        if (sent)
            K.sealed += (unsigned long long)fields;
        else
            K.incomplete = 1;
    }
    for (size_t i = 0; sealed && i < n * NSEALED; i++)
        free(sealed[i]); /* sealed values: nothing to wipe */
    free(sealed);
    free(argv);
    if (!sent)
        advance(); /* else on_written goes on */
}

static void step(evutil_socket_t fd, short what, void *arg)
{
    char prefix[KEY_PREFIX_MAX];
    key_prefix(prefix, K.partition);
    const char *argv[4 + NSEALED] = {prefix, "scan", K.cursor, SCAN_COUNT};
    for (int f = 0; f < NSEALED; f++)
        argv[4 + f] = SEALED_FIELDS[f];
    evutil_gettimeofday(&K.step_started, NULL);
    if (store_script(SCRIPT_SEAL, on_scanned, NULL, 1, 4 + NSEALED, argv, NULL) < 0) {
        struct timeval sec = {1, 0};
        event_add(K.step_ev, &sec);
    }
}

static void ask_check(evutil_socket_t fd, short what, void *arg);

static void check_again(void)
{
    struct timeval sec = {1, 0};
    event_add(K.check_ev, &sec);
}

/* SET NX of the check value: OK, it is ours and the walk starts; nil,
 * another process stored one first: it is read and checked like any. */
static void on_check_written(redisReply *rep, void *priv)
{
    (void)priv;
    if (rep && rep->type == REDIS_REPLY_STATUS) {
        /* K.check holds what was written */
        K.checked = 1;
        event_active(K.step_ev, EV_TIMEOUT, 1);
    } else if (rep && rep->type == REDIS_REPLY_NIL) {
        event_active(K.check_ev, EV_TIMEOUT, 1);
    } else {
        check_again();
    }
}

/* The check value decides: the configured key opens what this store holds,
 * or hookd must not write anything with it. Then the walk, unless one
 * finished under this very check value within WALKED_TTL_S. */
static void on_check(redisReply *rep, void *priv)
{
    (void)priv;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        check_again();
        return;
    }
    const redisReply *check = rep->element[0], *walked = rep->element[1];
    if (check->type != REDIS_REPLY_STRING) { /* a new store, or one that never had a key */
        if (!K.have_key) {
            K.checked = 1;
            return;
        }
        const char *set[] = {"SET", KEY_SECRET_CHECK, K.check, "NX"};
        if (seal_with(K.key, CHECK_AD, CHECK_PLAIN, K.check, sizeof(K.check)) < 0 ||
            store_command(on_check_written, NULL, 4, set, NULL) < 0)
            check_again();
        return;
    }
    if (!K.have_key) {
        K.fatal("secret_key: this Redis holds endpoint secrets sealed under a key; set secret_key to it");
        return;
    }
    char plain[64];
    int previous;
    if (check->len >= sizeof(K.check) || secrets_open(CHECK_AD, check->str, plain, sizeof(plain), &previous) < 0 ||
        strcmp(plain, CHECK_PLAIN) != 0) {
        K.fatal("secret_key: neither secret_key nor secret_key_previous opens the secrets this Redis holds "
                "(a wrong key?); nothing was written");
        return;
    }
    K.checked = 1;
    K.resealed_check = previous;
    memcpy(K.check, check->str, check->len + 1);
    if (!previous && walked->type == REDIS_REPLY_STRING && strcmp(walked->str, check->str) == 0) {
        LOG_INFO("secrets: a walk within the last day sealed every endpoint secret under secret_key; none now",
                 NULL);
        return;
    }
    event_active(K.step_ev, EV_TIMEOUT, 1);
}

static void ask_check(evutil_socket_t fd, short what, void *arg)
{
    const char *get[] = {"MGET", KEY_SECRET_CHECK, KEY_SECRET_WALKED}; /* one slot: {g} */
    if (store_command(on_check, NULL, 3, get, NULL) < 0)
        check_again();
}

static void on_store_ready(void *arg)
{
    (void)arg;
    if (K.started)
        return;
    K.started = 1;
    K.partition = 0;
    snprintf(K.cursor, sizeof(K.cursor), "0");
    ask_check(-1, 0, NULL);
}

int secrets_ready(void) { return K.checked || !K.have_key; }

int secrets_start(struct event_base *base, void (*fatal)(const char *why))
{
    K.base = base;
    K.fatal = fatal;
    K.step_ev = evtimer_new(base, step, NULL);
    K.check_ev = evtimer_new(base, ask_check, NULL);
    if (!K.step_ev || !K.check_ev)
        return -1;
    return store_on_ready(on_store_ready, NULL);
}

void secrets_free(void)
{
    if (K.step_ev)
        event_free(K.step_ev);
    if (K.check_ev)
        event_free(K.check_ev);
    OPENSSL_cleanse(&K, sizeof(K));
}
