#!/usr/bin/env bash
# Hostile-reader load test (issue 16): a node with authentication; a reader
# sends 2,000 concurrent checks with forged future tokens and 500 watches
# resuming from a future token while another reader checks; /healthz and an
# admin call are probed throughout. Loopback only; stops by itself.
#   bash bench/scripts/hostile.sh [duration, default 10s]
set -euo pipefail
cd "$(dirname "$0")/../.."
ulimit -n 65536 2>/dev/null || true
dur=${1:-10s}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/trellis" ./cmd/trellis
go build -o "$work/hostile" ./bench/cmd/trellis-hostile
tok() { "$work/trellis" token create --file "$work/tokens.yaml" --principal "$1" --role "$2" 2>/dev/null | tail -n 1 | tr -d ' '; }
admin=$(tok admin admin); reader=$(tok app reader); hostile=$(tok mallory reader)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
raft=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/trellis" serve --data-dir "$work/data" --token-file "$work/tokens.yaml" --http-addr 127.0.0.1:$port --raft-addr 127.0.0.1:$raft \
  --schema examples/ai-governance/schema.zed --relationships examples/ai-governance/relationships.txt --log-level error &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:$port/readyz >/dev/null && break; sleep 0.1; done
"$work/hostile" --endpoint http://127.0.0.1:$port --reader-token "$reader" --hostile-token "$hostile" --admin-token "$admin" --duration "$dur"
