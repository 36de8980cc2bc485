"""Deployment: the shipped web server configurations (P2P_E2E_SERVER
chooses one, see harness.py) serve the whole receiving-payer session,
pass Authorization and large bulk bodies on, send bulk files with their
bytes only behind a signed URL, answer their own errors as FHIR, log to
<data>/log, run the programs as the configured user, speak HTTPS with
HSTS in the -https variants, and work from a "make install" tree."""
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import harness
import test_bulk as tb
import test_hostile_requests as trc

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MM = "/fhir/Patient/$member-match"
BMM = "/fhir/Group/$bulk-member-match"
P2P_EXPORT = "hl7.fhir.us.davinci-pdex#payertopayer"
ISSUE_CODES = {"invalid", "structure", "required", "value", "security", "login",
               "forbidden", "processing", "not-supported", "not-found", "too-long",
               "too-costly", "transient", "exception", "timeout", "business-rule"}


def raw(server, head, body=b""):
    """Sends a request exactly as written; returns (status, headers, body)."""
    s = server.connect()
    try:
        s.sendall(head.encode("latin-1") + body)
        r = http.client.HTTPResponse(s, method=head.split(" ", 1)[0])
        r.begin()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        s.close()


def log_lines(server, rid, wait=5):
    """The lines of the server's logs naming request rid, waiting for
    them a little: a CGI program logs after its answer went out."""
    deadline = time.time() + wait
    while True:
        lines = [l for l in server.log().splitlines() if rid in l]
        if lines or time.time() > deadline:
            return lines
        time.sleep(0.1)


class DeployBase(harness.ServerTest):
    def token(self, cred=("test-payer-client", "test-payer-secret")):
        r = self.post("/auth/token", "grant_type=client_credentials&scope=system%2F*.rs",
                      headers=dict(FORM, Authorization=harness.basic(*cred)))
        self.assertEqual(r.status, 200, r)
        return "Bearer " + r.json()["access_token"]

    def local(self, url):
        u = urllib.parse.urlsplit(url)
        self.assertEqual("%s://%s" % (u.scheme, u.netloc), self.server.base, url)
        return u.path + ("?" + u.query if u.query else "")

    def wait(self, r, auth):
        """The manifest of the job r (a 202 kick-off) started."""
        self.assertEqual(r.status, 202, r)
        poll = self.local(r.header("content-location"))
        deadline = time.time() + 60
        while time.time() < deadline:
            s = self.get(poll, headers={"Authorization": auth})
            if s.status != 202:
                self.assertEqual(s.status, 200, s)
                return s.json()
            time.sleep(0.1)
        self.fail("the job did not finish within 60 s")

    def download(self, manifest, auth):
        """{type: [resources]} of the manifest's files, each checked to
        be the very bytes of the file the runner wrote."""
        out = {}
        self.assertTrue(manifest["output"], manifest)
        for f in manifest["output"]:
            url = self.local(f["url"])
            r = self.get(url, headers={"Authorization": auth})
            self.assertEqual(r.status, 200, r)
            self.assertIsNone(r.header("x-sendfile"), r.headers)
            self.assertEqual(r.header("content-type"), "application/fhir+ndjson")
            path = os.path.join(self.server.data, "bulk", *url.split("?")[0].split("/")[2:])
            with open(path, "rb") as fp:
                disk = fp.read()
            self.assertTrue(disk)
            self.assertEqual(r.body, disk, url)
            self.assertEqual(int(r.header("content-length")), len(disk))
            lines = r.body.decode().splitlines()
            self.assertEqual(len(lines), f["count"], f)
            out.setdefault(f["type"], []).extend(json.loads(l) for l in lines)
        return out


