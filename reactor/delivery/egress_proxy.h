/*
 * egress_proxy: deliveries through an HTTP CONNECT tunnel (config
 * egress_proxy = http://[user:password@]host:port).
 *
 * The client resolves and vets the destination itself and asks the proxy
 * for the vetted IP literal, so the proxy cannot be used to reach an
 * address hookd would refuse; TLS and the Host header keep the name.
 *
 * libevent 2.1's evhttp client always makes its own connection (it closes
 * whatever socket its bufferevent held and connects), so it cannot be
 * handed a socket that is already tunnelled. So once the proxy has said
 * 200, the tunnel listens on 127.0.0.1 for exactly one connection, the
 * client points evhttp at it, and the tunnel splices that connection to the
 * proxy's. Only the socket the client names (tunnel_attach) is spliced;
 * anything else that connects to the port is closed.
 *
 * Ownership: the client holds a tunnel from tunnel_open until its callback
 * runs or it calls tunnel_abandon. From the callback on, the tunnel owns
 * itself and is freed when either side closes, or when nobody connects
 * within connect_timeout.
 */
#ifndef HOOKD_EGRESS_PROXY_H
#define HOOKD_EGRESS_PROXY_H

#include <event2/util.h>

struct event_base;
struct conf;
struct tunnel;

/* ok: the tunnel listens on 127.0.0.1:port; the callback must call
 * tunnel_attach before it returns. Not ok: the proxy was unreachable or
 * refused (the error class proxy_error); the tunnel is already gone. */
typedef void (*tunnel_cb)(struct tunnel *t, int ok, int port, void *arg);

/* Resolves the proxy once (start-up). 0 also when no proxy is configured. */
int egress_proxy_init(struct event_base *base, const struct conf *c);
int egress_proxy_enabled(void);
void egress_proxy_free(void);

/* Ask the proxy for a tunnel to ip:port (ip a vetted literal). NULL when
 * out of memory (the callback will not run). */
struct tunnel *tunnel_open(const char *ip, int port, tunnel_cb cb, void *arg);
/* The socket evhttp connects from (-1: it made none; the tunnel closes). */
void tunnel_attach(struct tunnel *t, evutil_socket_t fd);
/* Give up before the callback ran; the callback will not run. */
void tunnel_abandon(struct tunnel *t);

#endif
