#include "reactor/delivery/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>

#include "conf/conf.h"

struct range {
    const char *cidr;
    const char *name;
};

/* IANA special-purpose registries (RFC 6890 and successors). */
static const struct range blocked[] = {
    {"0.0.0.0/8", "this-network"},
    {"10.0.0.0/8", "private"},
    {"100.64.0.0/10", "cgnat"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"},
    {"172.16.0.0/12", "private"},
    {"192.0.0.0/24", "ietf-protocol"},
    {"192.0.2.0/24", "documentation"},
    {"192.88.99.0/24", "6to4-relay"},
    {"192.168.0.0/16", "private"},
    {"198.18.0.0/15", "benchmarking"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
    {"::/96", "ipv4-compatible"}, /* includes :: and ::1 */
    {"64:ff9b::/96", "nat64"},
    {"64:ff9b:1::/48", "nat64"},
    {"100::/64", "discard"},
    {"2001::/23", "ietf-protocol"},
    {"2001:db8::/32", "documentation"},
    {"2002::/16", "6to4"},
    {"fc00::/7", "unique-local"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local"},
    {"ff00::/8", "multicast"},
};

const char *netaddr_blocked_range(const uint8_t a[16])
{
    static struct conf_cidr parsed[sizeof(blocked) / sizeof(blocked[0])];
    static int ready;
    if (!ready) {
        for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
            if (conf_parse_cidr(blocked[i].cidr, &parsed[i]) < 0)
                return "unparsable-table"; /* fail closed */
        ready = 1;
    }
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if (conf_cidr_contains(&parsed[i], a))
            return blocked[i].name;
    return NULL;
}

int netaddr_from_sockaddr(const struct sockaddr *sa, uint8_t out[16])
{
    memset(out, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &s4->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return 0;
    }
    return -1;
}

int netaddr_permitted(const struct conf *c, const uint8_t a[16])
{
    return netaddr_blocked_range(a) == NULL || conf_allowed(c, a);
}

/* A WHATWG "number" label: decimal digits, or 0x followed by hex digits. */
static int numeric_label(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++)
            if (!isxdigit((unsigned char)s[i]))
                return 0;
        return 1;
    }
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

enum ipv4_spelling netaddr_ipv4_spelling(const char *host)
{
    size_t len = strlen(host);
    if (len && host[len - 1] == '.')
        len--; /* a trailing dot is still the same host */
    const char *last = host + len;
    while (last > host && last[-1] != '.')
        last--;
    if (!numeric_label(last, (size_t)(host + len - last)))
        return IPV4_NOT_A_LITERAL;
    int parts = 0;
    const char *p = host;
    while (p < host + len) {
        const char *dot = memchr(p, '.', (size_t)(host + len - p));
        size_t n = dot ? (size_t)(dot - p) : (size_t)(host + len - p);
        if (n == 0 || n > 3 || (n > 1 && p[0] == '0'))
            return IPV4_AMBIGUOUS;
        int v = 0;
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)p[i]))
                return IPV4_AMBIGUOUS;
            v = v * 10 + (p[i] - '0');
        }
        if (v > 255 || ++parts > 4)
            return IPV4_AMBIGUOUS;
        p += n + (dot ? 1 : 0);
        if (!dot)
            break;
    }
    return parts == 4 && len == strlen(host) ? IPV4_CANONICAL : IPV4_AMBIGUOUS;
}