class ReceivingPayerFlow(DeployBase):
    """token -> $member-match -> $everything (sync and bulk) ->
    $bulk-member-match -> $davinci-data-export -> status -> download."""

    def assertSameRecord(self, files, sync, msg=None):
        """The bulk files hold the resources of the synchronous Bundle
        and, besides them, only their Provenance and the Organizations
        and Practitioners they reference (test_export checks which)."""
        bulk = {x["id"]: t for t, rs in files.items() for x in rs}
        self.assertLessEqual(sync, set(bulk), msg)
        extra = {t for i, t in bulk.items() if i not in sync}
        self.assertIn("Provenance", extra, msg)
        self.assertLessEqual(extra, {"Provenance", "Organization", "Practitioner"}, msg)

    def test_whole_session(self):
        auth = self.token()
        h = {"Authorization": auth}
        # find the member, with their consent
        r = self.post(MM, trc.example(), headers=h)
        self.assertEqual(r.status, 200, r)
        ids = [p for p in r.json()["parameter"] if p["name"] == "MemberIdentifier"]
        self.assertEqual(ids[0]["valueIdentifier"]["value"], "test-member-001")
        # their record, synchronously ...
        r = self.get("/fhir/Patient/test-member-001/$everything", headers=h)
        self.assertEqual(r.status, 200, r)
        b = r.json()
        self.assertEqual((b["resourceType"], b["type"]), ("Bundle", "searchset"))
        sync = {e["resource"]["id"] for e in b["entry"] if e["search"]["mode"] == "match"}
        self.assertIn("test-member-001", sync)
        # ... and as bulk files, the same resources
        m = self.wait(self.get("/fhir/Patient/test-member-001/$everything",
                               headers=dict(h, Prefer="respond-async")), auth)
        files = self.download(m, auth)
        self.assertSameRecord(files, sync)
        # many members at once: the MatchedMembers group ...
        m = self.wait(self.post(BMM, tb.params(tb.CLEAN, tb.UNKNOWN),
                                headers=dict(h, Prefer="respond-async")), auth)
        groups = self.download(m, auth)["Group"]
        matched = [g for g in groups if g["code"]["coding"][0]["code"] == "match"]
        self.assertEqual([x["entity"]["reference"] for x in matched[0]["member"]],
                         ["Patient/test-member-001"])
        # ... exported, files downloaded
        body = {"resourceType": "Parameters", "parameter": [
            {"name": "exportType", "valueCanonical": P2P_EXPORT}]}
        m = self.wait(self.post("/fhir/Group/%s/$davinci-data-export" % matched[0]["id"],
                                body, headers=dict(h, Prefer="respond-async")), auth)
        files = self.download(m, auth)
        self.assertEqual([p["id"] for p in files["Patient"]], ["test-member-001"])
        self.assertSameRecord(files, sync)
        # the Group read and searched, as generic clients do ...
        gid = matched[0]["id"]
        r = self.get("/fhir/Group/" + gid, headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), matched[0])
        r = self.get("/fhir/Group?code=match", headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["resource"]["id"] for e in r.json()["entry"]], [gid])
        # ... and exported with Bulk Data's Group and Patient $export
        # (a kick-off without body, as Bulk Data clients send it)
        for path in ("/fhir/Group/%s/$export" % gid, "/fhir/Patient/$export"):
            m = self.wait(self.request("POST", path,
                                       headers=dict(h, Prefer="respond-async")), auth)
            files = self.download(m, auth)
            self.assertEqual([p["id"] for p in files["Patient"]], ["test-member-001"], path)
            self.assertSameRecord(files, sync, path)

    def test_public_documents(self):
        """What a client or another payer reads before any token."""
        for path, key in (("/fhir/metadata", "rest"),
                          ("/.well-known/smart-configuration", "token_endpoint"),
                          ("/.well-known/jwks.json", "keys")):
            r = self.get(path)
            self.assertEqual(r.status, 200, r)
            self.assertIn(key, r.json(), path)
        for path in ("/.well-known/other", "/fhir/Group/g/$other", "/fhir/Patient/$exports"):
            self.assertOutcome(self.get(path), 404)


