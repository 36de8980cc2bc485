"""A tiny run of the concurrency soak (bench/soak.py: 4 clients, 5 s)
against the programs of this build, so that it keeps working: no 5xx,
every job finished, PRAGMA integrity_check ok, nothing in the server
log from a sanitizer or a crash."""
import os
import subprocess
import sys
import unittest

import harness


# Plain CGI starts a process per request (about ten a second on a busy
# machine): in 5 s the mix need not reach every operation.
SECONDS = "15" if harness.SERVER in ("lighttpd-cgi", "apache-cgi") else "5"


class SoakSmoke(unittest.TestCase):
    def test_four_clients_five_seconds(self):
        p = subprocess.run(
            [sys.executable, os.path.join(harness.SRC, "bench", "soak.py"),
             "--clients", "4", "--seconds", SECONDS, "--members", "30"],
            capture_output=True, text=True, timeout=300,
            env=dict(os.environ, P2P_SRCDIR=harness.SRC, P2P_BUILDDIR=harness.BUILD,
                     LIGHTTPD=harness.LIGHTTPD))
        out = p.stdout + p.stderr[-2000:]
        self.assertEqual(p.returncode, 0, out)
        rows = {l.split("|")[1].strip(): [c.strip() for c in l.split("|")[2:-1]]
                for l in p.stdout.splitlines() if l.startswith("| ")}
        for op in ("token", "member-match", "everything", "bulk-kickoff", "bulk-status"):
            self.assertIn(op, rows, out)
            self.assertGreater(int(rows[op][0]), 0, out)    # requests
            self.assertEqual(rows[op][1], "0", out)          # 5xx
        self.assertIn("PRAGMA integrity_check: ok", p.stdout)
        self.assertIn("unfinished after the wait: 0", p.stdout)
        self.assertIn("sanitizer/crash lines in the server log: 0", p.stdout)


if __name__ == "__main__":
    unittest.main()
