#!/usr/bin/env bash
# Starts a 3-node Trellis cluster on loopback, three separate processes
# (HTTP 127.0.0.1:9001-9003, raft :9101-9103, pprof :6061-6063), each with its
# data under $DATA (default /tmp/c3), and prints which node leads.
#   BIN=/tmp/trellis bench/scripts/cluster3.sh        # start (stops a previous one)
#   bench/scripts/cluster3.sh stop
set -euo pipefail
BIN=${BIN:-/tmp/trellis}
DATA=${DATA:-/tmp/c3}
pattern='serve --insecure-no-auth --node-id n[123] '
pkill -f "$pattern" || true
while pgrep -f "$pattern" >/dev/null; do sleep 0.2; done
[ "${1:-}" = stop ] && exit 0
rm -rf "$DATA"; mkdir -p "$DATA"
PEERS=n1=127.0.0.1:9101=http://127.0.0.1:9001,n2=127.0.0.1:9102=http://127.0.0.1:9002,n3=127.0.0.1:9103=http://127.0.0.1:9003
for i in 1 2 3; do
  "$BIN" serve --insecure-no-auth --node-id "n$i" --data-dir "$DATA/n$i" \
    --http-addr "127.0.0.1:900$i" --raft-addr "127.0.0.1:910$i" --peers "$PEERS" \
    --log-level warn --debug-addr "127.0.0.1:606$i" >"$DATA/n$i.log" 2>&1 &
done
for _ in $(seq 1 100); do
  leader=$(curl -sf http://127.0.0.1:9001/v1/cluster | sed -n 's/.*"leader":"n\([123]\)".*/\1/p' || true)
  [ -n "$leader" ] && { echo "leader: n$leader http://127.0.0.1:900$leader"; exit 0; }
  sleep 0.3
done
echo "no leader after 30 s; logs in $DATA" >&2; exit 1
