#!/usr/bin/env python3
"""bench/exportpipe.py - the export as a receiving payer sees it, before
and after, in one run.

Builds two optimised copies (-O2 -g): BEFORE, a git revision (default
main), and AFTER, the working tree as it is (tracked and untracked files
git does not ignore); then, for each in turn on the same machine, runs
bench/bench.py --phases export,payer: N generated members loaded into a
new data directory, a $bulk-member-match group of up to 10,000 of them
and one of 100, then for each group the median of three exports as a
client runs them (kick-off, polls honouring Retry-After and 429, every
file downloaded through lighttpd and counted against the manifest).
Records the comparison as the section "Export as a receiving payer,
before and after" of bench/RESULTS.md (replacing an earlier one; the
full benchmark keeps it), and prints it.

Usage: bench/exportpipe.py [--before REV] [--members N]
                           [--history members|small|full] [--no-record]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
TITLE = "## Export as a receiving payer, before and after"

# figure, label, format, better when ("lower" or "higher")
FIGURES = [
    ("e2e_small", "{small} members: kick-off to last byte (s)", "{:.2f}", "lower"),
    ("e2e_big", "{big} members: kick-off to last byte (s)", "{:.2f}", "lower"),
    ("e2e_big_rps", "{big} members: resources/s, kick-off to last byte", "{:,.0f}",
     "higher"),
    ("export_count", "resources in the {big}-member export", "{:,}", None),
    ("export_s", "{big}-member export: kick-off to manifest, runner alone (s)", "{:.2f}",
     "lower"),
    ("export_rps", "{big}-member export: resources/s written", "{:,.0f}", "higher"),
    ("runner_rss", "runner peak RSS (MiB)", "{:.1f}", "lower"),
]


def log(msg):
    sys.stderr.write("exportpipe: %s\n" % msg)
    sys.stderr.flush()


def sh(cmd, **kw):
    log(cmd if isinstance(cmd, str) else " ".join(cmd))
    subprocess.run(cmd, check=True, shell=isinstance(cmd, str), **kw)


def build(label, rev):
    """An -O2 build of rev (None: the working tree) in bench/build/<label>."""
    src = os.path.join(HERE, "build", label, "src")
    os.makedirs(src, exist_ok=True)
    if rev is None:
        sh("git ls-files -z --cached --others --exclude-standard | "
           "tar --null -T - -cf - | tar -C %s -xf -" % src, cwd=TOP)
    else:
        sh("git archive %s | tar -C %s -xf -" % (rev, src), cwd=TOP)
    os.makedirs(os.path.join(src, "m4"), exist_ok=True)
    if not os.access(os.path.join(src, "configure"), os.X_OK):
        sh("autoreconf -fi >/dev/null 2>&1", cwd=src)
    if not os.path.exists(os.path.join(src, "Makefile")):
        sh(["./configure", "-q", "CFLAGS=-O2 -g"], cwd=src)
    sh("make -j2 >/dev/null", cwd=src)
    return src


def describe(rev):
    p = subprocess.run(["git", "log", "-1", "--format=%h %s", rev or "HEAD"], cwd=TOP,
                       capture_output=True, text=True)
    name = p.stdout.strip()[:60]
    if rev is None:
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=TOP,
                               capture_output=True, text=True).stdout.strip()
        name = "working tree at " + name + (" (uncommitted changes)" if dirty else "")
    return name


def measure(label, prebuilt, trivial, a):
    out = os.path.join(HERE, "out", "exportpipe-%s" % label)
    os.makedirs(out, exist_ok=True)
    js = os.path.join(out, "figures.json")
    sh([sys.executable, os.path.join(HERE, "bench.py"), "--src", TOP, "--prebuilt", prebuilt,
        "--trivial", trivial, "--members", str(a.members), "--history", a.history,
        "--phases", "export,payer", "--no-profile", "--work", out,
        "--out", os.path.join(out, "RESULTS.md"), "--json", js],
       stdout=subprocess.DEVNULL)
    return json.load(open(js))


def cell(v, form):
    return form.format(v) if isinstance(v, (int, float)) else "n/a (%s)" % v


def section(a, runs, names, argv):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    before = runs["before"]["scales"][str(a.members)]
    after = runs["after"]["scales"][str(a.members)]
    big = "{:,}".format(after.get("e2e_big_n") or before.get("e2e_big_n") or 10000)
    small = "{:,}".format(after.get("e2e_small_n") or before.get("e2e_small_n") or 100)
    la = [runs[k]["load_start"][0] for k in ("before", "after")] + \
        [runs[k]["load_end"][0] for k in ("before", "after")]
    lines = [TITLE, "",
             "Measured by `bench/exportpipe.py %s` on %s: the same client against "
             "two -O2 builds, one after the other on this machine, %s generated members "
             "(history: %s) each. Before: %s. After: %s." % (
                 " ".join(argv), now, "{:,}".format(a.members), a.history,
                 names["before"], names["after"]),
             "",
             "| figure | before | after | change |", "|---|---:|---:|---:|"]
    for key, label, form, better in FIGURES:
        b, n = before.get(key), after.get(key)
        change = ""
        if better and isinstance(b, (int, float)) and isinstance(n, (int, float)) and b > 0:
            change = "%+.0f%%" % ((n / b - 1) * 100)
        lines.append("| %s | %s | %s | %s |" % (label.format(big=big, small=small),
                                                 cell(b, form), cell(n, form), change))
    lines += ["",
              "Kick-off to last byte: the median of three exports of each group, each a "
              "GET kick-off, status polls that sleep the Retry-After given (or the 429's), "
              "and every output and error file downloaded through lighttpd and counted "
              "against the manifest; the runner is started by the kick-off as deployed. "
              "The after build's files also hold what the before build's do not: a PDex "
              "transmitter Provenance per member, the Provenance of the referenced "
              "resources, and those resources (Organizations, Practitioners) once per "
              "export, so its resource counts are higher for the same members.",
              "",
              "Runs: before %s; after %s." % (
                  "; ".join(before.get("notes", [])) or "-",
                  "; ".join(after.get("notes", [])) or "-"),
              "",
              "Load average (1 min) at the start and end of the two runs: %s. Other "
              "engineers' jobs share the 2 cores: compare the two columns with each "
              "other, not with other sections." % " / ".join("%.1f" % x for x in la),
              ""]
    return "\n".join(lines)


def record(text):
    path = os.path.join(HERE, "RESULTS.md")
    old = open(path).read() if os.path.exists(path) else "# p2p benchmark results\n"
    mark = "\n" + TITLE + "\n"
    if mark in old:
        head, rest = old.split(mark, 1)
        tail = rest.split("\n## ", 1)
        rest = ("\n## " + tail[1]) if len(tail) > 1 else ""
        new = head.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + rest
    else:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    with open(path, "w") as f:
        f.write(new)
    log("recorded in %s" % path)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="main")
    ap.add_argument("--members", type=int, default=10000)
    ap.add_argument("--history", choices=("members", "small", "full"), default="small")
    ap.add_argument("--no-record", dest="record", action="store_false")
    argv = sys.argv[1:]
    a = ap.parse_args()
    trivial = os.path.join(HERE, "build", "trivial")
    os.makedirs(os.path.dirname(trivial), exist_ok=True)
    sh(["cc", "-O2", "-o", trivial, os.path.join(HERE, "trivial.c"), "-lfcgi"])
    names = {"before": describe(a.before), "after": describe(None)}
    builds = {"before": build("before", a.before), "after": build("after", None)}
    runs = {k: measure(k, builds[k], trivial, a) for k in ("before", "after")}
    text = section(a, runs, names, argv)
    print(text)
    if a.record:
        record(text)


if __name__ == "__main__":
    main()
