"""Issue 22: ordered delivery. On an endpoint with "ordering": "fifo", the
deliveries of one ordering_key reach the receiver one at a time, in the
order hookd accepted their events, across processes and through a
process's SIGKILL; a failure holds the ones behind it until it succeeds or
is exhausted (store/lua/lib/fifo.lua)."""
import json
import random
import threading
import unittest

from harness import HookdCase, Hookd, Receiver, call, wait_for

FAST = {"retry_schedule": "0" + ",50ms" * 14, "retry_jitter_pct": 0, "request_timeout": "2s",
        "lease_margin": "1s"}


class OrderedReceiver(Receiver):
    """Fails a share of requests at random; records, per ordering key, the
    sequence numbers of the requests it answered 200, in answer order."""

    def __init__(self, fail_share=0.3, seed=7):
        rnd = random.Random(seed)
        self.ok = {}  # key -> [seq, ...]
        self.fail_when = lambda doc: False
        self.gate = None  # a threading.Event a request of doc["block"] waits on

        def behaviour(n, path, headers, body):
            doc = json.loads(body)
            if doc.get("block") and self.gate:
                self.gate.wait(30)
            with self.lock:
                fail = self.fail_when(doc) or rnd.random() < fail_share
                if not fail:
                    self.ok.setdefault(doc["key"], []).append(doc["seq"])
            return (500, {}, b"no") if fail else (200, {}, b"ok")

        super().__init__(behaviour)

    def firsts(self, key):
        """the first successful receipt of each seq, in order"""
        with self.lock:
            seen, out = set(), []
            for s in self.ok.get(key, []):
                if s not in seen:
                    seen.add(s)
                    out.append(s)
            return out


class OrderingCase(HookdCase):
    hookd_conf = FAST

    def send_keys(self, tok, hookds, keys, per_key, start=0):
        """each key's events in sequence (a key's next is posted once the
        previous was accepted), keys side by side, processes in turn"""
        errors = []

        def post_key(i, key):
            try:
                for seq in range(start, start + per_key):
                    h = hookds[(i + seq) % len(hookds)]
                    s, b, _ = call("POST", h.url("/v1/events"),
                                   {"type": "o", "payload": {"key": key, "seq": seq}, "ordering_key": key}, tok)
                    if s != 202:
                        errors.append((key, seq, s, b))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((key, repr(e)))

        threads = [threading.Thread(target=post_key, args=(i, k)) for i, k in enumerate(keys)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])

    def post_keyed(self, hookd, tok, seq, key="k", **extra):
        """one event of `key` with sequence number `seq`, through `hookd`: its delivery id"""
        s, b, _ = call("POST", hookd.url("/v1/events"),
                       {"type": "o", "payload": dict({"key": key, "seq": seq}, **extra), "ordering_key": key}, tok)
        self.assertEqual(s, 202, b)
        return b["delivery_ids"][0]

    def check_in_order(self, rx, keys, per_key):
        for k in keys:
            self.assertEqual(rx.firsts(k), list(range(per_key)), k)


