"""Issue 23: an endpoint's own TLS material. A custom CA (tls_ca) replaces
the system store for its receiver, so a receiver with a private CA gets its
deliveries and the same endpoint without tls_ca fails with failed_tls; a
client certificate and key (tls_client_cert, tls_client_key) are sent to a
receiver that requires one (mutual TLS). The key is stored sealed and never
returned; reads describe the certificate; bad PEM is 422 naming the field."""
import os

from harness import HookdCase, Receiver, TestCA


def pem(path):
    with open(path) as f:
        return f.read()


class EndpointTlsTest(HookdCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ca = TestCA()
        cls.server = cls.ca.issue("receiver", "DNS:localhost")
        cls.client = cls.ca.issue("hookd-client", "DNS:hookd.test")
        cls.other = TestCA()
        cls.stranger = cls.other.issue("stranger", "DNS:hookd.test")

    @classmethod
    def tearDownClass(cls):
        cls.ca.close()
        cls.other.close()
        super().tearDownClass()

    def receiver(self, **kw):
        rx = Receiver(tls=self.server, **kw)
        self.addCleanup(rx.close)
        return rx

    def last_attempt(self, tok, did):
        s, b, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
        self.assertEqual(s, 200, b)
        return b["data"][-1]

    def test_a_private_ca_delivers_only_with_tls_ca(self):
        _, tok = self.tenant()
        rx = self.receiver()
        url = "https://localhost:%d/hook" % rx.port
        trusting = self.new_endpoint(tok, url, event_types=["ca.yes"], tls_ca=pem(self.ca.ca_crt))
        plain = self.new_endpoint(tok, url, event_types=["ca.no"])
        self.assertEqual(trusting["tls_ca"]["certificates"], 1)
        self.assertIsNone(plain["tls_ca"])
        ok = self.send_event(tok, "ca.yes")["delivery_ids"][0]
        self.wait_state(tok, ok, "completed")
        bad = self.send_event(tok, "ca.no")["delivery_ids"][0]
        self.wait_state(tok, bad, ("retrying", "errored"))
        self.assertEqual(self.last_attempt(tok, bad)["error"], "failed_tls")

    def test_mutual_tls_sends_the_client_certificate(self):
        _, tok = self.tenant()
        rx = self.receiver(client_ca=self.ca.ca_crt)
        url = "https://localhost:%d/hook" % rx.port
        ca = pem(self.ca.ca_crt)
        mtls = self.new_endpoint(tok, url, event_types=["m.cert"], tls_ca=ca,
                                 tls_client_cert=pem(self.client[0]), tls_client_key=pem(self.client[1]))
        bare = self.new_endpoint(tok, url, event_types=["m.bare"], tls_ca=ca)
        wrong = self.new_endpoint(tok, url, event_types=["m.wrong"], tls_ca=ca,
                                  tls_client_cert=pem(self.stranger[0]), tls_client_key=pem(self.stranger[1]))
        self.assertEqual(mtls["tls_client_cert"]["subject"], "/CN=hookd-client")
        self.assertRegex(mtls["tls_client_cert"]["not_after"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIs(mtls["tls_client_cert"]["expired"], False)
        self.assertNotIn("tls_client_key", mtls)
        ok = self.send_event(tok, "m.cert")["delivery_ids"][0]
        self.wait_state(tok, ok, "completed")
        for t in ("m.bare", "m.wrong"):  # no certificate, or one from a CA the receiver does not trust
            did = self.send_event(tok, t)["delivery_ids"][0]
            self.wait_state(tok, did, ("retrying", "errored"))
            self.assertNotEqual(self.last_attempt(tok, did).get("status_code"), 200)
        key = self.redis.cli("--scan", "--pattern", "*:ep:%s" % mtls["id"]).split()[0]
        stored = self.redis.cli("HGET", key, "tls_key").strip()
        self.assertTrue(stored.startswith("hk1:"), stored[:20])  # sealed like the signing secret
        self.assertNotIn("PRIVATE KEY", stored)
        s, got, _ = self.api("GET", "/v1/endpoints/" + mtls["id"], None, tok)
        self.assertEqual((s, got["tls_client_cert"]["sha256"]), (200, mtls["tls_client_cert"]["sha256"]))
        self.assertNotIn("tls_client_key", got)
        s, patched, _ = self.api("PATCH", "/v1/endpoints/" + mtls["id"],
                                 {"tls_client_cert": None, "tls_client_key": None}, tok)
        self.assertEqual((s, patched["tls_client_cert"]), (200, None))

    def test_bad_material_is_422_naming_the_field(self):
        _, tok = self.tenant()
        url = "https://localhost:9/hook"
        cert, key = pem(self.client[0]), pem(self.client[1])
        cases = [({"tls_ca": "not a certificate"}, "tls_ca"),
                 ({"tls_client_cert": cert}, "tls_client_key"),
                 ({"tls_client_key": key}, "tls_client_cert"),
                 ({"tls_client_cert": cert, "tls_client_key": pem(self.stranger[1])}, "tls_client_key"),
                 ({"tls_client_cert": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                   "tls_client_key": key}, "tls_client_cert"),
                 ({"tls_ca": "x" * 70000}, "tls_ca")]
        for fields, field in cases:
            body = dict(url=url, **fields)
            s, b, _ = self.api("POST", "/v1/endpoints", body, tok)
            self.assertEqual((s, b.get("field")), (422, field), (list(fields), b))
        self.assertEqual(self.api("GET", "/v1/endpoints", None, tok)[1]["data"], [])


if __name__ == "__main__":
    import unittest
    unittest.main()
