"""Issue 24, parts 3 and 4: an endpoint's stats (attempts per bucket and
latency p50/p95, written with the outcome batch) and the test send (a real,
signed delivery to one endpoint, flagged test)."""
import json
import time
import unittest

from harness import HookdCase, Hookd, ROOT_TOKEN, Receiver, call, verify_signature, wait_for


def totals(stats):
    return tuple(sum(b[k] for b in stats["buckets"]) for k in ("completed", "failed", "throttled"))


class EndpointStatsTest(HookdCase):
    hookd_conf = {"retry_schedule": "0,100ms,100ms", "retry_jitter_pct": 0}

    def stats(self, token, ep, window=None):
        q = "?window=" + window if window else ""
        s, b, _ = self.api("GET", "/v1/endpoints/%s/stats%s" % (ep, q), None, token)
        self.assertEqual(s, 200, b)
        return b

    def test_counts_equal_the_deliveries_made_across_two_processes(self):
        slow = Receiver(lambda n, p, h, b: (time.sleep(0.06), (200, {}, b"ok"))[1])
        self.addCleanup(slow.close)
        other = Hookd(self.redis, retry_schedule="0,100ms,100ms", retry_jitter_pct=0)
        self.addCleanup(other.stop)
        org, tok = self.tenant()
        ep = self.new_endpoint(tok, slow.url())["id"]
        ids = []
        for i in range(40):
            h = self.hookd if i % 2 else other
            s, b, _ = call("POST", h.url("/v1/events"), {"type": "order.paid", "payload": {"i": i}}, tok)
            self.assertEqual(s, 202, b)
            ids += b["delivery_ids"]
        for d in ids:
            self.wait_state(tok, d, "completed")
        for window, n, secs in (("1h", 60, 60), ("24h", 96, 900), ("7d", 84, 7200), (None, 96, 900)):
            st = self.stats(tok, ep, window)
            self.assertEqual((st["window"], st["bucket_seconds"], len(st["buckets"])), (window or "24h", secs, n))
            self.assertEqual(totals(st), (40, 0, 0), window)
            lat = [b for b in st["buckets"] if b["p50_ms"] is not None]
            self.assertTrue(lat)
            for b in lat:  # every attempt took 60 ms or more
                self.assertGreaterEqual(b["p50_ms"], 50)
                self.assertGreaterEqual(b["p95_ms"], b["p50_ms"])
        starts = [b["start"] for b in self.stats(tok, ep, "1h")["buckets"]]
        self.assertEqual(starts, sorted(starts))

    def test_failures_and_throttles_are_counted(self):
        failing = Receiver(lambda n, p, h, b: (500, {}, b"no"))
        throttling = Receiver(lambda n, p, h, b: (429, {"Retry-After": "1"}, b"later") if n == 1 else (200, {}, b"ok"))
        self.addCleanup(failing.close)
        self.addCleanup(throttling.close)
        org, tok = self.tenant()
        bad = self.new_endpoint(tok, failing.url(), event_types=["a"])["id"]
        slowed = self.new_endpoint(tok, throttling.url(), event_types=["b"])["id"]
        d = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, d, "errored")
        self.assertEqual(totals(self.stats(tok, bad, "1h")), (0, 3, 0))
        d = self.send_event(tok, "b")["delivery_ids"][0]
        self.wait_state(tok, d, "completed")
        self.assertEqual(totals(self.stats(tok, slowed, "1h")), (1, 0, 1))

    def test_bad_window_and_other_org(self):
        org, tok = self.tenant()
        org2, tok2 = self.tenant()
        ep = self.new_endpoint(tok, "http://127.0.0.1:9/x")["id"]
        for w in ("2h", "", "1H", "7d;"):
            s, b, _ = self.api("GET", "/v1/endpoints/%s/stats?window=%s" % (ep, w), None, tok)
            self.assertEqual((s, b.get("field")), (422, "window"), w)
        self.assertEqual(self.api("GET", "/v1/endpoints/%s/stats?bucket=1" % ep, None, tok)[0], 400)
        self.assertEqual(self.api("GET", "/v1/endpoints/%s/stats" % ep, None, tok2)[0], 404)
        self.assertEqual(totals(self.stats(tok, ep)), (0, 0, 0))


