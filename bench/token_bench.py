#!/usr/bin/python3
"""Token issuance throughput with ES384 assertions.

Starts a server (tests/e2e/harness.py) on a fresh data directory,
registers a client with an EC P-384 key made by the openssl CLI,
pre-signs N assertions with PyJWT and posts them with C concurrent
connections; prints tokens/s.

Usage: P2P_SRCDIR=. P2P_BUILDDIR=. LIGHTTPD=/usr/sbin/lighttpd \
       bench/token_bench.py [N] [C]
"""
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "e2e"))
import harness  # noqa: E402
import jwt  # noqa: E402
from test_auth import ATYPE, FORM, jwk, make_key  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
conc = int(sys.argv[2]) if len(sys.argv) > 2 else 4
srv = harness.Server()
try:
    tmp = tempfile.mkdtemp(dir=srv.dir)
    key, pem = make_key(tmp, "P-384")
    path = os.path.join(tmp, "jwks.json")
    json.dump({"keys": [jwk(key, "k1")]}, open(path, "w"))
    srv.admin("client", "add", "--id", "bench", "--jwks", path, "--npi", "1234567893",
              "--org-name", "Bench Payer")
    srv.start()
    aud = srv.base + "/auth/token"
    exp = int(time.time()) + 290
    bodies = [urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_assertion_type": ATYPE,
        "scope": "system/*.rs",
        "client_assertion": jwt.encode(
            {"iss": "bench", "sub": "bench", "aud": aud, "exp": exp,
             "jti": uuid.uuid4().hex}, pem, algorithm="ES384",
            headers={"kid": "k1", "typ": "JWT"})}) for _ in range(n)]
    bad = [0]
    import http.client

    def worker(chunk):
        u = urllib.parse.urlsplit(srv.base)
        c = http.client.HTTPConnection(u.hostname, u.port)
        for b in chunk:
            c.request("POST", "/auth/token", body=b, headers=FORM)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                bad[0] += 1
        c.close()

    threads = [threading.Thread(target=worker, args=(bodies[i::conc],))
               for i in range(conc)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    print("%d tokens in %.2f s with %d connections: %.0f tokens/s (%d refused)"
          % (n, dt, conc, n / dt, bad[0]))
finally:
    srv.cleanup()
