"""Issue 11: hookd warns loudly when its Redis can lose data (an evicting
maxmemory-policy, no persistence), and /readyz sends exactly its JSON."""
import unittest
import urllib.request

from harness import Hookd, Redis, RedisCluster, call, wait_for


def readyz_raw(hookd):
    with urllib.request.urlopen(hookd.url("/readyz"), timeout=10) as r:
        return r.read()


class RedisConfigTest(unittest.TestCase):
    def test_evicting_unpersisted_redis_is_reported(self):
        redis = Redis()  # the harness's Redis has no AOF and no save points
        redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        hookd = Hookd(redis)
        try:
            body = wait_for(lambda: (lambda b: b if b.get("warnings") else None)(call("GET", hookd.url("/readyz"))[1]),
                            what="readyz to carry the warnings")
            self.assertIn("allkeys-lru", body["warnings"][0])
            self.assertIn("no persistence", body["warnings"][0])
            m = call("GET", hookd.url("/metrics"))[1]
            self.assertIn('hookd_redis_config_warning{kind="evicts"} 1', m)
            self.assertIn('hookd_redis_config_warning{kind="not_persistent"} 1', m)
            self.assertIn("this Redis can lose hookd's data", hookd.log())
        finally:
            rc = hookd.stop()
            redis.close()
        self.assertEqual(rc, 0)

    def test_safe_redis_gives_an_exact_readyz(self):
        redis = Redis(aof=True)
        hookd = Hookd(redis)
        try:
            wait_for(lambda: "eviction policy and persistence are safe" in hookd.log(), what="the config check")
            self.assertNotIn("this Redis can lose", hookd.log())
            self.assertEqual(readyz_raw(hookd), b'{"status":"ready","redis":"up"}')
            m = call("GET", hookd.url("/metrics"))[1]
            self.assertIn('hookd_redis_config_warning{kind="evicts"} 0', m)
            self.assertIn('hookd_redis_config_warning{kind="not_persistent"} 0', m)
        finally:
            rc = hookd.stop()
            redis.close()
        self.assertEqual(rc, 0)

    def test_every_cluster_master_is_checked(self):
        """CONFIG GET names no key: it must go to every master, not to the
        one that would own a key called "GET" (issue 26)."""
        cluster = RedisCluster(aof=True)
        hookd = None
        try:
            # the masters that do not own the slot of a key named GET evict
            others = [n for n in cluster.nodes if "MOVED" in n.cli("GET", "GET")]
            self.assertEqual(len(others), 2)
            for n in others:
                n.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
            hookd = Hookd(cluster)
            body = wait_for(lambda: (lambda b: b if b.get("warnings") else None)(call("GET", hookd.url("/readyz"))[1]),
                            what="readyz to carry the warning")
            self.assertIn("allkeys-lru", body["warnings"][0])
            self.assertNotIn("no persistence", body["warnings"][0])
            self.assertIn('hookd_redis_config_warning{kind="evicts"} 1', call("GET", hookd.url("/metrics"))[1])
        finally:
            rc = hookd.stop() if hookd else 0
            cluster.close()
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
