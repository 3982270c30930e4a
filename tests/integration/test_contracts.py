"""The five redelivery contracts of shared/contracts/, each at its own path:
every documented status code, every response field checked against the
contract, the effect at a real receiver (which events arrive, how many, with
signatures that verify after a secret rotation), org isolation, missing
scope and non-admin callers."""
import base64
import collections
import re
import threading
import time
import unittest
import uuid

from harness import HookdCase, Receiver, call, verify_signature, wait_for

DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STATES = {"pending", "in_progress", "retrying", "completed", "errored"}
SECRET_OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
SECRET_NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()


verify = verify_signature


class ContractCase(HookdCase):
    hookd_conf = {"retry_schedule": "0,200ms", "retry_jitter_pct": 0, "retrigger_per_minute": 3,
                  "job_batch": 7, "secret_overlap": 0}

    def setUp(self):
        self.ok = threading.Event()
        self.ok.set()
        self.rx = Receiver(lambda n, p, h, b: (200, {}, b"") if self.ok.is_set() else (500, {}, b"no"))
        self.org, self.tok = self.tenant(admin=True)
        self.ep = self.new_endpoint(self.tok, self.rx.url(), secret=SECRET_OLD)

    def tearDown(self):
        self.rx.close()

    def deliver(self, n=1, etype="order.paid", **kw):
        """n events, waited until their deliveries settle; returns delivery ids."""
        ids = [self.send_event(self.tok, etype, {"i": i}, **kw)["delivery_ids"][0] for i in range(n)]
        for d in ids:
            self.wait_state(self.tok, d, ("completed", "errored"))
        return ids

    def arrivals(self):
        return collections.Counter(r["headers"]["webhook-id"] for r in self.rx.requests)

    def event_of(self, did):
        return self.delivery(self.tok, did)["event_id"]


