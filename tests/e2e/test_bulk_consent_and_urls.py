"""Bulk matching and export under consent changes and URL attacks, through lighttpd with
the seed dataset plus members of our own (test-member-004..009).

- a MemberBundle without its Consent fails alone (error file), the
  others are sorted;
- a bulk-member-match result file names matched members by our Patient
  id: revoking one of their consents withdraws it (403);
- a runner dying after committing the Groups stores no Consent twice
  on the retry;
- a client's other active consent keeps releasing (documented);
- a consent revoked between export kick-off and run leaves the member
  out (named in the error file), no other member's data and no
  financial EOB element in the files; `patient` naming a member outside
  the group releases nothing of it;
- expired but validly signed URLs, signatures for another file, and
  path traversal never serve anything.

Runners are started by the test only (runner = "" in p2p.conf).
"""
import copy
import datetime
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import subprocess
import time
import urllib.parse

import test_bulk as tb
import test_export as te

PAYER = tb.PAYER
P2P_EXPORT = "hl7.fhir.us.davinci-pdex#payertopayer"
YEAR = datetime.date.today().year
FAMILIES = {4: "Okafor", 5: "Lindqvist", 6: "Haddad", 7: "Moreau", 8: "Tanaka",
            9: "Novak"}


def member_data(n):
    pid = "test-member-%03d" % n
    res = [
        {"resourceType": "Patient", "id": pid,
         "name": [{"family": FAMILIES[n], "given": ["Review"]}],
         "gender": "female", "birthDate": "1960-01-%02d" % n,
         "identifier": [{"system": "http://example.org/member-id", "value": "MR%03d" % n}]},
        {"resourceType": "Coverage", "id": "test-coverage-%03d" % n, "status": "active",
         "subscriberId": "SUB-R%03d" % n, "beneficiary": {"reference": "Patient/" + pid},
         "payor": [{"reference": "Organization/test-payer-001"}]},
        {"resourceType": "ExplanationOfBenefit", "id": "review-eob-%03d" % n,
         "status": "active", "use": "claim", "outcome": "complete",
         "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                              "code": "professional"}]},
         "patient": {"reference": "Patient/" + pid}, "created": "%d-05-05" % (YEAR - 1),
         "billablePeriod": {"start": "%d-05-01" % (YEAR - 1), "end": "%d-05-01" % (YEAR - 1)},
         "insurer": {"reference": "Organization/test-payer-001"},
         "provider": {"reference": "Organization/test-payer-001"},
         "insurance": [{"focal": True, "coverage": {"reference": "Coverage/test-coverage-%03d" % n}}],
         "item": [{"sequence": 1, "servicedDate": "%d-05-01" % (YEAR - 1),
                   "productOrService": {"coding": [{"system": "http://www.ama-assn.org/go/cpt",
                                                    "code": "99213"}]},
                   "net": {"value": 120.0, "currency": "USD"},
                   "adjudication": [{"category": {"coding": [{
                       "system": "http://terminology.hl7.org/CodeSystem/adjudication",
                       "code": "benefit"}]}, "amount": {"value": 90.0, "currency": "USD"}}]}],
         "total": [{"category": {"coding": [{
             "system": "http://terminology.hl7.org/CodeSystem/adjudication",
             "code": "submitted"}]}, "amount": {"value": 120.0, "currency": "USD"}}],
         "payment": {"amount": {"value": 90.0, "currency": "USD"}}},
    ]
    return res


def mb(n, consent=True):
    b = tb.member_bundle(FAMILIES[n], "Review", "female", "1960-01-%02d" % n,
                         "SUB-R%03d" % n, "Patient/test-member-%03d" % n, pid="r-%d" % n)
    if not consent:
        b["part"] = [p for p in b["part"] if p["name"] != "Consent"]
    return b


