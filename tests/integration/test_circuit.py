"""Issue 21, part 3: the circuit breaker. circuit_failures consecutive
failed attempts open an endpoint's circuit: nothing is sent to it during
the cooldown, then one probe; a failed probe doubles the cooldown, a 2xx
closes it and the queued work flows. While it is open no delivery's retry
schedule advances and nothing is exhausted; hookd.endpoint.circuit_opened
and .circuit_closed are announced once each."""
import json
import threading
import time
import unittest

from harness import HookdCase, Receiver, wait_for


class CircuitTest(HookdCase):
    # four attempts: the three failures that open the circuit and one more,
    # which the failed probe would use up if it counted
    hookd_conf = {"retry_schedule": "0,100ms,100ms,100ms", "retry_jitter_pct": 0,
                  "circuit_failures": 3, "circuit_cooldown": "1s", "circuit_cooldown_max": "4s"}

    def test_circuit_opens_probes_and_closes_without_exhausting_anything(self):
        healthy = threading.Event()
        rx = Receiver(lambda n, p, h, b: (200, {}, b"ok") if healthy.is_set() else (500, {}, b"down"))
        notes = Receiver()
        self.addCleanup(rx.close)
        self.addCleanup(notes.close)
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, rx.url(), event_types=["a"], max_in_flight=1)
        self.new_endpoint(tok, notes.url(), event_types=["hookd.endpoint.circuit_opened",
                                                         "hookd.endpoint.circuit_closed"])
        ids = [self.send_event(tok, "a")["delivery_ids"][0]]

        def circuit():
            return self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)[1]["circuit"]

        wait_for(lambda: circuit()["state"] == "open", what="the circuit open")
        c = circuit()
        self.assertIsNotNone(c["opened_at"])
        self.assertIsNotNone(c["next_probe_at"])
        sent = rx.count()
        self.assertEqual(self.hookd.metric("hookd_endpoints_circuit_open"), 1)
        self.assertEqual(sent, 3)  # the three failures that opened it, nothing after
        time.sleep(0.8)  # inside the 1 s cooldown
        self.assertEqual(rx.count(), sent)
        wait_for(lambda: rx.count() == sent + 1, what="the first probe")
        wait_for(lambda: circuit()["state"] == "open", what="the circuit open again after the failed probe")
        d = self.delivery(tok, ids[0])
        self.assertEqual((d["state"], d["attempt_count"]), ("retrying", 4))  # the probe used no retry
        ids += [self.send_event(tok, "a")["delivery_ids"][0] for _ in range(3)]  # queued while open
        healthy.set()
        for d in ids:
            self.wait_state(tok, d, "completed", timeout=30)
        self.assertEqual(self.delivery(tok, ids[0])["attempt_count"], 5)
        self.assertEqual(circuit(), {"state": "closed", "opened_at": None, "next_probe_at": None})
        self.assertEqual(self.hookd.metric("hookd_endpoints_circuit_open"), 0)
        # each announced once
        wait_for(lambda: notes.count() >= 2, what="the two operational events")
        time.sleep(0.5)
        types = sorted(json.loads(r["body"])["type"] for r in notes.requests)
        self.assertEqual(types, ["hookd.endpoint.circuit_closed", "hookd.endpoint.circuit_opened"])

    def test_circuit_is_read_only(self):
        _, tok = self.tenant()
        s, b, _ = self.api("POST", "/v1/endpoints", {"url": "http://127.0.0.1:9/x", "circuit": {"state": "open"}}, tok)
        self.assertEqual((s, b.get("field")), (422, "circuit"))


if __name__ == "__main__":
    unittest.main()
