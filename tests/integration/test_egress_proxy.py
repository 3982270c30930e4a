"""Issue 23: the egress proxy. With egress_proxy set every delivery goes
through an HTTP CONNECT tunnel of that proxy (TLS inside it for https), and
hookd asks the proxy for the address it resolved and vetted itself, never
for a name, so the proxy cannot be used to reach an address hookd refuses. A
proxy that refuses the tunnel or is down is the error class proxy_error,
retried but not counted against the endpoint. The proxy's password never
appears in a log line."""
import base64
import json
import os
import socket
import subprocess
import threading

from harness import HOOKD_BIN, Hookd, HookdCase, Receiver, TestCA, free_port, wait_for

USER, PASSWORD = "hookd", "pa ss:w0rd"  # a space and a colon: escaped in the URL, sent as they are


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that records every tunnel asked of
    it. mode: "open" (tunnels to 127.0.0.1 only, refusing anything else with
    403), "refuse" (403 to everything), "close" (closes without answering)."""

    def __init__(self):
        self.asked = []  # (target, Proxy-Authorization)
        self.opened = 0
        self.mode = "open"
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 16384:
            chunk = c.recv(4096)
            if not chunk:
                c.close()
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1] if lines[0].startswith("CONNECT ") else lines[0]
        auth = next((l.split(":", 1)[1].strip() for l in lines[1:] if l.lower().startswith("proxy-authorization:")), None)
        with self.lock:
            self.asked.append((target, auth))
            mode = self.mode
        host, _, port = target.rpartition(":")
        if mode == "close":
            c.close()
            return
        if mode == "refuse" or host != "127.0.0.1":  # a private target is refused here too
            c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        try:
            up = socket.create_connection((host, int(port)), timeout=5)
        except OSError:
            c.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            c.close()
            return
        up.settimeout(None)
        with self.lock:
            self.opened += 1
        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=self._pipe, args=(up, c), daemon=True).start()
        self._pipe(c, up)

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def tunnels(self):
        with self.lock:
            return self.opened

    def close(self):
        self.sock.close()


PROXY = ConnectProxy()


class EgressProxyTest(HookdCase):
    # 127.0.0.1 alone is open to deliveries: 127.0.0.2 stays private
    hookd_conf = {"egress_proxy": "http://%s:%s@127.0.0.1:%d" % (USER, "pa%20ss%3Aw0rd", PROXY.port),
                  "allow_networks": "127.0.0.1/32", "retry_schedule": "0,1s,1s,1s"}

    def setUp(self):
        PROXY.mode = "open"

    def attempts(self, tok, did):
        s, b, _ = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)
        self.assertEqual(s, 200, b)
        return b["data"]

    def test_a_delivery_goes_through_a_tunnel_to_the_vetted_address(self):
        _, tok = self.tenant()
        rx = Receiver()
        self.addCleanup(rx.close)
        before = len(PROXY.asked)
        self.new_endpoint(tok, rx.url(host="localhost"), event_types=["p.http"])
        did = self.send_event(tok, "p.http")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        target, auth = PROXY.asked[before]
        self.assertEqual(target, "127.0.0.1:%d" % rx.port)  # the address hookd vetted, not the name
        self.assertEqual(auth, "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode())
        self.assertEqual(rx.requests[0]["headers"]["host"], "localhost:%d" % rx.port)  # Host keeps the name
        self.assertNotIn(PASSWORD, self.hookd.log())
        self.assertNotIn("pa%20ss", self.hookd.log())

    def test_https_goes_inside_the_tunnel_and_verifies_the_name(self):
        ca = TestCA()
        self.addCleanup(ca.close)
        rx = Receiver(tls=ca.issue("receiver", "DNS:localhost"))
        self.addCleanup(rx.close)
        with open(ca.ca_crt) as f:
            pem = f.read()
        _, tok = self.tenant()
        tunnels = PROXY.tunnels()
        self.new_endpoint(tok, rx.url(host="localhost"), event_types=["p.tls"], tls_ca=pem)
        did = self.send_event(tok, "p.tls")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        self.assertGreater(PROXY.tunnels(), tunnels)
        self.assertEqual(rx.count(), 1)
        # a body larger than what the splice queues before pausing a side
        big = {"blob": "x" * (900 * 1024)}
        did = self.send_event(tok, "p.tls", payload=big)["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        self.assertEqual(len(rx.requests[1]["body"]), len(json.dumps(big)))

    def test_a_private_target_is_never_asked_of_the_proxy(self):
        _, tok = self.tenant()
        before = len(PROXY.asked)
        self.new_endpoint(tok, "http://127.0.0.2:%d/hook" % free_port(), event_types=["p.private"])
        did = self.send_event(tok, "p.private")["delivery_ids"][0]
        wait_for(lambda: self.attempts(tok, did), what="an attempt")
        self.assertEqual(self.attempts(tok, did)[0]["error"], "private_uri")
        self.assertEqual([a for a in PROXY.asked[before:] if a[0].startswith("127.0.0.2")], [])

    def test_a_refused_or_dead_tunnel_is_proxy_error_and_not_the_endpoints(self):
        _, tok = self.tenant()
        for mode in ("refuse", "close"):
            rx = Receiver()  # its own: a pooled tunnel to a receiver already reached would be used again
            self.addCleanup(rx.close)
            ep = self.new_endpoint(tok, rx.url(), event_types=["p." + mode])
            PROXY.mode = mode
            did = self.send_event(tok, "p." + mode)["delivery_ids"][0]
            wait_for(lambda: len(self.attempts(tok, did)) >= 2, what="two attempts")
            self.assertEqual({a["error"] for a in self.attempts(tok, did)}, {"proxy_error"})
            key = self.redis.cli("--scan", "--pattern", "*:ep:%s" % ep["id"]).split()[0]
            self.assertIn(self.redis.cli("HGET", key, "consecutive_failures").strip(), ("", "0"))
            PROXY.mode = "open"  # the proxy is back: the retry gets through
            self.wait_state(tok, did, "completed")
            self.assertEqual(rx.count(), 1)
            s, b, _ = self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)
            self.assertEqual(b["status"], "ACTIVE")


class EgressProxyDownTest(HookdCase):
    hookd_conf = {"egress_proxy": "http://127.0.0.1:%d" % free_port(), "retry_schedule": "0,1h"}

    def check(self, value):
        env = dict(os.environ, HOOKD_EGRESS_PROXY=value, HOOKD_SECRET_KEY=base64.b64encode(b"k" * 32).decode())
        return subprocess.run([HOOKD_BIN, "--check-config"], env=env, capture_output=True, text=True, timeout=30)

    def test_a_bad_proxy_url_is_a_start_up_error_that_keeps_the_password(self):
        for bad in ("https://u:secretpw@proxy:3128", "http://u:secretpw@proxy", "socks5://proxy:1080",
                    "http://u:secret%zzpw@proxy:3128", "http://proxy:3128/path"):
            out = self.check(bad)
            self.assertNotEqual(out.returncode, 0, bad)
            self.assertIn("egress_proxy", out.stderr + out.stdout, bad)
            self.assertNotIn("secret", out.stderr + out.stdout, bad)
        self.assertEqual(self.check("http://u:p@127.0.0.1:3128").returncode, 0)

    def test_a_proxy_that_is_not_listening_is_proxy_error(self):
        rx = Receiver()
        self.addCleanup(rx.close)
        _, tok = self.tenant()
        self.new_endpoint(tok, rx.url(), event_types=["p.down"])
        did = self.send_event(tok, "p.down")["delivery_ids"][0]
        wait_for(lambda: self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)[1]["data"], what="an attempt")
        att = self.api("GET", "/v1/deliveries/%s/attempts" % did, None, tok)[1]["data"]
        self.assertEqual(att[0]["error"], "proxy_error")
        self.assertEqual(rx.count(), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
