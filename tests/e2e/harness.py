"""End-to-end harness: a real web server serving the built programs on a
free loopback port with a temporary data directory, started with the
configurations that ship (lighttpd.conf, share/lighttpd/, share/apache/).

    class T(harness.ServerTest):       # one server for the class
        def test_x(self):
            r = self.get("/fhir/metadata")
            self.assertEqual(r.status, 200)

Environment: P2P_SRCDIR (sources: share/, lighttpd.conf), P2P_BUILDDIR
(cgi-bin/, src/tools/), LIGHTTPD and APACHE (the server binaries),
APACHE_MODULES (Apache's module directory).

P2P_E2E_SERVER chooses how the programs are served (the suite runs the
same in each):
    lighttpd             lighttpd + FastCGI (lighttpd.conf; the default)
    lighttpd-cgi         lighttpd + CGI (share/lighttpd/p2p-cgi.conf)
    apache-fcgid         Apache + mod_fcgid       (share/apache/p2p.conf)
    apache-proxy-fcgi    Apache + mod_proxy_fcgi, the programs run by
                         spawn-fcgi
    apache-cgi           Apache + mod_cgid
with "-https" appended (or P2P_E2E_TLS=1) for the HTTPS variant, with a
throwaway CA and server certificate made for the run.

P2P_E2E_USER names the user the server and its programs run as when the
suite runs as root (the configurations' P2P_USER).  Unset, lighttpd keeps
root and Apache (which never runs programs as root) uses "nobody"; the
harness then hands the data directory to that user, and Server.runner
(what tests run on a server's data; RUNNER is the binary) runs
p2p-runner as that user too.  P2P_E2E_KEEP keeps the temporary
directories.
"""
import atexit
import base64
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import unittest
import http.client
import urllib.parse

import testbed

SRC = os.environ.get("P2P_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("P2P_BUILDDIR") or SRC
LIGHTTPD = os.environ.get("LIGHTTPD") or shutil.which("lighttpd") or "/usr/sbin/lighttpd"
APACHE = os.environ.get("APACHE") or shutil.which("apache2") or "/usr/sbin/apache2"
APACHE_MODULES = os.environ.get("APACHE_MODULES") or "/usr/lib/apache2/modules"
SPAWN_FCGI = shutil.which("spawn-fcgi") or "/usr/bin/spawn-fcgi"
ADMIN = os.path.join(BUILD, "src", "tools", "p2p-admin")
RUNNER = os.path.join(BUILD, "src", "tools", "p2p-runner")
SEED = os.path.join(SRC, "share", "seed", "test-dataset.json")

SERVERS = ("lighttpd", "lighttpd-cgi", "apache-fcgid", "apache-proxy-fcgi", "apache-cgi")

# Lines in the server's logs that mean a sanitizer or a crash spoke.
BAD_LOG = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
           "SUMMARY: UndefinedBehaviorSanitizer", "terminated by signal")
# A sanitizer report runs from its first line ("==PID==ERROR: ...",
# "==PID==WARNING: ..." or UBSan's "file:line:col: runtime error: ...")
# to its "SUMMARY: ..." line; the programs' stderr is in the logs.
REPORT_START = re.compile(r"^==\d+==(ERROR|WARNING): |: runtime error: ")
REPORT_LINES = 150      # lines kept of one report
REPORTS_LINES = 400     # lines kept of all the reports of a server
SANITIZER_ENV = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")


def _server_choice():
    name = os.environ.get("P2P_E2E_SERVER") or "lighttpd"
    tls = os.environ.get("P2P_E2E_TLS", "") not in ("", "0")
    if name.endswith("-https"):
        name, tls = name[:-len("-https")], True
    if name not in SERVERS:
        raise SystemExit("P2P_E2E_SERVER=%s: expected one of %s (optionally -https)"
                         % (name, ", ".join(SERVERS)))
    return name, tls


