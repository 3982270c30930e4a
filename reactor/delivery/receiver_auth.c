#include "reactor/delivery/receiver_auth.h"

#include <event2/http.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/log.h"
#include "reactor/delivery/client.h"
#include "store/crypto.h"
#include "store/ids.h"
#include "store/json.h"

#define ENTRIES 256              /* endpoints with a token kept, least recently used replaced */
#define MARGIN_MS 30000          /* a token is renewed this long before it expires (or at 90% of its life) */

struct receiver_auth_wait {
    struct receiver_auth_wait *next;
    struct entry *e;
    receiver_auth_cb cb;
    void *arg;
};

/* One endpoint's token and the fetch in flight; owned by the table. */
struct entry {
    char id[65];                 /* SHA-256 of the endpoint and its auth settings */
    char *token;                 /* owned; NULL when none */
    int64_t expires_ms, used;
    struct client_req *fetch;    /* in flight, or NULL */
    char *form;                  /* the fetch's body, borrowed by the client until it answers */
    struct receiver_auth_wait *waiting;
};

static struct {
    struct entry e[ENTRIES];
    int64_t clock;
} R;

static void entry_clear_token(struct entry *e)
{
    if (e->token) {
        OPENSSL_cleanse(e->token, strlen(e->token));
        free(e->token);
    }
    e->token = NULL;
}

/* The entry for these settings, or a free / least recently used one that
 * is not fetching. NULL when every entry is busy fetching. */
static struct entry *entry_for(const char *id)
{
    struct entry *pick = NULL;
    for (int i = 0; i < ENTRIES; i++) {
        struct entry *e = &R.e[i];
        if (strcmp(e->id, id) == 0)
            return e;
        if (!e->fetch && (!pick || e->used < pick->used))
            pick = e;
    }
    if (pick) {
        entry_clear_token(pick);
        snprintf(pick->id, sizeof(pick->id), "%s", id);
    }
    return pick;
}

/* The form holds the client secret: wiped before it goes. */
static void form_free(struct entry *e)
{
    if (e->form) {
        OPENSSL_cleanse(e->form, strlen(e->form));
        free(e->form);
    }
    e->form = NULL;
}

static void answer_all(struct entry *e, const char *token, const char *why)
{
    struct receiver_auth_wait *w = e->waiting;
    e->waiting = NULL;
    while (w) {
        struct receiver_auth_wait *next = w->next;
        w->cb(w->arg, token, why);
        free(w);
        w = next;
    }
}

static void on_token(const struct client_result *res, void *arg)
{
    struct entry *e = arg;
    char why[160] = "";
    e->fetch = NULL;
    form_free(e);
    yajl_val v = NULL;
    char err[64];
    if (res->status == 0)
        snprintf(why, sizeof(why), "token endpoint: %s", attempt_error_label(res->error));
    else if (res->status < 200 || res->status > 299)
        snprintf(why, sizeof(why), "token endpoint answered HTTP %d", res->status);
    else if (!res->body || !(v = json_parse(res->body, res->body_len, err, sizeof(err))))
        snprintf(why, sizeof(why), "token endpoint answered no JSON");
    const char *tp[] = {"access_token", NULL}, *ep[] = {"expires_in", NULL};
    yajl_val tok = v ? yajl_tree_get(v, tp, yajl_t_string) : NULL, exp = v ? yajl_tree_get(v, ep, yajl_t_number) : NULL;
    if (v && !tok)
        snprintf(why, sizeof(why), "token endpoint answered no access_token");
    entry_clear_token(e); /* an expired token never goes out as if it were fresh */
    if (tok) {
        long long life = exp && YAJL_IS_INTEGER(exp) && YAJL_GET_INTEGER(exp) > 0 ? YAJL_GET_INTEGER(exp) : 3600;
        if (life > 86400LL * 365)
            life = 86400LL * 365; /* a year at most: no overflow below */
        int64_t ms = life * 1000, margin = ms / 10 < MARGIN_MS ? ms / 10 : MARGIN_MS;
        const char *t = YAJL_GET_STRING(tok);
        e->token = t ? strdup(t) : NULL;
        if (!e->token)
            snprintf(why, sizeof(why), "out of memory");
        e->expires_ms = now_ms() + ms - margin;
    }
    answer_all(e, e->token, e->token ? NULL : why);
    if (v)
        yajl_tree_free(v);
}

