#!/usr/bin/env bash
# The deep preset over HTTP (issue 15's acceptance): for each of --no-cache
# and the cache on, a fresh single node (insecure, local), the workload
# loaded with `bench setup`, then the HTTP ceiling (GET /healthz, --mode
# noop) and the whole query mix (all classes, lookups included), $CLIENTS
# clients, $DUR each. One summary line per run.
#   go build -o /tmp/trellis ./cmd/trellis && bench/scripts/deep-http.sh /tmp/trellis
# Environment: DUR (15s), CLIENTS (32), ROUNDS (1), OUT (/tmp/deep-http), PORT (19000).
set -euo pipefail
bin=$1
DUR=${DUR:-15s} CLIENTS=${CLIENTS:-32} ROUNDS=${ROUNDS:-1} OUT=${OUT:-/tmp/deep-http} PORT=${PORT:-19000}
http=127.0.0.1:$((PORT + 80))
wl=$OUT/wl
mkdir -p "$OUT"
[ -f "$wl/queries.ndjson" ] || "$bin" bench gen --out "$wl" --preset deep >/dev/null
for round in $(seq "$ROUNDS"); do
  for mode in --no-cache cache-on; do
    data=$(mktemp -d)
    flags=()
    [ "$mode" = --no-cache ] && flags=(--no-cache)
    "$bin" serve --insecure-no-auth --data-dir "$data" --http-addr "$http" --raft-addr 127.0.0.1:$((PORT + 70)) "${flags[@]}" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://$http/healthz" >/dev/null && break; sleep 0.1; done
    "$bin" bench setup --endpoint "http://$http" --dir "$wl" >"$OUT/setup.json"
    echo "round $round $mode ceiling: $("$bin" bench load --endpoint "http://$http" --mode noop --clients "$CLIENTS" --duration 10s 2>&1 | tail -1)"
    echo "round $round $mode mix:     $("$bin" bench load --endpoint "http://$http" --dir "$wl" --clients "$CLIENTS" --duration "$DUR" --report "$OUT/$round$mode.json" 2>&1 | tail -1)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data"
  done
done
