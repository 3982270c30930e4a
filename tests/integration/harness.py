"""Black-box test harness: real redis-server, real hookd, real receivers.

Everything listens on 127.0.0.1 on free ports and is torn down at the end.
Only the Python standard library is used, so tests run on a bare Debian 12
with python3. The hookd under test is $HOOKD_BIN (ctest sets it to the
sanitizer build); a hookd that exits non-zero at SIGTERM (a sanitizer
report, a leak, a crash) fails the test that stopped it.
"""
import atexit
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import openapi_check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# endpoint secrets are sealed under it in Redis (store/secrets.h); base64 of 32 bytes
TEST_SECRET_KEY = "aG9va2QtdGVzdC1zZWNyZXQta2V5LTAxMjM0NTY3ODk="
HOOKD_BIN = os.environ.get("HOOKD_BIN") or os.path.join(ROOT, "build-test", "hookd")
ROOT_TOKEN = "test-root-token-0123456789abcdef"
_SPAWNED = []


@atexit.register
def _reap():
    """Whatever a failing test left running dies with the test process."""
    for p in _SPAWNED:
        if p.poll() is None:
            p.kill()
            p.wait()


def _spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    _SPAWNED.append(p)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=20.0, step=0.05, what="condition"):
    """Poll until pred() is truthy; a bound on waiting, not a timing assertion."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


def command_calls(redis, command):
    """Calls of `command` so far (INFO commandstats), summed over the servers
    of a single Redis or a cluster; commands run by scripts count too."""
    n = 0
    for s in getattr(redis, "nodes", [redis]):
        m = re.search(r"cmdstat_%s:calls=(\d+)" % command, s.cli("INFO", "commandstats"))
        n += int(m.group(1)) if m else 0
    return n


class Redis:
    def __init__(self, aof=False, extra=()):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="hookd-redis-")
        self.aof = aof
        self.extra = list(extra)  # more redis-server arguments
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "yes" if self.aof else "no", "--appendfsync", "always", *self.extra]
        self.proc = _spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._ping(), what="redis to start")

    def _ping(self):
        try:
            return self.cli("PING").strip() == "PONG"
        except Exception:
            return False

    def cli(self, *args):
        return subprocess.check_output(["redis-cli", "-p", str(self.port), *map(str, args)],
                                       stderr=subprocess.DEVNULL).decode()

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


class RedisCluster:
    """A Redis Cluster of `masters` masters (and `replicas` replicas each)
    on free ports, made with redis-cli --cluster create; `url` names the
    first node, as a user would. cli() follows redirects (-c)."""

    def __init__(self, masters=3, replicas=0, aof=False):
        self.nodes = []
        self.aof = aof
        for _ in range(masters * (1 + replicas)):
            n = Redis.__new__(Redis)
            n.port, n.dir, n.aof, n.proc = self._free_port(), tempfile.mkdtemp(prefix="hookd-cluster-"), aof, None
            n.start = self._starter(n)
            n.start()
            self.nodes.append(n)
        addrs = ["127.0.0.1:%d" % n.port for n in self.nodes]
        subprocess.check_call(["redis-cli", "--cluster", "create", *addrs, "--cluster-replicas", str(replicas),
                               "--cluster-yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for n in self.nodes:
            wait_for(lambda: "cluster_state:ok" in n.cli("CLUSTER", "INFO"), what="cluster state ok")
        self.port = self.nodes[0].port

    @staticmethod
    def _free_port():
        """A free port whose cluster bus port (+10000) is free too."""
        while True:
            p = free_port()
            if p + 10000 > 65535:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p + 10000))
                    return p
                except OSError:
                    pass

    @staticmethod
    def _starter(n):
        def start():
            args = ["redis-server", "--port", str(n.port), "--bind", "127.0.0.1", "--dir", n.dir, "--save", "",
                    "--appendonly", "yes" if n.aof else "no", "--appendfsync", "always",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "2000"]
            n.proc = _spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: n._ping(), what="redis to start")
        return start

    def cli(self, *args):
        if str(args[0]).upper() in ("KEYS", "--SCAN"):  # each node holds its own slots' keys
            return "".join(n.cli(*args) for n in self.nodes)
        return subprocess.check_output(["redis-cli", "-c", "-p", str(self.port), *map(str, args)],
                                       stderr=subprocess.DEVNULL).decode()

    def masters(self):
        """{port: number of slots} of the masters, from CLUSTER NODES."""
        out = {}
        for line in self.nodes[0].cli("CLUSTER", "NODES").splitlines():
            f = line.split()
            if "master" in f[2] and "fail" not in f[2]:
                port = int(f[1].split("@")[0].split(":")[1])
                out[port] = sum(int(r.split("-")[1]) - int(r.split("-")[0]) + 1 if "-" in r else 1
                                for r in f[8:] if not r.startswith("["))
        return out

    def stop(self):
        for n in self.nodes:
            n.stop()

    def close(self):
        for n in self.nodes:
            n.close()

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port


def test_redis(aof=False):
    """The Redis a test class runs against: one Redis, or with
    HOOKD_TEST_REDIS=cluster a 3-master cluster (the ctest label 'cluster')."""
    if os.environ.get("HOOKD_TEST_REDIS") == "cluster":
        return RedisCluster(aof=aof)
    return Redis(aof=aof)


class Hookd:
    """A hookd process on a free port. It is returned ready (/readyz 200: its
    scripts are loaded and a request is served, not answered 503); a test
    that starts one which may never be ready passes wait="listening"."""

    def __init__(self, redis, preexec_fn=None, wait="ready", **conf):
        self.port = free_port()
        self.logf = tempfile.NamedTemporaryFile(prefix="hookd-log-", suffix=".log", delete=False)
        env = dict(os.environ)
        env.update({
            "HOOKD_REDIS_URL": redis.url,
            "HOOKD_LISTEN": "127.0.0.1:%d" % self.port,
            "HOOKD_ADMIN_TOKEN": ROOT_TOKEN,
            "HOOKD_ALLOW_NETWORKS": "127.0.0.0/8",
            "HOOKD_PARTITIONS": "4",
            "HOOKD_TOKEN_CACHE": "0",
            "HOOKD_SECRET_KEY": TEST_SECRET_KEY,
        })
        for k, v in conf.items():
            env["HOOKD_" + k.upper()] = str(v)
        self.proc = _spawn([HOOKD_BIN], env=env, stdout=self.logf, stderr=self.logf, preexec_fn=preexec_fn)
        wait_for(lambda: self._answers("/healthz"), what="hookd to listen")
        if wait == "ready":
            self.wait_ready()

    def _answers(self, path):
        if self.proc.poll() is not None:
            raise AssertionError("hookd exited early:\n" + self.log())
        try:
            return call("GET", self.url(path))[0] == 200
        except Exception:
            return False

    def wait_ready(self):
        wait_for(lambda: self._answers("/readyz"), what="hookd ready")

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def log(self):
        with open(self.logf.name, errors="replace") as f:
            return f.read()

    def metric(self, name):
        """The value of an unlabelled metric from /metrics, as an integer."""
        text = call("GET", self.url("/metrics"))[1]
        return int(float(next(l.rsplit(" ", 1)[1] for l in text.splitlines() if l.startswith(name + " "))))

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code (0 expected: no sanitizer report, no leak)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("hookd did not stop within %ss:\n%s" % (timeout, self.log()[-4000:]))
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()


FUZZ_RECORD = os.environ.get("HOOKD_FUZZ_RECORD")  # a folder: grow fuzz_http's corpus from these requests
FUZZ_TOKENS = {ROOT_TOKEN: "fuzz-root-token-0123456789"}  # any other token becomes the fuzz org admin


def _record_for_fuzzing(method, url, data, token, headers):
    """Write the request as the raw bytes fuzz_http replays, with the fuzz target's tokens."""
    path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
    head = ["%s /%s HTTP/1.1" % (method, path), "Host: x"]
    if token:
        head.append("Authorization: Bearer " + FUZZ_TOKENS.get(token, "fuzz-org-admin-token-0123456"))
    for k, v in (headers or {}).items():
        if k.lower() not in ("authorization", "x-api-key", "content-length"):
            head.append("%s: %s" % (k, v))
        elif k.lower() == "x-api-key":
            head.append("X-API-Key: fuzz-org-admin-token-0123456")
    body = data or b""
    if data is not None:
        head.append("Content-Length: %d" % len(body))
    raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    if len(raw) > 4096:
        return
    try:
        os.makedirs(FUZZ_RECORD, exist_ok=True)
        name = hashlib.sha1(raw).hexdigest()
        with open(os.path.join(FUZZ_RECORD, name), "wb") as f:
            f.write(raw)
    except OSError:
        pass