class Contract000Test(ContractCase):
    path = "/api/webhooks/resend"

    def resend(self, body, tok=None):
        return self.api("POST", self.path, body, tok or self.tok)

    def wait_job(self, job_id):
        return wait_for(lambda: (lambda j: j if j["state"] == "completed" else None)(
            self.api("GET", "/v1/jobs/" + job_id, None, self.tok)[1]), what="job done")

    def test_200_shape_and_time_range_resends_in_the_background(self):
        t0 = int(time.time()) - 1
        ids = self.deliver(3)
        before = self.rx.count()
        s, b, _ = self.resend({"search_type": "time_range", "request_timestamp": t0,
                               "end_request_timestamp": int(time.time()) + 1})
        self.assertEqual(s, 200, b)
        self.assertIs(b["success"], True)
        self.assertIsInstance(b["message"], str)
        job = self.wait_job(b["job_id"])
        self.assertEqual((job["matched"], job["done"]), (3, 3))
        wait_for(lambda: self.rx.count() == before + 3, what="3 resends")
        want = {self.event_of(d) for d in ids}
        self.assertEqual({r["headers"]["webhook-id"] for r in self.rx.requests[before:]}, want)

    def test_all_ten_variants(self):
        sess = str(uuid.uuid4())
        self.ok.set()
        good = self.deliver(2, sync_session_id=sess, request_id="req-1")       # counters 1, 2
        self.ok.clear()
        bad = self.deliver(1, sync_session_id=sess)                             # counter 3, errored
        self.ok.set()
        now = int(time.time())
        t = {"request_timestamp": now - 60, "end_request_timestamp": now + 1}
        cases = [
            ({"search_type": "sync_session", "sync_session_id": sess}, 3),
            ({"search_type": "sync_session_counter", "sync_session_id": sess, "webhook_counter": [1, 3]}, 2),
            ({"search_type": "sync_session_status", "sync_session_id": sess, "status": "fail"}, 1),
            ({"search_type": "sync_session_counter_status", "sync_session_id": sess, "webhook_counter": [1, 2, 3],
              "status": "success"}, 2),
            (dict(t, search_type="time_range"), 3),
            (dict(t, search_type="time_range_status", status="fail"), 1),
            (dict(t, search_type="time_range_org", client_org_id=self.org), 3),
            (dict(t, search_type="time_range_status_org", status="success", client_org_id=self.org), 2),
            ({"search_type": "org_only", "client_org_id": self.org}, 3),
            ({"search_type": "request_id", "request_id": "req-1"}, 2),
        ]
        for body, n in cases:
            with self.subTest(search_type=body["search_type"]):
                body = dict(body, dry_run=True)
                s, b, _ = self.resend(body)
                self.assertEqual(s, 200, b)
                self.assertEqual(self.wait_job(b["job_id"])["matched"], n)
        # dry runs sent nothing
        self.assertEqual(self.rx.count(), 2 + 2)  # 2 good + 1 bad tried twice
        # a request id may also be a delivery id
        s, b, _ = self.resend({"search_type": "request_id", "request_id": bad[0], "dry_run": True})
        self.assertEqual(self.wait_job(b["job_id"])["matched"], 1)
        # and a real one sends: counters 1 and 3 again, twice when asked twice
        before = self.arrivals()
        for _ in range(2):
            s, b, _ = self.resend({"search_type": "sync_session_counter", "sync_session_id": sess,
                                   "webhook_counter": [1, 3]})
            self.wait_job(b["job_id"])
        wait_for(lambda: sum(self.arrivals().values()) - sum(before.values()) >= 4, what="resends")
        after = self.arrivals()
        self.assertEqual(after[self.event_of(good[0])] - before[self.event_of(good[0])], 2)
        self.assertEqual(after[self.event_of(bad[0])] - before[self.event_of(bad[0])], 2)
        self.assertEqual(after[self.event_of(good[1])], before[self.event_of(good[1])])

    def test_other_org_matches_nothing(self):
        self.deliver(1)
        other_org, other_tok = self.tenant()
        now = int(time.time())
        for tok, org in ((self.tok, other_org), (other_tok, self.org)):
            s, b, _ = self.resend({"search_type": "org_only", "client_org_id": org}, tok)
            self.assertEqual(s, 200)
            self.assertEqual(self.api("GET", "/v1/jobs/" + b["job_id"], None, tok)[0], 200)
            wait_for(lambda: self.api("GET", "/v1/jobs/" + b["job_id"], None, tok)[1]["state"] == "completed",
                     what="job")
            self.assertEqual(self.api("GET", "/v1/jobs/" + b["job_id"], None, tok)[1]["matched"], 0)
        s, b, _ = self.resend({"search_type": "time_range", "request_timestamp": now - 60,
                               "end_request_timestamp": now + 1}, other_tok)
        self.assertEqual(self.wait_job_for(other_tok, b["job_id"])["matched"], 0)
        self.assertEqual(self.api("GET", "/v1/jobs/" + b["job_id"], None, self.tok)[0], 404)

    def wait_job_for(self, tok, job_id):
        return wait_for(lambda: (lambda j: j if j["state"] == "completed" else None)(
            self.api("GET", "/v1/jobs/" + job_id, None, tok)[1]), what="job")

    def test_400_for_bodies_matching_no_variant(self):
        for body in [{}, {"search_type": "everything"}, {"search_type": "sync_session"},
                     {"search_type": "sync_session", "sync_session_id": "x"},
                     {"search_type": "sync_session_counter", "sync_session_id": str(uuid.uuid4())},
                     {"search_type": "sync_session_counter", "sync_session_id": str(uuid.uuid4()), "webhook_counter": [0]},
                     {"search_type": "sync_session_status", "sync_session_id": str(uuid.uuid4()), "status": "maybe"},
                     {"search_type": "time_range", "request_timestamp": 10},
                     {"search_type": "time_range", "request_timestamp": 10, "end_request_timestamp": 5},
                     {"search_type": "time_range", "request_timestamp": "10", "end_request_timestamp": 20},
                     {"search_type": "org_only"}, {"search_type": "request_id"}, {"search_type": 5}]:
            with self.subTest(body=body):
                s, b, _ = self.resend(body)
                self.assertEqual(s, 400, b)
                self.assertIs(b["success"], False)
                self.assertTrue(b["message"])
        s, b, _ = self.api("POST", self.path, None, self.tok, raw=b"{not json")
        self.assertEqual((s, b["success"]), (400, False))

    def test_401_and_scope(self):
        s, b, _ = self.api("POST", self.path, {"search_type": "org_only", "client_org_id": self.org})
        self.assertEqual((s, b["success"]), (401, False))
        s, b, _ = call("POST", self.hookd.url(self.path), {"search_type": "org_only", "client_org_id": self.org},
                       headers={"Authorization": "nope-nope-nope"})
        self.assertEqual(s, 401)
        reader = self.new_token(self.org, scopes=["webhooks:read"])["token"]
        s, b, _ = self.resend({"search_type": "org_only", "client_org_id": self.org}, reader)
        self.assertEqual((s, b["success"]), (403, False))
        # the bare Authorization form of this contract's TokenAuth
        s, b, _ = call("POST", self.hookd.url(self.path), {"search_type": "org_only", "client_org_id": self.org,
                                                           "dry_run": True}, headers={"Authorization": self.tok})
        self.assertEqual(s, 200, b)