/* application/x-www-form-urlencoded name=value&...; owned by the caller. */
static char *form_of(const struct receiver_auth *a)
{
    const char *kv[] = {"grant_type", "client_credentials", "client_id", a->client_id, "client_secret",
                        a->client_secret, "scope", a->scope && a->scope[0] ? a->scope : NULL};
    size_t cap = 64;
    for (int i = 1; i < 8; i += 2)
        cap += kv[i] ? 3 * strlen(kv[i]) + strlen(kv[i - 1]) + 2 : 0;
    char *out = malloc(cap);
    size_t n = 0;
    for (int i = 0; out && i < 8; i += 2) {
        if (!kv[i + 1])
            continue;
        char *enc = evhttp_uriencode(kv[i + 1], -1, 1);
        if (!enc) {
            free(out);
            return NULL;
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", n ? "&" : "", kv[i], enc);
        OPENSSL_cleanse(enc, strlen(enc));
        free(enc);
    }
    return out;
}

struct receiver_auth_wait *receiver_auth_token(const struct receiver_auth *a, const char *stale,
                                               receiver_auth_cb cb, void *arg)
{
    char id[65], *key = NULL;
    size_t len = strlen(a->endpoint_id) + strlen(a->token_url) + strlen(a->client_id) + strlen(a->client_secret) +
                 strlen(a->scope ? a->scope : "") + 8;
    if (!(key = malloc(len))) {
        cb(arg, NULL, "out of memory");
        return NULL;
    }
    snprintf(key, len, "%s\n%s\n%s\n%s\n%s", a->endpoint_id, a->token_url, a->client_id, a->client_secret,
             a->scope ? a->scope : "");
    int rc = sha256_hex(key, strlen(key), id);
    OPENSSL_cleanse(key, len);
    free(key);
    struct entry *e = rc == 0 ? entry_for(id) : NULL;
    if (!e) {
        cb(arg, NULL, "too many token fetches at once");
        return NULL;
    }
    e->used = ++R.clock;
    if (e->token && stale && strcmp(e->token, stale) == 0)
        entry_clear_token(e); /* the receiver refused it: fetch another */
    if (e->token && now_ms() < e->expires_ms) {
        cb(arg, e->token, NULL);
        return NULL;
    }
    struct receiver_auth_wait *w = calloc(1, sizeof(*w));
    if (!w) {
        cb(arg, NULL, "out of memory");
        return NULL;
    }
    w->e = e, w->cb = cb, w->arg = arg;
    w->next = e->waiting;
    e->waiting = w;
    if (!e->fetch) {
        struct client_header h[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                                    {"Accept", "application/json"}, {"User-Agent", "hookd"}};
        e->form = form_of(a);
        e->fetch = e->form ? client_post(a->token_url, h, 3, e->form, strlen(e->form), NULL, on_token, e) : NULL;
        if (!e->fetch) {
            form_free(e);
            e->waiting = w->next;
            free(w);
            cb(arg, NULL, "could not start the token request");
            return NULL;
        }
        client_keep_body(e->fetch);
    }
    return w;
}

void receiver_auth_cancel(struct receiver_auth_wait *w)
{
    for (struct receiver_auth_wait **p = &w->e->waiting; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            free(w);
            return;
        }
}

void receiver_auth_free(void)
{
    for (int i = 0; i < ENTRIES; i++) {
        struct entry *e = &R.e[i];
        if (e->fetch)
            client_cancel(e->fetch);
        while (e->waiting) {
            struct receiver_auth_wait *w = e->waiting;
            e->waiting = w->next;
            free(w);
        }
        form_free(e);
        entry_clear_token(e);
    }
    memset(&R, 0, sizeof(R));
}
