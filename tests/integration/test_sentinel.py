"""Issue 25: Redis Sentinel. One master, one replica, three sentinels;
two hookd processes given redis+sentinel://... and durability = replicated,
under load. The master is SIGKILLed: the sentinels promote the replica,
hookd follows without a restart (it asks the sentinels again on every
reconnect), every event that got a 202 is delivered, and writes resume
once the old master, restarted as a supervisor would, rejoins as the new
master's replica. Prints how long writes were refused."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import HOOKD_BIN, Hookd, Receiver, Redis, _spawn, call, free_port, wait_for
from test_cluster import Producer, delivered_ids, tenant


class Sentinel:
    def __init__(self, master_port):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="hookd-sentinel-")
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                    "sentinel monitor hookdm 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds hookdm 1000\n"
                    "sentinel failover-timeout hookdm 4000\n" % (self.port, self.dir, master_port))
        self.proc = _spawn(["redis-server", conf, "--sentinel"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        wait_for(lambda: self.cli("PING") == "PONG", what="a sentinel")

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port), *map(str, args)], capture_output=True, text=True)
        return out.stdout.strip()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelTest(unittest.TestCase):
    def setUp(self):
        self.master = Redis(aof=True)
        self.addCleanup(self.master.close)
        self.replica = Redis(aof=True)
        self.addCleanup(self.replica.close)
        self.replica.cli("REPLICAOF", "127.0.0.1", self.master.port)
        wait_for(lambda: "master_link_status:up" in self.replica.cli("INFO", "replication"), what="replica in sync")
        self.sentinels = [Sentinel(self.master.port) for _ in range(3)]
        for s in self.sentinels:
            self.addCleanup(s.close)
        wait_for(lambda: all("num-other-sentinels" in s.cli("SENTINEL", "master", "hookdm") and
                             s.cli("SENTINEL", "master", "hookdm").split("\n")[
                                 s.cli("SENTINEL", "master", "hookdm").split("\n").index("num-other-sentinels") + 1]
                             == "2" for s in self.sentinels), timeout=30, what="sentinels to find each other")
        self.url = "redis+sentinel://%s/hookdm" % ",".join("127.0.0.1:%d" % s.port for s in self.sentinels)
        self.rx = Receiver()
        self.addCleanup(self.rx.close)

    def start_hookd(self):
        h = Hookd(self.master, redis_url=self.url, durability="replicated")
        self.addCleanup(lambda: self.assertEqual(h.stop(), 0, h.log()[-3000:]))
        return h

    def test_a_bad_sentinel_url_is_a_startup_error(self):
        for url in ("redis+sentinel://127.0.0.1:1", "redis+sentinel:///m", "redis+sentinel://h:1/m/0",
                    "redis+sentinel://a@h:1/m"):
            out = subprocess.run([HOOKD_BIN, "--check-config", "--redis-url=" + url],
                                 capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, url)
            self.assertIn("redis_url", out.stderr)

    def test_master_killed_under_load_hookd_follows_and_loses_nothing(self):
        a, b = self.start_hookd(), self.start_hookd()
        self.assertIn("the sentinels name the master", a.log())
        tokens = [tenant(a, self.rx.url())[1] for _ in range(4)]
        producers = [Producer(h, tokens, 150) for h in (a, b)]
        for p in producers:
            p.start()
        wait_for(lambda: sum(len(p.accepted) for p in producers) >= 60, timeout=60, what="load before the kill")
        killed = time.time()
        self.master.proc.send_signal(signal.SIGKILL)
        self.master.proc.wait()
        wait_for(lambda: self.sentinels[0].cli("SENTINEL", "get-master-addr-by-name", "hookdm").split()[-1]
                 == str(self.replica.port), timeout=60, what="the replica promoted")
        promoted = time.time()
        self.master.start()  # back as a supervisor restarts it; the sentinels make it a replica
        for p in producers:
            p.join(180)
            self.assertFalse(p.is_alive())
            self.assertEqual(len(p.accepted), 150, "a producer gave up")
        accepted = [e for p in producers for e in p.accepted]
        wait_for(lambda: set(delivered_ids(self.rx)) >= set(accepted), timeout=120,
                 what="every accepted event delivered")
        self.assertIsNone(a.proc.poll())
        self.assertIsNone(b.proc.poll())
        self.assertIn("redis: connected", a.log().split("the sentinels name the master")[-1])
        statuses = [s for p in producers for s in p.statuses]
        print("sentinel failover: promoted %.1f s after the kill; %d accepted, %d answers retried, statuses %s"
              % (promoted - killed, len(accepted), sum(p.retried for p in producers),
                 {str(k): statuses.count(k) for k in set(statuses)}))

    def test_a_failover_whose_old_master_stays_up_is_followed(self):
        a = self.start_hookd()
        _, tok = tenant(a, self.rx.url())
        self.assertEqual(call("POST", a.url("/v1/events"), {"type": "t", "payload": {}}, tok)[0], 202)
        self.sentinels[0].cli("SENTINEL", "FAILOVER", "hookdm")  # the old master is demoted, not killed
        wait_for(lambda: "the sentinels switched the master" in a.log(), timeout=60, what="+switch-master seen")
        wait_for(lambda: call("POST", a.url("/v1/events"), {"type": "t", "payload": {}}, tok)[0] == 202,
                 timeout=60, step=0.2, what="writes on the new master")
        self.assertIn("master_port:%d" % self.replica.port, self.master.cli("INFO", "replication"))
        after = a.log().split("switched the master")[-1]  # the message's address, at once
        self.assertIn('"msg":"redis: connected","redis":"127.0.0.1:%d"' % self.replica.port, after)


if __name__ == "__main__":
    unittest.main()
