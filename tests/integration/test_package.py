"""Issue 25: the Debian package. Built from the Release tree with cpack,
installed with dpkg on this machine (the test needs root, as CI has), then:
the files, the conffile, the `hookd` system user, the unit as systemd reads
it, the installed binary run as that user with the installed config against
a test Redis (telling systemd's notify socket READY=1, RELOADING=1 on
SIGHUP, STOPPING=1 on SIGTERM), and a purge that takes it all away."""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from harness import Redis, call, free_port, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, "build")


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("dpkg"), "needs root and dpkg (CI has both)")
class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for step in (["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"],
                     ["cmake", "--build", BUILD, "--target", "hookd", "hookdctl", "hookd-sink"]):
            out = run(*step)
            assert out.returncode == 0, out.stderr[-2000:]
        for old in glob.glob(os.path.join(BUILD, "hookd_*.deb")):
            os.unlink(old)
        out = run("cpack", "-G", "DEB", cwd=BUILD)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        cls.deb = glob.glob(os.path.join(BUILD, "hookd_*_amd64.deb"))[0]
        run("dpkg", "--purge", "hookd")  # a leftover of an interrupted run
        out = run("dpkg", "-i", cls.deb)
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]

    @classmethod
    def tearDownClass(cls):
        run("dpkg", "--purge", "hookd")

    def test_files_user_and_conffile(self):
        self.assertRegex(os.path.basename(self.deb), r"^hookd_\d+\.\d+\.\d+_amd64\.deb$")
        for f in ("/usr/bin/hookd", "/usr/bin/hookdctl", "/usr/bin/hookd-sink", "/etc/hookd/hookd.conf",
                  "/lib/systemd/system/hookd.service"):
            self.assertTrue(os.path.exists(f), f)
        self.assertIn("/etc/hookd/hookd.conf", run("dpkg-query", "-W", "-f=${Conffiles}", "hookd").stdout)
        deps = run("dpkg-query", "-W", "-f=${Depends}", "hookd").stdout
        for lib in ("libevent", "libhiredis", "libyajl", "libssl", "adduser"):  # computed by dpkg-shlibdeps
            self.assertIn(lib, deps)
        user = run("getent", "passwd", "hookd").stdout.split(":")
        self.assertEqual(user[0], "hookd")
        self.assertLess(int(user[2]), 1000)  # a system user
        st = os.stat("/etc/hookd/hookd.conf")
        self.assertEqual(oct(st.st_mode & 0o777), "0o640")  # it may hold a token
        st = os.stat("/etc/default/hookd")  # postinst made the secret key, readable by root only
        self.assertEqual(oct(st.st_mode & 0o777), "0o600")
        with open("/usr/share/doc/hookd/copyright") as f:  # the licence, where Debian looks for it
            self.assertIn("BSD 3-Clause License", f.read())
        for prog in ("/usr/bin/hookd", "/usr/bin/hookdctl", "/usr/bin/hookd-sink"):
            out = run(prog, "--help")
            self.assertEqual(out.returncode, 0, prog)
            self.assertIn("usage:", out.stdout + out.stderr)

    def test_unit_is_hardened_and_systemd_accepts_it(self):
        with open("/lib/systemd/system/hookd.service") as f:
            unit = f.read()
        for line in ("Type=notify", "User=hookd", "Restart=on-failure", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service", "ExecReload=/bin/kill -HUP"):
            self.assertIn(line, unit)
        if shutil.which("systemd-analyze"):
            out = run("systemd-analyze", "verify", "/lib/systemd/system/hookd.service")
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        if shutil.which("lintian"):
            out = run("lintian", "--no-tag-display-limit", self.deb)
            self.assertFalse([l for l in out.stdout.splitlines() if l.startswith("E:")], out.stdout)

    def test_installed_binary_runs_as_hookd_and_notifies_systemd(self):
        redis = Redis()
        self.addCleanup(redis.close)
        d = tempfile.mkdtemp(prefix="hookd-notify-")
        self.addCleanup(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        os.chmod(path, 0o777)  # the hookd user sends to it
        sock.settimeout(30)
        port = free_port()
        with open("/etc/default/hookd") as f:  # the key postinst made, as the unit's EnvironmentFile gives it
            key = [l.split("=", 1)[1].strip() for l in f if l.startswith("HOOKD_SECRET_KEY=")][0]
        env = {"PATH": "/usr/bin:/bin", "HOOKD_REDIS_URL": redis.url, "HOOKD_LISTEN": "127.0.0.1:%d" % port,
               "NOTIFY_SOCKET": path, "HOOKD_SECRET_KEY": key}
        proc = subprocess.Popen([shutil.which("runuser") or "/usr/sbin/runuser", "-u", "hookd", "--", "/usr/bin/hookd", "--config", "/etc/hookd/hookd.conf"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.communicate()))
        self.assertIn("READY=1", sock.recv(256).decode())  # Redis ready and the listener open
        s, b, _ = call("GET", "http://127.0.0.1:%d/readyz" % port)
        self.assertEqual(s, 200, b)
        pid = int(run("pgrep", "-u", "hookd", "-x", "hookd").stdout.split()[0])
        os.kill(pid, 1)  # SIGHUP
        self.assertEqual(sock.recv(256).decode(), "RELOADING=1")
        self.assertEqual(sock.recv(256).decode(), "READY=1")
        os.kill(pid, 15)
        self.assertEqual(sock.recv(256).decode(), "STOPPING=1")
        _, log = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0)
        self.assertIn("reload: log_level applied", log.decode())

    def test_zz_purge_removes_files_and_user(self):
        out = run("dpkg", "--purge", "hookd")
        self.assertEqual(out.returncode, 0, out.stderr)
        for f in ("/usr/bin/hookd", "/etc/hookd/hookd.conf", "/lib/systemd/system/hookd.service"):
            self.assertFalse(os.path.exists(f), f)
        self.assertEqual(run("getent", "passwd", "hookd").returncode, 2)
        out = run("dpkg", "-i", self.deb)  # back for any test that runs after (unittest orders by name)
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
