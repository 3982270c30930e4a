"""Issue 11: retention. What finished more than `retention` ago is removed
with everything that names it; unfinished work never is; two processes
prune without orphans; under a steady load Redis levels off."""
import json
import time
import unittest
import uuid

from harness import HookdCase, Hookd, Receiver, Redis, call, wait_for

# Keys that belong to events and deliveries (store/keys.h); none may outlive them.
RECORD_PARTS = (":ev:", ":dl:", ":dls", ":sess:", ":req:", ":idem:", ":canceling")


def scripted_receiver(*first):
    """A receiver that gives these answers in turn, then 200 to everything."""
    answers = iter(first)
    return Receiver(lambda n, p, h, b: next(answers, (200, {}, b"ok")))


def record_keys(redis):
    return [k for k in redis.cli("--scan", "--pattern", "hookd:*").split() if any(p in k for p in RECORD_PARTS)]


class RetentionTest(HookdCase):
    # one partition: retention visits a partition a second, so a record
    # finished is pruned between 2 and 3 s later, which the tests below
    # leave seconds of margin around
    hookd_conf = {"retention": "2s", "retry_schedule": "0,6s", "partitions": 1}
    class_receiver = True

    def test_finished_records_are_pruned_and_read_as_unknown(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        sess = str(uuid.uuid4())
        s, ev, _ = self.api("POST", "/v1/events", {"type": "a", "payload": {"n": 1}, "sync_session_id": sess,
                                                   "request_id": "req-1"}, tok, headers={"Idempotency-Key": "k1"})
        self.assertEqual(s, 202, ev)
        did = ev["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        self.assertEqual(self.api("GET", "/v1/events/" + ev["id"], None, tok)[0], 200)
        # within a few seconds of `retention`, everything about it is gone
        self.wait_gone(tok, "/v1/deliveries/" + did, "the delivery to be pruned")
        self.assertEqual(self.api("GET", "/v1/events/" + ev["id"], None, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)[0], 404)
        s, lst, _ = self.api("GET", "/v1/deliveries?endpoint_id=" + ep["id"], None, tok)
        self.assertEqual((s, lst["data"]), (200, []))
        s, b, _ = self.api("POST", "/api/v2/webhook_deliveries/redeliveries", {"delivery_ids": [did]}, tok)
        self.assertEqual(b["meta"]["dropped_ids"], [did], b)
        # the idempotency key went with its event: the same key is a new event now
        s, again, _ = self.api("POST", "/v1/events", {"type": "a", "payload": {"n": 1}}, tok,
                               headers={"Idempotency-Key": "k1"})
        self.assertEqual(s, 202, again)
        self.assertNotEqual(again["id"], ev["id"])
        wait_for(lambda: not any(ev["id"][:32] in k or sess in k or "req-1" in k for k in record_keys(self.redis)),
                 30, what="no key of the pruned event to remain")
        metrics = call("GET", self.hookd.url("/metrics"))[1]
        self.assertRegex(metrics, r'hookd_pruned_total\{kind="delivery"\} [1-9]')
        self.assertRegex(metrics, r'hookd_pruned_total\{kind="event"\} [1-9]')

    def test_a_pruned_delivery_reads_as_unknown_while_its_event_stays(self):
        rx_bad = Receiver(lambda n, p, h, b: "hang")  # in progress for request_timeout (15 s)
        self.addCleanup(rx_bad.close)
        _, tok = self.tenant()
        good = self.new_endpoint(tok, self.rx.url(), event_types=["two"])
        self.new_endpoint(tok, rx_bad.url(), event_types=["two"])
        ids = self.send_event(tok, "two")["delivery_ids"]
        done = [d for d in ids if self.delivery(tok, d)["endpoint_id"] == good["id"]][0]
        self.wait_state(tok, done, "completed")
        self.wait_gone(tok, "/v1/deliveries/" + done, "the completed delivery to be pruned")
        other = [d for d in ids if d != done][0]
        self.assertEqual(self.delivery(tok, other)["state"], "in_progress")  # its event is still there
        s, b, _ = self.api("POST", "/api/v2/webhook_deliveries/redeliveries", {"delivery_ids": [done]}, tok)
        self.assertEqual(b["meta"]["dropped_ids"], [done], b)

    def test_retrying_delivery_outlives_retention_then_goes(self):
        rx = scripted_receiver((500, {}, b"no"))
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url(), event_types=["a"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, did, "retrying")
        time.sleep(3)  # past retention while retrying: still there
        self.assertEqual(self.delivery(tok, did)["state"], "retrying")
        self.wait_state(tok, did, "completed", timeout=30)  # the 6 s retry succeeds
        self.wait_gone(tok, "/v1/deliveries/" + did, "the completed delivery to be pruned in its turn")

    def test_requeued_delivery_is_kept_until_it_finishes_again(self):
        # completed, then requeued (contract 004) into a retry that lasts past
        # the retention of its first finish: that first finish must not prune it
        rx = scripted_receiver((200, {}, b"ok"), (500, {}, b"no"))
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), event_types=["a"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        s, b, _ = self.api("POST", "/api/partner/v1/webhook-endpoints/%s/redeliver" % ep["id"],
                           {"deliveryId": did}, tok)
        self.assertEqual((s, b["requeued"]), (200, 1), b)
        self.wait_state(tok, did, "retrying")
        time.sleep(4)  # its first finish's entry was due by now: still there
        self.assertEqual(self.delivery(tok, did)["state"], "retrying")
        self.wait_state(tok, did, "completed", timeout=30)  # the 6 s retry succeeds
        self.wait_gone(tok, "/v1/deliveries/" + did, "the delivery to be pruned after its second finish")
        wait_for(lambda: not self.redis.cli("--scan", "--pattern", "hookd:*:requeued").split(), 30,
                 what="the stale entry's count to be used up")

    def test_a_replayed_single_delivery_event_stays_while_its_replay_does(self):
        # a one-endpoint event is pruned without being read, unless a replay
        # pinned it: the original goes, the event and the retrying replay stay
        rx = scripted_receiver((200, {}, b"ok"), (500, {}, b"no"))
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url(), event_types=["a"])
        ev = self.send_event(tok, "a")
        did = ev["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        s, b, _ = self.api("POST", "/v1/webhooks/deliveries/%s/replay" % did, {}, tok)
        self.assertIn(s, (200, 201, 202), b)
        replay = [d for d in self.api("GET", "/v1/deliveries", None, tok)[1]["data"] if d["id"] != did][0]
        self.wait_state(tok, replay["id"], "retrying")
        self.wait_gone(tok, "/v1/deliveries/" + did, "the original to be pruned")
        self.assertEqual(self.api("GET", "/v1/events/" + ev["id"], None, tok)[0], 200)
        self.assertEqual(self.delivery(tok, replay["id"])["state"], "retrying")
        self.wait_state(tok, replay["id"], "completed", timeout=30)  # the 6 s retry
        self.assertEqual(json.loads(rx.requests[-1]["body"]), json.loads(rx.requests[0]["body"]))
        self.wait_gone(tok, "/v1/events/" + ev["id"], "the event to go with its last delivery")
        wait_for(lambda: not self.redis.cli("--scan", "--pattern", "hookd:*:pinned").split(), 30,
                 what="the pin to go with its event")


class CanceledTest(HookdCase):
    hookd_conf = {"retention": "1h"}
    class_receiver = True

    def test_deleting_an_endpoint_cancels_its_queued_deliveries(self):
        rx = Receiver(lambda n, p, h, b: "hang")
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), event_types=["a"], max_in_flight=1)
        ids = [self.send_event(tok, "a")["delivery_ids"][0] for _ in range(3)]
        wait_for(lambda: rx.count() >= 1, what="the first delivery to hang")
        self.assertEqual(self.api("DELETE", "/v1/endpoints/" + ep["id"], None, tok)[0], 204)
        for did in ids[1:]:
            self.wait_state(tok, did, "canceled")
        s, b, _ = self.api("GET", "/v1/deliveries?state=canceled", None, tok)
        self.assertEqual(sorted(d["id"] for d in b["data"]), sorted(ids[1:]), b)
        time.sleep(1)
        self.assertEqual(rx.count(), 1)  # never sent

    def test_a_deleted_endpoints_queued_deliveries_read_canceled_at_once(self):
        """issue 21: no wait for the pruner's round, in reads and in the
        list's state filter"""
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, "http://127.0.0.1:9/never", event_types=["b"])
        self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)  # nothing leaves
        ids = [self.send_event(tok, "b")["delivery_ids"][0] for _ in range(3)]
        self.assertEqual({self.delivery(tok, d)["state"] for d in ids}, {"pending"})
        self.assertEqual(self.api("DELETE", "/v1/endpoints/" + ep["id"], None, tok)[0], 204)
        self.assertEqual([self.delivery(tok, d)["state"] for d in ids], ["canceled"] * 3)
        s, b, _ = self.api("GET", "/v1/deliveries?state=canceled&event_type=b", None, tok)
        self.assertEqual(sorted(d["id"] for d in b["data"]), sorted(ids), b)
        s, b, _ = self.api("GET", "/v1/deliveries?state=pending&event_type=b", None, tok)
        self.assertEqual(b["data"], [])

    def test_entries_of_the_old_retain_set_are_pruned(self):
        # an entry written by a version that kept a sorted set P:retain,
        # finished two hours ago: moved to the list and pruned
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        ev = self.send_event(tok, "a")
        did = ev["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        lst = [k for k in self.redis.cli("--scan", "--pattern", "hookd:*:finished").split()
               if did in self.redis.cli("LRANGE", k, 0, -1)][0]
        entry = [e for e in self.redis.cli("LRANGE", lst, 0, -1).split() if did in e][0]
        self.assertEqual(self.redis.cli("LREM", lst, 1, entry).strip(), "1")
        prefix = lst[:-len(":finished")]
        old = int(time.time() * 1000) - 2 * 3600 * 1000
        self.redis.cli("ZADD", prefix + ":retain", str(old), "c:" + did)
        self.wait_gone(tok, "/v1/deliveries/" + did, "the old entry's delivery to be pruned")
        self.assertEqual(self.api("GET", "/v1/events/" + ev["id"], None, tok)[0], 404)
        self.assertEqual(self.redis.cli("EXISTS", prefix + ":retain").strip(), "0")


