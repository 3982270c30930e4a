"""Issue 22: endpoint filters. An event creates a delivery for an endpoint
only when its type is subscribed and the endpoint's filter (MongoDB-style,
over {"type", "payload"}) matches. Filters are compiled when a process
loads the org into its routing cache (store/subscriptions.c); the grammar
itself is table-tested in tests/unit/test_filter.c."""
import json
import unittest

from harness import HookdCase, Hookd, call


class FilterTest(HookdCase):
    class_receiver = True

    def fanned_to(self, tok, etype, payload):
        ev = self.send_event(tok, etype, payload)
        return {self.delivery(tok, d)["endpoint_id"] for d in ev["delivery_ids"]}

    def test_filter_is_stored_read_back_and_removed_by_null(self):
        _, tok = self.tenant()
        f = {"payload.amount": {"$gte": 100}, "type": {"$startsWith": "order."}}
        ep = self.new_endpoint(tok, self.rx.url(), filter=f)
        self.assertEqual(ep["filter"], f)
        s, got, _ = self.api("GET", "/v1/endpoints/" + ep["id"], None, tok)
        self.assertEqual((s, got["filter"]), (200, f))
        s, got, _ = self.api("PATCH", "/v1/endpoints/" + ep["id"], {"filter": None}, tok)
        self.assertEqual((s, got["filter"]), (200, None))
        listed = self.api("GET", "/v1/endpoints", None, tok)[1]["data"]
        self.assertEqual([e["filter"] for e in listed], [None])

    def test_events_reach_only_the_endpoints_whose_filter_matches(self):
        _, tok = self.tenant()
        big = self.new_endpoint(tok, self.rx.url(), filter={"payload.amount": {"$gt": 100}})
        eu = self.new_endpoint(tok, self.rx.url(), filter={"payload.region": {"$in": ["eu", "uk"]}})
        either = self.new_endpoint(
            tok, self.rx.url(), filter={"$or": [{"payload.amount": 5}, {"payload.tags.0": "vip"}]})
        no_ref = self.new_endpoint(tok, self.rx.url(), filter={"payload.ref": {"$exists": False}})
        plain = self.new_endpoint(tok, self.rx.url())
        paid_only = self.new_endpoint(tok, self.rx.url(), event_types=["order.paid"],
                                      filter={"payload.amount": {"$gt": 0}})
        self.assertEqual(self.fanned_to(tok, "order.paid", {"amount": 500, "region": "eu", "ref": 1}),
                         {big["id"], eu["id"], plain["id"], paid_only["id"]})
        # no coercion: "500" is not a number above 100, nor 5
        self.assertEqual(self.fanned_to(tok, "order.paid", {"amount": "500", "tags": ["vip"]}),
                         {either["id"], no_ref["id"], plain["id"]})
        # paid_only's filter matches but the type is not subscribed
        self.assertEqual(self.fanned_to(tok, "order.created", {"amount": 5, "region": "fr"}),
                         {either["id"], no_ref["id"], plain["id"]})
        # a payload that is not an object: every payload.* path is missing
        self.assertEqual(self.fanned_to(tok, "order.paid", [1, 2]), {no_ref["id"], plain["id"]})

    def test_each_malformed_filter_is_a_422_naming_it_and_changes_nothing(self):
        _, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), filter={"payload.a": 1})
        deep = {"payload.a": 1}
        for _ in range(9):
            deep = {"$not": deep}
        bad = [
            ([], "JSON object"),
            ("payload.a", "JSON object"),
            ({"payload.a": {"$like": "x"}}, "$like"),
            ({"payload.a": {"$gt": True}}, "$gt"),
            ({"payload.a": {"$gte": None}}, "$gte"),
            ({"payload.a": {"$in": "eu"}}, "$in"),
            ({"payload.a": {"$nin": {}}}, "$nin"),
            ({"payload.a": {"$exists": 1}}, "$exists"),
            ({"payload.a": {"$startsWith": 3}}, "$startsWith"),
            ({"payload.a": {"$eq": 1, "b": 2}}, "mixes"),
            ({"$and": {"payload.a": 1}}, "$and"),
            ({"$or": []}, "$or"),
            ({"$not": [1]}, "object"),
            ({"$where": "1"}, "$where"),
            ({"payload..a": 1}, "path"),
            (deep, "deeper than 8"),
            ({"payload.f%d" % i: i for i in range(65)}, "64 conditions"),
            ({"payload.a": {"$in": ["x" * 100] * 50}}, "4096 bytes"),
        ]
        for f, named in bad:
            for method, path in (("POST", "/v1/endpoints"), ("PATCH", "/v1/endpoints/" + ep["id"])):
                body = {"filter": f} if method == "PATCH" else {"url": self.rx.url(), "filter": f}
                s, b, _ = self.api(method, path, body, tok)
                self.assertEqual(s, 422, (f, b))
                self.assertEqual(b.get("field"), "filter", b)
                self.assertIn(named, b["detail"], (f, b))
        listed = self.api("GET", "/v1/endpoints", None, tok)[1]["data"]
        self.assertEqual([(e["id"], e["filter"]) for e in listed], [(ep["id"], {"payload.a": 1})])

    def test_test_filter_answers_for_the_stored_filter_with_read_scope(self):
        org, tok = self.tenant()
        ep = self.new_endpoint(tok, self.rx.url(), filter={"payload.amount": {"$lt": 10}, "type": "a.b"})
        reader = self.new_token(org, scopes=("webhooks:read",))["token"]
        path = "/v1/endpoints/%s/test-filter" % ep["id"]
        s, b, _ = self.api("POST", path, {"type": "a.b", "payload": {"amount": 3}}, reader)
        self.assertEqual((s, b), (200, {"matches": True}))
        s, b, _ = self.api("POST", path, {"type": "a.c", "payload": {"amount": 3}}, reader)
        self.assertEqual((s, b), (200, {"matches": False}))
        s, b, _ = self.api("POST", path, {"type": "a.b", "payload": "amount"}, reader)
        self.assertEqual((s, b), (200, {"matches": False}))
        s, b, _ = self.api("POST", path, {"payload": {}}, reader)
        self.assertEqual((s, b.get("field")), (400, "type"))
        s, b, _ = self.api("POST", path, {"type": "a.b"}, reader)
        self.assertEqual((s, b.get("field")), (400, "payload"))
        other = self.new_endpoint(tok, self.rx.url())  # no filter: everything matches
        s, b, _ = self.api("POST", "/v1/endpoints/%s/test-filter" % other["id"], {"type": "x", "payload": 1}, tok)
        self.assertEqual((s, b), (200, {"matches": True}))
        _, stranger = self.tenant()
        s, _, _ = self.api("POST", path, {"type": "a.b", "payload": {"amount": 3}}, stranger)
        self.assertEqual(s, 404)

    def test_a_filter_patched_on_one_process_holds_for_the_next_event_on_another(self):
        other = Hookd(self.redis)
        try:
            _, tok = self.tenant()
            ep = self.new_endpoint(tok, self.rx.url(), filter={"payload.n": 1})

            def fan(n):
                s, b, _ = call("POST", other.url("/v1/events"), {"type": "t", "payload": {"n": n}}, tok)
                self.assertEqual(s, 202, b)
                return len(b["delivery_ids"])

            self.assertEqual((fan(1), fan(2)), (1, 0))  # the other process has the org loaded now
            self.assertEqual(self.api("PATCH", "/v1/endpoints/" + ep["id"], {"filter": {"payload.n": 2}}, tok)[0], 200)
            self.assertEqual((fan(1), fan(2)), (0, 1))
            self.assertEqual(self.api("PATCH", "/v1/endpoints/" + ep["id"], {"filter": None}, tok)[0], 200)
            self.assertEqual((fan(1), fan(2)), (1, 1))
        finally:
            self.assertEqual(other.stop(), 0)

    def test_an_org_with_1000_filtered_endpoints_routes_each_event_to_its_matches(self):
        _, tok = self.tenant()
        want = {}  # bucket -> endpoint ids whose filter takes it
        for i in range(1000):
            f = {"payload.bucket": i % 40} if i % 2 else {"payload.bucket": {"$in": [i % 40, 99]}}
            ep = self.new_endpoint(tok, self.rx.url("/f"), filter=f)
            want.setdefault(i % 40, set()).add(ep["id"])
            if i % 2 == 0:
                want.setdefault(99, set()).add(ep["id"])
        for bucket in (0, 7, 39, 99):
            self.assertEqual(self.fanned_to(tok, "t", {"bucket": bucket}), want[bucket], bucket)
        self.assertEqual(self.send_event(tok, "t", {"bucket": "7"})["delivery_ids"], [])


    def test_range_filters_route_each_amount_to_its_bands(self):
        """filters with numeric bounds only: the range index picks the
        candidates, the filter decides (open bounds, strings, missing)"""
        _, tok = self.tenant()
        band = {}
        for i in range(200):
            band[i] = self.new_endpoint(tok, self.rx.url("/r"), filter={"payload.amount": {"$gt": i, "$lte": i + 1}})["id"]
        above = self.new_endpoint(tok, self.rx.url("/r"), filter={"payload.amount": {"$gte": 150}})["id"]
        below = self.new_endpoint(tok, self.rx.url("/r"), filter={"payload.amount": {"$lt": 0.5}, "type": "t"})["id"]
        self.assertEqual(self.fanned_to(tok, "t", {"amount": 7.5}), {band[7]})
        self.assertEqual(self.fanned_to(tok, "t", {"amount": 8}), {band[7]})  # (7, 8]: 8 is in, (8, 9] is not
        self.assertEqual(self.fanned_to(tok, "t", {"amount": 150}), {band[149], above})
        self.assertEqual(self.fanned_to(tok, "t", {"amount": 0}), {below})
        self.assertEqual(self.fanned_to(tok, "u", {"amount": 0}), set())
        self.assertEqual(self.fanned_to(tok, "t", {"amount": "7.5"}), set())
        self.assertEqual(self.fanned_to(tok, "t", {"other": 1}), set())


if __name__ == "__main__":
    unittest.main()
