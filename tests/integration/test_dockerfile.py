"""The container image, checked without a Docker engine: every shared library
the hookd binary loads belongs to a package the Dockerfile's runtime stage
installs or pulls in (resolved with apt-cache and dpkg, as the image would);
the build context leaves out build trees and the dev instance's data; and
compose.yaml runs Redis the way hookd needs it."""
import os
import re
import subprocess
import unittest

from harness import ROOT

# The binary the image ships: Release, built as the Dockerfile builds it
# (scripts/test builds it before the tests run).
RELEASE_BIN = os.path.join(ROOT, "build", "hookd")


def runtime_packages():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    runtime = text.split("\nFROM ")[-1]  # the last stage is the image
    m = re.search(r"apt-get install -y --no-install-recommends((?:[^&]|\\\n)+)", runtime)
    return [p for p in m.group(1).replace("\\\n", " ").split() if not p.startswith("-")]


def closure(pkgs):
    out = subprocess.check_output(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                                   "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *pkgs],
                                  text=True, stderr=subprocess.DEVNULL)
    names = {l.strip().split(":")[0] for l in out.splitlines() if l and not l.startswith(" ")}
    names |= {l.split(":", 1)[1].strip().strip("<>").split(":")[0] for l in out.splitlines() if "Depends:" in l}
    return names


def owner(path):
    for p in (path, os.path.realpath(path)):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    return None


class DockerfileTest(unittest.TestCase):
    def test_runtime_stage_provides_every_library_hookd_loads(self):
        self.assertTrue(os.path.exists(RELEASE_BIN), "build the Release binary first (scripts/test does)")
        pkgs = closure(runtime_packages())
        missing = []
        for line in subprocess.check_output(["ldd", RELEASE_BIN], text=True).splitlines():
            m = re.search(r"=> (\S+)", line)
            if not m:
                continue
            pkg = owner(m.group(1))
            if pkg is None or pkg not in pkgs:
                missing.append((m.group(1), pkg))
        self.assertEqual(missing, [], "libraries whose package the runtime stage lacks")

    def test_build_context_leaves_out_build_trees_and_dev_data(self):
        ignore = open(os.path.join(ROOT, ".dockerignore")).read().split()
        for entry in (".hookd-data", "build*", ".git"):
            self.assertIn(entry, ignore)

    def test_compose_runs_redis_with_aof_and_noeviction(self):
        compose = open(os.path.join(ROOT, "compose.yaml")).read()
        for want in ('"--appendonly", "yes"', '"--maxmemory-policy", "noeviction"', "HOOKD_REDIS_URL: redis://redis:6379"):
            self.assertIn(want, compose)


if __name__ == "__main__":
    unittest.main()
