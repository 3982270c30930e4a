"""Issue 12: hookd against a Redis Cluster it did not make any special
arrangement for. A slot migrated mid-load: every event delivered once, every
producer answered 202 (hookd waits out ASK/TRYAGAIN itself). A master killed
with SIGKILL under load with durability = replicated: its replica is
promoted, hookd follows without a restart, and nothing that got a 202 is
lost. Both print what they saw (duplicates, the longest pause)."""
import os
import signal
import subprocess
import threading
import time
import unittest
import uuid

from harness import ROOT_TOKEN, Hookd, Receiver, RedisCluster, call, wait_for


def tenant(hookd, rx_url):
    org = call("POST", hookd.url("/v1/orgs"), {"name": "cl"}, ROOT_TOKEN)[1]["id"]
    tok = call("POST", hookd.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                 "scopes": ["webhooks:manage", "webhooks:read", "events:write"]},
               ROOT_TOKEN)[1]["token"]
    s, b, _ = call("POST", hookd.url("/v1/endpoints"), {"url": rx_url}, tok)
    assert s == 201, b
    return org, tok


class Producer(threading.Thread):
    """Posts `count` events round-robin over the tokens, each with an
    Idempotency-Key, retrying a 503 with the same key for up to 90 s (as a
    producer should); records every answer."""

    def __init__(self, hookd, tokens, count):
        super().__init__(daemon=True)
        self.hookd, self.tokens, self.count = hookd, tokens, count
        self.accepted, self.statuses, self.retried = [], [], 0

    def run(self):
        for i in range(self.count):
            key = str(uuid.uuid4())
            deadline = time.time() + 90  # a producer retries a 503 for a while, not for ever
            while time.time() < deadline:
                try:
                    s, b, _ = call("POST", self.hookd.url("/v1/events"), {"type": "t", "payload": {"i": i}},
                                   self.tokens[i % len(self.tokens)], headers={"Idempotency-Key": key})
                except OSError as e:  # counted: the test asserts on statuses
                    s, b = str(e), None
                self.statuses.append(s)
                if s == 202:
                    self.accepted.append(b["id"])
                    break
                self.retried += 1
                time.sleep(0.1)
            time.sleep(0.005)


def delivered_ids(rx):
    with rx.lock:
        return [r["headers"]["webhook-id"] for r in rx.requests]


def longest_gap(rx):
    with rx.lock:
        at = sorted(r["at"] for r in rx.requests)
    return max((b - a for a, b in zip(at, at[1:])), default=0)


def node_id(node):
    return node.cli("CLUSTER", "MYID").strip()


class ClusterCase(unittest.TestCase):
    """A cluster (cluster_args) and a receiver per test; hookd processes
    started with start_hookd(), each checked to exit 0 at the end."""
    cluster_args = {"masters": 3}

    def setUp(self):
        self.cluster = RedisCluster(**self.cluster_args)
        self.addCleanup(self.cluster.close)
        self.rx = Receiver()
        self.addCleanup(self.rx.close)  # cleanups run last first: receivers, processes, cluster

    def start_hookd(self, **conf):
        h = Hookd(self.cluster, **conf)
        self.addCleanup(lambda: self.assertEqual(h.stop(), 0, h.log()[-4000:]))
        return h


