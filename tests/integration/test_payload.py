"""Payloads of 256 bytes or more are kept in Redis as zstd frames
(store/payload.h): receivers and the API still see the exact JSON."""
import json
import unittest

from harness import HookdCase


class PayloadTest(HookdCase):
    class_receiver = True

    def test_large_payload_is_stored_packed_and_delivered_exactly(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        payload = {"lines": [{"id": "il_%06d" % i, "amount": i * 7919, "note": "monthly seat %d" % i}
                             for i in range(40)], "unicode": "h\u00e9llo \u2603", "n": 1.50}
        before = self.rx.count()
        ev = self.send_event(tok, "a", payload)
        self.wait_state(tok, ev["delivery_ids"][0], "completed")
        got = self.rx.requests[before]["body"]
        sent = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        self.assertEqual(json.loads(got), payload)
        keys = [k for k in self.redis.cli("--scan", "--pattern", "*:ev:%s:body" % ev["id"]).split()]
        self.assertEqual(len(keys), 1)
        stored = int(self.redis.cli("STRLEN", keys[0]))
        self.assertLess(stored, len(sent.encode()) // 2, "stored %d bytes for %d" % (stored, len(sent)))
        s, b, _ = self.api("GET", "/v1/events/" + ev["id"], None, tok)
        self.assertEqual((s, b["payload"]), (200, payload))

    def test_small_payload_is_stored_as_is(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        ev = self.send_event(tok, "a", {"x": 1})
        keys = self.redis.cli("--scan", "--pattern", "*:ev:%s:body" % ev["id"]).split()
        self.assertEqual(self.redis.cli("GET", keys[0]).strip(), '{"x":1}')


if __name__ == "__main__":
    unittest.main()
