"""hookd benchmark runner (started by bench/run).

Every process it starts listens on 127.0.0.1, runs for seconds, and is
stopped at the end (also on error). Baselines (nginx `return 202`, the sink
alone, redis-benchmark) run in the same session on the same machine, so the
ratios compare like with like. Prints one table; writes
bench/results/latest.json and latest.md."""
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BENCH_BUILD") or os.path.join(ROOT, "build")  # another build, to compare
BACKLOG = int(os.environ.get("BENCH_BACKLOG", "1000000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ONLY = [x for x in os.environ.get("BENCH_ONLY", "").split(",") if x]  # scenario names, for a quick look
ROOT_TOKEN = "bench-root-token-0123456789"
PROCS = []
TMP = tempfile.mkdtemp(prefix="hookd-bench-")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args, env=None, **kw):
    p = subprocess.Popen(args, env=env, stdout=kw.pop("stdout", subprocess.DEVNULL),
                         stderr=kw.pop("stderr", subprocess.DEVNULL), **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_http(url, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("not answering: " + url)


def api(base, method, path, body=None, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                 method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        t = r.read()
        return json.loads(t) if t else None


class Redis:
    def __init__(self, fsync, extra=()):
        self.port = free_port()
        while extra and self.port + 10000 > 65535:  # a cluster node's bus port is port + 10000
            self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=TMP)
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", "",
                "--slowlog-log-slower-than", "1000", "--slowlog-max-len", "1024", *extra]
        args += ["--appendonly", "yes", "--appendfsync", "everysec"] if fsync == "everysec" else ["--appendonly", "no"]
        self.proc = spawn(args)
        end = time.time() + 10
        while time.time() < end and self.cli("PING") != "PONG":
            time.sleep(0.05)

    def cli(self, *args):
        try:
            return subprocess.check_output(["redis-cli", "-p", str(self.port), *map(str, args)],
                                           stderr=subprocess.DEVNULL).decode().strip()
        except subprocess.CalledProcessError:
            return ""

    def info(self, section):
        out = {}
        for line in self.cli("INFO", section).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def commandstats(self):
        stats = {}
        for k, v in self.info("commandstats").items():
            m = re.match(r"calls=(\d+),usec=(\d+)", v)
            if m:
                stats[k[len("cmdstat_"):]] = (int(m.group(1)), int(m.group(2)))
        return stats

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid)

    def close(self):
        stop(self.proc)


def box_busy_s():
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Hookd:
    def __init__(self, redis, **conf):
        self.port = free_port()
        env = dict(os.environ, HOOKD_REDIS_URL="redis://127.0.0.1:%d/0" % redis.port,
                   HOOKD_LISTEN="127.0.0.1:%d" % self.port, HOOKD_ADMIN_TOKEN=ROOT_TOKEN,
                   HOOKD_ALLOW_NETWORKS="127.0.0.0/8", HOOKD_LOG_LEVEL="warn",
                   HOOKD_SECRET_KEY="YmVuY2gtc2VjcmV0LWtleS0wMTIzNDU2Nzg5YWJjZGU=")  # sealed secrets, as deployed
        for k, v in conf.items():
            env["HOOKD_" + k.upper()] = str(v)
        self.proc = spawn([os.path.join(BUILD, "hookd")], env=env)
        self.url = "http://127.0.0.1:%d" % self.port
        wait_http(self.url + "/readyz")

    def rss_mb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid)

    def close(self):
        stop(self.proc)


class Sink:
    def __init__(self, delay_ms=0):
        self.port = free_port()
        self.proc = spawn([os.path.join(BUILD, "hookd-sink"), "--port", str(self.port), "--delay-ms", str(delay_ms)])
        self.url = "http://127.0.0.1:%d" % self.port
        wait_http(self.url + "/stats")

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            t = r.read()
            return json.loads(t) if path == "/stats" else None

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid)

    def close(self):
        stop(self.proc)