class ServerPassesOn(DeployBase):
    """What the web server must hand the programs unchanged."""
    conf = {"bulk_max_members": 2000}

    def test_authorization_reaches_the_program(self):
        auth = self.token()
        r = self.get("/fhir/Patient/test-member-001/$everything",
                     headers={"Authorization": "Bearer not-a-token"})
        self.assertOutcome(r, 401, "login")
        self.post(MM, trc.example(), headers={"Authorization": auth})
        r = self.get("/fhir/Patient/test-member-001/$everything",
                     headers={"Authorization": auth})
        self.assertEqual(r.status, 200, r)
        # the program saw the client the token names
        line = log_lines(self.server, r.header("x-request-id"))
        self.assertTrue(line, "request id not in any log under <data>/log")
        self.assertIn("client=test-payer-client", line[0])

    def test_large_bulk_body_accepted(self):
        """Above the 1 MiB ceiling of the other routes (and mod_fcgid's
        128 KiB default): accepted, every member read."""
        n = 1200
        others = [tb.member_bundle("Big%d" % i, "Body", "female", "1980-01-01",
                                   "SUB-B%d" % i, "Patient/big-%d" % i, pid="big-%d" % i)
                  for i in range(n)]
        body = json.dumps(tb.params(tb.CLEAN, *others)).encode()
        self.assertGreater(len(body), 1 << 20)
        auth = self.token()
        m = self.wait(self.post(BMM, body, headers={
            "Authorization": auth, "Prefer": "respond-async",
            "Content-Type": "application/fhir+json"}), auth)
        groups = {g["code"]["coding"][0]["code"]: g for g in self.download(m, auth)["Group"]}
        self.assertEqual(groups["match"]["quantity"], 1)
        self.assertEqual(groups["nomatch"]["quantity"], n)

    def test_bulk_body_ceiling(self):
        """Above max_bulk_body: 413 on the Content-Length alone."""
        status, h, body = raw(self.server, "POST %s HTTP/1.1\r\nHost: x\r\n"
                              "Content-Type: application/fhir+json\r\nContent-Length: %d\r\n"
                              "Expect: 100-continue\r\nConnection: close\r\n\r\n" % (BMM, 1 << 30))
        self.assertEqual(status, 413, body)
        self.assertEqual(json.loads(body)["resourceType"], "OperationOutcome")


class BulkFiles(DeployBase):
    """/bulk/ files: sent by the web server with their bytes, only on a
    valid signed URL with the job's token; never an empty 200."""

    job = None

    def setUp(self):
        if BulkFiles.job is None:
            auth = self.token()
            BulkFiles.job = (auth, self.wait(self.post(BMM, tb.params(tb.CLEAN), headers={
                "Authorization": auth, "Prefer": "respond-async"}), auth))
        self.auth, self.manifest = BulkFiles.job

    def test_bytes(self):
        self.assertIn("Group", self.download(self.manifest, self.auth))

    def test_unsigned_refused(self):
        url = self.local(self.manifest["output"][0]["url"])
        path, query = url.split("?")
        q = urllib.parse.parse_qs(query)
        bad_sig = "%s?exp=%s&sig=%s" % (path, q["exp"][0], "0" * len(q["sig"][0]))
        for u, status in ((path, 403), (path + "?exp=" + q["exp"][0], 403),
                          (bad_sig, 403), (url, 401)):
            with self.subTest(url=u):
                h = {} if status == 401 else {"Authorization": self.auth}
                r = self.get(u, headers=h)
                self.assertOutcome(r, status)
                self.assertIsNone(r.header("x-sendfile"), r.headers)
                self.assertNotIn(b"/bulk/", r.body)

    def test_path_only_to_a_server_that_sends_files(self):
        """Without P2P_SENDFILE (a web server that would not act on
        X-Sendfile) the program refuses the file: never an empty 200
        naming it.  export-status run as a CGI program, by hand."""
        url = self.local(self.manifest["output"][0]["url"])
        path = os.path.join(self.server.data, "bulk", *url.split("?")[0].split("/")[2:])
        env = dict(os.environ, P2P_CONF=os.path.join(self.server.data, "p2p.conf"),
                   REQUEST_METHOD="GET", REQUEST_URI=url, QUERY_STRING=url.split("?")[1],
                   HTTP_AUTHORIZATION=self.auth, REMOTE_ADDR="127.0.0.1")
        env.pop("P2P_SENDFILE", None)
        prog = os.path.join(self.server.layout.root, "cgi-bin", "export-status")
        for sendfile, status in ((None, b"500"), ("x-sendfile", b"200")):
            with self.subTest(P2P_SENDFILE=sendfile):
                e = dict(env, P2P_SENDFILE=sendfile) if sendfile else env
                p = subprocess.run(harness.as_user([prog]), env=e, capture_output=True,
                                   stdin=subprocess.DEVNULL)
                head, _, body = p.stdout.partition(b"\r\n\r\n")
                self.assertIn(b"Status: " + status, head, p.stdout + p.stderr)
                if sendfile:
                    self.assertIn(b"X-Sendfile: " + path.encode(), head)
                else:
                    self.assertNotIn(b"X-Sendfile", head)
                    self.assertNotIn(path.encode(), p.stdout)
                    self.assertEqual(json.loads(body)["resourceType"], "OperationOutcome")

    def test_ranges(self):
        url = self.local(self.manifest["output"][0]["url"])
        r = self.get(url, headers={"Authorization": self.auth, "Range": "bytes=0-9"})
        self.assertEqual(r.status, 206, r)
        self.assertEqual(len(r.body), 10)
        r = self.get(url, headers={"Authorization": self.auth, "Range": "bytes=99999999-"})
        self.assertOutcome(r, 416)


