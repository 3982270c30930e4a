"""Issue 19: every request and response on a connection is framed one way
only, so a proxy in front of hookd cannot read it differently: HEAD answers
carry no body, a body on HEAD or TRACE is refused, header names must be
tokens and values free of control bytes. At max_connections the longest
idle keep-alive connections make room for new clients. A payload reaches the
receiver as the producer's exact bytes (\\u0000 included); configuration
strings refuse a NUL by name."""
import json
import select
import signal
import socket
import time
import unittest

from harness import ROOT_TOKEN, Hookd, HookdCase, Redis, call, wait_for


def exchange(port, data, quiet=2.0):
    """Send raw bytes on one connection; what came back, and whether the
    server closed the connection (else it went quiet for `quiet` s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=quiet) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out, True
                out += chunk
        except socket.timeout:
            return out, False
        except ConnectionResetError:
            return out, True


def responses(buf, methods):
    """Split a byte stream into responses, as a client that sent `methods`
    in order reads it: a HEAD response has no body whatever its length.
    Returns [(status, {header: value}, body)] and the bytes left over."""
    out = []
    for m in methods:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            break
        head, buf = buf[:end].decode("latin-1"), buf[end + 4:]
        lines = head.split("\r\n")
        assert lines[0].startswith("HTTP/1.1 "), "not a status line: %r" % lines[0][:60]
        hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = 0 if m == "HEAD" else int(hdrs.get("content-length", 0))
        out.append((int(lines[0].split()[1]), hdrs, buf[:n]))
        buf = buf[n:]
    return out, buf


SMUGGLED = b"GET /v1/orgs HTTP/1.1\r\nHost: x\r\n\r\n"


class FramingTest(HookdCase):
    class_receiver = True

    def port(self):
        return self.hookd.port

    def test_head_answers_have_get_length_and_no_body(self):
        for path, status in (("/healthz", 200), ("/nope", 404), ("/v1/events", 405), ("/console", 200)):
            raw = (b"HEAD %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode() +
                   b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
            buf, closed = exchange(self.port(), raw)
            got, rest = responses(buf, ["HEAD", "GET"])
            self.assertEqual(len(got), 2, buf[:400])
            self.assertEqual((got[0][0], got[1][0]), (status, status), buf[:400])
            self.assertEqual(got[0][2], b"")
            self.assertEqual(int(got[0][1]["content-length"]), len(got[1][2]), path)  # what GET would send
            self.assertEqual(rest, b"", "bytes after the GET's response: %r" % rest[:80])
            self.assertTrue(closed)
        _, hdrs, _ = responses(exchange(self.port(), b"HEAD /v1/events HTTP/1.1\r\nHost: x\r\n"
                                                     b"Connection: close\r\n\r\n")[0], ["HEAD"])[0][0]
        self.assertIn("POST", hdrs["allow"])

    def test_body_on_head_or_trace_is_400_and_closed(self):
        for method in (b"HEAD", b"TRACE"):
            raw = b"%s /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (method, len(SMUGGLED)) + SMUGGLED
            buf, closed = exchange(self.port(), raw)
            got, rest = responses(buf, [method.decode(), "GET"])
            self.assertEqual([g[0] for g in got], [400], buf[:300])  # one response: the body was no request
            self.assertTrue(closed)

    def test_header_name_that_is_not_a_token_is_400_and_closed(self):
        _, tok = self.tenant()
        body = json.dumps({"type": "t", "payload": {"a": 1}}).encode()
        auth = b"Authorization: Bearer " + tok.encode() + b"\r\n"
        for bad in (b"Content-Length : %d\r\n" % len(SMUGGLED), b"Content-Length\t: %d\r\n" % len(SMUGGLED),
                    b": x\r\nContent-Length: %d\r\n" % len(SMUGGLED), b"X Y: 1\r\nContent-Length: %d\r\n" % len(SMUGGLED)):
            raw = b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + bad + b"\r\n" + SMUGGLED
            buf, closed = exchange(self.port(), raw)
            got, _ = responses(buf, ["POST", "GET"])
            self.assertEqual(([g[0] for g in got], closed), ([400], True), (bad, buf[:300]))
        raw = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + b"Transfer-Encoding : chunked\r\n" +
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        buf, closed = exchange(self.port(), raw)
        self.assertEqual(([g[0] for g in responses(buf, ["POST"])[0]], closed), ([400], True), buf[:300])

    def test_control_byte_in_a_header_is_400_and_closed(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["t"])
        body = json.dumps({"type": "t", "payload": {"a": 1}}).encode()
        auth = b"Authorization: Bearer " + tok.encode() + b"\r\n"
        for bad in (b"Content-Length: %d\x00 99\r\n" % len(body), b"X-Note: a\x01b\r\nContent-Length: %d\r\n" % len(body),
                    b"X-Note: a\x7fb\r\nContent-Length: %d\r\n" % len(body),
                    b"X-Note: a\rb\r\nContent-Length: %d\r\n" % len(body)):
            raw = b"POST /v1/events HTTP/1.1\r\nHost: x\r\n" + auth + bad + b"\r\n" + body
            buf, closed = exchange(self.port(), raw)
            self.assertEqual(([g[0] for g in responses(buf, ["POST"])[0]], closed), ([400], True), (bad, buf[:300]))
        s, lst, _ = self.api("GET", "/v1/deliveries", None, tok)
        self.assertEqual(lst["data"], [])  # none of them made an event

    def test_a_tab_in_a_header_value_is_still_accepted(self):
        _, tok = self.tenant()
        s, _, _ = self.api("GET", "/v1/endpoints", None, tok, headers={"X-Note": "a\tb"})
        self.assertEqual(s, 200)

    def test_payload_reaches_the_receiver_as_the_exact_bytes_sent(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["p"])
        deep = "[" * 28 + "1" + "]" * 28
        payload = ('{ "nul": "x\\u0000y", "b" : "z", "big": 123456789012345678901234567890, '
                   '"past53": 9007199254740993, "neg": -0.0, "f": 1.0000000000000002e-300, "g": 0.1, '
                   '"esc": "\\u00e9\\u2603\\ud83d\\ude00 \\"q\\" \\\\u0000", "lone": "\\ud800", '
                   '"utf8": "h\u00e9llo \U0001F600", "deep": %s, "long": "%s" }' % (deep, "L" * 50000))
        body = ('{"type":"p","payload":%s}' % payload).encode()
        before = self.rx.count()
        s, ev, _ = self.api("POST", "/v1/events", None, tok, raw=body)
        self.assertEqual(s, 202, ev)
        self.wait_state(tok, ev["delivery_ids"][0], "completed")
        got = self.rx.requests[before]["body"]
        self.assertEqual(got, payload.encode())  # the same bytes: strings, numbers, spacing
        self.assertEqual(json.loads(got)["nul"], "x\x00y")
        s, text, _ = call("GET", self.hookd.url("/v1/events/" + ev["id"]), None, tok)
        self.assertEqual((s, text["payload"]["nul"], text["payload"]["big"]), (200, "x\x00y", 123456789012345678901234567890))

    def test_nul_in_a_configuration_string_is_422_naming_the_field(self):
        org, tok = self.tenant()
        cases = [("/v1/endpoints", '{"url":"%s","description":"ab\\u0000cd"}' % self.rx.url(), "description", tok),
                 ("/v1/endpoints", '{"url":"%s\\u0000x"}' % self.rx.url(), "url", tok),
                 ("/v1/endpoints", '{"url":"%s","event_types":["a\\u0000b"]}' % self.rx.url(), "event_types", tok),
                 ("/v1/events", '{"type":"a\\u0000b","payload":{}}', "type", tok),
                 ("/v1/orgs", '{"name":"ac\\u0000me"}', "name", ROOT_TOKEN)]
        for path, raw, field, t in cases:
            s, b, _ = self.api("POST", path, None, t, raw=raw.encode())
            self.assertEqual((s, b.get("field")), (422, field), (raw, b))
            self.assertIn("NUL", b["detail"])
        self.assertEqual(self.api("GET", "/v1/endpoints", None, tok)[1]["data"], [])  # nothing was created


class IdleConnectionsTest(unittest.TestCase):
    """max_connections held by idle keep-alive connections: the longest
    idle are closed to admit new clients; a request in progress never is."""

    def setUp(self):
        self.redis = Redis()
        self.addCleanup(self.redis.close)
        self.hookd = Hookd(self.redis, max_connections=16)
        self.addCleanup(lambda: self.assertEqual(self.hookd.stop(), 0))

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.hookd.port), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_idle_connections_make_room_and_a_partial_request_survives(self):
        busy = self.connect()
        busy.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # a request in progress: half a head
        idle = []
        for _ in range(15):  # the rest of the cap, each after one answered request
            s = self.connect()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(4096))
            idle.append(s)
        wait_for(lambda: self.hookd.metric("hookd_http_connections") >= 16, what="16 connections held")
        for i in range(20):  # far past the cap: each new client gets in
            s, b, _ = call("GET", self.hookd.url("/healthz"), timeout=10)
            self.assertEqual(s, 200, i)
        self.assertGreaterEqual(self.hookd.metric("hookd_http_idle_closed_total"), 1)
        readable, _, _ = select.select(idle, [], [], 5)
        closed = [s for s in readable if s.recv(1) == b""]
        self.assertGreaterEqual(len(closed), 1)  # the oldest idle ones made the room
        busy.sendall(b"\r\n")  # the half-sent request completes on its connection
        self.assertIn(b"200 OK", busy.recv(4096))

    def test_a_request_arriving_as_its_connection_is_chosen_for_eviction_is_served(self):
        idle = []
        for _ in range(16):  # the cap, every one idle after an answered request
            s = self.connect()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertIn(b"200 OK", s.recv(4096))
            idle.append(s)
        # (no /metrics look here: that request would itself take the oldest's place)
        oldest = idle[0]
        self.hookd.proc.send_signal(signal.SIGSTOP)  # both arrive in one pass of its loop
        try:
            oldest.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            newcomer = socket.create_connection(("127.0.0.1", self.hookd.port), timeout=10)
            self.addCleanup(newcomer.close)
            time.sleep(0.2)
        finally:
            self.hookd.proc.send_signal(signal.SIGCONT)
        self.assertIn(b"200 OK", oldest.recv(4096))  # its request was not lost to the eviction
        oldest.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", oldest.recv(4096))  # nor is the connection closed later for it
        newcomer.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", newcomer.recv(4096))


if __name__ == "__main__":
    unittest.main()
