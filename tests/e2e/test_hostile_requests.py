"""Hostile and careless requests against the API: path tricks, garbage
bodies, URL parameters, body ceilings, Basic credentials when they are
off, the legacy consent-less form, refusals audited, secrets at rest,
key file modes.  Complements test_foundation, test_auth and
test_member_match."""
import datetime
import json
import os
import sqlite3
import stat
import unittest
import urllib.parse

import harness

MM = "/fhir/Patient/$member-match"
BMM = "/fhir/Group/$bulk-member-match"
EXAMPLE = os.path.join(harness.SRC, "share", "examples", "member-match-001.json")
GUIDE = os.path.join(harness.SRC, "share", "seed", "pdex-guide-member.ndjson")
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PAYER = ("test-payer-client", "test-payer-secret")
PROVIDER = ("test-provider-client", "test-provider-secret")


def example():
    """The seed's member 001 request, its consent period around today."""
    body = json.load(open(EXAMPLE))
    today = datetime.date.today()
    for p in body["parameter"]:
        if p["name"] == "Consent":
            p["resource"]["provision"]["period"] = {
                "start": (today - datetime.timedelta(days=30)).isoformat(),
                "end": (today + datetime.timedelta(days=365)).isoformat()}
    return body


def legacy_example():
    """The government guide's Example 01 shape (no Consent in it)."""
    return {"resourceType": "Parameters", "parameter": [
        {"name": "MemberPatient", "resource": {
            "resourceType": "Patient", "id": "1",
            "identifier": [{"type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MB"}]},
                "system": "https://bluebutton.cms.gov/resources/variables/bene_id",
                "value": "564730725596728"}],
            "name": [{"use": "official", "family": "Parker", "given": ["Malorie"]}],
            "gender": "male", "birthDate": "1937-07-28"}},
        {"name": "OldCoverage", "resource": {
            "resourceType": "Coverage", "id": "9876B1", "status": "draft",
            "identifier": [{"system": "http://example.org/old-payer", "value": "DH10001235"}],
            "beneficiary": {"reference": "Patient/1"},
            "payor": [{"display": "Old Health Plan"}]}},
        {"name": "NewCoverage", "resource": {
            "resourceType": "Coverage", "id": "AA87654", "status": "active",
            "beneficiary": {"reference": "Patient/1"},
            "payor": [{"display": "New Health Plan"}]}}]}


def raw_request(server, head):
    """Sends only a request head; returns the first status line."""
    s = server.connect()
    try:
        s.sendall(head.encode())
        s.settimeout(10)
        return s.recv(4096).split(b"\r\n")[0].decode()
    finally:
        s.close()


class CoreBase(harness.ServerTest):
    load_seed = True
    tokens = []         # every access token handed out (for the at-rest check)

    @classmethod
    def prepare(cls, server):
        server.admin("load", GUIDE)

    def token(self, cred=PAYER, scope="system/*.read"):
        r = self.post("/auth/token", urllib.parse.urlencode(
            {"grant_type": "client_credentials", "scope": scope}),
            headers=dict(FORM, Authorization=harness.basic(*cred)))
        self.assertEqual(r.status, 200, r)
        tok = r.json()["access_token"]
        CoreBase.tokens.append(tok)
        return "Bearer " + tok

    def assertOAuth(self, r, status, error):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("content-type"), "application/json", r)
        self.assertEqual(r.json()["error"], error, r)
        self.assertEqual(r.header("cache-control"), "no-store", r)


