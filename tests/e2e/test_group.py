"""The requesting payer's Groups (issue #14): GET /fhir/Group/{id} and
GET /fhir/Group?... on the MatchedMembers, NonMatchedMembers and
ConsentConstrainedMembers Groups its $bulk-member-match made; another
payer's Groups do not exist for it (404).  The search parameters are
member/group.h's.
"""
import datetime
import json
import os
import subprocess
import time
import urllib.parse

import harness
from test_bulk import (CLEAN, EXPIRED, EXTRA, KICKOFF, OPTOUT, PAYER, RESULT_CS,
                       UNKNOWN, params)
from test_export import CACHE, validator

OTHER = harness.basic("payer-z", "payer-z-secret-0123456789")
NPI = "http://hl7.org/fhir/sid/us-npi"
PAYER_NPI = "5555555555"        # test-payer-client's, in the seed


class GroupAccess(harness.ServerTest):
    groups = None       # code -> Group, as the job's Group file has it

    @classmethod
    def prepare(cls, server):
        server.load("extra.json", EXTRA)
        server.admin("client", "add", "--id", "payer-z", "--secret-stdin",
                     "--npi", "1234567893", "--org-name", "Payer Z", "--grant",
                     "basic", input="payer-z-secret-0123456789\n")

    def local(self, url):
        u = urllib.parse.urlsplit(url)
        self.assertEqual("%s://%s" % (u.scheme, u.netloc), self.server.base)
        return u.path + ("?" + u.query if u.query else "")

    def bulk_match(self, body, auth):
        """Runs a $bulk-member-match; {code: Group} of its Group file."""
        r = self.post(KICKOFF, body, headers={"Authorization": auth,
                                              "Prefer": "respond-async"})
        self.assertEqual(r.status, 202, r)
        status = self.local(r.header("content-location"))
        deadline = time.time() + 60
        while True:
            r = self.get(status, headers={"Authorization": auth})
            if r.status != 202:
                break
            self.assertLess(time.time(), deadline, "job did not finish")
            time.sleep(0.2)
        self.assertEqual(r.status, 200, r)
        out = {}
        for item in r.json()["output"]:
            if item["type"] == "Group":
                f = self.get(self.local(item["url"]), headers={"Authorization": auth})
                for line in f.body.decode().splitlines():
                    g = json.loads(line)
                    out[g["code"]["coding"][0]["code"]] = g
        return out

    def setUp(self):
        if GroupAccess.groups is None:
            GroupAccess.groups = self.bulk_match(params(CLEAN, OPTOUT, EXPIRED, UNKNOWN),
                                                 PAYER)
            GroupAccess.other = self.bulk_match(params(UNKNOWN), OTHER)

    def search(self, query="", auth=PAYER):
        r = self.get("/fhir/Group" + ("?" + query if query else ""),
                     headers={"Authorization": auth})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("content-type"), "application/fhir+json")
        b = r.json()
        self.assertEqual((b["resourceType"], b["type"]), ("Bundle", "searchset"))
        return b

    def ids(self, b):
        return {e["resource"]["id"] for e in b.get("entry", [])}

    def gid(self, *codes):
        return {self.groups[c]["id"] for c in codes}

    def test_read_is_the_job_resource(self):
        self.assertEqual(sorted(self.groups), ["consentconstraint", "match", "nomatch"])
        for code, g in self.groups.items():
            r = self.get("/fhir/Group/" + g["id"], headers={"Authorization": PAYER})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("content-type"), "application/fhir+json")
            self.assertEqual(r.json(), g, code)
            # PDex examples: the requesting payer as identifier
            self.assertEqual(g["identifier"], [{"system": NPI, "value": PAYER_NPI}])
            self.assertRegex(g["meta"]["lastUpdated"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        # through the gate's content negotiation too
        r = self.get("/fhir/Group/%s?_format=json" % self.groups["match"]["id"],
                     headers={"Authorization": PAYER})
        self.assertEqual(r.json(), self.groups["match"])

    def test_other_payers_groups_are_404(self):
        theirs = self.other["match"]["id"]
        for gid, auth in ((theirs, PAYER), (self.groups["match"]["id"], OTHER),
                          ("no-such-group", PAYER)):
            r = self.get("/fhir/Group/" + gid, headers={"Authorization": auth})
            self.assertOutcome(r, 404, "not-found")
        self.assertNotIn(theirs, self.ids(self.search()))
        self.assertEqual(self.ids(self.search("_id=" + theirs)), set())
        self.assertEqual(self.ids(self.search(auth=OTHER)), {g["id"] for g in
                                                              self.other.values()})
        r = self.get("/fhir/Group/" + theirs)
        self.assertOutcome(r, 401)

    def test_search_all_own(self):
        b = self.search()
        self.assertEqual(self.ids(b), self.gid("match", "nomatch", "consentconstraint"))
        self.assertEqual(b["total"], 3)
        for e in b["entry"]:
            self.assertEqual(e["fullUrl"], "%s/fhir/Group/%s" % (self.server.base,
                                                                 e["resource"]["id"]))
            self.assertEqual(e["search"], {"mode": "match"})
            code = e["resource"]["code"]["coding"][0]["code"]
            self.assertEqual(e["resource"], self.groups[code])
        self.assertEqual([l["relation"] for l in b["link"]], ["self"])
        js = validator()
        if js is not None:
            p = subprocess.run(["node", js], input=json.dumps(b), capture_output=True,
                               text=True, cwd=CACHE,
                               env=dict(os.environ, NODE_PATH=os.path.join(CACHE, "node_modules")))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_search_code(self):
        cases = (("code=match", {"match"}),
                 ("code=" + urllib.parse.quote(RESULT_CS + "|nomatch"), {"nomatch"}),
                 ("code=match,consentconstraint", {"match", "consentconstraint"}),
                 ("code=" + urllib.parse.quote(RESULT_CS + "|"),
                  {"match", "nomatch", "consentconstraint"}),
                 ("code=%7Cmatch", set()),                 # |match: no system
                 ("code=http://other%7Cmatch", set()),
                 ("code=unknown", set()),
                 ("code=match&code=nomatch", set()))       # both at once: none
        for q, want in cases:
            self.assertEqual(self.ids(self.search(q)), self.gid(*want), q)

    def test_search_identifier(self):
        every = {"match", "nomatch", "consentconstraint"}
        for q, want in (("identifier=" + PAYER_NPI, every),
                        ("identifier=" + urllib.parse.quote(NPI + "|" + PAYER_NPI), every),
                        ("identifier=" + urllib.parse.quote(NPI + "|"), every),
                        ("identifier=" + urllib.parse.quote(NPI + "|1234567893"), set()),
                        ("identifier=%7C" + PAYER_NPI, set()),
                        ("identifier=" + PAYER_NPI + "&code=match", {"match"})):
            self.assertEqual(self.ids(self.search(q)), self.gid(*want), q)

    def test_search_characteristic(self):
        m = {"match"}
        payer = urllib.parse.quote(NPI + "|" + PAYER_NPI)
        for q, want in (("characteristic=match", m),
                        ("characteristic=" + urllib.parse.quote(RESULT_CS + "|match"), m),
                        ("characteristic=nomatch", set()),
                        ("characteristic-value=match$" + payer, m),
                        ("characteristic-value=match%24" + PAYER_NPI, m),
                        ("characteristic-value=" + urllib.parse.quote(RESULT_CS + "|match$")
                         + payer, m),
                        ("characteristic-value=match$1234567893", set()),
                        ("characteristic-value=match$%7C" + PAYER_NPI, set()),
                        ("characteristic-value=nomatch$" + payer, set()),
                        ("characteristic-value=nomatch$x,match$" + PAYER_NPI, m)):
            self.assertEqual(self.ids(self.search(q)), self.gid(*want), q)

    def test_search_last_updated(self):
        every = {"match", "nomatch", "consentconstraint"}
        today = datetime.datetime.now(datetime.timezone.utc).date()
        day = datetime.timedelta(days=1)
        for q, want in (("_lastUpdated=ge%s" % (today - day), every),
                        ("_lastUpdated=%s" % today, every),
                        ("_lastUpdated=lt%s" % today, set()),
                        ("_lastUpdated=gt%s" % today, set()),
                        ("_lastUpdated=ge%s&_lastUpdated=le%s" % (today - day, today + day),
                         every),
                        ("_lastUpdated=ne%s" % today, set()),
                        ("_lastUpdated=ge2020-01-01T00:00:00Z&code=nomatch", {"nomatch"})):
            self.assertEqual(self.ids(self.search(q)), self.gid(*want), q)

    def test_paging(self):
        seen, url, pages = [], "/fhir/Group?_count=1&identifier=" + PAYER_NPI, 0
        while url and pages < 10:
            r = self.get(url, headers={"Authorization": PAYER})
            self.assertEqual(r.status, 200, r)
            b = r.json()
            self.assertEqual(b["total"], 3)
            self.assertEqual(len(b["entry"]), 1)
            seen += [e["resource"]["id"] for e in b["entry"]]
            nx = [l["url"] for l in b["link"] if l["relation"] == "next"]
            self.assertEqual(len(nx) == 0, len(seen) == 3, b["link"])
            url = self.local(nx[0]) if nx else None
            if url:
                self.assertIn("identifier=" + PAYER_NPI, url)
            pages += 1
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(set(seen), self.gid("match", "nomatch", "consentconstraint"))
        # past the last: no entry, no next
        b = self.search("_count=1&_cursor=" + max(seen))
        self.assertNotIn("entry", b)
        self.assertEqual(b["total"], 3)

    def test_refusals(self):
        for q, status, code in (("name=x", 400, "not-supported"),
                                ("code:text=match", 400, "not-supported"),
                                ("code=", 400, "value"),
                                ("characteristic-value=match", 400, "value"),
                                ("_lastUpdated=sa2024", 400, "not-supported"),
                                ("_count=1000", 400, "value"),
                                ("_format=xml", 406, "not-supported")):
            r = self.get("/fhir/Group?" + q, headers={"Authorization": PAYER})
            self.assertOutcome(r, status, code)
        r = self.post("/fhir/Group", {"resourceType": "Group"},
                      headers={"Authorization": PAYER})
        self.assertOutcome(r, 405)