class Contract001Test(ContractCase):
    path = "/api/v2/webhook_deliveries/redeliveries"

    def oauth(self, t):
        form = "grant_type=client_credentials&client_id=%s&client_secret=%s" % (t["client_id"], t["client_secret"])
        s, b, _ = call("POST", self.hookd.url("/oauth/token"), raw=form.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(s, 200, b)
        return b["access_token"]

    def test_201_shape_drops_and_effect_with_oauth_token(self):
        ids = self.deliver(2)
        _, other = self.tenant()
        foreign = self.send_event(other, "x")["delivery_ids"]  # the other org has no endpoint: none
        self.new_endpoint(other, self.rx.url("/other"))
        foreign = self.send_event(other, "x")["delivery_ids"][0]
        # its delivery is on its way to the same receiver: counted before `before`
        wait_for(lambda: any(r["path"] == "/other" for r in self.rx.requests), what="the other org's delivery")
        unknown = str(uuid.uuid4())
        admin = self.new_token(self.org, admin=True)
        access = self.oauth(admin)
        self.api("POST", "/v1/endpoints/%s/rotate-secret" % self.ep["id"], {"secret": SECRET_NEW}, self.tok)
        before = self.rx.count()
        body = {"delivery_ids": ids + [foreign, unknown, "not-an-id"]}
        s, b, _ = self.api("POST", self.path, body, access)
        self.assertEqual(s, 201, b)
        self.assertEqual(set(b), {"webhook_deliveries", "meta"})
        self.assertEqual(b["meta"]["requested_count"], 5)
        self.assertEqual(b["meta"]["created_count"], 2)
        self.assertEqual(sorted(b["meta"]["dropped_ids"]), sorted([foreign, unknown, "not-an-id"]))
        self.assertEqual(len(b["webhook_deliveries"]), 2)
        for d, src in zip(b["webhook_deliveries"], ids):
            for k in ("id", "webhook_id", "event_id", "event_action", "state", "response", "created_at", "updated_at"):
                self.assertIn(k, d)
            self.assertEqual(d["webhook_id"], self.ep["id"])
            self.assertEqual(d["event_id"], self.event_of(src))
            self.assertEqual(d["event_action"], "order.paid")
            self.assertIn(d["state"], STATES)
            self.assertIsNone(d["response"])
            self.assertRegex(d["created_at"], DATE_TIME)
            self.assertRegex(d["updated_at"], DATE_TIME)
            self.assertNotIn(d["id"], ids)
        wait_for(lambda: self.rx.count() == before + 2, what="2 redeliveries")
        for r in self.rx.requests[before:]:
            self.assertTrue(verify(SECRET_NEW, r["headers"], r["body"]))  # signed afresh
            self.assertFalse(verify(SECRET_OLD, r["headers"], r["body"]))
        # the other org's delivery was not touched
        s, lst, _ = self.api("GET", "/v1/deliveries", None, other)
        self.assertEqual(len(lst["data"]), 1)
        # asking twice sends twice
        self.api("POST", self.path, {"delivery_ids": ids[:1]}, access)
        wait_for(lambda: self.rx.count() == before + 3, what="a second redelivery")
        d = self.delivery(self.tok, b["webhook_deliveries"][0]["id"])
        self.assertEqual((d["replay_of_delivery_id"], d["state"]), (ids[0], "completed"))

    def test_403_for_non_admin_and_missing_scope(self):
        ids = self.deliver(1)
        plain = self.new_token(self.org, admin=False)
        s, b, _ = self.api("POST", self.path, {"delivery_ids": ids}, self.oauth(plain))
        self.assertEqual(s, 403, b)
        reader = self.new_token(self.org, scopes=["webhooks:read"], admin=True)["token"]
        self.assertEqual(self.api("POST", self.path, {"delivery_ids": ids}, reader)[0], 403)
        self.assertEqual(self.api("POST", self.path, {"delivery_ids": ids})[0], 401)

    def test_bad_bodies(self):
        for raw in [b"{", b"{}", b'{"delivery_ids": "x"}', b'{"delivery_ids": [1]}']:
            s, b, _ = self.api("POST", self.path, None, self.tok, raw=raw)
            self.assertEqual(s, 400, (raw, b))
        s, b, _ = self.api("POST", self.path, {"delivery_ids": [str(uuid.uuid4())] * 1001}, self.tok)
        self.assertEqual(s, 400)


class Contract002Test(ContractCase):
    def path(self, did):
        return "/v1/webhooks/deliveries/%s/replay" % did

    def test_200_full_record_with_bearer_and_api_key(self):
        src = self.deliver(1)[0]
        before = self.rx.count()
        for hdr in ({"Authorization": "Bearer " + self.tok}, {"X-API-Key": self.tok}):
            s, b, _ = call("POST", self.hookd.url(self.path(src)), headers=hdr)
            self.assertEqual(s, 200, b)
            for k in ("id", "endpoint_id", "user_id", "event_type", "status", "scheduled_attempt",
                      "created_at", "updated_at"):
                self.assertIn(k, b)
            self.assertIsInstance(b["user_id"], int)
            self.assertIsInstance(b["scheduled_attempt"], int)
            self.assertEqual((b["endpoint_id"], b["event_type"], b["replay_of_delivery_id"]),
                             (self.ep["id"], "order.paid", src))
            self.assertEqual(b["event_id"], self.event_of(src))
            for k in ("event_group", "last_attempt_at", "delivered_at", "final_http_status", "error_message"):
                self.assertIn(k, b)
                self.assertIsNone(b[k])
            self.assertRegex(b["created_at"], DATE_TIME)
            self.assertRegex(b["next_retry_at"], DATE_TIME)
        wait_for(lambda: self.rx.count() == before + 2, what="two replays")

    def test_422_404_401(self):
        s, b, _ = self.api("POST", self.path("not-a-uuid"), None, self.tok)
        self.assertEqual(s, 422, b)
        self.assertIsInstance(b["detail"], list)
        e = b["detail"][0]
        self.assertEqual(e["loc"], ["path", "delivery_id"])
        self.assertIsInstance(e["msg"], str)
        self.assertIsInstance(e["type"], str)
        self.assertEqual(self.api("POST", self.path(str(uuid.uuid4())), None, self.tok)[0], 404)
        _, other = self.tenant()
        src = self.deliver(1)[0]
        s, b, _ = self.api("POST", self.path(src), None, other)
        self.assertEqual(s, 404, b)
        s, b, _ = self.api("POST", self.path(src), None)
        self.assertEqual(s, 401)
        self.assertIn("detail", b)


class Contract003Test(ContractCase):
    def path(self, webhook):
        return "/api/notifications/v1/admin/webhooks/%s/notifications/retrigger" % webhook

    def test_200_per_id_results_signed_with_the_current_secret(self):
        ids = self.deliver(2)
        second = self.new_endpoint(self.tok, self.rx.url("/second"), event_types=["other"])
        other_ids = self.send_event(self.tok, "other")["delivery_ids"]
        for d in other_ids:  # the first endpoint takes every type: let it settle before counting
            self.wait_state(self.tok, d, "completed")
        elsewhere = [d for d in other_ids if self.delivery(self.tok, d)["endpoint_id"] == second["id"]][0]
        self.api("POST", "/v1/endpoints/%s/rotate-secret" % self.ep["id"], {"secret": SECRET_NEW}, self.tok)
        before = self.rx.count()
        wanted = ids + [elsewhere, str(uuid.uuid4())]
        s, b, _ = self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": wanted}, self.tok)
        self.assertEqual(s, 200, b)
        self.assertEqual((b["totalRequested"], b["totalSuccess"], b["totalFailed"]), (4, 2, 2))
        self.assertEqual([n["webhookNotificationId"] for n in b["successfulNotifications"]], ids)
        for n in b["successfulNotifications"]:
            uuid.UUID(n["retriggeredNotificationRequestId"])
        self.assertEqual([n["webhookNotificationId"] for n in b["failedNotifications"]], wanted[2:])
        for n in b["failedNotifications"]:
            self.assertIsInstance(n["error"], str)
        wait_for(lambda: len([r for r in self.rx.requests[before:] if r["path"] == "/hook"]) == 2, what="retriggers")
        for r in self.rx.requests[before:]:
            if r["path"] == "/hook":
                self.assertTrue(verify(SECRET_NEW, r["headers"], r["body"]))
        self.assertNotIn(self.event_of(elsewhere), [r["headers"]["webhook-id"] for r in self.rx.requests[before:]
                                                    if r["path"] == "/hook"])
        self.assertIsNotNone(second)

    def test_errors_have_name_error_status(self):
        ids = self.deliver(1)

        def err(s, b, status, name):
            self.assertEqual(s, status, b)
            self.assertEqual((b["name"], b["status"]), (name, status))
            self.assertIsInstance(b["error"], str)

        err(*self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": [str(uuid.uuid4())] * 26},
                      self.tok)[:2], 400, "ValidationFailed")
        err(*self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": ["x"]}, self.tok)[:2],
            400, "ValidationFailed")
        err(*self.api("POST", self.path(self.ep["id"]), {}, self.tok)[:2], 400, "ValidationFailed")
        err(*self.api("POST", self.path(str(uuid.uuid4())), {"webhookNotificationIds": ids}, self.tok)[:2],
            404, "NotFound")
        plain = self.new_token(self.org, admin=False)["token"]
        err(*self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": ids}, plain)[:2],
            403, "AccessDenied")
        _, other = self.tenant(admin=True)
        err(*self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": ids}, other)[:2],
            404, "NotFound")
        self.assertEqual(self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": ids})[0], 401)

    def test_rate_limited_per_webhook(self):
        ids = self.deliver(1)
        codes = [self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": ids}, self.tok)[0]
                 for _ in range(3)]
        self.assertEqual(codes, [200, 200, 200])
        s, b, _ = self.api("POST", self.path(self.ep["id"]), {"webhookNotificationIds": ids}, self.tok)
        self.assertEqual((s, b["name"], b["status"]), (400, "RETRIGGER_RATE_LIMITED", 400))
        other = self.new_endpoint(self.tok, self.rx.url("/x"))
        self.assertEqual(self.api("POST", self.path(other["id"]), {"webhookNotificationIds": ids}, self.tok)[0], 200)


class Contract004Test(ContractCase):
    def path(self, ep):
        return "/api/partner/v1/webhook-endpoints/%s/redeliver" % ep

    def check_endpoint(self, e):
        self.assertEqual(set(e), {"id", "url", "eventTypes", "status", "createdAt", "consecutiveFailures",
                                  "disabledAt", "disabledReason"})
        self.assertEqual((e["id"], e["url"]), (self.ep["id"], self.ep["url"]))
        self.assertIsInstance(e["eventTypes"], list)
        self.assertRegex(e["createdAt"], DATE_TIME)
        self.assertIsInstance(e["consecutiveFailures"], int)

    def test_requeue_every_failed_delivery(self):
        self.ok.clear()
        failed = self.deliver(3)
        self.ok.set()
        done = self.deliver(1)
        before = self.rx.count()
        s, b, _ = self.api("POST", self.path(self.ep["id"]), {}, self.tok)
        self.assertEqual(s, 200, b)
        self.check_endpoint(b["webhookEndpoint"])
        self.assertEqual(b["webhookEndpoint"]["status"], "ACTIVE")
        self.assertEqual(b["requeued"], 3)
        self.assertIn("attempted", b["message"])
        for d in failed:
            self.wait_state(self.tok, d, "completed")
        self.assertEqual(self.rx.count(), before + 3)
        self.assertEqual(self.delivery(self.tok, failed[0])["id"], failed[0])  # the same delivery, requeued
        self.assertEqual(self.delivery(self.tok, done[0])["attempt_count"], 1)
        s, b, _ = self.api("POST", self.path(self.ep["id"]), None, self.tok)  # no body at all
        self.assertEqual((s, b["requeued"]), (200, 0))

    def test_requeue_one_delivery_whatever_its_state(self):
        did = self.deliver(1)[0]
        before = self.rx.count()
        s, b, _ = self.api("POST", self.path(self.ep["id"]), {"deliveryId": did}, self.tok)
        self.assertEqual((s, b["requeued"]), (200, 1))
        wait_for(lambda: self.rx.count() == before + 1, what="requeued delivery sent")
        self.assertEqual(self.delivery(self.tok, did)["attempt_count"], 2)

    def test_disabled_endpoint_holds_requeued_work(self):
        self.ok.clear()
        failed = self.deliver(2)
        self.ok.set()
        self.api("POST", "/v1/endpoints/%s/disable" % self.ep["id"], None, self.tok)
        before = self.rx.count()
        s, b, _ = self.api("POST", self.path(self.ep["id"]), {}, self.tok)
        self.assertEqual((s, b["requeued"], b["webhookEndpoint"]["status"]), (200, 2, "DISABLED"))
        self.assertIn("DISABLED", b["message"])
        time.sleep(1)  # a pump that wrongly attempted held work would have by now
        self.assertEqual(self.rx.count(), before)
        self.api("POST", "/v1/endpoints/%s/enable" % self.ep["id"], None, self.tok)
        for d in failed:
            self.wait_state(self.tok, d, "completed")

    def test_errors(self):
        def err(s, b, status, code):
            self.assertEqual(s, status, b)
            self.assertEqual(b["code"], code)
            self.assertIsInstance(b["message"], str)

        err(*self.api("POST", self.path(self.ep["id"]), None, self.tok, raw=b"{oops")[:2], 400, "BAD_REQUEST")
        err(*self.api("POST", self.path(self.ep["id"]), {})[:2], 401, "UNAUTHORIZED")
        reader = self.new_token(self.org, scopes=["webhooks:read"])["token"]
        err(*self.api("POST", self.path(self.ep["id"]), {}, reader)[:2], 403, "FORBIDDEN")
        err(*self.api("POST", self.path(str(uuid.uuid4())), {}, self.tok)[:2], 404, "NOT_FOUND")
        err(*self.api("POST", self.path(self.ep["id"]), {"deliveryId": str(uuid.uuid4())}, self.tok)[:2],
            404, "NOT_FOUND")
        _, other = self.tenant()
        err(*self.api("POST", self.path(self.ep["id"]), {}, other)[:2], 404, "NOT_FOUND")


if __name__ == "__main__":
    unittest.main(verbosity=2)
