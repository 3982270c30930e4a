/*
 * libFuzzer target over hookd's request-body parsing layers: the JSON
 * reader (json_parse: NUL, comment and depth checks, then yajl), the
 * field checker every handler uses (json_fields), the re-encoder that copies
 * an event payload (jw_tree), the OAuth2 form parser, and the small value
 * parsers (durations, CIDRs, Retry-After, ids), and the stored-payload
 * packing (store/payload.h): any bytes unpack safely, any input packs and
 * unpacks to itself. Input that any of them
 * accepts must round-trip without a sanitizer report.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "conf/conf.h"
#include "reactor/delivery/retry.h"
#include "store/ids.h"
#include "store/json.h"
#include "store/payload.h"

static void fuzz_json(const char *s, size_t n)
{
    char err[256];
    yajl_val v = json_parse(s, n, err, sizeof(err));
    if (!v)
        return;
    yajl_val a, b, c, d, e;
    const char *bad;
    char msg[128];
    struct json_field f[] = {{"url", JT_STRING, 1, &a}, {"event_types", JT_ARRAY, 0, &b},
                             {"payload", JT_ANY, 0, &c}, {"max_in_flight", JT_INT, 0, &d},
                             {"admin", JT_BOOL, 0, &e}};
    json_fields(v, f, 5, 1, &bad, msg, sizeof(msg));
    json_fields(v, f, 5, 0, &bad, msg, sizeof(msg));
    struct jw w;
    if (jw_init(&w) == 0) {
        jw_tree(&w, v);
        const unsigned char *out;
        size_t len;
        if (jw_result(&w, &out, &len) == 0) {
            yajl_val again = json_parse((const char *)out, len, err, sizeof(err));
            if (!again)
                abort(); /* what we emit must parse */
            yajl_tree_free(again);
        }
        jw_free(&w);
    }
    yajl_tree_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    fuzz_json(s, size);
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    if (strlen(s) == size && evhttp_parse_query_str(s, &q) == 0)
        evhttp_find_header(&q, "client_secret");
    evhttp_clear_headers(&q);
    int64_t ms;
    conf_parse_duration(s, &ms);
    struct conf_cidr cidr;
    conf_parse_cidr(s, &cidr);
    id_valid(s);
    static struct conf c;
    static int ready;
    char err[128];
    if (!ready) {
        conf_init(&c, err, sizeof(err));
        conf_finish(&c, err, sizeof(err));
        ready = 1;
    }
    retry_after_delay(&c, s, 0);
    /* stored payloads: a value read back from Redis is unpacked; a packed
     * payload must come back as it went in */
    void *out, *packed;
    size_t outlen, plen;
    if (payload_unpack(data, size, 1 << 20, &out, &outlen) == 1)
        free(out);
    if (payload_pack(data, size, &packed, &plen) == 1) {
        if (payload_unpack(packed, plen, size, &out, &outlen) != 1 || outlen != size || memcmp(out, data, size) != 0)
            abort();
        free(out);
        free(packed);
    }
    free(s);
    return 0;
}