def children_cpu_s():
    """CPU of the children waited for so far (hookd-pace, once it has exited)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def tenant(h):
    org = api(h.url, "POST", "/v1/orgs", {"name": "bench"}, ROOT_TOKEN)["id"]
    return api(h.url, "POST", "/v1/tokens", {"org_id": org, "scopes": ["webhooks:manage", "webhooks:read",
                                                                       "events:write"], "admin": True}, ROOT_TOKEN)["token"]


def endpoints(h, tok, sink, n, active=True, mif=64):
    ids = []
    for i in range(n):
        ep = api(h.url, "POST", "/v1/endpoints", {"url": "%s/e%d" % (sink.url, i), "max_in_flight": mif}, tok)
        if not active:
            api(h.url, "POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        ids.append(ep["id"])
    return ids


def set_status(h, tok, ids, status):
    for i in ids:
        api(h.url, "POST", "/v1/endpoints/%s/%s" % (i, status), None, tok)


def pace(h, tok, rate, seconds, conns=64, size=1024, types=("bench",), cores=None, keys=0):
    """hookd-pace against one hookd or a list of them, with one token or a
    list (connection i uses the i-th of each, round robin), on `cores` if given."""
    hs, toks = h if isinstance(h, list) else [h], tok if isinstance(tok, list) else [tok]
    out = subprocess.check_output([os.path.join(BUILD, "hookd-pace"), "--url", ",".join(x.url + "/v1/events" for x in hs),
                                   "--token", ",".join(toks), "--type", ",".join(types), "--rate", str(rate),
                                   "--seconds", str(seconds), "--conns", str(conns), "--size", str(size),
                                   "--keys", str(keys)],
                                  preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None)
    return json.loads(out)


def parse_wrk(text):
    def dur(s):
        m = re.match(r"([\d.]+)(us|ms|s)", s)
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = dur(re.search(r"\s50%\s+(\S+)", text).group(1))
    p99 = dur(re.search(r"\s99%\s+(\S+)", text).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "non2xx": int(non2xx.group(1)) if non2xx else 0}


def wrk(url, body, token="", seconds=SECONDS, conns=64):
    bf = os.path.join(TMP, "body.json")
    with open(bf, "w") as f:
        f.write(body)
    env = dict(os.environ, BODY_FILE=bf, TOKEN=token)
    out = subprocess.check_output(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
                                   "-s", os.path.join(ROOT, "bench", "post.lua"), url], env=env).decode()
    return parse_wrk(out)


def body_1k():
    b = {"type": "bench", "payload": {"pad": ""}}
    b["payload"]["pad"] = "x" * (1024 - len(json.dumps(b)))
    return json.dumps(b)


def wait_delivered(sink, want, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if sink.get("/stats")["received"] >= want:
            return time.time() - t0
        time.sleep(0.05)
    return None


def baselines(r):
    res = {}
    port = free_port()
    conf = os.path.join(TMP, "nginx.conf")
    with open(conf, "w") as f:
        f.write("worker_processes 1; pid %s/nginx.pid; error_log %s/nginx.err; daemon off;\n"
                "events { worker_connections 4096; }\n"
                "http { access_log off; client_body_temp_path %s; client_body_buffer_size 64k;\n"
                "  server { listen 127.0.0.1:%d; location / { return 202; } } }\n" % (TMP, TMP, TMP, port))
    ng = spawn(["nginx", "-c", conf, "-p", TMP])
    wait_http("http://127.0.0.1:%d/" % port)
    res["nginx_202"] = wrk("http://127.0.0.1:%d/v1/events" % port, body_1k())
    stop(ng)
    sink = Sink()
    res["sink_alone"] = wrk(sink.url + "/hook", body_1k())
    sink.close()
    bench = []
    for args in (["-t", "set"],
                 ["EVAL", "redis.call('HSET',KEYS[1],'a',ARGV[1]) return redis.call('ZADD',KEYS[2],ARGV[1],ARGV[1])",
                  "2", "h{x}", "z{x}", "1"]):
        out = subprocess.check_output(["redis-benchmark", "-p", str(r.port), "-n", "300000", "-P", "16", "-q"] + args,
                                      stderr=subprocess.DEVNULL).decode()
        bench.append(float(re.findall(r"([\d.]+) requests per second", out)[-1]))
    res["redis_set_p16"], res["redis_small_lua_p16"] = bench
    r.cli("FLUSHALL")
    return res


def scenario_idle(r):
    h = Hookd(r)
    time.sleep(1)
    c0, t0 = h.cpu_s(), time.time()
    n0 = int(r.info("stats")["total_commands_processed"])
    time.sleep(10)
    n1 = int(r.info("stats")["total_commands_processed"])
    c1, t1 = h.cpu_s(), time.time()
    h.close()
    return {"cpu_pct": 100 * (c1 - c0) / (t1 - t0), "redis_cmds_per_s": (n1 - n0 - 1) / (t1 - t0)}


def scenario_ingest_e2e(r):
    res = {}
    h, sink = Hookd(r), Sink()
    tok = tenant(h)
    ep = endpoints(h, tok, sink, 1, active=False, mif=256)
    rc0, hc0, bc0 = r.cpu_s(), h.cpu_s(), box_busy_s()
    res["ingest"] = wrk(h.url + "/v1/events", body_1k(), tok)
    n = res["ingest"]["rps"] * SECONDS
    # where the two cores went: per request for hookd and Redis, in all for the box
    res["ingest"].update({"redis_cpu_us": 1e6 * (r.cpu_s() - rc0) / n, "hookd_cpu_us": 1e6 * (h.cpu_s() - hc0) / n,
                          "box_cpu_pct": 100 * (box_busy_s() - bc0) / SECONDS})
    r.cli("FLUSHALL")
    h.close()
    h = Hookd(r)
    tok = tenant(h)
    endpoints(h, tok, sink, 1, active=True, mif=256)
    sink.get("/reset")
    rc0, hc0 = r.cpu_s(), h.cpu_s()
    p = pace(h, tok, 1000, SECONDS, conns=16)
    wait_delivered(sink, p["ok"], 30)
    s = sink.get("/stats")
    # at 1,000/s a script call carries one or two events: its fixed cost shows
    res["e2e_1000"] = {"in_rate": p["rate"], "ingest_p50_ms": p["p50_us"] / 1000, "ingest_p99_ms": p["p99_us"] / 1000,
                       "delay_p50_ms": s["delay_p50_us"] / 1000, "delay_p99_ms": s["delay_p99_us"] / 1000,
                       "redis_cpu_us_per_delivery": 1e6 * (r.cpu_s() - rc0) / max(1, s["received"]),
                       "hookd_cpu_us_per_delivery": 1e6 * (h.cpu_s() - hc0) / max(1, s["received"])}
    sink.get("/reset")
    cs0, rc0, hc0 = r.commandstats(), r.cpu_s(), h.cpu_s()
    sc0, pc0 = sink.cpu_s(), children_cpu_s()
    t0 = time.time()
    p = pace(h, tok, 0, SECONDS + 3, conns=64)
    pc1 = children_cpu_s()  # hookd-pace has exited: its CPU is in
    took = wait_delivered(sink, p["ok"], 120)
    elapsed = time.time() - t0
    cs1, rc1, hc1, sc1 = r.commandstats(), r.cpu_s(), h.cpu_s(), sink.cpu_s()
    s = sink.get("/stats")
    calls = sum(v[0] for v in cs1.values()) - sum(v[0] for v in cs0.values()) - 2
    evals = sum(cs1.get(k, (0, 0))[0] - cs0.get(k, (0, 0))[0] for k in ("evalsha", "fcall"))
    redis_us = 1e6 * (rc1 - rc0)
    hookd_us = 1e6 * (hc1 - hc0)
    res["e2e_saturation"] = {"in_rate": p["rate"], "out_rate": s["received"] / elapsed,
                             "delay_p50_ms": s["delay_p50_us"] / 1000, "delay_p99_ms": s["delay_p99_us"] / 1000,
                             "redis_cmds_per_delivery": calls / max(1, s["received"]),
                             "round_trips_per_delivery": evals / max(1, s["received"]),
                             "redis_cpu_us_per_delivery": redis_us / max(1, s["received"]),
                             "hookd_cpu_us_per_delivery": hookd_us / max(1, s["received"]),
                             # hookd's HTTP at its least: the same exchanges made by bare evhttp
                             # programs in the same run, the sink's server (a 1 KiB POST read, its
                             # signature checked, answered) and hookd-pace's client (one sent)
                             "sink_cpu_us_per_delivery": 1e6 * (sc1 - sc0) / max(1, s["received"]),
                             "pace_cpu_us_per_request": 1e6 * (pc1 - pc0) / max(1, p["ok"]),
                             "drained": took is not None}
    h.close()
    sink.close()
    r.cli("FLUSHALL")
    return res


def scenario_fanout(r):
    res = {}
    for n in (10, 100):
        h, sink = Hookd(r), Sink()
        tok = tenant(h)
        endpoints(h, tok, sink, n, mif=64)
        t0, rc0, hc0 = time.time(), r.cpu_s(), h.cpu_s()
        p = pace(h, tok, 0, SECONDS, conns=32)
        took = wait_delivered(sink, p["ok"] * n, 120)
        elapsed = time.time() - t0
        got = sink.get("/stats")["received"]
        res["fanout_%d" % n] = {"events_per_s": p["rate"], "deliveries_per_s": got / elapsed,
                                "ingest_p99_ms": p["p99_us"] / 1000, "drained": took is not None,
                                "redis_us_per_delivery": 1e6 * (r.cpu_s() - rc0) / max(1, got),
                                "hookd_us_per_delivery": 1e6 * (h.cpu_s() - hc0) / max(1, got)}
        h.close()
        sink.close()
        r.cli("FLUSHALL")
    return res


def scenario_backlog_and_resend(r):
    """BACKLOG deliveries held for 1000 DISABLED endpoints (Redis memory per
    delivery), then 1000 in flight against a slow sink (hookd RSS), then the
    drain rate (claim cost), then a time-range resend over the whole backlog
    with the API probed meanwhile."""
    res = {}
    n_ep = 1000
    per = max(1, BACKLOG // n_ep)
    h, sink = Hookd(r, inflight_max=1024), Sink()
    tok = tenant(h)
    eps = endpoints(h, tok, sink, n_ep, active=False, mif=4)
    mem0 = int(r.info("memory")["used_memory"])
    t0 = time.time()
    payload = {"type": "bench", "payload": {"n": 1}}
    t_start = int(time.time()) - 1
    for i in range(per):
        api(h.url, "POST", "/v1/events", payload, tok)
    made = time.time() - t0
    mem1 = int(r.info("memory")["used_memory"])
    total = per * n_ep
    res["backlog"] = {"deliveries": total, "create_per_s": total / made,
                      "redis_bytes_per_delivery": (mem1 - mem0) / total,
                      "redis_used_mb": mem1 / 1e6}
    sink.get("/delay?ms=3000")
    set_status(h, tok, eps, "enable")
    time.sleep(2)
    metrics = urllib.request.urlopen(h.url + "/metrics").read().decode()
    inflight = float(re.search(r"^hookd_deliveries_in_flight (\S+)", metrics, re.M).group(1))
    res["backlog"]["rss_mb_inflight"] = h.rss_mb()
    res["backlog"]["in_flight"] = inflight
    sink.get("/delay?ms=0")
    time.sleep(3.5)
    sink.get("/reset")
    rc0, c0 = r.cpu_s(), h.cpu_s()
    time.sleep(SECONDS)
    got = sink.get("/stats")["received"]
    rc1, c1 = r.cpu_s(), h.cpu_s()
    res["backlog"]["drain_per_s"] = got / SECONDS
    res["backlog"]["redis_cpu_us_per_delivery"] = 1e6 * (rc1 - rc0) / max(1, got)
    res["backlog"]["hookd_cpu_us_per_delivery"] = 1e6 * (c1 - c0) / max(1, got)
    set_status(h, tok, eps, "disable")
    # the resend: every delivery of the backlog's time range, as one job
    t_end = int(time.time()) + 1
    lat, stop_probe = [], threading.Event()

    def probe():
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", h.port)
        while not stop_probe.is_set():
            t = time.perf_counter()
            c.request("GET", "/v1/endpoints?limit=1", headers={"Authorization": "Bearer " + tok})
            c.getresponse().read()
            lat.append(time.perf_counter() - t)
            time.sleep(0.002)

    # the same probe with nothing else running: the machine's own tail
    th = threading.Thread(target=probe)
    th.start()
    time.sleep(SECONDS)
    stop_probe.set()
    th.join()
    idle = sorted(lat)
    lat.clear()
    stop_probe.clear()
    th = threading.Thread(target=probe)
    th.start()
    t0 = time.time()
    job = api(h.url, "POST", "/api/webhooks/resend", {"search_type": "time_range", "request_timestamp": t_start,
                                                      "end_request_timestamp": t_end}, tok)["job_id"]
    while True:
        j = api(h.url, "GET", "/v1/jobs/" + job, None, tok)
        if j["state"] == "completed" or time.time() - t0 > 600:
            break
        time.sleep(0.2)
    took = time.time() - t0
    stop_probe.set()
    th.join()
    lat.sort()
    res["resend"] = {"matched": j["matched"], "replayed": j["done"], "seconds": took, "per_s": j["done"] / took,
                     "api_p50_ms": 1000 * lat[len(lat) // 2], "api_p99_ms": 1000 * lat[int(len(lat) * 0.99)],
                     "api_idle_p50_ms": 1000 * idle[len(idle) // 2],
                     "api_idle_p99_ms": 1000 * idle[int(len(idle) * 0.99)],
                     "api_samples": len(lat)}
    h.close()
    sink.close()
    r.cli("FLUSHALL")
    return res


def scenario_scale_out(r):
    """Drain rate of a preloaded backlog with 1, then 2 hookd processes."""
    res = {}
    for nproc in (1, 2):
        sink = Sink()
        h = Hookd(r)
        tok = tenant(h)
        eps = endpoints(h, tok, sink, 100, active=False, mif=64)
        for _ in range(1500):
            api(h.url, "POST", "/v1/events", {"type": "b", "payload": {"n": 1}}, tok)
        extra = [Hookd(r) for _ in range(nproc - 1)]
        sink.get("/reset")
        set_status(h, tok, eps, "enable")
        hs = [h] + extra
        t0, rc0, bc0, hc0 = time.time(), r.cpu_s(), box_busy_s(), sum(x.cpu_s() for x in hs)
        time.sleep(SECONDS)
        got = sink.get("/stats")["received"]
        dt = time.time() - t0
        res["procs_%d" % nproc] = got / dt
        # where the two cores went meanwhile (percent of one core): Redis near
        # 100 means Redis is the limit; the box near 200 means the machine is
        res["redis_cpu_pct_%d" % nproc] = 100 * (r.cpu_s() - rc0) / dt
        res["hookd_cpu_pct_%d" % nproc] = 100 * (sum(x.cpu_s() for x in hs) - hc0) / dt
        res["box_cpu_pct_%d" % nproc] = 100 * (box_busy_s() - bc0) / dt
        for x in extra + [h]:
            x.close()
        sink.close()
        r.cli("FLUSHALL")
    res["ratio"] = res["procs_2"] / res["procs_1"]
    return res


def core_plan():
    """Issue 10's many-core mode: with 8 cores or more, Redis, the load
    generator, the receiver and each hookd process get cores of their own
    (sched_setaffinity); with fewer, everything shares the machine and only
    1 and 2 processes run."""
    n = os.cpu_count() or 1
    if n < 8:
        return {"pinned": False, "procs": [1, 2]}
    hookd = list(range(5, n))
    return {"pinned": True, "redis": {0}, "load": {1, 2}, "sink": {3, 4}, "hookd": hookd,
            "procs": [k for k in (1, 2, 4, 8) if k <= len(hookd)]}


def pin(pid, cores):
    if cores:
        os.sched_setaffinity(pid, cores)


def scenario_cores(r):
    """Scale-out, end to end, in the two shapes platforms have: 64 orgs with
    one endpoint each, and one org with 64 endpoints each taking its own event
    type. Per process count: deliveries/s, Redis CPU (% of a core) and CPU per
    delivery (Redis, hookd)."""
    plan = core_plan()
    res = {"cores": os.cpu_count(), "pinned": plan["pinned"]}
    pin(r.proc.pid, plan.get("redis"))
    for shape in ("orgs64", "org1_eps64"):
        for k in plan["procs"]:
            r.cli("FLUSHALL")
            sink = Sink()
            pin(sink.proc.pid, plan.get("sink"))
            hs = [Hookd(r) for _ in range(k)]
            for i, h in enumerate(hs):
                pin(h.proc.pid, {plan["hookd"][i]} if plan["pinned"] else None)
            if shape == "orgs64":
                toks = [tenant(hs[0]) for _ in range(64)]
                for t in toks:
                    endpoints(hs[0], t, sink, 1, mif=256)
                types = ["bench"]
            else:
                toks = [tenant(hs[0])]
                types = ["t%d" % i for i in range(64)]
                for i, t in enumerate(types):
                    api(hs[0].url, "POST", "/v1/endpoints", {"url": "%s/e%d" % (sink.url, i), "max_in_flight": 256,
                                                            "event_types": [t]}, toks[0])
            sink.get("/reset")
            t0, rc0, hc0 = time.time(), r.cpu_s(), sum(h.cpu_s() for h in hs)
            p = pace(hs, toks, 0, SECONDS, conns=max(64, 32 * k), types=types, cores=plan.get("load"))
            wait_delivered(sink, p["ok"], 120)
            dt = time.time() - t0
            got = sink.get("/stats")["received"]
            rc, hc = r.cpu_s() - rc0, sum(h.cpu_s() for h in hs) - hc0
            res["%s_procs_%d" % (shape, k)] = {"deliveries_per_s": got / dt, "redis_cpu_pct": 100 * rc / dt,
                                               "redis_us_per_delivery": 1e6 * rc / max(1, got),
                                               "hookd_us_per_delivery": 1e6 * hc / max(1, got)}
            for h in hs:
                h.close()
            sink.close()
    r.cli("FLUSHALL")
    pin(r.proc.pid, set(range(os.cpu_count() or 1)))
    for shape in ("orgs64", "org1_eps64"):
        one = res.get("%s_procs_1" % shape, {}).get("deliveries_per_s") or 1
        for k in plan["procs"][1:]:
            res["%s_ratio_%d" % (shape, k)] = res["%s_procs_%d" % (shape, k)]["deliveries_per_s"] / one
    return res


class Cluster:
    """A Redis Cluster of `masters` masters (1 to 3 here; redis-cli's
    --cluster create needs 3, so the slots are assigned with ADDSLOTSRANGE
    and the nodes introduced with MEET), each on cores of its own when the
    machine has them."""

    def __init__(self, masters, fsync, cores=None):
        self.nodes = []
        for i in range(masters):
            n = Redis(fsync, ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
            pin(n.proc.pid, cores[i] if cores else None)
            first, last = i * 16384 // masters, (i + 1) * 16384 // masters - 1
            n.cli("CLUSTER", "ADDSLOTSRANGE", first, last)
            self.nodes.append(n)
        for n in self.nodes[1:]:
            self.nodes[0].cli("CLUSTER", "MEET", "127.0.0.1", n.port)
        end = time.time() + 30
        while time.time() < end and not all("cluster_state:ok" in n.cli("CLUSTER", "INFO") for n in self.nodes):
            time.sleep(0.1)
        self.port = self.nodes[0].port

    def cpu_s(self):
        return [n.cpu_s() for n in self.nodes]

    def close(self):
        for n in self.nodes:
            n.close()


def scenario_cluster(r, fsync="none"):
    """Issue 12: 64 orgs x 1 endpoint end to end at saturation against a
    cluster of 1, 2 and 3 masters, with 1 and 2 hookd processes: deliveries/s,
    and Redis CPU per delivery summed over the masters (constant as masters
    are added means the work splits without overhead) and per master."""
    res = {}
    plan = core_plan()
    many = plan["pinned"] and (os.cpu_count() or 1) >= 16
    for masters in (1, 2, 3):
        for k in ((1, 2, 4) if many else (1, 2)):
            c = Cluster(masters, fsync, cores=[{i} for i in range(masters)] if many else None)
            sink = Sink()
            hs = [Hookd(c) for _ in range(k)]
            if many:
                pin(sink.proc.pid, {3, 4})
                for i, h in enumerate(hs):
                    pin(h.proc.pid, {7 + i})
            toks = [tenant(hs[0]) for _ in range(64)]
            for t in toks:
                endpoints(hs[0], t, sink, 1, mif=256)
            sink.get("/reset")
            t0, rc0, hc0 = time.time(), c.cpu_s(), sum(h.cpu_s() for h in hs)
            p = pace(hs, toks, 0, SECONDS, conns=64 * k, cores={5, 6} if many else None)
            wait_delivered(sink, p["ok"], 120)
            dt = time.time() - t0
            got = max(1, sink.get("/stats")["received"])
            rc = [b - a for a, b in zip(rc0, c.cpu_s())]
            res["masters_%d_procs_%d" % (masters, k)] = {
                "deliveries_per_s": got / dt, "redis_us_per_delivery": 1e6 * sum(rc) / got,
                "redis_us_per_delivery_per_master": [round(1e6 * x / got, 1) for x in rc],
                "redis_cpu_pct_per_master": [round(100 * x / dt) for x in rc],
                "hookd_us_per_delivery": 1e6 * (sum(h.cpu_s() for h in hs) - hc0) / got}
            for h in hs:
                h.close()
            sink.close()
            c.close()
    # idle on a 3-master cluster (issue 5's targets: < 1% CPU, < 20 commands/s)
    c = Cluster(3, fsync)
    h = Hookd(c)
    time.sleep(1)
    c0, t0 = h.cpu_s(), time.time()
    n0 = sum(int(n.info("stats")["total_commands_processed"]) for n in c.nodes)
    time.sleep(10)
    n1 = sum(int(n.info("stats")["total_commands_processed"]) for n in c.nodes)
    c1, t1 = h.cpu_s(), time.time()
    res["idle_3_masters"] = {"cpu_pct": 100 * (c1 - c0) / (t1 - t0),
                             "redis_cmds_per_s": (n1 - n0 - len(c.nodes)) / (t1 - t0)}
    h.close()
    c.close()
    return res


def scenario_durability(r):
    """Issue 12: what durability = replicated costs. One Redis with one
    replica; end to end at saturation with durability = master, then
    replicated: deliveries/s and CPU per delivery of the master, the replica
    and hookd."""
    res = {}
    rep = Redis("none")
    rep.cli("REPLICAOF", "127.0.0.1", r.port)
    end = time.time() + 20
    while time.time() < end and "master_link_status:up" not in rep.cli("INFO", "replication"):
        time.sleep(0.1)
    for mode in ("master", "replicated"):
        r.cli("FLUSHALL")
        sink = Sink()
        h = Hookd(r, durability=mode)
        toks = [tenant(h) for _ in range(16)]
        for t in toks:
            endpoints(h, t, sink, 1, mif=256)
        sink.get("/reset")
        t0, rc0, pc0, hc0 = time.time(), r.cpu_s(), rep.cpu_s(), h.cpu_s()
        p = pace(h, toks, 0, SECONDS, conns=64)
        wait_delivered(sink, p["ok"], 120)
        dt = time.time() - t0
        got = max(1, sink.get("/stats")["received"])
        res[mode] = {"deliveries_per_s": got / dt, "ingest_p50_ms": p["p50_us"] / 1000,
                     "ingest_p99_ms": p["p99_us"] / 1000,
                     "redis_us_per_delivery": 1e6 * (r.cpu_s() - rc0) / got,
                     "replica_us_per_delivery": 1e6 * (rep.cpu_s() - pc0) / got,
                     "hookd_us_per_delivery": 1e6 * (h.cpu_s() - hc0) / got}
        h.close()
        sink.close()
    rep.close()
    r.cli("FLUSHALL")
    return res


def scenario_many_endpoints(r):
    """Issue 10: ingest into an org with 1, 1,000 and 10,000 endpoints of
    which one matches (disabled, so only ingest runs): rate and Redis CPU per
    event should not depend on the endpoints an event does not go to. Three
    orgs in one process, measured in turn three times (this box's speed
    swings by 30% between two 5-second runs), the best rate and the least
    CPU of each kept."""
    res, toks = {}, {}
    h, sink = Hookd(r), Sink()
    for n in (1, 1000, 10000):
        tok = tenant(h)
        endpoints(h, tok, sink, 1, active=False)  # matches every type
        for i in range(n - 1):
            api(h.url, "POST", "/v1/endpoints", {"url": sink.url + "/o", "event_types": ["other.%d" % i]}, tok)
        toks[n] = tok
    for _ in range(3):
        for n, tok in toks.items():
            rc0 = r.cpu_s()
            w = wrk(h.url + "/v1/events", body_1k(), tok)
            got = {"rps": w["rps"], "redis_cpu_us": 1e6 * (r.cpu_s() - rc0) / max(1, w["rps"] * SECONDS)}
            best = res.setdefault("endpoints_%d" % n, got)
            best["rps"], best["redis_cpu_us"] = max(best["rps"], got["rps"]), min(best["redis_cpu_us"], got["redis_cpu_us"])
    res["ratio_1000"] = res["endpoints_1000"]["rps"] / res["endpoints_1"]["rps"]
    res["ratio_10000"] = res["endpoints_10000"]["rps"] / res["endpoints_1"]["rps"]
    h.close()
    sink.close()
    r.cli("FLUSHALL")
    return res


def filtered_body():
    b = {"type": "bench", "payload": {"account": "acct-0", "amount": 50, "pad": ""}}
    b["payload"]["pad"] = "x" * (1024 - len(json.dumps(b)))
    return json.dumps(b)


def scenario_filters(r):
    """Issue 22: ingest into an org whose 1,000 endpoints each carry a filter
    (no event_types, so the type reaches every one; one filter matches)
    against an org with one endpoint and no filter, same 1 KiB events.
    "eq": each filter holds an account id, {"payload.account": "acct-<i>",
    "payload.amount": {"$gte": 10}} (the equality index tries one); "or":
    "range": {"payload.amount": {"$gte": i, "$lt": i + 1}} and "or":
    {"$or": [...]}, which no index serves (every filter tried on every event,
    each path resolved once per event).
    Endpoints disabled: only ingest runs."""
    res = {}
    h, sink = Hookd(r), Sink()

    def measure(tok):
        rc0, hc0 = r.cpu_s(), h.cpu_s()
        w = wrk(h.url + "/v1/events", filtered_body(), tok)
        n = max(1, w["rps"] * SECONDS)
        return {"rps": w["rps"], "redis_cpu_us": 1e6 * (r.cpu_s() - rc0) / n, "hookd_cpu_us": 1e6 * (h.cpu_s() - hc0) / n}

    tok = tenant(h)
    endpoints(h, tok, sink, 1, active=False)
    res["plain_1"] = measure(tok)
    shapes = {"eq": lambda i: {"payload.account": "acct-%d" % i, "payload.amount": {"$gte": 10}},
              "range": lambda i: {"payload.amount": {"$gte": i, "$lt": i + 1}},
              "or": lambda i: {"$or": [{"payload.account": "acct-%d" % i}, {"type": "x.%d" % i}]}}
    for name, shape in shapes.items():
        tok = tenant(h)
        for i in range(1000):
            ep = api(h.url, "POST", "/v1/endpoints", {"url": sink.url + "/f", "filter": shape(i)}, tok)
            api(h.url, "POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)
        res["filtered_%s_1000" % name] = measure(tok)
        res["ratio_" + name] = res["filtered_%s_1000" % name]["rps"] / res["plain_1"]["rps"]
    h.close()
    sink.close()
    r.cli("FLUSHALL")
    return res


def scenario_fifo(r):
    """Issue 22: end to end at saturation on one endpoint with ordering
    "none", then "fifo" with events spread over 256 ordering keys: Redis and
    hookd CPU per delivery, and the rate (a key's deliveries wait for each
    other, so fifo's rate is bounded by keys / round trip)."""
    res = {}
    for ordering in ("none", "fifo"):
        h, sink = Hookd(r), Sink()
        tok = tenant(h)
        api(h.url, "POST", "/v1/endpoints", {"url": sink.url + "/e", "max_in_flight": 256, "ordering": ordering}, tok)
        sink.get("/reset")
        rc0, hc0, t0 = r.cpu_s(), h.cpu_s(), time.time()
        p = pace(h, tok, 0, SECONDS + 3, conns=64, keys=256 if ordering == "fifo" else 0)
        took = wait_delivered(sink, p["ok"], 120)
        elapsed = time.time() - t0
        got = max(1, sink.get("/stats")["received"])
        res[ordering] = {"in_rate": p["rate"], "out_rate": got / elapsed, "drained": took is not None,
                         "redis_cpu_us_per_delivery": 1e6 * (r.cpu_s() - rc0) / got,
                         "hookd_cpu_us_per_delivery": 1e6 * (h.cpu_s() - hc0) / got}
        h.close()
        sink.close()
        r.cli("FLUSHALL")
    return res


def scenario_flow(r):
    """Issue 21: rate limits. Accuracy: one endpoint with rate_limit 10, 100
    and 1,000 and a backlog; deliveries the sink got over 10 s against the
    rate. Cost: end to end at saturation on one endpoint without a limit
    and with rate_limit 100,000 (never reached: what the bucket costs), Redis
    and hookd CPU per delivery."""
    res = {}
    h, sink = Hookd(r), Sink()
    tok = tenant(h)
    for rate in (10, 100, 1000):
        ep = api(h.url, "POST", "/v1/endpoints", {"url": sink.url + "/r%d" % rate, "max_in_flight": 256}, tok)["id"]
        api(h.url, "POST", "/v1/endpoints/%s/disable" % ep, None, tok)
        n = 0
        while n < rate * 13:  # the backlog, queued while disabled
            n += pace(h, tok, rate * 13 - n, 1, conns=16)["ok"]
        api(h.url, "PATCH", "/v1/endpoints/" + ep, {"rate_limit": rate}, tok)
        api(h.url, "POST", "/v1/endpoints/%s/enable" % ep, None, tok)
        time.sleep(1.5)
        c0 = sink.get("/stats")["received"]
        time.sleep(10)
        got = sink.get("/stats")["received"] - c0
        res["rate_%d" % rate] = {"per_10s": got, "accuracy": got / (rate * 10.0)}
        api(h.url, "DELETE", "/v1/endpoints/" + ep, None, tok)
        sink.get("/reset")
    h.close()
    r.cli("FLUSHALL")
    for limit in (None, 100000):
        h = Hookd(r)
        tok = tenant(h)
        api(h.url, "POST", "/v1/endpoints", {"url": sink.url + "/e", "max_in_flight": 256, "rate_limit": limit}, tok)
        sink.get("/reset")
        rc0, hc0, t0 = r.cpu_s(), h.cpu_s(), time.time()
        p = pace(h, tok, 0, SECONDS + 3, conns=64)
        wait_delivered(sink, p["ok"], 120)
        got = max(1, sink.get("/stats")["received"])
        res["limit_%s" % (limit or "none")] = {"out_rate": got / (time.time() - t0),
                                               "redis_cpu_us_per_delivery": 1e6 * (r.cpu_s() - rc0) / got,
                                               "hookd_cpu_us_per_delivery": 1e6 * (h.cpu_s() - hc0) / got}
        h.close()
        r.cli("FLUSHALL")
    sink.close()
    return res


def scenario_stats(r):
    """Issue 24: what an endpoint's stats cost Redis. complete.lua adds a
    batch's counts once per endpoint (store/lua/lib/stats.lua): that
    library, run here as the script runs it, for batches of 1, 8 and 24
    successful outcomes of one endpoint over two latency bins; Redis CPU per
    outcome from /proc. At end-to-end saturation a complete.lua call carries
    ~8-16 outcomes (the ingest_e2e scenario's round trips per delivery)."""
    with open(os.path.join(ROOT, "store", "lua", "lib", "stats.lua")) as f:
        lib = f.read()
    loop = """
local stats = {}
local function stat(ek, field, bin)
  local s = stats[ek]
  if not s then s = {} stats[ek] = s end
  if field then s[field] = (s[field] or 0) + 1 end
  if bin ~= '' then s[bin] = (s[bin] or 0) + 1 end
end
local calls, per, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bins = {'b24', 'b25'} -- as complete.lua gets them (OUT_LATENCY_BIN)
for i = 1, calls do
  stats = {}
  for j = 1, per do stat(KEYS[1], nil, bins[1 + j % 2]) end
  for ek, s in pairs(stats) do stats_add(ek, s, now) end
end
return calls"""
    res = {}
    calls = 20000
    for per in (1, 8, 24):
        c0 = r.cpu_s()
        r.cli("EVAL", lib + loop, 1, "hookd:{0}:ep:00000000-0000-7000-8000-000000000001", calls, per,
              int(time.time() * 1000))
        res["per_%d" % per] = {"redis_cpu_us_per_outcome": 1e6 * (r.cpu_s() - c0) / (calls * per)}
    r.cli("FLUSHALL")
    return res


class Resp:
    """A bare RESP client: the script-cost scenario's calls carry binary
    payloads and read nested replies, which redis-cli's text does not."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind in (b"+", b":"):
            return int(rest) if kind == b":" else rest.decode()
        n = int(rest)
        if n < 0:
            return None
        if kind == b"$":
            return self.f.read(n + 2)[:-2]
        return [self.read() for _ in range(n)]

    def close(self):
        self.s.close()


def scenario_scripts(r):
    """Issue 20: the hot-path scripts alone, without HTTP: ingest.lua with
    batches of 8 events of one endpoint, every event handed off (leased) to
    the caller, then complete.lua with their outcomes as first-attempt
    successes, as hookd sends them (the field offsets from the build's
    field table). Redis time inside the script calls (INFO commandstats)
    per delivery, for a small stored payload (what a zstd frame of a
    repetitive 1 KiB body is) and a 1 KiB one that does not compress, at
    hash-max-listpack-value 64 (Redis's default: 16 chunks) and 1024 (one);
    the least of three alternated runs of each."""
    import uuid
    bodies = script_bodies()
    if "ingest" not in bodies:
        return {"skipped": "no lua_scripts.c in " + BUILD}
    off = dict((k, int(v)) for k, v in re.findall(r"^local (\w+) = (\d+)$", bodies["fields"].decode(), re.M))
    c = Resp(r.port)
    # as hookd calls them: FCALL of their function libraries where the build
    # has them (cmake/embed_lua.cmake), else EVALSHA
    head = {}
    for name in ("ingest", "complete"):
        lib = bodies.get("fn_" + name)
        head[name] = ["FCALL", c.cmd("FUNCTION", "LOAD", "REPLACE", lib)] if lib else \
            ["EVALSHA", c.cmd("SCRIPT", "LOAD", bodies[name])]

    def script_usec():  # EVALSHA and FCALL alike
        st = c.cmd("INFO", "commandstats")
        return sum(int(u) for u in re.findall(rb"cmdstat_(?:evalsha|fcall):calls=\d+,usec=(\d+)", st))

    def run(payload, chunk, calls=1000, batch=8):
        c.cmd("FLUSHALL")
        c.cmd("CONFIG", "SET", "hash-max-listpack-value", chunk)
        P, org, ep = "hookd:{3}", str(uuid.uuid4()), str(uuid.uuid4())
        c.cmd("HSET", P + ":ep:" + ep, "org_id", org, "status", "ACTIVE", "in_flight", "0", "max_in_flight", "100000000",
              "url", "http://127.0.0.1:9/x", "secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
              "consecutive_failures", "0", "failing_since", "0", "created_at", "1")
        now, leases = int(time.time() * 1000), []
        u0 = script_usec()
        for i in range(calls):
            args = head["ingest"] + [1, P, batch, 600000000, 86400, chunk]
            for k in range(batch):
                ev = [""] * off["INGEST_FIELDS"]
                ev[off["INGEST_ORG"]], ev[off["INGEST_TYPE"]], ev[off["INGEST_PAYLOAD"]] = org, "bench", payload
                ev[off["INGEST_EVENT_ID"]] = "%08x-0000-7000-8000-%08x%04x" % (now // 1000 & 0xffffffff, i, k * 0 + k)
                ev[off["INGEST_EVENT_ID"]] = ev[off["INGEST_EVENT_ID"]][:32] + "0000"
                ev[off["INGEST_NOW"]], ev[off["INGEST_USER_ID"]] = now + i, "1"
                ev[off["INGEST_ROUTES_VERSION"]], ev[off["INGEST_ENDPOINTS"]] = "0", ep
                args += ev
            for e in c.cmd(*args)[:-1]:  # the last element: the hand-offs' endpoints
                for j in range(e[off["INGR_LEASED"]]):
                    base = off["INGEST_REPLY_FIELDS"] + j * off["HANDOFF_FIELDS"]
                    h = e[base:base + off["HANDOFF_FIELDS"]]
                    leases.append({"id": h[off["HANDOFF_ID"]], "fence": h[off["HANDOFF_FENCE"]],
                                   "simple": h[off["HANDOFF_SIMPLE"]], "event_id": e[off["INGR_EVENT_ID"]]})
        u1 = script_usec()
        for i in range(0, len(leases), batch):
            args = head["complete"] + [1, P, now + calls, 100, 3600000, 100, 5000, 60000]
            for l in leases[i:i + batch]:
                o = [""] * off["OUTCOME_FIELDS"]
                o[off["OUT_ID"]], o[off["OUT_FENCE"]], o[off["OUT_ENDPOINT_ID"]] = l["id"], l["fence"], ep
                o[off["OUT_ATTEMPT_COUNT"]], o[off["OUT_OK"]], o[off["OUT_CODE"]] = "0", "1", "200"
                o[off["OUT_STARTED"]], o[off["OUT_NEXT_AT"]], o[off["OUT_EVENT_ID"]] = now, "-1", l["event_id"]
                o[off["OUT_COMPACT"]], o[off["OUT_SIMPLE"]] = "200|%d|3|ok" % now, l["simple"]
                o[off["OUT_LATENCY_BIN"]] = "b8"
                args += o
            c.cmd(*args)
        u2 = script_usec()
        n = calls * batch
        return {"handed_off": len(leases) / n, "ingest_us": (u1 - u0) / n, "complete_us": (u2 - u1) / n}

    import random
    rnd = random.Random(1)
    varied = json.dumps({"id": str(uuid.UUID(int=rnd.getrandbits(128))),
                         "items": [{"sku": "%08x" % rnd.getrandbits(32), "n": rnd.randint(1, 99)} for _ in range(28)]})
    res = {}
    for rep in range(3):  # alternated, and the least of three kept: this box's speed swings within seconds
        for name, payload in (("small", b"(a zstd frame of a repetitive body)..."), ("1k", varied[:1024].encode())):
            for chunk in (64, 1024):
                got, key = run(payload, chunk), "%s_%d" % (name, chunk)
                res[key] = dict((k, min(v, res.get(key, got)[k])) for k, v in got.items())
    c.cmd("CONFIG", "SET", "hash-max-listpack-value", 64)
    c.cmd("FLUSHALL")
    c.close()
    return res


def resp_command(*args):
    """One command in RESP, for pipelining."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


# scenario_floor's "split" way: a measurement of a design, not hookd's code.
FLOOR_DECIDE = r"""#!lua name=bench_floor
redis.register_function('bench_decide', function(KEYS, ARGV)
  local P, org, ver, until_s, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
  if (redis.call('GET', P .. ':org:' .. org .. ':ver') or '0') ~= ver then return {0} end
  local ek = P .. ':ep:' .. ARGV[5]
  local h = redis.call('HMGET', ek, 'status', 'in_flight', 'max_in_flight', 'url', 'secret', 'prev_secret',
                       'prev_expires', 'tls_ca', 'tls_cert', 'tls_key', 'signature_scheme', 'sign_key',
                       'prev_sign_key', 'auth_token_url', 'auth_client_id', 'auth_client_secret', 'auth_scope',
                       'ordering', 'fifo_used', 'headers', 'rate_limit', 'eff_rate', 'paused_until', 'circuit')
  local free = (tonumber(h[3]) or 0) - (tonumber(h[2]) or 0)
  local due = redis.call('EXISTS', ek .. ':due') == 1
  local lease, out = {}, {1}
  for a = 6, #ARGV do
    if h[1] == 'ACTIVE' and not due and #lease < 2 * free then
      lease[#lease + 1] = until_s
      lease[#lease + 1] = ARGV[a]
      out[#out + 1] = 1
    else
      redis.call('ZADD', ek .. ':due', now, ARGV[a])
      due = true
      out[#out + 1] = 0
    end
  end
  if #lease > 0 then
    redis.call('ZADD', P .. ':lease', unpack(lease))
    redis.call('HINCRBY', ek, 'in_flight', #lease / 2)
  end
  for i = 4, 20 do out[#out + 1] = h[i] or '' end
  return out
end)
redis.register_function('bench_settle', function(KEYS, ARGV)
  local P, now, ek = KEYS[1], ARGV[1], KEYS[1] .. ':ep:' .. ARGV[2]
  local ids, fences, done, finished = {}, {}, {}, {}
  for a = 4, #ARGV, 2 do ids[#ids + 1], fences[#fences + 1] = ARGV[a], ARGV[a + 1] end
  local scores = redis.call('ZMSCORE', P .. ':lease', unpack(ids))
  for i = 1, #ids do
    if scores[i] and tonumber(scores[i]) == tonumber(fences[i]) then
      done[#done + 1] = ids[i]
      finished[#finished + 1] = string.rep('0', 13 - #now) .. now .. 's' .. ids[i] .. ARGV[3]
    end
  end
  if #done > 0 then
    redis.call('ZREM', P .. ':lease', unpack(done))
    redis.call('RPUSH', P .. ':finished', unpack(finished))
    redis.call('HINCRBY', ek, 'in_flight', -#done)
    redis.call('HINCRBY', ek .. ':st:m:0', 'b8', #done)
  end
  return #done
end)
"""


def floor_fanout(r, c, ingest, off, fanout=100, events=300):
    """scenario_floor at fan-out 100: one event to 100 endpoints a call (a
    200-byte payload), Redis CPU per delivery for hookd's ingest function
    (8 handed off, the rest scheduled) and for the writes it makes as plain
    commands in MULTI/EXEC: the routes version read, the event hash, its
    endpoint string, the org's index, one member in each endpoint's due set
    (a sorted set each: one command each), the ready set, the due count.
    Without the due sets too (fanout_plain_no_due): what they cost."""
    import uuid
    P, org = "hookd:{3}", str(uuid.uuid4())
    eps = [str(uuid.uuid4()) for _ in range(fanout)]

    def function(evid, now):
        ev = [""] * off["INGEST_FIELDS"]
        ev[off["INGEST_ORG"]], ev[off["INGEST_TYPE"]], ev[off["INGEST_PAYLOAD"]] = org, "bench", b"x" * 200
        ev[off["INGEST_EVENT_ID"]], ev[off["INGEST_NOW"]], ev[off["INGEST_USER_ID"]] = evid, now, "1"
        ev[off["INGEST_ROUTES_VERSION"]], ev[off["INGEST_ENDPOINTS"]] = "0", "".join(eps)
        c.cmd(*(ingest + [1, P, 8, 600000, 86400, 1024] + ev))

    def plain(evid, now, due=True):
        ids = [evid[:32] + "%04x" % (k + 1) for k in range(fanout)]
        cmds = [resp_command("MULTI"), resp_command("GET", P + ":org:" + org + ":ver"),
                resp_command("HSET", P + ":ev:" + evid, "org_id", org, "type", "bench", "created_at", now,
                             "user_id", "1", "n", fanout, "b1", b"x" * 200, "b", "1"),
                resp_command("SET", P + ":ev:" + evid + ":eps", "".join(eps)),
                resp_command("ZADD", P + ":org:" + org + ":dls", *[x for d in ids for x in ("0", d)])]
        if due:
            cmds += [resp_command("ZADD", P + ":ep:" + ep + ":due", now, d) for ep, d in zip(eps, ids)]
        cmds += [resp_command("ZADD", P + ":ready", "LT", *[x for ep in eps for x in (now, ep)]),
                 resp_command("HINCRBY", P + ":stats", "due", fanout), resp_command("EXEC")]
        c.s.sendall(b"".join(cmds))
        for _ in cmds:
            c.read()

    res = {}
    for way, call in (("fanout_plain", plain), ("fanout_plain_no_due", lambda e, n: plain(e, n, False)),
                      ("fanout_functions", function)):
        c.cmd("FLUSHALL")
        for ep in eps:
            c.cmd("HSET", P + ":ep:" + ep, "org_id", org, "status", "ACTIVE", "in_flight", "0",
                  "max_in_flight", "100000000", "url", "http://127.0.0.1:9/x",
                  "secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "created_at", "1")
        t0 = r.cpu_s()
        for _ in range(events):
            call(str(uuid.uuid4())[:32] + "0000", int(time.time() * 1000))
        res[way] = 1e6 * (r.cpu_s() - t0) / (events * fanout)
    return res


def scenario_floor(r):
    """Issue 20: what a delivery's writes cost Redis at the least, against
    what hookd's functions cost for the same deliveries. One delivery per
    event (a 1 KiB payload that does not compress, handed off, a
    first-attempt success), 16 events a call, Redis CPU per delivery from
    /proc, three ways in the same minutes, the least of three alternated
    runs each:
    - plain: the writes ingest and complete make, as pipelined commands in
      MULTI/EXEC, no script, no decision: the routes version read, the event
      hash, the org's delivery index, the lease and in_flight; then the
      fences read, the leases removed, the compact records, retention's
      entries, in_flight and a stats bucket;
    - plain_no_index: the same without the org's delivery index;
    - plain_ingest: plain's ingest writes alone (issue 20's ingest target);
    - split: the plain writes with the decisions left in two small
      functions inside the same MULTI/EXEC (FLOOR_DECIDE below: the routes
      version and the endpoint's capacity at ingest, the fences at
      completion), what a design that keeps hookd's atomic decisions in Lua
      but moves the writes out of it would cost;
    - functions: hookd's ingest and complete functions as hookd calls them.
    Ids as hookd makes them (time-ordered, random tail), a fresh store each
    run (it grows, as under load)."""
    import random
    import uuid
    bodies = script_bodies()
    if "fn_ingest" not in bodies:
        return {"skipped": "no function libraries in " + BUILD}
    off = dict((k, int(v)) for k, v in re.findall(r"^local (\w+) = (\d+)$", bodies["fields"].decode(), re.M))
    c = Resp(r.port)
    head = dict((n, ["FCALL", c.cmd("FUNCTION", "LOAD", "REPLACE", bodies["fn_" + n])]) for n in ("ingest", "complete"))
    c.cmd("FUNCTION", "LOAD", "REPLACE", FLOOR_DECIDE)
    rnd = random.Random(1)
    payload = json.dumps({"id": str(uuid.UUID(int=rnd.getrandbits(128))),
                          "items": [{"sku": "%08x" % rnd.getrandbits(32), "n": rnd.randint(1, 99)}
                                    for _ in range(28)]})[:1024].encode()
    seq = [0]

    def event_id():  # store/ids.c's layout: ms, version 7 and a counter, random bits; low 16 bits zero
        seq[0] += 1
        ms, tail = "%012x" % int(time.time() * 1000), uuid.uuid4().hex
        return "%s-%s-7%03x-%s-%s0000" % (ms[:8], ms[8:], seq[0] & 0xfff, tail[:4], tail[4:12])

    def pipeline(cmds):
        c.s.sendall(b"".join(cmds))
        return [c.read() for _ in cmds]

    def plain(P, org, ep, now, index=True, complete=True):
        O, ek, evs = P + ":org:" + org, P + ":ep:" + ep, [event_id() for _ in range(16)]
        dls = [e[:32] + "0001" for e in evs]
        cmds = [resp_command("MULTI"), resp_command("GET", O + ":ver")]
        cmds += [resp_command("HSET", P + ":ev:" + e, "org_id", org, "type", "bench", "created_at", now, "user_id", "1",
                              "n", "1", "b1", payload, "b", "1", "ep", ep) for e in evs]
        if index:
            cmds.append(resp_command("ZADD", O + ":dls", *[x for d in dls for x in ("0", d)]))
        cmds.append(resp_command("ZADD", P + ":lease", *[x for d in dls for x in (str(now + 600000), d)]))
        cmds += [resp_command("HINCRBY", ek, "in_flight", len(dls)), resp_command("EXEC")]
        pipeline(cmds)
        if not complete:
            return
        cmds = [resp_command("ZMSCORE", P + ":lease", *dls), resp_command("MULTI"),
                resp_command("ZREM", P + ":lease", *dls),
                resp_command("RPUSH", P + ":finished", *["%013ds%s%s" % (now, d, org) for d in dls])]
        cmds += [resp_command("HSET", P + ":ev:" + e, "r1", "%d|200|%d|3|ok" % (now, now)) for e in evs]
        cmds += [resp_command("HINCRBY", ek, "in_flight", -len(dls)), resp_command("HINCRBY", ek + ":st:m:0", "b8", 16),
                 resp_command("EXEC")]
        pipeline(cmds)

    def split(P, org, ep, now):
        O, evs = P + ":org:" + org, [event_id() for _ in range(16)]
        dls = [e[:32] + "0001" for e in evs]
        cmds = [resp_command("MULTI")]
        cmds += [resp_command("HSET", P + ":ev:" + e, "org_id", org, "type", "bench", "created_at", now, "user_id", "1",
                              "n", "1", "b1", payload, "b", "1", "ep", ep) for e in evs]
        cmds.append(resp_command("ZADD", O + ":dls", *[x for d in dls for x in ("0", d)]))
        cmds += [resp_command("FCALL", "bench_decide", 1, P, org, "0", now + 600000, now, ep, *dls), resp_command("EXEC")]
        pipeline(cmds)
        cmds = [resp_command("MULTI")]
        cmds += [resp_command("HSET", P + ":ev:" + e, "r1", "%d|200|%d|3|ok" % (now, now)) for e in evs]
        cmds += [resp_command("FCALL", "bench_settle", 1, P, now, ep, org, *[x for d in dls for x in (d, now + 600000)]),
                 resp_command("EXEC")]
        pipeline(cmds)

    def run(way, events=24000):
        c.cmd("FLUSHALL")
        P, org, ep = "hookd:{3}", str(uuid.uuid4()), str(uuid.uuid4())
        c.cmd("HSET", P + ":ep:" + ep, "org_id", org, "status", "ACTIVE", "in_flight", "0", "max_in_flight", "100000000",
              "url", "http://127.0.0.1:9/x", "secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
              "consecutive_failures", "0", "failing_since", "0", "created_at", "1")
        t0 = r.cpu_s()
        for _ in range(events // 16):
            now = int(time.time() * 1000)
            if way == "functions":
                call_functions(P, org, ep, now)
            elif way == "split":
                split(P, org, ep, now)
            else:
                plain(P, org, ep, now, index=way != "plain_no_index", complete=way != "plain_ingest")
        return 1e6 * (r.cpu_s() - t0) / events

    def call_functions(P, org, ep, now):
        args = head["ingest"] + [1, P, 16, 600000, 86400, 1024]
        for _ in range(16):
            ev = [""] * off["INGEST_FIELDS"]
            ev[off["INGEST_ORG"]], ev[off["INGEST_TYPE"]], ev[off["INGEST_PAYLOAD"]] = org, "bench", payload
            ev[off["INGEST_EVENT_ID"]], ev[off["INGEST_NOW"]], ev[off["INGEST_USER_ID"]] = event_id(), now, "1"
            ev[off["INGEST_ROUTES_VERSION"]], ev[off["INGEST_ENDPOINTS"]] = "0", ep
            args += ev
        out = head["complete"] + [1, P, now, 100, 3600000, 100, 5000, 60000]
        for e in c.cmd(*args)[:-1]:  # the last element: the hand-offs' endpoints
            for j in range(e[off["INGR_LEASED"]]):
                h = e[off["INGEST_REPLY_FIELDS"] + j * off["HANDOFF_FIELDS"]:][:off["HANDOFF_FIELDS"]]
                o = [""] * off["OUTCOME_FIELDS"]
                o[off["OUT_ID"]], o[off["OUT_FENCE"]], o[off["OUT_ENDPOINT_ID"]] = h[off["HANDOFF_ID"]], h[off["HANDOFF_FENCE"]], ep
                o[off["OUT_ATTEMPT_COUNT"]], o[off["OUT_OK"]], o[off["OUT_CODE"]] = "0", "1", "200"
                o[off["OUT_STARTED"]], o[off["OUT_NEXT_AT"]], o[off["OUT_EVENT_ID"]] = now, "-1", e[off["INGR_EVENT_ID"]]
                o[off["OUT_COMPACT"]], o[off["OUT_SIMPLE"]] = "200|%d|3|ok" % now, h[off["HANDOFF_SIMPLE"]]
                o[off["OUT_LATENCY_BIN"]] = "b8"
                out += o
        c.cmd(*out)

    c.cmd("CONFIG", "SET", "hash-max-listpack-value", 1024)  # as scripts/run starts Redis: the payload in one field
    res = {}
    for _ in range(3):  # alternated, the least kept: this box's speed swings within seconds
        for way in ("plain", "plain_no_index", "plain_ingest", "split", "functions"):
            got = run(way)
            res[way] = min(got, res.get(way, got))
        for way, got in floor_fanout(r, c, head["ingest"], off).items():
            res[way] = min(got, res.get(way, got))
    c.cmd("CONFIG", "SET", "hash-max-listpack-value", 64)
    c.cmd("FUNCTION", "DELETE", "bench_floor")
    c.cmd("FLUSHALL")
    c.close()
    return dict((k + "_redis_us_per_delivery", v) for k, v in res.items())


SOAK_SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "60"))
SOAK_RATE = int(os.environ.get("BENCH_SOAK_RATE", "500"))


def hookd_metric(h, name):
    with urllib.request.urlopen(h.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name))


def scenario_soak(r):
    """Retention (issue 11): a steady rate with a short retention, Redis memory
    over time; then what pruning costs Redis next to ingest and delivery, each
    measured alone on the same records."""
    res = {"rate": SOAK_RATE, "seconds": SOAK_SECONDS, "retention_s": 15}
    h, sink = Hookd(r, retention="15s"), Sink()
    tok = tenant(h)
    endpoints(h, tok, sink, 1, mif=256)
    out = {}
    t = threading.Thread(target=lambda: out.update(pace(h, tok, SOAK_RATE, SOAK_SECONDS, conns=16)))
    t0 = time.time()
    t.start()
    samples = []
    while t.is_alive():
        time.sleep(5)
        samples.append({"t_s": round(time.time() - t0), "used_memory_mb": round(int(r.info("memory")["used_memory"]) / 2**20, 1),
                        "keys": int(r.cli("DBSIZE") or 0)})
    t.join()
    res["memory_over_time"] = samples
    res["sent"] = out.get("ok", 0)
    h.close()
    r.cli("FLUSHALL")
    # pruning's cost: N deliveries made and delivered with nothing pruned, then
    # pruned with nothing else running; Redis CPU for each, per delivery
    h = Hookd(r, retention="72h")
    tok = tenant(h)
    endpoints(h, tok, sink, 1, mif=256)
    sink.get("/reset")
    rc0 = r.cpu_s()
    p = pace(h, tok, 0, SECONDS, conns=64)
    wait_delivered(sink, p["ok"], 120)
    time.sleep(1)
    n, rc1 = p["ok"], r.cpu_s()
    h.close()

    def left_to_prune():  # the retain lists, not /metrics: hookd's metrics read every partition
        return int(r.cli("EVAL", "local n = 0 for p = 0, 15 do n = n + redis.call('LLEN', 'hookd:{' .. p .. "
                         "'}:finished') end return n", 0) or 0)  # 16: the default partition count

    # what Redis spends meanwhile on anything else (hookd's idle polling, this
    # loop's): measured with the same process once nothing is left to prune,
    # over as long as the pruning took, and taken off the pruning window
    h = Hookd(r, retention="1s")  # ready: its scripts are loaded
    cs2 = r.commandstats()
    rc2, t2 = r.cpu_s(), time.time()
    while left_to_prune() > 0 and time.time() - t2 < 120:
        time.sleep(0.2)
    rc3, t3 = r.cpu_s(), time.time()
    cs3 = r.commandstats()
    ra, ta = r.cpu_s(), time.time()
    while time.time() - ta < max(2.0, t3 - t2):
        left_to_prune()
        time.sleep(0.2)
    idle_rate = (r.cpu_s() - ra) / (time.time() - ta)
    res["redis_idle_cpu_pct"] = 100 * idle_rate
    rc3 -= idle_rate * (t3 - t2)
    # time inside script calls only (pruning is nearly all of them now)
    res["prune_script_us_per_delivery"] = (cs3.get("evalsha", (0, 0))[1] - cs2.get("evalsha", (0, 0))[1]) / max(1, n)
    res["prune_seconds"] = t3 - t2
    res["pruned_total"] = hookd_metric(h, 'hookd_pruned_total{kind="delivery"}')
    res["ingest_deliver_redis_us_per_delivery"] = 1e6 * (rc1 - rc0) / max(1, n)
    res["prune_redis_us_per_delivery"] = 1e6 * (rc3 - rc2) / max(1, n)
    res["prune_share_pct"] = 100 * res["prune_redis_us_per_delivery"] / max(1e-9, res["ingest_deliver_redis_us_per_delivery"])
    res["pruned_records"] = n
    h.close()
    sink.close()
    r.cli("FLUSHALL")
    return res


# Commands over 1 ms that hookd sent (issue 10: none may be), from SLOWLOG;
# what the bench itself sends (FLUSHALL between scenarios, polling) is left out.
SLOWLOG_EVAL = """local skip = {flushall = 1, flushdb = 1, config = 1, slowlog = 1, info = 1, dbsize = 1, scan = 1,
  keys = 1, memory = 1, save = 1, debug = 1, llen = 1, zcard = 1, eval = 1}
local n, n2, worst, cmd, by = 0, 0, 0, '', {}
for _, e in ipairs(redis.call('SLOWLOG', 'GET', 1024)) do
  local name = string.lower(e[4][1])
  if not skip[name] then
    n = n + 1
    local what = name -- a script or function by its name, a command alone (not by key)
    if name == 'evalsha' or name == 'fcall' or name == 'function' or name == 'script' then
      what = name .. ' ' .. (e[4][2] or '')
    end
    by[what] = (by[what] or 0) + 1
    if e[3] > worst then worst, cmd = e[3], what end
    if e[3] > 2000 then n2 = n2 + 1 end
  end
end
local out = {n, worst, cmd, n2}
for k, v in pairs(by) do out[#out + 1] = k .. '=' .. v end
return out"""


def script_bodies():
    """name -> body of each script as the build compiled it in
    (BUILD/lua_scripts.c, made by cmake/embed_lua.cmake: the field table and
    the required libs in front of each script); "fn_NAME": the function
    library of a hot-path script."""
    try:
        text = open(os.path.join(BUILD, "lua_scripts.c")).read()
    except OSError:
        return {}
    return dict((name, bytes(int(x, 16) for x in data.split(",") if x.strip() and x.strip() != "0x00"))
                for name, data in re.findall(r"const char lua_([a-z_]+)\[\] = \{([^}]*)\};", text))


def script_names():
    """SHA1 -> script name, from the scripts as the build compiled them in
    (BUILD/lua_scripts.c, made by cmake/embed_lua.cmake: the field table and
    the required libs in front of each script), so the names match the
    binary under test."""
    import hashlib
    names = {}
    try:
        text = open(os.path.join(BUILD, "lua_scripts.c")).read()
    except OSError:
        return names
    for name, data in re.findall(r"const char lua_([a-z_]+)\[\] = \{([^}]*)\};", text):
        body = bytes(int(x, 16) for x in data.split(",") if x.strip() and x.strip() != "0x00")
        names[hashlib.sha1(body).hexdigest()] = name
    return names


def slowlog(r):
    out = r.cli("EVAL", SLOWLOG_EVAL, 0).splitlines()
    names = script_names()

    def name(s):
        for sha, n in names.items():
            s = s.replace(sha, n)
        return s
    return {"over_1ms": int(out[0]), "worst_us": int(out[1]), "worst": name(out[2]) if len(out) > 2 else "",
            "over_2ms": int(out[3]) if len(out) > 3 else 0,
            "by_command": dict((name(x.rsplit("=", 1)[0]), int(x.rsplit("=", 1)[1])) for x in out[4:])}


def run(fsync):
    log("== redis persistence: %s ==" % fsync)
    r = Redis(fsync)
    out = {"slowlog": {}}
    try:
        for name, fn in (("baselines", baselines), ("idle", scenario_idle), ("ingest_e2e", scenario_ingest_e2e),
                         ("fanout", scenario_fanout), ("scale_out", scenario_scale_out),
                         ("backlog", scenario_backlog_and_resend), ("soak", scenario_soak),
                         ("many_endpoints", scenario_many_endpoints), ("filters", scenario_filters), ("fifo", scenario_fifo), ("flow", scenario_flow),
                         ("stats", scenario_stats), ("scripts", scenario_scripts), ("floor", scenario_floor), ("cores", scenario_cores),
                         ("cluster", lambda r: scenario_cluster(r, fsync)), ("durability", scenario_durability)):
            if ONLY and name not in ONLY:
                continue
            log("-- " + name)
            r.cli("SLOWLOG", "RESET")
            out[name] = fn(r)
            out["slowlog"][name] = slowlog(r)
            log(json.dumps(out[name]))
            log("slowlog: " + json.dumps(out["slowlog"][name]))
    finally:
        r.close()
    return out


# scenarios whose Redis calls are the bench's own (scripts called directly), not hookd's
BENCH_OWN_CALLS = ("scripts", "floor")


def table(results):
    rows = []

    def row(name, key, fmt, target=""):
        vals = []
        for mode in ("none", "everysec"):
            try:
                v = key(results[mode])
                vals.append(fmt % v)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                vals.append("-")
        rows.append("| %s | %s | %s | %s |" % (name, vals[0], vals[1], target))

    row("nginx `return 202`, 1 KiB POST (req/s)", lambda x: x["baselines"]["nginx_202"]["rps"], "%.0f")
    row("sink alone under wrk (req/s)", lambda x: x["baselines"]["sink_alone"]["rps"], "%.0f")
    row("redis-benchmark SET, pipelined 16 (ops/s)", lambda x: x["baselines"]["redis_set_p16"], "%.0f")
    row("redis-benchmark small Lua, pipelined 16 (ops/s)", lambda x: x["baselines"]["redis_small_lua_p16"], "%.0f")
    row("1 ingest: POST /v1/events (req/s)", lambda x: x["ingest_e2e"]["ingest"]["rps"], "%.0f")
    row("1 ingest / nginx", lambda x: x["ingest_e2e"]["ingest"]["rps"] / x["baselines"]["nginx_202"]["rps"], "%.2fx",
        ">= 0.35x")
    row("1 ingest CPU per request: Redis / hookd (us); whole box (% of a core)",
        lambda x: (x["ingest_e2e"]["ingest"]["redis_cpu_us"], x["ingest_e2e"]["ingest"]["hookd_cpu_us"],
                   x["ingest_e2e"]["ingest"]["box_cpu_pct"]), "%.0f / %.0f; %.0f", "Redis <= 8")
    row("1 ingest latency p50 / p99 (ms)", lambda x: (x["ingest_e2e"]["ingest"]["p50_ms"],
                                                      x["ingest_e2e"]["ingest"]["p99_ms"]), "%.2f / %.2f")
    row("2 e2e at saturation: events in (/s)", lambda x: x["ingest_e2e"]["e2e_saturation"]["in_rate"], "%.0f")
    row("2 e2e at saturation: deliveries out (/s)", lambda x: x["ingest_e2e"]["e2e_saturation"]["out_rate"], "%.0f",
        ">= 15000")
    row("2 e2e at saturation: accepted->received p50 / p99 (ms)",
        lambda x: (x["ingest_e2e"]["e2e_saturation"]["delay_p50_ms"], x["ingest_e2e"]["e2e_saturation"]["delay_p99_ms"]),
        "%.1f / %.1f")
    row("2 e2e at 1,000/s: accepted->received p50 / p99 (ms)",
        lambda x: (x["ingest_e2e"]["e2e_1000"]["delay_p50_ms"], x["ingest_e2e"]["e2e_1000"]["delay_p99_ms"]),
        "%.2f / %.2f", "p99 < 5")
    row("2 Redis commands / round trips per delivery",
        lambda x: (x["ingest_e2e"]["e2e_saturation"]["redis_cmds_per_delivery"],
                   x["ingest_e2e"]["e2e_saturation"]["round_trips_per_delivery"]), "%.1f / %.2f")
    row("2 CPU per delivery, incl. its ingest: Redis / hookd (us)",
        lambda x: (x["ingest_e2e"]["e2e_saturation"]["redis_cpu_us_per_delivery"],
                   x["ingest_e2e"]["e2e_saturation"]["hookd_cpu_us_per_delivery"]), "%.0f / %.0f",
        "<= 15 / <= 40")
    row("2 HTTP alone, same run: bare evhttp server (the sink) / bare evhttp client (hookd-pace) per request; "
        "hookd less both (us)",
        lambda x: (x["ingest_e2e"]["e2e_saturation"]["sink_cpu_us_per_delivery"],
                   x["ingest_e2e"]["e2e_saturation"]["pace_cpu_us_per_request"],
                   x["ingest_e2e"]["e2e_saturation"]["hookd_cpu_us_per_delivery"]
                   - x["ingest_e2e"]["e2e_saturation"]["sink_cpu_us_per_delivery"]
                   - x["ingest_e2e"]["e2e_saturation"]["pace_cpu_us_per_request"]), "%.0f / %.0f; %.0f",
        "hookd's floor: the sum")
    row("2 CPU per delivery at 1,000/s, incl. its ingest: Redis / hookd (us)",
        lambda x: (x["ingest_e2e"]["e2e_1000"]["redis_cpu_us_per_delivery"],
                   x["ingest_e2e"]["e2e_1000"]["hookd_cpu_us_per_delivery"]), "%.0f / %.0f")
    row("3 fan-out 10: events/s, deliveries/s", lambda x: (x["fanout"]["fanout_10"]["events_per_s"],
                                                          x["fanout"]["fanout_10"]["deliveries_per_s"]), "%.0f, %.0f")
    row("3 fan-out 100: events/s, deliveries/s", lambda x: (x["fanout"]["fanout_100"]["events_per_s"],
                                                           x["fanout"]["fanout_100"]["deliveries_per_s"]), "%.0f, %.0f")
    row("3 fan-out 10 / 100: CPU per delivery, Redis / hookd (us)",
        lambda x: tuple(x["fanout"]["fanout_%d" % n][k] for n in (10, 100)
                        for k in ("redis_us_per_delivery", "hookd_us_per_delivery")), "%.1f / %.1f, %.1f / %.1f",
        "Redis <= 5 at 100")
    hookds = lambda x: [v for k, v in x["slowlog"].items() if k not in BENCH_OWN_CALLS]  # noqa: E731
    row("9 Redis calls from hookd over 1 ms / over 2 ms, all scenarios (count; worst us, command)",
        lambda x: (sum(v["over_1ms"] for v in hookds(x)), sum(v.get("over_2ms", 0) for v in hookds(x)),
                   max((v["worst_us"], v["worst"]) for v in hookds(x))), "%d / %d; %s", "0 over 2 ms")
    for shape, label in (("orgs64", "64 orgs x 1 endpoint"), ("org1_eps64", "1 org x 64 endpoints")):
        for k in (1, 2, 4, 8):
            row("10 %s, %d process(es): deliveries/s; Redis %% of a core; CPU per delivery Redis / hookd (us)" % (label, k),
                lambda x, s=shape, k=k: (x["cores"]["%s_procs_%d" % (s, k)]["deliveries_per_s"],
                                         x["cores"]["%s_procs_%d" % (s, k)]["redis_cpu_pct"],
                                         x["cores"]["%s_procs_%d" % (s, k)]["redis_us_per_delivery"],
                                         x["cores"]["%s_procs_%d" % (s, k)]["hookd_us_per_delivery"]),
                "%.0f; %.0f%%; %.0f / %.0f", ">= 40,000/s at 4 (16 cores)" if k == 4 else "")
        row("10 %s: 4 processes / 1" % label, lambda x, s=shape: x["cores"]["%s_ratio_4" % s], "%.2fx", ">= 2.5x (16 cores)")
    for m in (1, 2, 3):
        for k in (1, 2, 4):
            row("12 cluster of %d master(s), %d process(es), 64 orgs: deliveries/s; Redis CPU per delivery, all masters "
                "(per master) (us)" % (m, k),
                lambda x, m=m, k=k: (x["cluster"]["masters_%d_procs_%d" % (m, k)]["deliveries_per_s"],
                                     x["cluster"]["masters_%d_procs_%d" % (m, k)]["redis_us_per_delivery"],
                                     " / ".join("%.0f" % v for v in
                                                x["cluster"]["masters_%d_procs_%d" % (m, k)]
                                                ["redis_us_per_delivery_per_master"])),
                "%.0f; %.0f (%s)", ">= 100,000/s at 3 masters (16 cores); us within 10% of 1 master"
                if m == 3 and k == 4 else "")
    row("12 idle on a 3-master cluster: hookd CPU (%); Redis commands/s, all masters",
        lambda x: (x["cluster"]["idle_3_masters"]["cpu_pct"], x["cluster"]["idle_3_masters"]["redis_cmds_per_s"]),
        "%.2f; %.1f", "< 1; < 20")
    row("12 durability master / replicated: deliveries/s", lambda x: (x["durability"]["master"]["deliveries_per_s"],
                                                                     x["durability"]["replicated"]["deliveries_per_s"]),
        "%.0f / %.0f")
    row("12 ... ingest p50 / p99 (ms), master; replicated",
        lambda x: tuple(x["durability"][m][k] for m in ("master", "replicated") for k in ("ingest_p50_ms", "ingest_p99_ms")),
        "%.1f / %.1f; %.1f / %.1f")
    row("12 ... CPU per delivery, master; replicated: Redis / replica / hookd (us)",
        lambda x: tuple(x["durability"][m][k] for m in ("master", "replicated")
                        for k in ("redis_us_per_delivery", "replica_us_per_delivery", "hookd_us_per_delivery")),
        "%.0f / %.0f / %.0f; %.0f / %.0f / %.0f")
    row("4 backlog: deliveries scheduled", lambda x: x["backlog"]["backlog"]["deliveries"], "%d")
    row("4 Redis bytes per scheduled delivery", lambda x: x["backlog"]["backlog"]["redis_bytes_per_delivery"], "%.0f",
        "< 400")
    row("4 hookd RSS with ~1,000 in flight (MB)", lambda x: (x["backlog"]["backlog"]["rss_mb_inflight"],
                                                             x["backlog"]["backlog"]["in_flight"]), "%.1f (%d in flight)",
        "< 50")
    row("4 drain of the backlog (deliveries/s)", lambda x: x["backlog"]["backlog"]["drain_per_s"], "%.0f")
    row("4 claim cost while draining: Redis / hookd CPU per delivery (us)",
        lambda x: (x["backlog"]["backlog"]["redis_cpu_us_per_delivery"],
                   x["backlog"]["backlog"]["hookd_cpu_us_per_delivery"]), "%.0f / %.0f")
    row("5 idle hookd CPU (%)", lambda x: x["idle"]["cpu_pct"], "%.2f", "< 1")
    row("5 idle Redis commands/s from hookd", lambda x: x["idle"]["redis_cmds_per_s"], "%.1f", "< 20")
    row("6 resend over the backlog: replayed, per second", lambda x: (x["backlog"]["resend"]["replayed"],
                                                                     x["backlog"]["resend"]["per_s"]), "%d, %.0f/s")
    row("6 API p50 / p99 with nothing else running (ms)", lambda x: (x["backlog"]["resend"]["api_idle_p50_ms"],
                                                                   x["backlog"]["resend"]["api_idle_p99_ms"]),
        "%.1f / %.1f")
    row("6 API p50 / p99 during the resend (ms)", lambda x: (x["backlog"]["resend"]["api_p50_ms"],
                                                            x["backlog"]["resend"]["api_p99_ms"]), "%.1f / %.1f",
        "p99 < 10")
    row("7 drain with 1 / 2 processes (deliveries/s)", lambda x: (x["scale_out"]["procs_1"],
                                                                 x["scale_out"]["procs_2"]), "%.0f / %.0f")
    row("7 2 processes / 1", lambda x: x["scale_out"]["ratio"], "%.2fx", ">= 1.6x")
    row("7 CPU during the drain, 1 / 2 processes: Redis, hookd, whole box (% of a core)",
        lambda x: tuple(x["scale_out"]["%s_cpu_pct_%d" % (k, n)] for n in (1, 2) for k in ("redis", "hookd", "box")),
        "%.0f, %.0f, %.0f / %.0f, %.0f, %.0f")
    row("9 ingest, 1 matching endpoint of 1 / 1,000 / 10,000 (req/s)",
        lambda x: tuple(x["many_endpoints"]["endpoints_%d" % n]["rps"] for n in (1, 1000, 10000)), "%.0f / %.0f / %.0f")
    row("9 ... Redis CPU per event (us)",
        lambda x: tuple(x["many_endpoints"]["endpoints_%d" % n]["redis_cpu_us"] for n in (1, 1000, 10000)),
        "%.1f / %.1f / %.1f")
    row("9 1,000 / 1 and 10,000 / 1", lambda x: (x["many_endpoints"]["ratio_1000"], x["many_endpoints"]["ratio_10000"]),
        "%.2fx / %.2fx", ">= 0.9x")
    shapes = ("plain_1", "filtered_eq_1000", "filtered_range_1000", "filtered_or_1000")
    row("22 ingest, 1 endpoint without a filter / 1,000 with equality / range / $or filters (req/s)",
        lambda x: tuple(x["filters"][k]["rps"] for k in shapes), "%.0f / %.0f / %.0f / %.0f")
    row("22 ... hookd CPU per event (us)",
        lambda x: tuple(x["filters"][k]["hookd_cpu_us"] for k in shapes), "%.1f / %.1f / %.1f / %.1f")
    row("22 filtered / plain: equality, range, $or",
        lambda x: tuple(x["filters"]["ratio_" + k] for k in ("eq", "range", "or")), "%.2fx / %.2fx / %.2fx", ">= 0.8x")
    row("22 e2e saturation, ordering none / fifo over 256 keys: deliveries/s",
        lambda x: (x["fifo"]["none"]["out_rate"], x["fifo"]["fifo"]["out_rate"]), "%.0f / %.0f")
    row("22 ... Redis / hookd CPU per delivery (us), none; fifo",
        lambda x: tuple(x["fifo"][o][k] for o in ("none", "fifo") for k in ("redis_cpu_us_per_delivery",
                                                                           "hookd_cpu_us_per_delivery")),
        "%.1f / %.1f; %.1f / %.1f")
    row("21 rate_limit 10 / 100 / 1,000: delivered in 10 s, as a share of the rate",
        lambda x: tuple(x["flow"]["rate_%d" % n]["accuracy"] for n in (10, 100, 1000)), "%.2f / %.2f / %.2f",
        "0.9-1.1")
    row("21 e2e saturation, no limit / rate_limit 100,000: Redis / hookd us per delivery",
        lambda x: tuple(x["flow"][k][m] for k in ("limit_none", "limit_100000")
                        for m in ("redis_cpu_us_per_delivery", "hookd_cpu_us_per_delivery")),
        "%.1f / %.1f; %.1f / %.1f", "+<= 2 us Redis")
    row("24 endpoint stats: Redis us per outcome, complete.lua batches of 1 / 8 / 24",
        lambda x: tuple(x["stats"]["per_%d" % n]["redis_cpu_us_per_outcome"] for n in (1, 8, 24)),
        "%.1f / %.1f / %.1f", "<= 1.5 at 8+")
    row("20 scripts alone, 8 events a call, handed off: ingest / complete us in scripts per delivery, small payload",
        lambda x: (x["scripts"]["small_64"]["ingest_us"], x["scripts"]["small_64"]["complete_us"]), "%.1f / %.1f",
        "<= 15 in all")
    row("20 ... 1 KiB payload, hash-max-listpack-value 64 / 1024: ingest us per delivery",
        lambda x: (x["scripts"]["1k_64"]["ingest_us"], x["scripts"]["1k_1024"]["ingest_us"]), "%.1f / %.1f")
    row("20 floor, 16 events a call: Redis us per delivery for its ingest and complete writes as plain commands in "
        "MULTI/EXEC / the same without the org's index / the writes plain, the decisions in small functions / "
        "hookd's functions",
        lambda x: tuple(x["floor"][k + "_redis_us_per_delivery"]
                        for k in ("plain", "plain_no_index", "split", "functions")),
        "%.1f / %.1f / %.1f / %.1f", "<= 15 end to end")
    row("20 floor of an ingest alone, 16 events a call: Redis us per event for its writes as plain commands in "
        "MULTI/EXEC", lambda x: x["floor"]["plain_ingest_redis_us_per_delivery"], "%.1f", "<= 8 (ingest alone)")
    row("20 floor at fan-out 100, 1 event a call: Redis us per delivery for ingest's writes as plain commands in "
        "MULTI/EXEC / the same without the endpoints' due sets / hookd's ingest function",
        lambda x: tuple(x["floor"][k + "_redis_us_per_delivery"]
                        for k in ("fanout_plain", "fanout_plain_no_due", "fanout_functions")),
        "%.1f / %.1f / %.1f", "<= 5 at fan-out 100")
    row("8 soak, retention 15 s: Redis MB at 15 s / 30 s / end of the run",
        lambda x: tuple(next((s["used_memory_mb"] for s in x["soak"]["memory_over_time"] if s["t_s"] >= t), float("nan"))
                        for t in (15, 30)) + (x["soak"]["memory_over_time"][-1]["used_memory_mb"],),
        "%.1f / %.1f / %.1f", "levels off")
    row("8 pruning: Redis CPU per delivery pruned / made and delivered (us)",
        lambda x: (x["soak"]["prune_redis_us_per_delivery"], x["soak"]["ingest_deliver_redis_us_per_delivery"]),
        "%.1f / %.1f")
    row("8 pruning's share of Redis CPU", lambda x: x["soak"]["prune_share_pct"], "%.1f%%", "< 10%")
    row("8 pruning: time inside its script calls per delivery (us)", lambda x: x["soak"]["prune_script_us_per_delivery"],
        "%.1f")
    head = ["| measure | Redis no persistence | Redis appendfsync everysec | target |", "|---|---|---|---|"]
    return "\n".join(head + rows)


def main():
    results = {"machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                           "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                        if l.startswith("model name")), "?"),
                           "backlog": BACKLOG, "seconds": SECONDS},
               "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    modes = sys.argv[1:] or ["none", "everysec"]
    try:
        for mode in modes:
            results[mode] = run(mode)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(TMP, ignore_errors=True)
    md = table(results)
    out = os.path.join(ROOT, "bench", "results")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
