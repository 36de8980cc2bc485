"""Conformance found by black-box testing (issue #14): Bulk Data $export
for generic clients, kick-offs without a body, _since in the future,
content negotiation (_format and Accept), unknown operations.

The data and the matches are test_export.py's (ExportBase): payer-b has
members exp-m1 and exp-m2 (MatchedMembers group g-exp), payer-l matched
both but exp-m2's consent lapsed, payer-c has exp-m2 only (group g-c).
"""
import json
import urllib.parse

from test_export import M1, M2, P2P_EXPORT, BulkBase

FUTURE = "2999-01-01T00:00:00Z"


class GenericExport(BulkBase):
    def kick(self, path, client="payer-b", method="POST", **h):
        """A kick-off as a generic Bulk Data client sends it: no body,
        no Content-Type."""
        h = self.auth(client, Prefer="respond-async", **h)
        return self.request(method, path, headers=h)

    def test_group_export_is_davinci_data_export(self):
        # Medplum's startAsyncRequest: POST without body or Content-Type.
        m = self.wait(self.kickoff(self.kick("/fhir/Group/g-exp/$export")))
        files = self.files(m)
        self.assertEqual(self.ids(files), M1 | M2)
        self.assertEqual(m["error"], [])
        self.assertTrue(m["request"].endswith("/fhir/Group/g-exp/$export"), m)
        self.check_resources([x for rs in files.values() for x in rs])
        # the same export as $davinci-data-export
        dde = self.wait(self.kickoff(self.export()))
        self.assertEqual(self.ids(self.files(dde)), self.ids(files))
        # GET with parameters; exportType may be given, the PDex one only
        q = "_type=Patient,Coverage&exportType=" + urllib.parse.quote(P2P_EXPORT, safe="")
        m = self.wait(self.kickoff(self.kick("/fhir/Group/g-exp/$export?" + q,
                                             method="GET")))
        self.assertEqual(self.ids(self.files(m)),
                         {"exp-m1", "exp-m2", "cov-exp-m1", "cov-exp-m2"})

    def test_group_export_refusals(self):
        # another client's group, a NonMatchedMembers group, none: 404
        for gid, client in (("g-c", "payer-b"), ("g-exp", "payer-c"),
                            ("g-nomatch", "payer-b"), ("nothing", "payer-b")):
            self.assertOutcome(self.kick("/fhir/Group/%s/$export" % gid, client),
                               404, "not-found")
        r = self.kick("/fhir/Group/g-exp/$export?exportType=hl7.fhir.us.davinci-pdex%23"
                      "provider-download")
        self.assertOutcome(r, 400, "not-supported")
        self.assertOutcome(self.kick("/fhir/Group/g-exp/$export?_elements=id"), 400)
        # asynchronous only
        r = self.post("/fhir/Group/g-exp/$export", headers=self.auth())
        self.assertOutcome(r, 400, "not-supported")

    def test_patient_export(self):
        m = self.wait(self.kickoff(self.kick("/fhir/Patient/$export")))
        files = self.files(m)
        self.assertEqual(self.ids(files), M1 | M2)
        self.assertEqual(m["error"], [])
        self.check_resources([x for rs in files.values() for x in rs])
        # only what the caller matched
        m = self.wait(self.kickoff(self.kick("/fhir/Patient/$export", "payer-c")),
                      client="payer-c")
        self.assertEqual(self.ids(self.files(m, client="payer-c")), M2)
        # a member whose consent lapsed is left out, and named
        m = self.wait(self.kickoff(self.kick("/fhir/Patient/$export?_type=Patient",
                                             "payer-l")), client="payer-l")
        self.assertEqual(self.ids(self.files(m, client="payer-l")), {"exp-m1"})
        oo = [x for rs in self.files(m, client="payer-l", key="error").values()
              for x in rs]
        self.assertEqual(len(oo), 1)
        self.assertIn("exp-m2", json.dumps(oo[0]))
        # another client cannot poll it
        self.assertOutcome(self.get(self.kickoff(self.kick("/fhir/Patient/$export")),
                                    headers=self.auth("payer-c")), 404)

    def test_patient_export_refusals(self):
        # Bulk Data's patient parameter is not offered here (400, not ignored)
        r = self.kick("/fhir/Patient/$export?patient=Patient/exp-m1")
        self.assertOutcome(r, 400, "not-supported")
        r = self.get("/fhir/Patient/$export", headers={"Prefer": "respond-async"})
        self.assertEqual(r.status, 401, r)

    def test_since_in_the_future(self):
        for path in ("/fhir/Patient/exp-m1/$everything?_since=" + FUTURE,
                     "/fhir/Group/g-exp/$export?_since=" + FUTURE,
                     "/fhir/Patient/$export?_since=" + FUTURE):
            oo = self.assertOutcome(self.kick(path, method="GET"), 400, "value")
            self.assertIn("future", json.dumps(oo))
        r = self.export(params=[{"name": "_since", "valueInstant": FUTURE}])
        self.assertOutcome(r, 400, "value")
        self.assertOutcome(self.everything(query="_since=" + FUTURE), 400, "value")
        # the past is fine
        self.assertEqual(self.everything(query="_since=2020-01-01T00:00:00Z").status, 200)

    def test_empty_post_everything(self):
        r = self.post("/fhir/Patient/exp-m1/$everything", headers=self.auth())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["type"], "searchset")
        # a Content-Type without a body is still a malformed body
        r = self.post("/fhir/Patient/exp-m1/$everything", b"",
                      headers=self.auth(**{"Content-Type": "application/fhir+json"}))
        self.assertOutcome(r, 400)

    def test_unknown_operations_are_404(self):
        for method, path in (("POST", "/fhir/Patient/exp-m1/$export"),
                             ("POST", "/fhir/$export"),
                             ("GET", "/fhir/Group/g-exp/$unknown"),
                             ("POST", "/fhir/Group/g-exp/$everything"),
                             ("POST", "/fhir/Patient/$nothing")):
            r = self.request(method, path, headers=self.auth(Prefer="respond-async"))
            self.assertOutcome(r, 404, "not-found")
            self.assertIsNone(r.header("allow"))
        # a known path with another method is still 405
        r = self.request("DELETE", "/fhir/Patient/$export", headers=self.auth())
        self.assertOutcome(r, 405)
        self.assertEqual(r.header("allow"), "GET, POST")


