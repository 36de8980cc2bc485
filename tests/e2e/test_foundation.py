"""Foundation: metadata, discovery, routing, method/size/type refusals."""
import unittest

import harness


class Metadata(harness.ServerTest):
    load_seed = False

    def test_capability_statement(self):
        r = self.get("/fhir/metadata")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/fhir+json")
        cs = r.json()
        self.assertEqual(cs["resourceType"], "CapabilityStatement")
        self.assertEqual(cs["fhirVersion"], "4.0.1")
        self.assertEqual(cs["implementation"]["url"], self.server.base + "/fhir")
        ops = {o["name"]: o["definition"] for res in cs["rest"][0]["resource"]
               for o in res.get("operation", [])}
        self.assertEqual(ops["member-match"],
                         "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match")
        sec = cs["rest"][0]["security"]
        token = sec["extension"][0]["extension"][0]["valueUri"]
        self.assertEqual(token, self.server.base + "/auth/token")

    def test_smart_configuration(self):
        for path in ("/.well-known/smart-configuration",
                     "/fhir/.well-known/smart-configuration"):
            r = self.get(path, headers={"Accept": "text/html"})
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.header("content-type"), "application/json")
            sc = r.json()
            self.assertEqual(sc["token_endpoint"], self.server.base + "/auth/token")
            self.assertEqual(sc["token_endpoint_auth_methods_supported"],
                             ["private_key_jwt", "client_secret_basic", "client_secret_post"])
            self.assertIn("ES384", sc["token_endpoint_auth_signing_alg_values_supported"])
            self.assertIn("RS384", sc["token_endpoint_auth_signing_alg_values_supported"])
            self.assertEqual(sc["grant_types_supported"], ["client_credentials"])

    def test_unknown_fhir_path_is_404_outcome(self):
        self.assertOutcome(self.get("/fhir/Nothing/here"), 404, "not-found")

    def test_wrong_method_is_405_with_allow(self):
        r = self.request("DELETE", "/fhir/metadata")
        self.assertOutcome(r, 405, "not-supported")
        self.assertEqual(r.header("allow"), "GET")
        r = self.get("/fhir/Patient/$member-match")
        self.assertOutcome(r, 405, "not-supported")
        self.assertEqual(r.header("allow"), "POST")

    def test_malformed_path_escape_is_400(self):
        self.assertOutcome(self.get("/fhir/meta%zzdata"), 400, "invalid")

    def test_request_id_header(self):
        r = self.get("/fhir/metadata")
        self.assertRegex(r.header("x-request-id"), "^[0-9a-f]{16}$")

    def test_log_line_per_request(self):
        self.get("/fhir/metadata?probe=loglinecheck")
        log = self.server.log()
        self.assertRegex(log, r"metadata\[info\] GET /fhir/metadata 200 \d+ms client=- id=[0-9a-f]{16}")


class Limits(harness.ServerTest):
    load_seed = False
    conf = {"max_body": 2048}

    def test_oversized_body_is_413(self):
        body = {"resourceType": "Parameters", "parameter": [], "pad": "x" * 4096}
        r = self.post("/fhir/Patient/$member-match", body)
        self.assertOutcome(r, 413, "too-costly")

    def test_body_over_the_web_server_limit_is_413_outcome(self):
        # Above lighttpd's own ceiling (1 MiB): refused before the body is
        # read, and still answered as FHIR through the error handler.
        body = b'{"resourceType":"Parameters","pad":"' + b"x" * (2 << 20) + b'"}'
        r = self.post("/fhir/Patient/$member-match", body,
                      headers={"Content-Type": "application/fhir+json"})
        self.assertOutcome(r, 413, "too-costly")

    def test_unknown_path_outside_fhir_is_404_outcome(self):
        self.assertOutcome(self.get("/no/such/thing"), 404, "not-found")

    def test_wrong_content_type_is_415(self):
        r = self.post("/fhir/Patient/$member-match", "<xml/>",
                      headers={"Content-Type": "application/xml"})
        self.assertOutcome(r, 415, "not-supported")


if __name__ == "__main__":
    unittest.main()
