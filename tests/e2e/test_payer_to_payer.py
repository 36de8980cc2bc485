"""Both halves of Payer-to-Payer: two p2p instances on loopback.

Payer A (the previous plan) answers; payer B (the new plan) requests its
new members' history with p2p-request and stores it.  B registers with A
by its JWKS URL (/.well-known/jwks.json, jwks_allow_http = 1 on loopback);
A knows B as a client with B's NPI and B's Organization.

Members of B (their data at A comes from p2p-admin generate, seed 5):
  m1 (A's syn-m000001)  opted in, named A: p2p-request member -> fetched
  m2, m3                opted in, named A: p2p-request bulk -> fetched
  m4 (syn-m000004)      opted in at B, opted out at A -> consent-constrained
  m5 (a stranger)       opted in, named A, unknown there -> not matched
  m6 (syn-m000005)      declared the old coverage but gave no consent:
                        never requested
"""
import json
import os
import re
import subprocess
import time
import unittest

import harness

REQUEST = os.path.join(harness.BUILD, "src", "tools", "p2p-request")
NPI_A = "1111111111"
NPI_B = "1234567893"
NPI_SYS = "http://hl7.org/fhir/sid/us-npi"
HREX_POLICY = "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#sensitive"


def today(offset_days=0):
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() + offset_days * 86400))


def consent(cid, patient, source_npi=NPI_A, status="active", end_days=90,
            recipient={"reference": "Organization/org-payer-b"}):
    """An HRex opt-in as the enrolment system would load it at B."""
    return {
        "resourceType": "Consent", "id": cid, "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                  "code": "IDSCL"}]}],
        "patient": {"reference": "Patient/" + patient},
        "performer": [{"reference": "Patient/" + patient}],
        "dateTime": today(-1),
        "policy": [{"uri": HREX_POLICY}],
        "provision": {
            "type": "permit",
            "period": {"start": today(-2), "end": today(end_days)},
            "actor": [
                {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                      "code": "performer"}]},
                 "reference": {"identifier": {"system": NPI_SYS, "value": source_npi},
                               "display": "Payer A"}},
                {"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                      "code": "IRCP"}]},
                 "reference": recipient}],
            "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction",
                                    "code": "disclose"}]}]}}


def enrolment(local, a_patient, a_coverage, opt_in=True, coverage_start=None):
    """What B's enrolment loads for a new member: Patient, our Coverage,
    the coverage declared with A (the card), and the opt-in."""
    pat = {"resourceType": "Patient", "id": local,
           "identifier": [{"system": "http://payer-b.example/member", "value": "B-" + local}],
           "name": a_patient["name"], "gender": a_patient["gender"],
           "birthDate": a_patient["birthDate"]}
    ours = {"resourceType": "Coverage", "id": local + "-cov", "status": "active",
            "subscriberId": "B-" + local, "beneficiary": {"reference": "Patient/" + local},
            "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                         "code": "self"}]},
            "period": {"start": coverage_start or today(-3)},
            "payor": [{"reference": "Organization/org-payer-b"}]}
    old = {"resourceType": "Coverage", "id": local + "-prev", "status": "cancelled",
           "identifier": a_coverage.get("identifier", []),
           "subscriberId": a_coverage.get("subscriberId"),
           "beneficiary": {"reference": "Patient/" + local},
           "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship",
                                        "code": "self"}]},
           "period": {"start": "2019-01-01", "end": today(-4)},
           "payor": [{"reference": "Organization/org-payer-a"}]}
    out = [pat, ours, old]
    if opt_in:
        out.append(consent("optin-" + local, local))
    return out


ORGS_B = [{"resourceType": "Organization", "id": "org-payer-a", "name": "Payer A",
           "identifier": [{"system": NPI_SYS, "value": NPI_A}]},
          {"resourceType": "Organization", "id": "org-payer-b", "name": "Payer B",
           "identifier": [{"system": NPI_SYS, "value": NPI_B}]}]


