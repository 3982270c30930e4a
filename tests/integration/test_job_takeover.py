"""Issue 13: a background job outlives the process that ran it. SIGKILL the
process mid-job: another takes the job over from its last completed step,
and every selected delivery is replayed exactly once. Jobs can be canceled."""
import time
import unittest

from harness import ROOT_TOKEN, Hookd, Redis, call, wait_for

CONF = {"job_lease": "2s", "job_batch": 2, "partitions": 4}  # a long job: 750 steps


class JobCase(unittest.TestCase):
    conf = CONF

    def setUp(self):
        self.redis = Redis()
        self.a, self.b = Hookd(self.redis, **self.conf), Hookd(self.redis, **self.conf)
        org = call("POST", self.a.url("/v1/orgs"), {"name": "x"}, ROOT_TOKEN)[1]["id"]
        self.org = org
        self.tok = call("POST", self.a.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                           "scopes": ["webhooks:manage", "webhooks:read",
                                                                      "events:write"]}, ROOT_TOKEN)[1]["token"]
        # disabled endpoints hold their deliveries: the job's replays are counted, not sent
        for i in range(50):
            s, ep, _ = call("POST", self.a.url("/v1/endpoints"), {"url": "http://127.0.0.1:9/e%d" % i}, self.tok)
            call("POST", self.a.url("/v1/endpoints/%s/disable" % ep["id"]), None, self.tok)
        self.t0 = int(time.time()) - 1
        for i in range(30):
            s, b, _ = call("POST", self.a.url("/v1/events"), {"type": "x", "payload": {"i": i}}, self.tok)
            self.assertEqual(s, 202)
        self.t1 = int(time.time()) + 1

    def tearDown(self):
        rcs = [h.stop() for h in (self.a, self.b) if h.proc.poll() is None]
        self.redis.close()
        self.assertTrue(all(rc == 0 for rc in rcs), rcs)

    def resend(self, via):
        s, b, _ = call("POST", via.url("/api/webhooks/resend"), {"search_type": "time_range",
                                                                  "request_timestamp": self.t0,
                                                                  "end_request_timestamp": self.t1}, self.tok)
        self.assertEqual(s, 200, b)
        return b["job_id"]

    def job(self, via, jid):
        s, j, _ = call("GET", via.url("/v1/jobs/" + jid), None, self.tok)
        self.assertEqual(s, 200, j)
        return j


class JobTakeoverTest(JobCase):
    def test_killed_process_job_is_taken_over_and_replays_each_once(self):
        jid = self.resend(self.a)
        j = self.job(self.b, jid)
        self.assertEqual(j["state"], "running", j)
        self.assertIn(":%d:" % self.a.proc.pid, j["process"])  # host:pid:random of the process running it
        self.assertRegex(j["process_since"], r"^\d{4}-\d\d-\d\dT")
        self.a.kill()  # SIGKILL mid-job
        done = wait_for(lambda: (lambda j: j if j["state"] == "completed" else None)(self.job(self.b, jid)), 120,
                        what="the job to be taken over and completed")
        self.assertEqual((done["matched"], done["done"]), (1500, 1500))
        self.assertIn("job taken over", self.b.log())
        dls = [k for k in self.redis.cli("--scan", "--pattern", "*:org:%s:dls" % self.org).split()][0]
        self.assertEqual(int(self.redis.cli("ZCARD", dls)), 3000)  # 1500 originals + exactly one replay each

    def test_cancel_stops_a_running_job(self):
        jid = self.resend(self.a)
        s, j, _ = call("POST", self.b.url("/v1/jobs/%s/cancel" % jid), None, self.tok)
        self.assertEqual((s, j["state"]), (200, "canceled"), j)
        time.sleep(1.5)
        after = self.job(self.a, jid)
        self.assertEqual(after["state"], "canceled")
        self.assertLess(after["done"], 1500)
        time.sleep(1)
        self.assertEqual(self.job(self.a, jid)["done"], after["done"])  # no step after the cancel
        s, b, _ = call("POST", self.a.url("/v1/jobs/%s/cancel" % jid), None, self.tok)
        self.assertEqual((s, b["code"]), (409, "not_running"))


class ManyPartitionsTakeoverTest(JobCase):
    """Issue 19: the takeover comes within job_lease plus a tick (2 s)
    however many partitions there are; asking one partition per tick took
    up to partitions x 2 s (here 128 s)."""
    conf = dict(CONF, partitions=64)

    def test_takeover_comes_within_the_lease_whatever_the_partitions(self):
        jid = self.resend(self.a)
        self.assertIn(":%d:" % self.a.proc.pid, self.job(self.b, jid)["process"])
        self.a.kill()
        killed = time.time()
        wait_for(lambda: ":%d:" % self.b.proc.pid in self.job(self.b, jid)["process"], 60,
                 what="the job to be taken over")
        took = time.time() - killed
        print("takeover %.1f s after the kill (job_lease 2 s, 64 partitions)" % took)
        # 2 s lease + 2 s tick, with room for a loaded machine; the old bound was 128 s
        self.assertLess(took, 30)


if __name__ == "__main__":
    unittest.main()
