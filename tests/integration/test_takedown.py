"""Issue 9: callers without credentials cannot make hookd hold memory, and a
descriptor flood does not make it spin or flood its log.

No speed is asserted: memory is read from /proc/<pid>/status (VmRSS), CPU
time from /proc/<pid>/stat, log volume by counting lines."""
import json
import os
import resource
import socket
import time
import unittest

# Freed memory goes back to the allocator at once, so RSS shows what hookd
# holds, not the sanitizer's quarantine of freed blocks.
os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"

from harness import HookdCase, Hookd, Receiver, Redis, call, wait_for

CLK = os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK  # utime + stime


def read_reply(sock, limit=65536):
    """Bytes until the peer closes (the gate closes after a refusal)."""
    out = b""
    while len(out) < limit:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        out += chunk
    return out


class BodyFloodTest(HookdCase):
    hookd_conf = {"max_body_bytes": 1048576}

    def test_unauthenticated_bodies_are_refused_from_their_headers(self):
        pid = self.hookd.proc.pid
        # warm up: one of each kind, so the idle figure includes first-use allocations
        for _ in range(3):
            self.flood(4, 1 << 20)
        time.sleep(0.5)
        idle = rss_kib(pid)
        n = 300
        socks = []
        for i in range(n):
            # half announce 4 MiB (over the limit), half 1 MiB (allowed, but no credentials);
            # each sends its headers and 128 KiB of body, then stalls
            length = 4 << 20 if i % 2 else 1 << 20
            s = socket.create_connection(("127.0.0.1", self.hookd.port))
            s.settimeout(20)
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % length)
            try:
                s.sendall(b"x" * 131072)
            except OSError:
                pass  # already refused and closed: fine
            socks.append((s, length))
        during = rss_kib(pid)
        statuses = []
        for s, length in socks:
            head = read_reply(s)
            s.close()
            self.assertTrue(head.startswith(b"HTTP/1.1 "), head[:200])
            status = int(head[9:12])
            statuses.append(status)
            self.assertEqual(status, 413 if length > (1 << 20) else 401, head[:300])
            self.assertIn(b"application/problem+json", head)
        self.assertEqual(len(statuses), n)
        # every body was refused before it was read: hookd holds no more than
        # a few MB beyond idle (300 x 128 KiB of buffered body would be ~37 MiB)
        self.assertLess(during - idle, 8 * 1024, "RSS grew %d KiB during the flood" % (during - idle))
        after = wait_for(lambda: (lambda v: v if v - idle < 8 * 1024 else None)(rss_kib(pid)), 15,
                         what="RSS to come back near idle")
        self.assertLess(after - idle, 8 * 1024)
        print("\nbody flood (sanitizer build): RSS idle %d KiB, during +%d KiB, after +%d KiB" %
              (idle, during - idle, after - idle))
        # and hookd still serves
        _, tok = self.tenant()
        s, b, _ = self.api("GET", "/v1/endpoints", None, tok)
        self.assertEqual(s, 200, b)
        metrics = call("GET", self.hookd.url("/metrics"))[1]
        self.assertRegex(metrics, r'hookd_http_refused_total\{reason="no_credentials"\} [1-9]')
        self.assertRegex(metrics, r'hookd_http_refused_total\{reason="too_large"\} [1-9]')

    def flood(self, n, length):
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", self.hookd.port))
            s.settimeout(5)
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % length)
            read_reply(s)
            s.close()

    def test_bad_token_is_refused_before_the_body(self):
        s = socket.create_connection(("127.0.0.1", self.hookd.port))
        s.settimeout(20)
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer not-a-real-token-at-all\r\n"
                  b"Content-Length: 100000\r\n\r\n")
        head = read_reply(s)
        s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 401 "), head[:200])

    def test_valid_token_body_and_pipelined_requests_still_work(self):
        _, tok = self.tenant()
        body = b'{"type":"a","payload":{"n":1}}'
        req = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode() +
               b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", self.hookd.port))
        s.settimeout(20)
        s.sendall(req + get + req + last)  # four pipelined requests in one write
        out = read_reply(s, 1 << 20)
        s.close()
        self.assertEqual(out.count(b"HTTP/1.1 202 "), 2, out)
        self.assertEqual(out.count(b"HTTP/1.1 200 "), 2, out)

    def test_a_head_sent_a_byte_at_a_time_is_read_once_whole(self):
        _, tok = self.tenant()
        body = b'{"type":"a","payload":{"n":1}}'
        req = (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1500 + b"\r\nAuthorization: Bearer " +
               tok.encode() + b"\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        s = socket.create_connection(("127.0.0.1", self.hookd.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(20)
        for i in range(0, len(req), 7):  # small pieces: the end of the head arrives split
            s.sendall(req[i:i + 7])
        out = read_reply(s)
        s.close()
        self.assertTrue(out.startswith(b"HTTP/1.1 202 "), out[:300])

    def test_chunked_body_gets_411(self):
        _, tok = self.tenant()
        s = socket.create_connection(("127.0.0.1", self.hookd.port))
        s.settimeout(20)
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok.encode() +
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        head = read_reply(s)
        s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 411 "), head[:200])


class RedisRefusesWritesTest(HookdCase):
    hookd_conf = {"request_timeout": "1s", "lease_margin": "1s", "retry_schedule": "0,500ms,500ms,500ms,500ms"}

    def test_redis_full_loses_nothing_accepted(self):
        """Events accepted (202) just before Redis fills up are all delivered
        once it accepts writes again: outcomes that could not be recorded
        meanwhile are retried when their leases run out."""
        import threading
        gate = threading.Event()
        rx = Receiver(lambda n, p, h, b: (gate.wait(20), (200, {}, b"ok"))[1])
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url(), event_types=["a"], max_in_flight=64)
            ids = [self.send_event(tok, "a", {"i": i})["delivery_ids"][0] for i in range(20)]
            wait_for(lambda: rx.count() >= 1, what="sends to be in flight")
            self.redis.cli("CONFIG", "SET", "maxmemory", "1")  # the outcomes now cannot be written
            try:
                s, b, h = self.api("POST", "/v1/events", {"type": "a", "payload": {}}, tok)
                self.assertEqual((s, h.get("Retry-After")), (503, "1"), b)
                gate.set()  # the receiver answers; recording those answers fails
                time.sleep(1.5)
            finally:
                self.redis.cli("CONFIG", "SET", "maxmemory", "0")
            for did in ids:
                self.wait_state(tok, did, "completed", timeout=60)
            got = {json.loads(r["body"])["i"] for r in rx.requests}
            self.assertEqual(got, set(range(20)))
        finally:
            rx.close()

    def test_refused_writes_get_503_and_few_log_lines(self):
        _, tok = self.tenant()
        lines_before = self.hookd.log().count("\n")
        self.redis.cli("CONFIG", "SET", "maxmemory", "1")  # noeviction: every write is refused with OOM
        try:
            for _ in range(200):
                s, b, h = self.api("POST", "/v1/events", {"type": "a", "payload": {}}, tok)
                self.assertEqual(s, 503, b)
                self.assertEqual(h["Retry-After"], "1")
        finally:
            self.redis.cli("CONFIG", "SET", "maxmemory", "0")
        # one line per refused request before; now a burst, then silence with a count
        lines = self.hookd.log().count("\n") - lines_before
        self.assertLess(lines, 30, self.hookd.log()[-3000:])
        self.send_event(tok, "a")  # recovers by itself
        metrics = call("GET", self.hookd.url("/metrics"))[1]
        self.assertRegex(metrics, r"hookd_log_lines_suppressed_total [1-9]")