SERVER, TLS = _server_choice()
APACHE_SERVER = SERVER.startswith("apache")


def _run_as():
    """(name, uid, group name, gid) the server runs as, or None: the
    harness's own user."""
    name = os.environ.get("P2P_E2E_USER")
    if os.geteuid() != 0:
        return None
    if not name and APACHE_SERVER:
        name = "nobody"
    if not name or name == "root":
        return None
    pw = pwd.getpwnam(name)
    return (name, pw.pw_uid, grp.getgrgid(pw.pw_gid).gr_name, pw.pw_gid)


RUN_AS = _run_as()


def as_user(cmd):
    """cmd, run as RUN_AS when there is one."""
    if RUN_AS is None:
        return list(cmd)
    return ["setpriv", "--reuid=%d" % RUN_AS[1], "--regid=%d" % RUN_AS[3],
            "--init-groups", "--"] + list(cmd)


# --- one directory per run: certificates, the runner wrapper ---------------
_session = {}


def session_dir():
    if "dir" not in _session:
        d = tempfile.mkdtemp(prefix="p2p-e2e-run-")
        os.chmod(d, 0o755)
        _session["dir"] = d
        if not os.environ.get("P2P_E2E_KEEP"):
            atexit.register(shutil.rmtree, d, True)
    return _session["dir"]


