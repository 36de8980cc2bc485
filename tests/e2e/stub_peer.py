"""A scriptable previous payer for p2p-request's fault tests.

It speaks just enough SMART Backend Services, HRex $member-match, PDex
$bulk-member-match / $davinci-data-export and Bulk Data 2.0 to drive a
receiving payer, and lets a test decide what goes wrong: any response can
be scripted per path (status, headers, body, delay), manifests and files
are built from what the test sets, files honour Range (206) and can be
sent slowly.  Client assertions are verified with PyJWT against the
receiving payer's published key set (an implementation independent of
p2p's own JOSE code).  Every request is logged with its time.
"""
import http.server
import json
import ssl
import threading
import time
import urllib.request

import jwt

OO = lambda code, text: {"resourceType": "OperationOutcome", "issue": [
    {"severity": "error", "code": code, "diagnostics": text}]}
RESULT_CS = "http://hl7.org/fhir/us/davinci-pdex/CodeSystem/PdexMultiMemberMatchResultCS"
MATCH_EXT = "http://hl7.org/fhir/us/davinci-pdex/StructureDefinition/base-ext-match-parameters"

OPS = {
    "member-match": ("Patient", "http://hl7.org/fhir/us/davinci-hrex/OperationDefinition/member-match"),
    "everything": ("Patient", "http://hl7.org/fhir/OperationDefinition/Patient-everything"),
    "bulk-member-match": ("Group", "http://hl7.org/fhir/us/davinci-pdex/OperationDefinition/BulkMemberMatch"),
    "davinci-data-export": ("Group", "http://hl7.org/fhir/us/davinci-atr/OperationDefinition/davinci-data-export"),
}


class Stub:
    def __init__(self, jwks_url, client_id="payer-b", tls=None, serve_tls=None):
        self.jwks_url = jwks_url
        self.tls = tls              # ssl.SSLContext for an https JWKS URL
        self.client_id = client_id
        self.reset()
        handler = type("H", (Handler,), {"stub": self})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # a client that gave up (the timeout tests) is no error here
        self.httpd.handle_error = lambda request, address: None
        if serve_tls is not None:
            # (certificate, key): the stub answers over HTTPS
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*serve_tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base = "%s://127.0.0.1:%d" % ("https" if serve_tls else "http", self.port)
        self.fhir = self.base + "/fhir"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reset(self):
        self.log = []                 # (time, method, path, headers)
        self.script = {}              # path -> [response, ...] served first
        self.ops = set(OPS)
        self.tokens = 0
        self.token_refusal = None     # (status, body) to refuse tokens
        self.assertions = []          # verified claims
        self.match_as = {}            # our member id -> their Patient id
        self.match_answer = None      # $member-match body (None: MemberId)
        self.bulk_requests = []       # $bulk-member-match bodies
        self.export_files = []        # [(type, lines, count or None)]
        self.export_errors = []       # OperationOutcome lines
        self.everything_pages = None  # [[resources], ...] sync $everything
        self.slow = {}                # file name -> (chunk bytes, pause s)
        self.chunked = set()          # file names sent without Content-Length
        self.exports = []             # $davinci-data-export bodies
        self.file_base = None         # files on another server, or None
        self.requires_token = True    # the manifest's requiresAccessToken
        self.open_files = False       # files served without a token

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits(self, method, prefix):
        return [l for l in self.log if l[1] == method and l[2].startswith(prefix)]

    def manifest(self, kind):
        out, err = [], []
        if kind == "match":
            out.append({"type": "Group", "url": self.base + "/files/group.ndjson", "count": 1})
        else:
            for i, (t, lines, count) in enumerate(self.export_files):
                e = {"type": t, "url": "%s/files/%s-%d.ndjson?exp=9&sig=ab" %
                     (self.file_base or self.base, t, i)}
                if count is not None:
                    e["count"] = count
                out.append(e)
            if self.export_errors:
                err.append({"type": "OperationOutcome", "url": self.base + "/files/errors.ndjson",
                            "count": len(self.export_errors)})
        return {"transactionTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "request": self.fhir + "/x", "requiresAccessToken": self.requires_token,
                "output": out, "error": err}

    def group(self):
        """MatchedMembers for every MemberBundle of the last request."""
        body = self.bulk_requests[-1]
        g = {"resourceType": "Group", "id": "mm1", "type": "person", "actual": True,
             "code": {"coding": [{"system": RESULT_CS, "code": "match"}]},
             "contained": [], "member": []}
        for mb in body["parameter"]:
            pat = [p["resource"] for p in mb["part"] if p["name"] == "MemberPatient"][0]
            remote = self.match_as.get(pat["id"], "r-" + pat["id"])
            g["contained"].append(pat)
            g["member"].append({"entity": {"reference": "Patient/" + remote, "extension": [
                {"url": MATCH_EXT, "valueReference": {"reference": "#" + pat["id"]}}]}})
        return g

    def file_body(self, name):
        if name == "group.ndjson":
            return json.dumps(self.group()) + "\n"
        if name == "errors.ndjson":
            return "".join(json.dumps(o) + "\n" for o in self.export_errors)
        i = int(name.rsplit("-", 1)[1].split(".")[0])
        return "".join(json.dumps(r) + "\n" for r in self.export_files[i][1])


