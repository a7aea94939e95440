#!/usr/bin/env bash
# Measures strata serve with wrk: GetItem and PutItem of 1 KB items and Query of 100
# items, against an on-disk database (Sync durability), with 1 and 16 connections.
# Usage: server/bench/run.sh [seconds]   (needs wrk and a release build of strata-cli)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
bin=target/release/strata
dir=$(mktemp -d)
stop() { kill "$pid" 2>/dev/null && wait "$pid" || true; rm -rf "$dir"; }
trap stop EXIT
RUST_LOG=warn "$bin" serve --dir "$dir/db" --port 0 > "$dir/out" &
pid=$!
until grep -q listening "$dir/out" 2>/dev/null; do sleep 0.1; done
addr=$(sed -n 's/^strata: listening on //p' "$dir/out")
python3 server/bench/load.py "$addr"
for script in get put query; do
  for c in 1 16; do
    echo "== $script, $c connection(s)"
    wrk -t "$(( c < 2 ? 1 : 2 ))" -c "$c" -d "${secs}s" --latency -s "server/bench/$script.lua" "http://$addr/" \
      | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
  done
done