def tls_files():
    """(CA certificate, server certificate, server key): a throwaway CA
    and a certificate for 127.0.0.1 and localhost, made once per run."""
    if "tls" in _session:
        return _session["tls"]
    d = os.path.join(session_dir(), "tls")
    os.makedirs(d)
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in
                                 ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n"
                "extendedKeyUsage = serverAuth\n")

    def openssl(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", "/CN=p2p e2e throwaway CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    _session["tls"] = (ca, crt, key)
    return _session["tls"]


def client_tls_context():
    if "ctx" not in _session:
        _session["ctx"] = ssl.create_default_context(cafile=tls_files()[0])
    return _session["ctx"]


def _runner_wrapper(real):
    """A p2p-runner that drops to RUN_AS when started as root, so that
    the files of a run the tests start belong to the server's user."""
    wrappers = _session.setdefault("runners", {})
    if real in wrappers:
        return wrappers[real]
    path = os.path.join(session_dir(), "p2p-runner-%d" % len(wrappers))
    wrappers[real] = path
    with open(path, "w") as f:
        f.write('#!/bin/sh\n# p2p-runner as the e2e server\'s user\n'
                'if [ "$(id -u)" -eq 0 ]; then\n'
                '\texec %s "%s" "$@"\nfi\nexec "%s" "$@"\n'
                % (" ".join(as_user([])), real, real))
    os.chmod(path, 0o755)
    return path


class Layout:
    """Where the tools, the programs and the shipped files are: the
    build tree (default) or an installed prefix (Layout.installed)."""

    def __init__(self, admin, runner, root, share, lighttpd_conf):
        self.admin = admin
        self.runner = runner
        self.root = root                    # holds cgi-bin/
        self.share = share                  # --share; lighttpd/, apache/
        self.lighttpd_conf = lighttpd_conf  # the default configuration

    @classmethod
    def installed(cls, prefix):
        share = os.path.join(prefix, "share", "p2p")
        return cls(os.path.join(prefix, "bin", "p2p-admin"),
                   os.path.join(prefix, "bin", "p2p-runner"),
                   os.path.join(prefix, "libexec", "p2p"), share,
                   os.path.join(share, "lighttpd.conf"))

    def programs(self):
        d = os.path.join(self.root, "cgi-bin")
        return sorted(n for n in os.listdir(d) if not n.startswith(".") and
                      os.access(os.path.join(d, n), os.X_OK))

    def server_conf(self):
        """The configuration file SERVER/TLS starts with."""
        if SERVER == "lighttpd":
            if TLS:
                return os.path.join(self.share, "lighttpd", "p2p-fastcgi-https.conf")
            return self.lighttpd_conf
        if SERVER == "lighttpd-cgi":
            return os.path.join(self.share, "lighttpd",
                                "p2p-cgi-https.conf" if TLS else "p2p-cgi.conf")
        return os.path.join(self.share, "apache", "p2p.conf")


def reachable(layout):
    """layout, or a copy of its programs and shared files that RUN_AS
    can read (a build tree under a private home directory is not)."""
    need = [os.path.join(layout.root, "cgi-bin"), layout.share, layout.runner]
    if RUN_AS is None or subprocess.run(
            as_user(["sh", "-c", 'for f; do [ -r "$f" ] || exit 1; done', "-"] + need),
            capture_output=True).returncode == 0:
        return layout
    d = tempfile.mkdtemp(prefix="layout-", dir=session_dir())
    os.chmod(d, 0o755)
    shutil.copytree(os.path.join(layout.root, "cgi-bin"), os.path.join(d, "cgi-bin"))
    shutil.copytree(layout.share, os.path.join(d, "share"), symlinks=False)
    shutil.copy2(layout.runner, os.path.join(d, "p2p-runner"))
    return Layout(layout.admin, os.path.join(d, "p2p-runner"), d,
                  os.path.join(d, "share"), layout.lighttpd_conf)


BUILD_LAYOUT = Layout(ADMIN, RUNNER, BUILD, os.path.join(SRC, "share"),
                      os.path.join(SRC, "lighttpd.conf"))
if RUN_AS is not None and os.path.exists(RUNNER):
    BUILD_LAYOUT = reachable(BUILD_LAYOUT)


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
    """A p2p data directory plus a web server serving it."""

    def __init__(self, demo=True, conf=None, layout=None):
        self.layout = reachable(layout) if layout else BUILD_LAYOUT
        self.dir = tempfile.mkdtemp(prefix="p2p-e2e-")
        self.data = os.path.join(self.dir, "data")
        self.port = testbed.free_port()
        self.scheme = "https" if TLS else "http"
        self.base = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.proc = None
        self.programs = []          # spawn-fcgi processes (apache-proxy-fcgi)
        self.stuck = []             # programs that ignored SIGTERM at stop
        self.runner = self.layout.runner   # p2p-runner for this server's data
        if RUN_AS is not None and os.path.exists(self.runner):
            self.runner = _runner_wrapper(self.runner)
        args = ["init", "--base-url", self.base,
                "--share", self.layout.share]
        if demo:
            args.append("--demo")
        if os.path.exists(self.layout.runner):
            args += ["--runner", self.runner]
        self.admin(*args, self.data)
        conf = dict(conf or {})
        if TLS:
            # The other payer's HTTPS (JWKS URL, p2p-request's peer) is
            # another Server with the throwaway CA's certificate.
            conf.setdefault("ca_file", tls_files()[0])
        if not demo and os.geteuid() == 0:
            # The programs refuse root unless allowed (--demo allows it).
            conf.setdefault("allow_root", 1)
        if conf:
            self.set_conf(**conf)
        for d in ("log", "www"):
            os.makedirs(os.path.join(self.data, d), exist_ok=True)

    def env(self):
        e = dict(os.environ)
        e.update(P2P_ROOT=self.layout.root, P2P_DATA=self.data, P2P_PORT=str(self.port),
                 P2P_CONF=os.path.join(self.data, "p2p.conf"),
                 P2P_USER=RUN_AS[0] if RUN_AS else "", P2P_BIND="127.0.0.1")
        if TLS:
            e.update(P2P_TLS_CERT=tls_files()[1], P2P_TLS_KEY=tls_files()[2])
        return e

    def admin(self, *args, check=True, input=None):
        """Runs p2p-admin; returns the CompletedProcess."""
        cmd = [self.layout.admin]
        if args and args[0] != "init":
            cmd += ["-c", os.path.join(self.data, "p2p.conf")]
        p = subprocess.run(cmd + list(args), capture_output=True, text=True,
                           input=input)
        self.give_away()
        if check and p.returncode != 0:
            raise AssertionError("p2p-admin %s failed (%d): %s" %
                                 (" ".join(args), p.returncode, p.stderr))
        return p

    def load(self, name, doc, check=True):
        """Writes doc into the server's directory as name (a list: one
        resource a line, NDJSON; anything else: one JSON document) and
        loads it with p2p-admin load; returns the CompletedProcess."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            if isinstance(doc, list):
                f.write("".join(json.dumps(r) + "\n" for r in doc))
            else:
                json.dump(doc, f)
        return self.admin("load", path, check=check)

    def sql(self, sql, *args):
        """Runs one SQL statement on the server's database, committed;
        returns its rows."""
        c = sqlite3.connect(os.path.join(self.data, "p2p.db"))
        try:
            rows = c.execute(sql, args).fetchall()
            c.commit()
            return rows
        finally:
            c.close()

    def give_away(self):
        """The temporary directory to RUN_AS (whatever root made there)."""
        if RUN_AS is None or not os.path.isdir(self.dir):
            return
        os.chmod(self.dir, 0o755)
        for root, dirs, files in os.walk(self.dir):
            for n in [root] + [os.path.join(root, f) for f in dirs + files]:
                os.lchown(n, RUN_AS[1], RUN_AS[3])

    def set_conf(self, **kv):
        """Rewrites keys of p2p.conf (before start, or restart after)."""
        testbed.set_keys(os.path.join(self.data, "p2p.conf"), **kv)

    # --- starting and stopping ---------------------------------------------
    def start(self):
        out = open(os.path.join(self.dir, "server.out"), "w")
        self.give_away()
        env = self.env()
        if APACHE_SERVER:
            if SERVER == "apache-proxy-fcgi":
                self.spawn_programs(env)
            cmd = [APACHE, "-f", self.apache_conf(), "-DFOREGROUND"]
        else:
            cmd = [LIGHTTPD, "-D", "-f", self.layout.server_conf()]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=out)
        out.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited: %s" % (SERVER, self.log()))
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("%s did not listen on %d" % (SERVER, self.port))

    def spawn_programs(self, env):
        """apache-proxy-fcgi: each program on <data>/run/<name>.sock, run
        by spawn-fcgi as docs/operations.md says (in the foreground here)."""
        err = os.path.join(self.data, "log", "stderr.log")
        for name in self.layout.programs():
            cmd = [SPAWN_FCGI, "-n", "-s", os.path.join(self.data, "run", name + ".sock"),
                   "-M", "0600"]
            if RUN_AS is not None:
                cmd += ["-u", RUN_AS[0], "-g", RUN_AS[2], "-U", RUN_AS[0], "-G", RUN_AS[2]]
            cmd += ["--", os.path.join(self.layout.root, "cgi-bin", name)]
            with open(err, "a") as f:
                self.programs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                                      stderr=f))
        if RUN_AS is not None:
            os.lchown(err, RUN_AS[1], RUN_AS[3])

    def apache_conf(self):
        """The server-wide part of an Apache configuration (what Debian's
        apache2.conf, ports.conf and a2enmod provide), then the shipped
        site with its settings defined."""
        d = os.path.join(self.dir, "httpd")
        os.makedirs(d, exist_ok=True)
        mods = ["mpm_event", "authz_core", "alias", "env", "headers", "mime",
                "rewrite", "xsendfile"]
        mods += {"apache-fcgid": ["fcgid"],
                 "apache-proxy-fcgi": ["proxy", "proxy_fcgi"],
                 "apache-cgi": ["cgid"]}[SERVER]
        if TLS:
            mods += ["socache_shmcb", "ssl"]
        if RUN_AS:
            user, group = RUN_AS[0], RUN_AS[2]
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
        lines = ["ServerRoot %s" % d, "ServerName 127.0.0.1",
                 "PidFile %s/httpd.pid" % d, "DefaultRuntimeDir %s" % d,
                 "Listen 127.0.0.1:%d" % self.port, "LogLevel warn",
                 "TypesConfig /etc/mime.types"]
        lines += ["LoadModule %s_module %s/mod_%s.so" % (m, APACHE_MODULES, m) for m in mods]
        if SERVER == "apache-cgi":
            lines += ["ScriptSock %s/cgid.sock" % d]
        for v in SANITIZER_ENV:
            if v in os.environ:
                lines += ["PassEnv %s" % v]
                if SERVER == "apache-fcgid":
                    lines += ["FcgidInitialEnv %s %s" % (v, os.environ[v])]
        lines += ["Define P2P_ROOT %s" % self.layout.root, "Define P2P_DATA %s" % self.data,
                  "Define P2P_PORT %d" % self.port, "Define P2P_USER %s" % user,
                  "Define P2P_GROUP %s" % group,
                  "Define " + {"apache-fcgid": "P2P_FCGID",
                               "apache-proxy-fcgi": "P2P_PROXY_FCGI",
                               "apache-cgi": "P2P_CGID"}[SERVER]]
        if TLS:
            lines += ["Define P2P_TLS", "Define P2P_TLS_CERT %s" % tls_files()[1],
                      "Define P2P_TLS_KEY %s" % tls_files()[2]]
        lines += ["Include %s" % self.layout.server_conf()]
        path = os.path.join(d, "httpd.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def descendants(self):
        """Pids of the processes the server and spawn-fcgi started, at
        any depth (Apache's programs are its children's children)."""
        parent = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = open("/proc/%s/stat" % d).read()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may hold spaces.
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1:
                parent[int(d)] = int(fields[1])
        found = set(p.pid for p in ([self.proc] if self.proc else []) + self.programs)
        more = True
        while more:
            more = False
            for pid, ppid in parent.items():
                if ppid in found and pid not in found:
                    found.add(pid)
                    more = True
        return sorted(found)

    @staticmethod
    def running(pid):
        try:
            stat = open("/proc/%d/stat" % pid).read()
        except OSError:
            return False
        return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")

    def stop(self):
        procs = ([self.proc] if self.proc else []) + self.programs
        if not procs:
            return
        kids = self.descendants()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.proc = None
        self.programs = []
        # The programs get SIGTERM too: wait until they have exited, so
        # that what the sanitizers have to say at exit (a leak check and
        # its symbolised stacks take a while) is in the log whole.
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
        """Everything the server and the programs logged: <data>/log/*
        and the server's own stderr."""
        out = ""
        logs = os.path.join(self.data, "log")
        paths = [os.path.join(logs, n) for n in
                 sorted(os.listdir(logs))] if os.path.isdir(logs) else []
        for p in paths + [os.path.join(self.dir, "server.out")]:
            if os.path.isfile(p):
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
        """What the sanitizers and crashes left in the logs: each report
        whole (first line through SUMMARY), bounded; [] when none."""
        return bad_reports(self.log().splitlines()) + self.stuck

    def cleanup(self):
        self.stop()
        if not os.environ.get("P2P_E2E_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- talking to it ------------------------------------------------------
    def connection(self, timeout=30):
        if TLS:
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                               context=client_tls_context())
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def connect(self, timeout=10):
        """A socket to the server, TLS already set up when it speaks HTTPS
        (for requests http.client cannot make)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout)
        if TLS:
            s = client_tls_context().wrap_socket(s, server_hostname="127.0.0.1")
        return s

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = self.connection(timeout)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/fhir+json")
        elif isinstance(body, str):
            body = body.encode()
        try:
            c.request(method, path, body=body, headers=h)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError):
            # The server answered before the whole body was sent (413 on
            # its Content-Length) and closed; the answer is still there.
            pass
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