class OrderingTest(OrderingCase):
    def test_endpoint_ordering_and_event_ordering_key_are_checked(self):
        _, tok = self.tenant()
        s, b, _ = self.api("POST", "/v1/endpoints", {"url": "http://127.0.0.1:9/x", "ordering": "lifo"}, tok)
        self.assertEqual((s, b.get("field")), (422, "ordering"))
        ep = self.new_endpoint(tok, "http://127.0.0.1:9/x")
        self.assertEqual(ep["ordering"], "none")
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"ordering": "fifo"}, tok)
        self.assertEqual((s, b["ordering"]), (200, "fifo"))
        for bad in ("k" * 129, "", 5, ["k"]):
            s, b, _ = self.api("POST", "/v1/events", {"type": "o", "payload": {}, "ordering_key": bad}, tok)
            self.assertEqual((s, b.get("field")), (422, "ordering_key"), bad)
        ev = self.send_event(tok, "o", {}, ordering_key="k" * 128)
        s, got, _ = self.api("GET", "/v1/events/" + ev["id"], None, tok)
        self.assertEqual(got["ordering_key"], "k" * 128)
        self.assertEqual(self.delivery(tok, ev["delivery_ids"][0])["ordering_key"], "k" * 128)

    def test_three_processes_deliver_each_key_in_acceptance_order_despite_failures(self):
        rx = OrderedReceiver()
        self.addCleanup(rx.close)
        others = [Hookd(self.redis, **FAST) for _ in range(2)]
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url(), ordering="fifo", max_in_flight=64)
            keys = ["key-%d" % i for i in range(50)]
            self.send_keys(tok, [self.hookd] + others, keys, 40)
            wait_for(lambda: all(len(rx.firsts(k)) == 40 for k in keys), timeout=180, what="every event delivered")
            self.check_in_order(rx, keys, 40)
        finally:
            for h in others:
                self.assertEqual(h.stop(), 0)

    def test_a_process_killed_midway_breaks_no_key_order(self):
        rx = OrderedReceiver(seed=11)
        self.addCleanup(rx.close)
        victim, other = Hookd(self.redis, **FAST), Hookd(self.redis, **FAST)
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url(), ordering="fifo", max_in_flight=64)
            keys = ["key-%d" % i for i in range(50)]
            self.send_keys(tok, [self.hookd, victim, other], keys, 20)
            wait_for(lambda: sum(len(rx.firsts(k)) for k in keys) >= 300, timeout=120, what="deliveries under way")
            victim.kill()  # SIGKILL, with leases in flight: they expire and are claimed again
            self.send_keys(tok, [self.hookd, other], keys, 20, start=20)
            wait_for(lambda: all(len(rx.firsts(k)) == 40 for k in keys), timeout=180, what="every event delivered")
            self.check_in_order(rx, keys, 40)
        finally:
            self.assertEqual(other.stop(), 0)

    def test_a_failing_delivery_holds_its_key_until_exhausted_then_the_next_goes(self):
        hookd = Hookd(self.redis, retry_schedule="0,50ms", retry_jitter_pct=0)
        rx = OrderedReceiver(fail_share=0)
        self.addCleanup(rx.close)
        try:
            _, tok = self.tenant()
            ep = self.new_endpoint(tok, rx.url(), ordering="fifo")
            rx.gate = threading.Event()
            rx.fail_when = lambda doc: doc["key"] == "k" and doc["seq"] == 0

            def post(seq, **extra):
                return self.post_keyed(hookd, tok, seq, **extra)

            first = post(0, block=True)  # answered 500 once the gate opens, twice: exhausted
            second, third = post(1), post(2)
            other_key = self.post_keyed(hookd, tok, 0, key="j")
            wait_for(lambda: rx.firsts("j") == [0], what="another key not held")
            held = self.delivery(tok, second)
            self.assertEqual((held["state"], held.get("held_by"), held["ordering_key"]), ("pending", first, "k"))
            self.assertEqual(self.delivery(tok, third).get("held_by"), second)
            rx.gate.set()
            wait_for(lambda: rx.firsts("k") == [1, 2], what="the next ones after the exhausted one")
            self.assertEqual(self.delivery(tok, first)["state"], "errored")
            self.assertIsNone(self.delivery(tok, third)["held_by"])
            # a replay of the exhausted one goes to the back of the queue
            rx.gate = threading.Event()
            fourth = post(3, block=True)
            rx.fail_when = lambda doc: False
            s, b, _ = call("POST", hookd.url("/v1/webhooks/deliveries/%s/replay" % first), {}, tok)
            self.assertEqual(s, 200, b)
            self.assertEqual(self.delivery(tok, b["id"]).get("held_by"), fourth)
            rx.gate.set()
            wait_for(lambda: rx.firsts("k") == [1, 2, 0, 3] or rx.firsts("k") == [1, 2, 3, 0],
                     what="the fourth and the replay delivered")
            self.assertEqual(rx.firsts("k"), [1, 2, 3, 0])
            self.assertTrue(other_key)
            self.assertEqual(self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]["ordering"], "fifo")
        finally:
            self.assertEqual(hookd.stop(), 0)

    def test_a_requeued_delivery_goes_to_the_back_of_its_key(self):
        hookd = Hookd(self.redis, retry_schedule="0,50ms", retry_jitter_pct=0)
        rx = OrderedReceiver(fail_share=0)
        self.addCleanup(rx.close)
        try:
            _, tok = self.tenant()
            ep = self.new_endpoint(tok, rx.url(), ordering="fifo")
            rx.fail_when = lambda doc: doc["seq"] == 0

            def post(seq, **extra):
                return self.post_keyed(hookd, tok, seq, **extra)

            first = post(0)
            post(1)
            wait_for(lambda: rx.firsts("k") == [1], what="the next one after the exhausted first")
            rx.gate = threading.Event()
            blocked = post(2, block=True)
            rx.fail_when = lambda doc: False
            s, b, _ = call("POST", hookd.url("/api/partner/v1/webhook-endpoints/%s/redeliver" % ep["id"]),
                           {"deliveryId": first}, tok)
            self.assertEqual((s, b.get("requeued")), (200, 1), b)
            d = self.delivery(tok, first)
            self.assertEqual((d["state"], d["held_by"]), ("pending", blocked))
            rx.gate.set()
            wait_for(lambda: len(rx.firsts("k")) == 3, what="the requeued one delivered")
            self.assertEqual(rx.firsts("k"), [1, 2, 0])
        finally:
            self.assertEqual(hookd.stop(), 0)

    def test_deleting_a_fifo_endpoint_cancels_what_its_queues_hold(self):
        rx = OrderedReceiver(fail_share=0)
        self.addCleanup(rx.close)
        rx.gate = threading.Event()
        self.addCleanup(rx.gate.set)
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), ordering="fifo")
        first = self.send_event(tok, "o", {"key": "k", "seq": 0, "block": True}, ordering_key="k")["delivery_ids"][0]
        held = [self.send_event(tok, "o", {"key": "k", "seq": i}, ordering_key="k")["delivery_ids"][0]
                for i in range(1, 6)]
        held += [self.send_event(tok, "o", {"key": "m", "seq": 0, "block": True}, ordering_key="m")["delivery_ids"][0]]
        held += [self.send_event(tok, "o", {"key": "m", "seq": 1}, ordering_key="m")["delivery_ids"][0]]
        self.assertEqual(self.delivery(tok, held[0])["held_by"], first)
        self.assertEqual(self.api("DELETE", "/v1/endpoints/" + ep["id"], None, tok)[0], 204)
        rx.gate.set()
        wait_for(lambda: all(self.delivery(tok, d)["state"] == "canceled" for d in held[:5] + held[6:]),
                 timeout=60, what="the held deliveries canceled")
        self.assertEqual(rx.firsts("k"), [0])



class OrderingRedisRestartTest(OrderingCase):
    """The queues live in Redis (appendonly, fsync always here): a Redis
    restart midway loses no key's order."""
    redis_aof = True

    def test_a_redis_restart_midway_breaks_no_key_order(self):
        rx = OrderedReceiver(seed=5)
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url(), ordering="fifo", max_in_flight=32)
        keys = ["key-%d" % i for i in range(20)]
        self.send_keys(tok, [self.hookd], keys, 15)
        wait_for(lambda: sum(len(rx.firsts(k)) for k in keys) >= 60, timeout=120, what="deliveries under way")
        self.redis.stop()
        self.redis.start()
        self.hookd.wait_ready()
        self.send_keys(tok, [self.hookd], keys, 15, start=15)
        wait_for(lambda: all(len(rx.firsts(k)) == 30 for k in keys), timeout=180, what="every event delivered")
        self.check_in_order(rx, keys, 30)


if __name__ == "__main__":
    unittest.main()
