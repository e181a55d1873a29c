#!/usr/bin/env bash
# For each binary given: a fresh single node (the previous one exited, its data
# removed, sync, 2 s pause), then three `bench setup` imports of the workload
# in $WL (default /tmp/wl): the first into the empty store, two over it.
# Prints relationships per second. Alternate binaries to compare them:
#   bench/scripts/import-rounds.sh /tmp/trellis-old /tmp/trellis-new /tmp/trellis-old /tmp/trellis-new
set -euo pipefail
WL=${WL:-/tmp/wl}
DATA=${DATA:-/tmp/bd-import}
pattern="serve --insecure-no-auth --data-dir $DATA "
stop() { pkill -f "$pattern" || true; while pgrep -f "$pattern" >/dev/null; do sleep 0.2; done; }
for bin in "$@"; do
  stop; rm -rf "$DATA"; sync; sleep 2
  "$bin" serve --insecure-no-auth --data-dir "$DATA" --http-addr 127.0.0.1:9080 --raft-addr 127.0.0.1:9081 --log-level warn >/dev/null 2>&1 &
  for _ in $(seq 1 50); do curl -sf http://127.0.0.1:9080/readyz >/dev/null && break; sleep 0.2; done
  rates=""
  for _ in 1 2 3; do
    out=$("$bin" bench setup --endpoint http://127.0.0.1:9080 --dir "$WL")
    n=$(echo "$out" | sed -n 's/.*"imported": *\([0-9]*\).*/\1/p')
    s=$(echo "$out" | sed -n 's/.*"elapsed_seconds": *\([0-9.]*\).*/\1/p')
    rates="$rates $(awk -v n="$n" -v s="$s" 'BEGIN{printf "%d", n/s}')"
  done
  echo "$bin:$rates"
done
stop
