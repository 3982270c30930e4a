"""Issue 14: operational events. An org subscribes an endpoint to hookd's own
event types; an endpoint auto-disabled produces exactly one
hookd.endpoint.disabled delivery, a delivery that used up its attempts one
hookd.delivery.exhausted, API enable/disable their notices, each signed with
Standard Webhooks; endpoints taking every type get none, another org
nothing, and producers cannot post hookd.* types."""
import json
import unittest

import openapi_check
from harness import HookdCase, Receiver, verify_signature, wait_for


verify = verify_signature


class OperationalEventsTest(HookdCase):
    # two attempts, then the delivery gives up; 2 consecutive failures disable
    hookd_conf = {"retry_schedule": "0,100ms", "retry_jitter_pct": 0, "disable_after_failures": 2,
                  "disable_after": 0}

    def setUp(self):
        self.failing = Receiver(lambda n, p, h, b: (500, {}, b"down"))
        self.ops = Receiver()
        self.everything = Receiver()

    def tearDown(self):
        for rx in (self.failing, self.ops, self.everything):
            rx.close()

    def notices(self, rx, etype):
        with rx.lock:
            return [r for r in rx.requests if json.loads(r["body"]).get("type") == etype]

    def test_auto_disable_and_exhaustion_are_announced_once_to_the_subscribers_only(self):
        org, tok = self.tenant()
        other_org, other_tok = self.tenant()
        broken = self.new_endpoint(tok, self.failing.url(), event_types=["order.paid"])
        ops = self.new_endpoint(tok, self.ops.url(), event_types=["hookd.endpoint.disabled", "hookd.delivery.exhausted"])
        self.new_endpoint(tok, self.everything.url())  # every type: not hookd's
        self.new_endpoint(other_tok, self.everything.url("/other"),
                          event_types=["hookd.endpoint.disabled", "hookd.delivery.exhausted"])
        ev = self.send_event(tok, "order.paid", {"n": 1})
        did = [d for d in ev["delivery_ids"] if self.delivery(tok, d)["endpoint_id"] == broken["id"]][0]
        wait_for(lambda: self.notices(self.ops, "hookd.endpoint.disabled")
                 and self.notices(self.ops, "hookd.delivery.exhausted"), what="both notices")
        self.assertEqual(self.delivery(tok, did)["state"], "errored")
        # a later event for the disabled endpoint makes no attempt and no notice
        self.send_event(tok, "order.paid", {"n": 2})
        wait_for(lambda: len(self.everything.requests) >= 2, what="the every-type endpoint's two events")
        disabled = self.notices(self.ops, "hookd.endpoint.disabled")
        exhausted = self.notices(self.ops, "hookd.delivery.exhausted")
        self.assertEqual(len(disabled), 1)
        self.assertEqual(len(exhausted), 1)
        for r in disabled + exhausted:
            self.assertTrue(verify(ops["secret"], r["headers"], r["body"]), "signed with the subscriber's secret")
            body = json.loads(r["body"])
            openapi_check.check_webhook(body["type"], body)  # as the OpenAPI document describes it
        d = json.loads(disabled[0]["body"])["data"]
        self.assertEqual((d["endpoint_id"], d["by"]), (broken["id"], "auto"))
        x = json.loads(exhausted[0]["body"])["data"]
        self.assertEqual((x["delivery_id"], x["event_id"], x["endpoint_id"], x["event_type"], x["attempts"]),
                         (did, ev["id"], broken["id"], "order.paid", 2))
        # nothing of hookd's reached the every-type endpoint or the other org
        bodies = [json.loads(r["body"]) for r in self.everything.requests]
        self.assertEqual(sorted(b["n"] for b in bodies), [1, 2], "only the org's own events")
        # a notice is an event like any: it has a delivery record and can be redelivered
        nid = disabled[0]["headers"]["webhook-id"]
        s, e, _ = self.api("GET", "/v1/events/" + nid, None, tok)
        self.assertEqual((s, e["type"]), (200, "hookd.endpoint.disabled"))

    def test_enable_and_disable_through_the_api_are_announced(self):
        org, tok = self.tenant()
        ep = self.new_endpoint(tok, self.failing.url(), event_types=["x"])
        ops = self.new_endpoint(tok, self.ops.url(), event_types=["hookd.endpoint.enabled", "hookd.endpoint.disabled"])
        self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)  # no change: no notice
        self.api("POST", "/v1/endpoints/%s/enable" % ep["id"], None, tok)
        wait_for(lambda: len(self.ops.requests) >= 2, what="two notices")
        got = [(json.loads(r["body"])["type"], json.loads(r["body"])["data"]["by"]) for r in self.ops.requests]
        self.assertEqual(sorted(got), [("hookd.endpoint.disabled", "api"), ("hookd.endpoint.enabled", "api")])
        for r in self.ops.requests:
            self.assertTrue(verify(ops["secret"], r["headers"], r["body"]))

    def test_producers_cannot_post_hookd_types(self):
        org, tok = self.tenant()
        s, b, _ = self.api("POST", "/v1/events", {"type": "hookd.endpoint.disabled", "payload": {}}, tok)
        self.assertEqual((s, b["code"], b["field"]), (422, "reserved_type", "type"))


if __name__ == "__main__":
    unittest.main()