class ServerErrors(DeployBase):
    """Every error the web server answers itself is an OperationOutcome
    (application/fhir+json), never HTML."""
    load_seed = False

    CASES = [
        ("GET /no/such/thing HTTP/1.1", {}, (404,)),
        ("GET / HTTP/1.1", {}, (403, 404)),
        ("GET /bulk/../../p2p.conf HTTP/1.1", {}, (400, 404)),
        ("GET /fhir/meta%zzdata HTTP/1.1", {}, (400,)),
        ("GET /fhir/%s HTTP/1.1" % ("a" * 20000), {}, (414, 431)),
        ("GET /fhir/metadata HTTP/1.1", {"X-Big": "b" * 20000}, (400, 431)),
        ("POST %s HTTP/1.1" % MM, {"Content-Type": "application/fhir+json",
                                   "Content-Length": str(2 << 20),
                                   "Expect": "100-continue"}, (413,)),
        ("POST %s HTTP/1.1" % MM, {"Content-Type": "application/fhir+json",
                                   "Transfer-Encoding": "gzip"}, (400, 411, 501)),
        ("TRACE /fhir/metadata HTTP/1.1", {}, (405, 501)),
        ("GET /fhir/metadata HTTP/3", {}, (400, 505)),
        ("GET /p2p-error/404.html HTTP/1.1", {}, (403, 404)),
        ("GET /errors/404.html HTTP/1.1", {}, (404,)),
    ]

    def test_web_server_errors_are_outcomes(self):
        for line, headers, statuses in self.CASES:
            with self.subTest(request=line[:60]):
                h = dict({"Host": "127.0.0.1", "Connection": "close"}, **headers)
                head = line + "\r\n" + "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
                status, rh, body = raw(self.server, head)
                self.assertIn(status, statuses, body[:300])
                self.assertEqual(rh.get("content-type"), "application/fhir+json", body[:300])
                self.assertNotIn(b"<html", body.lower())
                oo = json.loads(body)
                self.assertEqual(oo["resourceType"], "OperationOutcome")
                self.assertIn(oo["issue"][0]["code"], ISSUE_CODES)

    def test_every_error_document_exists(self):
        """Each status the shipped configurations map to an error
        document has one in the data directory (else the server falls
        back to its own HTML)."""
        conf = open(os.path.join(harness.SRC, "share", "apache", "p2p.conf")).read()
        statuses = re.findall(r"^\s*ErrorDocument (\d+) /p2p-error/\1\.html$", conf, re.M)
        self.assertGreaterEqual(len(statuses), 15)
        for s in statuses + ["431"]:
            with open(os.path.join(self.server.data, "errors", s + ".html")) as f:
                oo = json.load(f)
            self.assertEqual(oo["resourceType"], "OperationOutcome", s)
            self.assertIn(oo["issue"][0]["code"], ISSUE_CODES, s)


class Logs(DeployBase):
    """The web server's logs and the programs' lines land under <data>/log,
    and the programs run as the configured user."""

    def test_logs_under_data(self):
        r = self.get("/fhir/metadata?probe=logs")
        self.assertEqual(r.status, 200, r)
        self.get("/no/such/page")
        logs = os.path.join(self.server.data, "log")
        deadline = time.time() + 5
        while True:
            access = open(os.path.join(logs, "access.log"), errors="replace").read()
            if "/no/such/page" in access or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertIn("/fhir/metadata?probe=logs", access)
        self.assertIn("/no/such/page", access)
        self.assertTrue(os.path.exists(os.path.join(logs, "error.log")))
        self.assertTrue(log_lines(self.server, r.header("x-request-id")),
                        "the program's log line is in no file under <data>/log")

    def test_programs_run_as_the_configured_user(self):
        if harness.RUN_AS is None:
            self.skipTest("the server keeps the suite's own user (P2P_E2E_USER unset)")
        auth = self.token()
        r = self.post(BMM, tb.params(tb.CLEAN),
                      headers={"Authorization": auth, "Prefer": "respond-async"})
        self.assertEqual(r.status, 202, r)
        job = self.local(r.header("content-location")).rsplit("/", 1)[1]
        self.wait(r, auth)
        st = os.stat(os.path.join(self.server.data, "bulk", job))
        self.assertEqual((st.st_uid, st.st_gid), (harness.RUN_AS[1], harness.RUN_AS[3]))


