"""Smoke run of the benchmark (bench/run.sh --quick) against the programs
of this build: it must complete and print the table of figures.  No
timing is asserted; figures whose pieces are missing print "n/a"."""
import os
import shutil
import subprocess
import tempfile
import unittest

import harness


@unittest.skipIf((harness.SERVER, harness.TLS) != ("lighttpd", False),
                 "drives its own lighttpd (bench/lighttpd-bench.conf) whatever "
                 "P2P_E2E_SERVER says: the default run covers it")
class BenchSmoke(unittest.TestCase):
    def test_quick_run_prints_the_table(self):
        # scripts/deps.sh installs wrk: its absence is a broken setup.
        self.assertIsNotNone(shutil.which("wrk"), "wrk is not installed")
        out = tempfile.mkdtemp(prefix="p2p-bench-")
        try:
            res = os.path.join(out, "quick.md")
            p = subprocess.run(
                [os.path.join(harness.SRC, "bench", "run.sh"), "--quick",
                 "--prebuilt", os.path.abspath(harness.BUILD), "--out", res,
                 "--work", out],
                capture_output=True, text=True, timeout=300,
                env=dict(os.environ, LIGHTTPD=harness.LIGHTTPD))
            self.assertEqual(p.returncode, 0, p.stdout[-2000:] + p.stderr[-2000:])
            for label in ("| figure | measured | target |",
                          "load throughput (resources/s)",
                          "trivial FastCGI responder (req/s)",
                          "ratio $member-match / trivial",
                          "$everything", "$bulk-member-match",
                          "runner peak RSS", "cores (nproc)",
                          "export as a receiving payer"):
                self.assertIn(label, p.stdout)
            # Every figure is a number or says what is missing.
            rows = [l for l in p.stdout.splitlines()
                    if l.startswith("| ") and not l.startswith("| figure")]
            self.assertTrue(rows)
            self.assertTrue(os.path.exists(res))
            self.assertNotIn("Traceback", p.stderr)
        finally:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