class Negotiation(BulkBase):
    """FHIR http.html: _format (over Accept) on $everything and reads."""

    def test_format_json_forms(self):
        for f in ("json", "application/json", "application/fhir%2Bjson",
                  "application/fhir+json", "application/json%2Bfhir",
                  "application/fhir%2Bjson%3B%20fhirVersion%3D4.0"):
            r = self.everything(query="_format=" + f)
            self.assertEqual(r.status, 200, (f, r))
            self.assertEqual(r.json()["resourceType"], "Bundle")
            r = self.get("/fhir/Consent/c-exp-901?_format=" + f, headers=self.auth())
            self.assertEqual(r.status, 200, (f, r))   # (the fixture's Consent is {})
        r = self.get("/fhir/metadata?_format=json")
        self.assertEqual(r.status, 200, r)
        # _format overrides Accept
        r = self.everything(query="_format=json", Accept="application/fhir+xml")
        self.assertEqual(r.status, 200, r)

    def test_format_not_served(self):
        for f in ("xml", "application/fhir%2Bxml", "text/xml", "ttl", "text/turtle",
                  "ndjson", "html"):
            for path in ("/fhir/Patient/exp-m1/$everything", "/fhir/Consent/c-exp-901",
                         "/fhir/metadata"):
                r = self.get(path + "?_format=" + f, headers=self.auth())
                oo = self.assertOutcome(r, 406, "not-supported")
                self.assertEqual(oo["issue"][0]["expression"], ["_format"])
        r = self.everything(query="_format=json&_format=xml")
        self.assertOutcome(r, 400, "value")

    def test_accept(self):
        for a in ("application/fhir+json", "application/json", "*/*",
                  "application/fhir+xml;q=0.9, application/fhir+json",
                  "text/html, */*;q=0.1", "application/fhir+json; fhirVersion=4.0"):
            self.assertEqual(self.everything(Accept=a).status, 200, a)
        for a in ("application/fhir+xml", "application/xml, text/turtle",
                  "application/fhir+json;q=0", "application/fhir+json; fhirVersion=3.0"):
            self.assertOutcome(self.everything(Accept=a), 406, "not-supported")
            r = self.get("/fhir/Consent/c-exp-901", headers=self.auth(Accept=a))
            self.assertOutcome(r, 406, "not-supported")
        # the SMART configuration is JSON whatever is asked
        r = self.get("/.well-known/smart-configuration",
                     headers={"Accept": "application/fhir+xml"})
        self.assertEqual(r.status, 200, r)

    def test_bulk_file_negotiation(self):
        m = self.wait(self.kickoff(self.export()))
        url = self.local(m["output"][0]["url"])
        for a in ("application/fhir+ndjson", "application/ndjson", "*/*"):
            r = self.get(url, headers=self.auth(Accept=a))
            self.assertEqual(r.status, 200, (a, r))
        r = self.get(url + "&_format=ndjson", headers=self.auth())
        self.assertEqual(r.status, 200, r)
        self.assertOutcome(self.get(url, headers=self.auth(Accept="application/fhir+xml")),
                           406)
        self.assertOutcome(self.get(url + "&_format=json", headers=self.auth()), 406)


class Metadata(BulkBase):
    def test_capability_statement_says_what_is_served(self):
        r = self.get("/fhir/metadata")
        self.assertEqual(r.status, 200, r)
        cs = r.json()
        res = {x["type"]: x for x in cs["rest"][0]["resource"]}
        group = res["Group"]
        self.assertEqual({i["code"] for i in group["interaction"]}, {"read", "search-type"})
        self.assertEqual({p["name"] for p in group["searchParam"]},
                         {"_id", "identifier", "code", "characteristic",
                          "characteristic-value", "_lastUpdated"})
        self.assertEqual({o["name"] for o in group["operation"]},
                         {"bulk-member-match", "davinci-data-export", "export"})
        self.assertIn("export", {o["name"] for o in res["Patient"]["operation"]})
        sec = cs["rest"][0]["security"]["description"]
        for m in ("private_key_jwt", "client_secret_basic", "client_secret_post"):
            self.assertIn(m, sec)
        # (the schema package knows fhirVersion up to 4.0.0, R4's ballot)
        self.check_resources([dict(cs, fhirVersion="4.0.0")])
        sc = self.get("/.well-known/smart-configuration").json()
        self.assertEqual(set(sc["token_endpoint_auth_methods_supported"]),
                         {"private_key_jwt", "client_secret_basic", "client_secret_post"})
