"""Issue 14: the OpenAPI 3.1 document (handlers/openapi.json) is valid
against the OpenAPI Initiative's schema, names exactly the routes of the
route table, and is what GET /openapi.json serves. (That every response
matches it is checked in every integration test: openapi_check.py.)"""
import json
import os
import re
import unittest

import openapi_check
from harness import ROOT, HookdCase, call

try:
    import jsonschema
except ImportError:
    jsonschema = None


class OpenApiDocumentTest(unittest.TestCase):
    def test_the_document_is_valid_openapi_3_1(self):
        self.assertIsNotNone(jsonschema, "python3-jsonschema is needed (scripts/deps.sh test installs it)")
        with open(os.path.join(ROOT, "tests", "openapi", "oas-3.1-schema.json")) as f:
            meta = json.load(f)
        doc = openapi_check.doc()
        errors = list(jsonschema.Draft202012Validator(meta).iter_errors(doc))
        self.assertEqual([], [e.message for e in errors[:5]])
        self.assertEqual(doc["openapi"], "3.1.0")
        # and every schema in it is a valid JSON Schema
        for name, schema in doc["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)

    def test_every_operation_has_an_id_its_4xx_and_a_described_tag(self):
        """What SDK generators and linters read (issue 25): a stable,
        unique camelCase operationId per operation, the 4xx answers it
        can give, and a description for every tag it uses."""
        doc = openapi_check.doc()
        tags = {t["name"]: t.get("description", "") for t in doc["tags"]}
        ids = []
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                what = "%s %s" % (method.upper(), path)
                self.assertRegex(op.get("operationId", ""), r"^[a-z][A-Za-z]+$", what)
                ids.append(op["operationId"])
                fours = [c for c in op["responses"] if c.startswith("4")]
                self.assertIn("400", fours, what)  # a malformed query string, on every route
                if op.get("security") != []:
                    self.assertIn("401", fours, what)
                if "{" in path:
                    self.assertIn("404", fours, what)
                for t in op.get("tags", []):
                    self.assertGreater(len(tags.get(t, "")), 10, "tag %r of %s has no description" % (t, what))
        self.assertEqual(len(ids), len(set(ids)), "operationIds repeat")

    def test_the_licence_is_named_and_is_the_repositorys(self):
        """info.license names the licence by its SPDX identifier, the one
        LICENSE at the top of the repository holds."""
        lic = openapi_check.doc()["info"].get("license", {})
        self.assertEqual(lic.get("identifier"), "BSD-3-Clause")
        with open(os.path.join(ROOT, "LICENSE")) as f:
            self.assertIn("BSD 3-Clause License", f.readline())

    def test_a_broken_document_is_refused_by_the_same_check(self):
        with open(os.path.join(ROOT, "tests", "openapi", "oas-3.1-schema.json")) as f:
            meta = json.load(f)
        broken = json.loads(json.dumps(openapi_check.doc()))
        broken["paths"]["/v1/events"]["post"]["responses"] = "none"
        self.assertTrue(list(jsonschema.Draft202012Validator(meta).iter_errors(broken)))

    def test_the_document_names_exactly_the_route_table(self):
        with open(os.path.join(ROOT, "handlers", "routes.c")) as f:
            table = {(m.lower(), re.sub(r":[a-z_]+", "{}", p))
                     for m, p in re.findall(r'\{(GET|POST|PATCH|DELETE), "([^"]+)"', f.read())}
        documented = {(m, re.sub(r"\{[^/]+\}", "{}", p)) for p, item in openapi_check.doc()["paths"].items()
                      for m in item if m in ("get", "post", "patch", "delete", "put")}
        self.assertEqual(table - documented, set(), "routes missing from openapi.json")
        self.assertEqual(documented - table, set(), "openapi.json documents routes hookd does not serve")


class OpenApiServedTest(HookdCase):
    def test_get_openapi_json_serves_the_document(self):
        s, body, hdrs = call("GET", self.hookd.url("/openapi.json"))
        self.assertEqual(s, 200)
        self.assertIn("application/json", hdrs.get("Content-Type"))
        self.assertEqual(body, openapi_check.doc())

    def test_a_response_outside_the_document_fails_the_check(self):
        with self.assertRaises(AssertionError):
            openapi_check.check("GET", self.hookd.url("/v1/endpoints/x"), 200, {"id": 1})
        with self.assertRaises(AssertionError):
            openapi_check.check("POST", self.hookd.url("/v1/events"), 299, {})


if __name__ == "__main__":
    unittest.main()
