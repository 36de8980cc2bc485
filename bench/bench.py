#!/usr/bin/python3
"""p2p benchmarks at payer scale; run through bench/run.sh (which builds).

For each member count: a fresh data directory, synthetic members from
`p2p-admin generate` streamed through a FIFO into `p2p-admin load`,
lighttpd on a free loopback port with bench/lighttpd-bench.conf, then:
load throughput and database size, $member-match under wrk against two
ceilings (a static file, a trivial FastCGI responder), $everything of a
~1,000-resource member, $bulk-member-match of 1,000 members, and
$davinci-data-export of a 10,000-member group against a sqlite3 dump.
A figure whose piece is missing prints "n/a: <why>".  Standard library
only.
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import testbed  # noqa: E402  (tests/e2e/testbed.py)
PAYER_B_NPI = "1245319599"      # requesting payer (valid NPI check digit)


def payer_b_org():
    return {"resourceType": "Organization", "id": "bench-payer-b", "active": True,
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi",
                            "value": PAYER_B_NPI}],
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                  "code": "pay"}]}],
            "name": "Bench Payer B"}


CLIENT, SECRET = "bench-payer-b", "bench-secret-not-for-production"
MM_PATH = "/fhir/Patient/$member-match"
EXPORT_TYPE = "hl7.fhir.us.davinci-pdex#payertopayer"

# name: (target text, test(value, figures) -> True/False/None)
TARGETS = {
    "load": ("≥ 100,000 resources/s", lambda v, f: v >= 100000),
    "mm_ratio": ("≥ 0.50", lambda v, f: v >= 0.5),
    "mm_p99": ("< 10 ms", lambda v, f: v < 10),
    "token": ("≥ 500/s", lambda v, f: v >= 500),
    "everything": ("< 20 ms", lambda v, f: v < 20),
    "export_rps": ("≥ 200,000 resources/s", lambda v, f: v >= 200000),
    "export_floor": ("≤ 1.5", lambda v, f: v <= 1.5),
    # 50x the reference server's 1.9k resources/s, kick-off to last byte
    "e2e_rps": ("≥ 95,000 resources/s", lambda v, f: v >= 95000),
    "runner_rss": ("< 64 MB", lambda v, f: v < 64),
}


class NA(Exception):
    """A figure that cannot be measured: the message says what is missing."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def wait_rusage(proc):
    """Waits for a Popen; returns (status, seconds, peak RSS in MiB)."""
    t0 = getattr(proc, "t0", time.time())
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.time() - t0, ru.ru_maxrss / 1024.0


def machine():
    info = {"nproc": os.cpu_count() or 0}
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                info["mem"] = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    info["cpu"] = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    info["kernel"] = os.uname().release

    def first(cmd, pat=None):
        try:
            p = run(cmd)
        except OSError:
            return "?"
        out = (p.stdout + p.stderr).strip().splitlines()
        line = out[0] if out else "?"
        if pat:
            m = re.search(pat, p.stdout + p.stderr)
            line = m.group(1) if m else line
        return line
    info["gcc"] = first(["gcc", "--version"], r"\) (\S+)")
    info["sqlite"] = first(["sqlite3", "--version"], r"^(\S+)")
    info["sqlite_lib"] = first(["pkg-config", "--modversion", "sqlite3"])
    info["lighttpd"] = first([LIGHTTPD, "-v"], r"lighttpd/(\S+)")
    info["wrk"] = first(["wrk", "-v"], r"wrk (\S+)")
    return info


LIGHTTPD = shutil.which("lighttpd") or "/usr/sbin/lighttpd"


