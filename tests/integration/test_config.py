"""Configuration: --check-config, errors that name the key, the example file."""
import os
import re
import subprocess
import unittest

from harness import HOOKD_BIN, ROOT, TEST_SECRET_KEY


class ConfigTest(unittest.TestCase):
    def run_hookd(self, *args, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKD_")}
        e["HOOKD_SECRET_KEY"] = TEST_SECRET_KEY  # a test that wants none says so in env
        e.update(env or {})
        e = {k: v for k, v in e.items() if v is not None}
        return subprocess.run([HOOKD_BIN, *args], env=e, capture_output=True, text=True, timeout=30)

    def test_check_config_accepts_the_example_file(self):
        p = self.run_hookd("--config", os.path.join(ROOT, "conf", "hookd.conf"), "--check-config")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration ok", p.stdout)

    def test_bad_values_name_the_key(self):
        for args, env, key in [(["--partitions=0", "--check-config"], None, "partitions"),
                               (["--check-config"], {"HOOKD_REQUEST_TIMEOUT": "soon"}, "request_timeout"),
                               (["--check-config"], {"HOOKD_ALLOW_NETWORKS": "10.0.0.0/99"}, "allow_networks"),
                               (["--check-config"], {"HOOKD_REDIS_URL": "mysql://x"}, "redis_url"),
                               (["--no-such-key=1"], None, "no_such_key"),
                               (["--listen", "nowhere", "--check-config"], None, "listen")]:
            with self.subTest(key=key):
                p = self.run_hookd(*args, env=env)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(key, p.stderr)

    def test_errors_name_their_source(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("# a comment\nlog_level = debug   # trailing comments are comments\n"
                    "partitions = 8\nlisten = 127.0.0.1:nope\n")
        try:
            p = self.run_hookd("--config", f.name, "--check-config")
            self.assertEqual(p.returncode, 2)
            self.assertIn("%s:4: listen:" % f.name, p.stderr)  # file:line of the value at fault
        finally:
            os.unlink(f.name)
        p = self.run_hookd("--check-config", env={"HOOKD_REDIS_URL": "mysql://x"})
        self.assertIn("HOOKD_REDIS_URL: redis_url:", p.stderr)
        p = self.run_hookd("--request-timeout=soon", "--check-config")
        self.assertIn("--request_timeout: request_timeout:", p.stderr)

    def test_trailing_comment_after_a_value(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("log_level = debug # x\nadmin_token = a#b-is-part-of-the-token-0123\n")
        try:
            p = self.run_hookd("--config", f.name, "--check-config")
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            os.unlink(f.name)

    def test_duration_without_unit_is_refused_naming_the_units(self):
        p = self.run_hookd("--check-config", env={"HOOKD_REQUEST_TIMEOUT": "30"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("ms, s, m, h or d", p.stderr)
        self.assertEqual(self.run_hookd("--check-config", env={"HOOKD_RETRY_SCHEDULE": "0,5s"}).returncode, 0)

    def test_check_config_checks_the_ca_file_as_start_up_does(self):
        p = self.run_hookd("--check-config", env={"HOOKD_CA_FILE": "/nonexistent/ca.pem"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("HOOKD_CA_FILE: ca_file:", p.stderr)
        p = self.run_hookd("--check-config", env={"HOOKD_CA_FILE": os.path.join(ROOT, "README.md")})
        self.assertEqual(p.returncode, 2, "a file that is not PEM")

    def test_flags_beat_environment(self):
        p = self.run_hookd("--partitions=0", "--check-config", env={"HOOKD_PARTITIONS": "8"})
        self.assertEqual(p.returncode, 2)
        p = self.run_hookd("--partitions=8", "--check-config", env={"HOOKD_PARTITIONS": "4"})
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_example_file_and_readme_document_every_key(self):
        help_text = self.run_hookd("--help").stdout
        keys = re.findall(r"^  --(\w+)", help_text, re.M)
        self.assertGreater(len(keys), 20)
        with open(os.path.join(ROOT, "conf", "hookd.conf")) as f:
            example = f.read()
        with open(os.path.join(ROOT, "README.md")) as f:
            readme = f.read()
        for k in keys:
            self.assertRegex(example, r"(?m)^%s =" % k)
            self.assertIn("`%s`" % k, readme)


if __name__ == "__main__":
    unittest.main(verbosity=2)
