"""Payloads of 256 bytes or more are kept in Redis as zstd frames
(store/payload.h), inside the event hash as 64-byte chunks up to 2 KiB
(store/lua/lib/payload.lua), else in a key of their own: receivers and the
API still see the exact JSON."""
import json
import random
import unittest

from harness import ROOT_TOKEN, Hookd, HookdCase, Receiver, Redis, call, wait_for


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
        stored = self.stored_size(ev["id"])
        self.assertEqual(stored[0], "inline")
        self.assertLess(stored[1], len(sent.encode()) // 2, "stored %d bytes for %d" % (stored[1], len(sent)))
        s, b, _ = self.api("GET", "/v1/events/" + ev["id"], None, tok)
        self.assertEqual((s, b["payload"]), (200, payload))
        self.assertFalse([k for k in b if k == "b" or k.startswith("b") and k[1:].isdigit()], b)

    def stored_size(self, evid):
        """Where an event's payload is kept, and its stored size in bytes."""
        ek = self.redis.cli("--scan", "--pattern", "*:ev:%s" % evid).split()[0]
        k = self.redis.cli("HGET", ek, "b").strip()
        if k:
            return "inline", sum(int(self.redis.cli("HSTRLEN", ek, "b%d" % i)) for i in range(1, int(k) + 1))
        return "key", int(self.redis.cli("STRLEN", ek + ":body"))

    def test_payload_over_2kib_stored_gets_a_key_of_its_own(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        rng = random.Random(3)
        payload = {"blob": "".join(rng.choice("0123456789abcdef") for _ in range(8000))}
        before = self.rx.count()
        ev = self.send_event(tok, "a", payload)
        self.wait_state(tok, ev["delivery_ids"][0], "completed")
        self.assertEqual(json.loads(self.rx.requests[before]["body"]), payload)
        where, size = self.stored_size(ev["id"])
        self.assertEqual(where, "key")
        self.assertGreater(size, 2048)
        s, b, _ = self.api("GET", "/v1/events/" + ev["id"], None, tok)
        self.assertEqual((s, b["payload"]), (200, payload))

    def test_small_payload_is_stored_as_is(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        ev = self.send_event(tok, "a", {"x": 1})
        ek = self.redis.cli("--scan", "--pattern", "*:ev:%s" % ev["id"]).split()[0]
        # the producer's bytes as sent (json.dumps puts a space after the colon)
        self.assertEqual((self.redis.cli("HGET", ek, "b").strip(), self.redis.cli("HGET", ek, "b1").strip()),
                         ("1", '{"x": 1}'))



class LargerChunkTest(unittest.TestCase):
    """A Redis configured with a larger hash-max-listpack-value keeps a
    payload in fewer fields of a still compact event hash (hookd reads the
    setting when Redis becomes ready)."""

    def test_payload_chunks_follow_hash_max_listpack_value(self):
        redis = Redis()
        self.addCleanup(redis.close)
        redis.cli("CONFIG", "SET", "hash-max-listpack-value", "1024")
        h = Hookd(redis)
        self.addCleanup(lambda: self.assertEqual(h.stop(), 0))
        rx = Receiver()
        self.addCleanup(rx.close)
        org = call("POST", h.url("/v1/orgs"), {"name": "c"}, ROOT_TOKEN)[1]["id"]
        tok = call("POST", h.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                 "scopes": ["webhooks:manage", "webhooks:read", "events:write"]},
                   ROOT_TOKEN)[1]["token"]
        call("POST", h.url("/v1/endpoints"), {"url": rx.url()}, tok)
        rng = random.Random(5)
        payload = {"blob": "".join(rng.choice("0123456789abcdef") for _ in range(900))}  # zstd keeps ~half
        s, ev, _ = call("POST", h.url("/v1/events"), {"type": "t", "payload": payload}, tok)
        self.assertEqual(s, 202, ev)
        ek = redis.cli("--scan", "--pattern", "*:ev:%s" % ev["id"]).split()[0]
        self.assertEqual(redis.cli("HGET", ek, "b").strip(), "1")  # one field instead of ~8
        self.assertEqual(redis.cli("OBJECT", "ENCODING", ek).strip(), "listpack")
        wait_for(lambda: rx.count() == 1, what="the delivery")
        self.assertEqual(json.loads(rx.requests[0]["body"]), payload)
        self.assertEqual(call("GET", h.url("/v1/events/" + ev["id"]), None, tok)[1]["payload"], payload)

if __name__ == "__main__":
    unittest.main()
