"""Issue 13: what the first week in production would hit."""
import json
import socket
import unittest

from harness import ROOT_TOKEN, HookdCase, call


class HardeningTest(HookdCase):
    class_receiver = True

    def test_idempotency_key_reused_for_another_request_is_409(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        hdr = {"Idempotency-Key": "order-7"}
        s, first, _ = self.api("POST", "/v1/events", {"type": "a", "payload": {"n": 1}}, tok, headers=hdr)
        self.assertEqual(s, 202, first)
        s, again, h = self.api("POST", "/v1/events", {"type": "a", "payload": {"n": 1}}, tok, headers=hdr)
        self.assertEqual((s, again["id"], h.get("Idempotent-Replayed")), (202, first["id"], "true"))
        for other in ({"type": "a", "payload": {"n": 2}}, {"type": "b", "payload": {"n": 1}},
                      {"type": "a", "payload": {"n": 1}, "request_id": "r1"}):
            s, b, _ = self.api("POST", "/v1/events", other, tok, headers=hdr)
            self.assertEqual((s, b.get("code")), (409, "idempotency_key_reused"), (other, b))
            self.assertIn(first["id"], b["detail"])
        s, lst, _ = self.api("GET", "/v1/deliveries", None, tok)
        self.assertEqual(len(lst["data"]), 1)  # nothing was created by the refused calls

    def test_attempt_times_are_rfc3339(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        s, b, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
        self.assertEqual(s, 200, b)
        self.assertRegex(b["data"][0]["started_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_non_canonical_ipv4_in_an_endpoint_url_is_422(self):
        _, tok = self.tenant()
        for url in ("http://0177.0.0.1/", "http://2130706433/", "http://0x7f.1/", "https://127.1/",
                    "http://127.0.0.01:8080/x"):
            s, b, _ = self.api("POST", "/v1/endpoints", {"url": url}, tok)
            self.assertEqual((s, b.get("field"), b.get("code")), (422, "url", "ambiguous_address"), (url, b))
        ep = self.new_endpoint(tok, "http://127.0.0.1:9/")
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"url": "http://0177.0.0.1:9/"}, tok)
        self.assertEqual((s, b.get("field")), (422, "url"), b)
        self.assertEqual(self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]["url"], "http://127.0.0.1:9/")

    def test_tools_print_their_usage(self):
        import os
        import subprocess
        from harness import HOOKD_BIN
        pace = os.path.join(os.path.dirname(HOOKD_BIN), "hookd-pace")
        out = subprocess.run([pace, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertIn("usage: hookd-pace", out.stdout)

    def test_every_metric_says_what_it_measures(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        self.wait_state(tok, self.send_event(tok, "a")["delivery_ids"][0], "completed")
        text = call("GET", self.hookd.url("/metrics"))[1]
        helps = [l for l in text.splitlines() if l.startswith("# HELP ")]
        self.assertIn("# HELP hookd_deliveries_in_flight", "\n".join(helps))
        for line in helps:
            desc = line.split(" ", 3)[3] if line.count(" ") >= 3 else ""
            self.assertTrue(len(desc) > 12 and desc != "Gauge.", line)

    def test_calls_keep_working_after_redis_forgets_the_scripts(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        self.redis.cli("SCRIPT", "FLUSH")  # every EVALSHA now answers NOSCRIPT
        did = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")  # ingest, claim and complete fell back to EVAL
        self.assertEqual(self.api("GET", "/v1/deliveries/" + did, None, tok)[0], 200)

    def test_tokens_are_listed_without_secrets_and_revoked(self):
        org_a = self.new_org("a")
        org_b = self.new_org("b")
        admin_a = self.new_token(org_a, admin=True)
        plain_a = self.new_token(org_a, admin=False, scopes=["webhooks:read"])
        admin_b = self.new_token(org_b, admin=True)
        # an org admin sees its own org's tokens, and never a secret
        s, b, _ = self.api("GET", "/v1/tokens", None, admin_a["token"])
        self.assertEqual(s, 200, b)
        self.assertEqual(sorted(t["id"] for t in b["data"]), sorted([admin_a["id"], plain_a["id"]]))
        text = json.dumps(b)
        for secret in (admin_a["token"], admin_a["client_secret"], plain_a["token"]):
            self.assertNotIn(secret, text)
        self.assertEqual(self.api("GET", "/v1/tokens", None, plain_a["token"])[0], 403)  # not an admin
        s, b, _ = self.api("GET", "/v1/tokens?limit=1000", None, ROOT_TOKEN)
        self.assertTrue({admin_a["id"], plain_a["id"], admin_b["id"]} <= {t["id"] for t in b["data"]})
        # another org's token reads as unknown
        self.assertEqual(self.api("DELETE", "/v1/tokens/" + admin_b["id"], None, admin_a["token"])[0], 404)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, admin_b["token"])[0], 200)
        # revoking a token stops it, its OAuth2 client and the access tokens that client minted
        form = "grant_type=client_credentials&client_id=%s&client_secret=%s" % (plain_a["client_id"],
                                                                               plain_a["client_secret"])
        s, at, _ = call("POST", self.hookd.url("/oauth/token"), raw=form.encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(s, 200, at)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, at["access_token"])[0], 200)
        self.assertEqual(self.api("DELETE", "/v1/tokens/" + plain_a["id"], None, admin_a["token"])[0], 204)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, plain_a["token"])[0], 401)
        self.assertEqual(self.api("GET", "/v1/endpoints", None, at["access_token"])[0], 401)
        s, _, _ = call("POST", self.hookd.url("/oauth/token"), raw=form.encode(),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(s, 401)
        self.assertEqual(self.api("DELETE", "/v1/tokens/" + plain_a["id"], None, admin_a["token"])[0], 404)
        s, b, _ = self.api("GET", "/v1/tokens", None, admin_a["token"])
        self.assertEqual([t["id"] for t in b["data"]], [admin_a["id"]])
        # root revokes any org's
        self.assertEqual(self.api("DELETE", "/v1/tokens/" + admin_b["id"], None, ROOT_TOKEN)[0], 204)

    def test_root_lists_orgs(self):
        a, b = self.new_org("one"), self.new_org("two")
        s, body, _ = self.api("GET", "/v1/orgs?limit=1000", None, ROOT_TOKEN)
        self.assertEqual(s, 200, body)
        names = {o["id"]: o["name"] for o in body["data"]}
        self.assertEqual((names.get(a), names.get(b)), ("one", "two"))
        _, tok = self.tenant()
        self.assertEqual(self.api("GET", "/v1/orgs", None, tok)[0], 403)
        s, page, _ = self.api("GET", "/v1/orgs?limit=1", None, ROOT_TOKEN)
        self.assertEqual(len(page["data"]), 1)
        self.assertTrue(page["next_cursor"])

    def test_sink_verifies_signatures_before_and_after_a_rotation(self):
        import os
        import subprocess
        from harness import HOOKD_BIN, free_port, wait_for
        sink_bin = os.path.join(os.path.dirname(HOOKD_BIN), "hookd-sink")
        _, tok = self.tenant()
        port = free_port()
        ep = self.new_endpoint(tok, "http://127.0.0.1:%d/hooks" % port, event_types=["a"])

        def run_sink(secret):
            p = subprocess.Popen([sink_bin, "--port", str(port), "--verbose", "--secret", secret],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            def up():
                if p.poll() is not None:
                    raise AssertionError("hookd-sink exited: " + p.stderr.read())
                try:
                    return call("GET", "http://127.0.0.1:%d/stats" % port, timeout=2)[0] == 200
                except OSError:
                    return False
            wait_for(up, what="the sink to listen")
            return p

        def deliver_and_read(p):
            did = self.send_event(tok, "a")["delivery_ids"][0]
            self.wait_state(tok, did, "completed")
            stats = call("GET", "http://127.0.0.1:%d/stats" % port)[1]
            p.terminate()
            return p.communicate(timeout=10)[0], stats

        out, stats = deliver_and_read(run_sink(ep["secret"]))
        self.assertIn("signature: verified", out)
        self.assertEqual(stats["bad_signatures"], 0)
        out, stats = deliver_and_read(run_sink("whsec_" + "QUJD" * 8))
        self.assertIn("signature: INVALID", out)
        self.assertEqual(stats["bad_signatures"], 1)
        s, rot, _ = self.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], None, tok)
        self.assertEqual(s, 200, rot)
        for secret in (rot["secret"], ep["secret"]):  # the new one, and the old during the overlap
            out, stats = deliver_and_read(run_sink(secret))
            self.assertIn("signature: verified", out)

    def test_runs_where_only_loopback_exists(self):
        import os
        if os.geteuid() != 0 and not os.environ.get("HOOKD_TEST_NETNS"):
            self.skipTest("not root: isolated.sh could not make a network namespace")
        self.assertEqual(os.environ.get("HOOKD_TEST_NETNS"), "1", "run through tests/integration/isolated.sh")
        with open("/proc/net/dev") as f:
            names = sorted(l.split(":")[0].strip() for l in f.read().splitlines()[2:])
        self.assertEqual(names, ["lo"])

    def test_405_names_the_allowed_methods(self):
        _, tok = self.tenant()
        s, b, h = self.api("PUT", "/v1/endpoints", {"url": "http://x/"}, tok)
        self.assertEqual(s, 405, b)
        self.assertEqual(sorted(m.strip() for m in h["Allow"].split(",")), ["GET", "HEAD", "POST"])
        s, b, h = self.api("DELETE", "/v1/events/" + "0" * 8 + "-0000-7000-8000-" + "0" * 12, None, tok)
        self.assertEqual((s, h["Allow"]), (405, "GET, HEAD"))
        # a 405 refused by the gate (a body, before it is read) carries it too
        sock = socket.create_connection(("127.0.0.1", self.hookd.port))
        sock.sendall(b"PUT /v1/endpoints HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        head = sock.recv(4096).decode()
        sock.close()
        self.assertTrue(head.startswith("HTTP/1.1 405"), head)
        self.assertIn("\r\nAllow: POST, GET, HEAD\r\n", head)  # in route-table order, HEAD with GET


if __name__ == "__main__":
    unittest.main()
