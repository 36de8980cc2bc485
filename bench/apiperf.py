#!/usr/bin/python3
"""Before/after measurements of $everything, $member-match and the export
runner (bench/apiperf.md, bench/mmperf.md), reusing bench/bench.py's setup
on a kept data directory so that two builds can be compared on the same
data.

  bench/apiperf.py prepare WORK BUILD [--members N] [--history H]
      generate + load N members (history full, or H as bench.py takes
      it) into WORK/n<N>, keep it
  bench/apiperf.py measure WORK BUILD [--members N] [--what mm,ev,export]
      [--perf DIR]
      start lighttpd with BUILD's programs on that data and print wall
      time and the CPU time of BUILD's server processes per figure
  Environment for member-match A/B runs:
      NOCEIL=1   skip the static and trivial ceilings
      RUNNER=1   run BUILD's p2p-runner --loop during wrk (as deployed)
      MMSRC=DIR  take lighttpd.conf (max-procs) from DIR instead of this tree

BUILD is a build directory (holding src/tools/p2p-admin, src/cgi/...).
Standard library only; needs wrk and the trivial responder of
bench/run.sh (bench/build/trivial, built here when missing).
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

BUILD = "/"
HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_of(exe_names):
    """Sum of utime+stime (seconds) of processes whose exe ends in a name."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % p)
            if os.path.basename(exe) not in exe_names or not exe.startswith(BUILD):
                continue
            f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except OSError:
            pass
    return total / tck


def _pids_of_name(name):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                e = os.readlink("/proc/%s/exe" % p)
                if os.path.basename(e) == name and e.startswith(BUILD):
                    out.append(int(p))
            except OSError:
                pass
    return out


bench.pids_of_name = _pids_of_name


class Kept(bench.Scale):
    """A Scale whose data directory survives between runs."""

    def __init__(self, b, n, fresh):
        if fresh:
            bench.Scale.__init__(self, b, n)
            return
        self.b, self.n, self.f, self.notes = b, n, {}, []
        self.dir = os.path.join(b.work, "n%d" % n)
        self.data = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.data, "p2p.conf")
        self.port = bench.testbed.free_port()
        self.http = bench.Client(self.port)
        self.lighttpd = None
        self.rng = bench.random.Random(n)
        self.optouts = set(range(7, n + 1, 50))
        self.f["resources"] = 1
        # base_url must follow the port of this run
        self.set_conf(base_url="http://127.0.0.1:%d" % self.port)


