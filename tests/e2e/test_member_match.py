"""$member-match through lighttpd: the commercial seed's members, the
government guide's Example 01 (older PDex form), refusals, consent rules,
the probing guard, and that a match belongs to the client that made it.

Needs the loader (p2p-admin load) and auth (Basic or tokens for the seed
clients); the class is skipped, saying why, while either is missing."""
import copy
import datetime
import json
import os
import tempfile
import unittest
import urllib.parse

import harness

MM = "/fhir/Patient/$member-match"
EXAMPLE = os.path.join(harness.SRC, "share", "examples", "member-match-001.json")
GUIDE_MEMBER = os.path.join(harness.SRC, "share", "seed", "pdex-guide-member.json")
UMB = ("http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp", "UMB")
IRCP = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP"}]}

# Members only this test needs: two look-alikes and the guide's Example 01
# member (used when the loader's share/seed/pdex-guide-member.json is absent).
FIXTURE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "lookalike-1",
                  "name": [{"family": "Twin", "given": ["Alex"]}],
                  "gender": "other", "birthDate": "1990-09-09"}},
    {"resource": {"resourceType": "Patient", "id": "lookalike-2",
                  "name": [{"family": "Twin", "given": ["Alex"]}],
                  "gender": "other", "birthDate": "1990-09-09"}},
]}
GUIDE_FIXTURE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"resource": {"resourceType": "Patient", "id": "564730725596728",
                  "identifier": [{
                      "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                           "code": "MB"}]},
                      "system": "https://bluebutton.cms.gov/resources/variables/bene_id",
                      "value": "564730725596728"}],
                  "name": [{"use": "official", "family": "Parker", "given": ["Malorie"]}],
                  "gender": "male", "birthDate": "1937-07-28"}},
]}


def day(delta):
    return (datetime.date.today() + datetime.timedelta(days=delta)).isoformat()


def example():
    """The seed's member 001 request in single-member form, with a
    consent period around today (the seed's own ends 2027-01-01)."""
    body = json.load(open(EXAMPLE))
    consent(body)["provision"]["period"] = {"start": day(-30), "end": day(365)}
    return body


def param(body, name):
    return [p for p in body["parameter"] if p["name"] == name][0]["resource"]


def consent(body):
    return param(body, "Consent")


def guide_example01():
    """Example 01 of the government guide, verbatim (the older form)."""
    return {"resourceType": "Parameters", "id": "member-match-in", "parameter": [
        {"name": "MemberPatient", "resource": copy.deepcopy(GUIDE_FIXTURE["entry"][0]["resource"])
         | {"id": "1"}},
        {"name": "OldCoverage", "resource": {
            "resourceType": "Coverage", "id": "9876B1",
            "contained": [{"resourceType": "Organization", "id": "payer",
                           "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi",
                                           "value": "9876543210"}],
                           "active": True, "name": "Old Health Plan"}],
            "identifier": [{"system": "http://example.org/old-payer", "value": "DH10001235"}],
            "status": "draft", "beneficiary": {"reference": "Patient/1"},
            "period": {"start": "2011-05-23", "end": "2012-05-23"},
            "payor": [{"reference": "#payer"}]}},
        {"name": "NewCoverage", "resource": {
            "resourceType": "Coverage", "id": "AA87654",
            "identifier": [{"system": "http://example.org/new-payer/identifiers/coverage",
                            "value": "234567"}],
            "status": "active", "beneficiary": {"reference": "Patient/1"},
            "payor": [{"reference": "#payer"}]}}]}


