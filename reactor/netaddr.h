/*
 * netaddr: which addresses a delivery may connect to (SSRF defence).
 *
 * Every address is handled as 16 bytes, IPv4 as IPv4-mapped IPv6, so a
 * mapped address like ::ffff:10.0.0.1 is judged exactly as 10.0.0.1.
 */
#ifndef HOOKD_NETADDR_H
#define HOOKD_NETADDR_H

#include <stdint.h>
#include <sys/socket.h>

struct conf;

/* Name of the reserved range holding `a`, or NULL for a public address. */
const char *netaddr_blocked_range(const uint8_t a[16]);
/* 0 and `out` set for AF_INET/AF_INET6, else -1. */
int netaddr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16]);
/* 1 when a delivery may connect: public, or opened by allow_networks. */
int netaddr_permitted(const struct conf *c, const uint8_t a[16]);

#endif
