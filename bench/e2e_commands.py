"""Where a delivery's Redis time goes: an end-to-end saturation run (one
endpoint, 1 KiB events, hookd-pace with 64 connections for 8 s) with the
Redis and hookd CPU per delivery and `INFO commandstats` deltas per
delivery, by command (commands run inside FCALL / EVALSHA are counted both
inside the call and by themselves; their usec is wall time).
Usage: python3 bench/e2e_commands.py   (BENCH_BUILD for another build)"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    r = bench.Redis("none")
    h, sink = bench.Hookd(r), bench.Sink()
    try:
        tok = bench.tenant(h)
        bench.endpoints(h, tok, sink, 1, active=True, mif=256)
        sink.get("/reset")
        cs0, rc0, hc0 = r.commandstats(), r.cpu_s(), h.cpu_s()
        p = bench.pace(h, tok, 0, 8, conns=64)
        bench.wait_delivered(sink, p["ok"], 120)
        cs1, rc1, hc1 = r.commandstats(), r.cpu_s(), h.cpu_s()
        n = max(1, sink.get("/stats")["received"])
        print("deliveries %d  in %.0f/s  Redis %.1f us  hookd %.1f us per delivery"
              % (n, p["rate"], 1e6 * (rc1 - rc0) / n, 1e6 * (hc1 - hc0) / n))
        for k in sorted(cs1, key=lambda k: -(cs1[k][1] - cs0.get(k, (0, 0))[1])):
            c, u = cs1[k][0] - cs0.get(k, (0, 0))[0], cs1[k][1] - cs0.get(k, (0, 0))[1]
            if c:
                print("%-16s calls/delivery %6.3f  usec/delivery %6.2f  usec/call %7.2f" % (k, c / n, u / n, u / c))
    finally:
        h.close()
        sink.close()
        r.close()


if __name__ == "__main__":
    main()
