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

/* How a URL host reads as IPv4. Browsers and curl (the WHATWG URL rules)
 * take a host whose last label is a number (decimal, 0x-hex, or octal by a
 * leading zero) as an IPv4 address in any of several spellings: 0177.0.0.1
 * and 2130706433 both mean 127.0.0.1. hookd accepts only the one spelling
 * everybody reads alike. */
enum ipv4_spelling {
    IPV4_NOT_A_LITERAL, /* a name: resolved by DNS and vetted then */
    IPV4_CANONICAL,     /* four decimal parts 0-255 without leading zeros */
    IPV4_AMBIGUOUS,     /* any other numeric spelling: refuse it */
};
enum ipv4_spelling netaddr_ipv4_spelling(const char *host);

#endif
