#!/usr/bin/python3
"""Builds the seed corpus of the fuzz harnesses from the tests' own
requests (tests/fuzz/README.md).

It runs end-to-end test files (default: member-match, bulk, auth,
export, consent, loader) with harness.Server.request and .admin
wrapped, so that every request a test sends (method, path, headers,
body) and every file it loads is recorded, then sorts what it saw into
one directory per harness, adding the shipped examples and seed data:

  json, member_match, bulk_match   request bodies (and seed resources)
  jose                             client assertions, Bearer tokens, the
                                   signed vectors, an access token
  jwks                             the vectors' key set
  basic                            what follows "Basic "
  query                            query strings and form bodies
  typefilter                       _type and _typeFilter values
  time                             dates, dateTimes and instants seen
  loader, prepare                  loaded files / their ndjson lines

Usage (after make, from the top of the tree):
  tests/fuzz/mkcorpus.py OUTDIR [test_x.py ...]
then keep what adds coverage:
  build-fuzz/fuzz_NAME -merge=1 tests/fuzz/corpus/NAME OUTDIR/NAME
"""
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import unittest
import urllib.parse

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ.setdefault("P2P_SRCDIR", TOP)
os.environ.setdefault("P2P_BUILDDIR", TOP)
import harness  # noqa: E402

DEFAULT_TESTS = ["test_member_match.py", "test_bulk.py", "test_auth.py",
                 "test_export.py", "test_consent.py", "test_loader.py"]
TIME_RE = re.compile(rb'"(\d{4}(?:-\d\d(?:-\d\d(?:T[0-9:.]+(?:Z|[+-]\d\d:\d\d)?)?)?)?)"')
MAX_SIZE = 64 * 1024

requests = []       # (method, path, headers, body bytes)
loaded = []         # file contents given to p2p-admin load


def record():
    request, admin = harness.Server.request, harness.Server.admin

    def rec_request(self, method, path, body=None, headers=None, timeout=30):
        raw = body
        if isinstance(raw, (dict, list)):
            raw = json.dumps(raw).encode()
        elif isinstance(raw, str):
            raw = raw.encode()
        requests.append((method, path, dict(headers or {}), raw or b""))
        return request(self, method, path, body=body, headers=headers,
                       timeout=timeout)

    def rec_admin(self, *args, **kw):
        if args and args[0] == "load":
            for a in args[1:]:
                if os.path.isfile(a):
                    loaded.append(open(a, "rb").read())
        return admin(self, *args, **kw)

    harness.Server.request = rec_request
    harness.Server.admin = rec_admin


def vectors():
    """The JOSE vectors of tests/unit/jose_vectors.h, by name."""
    text = open(os.path.join(TOP, "tests", "unit", "jose_vectors.h")).read()
    out = {}
    for name, val in re.findall(r'#define (V_\w+) "((?:[^"\\]|\\.)*)"', text):
        out[name] = val.encode().decode("unicode_escape")
    return out


def access_token():
    """An access token as auth_token_new() makes it, signed with the key
    fuzz_jose.c uses (bytes i * 7 + 1) and valid at V_NOW."""
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    key = bytes((i * 7 + 1) & 0xff for i in range(32))
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    cfg_base = "http://127.0.0.1:8080"     # config.c default base_url
    body = b64(json.dumps({
        "iss": cfg_base, "sub": "c1", "aud": cfg_base + "/fhir",
        "iat": 1999999800, "exp": 2000000100, "jti": "j1",
        "scope": "system/*.rs", "npi": "1234567893"}).encode())
    sig = b64(hmac.new(key, head + b"." + body, hashlib.sha256).digest())
    return head + b"." + body + b"." + sig


class Corpus:
    def __init__(self, out):
        self.out = out
        self.n = {}

    def add(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        if not data or len(data) > MAX_SIZE:
            return
        d = os.path.join(self.out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, hashlib.sha1(data).hexdigest())
        if not os.path.exists(path):
            open(path, "wb").write(data)
            self.n[name] = self.n.get(name, 0) + 1


def ndjson_lines(data):
    return [l for l in data.split(b"\n") if l.strip()]


def sort(c):
    for method, path, headers, body in requests:
        target = urllib.parse.urlsplit(path)
        ctype = next((v for k, v in headers.items()
                      if k.lower() == "content-type"), "")
        auth = next((v for k, v in headers.items()
                     if k.lower() == "authorization"), "")
        if target.query:
            c.add("query", target.query)
            for k, v in urllib.parse.parse_qsl(target.query):
                if k in ("_type", "_typeFilter"):
                    c.add("typefilter", v)
                if k in ("_since", "_until", "start", "end"):
                    c.add("time", v)
        if auth.startswith("Basic "):
            c.add("basic", auth[6:])
        elif auth.startswith("Bearer "):
            c.add("jose", auth[7:])
        if not body:
            continue
        if "x-www-form-urlencoded" in ctype:
            c.add("query", body)
            for k, v in urllib.parse.parse_qsl(body.decode(errors="replace")):
                if k == "client_assertion":
                    c.add("jose", v)
            continue
        c.add("json", body)
        if path.startswith("/fhir/Patient/$member-match"):
            c.add("member_match", body)
        elif path.startswith("/fhir/Group/$bulk-member-match"):
            c.add("bulk_match", body)
        for t in TIME_RE.findall(body):
            c.add("time", t)
    for data in loaded:
        c.add("loader", data)
        for line in ndjson_lines(data):
            if line.lstrip().startswith(b"{"):
                c.add("prepare", line.strip())


def shipped(c):
    share = os.path.join(TOP, "share")
    for d, _, files in os.walk(share):
        for f in files:
            if not f.endswith((".json", ".ndjson")):
                continue
            data = open(os.path.join(d, f), "rb").read()
            c.add("json", data)
            c.add("loader", data)
            if f.startswith("member-match"):
                c.add("member_match", data)
            for line in ndjson_lines(data) if f.endswith(".ndjson") else []:
                c.add("json", line.strip())
                c.add("prepare", line.strip())
    for f in os.listdir(os.path.join(TOP, "tests", "e2e", "data")):
        data = open(os.path.join(TOP, "tests", "e2e", "data", f), "rb").read()
        c.add("loader", data)
        for line in ndjson_lines(data):
            c.add("prepare", line.strip())
    v = vectors()
    for name in ("V_RS256", "V_RS384", "V_ES256", "V_ES384"):
        c.add("jose", v[name])
    c.add("jose", access_token())
    c.add("jwks", v["V_JWKS"])
    for t in ("Patient", "Patient,Coverage,ExplanationOfBenefit",
              "ExplanationOfBenefit?status=active,Coverage?_lastUpdated=gt2020-01-01",
              "Observation?date=ge2024-01&date=lt2025-06-30T00:00:00Z"):
        c.add("typefilter", t)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    tests = sys.argv[2:] or DEFAULT_TESTS
    record()
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    for t in tests:
        suite.addTests(loader.discover(os.path.join(TOP, "tests", "e2e"),
                                       pattern=t))
    unittest.TextTestRunner(verbosity=1, stream=sys.stderr).run(suite)
    c = Corpus(out)
    sort(c)
    shipped(c)
    for name in sorted(c.n):
        print("%-14s %d inputs" % (name, c.n[name]))


if __name__ == "__main__":
    main()
