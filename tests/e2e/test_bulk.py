"""$bulk-member-match, the export runner, bulk status and files (issue #5).

Needs auth (Basic credentials with allow_basic_api=1), the loader and
member matching; the classes skip themselves, saying so, while the seed
client cannot authenticate yet.
"""
import copy
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.parse

import harness

PAYER = harness.basic("test-payer-client", "test-payer-secret")
PROVIDER = harness.basic("test-provider-client", "test-provider-secret")
NONPI = harness.basic("nonpi-client", "nonpi-secret")
KICKOFF = "/fhir/Group/$bulk-member-match"
RESULT_CS = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"

# The seed document's example, exactly as shown.
SEED_EXAMPLE = {
    "resourceType": "Parameters",
    "parameter": [{
        "name": "MemberBundle",
        "part": [
            {"name": "MemberPatient", "resource": {
                "resourceType": "Patient",
                "name": [{"family": "Johnson", "given": ["Robert"]}],
                "gender": "male", "birthDate": "1952-07-25"}},
            {"name": "CoverageToMatch", "resource": {
                "resourceType": "Coverage", "status": "active",
                "subscriberId": "SUB-001",
                "beneficiary": {"reference": "Patient/test-member-001"},
                "payor": [{"reference": "Organization/test-payer-001"}]}},
            {"name": "Consent", "resource": {
                "resourceType": "Consent", "status": "active",
                "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]}],
                "patient": {"reference": "Patient/test-member-001"},
                "dateTime": "2026-04-01T08:00:00Z",
                "policy": [{"uri": "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#sensitive"}],
                "provision": {
                    "type": "permit",
                    "period": {"start": "2026-01-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"},
                    "actor": [{
                        "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                        "reference": {"reference": "Organization/test-payer-001"}}]}}},
        ]}]}

# Member 003 of our own: matchable, but submitted with an expired consent.
EXTRA = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "test-member-003",
                  "name": [{"family": "Garcia", "given": ["Elena"]}],
                  "gender": "female", "birthDate": "1970-11-02",
                  "identifier": [{"system": "http://example.org/member-id", "value": "M33333"}]}},
    {"resource": {"resourceType": "Coverage", "id": "test-coverage-003",
                  "status": "active", "subscriberId": "SUB-003",
                  "beneficiary": {"reference": "Patient/test-member-003"},
                  "payor": [{"reference": "Organization/test-payer-001"}]}},
]}


def member_bundle(family, given, gender, birth, sub, patient_ref, consent_end="2099-01-01T00:00:00Z",
                  pid=None):
    """One MemberBundle modelled on the seed example."""
    mb = copy.deepcopy(SEED_EXAMPLE["parameter"][0])
    pat = mb["part"][0]["resource"]
    pat["name"] = [{"family": family, "given": [given]}]
    pat["gender"], pat["birthDate"] = gender, birth
    if pid:
        pat["id"] = pid
    cov = mb["part"][1]["resource"]
    cov["subscriberId"] = sub
    cov["beneficiary"] = {"reference": patient_ref}
    con = mb["part"][2]["resource"]
    con["patient"] = {"reference": patient_ref}
    con["provision"]["period"] = {"start": "2020-01-01T00:00:00Z", "end": consent_end}
    return mb


CLEAN = member_bundle("Johnson", "Robert", "male", "1952-07-25", "SUB-001",
                      "Patient/test-member-001", pid="sub-1")
OPTOUT = member_bundle("Williams", "Sarah", "female", "1985-03-12", "SUB-002",
                       "Patient/test-member-002", pid="sub-2")
EXPIRED = member_bundle("Garcia", "Elena", "female", "1970-11-02", "SUB-003",
                        "Patient/test-member-003", consent_end="2021-01-01T00:00:00Z",
                        pid="sub-3")
UNKNOWN = member_bundle("Nobody", "Ann", "female", "1990-01-01", "SUB-999",
                        "Patient/unknown", pid="sub-4")


def params(*bundles):
    return {"resourceType": "Parameters", "parameter": list(bundles)}


def add_nonpi_client(server):
    """A client like the seed payer's but with no NPI (identity unknown)."""
    salt = os.urandom(16)
    h = hashlib.pbkdf2_hmac("sha256", b"nonpi-secret", salt, 120000)
    stored = "pbkdf2-sha256$120000$%s$%s" % (salt.hex(), h.hex())
    db = sqlite3.connect(os.path.join(server.data, "p2p.db"))
    db.execute("INSERT INTO client (id, secret_hash, npi, scopes, grant_types, jwks,"
               " jwks_url, active, created) SELECT 'nonpi-client', ?, NULL, scopes,"
               " grant_types, jwks, jwks_url, active, created FROM client"
               " WHERE id = 'test-payer-client'", (stored,))
    db.commit()
    db.close()


class BulkBase(harness.ServerTest):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()

    @classmethod
    def prepare(cls, server):
        server.load("extra.json", EXTRA)
        add_nonpi_client(server)

    def setUp(self):
        r = self.post(KICKOFF, params(CLEAN), headers={"Authorization": PAYER})
        self.assertNotEqual(r.status, 401, r)

    def kickoff(self, body, auth=PAYER, prefer="respond-async"):
        h = {"Authorization": auth}
        if prefer:
            h["Prefer"] = prefer
        return self.post(KICKOFF, body, headers=h)

    def local(self, url):
        """The path and query of an absolute URL on this server."""
        u = urllib.parse.urlsplit(url)
        self.assertEqual("%s://%s" % (u.scheme, u.netloc), self.server.base)
        return u.path + ("?" + u.query if u.query else "")

    def start(self, body, auth=PAYER):
        r = self.kickoff(body, auth)
        self.assertEqual(r.status, 202, r)
        loc = r.header("content-location")
        self.assertTrue(loc.startswith(self.server.base + "/fhir/bulkstatus/"), loc)
        return self.local(loc)

    def wait(self, status_path, auth=PAYER, run=False):
        """Polls until the job is no longer in progress."""
        deadline = time.time() + 60
        while True:
            r = self.get(status_path, headers={"Authorization": auth})
            if r.status != 202:
                return r
            self.assertTrue(r.header("x-progress"), r)
            self.assertTrue(r.header("retry-after"), r)
            if time.time() > deadline:
                self.fail("job did not finish: %s" % r.header("x-progress"))
            if run:
                self.runner("--once")
            time.sleep(0.2)

    def runner(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([self.server.runner, "-c", os.path.join(self.server.data, "p2p.conf")]
                              + list(args), capture_output=True, text=True, env=e)

    def taken_over(self, path):
        """Runs the runner once, which must take over the job of status
        URL path from its dead runner and complete it; returns
        manifest_files() of the job's manifest."""
        mark = self.server.log_offset()
        p = self.runner("--once")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("taking over", self.server.log_since(mark))
        r = self.get(path, headers={"Authorization": PAYER})
        self.assertEqual(r.status, 200, r)
        return self.manifest_files(r.json())

    def fetch(self, url, auth=PAYER):
        return self.get(self.local(url), headers={"Authorization": auth})

    def manifest_files(self, m, auth=PAYER):
        """{type: [resources]} of a manifest; checks counts equal lines."""
        out = {}
        for item in m["output"]:
            r = self.fetch(item["url"], auth)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("content-type"), "application/fhir+ndjson")
            lines = r.body.decode().splitlines()
            self.assertEqual(len(lines), item["count"], item)
            res = [json.loads(l) for l in lines]
            for x in res:
                self.assertEqual(x["resourceType"], item["type"])
            out.setdefault(item["type"], []).extend(res)
        return out


class BulkMemberMatchTest(BulkBase):
    conf = {"bulk_max_members": 5}

    def test_requires_prefer_async(self):
        oo = self.assertOutcome(self.kickoff(params(CLEAN), prefer=None), 400)
        self.assertIn("asynchronous", json.dumps(oo))

    def test_requires_credentials(self):
        r = self.post(KICKOFF, params(CLEAN), headers={"Prefer": "respond-async"})
        self.assertOutcome(r, 401)

    def test_unknown_requester_403(self):
        self.assertOutcome(self.kickoff(params(CLEAN), auth=NONPI), 403, "forbidden")

    def test_malformed_names_bundle_and_part(self):
        # (A MemberBundle merely missing its Consent is accepted and fails
        # alone in the runner: test_bulk_consent_and_urls.)
        twice = copy.deepcopy(OPTOUT)
        twice["part"].append(copy.deepcopy(twice["part"][2]))
        wrong_type = copy.deepcopy(OPTOUT)
        wrong_type["part"][1]["resource"] = {"resourceType": "Patient"}
        cases = [  # body, words the message must hold, line
            (params(CLEAN, twice), ["MemberBundle 2", "Consent", "twice"]),
            (params(wrong_type), ["MemberBundle 1", "CoverageToMatch"]),
            (params(), ["MemberBundle"]),
            (params({"name": "Other", "valueString": "x"}), ["MemberBundle"]),
            ({"resourceType": "Patient"}, ["Parameters"]),
            (params(dict(CLEAN, part=CLEAN["part"] + [{"name": "Extra", "resource": {
                "resourceType": "Patient"}}])), ["Extra"]),
        ]
        for body, words in cases:
            oo = self.assertOutcome(self.kickoff(body), 400)
            text = json.dumps(oo)
            for w in words:
                self.assertIn(w, text, (body, oo))

    def test_too_many_members_413(self):
        self.assertOutcome(self.kickoff(params(*([UNKNOWN] * 6))), 413)

    def test_sorts_each_member(self):
        path = self.start(params(CLEAN, OPTOUT, EXPIRED, UNKNOWN))
        r = self.wait(path)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/json")
        self.assertTrue(r.header("expires"))
        m = r.json()
        for k in ("transactionTime", "request", "requiresAccessToken", "output", "error"):
            self.assertIn(k, m)
        self.assertTrue(m["request"].endswith(KICKOFF))
        self.assertIs(m["requiresAccessToken"], True)
        self.assertEqual(m["error"], [], m)
        files = self.manifest_files(m)
        groups = {g["code"]["coding"][0]["code"]: g for g in files["Group"]}
        self.assertEqual(sorted(groups), ["consentconstraint", "match", "nomatch"])
        for g in groups.values():
            self.assertEqual(g["code"]["coding"][0]["system"], RESULT_CS)
            self.assertEqual(g["type"], "person")
            self.assertIs(g["actual"], True)
        matched = groups["match"]
        self.assertIn("pdex-member-match-group", matched["meta"]["profile"][0])
        self.assertEqual([x["entity"]["reference"] for x in matched["member"]],
                         ["Patient/test-member-001"])
        self.assertEqual(matched["member"][0]["entity"]["extension"][0]["valueReference"],
                         {"reference": "#sub-1"})
        self.assertEqual([c["id"] for c in matched["contained"]], ["sub-1"])
        ch = matched["characteristic"][0]
        self.assertEqual(ch["valueReference"]["identifier"]["value"], "5555555555")
        self.assertIs(ch["exclude"], False)
        self.assertEqual(matched["managingEntity"]["identifier"]["system"],
                         "http://hl7.org/fhir/sid/us-npi")
        self.assertEqual([x["entity"]["reference"] for x in groups["nomatch"]["member"]],
                         ["#sub-4"])
        self.assertIn("pdex-member-no-match-group", groups["nomatch"]["meta"]["profile"][0])
        self.assertEqual(sorted(x["entity"]["reference"]
                                for x in groups["consentconstraint"]["member"]),
                         ["#sub-2", "#sub-3"])
        # PDex 2.1: one Parameters resource holding the same Groups.
        self.assertEqual(len(files["Parameters"]), 1)
        p = files["Parameters"][0]
        self.assertEqual(sorted(x["name"] for x in p["parameter"]),
                         ["ConsentConstrainedMembers", "MatchedMembers", "NonMatchedMembers"])
        self.assertEqual({x["resource"]["id"] for x in p["parameter"]}, set(
            g["id"] for g in groups.values()))

    def test_matched_group_always_present(self):
        m = self.wait(self.start(params(UNKNOWN))).json()
        files = self.manifest_files(m)
        codes = [g["code"]["coding"][0]["code"] for g in files["Group"]]
        self.assertEqual(sorted(codes), ["match", "nomatch"])
        matched = [g for g in files["Group"] if g["code"]["coding"][0]["code"] == "match"][0]
        self.assertNotIn("member", matched)
        self.assertEqual(matched["quantity"], 0)

    def test_seed_example(self):
        m = self.wait(self.start(SEED_EXAMPLE)).json()
        files = self.manifest_files(m)
        p = files["Parameters"][0]
        mm = [x["resource"] for x in p["parameter"] if x["name"] == "MatchedMembers"][0]
        self.assertEqual(mm["member"][0]["entity"]["reference"], "Patient/test-member-001")

    def test_other_client_404(self):
        path = self.start(params(CLEAN))
        m = self.wait(path).json()
        other = {"Authorization": PROVIDER}
        self.assertOutcome(self.get(path, headers=other), 404, "not-found")
        self.assertOutcome(self.request("DELETE", path, headers=other), 404)
        url = m["output"][0]["url"]
        self.assertOutcome(self.fetch(url, PROVIDER), 404)
        # Its MatchedMembers group is the first client's alone.
        gid = [g for g in self.manifest_files(m)["Group"]
               if g["code"]["coding"][0]["code"] == "match"][0]["id"]
        r = self.post("/fhir/Group/%s/$davinci-data-export" % gid, {
            "resourceType": "Parameters", "parameter": [
                {"name": "exportType", "valueCanonical": "hl7.fhir.us.davinci-pdex#payertopayer"}]},
            headers={"Authorization": PROVIDER, "Prefer": "respond-async"})
        if r.status != 501:     # the export issue may not have landed
            self.assertOutcome(r, 404)
        self.assertOutcome(self.get("/fhir/bulkstatus/" + "0" * 32,
                                    headers={"Authorization": PAYER}), 404)

    def test_file_url_checks(self):
        m = self.wait(self.start(params(CLEAN))).json()
        url = self.local(m["output"][0]["url"])
        self.assertIn("sig=", url)
        path = url.split("?")[0]
        self.assertOutcome(self.get(url), 401)                          # no token
        self.assertOutcome(self.get(path, headers={"Authorization": PAYER}), 403)
        bad = url[:-1] + ("0" if url[-1] != "0" else "1")
        self.assertOutcome(self.get(bad, headers={"Authorization": PAYER}), 403)
        exp = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["exp"][0]
        later = url.replace("exp=" + exp, "exp=" + str(int(exp) + 1))
        self.assertOutcome(self.get(later, headers={"Authorization": PAYER}), 403)
        # Temporary or unknown names are never served.
        job = path.split("/")[2]
        for name in (".Group-1.ndjson.tmp", "../p2p.db", "nope.ndjson"):
            r = self.get("/bulk/%s/%s" % (job, name), headers={"Authorization": PAYER})
            self.assertIn(r.status, (403, 404), r)
        # The output directory itself is never listed or served.
        self.assertIn(self.get("/bulk/%s/" % job).status, (401, 403, 404))

    def test_delete(self):
        path = self.start(params(CLEAN))
        m = self.wait(path).json()
        url = m["output"][0]["url"]
        r = self.request("DELETE", path, headers={"Authorization": PAYER})
        self.assertEqual(r.status, 202, r)
        self.assertOutcome(self.get(path, headers={"Authorization": PAYER}), 404)
        self.assertOutcome(self.fetch(url), 404)
        self.assertOutcome(self.request("DELETE", path, headers={"Authorization": PAYER}), 404)
        job = path.rsplit("/", 1)[1]
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "bulk", job)))

    def test_demographics_matching_would_ignore_400(self):
        """Issue 15.3, the same validator as $member-match: a MemberBundle
        whose demographics matching would drop or ignore is refused at
        kick-off, naming the MemberBundle and the element."""
        cases = [  # (change to MemberPatient, element)
            ({"birthDate": "1999-01-01T00:00:00Z"}, "part[0].resource.birthDate"),
            ({"name": [{"family": ["Johnson"], "given": ["Robert"]}]},
             "part[0].resource.name[0].family"),
            ({"name": [{"given": ["Robert"]}]}, "part[0].resource.name.family"),
            ({"gender": "M"}, "part[0].resource.gender"),
        ]
        for change, expr in cases:
            with self.subTest(change=change):
                mb = copy.deepcopy(CLEAN)
                mb["part"][0]["resource"].update(change)
                oo = self.assertOutcome(self.kickoff(params(UNKNOWN, mb)), 400)
                self.assertEqual(oo["issue"][0]["expression"],
                                 ["Parameters.parameter[1]." + expr])
                self.assertIn("MemberBundle 2", oo["issue"][0]["diagnostics"])


