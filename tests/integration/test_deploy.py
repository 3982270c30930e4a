"""Issue 25: the alert rules and the dashboard in deploy/. promtool checks
the rules and runs their unit tests (one case per rule); every metric the
rules and the dashboard query is one that a running hookd's /metrics
exposes, so a renamed metric cannot leave an alert that never fires."""
import json
import os
import re
import shutil
import subprocess
import unittest

from harness import HookdCase, ROOT, call

RULES = os.path.join(ROOT, "deploy", "prometheus", "hookd.rules.yml")
RULE_TESTS = os.path.join(ROOT, "deploy", "prometheus", "hookd.rules.test.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "hookd.json")


def queried_metrics(text):
    """hookd_* names in PromQL, histogram series folded to their family."""
    return {re.sub(r"_(bucket|sum|count)$", "", m) for m in re.findall(r"\bhookd_[a-z_]*[a-z]", text)}


class DeployTest(HookdCase):
    def test_rules_pass_promtool_check_and_their_unit_tests(self):
        self.assertTrue(shutil.which("promtool"), "promtool is needed (scripts/deps.sh test installs prometheus)")
        out = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        out = subprocess.run(["promtool", "test", "rules", RULE_TESTS], capture_output=True, text=True,
                             cwd=os.path.dirname(RULE_TESTS))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        with open(RULES) as f:
            alerts = re.findall(r"- alert: (\w+)", f.read())
        with open(RULE_TESTS) as f:
            tested = set(re.findall(r"alertname: (\w+)", f.read()))
        self.assertTrue(alerts, "no alert found in " + RULES)
        self.assertEqual(set(alerts) - tested, set(), "rules without a unit test")

    def test_every_metric_queried_is_exposed(self):
        _, tok = self.tenant()
        self.send_event(tok, "x")  # so the per-route series exist too
        s, text, _ = call("GET", self.hookd.url("/metrics"))
        self.assertEqual(s, 200)
        exposed = set(re.findall(r"^# TYPE (hookd_[a-z_]+) ", text, re.M))
        with open(RULES) as f:
            in_rules = queried_metrics(f.read())
        with open(DASHBOARD) as f:
            dash = json.load(f)
        in_dash = queried_metrics(" ".join(t["expr"] for p in dash["panels"] for t in p["targets"]))
        self.assertGreater(len(in_dash), 10)
        self.assertTrue(in_rules, "no metric found in " + RULES)
        self.assertEqual(in_rules - exposed, set(), "rules query metrics /metrics does not have")
        self.assertEqual(in_dash - exposed, set(), "the dashboard queries metrics /metrics does not have")
        self.assertTrue(all(p["datasource"]["uid"] == "${datasource}" for p in dash["panels"]))


if __name__ == "__main__":
    unittest.main()
