"""Graceful shutdown and the scheduling gauges of /metrics.

SIGTERM stops accepting and claiming, lets in-flight deliveries finish within
shutdown_grace and records them, hands what is left back to the schedule, and
exits 0 (a sanitizer report or a leak would make it non-zero)."""
import re
import threading
import time
import unittest

from harness import ROOT_TOKEN, Hookd, Receiver, Redis, call, wait_for


def gauge(text, name):
    m = re.search(r"^hookd_%s (\S+)$" % name, text, re.M)
    return float(m.group(1)) if m else None


class ShutdownTest(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()

    def tearDown(self):
        self.redis.close()

    def tenant(self, h):
        _, org, _ = call("POST", h.url("/v1/orgs"), {"name": "s"}, ROOT_TOKEN)
        _, t, _ = call("POST", h.url("/v1/tokens"), {"org_id": org["id"], "scopes": ["webhooks:manage",
                       "webhooks:read", "events:write"]}, ROOT_TOKEN)
        return t["token"]

    def start(self, rx, **conf):
        """hookd with one endpoint at rx and one event whose send has begun."""
        h = Hookd(self.redis, **conf)
        tok = self.tenant(h)
        call("POST", h.url("/v1/endpoints"), {"url": rx.url()}, tok)
        did = self.event(h, tok)
        wait_for(lambda: rx.count() == 1, what="send started")
        return h, tok, did

    def event(self, h, tok):
        s, b, _ = call("POST", h.url("/v1/events"), {"type": "a", "payload": {}}, tok)
        self.assertEqual(s, 202, b)
        return b["delivery_ids"][0]

    def test_in_flight_delivery_finishes_and_is_recorded(self):
        gate = threading.Event()
        rx = Receiver(lambda n, p, h, b: (gate.wait(10), (200, {}, b"late but fine"))[1])
        try:
            h, tok, did = self.start(rx, shutdown_grace="20s")
            h.proc.send_signal(15)
            time.sleep(0.5)
            self.assertIsNone(h.proc.poll(), "exited before its delivery finished")
            gate.set()
            self.assertEqual(h.proc.wait(30), 0, h.log()[-3000:])
            h2 = Hookd(self.redis)
            s, d, _ = call("GET", h2.url("/v1/deliveries/" + did), None, tok)
            self.assertEqual(s, 200, (d, h.log()[-3000:]))
            self.assertEqual((d["state"], d["attempt_count"], (d["response"] or {}).get("code")), ("completed", 1, 200), (d, h.log()[-2000:]))
            self.assertEqual(h2.stop(), 0)
        finally:
            rx.close()

    def test_unfinished_delivery_returns_to_the_schedule(self):
        rx = Receiver(lambda n, p, h, b: "hang" if n == 1 else (200, {}, b""))
        try:
            h, tok, did = self.start(rx, shutdown_grace="1s", request_timeout="60s")
            _, text, _ = call("GET", h.url("/metrics"))
            self.assertEqual(gauge(text, "deliveries_leased"), 1)
            self.assertEqual(gauge(text, "deliveries_in_flight"), 1)
            self.assertEqual(h.stop(), 0, h.log()[-3000:])
            self.assertEqual(self.redis.cli("ZCARD", "hookd:{%d}:lease" % self.partition_of(tok, h)).strip(), "0")
            h2 = Hookd(self.redis)
            d = wait_for(lambda: (lambda d: d if d["state"] == "completed" else None)(
                call("GET", h2.url("/v1/deliveries/" + did), None, tok)[1]), what="the next process to send it")
            self.assertEqual(d["attempt_count"], 1)      # the abandoned try was not counted
            self.assertEqual(h2.stop(), 0)
        finally:
            rx.close()

    def test_a_second_signal_with_a_claim_and_an_outcome_still_in_redis_exits_cleanly(self):
        gate = threading.Event()
        rx = Receiver(lambda n, p, h, b: (gate.wait(10), (200, {}, b"ok"))[1])
        try:
            h, tok, did = self.start(rx, token_cache="60s")
            self.redis.cli("CLIENT", "PAUSE", "12000", "WRITE")  # every write waits in Redis
            time.sleep(5.5)  # the pump's 5-second poll sends a claim: it waits
            gate.set()
            time.sleep(0.3)  # the outcome's call: it waits
            h.proc.send_signal(15)  # the drain waits for both
            time.sleep(0.3)
            h.proc.send_signal(15)  # "exiting now": the store answers both NULL after the pump is freed
            self.assertEqual(h.proc.wait(30), 0, h.log()[-3000:])
        finally:
            self.redis.cli("CLIENT", "UNPAUSE")
            gate.set()
            rx.close()

    def partition_of(self, tok, h):
        for p in range(4):
            if self.redis.cli("EXISTS", "hookd:{%d}:stats" % p).strip() == "1":
                return p
        self.fail("no partition was used")

    def test_scheduled_gauge_counts_held_work(self):
        h = Hookd(self.redis)
        tok = self.tenant(h)
        _, ep, _ = call("POST", h.url("/v1/endpoints"), {"url": "http://127.0.0.1:9/"}, tok)
        call("POST", h.url("/v1/endpoints/%s/disable" % ep["id"]), None, tok)
        for _ in range(5):
            self.event(h, tok)
        _, text, _ = call("GET", h.url("/metrics"))
        self.assertEqual(gauge(text, "deliveries_scheduled"), 5)
        self.assertEqual(gauge(text, "deliveries_leased"), 0)
        self.assertEqual(call("DELETE", h.url("/v1/endpoints/" + ep["id"]), None, tok)[0], 204)
        _, text, _ = call("GET", h.url("/metrics"))
        self.assertEqual(gauge(text, "deliveries_scheduled"), 0)
        self.assertEqual(h.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
