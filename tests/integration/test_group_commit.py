"""Issue 10: group commit. Events that arrive together are stored by one
ingest script call per partition (store/ingest.c), and none is acknowledged
before the call that stored it answered: a hookd killed mid-load leaves no
producer holding a 202 for an event Redis does not have."""
import http.client
import json
import socket
import threading
import unittest

from harness import ROOT_TOKEN, Hookd, Receiver, Redis, call, wait_for


def tenant(hookd, url=None):
    org = call("POST", hookd.url("/v1/orgs"), {"name": "gc"}, ROOT_TOKEN)[1]["id"]
    tok = call("POST", hookd.url("/v1/tokens"), {"org_id": org, "user_id": 1, "admin": True, "name": "t",
                                                 "scopes": ["webhooks:manage", "webhooks:read", "events:write"]},
               ROOT_TOKEN)[1]["token"]
    ep = call("POST", hookd.url("/v1/endpoints"), {"url": url or "http://127.0.0.1:9/x", "event_types": ["a"]}, tok)[1]
    if not url:  # DISABLED: events are stored and scheduled, nothing is sent
        call("POST", hookd.url("/v1/endpoints/%s/disable" % ep["id"]), None, tok)
    return tok


def raw_post(port, tok, i):
    body = json.dumps({"type": "a", "payload": {"i": i}}).encode()
    return (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (port, tok.encode(), len(body), body))


def read_all(sock):
    """What the peer sent until it closed (Connection: close); closes sock."""
    reply = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    sock.close()
    return reply


