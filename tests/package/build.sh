#!/bin/sh
# Builds the Debian package from a clean copy of the sources (what git
# tracks, with uncommitted changes), runs lintian on it, then, as root
# on a machine without a p2p installation, installs it, checks that it
# works as installed and purges it again.  Slow (minutes): .ci/run runs
# it, scripts/test.sh does not.  Ends "package: ok" or "package: FAILED".
#
# Usage: tests/package/build.sh [--no-install]
#   P2P_PACKAGE_KEEP=1 keeps the build directory.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
install=1
[ "${1:-}" = "--no-install" ] && install=0
t0=$(date +%s)
step() { echo "package: $* ($(( $(date +%s) - t0 )) s)"; }
fail() { echo "package: FAILED: $*" >&2; exit 1; }

"$top/scripts/deps.sh" debhelper lintian dpkg-dev fakeroot
work=$(mktemp -d "${TMPDIR:-/tmp}/p2p-package.XXXXXX")
created_user=0
installed=0
# Whatever happens: the package purged, the data directory and the user
# it made removed (they did not exist before: checked below).
cleanup() {
	if [ "$installed" -eq 1 ]; then
		dpkg --purge p2p >/dev/null 2>&1 || true
		rm -rf /var/lib/p2p
		if [ "$created_user" -eq 1 ]; then
			userdel p2p 2>/dev/null || true
			groupdel p2p 2>/dev/null || true
		fi
	fi
	[ -n "${P2P_PACKAGE_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# 1. a clean copy, built as a clone would be
mkdir -p "$work/p2p"
cd "$top"
git ls-files -z --cached --others --exclude-standard |
    xargs -0 cp --parents -t "$work/p2p"
cd "$work/p2p"
step "building in $work"
DEB_BUILD_OPTIONS="parallel=2${DEB_BUILD_OPTIONS:+ $DEB_BUILD_OPTIONS}" \
    dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log"; fail "dpkg-buildpackage"; }
deb=$(ls "$work"/p2p_*.deb)
step "built $(basename "$deb")"

# 2. lintian: no errors (warnings are printed, see debian/ for overrides)
lintian --fail-on error --info "$deb" "$work"/p2p_*.changes ||
    fail "lintian reports errors"
step "lintian clean of errors"

# 3. the files where the README and the man pages say
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$work/files"
for f in /usr/bin/p2p-admin /usr/bin/p2p-runner /usr/bin/p2p-request \
    /usr/lib/p2p/cgi-bin/metadata /usr/lib/p2p/cgi-bin/token \
    /usr/lib/p2p/cgi-bin/member-match /usr/lib/p2p/cgi-bin/export-status \
    /etc/p2p/p2p.conf /etc/logrotate.d/p2p \
    /lib/systemd/system/p2p-runner.service \
    /lib/systemd/system/p2p-runner.timer \
    /lib/systemd/system/p2p-runner-loop.service \
    /lib/systemd/system/p2p-fcgi@.socket /lib/systemd/system/p2p-fcgi@.service \
    /usr/share/p2p/lighttpd.conf /usr/share/p2p/p2p-runner.cron \
    /usr/share/p2p/lighttpd/p2p-fastcgi.conf /usr/share/p2p/lighttpd/p2p-cgi.conf \
    /usr/share/p2p/lighttpd/p2p-tls.conf /usr/share/p2p/apache/p2p.conf \
    /usr/share/p2p/p2p-request.cron /usr/share/man/man8/p2p-request.8.gz \
    /usr/share/p2p/capability-statement.json /usr/share/p2p/db/0001-initial.sql \
    /usr/share/man/man8/p2p-admin.8.gz /usr/share/man/man8/p2p-runner.8.gz \
    /usr/share/man/man5/p2p.conf.5.gz /usr/share/man/man7/p2p.7.gz \
    /usr/share/doc/p2p/README.Debian; do
	grep -qx "$f" "$work/files" || fail "$f is not in the package"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/p2p/p2p.conf ||
    fail "/etc/p2p/p2p.conf is not a conffile"
step "paths checked"

if [ "$install" -eq 0 ]; then
	echo "package: ok (not installed: --no-install)"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "package: ok (not installed: needs root)"
	exit 0
fi
if dpkg-query -W -f='${Status}' p2p 2>/dev/null | grep -q installed ||
    [ -e /var/lib/p2p ] || [ -e /etc/p2p ]; then
	echo "package: ok (not installed: this machine has p2p, /etc/p2p or /var/lib/p2p)"
	exit 0
fi
getent passwd p2p >/dev/null || created_user=1

# 4. installed: the user, the data directory, the tools, the schedule
installed=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" \
    >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "install"; }
step "installed"
getent passwd p2p >/dev/null || fail "no p2p user"
owner() { stat -c '%U:%G %a' "$1"; }
[ "$(owner /var/lib/p2p)" = "p2p:p2p 750" ] || fail "/var/lib/p2p: $(owner /var/lib/p2p)"
[ "$(owner /var/lib/p2p/keys)" = "p2p:p2p 700" ] || fail "keys/: $(owner /var/lib/p2p/keys)"
[ "$(owner /var/lib/p2p/keys/server.key)" = "p2p:p2p 600" ] || fail "server.key"
[ "$(owner /var/lib/p2p/p2p.db)" = "p2p:p2p 600" ] || fail "p2p.db: $(owner /var/lib/p2p/p2p.db)"
[ "$(readlink /var/lib/p2p/p2p.conf)" = /etc/p2p/p2p.conf ] || fail "config link"
find /var/lib/p2p ! -user p2p | grep . && fail "files not owned by p2p"
p2p-admin --help >/dev/null || fail "p2p-admin --help"
p2p-runner --help >/dev/null || fail "p2p-runner --help"
p2p-request --help >/dev/null || fail "p2p-request --help"
# the README's steps; p2p-admin finds /etc/p2p/p2p.conf by itself
runuser -u p2p -- p2p-admin load /usr/share/p2p/seed/test-dataset.json \
    >/dev/null || fail "p2p-admin load"
runuser -u p2p -- p2p-admin client add --id newplan --npi 1234567893 \
    --org-name "New Plan" --jwks-url https://newplan.example/jwks.json \
    >/dev/null || fail "p2p-admin client add"
runuser -u p2p -- p2p-admin stats >"$work/stats" || fail "p2p-admin stats"
grep -q '^members: 2' "$work/stats" || fail "stats: $(cat "$work/stats")"
grep -q '^clients: 3 active' "$work/stats" || fail "stats: $(cat "$work/stats")"
# the programs refuse root
if p2p-runner -c /var/lib/p2p/p2p.conf --once 2>"$work/root.err"; then
	fail "p2p-runner ran as root"
fi
grep -q 'refusing to run as root' "$work/root.err" || fail "no refusal line"
# a FastCGI program, as CGI, as p2p: its request id lands in the log
runuser -u p2p -- env REQUEST_METHOD=GET REQUEST_URI=/fhir/metadata \
    P2P_CONF=/var/lib/p2p/p2p.conf /usr/lib/p2p/cgi-bin/metadata \
    >"$work/cgi.out" </dev/null || fail "metadata as CGI"
grep -q '"resourceType":"CapabilityStatement"' "$work/cgi.out" ||
    fail "metadata: $(head -c 300 "$work/cgi.out")"
rid=$(sed -n 's/^X-Request-Id: \([0-9a-f]*\).*/\1/p' "$work/cgi.out")
[ -n "$rid" ] && grep -q "id=$rid" /var/lib/p2p/log/p2p.log ||
    fail "request id $rid not in /var/lib/p2p/log/p2p.log"
# the cron line exactly as installed, as the user it names
line=$(grep -v '^#' /usr/share/p2p/p2p-runner.cron | grep '^\*')
user=$(echo "$line" | awk '{ print $6 }')
cmd=$(echo "$line" | cut -d' ' -f7-)
[ "$user" = p2p ] || fail "the cron line runs as $user"
runuser -u "$user" -- sh -c "$cmd" || fail "cron command: $cmd"
# the units: verified, the timer enabled
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/p2p-runner.service \
	    /lib/systemd/system/p2p-runner.timer \
	    /lib/systemd/system/p2p-runner-loop.service ||
	    fail "systemd-analyze verify"
	# an instance of the programs' socket units (Apache + mod_proxy_fcgi)
	systemd-analyze verify p2p-fcgi@metadata.socket p2p-fcgi@metadata.service ||
	    fail "systemd-analyze verify p2p-fcgi@metadata"
	grep -qx 'ExecStart=/usr/lib/p2p/cgi-bin/%i' /lib/systemd/system/p2p-fcgi@.service ||
	    fail "p2p-fcgi@.service does not start /usr/lib/p2p/cgi-bin/%i"
fi
[ -L /etc/systemd/system/timers.target.wants/p2p-runner.timer ] ||
    fail "p2p-runner.timer is not enabled"
logrotate -d /etc/logrotate.d/p2p >"$work/logrotate.out" 2>&1 ||
    { cat "$work/logrotate.out"; fail "logrotate -d"; }
man -w p2p-admin p2p-runner p2p.conf p2p >/dev/null || fail "man pages"
step "installed package checked"
dpkg --purge p2p >/dev/null || fail "purge"
[ ! -e /etc/p2p/p2p.conf ] && [ ! -L /var/lib/p2p/p2p.conf ] ||
    fail "purge left the configuration"
[ ! -e /etc/systemd/system/timers.target.wants/p2p-runner.timer ] ||
    fail "purge left the timer enabled"
step "purged"
echo "package: ok"
