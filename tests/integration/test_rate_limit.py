"""Issue 21, part 1: an endpoint's rate_limit holds across every process:
over any 10 s the receiver gets at most rate x 10 x 1.1 requests from the
fleet, and, with a backlog, at least 0.9 x that (claim.lua's token bucket,
store/lua/lib/schedule.lua)."""
import time
import unittest

from harness import HookdCase, Hookd, Receiver, wait_for


class RateLimitTest(HookdCase):
    def test_rate_limit_field_is_checked(self):
        _, tok = self.tenant()
        for bad in (0, -1, 1.5, "20", 100001, True):
            s, b, _ = self.api("POST", "/v1/endpoints", {"url": "http://127.0.0.1:9/x", "rate_limit": bad}, tok)
            self.assertEqual((s, b.get("field")), (422, "rate_limit"), bad)
        ep = self.new_endpoint(tok, "http://127.0.0.1:9/x", rate_limit=20)
        self.assertEqual(ep["rate_limit"], 20)
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"rate_limit": 0}, tok)
        self.assertEqual((s, b.get("field")), (422, "rate_limit"))
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"rate_limit": None}, tok)
        self.assertEqual((s, b["rate_limit"]), (200, None))

    def test_three_processes_hold_a_backlog_to_the_rate(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        others = [Hookd(self.redis) for _ in range(2)]
        try:
            _, tok = self.tenant()
            ep = self.new_endpoint(tok, rx.url(), max_in_flight=64)
            self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
            for _ in range(600):  # the backlog, queued while the endpoint is disabled
                self.send_event(tok, "r")
            s, _, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"rate_limit": 20}, tok)
            self.assertEqual(s, 200)
            self.api("POST", "/v1/endpoints/%s/enable" % ep["id"], None, tok)
            wait_for(lambda: rx.count() >= 1, what="the first delivery")
            self.assertGreater(self.hookd.metric("hookd_deliveries_held_by_rate"), 400)  # the backlog, held
            time.sleep(2)  # past the bucket's first half second
            with rx.lock:
                t0 = time.time()
                n0 = len(rx.requests)
            time.sleep(10)
            with rx.lock:
                n = len([r for r in rx.requests[n0:] if r["at"] < t0 + 10])
            self.assertGreaterEqual(n, 20 * 10 * 0.9, n)
            self.assertLessEqual(n, 20 * 10 * 1.1, n)
            print("rate_limit 20: %d requests in 10 s" % n)
        finally:
            for h in others:
                self.assertEqual(h.stop(), 0)


if __name__ == "__main__":
    unittest.main()
