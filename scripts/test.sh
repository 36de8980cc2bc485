#!/bin/sh
# Builds if needed and runs every test: Check unit tests and the
# end-to-end suite through a real lighttpd (lighttpd.conf, FastCGI).
# Ends with one line "tests: N passed, N failed" counting every run.
#
# Usage: scripts/test.sh              build in the source tree, run all
#        scripts/test.sh --sanitize   build in build-asan/ with ASan+UBSan
#                                     and -Werror (a copy of the sources
#                                     in build-asan/src), run all there
#        ... --servers "S[:USER] ..." then end-to-end tests again with
#                                     each web server configuration S
#                                     (P2P_E2E_SERVER, tests/e2e/
#                                     harness.py), run as USER when given
#                                     (P2P_E2E_USER): the files that go
#                                     through what differs between them
#                                     (tests/e2e/run.py --servers)
#        ... --servers-all            with --servers: the whole suite
#                                     for each configuration
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/deps.sh"
sanitize=""
servers=""
which="--servers"
while [ $# -gt 0 ]; do
	case "$1" in
	--sanitize) sanitize=1 ;;
	--servers) servers="$2"; shift ;;
	--servers-all) which="" ;;
	*) echo "usage: scripts/test.sh [--sanitize] [--servers \"S[:USER] ...\" [--servers-all]]" >&2
	   exit 2 ;;
	esac
	shift
done
if [ -n "$sanitize" ]; then
	# A separate copy of the sources, so that the sanitizer build never
	# mixes with the ordinary one in the source tree.
	mkdir -p build-asan/src
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
		    xargs -0 cp --parents -t build-asan/src
	else
		tar --exclude=./build-asan -cf - . | tar -C build-asan/src -xf -
	fi
	cd build-asan/src
	mkdir -p m4
	[ -x configure ] || autoreconf -fi
	[ -f Makefile ] || ./configure -q --enable-sanitizers --enable-werror
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
	mkdir -p m4
	[ -x configure ] || autoreconf -fi
	[ -f Makefile ] || ./configure -q
fi
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs" >/dev/null
rm -f tests/e2e/server-*.log
set +e
make -j"$jobs" check >/dev/null 2>&1
rc=$?
python=$(sed -n 's/^PYTHON3 = //p' Makefile)
for s in $servers; do
	user=""
	case "$s" in *:*) user=${s#*:}; s=${s%%:*} ;; esac
	P2P_E2E_SERVER=$s P2P_E2E_USER=$user P2P_SRCDIR=$PWD P2P_BUILDDIR=$PWD \
	    "${python:-python3}" tests/e2e/run.py $which >"tests/e2e/server-$s.log" 2>&1
done
set -e
passed=0
failed=0
for t in tests/unit/*.log tests/e2e/*.log; do
	[ -f "$t" ] || continue
	case "$t" in *test-suite.log) continue ;; esac
	# Check: "100%: Checks: 12, Failures: 0, Errors: 0"
	line=$(grep -E '^[0-9]+%: Checks: ' "$t" | tail -1)
	if [ -n "$line" ]; then
		n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
		f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2/' |
		    awk '{print $1 + $2}')
		echo "$line  ($(basename "$t" .log))"
		passed=$((passed + n - f))
		failed=$((failed + f))
		grep -E ':[EF]:' "$t" || true
		continue
	fi
	# e2e: "e2e: N passed, N failed"
	line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' "$t" | tail -1)
	if [ -n "$line" ]; then
		secs=$(sed -n -E 's/^Ran [0-9]+ tests? in ([0-9.]+)s$/\1/p' "$t" | tail -1)
		echo "$line  ($(basename "$t" .log), ${secs:-?} s)"
		passed=$((passed + $(echo "$line" | sed -E 's/e2e: ([0-9]+) passed.*/\1/')))
		failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
		# Each failure whole: unittest's "=====" blocks (FAIL:/ERROR:
		# line, traceback, assertion text with any sanitizer report)
		# up to its "Ran N tests" line; bounded.
		awk '/^==========+$/ { p = 1 } /^Ran [0-9]+ tests? in / { p = 0 } p' "$t" |
		    sed -e '$ { /^-*$/d; }' | head -n 1500
	else
		echo "no result line in $t"
		failed=$((failed + 1))
	fi
done
if [ $rc -ne 0 ]; then
	echo "make check failed; see tests/*/*.log and test-suite.log"
	[ $failed -eq 0 ] && failed=1
	[ -f test-suite.log ] && tail -60 test-suite.log
fi
echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ] && [ $rc -eq 0 ]