class PruneTwoProcessesTest(unittest.TestCase):
    def test_two_processes_prune_everything_once_and_leave_no_orphan(self):
        redis = Redis()
        # the failing endpoint's 20 failures must finish (errored), not open its circuit
        conf = {"retention": "1s", "retry_schedule": "0", "circuit_failures": 1000}
        a, b = Hookd(redis, **conf), Hookd(redis, **conf)
        ok_rx, bad_rx = Receiver(), Receiver(lambda n, p, h, body: (500, {}, b"no"))
        hang_rx = Receiver(lambda n, p, h, body: "hang")
        try:
            org = call("POST", a.url("/v1/orgs"), {"name": "x"}, "test-root-token-0123456789abcdef")[1]["id"]
            tok = call("POST", a.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                     "scopes": ["webhooks:manage", "webhooks:read", "events:write"]},
                       "test-root-token-0123456789abcdef")[1]["token"]
            for url in (ok_rx.url(), bad_rx.url()):
                s, _, _ = call("POST", a.url("/v1/endpoints"), {"url": url, "event_types": ["a"]}, tok)
                self.assertEqual(s, 201)
            # an endpoint whose deliveries queue up behind a hung one, then is deleted
            s, hang_ep, _ = call("POST", a.url("/v1/endpoints"), {"url": hang_rx.url(), "event_types": ["h"],
                                                                 "max_in_flight": 1}, tok)
            for i in range(60):
                h = (a, b)[i % 2]
                etype = ("a", "nomatch", "h")[i % 3]
                s, _, _ = call("POST", h.url("/v1/events"), {"type": etype, "payload": {"i": i}}, tok)
                self.assertEqual(s, 202)
            wait_for(lambda: hang_rx.count() >= 1, what="the hung endpoint to hold its first delivery")
            self.assertEqual(call("DELETE", a.url("/v1/endpoints/" + hang_ep["id"]), None, tok)[0], 204)
            hang_rx.release.set()
            # everything finishes (completed, errored, canceled) and is then pruned
            wait_for(lambda: not record_keys(redis), 60, what="every event and delivery key to be pruned")
            left = redis.cli("--scan", "--pattern", "hookd:*").split()
            self.assertFalse([k for k in left if k.endswith((":retain", ":finished", ":requeued", ":pinned"))], left)
            pruned = 0
            for h in (a, b):
                m = call("GET", h.url("/metrics"))[1]
                pruned += sum(int(l.rsplit(" ", 1)[1]) for l in m.splitlines()
                              if l.startswith('hookd_pruned_total{kind="delivery"}'))
            # 20 to each of 2 endpoints, 20 to the deleted one: every delivery removed exactly once
            self.assertEqual(pruned, 60)
        finally:
            for r in (ok_rx, bad_rx, hang_rx):
                r.close()
            rcs = [h.stop() for h in (a, b)]
            redis.close()
        self.assertEqual(rcs, [0, 0])


class RetentionSoakTest(HookdCase):
    hookd_conf = {"retention": "2s"}
    class_receiver = True

    def test_redis_levels_off_under_a_steady_load(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        # key counts in two windows after the first retention period, at
        # every step (pruning visits a partition in turn, so counts wave)
        first, second = [], []
        start = time.time()
        i = 0
        while time.time() - start < 14:
            for _ in range(10):
                self.send_event(tok, "a", {"i": i, "text": "x" * 200})
                i += 1
            el = time.time() - start
            if 5 <= el < 7:
                first.append(int(self.redis.cli("DBSIZE")))
            elif 12 <= el < 14:
                second.append(int(self.redis.cli("DBSIZE")))
            time.sleep(0.1)
        self.assertTrue(first and second, (first, second))
        # without pruning the second window holds twice the first; with it, the same
        print("dbsize peaks", max(first), max(second))
        self.assertLess(max(second), max(first) * 1.5 + 20, (first, second))


if __name__ == "__main__":
    unittest.main()
