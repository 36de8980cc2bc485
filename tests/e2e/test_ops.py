"""Operating p2p: every tool's --help; the configuration search and its
messages; init on an initialised directory; an unprivileged user (the
programs refuse root, init --owner, p2p-admin as root leaving new files to
the owner); logs in <data>/log/p2p.log that survive rotation (logrotate,
SIGHUP); client add and the payer's Organization; load progress; and what
make install ships for operators: the cron line (run as written), the
logrotate file, the systemd units (systemd-analyze verify) and the manual
pages (mandoc lint).

Tests that need root (refusing root, giving files to a user) are skipped
otherwise; they create the system user p2ptest when it is missing and
keep it (runs in parallel on one machine share it: removing it at the end
of one run would pull it from under another)."""
import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import time
import unittest

import harness

USER = "p2ptest"
SHARE = os.path.join(harness.SRC, "share")
MAN = os.path.join(harness.SRC, "docs", "man")
ROOT = os.geteuid() == 0


def setUpModule():
    if not ROOT:
        return
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        USER], check=False)
        pwd.getpwnam(USER)      # made here or by a parallel run


def clean_env(**extra):
    """The environment without any configuration pointer."""
    e = {k: v for k, v in os.environ.items() if k not in ("P2P_CONF", "P2P_DATA")}
    e.update(extra)
    return e


def admin(*args, env=None, input=None):
    return subprocess.run([harness.ADMIN] + list(args), capture_output=True, text=True,
                          env=env if env is not None else clean_env(), input=input)


def as_user(cmd, user=USER, **kw):
    """Runs cmd as user (setpriv keeps the environment)."""
    return subprocess.run(["setpriv", "--reuid=" + user, "--regid=" + user,
                           "--init-groups", "--"] + cmd, **kw)


def cgi(program, conf, path="/fhir/metadata", user=None):
    """Runs a FastCGI program once as plain CGI."""
    env = clean_env(REQUEST_METHOD="GET", REQUEST_URI=path, P2P_CONF=conf)
    cmd = [program]
    kw = dict(capture_output=True, env=env, stdin=subprocess.DEVNULL)
    return as_user(cmd, user, **kw) if user else subprocess.run(cmd, **kw)


def request_id(out):
    m = re.search(rb"X-Request-Id: ([0-9a-f]{16})", out)
    return m.group(1).decode() if m else None


def owners(top):
    """Paths under top (top included) not owned by USER's uid."""
    uid = pwd.getpwnam(USER).pw_uid
    bad = []
    for d, dirs, files in os.walk(top):
        for n in [d] + [os.path.join(d, f) for f in dirs + files]:
            if os.lstat(n).st_uid != uid:
                bad.append(n)
    return bad


