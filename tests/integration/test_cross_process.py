"""Issue 10: what one process changes about an endpoint (created, event types
patched, URL patched, disabled, deleted) is honoured by the next event that
another process ingests. Ingest reads endpoints once per script call and
keeps nothing between calls, so there is no cache to go stale; this holds
it to that."""
import time
import unittest

from harness import ROOT_TOKEN, Hookd, Receiver, Redis, call, wait_for


class CrossProcessTest(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()
        self.a, self.b = Hookd(self.redis), Hookd(self.redis)
        self.a.wait_ready()
        self.b.wait_ready()
        self.rx = Receiver()
        org = call("POST", self.a.url("/v1/orgs"), {"name": "x"}, ROOT_TOKEN)[1]["id"]
        self.tok = call("POST", self.a.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                          "scopes": ["webhooks:manage", "webhooks:read", "events:write"]},
                        ROOT_TOKEN)[1]["token"]

    def tearDown(self):
        self.rx.close()
        try:
            for h in (self.a, self.b):
                self.assertEqual(h.stop(), 0, h.log()[-4000:])
        finally:
            self.redis.close()

    def on_a(self, method, path, body=None):
        s, b, _ = call(method, self.a.url(path), body, self.tok)
        self.assertLess(s, 300, b)
        return b

    def event_on_b(self, etype):
        s, b, _ = call("POST", self.b.url("/v1/events"), {"type": etype, "payload": {"t": etype}}, self.tok)
        self.assertEqual(s, 202, b)
        return b["delivery_ids"]

    def received(self, path, n):
        wait_for(lambda: sum(r["path"] == path for r in self.rx.requests) >= n, what="%d at %s" % (n, path))

    def test_endpoint_changes_on_one_process_hold_for_the_next_event_on_another(self):
        ep = self.on_a("POST", "/v1/endpoints", {"url": self.rx.url("/one"), "event_types": ["a"]})
        self.assertEqual(len(self.event_on_b("a")), 1)  # created
        self.received("/one", 1)
        self.on_a("PATCH", "/v1/endpoints/" + ep["id"], {"event_types": ["b"]})
        self.assertEqual(self.event_on_b("a"), [])  # no longer subscribed
        self.assertEqual(len(self.event_on_b("b")), 1)
        self.received("/one", 2)
        self.on_a("PATCH", "/v1/endpoints/" + ep["id"], {"url": self.rx.url("/two")})
        self.assertEqual(len(self.event_on_b("b")), 1)
        self.received("/two", 1)  # the new URL
        self.on_a("POST", "/v1/endpoints/%s/disable" % ep["id"])
        held = self.event_on_b("b")
        self.assertEqual(len(held), 1)
        time.sleep(1)  # a process that ignored the disable would have sent it by now
        self.assertEqual(sum(r["path"] == "/two" for r in self.rx.requests), 1)
        s, d, _ = call("GET", self.b.url("/v1/deliveries/" + held[0]), None, self.tok)
        self.assertEqual((s, d["state"]), (200, "pending"))
        self.on_a("DELETE", "/v1/endpoints/" + ep["id"])
        self.assertEqual(self.event_on_b("b"), [])  # deleted
        self.assertEqual(len(self.rx.requests), 3)


if __name__ == "__main__":
    unittest.main()
