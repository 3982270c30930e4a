"""Issue 13: what the first week in production would hit."""
import json
import socket
import unittest

from harness import HookdCase, call


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

    def test_405_names_the_allowed_methods(self):
        _, tok = self.tenant()
        s, b, h = self.api("PUT", "/v1/endpoints", {"url": "http://x/"}, tok)
        self.assertEqual(s, 405, b)
        self.assertEqual(sorted(m.strip() for m in h["Allow"].split(",")), ["GET", "POST"])
        s, b, h = self.api("DELETE", "/v1/events/" + "0" * 8 + "-0000-7000-8000-" + "0" * 12, None, tok)
        self.assertEqual((s, h["Allow"]), (405, "GET"))
        # a 405 refused by the gate (a body, before it is read) carries it too
        sock = socket.create_connection(("127.0.0.1", self.hookd.port))
        sock.sendall(b"PUT /v1/endpoints HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
        head = sock.recv(4096).decode()
        sock.close()
        self.assertTrue(head.startswith("HTTP/1.1 405"), head)
        self.assertIn("\r\nAllow: POST, GET\r\n", head)  # in route-table order


if __name__ == "__main__":
    unittest.main()
