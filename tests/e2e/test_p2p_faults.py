"""p2p-request against a previous payer that misbehaves (stub_peer.py):
429/503 with Retry-After, 5xx on a file, truncated and malformed
answers, a job withdrawn, a peer down or slow, refusals in
OperationOutcome words, a transfer killed mid-file and resumed with
Range.  Payer B is a real p2p (it publishes the JWKS the stub checks
assertions against); each test has a peer of its own, so that one
test's members never go into another's requests.
"""
import json
import os
import signal
import subprocess
import time
import unittest

import harness
import stub_peer
from test_payer_to_payer import REQUEST, NPI_SYS, ORGS_B, consent, enrolment, p2p_request, today

# How the stub checks B's JWKS URL when the suite runs over HTTPS.
TLS = harness.client_tls_context() if harness.TLS else None

PERSON = {"name": [{"family": "Stub", "given": ["Sam"]}], "gender": "female",
          "birthDate": "1970-05-06"}


class Faults(unittest.TestCase):
    npi = 2000000000

    @classmethod
    def setUpClass(cls):
        cls.b = harness.Server(conf={"jwks_allow_http": "1", "org_npi": "1234567893",
                                     "org_name": "Payer B"})
        try:
            cls.b.load("orgs.ndjson", ORGS_B)
            cls.b.start()
            cls.stub = stub_peer.Stub(cls.b.base + "/.well-known/jwks.json", tls=TLS)
        except Exception:
            cls.b.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stub.stop()
        cls.b.stop()
        bad = cls.b.bad_log_lines()
        cls.b.cleanup()
        if bad:
            raise AssertionError("sanitizer or crash reports:\n" + "\n".join(bad[:20]))

    def setUp(self):
        self.stub.reset()

    def peer(self, members, base=None):
        """A peer of its own (NPI, Organization) and members naming it."""
        Faults.npi += 1
        name = "stub%d" % Faults.npi
        npi = str(Faults.npi)
        rows = [{"resourceType": "Organization", "id": "org-" + name,
                 "identifier": [{"system": NPI_SYS, "value": npi}]}]
        for m in members:
            r = enrolment(m, PERSON, {"subscriberId": "OLD-" + m})
            r[2]["payor"] = [{"reference": "Organization/org-" + name}]
            r[3] = consent("optin-" + m, m, source_npi=npi)
            rows += r
        self.b.load(name + ".ndjson", rows)
        self.b.admin("peer", "add", "--name", name, "--base-url", base or self.stub.fhir,
                     "--client-id", "payer-b", "--npi", npi)
        return name

    def run_request(self, *args, **kw):
        return p2p_request(self.b, *args, **kw)

    def state(self, member):
        r = self.b.sql("SELECT state, coalesce(reason, ''), next_try FROM inbound WHERE patient = ?",
                    member)
        return r[0] if r else (None, None, None)

    def stored(self, member):
        return self.b.sql("SELECT type FROM resource WHERE patient = ? AND id GLOB 'r*'", member)

    def obs(self, remote, n):
        return [{"resourceType": "Observation", "id": "o%d" % i, "status": "final",
                 "code": {"text": "x%d" % i}, "subject": {"reference": "Patient/" + remote}}
                for i in range(n)]

    # -- tests -----------------------------------------------------------

    def test_assertion_token_reuse_and_sync_everything(self):
        """SMART assertion checked by PyJWT; one token for the whole run;
        HRex 1.0 answer (MemberIdentifier only); a two-page sync Bundle
        stored in one transaction."""
        name = self.peer(["fa1"])
        self.stub.everything_pages = [self.obs("r-fa1", 2),
                                      [{"resourceType": "Condition", "id": "c1",
                                        "subject": {"reference": self.stub.fhir + "/Patient/r-fa1"}}]]
        p = self.run_request("member", "fa1", "--from", name, check=0)
        self.assertIn("member fa1: fetched: 3 resources", p.stdout)
        self.assertEqual(self.stub.tokens, 1)
        header, claims, scope = self.stub.assertions[0]
        self.assertEqual(header["typ"], "JWT")
        self.assertEqual(header["alg"], "ES384")
        self.assertIn("member-match", scope)
        self.assertEqual(sorted(t for (t,) in self.stored("fa1")),
                         ["Condition", "Observation", "Observation"])
        # a $member-match body as HRex wants it
        mm = self.stub.hits("POST", "/fhir/Patient/$member-match")
        self.assertEqual(len(mm), 1)

    def test_polling_honours_retry_after_and_5xx_file_retried(self):
        name = self.peer(["fb1"])
        st = self.stub
        st.script["/fhir/status/match"] = [
            {"status": 429, "headers": {"Retry-After": "1"}, "body": stub_peer.OO("throttled", "slow down")},
            {"status": 503, "headers": {"Retry-After": "1"}, "body": stub_peer.OO("transient", "busy")},
            {"status": 202, "headers": {"Retry-After": "1", "X-Progress": "50% complete"}}]
        st.script["/files/Observation-0.ndjson"] = [{"status": 500, "body": stub_peer.OO("exception", "disk")}]
        st.export_files = [("Observation", self.obs("r-fb1", 3), 3)]
        p = self.run_request("bulk", "--from", name, "--interval", "1", check=0)
        self.assertEqual(self.state("fb1")[0], "fetched", p.stdout + p.stderr)
        polls = [t for t, m, path, h in st.log
                 if m == "GET" and path.startswith("/fhir/status/match")]
        self.assertEqual(len(polls), 4)
        for a, b in zip(polls, polls[1:]):
            self.assertGreaterEqual(b - a, 0.9)        # Retry-After: 1
        self.assertIn("50% complete", p.stderr)      # the peer's progress
        files = st.hits("GET", "/files/Observation-0.ndjson")
        self.assertEqual(len(files), 2)                # the 500, then the file
        self.assertEqual(len(self.stored("fb1")), 3)
        # _since absent on a first request; exportType payertopayer
        params = {x["name"]: x for x in st.exports[-1]["parameter"]}
        self.assertEqual(params["exportType"]["valueCanonical"], "hl7.fhir.us.davinci-pdex#payertopayer")
        self.assertNotIn("_since", params)
        # we told the peer we are done with both jobs
        self.assertEqual(len(st.hits("DELETE", "/fhir/status/")), 2)

    def test_truncated_file(self):
        name = self.peer(["fc1"])
        self.stub.export_files = [("Observation", self.obs("r-fc1", 2), 3)]
        p = self.run_request("bulk", "--from", name, check=1)
        st, why, next_try = self.state("fc1")
        self.assertEqual(st, "due", p.stdout)
        self.assertIn("2 lines where the manifest says 3", why)
        self.assertGreater(next_try, time.time())
        self.assertEqual(len(self.stub.hits("GET", "/files/Observation-0")), 4)
        self.assertEqual(self.stored("fc1"), [])       # nothing half loaded
        s = self.run_request("status", "--peer", name, check=0)
        self.assertIn("2 lines where the manifest says 3", s.stdout)
        self.assertIn("next try after", s.stdout)

    def test_file_larger_than_peer_file_max(self):
        """A bulk file past peer_file_max is cut off and failed, not
        fetched again in that run, nothing of it stored, the member due
        with the reason; within the bound the next run goes through.
        Both ways a size shows: the Content-Length, and (chunked, no
        length) the bytes as they arrive."""
        for member, chunked in (("fr1", False), ("fr2", True)):
            with self.subTest(chunked=chunked):
                self.stub.reset()
                self.over_peer_file_max(member, chunked)

    def over_peer_file_max(self, member, chunked):
        name = self.peer([member])
        obs = self.obs("r-" + member, 40)
        size = sum(len(json.dumps(o)) + 1 for o in obs)
        if chunked:
            self.stub.chunked.add("Observation-0.ndjson")
            self.stub.slow["Observation-0.ndjson"] = (512, 0)
        self.stub.export_files = [("Observation", obs, 40)]
        self.b.set_conf(peer_file_max=size - 1)
        try:
            p = self.run_request("bulk", "--from", name, check=1)
            st, why, _ = self.state(member)
            self.assertEqual(st, "due", p.stdout)   # the operator may raise it
            self.assertIn("larger than peer_file_max (%d bytes)" % (size - 1), why)
            self.assertEqual(len(self.stub.hits("GET", "/files/Observation-0")), 1)
            self.assertEqual(self.stored(member), [])
            for top, _, names in os.walk(os.path.join(self.b.data, "inbound")):
                for n in names:     # the part received was removed
                    with open(os.path.join(top, n)) as f:
                        self.assertNotIn("r-" + member, f.read())
            self.b.set_conf(peer_file_max=size)
            self.stub.log.clear()
            # the backoff over (as the next cron run would find it)
            self.b.sql("UPDATE inbound SET next_try = 0 WHERE patient = ?", member)
            p = self.run_request("bulk", "--from", name, check=0)
            self.assertEqual(self.state(member)[0], "fetched", p.stdout)
            self.assertEqual(len(self.stored(member)), 40)
        finally:
            self.b.set_conf(peer_file_max=4294967296)

    def test_truncated_once_then_whole(self):
        name = self.peer(["fd1"])
        whole = "".join(json.dumps(o) + "\n" for o in self.obs("r-fd1", 3))
        self.stub.script["/files/Observation-0.ndjson"] = [
            {"status": 200, "body": whole.split("\n", 1)[0] + "\n"}]
        self.stub.export_files = [("Observation", self.obs("r-fd1", 3), 3)]
        self.run_request("bulk", "--from", name, check=0)
        self.assertEqual(self.state("fd1")[0], "fetched")
        self.assertEqual(len(self.stored("fd1")), 3)

    def test_malformed_manifest_then_fixed(self):
        name = self.peer(["fe1"])
        bad = {"status": 200, "body": {"transactionTime": "2027-01-01T00:00:00Z", "output": "nope"}}
        self.stub.script["/fhir/status/export"] = [bad]
        self.stub.export_files = [("Observation", self.obs("r-fe1", 1), 1)]
        p = self.run_request("bulk", "--from", name, "--wait", "1", check=0)
        self.assertIn("still running", p.stdout)
        why = self.b.sql("SELECT reason FROM pull WHERE peer = ? AND kind = 'export'", name)[0][0]
        self.assertIn("manifest", why)
        self.assertEqual(self.stored("fe1"), [])
        # the next run polls again and finishes
        p = self.run_request("bulk", "--from", name, check=0)
        self.assertEqual(self.state("fe1")[0], "fetched", p.stdout)

    def test_job_withdrawn_by_the_peer(self):
        name = self.peer(["ff1", "ff2"])
        self.stub.script["/fhir/status/export"] = [
            {"status": 404, "body": stub_peer.OO("not-found", "no such job (unknown, expired or cancelled)")}]
        p = self.run_request("bulk", "--from", name, check=1)
        for m in ("ff1", "ff2"):
            st, why, next_try = self.state(m)
            self.assertEqual(st, "due", p.stdout)
            self.assertIn("the peer's job is gone (HTTP 404", why)
            self.assertIn("no such job", why)
            self.assertGreater(next_try, time.time() + 30)
        self.assertEqual(self.b.sql("SELECT state FROM pull WHERE peer = ? AND kind = 'export'",
                                 name), [("failed",)])
        # not asked again before next_try
        p = self.run_request("bulk", "--from", name, check=0)
        self.assertIn("0 requested", p.stdout)

    def test_peer_down_after_discovery(self):
        other = stub_peer.Stub(self.b.base + "/.well-known/jwks.json", tls=TLS)
        name = self.peer(["fg1", "fg2"], base=other.fhir)
        other.everything_pages = [self.obs("r-fg1", 1)]
        self.run_request("member", "fg1", "--from", name, check=0)
        other.stop()
        p = self.run_request("member", "fg2", "--from", name, check=1)
        st, why, next_try = self.state("fg2")
        self.assertEqual(st, "due")
        self.assertIn("Couldn't connect", why)
        self.assertGreater(next_try, time.time())

    def test_peer_certificate_needs_its_ca(self):
        """A peer whose HTTPS certificate comes from a CA the system does
        not trust is refused at discovery (exit 3 naming the certificate,
        no token asked, nothing stored); naming that CA in ca_file lets
        the same run through."""
        ca, crt, key = harness.tls_files()
        other = stub_peer.Stub(self.b.base + "/.well-known/jwks.json", tls=TLS,
                               serve_tls=(crt, key))
        try:
            name = self.peer(["fq1"], base=other.fhir)
            other.everything_pages = [self.obs("r-fq1", 2)]
            self.b.set_conf(ca_file="")
            p = self.run_request("member", "fq1", "--from", name, check=3)
            self.assertIn("smart-configuration", p.stderr)
            self.assertIn("certificate", p.stderr)
            self.assertEqual(self.stored("fq1"), [])
            self.assertEqual(other.tokens, 0)
            self.b.set_conf(ca_file=ca)
            p = self.run_request("member", "fq1", "--from", name, check=0)
            self.assertIn("member fq1: fetched: 2 resources", p.stdout)
        finally:
            self.b.set_conf(ca_file=ca if harness.TLS else "")
            other.stop()

    def test_slow_peer_times_out(self):
        name = self.peer(["fh1"])
        self.stub.script["/fhir/Patient/$member-match"] = [{"status": 200, "delay": 3,
                                                             "body": {"resourceType": "Parameters"}}]
        t0 = time.time()
        p = self.run_request("member", "fh1", "--from", name, "--timeout", "1", check=1)
        self.assertLess(time.time() - t0, 3)
        st, why, _ = self.state("fh1")
        self.assertEqual(st, "due")
        self.assertIn("no complete answer within 1 s", why)

    def test_throttled_member_match(self):
        name = self.peer(["fi1"])
        self.stub.script["/fhir/Patient/$member-match"] = [
            {"status": 429, "headers": {"Retry-After": "120"},
             "body": stub_peer.OO("throttled", "too many distinct cards for these demographics")}]
        p = self.run_request("member", "fi1", "--from", name, check=1)
        st, why, next_try = self.state("fi1")
        self.assertEqual(st, "due")
        self.assertIn("HTTP 429: throttled: too many distinct cards", why)
        self.assertGreaterEqual(next_try, time.time() + 110)
        self.assertIn("too many distinct cards", p.stdout)

    def test_refusals_shown_in_the_peers_words(self):
        name = self.peer(["fj1", "fj2"])
        self.stub.script["/fhir/Group/$bulk-member-match"] = [
            {"status": 403, "body": stub_peer.OO("forbidden", "the client has no NPI on file")}]
        p = self.run_request("bulk", "--from", name, check=1)
        self.assertIn("forbidden: the client has no NPI on file", p.stdout)
        for m in ("fj1", "fj2"):
            st, why, _ = self.state(m)
            self.assertEqual(st, "failed")
            self.assertEqual(why, "HTTP 403: forbidden: the client has no NPI on file")
        # member-match refusals map to outcomes
        name2 = self.peer(["fj3", "fj4"])
        self.stub.script["/fhir/Patient/$member-match"] = [
            {"status": 422, "body": stub_peer.OO("not-found", "No member match found")},
            {"status": 422, "body": stub_peer.OO("forbidden", "the member has opted out")}]
        self.run_request("member", "fj3", "--from", name2, check=0)
        self.run_request("member", "fj4", "--from", name2, check=0)
        self.assertEqual(self.state("fj3")[:2], ("nomatch", "HTTP 422: not-found: No member match found"))
        self.assertEqual(self.state("fj4")[:2], ("consent", "HTTP 422: forbidden: the member has opted out"))
        # the token endpoint refuses us: the run cannot work, it says why
        self.stub.token_refusal = (400, {"error": "invalid_client", "error_description": "unknown kid"})
        name3 = self.peer(["fj5"])
        p = self.run_request("member", "fj5", "--from", name3, check=1)
        self.assertIn("invalid_client: unknown kid", p.stdout + p.stderr)
        self.assertEqual(self.state("fj5")[0], "failed")

    def test_missing_capability(self):
        name = self.peer(["fk1"])
        self.stub.ops = {"member-match", "everything"}
        p = self.run_request("bulk", "--from", name, check=3)
        self.assertIn("does not declare bulk-member-match davinci-data-export", p.stderr)
        self.assertEqual(self.stub.hits("POST", "/fhir/Group"), [])

    def test_export_refuses_one_member(self):
        name = self.peer(["fl1", "fl2"])
        self.stub.export_files = [("Observation", self.obs("r-fl1", 2), 2)]
        self.stub.export_errors = [stub_peer.OO(
            "forbidden", "Patient/r-fl2 left out of the export: no valid consent for this client")]
        self.run_request("bulk", "--from", name, check=0)
        self.assertEqual(self.state("fl1")[0], "fetched")
        st, why, _ = self.state("fl2")
        self.assertEqual(st, "consent")
        self.assertIn("left out of the export: no valid consent", why)

    def test_someone_elses_data_is_refused(self):
        name = self.peer(["fm1"])
        self.stub.export_files = [("Observation", self.obs("r-fm1", 1) + self.obs("r-stranger", 1), 2)]
        self.run_request("bulk", "--from", name, check=1)
        st, why, _ = self.state("fm1")
        self.assertEqual(st, "failed")
        self.assertIn("belongs to Patient/r-stranger, who is none of the members", why)
        self.assertEqual(self.stored("fm1"), [])

    def test_token_stays_with_the_peer(self):
        """Files on another server: our token goes there only if the
        manifest needs none (then not at all); if it needs one, the
        manifest is refused."""
        cdn = stub_peer.Stub(self.b.base + "/.well-known/jwks.json")
        try:
            cdn.open_files = True
            cdn.export_files = self.stub.export_files = [("Observation", self.obs("r-fo1", 2), 2)]
            self.stub.file_base = cdn.base
            self.stub.requires_token = False
            name = self.peer(["fo1"])
            self.run_request("bulk", "--from", name, check=0)
            self.assertEqual(self.state("fo1")[0], "fetched")
            got = cdn.hits("GET", "/files/")
            self.assertEqual(len(got), 1)
            self.assertNotIn("Authorization", got[0][3])
            # the same with requiresAccessToken: refused, nothing fetched
            self.stub.requires_token = True
            name = self.peer(["fo2"])
            p = self.run_request("bulk", "--from", name, "--wait", "1", check=0)
            self.assertIn("not on the peer's origin", p.stdout)
            self.assertEqual(len(cdn.hits("GET", "/files/")), 1)
            self.assertEqual(self.stored("fo2"), [])
        finally:
            cdn.stop()

    def test_killed_mid_file_resumes_with_range(self):
        name = self.peer(["fn1"])
        lines = self.obs("r-fn1", 400)
        self.stub.export_files = [("Observation", lines, 400)]
        self.stub.slow["Observation-0.ndjson"] = (4096, 0.3)
        cmd = [REQUEST, "-c", os.path.join(self.b.data, "p2p.conf"), "bulk", "--from", name]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        part = None
        while time.time() < deadline and part is None:
            time.sleep(0.2)
            for pid, in self.b.sql("SELECT pid FROM pull WHERE peer = ? AND kind = 'export'", name):
                f = os.path.join(self.b.data, "inbound", str(pid), "0.ndjson")
                if os.path.exists(f) and os.path.getsize(f) >= 8192:
                    part = f
        self.assertIsNotNone(part, "no partial file appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        have = os.path.getsize(part)
        self.stub.slow.clear()
        p = self.run_request("bulk", "--from", name, check=0)
        self.assertIn("resuming", p.stdout)
        ranges = [h.get("Range") for t, m, path, h in self.stub.log
                  if path.startswith("/files/Observation-0")]
        self.assertEqual(ranges[-1], "bytes=%d-" % have)
        self.assertEqual(self.state("fn1")[0], "fetched")
        self.assertEqual(len(self.stored("fn1")), 400)


if __name__ == "__main__":
    unittest.main()
