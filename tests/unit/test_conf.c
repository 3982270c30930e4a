#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "conf/conf.h"

static void test_durations(void)
{
    static const struct { const char *in; long long ms; int ok; } cases[] = {
        {"0", 0, 1}, {"250ms", 250, 1}, {"15s", 15000, 1}, {"5m", 300000, 1}, {"2h", 7200000, 1},
        {"1d", 86400000, 1}, {"", 0, 0}, {"-1s", 0, 0}, {"5x", 0, 0}, {"s", 0, 0}, {"30", 0, 0},
        {"99999999999999999999s", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = -1;
        int rc = conf_parse_duration(cases[i].in, &v);
        CHECK((rc == 0) == cases[i].ok, "duration '%s' rc %d", cases[i].in, rc);
        if (cases[i].ok)
            CHECK(v == cases[i].ms, "duration '%s' = %lld", cases[i].in, (long long)v);
    }
}

static void test_layers_and_errors(void)
{
    struct conf c;
    char err[256];
    CHECK(conf_init(&c, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.partitions == 16, "default partitions %lld", (long long)c.partitions);
    CHECK(c.request_timeout_ms == 15000, "default request_timeout");
    char *env[] = {"HOOKD_PARTITIONS=8", "HOOKD_LISTEN=0.0.0.0:9999", "OTHER=1", NULL};
    CHECK(conf_load_env(&c, env, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.partitions == 8, "env partitions");
    CHECK(conf_set(&c, "partitions", "4", "flag", err, sizeof(err)) == 0, "%s", err);
    CHECK(c.partitions == 4, "flag beats env");
    CHECK(conf_set(&c, "partitions", "0", "flag", err, sizeof(err)) < 0, "range");
    CHECK(strstr(err, "partitions") != NULL, "error names the key: %s", err);
    CHECK(conf_set(&c, "no_such_key", "1", "flag", err, sizeof(err)) < 0, "unknown key");
    CHECK(strstr(err, "no_such_key") != NULL, "error names the key: %s", err);
    CHECK(conf_set(&c, "request_timeout", "fast", "flag", err, sizeof(err)) < 0, "bad duration");
    CHECK(strstr(err, "request_timeout") != NULL, "%s", err);
    CHECK(conf_finish(&c, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.listen_port == 9999, "listen port %d", c.listen_port);
    CHECK(c.schedule_len == 8 && c.schedule_ms[1] == 5000 && c.schedule_ms[7] == 36000000, "schedule");
    CHECK(c.redis_port == 6379 && c.redis_db == 0, "redis url");
    conf_set(&c, "redis_url", "http://x", "flag", err, sizeof(err));
    CHECK(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "redis_url"), "bad redis_url: %s", err);
    conf_set(&c, "redis_url", "redis://127.0.0.1:7000/3", "flag", err, sizeof(err));
    conf_set(&c, "allow_networks", "127.0.0.0/8, ::1/128", "flag", err, sizeof(err));
    CHECK(conf_finish(&c, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.redis_port == 7000 && c.redis_db == 3, "redis url parts");
    CHECK(c.allow_count == 2, "allow count %d", c.allow_count);
    conf_set(&c, "allow_networks", "10.0.0.0/33", "flag", err, sizeof(err));
    CHECK(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "allow_networks"), "bad cidr: %s", err);
    conf_set(&c, "allow_networks", "", "flag", err, sizeof(err));
    conf_set(&c, "retry_schedule", "0,5q", "flag", err, sizeof(err));
    CHECK(conf_finish(&c, err, sizeof(err)) < 0 && strstr(err, "retry_schedule"), "bad schedule: %s", err);
    conf_free(&c);
}

static void test_file(void)
{
    struct conf c;
    char err[256], path[] = "/tmp/hookd_conf_testXXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\n\nlisten = 127.0.0.1:7777\nclaim_batch=64\n");
    fclose(f);
    conf_init(&c, err, sizeof(err));
    CHECK(conf_load_file(&c, path, err, sizeof(err)) == 0, "%s", err);
    CHECK(c.claim_batch == 64, "file value");
    f = fopen(path, "w");
    fprintf(f, "claim_batch = many\n");
    fclose(f);
    CHECK(conf_load_file(&c, path, err, sizeof(err)) < 0, "bad file value");
    CHECK(strstr(err, ":1") && strstr(err, "claim_batch"), "error names line and key: %s", err);
    remove(path);
    conf_free(&c);
}

int main(void)
{
    test_durations();
    test_layers_and_errors();
    test_file();
    return CHECK_DONE();
}
