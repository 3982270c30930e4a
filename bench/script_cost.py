"""What the hot-path scripts cost Redis, without HTTP or hookd in the loop:
the scripts as the build compiled them in (BUILD/lua_scripts.c) called
straight into a redis-server, as hookd calls them.

  python3 bench/script_cost.py            (BENCH_BUILD: another build)

Prints the fixed cost of a call (return 1; the field table and libraries
alone, as a script and as a function library), then bench.py's `scripts` scenario: ingest.lua with 8 events a call,
each handed off (leased) to the caller, and complete.lua with their outcomes
as first-attempt successes, in Redis time inside the script calls per
delivery; for a stored payload that is one small chunk (a zstd frame of a
repetitive body) and 1 KiB that does not compress, at hash-max-listpack-value
64 (16 chunks) and 1024 (one)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402


def fixed_cost(r, body, n=20000, function=False):
    """Redis time in one call of a script that does nothing else (us); as a
    function library made the way cmake/embed_lua.cmake makes them (the
    prelude run at the first call only) when `function`."""
    c = B.Resp(r.port)
    if function:
        head = ["FCALL", c.cmd("FUNCTION", "LOAD", "REPLACE", "#!lua name=cost\nlocal run\n"
                               "redis.register_function('cost', function(KEYS, ARGV)\n"
                               "if not run then run = (function()\n" + body + "\nend)() end\n"
                               "return run(KEYS, ARGV)\nend)\n")]
    else:
        head = ["EVALSHA", c.cmd("SCRIPT", "LOAD", body)]
    c.cmd("CONFIG", "RESETSTAT")
    for _ in range(n):
        c.cmd(*head, 0)
    stats = c.cmd("INFO", "commandstats").decode()
    c.close()
    cmd = "fcall" if function else "evalsha"
    usec = int(stats.split("cmdstat_%s:calls=" % cmd)[1].split("usec=")[1].split(",")[0])
    return usec / n


def main():
    bodies = B.script_bodies()
    libs = "".join(open(os.path.join(B.ROOT, "store", "lua", "lib", name)).read()
                   for name in sorted(os.listdir(os.path.join(B.ROOT, "store", "lua", "lib"))))
    r = B.Redis("none")
    try:
        prelude = bodies["fields"].decode() + libs
        print("%-36s %5.1f us a call" % ("EVALSHA return 1", fixed_cost(r, "return 1")))
        print("%-36s %5.1f us a call" % ("EVALSHA field table + libraries", fixed_cost(r, prelude + "\nreturn 1")))
        print("%-36s %5.1f us a call" % ("FCALL field table + libraries",
                                         fixed_cost(r, prelude + "\nreturn function() return 1 end", function=True)))
        print(json.dumps(B.scenario_scripts(r), indent=1))
    finally:
        r.close()


if __name__ == "__main__":
    main()