class Handler(http.server.BaseHTTPRequestHandler):
    stub = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body=None, headers=None, ctype="application/fhir+json"):
        data = b""
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def scripted(self, path):
        q = self.stub.script.get(path)
        if not q:
            return False
        r = q.pop(0)
        if r.get("delay"):
            time.sleep(r["delay"])
        self.send(r["status"], r.get("body"), r.get("headers"))
        return True

    def authorized(self):
        if self.headers.get("Authorization", "").startswith("Bearer tok-"):
            return True
        self.send(401, OO("login", "no or bad token"),
                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return False

    def do_DELETE(self):
        self.stub.log.append((time.time(), "DELETE", self.path, dict(self.headers)))
        self.send(202, OO("informational", "deleted"))

    def do_GET(self):
        s = self.stub
        s.log.append((time.time(), "GET", self.path, dict(self.headers)))
        path = self.path.split("?")[0]
        if path == "/fhir/.well-known/smart-configuration":
            return self.send(200, {"token_endpoint": s.base + "/auth/token",
                                   "grant_types_supported": ["client_credentials"],
                                   "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                                   "token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS384"],
                                   "capabilities": ["client-confidential-asymmetric"]},
                             ctype="application/json")
        if path == "/fhir/metadata":
            res = {}
            for op in s.ops:
                t, canon = OPS[op]
                res.setdefault(t, []).append({"name": op, "definition": canon})
            return self.send(200, {"resourceType": "CapabilityStatement", "fhirVersion": "4.0.1",
                                   "rest": [{"mode": "server", "resource": [
                                       {"type": t, "operation": o} for t, o in res.items()]}]})
        if self.scripted(path):
            return
        if s.open_files and path.startswith("/files/"):
            return self.file(path[7:])
        if not self.authorized():
            return
        if path.startswith("/fhir/status/"):
            return self.send(200, s.manifest(path.rsplit("/", 1)[1]), ctype="application/json")
        if path.startswith("/fhir/Patient/") and path.endswith("/$everything"):
            pages = s.everything_pages or [[]]
            page = int(self.path.split("page=")[1]) if "page=" in self.path else 0
            b = {"resourceType": "Bundle", "type": "searchset",
                 "entry": [{"resource": r} for r in pages[page]]}
            if page + 1 < len(pages):
                b["link"] = [{"relation": "next", "url": "%s%s?page=%d" % (s.base, path, page + 1)}]
            return self.send(200, b)
        if path.startswith("/files/"):
            return self.file(path[7:])
        self.send(404, OO("not-found", "nothing at " + path))

    def file(self, name):
        data = self.stub.file_body(name).encode()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.send(416, OO("value", "range"))
        chunked = name in self.stub.chunked
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/fhir+ndjson")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        chunk, pause = self.stub.slow.get(name, (len(data) or 1, 0))
        try:
            for i in range(start, len(data), chunk):
                part = data[i:i + chunk]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                self.wfile.flush()
                if pause:
                    time.sleep(pause)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):
        s = self.stub
        s.log.append((time.time(), "POST", self.path, dict(self.headers)))
        raw = self.body()
        path = self.path.split("?")[0]
        if path == "/auth/token":
            return self.token(raw)
        if self.scripted(path):
            return
        if not self.authorized():
            return
        body = json.loads(raw or b"{}")
        if path == "/fhir/Patient/$member-match":
            pat = [p["resource"] for p in body["parameter"] if p["name"] == "MemberPatient"][0]
            remote = s.match_as.get(pat["id"], "r-" + pat["id"])
            ans = s.match_answer or {"resourceType": "Parameters", "parameter": [
                {"name": "MemberIdentifier", "valueIdentifier": {
                    "type": {"coding": [{"system": "http://hl7.org/fhir/us/davinci-hrex/CodeSystem/hrex-temp",
                                         "code": "UMB"}]},
                    "system": s.base + "/member-id", "value": remote}}]}
            return self.send(200, ans)
        if path == "/fhir/Group/$bulk-member-match":
            s.bulk_requests.append(body)
            return self.send(202, OO("informational", "accepted"),
                             {"Content-Location": s.fhir + "/status/match"})
        if path.endswith("/$davinci-data-export"):
            s.exports.append(body)
            return self.send(202, OO("informational", "accepted"),
                             {"Content-Location": s.fhir + "/status/export"})
        self.send(404, OO("not-found", "nothing at " + path))

    def token(self, raw):
        s = self.stub
        if s.token_refusal:
            return self.send(s.token_refusal[0], s.token_refusal[1], ctype="application/json")
        form = dict(p.split("=", 1) for p in raw.decode().split("&"))
        import urllib.parse
        form = {k: urllib.parse.unquote_plus(v) for k, v in form.items()}
        assertion = form["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        keys = json.loads(urllib.request.urlopen(s.jwks_url, timeout=5,
                                                 context=s.tls).read())["keys"]
        key = [k for k in keys if k["kid"] == header["kid"]][0]
        claims = jwt.decode(assertion, jwt.PyJWK(key).key, algorithms=[header["alg"]],
                            audience=s.base + "/auth/token")
        assert claims["iss"] == claims["sub"] == s.client_id, claims
        assert claims["exp"] - time.time() <= 300
        assert form["grant_type"] == "client_credentials"
        assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        s.assertions.append((header, claims, form.get("scope")))
        s.tokens += 1
        self.send(200, {"access_token": "tok-%d" % s.tokens, "token_type": "bearer",
                        "expires_in": 300, "scope": form.get("scope", "")},
                  {"Cache-Control": "no-store"}, ctype="application/json")
