"""A contract-000 time-range resend over 100,000 deliveries runs as a
background job to the end, in batches, while other API calls keep being
answered. The endpoints are DISABLED, so the work (originals and replays) is
held in Redis rather than sent: the job itself is what is exercised.
Figures are printed for the notes; nothing asserts a duration."""
import time
import unittest

from harness import HookdCase, call, wait_for

ENDPOINTS = 1000
EVENTS = 100  # x 1000 endpoints = 100,000 deliveries


class BulkResendTest(HookdCase):
    hookd_conf = {"job_batch": 500}

    def test_time_range_resend_over_100k_deliveries(self):
        org, tok = self.tenant()
        for i in range(ENDPOINTS):
            ep = self.new_endpoint(tok, "http://127.0.0.1:9/e%d" % i)
            self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        t0 = int(time.time()) - 1
        for i in range(EVENTS):
            self.assertEqual(len(self.send_event(tok, "bulk", {"i": i})["delivery_ids"]), ENDPOINTS)
        t1 = int(time.time()) + 1
        start = time.time()
        s, b, _ = self.api("POST", "/api/webhooks/resend", {"search_type": "time_range", "request_timestamp": t0,
                                                            "end_request_timestamp": t1}, tok)
        self.assertEqual(s, 200, b)
        job = b["job_id"]
        lat, polls = [], 0
        while True:
            q0 = time.time()
            s, j, _ = self.api("GET", "/v1/jobs/" + job, None, tok)
            s2, _, _ = self.api("GET", "/v1/endpoints?limit=1", None, tok)
            lat.append(time.time() - q0)
            self.assertEqual((s, s2), (200, 200))
            polls += 1
            if j["state"] == "completed":
                break
            self.assertLess(time.time() - start, 600, "job still running after 10 minutes: %s" % j)
            time.sleep(0.01)
        took = time.time() - start
        self.assertEqual((j["matched"], j["done"]), (ENDPOINTS * EVENTS, ENDPOINTS * EVENTS))
        lat.sort()
        print("\n100k resend: %d deliveries replayed in %.1fs (%.0f/s); %d API round pairs meanwhile, "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (j["done"], took, j["done"] / took, polls,
                                                         1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * .99)],
                                                         1000 * lat[-1]))
        # replays are held (DISABLED endpoints), and counted by the list index
        s, page, _ = self.api("GET", "/v1/deliveries?state=pending&limit=5", None, tok)
        self.assertEqual(len(page["data"]), 5)
        self.assertTrue(all(d["replay_of_delivery_id"] for d in page["data"]))  # newest first: the replays


class JobStepBudgetTest(HookdCase):
    """A job step stops at its time budget (redeliver.lua STEP_BUDGET_US),
    whatever job_batch allows: job_batch here covers every delivery at once,
    yet the job takes several steps, and the cursor each early stop leaves
    loses or repeats nothing."""
    hookd_conf = {"job_batch": 100000}

    def range_steps(self):
        """redeliver.lua 'range' calls in the SLOWLOG of every server."""
        return sum(s.cli("SLOWLOG", "GET", "100000").splitlines().count("range")
                   for s in getattr(self.redis, "nodes", [self.redis]))

    def test_a_step_stops_at_its_time_budget_and_the_job_still_replays_each_delivery_once(self):
        org, tok = self.tenant()
        for i in range(20):
            ep = self.new_endpoint(tok, "http://127.0.0.1:9/e%d" % i)
            self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        t0 = int(time.time()) - 1
        for i in range(100):  # x 20 endpoints: 2,000 deliveries, far more than 1 ms of replays
            self.assertEqual(len(self.send_event(tok, "bulk", {"i": i})["delivery_ids"]), 20)
        t1 = int(time.time()) + 1
        for s in getattr(self.redis, "nodes", [self.redis]):  # every call logged from here on
            s.cli("CONFIG", "SET", "slowlog-max-len", "100000")
            s.cli("SLOWLOG", "RESET")
            s.cli("CONFIG", "SET", "slowlog-log-slower-than", "0")
        s, b, _ = self.api("POST", "/api/webhooks/resend", {"search_type": "time_range", "request_timestamp": t0,
                                                            "end_request_timestamp": t1}, tok)
        self.assertEqual(s, 200, b)
        j = wait_for(lambda: (lambda r: r[1] if r[1]["state"] == "completed" else None)(
            self.api("GET", "/v1/jobs/" + b["job_id"], None, tok)), timeout=120, what="the job to complete")
        self.assertEqual((j["matched"], j["done"]), (2000, 2000))
        self.assertGreater(self.range_steps(), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
