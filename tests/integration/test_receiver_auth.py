"""Issue 23: OAuth2 to receivers. An endpoint's `auth` (client credentials)
makes hookd fetch a token from token_url (form POST), cache it until
expires_in and share it across deliveries, send `Authorization: Bearer`;
a 401 fetches a fresh token once and retries once; a token endpoint that
fails is the attempt error auth_failed. The client secret is stored sealed
and never returned."""
import http.server
import json
import threading
import time
import urllib.parse

from harness import HookdCase, Receiver


class TokenServer:
    """Issues tok-1, tok-2, ... for client cid/csec; `valid` holds the
    tokens the receiver accepts; `fail` makes it answer 500."""

    def __init__(self, expires_in=3600):
        self.requests, self.valid, self.fail, self.expires_in = [], set(), False, expires_in
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                with outer.lock:
                    outer.requests.append(form)
                    ok = not outer.fail and form.get("client_id") == ["cid"] and form.get("client_secret") == ["csec"] \
                        and form.get("grant_type") == ["client_credentials"]
                    tok = "tok-%d" % len(outer.requests)
                    if ok:
                        outer.valid.add(tok)
                body = json.dumps({"access_token": tok, "token_type": "Bearer", "expires_in": outer.expires_in}
                                  if ok else {"error": "invalid_client"}).encode()
                self.send_response(200 if ok else (500 if outer.fail else 401))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/token" % self.server.server_address[1]

    def accepts(self, headers):
        auth = headers.get("Authorization") or ""
        with self.lock:
            return auth.startswith("Bearer ") and auth[7:] in self.valid

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ReceiverAuthTest(HookdCase):
    def setUp(self):
        self.ts = TokenServer()
        self.addCleanup(self.ts.close)
        self.rx = Receiver(lambda n, p, h, b: (200, {}, b"ok") if self.ts.accepts(h) else (401, {}, b"who?"))
        self.addCleanup(self.rx.close)
        _, self.tok = self.tenant()

    def endpoint(self, etype, **auth):
        a = {"type": "oauth2_client_credentials", "token_url": self.ts.url, "client_id": "cid",
             "client_secret": "csec", "scope": "webhooks"}
        a.update(auth)
        return self.new_endpoint(self.tok, self.rx.url(), event_types=[etype], auth=a)

    def test_one_token_is_shared_and_a_401_fetches_a_fresh_one(self):
        ep = self.endpoint("a.t")
        self.assertEqual(ep["auth"], {"type": "oauth2_client_credentials", "token_url": self.ts.url,
                                      "client_id": "cid", "scope": "webhooks"})  # never the secret
        key = self.redis.cli("--scan", "--pattern", "*:ep:%s" % ep["id"]).split()[0]
        self.assertTrue(self.redis.cli("HGET", key, "auth_client_secret").strip().startswith("hk1:"))
        dids = [self.send_event(self.tok, "a.t", {"i": i})["delivery_ids"][0] for i in range(5)]
        for d in dids:
            self.wait_state(self.tok, d, "completed")
        self.assertEqual(len(self.ts.requests), 1)  # one token for all five
        self.assertEqual(self.ts.requests[0]["scope"], ["webhooks"])
        with self.ts.lock:
            self.ts.valid.clear()  # the receiver stops accepting it
        d = self.send_event(self.tok, "a.t", {"i": 9})["delivery_ids"][0]
        self.wait_state(self.tok, d, "completed")
        self.assertEqual(len(self.ts.requests), 2)  # refreshed once after the 401
        s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % d, None, self.tok)
        self.assertEqual([a["status_code"] for a in att["data"]], [200])  # the retry is the same attempt

    def test_a_failing_token_endpoint_is_auth_failed(self):
        self.ts.fail = True
        self.endpoint("f.t")
        d = self.send_event(self.tok, "f.t", {"i": 1})["delivery_ids"][0]
        self.wait_state(self.tok, d, ("retrying", "errored"))
        s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % d, None, self.tok)
        self.assertEqual(att["data"][0]["error"], "auth_failed")
        self.assertEqual(self.rx.count(), 0)  # never sent without its token

    def test_an_expired_token_is_not_sent_when_its_refresh_fails(self):
        self.ts.expires_in = 1  # kept 0.9 s
        self.endpoint("e.t")
        d = self.send_event(self.tok, "e.t", {"i": 1})["delivery_ids"][0]
        self.wait_state(self.tok, d, "completed")
        time.sleep(1.2)
        self.ts.fail = True
        before = self.rx.count()
        d = self.send_event(self.tok, "e.t", {"i": 2})["delivery_ids"][0]
        self.wait_state(self.tok, d, ("retrying", "errored"))
        s, att, _ = self.api("GET", "/v1/deliveries/%s/attempts" % d, None, self.tok)
        self.assertEqual(att["data"][0]["error"], "auth_failed")
        self.assertEqual(self.rx.count(), before)  # the expired token was not used

    def test_bad_auth_is_422_and_null_removes_it(self):
        for bad in ({"type": "basic"}, {"client_id": ""}, {"token_url": "ftp://x/"}, {"client_secret": "s" * 200}):
            a = {"type": "oauth2_client_credentials", "token_url": self.ts.url, "client_id": "cid",
                 "client_secret": "csec"}
            a.update(bad)
            s, b, _ = self.api("POST", "/v1/endpoints", {"url": self.rx.url(), "auth": a}, self.tok)
            self.assertEqual((s, b.get("field")), (422, "auth"), (bad, b))
        ep = self.endpoint("n.t")
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"auth": None}, self.tok)
        self.assertEqual((s, b["auth"]), (200, None))


if __name__ == "__main__":
    import unittest
    unittest.main()
