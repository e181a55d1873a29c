#!/usr/bin/env bash
# CheckPermission over gRPC against POST /v1/check over HTTP, same node, same
# workload: a fresh single node (a token file, gRPC on, pprof on), the PRESET
# workload loaded with `bench setup`, a 5 s warm-up of each transport, then
# checks only (the four check classes, no lookups), $CLIENTS clients for $DUR
# per run, alternating REST and gRPC $ROUNDS times. Extra arguments go to
# `trellis serve` (e.g. --no-cache). One summary line per run on stdout; the
# JSON reports in $OUT.
#   bench/scripts/grpc-vs-rest.sh /tmp/trellis default
#   bench/scripts/grpc-vs-rest.sh /tmp/trellis deep --no-cache
# Environment: ROUNDS (3), DUR (20s), CLIENTS (32), CONNS (gRPC connections, 1),
# OUT (/tmp/grpc-vs-rest-PRESET), PORT (base port, 18000: HTTP +80, raft +70,
# gRPC +51, pprof +60).
set -euo pipefail
bin=$1 preset=$2
shift 2
ROUNDS=${ROUNDS:-3} DUR=${DUR:-20s} CLIENTS=${CLIENTS:-32} CONNS=${CONNS:-1}
OUT=${OUT:-/tmp/grpc-vs-rest-$preset} PORT=${PORT:-18000}
http=127.0.0.1:$((PORT + 80)) grpc=127.0.0.1:$((PORT + 51))
wl=$OUT/wl
mkdir -p "$OUT"
[ -f "$wl/queries.ndjson" ] || "$bin" bench gen --out "$wl" --preset "$preset" >/dev/null
grep -v lookup_readable "$wl/queries.ndjson" >"$wl/checks-only.ndjson"

data=$(mktemp -d)
TRELLIS_TOKEN=$("$bin" token create --file "$data/tokens.yaml" --principal bench --role admin 2>/dev/null)
export TRELLIS_TOKEN
"$bin" serve --data-dir "$data/data" --token-file "$data/tokens.yaml" --http-addr "$http" \
  --raft-addr 127.0.0.1:$((PORT + 70)) --grpc-addr "$grpc" --debug-addr 127.0.0.1:$((PORT + 60)) "$@" \
  >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://$http/healthz" >/dev/null && break; sleep 0.1; done
"$bin" bench setup --endpoint "http://$http" --dir "$wl" >"$OUT/setup.json"

load() { # transport duration report
  "$bin" bench load --transport "$1" --endpoint "http://$http" --grpc-endpoint "$grpc" --grpc-conns "$CONNS" \
    --dir "$wl" --queries "$wl/checks-only.ndjson" --clients "$CLIENTS" --duration "$2" --report "$3" 2>&1 | tail -1
}
load http 5s /dev/null >/dev/null
load grpc 5s /dev/null >/dev/null
for r in $(seq "$ROUNDS"); do
  for t in http grpc; do
    echo "round $r $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg) $(load "$t" "$DUR" "$OUT/$t-$r.json")"
  done
done