class DescriptorFloodTest(unittest.TestCase):
    def test_out_of_descriptors_pauses_instead_of_spinning(self):
        redis = Redis()

        def low_limit():  # in the child: soft 64, hard 128; hookd raises itself to 128
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 128))

        hookd = Hookd(redis, preexec_fn=low_limit, log_level="info")
        try:
            self._flood(hookd)
        finally:
            rc = hookd.stop()
            redis.close()
        self.assertEqual(rc, 0, hookd.log()[-3000:])

    def _flood(self, hookd):
        with open("/proc/%d/limits" % hookd.proc.pid) as f:
            self.assertRegex(f.read(), r"Max open files\s+128\s+128\s")  # raised to the hard limit
        hookd.wait_ready()
        pid = hookd.proc.pid
        lines_before = hookd.log().count("\n")
        socks = []
        for _ in range(400):  # well past hookd's 128 descriptors
            try:
                socks.append(socket.create_connection(("127.0.0.1", hookd.port), timeout=2))
            except OSError:
                break
        cpu0, t0 = cpu_seconds(pid), time.time()
        time.sleep(3)
        cpu = cpu_seconds(pid) - cpu0
        wall = time.time() - t0
        lines = hookd.log().count("\n") - lines_before
        # spinning on accept() burns the whole core; pausing leaves it idle
        self.assertLess(cpu / wall, 0.5, "hookd used %.2f s of CPU in %.2f s" % (cpu, wall))
        self.assertLess(lines, 50, hookd.log()[-3000:])
        for s in socks:
            s.close()
        wait_for(lambda: call("GET", hookd.url("/readyz"), timeout=5)[0] == 200, 20, what="hookd to serve again")
        metrics = call("GET", hookd.url("/metrics"))[1]
        self.assertRegex(metrics, r"hookd_accept_pauses_total [1-9]")


if __name__ == "__main__":
    unittest.main()
