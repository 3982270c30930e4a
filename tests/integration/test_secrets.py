"""Issue 23: endpoint signing secrets are stored in Redis only sealed
(AES-256-GCM under secret_key, the endpoint id as associated data). No
secret's bytes are in a dump; clear secrets of an older store are sealed at
start-up; a wrong key is refused before anything is written; keys rotate
with secret_key_previous; hookd will not start without a key unless told to
store secrets in clear."""
import base64
import os
import subprocess
import time
import unittest

from harness import (HOOKD_BIN, ROOT_TOKEN, TEST_SECRET_KEY, Hookd, HookdCase, Receiver, Redis, call, command_calls,
                     verify_signature, wait_for)

OTHER_KEY = base64.b64encode(b"another-32-byte-secret-key-00000").decode()


def check_config(**env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
    e.update(env)
    return subprocess.run([HOOKD_BIN, "--check-config"], env=e, capture_output=True, text=True, timeout=30)


def tenant(h):
    org = call("POST", h.url("/v1/orgs"), {"name": "s"}, ROOT_TOKEN)[1]["id"]
    return call("POST", h.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                              "scopes": ["webhooks:manage", "webhooks:read", "events:write"]},
                ROOT_TOKEN)[1]["token"]


def stored_secret(redis, ep):
    key = redis.cli("--scan", "--pattern", "*:ep:%s" % ep).split()[0]
    return redis.cli("HGET", key, "secret").strip(), key


class KeyConfigTest(unittest.TestCase):
    def test_no_key_is_refused_unless_plaintext_is_allowed(self):
        p = check_config()
        self.assertEqual(p.returncode, 2)
        self.assertIn("secret_key", p.stderr)
        self.assertIn("allow_plaintext_secrets", p.stderr)
        self.assertEqual(check_config(HOOKD_ALLOW_PLAINTEXT_SECRETS="yes").returncode, 0)
        self.assertEqual(check_config(HOOKD_SECRET_KEY=TEST_SECRET_KEY).returncode, 0)

    def test_a_malformed_key_is_refused_without_echoing_it(self):
        for bad in ("c2hvcnQ=", "not base64 at all!", TEST_SECRET_KEY[:-4]):
            p = check_config(HOOKD_SECRET_KEY=bad)
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("base64 of 32 random bytes", p.stderr)
            self.assertNotIn(bad, p.stderr)
        p = check_config(HOOKD_SECRET_KEY_PREVIOUS=TEST_SECRET_KEY, HOOKD_ALLOW_PLAINTEXT_SECRETS="yes")
        self.assertEqual(p.returncode, 2)
        self.assertIn("secret_key_previous", p.stderr)


class AtRestTest(HookdCase):
    class_receiver = True

    def test_no_secret_bytes_in_a_dump_and_deliveries_still_verify(self):
        _, tok = self.tenant()
        given = "whsec_" + base64.b64encode(b"a given secret of 32 bytes......").decode()
        made = self.new_endpoint(tok, self.rx.url("/a"))
        named = self.new_endpoint(tok, self.rx.url("/b"), secret=given)
        rotated = self.new_endpoint(tok, self.rx.url("/c"))
        s, rot, _ = self.api("POST", "/v1/endpoints/%s/rotate-secret" % rotated["id"], None, tok)
        self.assertEqual(s, 200, rot)
        secrets = [made["secret"], given, rotated["secret"], rot["secret"]]
        for ep in (made, named, rotated):
            self.assertTrue(stored_secret(self.redis, ep["id"])[0].startswith("hk1:"))
        self.redis.cli("CONFIG", "SET", "rdbcompression", "no")
        self.assertIn("OK", self.redis.cli("SAVE"))
        with open(os.path.join(self.redis.dir, "dump.rdb"), "rb") as f:
            rdb = f.read()
        for sec in secrets:
            self.assertNotIn(sec.encode(), rdb)
            self.assertNotIn(sec[6:].encode(), rdb)  # the key material without its prefix
            self.assertNotIn(base64.b64decode(sec[6:]), rdb)
        before = self.rx.count()
        ev = self.send_event(tok, "x", {"n": 1})
        for did in ev["delivery_ids"]:
            self.wait_state(tok, did, "completed")
        got = {r["path"]: r for r in self.rx.requests[before:]}
        self.assertTrue(verify_signature(made["secret"], got["/a"]["headers"], got["/a"]["body"]))
        self.assertTrue(verify_signature(given, got["/b"]["headers"], got["/b"]["body"]))
        self.assertTrue(verify_signature(rot["secret"], got["/c"]["headers"], got["/c"]["body"]))

    def test_a_sealed_secret_moved_to_another_endpoint_does_not_open(self):
        _, tok = self.tenant()
        a = self.new_endpoint(tok, self.rx.url("/a"), event_types=["only.a"])
        b = self.new_endpoint(tok, self.rx.url("/b"), event_types=["only.b"])
        sealed_a, _ = stored_secret(self.redis, a["id"])
        _, key_b = stored_secret(self.redis, b["id"])
        self.redis.cli("HSET", key_b, "secret", sealed_a)
        before = self.rx.count()
        self.send_event(tok, "only.b", {"n": 1})
        wait_for(lambda: "opens with no configured key" in self.hookd.log(), what="the refusal logged")
        time.sleep(0.5)
        self.assertEqual(self.rx.count(), before)  # never sent with a secret that is not its own


