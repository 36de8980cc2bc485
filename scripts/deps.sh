#!/bin/sh
# Installs the Debian packages p2p needs to build, test and serve, when
# any is missing.  Needs root (or sudo).  Usage: scripts/deps.sh [PKG...]
# (extra packages, e.g. tests/package/build.sh's debhelper lintian ...)
set -e
PKGS="gcc make autoconf automake pkg-config libfcgi-dev libjson-c-dev
libsqlite3-dev sqlite3 libjwt-dev libssl-dev openssl libcurl4-openssl-dev
check lighttpd lighttpd-mod-openssl curl python3 python3-jwt python3-cryptography wrk
apache2 libapache2-mod-fcgid libapache2-mod-xsendfile spawn-fcgi
clang-14 libclang-rt-14-dev mandoc man-db cron logrotate $*"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
# node and npm run the generic FHIR client test (tests/e2e/clients):
# Debian's, unless a node is installed already (its own npm with it).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
