#!/usr/bin/env bash
# The CI smoke of the load driver: start a real single node (its own data dir
# and ports on loopback), let the driver load the tiny workload into it and
# replay it for 10 seconds, and fail on any error or any wrong answer. It
# asserts correctness, never a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pid=""
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/trellis" ./cmd/trellis
# Both ports are chosen by the kernel (:0); the node logs the API URL it got.
"$work/trellis" serve --insecure-no-auth --data-dir "$work/data" \
	--http-addr 127.0.0.1:0 --raft-addr 127.0.0.1:0 --log-level info 2>"$work/serve.log" &
pid=$!
url=""
for _ in $(seq 1 150); do
	url=$(sed -n 's/.*msg="trellis node serving".* api=\([^ ]*\).*/\1/p' "$work/serve.log" | head -n 1)
	[ -n "$url" ] && "$work/trellis" health --live --endpoint "$url" >/dev/null 2>&1 && break
	sleep 0.2
done
if [ -z "$url" ]; then
	echo "bench smoke: the server did not start; its log:" >&2
	cat "$work/serve.log" >&2
	exit 1
fi
TRELLIS_BENCH_ENDPOINT="$url" go test -count=1 -v -run '^TestSmoke$' ./bench/driver/
