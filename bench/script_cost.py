"""What a hot-path script costs Redis, without hookd in the loop: the
scripts as the build compiled them in (BUILD/lua_scripts.c) are called
straight into a redis-server with pipelined EVALSHA, and Redis's own CPU
time is divided by the calls (or events) made.

  python3 bench/script_cost.py            (BENCH_BUILD: another build)

Prints the fixed cost of a call (return 1; the field table and libraries
alone; ingest, complete and claim with nothing to do) and ingest.lua's cost
per event at 8 events a call, for a payload that compresses to one 64-byte
chunk and for 1 KiB that does not compress (16 chunks)."""
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402


def built_scripts():
    text = open(os.path.join(B.BUILD, "lua_scripts.c")).read()
    return {n: bytes(int(x, 16) for x in d.split(",") if x.strip() and x.strip() != "0x00").decode()
            for n, d in re.findall(r"const char lua_([a-z_]+)\[\] = \{([^}]*)\};", text)}


def resp(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def redis_us(r, commands, units):
    """Redis CPU per unit for a pipelined burst of RESP commands."""
    s = socket.create_connection(("127.0.0.1", r.port))
    c0 = r.cpu_s()
    s.sendall(commands)
    s.settimeout(0.5)  # then read until Redis has been quiet that long
    try:
        while s.recv(1 << 20):
            pass
    except socket.timeout:
        pass
    s.close()
    return 1e6 * (r.cpu_s() - c0) / units


def main():
    sc = built_scripts()
    libs = "".join(open(os.path.join(B.ROOT, "store", "lua", "lib", n + ".lua")).read()
                   for n in ("delivery", "lease", "payload", "schedule", "subs"))
    r = B.Redis("none")
    h, sink = B.Hookd(r), B.Sink()
    tok = B.tenant(h)
    B.endpoints(h, tok, sink, 1, active=True, mif=256)
    h.close()
    sink.close()
    key = r.cli("--scan", "--pattern", "hookd:{*}:org:*:eps").split()[0]
    part, org = int(re.match(r"hookd:\{(\d+)\}", key).group(1)), key.split(":")[3]
    prefix = "hookd:{%d}" % part
    fixed = {"return 1": ("return 1", []), "field table + libraries": (sc["fields"] + libs + "\nreturn 1", []),
             "ingest.lua, no event": (sc["ingest"], [0, 30000, 86400, 64]),
             "complete.lua, no outcome": (sc["complete"], [0, 5, 1000]),
             "claim.lua, nothing due": (sc["claim"], [0, 30000, 0])}
    n = 40000
    for name, (body, args) in fixed.items():
        sha = r.cli("SCRIPT", "LOAD", body).strip()
        print("%-28s %5.1f us a call" % (name, redis_us(r, resp(["EVALSHA", sha, 1, prefix, *args]) * n, n)))
    sha = r.cli("SCRIPT", "LOAD", sc["ingest"]).strip()
    big = b'{"pad":"' + os.urandom(500).hex().encode() + b'"}'
    for name, payload, chunk in (("compressed (1 chunk)", b"(\xb5/\xfd" + b"z" * 26, 64),
                                 ("1 KiB stored, 64-byte chunks (16)", big, 64),
                                 ("1 KiB stored, 1024-byte chunks (1)", big, 1024)):
        r.cli("CONFIG", "SET", "hash-max-listpack-value", chunk)
        calls, batch, now, burst = 2000, 8, int(time.time() * 1000), []
        for c in range(calls):
            args = ["EVALSHA", sha, 1, prefix, 0, 30000, 86400, chunk]
            for e in range(batch):
                ms = now + c
                evid = "%08x-%04x-7%03x-8%03x-%012x" % (ms >> 16, ms & 0xffff, c & 0xfff, e, (c * 64 + e) << 16)
                args += [org, evid, "bench", payload, ms, "", "", "", 1, ""]
            burst.append(resp(args))
        print("ingest.lua per event, %-33s %5.1f us" % (name + ":", redis_us(r, b"".join(burst), calls * batch)))
    r.close()


if __name__ == "__main__":
    main()
