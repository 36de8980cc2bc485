"""Authentication: SMART Backend Services token endpoint, client secrets,
access tokens on API calls, scopes, JWKS URLs.

Keys are made at test time by the openssl CLI; assertions are signed by
PyJWT (an implementation independent of the server's JOSE code)."""
import base64
import http.server
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import harness

ATYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SECRET = "basic-client-secret-0123456789"
NPI = "1234567893"
# An API call that got past authentication: Patient/x/$everything answers
# 404 (no member x matched by this client), or 501 before issue #6.
PAST_AUTH = (404, 501)
# The operation scopes "client add" registers by default (with system/*.rs).
MATCH_SCOPES = ("http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match"
                " http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch"
                " http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/bulk-member-match")


def b64u(n, length=None):
    raw = n.to_bytes(length or (n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_key(tmp, kind):
    """A private key made by the openssl CLI, loaded with cryptography."""
    path = os.path.join(tmp, "%s-%s.pem" % (kind, uuid.uuid4().hex[:6]))
    if kind == "rsa":
        args = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
    else:
        args = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:" + kind]
    subprocess.run(["openssl", "genpkey"] + args + ["-out", path], check=True,
                   capture_output=True)
    pem = open(path, "rb").read()
    return serialization.load_pem_private_key(pem, None), pem


def jwk(key, kid):
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return {"kty": "RSA", "kid": kid, "n": b64u(n.n), "e": b64u(n.e)}
    n = pub.public_numbers()
    crv, size = {"secp384r1": ("P-384", 48), "secp256r1": ("P-256", 32)}[pub.curve.name]
    return {"kty": "EC", "kid": kid, "crv": crv, "x": b64u(n.x, size),
            "y": b64u(n.y, size)}


def form(**kv):
    return urllib.parse.urlencode(kv)


class AuthBase(harness.ServerTest):
    load_seed = False

    def assertion(self, pem, kid, alg, iss="payer-b", sub=None, aud=None,
                  exp=120, jti=None, headers=None, **claims):
        now = int(time.time())
        payload = {"iss": iss, "sub": sub or iss,
                   "aud": aud or self.server.base + "/auth/token",
                   "exp": now + exp, "jti": jti or uuid.uuid4().hex}
        payload.update(claims)
        h = {"kid": kid, "typ": "JWT"}
        h.update(headers or {})
        return jwt.encode(payload, pem, algorithm=alg, headers=h)

    def token_request(self, assertion, scope="system/*.rs", headers=None, **extra):
        body = {"grant_type": "client_credentials", "client_assertion_type": ATYPE,
                "client_assertion": assertion, "scope": scope}
        body.update(extra)
        body = {k: v for k, v in body.items() if v is not None}
        h = dict(FORM)
        h.update(headers or {})
        return self.post("/auth/token", form(**body), headers=h)

    def assertOAuth(self, r, status, error):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("content-type"), "application/json", r)
        self.assertEqual(r.json()["error"], error, r)
        self.assertTrue(r.json()["error_description"], r)
        self.assertEqual(r.header("cache-control"), "no-store")

    def audit(self):
        db = sqlite3.connect(os.path.join(self.server.data, "p2p.db"))
        try:
            return db.execute("SELECT outcome, client_id, detail FROM audit"
                              " WHERE event = 'token' ORDER BY aid").fetchall()
        finally:
            db.close()


class TokenEndpoint(AuthBase):
    conf = {"allow_basic_api": "1"}

    @classmethod
    def prepare(cls, server):
        cls.tmp = tempfile.mkdtemp(prefix="p2p-keys-", dir=server.dir)
        cls.rsa, cls.rsa_pem = make_key(cls.tmp, "rsa")
        cls.ec, cls.ec_pem = make_key(cls.tmp, "P-384")
        cls.ec256, cls.ec256_pem = make_key(cls.tmp, "P-256")
        cls.other, cls.other_pem = make_key(cls.tmp, "P-384")
        jwks = {"keys": [jwk(cls.rsa, "rsa1"), jwk(cls.ec, "ec1"),
                         jwk(cls.ec256, "ec256")]}
        path = os.path.join(cls.tmp, "jwks.json")
        json.dump(jwks, open(path, "w"))
        server.admin("client", "add", "--id", "payer-b", "--jwks", path, "--npi", NPI,
                     "--org-name", "Payer B")
        server.admin("client", "add", "--id", "limited", "--jwks", path, "--npi", NPI,
                     "--scopes", "system/Group.rs")
        server.admin("client", "add", "--id", "leaving", "--jwks", path, "--npi", NPI)
        server.admin("client", "add", "--id", "gone", "--jwks", path, "--npi", NPI)
        server.admin("client", "disable", "gone")
        server.admin("client", "add", "--id", "basic-client", "--secret-stdin",
                     "--npi", NPI, "--grant", "basic",
                     "--scopes", "system/*.rs user/*.*", input=SECRET + "\n")
        server.admin("client", "add", "--id", "secret-only", "--secret", SECRET,
                     "--npi", NPI)

    def token(self, client="payer-b", scope="system/*.rs"):
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384", iss=client),
                               scope=scope)
        self.assertEqual(r.status, 200, r)
        return r.json()["access_token"]

    # --- success ---------------------------------------------------------
    def check_success(self, r, scope):
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("cache-control"), "no-store")
        self.assertEqual(r.header("pragma"), "no-cache")
        j = r.json()
        self.assertEqual(j["token_type"], "bearer")
        self.assertEqual(j["expires_in"], 300)
        self.assertEqual(j["scope"], scope)
        self.assertNotIn("refresh_token", j)
        return j["access_token"]

    def test_rs384_success(self):
        r = self.token_request(self.assertion(self.rsa_pem, "rsa1", "RS384"))
        self.check_success(r, "system/*.rs")

    def test_es384_success_and_api_call(self):
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="system/*.read system/Patient.rs")
        tok = self.check_success(r, "system/*.read system/Patient.rs")
        r = self.get("/fhir/Patient/x/$everything",
                     headers={"Authorization": "Bearer " + tok})
        self.assertIn(r.status, PAST_AUTH, r)   # past auth

    def test_es256_and_rs256_success(self):
        self.check_success(self.token_request(
            self.assertion(self.ec256_pem, "ec256", "ES256")), "system/*.rs")
        self.check_success(self.token_request(
            self.assertion(self.rsa_pem, "rsa1", "RS256")), "system/*.rs")

    def test_scope_intersection(self):
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="system/*.rs user/*.* system/Patient.write")
        self.check_success(r, "system/*.rs")

    def test_basic_success(self):
        r = self.post("/auth/token", form(grant_type="client_credentials",
                                          scope="user/*.*"),
                      headers=dict(FORM, Authorization=harness.basic("basic-client", SECRET)))
        tok = self.check_success(r, "user/*.*")
        r = self.get("/fhir/Patient/x/$everything",
                     headers={"Authorization": "Bearer " + tok})
        self.assertIn(r.status, PAST_AUTH, r)

    # --- issue #14: generic OAuth clients --------------------------------
    def test_unknown_resource_type_scope(self):
        # RFC 6749 5.2: a scope naming no FHIR R4 resource type.
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="system/NoSuchResourceType.read")
        self.assertOAuth(r, 400, "invalid_scope")
        self.assertIn("NoSuchResourceType", r.json()["error_description"])
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="system/Patient.rs system/Patients.rs")
        self.assertOAuth(r, 400, "invalid_scope")
        r = self.post("/auth/token", form(grant_type="client_credentials",
                                          scope="system/NoSuchResourceType.read"),
                      headers=dict(FORM, Authorization=harness.basic("basic-client", SECRET)))
        self.assertOAuth(r, 400, "invalid_scope")
        # a type R4 defines, beyond the registration: left out (unchanged)
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="system/*.rs system/Account.write")
        self.check_success(r, "system/*.rs")

    def test_rfc9068_claims(self):
        tok = self.token()
        h, p, _ = tok.split(".")
        head = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        self.assertEqual(head, {"alg": "HS256", "typ": "at+jwt"})
        for c in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"):
            self.assertIn(c, claims)
        self.assertEqual(claims["client_id"], "payer-b")
        self.assertEqual(claims["sub"], "payer-b")
        self.assertEqual(claims["iss"], self.server.base)
        self.assertEqual(claims["aud"], self.server.base + "/fhir")
        self.assertEqual(claims["exp"] - claims["iat"], 300)
        # an independent JWT library verifies it with the server key
        v = jwt.decode(tok, self.server_key(), algorithms=["HS256"],
                       audience=self.server.base + "/fhir", issuer=self.server.base)
        self.assertEqual(v["client_id"], "payer-b")
        self.assertNotEqual(self.token().split(".")[1], p)     # jti differs

    def test_no_scope_secret_client_gets_registered(self):
        # RFC 6749 3.3: the registered default, said in the answer.
        r = self.post("/auth/token", form(grant_type="client_credentials"),
                      headers=dict(FORM, Authorization=harness.basic("basic-client", SECRET)))
        tok = self.check_success(r, "system/*.rs user/*.*")
        self.assertIn(self.api("Bearer " + tok).status, PAST_AUTH)
        r = self.post("/auth/token", form(grant_type="client_credentials",
                                          client_id="secret-only", client_secret=SECRET),
                      headers=FORM)
        self.check_success(r, "system/*.rs " + MATCH_SCOPES)
        # an empty scope is still malformed
        r = self.post("/auth/token", form(grant_type="client_credentials", scope=""),
                      headers=dict(FORM, Authorization=harness.basic("basic-client", SECRET)))
        self.assertOAuth(r, 400, "invalid_request")

    def test_client_secret_post(self):
        r = self.post("/auth/token", form(grant_type="client_credentials", scope="user/*.*",
                                          client_id="basic-client", client_secret=SECRET),
                      headers=FORM)
        tok = self.check_success(r, "user/*.*")
        self.assertIn(self.api("Bearer " + tok).status, PAST_AUTH)
        # wrong secret, unknown client: invalid_client, 400 (no Authorization
        # header was used: RFC 6749 5.2), without WWW-Authenticate
        for cid, sec in (("basic-client", "wrong-secret-0123456789"),
                         ("stranger", SECRET), ("gone", SECRET), ("basic-client", "")):
            r = self.post("/auth/token", form(grant_type="client_credentials",
                                              scope="system/*.rs", client_id=cid,
                                              client_secret=sec), headers=FORM)
            self.assertOAuth(r, 400, "invalid_client")
            self.assertIsNone(r.header("www-authenticate"))
        # one method at a time; the secret needs its id
        r = self.post("/auth/token", form(grant_type="client_credentials", scope="system/*.rs",
                                          client_id="basic-client", client_secret=SECRET),
                      headers=dict(FORM, Authorization=harness.basic("basic-client", SECRET)))
        self.assertOAuth(r, 400, "invalid_request")
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               client_id="payer-b", client_secret=SECRET)
        self.assertOAuth(r, 400, "invalid_request")
        r = self.post("/auth/token", form(grant_type="client_credentials", scope="system/*.rs",
                                          client_secret=SECRET), headers=FORM)
        self.assertOAuth(r, 400, "invalid_request")
        self.assertTrue(any(d == "issued: client_secret_post" for _, _, d in self.audit()))

    def test_bare_token_is_bearer(self):
        # The government guide's curl examples: "Authorization: <token>".
        tok = self.token()
        self.assertIn(self.api(tok).status, PAST_AUTH)
        self.assertIn(self.api("bearer " + tok).status, PAST_AUTH)
        # anything else stays an RFC 6750 401
        for h in ("Token " + tok, tok[:-3] + "xyz", tok + " extra", "eyJ"):
            self.assert401(self.api(h))

    # --- refusals of the assertion ----------------------------------------
    def refused(self, assertion, why=None, **kw):
        r = self.token_request(assertion, **kw)
        self.assertOAuth(r, 400, "invalid_client")
        if why:
            self.assertIn(why, r.json()["error_description"])
        return r

    def test_wrong_aud(self):
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384",
                                    aud=self.server.base + "/fhir"), "aud")

    def test_expired(self):
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384", exp=-120), "expired")

    def test_exp_too_far(self):
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384", exp=3600), "ahead")

    def test_replayed_jti(self):
        a = self.assertion(self.rsa_pem, "rsa1", "RS384")
        self.assertEqual(self.token_request(a).status, 200)
        self.refused(a, "jti already used")
        # the same jti in a fresh assertion is refused too
        jti = uuid.uuid4().hex
        self.assertEqual(self.token_request(
            self.assertion(self.ec_pem, "ec1", "ES384", jti=jti)).status, 200)
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384", jti=jti), "jti")

    def test_unknown_kid(self):
        self.refused(self.assertion(self.ec_pem, "nope", "ES384"), "kid")

    def test_kid_of_other_key_type(self):
        # kid of the RSA key with an EC algorithm: kty must fit alg
        self.refused(self.assertion(self.ec_pem, "rsa1", "ES384"), "kid")

    def test_bad_signature(self):
        self.refused(self.assertion(self.other_pem, "ec1", "ES384"), "signature")
        a = self.assertion(self.rsa_pem, "rsa1", "RS384")
        h, p, s = a.split(".")
        p2 = base64.urlsafe_b64encode(json.dumps(
            dict(json.loads(base64.urlsafe_b64decode(p + "==")), iss="payer-b ")).encode()
        ).rstrip(b"=").decode()
        self.refused(".".join([h, p2, s]))

    def test_alg_none(self):
        def part(o):
            return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
        now = int(time.time())
        a = part({"alg": "none", "kid": "ec1", "typ": "JWT"}) + "." + part(
            {"iss": "payer-b", "sub": "payer-b", "aud": self.server.base + "/auth/token",
             "exp": now + 60, "jti": uuid.uuid4().hex}) + "."
        self.refused(a, "alg")

    def test_hs256(self):
        now = int(time.time())
        a = jwt.encode({"iss": "payer-b", "sub": "payer-b",
                        "aud": self.server.base + "/auth/token", "exp": now + 60,
                        "jti": uuid.uuid4().hex}, "shared-secret-0123456789abcdef",
                       algorithm="HS256", headers={"kid": "ec1"})
        self.refused(a, "alg")

    def test_malformed(self):
        self.refused("not-a-jwt")
        self.refused("a.b.c")

    def test_typ_and_sub(self):
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384",
                                    headers={"typ": "at+jwt"}), "typ")
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384", sub="someone"), "sub")

    def test_unknown_client(self):
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384", iss="stranger"),
                     "unknown client")

    def test_disabled_client(self):
        self.refused(self.assertion(self.ec_pem, "ec1", "ES384", iss="gone"), "disabled")

    def test_bad_scope(self):
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="system/Patient.dsr")
        self.assertOAuth(r, 400, "invalid_scope")
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               scope="patient/*.rs")
        self.assertOAuth(r, 400, "invalid_scope")

    def test_missing_parameters(self):
        a = self.assertion(self.ec_pem, "ec1", "ES384")
        for drop in ("grant_type", "client_assertion", "client_assertion_type"):
            r = self.token_request(a, **{drop: None})
            self.assertOAuth(r, 400, "invalid_request")
        # SMART Backend Services: scope is required; RFC 6749 3.3 names
        # the refusal of a missing scope invalid_scope.
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"), scope=None)
        self.assertOAuth(r, 400, "invalid_scope")
        self.assertIn("scope is required", r.json()["error_description"])
        r = self.token_request(a, client_assertion_type="urn:other")
        self.assertOAuth(r, 400, "invalid_request")

    def test_wrong_content_type(self):
        body = form(grant_type="client_credentials", client_assertion_type=ATYPE,
                    client_assertion=self.assertion(self.ec_pem, "ec1", "ES384"),
                    scope="system/*.rs")
        r = self.post("/auth/token", body, headers={"Content-Type": "application/json"})
        self.assertOAuth(r, 400, "invalid_request")

    def test_wrong_grant_type(self):
        r = self.token_request(self.assertion(self.ec_pem, "ec1", "ES384"),
                               grant_type="authorization_code")
        self.assertOAuth(r, 400, "unsupported_grant_type")

    def test_basic_wrong_secret(self):
        for cred in (harness.basic("basic-client", "wrong-secret-0123456789"),
                     harness.basic("stranger", SECRET), "Basic !!!"):
            r = self.post("/auth/token", form(grant_type="client_credentials",
                                              scope="system/*.rs"),
                          headers=dict(FORM, Authorization=cred))
            self.assertOAuth(r, 401, "invalid_client")
            self.assertIn("Basic", r.header("www-authenticate") or "")

    # --- access tokens on API calls ---------------------------------------
    def api(self, auth):
        h = {"Authorization": auth} if auth else {}
        return self.get("/fhir/Patient/x/$everything", headers=h)

    def assert401(self, r):
        self.assertOutcome(r, 401)
        self.assertIn("Bearer", r.header("www-authenticate") or "")

    def server_key(self):
        return bytes.fromhex(open(os.path.join(self.server.data, "keys",
                                               "server.key")).read().strip())

    def forge(self, **over):
        now = int(time.time())
        c = {"iss": self.server.base, "sub": "payer-b", "aud": self.server.base + "/fhir",
             "iat": now, "exp": now + 60, "jti": "x", "scope": "system/*.rs", "npi": NPI}
        typ = over.pop("typ", "at+jwt")
        c.update(over)
        return jwt.encode(c, self.server_key(), algorithm="HS256",
                          headers={"typ": typ})

    def test_api_no_token(self):
        self.assert401(self.api(None))
        self.assert401(self.api("Bearer "))
        self.assert401(self.api("Token abc"))

    def test_api_forged_with_server_key_is_accepted(self):
        # proves the forge() helper matches the server's format ...
        self.assertIn(self.api("Bearer " + self.forge()).status, PAST_AUTH)

    def test_api_token_typ(self):
        # RFC 9068 4: the resource server takes only typ at+jwt.
        self.assertIn(self.api("Bearer " + self.forge(typ="application/at+jwt")).status,
                      PAST_AUTH)
        self.assert401(self.api("Bearer " + self.forge(typ="JWT")))
        r = self.api("Bearer " + self.forge(typ="JWT"))
        self.assertIn("typ", r.json()["issue"][0]["diagnostics"])

    def test_api_expired_token(self):
        # ... so that these refusals are about the one thing changed
        self.assert401(self.api("Bearer " + self.forge(exp=int(time.time()) - 5)))

    def test_api_token_lifetime_capped_by_token_ttl(self):
        """Issue 15.8: a token's lifetime is not trusted as signed: one
        living longer than token_ttl (300 s here), or without an issue
        time, is refused even with the server's own signature."""
        now = int(time.time())
        self.assertIn(self.api("Bearer " + self.forge(iat=now - 10, exp=now + 290)).status,
                      PAST_AUTH)
        self.assert401(self.api("Bearer " + self.forge(iat=now, exp=now + 3600)))
        self.assert401(self.api("Bearer " + self.forge(iat=now - 3000, exp=now + 60)))
        c = {"iss": self.server.base, "sub": "payer-b", "aud": self.server.base + "/fhir",
             "exp": now + 60, "jti": "x", "scope": "system/*.rs", "npi": NPI}
        self.assert401(self.api("Bearer " + jwt.encode(c, self.server_key(), algorithm="HS256")))

    def test_api_wrong_audience_or_issuer(self):
        self.assert401(self.api("Bearer " + self.forge(aud="https://elsewhere/fhir")))
        self.assert401(self.api("Bearer " + self.forge(iss="https://elsewhere")))

    def test_api_wrong_key(self):
        tok = jwt.encode({"iss": self.server.base, "sub": "payer-b",
                          "aud": self.server.base + "/fhir", "exp": int(time.time()) + 60,
                          "scope": "system/*.rs"}, b"k" * 32, algorithm="HS256")
        self.assert401(self.api("Bearer " + tok))

    def test_api_tampered_token(self):
        tok = self.token()
        h, p, s = tok.split(".")
        claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        claims["scope"] = "user/*.*"
        p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        self.assert401(self.api("Bearer " + ".".join([h, p2, s])))
        self.assert401(self.api("Bearer " + tok[:-2] + ("AA" if tok[-2:] != "AA" else "BB")))
        none = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
        self.assert401(self.api("Bearer " + none + "." + p + "."))

    def test_api_disabled_client(self):
        tok = self.token("leaving")
        self.assertIn(self.api("Bearer " + tok).status, PAST_AUTH)
        self.server.admin("client", "disable", "leaving")
        self.assert401(self.api("Bearer " + tok))
        self.server.admin("client", "enable", "leaving")
        self.assertIn(self.api("Bearer " + tok).status, PAST_AUTH)

    def test_api_missing_scope(self):
        r = self.api("Bearer " + self.token("limited", "system/Group.rs"))
        self.assertOutcome(r, 403, "forbidden")
        self.assertIn("insufficient_scope", r.header("www-authenticate") or "")
        r = self.api("Bearer " + self.token("payer-b", "system/Group.rs"))
        self.assertOutcome(r, 403, "forbidden")

    def test_api_basic(self):
        self.assertIn(self.api(harness.basic("basic-client", SECRET)).status, PAST_AUTH)
        # registered with a secret but not with grant type basic
        self.assert401(self.api(harness.basic("secret-only", SECRET)))
        self.assert401(self.api(harness.basic("basic-client", "wrong-secret-0123456789")))

    def test_token_audit_has_no_secrets(self):
        """A grant and a refusal are audited, in words, without the
        secret or any token, whatever ran before."""
        a = self.assertion(self.ec_pem, "ec1", "ES384")
        self.assertEqual(self.token_request(a).status, 200)
        self.refused(a, "jti already used")
        r = self.post("/auth/token", "grant_type=client_credentials&scope=system/*.rs",
                      headers=dict(FORM, Authorization=harness.basic("basic-client", SECRET)))
        self.assertEqual(r.status, 200, r)
        rows = self.audit()
        self.assertTrue(any(o == "success" for o, _, _ in rows))
        # A refusal's record: "<status> <operation>: <reason>".
        self.assertTrue(any(o == "failure" and d == "400 token: jti already used"
                            for o, _, d in rows), rows)
        text = json.dumps(rows)
        self.assertNotIn(SECRET, text)
        self.assertNotIn("eyJ", text)

    def test_client_list_hides_secrets(self):
        out = self.server.admin("client", "list").stdout
        self.assertIn("basic-client", out)
        self.assertNotIn(SECRET, out)
        self.assertNotIn("pbkdf2", out)