class Demo(CoreBase):
    """The demo configuration: Basic on the API and the legacy
    consent-less form are allowed."""

    def setUp(self):
        if not hasattr(type(self), "auth"):
            type(self).auth = self.token()

    @classmethod
    def prepare(cls, server):
        CoreBase.prepare.__func__(cls, server)
        # a client whose payer Organization was removed after it was
        # registered (client add refuses an NPI no Organization has)
        server.admin("client", "add", "--id", "stranger", "--secret-stdin",
                     "--npi", "1234567893", "--org-name", "Gone Payer",
                     "--grant", "basic", input="stranger-secret-0123456789\n")
        gone = os.path.join(server.dir, "org-gone.json")
        with open(gone, "w") as f:
            json.dump({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"request": {"method": "DELETE",
                             "url": "Organization/payer-1234567893"}}]}, f)
        server.admin("load", gone)

    def test_unresolved_payer_forbidden(self):
        auth = self.token(("stranger", "stranger-secret-0123456789"))
        oo = self.assertOutcome(self.post(MM, example(), headers={"Authorization": auth}),
                                403, "forbidden")
        self.assertIn("1234567893", oo["issue"][0]["details"]["text"])
        r = self.post(BMM, {"resourceType": "Parameters"},
                      headers={"Authorization": auth, "Prefer": "respond-async"})
        self.assertOutcome(r, 403, "forbidden")

    def test_key_files_private(self):
        keys = os.path.join(self.server.data, "keys")
        self.assertEqual(stat.S_IMODE(os.stat(keys).st_mode) & 0o077, 0)
        names = os.listdir(keys)
        self.assertIn("server.key", names)
        for n in names:
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(keys, n)).st_mode),
                             0o600, n)
        db = os.path.join(self.server.data, "p2p.db")
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode) & 0o007, 0)

    def test_traversal_ids_serve_nothing(self):
        paths = ["/fhir/Patient/..%2f..%2fp2p.conf/$everything",
                 "/fhir/Patient/%2e%2e/$everything",
                 "/fhir/Patient/../../p2p.conf",
                 "/fhir/Patient/%2e%2e%2f%2e%2e%2fkeys%2fserver.key/$everything",
                 "/fhir/bulkstatus/..%2f..%2fp2p.conf",
                 "/fhir/bulkstatus/%2e%2e",
                 "/bulk/../p2p.conf", "/bulk/..%2fp2p.db", "/bulk/%2e%2e/keys/server.key",
                 "/fhir/Consent/..%2f..%2fp2p.conf",
                 "/fhir/%2e%2e/%2e%2e/keys/server.key", "/p2p.conf", "/keys/server.key"]
        key = open(os.path.join(self.server.data, "keys", "server.key")).read().strip()
        for p in paths:
            with self.subTest(path=p):
                r = self.get(p, headers={"Authorization": self.auth})
                self.assertIn(r.status, (400, 403, 404), r)
                self.assertNotIn(b"base_url", r.body)
                self.assertNotIn(b"SQLite format", r.body)
                self.assertNotIn(key.encode(), r.body)
                if p.startswith("/fhir/Patient/") and r.status != 404 or \
                        "fhir+json" in (r.header("content-type") or ""):
                    self.assertEqual(r.json()["resourceType"], "OperationOutcome")

    def test_sqlish_and_overlong_ids(self):
        for pid in ("x'%20OR%20'1'='1", "test-member-001'--", "test-member-001%00",
                    "a" * 65, "a" * 3000, "%3Cscript%3E"):
            with self.subTest(id=pid[:20]):
                r = self.get("/fhir/Patient/%s/$everything" % pid,
                             headers={"Authorization": self.auth})
                self.assertIn(r.status, (400, 404), r)
                self.assertNotIn(b"entry", r.body)
                if r.status == 404:     # else lighttpd refused the URL itself
                    self.assertOutcome(r, 404, "not-found")

    def test_overlong_authorization_header(self):
        for h in ("Bearer " + "eyJ" + "A" * 10000, "Bearer " + "x" * 200,
                  "Basic " + "QUFB" * 600, "Bearer", "Bearer  ", "Digest abc",
                  "Bearer eyJ.eyJ.", "Bearer eyJhbGciOiJub25lIn0.e30."):
            with self.subTest(h=h[:20]):
                r = self.post(MM, example(), headers={"Authorization": h})
                self.assertOutcome(r, 401, "login")
                self.assertIn("Bearer", r.header("www-authenticate"))

    def test_url_parameters_refused(self):
        h = {"Authorization": self.auth}
        oo = self.assertOutcome(self.post(MM + "?foo=1", example(), headers=h),
                                400, "not-supported")
        self.assertEqual(oo["issue"][0]["expression"], ["foo"])
        oo = self.assertOutcome(self.post(BMM + "?_outputFormat=x",
                                          {"resourceType": "Parameters"},
                                          headers=dict(h, Prefer="respond-async")),
                                400, "not-supported")
        self.assertEqual(oo["issue"][0]["expression"], ["_outputFormat"])
        self.assertOutcome(self.get("/fhir/Patient/test-member-001/$everything?foo=bar",
                                    headers=h), 400)

    def test_garbage_bodies(self):
        cases = ["null", "[]", "\"Parameters\"", "42", "{}", "{\"resourceType\":5}",
                 "{\"resourceType\":\"Parameters\"} trailing",
                 "{\"resourceType\":\"Parameters\",}", "\xef\xbb\xbf{}",
                 "[" * 5000 + "]" * 5000,
                 "{\"resourceType\":\"Parameters\",\"parameter\":\"x\"}",
                 "{\"resourceType\":\"Parameters\",\"parameter\":[1]}",
                 "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":5}]}",
                 "{\"resourceType\":\"Bundle\",\"type\":\"collection\"}",
                 "{\"resourceType\":\"Parameters\\u0000x\"}",
                 "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":"
                 "\"MemberPatient\\u0000\"}]}",
                 "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"MemberPatient\","
                 "\"resource\":{\"resourceType\":\"Coverage\"}}]}"]
        for body in cases:
            with self.subTest(body=body[:40]):
                r = self.post(MM, body.encode("latin-1") if body.startswith("\xef") else body,
                              headers={"Authorization": self.auth,
                                       "Content-Type": "application/fhir+json"})
                oo = self.assertOutcome(r, 400)
                self.assertIn(oo["issue"][0]["code"],
                              ("structure", "required", "invalid", "value", "not-supported"))

    def test_content_types(self):
        h = {"Authorization": self.auth}
        for ct in ("application/xml", "text/plain", "multipart/form-data; boundary=x",
                   "application/x-www-form-urlencoded", "application/fhir+xml", ""):
            with self.subTest(ct=ct):
                r = self.post(MM, json.dumps(example()), headers=dict(h, **{"Content-Type": ct}))
                self.assertOutcome(r, 415, "not-supported")
        for ct in ("application/fhir+json; charset=utf-8", "application/json",
                   "Application/FHIR+JSON"):
            with self.subTest(ct=ct):
                r = self.post(MM, json.dumps(example()), headers=dict(h, **{"Content-Type": ct}))
                self.assertEqual(r.status, 200, r)

    def test_body_ceiling_before_reading(self):
        """lighttpd answers 413 on the Content-Length alone (Expect:
        100-continue), before any body byte is sent."""
        srv = self.server
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n")
        self.assertIn(" 413 ", raw_request(srv, head % (MM, "application/fhir+json", 2 << 20)))
        self.assertIn(" 413 ", raw_request(srv, head % (
            "/auth/token", "application/x-www-form-urlencoded", 50 << 20)))
        self.assertIn(" 413 ", raw_request(srv, head % (BMM, "application/fhir+json", 1 << 30)))
        # bulk-member-match has its own, larger ceiling
        self.assertIn(" 100 ", raw_request(srv, head % (BMM, "application/fhir+json", 2 << 20)))

    def test_token_endpoint_refusals_are_oauth(self):
        r = self.get("/auth/token")
        self.assertOAuth(r, 405, "invalid_request")
        self.assertEqual(r.header("allow"), "POST")
        h = dict(FORM, Authorization=harness.basic(*PAYER))
        for body, status, error in (
                ("grant_type=client_credentials&grant_type=client_credentials&scope=system/*.read",
                 400, "invalid_request"),
                ("grant_type=client_credentials&scope=system/*.read&scope=user/*.*",
                 400, "invalid_request"),
                ("grant_type=client_credentials&scope=system/*.read&client_id=a&client_id=b",
                 400, "invalid_request"),
                ("grant_type=password&scope=system/*.read", 400, "unsupported_grant_type"),
                ("grant_type=client_credentials&scope=system/*.write", 400, "invalid_scope"),
                ("grant_type=client_credentials&scope=%zz", 400, "invalid_request"),
                ("grant_type=client_credentials&scope=", 400, "invalid_request")):
            with self.subTest(body=body):
                self.assertOAuth(self.post("/auth/token", body, headers=h), status, error)
        # another client's secret, and a secret sent for a client that has none
        for cred in ((PAYER[0], PROVIDER[1]), ("no-such-client", PAYER[1]),
                     (PAYER[0], PAYER[1] + "x"), (PAYER[0], "")):
            with self.subTest(cred=cred):
                r = self.post("/auth/token", "grant_type=client_credentials&scope=system/*.read",
                              headers=dict(FORM, Authorization=harness.basic(*cred)))
                self.assertOAuth(r, 401, "invalid_client")
        # (issue #14: without scope a secret client gets its registered
        # scopes, and client_secret_post is a credential: test_auth.py)

    def test_legacy_consentless_is_marked_and_audited(self):
        r = self.post(MM, legacy_example(), headers={"Authorization": self.auth})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([p["name"] for p in r.json()["parameter"]],
                         ["MemberPatient", "NewCoverage"])
        import sqlite3
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        try:
            rows = db.execute("SELECT consentless FROM match WHERE client_id = ?"
                              " AND patient = ?", (PAYER[0], "564730725596728")).fetchall()
            audit = db.execute("SELECT detail FROM audit WHERE event = 'match' AND"
                               " outcome = 'success' AND patient = ?",
                               ("564730725596728",)).fetchall()
        finally:
            db.close()
        self.assertTrue(rows and all(r[0] == 1 for r in rows), rows)
        self.assertTrue(any("consent-less" in a[0] for a in audit), audit)

    def test_other_client_gets_nothing_from_a_match(self):
        mine = self.auth
        self.assertEqual(self.post(MM, example(), headers={"Authorization": mine}).status, 200)
        theirs = self.token(PROVIDER)
        for path in ("/fhir/Patient/test-member-001/$everything",
                     "/fhir/Patient/test-member-001/$everything?_type=Coverage"):
            r = self.get(path, headers={"Authorization": theirs})
            self.assertIn(r.status, (403, 404), r)
            self.assertNotIn(b"test-coverage-001", r.body)
            self.assertOutcome(r, r.status)
        r = self.get("/fhir/Consent", headers={"Authorization": theirs})
        if r.status == 200:
            self.assertNotIn(b"test-member-001", r.body)

    def test_api_refusals_are_audited(self):
        import sqlite3
        tampered = self.auth[:-4] + ("AAAA" if not self.auth.endswith("AAAA") else "BBBB")
        limited = self.token(scope="system/Group.rs")
        cases = [({"Authorization": tampered}, 401, None, "signature"),
                 ({}, 401, None, "access token is required"),
                 ({"Authorization": harness.basic(PAYER[0], "not-the-secret")}, 401,
                  PAYER[0], "Basic credentials not accepted"),
                 ({"Authorization": limited}, 403, PAYER[0], "lacks a scope")]
        for h, status, client, why in cases:
            self.assertEqual(self.get("/fhir/Patient/test-member-001/$everything",
                                      headers=h).status, status)
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        try:
            rows = db.execute("SELECT outcome, client_id, detail FROM audit WHERE"
                              " event = 'auth' ORDER BY aid").fetchall()
        finally:
            db.close()
        for h, status, client, why in cases:
            hit = [r for r in rows if why in r[2] and r[2].startswith(str(status))]
            self.assertTrue(hit, (why, rows))
            self.assertEqual(hit[-1][0], "failure")
            self.assertEqual(hit[-1][1], client)
        for r in rows:
            self.assertNotIn("eyJ", r[2])
            self.assertNotIn("not-the-secret", r[2])

    def test_no_secrets_at_rest_or_in_logs(self):
        """No secret and no issued token appears in any file of the data
        directory (database, WAL, logs): tokens of both clients used on
        the API, a refused secret, and every token other tests got."""
        mine = [self.token(), self.token(PROVIDER)]
        for tok in mine:
            self.post(MM, example(), headers={"Authorization": tok})
            self.get("/fhir/Patient/test-member-001/$everything",
                     headers={"Authorization": tok})
        self.post("/auth/token", "grant_type=client_credentials",
                  headers=dict(FORM, Authorization=harness.basic(PAYER[0], "not-the-secret")))
        needles = [PAYER[1].encode(), PROVIDER[1].encode(), b"stranger-secret-0123456789",
                   b"not-the-secret"]
        for t in set(CoreBase.tokens) | set(mine):
            t = t.split(" ", 1)[-1]
            needles += [t.encode(), t.split(".")[2].encode()]
        for root, _, files in os.walk(self.server.data):
            for f in files:
                path = os.path.join(root, f)
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                data = open(path, "rb").read()
                for n in needles:
                    self.assertNotIn(n, data, "%s holds a secret or token" % path)


