/*
 * receiver_auth: OAuth2 client-credentials tokens for endpoints whose
 * receivers want `Authorization: Bearer` (an endpoint's `auth`). A token is
 * fetched from the endpoint's token_url (a form POST through the same
 * client, so the URL is vetted like any endpoint's), kept until its
 * expires_in minus a margin, and shared by every delivery to that endpoint;
 * one fetch at a time per endpoint, the deliveries that need it wait on it.
 */
#ifndef HOOKD_RECEIVER_AUTH_H
#define HOOKD_RECEIVER_AUTH_H

struct event_base;
struct conf;

struct receiver_auth {
    const char *endpoint_id, *token_url, *client_id, *client_secret, *scope;
};

/* token: NULL when the token endpoint gave none (why says so). Both live
 * during the callback only. */
typedef void (*receiver_auth_cb)(void *arg, const char *token, const char *why);
struct receiver_auth_wait;

/* A token: from the cache (cb runs before this returns, and NULL comes
 * back), or fetched (cancel the returned wait to stop waiting). `stale`: a
 * token the receiver refused with 401; it is dropped and another fetched. */
struct receiver_auth_wait *receiver_auth_token(const struct receiver_auth *a, const char *stale,
                                               receiver_auth_cb cb, void *arg);
void receiver_auth_cancel(struct receiver_auth_wait *w);
void receiver_auth_free(void);

#endif
