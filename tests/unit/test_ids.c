#include "check.h"
#include "store/crypto.h"
#include "store/ids.h"

int main(void)
{
    char a[ID_LEN + 1], b[ID_LEN + 1], f[ID_LEN + 1];
    int64_t t = 1760000000000LL;
    id_new(a, t);
    CHECK(id_valid(a), "valid %s", a);
    CHECK(a[14] == '7', "version 7: %s", a);
    CHECK(strchr("89ab", a[19]) != NULL, "variant: %s", a);
    CHECK(id_time(a) == t, "time round trip %lld", (long long)id_time(a));
    for (int i = 0; i < 10000; i++) { /* monotonic within one millisecond */
        id_new(b, t);
        CHECK(strcmp(b, a) > 0, "%s after %s", b, a);
        memcpy(a, b, sizeof(a));
    }
    id_new_event(b, t);
    CHECK(id_valid(b) && strcmp(b + 32, "0000") == 0, "event id ends in 16 zero bits: %s", b);
    CHECK(strcmp(b, a) > 0 && id_time(b) == id_time(a), "event ids share the monotonic clock: %s", b);
    /* a floor splits ids by millisecond: after every id of earlier ones, at
     * or before every id of its own (a later millisecond than the loop above
     * reached, so the monotonic clock is not ahead of it) */
    int64_t t2 = t + 10000000;
    char x[ID_LEN + 1];
    id_new(x, t2);
    CHECK(id_time(x) == t2, "a later millisecond starts afresh: %s", x);
    id_floor(f, t2 + 1);
    CHECK(strcmp(f, x) > 0, "floor(t+1) %s sorts after %s, an id of t", f, x);
    id_floor(f, t2);
    CHECK(strcmp(f, x) <= 0, "floor(t) %s sorts at or before %s, an id of t", f, x);
    CHECK(id_time(f) == t2, "floor time");
    static const char *bad[] = {"", "x", "0189dd0e-5c5a-7bcd-8aaa-00000000000", "0189DD0E-5C5A-7BCD-8AAA-000000000000",
                                "0189dd0e_5c5a-7bcd-8aaa-000000000000", "0189dd0e-5c5a-7bcd-8aaa-00000000000g"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!id_valid(bad[i]), "invalid '%s'", bad[i]);
    char tok[80];
    CHECK(random_token(tok, sizeof(tok), "hkd_", 32) == 0 && strlen(tok) == 68, "token %s", tok);
    char sha[65];
    CHECK(sha256_hex("abc", 3, sha) == 0, "sha");
    CHECK_STR(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    return CHECK_DONE();
}
