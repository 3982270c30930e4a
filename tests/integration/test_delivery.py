"""The delivery engine against real receivers: signatures checked by an
independent implementation (Python's hmac), each transport error provoked for
real, retries, Retry-After, 410 and webhook-delivery directives, auto-disable
and re-enable, max_in_flight, and a hanging endpoint beside a healthy one."""
import base64
import hashlib
import hmac
import json
import os
import threading
import time
import unittest

from harness import HookdCase, Receiver, TestCA, free_port, wait_for

SECRET_A = "whsec_" + base64.b64encode(b"A" * 32).decode()
SECRET_B = "whsec_" + base64.b64encode(b"B" * 32).decode()


def verify(secret, headers, body):
    """Standard Webhooks verification, written from the specification."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = "%s.%s.%s" % (headers["webhook-id"], headers["webhook-timestamp"], body.decode())
    want = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
    return any(s == "v1," + want for s in headers["webhook-signature"].split(" "))


def first_attempt(case, tok, did):
    d = case.wait_state(tok, did, ("retrying", "errored", "completed"))
    att = case.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)[1]["data"]
    return d, att[0]


class DeliveryTest(HookdCase):
    hookd_conf = {"retry_schedule": "0,300ms,300ms", "request_timeout": "2s", "connect_timeout": "1s",
                  "response_max_bytes": 1024, "disable_after_failures": 3, "disable_after": 0,
                  "retry_jitter_pct": 0, "retry_after_max": "3s"}

    def setUp(self):
        self.rx = []

    def tearDown(self):
        for r in self.rx:
            r.close()

    def receiver(self, behaviour=None):
        r = Receiver(behaviour)
        self.rx.append(r)
        return r

    def test_request_shape_and_signature(self):
        rx = self.receiver()
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url("/in?x=1"), secret=SECRET_A)
        s, ev, _ = self.api("POST", "/v1/events", None, tok,
                            raw='{"type":"order.paid","payload":{"order":7,"price":12.50,"name":"caf\u00e9"}}'.encode())
        self.assertEqual(s, 202, ev)
        wait_for(lambda: rx.count() == 1, what="delivery")
        r = rx.requests[0]
        h = r["headers"]
        self.assertEqual(r["path"], "/in?x=1")
        self.assertEqual(h["content-type"], "application/json")
        self.assertTrue(h["user-agent"].startswith("hookd/"))
        self.assertEqual(h["webhook-id"], ev["id"])
        self.assertEqual(h["webhook-delivery-id"], ev["delivery_ids"][0])
        self.assertLess(abs(int(h["webhook-timestamp"]) - time.time()), 300)
        self.assertEqual(h["host"], "127.0.0.1:%d" % rx.port)
        self.assertEqual(r["body"], '{"order":7,"price":12.50,"name":"caf\u00e9"}'.encode())
        self.assertTrue(verify(SECRET_A, h, r["body"]))
        self.assertFalse(verify(SECRET_B, h, r["body"]))
        self.assertEqual(self.wait_state(tok, ev["delivery_ids"][0], "completed")["response"]["code"], 200)
        # rotation: both secrets sign during the overlap
        self.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], {"secret": SECRET_B}, tok)
        self.send_event(tok, "order.paid", {"order": 8})
        wait_for(lambda: rx.count() == 2, what="second delivery")
        r = rx.requests[1]
        self.assertEqual(len(r["headers"]["webhook-signature"].split(" ")), 2)
        self.assertTrue(verify(SECRET_A, r["headers"], r["body"]))
        self.assertTrue(verify(SECRET_B, r["headers"], r["body"]))

    def test_error_private_uri(self):
        _, tok = self.tenant()
        for url in ("http://10.20.30.40:9/x", "http://[::1]:9/x", "http://169.254.169.254/latest"):
            self.new_endpoint(tok, url)
        ev = self.send_event(tok)
        for did in ev["delivery_ids"]:
            d, a = first_attempt(self, tok, did)
            self.assertEqual((d["response"]["error"], a["error"]), ("private_uri", "private_uri"))
            self.assertIsNone(d["response"]["code"])

    def test_error_dns_lookup_failed(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, "http://no-such-host.invalid/hook")
        d, a = first_attempt(self, tok, self.send_event(tok)["delivery_ids"][0])
        self.assertEqual(a["error"], "dns_lookup_failed")

    def test_error_connection_timeout(self):
        rx = self.receiver(lambda n, p, h, b: "hang")
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url())
        d, a = first_attempt(self, tok, self.send_event(tok)["delivery_ids"][0])
        self.assertEqual(a["error"], "connection_timeout")

    def test_error_destination_unreachable(self):
        closed = free_port()
        rx = self.receiver(lambda n, p, h, b: "reset")
        rc = self.receiver(lambda n, p, h, b: "close")
        _, tok = self.tenant()
        # https to a closed port: the connection failed, TLS never started
        for url in ("http://127.0.0.1:%d/" % closed, "https://127.0.0.1:%d/" % closed, rx.url(), rc.url()):
            self.new_endpoint(tok, url)
        for did in self.send_event(tok)["delivery_ids"]:
            d, a = first_attempt(self, tok, did)
            self.assertEqual(a["error"], "destination_unreachable", d)

    def test_error_response_too_large(self):
        rx = self.receiver(lambda n, p, h, b: (200, {}, b"x" * 5000))
        big_head = self.receiver(lambda n, p, h, b: (200, {"X-Pad": "h" * 70000}, b"ok"))
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url())
        self.new_endpoint(tok, big_head.url())  # headers over 64 KiB: too large, not unreachable
        for did in self.send_event(tok)["delivery_ids"]:
            d, a = first_attempt(self, tok, did)
            self.assertEqual(a["error"], "response_too_large", d)

    def test_retries_until_completed(self):
        rx = self.receiver(lambda n, p, h, b: (500, {}, b"boom") if n < 3 else (200, {}, b"fine"))
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url())
        did = self.send_event(tok)["delivery_ids"][0]
        d = self.wait_state(tok, did, "completed")
        self.assertEqual((d["attempt_count"], d["response"]["code"]), (3, 200))
        att = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)[1]["data"]
        self.assertEqual([a["status_code"] for a in att], [500, 500, 200])
        self.assertEqual(att[0]["response_body"], "boom")
        ids = {r["headers"]["webhook-id"] for r in rx.requests}
        self.assertEqual(len(ids), 1)  # the same webhook-id on every retry

    def test_retries_until_errored(self):
        rx = self.receiver(lambda n, p, h, b: (503, {}, b"down"))
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url())
        did = self.send_event(tok)["delivery_ids"][0]
        d = self.wait_state(tok, did, "errored")
        self.assertEqual((d["attempt_count"], d["response"]["code"], d["next_retry_at"]), (3, 503, None))
        self.assertEqual(rx.count(), 3)

    def test_retry_after_is_honoured(self):
        rx = self.receiver(lambda n, p, h, b: (429, {"Retry-After": "2"}, b"") if n == 1 else (200, {}, b""))
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url())
        did = self.send_event(tok)["delivery_ids"][0]
        d = self.wait_state(tok, did, "retrying")
        gap = (time.mktime(time.strptime(d["next_retry_at"][:19], "%Y-%m-%dT%H:%M:%S")) -
               time.mktime(time.strptime(d["last_attempt_at"][:19], "%Y-%m-%dT%H:%M:%S")))
        self.assertGreaterEqual(gap, 1)  # the schedule alone would say 300 ms
        self.wait_state(tok, did, "completed")
        self.assertGreaterEqual(rx.requests[1]["at"] - rx.requests[0]["at"], 1.5)

    def test_410_disables_the_endpoint(self):
        rx = self.receiver(lambda n, p, h, b: (410, {}, b"gone"))
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url())
        did = self.send_event(tok)["delivery_ids"][0]
        wait_for(lambda: self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]["status"] == "DISABLED",
                 what="endpoint disabled")
        e = self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]
        self.assertIn("410", e["disabled_reason"])
        self.assertEqual(self.delivery(tok, did)["state"], "retrying")  # kept for when it comes back

    def test_webhook_delivery_header_disable_and_abort(self):
        rd = self.receiver(lambda n, p, h, b: (400, {"webhook-delivery": "disable"}, b""))
        ra = self.receiver(lambda n, p, h, b: (400, {"webhook-delivery": "abort-message"}, b""))
        _, tok = self.tenant()
        epd = self.new_endpoint(tok, rd.url(), event_types=["d"])
        epa = self.new_endpoint(tok, ra.url(), event_types=["a"])
        self.send_event(tok, "d")
        wait_for(lambda: self.api("GET", "/v1/endpoints/" + epd["id"], None, tok)[1]["status"] == "DISABLED",
                 what="disabled by header")
        did = self.send_event(tok, "a")["delivery_ids"][0]
        d = self.wait_state(tok, did, "errored")
        self.assertEqual(d["attempt_count"], 1)
        self.assertEqual(self.api("GET", "/v1/endpoints/" + epa["id"], None, tok)[1]["status"], "ACTIVE")

    def test_auto_disable_then_enable_releases_held_work(self):
        healthy = threading.Event()
        rx = self.receiver(lambda n, p, h, b: (200, {}, b"") if healthy.is_set() else (500, {}, b""))
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), max_in_flight=1)
        first = self.send_event(tok)["delivery_ids"][0]
        wait_for(lambda: self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]["status"] == "DISABLED",
                 what="auto-disable after 3 failures")
        e = self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]
        self.assertGreaterEqual(e["consecutive_failures"], 3)
        self.assertIn("consecutive failures", e["disabled_reason"])
        held = [self.send_event(tok)["delivery_ids"][0] for _ in range(3)]
        seen = rx.count()
        time.sleep(1)  # give a wrongly-woken pump the chance to send; it must not
        self.assertEqual(rx.count(), seen)
        for did in held:
            self.assertEqual(self.delivery(tok, did)["state"], "pending")
        healthy.set()
        self.assertEqual(self.api("POST", "/v1/endpoints/%s/enable" % ep["id"], None, tok)[0], 200)
        for did in held:
            self.wait_state(tok, did, "completed")
        e = self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]
        self.assertEqual((e["status"], e["consecutive_failures"]), ("ACTIVE", 0))
        self.assertIn(self.delivery(tok, first)["state"], ("errored", "completed", "retrying"))

    def handed_off(self):
        text = self.api("GET", "/metrics")[1]
        return int(float(next(l.split()[-1] for l in text.splitlines()
                              if l.startswith("hookd_deliveries_handed_off_total"))))

    def test_idle_endpoint_gets_its_delivery_from_the_ingest_itself(self):
        rx = self.receiver()
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url())
        before = self.handed_off()
        did = self.send_event(tok)["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        self.assertEqual(self.handed_off(), before + 1)
        self.assertEqual(rx.count(), 1)

    def test_a_new_event_never_overtakes_waiting_work(self):
        rx = self.receiver()
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), max_in_flight=1)
        self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        waiting = [self.send_event(tok, payload={"i": i})["id"] for i in range(3)]
        # ACTIVE with free capacity and work due now, before any claim saw it:
        # set in Redis directly, so no wake-up claims the waiting work first
        key = self.redis.cli("KEYS", "hookd:*:ep:" + ep["id"]).split()[0]
        self.redis.cli("HSET", key, "status", "ACTIVE")
        last = self.send_event(tok, payload={"i": 3})["id"]
        wait_for(lambda: rx.count() == 4, what="all four deliveries")
        self.assertEqual([r["headers"]["webhook-id"] for r in rx.requests], waiting + [last])

    def test_one_claim_of_many_events_and_endpoints_sends_each_its_own(self):
        """claim.lua lists each endpoint's settings and each event's payload
        once a call; every lease is put back together from them: the right
        body, secret and test mark for every delivery."""
        rx_a, rx_b = self.receiver(), self.receiver()
        _, tok = self.tenant()
        ep_a = self.new_endpoint(tok, rx_a.url("/a"), secret=SECRET_A)
        ep_b = self.new_endpoint(tok, rx_b.url("/b"), secret=SECRET_B)
        for ep in (ep_a, ep_b):
            self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        events = [self.send_event(tok, payload={"i": i, "pad": "x" * (300 * i)}) for i in range(4)]
        s, test, _ = self.api("POST", "/v1/endpoints/%s/test" % ep_a["id"], {"payload": {"t": 1}}, tok)
        self.assertEqual(s, 202, test)
        # both ACTIVE and ready at once, so one claim leases all of it
        keys = dict((ep["id"], self.redis.cli("KEYS", "hookd:*:ep:" + ep["id"]).split()[0]) for ep in (ep_a, ep_b))
        prefix = keys[ep_a["id"]].rsplit(":ep:", 1)[0]
        self.assertEqual(prefix, keys[ep_b["id"]].rsplit(":ep:", 1)[0], "one org, one partition")
        for ep_id, key in keys.items():
            self.redis.cli("HSET", key, "status", "ACTIVE")
            self.redis.cli("ZADD", prefix + ":ready", "0", ep_id)
        self.redis.cli("PUBLISH", "hookd:wake", prefix)
        wait_for(lambda: rx_a.count() == 5 and rx_b.count() == 4, what="every delivery")
        sent = dict((e["id"], e) for e in events)
        for rx, secret, other in ((rx_a, SECRET_A, SECRET_B), (rx_b, SECRET_B, SECRET_A)):
            for r in rx.requests:
                h = r["headers"]
                self.assertTrue(verify(secret, h, r["body"]))
                self.assertFalse(verify(other, h, r["body"]))
                if h["webhook-id"] == test["event_id"]:
                    self.assertEqual(h.get("hookd-test"), "true")
                    self.assertEqual(json.loads(r["body"]), {"t": 1})
                    continue
                self.assertNotIn("hookd-test", h)
                i = [e["id"] for e in events].index(h["webhook-id"])
                self.assertEqual(json.loads(r["body"]), {"i": i, "pad": "x" * (300 * i)})
            got = sorted(r["headers"]["webhook-id"] for r in rx.requests)
            want = sorted(list(sent) + ([test["event_id"]] if rx is rx_a else []))
            self.assertEqual(got, want, "each event once")

    def test_max_in_flight_is_never_exceeded(self):
        rx = self.receiver(lambda n, p, h, b: (time.sleep(0.02), (200, {}, b""))[1])
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url(), max_in_flight=3)
        ids = [self.send_event(tok)["delivery_ids"][0] for _ in range(60)]
        for did in ids:
            self.wait_state(tok, did, "completed")
        self.assertLessEqual(rx.max_in_flight, 3)
        self.assertGreaterEqual(rx.max_in_flight, 2)  # it did run concurrently

    def test_hanging_endpoint_does_not_delay_a_healthy_one(self):
        hang = self.receiver(lambda n, p, h, b: "hang")
        ok = self.receiver()
        _, tok = self.tenant()
        slow = self.new_endpoint(tok, hang.url(), event_types=["slow"], max_in_flight=8)
        self.new_endpoint(tok, ok.url(), event_types=["fast"])
        # the backlog is built while the endpoint is held, so the window below
        # starts when its sends start, not after 300 slow API calls
        self.api("POST", "/v1/endpoints/%s/disable" % slow["id"], None, tok)
        for _ in range(300):
            self.send_event(tok, "slow")
        self.api("POST", "/v1/endpoints/%s/enable" % slow["id"], None, tok)
        wait_for(lambda: hang.in_flight == 8, what="8 sends hanging")
        t0 = time.time()
        fast = [self.send_event(tok, "fast")["delivery_ids"][0] for _ in range(20)]
        for did in fast:
            self.wait_state(tok, did, "completed", timeout=20)
        # Not delayed: every healthy delivery finished while the first 8 hung
        # sends were still hanging. Had the healthy work waited behind them, the
        # hung attempts would have timed out (request_timeout 2s) first and a
        # second wave would have reached the hanging receiver.
        self.assertEqual((hang.count(), hang.in_flight), (8, 8))
        s, page, _ = self.api("GET", "/v1/deliveries?event_type=slow&state=retrying", None, tok)
        self.assertEqual((s, page["data"]), (200, []))
        lat = [r["at"] for r in ok.requests]
        print("\nhealthy endpoint beside a hanging one: 20 deliveries done %.3fs after the first was sent"
              % (max(lat) - t0))
        self.assertLessEqual(hang.max_in_flight, 8)


class TlsDeliveryTest(HookdCase):
    @classmethod
    def setUpClass(cls):
        cls.ca = TestCA()
        cls.other_ca = TestCA()
        cls.hookd_conf = {"ca_file": cls.ca.ca_crt, "retry_schedule": "0,300ms", "request_timeout": "3s"}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.ca.close()
        cls.other_ca.close()

    def test_https_with_the_test_ca(self):
        rx = Receiver(tls=self.ca.issue("good", "DNS:localhost"))
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url(host="localhost"), secret=SECRET_A)
            did = self.send_event(tok)["delivery_ids"][0]
            self.wait_state(tok, did, "completed")
            r = rx.requests[0]
            self.assertTrue(verify(SECRET_A, r["headers"], r["body"]))
            self.assertEqual(r["headers"]["host"], "localhost:%d" % rx.port)
        finally:
            rx.close()

    def test_wrong_host_and_unknown_ca_fail_tls(self):
        wrong = Receiver(tls=self.ca.issue("wrong", "DNS:wrong.example"))
        unknown = Receiver(tls=self.other_ca.issue("stranger", "DNS:localhost"))
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, wrong.url(host="localhost"))
            self.new_endpoint(tok, unknown.url(host="localhost"))
            for did in self.send_event(tok)["delivery_ids"]:
                d, a = first_attempt(self, tok, did)
                self.assertEqual(a["error"], "failed_tls", d)
            self.assertEqual(wrong.count() + unknown.count(), 0)
        finally:
            wrong.close()
            unknown.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
