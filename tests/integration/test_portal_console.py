"""Issue 24 in a real browser (headless Chromium, as test_console.py): a
portal link for one org and one endpoint opens the console signed in,
showing only that endpoint and its charts; a test send makes a delivery the
page shows; the same link used again fails; a read-only link shows no write
control; another org's delivery id typed into the address bar shows
nothing; the console embeds in an iframe on another local origin only when
console_frame_ancestors names it. Screenshots go to tests/artifacts/."""
import http.server
import os
import threading
import unittest
import urllib.parse

from harness import Hookd, Receiver, call, free_port, wait_for

from browser import ARTIFACTS, MISSING, WHY_MISSING, BrowserCase, By

FRAME_PORT = free_port()  # the SaaS page that embeds the console
PUBLIC = "https://hooks.example.test"


class EmbeddingPage:
    """http://127.0.0.1:FRAME_PORT/?src=<url>: a page of another origin with the console in an iframe."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                src = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query).get("src", [""])[0]
                body = ('<!doctype html><title>SaaS settings</title><h1>Your webhooks</h1>'
                        '<iframe id="portal" width="1200" height="800" src="%s"></iframe>'
                        % src.replace('"', "%22")).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", FRAME_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, src):
        return "http://127.0.0.1:%d/?src=%s" % (FRAME_PORT, urllib.parse.quote(src, safe=""))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@unittest.skipIf(MISSING, WHY_MISSING)
class PortalConsoleTest(BrowserCase):
    hookd_conf = {"public_url": PUBLIC, "console_frame_ancestors": "http://127.0.0.1:%d" % FRAME_PORT}
    class_receiver = True

    def setUp(self):
        self.org, self.admin = self.tenant()
        self.mine = self.new_endpoint(self.admin, self.rx.url("/mine"))
        self.other = self.new_endpoint(self.admin, self.rx.url("/other"))
        self.event = self.send_event(self.admin)
        for d in self.event["delivery_ids"]:
            self.wait_state(self.admin, d, "completed")
        b = self.browser
        b.switch_to.default_content()
        b.get(self.hookd.url("/console"))
        b.execute_script("sessionStorage.clear()")

    # -- helpers
    def link(self, **body):
        s, l, _ = self.api("POST", "/v1/portal-links", body, self.admin)
        self.assertEqual(s, 201, l)
        self.assertTrue(l["url"].startswith(PUBLIC + "/console#code="))
        # the browser reaches this test's hookd, not public_url's host
        return self.hookd.url("/console" + l["url"][len(PUBLIC + "/console"):])

    def shot(self, name):
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "portal_%s.png" % name))

    def wait_css(self, css, what):
        return wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, css), what=what)

    def text(self, css):
        return self.browser.execute_script("const e = document.querySelector(arguments[0]); return e && e.textContent",
                                           css)

    # -- tests
    def test_link_opens_a_scoped_console_with_charts_and_test_send(self):
        b = self.browser
        url = self.link(endpoint_ids=[self.mine["id"]])
        b.get(url)
        self.wait_css('tr[data-endpoint="%s"]' % self.mine["id"], "the endpoint listed")
        self.assertNotIn("code=", b.current_url, "the code leaves the address bar")
        rows = b.find_elements(By.CSS_SELECTOR, "#endpoints tr[data-endpoint]")
        self.assertEqual([r.get_attribute("data-endpoint") for r in rows], [self.mine["id"]])
        self.assertIn("portal", self.text("#who"))
        wait_for(lambda: "100%" in (self.text('td[data-success="%s"]' % self.mine["id"]) or ""),
                 what="the success-rate bar")
        self.shot("endpoints")
        b.get(self.hookd.url("/console#/endpoint/" + self.mine["id"]))
        self.wait_css("#chart-attempts rect.bar-ok", "the attempts chart")
        self.assertEqual(self.text("#stats-totals"), "1 succeeded, 0 failed, 0 throttled")
        self.assertTrue(b.find_elements(By.CSS_SELECTOR, "#chart-latency polyline.line-p50"))
        b.find_element(By.ID, "send-test").click()
        link = self.wait_css("#test-delivery", "the test delivery's link")[0]
        did = link.text
        self.shot("endpoint")
        link.click()
        self.wait_css("#facts", "the test delivery's page")
        self.assertIn("(test)", self.text("#event-link"))
        wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, "tr.attempt") or
                 (self.browser.refresh() and False), what="the test delivery's attempt")
        self.assertEqual(self.delivery(self.admin, did)["endpoint_id"], self.mine["id"])
        self.shot("test_delivery")
        # the events page and one event: only this endpoint's delivery
        b.get(self.hookd.url("/console#/event/" + self.event["id"]))
        self.wait_css("#event-deliveries tr[data-delivery]", "the event page")
        shown = [r.get_attribute("data-delivery") for r in b.find_elements(By.CSS_SELECTOR, "#event-deliveries tr[data-delivery]")]
        self.assertEqual(shown, [self.event["delivery_ids"][0]])
        b.get(self.hookd.url("/console#/events"))
        self.wait_css('#events tr[data-event="%s"]' % self.event["id"], "the events page")
        self.shot("events")

    def test_a_link_works_once(self):
        b = self.browser
        url = self.link()
        b.get(url)
        self.wait_css("#endpoints", "signed in")
        b.execute_script("sessionStorage.clear()")
        b.get(self.hookd.url("/console"))  # a new page: the same link again
        b.get(url)
        wait_for(lambda: "invalid, expired or already used" in (self.text("#signin-error") or ""),
                 what="the reused link refused")
        self.assertFalse(b.find_element(By.ID, "nav").is_displayed())

    def test_a_read_only_link_shows_no_write_control(self):
        b = self.browser
        b.get(self.link(read_only=True))
        self.wait_css('tr[data-endpoint="%s"]' % self.mine["id"], "the endpoints page")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, ".write, button.write"), [])
        b.get(self.hookd.url("/console#/endpoint/" + self.mine["id"]))
        self.wait_css("#chart-attempts", "the endpoint page")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, ".write, #send-test"), [])
        b.get(self.hookd.url("/console#/delivery/" + self.event["delivery_ids"][0]))
        self.wait_css("#facts", "the delivery page")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, ".write, #redeliver"), [])
        self.shot("read_only")

    def test_another_orgs_delivery_shows_nothing(self):
        org2, admin2 = self.tenant()
        self.new_endpoint(admin2, self.rx.url("/theirs"))
        theirs = self.send_event(admin2)["delivery_ids"][0]
        b = self.browser
        b.get(self.link())
        self.wait_css("#endpoints", "signed in")
        b.get(self.hookd.url("/console#/delivery/" + theirs))
        self.wait_css("#error", "the error shown")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "#facts, tr.attempt"), [])
        self.assertNotIn(theirs, self.text("#main").replace("#/delivery/" + theirs, ""))
        # nor another endpoint's delivery of the same org, for a session of one endpoint
        b.get(self.link(endpoint_ids=[self.mine["id"]]))
        self.wait_css("#endpoints", "signed in")
        b.get(self.hookd.url("/console#/delivery/" + self.event["delivery_ids"][1]))
        self.wait_css("#error", "the error shown")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "#facts"), [])

    def test_docs_screenshot(self):
        """tests/artifacts/portal_docs.png, the README's picture: an hour of
        history is written into the endpoint's stats buckets directly (the
        suite cannot wait an hour); the assertions elsewhere use real counts."""
        import random
        rnd = random.Random(7)
        now_ms = int(self.redis.cli("TIME").split()[0]) * 1000
        for i in range(60):
            start = now_ms - now_ms % 60000 - i * 60000
            key = "hookd:{%d}:ep:%s:st:m:%d" % (self.partition_of(self.org), self.mine["id"], start)
            ok, bad = rnd.randint(40, 90), (rnd.randint(5, 30) if 20 <= i <= 26 else rnd.randint(0, 2))
            fields = ["f", bad, "b%d" % (24 + rnd.randint(0, 3)), ok, "b%d" % (36 + rnd.randint(0, 2)), bad]
            self.redis.cli("HSET", key, *map(str, fields))
            self.redis.cli("PEXPIRE", key, "3700000")
        b = self.browser
        b.get(self.link())
        self.wait_css("#endpoints", "signed in")
        b.get(self.hookd.url("/console#/endpoint/%s?window=1h" % self.mine["id"]))
        self.wait_css("#chart-attempts rect.bar-bad", "the chart")
        b.set_window_size(1100, 1100)
        self.shot("docs")
        b.set_window_size(1400, 1000)

    def partition_of(self, org):
        h = 2166136261
        for ch in org.encode():
            h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
        return h % 4  # the harness runs hookd with 4 partitions

    def test_embedding_follows_console_frame_ancestors(self):
        page = EmbeddingPage()
        self.addCleanup(page.close)
        b = self.browser
        b.get(page.url(self.link(endpoint_ids=[self.mine["id"]])))
        b.switch_to.frame(b.find_element(By.ID, "portal"))
        self.wait_css('tr[data-endpoint="%s"]' % self.mine["id"], "the portal inside the iframe")
        b.switch_to.default_content()
        self.shot("embedded")
        # a hookd left at the default ('none') refuses to be framed
        plain = Hookd(self.redis)
        self.addCleanup(plain.stop)
        s, _, hdrs = call("GET", plain.url("/console"))  # it serves the console, and forbids framing it
        self.assertEqual(s, 200)
        self.assertIn("frame-ancestors 'none'", hdrs.get("Content-Security-Policy"))
        b.get(page.url(plain.url("/console")))
        frame = b.find_element(By.ID, "portal")
        b.switch_to.frame(frame)
        wait_for(lambda: b.execute_script("return document.readyState") == "complete", what="the frame to settle")
        self.assertEqual(b.find_elements(By.ID, "signin"), [], "the console must not render in a frame")
        b.switch_to.default_content()


if __name__ == "__main__":
    unittest.main(verbosity=2)