class GroupCommitTest(unittest.TestCase):
    def setUp(self):
        self.redis = Redis()
        self.hookd = Hookd(self.redis)

    def tearDown(self):
        try:
            if self.hookd.proc.poll() is None:
                self.assertEqual(self.hookd.stop(), 0, self.hookd.log()[-4000:])
        finally:
            self.redis.close()

    def test_events_arriving_together_share_one_script_call(self):
        tok = tenant(self.hookd)
        calls0, events0 = self.hookd.metric("hookd_ingest_calls_total"), self.hookd.metric("hookd_ingest_events_total")
        sent = 0
        for round_ in range(3):
            # 8 whole requests written at once on 8 connections: hookd reads
            # them in the same pass of its loop
            socks = [socket.create_connection(("127.0.0.1", self.hookd.port)) for _ in range(8)]
            reqs = [raw_post(self.hookd.port, tok, round_ * 8 + i) for i in range(8)]
            for s, r in zip(socks, reqs):
                s.sendall(r)
            for s in socks:
                reply = read_all(s)
                self.assertTrue(reply.startswith(b"HTTP/1.1 202"), reply[:200])
                sent += 1
        calls = self.hookd.metric("hookd_ingest_calls_total") - calls0
        events = self.hookd.metric("hookd_ingest_events_total") - events0
        self.assertEqual(events, sent)
        self.assertLess(calls, events, "no two events shared a call")
        s, lst, _ = call("GET", self.hookd.url("/v1/deliveries?limit=100"), None, tok)
        self.assertEqual(len(lst["data"]), sent)

    def test_events_arriving_while_a_call_is_in_redis_wait_and_share_the_next(self):
        # a token cache, so that only ingest.lua's call needs Redis once warm
        h = Hookd(self.redis, token_cache="60s")
        try:
            tok = tenant(h)
            self.assertEqual(call("POST", h.url("/v1/events"), {"type": "a", "payload": {}}, tok)[0], 202)  # warm
            calls0, events0 = h.metric("hookd_ingest_calls_total"), h.metric("hookd_ingest_events_total")
            # Redis holds every write for 2 s: the first event's call waits in it
            self.redis.cli("CLIENT", "PAUSE", "2000", "WRITE")
            first = socket.create_connection(("127.0.0.1", h.port))
            first.sendall(raw_post(h.port, tok, 0))
            threading.Event().wait(0.2)  # its call sent (whether or not: the rest arrive in passes of their own)
            socks = []
            for i in range(1, 9):  # one at a time: each read in a loop pass of its own
                sock = socket.create_connection(("127.0.0.1", h.port))
                sock.sendall(raw_post(h.port, tok, i))
                socks.append(sock)
                threading.Event().wait(0.02)
            for sock in [first] + socks:
                reply = read_all(sock)
                self.assertTrue(reply.startswith(b"HTTP/1.1 202"), reply[:200])
            # the first call, then one for the eight that waited behind it
            self.assertEqual(h.metric("hookd_ingest_events_total") - events0, 9)
            self.assertEqual(h.metric("hookd_ingest_calls_total") - calls0, 2)
        finally:
            self.assertEqual(h.stop(), 0, h.log()[-4000:])

    def test_outcomes_finishing_while_a_complete_call_is_in_redis_share_the_next(self):
        gates = [threading.Event() for _ in range(11)]
        gates[1].set()  # the warm-up delivery is answered at once, the others when let go

        def behaviour(n, path, headers, body):
            gates[n].wait(30)
            return (200, {}, b"ok")
        rx = Receiver(behaviour)
        h = Hookd(self.redis, token_cache="60s")
        try:
            tok = tenant(h, rx.url())
            self.assertEqual(call("POST", h.url("/v1/events"), {"type": "a", "payload": {}}, tok)[0], 202)
            wait_for(lambda: h.metric("hookd_complete_outcomes_total") == 1, what="the warm-up outcome")
            for i in range(9):
                self.assertEqual(call("POST", h.url("/v1/events"), {"type": "a", "payload": {"i": i}}, tok)[0], 202)
            wait_for(lambda: rx.count() == 10, what="nine deliveries held by the receiver")
            calls0 = h.metric("hookd_complete_calls_total")
            # Redis holds every write for 2 s: the first outcome's call waits
            # in it while the other eight finish, one loop pass each
            self.redis.cli("CLIENT", "PAUSE", "2000", "WRITE")
            gates[2].set()
            threading.Event().wait(0.2)
            for n in range(3, 11):
                gates[n].set()
                threading.Event().wait(0.02)
            wait_for(lambda: h.metric("hookd_complete_outcomes_total") == 10, what="the outcomes recorded")
            self.assertEqual(h.metric("hookd_complete_calls_total") - calls0, 2)
        finally:
            for g in gates:
                g.set()
            rx.close()
            self.assertEqual(h.stop(), 0, h.log()[-4000:])

    def test_no_202_without_the_event_in_redis_when_hookd_is_killed(self):
        tok = tenant(self.hookd)
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def producer(n):
            i = 0
            while not stop.is_set():
                c = http.client.HTTPConnection("127.0.0.1", self.hookd.port, timeout=10)
                try:
                    while not stop.is_set():
                        body = json.dumps({"type": "a", "payload": {"p": n, "i": i}})
                        c.request("POST", "/v1/events", body, {"Authorization": "Bearer " + tok,
                                                               "Content-Type": "application/json"})
                        r = c.getresponse()
                        data = r.read()
                        i += 1
                        if r.status == 202:
                            with lock:
                                acked.append(json.loads(data)["id"])
                except (OSError, http.client.HTTPException):
                    if self.hookd.proc.poll() is not None:
                        return  # killed: whatever was in flight got no 202
                finally:
                    c.close()

        threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        try:
            wait_for(lambda: len(acked) >= 300, 60, what="300 events acknowledged")
            self.hookd.kill()  # SIGKILL, mid-load
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        stored = set(k.rsplit(":", 1)[1] for k in self.redis.cli("--scan", "--pattern", "hookd:*:ev:*").split()
                     if k.count(":") == 3)
        missing = [e for e in acked if e not in stored]
        self.assertFalse(missing, "%d of %d acknowledged events are not in Redis" % (len(missing), len(acked)))
        self.assertGreaterEqual(len(stored), len(acked))


if __name__ == "__main__":
    unittest.main()