def call(method, url, body=None, token=None, headers=None, raw=None, timeout=30):
    """One HTTP request; returns (status, parsed JSON or text, headers)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if FUZZ_RECORD:
        _record_for_fuzzing(method, url, data, token, headers)
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None and not (headers and "Content-Type" in headers):
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text, hdrs = r.status, r.read().decode(errors="replace"), r.headers
    except urllib.error.HTTPError as e:
        status, text, hdrs = e.code, e.read().decode(errors="replace"), e.headers
    # a reply that says it is JSON must be JSON, exactly (no trailing bytes)
    if "json" in (hdrs.get("Content-Type") or ""):
        try:
            parsed = json.loads(text) if text else None
        except ValueError as e:
            raise AssertionError("%s %s: a %s reply that is not JSON (%s): %r" %
                                 (method, url, hdrs.get("Content-Type"), e, text[:200]))
        openapi_check.check(method, url, status, parsed, hdrs.get("Content-Type"))
        return status, parsed, hdrs
    try:
        return status, json.loads(text) if text else None, hdrs
    except ValueError:
        return status, text, hdrs


def verify_signature(secret, headers, body):
    """Standard Webhooks: is one of webhook-signature's v1 entries the
    HMAC-SHA256 of "id.timestamp.body" under the whsec_ secret?"""
    key = base64.b64decode(secret[6:])
    mac = hmac.new(key, ("%s.%s.%s" % (headers["webhook-id"], headers["webhook-timestamp"], body.decode())).encode(),
                   hashlib.sha256).digest()
    return ("v1," + base64.b64encode(mac).decode()) in headers["webhook-signature"].split(" ")


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request.

    `behaviour(n, path, headers, body)` returns (status, headers, body) or one
    of the strings "hang" (never answer), "reset" (RST the connection),
    "close" (close without answering). n counts requests from 1.
    """

    def __init__(self, behaviour=None, tls=None, client_ca=None):
        self.requests = []
        self.lock = threading.Lock()
        self.behaviour = behaviour or (lambda n, p, h, b: (200, {}, b"ok"))
        self.in_flight = 0
        self.max_in_flight = 0
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                counted = True
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body, "at": time.time()})
                    count = len(outer.requests)
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    out = outer.behaviour(count, self.path, self.headers, body)
                    if out == "hang":
                        outer.release.wait(60)
                        self.close_connection = True
                        return
                    if out == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        self.close_connection = True
                        self.connection.close()
                        return
                    if out == "close":
                        self.close_connection = True
                        return
                    status, headers, rbody = out
                    # leave the in-flight count before the answer goes out: once
                    # hookd has the answer it may (rightly) send the next request
                    with outer.lock:
                        outer.in_flight -= 1
                        counted = False
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(rbody)))
                    self.end_headers()
                    self.wfile.write(rbody)
                finally:
                    if counted:
                        with outer.lock:
                            outer.in_flight -= 1

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

            def handle_error(self, request, client_address):
                pass  # peers that vanish mid-request are part of the tests

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            if client_ca:  # mutual TLS: a client certificate from this CA or no connection
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(client_ca)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook", host="127.0.0.1", scheme=None):
        scheme = scheme or ("https" if isinstance(self.server.socket, ssl.SSLSocket) else "http")
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def count(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class TestCA:
    """A CA and certificates made with the openssl command line, in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hookd-ca-")
        self.ca_key, self.ca_crt = self.p("ca.key"), self.p("ca.crt")
        self.run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.ca_key, "-out", self.ca_crt,
                 "-days", "2", "-subj", "/CN=hookd test CA")

    def p(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args):
        subprocess.check_call(["openssl", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def issue(self, name, san, ca=None):
        """A server certificate for `san` (e.g. "DNS:localhost"), signed by this CA."""
        key, csr, crt, ext = self.p(name + ".key"), self.p(name + ".csr"), self.p(name + ".crt"), self.p(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san)
        self.run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + name)
        self.run("x509", "-req", "-in", csr, "-CA", self.ca_crt, "-CAkey", self.ca_key, "-CAcreateserial",
                 "-out", crt, "-days", "2", "-extfile", ext)
        return crt, key

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class HookdCase(unittest.TestCase):
    """One Redis and one hookd per test class (and, with class_receiver, one
    always-200 receiver as cls.rx); helpers to make tenants."""
    hookd_conf = {}
    redis_aof = False
    class_receiver = False

    @classmethod
    def make_redis(cls):
        """The class's Redis; a class that needs its own kind overrides this."""
        return test_redis(aof=cls.redis_aof)

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.make_redis()
        cls.hookd = Hookd(cls.redis, **cls.hookd_conf)
        if cls.class_receiver:
            cls.rx = Receiver()

    @classmethod
    def tearDownClass(cls):
        if cls.class_receiver:
            cls.rx.close()
        try:
            rc = cls.hookd.stop()
            if rc != 0:
                raise AssertionError("hookd exited %d at SIGTERM:\n%s" % (rc, cls.hookd.log()[-6000:]))
        finally:
            cls.redis.close()

    def api(self, method, path, body=None, token=None, **kw):
        return call(method, self.hookd.url(path), body, token, **kw)

    def new_org(self, name="acme"):
        s, b, _ = self.api("POST", "/v1/orgs", {"name": name}, ROOT_TOKEN)
        self.assertEqual(s, 201, b)
        return b["id"]

    def new_token(self, org, scopes=("webhooks:manage", "webhooks:read", "events:write"), admin=False, user_id=1):
        s, b, _ = self.api("POST", "/v1/tokens", {"org_id": org, "user_id": user_id, "scopes": list(scopes),
                                                  "admin": admin, "name": "t"}, ROOT_TOKEN)
        self.assertEqual(s, 201, b)
        return b

    def tenant(self, admin=True):
        org = self.new_org()
        return org, self.new_token(org, admin=admin)["token"]

    def new_endpoint(self, token, url, **fields):
        body = {"url": url}
        body.update(fields)
        s, b, _ = self.api("POST", "/v1/endpoints", body, token)
        self.assertEqual(s, 201, b)
        return b

    def send_event(self, token, etype="order.paid", payload=None, **kw):
        body = {"type": etype, "payload": payload if payload is not None else {"n": 1}}
        body.update(kw)
        s, b, _ = self.api("POST", "/v1/events", body, token)
        self.assertEqual(s, 202, b)
        return b

    def delivery(self, token, did):
        s, b, _ = self.api("GET", "/v1/deliveries/" + did, None, token)
        self.assertEqual(s, 200, b)
        return b

    def wait_gone(self, token, path, what, timeout=30):
        """Until GET path answers 404 (pruned, deleted)."""
        wait_for(lambda: self.api("GET", path, None, token)[0] == 404, timeout, what=what)

    def wait_state(self, token, did, states, timeout=30):
        states = (states,) if isinstance(states, str) else states
        return wait_for(lambda: (lambda d: d if d["state"] in states else None)(self.delivery(token, did)),
                        timeout, what="delivery %s to reach %s" % (did, states))
