#!/bin/sh
# bench/export_once.sh BUILD DATA - runs the runner alone on a copy of the
# last $davinci-data-export job of DATA (made by bench/apiperf.py measure),
# under /usr/bin/time -v: elapsed, CPU, peak RSS.  PERF="perf record ... --"
# prefixes the command.  For bench/apiperf.md.
set -e
b=$1 d=$2
id=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')
sqlite3 "$d/p2p.db" "INSERT INTO job (id, client_id, kind, status, request, params,
 created, expires) SELECT '$id', client_id, kind, 'queued', request, params,
 strftime('%s','now'), strftime('%s','now') + 86400
 FROM job WHERE kind = 'data-export' ORDER BY created LIMIT 1;"
${PERF:-} /usr/bin/time -v "$b/src/tools/p2p-runner" -c "$d/p2p.conf" --once \
    2> "$d/time.txt"
grep -E "Elapsed|User time|System time|Maximum resident" "$d/time.txt"
sqlite3 "$d/p2p.db" "SELECT status, (SELECT sum(count) FROM job_file
 WHERE job_id = '$id' AND kind = 'output') FROM job WHERE id = '$id'"