@unittest.skipUnless(harness.TLS, "plain-HTTP configuration (the -https variants run it)")
class Https(DeployBase):
    """HTTPS: TLS 1.2+ only, modern ciphers, HSTS on every answer."""
    load_seed = False

    def test_hsts_on_every_answer(self):
        self.assertTrue(self.server.base.startswith("https://"))
        for path, status in (("/fhir/metadata", 200), ("/fhir/Nothing", 404),
                             ("/no/such/thing", 404)):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, status, r)
                hsts = r.header("strict-transport-security") or ""
                self.assertRegex(hsts, r"max-age=\d{7,}", r.headers)
        cs = self.get("/fhir/metadata").json()
        self.assertEqual(cs["implementation"]["url"], self.server.base + "/fhir")

    def handshake(self, ctx):
        s = socket_to(self.server)
        try:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                return t.version(), t.cipher()[0]
        finally:
            s.close()

    def test_old_protocols_and_ciphers_refused(self):
        ca = harness.tls_files()[0]
        ok = ssl.create_default_context(cafile=ca)
        ok.maximum_version = ssl.TLSVersion.TLSv1_2
        version, cipher = self.handshake(ok)
        self.assertEqual(version, "TLSv1.2")
        self.assertRegex(cipher, "GCM|CHACHA20")
        for name, maxv, ciphers in (("TLS 1.1", ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0"),
                                    ("TLS 1.2 CBC", ssl.TLSVersion.TLSv1_2,
                                     "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:"
                                     "ECDHE-ECDSA-AES128-SHA256")):
            with self.subTest(client=name):
                ctx = ssl.create_default_context(cafile=ca)
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = maxv
                ctx.set_ciphers(ciphers)
                with self.assertRaises(ssl.SSLError) as e:
                    self.handshake(ctx)
                # the server refused (an alert), not this client
                self.assertRegex(str(e.exception), "ALERT|alert", str(e.exception))

    def test_plain_http_gets_nothing(self):
        s = socket_to(self.server)
        try:
            s.sendall(b"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError:
            got = b""
        finally:
            s.close()
        self.assertNotIn(b"CapabilityStatement", got)
        self.assertFalse(got.startswith(b"HTTP/1.1 200"), got[:100])


def socket_to(server):
    """A plain TCP connection to the server."""
    return socket.create_connection(("127.0.0.1", server.port), 10)


class ShippedConfigurations(unittest.TestCase):
    """The lighttpd FastCGI and CGI configurations differ only in how
    they run the programs; every configuration routes to every program."""

    def lighttpd_print(self, conf):
        env = dict(os.environ, P2P_ROOT=harness.BUILD, P2P_DATA="/nonexistent",
                   P2P_PORT="1", P2P_USER="p2p")
        p = subprocess.run([harness.LIGHTTPD, "-p", "-f", conf], env=env,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_lighttpd_pair_in_step(self):
        fcgi = self.lighttpd_print(os.path.join(harness.SRC, "lighttpd.conf"))
        cgi = self.lighttpd_print(os.path.join(harness.SRC, "share", "lighttpd",
                                               "p2p-cgi.conf"))

        def settings(text):
            return sorted(re.findall(r"^    ((?:server|accesslog)\.\S+ += .*)$", text, re.M))

        def routes(text):
            return re.findall(r'^    (?:else )?(\$HTTP\["url"\] .*) \{$', text, re.M)

        self.assertEqual(settings(fcgi), settings(cgi))
        self.assertIn('server.username               = "p2p"', settings(cgi))
        self.assertEqual(routes(fcgi), routes(cgi))
        self.assertEqual(len(routes(fcgi)), 9)
        self.assertEqual(sorted(set(re.findall(r"cgi-bin/([a-z-]+)", fcgi))),
                         BUILD_PROGRAMS)
        self.assertEqual(sorted(set(re.findall(r"cgi-bin/([a-z-]+)", cgi))),
                         BUILD_PROGRAMS)

    def test_apache_routes_every_program(self):
        site = open(os.path.join(harness.SRC, "share", "apache", "p2p.conf")).read()
        self.assertEqual(sorted(set(re.findall(r'^  AliasMatch "\S+" "\$\{P2P_ROOT\}/cgi-bin/'
                                               r'([a-z-]+)"$', site, re.M))), BUILD_PROGRAMS)


BUILD_PROGRAMS = harness.BUILD_LAYOUT.programs() if os.path.isdir(
    os.path.join(harness.BUILD_LAYOUT.root, "cgi-bin")) else []


class Install(unittest.TestCase):
    """make install DESTDIR=... prefix=... gives a tree whose installed
    configuration (the one P2P_E2E_SERVER chooses) serves."""

    def check_units(self, root, d):
        """The socket units start the installed programs, one instance
        per program, and systemd accepts them."""
        units = os.path.join(root, "lib", "systemd", "system")
        service = open(os.path.join(units, "p2p-fcgi@.service")).read()
        self.assertIn("ExecStart=/opt/p2p/libexec/p2p/cgi-bin/%i\n", service)
        progs = harness.Layout.installed(root).programs()
        site = open(os.path.join(root, "share", "p2p", "apache", "p2p.conf")).read()
        self.assertEqual(sorted(re.findall(r"run/([a-z-]+)\.sock\|fcgi://\1/", site)), progs)
        if shutil.which("systemd-analyze") is None:
            return
        os.makedirs(d)
        socket_unit = open(os.path.join(units, "p2p-fcgi@.socket")).read()
        paths = []
        for p in progs:
            for kind, text in (("socket", socket_unit), ("service", service)):
                paths.append(os.path.join(d, "p2p-fcgi@%s.%s" % (p, kind)))
                with open(paths[-1], "w") as f:
                    f.write(text.replace("/opt/p2p", root))
        v = subprocess.run(["systemd-analyze", "verify", "--man=no"] + paths,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((v.returncode, v.stderr.strip()), (0, ""), v.stdout)

    def test_installed_configuration_serves(self):
        if not os.path.exists(os.path.join(harness.BUILD, "Makefile")):
            self.skipTest("no build tree")
        tmp = tempfile.mkdtemp(prefix="p2p-install-")
        os.chmod(tmp, 0o755)
        srv = None
        try:
            dest = os.path.join(tmp, "dest")
            env = {k: v for k, v in os.environ.items()
                   if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
            p = subprocess.run(["make", "-s", "-C", harness.BUILD, "install",
                                "DESTDIR=" + dest, "prefix=/opt/p2p"],
                               capture_output=True, text=True, env=env)
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            root = os.path.join(dest, "opt", "p2p")
            for f in ("bin/p2p-admin", "bin/p2p-runner", "libexec/p2p/cgi-bin/token",
                      "libexec/p2p/cgi-bin/member-match", "libexec/p2p/cgi-bin/metadata",
                      "share/p2p/lighttpd.conf", "share/p2p/lighttpd/p2p-fastcgi.conf",
                      "share/p2p/lighttpd/p2p-cgi.conf", "share/p2p/lighttpd/p2p-tls.conf",
                      "share/p2p/lighttpd/p2p-fastcgi-https.conf",
                      "share/p2p/lighttpd/p2p-cgi-https.conf", "share/p2p/apache/p2p.conf",
                      "lib/systemd/system/p2p-fcgi@.socket",
                      "lib/systemd/system/p2p-fcgi@.service",
                      "share/p2p/capability-statement.json",
                      "share/p2p/smart-configuration.json", "share/p2p/db/0001-initial.sql",
                      "share/p2p/seed/test-dataset.json",
                      "share/p2p/seed/pdex-guide-member.ndjson",
                      "share/p2p/examples/member-match-001.json"):
                self.assertTrue(os.path.isfile(os.path.join(root, f)), f)
            self.check_units(root, os.path.join(tmp, "units"))
            srv = harness.Server(layout=harness.Layout.installed(root))
            srv.admin("load", os.path.join(root, "share", "p2p", "seed", "test-dataset.json"))
            srv.start()
            r = srv.request("GET", "/fhir/metadata")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["resourceType"], "CapabilityStatement")
            r = srv.request("POST", "/auth/token",
                            "grant_type=client_credentials&scope=system/*.read",
                            headers=dict(FORM, Authorization=harness.basic(*trc.PAYER)))
            self.assertEqual(r.status, 200, r)
            r = srv.request("GET", "/no/such/thing")
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.header("content-type"), "application/fhir+json")
        finally:
            if srv is not None:
                srv.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