class Client:
    def __init__(self, port):
        self.port = port
        self.token = None

    def req(self, method, path, body=None, headers=None, timeout=600):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if self.token and "Authorization" not in h:
            h["Authorization"] = "Bearer " + self.token
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
            h.setdefault("Content-Type", "application/fhir+json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data


class Scale:
    """One data directory, one lighttpd, every figure for N members."""

    def __init__(self, b, n):
        self.b = b
        self.n = n
        self.f = {}          # figure name -> value or "n/a: ..."
        self.notes = []
        self.dir = os.path.join(b.work, "n%d" % n)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.data, "p2p.conf")
        self.port = testbed.free_port()
        self.http = Client(self.port)
        self.lighttpd = None
        self.rng = random.Random(n)

    # --- helpers ---------------------------------------------------------
    def admin(self, *args, check=True, **kw):
        cmd = [self.b.admin]
        if args[0] != "init":
            cmd += ["-c", self.conf]
        p = run(cmd + list(args), **kw)
        if check and p.returncode != 0:
            raise NA("p2p-admin %s failed: %s" % (args[0], (p.stderr or p.stdout).strip()[:200]))
        return p

    def set_conf(self, **kv):
        testbed.set_keys(self.conf, **kv)

    def db(self):
        c = sqlite3.connect(os.path.join(self.data, "p2p.db"), timeout=30)
        return c

    def measure(self, name, fn):
        try:
            fn()
        except NA as e:
            self.f.setdefault(name, "n/a: %s" % e)
            log("  %s: n/a: %s" % (name, e))

    # --- setup -----------------------------------------------------------
    def setup(self):
        b = self.b
        self.admin("init", "--base-url", "http://127.0.0.1:%d" % self.port,
                   "--share", os.path.join(b.src, "share"), self.data)
        # The probing guard counts distinct cards per demographics: the
        # non-matching bodies repeat, so raise it; long tokens; big bulk.
        self.set_conf(probe_limit=1000, token_ttl=3600, bulk_max_members=1000000,
                      max_bulk_body=1 << 28)
        if os.geteuid() == 0:
            # the programs refuse root unless allowed
            self.set_conf(allow_root=1)
        for d in ("log", "www", "run"):
            os.makedirs(os.path.join(self.data, d), exist_ok=True)
        with open(os.path.join(self.data, "www", "static.json"), "w") as f:
            f.write('{"ok":true}\n')
        self.have_gen = b.implemented("generate")
        self.have_load = b.implemented("load")
        # client add wants the requesting payer's Organization loaded
        self.load_extra(os.path.join(self.dir, "payer-b.ndjson"), [payer_b_org()])
        self.admin("client", "add", "--id", CLIENT, "--secret-stdin", "--npi",
                   PAYER_B_NPI, "--scopes", "system/*.rs", input=SECRET + "\n")

    def load_extra(self, path, lines):
        with open(path, "w") as f:
            for r in lines:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        self.admin("load", path)

    def load(self):
        """Generate N members into a FIFO that the loader reads."""
        if not self.have_gen:
            raise NA("p2p-admin generate not in this build")
        if not self.have_load:
            raise NA("p2p-admin load not in this build")
        fifo = os.path.join(self.dir, "members.ndjson")
        os.mkfifo(fifo)
        anchor = datetime.date.today().isoformat()
        gen = subprocess.Popen([self.b.admin, "-c", self.conf, "generate",
                                "--members", str(self.n), "--seed", "1",
                                "--anchor", anchor, "--history", self.b.history,
                                "--out", fifo],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        t0 = time.time()
        ld = subprocess.Popen([self.b.admin, "-c", self.conf, "load", fifo],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lout, lerr = ld.communicate()
        dt = time.time() - t0
        gerr = gen.communicate()[1]
        os.unlink(fifo)
        if ld.returncode != 0 or gen.returncode != 0:
            raise NA("generate | load failed: %s %s" % (gerr.strip()[-200:], lerr.strip()[-200:]))
        with self.db() as c:
            nres = c.execute("SELECT count(*) FROM resource").fetchone()[0]
        size = sum(os.path.getsize(os.path.join(self.data, p))
                   for p in ("p2p.db", "p2p.db-wal") if os.path.exists(os.path.join(self.data, p)))
        self.f["resources"] = nres
        self.f["load_s"] = dt
        self.f["load"] = nres / dt
        self.f["db_mb_per_m"] = size / 1048576.0 / (nres / 1e6)
        self.f["db_mb"] = size / 1048576.0
        log("  loaded %d resources in %.1f s (%.0f/s), database %.0f MiB"
            % (nres, dt, nres / dt, size / 1048576.0))
        # Requesting payer, opt-outs (every 50th member), the big member.
        extra = [payer_b_org()]
        for k in range(7, self.n + 1, 50):
            extra.append(optout(member_id(k)))
        self.load_extra(os.path.join(self.dir, "extra.ndjson"), extra)
        self.optouts = set(range(7, self.n + 1, 50))
        self.make_big()

    def make_big(self):
        """A member with ~1,000 resources: one generated member with a
        recent 5-year history, its dated resources copied under new ids."""
        path = os.path.join(self.dir, "big-src.ndjson")
        self.admin("generate", "--members", "1", "--seed", "4242", "--years", "5",
                   "--anchor", datetime.date.today().isoformat(), "--out", path)
        own, rest = [], []
        for line in open(path):
            line = line.replace("syn-m000001", "bench-big").replace("SYN000000001", "BENCHBIG0001")
            r = json.loads(line)
            if "bench-big" not in line:
                continue
            (own if r["resourceType"] in ("Patient", "Coverage") else rest).append(r)
        out = list(own)
        k = 0
        while len(out) < 1000 and rest:
            for r in rest:
                if len(out) >= 1000:
                    break
                c = dict(r)
                c["id"] = "%s-c%d" % (r["id"], k) if k else r["id"]
                out.append(c)
            k += 1
        self.big_patient = [r for r in own if r["resourceType"] == "Patient"][0]
        self.big_cov = [r for r in own if r["resourceType"] == "Coverage"][0]
        self.big_count = len(out)
        self.load_extra(os.path.join(self.dir, "big.ndjson"), out)

    def start(self):
        b = self.b
        env = dict(os.environ, P2P_ROOT=b.build, P2P_DATA=self.data, P2P_PORT=str(self.port),
                   P2P_CONF=self.conf, P2P_SRC=b.src, P2P_BENCH_TRIVIAL=b.trivial,
                   P2P_USER="")
        self.lighttpd = subprocess.Popen(
            [LIGHTTPD, "-D", "-f", os.path.join(HERE, "lighttpd-bench.conf")], env=env,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.data, "log", "lighttpd.out"), "w"))
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.lighttpd.poll() is not None:
                raise SystemExit("lighttpd exited; see %s/log" % self.data)
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        auth = "Basic " + base64.b64encode(("%s:%s" % (CLIENT, SECRET)).encode()).decode()
        st, _, body = self.http.req("POST", "/auth/token",
                                    body=b"grant_type=client_credentials&scope=system%2F*.rs",
                                    headers={"Authorization": auth,
                                             "Content-Type": "application/x-www-form-urlencoded"})
        if st == 200:
            self.http.token = json.loads(body)["access_token"]
        else:
            self.notes.append("no access token (%d): %s" % (st, body[:200]))

    def stop(self):
        if self.lighttpd is not None:
            self.lighttpd.send_signal(signal.SIGTERM)
            try:
                self.lighttpd.wait(10)
            except subprocess.TimeoutExpired:
                self.lighttpd.kill()
                self.lighttpd.wait()
            self.lighttpd = None

    # --- request bodies --------------------------------------------------
    def member(self, k):
        """(Patient, Coverage) of generated member k, from the database."""
        if getattr(self, "_rdb", None) is None:
            self._rdb = self.db()
        c = self._rdb
        pid = member_id(k)
        p = c.execute("SELECT json FROM resource WHERE type = 'Patient' AND id = ?",
                      (pid,)).fetchall()
        cv = c.execute("SELECT json FROM resource WHERE type = 'Coverage' AND id = ?",
                       (pid + "-cov",)).fetchall()
        if not p or not cv:
            raise NA("generated member %s not in the database" % pid)
        return json.loads(p[0][0]), json.loads(cv[0][0])

    def parts(self, k, match=True, patient=None, cov=None):
        if patient is None:
            patient, cov = self.member(k)
        mp = {"resourceType": "Patient", "name": patient.get("name", [])[:1],
              "birthDate": patient.get("birthDate"), "gender": patient.get("gender"),
              "identifier": patient.get("identifier", [])[:1]}
        ctm = {"resourceType": "Coverage", "status": "active",
               "subscriberId": cov.get("subscriberId"),
               "beneficiary": {"reference": "Patient/" + patient["id"]},
               "payor": [{"reference": "Organization/syn-payer"}]}
        if not match:
            # Unknown card data: no match (no fallback to demographics).
            ctm["subscriberId"] = "NOPE%08d" % self.rng.randrange(10 ** 8)
            mp["identifier"] = [{"system": "http://example.org/member-id",
                                 "value": ctm["subscriberId"]}]
        return [{"name": "MemberPatient", "resource": mp},
                {"name": "CoverageToMatch", "resource": ctm},
                {"name": "Consent", "resource": consent(patient["id"])}]

    def mm_bodies(self, count):
        """count member-match bodies for random members, 1 in 5 not matching."""
        out, expect = [], [0, 0]
        for _ in range(count):
            k = self.rng.randrange(1, self.n + 1)
            match = self.rng.random() >= 0.2
            out.append({"resourceType": "Parameters", "parameter": self.parts(k, match)})
            expect[0 if match and k not in self.optouts else 1] += 1
        return out, expect

    # --- figures ---------------------------------------------------------
    def need_data(self):
        if "resources" not in self.f:
            why = self.f.get("load")
            raise NA("no loaded members (%s)" % (why[5:] if isinstance(why, str) else "load failed"))
        if not self.http.token:
            raise NA("no access token")

    def wrk(self, path, bodies=None):
        args = ["wrk", "-t2", "-c%d" % self.b.conns, "-d%ds" % self.b.duration,
                "-s", os.path.join(HERE, "wrk.lua"), "http://127.0.0.1:%d%s" % (self.port, path),
                "--", bodies or "-", self.http.token or "-", path]
        p = run(args, timeout=self.b.duration + 60)
        m = re.search(r"^WRK (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", p.stdout, re.M)
        if not m:
            raise NA("wrk gave no result: %s" % (p.stdout + p.stderr)[-300:])
        n, dur, p50, p99, non2xx, sockerr = map(int, m.groups())
        return {"rps": n / (dur / 1e6), "p50": p50 / 1000.0, "p99": p99 / 1000.0,
                "requests": n, "non2xx": non2xx, "sockerr": sockerr}

    def ceilings(self):
        if shutil.which("wrk") is None:
            raise NA("wrk not installed")
        st, _, _ = self.http.req("GET", "/static.json")
        if st != 200:
            raise NA("static file answered %d" % st)
        s = self.wrk("/static.json")
        self.f["static_rps"] = s["rps"]
        st, _, _ = self.http.req("GET", "/bench/trivial")
        if st != 200:
            raise NA("trivial responder answered %d" % st)
        t = self.wrk("/bench/trivial")
        self.f["trivial_rps"] = t["rps"]
        self.f["trivial_p99"] = t["p99"]
        self.f["trivial_static"] = t["rps"] / s["rps"]
        log("  static %.0f req/s, trivial FastCGI %.0f req/s" % (s["rps"], t["rps"]))

    def member_match(self):
        self.need_data()
        bodies, expect = self.mm_bodies(self.b.bodies)
        # Check a few by hand first: the figure is only worth something
        # when the answers are right.
        seen = {}
        for body in bodies[:20]:
            st, _, data = self.http.req("POST", MM_PATH, body=body)
            seen[st] = seen.get(st, 0) + 1
            if st != 200:
                last = data[:300]
        if 200 not in seen:
            raise NA("$member-match gave no 200 in 20 tries: %s; %s" % (seen, last))
        path = os.path.join(self.dir, "mm-bodies.ndjson")
        with open(path, "w") as f:
            for body in bodies:
                f.write(json.dumps(body, separators=(",", ":")) + "\n")
        # As deployed (scripts/serve.sh): a runner in --loop, which takes
        # the WAL checkpoints off the request processes.
        loop = None
        if os.path.exists(self.b.runner):
            loop = subprocess.Popen([self.b.runner, "-c", self.conf, "--loop"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        log_path = os.path.join(self.data, "log", "p2p.log")
        log_from = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        try:
            r = self.wrk(MM_PATH, path)
        finally:
            if loop is not None:
                loop.terminate()
                loop.wait()
        # The same requests as the member-match process timed them (p2p.log:
        # from its accept to its reply, whole ms): what wrk sees on top is
        # waiting before the process took the request.
        inproc = served_ms(log_path, log_from, MM_PATH)
        if inproc:
            self.f["mm_p99_inproc"] = inproc[int(0.99 * (len(inproc) - 1))]
        self.f.update(mm_rps=r["rps"], mm_p50=r["p50"], mm_p99=r["p99"],
                      mm_non2xx=r["non2xx"] / max(1, r["requests"]),
                      mm_expect_non2xx=expect[1] / float(len(bodies)))
        if r["sockerr"]:
            self.notes.append("member-match: %d socket errors under wrk" % r["sockerr"])
        if "trivial_rps" in self.f:
            self.f["mm_ratio"] = r["rps"] / self.f["trivial_rps"]
        log("  member-match %.0f req/s, p50 %.2f ms, p99 %.2f ms, non-2xx %.0f%% (expected %.0f%%)"
            % (r["rps"], r["p50"], r["p99"], 100 * self.f["mm_non2xx"],
               100 * self.f["mm_expect_non2xx"]))

    def everything(self):
        self.need_data()
        body = {"resourceType": "Parameters",
                "parameter": self.parts(0, True, self.big_patient, self.big_cov)}
        st, _, data = self.http.req("POST", MM_PATH, body=body)
        if st != 200:
            raise NA("$member-match of the big member answered %d" % st)
        path = "/fhir/Patient/bench-big/$everything?_count=1000"

        def once():
            # The server's latency: request sent to last byte received,
            # page after page.  Python's json.loads of the ~1 MB Bundle
            # (tens of ms) is the client's cost and is left out.
            url, n, spent = path, 0, 0.0
            while url:
                t0 = time.time()
                st, _, data = self.http.req("GET", url)
                spent += time.time() - t0
                if st != 200:
                    raise NA("$everything answered %d: %s" % (st, data[:200]))
                bundle = json.loads(data)
                n += len(bundle.get("entry", []))
                url = None
                for link in bundle.get("link", []):
                    if link.get("relation") == "next":
                        u = urllib.parse.urlsplit(link["url"])
                        url = u.path + ("?" + u.query if u.query else "")
                if n > 100000:
                    break
            return spent * 1000.0, n
        once()
        times = []
        for _ in range(self.b.everything_reps):
            ms, n = once()
            times.append(ms)
        self.f["everything"] = statistics.median(times)
        self.f["everything_max"] = max(times)
        self.f["everything_n"] = n
        log("  $everything: %d resources (of %d stored), median %.1f ms"
            % (n, self.big_count, self.f["everything"]))

    def bulk_kickoff(self, ks, nomatch=0.0):
        bundles = []
        for k in ks:
            match = self.rng.random() >= nomatch
            bundles.append({"name": "MemberBundle", "part": self.parts(k, match)})
        body = {"resourceType": "Parameters", "parameter": bundles}
        st, h, data = self.http.req("POST", "/fhir/Group/$bulk-member-match", body=body,
                                    headers={"Prefer": "respond-async"})
        if st != 202:
            raise NA("$bulk-member-match answered %d: %s" % (st, data[:200]))
        return h["content-location"]

    def run_job(self, status_url, t0, prof=None):
        """Runs the runner until the job completes; returns (seconds from
        t0 to a complete manifest, runner peak RSS MiB, manifest)."""
        if not os.path.exists(self.b.runner):
            raise NA("src/tools/p2p-runner not in this build")
        cmd = [self.b.runner, "-c", self.conf, "--once"]
        # wait4's ru_maxrss of a child forked from this (large) Python
        # process reports Python's own size (the high-water mark survives
        # exec): time(1) forks the runner from a small process instead.
        rss_file = os.path.join(self.dir, "runner-rss.txt")
        if os.path.exists("/usr/bin/time"):
            cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd
        if prof:
            cmd = ["perf", "record", "-q", "-F", "999", "-g", "-o", prof, "--"] + cmd
        r = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        r.t0 = t0
        rc, _, rss = wait_rusage(r)
        if os.path.exists(rss_file):
            with open(rss_file) as f:
                kib = f.read().split()
            os.unlink(rss_file)
            if kib and kib[-1].isdigit():
                rss = int(kib[-1]) / 1024.0
        if rc != 0:
            raise NA("runner exited %d: %s" % (rc, r.stderr.read().decode()[-300:]))
        path = urllib.parse.urlsplit(status_url).path
        while True:
            st, _, data = self.http.req("GET", path)
            if st == 200:
                return time.time() - t0, rss, json.loads(data)
            if st != 202:
                raise NA("status answered %d: %s" % (st, data[:200]))
            time.sleep(0.02)

    def bulk(self):
        self.need_data()
        n = min(self.b.bulk_n, self.n)
        ks = self.rng.sample(range(1, self.n + 1), n)
        t0 = time.time()
        url = self.bulk_kickoff(ks, nomatch=0.05)
        dt, rss, man = self.run_job(url, t0)
        self.f["bulk"] = dt
        self.f["bulk_n"] = n
        self.f["bulk_rss"] = rss
        log("  $bulk-member-match of %d: %.2f s to the manifest" % (n, dt))

    def export(self):
        self.need_data()
        n = min(self.b.export_n, self.n)
        ks = [k for k in self.rng.sample(range(1, self.n + 1), min(self.n, n + n // 40 + 1))
              if k not in self.optouts][:n]
        t0 = time.time()
        url = self.bulk_kickoff(ks)
        dt, _, man = self.run_job(url, t0)
        self.f["bulk_export_group"] = dt
        job = urllib.parse.urlsplit(url).path.rsplit("/", 1)[1]
        with self.db() as c:
            row = c.execute("SELECT id FROM grp WHERE job_id = ? AND kind = 'match'",
                            (job,)).fetchone()
            if not row:
                raise NA("no MatchedMembers group stored for job %s" % job)
            gid = row[0]
            members = c.execute("SELECT count(*) FROM grp_member WHERE group_id = ?",
                                (gid,)).fetchone()[0]
        # The floor: the sqlite3 CLI writing the same members' stored JSON
        # (all their rows, before the release rules: a superset).
        floor = os.path.join(self.dir, "floor.ndjson")
        sql = ("SELECT coalesce(r.p2p_json, r.json) FROM grp_member g"
               " JOIN resource r ON r.patient = g.patient WHERE g.group_id = '%s';"
               % gid.replace("'", "''"))
        t1 = time.time()
        p = subprocess.run(["sqlite3", "-batch", "-noheader", "-list",
                            os.path.join(self.data, "p2p.db"), sql],
                           stdout=open(floor, "w"), stderr=subprocess.PIPE)
        floor_s = time.time() - t1
        if p.returncode != 0:
            raise NA("sqlite3 dump failed: %s" % p.stderr.decode()[:200])
        floor_rows = sum(1 for _ in open(floor, "rb"))
        floor_bytes = os.path.getsize(floor)
        os.unlink(floor)
        q = "?exportType=" + urllib.parse.quote(EXPORT_TYPE, safe="")
        t0 = time.time()
        st, h, data = self.http.req("GET", "/fhir/Group/%s/$davinci-data-export%s"
                                    % (gid, q), headers={"Prefer": "respond-async"})
        if st != 202:
            raise NA("$davinci-data-export answered %d: %s" % (st, data[:200]))
        dt, rss, man = self.run_job(h["content-location"], t0)
        count = sum(o.get("count", 0) for o in man.get("output", []))
        ejob = urllib.parse.urlsplit(h["content-location"]).path.rsplit("/", 1)[1]
        outdir = os.path.join(self.data, "bulk", ejob)
        size = sum(os.path.getsize(os.path.join(outdir, x)) for x in os.listdir(outdir)) \
            if os.path.isdir(outdir) else 0
        self.f.update(export_members=members, export_count=count, export_s=dt,
                      export_rps=count / dt, export_mbs=size / 1048576.0 / dt,
                      export_mb=size / 1048576.0, runner_rss=rss, floor_s=floor_s,
                      floor_rows=floor_rows, floor_mb=floor_bytes / 1048576.0,
                      export_floor=dt / floor_s)
        self.export_job = (gid, q)
        log("  export of %d members: %d resources, %.1f MiB in %.2f s (%.0f/s); "
            "sqlite3 dump %d rows in %.2f s; runner peak RSS %.1f MiB"
            % (members, count, size / 1048576.0, dt, count / dt, floor_rows, floor_s, rss))

    # --- the receiving payer's view ----------------------------------------
    def payer_export(self, gid):
        """One export as a receiving payer runs it: kick-off, polls that
        honour Retry-After (and 429), then every file downloaded through
        the web server, its lines counted against the manifest.  Returns
        (seconds from kick-off to the last byte, resources, bytes, polls)."""
        q = "?exportType=" + urllib.parse.quote(EXPORT_TYPE, safe="")
        t0 = time.time()
        st, h, data = self.http.req("GET", "/fhir/Group/%s/$davinci-data-export%s"
                                    % (gid, q), headers={"Prefer": "respond-async",
                                                         "Accept": "application/fhir+json"})
        if st != 202:
            raise NA("$davinci-data-export answered %d: %s" % (st, data[:200]))
        path = urllib.parse.urlsplit(h["content-location"]).path
        polls = 0
        while True:
            polls += 1
            st, h, data = self.http.req("GET", path, headers={"Accept": "application/json"})
            if st == 200:
                man = json.loads(data)
                break
            if st not in (202, 429):
                raise NA("status answered %d: %s" % (st, data[:200]))
            if time.time() - t0 > 600:
                raise NA("the export did not finish in 600 s")
            time.sleep(int(h.get("retry-after", "1")))
        count = nbytes = 0
        for f in man.get("output", []) + man.get("error", []):
            u = urllib.parse.urlsplit(f["url"])
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            c.request("GET", u.path + "?" + u.query,
                      headers={"Authorization": "Bearer " + self.http.token,
                               "Accept": "application/fhir+ndjson"})
            r = c.getresponse()
            if r.status != 200:
                raise NA("download of %s answered %d" % (u.path, r.status))
            lines = 0
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                nbytes += len(chunk)
            c.close()
            if "count" in f and lines != f["count"]:
                raise NA("%s: %d lines, the manifest says %d" % (u.path, lines, f["count"]))
            count += lines
        return time.time() - t0, count, nbytes, polls

    def payer(self):
        """The export headline: groups of 100 and of 10,000 members (as
        many as loaded), the runner woken by the kick-off as deployed;
        the median of three runs each."""
        self.need_data()
        gids = {}
        if getattr(self, "export_job", None):
            gids["e2e_big"] = self.export_job[0]
        # The runner as deployed: woken at kick-off (p2p.conf runner).
        self.stop()
        self.set_conf(runner=self.b.runner)
        self.start()
        ks = [k for k in self.rng.sample(range(1, self.n + 1), min(self.n, 110))
              if k not in self.optouts][:100]
        url = self.bulk_kickoff(ks)
        job = urllib.parse.urlsplit(url).path.rsplit("/", 1)[1]
        deadline = time.time() + 120
        while True:
            with self.db() as c:
                row = c.execute("SELECT id FROM grp WHERE job_id = ? AND kind = 'match'",
                                (job,)).fetchone()
            if row:
                gids["e2e_small"] = row[0]
                break
            if time.time() > deadline:
                raise NA("no 100-member MatchedMembers group")
            time.sleep(0.1)
        for key, gid in sorted(gids.items(), reverse=True):
            runs = [self.payer_export(gid) for _ in range(self.b.e2e_runs)]
            runs.sort()
            s, n, nb, polls = runs[len(runs) // 2]
            with self.db() as c:
                members = c.execute("SELECT count(*) FROM grp_member WHERE group_id = ?",
                                    (gid,)).fetchone()[0]
            self.f[key] = s
            self.f[key + "_rps"] = n / s
            self.f[key + "_n"] = members
            self.notes.append("receiving payer, %d members: %s s kick-off to last byte "
                              "(%d resources, %.1f MB, %d polls in the median run)"
                              % (members, ", ".join("%.2f" % r[0] for r in runs), n,
                                 nb / 1e6, polls))
            log("  receiving payer, %d members: %.2f s kick-off to last byte, %d resources"
                " (%.0f/s), %d polls" % (members, s, n, n / s, polls))

    # --- profiles of missed targets --------------------------------------
    def profiles(self):
        if not self.b.profile or not self.b.perf_ok:
            return
        prof = {}
        if miss("mm_p99", self.f) or miss("mm_ratio", self.f):
            pids = pids_of(os.path.join(self.b.build, "cgi-bin", "member-match"))
            if pids:
                out = os.path.join(self.dir, "perf-mm.data")
                rec = subprocess.Popen(["perf", "record", "-q", "-F", "999", "-g", "-o", out,
                                        "-p", ",".join(map(str, pids))],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    self.wrk(MM_PATH, os.path.join(self.dir, "mm-bodies.ndjson"))
                except NA:
                    pass
                rec.send_signal(signal.SIGINT)
                rec.wait()
                prof["$member-match (FastCGI processes under wrk)"] = perf_report(out)
        if miss("export_rps", self.f) or miss("export_floor", self.f) or miss("runner_rss", self.f):
            gid, q = self.export_job
            out = os.path.join(self.dir, "perf-export.data")
            try:
                st, h, data = self.http.req("GET", "/fhir/Group/%s/$davinci-data-export%s"
                                            % (gid, q), headers={"Prefer": "respond-async"})
                if st == 202:
                    self.run_job(h["content-location"], time.time(), prof=out)
                    prof["$davinci-data-export (p2p-runner)"] = perf_report(out)
            except NA as e:
                log("  export profile: %s" % e)
        if miss("everything", self.f):
            pids = pids_of(os.path.join(self.b.build, "cgi-bin", "everything"))
            if pids:
                out = os.path.join(self.dir, "perf-everything.data")
                rec = subprocess.Popen(["perf", "record", "-q", "-F", "999", "-g", "-o", out,
                                        "-p", ",".join(map(str, pids))],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                t = time.time()
                while time.time() - t < 5:
                    self.http.req("GET", "/fhir/Patient/bench-big/$everything?_count=1000")
                rec.send_signal(signal.SIGINT)
                rec.wait()
                prof["$everything (FastCGI processes)"] = perf_report(out)
        if miss("load", self.f):
            prof["p2p-admin load (2,000 members into a fresh database)"] = self.profile_load()
        self.f["profiles"] = prof

    def profile_load(self):
        d = os.path.join(self.dir, "prof-load")
        run([self.b.admin, "init", "--share", os.path.join(self.b.src, "share"), d])
        src = os.path.join(self.dir, "prof-load.ndjson")
        run([self.b.admin, "generate", "--members", "2000", "--seed", "3", "--out", src])
        out = os.path.join(self.dir, "perf-load.data")
        run(["perf", "record", "-q", "-F", "999", "-g", "-o", out, "--",
             self.b.admin, "-c", os.path.join(d, "p2p.conf"), "load", src])
        return perf_report(out)

    def go(self):
        log("== %d members" % self.n)
        try:
            self.setup()
            self.measure("load", self.load)
            self.start()
            for phase, name, fn in (("ceilings", "static_rps", self.ceilings),
                                    ("member-match", "mm_rps", self.member_match),
                                    ("everything", "everything", self.everything),
                                    ("bulk", "bulk", self.bulk),
                                    ("export", "export_rps", self.export),
                                    ("profiles", None, self.profiles),
                                    ("payer", "e2e_big", self.payer)):
                if phase not in self.b.phases:
                    continue
                if name is None:
                    fn()
                else:
                    self.measure(name, fn)
        finally:
            self.stop()
            if not self.b.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
        return self


def member_id(k):
    return "syn-m%06d" % k


def consent(pid):
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "resourceType": "Consent", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                  "code": "IDSCL"}]}],
        "patient": {"reference": "Patient/" + pid},
        "policy": [{"uri": "http://hl7.org/fhir/us/davinci-hrex/StructureDefinition-hrex-consent.html#regular"}],
        "provision": {
            "type": "permit",
            "period": {"start": (now - datetime.timedelta(days=30)).strftime("%Y-%m-%dT00:00:00Z"),
                       "end": (now + datetime.timedelta(days=365)).strftime("%Y-%m-%dT00:00:00Z")},
            "actor": [{"role": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP"}]},
                # The NPI form: the HRex alternative to Organization/<id>.
                "reference": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi",
                                             "value": PAYER_B_NPI}}}]}}