class MatchBase(harness.ServerTest):
    """A server with the seed and the fixtures; self.match() posts as a
    seed client."""
    load_seed = False
    conf = {"probe_limit": "5"}

    @classmethod
    def prepare(cls, server):
        server.admin("load", harness.SEED)
        d = tempfile.mkdtemp(dir=server.dir)
        fixtures = [FIXTURE]
        if not os.path.exists(GUIDE_MEMBER):
            fixtures.append(GUIDE_FIXTURE)
        else:
            server.admin("load", GUIDE_MEMBER)
        for i, f in enumerate(fixtures):
            path = os.path.join(d, "fixture-%d.json" % i)
            json.dump(f, open(path, "w"))
            server.admin("load", path)

    def setUp(self):
        if self._testMethodName == "test_unauthenticated":
            return
        if not hasattr(type(self), "auth"):
            type(self).auth = {c: self.credentials(c, s) for c, s in (
                ("test-payer-client", "test-payer-secret"),
                ("test-provider-client", "test-provider-secret"))}
        if type(self).auth["test-payer-client"] is None:
            self.fail("no way to authenticate the seed clients")

    def credentials(self, client, secret):
        """Authorization header for a seed client: a token from
        /auth/token, else Basic on the API (allow_basic_api, demo)."""
        form = urllib.parse.urlencode({"grant_type": "client_credentials"})
        r = self.post("/auth/token", form, headers={
            "Authorization": harness.basic(client, secret),
            "Content-Type": "application/x-www-form-urlencoded"})
        if r.status == 200 and "access_token" in r.json():
            return "Bearer " + r.json()["access_token"]
        basic = harness.basic(client, secret)
        r = self.post(MM, {"resourceType": "Parameters"},
                      headers={"Authorization": basic})
        return basic if r.status == 400 else None

    def match(self, body, client="test-payer-client", raw=None):
        h = {"Authorization": self.auth[client]}
        if raw is not None:
            h["Content-Type"] = "application/fhir+json"
            return self.post(MM, raw, headers=h)
        return self.post(MM, body, headers=h)


