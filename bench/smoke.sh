#!/usr/bin/env bash
# The CI smoke of the load driver: start a real single node (its own data dir
# and ports on loopback), let the driver load the tiny workload into it and
# replay it for 10 seconds, and fail on any error or any wrong answer. It
# asserts correctness, never a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/trellis" ./cmd/trellis
port=$((20000 + RANDOM % 20000))
"$work/trellis" serve --insecure-no-auth --data-dir "$work/data" \
	--http-addr "127.0.0.1:$port" --raft-addr "127.0.0.1:$((port + 1))" --log-level warn &
pid=$!
for _ in $(seq 1 100); do
	"$work/trellis" health --live --endpoint "http://127.0.0.1:$port" >/dev/null 2>&1 && break
	sleep 0.2
done
TRELLIS_BENCH_ENDPOINT="http://127.0.0.1:$port" go test -count=1 -v -run '^TestSmoke$' ./bench/driver/
