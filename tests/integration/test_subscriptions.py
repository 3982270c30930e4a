"""Issues 10 and 20: an event goes to exactly the org's endpoints that take
its type, whatever the org holds. hookd matches events in its own cache of
each org's endpoints (store/subscriptions.c), checked against the org's
routes version in the same atomic step as the write (store/lua/ingest.lua),
so a change made a moment before, by any process, holds for the next
event."""
import time
import unittest

from harness import HookdCase, Hookd, Receiver, call, wait_for


class SubscriptionTest(HookdCase):
    class_receiver = True

    def test_org_with_1000_endpoints_delivers_to_the_matching_ones_only(self):
        _, tok = self.tenant()
        for i in range(998):
            self.new_endpoint(tok, self.rx.url("/other"), event_types=["other.%d" % i, "x.y"])
        match = self.new_endpoint(tok, self.rx.url("/match"), event_types=["order.paid", "other.3"])
        every = self.new_endpoint(tok, self.rx.url("/every"))  # no event_types: every type
        ev = self.send_event(tok, "order.paid")
        self.assertEqual(len(ev["delivery_ids"]), 2, ev)
        got = {self.delivery(tok, d)["endpoint_id"] for d in ev["delivery_ids"]}
        self.assertEqual(got, {match["id"], every["id"]})
        ev = self.send_event(tok, "other.3")
        self.assertEqual(len(ev["delivery_ids"]), 3)  # other.3's own, match, every
        self.assertEqual(len(self.send_event(tok, "x.y")["delivery_ids"]), 999)  # 998 + every
        self.assertEqual(len(self.send_event(tok, "nobody")["delivery_ids"]), 1)

    def test_changes_on_one_process_are_honoured_by_the_next_ingest_on_another(self):
        other = Hookd(self.redis)
        try:
            _, tok = self.tenant()
            ep = self.new_endpoint(tok, self.rx.url(), event_types=["a"])

            def fan(t):
                s, b, _ = call("POST", other.url("/v1/events"), {"type": t, "payload": {}}, tok)
                self.assertEqual(s, 202, b)
                return len(b["delivery_ids"])

            self.assertEqual((fan("a"), fan("b")), (1, 0))
            s, _, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"event_types": ["b"]}, tok)
            self.assertEqual(s, 200)
            self.assertEqual((fan("a"), fan("b")), (0, 1))
            self.api("PATCH", "/v1/endpoints/" + ep["id"], {"event_types": []}, tok)
            self.assertEqual((fan("a"), fan("zzz")), (1, 1))
            # a new URL, then a disable, made here, hold for the next event there
            self.api("PATCH", "/v1/endpoints/" + ep["id"], {"url": self.rx.url("/moved")}, tok)
            fan("a")
            wait_for(lambda: any(r["path"] == "/moved" for r in self.rx.requests), what="a send to the new URL")
            self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
            sent = len(self.rx.requests)
            s, b, _ = call("POST", other.url("/v1/events"), {"type": "a", "payload": {}}, tok)
            time.sleep(1)  # a process that ignored the disable would have sent it by now
            self.assertEqual(len(self.rx.requests), sent)
            self.assertEqual(self.delivery(tok, b["delivery_ids"][0])["state"], "pending")
            self.assertEqual(self.api("DELETE", "/v1/endpoints/" + ep["id"], None, tok)[0], 204)
            self.assertEqual(fan("a"), 0)
        finally:
            self.assertEqual(other.stop(), 0)

    def test_an_org_loaded_in_pages_matches_every_endpoint(self):
        """More endpoints than one page of subs_load.lua (512): the cache
        is filled a page at a time and matches across pages."""
        _, tok = self.tenant()
        rx = Receiver()  # its own: the other tests count what the class receiver gets
        self.addCleanup(rx.close)
        for i in range(1100):
            self.new_endpoint(tok, rx.url("/o"), event_types=["t%d" % (i % 3), "all"])
        self.assertEqual(len(self.send_event(tok, "t1")["delivery_ids"]), len(range(1, 1100, 3)))
        self.assertEqual(len(self.send_event(tok, "all")["delivery_ids"]), 1100)
        self.assertEqual(len(self.send_event(tok, "none")["delivery_ids"]), 0)

    def test_a_change_written_behind_the_cache_is_caught_by_the_version(self):
        """An endpoint written straight into Redis with the version bumped,
        as another process's create would: the next event here sees it,
        though this process's cache was loaded before (INGEST_STALE, then a
        fresh match)."""
        org, tok = self.tenant()
        a = self.new_endpoint(tok, self.rx.url("/a"), event_types=["v.t"])
        self.assertEqual(len(self.send_event(tok, "v.t")["delivery_ids"]), 1)  # the cache holds the org now
        ver = self.redis.cli("--scan", "--pattern", "*:org:%s:ver" % org).split()[0]
        ek = self.redis.cli("--scan", "--pattern", "*:ep:%s" % a["id"]).split()[0]
        self.redis.cli("HSET", ek, "event_types", ",other,")  # retyped behind hookd's back ...
        self.assertEqual(len(self.send_event(tok, "v.t")["delivery_ids"]), 1)  # ... the version has not moved
        self.redis.cli("INCR", ver)  # ... now it has
        self.assertEqual(len(self.send_event(tok, "v.t")["delivery_ids"]), 0)
        self.assertEqual(len(self.send_event(tok, "other")["delivery_ids"]), 1)

    def test_hookd_types_go_only_to_endpoints_that_name_them(self):
        _, tok = self.tenant()
        every = self.new_endpoint(tok, self.rx.url("/every"))
        named = self.new_endpoint(tok, self.rx.url("/named"), event_types=["hookd.endpoint.disabled", "x"])
        s, b, _ = self.api("POST", "/v1/endpoints/%s/disable" % every["id"], None, tok)
        self.assertEqual(s, 200, b)
        # the notice about `every` went to `named` only
        wait_for(lambda: any(r["path"] == "/named" for r in self.rx.requests), what="the notice")
        self.assertFalse([r for r in self.rx.requests if r["path"] == "/every"])


if __name__ == "__main__":
    unittest.main()
