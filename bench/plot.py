#!/usr/bin/env python3
"""Draws the figures of a benchmark run as SVG pictures with gnuplot.

Usage: bench/plot.py FIGURES.json OUTDIR

FIGURES.json is what bench.py writes for it: the member counts of the
run, the builds measured ("before" and "after", or one), the figures to
draw (its GROWTH list: key, label with the unit in parentheses, "rate"
when more is better or "cost" when less is), and every figure per build
and member count.  Writes into OUTDIR:

  growth-<figure>.svg  the figure against the member count (log scale),
                       one line per build;
  change.svg           after / before per figure and member count, as
                       bars oriented so that right of 1 is better.

Prints the files written, one per line.  Needs gnuplot (Debian package
gnuplot-nox); nothing is drawn without it.
"""
import json
import os
import re
import shutil
import subprocess
import sys


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def gnuplot(script):
    p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if p.returncode != 0:
        raise SystemExit("plot.py: gnuplot: " + p.stderr.strip())


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def unit_of(label):
    """The unit a label names in its last parentheses, or ""."""
    m = re.search(r"\(([^()]*)\)$", label)
    return m.group(1) if m else ""


def growth(fig, key, title, path):
    scales = fig["scales"]
    series = []
    for build in fig["builds"]:
        pts = [(n, fig["figures"][build].get(str(n), {}).get(key)) for n in scales]
        pts = [(n, v) for n, v in pts if number(v)]
        if pts:
            series.append((build, pts))
    if not series:
        return False
    lines = ["set terminal svg size 560,360 dynamic font 'sans,11'",
             "set output %s" % quote(path),
             "set title %s" % quote(title),
             "set xlabel 'members'", "set ylabel %s" % quote(unit_of(title)),
             "set logscale x", "set format x '%.0s%c'", "set grid",
             "set key outside right", "set yrange [0:*]",
             "set xrange [%g:%g]" % (scales[0] / 1.5, scales[-1] * 1.5)]
    for i, (build, pts) in enumerate(series):
        lines.append("$d%d << EOD" % i)
        lines += ["%d %.6g" % p for p in pts]
        lines.append("EOD")
    lines.append("plot " + ", ".join(
        "$d%d using 1:2 with linespoints lw 2 pt 7 title %s" % (i, quote(b))
        for i, (b, _) in enumerate(series)))
    gnuplot("\n".join(lines) + "\n")
    return True


def change(fig, path):
    if "before" not in fig["builds"] or "after" not in fig["builds"]:
        return False
    rows = []
    for key, title, kind in fig["plots"]:
        for n in fig["scales"]:
            b = fig["figures"]["before"].get(str(n), {}).get(key)
            a = fig["figures"]["after"].get(str(n), {}).get(key)
            if number(a) and number(b) and a > 0 and b > 0:
                gain = a / b if kind == "rate" else b / a
                rows.append(("%s, %s members" % (title, "{:,}".format(n)), gain))
    if not rows:
        return False
    lines = ["set terminal svg size 720,%d dynamic font 'sans,11'" % (80 + 22 * len(rows)),
             "set output %s" % quote(path),
             "set title 'after / before (right of 1: better)'",
             "set style fill solid 0.6", "set boxwidth 0.6", "set grid x",
             "set logscale x 2", "unset key",
             "set xrange [%g:%g]" % (min(0.5, min(g for _, g in rows) / 1.5),
                                    max(2.0, max(g for _, g in rows) * 1.6)),
             "set yrange [-1:%d]" % len(rows), "set ytics scale 0",
             "set arrow from 1, graph 0 to 1, graph 1 nohead lw 2",
             "$d << EOD"]
    lines += ["%d %.6g %s" % (i, g, quote(label)) for i, (label, g) in enumerate(rows)]
    lines += ["EOD",
              "plot $d using 2:1:($2<1?$2:1):($2<1?1:$2):($1-0.3):($1+0.3):"
              "ytic(3) with boxxyerror, "
              "$d using 2:1:(sprintf('×%.2f', $2)) with labels left offset 0.5,0"]
    gnuplot("\n".join(lines) + "\n")
    return True


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: bench/plot.py FIGURES.json OUTDIR\n")
        return 2
    if shutil.which("gnuplot") is None:
        sys.stderr.write("plot.py: gnuplot is not installed (apt-get install gnuplot-nox)\n")
        return 1
    fig = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for key, title, _ in fig["plots"]:
        path = os.path.join(out, "growth-%s.svg" % key)
        if growth(fig, key, title, path):
            print(path)
    path = os.path.join(out, "change.svg")
    if change(fig, path):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
