#include <arpa/inet.h>

#include "check.h"
#include "conf/conf.h"
#include "reactor/delivery/netaddr.h"

static void addr(const char *s, uint8_t out[16])
{
    struct conf_cidr c;
    conf_parse_cidr(s, &c);
    memcpy(out, c.addr, 16);
}

int main(void)
{
    static const struct { const char *a; int blocked; } cases[] = {
        {"8.8.8.8", 0}, {"1.1.1.1", 0}, {"2606:4700::1111", 0},
        {"127.0.0.1", 1}, {"10.1.2.3", 1}, {"172.16.0.1", 1}, {"172.32.0.1", 0}, {"192.168.1.1", 1},
        {"169.254.169.254", 1}, {"100.64.0.1", 1}, {"0.0.0.0", 1}, {"224.0.0.1", 1}, {"255.255.255.255", 1},
        {"::1", 1}, {"::", 1}, {"fe80::1", 1}, {"fc00::1", 1}, {"fd12::1", 1}, {"ff02::1", 1},
        {"::ffff:10.0.0.1", 1}, {"::ffff:8.8.8.8", 0}, {"64:ff9b::a00:1", 1}, {"2001:db8::1", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t a[16];
        addr(cases[i].a, a);
        CHECK((netaddr_blocked_range(a) != NULL) == cases[i].blocked, "%s", cases[i].a);
    }
    struct conf c;
    char err[128];
    conf_init(&c, err, sizeof(err));
    uint8_t lo[16], ten[16];
    addr("127.0.0.1", lo);
    addr("10.0.0.1", ten);
    CHECK(!netaddr_permitted(&c, lo), "loopback refused by default");
    conf_set(&c, "allow_networks", "127.0.0.0/8", "t", err, sizeof(err));
    conf_finish(&c, err, sizeof(err));
    CHECK(netaddr_permitted(&c, lo), "allow-list opens loopback");
    CHECK(!netaddr_permitted(&c, ten), "but not 10/8");
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr);
    uint8_t m[16];
    CHECK(netaddr_from_sockaddr((struct sockaddr *)&sin, m) == 0 && netaddr_permitted(&c, m), "sockaddr");
    conf_free(&c);
    static const struct { const char *host; enum ipv4_spelling want; } spellings[] = {
        {"127.0.0.1", IPV4_CANONICAL}, {"8.8.8.8", IPV4_CANONICAL}, {"0.0.0.0", IPV4_CANONICAL},
        {"255.255.255.255", IPV4_CANONICAL}, {"1.2.3.4.", IPV4_AMBIGUOUS},
        {"0177.0.0.1", IPV4_AMBIGUOUS}, {"127.0.0.01", IPV4_AMBIGUOUS}, {"0x7f.0.0.1", IPV4_AMBIGUOUS},
        {"0x7f000001", IPV4_AMBIGUOUS}, {"2130706433", IPV4_AMBIGUOUS}, {"127.1", IPV4_AMBIGUOUS},
        {"127.0.1", IPV4_AMBIGUOUS}, {"256.0.0.1", IPV4_AMBIGUOUS}, {"1.2.3.4.5", IPV4_AMBIGUOUS},
        {"1..2.3", IPV4_AMBIGUOUS}, {"example.com", IPV4_NOT_A_LITERAL}, {"deadbeef", IPV4_NOT_A_LITERAL},
        {"1.2.3.com", IPV4_NOT_A_LITERAL}, {"a.0x", IPV4_AMBIGUOUS}, {"x1", IPV4_NOT_A_LITERAL},
        {"[::1]", IPV4_NOT_A_LITERAL}, {"::1", IPV4_NOT_A_LITERAL}, {"localhost", IPV4_NOT_A_LITERAL},
    };
    for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
        CHECK(netaddr_ipv4_spelling(spellings[i].host) == spellings[i].want, "%s read as %d", spellings[i].host,
              (int)netaddr_ipv4_spelling(spellings[i].host));
    return CHECK_DONE();
}
