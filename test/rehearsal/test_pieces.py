"""Unit tests of the rehearsal's own pieces (run by run.sh before the rehearsal):
the threshold math, the eviction replay, and the rewrite of the unit's docker run line."""

import random
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import instances  # noqa: E402
import module  # noqa: E402

P, F = True, False


class ThresholdMath(unittest.TestCase):
    def test_run_waiting_time_small_cases(self):
        # One hit needed: geometric, 1/p trials.
        self.assertAlmostEqual(module.checks_until_run(0.25, 1), 4.0)
        # Two hits in a row with p = 1/2: 6 trials (a textbook value).
        self.assertAlmostEqual(module.checks_until_run(0.5, 2), 6.0)
        self.assertEqual(module.checks_until_run(1.0 - 1e-12, 3) < 3.0001, True)

    def test_expectation_matches_a_seeded_simulation(self):
        rng = random.Random(7)
        p, rise, fall, n = 0.2, 3, 2, 400_000
        seq = [rng.random() >= p for _ in range(n)]
        expected = module.expected_false_evictions([n], p, fall, rise)
        got = module.replay(seq, rise, fall)
        # Poisson-like spread: sd = sqrt(expected) ~ 107 here; allow 5 sd.
        self.assertLess(abs(got - expected), 5 * expected**0.5, (got, expected))

    def test_replay_counts_consecutive_failures_only(self):
        self.assertEqual(module.replay([F, F, F], rise=3, fall=3), 1)
        self.assertEqual(module.replay([F, F, P, F, F, P], rise=3, fall=3), 0)
        self.assertEqual(module.replay([F, F, F, F, F, F], rise=3, fall=3), 1)  # already out
        # Back in service only after `rise` passes in a row; then out again.
        self.assertEqual(module.replay([F, F, P, P, P, F, F], rise=3, fall=2), 2)
        self.assertEqual(module.replay([F, F, P, P, F, P, P, P, F, F], rise=3, fall=2), 2)
        self.assertEqual(module.replay([F, F, P, P, F, P, F, F], rise=3, fall=2), 1)

    def test_replay_from_leaving_maintenance(self):
        # HAProxy starts such a server at health `rise`: one failure takes it out...
        self.assertEqual(module.replay([F], rise=3, fall=3, health=3), 1)
        # ...unless a pass came first.
        self.assertEqual(module.replay([P, F, F], rise=3, fall=3, health=3), 0)

    def test_poisson_tails(self):
        le, ge = module.poisson_tail(0, 2.0)
        self.assertAlmostEqual(le, 0.1353352832, places=8)
        self.assertAlmostEqual(ge, 1.0)
        le, ge = module.poisson_tail(3, 2.0)
        self.assertAlmostEqual(ge, 1 - 0.1353352832 * (1 + 2 + 2), places=8)


class UnitRewrite(unittest.TestCase):
    def test_only_name_and_port_change(self):
        argv = ["run", "--rm", "--name", "app", "-p", "8080:8080", "--read-only",
                "-e", "HEALTH_FAILURE_RATE=0.1", "--stop-timeout=10", "img:tag", "--workers", "2"]
        out = instances.adapt(argv, "rehearsal-1-v1a", 21001)
        self.assertEqual(out, ["run", "--rm", "--name", "rehearsal-1-v1a", "-p", "127.0.0.1:21001:8080",
                               "--read-only", "-e", "HEALTH_FAILURE_RATE=0.1", "--stop-timeout=10",
                               "--detach", "img:tag", "--workers", "2"])
        out = instances.adapt(["run", "--publish=0.0.0.0:80:8080", "img"], "n", 21002)
        self.assertEqual(out, ["run", "--publish=127.0.0.1:21002:8080", "--name", "n", "--detach", "img"])
        self.assertEqual(instances._failure_rate(argv), 0.1)

    def test_nofile_capped_at_the_hosts_hard_limit_only(self):
        real = instances.resource.getrlimit
        instances.resource.getrlimit = lambda _: (1024, 20000)
        try:
            argv = ["run", "--ulimit", "nofile=65536:65536", "--memory", "256m", "img"]
            out, note = instances.cap_nofile(argv)
            self.assertEqual(out, ["run", "--ulimit", "nofile=20000:20000", "--memory", "256m", "img"])
            self.assertIn("20000", note)
            self.assertEqual(instances.cap_nofile(["run", "--ulimit=nofile=4096:8192", "img"]),
                             (["run", "--ulimit=nofile=4096:8192", "img"], None))
        finally:
            instances.resource.getrlimit = real

    def test_refuses_what_it_cannot_mirror(self):
        with self.assertRaises(ValueError):
            instances.adapt(["run", "--network=host", "img"], "x", 1)
        with self.assertRaises(ValueError):
            instances.adapt(["run", "img"], "x", 1)  # no published port


if __name__ == "__main__":
    unittest.main()
