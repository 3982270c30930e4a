"""Issue 14: the delivery console in a real browser (Debian's chromium,
headless, driven by python3-selenium and chromium-driver). Sign in; a
delivery that failed twice then succeeded shows its three attempts;
redeliver it and see the new delivery; resend a time range and see the
job complete; disable an endpoint and see its status; a payload and a receiver response holding <script> and
<img onerror> render as text and run nothing; a read-only token sees no
write buttons. A screenshot of each page goes to tests/artifacts/."""
import os
import unittest

from harness import Receiver, call, wait_for

from browser import ARTIFACTS, MISSING, WHY_MISSING, BrowserCase, By

XSS_PAYLOAD = '<script>window.__xss="payload"</script><img src=x onerror="window.__xss=\'payload-img\'">'
XSS_RESPONSE = b'<script>window.__xss="response"</script><img src=x onerror="window.__xss=\'response-img\'">'


@unittest.skipIf(MISSING, WHY_MISSING)
class ConsoleTest(BrowserCase):
    hookd_conf = {"retry_schedule": "0,100ms,100ms,100ms", "retry_jitter_pct": 0}

    def setUp(self):
        # fails twice, then answers 200 with markup in its body
        self.rx = Receiver(lambda n, p, h, b: (500, {}, b"down") if n <= 2 else (200, {}, XSS_RESPONSE))
        self.org, self.tok = self.tenant()
        self.ep = self.new_endpoint(self.tok, self.rx.url())
        ev = self.send_event(self.tok, "order.paid", {"note": XSS_PAYLOAD})
        self.did = ev["delivery_ids"][0]
        wait_for(lambda: self.delivery(self.tok, self.did)["state"] == "completed", what="delivered at the third try")

    def tearDown(self):
        self.rx.close()

    # -- helpers
    def shot(self, name):
        self.browser.save_screenshot(os.path.join(ARTIFACTS, "console_%s.png" % name))

    def wait_css(self, css, what):
        return wait_for(lambda: self.browser.find_elements(By.CSS_SELECTOR, css), what=what)

    def sign_in(self, token):
        b = self.browser
        b.get(self.hookd.url("/console"))
        b.execute_script("sessionStorage.clear()")
        b.get(self.hookd.url("/console"))
        b.find_element(By.ID, "token").send_keys(token)
        b.find_element(By.CSS_SELECTOR, "#signin button").click()
        self.wait_css("#endpoints", "the endpoints page")
        self.assertNotIn(token, b.current_url, "the token never goes in a URL")

    def text(self, css):
        """the text of the element now (read in the page: the page re-renders)"""
        return self.browser.execute_script("const e = document.querySelector(arguments[0]); return e && e.textContent",
                                           css)

    def open(self, fragment, css, what):
        self.browser.get(self.hookd.url("/console" + fragment))
        return self.wait_css(css, what)

    # -- tests
    def test_console_pages_with_a_managing_token(self):
        b = self.browser
        self.sign_in(self.tok)
        self.shot("endpoints")
        self.open("#/deliveries", "#deliveries", "the deliveries page")
        self.wait_css('tr[data-delivery="%s"]' % self.did, "the delivery listed")
        self.shot("deliveries")
        self.open("#/delivery/" + self.did, "tr.attempt", "the delivery page")
        attempts = b.find_elements(By.CSS_SELECTOR, "tr.attempt")
        self.assertEqual(len(attempts), 3)
        self.assertEqual([a.find_elements(By.TAG_NAME, "td")[3].text for a in attempts], ["500", "500", "200"])
        # markup from the payload and the receiver is text, and ran nothing
        self.assertIn(XSS_PAYLOAD.replace('"', '\\"'), b.find_element(By.ID, "payload").text)
        self.assertIn("<script>", attempts[2].find_element(By.CSS_SELECTOR, "pre.response").text)
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, "#main img, #main script"), [])
        self.assertIsNone(b.execute_script("return window.__xss"))
        self.shot("delivery")
        # redeliver: the new delivery's page
        before = self.rx.count()
        b.find_element(By.ID, "redeliver").click()
        wait_for(lambda: "#/delivery/" in b.current_url and self.did not in b.current_url, what="the new delivery")
        new_id = b.current_url.rsplit("/", 1)[1]
        self.wait_css("#facts", "the new delivery's page")
        self.assertIn(self.did, b.find_element(By.ID, "facts").text, "a replay of the first")
        wait_for(lambda: self.rx.count() == before + 1, what="the redelivery sent")
        self.assertEqual(self.delivery(self.tok, new_id)["replay_of_delivery_id"], self.did)
        self.shot("redelivered")
        # resend the last hour as a background job: its progress until it completes
        self.open("#/deliveries", "#resend", "the resend form")
        b.execute_script("""
            const f = document.getElementById('resend');
            const local = (ms) => { const d = new Date(ms); return new Date(ms - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };
            f.elements.from.value = local(Date.now() - 3600e3);
            f.elements.to.value = local(Date.now() + 120e3);""")
        b.find_element(By.CSS_SELECTOR, "#resend button").click()
        wait_for(lambda: "completed" in (self.text("#job") or ""), what="the resend job shown completed")
        self.assertRegex(self.text("#job"), r"completed, 1 of 1 resent")
        self.shot("resend_job")
        # disable the endpoint: its status on the endpoints page
        self.open("#/endpoints", 'tr[data-endpoint="%s"]' % self.ep["id"], "the endpoint listed")
        row = b.find_element(By.CSS_SELECTOR, 'tr[data-endpoint="%s"]' % self.ep["id"])
        next(x for x in row.find_elements(By.TAG_NAME, "button") if x.text == "Disable").click()
        wait_for(lambda: self.text('tr[data-endpoint="%s"] td.status' % self.ep["id"]) == "DISABLED",
                 what="the endpoint shown disabled")
        self.assertEqual(call("GET", self.hookd.url("/v1/endpoints/" + self.ep["id"]), None, self.tok)[1]["status"],
                         "DISABLED")
        self.shot("endpoint_disabled")

    def test_a_read_only_token_sees_no_write_buttons(self):
        ro = self.new_token(self.org, scopes=("webhooks:read",))["token"]
        b = self.browser
        self.sign_in(ro)
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, ".write"), [])
        self.assertIn("read only", b.find_element(By.ID, "who").text)
        self.open("#/delivery/" + self.did, "tr.attempt", "the delivery page")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, ".write, #redeliver"), [])
        self.open("#/deliveries", "#deliveries", "the deliveries page")
        self.assertEqual(b.find_elements(By.CSS_SELECTOR, ".write, #resend"), [])
        self.shot("read_only")

    def test_an_endpoint_filter_is_shown_and_tried_from_the_console(self):
        ep = self.new_endpoint(self.tok, self.rx.url(), filter={"payload.amount": {"$gte": 100}}, rate_limit=5)
        ro = self.new_token(self.org, scopes=("webhooks:read",))["token"]  # trying needs only read
        b = self.browser
        self.sign_in(ro)
        self.wait_css('tr[data-endpoint="%s"] a.filter' % ep["id"], "the endpoint listed with its filter")
        self.assertIn('"$gte":100', self.text('tr[data-endpoint="%s"] a.filter' % ep["id"]))
        self.assertEqual(self.text('tr[data-endpoint="%s"] td.flow' % ep["id"]), "at most 5/s")
        self.open("#/filter/" + ep["id"], "#try-filter", "the filter page")
        self.assertIn('"payload.amount"', self.text("#filter"))
        form = b.find_element(By.ID, "try-filter")
        for amount, want in ((250, "matches: a delivery would be made"), (5, "does not match")):
            b.execute_script("arguments[0].elements.payload.value = arguments[1];", form, '{"amount": %d}' % amount)
            form.find_element(By.TAG_NAME, "button").click()
            wait_for(lambda: self.text("#filter-result") == want, what="the filter's answer for %d" % amount)
        self.shot("filter")

    def test_the_console_is_served_with_a_strict_content_security_policy(self):
        for path in ("/console", "/console/app.js", "/console/app.css"):
            s, body, hdrs = call("GET", self.hookd.url(path))
            self.assertEqual(s, 200)
            csp = hdrs.get("Content-Security-Policy")
            self.assertIn("default-src 'none'", csp)
            self.assertIn("script-src 'self'", csp)
            self.assertNotIn("unsafe-inline", csp)
        html = call("GET", self.hookd.url("/console"))[1]
        self.assertNotRegex(html, r"<script>|<script [^>]*>[^<]|\son[a-z]+=", "no inline script or handler")


if __name__ == "__main__":
    unittest.main()
