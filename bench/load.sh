#!/bin/sh
# bench/load.sh - load throughput of `p2p-admin load`, reproducibly.
#
# Generates a synthetic ndjson file (deterministic: fixed seed and
# anchor), loads it RUNS times into a fresh data directory each time and
# prints, per run and as the median: resources/s (wall clock), the CPU
# time (user + sys, both threads), and the database size per million
# resources.  The machine's load average is printed first: the machine
# may be shared, and wall-clock figures only mean something next to it
# and to the CPU time.
#
# Usage: bench/load.sh [--members N] [--history H] [--runs R] [--admin PATH]
#                      [--baseline PATH] [--keep]
#   --members N   members to generate (default 2000, about 113,000
#                 resources, 214 MB)
#   --history H   generate --history H (full, small or members; default
#                 full: claims and clinical history)
#   --runs R      loads to run (default 3)
#   --admin PATH  the p2p-admin to measure (default src/tools/p2p-admin of
#                 this tree, built with the configured CFLAGS, -O2 -g)
#   --baseline PATH  another p2p-admin (e.g. main's build) measured side by
#                 side: each run loads the same file with it, then with
#                 --admin, and the medians end with the ratio (after ÷
#                 before), which a shared machine's load disturbs less
#                 than either figure
#   --keep        keep the scratch directory (its path is printed)
# Profile a run:  perf record -g -e cpu-clock p2p-admin -c DIR/p2p.conf \
#   load FILE; or on a small file (--members 200):
#   valgrind --tool=callgrind --separate-threads=yes p2p-admin ... load FILE
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
members=2000
runs=3
admin="$top/src/tools/p2p-admin"
keep=0
history=full
baseline=""
while [ $# -gt 0 ]; do
	case "$1" in
	--members) members=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--history) history=$2; shift 2 ;;
	--admin) admin=$2; shift 2 ;;
	--baseline) baseline=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--members N] [--history H] [--runs R]" \
	       "[--admin PATH] [--baseline PATH] [--keep]" >&2
	   exit 2 ;;
	esac
done
[ -x "$admin" ] || { echo "$admin: not built (run make)" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] ||
    { echo "$baseline: not executable" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/p2p-load.XXXXXX")
[ "$keep" -eq 1 ] || trap 'rm -rf "$scratch"' EXIT
file="$scratch/members.ndjson"

"$admin" generate --members "$members" --seed 1 --anchor 2026-06-01 \
    --history "$history" --out "$file" >/dev/null 2>&1
nres=$(wc -l < "$file")
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "file: $nres resources, $(wc -c < "$file") bytes ($members members," \
    "history $history)"
printf '%-4s %-6s %10s %12s %8s %8s %8s %14s\n' run build wall_s \
    resources/s user_s sys_s cpu_s MB/Mresources
# one load by $1 (label) with $2 (p2p-admin) into a fresh data directory
measure() {
	rm -rf "$scratch/data"
	"$2" init "$scratch/data" >/dev/null 2>&1
	# GNU time's %e %U %S: wall, user and system seconds
	/usr/bin/time -f '%e %U %S' -o "$scratch/time" \
	    "$2" -c "$scratch/data/p2p.conf" load "$file" >/dev/null 2>&1
	read -r wall user sys < "$scratch/time"
	# checkpointed, so that the size is the database's, not the WAL's
	sqlite3 "$scratch/data/p2p.db" "PRAGMA wal_checkpoint(TRUNCATE);" \
	    >/dev/null
	bytes=$(wc -c < "$scratch/data/p2p.db")
	awk -v r="$i" -v l="$1" -v w="$wall" -v u="$user" -v s="$sys" \
	    -v n="$nres" -v b="$bytes" 'BEGIN { printf "%-4s %-6s %10.2f " \
	    "%12.0f %8.2f %8.2f %8.2f %14.0f\n", r, l, w, n / w, u, s, \
	    u + s, b / n }' | tee -a "$scratch/runs"
}
i=1
while [ "$i" -le "$runs" ]; do
	[ -z "$baseline" ] || measure before "$baseline"
	measure after "$admin"
	i=$((i + 1))
done
# the median run of each build by resources/s; with a baseline, the ratio
for label in before after; do
	grep -q " $label " "$scratch/runs" || continue
	awk -v l="$label" '$2 == l' "$scratch/runs" | sort -k4 -n |
	    awk -v k="$runs" -v n="$nres" -v l="$label" '
		NR == int((k + 1) / 2) {
			printf "median %s: %.0f resources/s wall, %.2f s CPU", l,
			    $4, $7
			printf " (%.0f resources per CPU second),", n / $7
			printf " %.0f MB per million resources\n", $8
		}' | tee -a "$scratch/medians"
done
[ -z "$baseline" ] || awk '
	{ rate[$2] = $3; cpu[$2] = $6 }
	END {
		printf "after/before: %.2fx resources/s wall, %.2fx CPU seconds\n",
		    rate["after:"] / rate["before:"], cpu["after:"] / cpu["before:"]
	}' "$scratch/medians"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$keep" -eq 0 ] || echo "kept: $scratch"