def optout(pid):
    return {"resourceType": "Consent", "id": "bench-optout-" + pid, "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                      "code": "IDSCL"}]}],
            "patient": {"reference": "Patient/" + pid},
            "provision": {"type": "deny"}}


# For each target that can be missed: where the time goes (measured) and
# what would close the gap.  Printed in RESULTS.md only for missed ones.
CLOSE = {
    "load": "*Load*: after the tree-free scanner (bench/loadfast.md) parsing is no "
    "longer the bound; the single SQLite writer thread is (~75% of the CPU), most of it "
    "kernel time writing WAL frames one pwrite pair each, then copying them again at the "
    "checkpoint. 16 KiB pages (the default since bench/pagesize.md) cut the frames for "
    "the same bytes by four and gave +25-40%. A first load into an empty database builds "
    "the secondary indexes after the rows and, when nothing else has the database open, "
    "writes through a rollback journal instead of WAL (0.58-0.71x the CPU, the section "
    "bench/firstload.md); the CPU is then ~60% parser threads, ~40% the "
    "writer, so 2 cores cap a load at ~2x its resources per CPU second. Closing the rest: "
    "cheaper scanning and FHIR checks, more cores for the parser threads, and more than "
    "one writer (members split over several databases).",
    "mm_ratio": "*$member-match throughput*: requests waiting on the socket are served "
    "in one write transaction (group commit, web/batch.c), schema 0007 writes three "
    "fewer indexes a match and the guard writes refused attempts only: 46 -> 15 "
    "syscalls and 0.52 -> 0.29 ms of CPU a request (bench/mmbatch.md); 0.19-0.23 ms "
    "on 2026-12-03 23:10 (`bench/apiperf.py measure WORK BUILD --members 10000 --what "
    "mm`, six runs), i.e. ~4,500 requests/s for a core of its own, which it shares "
    "with lighttpd and wrk here; half of the trivial responder (~15k) needs ~0.13 ms "
    "a request. What is left is parsing and building the HRex "
    "Parameters with json-c, the allocator, and SQLite's page writes (the profile "
    "below); closing it means a request path without json-c trees (the loader's "
    "jscan tape) and fewer allocations, not more processes (one writer).",
    "mm_p99": "*$member-match p99*: the requests themselves are short: inside the "
    "process (accept to reply, from p2p.log) p99 is ~10 ms (the row above). The tail is "
    "whole batches that stall: about once a second one batch of ~16 requests waits "
    "25-70 ms, all of it with the same time (p2p.log; 9 such batches in a 10 s run, "
    "runner as deployed). `perf record -e sched:sched_switch -g` of the member-match "
    "process finds it switched out in fdatasync -> folio_wait_writeback, and strace "
    "finds one fdatasync of the WAL by that process about every second: the sync "
    "SQLite makes (synchronous=NORMAL) when a writer starts the WAL over after the "
    "runner's checkpoint copied all of it, waiting behind the pages the checkpoint "
    "and the kernel are writing back; a flush on this VM's disk takes tens of ms. "
    "Ruled out by measurement: the runner's TRUNCATE checkpoints (the same tail "
    "without them), CPU scheduling alone (the trivial responder's p99 is 3-6 ms in the "
    "same runs), the runner itself (the tail is there without it, and longer: the WAL "
    "valve then checkpoints inside the request process). Closing it takes a request "
    "path without a flush: synchronous=OFF in the request processes would drop that "
    "sync but SQLite then promises nothing on power loss (not done), or a device whose "
    "flush takes well under a millisecond (NVMe with power-loss protection); starting "
    "the WAL over less often makes the stalls rarer, not shorter.",
    "everything": "*$everything*: with the page cache at 32 MiB (db_cache_mib) the "
    "server's CPU is ~6 ms for ~1,000 resources; the rest is lighttpd copying the ~1 MB "
    "Bundle and the scheduling of a loaded 2-core machine.",
    "export_rps": "*Export*: the runner's cost is partly per member and partly per "
    "resource. Per member, besides its release query: the consent "
    "re-check PDex requires at execution time (one statement a batch of 256, index "
    "pages only), one pending job_member row (one statement a batch) that becomes one "
    "audit row when the job completes (the disclosure record), and the member's PDex "
    "Provenance, a resource the dump does not write (+50% resources with two a member). "
    "With a claims history (--history small, ~15 resources a member released), at "
    "100,000 members the runner takes the time of the sqlite3 CLI dumping the same "
    "members' rows (1.01x in the table): 200,000 resources/s would mean finishing "
    "faster than sqlite3 itself reads and writes those rows (a superset, before the "
    "release rules), so the dump is the floor there. At 10,000 members the rows are "
    "hot in the page cache, the dump runs at ~380k rows/s, and the runner's per-member "
    "work above shows (~1.5x the dump). Beyond the floor, only faster storage and "
    "cheaper syscalls (a write of the output, a pread of the database: pvm_irq_enable "
    "is ~13% of the runner's profile).",
    "e2e_rps": "*Export as a receiving payer*: a 100-member export now ends in "
    "0.15-0.20 s (the first status poll waits for a job about to end: status_wait_ms) "
    "instead of 2 s. For 10,000 members (~155k resources, ~240 MB) the client waits "
    "about 2 s: the runner's ~1 s, the download of the files through lighttpd, and "
    "Retry-After in whole seconds (a client may come back up to a second after the job "
    "ended). Closing it: a runner near the dump (see export), and a status wait "
    "long enough for jobs of that size.",
    "export_floor": "*Export vs the sqlite3 dump*: the dump reads rows; the runner also "
    "re-checks consent per member, applies the release rules, writes a Provenance per "
    "member and two records per member (pending job_member, then audit), and fsyncs "
    "its files before it lists them, which is what the ratio shows when members have "
    "two resources each (see export).",
}


