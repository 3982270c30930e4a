"""Bad input never crashes hookd and never changes anything: each case gets a
clear 4xx naming the problem, and the org's data is the same afterwards."""
import json
import unittest

from harness import HookdCase, call


class BadInputTest(HookdCase):
    hookd_conf = {"max_body_bytes": 4096}
    class_receiver = True

    def snapshot(self, tok):
        eps = self.api("GET", "/v1/endpoints", None, tok)[1]["data"]
        dls = self.api("GET", "/v1/deliveries", None, tok)[1]["data"]
        return json.dumps([sorted(e["id"] for e in eps), [(e["url"], e["event_types"], e["status"]) for e in eps],
                           sorted(d["id"] for d in dls)], sort_keys=True)

    def expect(self, status, method, path, tok, raw=None, body=None, field=None, headers=None):
        s, b, h = call(method, self.hookd.url(path), body, tok, headers=headers, raw=raw)
        self.assertEqual(s, status, (method, path, raw, b))
        self.assertIsInstance(b, dict, b)
        self.assertEqual(b.get("status"), status, b)
        self.assertTrue(b.get("detail"), b)
        if field:
            self.assertEqual(b.get("field"), field, b)
        return b

    def test_bad_bodies_get_400_and_change_nothing(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        self.send_event(tok, "a")
        before = self.snapshot(tok)
        deep = "[" * 200 + "]" * 200
        cases = [
            ("POST", "/v1/endpoints", b"{", None),
            ("POST", "/v1/endpoints", b"", None),
            ("POST", "/v1/endpoints", b"[]", None),
            ("POST", "/v1/endpoints", b"null", None),
            ("POST", "/v1/endpoints", b'{"url": "http://x"} trailing', None),
            ("POST", "/v1/endpoints", b'{"url": /*c*/ "http://x"}', None),
            ("POST", "/v1/endpoints", b'{"url": "http://x\x00y"}', None),
            ("POST", "/v1/endpoints", b'{"url": "\xff\xfe"}', None),
            ("POST", "/v1/endpoints", ('{"url": %s}' % deep).encode(), None),
            ("POST", "/v1/endpoints", b'{"url": 5}', "url"),
            ("POST", "/v1/endpoints", b'{}', "url"),
            ("POST", "/v1/endpoints", b'{"url": "ftp://x/"}', "url"),
            ("POST", "/v1/endpoints", b'{"url": "not a url"}', "url"),
            ("POST", "/v1/endpoints", b'{"url": "http://u:p@x/"}', "url"),
            ("POST", "/v1/endpoints", json.dumps({"url": "http://x/" + "a" * 3000}).encode(), "url"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "colour": "red"}', "colour"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "event_types": "a"}', "event_types"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "event_types": [1]}', "event_types"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "event_types": ["a b"]}', "event_types"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "max_in_flight": 0}', "max_in_flight"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "max_in_flight": 1.5}', "max_in_flight"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "max_in_flight": 99999999999999999999999}', "max_in_flight"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "secret": "plain"}', "secret"),
            ("POST", "/v1/endpoints", b'{"url": "http://x/", "description": true}', "description"),
            ("PATCH", "/v1/endpoints/" + ep["id"], b'{"url": 1}', "url"),
            ("PATCH", "/v1/endpoints/" + ep["id"], b'{"secret": "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"}', "secret"),
            ("PATCH", "/v1/endpoints/" + ep["id"], b'{"event_types": ["ok", ""]}', "event_types"),
            ("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], b'{"secret": "whsec_!!"}', "secret"),
            ("POST", "/v1/events", b'{"type": "a"}', "payload"),
            ("POST", "/v1/events", b'{"payload": {}}', "type"),
            ("POST", "/v1/events", b'{"type": 3, "payload": {}}', "type"),
            ("POST", "/v1/events", b'{"type": "a", "payload": {}, "extra": 1}', "extra"),
            ("POST", "/v1/events", b'{"type": "a", "payload": {}, "sync_session_id": "nope"}', "sync_session_id"),
            ("POST", "/v1/events", b'{"type": "a", "payload": {}, "request_id": "has space"}', "request_id"),
            ("POST", "/v1/events", json.dumps({"type": "t" * 500, "payload": {}}).encode(), "type"),
        ]
        for method, path, raw, field in cases:
            with self.subTest(body=raw[:60]):
                self.expect(400, method, path, tok, raw=raw, field=field)
        self.expect(400, "POST", "/v1/events", tok, raw=b'{"type":"a","payload":{}}',
                    headers={"Idempotency-Key": "x" * 300}, field="Idempotency-Key")
        self.assertEqual(self.snapshot(tok), before)

    def test_body_over_the_limit_gets_413_problem(self):
        _, tok = self.tenant()
        before = self.snapshot(tok)
        big = json.dumps({"type": "a", "payload": {"x": "y" * 6000}}).encode()
        b = self.expect(413, "POST", "/v1/events", tok, raw=big)
        self.assertIn("limit", b["detail"])
        # far over the limit: libevent refuses it itself; still a 413, still alive
        s, _, _ = call("POST", self.hookd.url("/v1/events"), token=tok, raw=b"x" * 100000)
        self.assertEqual(s, 413)
        self.assertEqual(self.snapshot(tok), before)
        self.assertEqual(self.api("GET", "/healthz")[0], 200)

    def test_bad_ids_and_query_parameters(self):
        _, tok = self.tenant()
        for path in ["/v1/endpoints/not-a-uuid", "/v1/endpoints/" + "A" * 36, "/v1/events/%00",
                     "/v1/deliveries/../../etc", "/v1/deliveries/" + "9" * 200]:
            with self.subTest(path=path):
                s, b, _ = self.api("GET", path, None, tok)
                self.assertIn(s, (400, 404), (path, b))
        for q, field in [("limit=0", "limit"), ("limit=abc", "limit"), ("limit=100000", "limit"),
                         ("cursor=zzz", "cursor"), ("state=lost", "state"), ("endpoint_id=1", "endpoint_id"),
                         ("created_since=yesterday", "created_since"), ("created_until=2020-13-45T00:00:00Z", "created_until"),
                         ("sync_session_id=x", "sync_session_id"), ("event_type=a%20b", "event_type"),
                         ("bogus=1", "bogus")]:
            with self.subTest(q=q):
                self.expect(400, "GET", "/v1/deliveries?" + q, tok, field=field)
        self.expect(400, "GET", "/v1/endpoints?limit=-1", tok, field="limit")

    def test_unknown_routes_and_methods(self):
        _, tok = self.tenant()
        self.expect(404, "GET", "/v2/nothing", tok)
        self.expect(405, "PUT", "/v1/endpoints", tok, raw=b"{}")
        self.expect(405, "DELETE", "/v1/events", tok)

    def test_garbage_requests_do_not_crash(self):
        import socket
        for payload in [b"GARBAGE\r\n\r\n", b"POST /v1/events HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                        b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                        b"POST /v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]:
            s = socket.create_connection(("127.0.0.1", self.hookd.port))
            s.sendall(payload)
            s.settimeout(5)
            try:
                s.recv(1000)
            except OSError:
                pass
            s.close()
        self.assertEqual(self.api("GET", "/healthz")[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