class MemberMatch(MatchBase):

    # --- successes --------------------------------------------------------

    def test_seed_member_001_matches(self):
        r = self.match(example())
        self.assertEqual(r.status, 200, r)
        out = {p["name"]: p for p in r.json()["parameter"]}
        self.assertEqual(set(out), {"MemberIdentifier", "MemberId"})
        ident = out["MemberIdentifier"]["valueIdentifier"]
        codings = {(c["system"], c["code"]) for c in ident["type"]["coding"]}
        self.assertIn(UMB, codings)
        self.assertIn(("http://terminology.hl7.org/CodeSystem/v2-0203", "MB"), codings)
        self.assertEqual(ident["value"], "test-member-001")
        self.assertTrue(ident["system"].endswith("/member-id"), ident)
        self.assertEqual(out["MemberId"]["valueReference"]["reference"],
                         "Patient/test-member-001")

    def test_example_file_verbatim(self):
        if datetime.date.today().isoformat() >= "2027-01-01":
            self.skipTest("the seed consent's period has ended")
        r = self.match(json.load(open(EXAMPLE)))
        self.assertEqual(r.status, 200, r)

    def test_guide_example01_gets_example02_shape(self):
        r = self.match(guide_example01())
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual([p["name"] for p in body["parameter"]],
                         ["MemberPatient", "NewCoverage"])
        pat = param(body, "MemberPatient")
        self.assertEqual(pat["id"], "1")
        self.assertEqual(pat["identifier"][0]["value"], "564730725596728")  # echoed
        umb = pat["identifier"][-1]
        self.assertIn("UMB", [c["code"] for c in umb["type"]["coding"]])
        self.assertEqual(umb["value"], "564730725596728")
        self.assertEqual(param(body, "NewCoverage")["id"], "AA87654")

    # --- no match, several, opt-out ---------------------------------------

    def test_unknown_member_not_found(self):
        body = example()
        param(body, "MemberPatient")["name"] = [{"family": "Nobody", "given": ["Ann"]}]
        oo = self.assertOutcome(self.match(body), 422, "not-found")
        self.assertIn("No member match found", json.dumps(oo))
        self.assertNotIn("test-member", json.dumps(oo))

    def test_lookalikes_multiple_matches(self):
        body = example()
        param(body, "MemberPatient").update(
            {"name": [{"family": "Twin", "given": ["Alex"]}], "gender": "other",
             "birthDate": "1990-09-09"})
        del param(body, "CoverageToMatch")["subscriberId"]
        self.assertOutcome(self.match(body), 422, "multiple-matches")

    def test_member_002_opted_out(self):
        body = example()
        param(body, "MemberPatient").update(
            {"name": [{"family": "Williams", "given": ["Sarah"]}], "gender": "female",
             "birthDate": "1985-03-12"})
        param(body, "CoverageToMatch")["subscriberId"] = "SUB-002"
        r = self.match(body)
        oo = self.assertOutcome(r, 422, "forbidden")
        self.assertIn("opted out", json.dumps(oo))
        self.assertNotIn("test-member-002", r.body.decode())

    # --- consent refusals -------------------------------------------------

    def test_expired_consent(self):
        body = example()
        consent(body)["provision"]["period"] = {"start": "2024-01-01", "end": day(-1)}
        oo = self.assertOutcome(self.match(body), 422, "business-rule")
        self.assertIn("expired", json.dumps(oo))

    def match_recipient(self, reference):
        """$member-match of the example whose Consent names reference as
        its recipient (IRCP)."""
        body = example()
        consent(body)["provision"]["actor"] = [{"role": IRCP, "reference": reference}]
        return self.match(body)

    def test_consent_for_other_payer_by_reference(self):
        r = self.match_recipient({"reference": "Organization/other-payer-001"})
        self.assertOutcome(r, 422, "forbidden")

    def test_consent_for_other_payer_by_npi(self):
        r = self.match_recipient({"identifier": {
            "system": "http://hl7.org/fhir/sid/us-npi", "value": "9999999999"}})
        self.assertOutcome(r, 422, "forbidden")

    def test_consent_for_us_by_npi(self):
        r = self.match_recipient({"identifier": {
            "system": "http://hl7.org/fhir/sid/us-npi", "value": "5555555555"}})
        self.assertEqual(r.status, 200)

    def test_missing_consent(self):
        body = example()
        body["parameter"] = [p for p in body["parameter"] if p["name"] != "Consent"]
        oo = self.assertOutcome(self.match(body), 400, "required")
        self.assertIn("Consent", json.dumps(oo))

    # --- malformed requests -----------------------------------------------

    def test_malformed(self):
        cases = [
            ({"resourceType": "Patient"}, "structure", "resourceType"),
            ({"resourceType": "Parameters", "parameter": [{"name": "MemberPatient"}]},
             "required", "Parameters.parameter[0].resource"),
        ]
        body = example()
        body["parameter"][1]["resource"]["resourceType"] = "Patient"
        cases.append((body, "structure", "Parameters.parameter[1].resource"))
        body = example()
        body["parameter"].append({"name": "Bogus", "valueString": "x"})
        cases.append((body, "not-supported", "Parameters.parameter[3].name"))
        body = example()
        body["parameter"].append(body["parameter"][0])
        cases.append((body, "structure", "Parameters.parameter[3]"))   # duplicated
        body = example()
        body["parameter"][2]["name"] = "OldCoverage"       # forms mixed
        cases.append((body, "not-supported", None))
        for b, code, expr in cases:
            with self.subTest(code=code, expr=expr):
                oo = self.assertOutcome(self.match(b), 400, code)
                if expr:
                    self.assertEqual(oo["issue"][0]["expression"], [expr])

    def test_demographics_matching_would_ignore_are_refused(self):
        """Issue 15.3: every element matching reads is used or refused
        with 400 naming it.  A birthDate of 16 characters or more used to
        be dropped from matching, so member 001's card matched with a
        wrong birth date."""
        pat = "Parameters.parameter[0].resource."
        cases = [  # (change to MemberPatient, issue code, element)
            ({"birthDate": "1999-01-01T00:00:00Z"}, "value", "birthDate"),
            ({"birthDate": "0000-00-00T00:00:00"}, "value", "birthDate"),
            ({"birthDate": "1952-02-30"}, "value", "birthDate"),
            ({"birthDate": 19520725}, "structure", "birthDate"),
            ({"name": [{"family": ["Johnson"], "given": ["Robert"]}]}, "structure",
             "name[0].family"),
            ({"name": [{"family": "Johnson"}, {"family": ["Johnson"]}]}, "structure",
             "name[1].family"),
            ({"name": [{"family": "Johnson", "given": "Robert"}]}, "structure",
             "name[0].given"),
            ({"gender": "M"}, "value", "gender"),
            ({"identifier": [{"value": 12345}]}, "structure", "identifier[0].value"),
        ]
        for change, code, expr in cases:
            with self.subTest(change=change):
                body = example()
                param(body, "MemberPatient").update(change)
                oo = self.assertOutcome(self.match(body), 400, code)
                self.assertEqual(oo["issue"][0]["expression"], [pat + expr])
        body = example()
        param(body, "CoverageToMatch")["subscriberId"] = ["SUB-001"]
        oo = self.assertOutcome(self.match(body), 400, "structure")
        self.assertEqual(oo["issue"][0]["expression"],
                         ["Parameters.parameter[1].resource.subscriberId"])

    def test_partial_birth_date_compares_exactly(self):
        """A partial date is valid FHIR, and matches only a birth date
        stored to the same precision: member 001 is 1952-07-25."""
        body = example()
        param(body, "MemberPatient")["birthDate"] = "1952-07"
        self.assertOutcome(self.match(body), 422, "not-found")

    def test_invalid_json(self):
        self.assertOutcome(self.match(None, raw="{\"resourceType\": "), 400)

    def test_unauthenticated(self):
        r = self.post(MM, example())
        self.assertEqual(r.status, 401, r)

    # --- probing guard ----------------------------------------------------

    def test_probing_throttled(self):
        body = example()
        param(body, "MemberPatient")["name"] = [{"family": "Prober", "given": ["Pat"]}]
        statuses = []
        for i in range(7):
            param(body, "CoverageToMatch")["subscriberId"] = "GUESS-%d" % i
            statuses.append(self.match(body).status)
        self.assertEqual(statuses[:5], [422] * 5)
        self.assertEqual(statuses[5:], [429, 429])
        r = self.match(body)
        self.assertOutcome(r, 429, "throttled")
        self.assertEqual(r.header("retry-after"), "600")
        # Another client is not throttled for the same demographics.
        if self.auth["test-provider-client"]:
            consent(body)["provision"]["actor"] = [
                {"role": IRCP, "reference": {"reference": "Organization/test-provider-001"}}]
            self.assertEqual(self.match(body, "test-provider-client").status, 422)

    def test_body_in_another_charset_415(self):
        """Issue 15.8: the body is read as UTF-8; a request saying it is
        something else is refused before it is read."""
        for ct in ("application/fhir+json; charset=utf-16",
                   "application/fhir+json;charset=\"ISO-8859-1\""):
            with self.subTest(ct=ct):
                r = self.post(MM, json.dumps(example()).encode("utf-16")
                              if "16" in ct else json.dumps(example()),
                              headers={"Authorization": self.auth["test-payer-client"],
                                       "Content-Type": ct})
                self.assertOutcome(r, 415, "not-supported")

    # --- group commit ---------------------------------------------------------

    def test_concurrent_requests_each_answered_and_stored(self):
        """member-match serves the requests waiting together in one
        transaction (web/batch.c): 24 at once, matching and not, each
        gets its own answer, and each 200 is a stored match and consent
        with its audit record."""
        import sqlite3
        import threading
        db = os.path.join(self.server.data, "p2p.db")

        def counts():
            c = sqlite3.connect(db)
            try:
                return [c.execute(q).fetchone()[0] for q in (
                    "SELECT count(*) FROM match WHERE patient = 'test-member-001'",
                    "SELECT count(*) FROM consent WHERE patient = 'test-member-001'",
                    "SELECT count(*) FROM audit WHERE event = 'match' AND"
                    " outcome = 'success' AND patient = 'test-member-001'",
                    "SELECT count(*) FROM audit WHERE event = 'match' AND"
                    " outcome = 'failure' AND detail LIKE '422 member-match:%'")]
            finally:
                c.close()

        before = counts()
        bodies = []
        for i in range(24):
            body = example()
            if i % 3 == 2:      # an unknown person: 422, nothing stored
                param(body, "MemberPatient")["name"] = [{"family": "Nobody%d" % i}]
            bodies.append(body)
        out = [None] * len(bodies)

        def one(i):
            out[i] = self.match(bodies[i])
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, r in enumerate(out):
            if i % 3 == 2:
                self.assertOutcome(r, 422, "not-found")
            else:
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json()["parameter"][1]["valueReference"]["reference"],
                                 "Patient/test-member-001")
        after = counts()
        self.assertEqual([a - b for a, b in zip(after, before)], [16, 16, 16, 8])
        # Each answer is its own request's.
        ids = {r.header("x-request-id") for r in out}
        self.assertEqual(len(ids), len(out))

    # --- a match belongs to its client --------------------------------------

    def test_second_client_cannot_use_first_clients_match(self):
        self.assertEqual(self.match(example()).status, 200)
        other = self.auth["test-provider-client"]
        self.assertIsNotNone(other, "test-provider-client cannot authenticate")
        # Resubmitting the first payer's consent does not work for it ...
        self.assertOutcome(self.match(example(), "test-provider-client"), 422, "forbidden")
        # ... and the member's data is not released to it.
        path = "/fhir/Patient/test-member-001/$everything"
        mine = self.get(path, headers={"Authorization": self.auth["test-payer-client"]})
        self.assertEqual(mine.status, 200, mine)
        theirs = self.get(path, headers={"Authorization": other})
        self.assertIn(theirs.status, (403, 404), theirs)


