"""Issue 23: Standard Webhooks v1a signatures. An endpoint with
signature_scheme v1a gets an Ed25519 key pair (the private key sealed at
rest, the public key "whpk_..." in reads) and every delivery carries
"v1a,<base64>", checked here by an independent implementation (the openssl
command line); "both" sends v1 and v1a; rotate-secret rotates the pair and
the previous key signs beside the new one during the overlap."""
import base64
import os
import subprocess
import tempfile
import unittest

from harness import HookdCase, verify_signature

SPKI_ED25519 = bytes.fromhex("302a300506032b6570032100")  # the DER prefix of an Ed25519 public key


def openssl_verifies(public_key, headers, body):
    """How many of the request's v1a signatures the public key verifies."""
    raw = base64.b64decode(public_key[len("whpk_"):])
    msg = b"%s.%s.%s" % (headers["webhook-id"].encode(), headers["webhook-timestamp"].encode(), body)
    good = 0
    with tempfile.TemporaryDirectory() as d:
        pub, m, sig = (os.path.join(d, n) for n in ("pub.der", "msg", "sig"))
        with open(pub, "wb") as f:
            f.write(SPKI_ED25519 + raw)
        with open(m, "wb") as f:
            f.write(msg)
        for part in headers["webhook-signature"].split():
            if not part.startswith("v1a,"):
                continue
            with open(sig, "wb") as f:
                f.write(base64.b64decode(part[4:]))
            out = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub,
                                  "-rawin", "-in", m, "-sigfile", sig], capture_output=True, text=True)
            good += out.returncode == 0
    return good


class Ed25519Test(HookdCase):
    class_receiver = True

    def delivered(self, tok, etype):
        before = self.rx.count()
        did = self.send_event(tok, etype, {"n": 1})["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        return self.rx.requests[before]

    def test_v1a_is_verified_by_openssl_and_both_sends_two(self):
        _, tok = self.tenant()
        a = self.new_endpoint(tok, self.rx.url("/a"), event_types=["s.a"], signature_scheme="v1a")
        b = self.new_endpoint(tok, self.rx.url("/b"), event_types=["s.b"], signature_scheme="both")
        plain = self.new_endpoint(tok, self.rx.url("/p"), event_types=["s.p"])
        self.assertRegex(a["public_key"], r"^whpk_[A-Za-z0-9+/]{43}=$")
        self.assertEqual((plain["signature_scheme"], plain["public_key"]), ("v1", None))
        key = self.redis.cli("--scan", "--pattern", "*:ep:%s" % a["id"]).split()[0]
        self.assertTrue(self.redis.cli("HGET", key, "sign_key").strip().startswith("hk1:"))  # sealed
        r = self.delivered(tok, "s.a")
        sigs = r["headers"]["webhook-signature"].split()
        self.assertEqual([s[:4] for s in sigs], ["v1a,"])
        self.assertEqual(openssl_verifies(a["public_key"], r["headers"], r["body"]), 1)
        self.assertEqual(openssl_verifies(b["public_key"], r["headers"], r["body"]), 0)  # another key: no
        r = self.delivered(tok, "s.b")
        self.assertEqual(sorted(s.split(",")[0] for s in r["headers"]["webhook-signature"].split()), ["v1", "v1a"])
        self.assertTrue(verify_signature(b["secret"], r["headers"], r["body"]))
        self.assertEqual(openssl_verifies(b["public_key"], r["headers"], r["body"]), 1)
        r = self.delivered(tok, "s.p")
        self.assertNotIn("v1a,", r["headers"]["webhook-signature"])

    def test_rotation_keeps_the_previous_key_signing_during_the_overlap(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url("/r"), event_types=["s.r"], signature_scheme="v1a")
        s, rot, _ = self.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], None, tok)
        self.assertEqual(s, 200, rot)
        self.assertNotEqual(rot["public_key"], ep["public_key"])
        r = self.delivered(tok, "s.r")
        self.assertEqual(len(r["headers"]["webhook-signature"].split()), 2)  # new and previous key
        self.assertEqual(openssl_verifies(rot["public_key"], r["headers"], r["body"]), 1)
        self.assertEqual(openssl_verifies(ep["public_key"], r["headers"], r["body"]), 1)

    def test_scheme_is_checked_and_a_switch_keeps_the_pair(self):
        _, tok = self.tenant()
        s, b, _ = self.api("POST", "/v1/endpoints", {"url": self.rx.url(), "signature_scheme": "v2"}, tok)
        self.assertEqual((s, b.get("field")), (422, "signature_scheme"), b)
        ep = self.new_endpoint(tok, self.rx.url(), signature_scheme="v1a")
        s, p1, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"signature_scheme": "v1"}, tok)
        self.assertEqual((s, p1["public_key"]), (200, None))
        s, p2, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"signature_scheme": "both"}, tok)
        self.assertEqual((s, p2["public_key"]), (200, ep["public_key"]))  # the same pair, made once


if __name__ == "__main__":
    unittest.main()
