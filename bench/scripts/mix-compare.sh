#!/usr/bin/env bash
# For each binary given, on a fresh 3-node cluster (cluster3.sh): import the
# workload in $WL (default /tmp/wl), warm up for 5 s, run checks only for
# 20 s, then checks with writes (--write-rate 1500 --write-clients 32, ~10%
# of operations) for 20 s against the leader, and print both figures and the
# leader's engine cache hits and misses during the write mix.
#   bench/scripts/mix-compare.sh /tmp/trellis-old /tmp/trellis-new /tmp/trellis-old ...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WL=${WL:-/tmp/wl}
[ -f "$WL/checks-only.ndjson" ] || grep -v lookup_readable "$WL/queries.ndjson" >"$WL/checks-only.ndjson"
cache() { curl -s "http://127.0.0.1:900$1/metrics" | awk '/^trellis_check_cache_hits_total/{h=$2}/^trellis_check_cache_misses_total/{m=$2}END{print h+0, m+0}'; }
for bin in "$@"; do
  leader=$(BIN=$bin "$here/cluster3.sh" | sed -n 's/^leader: n\([123]\).*/\1/p')
  ep=http://127.0.0.1:900$leader
  load() { "$bin" bench load --endpoint "$ep" --dir "$WL" --queries "$WL/checks-only.ndjson" --clients 32 "$@"; }
  "$bin" bench setup --endpoint "$ep" --dir "$WL" >/dev/null
  load --duration 5s >/dev/null 2>&1
  echo "$bin checks only: $(load --duration 20s 2>&1 | tail -1)"
  read -r h0 m0 < <(cache "$leader")
  load --duration 20s --write-rate 1500 --write-clients 32 --report /tmp/mix-report.json >/dev/null 2>&1
  read -r h1 m1 < <(cache "$leader")
  python3 - "$bin" /tmp/mix-report.json "$((h1 - h0))" "$((m1 - m0))" <<'PY'
import json, sys
b, f, hits, misses = sys.argv[1:]
d = json.load(open(f)); w = d["writes"]
print(f"{b} with writes: checks {d['throughput_qps']:.0f}/s p99 {d['latency']['p99_ms']:.1f} ms, "
      f"{d['error_count']} errors, {d['mismatches']} mismatches; writes {w['achieved_rate']:.0f}/s "
      f"p50 {w['latency']['p50_ms']:.1f} ms; leader cache hits {hits}, misses {misses}")
PY
done
"$here/cluster3.sh" stop