class ProbingGuard(MatchBase):
    """The probing guard counts the person matching reaches (issue
    15.2): its own server, so that the throttled people do not disturb
    the other tests."""

    def johnson(self, sub, given=("Robert",), identifier=None):
        body = example()
        pat = param(body, "MemberPatient")
        pat["name"] = [{"family": "Johnson", "given": list(given)}]
        if identifier is not None:
            pat["identifier"] = [{"system": "http://example.org/member-id",
                                  "value": identifier}]
        if sub is None:
            del param(body, "CoverageToMatch")["subscriberId"]
        else:
            param(body, "CoverageToMatch")["subscriberId"] = sub
        return body

    def test_given_name_variants_stay_throttled(self):
        """7 wrong subscriber ids answer 5 x 422, then 429; the same
        person with given ["Robert", "X<n>"] (matching reads the first
        given name) used to get 8 more guesses and then the match."""
        statuses = [self.match(self.johnson("WRONG-%d" % i)).status for i in range(7)]
        self.assertEqual(statuses, [422] * 5 + [429] * 2)
        for n in range(8):
            r = self.match(self.johnson("WRONG-X%d" % n, given=("Robert", "X%d" % n)))
            self.assertOutcome(r, 429, "throttled")
        for given in (("Robert", "X9"), ("Rob", "ert"), ()):
            r = self.match(self.johnson("SUB-001", given=given))
            self.assertOutcome(r, 429, "throttled")
        self.assertNotIn("test-member-001", r.body.decode())

    def test_patient_identifier_guesses_counted(self):
        """Card data on MemberPatient.identifier counts like a subscriber
        id: guessing the member id with the Coverage unchanged is
        throttled too.  (Another person than the test above.)"""
        def sarah(ident):
            body = example()
            pat = param(body, "MemberPatient")
            pat.update({"name": [{"family": "Williams", "given": ["Sarah"]}],
                        "gender": "female", "birthDate": "1985-03-12",
                        "identifier": [{"system": "http://example.org/member-id",
                                        "value": ident}]})
            del param(body, "CoverageToMatch")["subscriberId"]
            return body
        statuses = [self.match(sarah("M0000%d" % i)).status for i in range(6)]
        self.assertEqual(statuses, [422] * 5 + [429])
        # The right member id: throttled, not "opted out" (which would
        # tell the guess was right).
        self.assertOutcome(self.match(sarah("M67890")), 429, "throttled")


if __name__ == "__main__":
    unittest.main()
