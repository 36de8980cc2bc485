#!/bin/sh
# Automake test wrapper for the end-to-end suite (see run.py).
exec "${PYTHON3:-/usr/bin/python3}" "${P2P_SRCDIR:-$(dirname "$0")/../..}/tests/e2e/run.py" "$@"