PHASES = ("ceilings", "member-match", "everything", "bulk", "export", "profiles",
          "payer", "token")


# targets whose figure has another name
FIGURE_OF = {"e2e_rps": "e2e_big_rps"}


def miss(name, f):
    v = f.get(FIGURE_OF.get(name, name))
    if not isinstance(v, (int, float)):
        return False
    return not TARGETS[name][1](v, f)


def pids_of(exe):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if os.readlink("/proc/%s/exe" % p) == os.path.realpath(exe):
                    out.append(int(p))
            except OSError:
                pass
    return out


def served_ms(path, offset, route):
    """Sorted durations (ms) of the p2p.log lines for route after offset."""
    out = []
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            for line in f.read().decode("utf-8", "replace").splitlines():
                m = re.search(r"\[info\] POST (\S+) \d+ (\d+)ms ", line)
                if m and m.group(1) == route:
                    out.append(int(m.group(2)))
    except OSError:
        return []
    return sorted(out)


def perf_report(path):
    p = run(["perf", "report", "-i", path, "--stdio", "--no-children", "-g", "none",
             "--percent-limit", "1.5", "--sort", "dso,symbol"])
    lines = [l for l in p.stdout.splitlines() if l.strip() and not l.startswith("#")]
    return "\n".join(lines[:25]) or "(no samples)"


