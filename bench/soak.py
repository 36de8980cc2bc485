#!/usr/bin/python3
"""Concurrency soak: N clients for T seconds against one server.

A p2p data directory and lighttpd on a free loopback port, as the e2e
suite starts them (tests/e2e/harness.py), with synthetic members from
`p2p-admin generate` and the benchmark's requesting payer (bench.py).
Then N client threads, each in a loop until the time is up, pick one
of (weights in OPS):

  token        POST /auth/token, client_secret_basic
  member-match a random member, 1 in 5 with card data that matches none
  everything   Patient/$everything of a member this client matched
  bulk-kickoff $bulk-member-match of 1 to 5 MemberBundles (starts the
               runner, which writes concurrently)
  bulk-status  the status of a job kicked off earlier

and records status and latency.  When the time is up, it waits for the
jobs to finish, stops the server and runs PRAGMA integrity_check on the
database.  It prints, per operation, requests, 5xx, busy/locked (503),
other refusals, p50 and p99, and exits 1 on any 5xx other than 503, a
sanitizer or crash report in the server log, or a failed integrity
check.  Loopback only; bounded by --clients and --seconds.

Usage: bench/soak.py [--clients 100] [--seconds 60] [--members 200]
                     [--record bench/RESULTS.md]
--record replaces the "## Concurrency soak" section of that file (or
appends one) with the figures, the command and the load average before
and after the run; bench/run.sh keeps the section when it rewrites
RESULTS.md.
Environment as the e2e suite: P2P_SRCDIR, P2P_BUILDDIR (default: this
tree, built), LIGHTTPD.
"""
import argparse
import datetime
import re
import json
import os
import random
import sqlite3
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from bench import CLIENT, SECRET, PAYER_B_NPI, consent, member_id  # noqa: E402

# operation: weight
OPS = {"token": 10, "member-match": 35, "everything": 30,
       "bulk-kickoff": 5, "bulk-status": 20}
BASIC = harness.basic(CLIENT, SECRET)
SECTION = "## Concurrency soak"
NOTES = ("Other 4xx are expected: the 1 in 5 $member-match bodies with card data "
         "that matches no one (422), and $everything of a member not matched yet "
         "(403/404). lighttpd.conf runs one FastCGI process for $member-match, "
         "the token endpoint and the bulk kick-off (max-procs 1; two for "
         "$everything): with many clients, their latency is mostly waiting in "
         "line for that process, and every match is a write transaction.")


