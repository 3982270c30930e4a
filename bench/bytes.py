#!/usr/bin/env python3
"""Redis bytes per retained event (issue 11), with a realistic JSON payload.

  bench/bytes.py [HOOKD_BIN]     (default build/hookd)

Posts N (default 2,000) events of about 1 KiB of varied JSON (an
invoice-like object with random ids, amounts, words and line items, not one
repeated character) to one endpoint, waits until each was delivered once,
and reports Redis `used_memory` growth per event over the second half of
them (the first half pays fixed costs, such as client buffers grown under
load), the growth over all of them, and MEMORY USAGE per kind of key. Prints one JSON object. Starts its own redis-server and hookd, and
uses the integration tests' harness (Python standard library only).
"""
import collections
import json
import os
import random
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ["HOOKD_BIN"] = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "hookd")
from harness import ROOT_TOKEN, Hookd, Receiver, Redis, call, wait_for  # noqa: E402

N = int(os.environ.get("EVENTS", "2000"))
WORDS = ("alpha beta gamma delta epsilon order invoice customer payment shipped refund account plan trial "
         "monthly annual seat upgrade downgrade coupon tax region north south east west").split()


def payload(rng, i):
    line = lambda: {"id": "il_%010x" % rng.getrandbits(40), "amount": rng.randint(100, 9999),
                    "description": " ".join(rng.choice(WORDS) for _ in range(6)), "quantity": rng.randint(1, 5)}
    return {"id": "evt_%08d" % i, "object": "event", "created": 1764300000 + i, "livemode": False,
            "data": {"object": {"id": "in_%012x" % rng.getrandbits(48), "amount_due": rng.randint(100, 99999),
                                "currency": rng.choice(["usd", "eur", "gbp"]),
                                "customer": "cus_%010x" % rng.getrandbits(40),
                                "customer_email": "%s.%s@example.com" % (rng.choice(WORDS), rng.choice(WORDS)),
                                "lines": [line() for _ in range(6)],
                                "metadata": {rng.choice(WORDS): rng.choice(WORDS) for _ in range(4)},
                                "status": rng.choice(["paid", "open", "void"])}}}


def main():
    rng = random.Random(7)
    redis = Redis()
    hookd = Hookd(redis, retention="72h")
    rx = Receiver()
    try:
        hookd.wait_ready()
        org = call("POST", hookd.url("/v1/orgs"), {"name": "bytes"}, ROOT_TOKEN)[1]["id"]
        tok = call("POST", hookd.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                     "scopes": ["webhooks:manage", "events:write"]}, ROOT_TOKEN)[1]["token"]
        call("POST", hookd.url("/v1/endpoints"), {"url": rx.url(), "event_types": ["invoice.paid"]}, tok)

        def used():
            info = redis.cli("INFO", "memory").splitlines()
            return int(next(l for l in info if l.startswith("used_memory:")).split(":")[1])

        sizes = []

        def send(first, last):
            for i in range(first, last):
                p = payload(rng, i)
                sizes.append(len(json.dumps(p)))
                s, b, _ = call("POST", hookd.url("/v1/events"), {"type": "invoice.paid", "payload": p}, tok)
                assert s == 202, b
            wait_for(lambda: rx.count() >= last, 300, what="every event delivered")
            time.sleep(1.5)  # the last outcomes recorded
            return used()

        time.sleep(0.5)
        before = used()
        # the second half's growth: what one more event costs, without the
        # fixed costs the first events bring (client buffers grown under load)
        mid = send(0, N // 2)
        after = send(N // 2, N)
        kinds, counts = collections.Counter(), collections.Counter()
        for k in redis.cli("--scan", "--pattern", "hookd:*").split():
            kind = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", k)
            kinds[kind] += int(redis.cli("MEMORY", "USAGE", k).strip() or 0)
            counts[kind] += 1
        print(json.dumps({"events": N, "payload_bytes_avg": round(sum(sizes) / N, 1),
                          "redis_bytes_per_event": round((after - mid) / (N - N // 2), 1),
                          "redis_bytes_per_event_incl_fixed": round((after - before) / N, 1),
                          "by_key": {k: {"keys": counts[k], "bytes_per_event": round(v / N, 1)}
                                     for k, v in kinds.most_common(8)}}, indent=1))
    finally:
        rx.close()
        hookd.stop()
        redis.close()


if __name__ == "__main__":
    main()