class Bench:
    def __init__(self, a):
        self.src = os.path.abspath(a.src)
        self.build = os.path.abspath(a.prebuilt)
        self.trivial = os.path.abspath(a.trivial)
        self.admin = os.path.join(self.build, "src", "tools", "p2p-admin")
        self.runner = os.path.join(self.build, "src", "tools", "p2p-runner")
        self.quick = a.quick
        self.optimised = self.build == os.path.join(os.path.dirname(HERE), "bench", "build", "src")
        self.history = a.history
        self.keep = a.keep
        self.profile = a.profile and not a.quick
        self.work = os.path.abspath(a.work)
        os.makedirs(self.work, exist_ok=True)
        if a.quick:
            self.scales = [a.members if a.members_given else 30]
            self.duration, self.conns, self.bodies = 1, 4, 50
            self.everything_reps, self.bulk_n, self.export_n = 3, 10, 20
            self.e2e_runs = 1
        else:
            self.scales = [int(x) for x in a.scale.split(",")] if a.scale else [a.members]
            self.duration, self.conns, self.bodies = a.duration, 16, 2000
            self.everything_reps, self.bulk_n, self.export_n = 20, 1000, 10000
            self.e2e_runs = 3
        # What to measure after the load (--phases; default all).
        self.phases = set(a.phases.split(",")) if a.phases else set(PHASES)
        unknown = self.phases - set(PHASES)
        if unknown:
            sys.exit("bench.py: unknown phase %s (of %s)" % (", ".join(sorted(unknown)),
                                                          ",".join(PHASES)))
        self.load_start = os.getloadavg()
        self.pictures = []
        self.perf_ok = False
        if self.profile and shutil.which("perf"):
            p = run(["perf", "record", "-q", "-o", os.path.join(self.work, "perf-probe.data"),
                     "--", "true"])
            self.perf_ok = p.returncode == 0
        self._impl = {}

    def implemented(self, cmd):
        if cmd not in self._impl:
            p = run([self.admin, cmd])
            self._impl[cmd] = "not implemented" not in p.stderr
        return self._impl[cmd]

    def token(self):
        if self.quick:
            return "n/a: skipped in --quick"
        if "token" not in self.phases:
            return "n/a: not in --phases"
        env = dict(os.environ, P2P_SRCDIR=self.src, P2P_BUILDDIR=self.build, LIGHTTPD=LIGHTTPD)
        p = run(["/usr/bin/python3", os.path.join(HERE, "token_bench.py"), "2000", "4"], env=env)
        m = re.search(r"([0-9.]+) tokens/s \((\d+) refused\)", p.stdout)
        if not m:
            return "n/a: token_bench.py: %s" % (p.stdout + p.stderr).strip()[-200:]
        if int(m.group(2)):
            return "n/a: %s tokens refused" % m.group(2)
        return float(m.group(1))


