"""Generic FHIR clients, unmodified, run the receiving payer's whole flow
against p2p (issue #14): fhir-kit-client and @medplum/core, driven by
tests/e2e/clients/payer-flow.mjs (token, $member-match, $everything,
$bulk-member-match, Group search and read, $davinci-data-export and
$export, status, download).

The clients are the versions pinned in tests/e2e/clients/package-lock.json,
installed with "npm ci" into a cache directory outside the tree (keyed by
the lock file) on first use.  Without node and npm the test is skipped,
saying so; an install that fails is a failure.  Every resource and Bundle
the clients received is validated against the FHIR R4 JSON schema
(test_export.py's validator).
"""
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import harness
from test_bulk import SEED_EXAMPLE
from test_export import CACHE as SCHEMA_CACHE, validator

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
MEMBER_MATCH = os.path.join(harness.SRC, "share", "examples", "member-match-001.json")


def clients_dir():
    """The cache directory holding the pinned clients and the script."""
    lock = open(os.path.join(HERE, "package-lock.json"), "rb").read()
    key = hashlib.sha256(lock).hexdigest()[:16]
    d = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                     os.path.expanduser("~/.cache"), "p2p-e2e", "clients-" + key)
    os.makedirs(d, exist_ok=True)
    for f in ("package.json", "package-lock.json", "payer-flow.mjs"):
        shutil.copyfile(os.path.join(HERE, f), os.path.join(d, f))
    if not os.path.isdir(os.path.join(d, "node_modules", "@medplum", "core")) or \
            not os.path.isdir(os.path.join(d, "node_modules", "fhir-kit-client")):
        p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=d,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError("npm ci of the generic clients failed:\n" +
                                 p.stdout[-2000:] + p.stderr[-2000:])
    return d


@unittest.skipUnless(shutil.which("node") and shutil.which("npm"),
                     "node and npm are not installed: the generic FHIR client "
                     "test (fhir-kit-client, @medplum/core) is skipped "
                     "(scripts/deps.sh installs Debian's nodejs and npm)")
class GenericClients(harness.ServerTest):
    CLIENT = "test-payer-client"
    SECRET = "test-payer-secret"

    @staticmethod
    def tls_env():
        """Node trusts the suite's throwaway CA over HTTPS."""
        return {"NODE_EXTRA_CA_CERTS": harness.tls_files()[0]} if harness.TLS else {}

    def test_receiving_payer_flow(self):
        d = clients_dir()
        tmp = tempfile.mkdtemp(prefix="p2p-clients-", dir=self.server.dir)
        bmm = os.path.join(tmp, "bulk-member-match.json")
        with open(bmm, "w") as f:
            json.dump(SEED_EXAMPLE, f)
        p = subprocess.run(["node", os.path.join(d, "payer-flow.mjs"), self.server.base,
                            self.CLIENT, self.SECRET, MEMBER_MATCH, bmm, tmp],
                           cwd=d, capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, **self.tls_env()))
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        seen = json.loads(p.stdout)
        fk, mp = seen["fhirkit"], seen["medplum"]

        # fhir-kit-client: discovery, match, paged $everything, bulk match,
        # Group search/read, $davinci-data-export
        self.assertEqual(fk["tokenUrl"], self.server.base + "/auth/token")
        self.assertEqual(fk["memberId"], "test-member-001")
        self.assertGreaterEqual(fk["everythingPages"], 2)       # next links followed
        self.assertEqual(fk["everythingIds"][0], "Patient/test-member-001")
        self.assertIn("Coverage/test-coverage-001", fk["everythingIds"])
        self.assertEqual(len(fk["everythingIds"]), len(set(fk["everythingIds"])))
        self.assertEqual(fk["matchOutput"], ["Group", "Parameters"])
        self.assertEqual(fk["groupMembers"], ["Patient/test-member-001"])
        self.assertIn("Patient", fk["exportTypes"])
        self.assertGreaterEqual(fk["exportCount"], 2)

        # @medplum/core: client-credentials login, startAsyncRequest,
        # bulkExport (Group and Patient), download
        self.assertTrue(mp["loggedIn"])
        self.assertEqual(mp["memberId"], "test-member-001")
        self.assertGreaterEqual(mp["everythingCount"], 2)
        self.assertNotEqual(mp["groupId"], fk["groupId"])       # a second match job
        self.assertEqual(mp["groupExport"].get("Patient"), 1)
        self.assertEqual(mp["dataExport"], mp["groupExport"])
        self.assertEqual(mp["patientExport"], {"Patient": 1, "Coverage": 1})

        # Medplum logged in with client_secret_post and no scope: the
        # client's registered scopes (RFC 6749 3.3)
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        try:
            details = [d for (d,) in db.execute(
                "SELECT detail FROM audit WHERE event = 'token' AND outcome = 'success'"
                " AND client_id = ?", (self.CLIENT,))]
        finally:
            db.close()
        self.assertIn("issued: client_secret_post (registered scopes)", details)
        self.assertIn("issued: client_secret_basic", details)

        # every resource and Bundle they received is valid FHIR R4
        lines = open(os.path.join(tmp, "resources.ndjson")).read().splitlines()
        self.assertGreater(len(lines), 10)
        js = validator()
        if js is not None:
            v = subprocess.run(["node", js], input="\n".join(lines), capture_output=True,
                               text=True, cwd=SCHEMA_CACHE,
                               env=dict(os.environ,
                                        NODE_PATH=os.path.join(SCHEMA_CACHE, "node_modules")))
            self.assertEqual(v.returncode, 0, v.stdout[-3000:] + v.stderr[-1000:])
