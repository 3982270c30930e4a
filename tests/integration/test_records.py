"""A delivery that succeeds at its first attempt is kept as one short field
of its event (lib/delivery.lua); it reads exactly like a full record, and
becomes one when something changes it (a requeue)."""
import unittest

from harness import HookdCase, Receiver


class CompactRecordTest(HookdCase):
    class_receiver = True

    def keys_of(self, did):
        return self.redis.cli("--scan", "--pattern", "*:dl:%s*" % did).split()

    def test_first_attempt_success_is_compact_and_reads_the_same(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        d = self.wait_state(tok, did, "completed")
        self.assertEqual(self.keys_of(did), [])  # no hash, no attempt list
        self.assertEqual((d["attempt_count"], d["response"]["code"], d["endpoint_id"]), (1, 200, ep["id"]))
        self.assertTrue(d["delivered_at"] and d["last_attempt_at"])
        s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
        self.assertEqual(s, 200, att)
        a = att["data"][0]
        self.assertEqual((len(att["data"]), a["number"], a["status_code"], a["response_body"]), (1, 1, 200, "ok"))
        self.assertRegex(a["started_at"], r"Z$")
        s, lst, _ = self.api("GET", "/v1/deliveries?state=completed", None, tok)
        self.assertIn(did, [x["id"] for x in lst["data"]])

    def test_requeue_turns_it_into_a_full_record_and_sends_again(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        before = self.rx.count()
        s, b, _ = self.api("POST", "/api/partner/v1/webhook-endpoints/%s/redeliver" % ep["id"],
                           {"deliveryId": did}, tok)
        self.assertEqual(s, 200, b)
        self.wait_state(tok, did, "completed")
        self.assertGreater(self.rx.count(), before)
        s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
        self.assertEqual([x["number"] for x in att["data"]], [1, 2])
        self.assertEqual(self.delivery(tok, did)["attempt_count"], 2)

    def test_a_long_response_keeps_the_full_record(self):
        rx = Receiver(lambda n, p, h, b: (200, {}, b"a fairly long response body that does not fit"))
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url(), event_types=["a"])
            did = self.send_event(tok, "a")["delivery_ids"][0]
            self.wait_state(tok, did, "completed")
            self.assertEqual(len(self.keys_of(did)), 2)  # hash and attempt list
            s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
            self.assertEqual(att["data"][0]["response_body"], "a fairly long response body that does not fit")
        finally:
            rx.close()


if __name__ == "__main__":
    unittest.main()