# --- report ----------------------------------------------------------------
ROWS = [
    # key, label, format, target key
    ("e2e_small", "export as a receiving payer, {small} members: kick-off to last byte (s)",
     "{:.2f}", None),
    ("e2e_big", "export as a receiving payer, {big} members: kick-off to last byte (s)",
     "{:.2f}", None),
    ("e2e_big_rps", "export as a receiving payer, {big} members (resources/s)",
     "{:,.0f}", "e2e_rps"),
    ("load", "load throughput (resources/s)", "{:,.0f}", "load"),
    ("resources", "resources loaded", "{:,}", None),
    ("db_mb_per_m", "database size per million resources (MiB)", "{:,.0f}", None),
    ("static_rps", "static file (req/s)", "{:,.0f}", None),
    ("trivial_rps", "trivial FastCGI responder (req/s)", "{:,.0f}", None),
    ("trivial_static", "ratio trivial / static", "{:.2f}", None),
    ("mm_rps", "$member-match (req/s)", "{:,.0f}", None),
    ("mm_ratio", "ratio $member-match / trivial", "{:.2f}", "mm_ratio"),
    ("mm_p50", "$member-match p50 (ms)", "{:.2f}", None),
    ("mm_p99", "$member-match p99 (ms)", "{:.2f}", "mm_p99"),
    ("mm_p99_inproc", "$member-match p99 inside the process, accept to reply (ms)", "{:.0f}", None),
    ("trivial_p99", "trivial FastCGI responder p99 (ms)", "{:.2f}", None),
    ("mm_non2xx", "$member-match non-2xx share (non-matching bodies)", "{:.0%}", None),
    ("token", "token issuance, ES384 assertions (tokens/s)", "{:,.0f}", "token"),
    ("everything", "$everything, median of a ~1,000-resource member (ms)", "{:.1f}", "everything"),
    ("everything_n", "$everything resources returned", "{:,}", None),
    ("bulk", "$bulk-member-match of 1,000: kick-off to manifest (s)", "{:.2f}", None),
    ("export_members", "$davinci-data-export group members", "{:,}", None),
    ("export_count", "$davinci-data-export resources written", "{:,}", None),
    ("export_rps", "$davinci-data-export (resources/s)", "{:,.0f}", "export_rps"),
    ("export_mbs", "$davinci-data-export (MB/s written)", "{:,.1f}", None),
    ("floor_s", "sqlite3 CLI dump of the same members (s)", "{:.2f}", None),
    ("export_s", "$davinci-data-export kick-off to manifest (s)", "{:.2f}", None),
    ("export_floor", "ratio export time / sqlite3 dump", "{:.2f}", "export_floor"),
    ("runner_rss", "runner peak RSS, export (MiB)", "{:.1f}", "runner_rss"),
]
# The figures the growth table and the pictures (bench/plot.py) show:
# key, label with its unit in parentheses, format, and whether more is
# better ("rate") or less ("cost").
GROWTH = [("e2e_small", "export as a receiving payer, 100 members (s)", "{:.2f}", "cost"),
          ("e2e_big", "export as a receiving payer (s)", "{:.2f}", "cost"),
          ("load", "load (resources/s)", "{:,.0f}", "rate"),
          ("db_mb_per_m", "database size (MiB per million resources)", "{:,.0f}", "cost"),
          ("mm_rps", "$member-match (req/s)", "{:,.0f}", "rate"),
          ("mm_ratio", "$member-match / trivial responder (ratio)", "{:.2f}", "rate"),
          ("mm_p99", "$member-match p99 (ms)", "{:.2f}", "cost"),
          ("everything", "$everything (ms)", "{:.1f}", "cost"),
          ("bulk", "$bulk-member-match 1,000 (s)", "{:.2f}", "cost"),
          ("export_rps", "export (resources/s)", "{:,.0f}", "rate"),
          ("export_floor", "export time / sqlite3 dump (ratio)", "{:.2f}", "cost"),
          ("token", "token issuance, ES384 (tokens/s)", "{:,.0f}", "rate"),
          ("runner_rss", "runner peak RSS (MiB)", "{:.1f}", "cost")]


