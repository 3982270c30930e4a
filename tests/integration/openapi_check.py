"""Every JSON response the integration tests receive is checked against
handlers/openapi.json (the harness's call() runs check()), so the document
cannot drift from the server: a route, status or field the document does not
describe fails the test that met it. A path no operation matches (an unknown
route, a method not allowed) must answer with the document's Problem.

Uses python3-jsonschema (Debian 12's 4.10, or newer); when it is missing the
checks are skipped here and test_openapi.py fails instead."""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_PATH = os.path.join(ROOT, "handlers", "openapi.json")

try:
    import jsonschema
except ImportError:  # test_openapi.py says so
    jsonschema = None

_doc, _ops = None, None


def doc():
    global _doc, _ops
    if _doc is None:
        with open(DOC_PATH) as f:
            _doc = json.load(f)
        _ops = []
        for path, item in _doc["paths"].items():
            rx = re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path.replace(".", r"\.")) + "$")
            _ops.append((rx, path, item))
    return _doc


def operation(method, path):
    """(template, operation) for a request, (template, None) when the path is
    documented but not the method, (None, None) when the path is not."""
    doc()
    for rx, template, item in _ops:
        if rx.match(path):
            return template, item.get(method.lower())
    return None, None


def _validate(schema, body, what):
    wrapped = {"components": doc()["components"], "allOf": [schema]}
    errors = sorted(jsonschema.Draft202012Validator(wrapped).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise AssertionError("%s: the response does not match openapi.json: %s at %s\n%s"
                             % (what, e.message, "/".join(map(str, e.path)) or "(root)", json.dumps(body)[:400]))


def check(method, url, status, body, ctype="application/json"):
    if jsonschema is None:
        return
    path = re.sub(r"^https?://[^/]+", "", url).split("?")[0]
    what = "%s %s -> %d" % (method, path, status)
    template, op = operation(method, path)
    ctype = (ctype or "").split(";")[0].strip()
    if op is None:  # no such route, or not this method: hookd's own 404/405
        if ctype != "application/problem+json":
            raise AssertionError("%s: %s, not a problem+json" % (what, ctype))
        _validate({"$ref": "#/components/schemas/Problem"}, body, what)
        return
    responses = op["responses"]
    r = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) or responses.get("default")
    if r is None:
        raise AssertionError("%s: openapi.json has no response %d for %s %s" % (what, status, method, template))
    content = r.get("content", {})
    if ctype not in content:
        raise AssertionError("%s: openapi.json describes no %s body here (it has %s)" % (what, ctype, list(content)))
    schema = content[ctype].get("schema")
    if schema is not None:
        _validate(schema, body, what)


def check_webhook(name, body):
    """A payload hookd sent, against the document's webhooks entry `name`."""
    if jsonschema is None:
        return
    op = doc().get("webhooks", {}).get(name, {}).get("post")
    if op is None:
        raise AssertionError("openapi.json has no webhook %s" % name)
    _validate(op["requestBody"]["content"]["application/json"]["schema"], body, "webhook " + name)
