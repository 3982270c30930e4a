"""Issue 24, part 1: portal links and sessions. A link's code is exchanged
once, within ten minutes, for a session token scoped to one org (and, when
given, to some of its endpoints); read_only removes every write; a session
never mints tokens, links or orgs; revoked sessions stop working."""
import unittest

from harness import HookdCase, ROOT_TOKEN, Receiver, wait_for

PUBLIC = "https://hooks.example.test"


def code_of(url):
    prefix = PUBLIC + "/console#code="
    assert url.startswith(prefix), url
    return url[len(prefix):]


class PortalTest(HookdCase):
    hookd_conf = {"public_url": PUBLIC + "/", "token_cache": "0s"}
    class_receiver = True

    def link(self, token, **body):
        s, b, _ = self.api("POST", "/v1/portal-links", body, token)
        self.assertEqual(s, 201, b)
        return b

    def session(self, link):
        s, b, _ = self.api("POST", "/v1/portal-sessions", {"code": code_of(link["url"])})
        self.assertEqual(s, 201, b)
        return b

    def test_code_works_once_and_session_sees_only_its_endpoint(self):
        org, admin = self.tenant()
        mine = self.new_endpoint(admin, self.rx.url("/a"))
        other = self.new_endpoint(admin, self.rx.url("/b"))
        ev = self.send_event(admin)
        l = self.link(admin, endpoint_ids=[mine["id"]], expires_in=600)
        self.assertEqual((l["org_id"], l["endpoint_ids"], l["read_only"]), (org, [mine["id"]], False))
        sess = self.session(l)
        self.assertEqual((sess["org_id"], sess["endpoint_ids"], sess["read_only"]), (org, [mine["id"]], False))
        self.assertNotIn(code_of(l["url"]), str(sess))
        s, b, _ = self.api("POST", "/v1/portal-sessions", {"code": code_of(l["url"])})
        self.assertEqual((s, b["status"]), (401, 401), "a code works once")
        tok = sess["token"]
        s, me, _ = self.api("GET", "/v1/me", None, tok)
        self.assertEqual((s, me["portal"], me["endpoint_ids"], me["admin"]), (200, True, [mine["id"]], False))
        s, b, _ = self.api("GET", "/v1/endpoints", None, tok)
        self.assertEqual([e["id"] for e in b["data"]], [mine["id"]])
        self.assertEqual(self.api("GET", "/v1/endpoints/" + other["id"], None, tok)[0], 404)
        self.assertEqual(self.api("PATCH", "/v1/endpoints/" + other["id"], {"description": "x"}, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/endpoints/" + mine["id"], None, tok)[0], 200)
        d_mine, d_other = ev["delivery_ids"]
        s, b, _ = self.api("GET", "/v1/deliveries", None, tok)
        self.assertEqual([d["id"] for d in b["data"]], [d_mine])
        self.assertEqual(self.api("GET", "/v1/deliveries?endpoint_id=" + other["id"], None, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/deliveries/" + d_other, None, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/deliveries/" + d_other + "/attempts", None, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/deliveries/" + d_mine + "/attempts", None, tok)[0], 200)
        self.assertEqual(self.api("POST", "/v1/webhooks/deliveries/" + d_other + "/replay", None, tok)[0], 404)
        self.wait_state(admin, d_mine, "completed")
        s, b, _ = self.api("POST", "/v1/webhooks/deliveries/" + d_mine + "/replay", None, tok)
        self.assertEqual(s, 200, b)
        s, b, _ = self.api("GET", "/v1/events/" + ev["id"], None, tok)
        self.assertEqual((s, b["delivery_ids"]), (200, [d_mine]))
        # org-wide operations are not a limited session's
        self.assertEqual(self.api("POST", "/v1/endpoints", {"url": self.rx.url("/c")}, tok)[0], 403)
        self.assertEqual(self.api("POST", "/api/webhooks/resend",
                                  {"search_type": "time_range", "request_timestamp": 1,
                                   "end_request_timestamp": 2}, tok)[0], 403)

    def test_session_of_several_endpoints_lists_only_theirs(self):
        org, admin = self.tenant()
        eps = [self.new_endpoint(admin, self.rx.url("/e%d" % i)) for i in range(4)]
        mine = [eps[0]["id"], eps[2]["id"]]
        for _ in range(3):
            self.send_event(admin)
        tok = self.session(self.link(admin, endpoint_ids=mine))["token"]
        s, b, _ = self.api("GET", "/v1/endpoints", None, tok)
        self.assertEqual(sorted(e["id"] for e in b["data"]), sorted(mine))
        seen, cursor = [], None
        while True:  # full pages of its own deliveries, and a cursor only while more of them may come
            s, b, _ = self.api("GET", "/v1/deliveries?limit=2" + ("&cursor=" + cursor if cursor else ""), None, tok)
            self.assertEqual(s, 200, b)
            self.assertTrue(all(d["endpoint_id"] in mine for d in b["data"]))
            seen += [d["id"] for d in b["data"]]
            cursor = b["next_cursor"]
            if not cursor:
                break
            self.assertEqual(len(b["data"]), 2)
        self.assertEqual(len(seen), 6)

    def test_session_never_mints_and_read_only_never_writes(self):
        org, admin = self.tenant()
        ep = self.new_endpoint(admin, self.rx.url("/a"))
        tok = self.session(self.link(admin))["token"]
        self.assertEqual(self.api("POST", "/v1/tokens", {"org_id": org, "scopes": []}, tok)[0], 403)
        self.assertEqual(self.api("POST", "/v1/portal-links", {}, tok)[0], 403)
        self.assertEqual(self.api("POST", "/v1/orgs", {"name": "x"}, tok)[0], 403)
        self.assertEqual(self.api("POST", "/v1/events", {"type": "t", "payload": {}}, tok)[0], 403)
        self.assertEqual(self.api("POST", "/v1/endpoints/%s/disable" % ep["id"], None, tok)[0], 200)
        ro = self.session(self.link(admin, read_only=True))["token"]
        self.assertEqual(self.api("GET", "/v1/endpoints/" + ep["id"], None, ro)[0], 200)
        for method, path, body in (("POST", "/v1/endpoints/%s/enable" % ep["id"], None),
                                   ("PATCH", "/v1/endpoints/" + ep["id"], {"description": "x"}),
                                   ("DELETE", "/v1/endpoints/" + ep["id"], None),
                                   ("POST", "/v1/endpoints", {"url": self.rx.url("/x")})):
            s, b, _ = self.api(method, path, body, ro)
            self.assertEqual((s, b.get("code")), (403, "missing_scope"), path)

    def test_other_org_sees_nothing_and_root_links_any_org(self):
        org_a, admin_a = self.tenant()
        org_b, admin_b = self.tenant()
        ep_b = self.new_endpoint(admin_b, self.rx.url("/b"))
        ev_b = self.send_event(admin_b)
        s, b, _ = self.api("POST", "/v1/portal-links", {"org_id": org_b}, admin_a)
        self.assertEqual(s, 404, "an admin links only its own org")
        s, b, _ = self.api("POST", "/v1/portal-links", {"endpoint_ids": [ep_b["id"]]}, admin_a)
        self.assertEqual((s, b.get("field")), (422, "endpoint_ids"), "another org's endpoint")
        tok = self.session(self.link(ROOT_TOKEN, org_id=org_a))["token"]
        self.assertEqual(self.api("GET", "/v1/deliveries/" + ev_b["delivery_ids"][0], None, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/endpoints/" + ep_b["id"], None, tok)[0], 404)
        self.assertEqual(self.api("GET", "/v1/events/" + ev_b["id"], None, tok)[0], 404)

    def test_bad_input_is_named(self):
        org, admin = self.tenant()
        for body, field in (({"expires_in": 59}, "expires_in"), ({"expires_in": 86401}, "expires_in"),
                            ({"expires_in": "1h"}, "expires_in"),
                            ({"endpoint_ids": ["nope"]}, "endpoint_ids"),
                            ({"endpoint_ids": ["00000000-0000-7000-8000-000000000000"]}, "endpoint_ids"),
                            ({"endpoint_ids": ["00000000-0000-7000-8000-%012d" % i for i in range(21)]}, "endpoint_ids"),
                            ({"surprise": 1}, "surprise")):
            s, b, _ = self.api("POST", "/v1/portal-links", body, admin)
            self.assertEqual((s, b.get("field")), (422, field), body)
        self.assertEqual(self.api("POST", "/v1/portal-links", {}, ROOT_TOKEN)[1].get("field"), "org_id")
        l = self.link(admin)
        code = code_of(l["url"])
        for forged in (code[:-3], code + "x", "hkpc_" + "A" * 43, "", "../../etc", "x" * 300):
            s, b, _ = self.api("POST", "/v1/portal-sessions", {"code": forged})
            self.assertEqual((s, b["status"], b["detail"]), (401, 401, "the code is invalid, expired or already used"),
                             forged)
        self.assertEqual(self.api("POST", "/v1/portal-sessions", {})[0], 400)
        for bad in ("hkp_" + "B" * 43, "hkp_short"):
            self.assertEqual(self.api("GET", "/v1/me", None, bad)[0], 401)

    def test_sessions_are_listed_and_revoked(self):
        org, admin = self.tenant()
        org2, admin2 = self.tenant()
        sess = self.session(self.link(admin, read_only=True, expires_in=120))
        s, b, _ = self.api("GET", "/v1/portal-sessions", None, admin)
        self.assertEqual(s, 200, b)
        self.assertEqual([(x["id"], x["read_only"]) for x in b["data"]], [(sess["id"], True)])
        self.assertNotIn("token", b["data"][0])
        self.assertEqual(self.api("GET", "/v1/portal-sessions", None, admin2)[1]["data"], [])
        s, b, _ = self.api("GET", "/v1/portal-sessions?org_id=" + org, None, ROOT_TOKEN)
        self.assertEqual([x["id"] for x in b["data"]], [sess["id"]])
        self.assertEqual(self.api("DELETE", "/v1/portal-sessions/" + sess["id"], None, admin2)[0], 404)
        self.assertEqual(self.api("GET", "/v1/me", None, sess["token"])[0], 200)
        self.assertEqual(self.api("DELETE", "/v1/portal-sessions/" + sess["id"], None, admin)[0], 204)
        self.assertEqual(self.api("GET", "/v1/me", None, sess["token"])[0], 401)
        self.assertEqual(self.api("GET", "/v1/portal-sessions", None, admin)[1]["data"], [])

    def test_code_and_session_expire(self):
        org, admin = self.tenant()
        l = self.link(admin, expires_in=60)
        for k in self.redis.cli("KEYS", "hookd:{g}:portalcode:*").split():
            self.redis.cli("PEXPIRE", k, 1)
        wait_for(lambda: self.api("POST", "/v1/portal-sessions", {"code": code_of(l["url"])})[0] == 401,
                 what="an expired code to be refused")
        sess = self.session(self.link(admin, expires_in=60))
        for k in self.redis.cli("KEYS", "hookd:{g}:token:*").split():
            if self.redis.cli("HGET", k, "kind").strip() == "portal":
                self.redis.cli("HSET", k, "expires_at", 1)  # Redis has not expired it yet: hookd refuses it anyway
        self.assertEqual(self.api("GET", "/v1/me", None, sess["token"])[0], 401)


class PortalUnconfiguredTest(HookdCase):
    def test_links_need_public_url(self):
        org, admin = self.tenant()
        s, b, _ = self.api("POST", "/v1/portal-links", {}, admin)
        self.assertEqual((s, b.get("field")), (422, "public_url"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
