"""Redis stopped and restarted while hookd runs: 503s and /readyz meanwhile,
no crash, and recovery without a restart of hookd."""
import unittest

from harness import HookdCase, Receiver, wait_for


class RedisOutageTest(HookdCase):
    redis_aof = True

    def test_stop_and_restart_redis(self):
        rx = Receiver()
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url())
            first = self.send_event(tok)["delivery_ids"][0]
            self.wait_state(tok, first, "completed")
            self.redis.stop()
            wait_for(lambda: self.api("GET", "/readyz")[0] == 503, what="readyz to report Redis down")
            # the connection error names the server it was for
            wait_for(lambda: '"redis":"127.0.0.1:%d"' % self.redis.port in self.hookd.log(), what="a log line naming Redis")
            s, b, h = self.api("POST", "/v1/events", {"type": "a", "payload": {}}, tok)
            self.assertEqual(s, 503, b)
            self.assertEqual(h["Content-Type"], "application/problem+json")
            self.assertEqual(self.api("GET", "/v1/endpoints", None, tok)[0], 503)
            self.assertEqual(self.api("GET", "/healthz")[0], 200)
            self.redis.start()
            self.hookd.wait_ready()
            # scripts were flushed with the restart: NOSCRIPT is handled
            second = self.send_event(tok)["delivery_ids"][0]
            self.wait_state(tok, second, "completed")
            self.assertEqual(self.delivery(tok, first)["state"], "completed")  # AOF kept it
            self.assertIsNone(self.hookd.proc.poll())
        finally:
            rx.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
