#!/usr/bin/env python3
"""Measures what hostile clients cost hookd (issue 9), as figures, not pass/fail.

  bench/takedown.py [HOOKD_BIN]     (default build/hookd)

1. Body flood: CONNS connections without credentials each announce a
   4 MiB body (POST /v1/events) and send BODY_SENT bytes of it in 16 KiB
   pieces; reports hookd's peak RSS during the flood and RSS after the
   clients closed, against idle.
2. Descriptor flood: hookd under `ulimit -n 1024` gets 2,000 connections
   held for 10 s; reports its CPU seconds and the log lines and bytes it
   wrote meanwhile.

Prints one JSON object. Starts its own redis-server and hookd on free ports
with the integration tests' harness (Python standard library only).
"""
import json
import os
import resource
import selectors
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "hookd")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ["HOOKD_BIN"] = BIN
from harness import Hookd, Redis  # noqa: E402
CONNS = int(os.environ.get("CONNS", "1000"))
BODY_SENT = int(os.environ.get("BODY_SENT", str(1 << 20)))
CLK = os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / CLK


def start(nofile=None):
    """A Redis and a hookd of their own (the integration tests' harness)."""
    redis = Redis()
    pre = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
    hookd = Hookd(redis, preexec_fn=pre)
    time.sleep(0.5)
    return redis, hookd


def stop(redis, hookd):
    hookd.stop()
    redis.close()


def body_flood():
    redis, hookd = start()
    port, pid = hookd.port, hookd.proc.pid
    idle = rss_mib(pid)
    sel = selectors.DefaultSelector()
    sent = {}
    head = b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4194304\r\n\r\n"
    for _ in range(CONNS):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        s.send(head)
        sent[s] = 0
        sel.register(s, selectors.EVENT_WRITE | selectors.EVENT_READ)
    peak, refused, piece = idle, 0, b"x" * 16384
    deadline = time.time() + 60
    while sent and time.time() < deadline:
        for key, ev in sel.select(0.2):
            s = key.fileobj
            try:
                if ev & selectors.EVENT_READ:
                    if s.recv(4096):
                        refused += 1
                    sel.unregister(s)
                    del sent[s]
                    continue
                if sent[s] < BODY_SENT:
                    sent[s] += s.send(piece)
                else:
                    sel.modify(s, selectors.EVENT_READ)
            except OSError:
                sel.unregister(s)
                del sent[s]
        peak = max(peak, rss_mib(pid))
        if all(v >= BODY_SENT for v in sent.values()):
            break
    peak = max(peak, rss_mib(pid))
    for s in list(sent):
        s.close()
    time.sleep(12)  # the gate trims every 10 s after a burst
    after = rss_mib(pid)
    stop(redis, hookd)
    return {"connections": CONNS, "body_bytes_sent_each": BODY_SENT, "answered_before_body": refused,
            "rss_idle_mib": round(idle, 1), "rss_peak_mib": round(peak, 1), "rss_after_close_mib": round(after, 1)}


def fd_flood():
    redis, hookd = start(nofile=1024)
    port, pid = hookd.port, hookd.proc.pid
    lines0, bytes0 = hookd.log().count("\n"), len(hookd.log())
    socks = []
    for _ in range(2000):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    c0, t0 = cpu_s(pid), time.time()
    time.sleep(10)
    cpu, wall = cpu_s(pid) - c0, time.time() - t0
    text = hookd.log()
    lines, nbytes = text.count("\n") - lines0, len(text) - bytes0
    for s in socks:
        s.close()
    ok = False
    for _ in range(100):
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=2)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = c.recv(64).startswith(b"HTTP/1.1 200")
            c.close()
            if ok:
                break
        except OSError:
            pass
        time.sleep(0.1)
    stop(redis, hookd)
    return {"connections_opened": len(socks), "seconds": round(wall, 1), "cpu_seconds": round(cpu, 2),
            "log_lines": lines, "log_bytes": nbytes, "serves_after": ok}


if __name__ == "__main__":
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps({"hookd": BIN, "body_flood": body_flood(), "descriptor_flood": fd_flood()}, indent=1))
