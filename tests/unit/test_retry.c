#include "check.h"
#include "conf/conf.h"
#include "reactor/delivery/retry.h"

int main(void)
{
    struct conf c;
    char err[128];
    conf_init(&c, err, sizeof(err));
    conf_finish(&c, err, sizeof(err));
    CHECK(retry_delay(&c, 0, 7) == 0, "first attempt immediate");
    for (uint32_t r = 0; r < 1000; r += 37) {
        int64_t d = retry_delay(&c, 1, r);
        CHECK(d >= 4500 && d <= 5500, "5s +-10%%: %lld", (long long)d);
    }
    CHECK(retry_delay(&c, 7, 1) > 0, "last entry");
    CHECK(retry_delay(&c, 8, 1) == -1, "schedule spent");
    CHECK(retry_after_delay(&c, "120", 0) == 120000, "seconds");
    CHECK(retry_after_delay(&c, "0", 0) == 1000, "floor 1s");
    CHECK(retry_after_delay(&c, "999999", 0) == c.retry_after_max_ms, "capped");
    CHECK(retry_after_delay(&c, "soon", 0) == -1, "garbage");
    CHECK(retry_after_delay(&c, NULL, 0) == -1, "absent");
    CHECK(retry_after_delay(&c, "Wed, 21 Oct 2015 07:28:00 GMT", 1445412470000LL) == 10000, "http date");
    conf_free(&c);
    return CHECK_DONE();
}
