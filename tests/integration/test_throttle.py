"""Issue 21, part 2: a 429 or 503 throttles the endpoint, not the delivery.
With Retry-After the whole endpoint pauses until then (at most
throttle_max); a 429 without it halves the endpoint's rate, which recovers
step by step on 2xx. Neither uses up the delivery's retries: here the
schedule allows one attempt, and throttled deliveries still complete."""
import threading
import time
import unittest

from harness import HookdCase, Receiver, wait_for


class ThrottleTest(HookdCase):
    hookd_conf = {"retry_schedule": "0", "retry_jitter_pct": 0, "throttle_max": "10s"}

    def endpoint(self, tok, ep_id):
        return self.api("GET", "/v1/endpoints/" + ep_id, None, tok)[1]

    def test_retry_after_pauses_the_endpoint_and_keeps_the_retries(self):
        first = threading.Event()

        def answer(n, p, h, b):
            if n == 1:
                first.set()
                return (429, {"Retry-After": "2"}, b"slow down")
            return (200, {}, b"ok")

        rx, other = Receiver(answer), Receiver()
        self.addCleanup(rx.close)
        self.addCleanup(other.close)
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), event_types=["a"])
        self.new_endpoint(tok, other.url(), event_types=["b"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        first.wait(20)
        t429 = time.time()
        wait_for(lambda: self.endpoint(tok, ep["id"])["throttle"]["paused_until"], what="the pause shown")
        later = self.send_event(tok, "a")["delivery_ids"][0]  # waits out the pause too
        self.send_event(tok, "b")  # the org's other endpoint is not held
        wait_for(lambda: other.count() == 1, timeout=1.5, what="the healthy endpoint served during the pause")
        for d in (did, later):
            self.wait_state(tok, d, "completed")
        self.assertGreaterEqual(rx.requests[1]["at"] - t429, 1.8)  # nothing reached it during the pause
        d = self.delivery(tok, did)
        self.assertEqual((d["state"], d["attempt_count"]), ("completed", 2))
        self.assertIsNone(self.endpoint(tok, ep["id"])["throttle"]["paused_until"])

    def test_429_without_retry_after_slows_the_endpoint_then_it_recovers(self):
        def answer(n, p, h, b):
            return (429, {}, b"") if n <= 4 else (200, {}, b"ok")

        rx = Receiver(answer)
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url())
        ids = [self.send_event(tok)["delivery_ids"][0] for _ in range(4)]
        wait_for(lambda: rx.count() >= 4, what="the 429s")
        wait_for(lambda: self.endpoint(tok, ep["id"])["throttle"]["effective_rate"], what="the rate lowered")
        for d in ids:
            self.wait_state(tok, d, "completed")  # one attempt allowed, yet completed
        # 2xx answers raise the rate a step a second until the throttle ends
        def recovered():
            self.send_event(tok)
            return self.endpoint(tok, ep["id"])["throttle"]["effective_rate"] is None

        wait_for(recovered, timeout=60, step=0.2, what="the rate recovered")


    def test_throttle_is_read_only(self):
        _, tok = self.tenant()
        s, b, _ = self.api("POST", "/v1/endpoints", {"url": "http://127.0.0.1:9/x", "throttle": {}}, tok)
        self.assertEqual((s, b.get("field")), (422, "throttle"))
        ep = self.new_endpoint(tok, "http://127.0.0.1:9/x")
        self.assertEqual(ep["throttle"], {"effective_rate": None, "paused_until": None})
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"throttle": {"paused_until": None}}, tok)
        self.assertEqual((s, b.get("field")), (422, "throttle"))


if __name__ == "__main__":
    unittest.main()