def fmt(v, f):
    if isinstance(v, (int, float)):
        return f.format(v)
    return str(v) if v is not None else "n/a: not measured"


def verdict(key, v, f):
    if key is None:
        return ""
    if not isinstance(v, (int, float)):
        return "n/a"
    return "met" if TARGETS[key][1](v, f) else "**missed**"


def value(f, key):
    """The figure key of a scale's figures f, or the reason it is missing."""
    v = f.get(key)
    if v is None and key in ("resources", "db_mb_per_m"):
        v = f.get("load")
    if v is None:
        for group, keys in (("static_rps", ("trivial_rps", "trivial_static", "trivial_p99", "mm_ratio")),
                            ("mm_rps", ("mm_ratio", "mm_p50", "mm_p99", "mm_p99_inproc", "mm_non2xx")),
                            ("everything", ("everything_n",)),
                            ("export_rps", ("export_members", "export_count", "export_mbs",
                                            "floor_s", "export_s", "export_floor",
                                            "runner_rss")),
                            ("e2e_big", ("e2e_small", "e2e_big_rps"))):
            if key in keys and isinstance(f.get(group), str):
                v = f[group]
    return v


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def table(scale, before=None):
    """The figures of one scale against their targets; with before (the
    same scale's figures of the --compare build), both side by side."""
    f = scale.f
    if before is None:
        out = ["| figure | measured | target | |", "|---|---:|---|---|"]
    else:
        out = ["| figure | before | after | after ÷ before | target | |",
               "|---|---:|---:|---:|---|---|"]
    for key, label, form, tk in ROWS:
        v = value(f, key)
        if key == "bulk" and isinstance(v, (int, float)) and f.get("bulk_n") != 1000:
            label = label.replace("1,000", "{:,}".format(f["bulk_n"]))
        label = label.replace("{big}", "{:,}".format(f.get("e2e_big_n", 10000)))
        label = label.replace("{small}", "{:,}".format(f.get("e2e_small_n", 100)))
        target = TARGETS[tk][0] if tk else ""
        if before is None:
            out.append("| %s | %s | %s | %s |" % (label, fmt(v, form), target,
                                                  verdict(tk, v, f)))
            continue
        b = value(before, key)
        ratio = "%.2f" % (v / b) if number(v) and number(b) and b else ""
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            label, fmt(b, form) if number(b) else "n/a", fmt(v, form), ratio, target,
            verdict(tk, v, f)))
    return "\n".join(out)


def growth(scales):
    base = scales[0]
    head = "| figure | " + " | ".join("{:,} members".format(s.n) for s in scales) + \
        " | growth vs members |"
    out = [head, "|---|" + "---:|" * len(scales) + "---|"]
    for key, label, form, kind in GROWTH:
        vals = [s.f.get(key) for s in scales]
        cells = [fmt(v, form) if isinstance(v, (int, float)) else "n/a" for v in vals]
        note = ""
        b0, last = vals[0], vals[-1]
        if isinstance(b0, (int, float)) and isinstance(last, (int, float)) and b0 > 0 and last > 0:
            nr = scales[-1].n / float(base.n)
            cost = last / b0 if kind == "cost" else b0 / last
            note = "cost ×%.2f for members ×%g: %s" % (
                cost, nr, "sub-linear" if cost <= nr else "**faster than linear**")
        out.append("| %s | %s | %s |" % (label, " | ".join(cells), note))
    return "\n".join(out)


