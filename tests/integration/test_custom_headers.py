"""Issue 21, part 5: an endpoint's custom headers, sent with every delivery
to it; the headers hookd sets itself, or that frame the request, refused."""
import unittest

from harness import HookdCase, wait_for


class CustomHeadersTest(HookdCase):
    class_receiver = True

    def received(self, path):
        return [r for r in self.rx.requests if r["path"] == path]

    def test_custom_headers_arrive_with_every_delivery_and_show_in_reads(self):
        _, tok = self.tenant()
        hdrs = {"X-Tenant": "acme", "Authorization": "Basic dXNlcjpwdw==", "x-empty": ""}
        ep = self.new_endpoint(tok, self.rx.url("/custom"), headers=hdrs)
        self.assertEqual(ep["headers"], hdrs)
        self.send_event(tok)
        wait_for(lambda: self.received("/custom"), what="the delivery")
        got = self.received("/custom")[0]["headers"]
        self.assertEqual((got["x-tenant"], got["authorization"], got.get("x-empty")),
                         ("acme", "Basic dXNlcjpwdw==", ""))
        self.assertIn("webhook-signature", got)  # hookd's own still there
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"headers": {"X-Other": "2"}}, tok)
        self.assertEqual((s, b["headers"]), (200, {"X-Other": "2"}))
        self.send_event(tok)
        wait_for(lambda: len(self.received("/custom")) == 2, what="the second delivery")
        got = self.received("/custom")[1]["headers"]
        self.assertEqual((got.get("x-other"), got.get("x-tenant")), ("2", None))
        s, b, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"headers": None}, tok)
        self.assertEqual((s, b["headers"]), (200, {}))

    def test_reserved_or_malformed_headers_are_refused_naming_the_header(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url("/r"), headers={"X-Keep": "1"})
        bad = [
            ({"Host": "evil.test"}, "Host"),
            ({"content-length": "5"}, "content-length"),
            ({"Content-Type": "text/plain"}, "Content-Type"),
            ({"Transfer-Encoding": "chunked"}, "Transfer-Encoding"),
            ({"Connection": "close"}, "Connection"),
            ({"webhook-signature": "v1,x"}, "webhook-signature"),
            ({"Webhook-Id": "1"}, "Webhook-Id"),
            ({"X-Evil": "a\r\nX-Injected: 1"}, "X-Evil"),
            ({"X-Tab": "a\tb"}, "X-Tab"),
            ({"Bad Name": "1"}, "Bad Name"),
            ({"X-Num": 5}, "X-Num"),
            ({"X-%d" % i: "v" for i in range(21)}, "at most 20"),
            ({"X-A": "a" * 3000, "X-B": "b" * 1200}, "4096"),
            ("X-A: 1", "object"),
        ]
        for h, named in bad:
            for method, path, body in (("POST", "/v1/endpoints", {"url": self.rx.url("/r"), "headers": h}),
                                       ("PATCH", "/v1/endpoints/" + ep["id"], {"headers": h})):
                s, b, _ = self.api(method, path, body, tok)
                self.assertEqual((s, b.get("field")), (422, "headers"), (h, b))
                self.assertIn(named, b["detail"], (h, b))
        listed = self.api("GET", "/v1/endpoints", None, tok)[1]["data"]
        self.assertEqual([e["headers"] for e in listed], [{"X-Keep": "1"}])


if __name__ == "__main__":
    unittest.main()
