#include "check.h"
#include "reactor/delivery/signing.h"
#include "store/crypto.h"

int main(void)
{
    /* The Standard Webhooks specification's published example. */
    char sig[SIGNATURE_MAX];
    const char *body = "{\"test\": 2432232314}";
    const char *sec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    struct sig_keys v1 = {SIG_V1, sec, NULL, NULL, NULL};
    CHECK(sign_payload("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), &v1, sig) == 0, "sign");
    CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    struct sig_keys two = {SIG_V1, sec, sec, NULL, NULL};
    CHECK(sign_payload("id", 1, "x", 1, &two, sig) == 0, "two secrets");
    CHECK(strchr(sig, ' ') != NULL, "space-separated: %s", sig);
    struct sig_keys bad = {SIG_V1, "nope", NULL, NULL, NULL};
    CHECK(sign_payload("id", 1, "x", 1, &bad, sig) < 0, "malformed secret refused");
    /* v1a: Ed25519 over the same message, verified with the public key */
    char sk[ED25519_KEY_TEXT], pk[ED25519_KEY_TEXT], other_sk[ED25519_KEY_TEXT], other_pk[ED25519_KEY_TEXT];
    CHECK(ed25519_keypair(sk, pk) == 0 && ed25519_keypair(other_sk, other_pk) == 0, "key pairs");
    struct sig_keys both = {SIG_BOTH, sec, NULL, sk, NULL};
    CHECK(sign_payload("id", 7, "body", 4, &both, sig) == 0, "both");
    const char *v1a = strstr(sig, "v1a,");
    CHECK(strncmp(sig, "v1,", 3) == 0 && v1a && v1a[-1] == ' ', "v1 then v1a: %s", sig);
    const void *parts[] = {"id", ".", "7", ".", "body"};
    size_t lens[] = {2, 1, 1, 1, 4};
    CHECK(v1a && ed25519_verify(pk, parts, lens, 5, v1a + 4) == 1, "v1a verifies with its public key");
    CHECK(v1a && ed25519_verify(other_pk, parts, lens, 5, v1a + 4) == 0, "and not with another");
    struct sig_keys only = {SIG_V1A, sec, NULL, sk, NULL}, nokey = {SIG_V1A, sec, NULL, "", NULL};
    CHECK(sign_payload("id", 7, "body", 4, &only, sig) == 0 && strncmp(sig, "v1a,", 4) == 0 && !strchr(sig, ' '),
          "v1a alone: %s", sig);
    CHECK(sign_payload("id", 7, "body", 4, &nokey, sig) < 0, "v1a without a key refused");
    return CHECK_DONE();
}
