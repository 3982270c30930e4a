"""Issue 21, part 4: an org's ingest rate_limit (PATCH /v1/orgs/{id}, root).
Over it, POST /v1/events answers 429 with Retry-After and stores nothing;
every 202 is delivered; the limit holds across processes (a token bucket
in the org's partition that ingest.lua takes from)."""
import threading
import time
import unittest

from harness import HookdCase, Hookd, ROOT_TOKEN, Receiver, call, wait_for


class OrgLimitTest(HookdCase):
    def test_rate_limit_is_checked_and_shown(self):
        org, tok = self.tenant()
        for bad in (0, -3, 2.5, "50", 100001):
            s, b, _ = self.api("PATCH", "/v1/orgs/" + org, {"rate_limit": bad}, ROOT_TOKEN)
            self.assertEqual((s, b.get("field")), (422, "rate_limit"), bad)
        s, b, _ = self.api("PATCH", "/v1/orgs/" + org, {"rate_limit": 50}, tok)  # an org admin is not root
        self.assertEqual(s, 403)
        s, b, _ = self.api("PATCH", "/v1/orgs/" + org, {"rate_limit": 50}, ROOT_TOKEN)
        self.assertEqual((s, b["rate_limit"], b["id"]), (200, 50, org))
        s, b, _ = self.api("PATCH", "/v1/orgs/00000000-0000-7000-8000-000000000000", {"rate_limit": 5}, ROOT_TOKEN)
        self.assertEqual(s, 404)
        s, b, _ = self.api("PATCH", "/v1/orgs/" + org, {"rate_limit": None}, ROOT_TOKEN)
        self.assertEqual((s, b["rate_limit"]), (200, None))

    def test_two_processes_hold_producers_to_the_org_limit(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        other = Hookd(self.redis)
        try:
            org, tok = self.tenant()
            self.new_endpoint(tok, rx.url())
            self.assertEqual(self.send_event(tok)["delivery_ids"].__len__(), 1)  # both caches load the org
            s, _, _ = call("POST", other.url("/v1/events"), {"type": "t", "payload": {}}, tok)
            self.assertEqual(s, 202)
            s, b, _ = self.api("PATCH", "/v1/orgs/" + org, {"rate_limit": 50}, ROOT_TOKEN)
            self.assertEqual(s, 200, b)
            accepted, refused, lock = [], [], threading.Lock()
            t_end = time.time() + 4

            def produce(h):
                while time.time() < t_end:
                    s, b, hd = call("POST", h.url("/v1/events"), {"type": "t", "payload": {"n": 1}}, tok)
                    with lock:
                        if s == 202:
                            accepted.append(b["id"])
                        else:
                            refused.append((s, b, hd))

            threads = [threading.Thread(target=produce, args=(h,)) for h in (self.hookd, other) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertTrue(refused, "nothing refused")
            s, b, hd = refused[0]
            self.assertEqual((s, b["code"]), (429, "rate_limited"), b)
            self.assertGreaterEqual(int(hd["Retry-After"]), 1)
            self.assertEqual({r[0] for r in refused}, {429})
            self.assertEqual(self.hookd.metric("hookd_org_ingest_refused_total") +
                             other.metric("hookd_org_ingest_refused_total"), len(refused))
            # 4 s at 50/s, plus the bucket's half second: about 225 at most
            self.assertLessEqual(len(accepted), 50 * 4.5 * 1.1)
            self.assertGreaterEqual(len(accepted), 50 * 4 * 0.9)
            wait_for(lambda: rx.count() >= len(accepted) + 2, timeout=60, what="every accepted event delivered")
            self.assertEqual(rx.count(), len(accepted) + 2)  # and nothing refused was stored or sent
            # the contract routes are not limited: a replay goes through at once
            s, b, _ = self.api("GET", "/v1/deliveries?limit=1", None, tok)
            did = b["data"][0]["id"]
            s, b, _ = self.api("POST", "/v1/webhooks/deliveries/%s/replay" % did, {}, tok)
            self.assertEqual(s, 200, b)
        finally:
            self.assertEqual(other.stop(), 0)


if __name__ == "__main__":
    unittest.main()
