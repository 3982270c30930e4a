"""The native API against a real Redis: every route's happy path, auth,
org isolation, pagination, idempotency, fan-out and the metrics format."""
import subprocess
import unittest
import uuid

from harness import ROOT_TOKEN, HookdCase, call, wait_for


class ApiTest(HookdCase):
    class_receiver = True

    def test_health_ready_and_metrics_pass_promtool(self):
        self.assertEqual(self.api("GET", "/healthz")[0], 200)
        self.assertEqual(self.api("GET", "/readyz")[0], 200)
        s, text, h = self.api("GET", "/metrics")
        self.assertEqual(s, 200)
        self.assertIn("hookd_http_requests_total", text)
        self.assertIn("hookd_delivery_attempt_duration_seconds_bucket", text)
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), capture_output=True)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())

    def test_org_and_token_shapes_and_token_kinds(self):
        org = self.new_org("shapes")
        t = self.new_token(org, scopes=["webhooks:read"], admin=False, user_id=42)
        for k in ("id", "token", "client_id", "client_secret", "org_id", "user_id", "scopes", "admin"):
            self.assertIn(k, t)
        self.assertEqual((t["org_id"], t["user_id"], t["scopes"], t["admin"]), (org, 42, ["webhooks:read"], False))
        # all three header forms are accepted
        for hdr in ({"Authorization": "Bearer " + t["token"]}, {"Authorization": t["token"]}, {"X-API-Key": t["token"]}):
            self.assertEqual(call("GET", self.hookd.url("/v1/endpoints"), headers=hdr)[0], 200, hdr)
        # OAuth2 client credentials mint a working, expiring token
        form = "grant_type=client_credentials&client_id=%s&client_secret=%s" % (t["client_id"], t["client_secret"])
        s, b, _ = call("POST", self.hookd.url("/oauth/token"), raw=form.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(s, 200, b)
        self.assertEqual(b["token_type"], "Bearer")
        self.assertGreater(b["expires_in"], 0)
        self.assertIsInstance(b["created_at"], int)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, b["access_token"])[0], 200)
        bad = form.replace(t["client_secret"], "hks_wrong")
        s, b, _ = call("POST", self.hookd.url("/oauth/token"), raw=bad.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((s, b["error"]), (401, "invalid_client"))
        s, b, _ = call("POST", self.hookd.url("/oauth/token"), raw=b"grant_type=password",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((s, b["error"]), (400, "unsupported_grant_type"))

    def test_credentials_are_stored_hashed(self):
        org = self.new_org("hash")
        t = self.new_token(org)
        form = "grant_type=client_credentials&client_id=%s&client_secret=%s" % (t["client_id"], t["client_secret"])
        _, at, _ = call("POST", self.hookd.url("/oauth/token"), raw=form.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        dump = ""
        for key in self.redis.cli("--scan").split():
            kind = self.redis.cli("TYPE", key).strip()
            if kind == "hash":
                dump += key + " " + self.redis.cli("HGETALL", key)
            elif kind == "string":
                dump += key + " " + self.redis.cli("GET", key)
        for secret in (t["token"], t["client_secret"], at["access_token"], ROOT_TOKEN):
            self.assertNotIn(secret, dump)

    def test_auth_matrix(self):
        org, admin_tok = self.tenant(admin=True)
        reader = self.new_token(org, scopes=["webhooks:read"])["token"]
        writer = self.new_token(org, scopes=["events:write"])["token"]
        s, b, h = self.api("GET", "/v1/endpoints")
        self.assertEqual(s, 401)
        self.assertEqual(h["Content-Type"], "application/problem+json")
        self.assertEqual((b["status"], b["title"]), (401, "Unauthorized"))
        self.assertEqual(self.api("GET", "/v1/endpoints", None, "hkd_" + "0" * 64)[0], 401)
        # missing scope
        self.assertEqual(self.api("POST", "/v1/endpoints", {"url": self.rx.url()}, reader)[0], 403)
        self.assertEqual(self.api("POST", "/v1/events", {"type": "a", "payload": {}}, reader)[0], 403)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, writer)[0], 403)
        self.assertEqual(self.api("POST", "/v1/events", {"type": "a", "payload": {}}, writer)[0], 202)
        # non-admin cannot mint tokens; admin can, for its own org only
        self.assertEqual(self.api("POST", "/v1/tokens", {"scopes": []}, reader)[0], 403)
        s, b, _ = self.api("POST", "/v1/tokens", {"scopes": ["webhooks:read"]}, admin_tok)
        self.assertEqual((s, b["org_id"]), (201, org))
        other = self.new_org("other")
        self.assertEqual(self.api("POST", "/v1/tokens", {"org_id": other, "scopes": []}, admin_tok)[0], 404)
        # orgs are the root's alone; the root cannot act inside an org
        self.assertEqual(self.api("POST", "/v1/orgs", {"name": "x"}, admin_tok)[0], 403)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, ROOT_TOKEN)[0], 403)
        # a token for an unknown org cannot be created
        self.assertEqual(self.api("POST", "/v1/tokens", {"org_id": str(uuid.uuid4()), "scopes": []}, ROOT_TOKEN)[0], 404)

    def test_other_org_ids_behave_as_unknown(self):
        _, a = self.tenant()
        _, b = self.tenant()
        ep = self.new_endpoint(a, self.rx.url(), event_types=["x.y"])
        ev = self.send_event(a, "x.y")
        did = ev["delivery_ids"][0]
        for method, path, body in [("GET", "/v1/endpoints/" + ep["id"], None),
                                   ("PATCH", "/v1/endpoints/" + ep["id"], {"description": "mine"}),
                                   ("POST", "/v1/endpoints/%s/disable" % ep["id"], None),
                                   ("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], None),
                                   ("DELETE", "/v1/endpoints/" + ep["id"], None),
                                   ("GET", "/v1/events/" + ev["id"], None),
                                   ("GET", "/v1/deliveries/" + did, None),
                                   ("GET", "/v1/deliveries/%s/attempts" % did, None)]:
            s, body_, _ = self.api(method, path, body, b)
            self.assertEqual(s, 404, (method, path, body_))
        self.assertEqual(self.api("GET", "/v1/deliveries?endpoint_id=" + ep["id"], None, b)[0], 404)
        s, lst, _ = self.api("GET", "/v1/deliveries", None, b)
        self.assertEqual(lst["data"], [])
        s, eps, _ = self.api("GET", "/v1/endpoints", None, b)
        self.assertEqual(eps["data"], [])
        # and nothing was touched
        s, still, _ = self.api("GET", "/v1/endpoints/" + ep["id"], None, a)
        self.assertEqual((s, still["status"], still["description"]), (200, "ACTIVE", ""))

    def test_endpoint_lifecycle(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), event_types=["a.b", "c.d"], description="d", max_in_flight=3)
        self.assertTrue(ep["secret"].startswith("whsec_"))
        self.assertEqual((ep["status"], ep["event_types"], ep["max_in_flight"]), ("ACTIVE", ["a.b", "c.d"], 3))
        s, got, _ = self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)
        self.assertEqual(s, 200)
        self.assertNotIn("secret", got)
        s, got, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"event_types": [], "description": "new"}, tok)
        self.assertEqual((s, got["event_types"], got["description"]), (200, [], "new"))
        s, got, _ = self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        self.assertEqual((s, got["status"]), (200, "DISABLED"))
        self.assertIsNotNone(got["disabled_at"])
        s, got, _ = self.api("POST", "/v1/endpoints/%s/enable" % ep["id"], None, tok)
        self.assertEqual((s, got["status"], got["disabled_at"]), (200, "ACTIVE", None))
        s, got, _ = self.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], None, tok)
        self.assertEqual(s, 200)
        self.assertTrue(got["secret"].startswith("whsec_"))
        self.assertNotEqual(got["secret"], ep["secret"])
        chosen = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
        s, got, _ = self.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], {"secret": chosen}, tok)
        self.assertEqual((s, got["secret"]), (200, chosen))
        self.assertEqual(self.api("DELETE", "/v1/endpoints/" + ep["id"], None, tok)[0], 204)
        self.assertEqual(self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[0], 404)
        self.assertEqual(self.api("DELETE", "/v1/endpoints/" + ep["id"], None, tok)[0], 404)

    def test_endpoint_list_pagination(self):
        _, tok = self.tenant()
        ids = [self.new_endpoint(tok, self.rx.url("/p%d" % i))["id"] for i in range(7)]
        seen, cursor = [], None
        while True:
            s, page, _ = self.api("GET", "/v1/endpoints?limit=3" + ("&cursor=" + cursor if cursor else ""), None, tok)
            self.assertEqual(s, 200)
            self.assertLessEqual(len(page["data"]), 3)
            seen += [e["id"] for e in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, ids)

    def test_event_fan_out_is_one_delivery_per_matching_endpoint(self):
        _, tok = self.tenant()
        all_ep = self.new_endpoint(tok, self.rx.url("/all"))
        match = self.new_endpoint(tok, self.rx.url("/m"), event_types=["user.created"])
        self.new_endpoint(tok, self.rx.url("/other"), event_types=["user.deleted"])
        off = self.new_endpoint(tok, self.rx.url("/off"), event_types=["user.created"])
        self.api("POST", "/v1/endpoints/%s/disable" % off["id"], None, tok)
        ev = self.send_event(tok, "user.created", {"name": "ada", "n": 1.5e300})
        self.assertEqual(len(ev["delivery_ids"]), 3)  # the disabled endpoint's delivery waits
        s, got, _ = self.api("GET", "/v1/events/" + ev["id"], None, tok)
        self.assertEqual((s, got["id"], got["type"], got["payload"]["name"]), (200, ev["id"], "user.created", "ada"))
        self.assertEqual(sorted(got["delivery_ids"]), sorted(ev["delivery_ids"]))
        eps = sorted(self.delivery(tok, d)["endpoint_id"] for d in ev["delivery_ids"])
        self.assertEqual(eps, sorted([all_ep["id"], match["id"], off["id"]]))
        for d in ev["delivery_ids"]:
            dl = self.delivery(tok, d)
            self.assertEqual((dl["event_id"], dl["event_type"]), (ev["id"], "user.created"))
        # the disabled endpoint's delivery is kept pending, not attempted
        off_dl = [d for d in ev["delivery_ids"] if self.delivery(tok, d)["endpoint_id"] == off["id"]][0]
        self.assertEqual(self.delivery(tok, off_dl)["state"], "pending")

    def test_waiting_delivery_has_no_record_of_its_own_and_reads_whole(self):
        org, tok = self.tenant()
        eps = [self.new_endpoint(tok, self.rx.url("/w%d" % i)) for i in range(3)]
        for ep in eps:
            self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        ev = self.send_event(tok, "user.created", {"n": 1}, sync_session_id=str(uuid.uuid4()))
        self.assertTrue(ev["id"].endswith("0000"))
        self.assertEqual(ev["delivery_ids"], [ev["id"][:32] + "%04x" % i for i in (1, 2, 3)])
        keys = self.redis.cli("KEYS", "hookd:*:dl:*").split()
        self.assertEqual([k for k in keys if ev["id"][:32] in k], [])
        seen = []
        for did in ev["delivery_ids"]:
            d = self.delivery(tok, did)
            self.assertEqual((d["id"], d["org_id"], d["event_id"], d["event_type"], d["state"], d["attempt_count"]),
                             (did, org, ev["id"], "user.created", "pending", 0))
            self.assertEqual(d["webhook_counter"], ev["webhook_counter"])
            seen.append(d["endpoint_id"])
        self.assertEqual(sorted(seen), sorted(e["id"] for e in eps))
        s, page, _ = self.api("GET", "/v1/deliveries?endpoint_id=" + seen[1], None, tok)
        self.assertEqual([d["id"] for d in page["data"]], [ev["delivery_ids"][1]])
        # ids shaped like an event's deliveries but naming none read as missing
        for bad in (ev["id"], ev["id"][:32] + "0004", ev["id"][:32] + "ffff"):
            self.assertEqual(self.api("GET", "/v1/deliveries/" + bad, None, tok)[0], 404, bad)
        _, other = self.tenant()
        self.assertEqual(self.api("GET", "/v1/deliveries/" + ev["delivery_ids"][0], None, other)[0], 404)

    def test_idempotency_key_returns_first_event(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url())
        body = {"type": "a.b", "payload": {"k": 1}}
        s1, b1, _ = self.api("POST", "/v1/events", body, tok, headers={"Idempotency-Key": "abc-1"})
        s2, b2, h2 = self.api("POST", "/v1/events", body, tok, headers={"Idempotency-Key": "abc-1"})
        s3, b3, _ = self.api("POST", "/v1/events", body, tok, headers={"Idempotency-Key": "abc-2"})
        self.assertEqual((s1, s2, s3), (202, 202, 202))
        self.assertEqual(b1, b2)
        self.assertEqual(h2["Idempotent-Replayed"], "true")
        self.assertNotEqual(b1["id"], b3["id"])
        s, lst, _ = self.api("GET", "/v1/deliveries", None, tok)
        self.assertEqual(len(lst["data"]), 2)

    def test_sync_session_counter_counts_up(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url())
        sess = str(uuid.uuid4())
        counters = [self.send_event(tok, sync_session_id=sess)["webhook_counter"] for _ in range(3)]
        self.assertEqual(counters, [1, 2, 3])
        self.assertNotIn("webhook_counter", self.send_event(tok))
        s, lst, _ = self.api("GET", "/v1/deliveries?sync_session_id=" + sess, None, tok)
        self.assertEqual(sorted(d["webhook_counter"] for d in lst["data"]), [1, 2, 3])

    def test_delivery_list_filters_and_pagination(self):
        _, tok = self.tenant()
        e1 = self.new_endpoint(tok, self.rx.url("/f1"))
        e2 = self.new_endpoint(tok, self.rx.url("/f2"), event_types=["b"])
        made = [self.send_event(tok, "a")["delivery_ids"][0] for _ in range(5)]
        made += self.send_event(tok, "b")["delivery_ids"]
        seen, cursor = [], None
        while True:
            q = "/v1/deliveries?limit=2" + ("&cursor=" + cursor if cursor else "")
            s, page, _ = self.api("GET", q, None, tok)
            self.assertEqual(s, 200, page)
            seen += [d["id"] for d in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(sorted(seen), sorted(made))
        self.assertEqual(seen, sorted(seen, reverse=True))  # newest first
        s, page, _ = self.api("GET", "/v1/deliveries?endpoint_id=" + e2["id"], None, tok)
        self.assertEqual(len(page["data"]), 1)
        s, page, _ = self.api("GET", "/v1/deliveries?event_type=a&endpoint_id=" + e1["id"], None, tok)
        self.assertEqual(len(page["data"]), 5)
        wait_for(lambda: len(self.api("GET", "/v1/deliveries?state=completed", None, tok)[1]["data"]) == 7,
                 what="all delivered")
        s, page, _ = self.api("GET", "/v1/deliveries?state=errored", None, tok)
        self.assertEqual(page["data"], [])
        s, page, _ = self.api("GET", "/v1/deliveries?created_since=2000-01-01T00:00:00Z&created_until=2001-01-01T00:00:00Z", None, tok)
        self.assertEqual((s, page["data"]), (200, []))
        s, page, _ = self.api("GET", "/v1/deliveries?created_since=946684800", None, tok)
        self.assertEqual(len(page["data"]), 7)

    def test_delivery_get_and_attempts(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url("/att"))
        did = self.send_event(tok, "a")["delivery_ids"][0]
        d = self.wait_state(tok, did, "completed")
        self.assertEqual((d["attempt_count"], d["response"]["code"]), (1, 200))
        s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
        self.assertEqual(s, 200)
        self.assertEqual(len(att["data"]), 1)
        a = att["data"][0]
        self.assertEqual((a["number"], a["status_code"], a["response_body"]), (1, 200, "ok"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