class Production(CoreBase):
    """The production defaults (no --demo): Basic credentials on API calls
    and the consent-less legacy form are off."""
    demo = False
    conf = {"max_body": "8192"}

    def test_basic_on_api_refused_when_off(self):
        for cred in (PAYER, (PAYER[0], "wrong")):
            r = self.post(MM, example(), headers={"Authorization": harness.basic(*cred)})
            oo = self.assertOutcome(r, 401, "login")
            self.assertTrue(r.header("www-authenticate").startswith("Bearer"), r.headers)
            self.assertNotIn("secret", json.dumps(oo))
        # the same credentials work at the token endpoint, and its token on the API
        r = self.post(MM, example(), headers={"Authorization": self.token()})
        self.assertEqual(r.status, 200, r)

    def test_legacy_form_needs_consent(self):
        r = self.post(MM, legacy_example(), headers={"Authorization": self.token()})
        oo = self.assertOutcome(r, 422, "business-rule")
        self.assertIn("Consent", oo["issue"][0]["details"]["text"])

    def test_app_body_limit(self):
        pad = "x" * 9000
        r = self.post(MM, {"resourceType": "Parameters", "pad": pad})
        self.assertOutcome(r, 413, "too-costly")
        r = self.post("/auth/token", "grant_type=client_credentials&pad=" + pad,
                      headers=FORM)
        self.assertOAuth(r, 413, "invalid_request")

    def test_disabled_client_at_once(self):
        """Disabling a client ends its tokens at once (a client of its
        own, so that no other test depends on when this one runs)."""
        leaving = ("leaving-client", "leaving-secret-0123456789")
        self.server.admin("client", "add", "--id", leaving[0], "--secret-stdin",
                          "--npi", "1982947230", "--scopes", "system/*.read",
                          input=leaving[1] + "\n")
        tok = self.token(leaving)
        r = self.get("/fhir/Patient/test-member-001/$everything",
                     headers={"Authorization": tok})
        self.assertNotEqual(r.status, 401, r)
        self.server.admin("client", "disable", leaving[0])
        r = self.get("/fhir/Patient/test-member-001/$everything",
                     headers={"Authorization": tok})
        self.assertOutcome(r, 401, "login")
        r = self.post("/auth/token", "grant_type=client_credentials&scope=system/*.read",
                      headers=dict(FORM, Authorization=harness.basic(*leaving)))
        self.assertOAuth(r, 401, "invalid_client")


if __name__ == "__main__":
    unittest.main()
