#!/usr/bin/env bash
# The large preset (~10M relationships) on one node inside a 2 GiB memory
# cgroup (cgroup v1, run as root): import, 20 s of checks, then peak RSS,
# the cgroup's accounting and the disk size. `docker run --memory 2g` or a
# Kubernetes memory limit give the same limit.
#   /tmp/trellis bench gen --out /tmp/wl-large --preset large
#   BIN=/tmp/trellis bench/scripts/memlimit-10m.sh
set -euo pipefail
BIN=${BIN:-/tmp/trellis}
WL=${WL:-/tmp/wl-large}
DATA=${DATA:-/tmp/bdl}
CG=/sys/fs/cgroup/memory/trellis-$$
[ -d /sys/fs/cgroup/memory ] || { echo "needs cgroup v1 memory controller at /sys/fs/cgroup/memory" >&2; exit 1; }
[ -f "$WL/checks-only.ndjson" ] || grep -v lookup_readable "$WL/queries.ndjson" >"$WL/checks-only.ndjson"
rm -rf "$DATA"; sync
mkdir -p "$CG"; echo 2147483648 >"$CG/memory.limit_in_bytes"
sh -c "echo \$\$ > $CG/cgroup.procs; exec $BIN serve --insecure-no-auth --data-dir $DATA --http-addr 127.0.0.1:9080 --raft-addr 127.0.0.1:9081 --log-level warn" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:9080/readyz >/dev/null && break; sleep 0.2; done
"$BIN" bench setup --endpoint http://127.0.0.1:9080 --dir "$WL" | grep -E 'imported|elapsed'
"$BIN" bench load --endpoint http://127.0.0.1:9080 --dir "$WL" --queries "$WL/checks-only.ndjson" --clients 32 --duration 20s 2>&1 | tail -1
grep VmHWM "/proc/$pid/status"
echo "cgroup max usage $(cat "$CG/memory.max_usage_in_bytes") bytes; $(grep oom_kill "$CG/memory.oom_control" | tr '\n' ' ')"
du -sh "$DATA"/raft "$DATA"/store
kill "$pid"; wait "$pid" || true
rmdir "$CG" 2>/dev/null || true