def p2p_request(server, *args, env=None, check=None, timeout=120):
    """Runs p2p-request with server's configuration (env added to the
    environment); with check, its exit status must be that."""
    cmd = [REQUEST, "-c", os.path.join(server.data, "p2p.conf")] + list(args)
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)
    if check is not None and p.returncode != check:
        raise AssertionError("p2p-request %s: exit %d\nstdout:\n%s\nstderr:\n%s" %
                             (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


class TwoPayers(unittest.TestCase):
    """A and B running, B registered at A by JWKS URL, A holding
    generated history, B's new members enrolled."""
    members = 6

    @classmethod
    def setUpClass(cls):
        # jwks_cooldown 0: A fetches B's key set at once after a rotation.
        cls.a = harness.Server(conf={"jwks_allow_http": "1", "org_npi": NPI_A,
                                     "org_name": "Payer A", "jwks_cooldown": "0"})
        cls.b = harness.Server(conf={"jwks_allow_http": "1", "org_npi": NPI_B,
                                     "org_name": "Payer B"})
        try:
            cls.prepare()
            cls.a.start()
            cls.b.start()
            cls.register()
        except Exception:
            cls.a.cleanup()
            cls.b.cleanup()
            raise

    @classmethod
    def prepare(cls):
        a, b = cls.a, cls.b
        gen = os.path.join(a.dir, "history.ndjson")
        a.admin("generate", "--members", str(cls.members), "--seed", "5",
                "--anchor", today(), "--years", "3", "--history", "small",
                "--out", gen)
        a.admin("load", gen)
        res = [json.loads(l) for l in open(gen)]
        cls.a_pat = {r["id"]: r for r in res if r["resourceType"] == "Patient"}
        cls.a_cov = {r["beneficiary"]["reference"][8:]: r for r in res
                     if r["resourceType"] == "Coverage"}
        cls.a_count = {}
        for r in res:
            for k in ("patient", "subject", "beneficiary"):
                ref = (r.get(k) or {}).get("reference", "") if isinstance(r.get(k), dict) else ""
                if ref.startswith("Patient/"):
                    cls.a_count[ref[8:]] = cls.a_count.get(ref[8:], 0) + 1
                    break
        # B's Organization at A: the requesting payer, by NPI.
        a.load("orgs.ndjson", [{"resourceType": "Organization", "id": "payer-b-org",
                                "name": "Payer B",
                                "identifier": [{"system": NPI_SYS, "value": NPI_B}]}])
        # m4 opted out at A.
        a.admin("consent", "optout", "--patient", "syn-m000004")
        # B's enrolment.
        stranger = {"name": [{"family": "Nobody", "given": ["Known"]}], "gender": "male",
                    "birthDate": "1901-01-01"}
        rows = list(ORGS_B)
        plan = [("m1", "syn-m000001", True), ("m2", "syn-m000002", True),
                ("m3", "syn-m000003", True), ("m4", "syn-m000004", True),
                ("m6", "syn-m000005", False)]
        for local, remote, opt in plan:
            rows += enrolment(local, cls.a_pat[remote], cls.a_cov[remote], opt_in=opt)
        rows += enrolment("m5", stranger, {"subscriberId": "NOPE-5",
                                           "identifier": [{"value": "NOPE-5"}]})
        b.load("enrolment.ndjson", rows)

    @classmethod
    def register(cls):
        # B: the peer, with a shared signing key made on the way.
        cls.b.admin("peer", "add", "--name", "payer-a", "--base-url", cls.a.base + "/fhir",
                    "--client-id", "payer-b", "--npi", NPI_A)
        # A: B as a client, by the JWKS URL B publishes.
        cls.a.admin("client", "add", "--id", "payer-b", "--jwks-url",
                    cls.b.base + "/.well-known/jwks.json", "--npi", NPI_B)

    @classmethod
    def tearDownClass(cls):
        bad = []
        for s in (cls.a, cls.b):
            s.stop()
            bad += s.bad_log_lines()
            s.cleanup()
        if bad:
            raise AssertionError("sanitizer or crash reports:\n" + "\n".join(bad[:20]))

    # helpers
    def request(self, *args, **kw):
        return p2p_request(self.b, *args, **kw)

    def state(self, member):
        rows = self.b.sql("SELECT state, coalesce(reason, '') FROM inbound"
                        " WHERE patient = ? AND peer = 'payer-a'", member)
        return rows[0] if rows else (None, None)

    def received(self, member):
        """B's rows under member that came from A (mapped ids)."""
        return self.b.sql("SELECT type, id, json FROM resource WHERE patient = ?"
                        " AND (id GLOB 'r[0-9a-f]*' OR id GLOB 'p[0-9a-f]*')"
                        " ORDER BY type, id", member)

    def a_audit(self):
        p = self.a.admin("audit", "export")
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


class PayerToPayer(TwoPayers):
    def test_01_jwks_published(self):
        r = self.b.request("GET", "/.well-known/jwks.json")
        self.assertEqual(r.status, 200, r)
        keys = r.json()["keys"]
        self.assertEqual(len(keys), 1)
        self.assertEqual(keys[0]["kty"], "EC")
        self.assertEqual(keys[0]["alg"], "ES384")
        self.assertNotIn("d", keys[0])         # public only
        self.assertIn("max-age", r.header("cache-control"))
        key = self.b.sql("SELECT file FROM sign_key")[0][0]
        st = os.stat(os.path.join(self.b.data, key))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertFalse(self.b.sql("SELECT 1 FROM sign_key WHERE jwk LIKE '%\"d\"%'"))
        # a payer that asks nobody publishes an empty set
        r = self.a.request("GET", "/.well-known/jwks.json")
        self.assertEqual((r.status, r.json()), (200, {"keys": []}))

    def test_02_member_fetched(self):
        p = self.request("member", "m1", "--from", "payer-a", check=0)
        self.assertIn("member m1: matched at payer-a as Patient/syn-m000001", p.stdout)
        self.assertEqual(self.state("m1")[0], "fetched", p.stdout)
        got = self.received("m1")
        self.assertGreater(len(got), 5, p.stdout)
        types = {t for t, _, _ in got}
        self.assertIn("Provenance", types)
        self.assertNotIn("Patient", types)    # theirs is not stored
        # every reference to their Patient now names ours
        for t, i, j in got:
            self.assertNotIn("syn-m000001\"", j, (t, i))
        prov = [json.loads(j) for t, _, j in got if t == "Provenance"]
        # one per received file of the member's resources, each naming
        # the sender and the time (A's export also carries what they
        # reference, stored outside any member's record, and A's own
        # transmitter Provenance, which ours replaces)
        files = self.b.sql("SELECT count(*) FROM pull_file f JOIN pull p USING (pid)"
                         " WHERE p.kind = 'everything' AND f.kind = 'output'"
                         " AND f.type NOT IN ('Patient', 'Provenance', 'Organization',"
                         " 'Practitioner', 'PractitionerRole', 'Location', 'Medication')"
                         " AND f.lines > 0")[0][0]
        self.assertEqual(len(prov), files)
        self.assertTrue(self.b.sql("SELECT 1 FROM pull_file f JOIN pull p USING (pid)"
                                 " WHERE p.kind = 'everything' AND f.type = 'Provenance'"
                                 " AND f.lines > 0"), "A sent no Provenance")
        # all of them ours (B custodian): none of A's transmitter records
        for p_ in prov:
            self.assertIn(("custodian", NPI_B),
                          [(a["type"]["coding"][0]["code"], a["who"]["identifier"]["value"])
                           for a in p_["agent"]])
        agents = {a["type"]["coding"][0]["code"]: a["who"]["identifier"]["value"]
                  for a in prov[0]["agent"]}
        self.assertEqual(agents["transmitter"], NPI_A)
        self.assertEqual(agents["custodian"], NPI_B)
        targets = {t["reference"] for p_ in prov for t in p_["target"]}
        stored = {"%s/%s" % (t, i) for t, i, _ in got if t != "Provenance"}
        self.assertEqual(targets, stored)
        for p_ in prov:
            self.assertEqual(p_["entity"][0]["extension"][0]["valueCodeableConcept"]
                             ["coding"][0]["code"], "hl7fhirr4")
            self.assertTrue(p_["recorded"].startswith(today()))

    def test_03_bulk(self):
        p = self.request("bulk", "--from", "payer-a", check=0)
        out = p.stdout
        self.assertEqual(self.state("m2")[0], "fetched", out)
        self.assertEqual(self.state("m3")[0], "fetched", out)
        st, why = self.state("m4")
        self.assertEqual(st, "consent", out)
        self.assertIn("ConsentConstrainedMembers", why)
        st, why = self.state("m5")
        self.assertEqual(st, "nomatch", out)
        self.assertIn("NonMatchedMembers", why)
        self.assertEqual(self.state("m6")[0], None)   # no opt-in: never due
        self.assertEqual(self.state("m1")[0], "fetched")
        # m1 was fetched before: not asked again
        self.assertNotIn("member m1", out)
        for m in ("m2", "m3"):
            self.assertGreater(len(self.received(m)), 3, m)
        self.assertEqual(self.received("m4"), [])
        self.assertEqual(self.received("m5"), [])


    def test_04_no_consent_never_asked(self):
        p = self.request("member", "m6", "--from", "payer-a", check=1)
        self.assertIn("no active opt-in Consent of Patient/m6", p.stderr)
        self.assertEqual(self.state("m6")[0], None)
        # A never heard of the person B holds no consent for
        self.assertFalse([e for e in self.a_audit()
                          if any(x.get("what", {}).get("reference") == "Patient/syn-m000005"
                                 for x in e.get("entity", []))])

    def test_05_rerun_stores_nothing_twice(self):
        before = self.b.sql("SELECT count(*) FROM resource")[0][0]
        p = self.request("bulk", "--from", "payer-a", check=0)
        self.assertIn("bulk from payer-a: 0 requested", p.stdout)
        # a full fetch again lands on the same rows: nothing new, not
        # even a Provenance
        p = self.request("member", "m1", "--from", "payer-a", "--full", check=0)
        self.assertIn("member m1: fetched: 0 resources stored", p.stdout)
        self.assertEqual(self.b.sql("SELECT count(*) FROM resource")[0][0], before)

    def test_06_second_run_fetches_what_is_new(self):
        # A learns something new about m2's person
        obs = {"resourceType": "Observation", "id": "new-obs-1", "status": "final",
               "code": {"text": "new since the first fetch"},
               "subject": {"reference": "Patient/syn-m000002"},
               "effectiveDateTime": today()}
        time.sleep(1.1)         # after every earlier transactionTime
        self.a.load("new.ndjson", [obs])
        m2 = len(self.received("m2"))
        m3 = len(self.received("m3"))
        since = dict(self.b.sql("SELECT patient, since FROM inbound"))
        p = self.request("bulk", "--from", "payer-a", "--refresh", check=0)
        # _since = the last transactionTime, per member group
        sent = {r[0] for r in self.b.sql("SELECT since FROM pull WHERE kind = 'export'"
                                       " AND since IS NOT NULL")}
        self.assertIn(since["m2"], sent, p.stdout)
        # only the new Observation (and its Provenance) arrived for m2
        self.assertEqual(len(self.received("m2")), m2 + 2, p.stdout)
        self.assertEqual(len(self.received("m3")), m3, p.stdout)
        got = [json.loads(j) for t, _, j in self.received("m2") if t == "Observation"]
        self.assertIn("new since the first fetch", [o.get("code", {}).get("text") for o in got])
        # m4 and m5 were not asked again (not --retry)
        self.assertNotIn("member m4", p.stdout)
        self.assertNotIn("member m5", p.stdout)

    def test_07_interrupted_download_resumes(self):
        self.b.load("enrolment-m7.ndjson",
                    enrolment("m7", self.a_pat["syn-m000006"], self.a_cov["syn-m000006"]))
        p = self.request("bulk", "--from", "payer-a", env={"P2P_REQUEST_STOP_AFTER_FILES": "4"},
                         check=4)
        self.assertIn("interrupted", p.stdout)
        st = self.b.sql("SELECT p.pid, p.state, sum(f.state = 'done'), count(*) FROM pull p"
                      " JOIN pull_file f USING (pid) WHERE p.kind = 'export'"
                      " AND p.state NOT IN ('done', 'failed') GROUP BY p.pid")
        self.assertEqual(len(st), 1, p.stdout)
        pid, state, done, total = st[0]
        self.assertEqual(state, "downloading")
        self.assertGreaterEqual(done, 2)      # transfers run in parallel
        self.assertLess(done, total)
        self.assertEqual(self.state("m7")[0], "matched")
        self.assertEqual(self.received("m7"), [])          # nothing half stored
        s = self.request("status", check=0)
        self.assertIn("pull %d  payer-a  export  downloading" % pid, s.stdout)
        self.assertIn("files %d/%d" % (done, total), s.stdout)
        kept = self.b.sql("SELECT seq FROM pull_file WHERE pid = ? AND state = 'done'", pid)
        # The transfers under way when it stopped: test_08 allows each
        # one request that never reached A's program.
        type(self).cut = {(pid, seq) for (seq,) in self.b.sql(
            "SELECT seq FROM pull_file WHERE pid = ? AND state <> 'done'", pid)}
        p = self.request("bulk", "--from", "payer-a", check=0)
        self.assertIn("pull %d: resuming" % pid, p.stdout)
        # what was on disk was not asked for again
        for (seq,) in kept:
            self.assertEqual(self.b.sql("SELECT attempts FROM pull_file WHERE pid = ?"
                                      " AND seq = ?", pid, seq), [(1,)])
        self.assertEqual(self.state("m7")[0], "fetched", p.stdout)
        self.assertGreater(len(self.received("m7")), 3)

    def test_08_a_audit_is_what_b_received(self):
        # A: every file release, per member
        a = {}
        for e in self.a_audit():
            if e["subtype"][0]["code"] != "release" or e["outcome"] != "0":
                continue
            detail = [d.get("valueString", "") for x in e.get("entity", [])
                      for d in x.get("detail", [])]
            who = [x["what"]["reference"] for x in e.get("entity", [])
                   if x.get("what", {}).get("reference", "").startswith("Patient/")]
            for v in detail:
                if v.startswith("file "):
                    key = (v[5:], who[0])
                    a[key] = a.get(key, 0) + 1
        # B: every request it made for a file (resumed or retried
        # transfers count each time), for the members of that transfer.
        # A request the interruption of test_07 cut off may have ended
        # before A's program released anything (plain CGI: the web
        # server stops the program when the client goes): there, A's
        # count may be one less, never more.
        b = {}
        cut = set()
        for url, tries, pid, seq in self.b.sql(
                "SELECT f.url, f.attempts, f.pid, f.seq FROM pull_file f"):
            path = url.split("?")[0].split("/bulk/", 1)[1]
            for (remote,) in self.b.sql("SELECT remote_id FROM pull_member"
                                      " WHERE pid = ? AND remote_id IS NOT NULL", pid):
                if tries > 0:
                    b[(path, "Patient/" + remote)] = tries
                    if (pid, seq) in getattr(self, "cut", ()):
                        cut.add((path, "Patient/" + remote))
        for key in cut:
            if a.get(key, 0) == b[key] - 1:
                a[key] = b[key]
        self.assertEqual(a, b)
        self.assertGreater(len(a), 10)
        # released members: exactly those B fetched; never m4's or m5's
        released = {k[1] for k in a}
        fetched = {r[0] for r in self.b.sql("SELECT 'Patient/' || remote_id FROM inbound"
                                          " WHERE state = 'fetched'")}
        self.assertEqual(released, fetched)
        self.assertNotIn("Patient/syn-m000004", released)

    def test_09_withdrawn_opt_in(self):
        self.b.load("withdraw.ndjson", [consent("optin-m3", "m3", status="inactive")])
        s = self.request("status", "--member", "m3", check=0)
        self.assertIn("withdrawn", s.stdout)
        self.assertEqual(self.state("m3")[0], "withdrawn")
        p = self.request("bulk", "--from", "payer-a", "--refresh", check=0)
        self.assertNotIn("member m3", p.stdout)
        p = self.request("member", "m3", "--from", "payer-a", check=1)

    def test_10_key_rotation_without_outage(self):
        old = self.b.sql("SELECT kid FROM sign_key")[0][0]
        p = self.b.admin("peer", "key", "rotate")
        self.assertIn("published now, signs from", p.stdout)
        keys = self.b.request("GET", "/.well-known/jwks.json").json()["keys"]
        self.assertEqual(len(keys), 2)         # both during the rollover
        new = [k["kid"] for k in keys if k["kid"] != old][0]
        # not signing yet: the old one cannot be retired
        r = self.b.admin("peer", "key", "retire", old, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("signs now", r.stderr)
        # the next key signs (from now, for the test), A accepts it
        self.b.sql("UPDATE sign_key SET not_before = (SELECT not_before + 1"
                      " FROM sign_key WHERE kid = ?) WHERE kid = ?", old, new)
        p = self.request("member", "m2", "--from", "payer-a", check=0)
        self.assertIn("member m2: fetched", p.stdout)
        self.b.admin("peer", "key", "retire", old)
        keys = self.b.request("GET", "/.well-known/jwks.json").json()["keys"]
        self.assertEqual([k["kid"] for k in keys], [new])
        p = self.request("member", "m2", "--from", "payer-a", check=0)

    def test_11_status_and_deadline(self):
        rows = enrolment("m8", {"name": [{"family": "Late", "given": ["Lou"]}],
                                "gender": "female", "birthDate": "1990-01-01"},
                         {"subscriberId": "LATE-8"}, coverage_start=today(-30))
        rows[3]["dateTime"] = today(-30)
        self.b.load("enrolment-late.ndjson", rows)
        s = self.request("status", check=0)
        self.assertRegex(s.stdout, r"m8 +payer-a +due .*OVERDUE: not requested, 2[23] days")
        for word in ("fetched", "consent-constrained", "not matched", "withdrawn"):
            self.assertIn(word, s.stdout)
        self.assertIn("the peer put the member in ConsentConstrainedMembers", s.stdout)
        o = self.request("status", "--overdue", check=1)
        self.assertIn("m8", o.stdout)
        self.assertNotIn(" m1 ", o.stdout)

    def test_12_the_shipped_enrolment_example(self):
        self.b.admin("load", os.path.join(harness.SRC, "share", "examples",
                                          "p2p-enrolment.ndjson"))
        s = self.request("status", "--member", "new-member-1", check=0)
        # coverage 2027-01-01, opt-in 2027-01-02: the week runs from the opt-in
        self.assertRegex(s.stdout, r"new-member-1 +payer-a +due +2027-01-02 2027-01-01 2027-01-09")

    def test_13_refusals(self):
        """Every command line mistake is named, nothing is asked."""
        before = len(self.a_audit())
        for args, code, words in [
                (("bulk",), 2, "usage"),
                (("member", "--from", "payer-a"), 2, "usage"),
                (("bulk", "--from", "payer-a", "--batch", "0"), 2, "--batch must be"),
                (("bulk", "--from", "payer-a", "--since", "yesterday"), 2, "not a FHIR instant"),
                (("member", "m1", "--from", "payer-a", "--refresh"), 2, "usage"),
                (("status", "--state", "bogus"), 2, "usage"),
                (("frobnicate",), 2, "unknown command"),
                (("member", "m1", "--from", "nosuchpeer"), 3, "no peer nosuchpeer")]:
            p = self.request(*args, check=code)
            self.assertIn(words, p.stdout + p.stderr, args)
        self.b.admin("peer", "disable", "payer-a")
        p = self.request("bulk", "--from", "payer-a", check=3)
        self.assertIn("peer payer-a is disabled", p.stderr)
        self.b.admin("peer", "enable", "payer-a")
        for args, words in [
                (("--name", "x", "--base-url", "https://x.example/fhir", "--client-id", "c",
                  "--npi", "12345"), "ten digits"),
                (("--name", "bad name", "--base-url", "https://x.example/fhir",
                  "--client-id", "c", "--npi", "1234567890"), "--name"),
                (("--name", "x", "--base-url", "http://x.example/fhir", "--client-id", "c",
                  "--npi", "1234567890"), "https://"),
                (("--name", "payer-a", "--base-url", "https://x.example/fhir",
                  "--client-id", "c", "--npi", "1234567890"), "--replace"),
                (("--name", "x", "--base-url", "https://x.example/fhir", "--client-id", "c",
                  "--npi", "1234567890", "--key", "/nonexistent.pem"), "/nonexistent.pem"),
                (("--name", "x", "--base-url", "https://x.example/fhir", "--client-id", "c",
                  "--npi", "1234567890", "--alg", "HS256"), "usage")]:
            p = self.b.admin("peer", "add", *args, check=False)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(words, p.stderr, args)
        p = self.b.admin("peer", "key", "retire", "no-such-kid", check=False)
        self.assertEqual(p.returncode, 1)
        p = self.b.admin("peer", "remove", "no-such-peer", check=False)
        self.assertIn("no peer no-such-peer", p.stderr)
        self.assertEqual(len(self.a_audit()), before)   # A heard nothing

    def test_14_help_and_root(self):
        for args in (["--help"], ["-h"], ["help"], ["member", "--help"], ["bulk", "--help"],
                     ["status", "--help"], ["-c", "/nonexistent/p2p.conf", "bulk", "-h"]):
            p = subprocess.run([REQUEST] + args, capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stderr), (0, ""), args)
            self.assertTrue(p.stdout.startswith("usage: p2p-request"), p.stdout)
        p = self.b.admin("peer", "--help")
        self.assertTrue(p.stdout.startswith("usage: p2p-admin peer add"), p.stdout)
        if os.geteuid() != 0:
            return
        # as root without allow_root: refused before anything is read
        conf = os.path.join(self.b.dir, "no-root.conf")
        text = open(os.path.join(self.b.data, "p2p.conf")).read()
        text = re.sub(r"(?m)^allow_root.*$", "allow_root = 0", text)
        text = re.sub(r"(?m)^database\s*=.*$", "database = " +
                      os.path.join(self.b.data, "p2p.db"), text)
        open(conf, "w").write(text)
        p = subprocess.run([REQUEST, "-c", conf, "status"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 3, p)
        self.assertIn("root", p.stderr)


if __name__ == "__main__":
    unittest.main()