class Soak:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.stats = {op: [] for op in OPS}     # (status, ms)
        self.matched = []                       # patient ids matched
        self.jobs = []                          # status paths
        self.errors = []                        # first 5xx bodies
        self.token = None
        self.srv = None

    def setup(self):
        srv = self.srv = harness.Server(demo=True, conf={
            "probe_limit": 1000, "token_ttl": 3600,
            "bulk_max_members": 1000})
        path = os.path.join(srv.dir, "members.ndjson")
        srv.admin("generate", "--members", str(self.a.members), "--seed", "1",
                  "--anchor", datetime.date.today().isoformat(),
                  "--history", "small", "--out", path)
        payer = {"resourceType": "Organization", "id": "soak-payer-b",
                 "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi",
                                 "value": PAYER_B_NPI}], "name": "Soak Payer B"}
        with open(path, "a") as f:
            f.write(json.dumps(payer) + "\n")
        srv.admin("load", path)
        # system/*.rs covers $member-match and $bulk-member-match too
        srv.admin("client", "add", "--id", CLIENT, "--secret-stdin", "--npi",
                  PAYER_B_NPI, "--scopes", "system/*.rs", input=SECRET + "\n")
        db = sqlite3.connect(os.path.join(srv.data, "p2p.db"))
        self.members = {}
        for pid, pj in db.execute("SELECT id, json FROM resource WHERE type = 'Patient'"):
            cov = db.execute("SELECT json FROM resource WHERE type = 'Coverage'"
                             " AND id = ?", (pid + "-cov",)).fetchone()
            if cov:
                self.members[pid] = (json.loads(pj), json.loads(cov[0]))
        db.close()
        if not self.members:
            raise SystemExit("soak: no generated members")
        self.pids = sorted(self.members)
        srv.start()

    # --- requests --------------------------------------------------------
    def parts(self, rng, pid, match=True):
        patient, cov = self.members[pid]
        mp = {"resourceType": "Patient", "name": patient.get("name", [])[:1],
              "birthDate": patient.get("birthDate"), "gender": patient.get("gender")}
        ctm = {"resourceType": "Coverage", "status": "active",
               "subscriberId": cov.get("subscriberId") if match else
               "NOPE%08d" % rng.randrange(10 ** 8),
               "beneficiary": {"reference": "Patient/" + pid}}
        return [{"name": "MemberPatient", "resource": mp},
                {"name": "CoverageToMatch", "resource": ctm},
                {"name": "Consent", "resource": consent(pid)}]

    def auth(self):
        return {"Authorization": "Bearer " + self.token} if self.token else {
            "Authorization": BASIC}

    def op_token(self, rng):
        r = self.srv.request("POST", "/auth/token", "grant_type=client_credentials&"
                             "scope=system%2F*.rs", headers={
                                 "Authorization": BASIC,
                                 "Content-Type": "application/x-www-form-urlencoded"})
        if r.status == 200:
            self.token = r.json()["access_token"]
        return r

    def op_member_match(self, rng):
        pid = rng.choice(self.pids)
        match = rng.random() >= 0.2
        body = {"resourceType": "Parameters", "parameter": self.parts(rng, pid, match)}
        r = self.srv.request("POST", "/fhir/Patient/$member-match", body,
                             headers=self.auth())
        if r.status == 200:
            with self.lock:
                self.matched.append(pid)
        return r

    def op_everything(self, rng):
        with self.lock:
            pid = rng.choice(self.matched) if self.matched else rng.choice(self.pids)
        return self.srv.request("GET", "/fhir/Patient/%s/$everything" % pid,
                                headers=self.auth())

    def op_bulk_kickoff(self, rng):
        bundles = [{"name": "MemberBundle", "part": self.parts(
            rng, rng.choice(self.pids), rng.random() >= 0.2)}
            for _ in range(rng.randint(1, 5))]
        h = dict(self.auth(), Prefer="respond-async")
        r = self.srv.request("POST", "/fhir/Group/$bulk-member-match",
                             {"resourceType": "Parameters", "parameter": bundles},
                             headers=h)
        loc = r.header("content-location")
        if r.status == 202 and loc:
            u = urllib.parse.urlsplit(loc)
            with self.lock:
                self.jobs.append(u.path + ("?" + u.query if u.query else ""))
        return r

    def op_bulk_status(self, rng):
        with self.lock:
            path = rng.choice(self.jobs) if self.jobs else None
        if path is None:
            return self.op_bulk_kickoff(rng)
        return self.srv.request("GET", path, headers=self.auth())

    # --- the run ---------------------------------------------------------
    def worker(self, k, deadline):
        rng = random.Random(k)
        ops, weights = list(OPS), list(OPS.values())
        while time.time() < deadline:
            op = rng.choices(ops, weights)[0]
            t0 = time.time()
            try:
                r = getattr(self, "op_" + op.replace("-", "_"))(rng)
                status = r.status
                if status >= 500 and status != 503:
                    with self.lock:
                        if len(self.errors) < 5:
                            self.errors.append("%s %d %s" % (op, status, r.body[:300]))
            except OSError as e:    # connection refused or reset
                status = 599
                with self.lock:
                    if len(self.errors) < 5:
                        self.errors.append("%s: %s" % (op, e))
            ms = (time.time() - t0) * 1000.0
            with self.lock:
                self.stats[op].append((status, ms))

    def run(self):
        self.op_token(random.Random(0))
        deadline = time.time() + self.a.seconds
        threads = [threading.Thread(target=self.worker, args=(k, deadline))
                   for k in range(self.a.clients)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.time() - t0
        # let the runners finish the jobs before the check
        end = time.time() + 120
        pending = list(self.jobs)
        while pending and time.time() < end:
            pending = [p for p in pending
                       if self.srv.request("GET", p, headers=self.auth()).status == 202]
            if pending:
                time.sleep(0.5)
        self.pending = len(pending)

    def finish(self):
        self.srv.stop()
        self.bad_log = self.srv.bad_log_lines()
        db = sqlite3.connect(os.path.join(self.srv.data, "p2p.db"))
        self.integrity = [r[0] for r in db.execute("PRAGMA integrity_check")]
        self.fk = db.execute("PRAGMA foreign_key_check").fetchall()
        db.close()

    def report(self):
        def pct(xs, p):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else 0.0
        rows, total = [], [0, 0, 0, 0]
        for op in OPS:
            s = self.stats[op]
            n = len(s)
            e5 = sum(1 for st, _ in s if st >= 500 and st != 503)
            busy = sum(1 for st, _ in s if st == 503)
            other = sum(1 for st, _ in s if 400 <= st < 500)
            ms = [m for _, m in s]
            rows.append("| %s | %d | %d | %d | %d | %.1f | %.1f |" % (
                op, n, e5, busy, other, pct(ms, 0.5), pct(ms, 0.99)))
            for i, v in enumerate((n, e5, busy, other)):
                total[i] += v
        allms = [m for s in self.stats.values() for _, m in s]
        rows.append("| **all** | %d | %d | %d | %d | %.1f | %.1f |" % (
            total[0], total[1], total[2], total[3], pct(allms, 0.5), pct(allms, 0.99)))
        out = ["soak: %d clients, %.0f s, %d members; %d requests (%.0f/s)" % (
            self.a.clients, self.elapsed, len(self.pids), total[0],
            total[0] / self.elapsed if self.elapsed else 0),
            "",
            "| operation | requests | 5xx | busy/locked (503) | other 4xx | p50 ms | p99 ms |",
            "|---|---|---|---|---|---|---|"] + rows + [
            "",
            "jobs kicked off: %d, unfinished after the wait: %d" % (len(self.jobs), self.pending),
            "PRAGMA integrity_check: %s" % "; ".join(self.integrity),
            "PRAGMA foreign_key_check: %s" % ("ok" if not self.fk else "%d rows" % len(self.fk)),
            "sanitizer/crash lines in the server log: %d" % len(self.bad_log)]
        for e in self.errors:
            out.append("5xx: " + e)
        for l in self.bad_log[:10]:
            out.append("log: " + l)
        self.total5xx = total[1]
        self.requests = total[0]
        return "\n".join(out)

    def record(self, path, text, argv, load0, load1):
        """Writes the section SECTION of path (see the docstring)."""
        section = "\n".join([
            SECTION, "",
            "`bench/soak.py %s` on %s UTC: lighttpd on loopback with `lighttpd.conf` as "
            "shipped, %d generated members (`--history small`), one client id shared by "
            "all threads (a token, then Bearer), the runner started by each kick-off." % (
                " ".join(argv), datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                len(self.pids)), "",
            "Load average (1, 5, 15 min) before the run: %.2f / %.2f / %.2f; after: "
            "%.2f / %.2f / %.2f (2 cores shared with other jobs: latencies include "
            "their load)." % (load0 + load1), "",
            text.strip(), "",
            NOTES, ""])
        old = open(path).read() if os.path.exists(path) else ""
        pat = re.compile(r"^%s\n.*?(?=^## |\Z)" % re.escape(SECTION), re.S | re.M)
        new = pat.sub(lambda m: section + "\n", old) if pat.search(old) else \
            old.rstrip("\n") + "\n\n" + section
        with open(path, "w") as f:
            f.write(new)

    def ok(self):
        return (self.total5xx == 0 and self.integrity == ["ok"] and not self.fk
                and not self.bad_log and self.requests > 0 and self.pending == 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--record", metavar="FILE")
    a = ap.parse_args()
    argv = [x for x in sys.argv[1:]]
    if a.record:
        i = argv.index("--record")
        del argv[i:i + 2]
    if not 1 <= a.clients <= 500 or not 0 < a.seconds <= 3600:
        ap.error("--clients 1..500, --seconds up to 3600")
    s = Soak(a)
    try:
        s.setup()
        load0 = os.getloadavg()
        s.run()
        s.finish()
        load1 = os.getloadavg()
        text = s.report()
        print(text)
        print("load average before: %.2f %.2f %.2f, after: %.2f %.2f %.2f"
              % (load0 + load1))
        if a.record:
            s.record(a.record, text, argv, load0, load1)
    finally:
        if s.srv is not None:
            s.srv.cleanup()
    sys.exit(0 if s.ok() else 1)


if __name__ == "__main__":
    main()
