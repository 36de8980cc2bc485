#!/bin/sh
# Builds p2p in the source tree if needed (autoreconf, configure, make).
# Usage: scripts/build.sh [configure options]
set -e
cd "$(dirname "$0")/.."
mkdir -p m4
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure "$@"
make -j"$(nproc 2>/dev/null || echo 2)"
