"""End-to-end harness: a real lighttpd serving the built programs on a
free loopback port with a temporary data directory.

    class T(harness.ServerTest):       # one server for the class
        def test_x(self):
            r = self.get("/fhir/metadata")
            self.assertEqual(r.status, 200)

Environment: P2P_SRCDIR (sources: share/, lighttpd.conf), P2P_BUILDDIR
(cgi-bin/, src/tools/), LIGHTTPD (the server binary).  P2P_E2E_BASE_URL
points the suite at an already running server instead (e.g. Apache);
tests that need the admin tool are then skipped.
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import http.client
import urllib.parse

SRC = os.environ.get("P2P_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("P2P_BUILDDIR") or SRC
LIGHTTPD = os.environ.get("LIGHTTPD") or shutil.which("lighttpd") or "/usr/sbin/lighttpd"
ADMIN = os.path.join(BUILD, "src", "tools", "p2p-admin")
RUNNER = os.path.join(BUILD, "src", "tools", "p2p-runner")
SEED = os.path.join(SRC, "share", "seed", "test-dataset.json")

# Lines in lighttpd's error log that mean a sanitizer or a crash spoke.
BAD_LOG = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
           "SUMMARY: UndefinedBehaviorSanitizer", "terminated by signal")
# A sanitizer report runs from its first line ("==PID==ERROR: ...",
# "==PID==WARNING: ..." or UBSan's "file:line:col: runtime error: ...")
# to its "SUMMARY: ..." line; the FastCGI programs' stderr is the log.
REPORT_START = re.compile(r"^==\d+==(ERROR|WARNING): |: runtime error: ")
REPORT_LINES = 150      # lines kept of one report
REPORTS_LINES = 400     # lines kept of all the reports of a server


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # lower-cased names
        self.body = body            # bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Server:
    """A p2p data directory plus a lighttpd serving it."""

    def __init__(self, demo=True, conf=None):
        self.dir = tempfile.mkdtemp(prefix="p2p-e2e-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.proc = None
        self.stuck = []     # programs that ignored SIGTERM at stop
        args = ["init", "--base-url", self.base,
                "--share", os.path.join(SRC, "share")]
        if demo:
            args.append("--demo")
        if os.path.exists(RUNNER):
            args += ["--runner", RUNNER]
        self.admin(*args, self.data)
        conf = dict(conf or {})
        if not demo and os.geteuid() == 0:
            # The programs refuse root unless allowed (--demo allows it).
            conf.setdefault("allow_root", 1)
        if conf:
            self.set_conf(**conf)
        for d in ("log", "www"):
            os.makedirs(os.path.join(self.data, d), exist_ok=True)

    def env(self):
        e = dict(os.environ)
        e.update(P2P_ROOT=BUILD, P2P_DATA=self.data, P2P_PORT=str(self.port),
                 P2P_CONF=os.path.join(self.data, "p2p.conf"))
        return e

    def admin(self, *args, check=True, input=None):
        """Runs p2p-admin; returns the CompletedProcess."""
        cmd = [ADMIN]
        if args and args[0] != "init":
            cmd += ["-c", os.path.join(self.data, "p2p.conf")]
        p = subprocess.run(cmd + list(args), capture_output=True, text=True,
                           input=input)
        if check and p.returncode != 0:
            raise AssertionError("p2p-admin %s failed (%d): %s" %
                                 (" ".join(args), p.returncode, p.stderr))
        return p

    def set_conf(self, **kv):
        """Rewrites keys of p2p.conf (before start, or restart after)."""
        path = os.path.join(self.data, "p2p.conf")
        lines = open(path).read().splitlines()
        out = []
        for line in lines:
            k = line.split("=", 1)[0].strip()
            if k in kv:
                line = "%s = %s" % (k, kv.pop(k))
            out.append(line)
        out += ["%s = %s" % (k, v) for k, v in kv.items()]
        open(path, "w").write("\n".join(out) + "\n")

    def start(self):
        conf = os.path.join(SRC, "lighttpd.conf")
        self.proc = subprocess.Popen([LIGHTTPD, "-D", "-f", conf], env=self.env(),
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.data, "log", "stderr.log"), "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("lighttpd exited: %s" % self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("lighttpd did not listen on %d" % self.port)

    def children(self):
        """Pids of the processes lighttpd started (the FastCGI programs)."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces.
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1 and fields[1] == str(self.proc.pid):
                pids.append(int(d))
        return pids

    @staticmethod
    def running(pid):
        try:
            stat = open("/proc/%d/stat" % pid).read()
        except OSError:
            return False
        return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")

    def stop(self):
        if self.proc is None:
            return
        kids = self.children()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        # FastCGI children get SIGTERM too: wait until they have exited,
        # so that what the sanitizers have to say at exit (a leak check
        # and its symbolised stacks take a while) is in the log whole.
        deadline = time.time() + 20
        while any(self.running(p) for p in kids) and time.time() < deadline:
            time.sleep(0.05)
        for p in kids:
            try:
                if self.running(p):
                    name = os.path.basename(os.readlink("/proc/%d/exe" % p))
                    os.kill(p, signal.SIGKILL)
                    self.stuck.append("pid %d (%s) did not exit within 20 s of SIGTERM"
                                      % (p, name))
            except OSError:
                pass        # it exited just now

    def log(self):
        out = ""
        for name in ("error.log", "stderr.log", "p2p.log"):
            p = os.path.join(self.data, "log", name)
            if os.path.exists(p):
                out += open(p, errors="replace").read()
        return out

    def log_path(self):
        """The programs' and the runner's log (p2p.conf log_file)."""
        return os.path.join(self.data, "log", "p2p.log")

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path())
        except OSError:
            return 0

    def log_since(self, offset):
        """What was appended to log_path() after offset."""
        try:
            with open(self.log_path(), errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""

    def bad_log_lines(self):
        """What the sanitizers and crashes left in the log: each report
        whole (first line through SUMMARY), bounded; [] when none."""
        return bad_reports(self.log().splitlines()) + self.stuck

    def cleanup(self):
        self.stop()
        if not os.environ.get("P2P_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, method, path, body=None, headers=None, timeout=30):
        u = urllib.parse.urlsplit(self.base)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/fhir+json")
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        resp = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        c.close()
        return resp


def bad_reports(lines):
    """The sanitizer reports (and crash lines) among lines, each from
    its first line through its "SUMMARY:" line (at most REPORT_LINES
    lines, its head and its end; REPORTS_LINES in all); a WARNING
    report that names no error is left out."""
    out, cur = [], None

    def close():
        if cur and any(b in l for l in cur for b in BAD_LOG):
            if len(cur) > REPORT_LINES:     # its head and its SUMMARY
                cur[REPORT_LINES - 11:-10] = ["... (%d lines of this report left out)" %
                                              (len(cur) - REPORT_LINES + 1)]
            out.extend(cur)

    for line in lines:
        if REPORT_START.search(line):
            close()
            cur = [line]
        elif cur is not None:
            cur.append(line)
        elif any(b in line for b in BAD_LOG):
            out.append(line)
        if cur is not None and line.startswith("SUMMARY: "):
            close()
            cur = None
    close()
    if len(out) > REPORTS_LINES:
        out[REPORTS_LINES:] = ["... (%d more lines)" % (len(out) - REPORTS_LINES)]
    return out


def basic(client_id, secret):
    raw = ("%s:%s" % (client_id, secret)).encode()
    return "Basic " + base64.b64encode(raw).decode()


class ServerTest(unittest.TestCase):
    """One server per test class; set `load_seed` to load the seed data
    and `conf` to change p2p.conf before the start."""
    load_seed = True
    demo = True
    conf = None
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(demo=cls.demo, conf=cls.conf)
        try:
            if cls.load_seed:
                cls.server.admin("load", SEED)
            cls.prepare(cls.server)
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise

    @classmethod
    def prepare(cls, server):
        """Hook: more data before the server starts."""

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        srv.stop()
        bad = srv.bad_log_lines()
        srv.cleanup()
        if bad:
            raise AssertionError("sanitizer or crash reports in the server log:\n" +
                                 "\n".join(bad))

    def request(self, *a, **kw):
        return self.server.request(*a, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def assertOutcome(self, r, status, code=None):
        """r is an OperationOutcome error with this status (and code)."""
        self.assertEqual(r.status, status, r)
        self.assertIn("fhir+json", r.header("content-type") or "", r)
        oo = r.json()
        self.assertEqual(oo["resourceType"], "OperationOutcome")
        self.assertTrue(oo["issue"], oo)
        if code is not None:
            self.assertEqual(oo["issue"][0]["code"], code, oo)
        return oo