class SlotMigrationTest(ClusterCase):
    def setUp(self):
        super().setUp()
        self.hookd = self.start_hookd()

    def migrate(self, slot, src, dst, others):
        dst.cli("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(src))
        src.cli("CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(dst))
        while True:
            keys = src.cli("CLUSTER", "GETKEYSINSLOT", slot, 50).split()
            if not keys:
                break
            out = src.cli("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", *keys)
            self.assertIn("OK", out)
            time.sleep(0.01)  # the load goes on between batches
        for n in (dst, src, *others):
            n.cli("CLUSTER", "SETSLOT", slot, "NODE", node_id(dst))

    def test_a_partition_moved_mid_load_delivers_every_event_once_and_refuses_none(self):
        org, tok = tenant(self.hookd, self.rx.url())
        key = self.cluster.cli("--scan", "--pattern", "hookd:*:org:%s:eps" % org).split()[0]
        slot = int(self.cluster.nodes[0].cli("CLUSTER", "KEYSLOT", key))
        owner = next(n for n in self.cluster.nodes if key in n.cli("CLUSTER", "GETKEYSINSLOT", slot, 1000))
        others = [n for n in self.cluster.nodes if n is not owner]
        producer = Producer(self.hookd, [tok], 300)
        producer.start()
        wait_for(lambda: len(producer.accepted) >= 60, timeout=60, what="load before the migration")
        self.migrate(slot, owner, others[0], others[1:])
        self.assertIn(key, others[0].cli("CLUSTER", "GETKEYSINSLOT", slot, 1000))
        producer.join(120)
        self.assertFalse(producer.is_alive())
        self.assertEqual(set(producer.statuses), {202}, "a producer was refused during the migration")
        self.assertEqual(len(producer.accepted), 300)
        wait_for(lambda: set(delivered_ids(self.rx)) >= set(producer.accepted), timeout=60,
                 what="every accepted event delivered")
        got = delivered_ids(self.rx)
        self.assertEqual(len(got), len(set(got)), "an event was delivered twice")
        print("slot migration: %d events, longest pause between deliveries %.2f s" % (len(got), longest_gap(self.rx)))
        self.assertIsNone(self.hookd.proc.poll())


class FailoverTest(ClusterCase):
    cluster_args = {"masters": 3, "replicas": 1, "aof": True}

    def setUp(self):
        super().setUp()
        self.hookd = self.start_hookd(durability="replicated", partitions=6)

    def test_a_master_killed_under_load_loses_nothing_that_got_a_202(self):
        tokens = [tenant(self.hookd, self.rx.url())[1] for _ in range(6)]
        masters = self.cluster.masters()
        victim = next(n for n in self.cluster.nodes if n.port in masters and n.port != self.cluster.port)
        producer = Producer(self.hookd, tokens, 400)
        producer.start()
        wait_for(lambda: len(producer.accepted) >= 100, timeout=60, what="load before the failover")
        killed_at = time.time()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        wait_for(lambda: victim.port not in self.cluster.masters() and len(self.cluster.masters()) == 3,
                 timeout=60, what="a replica promoted")
        promoted_at = time.time()
        # The promoted master has no replica, so durability = replicated
        # refuses its partitions' writes (503, the producer retries) until
        # the old master, restarted as an operator's supervisor would, has
        # rejoined as its replica.
        victim.start()
        producer.join(180)
        self.assertFalse(producer.is_alive())
        self.assertEqual(len(producer.accepted), 400, "a producer gave up")
        wait_for(lambda: set(delivered_ids(self.rx)) >= set(producer.accepted), timeout=120,
                 what="every accepted event delivered after the failover")
        got = delivered_ids(self.rx)
        self.assertIsNone(self.hookd.proc.poll(), "hookd exited")
        print("failover: %d accepted, %d deliveries, %d duplicates, %d answers retried by the producer, "
              "longest pause between deliveries %.2f s (master killed at +%.1f s)"
              % (len(producer.accepted), len(got), len(got) - len(set(got)), producer.retried, longest_gap(self.rx),
                 killed_at - self.rx.requests[0]["at"]))
        print("failover: replica promoted %.1f s after the kill; answers %s"
              % (promoted_at - killed_at, {str(k): producer.statuses.count(k) for k in set(producer.statuses)}))

    def test_a_replica_that_stops_confirming_gets_503s_in_time_while_other_masters_answer_202(self):
        masters = {n.port for n in self.cluster.nodes if "role:master" in n.cli("INFO", "replication")}
        tenants = [tenant(self.hookd, self.rx.url()) for _ in range(12)]
        for _, tok in tenants:  # the replicas of a new cluster confirm once their first sync is done
            wait_for(lambda: call("POST", self.hookd.url("/v1/events"), {"type": "t", "payload": {}}, tok)[0] == 202,
                     timeout=60, step=0.2, what="a write confirmed by a replica")

        def master_of(org):
            return next(n.port for n in self.cluster.nodes
                        if n.port in masters and n.cli("--scan", "--pattern", "*:org:%s:dls" % org).strip())

        def replica_of(port):
            return next(n for n in self.cluster.nodes if "master_port:%d\r" % port in n.cli("INFO", "replication"))

        stalled_port = master_of(tenants[0][0])
        stalled = [t for o, t in tenants if master_of(o) == stalled_port]
        others = [t for o, t in tenants if master_of(o) != stalled_port]
        self.assertTrue(others, "every tenant landed on one master")
        replica = replica_of(stalled_port)
        replica.proc.send_signal(signal.SIGSTOP)  # connected, but confirms nothing
        self.addCleanup(lambda: replica.proc.send_signal(signal.SIGCONT))
        answers = []

        def post(tok, kind, n):
            for i in range(n):
                t0 = time.time()
                s, b, h = call("POST", self.hookd.url("/v1/events"), {"type": "t", "payload": {"i": i}}, tok)
                answers.append((kind, s, time.time() - t0, h.get("Retry-After")))

        threads = [threading.Thread(target=post, args=(tok, "stalled", 3)) for tok in stalled for _ in range(3)]
        threads += [threading.Thread(target=post, args=(tok, "other", 5)) for tok in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        replica.proc.send_signal(signal.SIGCONT)
        slow = [a for a in answers if a[0] == "stalled"]
        fine = [a for a in answers if a[0] == "other"]
        print("replica stalled: %d answers for its master, slowest %.2f s; %d for the others, slowest %.2f s"
              % (len(slow), max(a[2] for a in slow), len(fine), max(a[2] for a in fine)))
        self.assertEqual({(a[1], a[3]) for a in slow}, {(503, "1")}, slow)
        self.assertEqual({a[1] for a in fine}, {202}, fine)
        # replica_timeout is 1 s: answered within it plus a margin for a loaded machine, not one
        # replica_timeout per call queued behind the WAITs before it (up to redis_timeout, 5 s)
        self.assertLess(max(a[2] for a in slow), 3.0, slow)


class WakeTest(ClusterCase):
    """Two processes on two different seed nodes. A can take one delivery at
    a time and its one is held by a receiver that does not answer, so what
    it accepts next goes on the schedule; B, idle until then, must be woken
    (hookd_wakeups_total) and deliver it, for a partition on every master."""

    def setUp(self):
        super().setUp()
        self.a = self.start_hookd(inflight_max=1, request_timeout="60s")
        self.b = self.start_hookd(redis_url="redis://127.0.0.1:%d/0" % self.cluster.nodes[2].port)
        self.hang = Receiver(lambda n, p, h, b: "hang")
        self.addCleanup(self.hang.close)
        self.addCleanup(self.hang.release.set)

    def test_a_sleeping_process_wakes_for_work_on_any_partition(self):
        # one org in each partition (4), so in the partitions of every master
        orgs = {}
        while len(orgs) < 4:
            org, tok = tenant(self.a, self.rx.url())
            key = self.cluster.cli("--scan", "--pattern", "hookd:*:org:%s:eps" % org).split()[0]
            orgs.setdefault(key.split("{")[1].split(".")[0], tok)
        _, hold = tenant(self.a, self.hang.url())
        call("POST", self.a.url("/v1/events"), {"type": "hold", "payload": {}}, hold)
        wait_for(lambda: self.hang.count() == 1, what="A's one slot held")
        for p, tok in sorted(orgs.items()):
            woken = self.b.metric("hookd_wakeups_total")
            s, ev, _ = call("POST", self.a.url("/v1/events"), {"type": "t", "payload": {"p": p}}, tok)
            self.assertEqual(s, 202, ev)
            wait_for(lambda: ev["id"] in delivered_ids(self.rx), what="partition %s's event delivered" % p)
            self.assertGreater(self.b.metric("hookd_wakeups_total"), woken, "B was not woken for partition " + p)
        self.assertEqual(self.a.metric("hookd_deliveries_in_flight"), 1)


if __name__ == "__main__":
    unittest.main()