class BulkProbingGuard(BulkBase):
    """Issue 15.1: the probing guard of $member-match, one guard and one
    table for both operations.  Its own server: the people it throttles
    stay throttled for probe_window."""
    conf = {"bulk_max_members": 100, "probe_limit": 5}

    def refusals(self):
        """Audit records of MemberBundles the guard stopped."""
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        n = db.execute("SELECT count(*) FROM audit WHERE event = 'match' AND"
                       " outcome = 'failure' AND detail LIKE '429 bulk-member-match:%'"
                       ).fetchone()[0]
        db.close()
        return n

    def groups(self, body):
        m = self.wait(self.start(body)).json()
        self.assertEqual(m["error"], [], m)
        return {g["code"]["coding"][0]["code"]: g for g in self.manifest_files(m)["Group"]}

    def test_guesses_in_one_request(self):
        """One request, 50 MemberBundles of the same person, 49 wrong
        subscriber ids and the right one last: the member used to be in
        MatchedMembers.  The right one now comes after the limit."""
        bundles = [member_bundle("Garcia", "Elena", "female", "1970-11-02", "GUESS-%d" % i,
                                 "Patient/test-member-003", pid="g%d" % i) for i in range(49)]
        bundles.append(member_bundle("Garcia", "Elena", "female", "1970-11-02", "SUB-003",
                                     "Patient/test-member-003", pid="right"))
        before = self.refusals()
        groups = self.groups(params(*bundles))
        self.assertNotIn("member", groups["match"])
        self.assertEqual(groups["match"]["quantity"], 0)
        self.assertIn({"reference": "#right"},
                      [x["entity"]["extension"][0]["valueReference"]
                       for x in groups["nomatch"]["member"]])
        # Each MemberBundle past the limit is audited as refused.
        self.assertEqual(self.refusals() - before, 45)

    def test_guesses_count_across_operations(self):
        """Guesses sent by $bulk-member-match count for $member-match (and
        the other way round): 5 wrong subscriber ids for member 002 in a
        bulk request, then $member-match with the right one is 429, not
        the opt-out answer that would tell the guess was right."""
        bundles = [member_bundle("Williams", "Sarah", "female", "1985-03-12", "WRONG-%d" % i,
                                 "Patient/test-member-002", pid="w%d" % i) for i in range(5)]
        groups = self.groups(params(*bundles))
        self.assertEqual(len(groups["nomatch"]["member"]), 5)
        mm = {"resourceType": "Parameters", "parameter": [
            {"name": n, "resource": copy.deepcopy(OPTOUT["part"][i]["resource"])}
            for i, n in enumerate(("MemberPatient", "CoverageToMatch", "Consent"))]}
        r = self.post("/fhir/Patient/$member-match", mm, headers={"Authorization": PAYER})
        self.assertOutcome(r, 429, "throttled")
        # And the next bulk request for her goes to NonMatchedMembers.
        groups = self.groups(params(OPTOUT))
        self.assertEqual([x["entity"]["reference"] for x in groups["nomatch"]["member"]],
                         ["#sub-2"])
        self.assertNotIn("consentconstraint", groups)

    def test_member_match_guesses_count_for_bulk(self):
        """The other way round: 5 wrong subscriber ids for member 001 sent
        by $member-match (422 each), then a bulk request with her right
        card: the MemberBundle goes to NonMatchedMembers, audited 429."""
        def mm(sub):
            body = {"resourceType": "Parameters", "parameter": [
                {"name": n, "resource": copy.deepcopy(CLEAN["part"][i]["resource"])}
                for i, n in enumerate(("MemberPatient", "CoverageToMatch", "Consent"))]}
            body["parameter"][1]["resource"]["subscriberId"] = sub
            return self.post("/fhir/Patient/$member-match", body,
                             headers={"Authorization": PAYER})
        for i in range(5):
            self.assertOutcome(mm("WRONG-MM-%d" % i), 422, "not-found")
        before = self.refusals()
        groups = self.groups(params(CLEAN))
        self.assertNotIn("member", groups["match"])
        self.assertEqual([x["entity"]["reference"] for x in groups["nomatch"]["member"]],
                         ["#sub-1"])
        self.assertEqual(self.refusals() - before, 1)


