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


if __name__ == "__main__":
    unittest.main(verbosity=2)
