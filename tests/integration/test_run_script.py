"""scripts/run (the README's first command) starts a Redis of its own (own
port and data folder, AOF on, noeviction), never one that is already there,
and stops it when hookd stops."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import ROOT, call, free_port, wait_for


class RunScriptTest(unittest.TestCase):
    def test_own_redis_started_and_stopped_with_hookd(self):
        data = tempfile.mkdtemp(prefix="hookd-run-")
        squatter = socket.socket()  # something already listens on the first port it would try
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.0.1", 6390))
            squatter.listen(1)
        except OSError:
            pass  # taken by something else already: just as good
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
        env.update(HOOKD_DATA_DIR=data, HOOKD_LISTEN="127.0.0.1:%d" % port)
        log = open(os.path.join(data, "run.log"), "w+")
        p = subprocess.Popen([os.path.join(ROOT, "scripts", "run")], env=env, stdout=log, stderr=log,
                             start_new_session=True)
        try:
            wait_for(lambda: self._ready(port, p, log), 300, step=0.2, what="scripts/run to serve")
            log.seek(0)
            m = re.search(r"a Redis of its own on port (\d+)", log.read())
            self.assertTrue(m)
            rport = int(m.group(1))
            self.assertNotEqual(rport, 6390)
            cli = lambda *a: subprocess.check_output(["redis-cli", "-p", str(rport), *a], text=True).split()
            self.assertEqual(cli("CONFIG", "GET", "appendonly")[1], "yes")
            self.assertEqual(cli("CONFIG", "GET", "maxmemory-policy")[1], "noeviction")
            self.assertEqual(os.path.realpath(cli("CONFIG", "GET", "dir")[1]),
                             os.path.realpath(os.path.join(data, "redis")))
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(60), 143)
            r = subprocess.run(["redis-cli", "-p", str(rport), "ping"], capture_output=True, text=True)
            self.assertNotIn("PONG", r.stdout, "its Redis stopped with it")
            self.assertFalse(os.path.exists(os.path.join(data, "redis.pid")))
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
            squatter.close()
            log.close()
            shutil.rmtree(data, ignore_errors=True)

    def _ready(self, port, p, log):
        if p.poll() is not None:
            log.seek(0)
            raise AssertionError("scripts/run exited %s:\n%s" % (p.returncode, log.read()[-3000:]))
        try:
            return call("GET", "http://127.0.0.1:%d/readyz" % port, timeout=2)[0] == 200
        except Exception:
            return False


if __name__ == "__main__":
    unittest.main()
