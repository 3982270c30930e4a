"""Several hookd processes on one Redis: every event delivered exactly once,
max_in_flight held across processes, survival of a SIGKILL'd process and of a
Redis restart (AOF on) in the middle of the load. Figures are printed for the
notes; nothing here asserts a duration."""
import collections
import signal
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import ROOT_TOKEN, Hookd, Receiver, Redis, call, wait_for

CONF = {"request_timeout": "2s", "lease_margin": "1s", "inflight_max": 64, "retry_schedule": "0,200ms,200ms,1s,1s"}


class ScaleTest(unittest.TestCase):
    def setUp(self):
        self.redis = Redis(aof=True)
        self.procs = [Hookd(self.redis, **CONF) for _ in range(3)]
        for p in self.procs:
            p.wait_ready()
        self.limited = Receiver(lambda n, p, h, b: (time.sleep(0.003), (200, {}, b""))[1])
        self.free = Receiver(lambda n, p, h, b: (time.sleep(0.001), (200, {}, b""))[1])
        h = self.procs[0]
        s, org, _ = call("POST", h.url("/v1/orgs"), {"name": "scale"}, ROOT_TOKEN)
        s, t, _ = call("POST", h.url("/v1/tokens"), {"org_id": org["id"], "scopes": ["webhooks:manage", "webhooks:read",
                                                     "events:write"]}, ROOT_TOKEN)
        self.tok = t["token"]
        for rx, mif in ((self.limited, 4), (self.free, 32)):
            s, b, _ = call("POST", h.url("/v1/endpoints"), {"url": rx.url(), "max_in_flight": mif}, self.tok)
            self.assertEqual(s, 201, b)

    def tearDown(self):
        codes, logs = [], []
        for p in self.procs:
            if p.proc.poll() is None:
                codes.append(p.stop())
                if codes[-1] != 0:
                    logs.append(p.log()[-4000:])
        self.limited.close()
        self.free.close()
        self.redis.close()
        self.assertTrue(all(c == 0 for c in codes), (codes, logs))

    def ingest(self, n, during=None):
        """Post n events spread over the live processes; returns their ids."""
        ids, lock, sent = [], threading.Lock(), [0]

        def one(i):
            while True:
                live = [p for p in self.procs if p.proc.poll() is None]
                p = live[i % len(live)]
                try:
                    s, b, _ = call("POST", p.url("/v1/events"), {"type": "t", "payload": {"i": i}}, self.tok, timeout=10)
                except OSError:
                    s, b = 0, None
                if s == 202:
                    with lock:
                        ids.append(b["id"])
                        sent[0] += 1
                        if during and sent[0] == n // 2:
                            during()
                    return
                time.sleep(0.2)  # 503 while Redis restarts, or the killed process: try again

        with ThreadPoolExecutor(8) as ex:
            list(ex.map(one, range(n)))
        return ids

    def wait_all(self, ids):
        want = set(ids)
        for rx in (self.limited, self.free):
            wait_for(lambda: want <= {r["headers"]["webhook-id"] for r in list(rx.requests)}, timeout=120,
                     step=0.25, what="every event at every receiver")

    def dup_count(self, rx):
        c = collections.Counter(r["headers"]["webhook-id"] for r in rx.requests)
        return sum(v - 1 for v in c.values())

    def test_three_processes_deliver_each_event_exactly_once(self):
        t0 = time.time()
        ids = self.ingest(1500)
        self.wait_all(ids)
        took = time.time() - t0
        for rx in (self.limited, self.free):
            self.assertEqual(rx.count(), len(ids))
            self.assertEqual(self.dup_count(rx), 0)
        self.assertLessEqual(self.limited.max_in_flight, 4)
        print("\n3 processes: %d events, %d deliveries, 0 duplicates, max concurrency %d (limit 4), %.1fs"
              % (len(ids), 2 * len(ids), self.limited.max_in_flight, took))

    def test_sigkill_one_process_mid_load(self):
        victim = self.procs[1]
        ids = self.ingest(1500, during=victim.kill)
        self.wait_all(ids)
        dups = self.dup_count(self.limited) + self.dup_count(self.free)
        print("\nSIGKILL mid-load: %d events, %d deliveries received, %d duplicates (victim's inflight_max %d)"
              % (len(ids), self.limited.count() + self.free.count(), dups, CONF["inflight_max"]))
        self.assertLessEqual(dups, CONF["inflight_max"])
        self.assertLessEqual(self.limited.max_in_flight, 4)

    def test_stalled_process_outcome_is_refused_once_its_lease_was_taken_over(self):
        a, b, c = self.procs
        hold = Receiver(lambda n, p, h, body: "hang" if n == 1 else (200, {}, b"ok"))
        try:
            s, org, _ = call("POST", a.url("/v1/orgs"), {"name": "fence"}, ROOT_TOKEN)
            s, t, _ = call("POST", a.url("/v1/tokens"), {"org_id": org["id"], "scopes": ["webhooks:manage",
                           "webhooks:read", "events:write"]}, ROOT_TOKEN)
            tok = t["token"]
            call("POST", a.url("/v1/endpoints"), {"url": hold.url(), "max_in_flight": 1}, tok)
            for p in (b, c):
                p.proc.send_signal(signal.SIGSTOP)  # only a can claim the first attempt
            s, ev, _ = call("POST", a.url("/v1/events"), {"type": "t", "payload": {}}, tok)
            did = ev["delivery_ids"][0]
            wait_for(lambda: hold.count() == 1, what="the first attempt to hang")
            d = call("GET", a.url("/v1/deliveries/" + did), None, tok)[1]
            self.assertEqual(d["state"], "in_progress")
            a.proc.send_signal(signal.SIGSTOP)  # a stalls past its lease
            b.proc.send_signal(signal.SIGCONT)
            wait_for(lambda: call("GET", b.url("/v1/deliveries/" + did), None, tok)[1]["state"] == "completed",
                     timeout=30, what="b to take the expired lease over and deliver")
            a.proc.send_signal(signal.SIGCONT)
            hold.release.set()

            def stale_count():
                text = call("GET", a.url("/metrics"))[1]
                return sum(float(l.split()[-1]) for l in text.splitlines() if 'outcome="stale"' in l) or None
            wait_for(stale_count, what="a's late outcome to be refused")
            d = call("GET", b.url("/v1/deliveries/" + did), None, tok)[1]
            att = call("GET", b.url("/v1/deliveries/%s/attempts" % did), None, tok)[1]["data"]
            self.assertEqual((d["state"], d["attempt_count"]), ("completed", 1))
            self.assertEqual([x["status_code"] for x in att], [200])
        finally:
            for p in self.procs:
                p.proc.send_signal(signal.SIGCONT)
            hold.release.set()
            hold.close()

    def test_redis_restart_mid_load_loses_nothing(self):
        def bounce():
            self.redis.stop()
            time.sleep(0.5)
            self.redis.start()
        ids = self.ingest(1500, during=bounce)
        self.wait_all(ids)
        for p in self.procs:
            self.assertIsNone(p.proc.poll(), "a hookd exited during the Redis restart")
        dups = self.dup_count(self.limited) + self.dup_count(self.free)
        print("\nRedis restart mid-load: %d events accepted, all delivered, %d duplicates" % (len(ids), dups))


if __name__ == "__main__":
    unittest.main(verbosity=2)
