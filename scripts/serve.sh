#!/bin/sh
# The demo server in one command: installs missing Debian packages,
# builds, creates ./data (database with the seed dataset and synthetic
# members, sample clients), and serves the whole API with lighttpd on
# 127.0.0.1:${P2P_PORT:-8080} until Ctrl-C.
#
# Environment: P2P_PORT (8080), P2P_DATA (./data), P2P_MEMBERS (synthetic
# members to generate, 200).  Remove the data directory to start afresh.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
scripts/deps.sh
scripts/build.sh >/dev/null
port=${P2P_PORT:-8080}
data=${P2P_DATA:-$top/data}
members=${P2P_MEMBERS:-200}
admin="$top/src/tools/p2p-admin"
runner="$top/src/tools/p2p-runner"
conf="$data/p2p.conf"

if [ ! -f "$conf" ]; then
	set -- --demo --base-url "http://127.0.0.1:$port" --share "$top/share"
	[ -x "$runner" ] && set -- "$@" --runner "$runner"
	"$admin" init "$@" "$data"
	"$admin" -c "$conf" load "$top/share/seed/test-dataset.json"
	for f in "$top"/share/seed/*.ndjson "$top"/share/seed/*.json; do
		case "$f" in */test-dataset.json) continue ;; esac
		[ -f "$f" ] && "$admin" -c "$conf" load "$f"
	done
	"$admin" -c "$conf" generate --members "$members" --seed 1 \
	    --out "$data/synthetic.ndjson"
	"$admin" -c "$conf" load "$data/synthetic.ndjson"
	"$admin" -c "$conf" stats
fi
mkdir -p "$data/log" "$data/www"
# A demo directory from before allow_root existed: the programs and the
# runner refuse root without it.
if [ "$(id -u)" -eq 0 ] && ! grep -q '^allow_root *= *1' "$conf"; then
	echo "note: adding allow_root = 1 to $conf (the demo runs as root)" >&2
	echo 'allow_root = 1' >> "$conf"
fi

base="http://127.0.0.1:$port"
cur=$(sed -n 's/^base_url *= *//p' "$conf")
[ "$cur" = "$base" ] || echo "note: $conf says base_url = $cur, not" \
    "$base: absolute URLs and token audiences use it (edit it, or" \
    "remove $data to start afresh)" >&2
cat <<EOT

p2p is serving on $base (data in $data, logs in $data/log).
Try:

  curl -s $base/fhir/metadata
  curl -s $base/.well-known/smart-configuration

  # a token with the seed's client secret (client_secret_basic)
  TOKEN=\$(curl -s -u test-payer-client:test-payer-secret \\
      -d grant_type=client_credentials -d 'scope=system/*.read' \\
      $base/auth/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')

  # find the seed's member 001 (see README for the full body)
  curl -s -H "Authorization: Bearer \$TOKEN" \\
      -H 'Content-Type: application/fhir+json' \\
      -d @$top/share/examples/member-match-001.json \\
      $base/fhir/Patient/\\\$member-match

  # the member's history
  curl -s -H "Authorization: Bearer \$TOKEN" \\
      $base/fhir/Patient/test-member-001/\\\$everything

Press Ctrl-C to stop.
EOT
# P2P_USER: the user lighttpd switches to when started as root; empty
# (the demo's default) keeps the user that runs this script.
export P2P_ROOT="$top" P2P_DATA="$data" P2P_PORT="$port" P2P_CONF="$conf" \
    P2P_USER="${P2P_USER-}"
if [ -x "$runner" ]; then
	"$runner" -c "$conf" --loop &
	rpid=$!
	trap 'kill $rpid 2>/dev/null' EXIT INT TERM
fi
lighttpd -D -f "$top/lighttpd.conf"
