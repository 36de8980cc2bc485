"""The data scope decided at load, seen through Patient/$everything:
prior authorizations for drugs (HCPCS J-codes included) and their
release_drug_pa switch, the change time of PAs loaded without
meta.lastUpdated, and the loader refusing invalid FHIR, nothing of the
file released.

Member exp-m1 and its payers come from test_export.ExportBase; the PAs
here are dated from today, so the test does not age.
"""
import datetime

import harness
import test_export

HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
REVIEW = ("http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/"
          "extension-reviewAction")


def day(n):
    """Today plus n days, as a FHIR date."""
    return str(datetime.date.today() + datetime.timedelta(days=n))


def pa(pid, *, code, system=HCPCS, created, start, end, status="active",
       decision="A1", meta=True):
    """A professional prior authorization of exp-m1 for one service."""
    r = {"resourceType": "ExplanationOfBenefit", "id": pid,
         "status": status, "use": "preauthorization",
         "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
         "patient": {"reference": "Patient/exp-m1"},
         "billablePeriod": {"start": start, "end": end},
         "created": created + "T10:00:00Z",
         "insurer": {"reference": "Organization/org-exp-1"},
         "provider": {"reference": "Organization/org-exp-1"},
         "outcome": "complete",
         "insurance": [{"focal": True,
                        "coverage": {"reference": "Coverage/cov-exp-m1"}}],
         "preAuthRefPeriod": [{"start": start, "end": end}],
         "item": [{"sequence": 1,
                   "productOrService": {"coding": [{"system": system,
                                                    "code": code}]},
                   "adjudication": [{
                       "category": {"coding": [{
                           "system": "http://terminology.hl7.org/CodeSystem/"
                                     "adjudication",
                           "code": "submitted"}]},
                       "extension": [{"url": REVIEW, "extension": [{
                           "url": "code",
                           "valueCodeableConcept": {"coding": [{
                               "system": "https://codesystem.x12.org/005010/306",
                               "code": decision}]}}]}]}]}]}
    if meta:
        r["meta"] = {"lastUpdated": created + "T10:00:00Z"}
    return r


class DataScope(test_export.ExportBase):
    @classmethod
    def prepare(cls, server):
        super().prepare(server)
        pas = [
            # a physician-administered drug on a professional claim
            pa("pa-jcode", code="J0135", created=day(-30), start=day(-20),
               end=day(300)),
            # approved, expired 14 months ago, no meta.lastUpdated: its
            # change is that expiry, not the load
            pa("pa-nolu-expired", code="72148",
               system="http://www.ama-assn.org/go/cpt", created=day(-450),
               start=day(-440), end=day(-425), meta=False),
            # cancelled two months ago, no meta.lastUpdated: released
            pa("pa-nolu-cancelled", code="72148",
               system="http://www.ama-assn.org/go/cpt", created=day(-60),
               start=day(-50), end=day(40), status="cancelled", meta=False),
            # an approved service PA still running: released
            pa("pa-cpap", code="E0601", created=day(-10), start=day(-5),
               end=day(200)),
        ]
        server.load("pas.ndjson", pas)

    def ids(self):
        r = self.everything()
        self.assertEqual(r.status, 200, r)
        return {e["resource"]["id"] for e in r.json().get("entry", [])}

    def test_drug_pa_not_released(self):
        """Regression (issue 15 point 7): a J-code PA was released."""
        ids = self.ids()
        self.assertNotIn("pa-jcode", ids)
        self.assertNotIn("pa-m1-pharmacy", ids)
        self.assertIn("pa-cpap", ids)

    def test_pa_without_last_updated(self):
        """Regression (issue 15 point 7): a closed PA loaded without
        meta.lastUpdated counted as changed at its load."""
        ids = self.ids()
        self.assertNotIn("pa-nolu-expired", ids)
        self.assertIn("pa-nolu-cancelled", ids)
        # the stored resource still carries a lastUpdated (the load's)
        r = self.everything(query="_type=ExplanationOfBenefit")
        got = {e["resource"]["id"]: e["resource"]
               for e in r.json().get("entry", [])}
        self.assertIn("lastUpdated", got["pa-nolu-cancelled"]["meta"])

    def test_release_drug_pa_switch(self):
        """release_drug_pa = 1 releases drug PAs without a reload, and
        only those the other PA rules let out."""
        srv = self.server
        try:
            srv.stop()
            srv.set_conf(release_drug_pa="1")
            srv.start()
            ids = self.ids()
            self.assertIn("pa-jcode", ids)
            self.assertIn("pa-m1-pharmacy", ids)
            self.assertNotIn("pa-m1-denied", ids)
            self.assertNotIn("pa-nolu-expired", ids)
        finally:
            srv.stop()
            srv.set_conf(release_drug_pa="0")
            srv.start()
        self.assertNotIn("pa-jcode", self.ids())


class InvalidFiles(test_export.ExportBase):
    """Regression (issue 15 point 6): invalid FHIR loaded with exit 0 and
    came back out of $everything."""

    def load(self, name, lines):
        return self.server.load(name, lines, check=False)

    def obs(self, oid, **kw):
        r = {"resourceType": "Observation", "id": oid, "status": "final",
             "code": {"text": "x"}, "subject": {"reference": "Patient/exp-m1"},
             "effectiveDateTime": day(-3)}
        r.update(kw)
        return r

    def assertRefused(self, p, *texts):
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        for t in texts:
            self.assertIn(t, p.stderr)
        self.assertIn("nothing from this file was kept", p.stderr)

    def test_refused_with_line_and_element(self):
        cases = [
            ([self.obs("inv-ok-1"), dict(self.obs("inv-type"),
                                         resourceType="Observaton")],
             'line 2: resourceType "Observaton" is not a FHIR R4 resource '
             'type'),
            ([self.obs("inv-ok-2"), self.obs("inv-date",
                                             effectiveDateTime="2026-13-45")],
             'line 2: Observation/inv-date: effectiveDateTime "2026-13-45" '
             'is not a valid FHIR dateTime'),
            ([self.obs("inv-ok-3", issued="yesterday")],
             'line 1: Observation/inv-ok-3: issued "yesterday" is not a '
             'valid FHIR instant'),
            ([self.obs("inv-ok-4"), self.obs("inv-ref", subject={
                "reference": "Patient"})],
             'line 2: Observation/inv-ref: subject.reference "Patient" is '
             'not a valid reference'),
            ([self.obs("inv-ok-5"), self.obs("inv id")],
             'line 2: Observation: id "inv id" is not a valid FHIR id'),
        ]
        for lines, msg in cases:
            with self.subTest(msg=msg):
                self.assertRefused(self.load("bad.ndjson", lines), msg)
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": self.obs("inv-ok-6")},
            {"resource": self.obs("inv-tz", effectiveDateTime=
                                  "2026-12-01T00:00:00-99:99")}]}
        self.assertRefused(self.server.load("bad.json", bundle, check=False),
                           'entry[1]: Observation/inv-tz: effectiveDateTime')
        # nothing of any of these files is released
        r = self.everything()
        self.assertEqual(r.status, 200, r)
        ids = {e["resource"]["id"] for e in r.json().get("entry", [])}
        self.assertEqual({i for i in ids if i.startswith("inv")}, set())
        self.assertIn("obs-exp-m1-new", ids)
        # a valid file still loads (exit 0) and is released
        p = self.load("good.ndjson", [self.obs("inv-ok-7")])
        self.assertEqual(p.returncode, 0, p.stderr)
        r = self.everything()
        self.assertIn("inv-ok-7", {e["resource"]["id"]
                                   for e in r.json().get("entry", [])})
