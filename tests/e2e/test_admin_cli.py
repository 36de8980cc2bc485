"""p2p-admin as an operator meets it: usage errors exit 2 with a usage
line, failures exit 1 with a message naming the program, nothing
half-done, and client add never replaces a client silently."""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import harness


class AdminUsage(unittest.TestCase):
    """p2p-admin: usage errors exit 2 with a usage line, failures exit 1
    with a message naming the program; nothing is half-done."""

    def setUp(self):
        """A data directory of its own (init), removed afterwards."""
        self.tmp = tempfile.mkdtemp(prefix="p2p-admin-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.data = os.path.join(self.tmp, "data")
        self.assertEqual(self.run_admin("init", self.data).returncode, 0)
        self.conf = os.path.join(self.data, "p2p.conf")

    def run_admin(self, *args, input=None):
        return subprocess.run([harness.ADMIN] + list(args), capture_output=True,
                              text=True, input=input)

    def test_exit_codes(self):
        tmp, data, conf = self.tmp, self.data, self.conf
        key = open(os.path.join(data, "keys", "server.key")).read()
        # init again is refused; --update keeps the key (tokens stay valid)
        self.assertEqual(self.run_admin("init", data).returncode, 1)
        self.assertEqual(self.run_admin("init", "--update", data).returncode, 0)
        self.assertEqual(open(os.path.join(data, "keys", "server.key")).read(), key)
        usage = [[], ["bogus"], ["-c", conf, "bogus"], ["-c"], ["init"],
                 ["-c", conf, "load"], ["-c", conf, "client"],
                 ["-c", conf, "client", "add"], ["-c", conf, "client", "disable"],
                 ["-c", conf, "client", "list", "extra"], ["-c", conf, "stats", "extra"],
                 ["-c", conf, "generate"], ["-c", conf, "generate", "--members", "abc",
                                           "--out", os.path.join(tmp, "g")]]
        for a in usage:
            with self.subTest(args=a):
                p = self.run_admin(*a)
                self.assertEqual(p.returncode, 2, p)
                self.assertIn("usage", p.stderr)
                self.assertEqual(p.stdout, "")
        fails = [["-c", os.path.join(tmp, "none.conf"), "stats"],
                 ["-c", conf, "load", os.path.join(tmp, "none.json")],
                 ["-c", conf, "client", "disable", "no-such-client"],
                 ["-c", conf, "client", "add", "--id", "bad id!", "--secret",
                  "a" * 20, "--npi", "1234567893"],
                 ["-c", conf, "client", "add", "--id", "short", "--secret", "abc",
                  "--npi", "1234567893"],
                 ["-c", conf, "client", "add", "--id", "npi", "--secret", "a" * 20,
                  "--npi", "12"],
                 ["-c", conf, "client", "add", "--id", "nojwks", "--jwks",
                  os.path.join(tmp, "none.jwks"), "--npi", "1234567893"],
                 ["-c", conf, "client", "add", "--id", "scope", "--secret", "a" * 20,
                  "--npi", "1234567893", "--scopes", "bogus/scope"]]
        for a in fails:
            with self.subTest(args=a):
                p = self.run_admin(*a)
                self.assertEqual(p.returncode, 1, p)
                self.assertRegex(p.stderr, r"^p2p-admin: ", p)
        p = self.run_admin("-c", conf, "client", "list")
        self.assertEqual(p.returncode, 0, p)
        for cid in ("bad id!", "short", "npi", "nojwks", "scope"):
            self.assertNotIn(cid + " ", p.stdout)

    def test_client_add_never_silently_replaces(self):
        data, conf = self.data, self.conf
        add = ["-c", conf, "client", "add", "--id", "payer-x", "--npi", "1234567893",
               "--org-name", "Payer X"]
        self.assertEqual(self.run_admin(*add, "--secret", "first-secret-0123").returncode, 0)
        p = self.run_admin(*add, "--secret", "second-secret-0123")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("--replace", p.stderr)
        # The first secret still stands ...
        db = sqlite3.connect(os.path.join(data, "p2p.db"))
        before = db.execute("SELECT secret_hash FROM client WHERE id = 'payer-x'").fetchone()
        p = self.run_admin(*add, "--secret", "second-secret-0123", "--replace")
        self.assertEqual(p.returncode, 0, p)
        after = db.execute("SELECT secret_hash FROM client WHERE id = 'payer-x'").fetchone()
        db.close()
        # ... until it is replaced on purpose.
        self.assertNotEqual(before, after)


if __name__ == "__main__":
    unittest.main()
