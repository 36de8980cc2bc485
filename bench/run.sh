#!/bin/sh
# bench/run.sh - p2p benchmarks at payer scale, one command.
#
# Builds an optimised copy of the sources (-O2 -g, in bench/build/src, so
# the ordinary and sanitizer builds are never touched), builds the
# trivial FastCGI responder, then bench/bench.py generates synthetic
# members, loads them, starts lighttpd on a free loopback port and
# prints a table of figures against the targets; it writes
# bench/RESULTS.md.
#
# Usage: bench/run.sh [--members N] [--scale N,N,...] [--quick]
#                     [--history small|full|members] [--duration S] [--no-profile]
#                     [--prebuilt BUILDDIR] [--out FILE]
#   --members N    members to generate (default 10000)
#   --scale LIST   one run per member count, plus a growth table
#                  (the full run: --scale 10000,100000,1000000)
#   --quick        a tiny run (smoke test; writes bench/out/quick.md
#                  unless --out is given, never RESULTS.md)
#   --prebuilt DIR use the programs already built in DIR (no -O2 build)
# The concurrency soak is its own command (bench/soak.py: N clients
# mixing token, $member-match, $everything and bulk kick-off/status for
# T seconds, then PRAGMA integrity_check), against the programs of the
# tree: make && bench/soak.py --clients 100 --seconds 60
# Needs root (or sudo) the first time: installs wrk (and perf when
# available) besides the packages of scripts/deps.sh.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh"

# Benchmark-only tools, kept out of scripts/deps.sh so that the test
# dependencies stay lean.  perf is optional (profiles of missed targets).
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
if ! command -v perf >/dev/null 2>&1 &&
    apt-cache show linux-perf >/dev/null 2>&1; then
	missing="$missing linux-perf"
fi
if [ -n "$missing" ]; then
	echo "installing:$missing"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
fi

prebuilt=""
prev=""
for a in "$@"; do
	[ "$prev" = "--prebuilt" ] && prebuilt=$a
	prev=$a
done

mkdir -p bench/build
if [ -z "$prebuilt" ]; then
	# A copy of the sources (tar keeps the times, so make redoes only
	# what changed since the last run).
	mkdir -p bench/build/src
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
		    tar --null -T - -cf - | tar -C bench/build/src -xf -
	else
		tar --exclude=./bench/build --exclude=./build-asan -cf - . |
		    tar -C bench/build/src -xf -
	fi
	(
		cd bench/build/src
		mkdir -p m4
		[ -x configure ] || autoreconf -fi >/dev/null 2>&1
		[ -f Makefile ] || ./configure -q CFLAGS="-O2 -g"
		echo "building (-O2) in bench/build/src"
		make -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
	)
	prebuilt=$top/bench/build/src
	set -- --prebuilt "$prebuilt" "$@"
fi
cc -O2 -Wall -Wextra -Werror -o bench/build/trivial bench/trivial.c -lfcgi
exec /usr/bin/python3 "$top/bench/bench.py" --src "$top" \
    --trivial "$top/bench/build/trivial" "$@"
