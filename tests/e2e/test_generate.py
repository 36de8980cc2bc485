"""p2p-admin generate: deterministic files the loader takes, counts that
p2p-admin stats confirms, and the load-time scope flags on what was loaded.

Loading needs p2p-admin load; those tests are skipped, saying why, while it
is missing."""
import collections
import json
import os
import re
import sqlite3

import harness

ANCHOR = "2026-06-01"
MEMBERS = 20


def stats_counts(text):
    """{"Patient": n, ...} and members from `p2p-admin stats` output."""
    counts, members, section = {}, None, None
    for line in text.splitlines():
        m = re.match(r"^(\w+): (\d+)", line)
        if m:
            section = m.group(1)
            if section == "members":
                members = int(m.group(2))
            continue
        m = re.match(r"^\s+(\w+): (\d+)$", line)
        if m and section == "resources":
            counts[m.group(1)] = int(m.group(2))
    return counts, members


class Generate(harness.ServerTest):
    load_seed = False

    @classmethod
    def prepare(cls, server):
        cls.file = os.path.join(server.dir, "members.ndjson")
        server.admin("generate", "--members", str(MEMBERS), "--seed", "3",
                     "--anchor", ANCHOR, "--out", cls.file)
        p = server.admin("stats", check=False)
        cls.before = stats_counts(p.stdout) if p.returncode == 0 else ({}, 0)
        p = server.admin("load", cls.file, check=False)
        if p.returncode != 0:
            raise AssertionError("p2p-admin load failed: " + p.stderr.strip()[:200])
        p = server.admin("stats")
        cls.after = stats_counts(p.stdout)

    def lines(self):
        with open(self.file, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def test_deterministic(self):
        other = os.path.join(self.server.dir, "again.ndjson")
        self.server.admin("generate", "--members", str(MEMBERS), "--seed", "3",
                          "--anchor", ANCHOR, "--out", other)
        with open(self.file, "rb") as a, open(other, "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.server.admin("generate", "--members", str(MEMBERS), "--seed", "4",
                          "--anchor", ANCHOR, "--out", other)
        with open(self.file, "rb") as a, open(other, "rb") as b:
            self.assertNotEqual(a.read(), b.read())

    def test_file(self):
        rs = self.lines()
        ids = {"%s/%s" % (r["resourceType"], r["id"]) for r in rs}
        self.assertEqual(len(ids), len(rs), "ids unique")
        refs = set()

        def walk(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k == "reference":
                        refs.add(v)
                    else:
                        walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        for r in rs:
            walk(r)
        self.assertEqual(refs - ids, set(), "every reference resolves")
        kinds = collections.Counter(r["resourceType"] for r in rs)
        self.assertEqual(kinds["Patient"], MEMBERS)
        self.assertEqual(kinds["Coverage"], MEMBERS)
        # the payer carries the configured NPI (harness runs with -c)
        payer = [r for r in rs if r["id"] == "syn-payer"][0]
        conf = open(os.path.join(self.server.data, "p2p.conf")).read()
        npi = re.search(r"^org_npi\s*=\s*(\S+)", conf, re.M)
        if npi:
            self.assertEqual(payer["identifier"][0]["value"], npi.group(1))

    def test_refused(self):
        out = os.path.join(self.server.dir, "x.ndjson")
        for args, rc in ((["--out", out], 2),
                         (["--members", "-1", "--out", out], 2),
                         (["--members", "2"], 2),
                         (["--members", "2", "--years", "0", "--out", out], 2),
                         (["--members", "2", "--history", "huge", "--out", out], 2),
                         (["--members", "2", "--anchor", "2026-13-01", "--out", out], 1),
                         (["--members", "2", "--out", "/nonexistent/dir/x"], 1)):
            p = self.server.admin("generate", *args, check=False)
            self.assertEqual(p.returncode, rc, (args, p.stderr))
            self.assertTrue(p.stderr)

    def test_stats_counts(self):
        want = collections.Counter(r["resourceType"] for r in self.lines())
        before, members_before = self.before
        after, members_after = self.after
        for t, n in want.items():
            self.assertEqual(after.get(t, 0) - before.get(t, 0), n, t)
        self.assertEqual((members_after or 0) - (members_before or 0), MEMBERS)

    def test_scope_flags_stored(self):
        """The loader stored what scope_classify decided (issue #6)."""
        conf = open(os.path.join(self.server.data, "p2p.conf")).read()
        m = re.search(r"^database\s*=\s*(\S+)", conf, re.M)
        path = m.group(1) if m else "p2p.db"
        if not os.path.isabs(path):
            path = os.path.join(self.server.data, path)
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            rows = db.execute(
                "SELECT id, flags, dos, p2p_json FROM resource WHERE type = "
                "'ExplanationOfBenefit' AND id LIKE 'syn-m%'").fetchall()
        finally:
            db.close()
        rs = {r["id"]: r for r in self.lines()
              if r["resourceType"] == "ExplanationOfBenefit"}
        self.assertEqual(len(rows), len(rs))
        excluded = 0
        for rid, flags, dos, p2p in rows:
            r = rs[rid]
            self.assertTrue(dos, rid)
            if r["use"] == "preauthorization":
                self.assertTrue(flags & 4, rid)          # SCOPE_PA
                # SCOPE_EXCLUDED (denied), SCOPE_DRUG (not released
                # unless release_drug_pa = 1)
                excluded += bool(flags & (2 | 32))
            else:
                self.assertEqual(flags, 16, rid)         # SCOPE_FINANCIAL
                basis = json.loads(p2p)
                self.assertNotIn("total", basis)
                self.assertNotIn("amount", basis.get("payment", {}))
                self.assertTrue(basis["meta"]["profile"][-1].endswith("-Basis"))
        # kinds rotate over six; denied and drug ones are not released
        self.assertEqual(excluded, 2 * MEMBERS * 3 // 6)