class JwksHandler(http.server.BaseHTTPRequestHandler):
    state = {"jwks": None, "fail": False, "hits": 0}

    def do_GET(self):
        st = JwksHandler.state
        st["hits"] += 1
        if st["fail"] or self.path != "/jwks.json":
            self.send_response(500)
            self.end_headers()
            return
        body = json.dumps(st["jwks"]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "max-age=3600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class JwksUrlBase(AuthBase):
    cooldown = "0"

    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.url = "http://127.0.0.1:%d/jwks.json" % cls.httpd.server_address[1]
        cls.conf = {"jwks_allow_http": "1", "jwks_cooldown": cls.cooldown}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        super().tearDownClass()

    @classmethod
    def prepare(cls, server):
        tmp = tempfile.mkdtemp(prefix="p2p-keys-", dir=server.dir)
        cls.k1, cls.k1_pem = make_key(tmp, "P-384")
        cls.k2, cls.k2_pem = make_key(tmp, "rsa")
        JwksHandler.state.update(jwks={"keys": [jwk(cls.k1, "k1")]}, fail=False, hits=0)
        server.admin("client", "add", "--id", "url-client", "--jwks-url", cls.url,
                     "--npi", NPI, "--org-name", "Payer B")

    def ok(self, pem, kid, alg, headers=None):
        return self.token_request(self.assertion(pem, kid, alg, iss="url-client",
                                                 headers=headers))


class JwksUrl(JwksUrlBase):
    def test_rotation_failure_and_jku(self):
        st = JwksHandler.state
        self.assertEqual(self.ok(self.k1_pem, "k1", "ES384").status, 200)
        self.assertEqual(self.ok(self.k1_pem, "k1", "ES384").status, 200)
        self.assertEqual(st["hits"], 1)            # cached (max-age)
        # rotation: new kid makes the server fetch again at once
        st["jwks"] = {"keys": [jwk(self.k2, "k2")]}
        self.assertEqual(self.ok(self.k2_pem, "k2", "RS384").status, 200)
        self.assertEqual(st["hits"], 2)
        self.assertOAuth(self.ok(self.k1_pem, "k1", "ES384"), 400, "invalid_client")
        # the endpoint fails: unknown kid refused, last good set kept
        st["fail"] = True
        self.assertOAuth(self.ok(self.k1_pem, "k3", "ES384"), 400, "invalid_client")
        self.assertEqual(st["hits"], 4)
        self.assertEqual(self.ok(self.k2_pem, "k2", "RS384").status, 200)
        st["fail"] = False
        # jku: only the registered URL
        self.assertEqual(self.ok(self.k2_pem, "k2", "RS384",
                                 headers={"jku": self.url}).status, 200)
        r = self.ok(self.k2_pem, "k2", "RS384", headers={"jku": self.url + "?x"})
        self.assertOAuth(r, 400, "invalid_client")
        self.assertIn("jku", r.json()["error_description"])


class JwksUrlCooldown(JwksUrlBase):
    cooldown = "3600"

    def test_cooldown_limits_refetch(self):
        st = JwksHandler.state
        self.assertEqual(self.ok(self.k1_pem, "k1", "ES384").status, 200)
        st["jwks"] = {"keys": [jwk(self.k1, "k1"), jwk(self.k2, "k2")]}
        for kid in ("x1", "x2", "k2"):
            self.assertOAuth(self.ok(self.k2_pem, kid, "RS384"), 400, "invalid_client")
        self.assertEqual(st["hits"], 1)            # no hammering


if __name__ == "__main__":
    unittest.main()