def wait_for(fn, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


class Help(unittest.TestCase):
    """--help on every tool and command: usage on stdout, exit 0, and no
    configuration read (there is none to read here)."""

    HELP = [["--help"], ["-h"], ["help"], ["help", "load"], ["init", "--help"],
            ["migrate", "--help"], ["load", "--help"], ["stats", "--help"],
            ["generate", "--help"], ["client", "--help"], ["client", "add", "--help"],
            ["client", "list", "--help"], ["client", "disable", "--help"],
            ["client", "enable", "x", "--help"], ["consent", "--help"],
            ["consent", "list", "--help"], ["consent", "revoke", "--help"],
            ["audit", "--help"], ["audit", "export", "--help"],
            ["checkpoint", "--help"]]

    def test_admin_help(self):
        env = clean_env(P2P_CONF="/nonexistent/p2p.conf")
        for args in self.HELP:
            for pre in ([], ["-c", "/nonexistent/p2p.conf"]):
                with self.subTest(args=pre + args):
                    p = admin(*(pre + args), env=env)
                    self.assertEqual(p.returncode, 0, p)
                    self.assertTrue(p.stdout.startswith("usage: p2p-admin"), p.stdout)
                    self.assertEqual(p.stderr, "")
        self.assertIn("--org-name NAME", admin("client", "add", "--help").stdout)
        self.assertIn("--progress S", admin("load", "--help").stdout)
        self.assertIn("--owner", admin("init", "--help").stdout)

    def test_runner_help(self):
        for a in ("--help", "-h"):
            p = subprocess.run([harness.RUNNER, a, "-c", "/nonexistent/p2p.conf"],
                               capture_output=True, text=True, env=clean_env())
            self.assertEqual(p.returncode, 0, p)
            self.assertTrue(p.stdout.startswith("usage: p2p-runner"), p.stdout)
            self.assertIn("--once", p.stdout)
            self.assertEqual(p.stderr, "")

    def test_default_configuration_named_consistently(self):
        """The path help names is the one the error names and the one
        p2p.conf(5) describes (SYSCONFDIR/p2p/p2p.conf)."""
        m = re.search(r"else (/\S+/p2p/p2p\.conf)\.", admin("--help").stdout)
        self.assertTrue(m, admin("--help").stdout)
        default = m.group(1)
        if os.path.exists(default):
            self.skipTest("%s exists on this machine" % default)
        p = admin("stats")
        self.assertEqual(p.returncode, 1, p)
        self.assertEqual(p.stderr.strip(), "p2p-admin: %s: no such file (give -c FILE, "
                         "or set P2P_CONF or P2P_DATA)" % default)
        r = subprocess.run([harness.RUNNER, "--once"], capture_output=True, text=True,
                           env=clean_env())
        self.assertEqual(r.returncode, 3, r)
        self.assertIn(default + ": no such file", r.stderr)
        self.assertIn("SYSCONFDIR/p2p/p2p.conf", open(os.path.join(MAN, "p2p.conf.5")).read())

    def test_p2p_data_finds_the_configuration(self):
        tmp = tempfile.mkdtemp(prefix="p2p-ops-")
        try:
            data = os.path.join(tmp, "data")
            self.assertEqual(admin("init", data).returncode, 0)
            p = admin("stats", env=clean_env(P2P_DATA=data))
            self.assertEqual(p.returncode, 0, p)
            self.assertIn("members: 0", p.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Init(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="p2p-ops-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_initialised_directory_refused(self):
        data = os.path.join(self.tmp, "data")
        self.assertEqual(admin("init", "--base-url", "https://a.example", data).returncode, 0)
        conf = open(os.path.join(data, "p2p.conf")).read()
        p = admin("init", "--base-url", "https://b.example", data)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("is initialised already", p.stderr)
        self.assertIn("--update", p.stderr)
        self.assertNotIn("initialised %s" % data, p.stdout)
        self.assertEqual(open(os.path.join(data, "p2p.conf")).read(), conf)
        p = admin("init", "--update", data)
        self.assertEqual(p.returncode, 0, p)
        self.assertEqual(p.stdout, "updated %s\n" % data)
        self.assertEqual(open(os.path.join(data, "p2p.conf")).read(), conf)

    def test_from_an_existing_configuration(self):
        """The Debian form: /etc/p2p/p2p.conf names data_dir."""
        etc = os.path.join(self.tmp, "etc")
        os.mkdir(etc)
        var = os.path.join(self.tmp, "var")
        conf = os.path.join(etc, "p2p.conf")
        with open(conf, "w") as f:
            f.write("data_dir = %s\nbase_url = https://p2p.example\n" % var)
        p = admin("-c", conf, "init")
        self.assertEqual(p.returncode, 0, p)
        for f in ("p2p.db", "keys/server.key", "keys/secdownload.key", "log", "bulk"):
            self.assertTrue(os.path.exists(os.path.join(var, f)), f)
        self.assertFalse(os.path.exists(os.path.join(var, "p2p.conf")))
        self.assertEqual(admin("-c", conf, "init").returncode, 1)
        self.assertEqual(admin("-c", conf, "init", "--update").returncode, 0)
        p = admin("-c", conf, "stats")
        self.assertIn(os.path.join(var, "p2p.db"), p.stdout)
        # the same through P2P_CONF
        p = admin("init", "--update", env=clean_env(P2P_CONF=conf))
        self.assertEqual(p.returncode, 0, p)


class DataDirTest(unittest.TestCase):
    """One data directory made by "p2p-admin init INIT_ARGS" per class,
    as root (the classes below are about root and other users)."""
    INIT_ARGS = ()

    @classmethod
    def setUpClass(cls):
        if not ROOT:
            raise unittest.SkipTest("needs root")
        cls.tmp = tempfile.mkdtemp(prefix="p2p-ops-")
        os.chmod(cls.tmp, 0o755)    # for the test user too
        cls.data = os.path.join(cls.tmp, "data")
        p = admin("init", *cls.INIT_ARGS, cls.data)
        assert p.returncode == 0, p.stderr
        cls.conf = os.path.join(cls.data, "p2p.conf")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


class RootRefused(DataDirTest):
    """Without allow_root, the FastCGI programs and the runner refuse to
    run as root, before they write anything."""

    def test_programs_refuse_root(self):
        log = os.path.join(self.data, "log", "p2p.log")
        p = cgi(os.path.join(harness.BUILD, "cgi-bin", "metadata"), self.conf)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn(b"refusing to run as root", p.stderr)
        self.assertIn(b"allow_root = 1", p.stderr)
        self.assertNotIn(b"CapabilityStatement", p.stdout)
        r = subprocess.run([harness.RUNNER, "-c", self.conf, "--once"],
                           capture_output=True, text=True, env=clean_env())
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("refusing to run as root", r.stderr)
        # nothing root-owned left behind
        self.assertFalse(os.path.exists(log))

    def test_allow_root(self):
        d = os.path.join(self.tmp, "allowed")
        self.assertEqual(admin("init", "--share", SHARE, d).returncode, 0)
        conf = os.path.join(d, "p2p.conf")
        with open(conf, "a") as f:
            f.write("allow_root = 1\n")
        p = cgi(os.path.join(harness.BUILD, "cgi-bin", "metadata"), conf)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn(b"CapabilityStatement", p.stdout)


class Unprivileged(DataDirTest):
    """init --owner; the programs and the runner as that user; p2p-admin
    run as root in that user's directory leaves nothing root's."""
    INIT_ARGS = ("--owner", USER, "--share", SHARE)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The programs, where the user can run them whatever the checkout.
        cls.bin = os.path.join(cls.tmp, "bin")
        os.mkdir(cls.bin)
        for f in (os.path.join(harness.BUILD, "cgi-bin", "metadata"), harness.RUNNER):
            shutil.copy(f, cls.bin)

    def test_a_owner_and_modes(self):
        self.assertEqual(owners(self.data), [])
        mode = lambda p: stat.S_IMODE(os.stat(os.path.join(self.data, p)).st_mode)
        self.assertEqual(mode("."), 0o750)
        self.assertEqual(mode("keys"), 0o700)
        self.assertEqual(mode("keys/server.key"), 0o600)
        self.assertEqual(mode("keys/secdownload.key"), 0o600)
        self.assertEqual(mode("p2p.db"), 0o600)

    def test_b_programs_as_the_owner(self):
        p = cgi(os.path.join(self.bin, "metadata"), self.conf, user=USER)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn(b"CapabilityStatement", p.stdout)
        rid = request_id(p.stdout)
        log = os.path.join(self.data, "log", "p2p.log")
        self.assertIn("id=%s" % rid, open(log).read())
        self.assertEqual(pwd.getpwuid(os.stat(log).st_uid).pw_name, USER)
        r = as_user([os.path.join(self.bin, "p2p-runner"), "-c", self.conf, "--once"],
                    capture_output=True, text=True, env=clean_env())
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(owners(self.data), [])

    def test_c_admin_as_root_leaves_files_to_the_owner(self):
        # A root reader holds the database open, so that the WAL files
        # root's processes create stay to be looked at.
        db = sqlite3.connect(os.path.join(self.data, "p2p.db"))
        db.execute("SELECT count(*) FROM resource").fetchone()
        try:
            self.assertEqual(admin("-c", self.conf, "load", harness.SEED).returncode, 0)
            p = admin("-c", self.conf, "client", "add", "--id", "root-added",
                      "--secret", "a-secret-of-16-chars", "--npi", "1234567893",
                      "--org-name", "Payer R")
            self.assertEqual(p.returncode, 0, p)
            self.assertTrue(os.path.exists(os.path.join(self.data, "p2p.db-wal")))
            self.assertEqual(owners(self.data), [])
        finally:
            db.close()
        os.unlink(os.path.join(self.data, "keys", "secdownload.key"))
        self.assertEqual(admin("init", "--update", self.data).returncode, 0)
        self.assertEqual(owners(self.data), [])
        # and the owner can still use all of it
        p = cgi(os.path.join(self.bin, "metadata"), self.conf, user=USER)
        self.assertEqual(p.returncode, 0, p)

    def test_d_owner_refused_for_non_root(self):
        shutil.copy(harness.ADMIN, self.bin)
        p = as_user([os.path.join(self.bin, "p2p-admin"), "init", "--owner", "root",
                     os.path.join(self.tmp, "other")], capture_output=True, text=True,
                    env=clean_env())
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("only root may give files to another user", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "other")))


class Logs(harness.ServerTest):
    """Each request's line, with its X-Request-Id, lands in
    <data>/log/p2p.log, and keeps landing there after rotation."""
    load_seed = False

    def log(self):
        try:
            return open(self.server.log_path()).read()
        except OSError:
            return ""

    def rid(self, path="/fhir/metadata"):
        r = self.get(path)
        self.assertEqual(r.status, 200, r)
        return r.header("x-request-id")

    def test_a_request_id_in_the_log_file(self):
        rid = self.rid()
        self.assertTrue(wait_for(lambda: "id=%s" % rid in self.log()),
                        "id=%s not in %s" % (rid, self.server.log_path()))
        line = [l for l in self.log().splitlines() if "id=%s" % rid in l][0]
        self.assertRegex(line, r"^\S+Z metadata\[info\] GET /fhir/metadata 200 \d+ms "
                         r"client=- id=%s$" % rid)
        # not in the web server's error log any more
        self.assertNotIn(rid, open(os.path.join(self.server.data, "log", "error.log"),
                                   errors="replace").read())

    def test_b_renamed_file_is_made_again(self):
        old = self.rid()
        self.assertTrue(wait_for(lambda: old in self.log()))
        path = self.server.log_path()
        os.rename(path, path + ".1")
        time.sleep(1.2)             # LOG_CHECK_SECS
        new = self.rid()
        self.assertTrue(wait_for(lambda: os.path.exists(path) and new in self.log()),
                        "no new %s with %s" % (path, new))
        self.assertNotIn(new, open(path + ".1").read())
        self.assertIn(old, open(path + ".1").read())

    def test_c_logrotate_with_the_shipped_file(self):
        conf = open(os.path.join(SHARE, "logrotate", "p2p")).read()
        self.assertIn("/var/lib/p2p/log/p2p.log {", conf)
        self.assertIn("su p2p p2p", conf)
        me = pwd.getpwuid(os.geteuid()).pw_name
        conf = conf.replace("/var/lib/p2p/log/p2p.log", self.server.log_path())
        conf = conf.replace("su p2p p2p", "su %s %s" % (me, me))
        tmp = os.path.join(self.server.dir, "logrotate")
        os.mkdir(tmp)
        with open(os.path.join(tmp, "p2p"), "w") as f:
            f.write(conf)
        old = self.rid()
        self.assertTrue(wait_for(lambda: old in self.log()))
        p = subprocess.run(["logrotate", "-f", "-s", os.path.join(tmp, "state"),
                            os.path.join(tmp, "p2p")], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p)
        path = self.server.log_path()
        self.assertTrue(os.path.exists(path + ".1"), os.listdir(os.path.dirname(path)))
        self.assertIn(old, open(path + ".1").read())
        time.sleep(1.2)
        new = self.rid()
        self.assertTrue(wait_for(lambda: os.path.exists(path) and new in self.log()))

    def test_d_sighup_reopens_and_keeps_serving(self):
        """logrotate's postrotate could signal: a FastCGI child that gets
        SIGHUP reopens its file and goes on serving."""
        if harness.SERVER in ("lighttpd-cgi", "apache-cgi"):
            self.skipTest("plain CGI: each request is a new process")
        self.rid()
        kids = [p for p in self.server.descendants() if "metadata" in self.cmdline(p)]
        self.assertTrue(kids, "no metadata process under the web server")
        path = self.server.log_path()
        os.rename(path, path + ".hup")
        for k in kids:
            os.kill(k, signal.SIGHUP)
        new = self.rid()
        self.assertTrue(wait_for(lambda: os.path.exists(path) and new in self.log()))
        for k in kids:
            self.assertTrue(self.server.running(k), "child %d gone" % k)

    @staticmethod
    def cmdline(pid):
        try:
            return open("/proc/%d/cmdline" % pid, "rb").read().decode(errors="replace")
        except OSError:
            return ""


class LogToStderr(harness.ServerTest):
    """log_file = stderr: the lines go to the web server's error log."""
    load_seed = False
    conf = {"log_file": "stderr"}

    def test_line_in_the_error_log(self):
        rid = self.get("/fhir/metadata").header("x-request-id")
        self.assertTrue(wait_for(lambda: "id=" + rid in self.server.log()))
        self.assertFalse(os.path.exists(self.server.log_path()))


class LogToSyslog(harness.ServerTest):
    """log_file = syslog: the programs serve, and write no log file
    (check_log.c reads what reaches /dev/log)."""
    load_seed = False
    conf = {"log_file": "syslog"}

    def test_serves_without_a_file(self):
        self.assertEqual(self.get("/fhir/metadata").status, 200)
        self.assertFalse(os.path.exists(self.server.log_path()))


class ClientAdd(harness.ServerTest):
    """client add and the requesting payer's Organization."""
    SECRET = "new-plan-secret-0123456789"

    def add(self, cid, *more):
        return self.server.admin("client", "add", "--id", cid, "--secret-stdin",
                                 "--npi", "1234567893", *more, check=False,
                                 input=self.SECRET + "\n")

    def test_a_unknown_npi_refused(self):
        p = self.add("no-org")
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no Organization with NPI 1234567893 is loaded", p.stderr)
        self.assertIn("--org-name", p.stderr)
        self.assertNotIn("no-org", self.server.admin("client", "list").stdout)

    def test_b_org_name_creates_it(self):
        before = self.server.admin("stats").stdout
        p = self.add("new-plan", "--org-name", "New Plan")
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("Organization/payer-1234567893 created", p.stdout)
        after = self.server.admin("stats").stdout
        count = lambda s: int(re.search(r"Organization: (\d+)", s).group(1))
        self.assertEqual(count(after), count(before) + 1)
        # a second client of the same payer finds it
        p = self.add("new-plan-2", "--org-name", "Ignored")
        self.assertEqual(p.returncode, 0, p)
        self.assertNotIn("created", p.stdout)
        self.assertEqual(count(self.server.admin("stats").stdout), count(after))
        # indexed as a loaded one: the API resolves the payer, and the
        # member's consent naming it as recipient lets the match through
        tok = self.post("/auth/token", "grant_type=client_credentials&scope=" +
                        "system/*.rs%20http://hl7.org/fhir/us/davinci-hrex/"
                        "OperationDefinition/member-match",
                        headers={"Authorization": harness.basic("new-plan", self.SECRET),
                                 "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(tok.status, 200, tok)
        body = json.load(open(os.path.join(SHARE, "examples", "member-match-001.json")))
        consent = [p for p in body["parameter"] if p["name"] == "Consent"][0]["resource"]
        consent["provision"]["actor"][0]["reference"]["reference"] = \
            "Organization/payer-1234567893"
        r = self.post("/fhir/Patient/$member-match", body,
                      headers={"Authorization": "Bearer " + tok.json()["access_token"]})
        self.assertEqual(r.status, 200, r)


class ConsentOptout(harness.ServerTest):
    """consent optout looks the member up (store_exists) first."""
    load_seed = True

    def test_unknown_member(self):
        p = self.server.admin("consent", "optout", "--patient", "nobody-here", check=False)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no member nobody-here", p.stderr)
        p = self.server.admin("consent", "optout", "--patient", "test-member-001")
        self.assertEqual(p.returncode, 0, p)


class LoadProgress(unittest.TestCase):
    """Progress lines with a percentage and an ETA on stderr when it is
    not a terminal; none with --progress 0."""

    def test_plain_lines(self):
        tmp = tempfile.mkdtemp(prefix="p2p-ops-")
        try:
            data = os.path.join(tmp, "data")
            self.assertEqual(admin("init", data).returncode, 0)
            conf = os.path.join(data, "p2p.conf")
            src = os.path.join(tmp, "m.ndjson")
            self.assertEqual(admin("generate", "--members", "60", "--out", src).returncode, 0)
            p = admin("-c", conf, "load", "--progress", "0.001", src)
            self.assertEqual(p.returncode, 0, p)
            lines = [l for l in p.stderr.splitlines() if l.startswith("load %s: " % src)]
            self.assertTrue(lines, p.stderr)
            for l in lines:
                self.assertRegex(l, r": \d+%, \d+ resources, \d+/s, ETA \d+[hms]")
            self.assertNotIn("\r", p.stderr)
            self.assertIn("%s: " % src, p.stdout)         # the summary
            # none when asked
            d2 = os.path.join(tmp, "d2")
            self.assertEqual(admin("init", d2).returncode, 0)
            p = admin("-c", os.path.join(d2, "p2p.conf"), "load", "--progress", "0", src)
            self.assertEqual(p.returncode, 0, p)
            self.assertNotIn("load %s" % src, p.stderr)
            p = admin("-c", conf, "load", "--progress", "x", src)
            self.assertEqual(p.returncode, 2, p)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Installed(unittest.TestCase):
    """What make install ships for operators, checked as installed."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(os.path.join(harness.BUILD, "Makefile")):
            raise unittest.SkipTest("no build tree")
        cls.tmp = tempfile.mkdtemp(prefix="p2p-ops-install-")
        os.chmod(cls.tmp, 0o755)
        cls.dest = os.path.join(cls.tmp, "dest")
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        p = subprocess.run(["make", "-s", "-C", harness.BUILD, "install",
                            "DESTDIR=" + cls.dest, "prefix=/opt/p2p"],
                           capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr[-2000:]
        cls.root = os.path.join(cls.dest, "opt", "p2p")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def installed(self, rel):
        path = os.path.join(self.root, rel)
        self.assertTrue(os.path.exists(path), rel)
        return path

    def test_man_pages_lint_clean(self):
        pages = [self.installed(p) for p in ("share/man/man8/p2p-admin.8",
                                             "share/man/man8/p2p-runner.8",
                                             "share/man/man5/p2p.conf.5",
                                             "share/man/man7/p2p.7")]
        p = subprocess.run(["mandoc", "-Tlint", "-Wwarning"] + pages,
                           capture_output=True, text=True)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        for page in pages:
            p = subprocess.run(["lexgrog", page], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p)

    def test_cron_line_as_written(self):
        """The installed cron line, run as the user it names, with the
        install's paths and data directory standing in for /opt/p2p and
        /var/lib/p2p (and the test user for p2p)."""
        if not ROOT:
            self.skipTest("needs root")
        text = open(self.installed("share/p2p/p2p-runner.cron")).read()
        lines = [l for l in text.splitlines() if l and not l.startswith("#")
                 and not re.match(r"^[A-Z]+=", l)]
        self.assertEqual(len(lines), 1, lines)
        f = lines[0].split(None, 6)
        self.assertEqual(f[:5], ["*"] * 5)
        self.assertEqual(f[5], "p2p")
        self.assertEqual(f[6], "/opt/p2p/bin/p2p-runner -c /var/lib/p2p/p2p.conf --once")
        # a data directory with a queued job, owned by the test user
        srv = harness.Server(demo=False, conf={"runner": "", "allow_root": 0})
        try:
            os.chmod(srv.dir, 0o755)
            srv.admin("load", harness.SEED)
            subprocess.run([harness.ADMIN, "-c", os.path.join(srv.data, "p2p.conf"), "init",
                            "--update", "--owner", USER], check=True, capture_output=True)
            db = sqlite3.connect(os.path.join(srv.data, "p2p.db"))
            # a job of a kind no runner knows: taken, then failed
            db.execute("INSERT INTO job (id, client_id, kind, status, request, params,"
                       " created, expires) VALUES ('0123456789abcdef0123456789abcdef',"
                       " 'test-payer-client', 'bogus', 'queued', '', '{}', ?, ?)",
                       (int(time.time()), int(time.time()) + 3600))
            db.commit()
            db.close()
            cmd = f[6].replace("/opt/p2p", self.root).replace(
                "/var/lib/p2p", srv.data)
            p = as_user(["sh", "-c", cmd], capture_output=True, text=True,
                        env=clean_env())
            # the bogus job fails (exit 1: a job failed), it was taken
            self.assertEqual(p.returncode, 1, p)
            self.assertEqual(p.stdout + p.stderr, "")   # nothing for cron to mail
            log = srv.log_since(0)
            self.assertIn("p2p-runner[info] job 0123456789abcdef", log)
            self.assertEqual(owners(srv.data), [])
        finally:
            srv.cleanup()

    def test_systemd_units(self):
        units = ("p2p-runner.service", "p2p-runner.timer", "p2p-runner-loop.service")
        text = {u: open(self.installed("lib/systemd/system/" + u)).read() for u in units}
        for u in ("p2p-runner.service", "p2p-runner-loop.service"):
            for want in ("User=p2p", "ProtectSystem=strict", "ReadWritePaths=/var/lib/p2p",
                         "NoNewPrivileges=yes", "PrivateTmp=yes",
                         "ExecStart=/opt/p2p/bin/p2p-runner -c /var/lib/p2p/p2p.conf"):
                self.assertIn(want, text[u], u)
        self.assertIn("--once", text["p2p-runner.service"])
        self.assertIn("--loop", text["p2p-runner-loop.service"])
        self.assertIn("OnCalendar=minutely", text["p2p-runner.timer"])
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze (the units were checked as text)")
        # verify wants ExecStart= to exist and the Documentation= pages
        d = os.path.join(self.tmp, "units")
        os.makedirs(d, exist_ok=True)
        for u in units:
            with open(os.path.join(d, u), "w") as f:
                f.write(text[u].replace("/opt/p2p", self.root))
        p = subprocess.run(["systemd-analyze", "verify"] + [os.path.join(d, u) for u in units],
                           capture_output=True, text=True,
                           env=dict(os.environ, MANPATH=os.path.join(self.root, "share", "man")))
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))

    def test_logrotate_file(self):
        self.assertEqual(open(self.installed("share/p2p/logrotate/p2p")).read(),
                         open(os.path.join(SHARE, "logrotate", "p2p")).read())


if __name__ == "__main__":
    unittest.main()