def perf_start(a, name):
    """perf record -g of the running processes called name, or None."""
    if not a.perf:
        return None
    pids = ",".join(str(p) for p in bench.pids_of_name(name))
    out = os.path.join(a.perf, "perf-%s.data" % name)
    return subprocess.Popen(["perf", "record", "-q", "-F", "999", "--call-graph", os.environ.get("PERF_CG", "fp"), "-o", out,
                             "-p", pids], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_stop(p, a, name):
    if p is None:
        return
    p.send_signal(bench.signal.SIGINT)
    p.wait()
    print(bench.perf_report(os.path.join(a.perf, "perf-%s.data" % name)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=("prepare", "measure"))
    ap.add_argument("work")
    ap.add_argument("build")
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--what", default="mm,ev,export")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--history", choices=("small", "full", "members"), default="full")
    ap.add_argument("--perf", help="record perf profiles of the server processes here")
    a = ap.parse_args()
    global BUILD
    BUILD = os.path.realpath(a.build)
    trivial = os.path.join(HERE, "build", "trivial")
    if not os.path.exists(trivial):
        os.makedirs(os.path.dirname(trivial), exist_ok=True)
        subprocess.check_call(["cc", "-O2", "-o", trivial, os.path.join(HERE, "trivial.c"),
                               "-lfcgi"])
    ns = argparse.Namespace(src=os.environ.get("MMSRC", os.path.dirname(HERE)), prebuilt=a.build, trivial=trivial,
                            members=a.members, scale=None, quick=False, history=a.history,
                            duration=a.duration, profile=False, keep=True, out=None,
                            work=a.work, members_given=True, phases=None)
    b = bench.Bench(ns)
    b.export_n = min(b.export_n, a.members)
    if a.cmd == "prepare":
        s = Kept(b, a.members, True)
        s.setup()
        s.load()
        print("prepared %s: %s" % (s.dir, s.f))
        return
    s = Kept(b, a.members, False)
    # The big member of make_big() (Patient/Coverage from the database).
    with s.db() as c:
        s.big_patient = bench.json.loads(c.execute(
            "SELECT json FROM resource WHERE type='Patient' AND id='bench-big'").fetchone()[0])
        s.big_cov = bench.json.loads(c.execute(
            "SELECT json FROM resource WHERE type='Coverage' AND patient='bench-big'"
            " LIMIT 1").fetchone()[0])
        s.big_count = c.execute(
            "SELECT count(*) FROM resource WHERE patient='bench-big'").fetchone()[0]
    what = a.what.split(",")
    try:
        s.start()
        if "mm" in what:
            if not os.environ.get("NOCEIL"): s.measure("static_rps", s.ceilings)
            rn = None
            if os.environ.get("RUNNER"):
                rn = subprocess.Popen([os.path.join(a.build, "src/tools/p2p-runner"), "-c", s.conf, "--loop"])
            c0 = cpu_of(("member-match",))
            pr = perf_start(a, "member-match")
            s.measure("mm_rps", s.member_match)
            perf_stop(pr, a, "member-match")
            c1 = cpu_of(("member-match",))
            if rn:
                rn.terminate(); rn.wait()
            n = s.f.get("mm_rps", 0) * b.duration
            print("member-match: %.0f req/s (trivial %.0f, p99 %.2f ms; ratio %.2f), p50 %.2f ms,"
                  " p99 %.2f ms; CPU %.2f s for ~%d requests = %.3f ms/request"
                  % (s.f.get("mm_rps", 0), s.f.get("trivial_rps", 0), s.f.get("trivial_p99", 0), s.f.get("mm_ratio", 0),
                     s.f.get("mm_p50", 0), s.f.get("mm_p99", 0), c1 - c0, n,
                     1000 * (c1 - c0) / max(n, 1)))
        if "ev" in what:
            b.everything_reps = 20
            s.http.req("GET", "/fhir/Patient/bench-big/$everything?_count=1")
            c0 = cpu_of(("everything",))
            pr = perf_start(a, "everything")
            s.measure("everything", s.everything)
            perf_stop(pr, a, "everything")
            c1 = cpu_of(("everything",))
            url = "http://127.0.0.1:%d/fhir/Patient/bench-big/$everything?_count=1000" % s.port
            ct = []
            for _ in range(20):
                p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}",
                                    "-H", "Authorization: Bearer " + s.http.token, url],
                                   capture_output=True, text=True)
                ct.append(float(p.stdout) * 1000)
            print("$everything via curl (no client-side parse): median %.1f ms, min %.1f ms"
                  % (bench.statistics.median(ct), min(ct)))
            print("$everything: %s resources, median %.1f ms, max %.1f ms;"
                  " server CPU %.1f ms/request (21 requests)"
                  % (s.f.get("everything_n"), s.f.get("everything", -1),
                     s.f.get("everything_max", -1), 1000 * (c1 - c0) / 21))
        if "export" in what:
            t = time.time()
            s.measure("export_rps", s.export)
            print("export: %s" % {k: s.f.get(k) for k in (
                "export_members", "export_count", "export_s", "export_rps", "export_mb",
                "runner_rss", "floor_s", "export_floor")})
            print("(whole export step incl. bulk match: %.1f s)" % (time.time() - t))
        for k, v in s.f.items():
            if isinstance(v, str):
                print("n/a %s: %s" % (k, v))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
