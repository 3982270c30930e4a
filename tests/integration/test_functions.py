"""Issue 20: the hot-path scripts (ingest, claim, complete) run as Redis
functions, loaded once per server and called with FCALL; a Redis that
forgets them, or cannot load them, still gets every call (as EVALSHA)."""
import re
import threading
import unittest

from harness import HookdCase, Receiver, Redis, command_calls as calls, wait_for

HOT_PATH = ("ingest", "claim", "complete")


def servers(redis):
    """Each server of a single Redis or a cluster."""
    return getattr(redis, "nodes", [redis])


def hookd_libraries(server):
    return sorted(set(re.findall(r"hookd_([a-z]+)_[0-9a-f]{12}", server.cli("FUNCTION", "LIST"))))


class FunctionsCase(HookdCase):
    class_receiver = True

    def deliver_one(self, tok):
        did = self.send_event(tok, "a")["delivery_ids"][0]
        self.wait_state(tok, did, "completed")
        return did


class FunctionsTest(FunctionsCase):
    def test_hot_path_scripts_are_loaded_as_functions_and_called_with_fcall(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        before = calls(self.redis, "fcall")
        self.deliver_one(tok)
        for s in servers(self.redis):  # every master holds the three libraries
            self.assertEqual(hookd_libraries(s), sorted(HOT_PATH))
        self.assertGreater(calls(self.redis, "fcall"), before)


class ForgottenFunctionsTest(FunctionsCase):
    """Its own servers: a flush here must not reach FunctionsTest's."""

    def test_deliveries_go_on_after_redis_forgets_its_functions_and_scripts(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        for s in servers(self.redis):
            s.cli("FUNCTION", "FLUSH")  # every FCALL now answers "Function not found"
            s.cli("SCRIPT", "FLUSH")
        evals = calls(self.redis, "eval")
        self.deliver_one(tok)  # ingest, claim and complete fell back to EVAL
        self.assertGreater(calls(self.redis, "eval"), evals)
        # and the servers that were asked hold the functions again
        wait_for(lambda: any(hookd_libraries(s) == sorted(HOT_PATH) for s in servers(self.redis)),
                 what="the functions to be loaded again")
        before = calls(self.redis, "fcall")
        self.deliver_one(tok)
        self.assertGreater(calls(self.redis, "fcall"), before)


class OutOfMemoryTest(FunctionsCase):
    """A function is refused whole at maxmemory, a script only at its first
    write that may grow memory: an outcome refused as FCALL goes again as
    EVALSHA, so complete.lua (which removes its lease first) still records
    a success, as before functions."""
    hookd_conf = {"token_cache": "60s"}  # no token lookup needed while memory is full

    def test_a_success_is_recorded_while_redis_is_at_maxmemory(self):
        gate = threading.Event()
        rx = Receiver(lambda n, p, h, b: (gate.wait(30), (200, {}, b"ok"))[1])
        try:
            _, tok = self.tenant()
            self.new_endpoint(tok, rx.url(), event_types=["a"])
            did = self.send_event(tok, "a")["delivery_ids"][0]
            wait_for(lambda: rx.count() == 1, what="the delivery sent")
            for s in servers(self.redis):  # every write that may grow memory is refused now
                s.cli("CONFIG", "SET", "maxmemory", "1")
            try:
                gate.set()
                self.wait_state(tok, did, "completed")
            finally:
                for s in servers(self.redis):
                    s.cli("CONFIG", "SET", "maxmemory", "0")
            self.assertNotIn("could not record outcomes", self.hookd.log())
        finally:
            gate.set()
            rx.close()


class DeniedFunctionsTest(FunctionsCase):
    """An ACL that denies FUNCTION: EVALSHA meanwhile, and the libraries
    loaded by the watchdog once the ACL allows them (FUNCTION_RETRY_MS)."""

    @classmethod
    def make_redis(cls):
        redis = Redis()
        redis.cli("ACL", "SETUSER", "default", "-function")
        return redis

    def test_functions_denied_by_an_acl_are_loaded_once_it_allows_them(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        self.deliver_one(tok)
        self.assertEqual(calls(self.redis, "fcall"), 0)
        self.assertIn("FUNCTION LOAD failed", self.hookd.log())
        self.redis.cli("ACL", "SETUSER", "default", "+function")
        wait_for(lambda: hookd_libraries(self.redis) == sorted(HOT_PATH), timeout=40, what="the libraries loaded")
        self.deliver_one(tok)
        self.assertGreater(calls(self.redis, "fcall"), 0)
        self.assertEqual(self.hookd.log().count("FUNCTION LOAD failed"), 1)  # said once, not every retry


class NoFunctionsTest(FunctionsCase):
    """A Redis without FUNCTION (Redis 6, or an ACL that denies it): hookd
    says so once and sends every script as EVALSHA."""

    @classmethod
    def make_redis(cls):
        return Redis(extra=["--rename-command", "FUNCTION", "function_hidden_from_hookd"])

    def test_a_redis_without_functions_gets_every_script_as_evalsha(self):
        _, tok = self.tenant()
        self.new_endpoint(tok, self.rx.url(), event_types=["a"])
        self.deliver_one(tok)
        self.assertEqual(calls(self.redis, "fcall"), 0)
        self.assertGreater(calls(self.redis, "evalsha"), 0)
        self.assertIn("FUNCTION LOAD failed", self.hookd.log())


if __name__ == "__main__":
    unittest.main()
