"""Issue 10: an ingest reads only the endpoints an event goes to (the
subscription index, store/lua/lib/subs.lua), whatever the org holds."""
import time
import unittest

from harness import HookdCase, Hookd, call, wait_for


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
            other.wait_ready()
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

    def test_data_older_than_the_index_is_indexed_in_steps_and_matches_meanwhile(self):
        org, tok = self.tenant()
        for i in range(300):
            self.new_endpoint(tok, self.rx.url("/o"), event_types=["t%d" % (i % 3)])
        # make it look like data written before the index existed
        for k in self.redis.cli("--scan", "--pattern", "*:org:%s:sub*" % org).split():
            self.redis.cli("DEL", k)
        flag = [k for k in self.redis.cli("--scan", "--pattern", "*:org:%s:eps" % org).split()][0][:-4] + ":subs"
        self.assertEqual(len(self.send_event(tok, "t1")["delivery_ids"]), 100)  # full scan while building
        self.assertNotEqual(self.redis.cli("GET", flag).strip(), "ready")  # 256 indexed so far
        self.assertEqual(len(self.send_event(tok, "t1")["delivery_ids"]), 100)
        self.assertEqual(self.redis.cli("GET", flag).strip(), "ready")
        self.assertEqual(len(self.send_event(tok, "t2")["delivery_ids"]), 100)  # from the index


if __name__ == "__main__":
    unittest.main()