class RunnerTest(BulkBase):
    """Runners started by the test only (no wake-up at kick-off)."""
    conf = {"runner": ""}

    def setUp(self):
        super().setUp()
        # The probe in setUp queued a job; complete it out of the way.
        self.runner("--once")

    def test_killed_runner_job_completes_next_run(self):
        # The runner reports progress every 16 members and sleeps
        # P2P_RUNNER_DELAY_MS at each report: 200 members at 1 s a report
        # leave ~12 s between the first report and completion, so the
        # kill below lands mid-job even on a slow (sanitizer) build.
        path = self.start(params(*([UNKNOWN] * 200 + [CLEAN])))
        job = path.rsplit("/", 1)[1]
        slow = subprocess.Popen([self.server.runner, "-c", os.path.join(self.server.data, "p2p.conf"),
                                 "--once"], env=dict(os.environ, P2P_RUNNER_DELAY_MS="1000"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while True:
                r = self.get(path, headers={"Authorization": PAYER})
                self.assertEqual(r.status, 202, r)
                if "%" in (r.header("x-progress") or ""):
                    break
                self.assertLess(time.time(), deadline, "runner never reported progress")
                time.sleep(0.1)
        finally:
            slow.send_signal(signal.SIGKILL)
            slow.wait()
        r = self.get(path, headers={"Authorization": PAYER})
        self.assertEqual(r.status, 202, r)     # still in progress, no manifest
        d = os.path.join(self.server.data, "bulk", job)
        if os.path.isdir(d):
            self.assertTrue(all(n.startswith(".") for n in os.listdir(d)), os.listdir(d))
        files = self.taken_over(path)
        self.assertEqual(len(files["Parameters"]), 1)
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        n = db.execute("SELECT count(*) FROM grp WHERE job_id = ? AND kind = 'match'",
                       (job,)).fetchone()[0]
        db.close()
        self.assertEqual(n, 1)

    def test_two_runners_each_job_once(self):
        paths = [self.start(params(CLEAN, UNKNOWN)) for _ in range(4)]
        cmd = [self.server.runner, "-c", os.path.join(self.server.data, "p2p.conf"), "--once"]
        env = dict(os.environ, P2P_RUNNER_DELAY_MS="50")
        mark = self.server.log_offset()
        a = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        b = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
        ea = a.communicate()[1]
        eb = b.communicate()[1]
        self.assertEqual((a.returncode, b.returncode), (0, 0), ea + eb)
        # Their lines are in the log file, with any other runner's.
        ea, eb = self.server.log_since(mark), ""
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        for path in paths:
            job = path.rsplit("/", 1)[1]
            done = (ea + eb).count("job %s: complete" % job)
            self.assertEqual(done, 1, ea + eb)
            n = db.execute("SELECT count(*) FROM grp WHERE job_id = ?", (job,)).fetchone()[0]
            self.assertEqual(n, 2)          # MatchedMembers + NonMatchedMembers
            self.assertEqual(self.get(path, headers={"Authorization": PAYER}).status, 200)
        db.close()

    def test_runner_expires_probe_rows(self):
        """The probing guard's rows older than probe_window go at every
        pass of the runner; those in the window stay."""
        now = int(time.time())
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        db.executemany("INSERT INTO probe (client_id, person, time, card) VALUES (?, ?, ?, ?)",
                       [("c", "old", now - 700 - i, "k%d" % i) for i in range(20)]
                       + [("c", "new", now - 10, "k")])
        db.commit()
        p = self.runner("--once")
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = db.execute("SELECT person FROM probe WHERE client_id = 'c'").fetchall()
        db.close()
        self.assertEqual(rows, [("new",)])

    def test_runner_usage_exit_code(self):
        self.assertEqual(self.runner().returncode, 2)
        self.assertEqual(self.runner("--once", "--interval", "x").returncode, 2)
        p = subprocess.run([harness.RUNNER, "-c", "/nonexistent/p2p.conf", "--once"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 3)
