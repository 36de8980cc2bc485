"""p2p-admin load and stats: the seed, bad files (all or nothing, with the
place at fault), upserts, exit codes."""
import json
import os
import re
import sqlite3
import unittest

import harness

GUIDE = os.path.join(harness.SRC, "share", "seed", "pdex-guide-member.ndjson")


def parse_stats(text):
    """`p2p-admin stats` output -> {"resources": 7, "resources.Patient": 2,
    "clients": "2 active, 0 disabled", ...}"""
    out, section = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\s*)([^:]+): (.*)$", line)
        if not m:
            continue
        indent, key, val = m.groups()
        if indent:
            key = "%s.%s" % (section, key)
        else:
            section = key
        out[key] = int(val) if val.isdigit() else val
    return out


def patient(pid):
    return {"resourceType": "Patient", "id": pid,
            "name": [{"family": "Loader", "given": ["Test"]}],
            "birthDate": "1990-01-01"}


class Loader(unittest.TestCase):
    """One data directory for the class; no HTTP server needed."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(demo=True)
        cls.tmp = os.path.join(cls.server.dir, "files")
        os.makedirs(cls.tmp)
        cls.server.admin("load", harness.SEED)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def stats(self):
        return parse_stats(self.server.admin("stats").stdout)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ndjson(self, name, resources):
        return self.write(name, "".join(json.dumps(r) + "\n" for r in resources))

    def test_seed_counts(self):
        s = self.stats()
        self.assertGreaterEqual(s["resources.Organization"], 3)
        self.assertGreaterEqual(s["resources.Coverage"], 2)
        self.assertGreaterEqual(s["members"], 2)
        self.assertEqual(s["members"], s["resources.Patient"])
        self.assertRegex(s["clients"], r"^2 active, 0 disabled$")
        self.assertEqual(s["consents"], 1)
        self.assertEqual(s["consents.active"], 1)
        self.assertEqual(s["matches"], 0)
        self.assertEqual(s["jobs"], 0)
        self.assertRegex(s["database"], r"^\d+ bytes")
        # Consent, Client and AccessPolicy are not stored resources
        for t in ("Consent", "Client", "AccessPolicy"):
            self.assertNotIn("resources." + t, s)

    def test_seed_secret_hashed(self):
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        try:
            row = db.execute("SELECT secret_hash, npi, scopes FROM client "
                             "WHERE id = 'test-payer-client'").fetchone()
            self.assertTrue(row[0].startswith("pbkdf2-sha256$"), row[0])
            self.assertEqual(row[1], "5555555555")
            self.assertIn("member-match", row[2])
            for (sql,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
                for r in db.execute('SELECT * FROM "%s"' % sql):
                    self.assertNotIn("test-payer-secret", repr(r), sql)
        finally:
            db.close()

    def test_same_file_twice_keeps_counts(self):
        before = self.stats()
        p = self.server.admin("load", harness.SEED)
        self.assertIn("7 resources", p.stdout)
        self.assertIn("2 clients registered", p.stdout)
        self.assertIn("AccessPolicy ignored", p.stdout)
        self.assertRegex(p.stdout, r"resources/s")
        after = self.stats()
        for k in ("resources", "members", "clients", "consents"):
            self.assertEqual(before[k], after[k], k)

    def test_bad_ndjson_line_3(self):
        before = self.stats()
        path = self.write("bad.ndjson",
                          json.dumps(patient("bad-nd-1")) + "\n" +
                          json.dumps(patient("bad-nd-2")) + "\n" +
                          '{"resourceType": "Patient", "id": \n' +
                          json.dumps(patient("bad-nd-4")) + "\n")
        p = self.server.admin("load", path, check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("line 3: invalid JSON", p.stderr)
        self.assertIn("nothing from this file was kept", p.stderr)
        self.assertEqual(self.stats(), before)

    def test_bad_bundle_entry(self):
        before = self.stats()
        entries = [{"resource": patient("bad-b-%d" % i),
                    "request": {"method": "PUT", "url": "Patient/bad-b-%d" % i}}
                   for i in range(4)]
        entries[2]["resource"]["id"] = "not valid!"
        entries[2]["request"]["url"] = "Patient/x"
        path = self.write("bad-bundle.json", json.dumps(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries}, indent=1))
        p = self.server.admin("load", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("entry[2]:", p.stderr)
        self.assertIn("is not a valid FHIR id", p.stderr)
        self.assertEqual(self.stats(), before)

    def test_unsupported_bundle_type(self):
        path = self.write("searchset.json", json.dumps(
            {"resourceType": "Bundle", "type": "searchset", "entry": []}))
        p = self.server.admin("load", path, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('unsupported Bundle type "searchset"', p.stderr)

    def test_files_are_independent(self):
        good = self.ndjson("indep-good.ndjson", [patient("indep-1")])
        bad = self.ndjson("indep-bad.ndjson", [patient("indep-2"), {"id": "x"}])
        missing = os.path.join(self.tmp, "no-such-file.ndjson")
        before = self.stats()
        p = self.server.admin("load", bad, good, missing, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("line 2: resourceType is missing", p.stderr)
        self.assertIn("no-such-file.ndjson: cannot open", p.stderr)
        self.assertIn("indep-good.ndjson: 1 resources (Patient 1)", p.stdout)
        after = self.stats()
        self.assertEqual(after["members"], before["members"] + 1)

    def test_delete_entries(self):
        self.server.admin("load", self.ndjson("del-a.ndjson",
                                              [patient("del-1"), patient("del-2")]))
        before = self.stats()
        path = self.write("del.json", json.dumps({
            "resourceType": "Bundle", "type": "batch", "entry": [
                {"request": {"method": "DELETE", "url": "Patient/del-1"}},
                {"request": {"method": "DELETE", "url": "Patient/never-was"}}]}))
        p = self.server.admin("load", path)
        self.assertIn("2 deleted", p.stdout)
        self.assertEqual(self.stats()["members"], before["members"] - 1)

    def test_guide_member(self):
        p = self.server.admin("load", GUIDE)
        self.assertIn("Patient 1", p.stdout)
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        try:
            rows = db.execute("SELECT type FROM resource WHERE patient = "
                              "'564730725596728' ORDER BY type").fetchall()
            types = [r[0] for r in rows]
            self.assertIn("Patient", types)
            self.assertIn("Coverage", types)
            self.assertIn("ExplanationOfBenefit", types)
            self.assertEqual(db.execute(
                "SELECT patient FROM ident WHERE kind = 3 AND value = 'DH10001235'"
            ).fetchone()[0], "564730725596728")
            self.assertEqual(db.execute(
                "SELECT family || ' ' || given || ' ' || birth_date || ' ' || gender "
                "FROM demog WHERE patient = '564730725596728'").fetchone()[0],
                "parker malorie 1937-07-28 male")
        finally:
            db.close()

    def test_usage(self):
        p = self.server.admin("load", check=False)
        self.assertEqual(p.returncode, 2)
        p = self.server.admin("stats", "extra", check=False)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