class TestSendTest(HookdCase):
    class_receiver = True

    def test_sends_a_signed_flagged_delivery_to_that_endpoint_only(self):
        org, tok = self.tenant()
        # subscribed to another type and filtered: a test goes anyway
        ep = self.new_endpoint(tok, self.rx.url("/t"), event_types=["order.paid"],
                               filter={"amount": {"$gt": 100}})
        other = self.new_endpoint(tok, self.rx.url("/other"))
        before = self.rx.count()
        s, b, _ = self.api("POST", "/v1/endpoints/%s/test" % ep["id"], None, tok)
        self.assertEqual(s, 202, b)
        self.assertTrue(b["test"])
        d = self.wait_state(tok, b["delivery_id"], "completed")
        self.assertEqual((d["endpoint_id"], d["event_type"], d["test"]), (ep["id"], "hookd.test", True))
        wait_for(lambda: self.rx.count() > before)
        req = self.rx.requests[-1]
        self.assertEqual(req["path"], "/t")
        verify_signature(ep["secret"], req["headers"], req["body"])
        self.assertEqual(req["headers"].get("hookd-test"), "true", "a receiver can tell a test from a real event")
        self.assertEqual(json.loads(req["body"])["type"], "hookd.test")
        s, ev, _ = self.api("GET", "/v1/events/" + b["event_id"], None, tok)
        self.assertEqual((ev["test"], ev["delivery_ids"]), (True, [b["delivery_id"]]))
        # a chosen type and payload, sent as given
        s, b, _ = self.api("POST", "/v1/endpoints/%s/test" % ep["id"],
                           {"type": "order.paid", "payload": {"amount": 1, "s": "a\u0000b"}}, tok)
        self.assertEqual(s, 202, b)
        self.wait_state(tok, b["delivery_id"], "completed")
        wait_for(lambda: any(json.loads(r["body"]) == {"amount": 1, "s": "a\u0000b"} for r in self.rx.requests))
        self.assertFalse(any(r["path"] == "/other" for r in self.rx.requests))
        s, d, _ = self.api("GET", "/v1/deliveries?endpoint_id=" + other["id"], None, tok)
        self.assertEqual(d["data"], [])
        s, b, _ = self.api("POST", "/v1/events", {"type": "order.paid", "payload": {"amount": 500}}, tok)
        real = self.wait_state(tok, b["delivery_ids"][0], "completed")
        got = wait_for(lambda: [r for r in self.rx.requests if json.loads(r["body"]) == {"amount": 500}])
        self.assertNotIn("hookd-test", got[0]["headers"], "a real event carries no test mark")
        self.assertFalse(real["test"])

    def test_bad_input_and_scope(self):
        org, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url())["id"]
        for body, field in (({"type": "a b"}, "type"), ({"type": 3}, "type"), ({"other": 1}, "other")):
            s, b, _ = self.api("POST", "/v1/endpoints/%s/test" % ep, body, tok)
            self.assertEqual((s, b.get("field")), (422, field), body)
        self.assertEqual(self.api("POST", "/v1/endpoints/00000000-0000-7000-8000-000000000000/test", None, tok)[0], 404)
        org2, tok2 = self.tenant()
        self.assertEqual(self.api("POST", "/v1/endpoints/%s/test" % ep, None, tok2)[0], 404)
        ro = self.new_token(org, scopes=("webhooks:read",))["token"]
        self.assertEqual(self.api("POST", "/v1/endpoints/%s/test" % ep, None, ro)[0], 403)
        # a custom header cannot pass for the test mark
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep, {"headers": {"Hookd-Test": "true"}}, tok)
        self.assertEqual((s, b.get("field")), (422, "headers"))

    def test_test_sends_are_held_to_the_org_rate_limit(self):
        org, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url())["id"]
        s, b, _ = self.api("PATCH", "/v1/orgs/" + org, {"rate_limit": 1}, ROOT_TOKEN)
        self.assertEqual(s, 200, b)
        codes = [self.api("POST", "/v1/endpoints/%s/test" % ep, None, tok) for _ in range(6)]
        self.assertIn(429, [c[0] for c in codes])
        limited = next(c for c in codes if c[0] == 429)
        self.assertTrue(limited[2].get("Retry-After"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