def refs(obj):
    """Every reference string in a resource."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                out += refs(v)
    elif isinstance(obj, list):
        for v in obj:
            out += refs(v)
    return out


class BulkConsentAndUrls(tb.BulkBase):
    conf = {"runner": ""}

    @classmethod
    def prepare(cls, server):
        super().prepare(server)
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"resource": r} for n in FAMILIES for r in member_data(n)]}
        server.load("review.json", bundle)

    def setUp(self):
        super().setUp()
        self.runner("--once")       # the probe job of BulkBase.setUp

    def db(self):
        return sqlite3.connect(os.path.join(self.server.data, "p2p.db"))

    def match(self, *bundles):
        """Runs a $bulk-member-match; returns (status path, manifest, files)."""
        path = self.start(tb.params(*bundles))
        r = self.wait(path, run=True)
        self.assertEqual(r.status, 200, r)
        m = r.json()
        return path, m, self.manifest_files(m)

    @staticmethod
    def matched(files):
        return [g for g in files["Group"] if g["code"]["coding"][0]["code"] == "match"][0]

    def consents(self, n):
        r = self.get("/fhir/Consent?patient=test-member-%03d" % n,
                     headers={"Authorization": PAYER})
        self.assertEqual(r.status, 200, r)
        return [e["resource"] for e in r.json().get("entry", [])]

    def revoke(self, cid):
        r = self.request("PUT", "/fhir/Consent/" + cid, {
            "resourceType": "Consent", "id": cid, "status": "inactive"},
            headers={"Authorization": PAYER})
        self.assertEqual(r.status, 200, r)

    def export(self, gid, extra=()):
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "exportType", "valueCanonical": P2P_EXPORT}] + list(extra)}
        return self.post("/fhir/Group/%s/$davinci-data-export" % gid, body,
                         headers={"Authorization": PAYER, "Prefer": "respond-async"})

    def errors(self, m):
        out = []
        for item in m["error"]:
            r = self.fetch(item["url"])
            self.assertEqual(r.status, 200, r)
            out += [json.loads(l) for l in r.body.decode().splitlines()]
        return out

    # --- $bulk-member-match -------------------------------------------------

    def test_missing_consent_fails_alone(self):
        _, m, files = self.match(tb.CLEAN, mb(4, consent=False))
        self.assertEqual([x["entity"]["reference"] for x in self.matched(files)["member"]],
                         ["Patient/test-member-001"])
        for g in files["Group"]:
            self.assertNotIn("r-4", json.dumps(g))
        errs = self.errors(m)
        self.assertEqual(len(errs), 1, errs)
        self.assertEqual(errs[0]["resourceType"], "OperationOutcome")
        text = json.dumps(errs[0])
        self.assertIn("MemberBundle 2", text)
        self.assertIn("Consent", text)
        # Malformed (not merely incomplete) is still refused at kick-off.
        dup = mb(4)
        dup["part"].append(copy.deepcopy(dup["part"][0]))
        oo = self.assertOutcome(self.kickoff(tb.params(tb.CLEAN, dup)), 400)
        self.assertIn("MemberBundle 2", json.dumps(oo))

    def test_result_file_withdrawn_on_revocation(self):
        _, m, files = self.match(mb(5))
        self.assertEqual([x["entity"]["reference"] for x in self.matched(files)["member"]],
                         ["Patient/test-member-005"])
        db = self.db()
        job = m["output"][0]["url"].split("/bulk/")[1].split("/")[0]
        rows = db.execute("SELECT patient FROM job_member WHERE job_id = ?",
                          (job,)).fetchall()
        db.close()
        self.assertEqual(rows, [("test-member-005",)])
        [c] = [c for c in self.consents(5) if c["status"] == "active"]
        self.revoke(c["id"])
        for item in m["output"]:
            self.assertOutcome(self.fetch(item["url"]), 403, "forbidden")

    def test_retry_after_commit_stores_no_consent_twice(self):
        path, m, _ = self.match(mb(6))
        job = path.rsplit("/", 1)[1]
        db = self.db()

        def counts():
            return (db.execute("SELECT count(*) FROM consent WHERE patient = 'test-member-006'"
                               ).fetchone()[0],
                    db.execute("SELECT count(*) FROM consent_history h JOIN consent c"
                               " ON c.cid = h.cid WHERE c.patient = 'test-member-006'"
                               ).fetchone()[0],
                    db.execute("SELECT count(*) FROM audit WHERE patient = 'test-member-006'"
                               " AND event IN ('consent', 'match')").fetchone()[0],
                    db.execute("SELECT count(*) FROM match WHERE patient = 'test-member-006'"
                               ).fetchone()[0])
        before = counts()
        self.assertEqual(before[0], 1)
        # A runner that died after step 2 committed, before completing.
        dead = subprocess.Popen(["true"])
        dead.wait()
        db.execute("UPDATE job SET status = 'running', runner = ?, heartbeat = ?"
                   " WHERE id = ?", ("%s:%d" % (socket.gethostname(), dead.pid),
                                     int(time.time()), job))
        db.execute("DELETE FROM job_file WHERE job_id = ?", (job,))
        db.execute("DELETE FROM job_member WHERE job_id = ?", (job,))
        db.commit()
        self.assertEqual(self.get(path, headers={"Authorization": PAYER}).status, 202)
        files = self.taken_over(path)
        self.assertEqual([x["entity"]["reference"] for x in self.matched(files)["member"]],
                         ["Patient/test-member-006"])
        self.assertEqual(counts(), before)
        n = db.execute("SELECT count(*) FROM grp WHERE job_id = ?", (job,)).fetchone()[0]
        db.close()
        self.assertEqual(n, 1)

    def test_other_active_consent_still_releases(self):
        """Revocation is per consent (docs/consent.md)."""
        self.match(mb(7))
        self.match(mb(7))
        active = [c["id"] for c in self.consents(7) if c["status"] == "active"]
        self.assertEqual(len(active), 2)
        everything = "/fhir/Patient/test-member-007/$everything"
        h = {"Authorization": PAYER}
        self.assertEqual(self.get(everything, headers=h).status, 200)
        self.revoke(active[0])
        self.assertEqual(self.get(everything, headers=h).status, 200)
        self.revoke(active[1])
        self.assertOutcome(self.get(everything, headers=h), 403, "forbidden")

    # --- $davinci-data-export on a real MatchedMembers group ---------------------

    def test_export_lapse_between_kickoff_and_run(self):
        _, _, files = self.match(mb(8), mb(9))
        g = self.matched(files)
        self.assertEqual(sorted(x["entity"]["reference"] for x in g["member"]),
                         ["Patient/test-member-008", "Patient/test-member-009"])
        # exportType variants and unsupported filters: 400, never ignored.
        for extra in ([{"name": "exportType", "valueCanonical": P2P_EXPORT.upper()}],
                      [{"name": "exportType", "valueCanonical": P2P_EXPORT + "|2.2"}],
                      [{"name": "_typeFilter", "valueString": "ExplanationOfBenefit?patient=x"}],
                      [{"name": "_typeFilter", "valueString": "Observation?date=ge2024&code=1"}],
                      [{"name": "_typeFilter", "valueString": "Observation"}],
                      [{"name": "_outputFormat", "valueString": "application/json"}]):
            self.assertOutcome(self.export(g["id"], extra), 400)
        r = self.export(g["id"])
        self.assertEqual(r.status, 202, r)
        path = self.local(r.header("content-location"))
        # The consent of 008 is revoked before the runner gets to the job.
        for c in self.consents(8):
            if c["status"] == "active":
                self.revoke(c["id"])
        r = self.wait(path, run=True)
        self.assertEqual(r.status, 200, r)
        m = r.json()
        out = self.manifest_files(m)
        res = [x for rs in out.values() for x in rs]
        self.assertEqual({x["id"] for x in out["Patient"]}, {"test-member-009"})
        self.assertIn("review-eob-009", {x["id"] for x in res})
        for x in res:
            text = json.dumps(x)
            for other in ("test-member-008", "test-member-001", "review-eob-008"):
                self.assertNotIn(other, text)
            for ref in refs(x):
                if ref.startswith("Patient/"):
                    self.assertEqual(ref, "Patient/test-member-009")
            if x["resourceType"] == "ExplanationOfBenefit":
                self.assertEqual(te.financial(x), [], x["id"])
        errs = self.errors(m)
        self.assertEqual(len(errs), 1, errs)
        self.assertIn("test-member-008", json.dumps(errs[0]))
        # patient naming a member outside the group (one this client did
        # match, elsewhere) releases nothing of it.
        r = self.export(g["id"], [
            {"name": "patient", "valueReference": {"reference": "Patient/test-member-001"}},
            {"name": "patient", "valueReference": {"reference": "Patient/test-member-009"}}])
        self.assertEqual(r.status, 202, r)
        m = self.wait(self.local(r.header("content-location")), run=True).json()
        out = self.manifest_files(m)
        self.assertEqual({x["id"] for x in out["Patient"]}, {"test-member-009"})
        self.assertNotIn("test-member-001", json.dumps(out))
        self.assertIn("Patient/test-member-001", json.dumps(self.errors(m)))

    # --- file URLs --------------------------------------------------------------

    def test_file_url_attacks(self):
        _, m, _ = self.match(tb.UNKNOWN)
        url = self.local(m["output"][0]["url"])
        path, query = url.split("?")
        job = path.split("/")[2]
        key = open(os.path.join(self.server.data, "keys", "secdownload.key")).read().strip()

        def signed(p, exp):
            sig = hmac.new(key.encode(), ("%s\n%d" % (p, exp)).encode(),
                           hashlib.sha256).hexdigest()
            return "%s?exp=%d&sig=%s" % (p, exp, sig)
        h = {"Authorization": PAYER}
        self.assertEqual(self.get(signed(path, int(time.time()) + 60), headers=h).status, 200)
        # Expired, though validly signed (5 s ago: the server's time(2)
        # may lag Python's clock by a tick at a second's turn).
        self.assertOutcome(self.get(signed(path, int(time.time()) - 5), headers=h), 403,
                           "expired")
        # A signature is for one path only.
        other = path.replace("Group-1", "Parameters-1")
        sig = dict(urllib.parse.parse_qsl(query))
        self.assertOutcome(self.get("%s?exp=%s&sig=%s" % (other, sig["exp"], sig["sig"]),
                                    headers=h), 403)
        # Traversal, encoded or not, signed or not: never a byte of the store.
        for p in ("/bulk/%s/..%%2f..%%2fp2p.db" % job, "/bulk/%s/%%2e%%2e/p2p.db" % job,
                  "/bulk/..%2fp2p.db", "/bulk/%2e%2e/keys/secdownload.key",
                  "/bulk/%s/Group-1.ndjson%%00" % job, "/bulk/%s/Group-1.ndjson/" % job,
                  "/bulk/%s//Group-1.ndjson" % job, "/p2p.db", "/keys/secdownload.key",
                  "/bulk/%s" % job, "/bulk/%s/.Group-1.ndjson.tmp" % job):
            exp = int(time.time()) + 60
            raw = urllib.parse.unquote(p)
            tries = [p, signed(p, exp)]
            if raw.isprintable():
                tries.append(signed(raw, exp).replace(raw, p, 1))
            for q in tries:
                r = self.request("GET", q, headers=h)
                self.assertIn(r.status, (400, 403, 404), (q, r))
                self.assertNotIn(b"SQLite format", r.body)
                self.assertNotIn(key.encode(), r.body)