class MigrationTest(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()
        self.addCleanup(self.redis.close)
        self.rx = Receiver()
        self.addCleanup(self.rx.close)

    def run_hookd(self, **conf):
        h = Hookd(self.redis, wait="listening", **conf)  # some are refused their key
        self.addCleanup(lambda: h.proc.poll() is None and h.stop())
        return h

    def deliver(self, h, tok, secret):
        before = self.rx.count()
        s, ev, _ = call("POST", h.url("/v1/events"), {"type": "t", "payload": {"at": time.time()}}, tok)
        self.assertEqual(s, 202, ev)
        wait_for(lambda: self.rx.count() > before, what="a delivery")
        r = self.rx.requests[before]
        self.assertTrue(verify_signature(secret, r["headers"], r["body"]))

    def test_clear_secrets_are_sealed_a_wrong_key_refused_and_keys_rotate(self):
        plain = self.run_hookd(secret_key="", allow_plaintext_secrets="yes")
        plain.wait_ready()
        tok = tenant(plain)
        ep = call("POST", plain.url("/v1/endpoints"), {"url": self.rx.url(), "signature_scheme": "both"}, tok)[1]
        clear, key = stored_secret(self.redis, ep["id"])
        self.assertEqual(clear, ep["secret"])  # the older way: in clear
        self.assertTrue(self.redis.cli("HGET", key, "sign_key").strip().startswith("whsk_"))
        self.assertEqual(plain.stop(), 0)

        first = self.run_hookd()  # TEST_SECRET_KEY
        first.wait_ready()
        wait_for(lambda: stored_secret(self.redis, ep["id"])[0].startswith("hk1:"), what="the secret sealed")
        self.assertIn("every endpoint secret is sealed", first.log())
        self.assertTrue(self.redis.cli("HGET", key, "sign_key").strip().startswith("hk1:"))  # the v1a key too
        self.deliver(first, tok, ep["secret"])
        self.assertEqual(first.stop(), 0)
        sealed_k1, _ = stored_secret(self.redis, ep["id"])

        wrong = self.run_hookd(secret_key=OTHER_KEY)
        wait_for(lambda: wrong.proc.poll() is not None, what="a wrong key refused")
        self.assertEqual(wrong.proc.returncode, 2)
        self.assertIn("neither secret_key nor secret_key_previous opens", wrong.log())
        self.assertEqual(stored_secret(self.redis, ep["id"])[0], sealed_k1)  # nothing overwritten

        rotating = self.run_hookd(secret_key=OTHER_KEY, secret_key_previous=TEST_SECRET_KEY)
        rotating.wait_ready()
        wait_for(lambda: stored_secret(self.redis, ep["id"])[0] != sealed_k1, what="sealed again under the new key")
        self.deliver(rotating, tok, ep["secret"])
        wait_for(lambda: "every endpoint secret is sealed" in rotating.log(), what="the walk's end")
        self.assertEqual(rotating.stop(), 0)

        after = self.run_hookd(secret_key=OTHER_KEY)  # the old key is no longer needed
        after.wait_ready()
        self.deliver(after, tok, ep["secret"])
        self.assertIsNone(after.proc.poll())


    def test_a_walk_spares_the_next_starts_for_a_day_and_then_runs_again(self):
        first = self.run_hookd()
        first.wait_ready()
        tok = tenant(first)
        ep = call("POST", first.url("/v1/endpoints"), {"url": self.rx.url()}, tok)[1]
        wait_for(lambda: "every endpoint secret is sealed" in first.log(), what="the first walk's end")
        wait_for(lambda: self.redis.cli("GET", "hookd:{g}:secret-walked").strip() ==
                 self.redis.cli("GET", "hookd:{g}:secret-check").strip(), what="the walk recorded")
        ttl = int(self.redis.cli("TTL", "hookd:{g}:secret-walked"))
        self.assertTrue(0 < ttl <= 86400, ttl)
        self.assertEqual(first.stop(), 0)

        scans = command_calls(self.redis, "scan")
        second = self.run_hookd()
        second.wait_ready()
        wait_for(lambda: "a walk within the last day" in second.log(), what="the walk skipped")
        self.deliver(second, tok, ep["secret"])
        self.assertEqual(command_calls(self.redis, "scan"), scans)  # no key of the store walked
        self.assertNotIn("every endpoint secret is sealed", second.log())
        self.assertEqual(second.stop(), 0)

        # a clear secret written by a process without the key (a rollout), then the day over
        _, key = stored_secret(self.redis, ep["id"])
        clear = "whsec_" + base64.b64encode(b"a clear secret left by a rollout").decode()
        self.redis.cli("HSET", key, "secret", clear)
        self.redis.cli("DEL", "hookd:{g}:secret-walked")
        third = self.run_hookd()
        third.wait_ready()
        wait_for(lambda: stored_secret(self.redis, ep["id"])[0].startswith("hk1:"), what="the clear secret sealed")
        self.assertGreater(command_calls(self.redis, "scan"), scans)
        self.deliver(third, tok, clear)


if __name__ == "__main__":
    unittest.main()