def report(b, info, scales, token, argv, before=None):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# p2p benchmark results", "",
             "Generated by `bench/run.sh %s` on %s." % (" ".join(argv), now), "",
             "## Machine", "",
             "| | |", "|---|---|",
             "| CPU | %s |" % info["cpu"],
             "| cores (nproc) | %d |" % info["nproc"],
             "| memory | %s |" % info.get("mem", "?"),
             "| kernel | %s |" % info["kernel"],
             "| gcc | %s (build: %s) |" % (info["gcc"], "-O2 -g" if b.optimised
                                          else "prebuilt " + b.build),
             "| SQLite | %s (library %s) |" % (info["sqlite"], info["sqlite_lib"]),
             "| lighttpd | %s |" % info["lighttpd"],
             "| wrk | %s |" % info["wrk"], "",
             "Load average (1, 5, 15 min) when the run started: %s; when it ended: %s. "
             "Anything above ~0.5 means other jobs shared the 2 cores: the figures are then "
             "lower bounds with noise." % (" / ".join("%.1f" % x for x in b.load_start),
                                           " / ".join("%.1f" % x for x in os.getloadavg())),
             ""]
    if before is not None:
        lines += ["Before and after: the same run measured the build of %s first "
                  "(`--compare`), then this one, one after the other on the same machine; "
                  "each table's *before* column is that build's.  Pictures: "
                  "[growth and change](#pictures)." % before["name"], ""]
    for s in scales:
        s.f["token"] = token
        bf = before["scales"].get(str(s.n)) if before is not None else None
        lines += ["## %s members (history: %s)" % ("{:,}".format(s.n), b.history), "",
                  table(s, bf), ""]
        if s.notes:
            lines += ["Notes: " + "; ".join(s.notes), ""]
    if len(scales) > 1:
        lines += ["## Growth", "", growth(scales), ""]
    if b.pictures:
        lines += ["## Pictures", ""]
        lines += ["![%s](%s)" % (os.path.basename(p)[:-4], os.path.relpath(p, HERE))
                  for p in b.pictures] + [""]
    profs = [(s, k, v) for s in scales for k, v in s.f.get("profiles", {}).items()]
    if profs:
        lines += ["## Profiles of missed targets", "",
                  "`perf record -g` (999 Hz), `perf report --no-children --sort dso,symbol`; "
                  "entries above 1.5%.", ""]
        for s, k, v in profs:
            lines += ["### %s, %s members" % (k, "{:,}".format(s.n)), "", "```", v, "```", ""]
    elif b.profile and not b.perf_ok:
        lines += ["Profiles: n/a: perf record does not work here.", ""]
    missed = [k for k in CLOSE if any(miss(k, s.f) for s in scales)]
    if missed:
        lines += ["## Where the time goes in the missed targets, and what would close them", "",
                  "From the profiles above and the before/after studies in bench/mmperf.md, bench/mmbatch.md, bench/firstload.md, "
                  "bench/mmfast.md, bench/apiperf.md, bench/exportfast.md and "
                  "bench/loadfast.md.", ""]
        lines += ["- %s" % CLOSE[k] for k in missed] + [""]
    lines += ["## How it is measured", "",
              "- *load*: `p2p-admin generate --members N --seed 1 --anchor <today>` writes into "
              "a FIFO that `p2p-admin load` reads (both run at once; the generator's CPU "
              "counts against the load on the 2 cores); database size = `p2p.db` + WAL.",
              "- *ceilings and $member-match*: `wrk -t2 -c%d -d%ds` through the same lighttpd "
              "(bench/lighttpd-bench.conf includes lighttpd.conf): `/static.json` (12 bytes), "
              "`/bench/trivial` (bench/trivial.c, libfcgi, fixed 12-byte JSON, 2 processes), "
              "and `$member-match` (1 process, lighttpd.conf; `p2p-runner --loop` running "
              "as deployed, checkpointing the WAL every 200 ms) posting %d different bodies "
              "(bench/wrk.lua) for random members: 1 in 5 carries unknown card data "
              "(422 not-found), every 50th member has an opt-out on file (422), the rest "
              "match, store the Consent and record the match." % (b.conns, b.duration, b.bodies),
              "- *$everything*: one generated member with a 5-year history whose dated "
              "resources are copied under new ids up to 1,000 stored; "
              "`GET .../$everything?_count=1000` following `next` links, median of %d "
              "after one warm-up; request sent to last byte received, summed over the pages "
              "(the client's JSON parse of the Bundle is not counted)." % b.everything_reps,
              "- *$bulk-member-match*: %d MemberBundles (5%% unknown card data); time from "
              "the kick-off POST to the status URL answering 200, the runner "
              "(`p2p-runner --once`) started right after the 202." % b.bulk_n,
              "- *$davinci-data-export*: a MatchedMembers group of %d members made with "
              "$bulk-member-match; time from the kick-off to the manifest, files' bytes; "
              "the floor is `sqlite3` writing `coalesce(p2p_json, json)` of all those "
              "members' rows (before the release rules, so a superset) to a file; runner "
              "peak RSS from time(1) -f %%M (wait4(2) of a child of the Python "
              "process would report Python's own size)." % b.export_n,
              "- *token*: bench/token_bench.py 2000 4 (its own server, same build).",
              "- *export as a receiving payer* (the export headline): lighttpd restarted "
              "with `runner` set in p2p.conf, as deployed (the kick-off wakes `p2p-runner "
              "--once`); a client that GETs the `$davinci-data-export` kick-off, polls the "
              "status URL sleeping what `Retry-After` says (429 too), downloads every "
              "`output` and `error` file of the manifest through lighttpd with its bearer "
              "token, and checks each file's lines against the manifest's count; seconds "
              "from the kick-off request to the last byte, median of %d runs, for a "
              "MatchedMembers group of 100 members and the %s-member group above."
              % (b.e2e_runs, "{:,}".format(b.export_n)), ""]
    return "\n".join(lines)


# Sections of RESULTS.md that a run of this script keeps as they are.
KEPT_SECTIONS = ("$member-match: group commit, before and after", "Concurrency soak",
                 "Export as a receiving payer, before and after",
                 "First load into an empty database, before/after",
                 "Figures lower after than before in the run above")


def pictures(b, scales, figures, before, outdir):
    """Draws the run (and the --compare build's) with bench/plot.py;
    the SVG files written, or [] when gnuplot is missing."""
    if shutil.which("gnuplot") is None:
        log("no pictures: gnuplot is not installed")
        return []
    builds = {"after" if before is not None else "this build": figures["scales"]}
    if before is not None:
        builds = {"before": before["scales"], "after": figures["scales"]}
    spec = {"scales": [sc.n for sc in scales], "builds": list(builds),
            "plots": [[key, label, kind] for key, label, _, kind in GROWTH],
            "figures": json.loads(json.dumps(builds, default=str))}
    path = os.path.join(b.work, "figures.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    p = run(["/usr/bin/python3", os.path.join(HERE, "plot.py"), path, outdir])
    if p.returncode != 0:
        log("no pictures: %s" % p.stderr.strip())
        return []
    return p.stdout.split()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", required=True)
    ap.add_argument("--prebuilt", required=True)
    ap.add_argument("--trivial", required=True)
    ap.add_argument("--members", type=int, default=10000)
    ap.add_argument("--scale")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--history", choices=("small", "full", "members"), default="full")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    ap.add_argument("--out")
    ap.add_argument("--work", default=os.path.join(HERE, "out"))
    ap.add_argument("--phases", help="comma list of what to measure after the load "
                    "(%s; default all)" % ",".join(PHASES))
    ap.add_argument("--json", help="also write every scale's figures to this file")
    ap.add_argument("--compare", help="the --json file of another build's run: its figures "
                    "go next to this run's as 'before', and both into the pictures")
    ap.add_argument("--compare-name", default="the baseline",
                    help="what the --compare build is (a git revision)")
    ap.add_argument("--plots", default=os.path.join(HERE, "plots"),
                    help="where the SVG pictures go (bench/plot.py; not for --quick)")
    argv = sys.argv[1:]
    a = ap.parse_args()
    a.members_given = "--members" in argv
    b = Bench(a)
    info = machine()
    log("machine: %s, %d cores, %s; gcc %s, sqlite %s, lighttpd %s" % (
        info["cpu"], info["nproc"], info.get("mem"), info["gcc"], info["sqlite"],
        info["lighttpd"]))
    shown = [x for x in argv if not x.startswith(("--src", "--prebuilt", "--trivial"))
             and x not in (a.src, a.prebuilt, a.trivial)]
    token = b.token()
    scales = [Scale(b, n).go() for n in b.scales]
    for sc in scales:
        sc.f["token"] = token
    figures = {"machine": info, "load_start": b.load_start, "load_end": os.getloadavg(),
               "scales": {str(sc.n): dict(sc.f, notes=sc.notes) for sc in scales}}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1, default=str)
    before = None
    if a.compare:
        before = json.load(open(a.compare))
        before["name"] = a.compare_name
    b.pictures = [] if a.quick else pictures(b, scales, figures, before, a.plots)
    text = report(b, info, scales, token, shown, before)
    print(text)
    out = a.out or (os.path.join(b.work, "quick.md") if a.quick
                    else os.path.join(HERE, "RESULTS.md"))
    # sections recorded by other tools (bench/soak.py, bench/exportpipe.py)
    # or by hand from studies of their own: keep them
    old = open(out).read() if os.path.exists(out) else ""
    for head in KEPT_SECTIONS:
        mark = "\n## %s\n" % head
        if mark in old:
            text = text.rstrip("\n") + "\n" + mark + \
                old.split(mark, 1)[1].split("\n## ", 1)[0]
    with open(out, "w") as f:
        f.write(text)
    log("written: %s" % out)


if __name__ == "__main__":
    main()
