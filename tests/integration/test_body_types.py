"""Every route that reads a body, given an empty body, `null`, and a value of
every JSON type, answers with a 2xx or 4xx JSON reply and never crashes
(issue 9: an empty body on the contract-000 resend formatted an
uninitialised pointer). The sanitizer build makes any bad read fatal, and the
class teardown fails on a non-zero exit."""
import unittest

from harness import ROOT_TOKEN, HookdCase, call

BODIES = [b"", b"null", b"true", b"false", b"0", b"-1", b"1.5", b'"text"', b"[]", b"[null]",
          b"[1,2]", b'["x"]', b"{}", b'{"a":null}', b'{"":{}}']


class BodyTypesTest(HookdCase):
    class_receiver = True

    def test_every_body_route_survives_every_json_type(self):
        org, tok = self.tenant(admin=True)
        ep = self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        did = self.send_event(tok, "a")["delivery_ids"][0]
        eid = ep["id"]
        routes = [
            ("POST", "/v1/orgs", ROOT_TOKEN),
            ("POST", "/v1/tokens", ROOT_TOKEN),
            ("POST", "/v1/tokens", tok),
            ("POST", "/oauth/token", None),
            ("POST", "/v1/endpoints", tok),
            ("PATCH", "/v1/endpoints/" + eid, tok),
            ("POST", "/v1/endpoints/%s/enable" % eid, tok),
            ("POST", "/v1/endpoints/%s/disable" % eid, tok),
            ("POST", "/v1/endpoints/%s/rotate-secret" % eid, tok),
            ("POST", "/v1/events", tok),
            ("POST", "/api/webhooks/resend", tok),
            ("POST", "/api/v2/webhook_deliveries/redeliveries", tok),
            ("POST", "/v1/webhooks/deliveries/%s/replay" % did, tok),
            ("POST", "/api/notifications/v1/admin/webhooks/%s/notifications/retrigger" % eid, tok),
            ("POST", "/api/partner/v1/webhook-endpoints/%s/redeliver" % eid, tok),
        ]
        for method, path, token in routes:
            for body in BODIES:
                with self.subTest(method=method, path=path, body=body):
                    s, b, _ = call(method, self.hookd.url(path), token=token, raw=body)
                    self.assertTrue(200 <= s < 300 or 400 <= s < 500, (s, b))
                    self.assertIsInstance(b, dict, (s, b))
        # the resend of the report: an empty body is a 400 naming the problem
        s, b, _ = call("POST", self.hookd.url("/api/webhooks/resend"), token=tok, raw=b"")
        self.assertEqual(s, 400, b)
        self.assertEqual(b, {"success": False,
                             "message": "invalid request payload: a JSON object with search_type is required"})
        self.assertEqual(call("GET", self.hookd.url("/healthz"))[0], 200)


if __name__ == "__main__":
    unittest.main()
