#!/bin/sh
# tests/fuzz/run.sh - builds the libFuzzer harnesses (tests/fuzz/fuzz.mk,
# clang with ASan+UBSan) and runs each in turn: first over its committed
# corpus (tests/fuzz/corpus/<name>/: seeds, and every input that once
# crashed it), then fuzzing for FUZZ_SECONDS.  Any crash, leak, timeout
# or sanitizer report fails the run; the input is kept under
# build-fuzz/artifacts/ and the command to replay it is printed.
#
# Usage: tests/fuzz/run.sh [name...]     (default: every harness)
# Environment:
#   FUZZ_SECONDS   seconds of fuzzing per harness (default 60; 0: only
#                  replay the corpus)
#   FUZZ_JOBS      make -j for the build (default 2)
#   FUZZ_CC        the clang to build with (default clang-14)
# New inputs the fuzzer finds go to build-fuzz/corpus/<name>/, never to
# the source tree; tests/fuzz/README.md says how to add one.
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${FUZZ_SECONDS:-60}
B=build-fuzz

if ! command -v "${FUZZ_CC:-clang-14}" >/dev/null 2>&1; then
	echo "fuzz: ${FUZZ_CC:-clang-14} not found (apt-get install clang-14 libclang-rt-14-dev)" >&2
	exit 1
fi
t0=$(date +%s)
make -s -f tests/fuzz/fuzz.mk -j"${FUZZ_JOBS:-2}" B=$B ${FUZZ_CC:+FUZZ_CC=$FUZZ_CC}
echo "fuzz: built in $(( $(date +%s) - t0 )) s"

if [ $# -eq 0 ]; then
	set -- $(ls tests/fuzz/fuzz_*.c | sed 's,.*/fuzz_,,; s,\.c$,,')
fi
mkdir -p $B/artifacts
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=""
total=0
for name in "$@"; do
	bin=$B/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	work=$B/corpus/$name
	log=$B/fuzz_$name.log
	[ -x "$bin" ] || { echo "fuzz: no harness $name" >&2; exit 1; }
	mkdir -p "$work"
	dirs=$work
	[ -d "$seeds" ] && dirs="$work $seeds"
	dict=""
	[ -f tests/fuzz/$name.dict ] && dict="-dict=tests/fuzz/$name.dict"
	t1=$(date +%s)
	rc=0
	# 1. every committed input, once (regressions stay fixed)
	if [ -d "$seeds" ] && [ -n "$(ls -A "$seeds")" ]; then
		nice -n 19 "$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 \
		    -artifact_prefix=$B/artifacts/$name- "$seeds" \
		    >"$log" 2>&1 || rc=$?
	fi
	# 2. fuzzing from the committed corpus and what earlier runs found
	if [ $rc -eq 0 ] && [ "$secs" -gt 0 ]; then
		nice -n 19 "$bin" -max_total_time="$secs" -timeout=10 \
		    -rss_limit_mb=2048 $dict \
		    -artifact_prefix=$B/artifacts/$name- $dirs \
		    >>"$log" 2>&1 || rc=$?
	fi
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" |
	    awk '{ n += $1 } END { print n + 0 }')
	n=$(ls "$work" | wc -l)
	[ -d "$seeds" ] && n="$n (+$(ls "$seeds" | wc -l) committed)"
	if [ $rc -ne 0 ]; then
		failed="$failed $name"
		echo "fuzz $name: FAILED after $(( $(date +%s) - t1 )) s (exit $rc)"
		grep -E 'ERROR:|runtime error|invariant broken|SUMMARY|Test unit written' \
		    "$log" | head -20
		echo "  full log: $log"
		echo "  replay:   $bin <the test unit written above>"
	else
		echo "fuzz $name: ok, $runs runs in $(( $(date +%s) - t1 )) s, corpus $n"
		total=$((total + ${runs:-0}))
	fi
done
echo "fuzz: $total runs in $(( $(date +%s) - t0 )) s${failed:+; FAILED:$failed}"
[ -z "$failed" ]
