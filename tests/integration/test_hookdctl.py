"""Issue 25: hookdctl against a real hookd: every command, tables and
--json, and exit codes that say what failed (2 usage, 3 not found, 4 auth,
5 server); a bad URL, no token, a server answering garbage or hanging: one
line on stderr and a non-zero exit, never a crash or a hang past --timeout."""
import json
import os
import socket
import subprocess
import threading
import time

from harness import HOOKD_BIN, ROOT_TOKEN, HookdCase

CTL = os.path.join(os.path.dirname(HOOKD_BIN), "hookdctl")


class HookdctlTest(HookdCase):
    class_receiver = True

    def ctl(self, *args, token=None, url=None, timeout=60):
        env = dict(os.environ, HOOKD_URL=url or "http://127.0.0.1:%d" % self.hookd.port)
        env.pop("HOOKD_TOKEN", None)
        if token:
            env["HOOKD_TOKEN"] = token
        out = subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=timeout)
        return out.returncode, out.stdout, out.stderr

    def json(self, *args, token=None):
        rc, out, err = self.ctl("--json", *args, token=token)
        self.assertEqual(rc, 0, err)
        return json.loads(out)

    def test_help_health_and_usage_errors(self):
        rc, out, _ = self.ctl("--help")
        self.assertEqual(rc, 0)
        self.assertIn("usage: hookdctl", out)
        rc, out, _ = self.ctl("health")
        self.assertEqual((rc, "ready" in out), (0, True), out)
        for args in (["orgs", "ls"], ["nope"], ["--token", "x", "deliveries", "get", "../x"], ["--token", "x"]):
            rc, out, err = self.ctl(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertEqual(len(err.strip().splitlines()), 1, err)  # one line

    def test_orgs_and_tokens(self):
        org = self.json("orgs", "create", "from-cli", token=ROOT_TOKEN)
        rc, out, _ = self.ctl("orgs", "ls", token=ROOT_TOKEN)
        self.assertEqual(rc, 0)
        self.assertIn("from-cli", out)
        self.assertIn(org["id"], out)
        tok = self.json("tokens", "create", "--org", org["id"], "--scopes", "webhooks:read,webhooks:manage",
                        "--admin", "--name", "ops", token=ROOT_TOKEN)
        self.assertEqual(sorted(tok["scopes"]), ["webhooks:manage", "webhooks:read"])
        rc, out, _ = self.ctl("tokens", "ls", token=ROOT_TOKEN)
        self.assertIn(tok["id"], out)
        self.assertEqual(self.ctl("endpoints", "ls", token=tok["token"])[0], 0)
        rc, out, _ = self.ctl("tokens", "revoke", tok["id"], token=ROOT_TOKEN)
        self.assertEqual((rc, out.strip()), (0, "done"))
        rc, _, err = self.ctl("endpoints", "ls", token=tok["token"])
        self.assertEqual(rc, 4, err)  # revoked: authentication
        self.assertIn("HTTP 401", err)

    def test_endpoints_events_deliveries_and_redelivery(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url())
        rc, out, _ = self.ctl("endpoints", "ls", token=tok)
        self.assertEqual(rc, 0)
        self.assertIn(ep["id"], out)
        self.assertEqual(self.json("endpoints", "disable", ep["id"], token=tok)["status"], "DISABLED")
        self.assertEqual(self.json("endpoints", "enable", ep["id"], token=tok)["status"], "ACTIVE")
        self.assertTrue(self.json("endpoints", "rotate-secret", ep["id"], token=tok)["secret"].startswith("whsec_"))
        t0 = int(time.time()) - 1
        ev = self.send_event(tok, "order.paid", {"n": 1})
        did = ev["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        self.assertEqual(self.json("events", "get", ev["id"], token=tok)["payload"], {"n": 1})
        rc, out, _ = self.ctl("deliveries", "ls", "--endpoint", ep["id"], "--state", "completed", token=tok)
        self.assertEqual(rc, 0)
        self.assertIn(did, out)
        self.assertEqual(self.json("deliveries", "get", did, token=tok)["state"], "completed")
        rc, out, _ = self.ctl("deliveries", "attempts", did, token=tok)
        self.assertEqual(rc, 0)
        self.assertIn("200", out)
        replay = self.json("redeliver", did, token=tok)
        self.assertEqual(replay["replay_of_delivery_id"], did)
        self.assertEqual(self.json("requeue", ep["id"], "--failed", token=tok)["requeued"], 0)
        rc, out, err = self.ctl("resend", "--since", str(t0), "--until", str(int(time.time()) + 1), "--dry-run",
                                token=tok)
        self.assertEqual(rc, 0, err)
        self.assertIn("completed", out)
        job = [l.split()[1] for l in out.splitlines() if l.startswith("id ")][0]
        self.assertEqual(self.json("jobs", "get", job, token=tok)["state"], "completed")
        rc, _, err = self.ctl("deliveries", "get", "0190a000-0000-7000-8000-000000000001", token=tok)
        self.assertEqual(rc, 3, err)
        rc, _, err = self.ctl("deliveries", "ls", "--since", "yesterday", token=tok)
        self.assertEqual(rc, 2, err)

    def test_resend_can_be_limited_to_one_endpoint(self):
        _, tok = self.tenant()
        a = self.new_endpoint(tok, self.rx.url("/a"))
        self.new_endpoint(tok, self.rx.url("/b"))
        t0 = int(time.time()) - 1
        for i in range(2):
            for d in self.send_event(tok, "x", {"i": i})["delivery_ids"]:
                self.wait_state(tok, d, "completed")
        rc, out, err = self.ctl("--json", "resend", "--since", str(t0), "--until", str(int(time.time()) + 1),
                                "--endpoint", a["id"], "--dry-run", token=tok)
        self.assertEqual(rc, 0, err)
        job = json.loads(out)
        self.assertEqual((job["state"], job["matched"]), ("completed", 2))  # a's two of the four

    def test_a_dead_garbage_or_hanging_server_is_a_one_line_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        rc, _, err = self.ctl("orgs", "ls", token="x", url="http://127.0.0.1:%d" % port)
        self.assertEqual((rc, len(err.strip().splitlines())), (5, 1), err)

        def serve(behaviour):
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen(4)
            held = []

            def run():
                while True:
                    try:
                        c, _ = srv.accept()
                    except OSError:
                        return
                    c.recv(4096)
                    if behaviour == "garbage":
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!")
                        c.close()
                    else:
                        held.append(c)  # never answers
            threading.Thread(target=run, daemon=True).start()
            self.addCleanup(srv.close)
            return "http://127.0.0.1:%d" % srv.getsockname()[1]

        rc, _, err = self.ctl("orgs", "ls", token="x", url=serve("garbage"))
        self.assertEqual(rc, 5, err)
        self.assertIn("not JSON", err)
        t0 = time.time()
        rc, _, err = self.ctl("--timeout", "2", "orgs", "ls", token="x", url=serve("hang"), timeout=30)
        self.assertEqual(rc, 5, err)
        self.assertLess(time.time() - t0, 20)  # bounded by --timeout, not by the test's own limit


if __name__ == "__main__":
    import unittest
    unittest.main()
