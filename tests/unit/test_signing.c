#include "check.h"
#include "reactor/signing.h"

int main(void)
{
    /* The Standard Webhooks specification's published example. */
    char sig[SIGNATURE_MAX];
    const char *body = "{\"test\": 2432232314}";
    CHECK(sign_payload("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL, sig) == 0, "sign");
    CHECK_STR(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    CHECK(sign_payload("id", 1, "x", 1, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", sig) == 0, "two secrets");
    CHECK(strchr(sig, ' ') != NULL, "space-separated: %s", sig);
    CHECK(sign_payload("id", 1, "x", 1, "nope", NULL, sig) < 0, "malformed secret refused");
    return CHECK_DONE();
}
