#!/usr/bin/env bash
# Fan-out at scale (issue 13, item 4), on this machine, against 127.0.0.1 only:
#
#   loadtest/fanout.sh                          # ~2 minutes: 1,000 then 10,000 followers
#   COUNTS=2000 PUBLISH_FOR=5 loadtest/fanout.sh   # a quick pass
#
# For each follower count it starts a fresh vivo-exporter pinned to CPU 0 (1 HTTP worker, an
# HTTP JSON input, a 20M logs stream, http_max_connections 20000) and runs
# `vivo-loadgen followers` pinned to CPU 1, one task per connection: half the followers follow
# with Server-Sent Events, half loop on long-polls (`from=<next>&wait=30`). Once all are
# connected and idle it reads the server's RSS; then it publishes RATE entries/s for
# PUBLISH_FOR seconds through the HTTP JSON input, one record per entry carrying its send time
# in ns, and every follower notes the time from send to its receipt of every entry. It prints
# one table (RSS per idle follower; publish→receipt p50/p99 over all (follower, entry) pairs, and
# over the entries of the time until the last follower had it) and writes the same as JSON to
# loadtest/results/<UTC timestamp>-fanout.json. Every step is bounded in time; every process it
# starts is stopped on exit.
#
# Run it under the shared measurement lock, built beforehand so the lock is not held by a build:
#   cargo build --release --bin vivo-exporter --bin vivo-loadgen
#   flock /tmp/measure.lock env SKIP_BUILD=1 loadtest/fanout.sh
#
# Environment: COUNTS (follower counts, "1000 10000"), RATE (entries/s, 100), PUBLISH_FOR
# (seconds, 20), SSE_PERCENT (50), WAIT (long-poll wait in s, 30), HTTP_PORT (12025),
# HTTP_JSON_PORT (12880), SKIP_BUILD (1: use the binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

COUNTS=${COUNTS:-"1000 10000"}
RATE=${RATE:-100}
PUBLISH_FOR=${PUBLISH_FOR:-20}
SSE_PERCENT=${SSE_PERCENT:-50}
WAIT=${WAIT:-30}
HTTP_PORT=${HTTP_PORT:-12025}
HTTP_JSON_PORT=${HTTP_JSON_PORT:-12880}
MAX_CONNECTIONS=20000
VIVO=http://127.0.0.1:$HTTP_PORT

SERVER_BIN=$ROOT/target/release/vivo-exporter
LOADGEN=$ROOT/target/release/vivo-loadgen
WORK=$(mktemp -d /tmp/vivo-fanout.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
SERVER_PID=

. "$ROOT/loadtest/lib.sh"

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


for n in $COUNTS; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "COUNTS must be positive whole numbers"
    [ "$n" -le $((MAX_CONNECTIONS - 100)) ] || die "at most $((MAX_CONNECTIONS - 100)) followers"
done
max_count=$(printf '%s\n' $COUNTS | sort -n | tail -n 1)

# Open files: every follower is one descriptor here and one in the server. Both processes
# raise their soft limit to the hard one; the hard one must be large enough.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((max_count + 256)) ] ||
    die "open-files limit $(ulimit -n) is too low for $max_count followers (raise ulimit -Hn)"
# Ephemeral ports: one per follower from 127.0.0.1 to one port (plus the TIME_WAIT ones of
# the previous count).
read -r low high </proc/sys/net/ipv4/ip_local_port_range
[ $((high - low)) -ge $((max_count * 2 + 1000)) ] ||
    die "ephemeral port range $low-$high is too small for $max_count followers"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building release binaries"
    cargo build --release --quiet --bin vivo-exporter --bin vivo-loadgen
fi
for port in "$HTTP_PORT" "$HTTP_JSON_PORT"; do
    port_free "$port" || die "port $port on 127.0.0.1 is in use (set HTTP_PORT, HTTP_JSON_PORT)"
done

cat >"$WORK/vivo.conf" <<EOF
[SERVICE]
    flush     1
    log_level warn

[INPUT]
    name   http
    listen 127.0.0.1
    port   $HTTP_JSON_PORT

[OUTPUT]
    name                 vivo_exporter
    match                *
    host                 127.0.0.1
    port                 $HTTP_PORT
    stream_queue_size    20M
    http_max_connections $MAX_CONNECTIONS
    http_max_wait        60
EOF


stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
}

for n in $COUNTS; do
    log "$n followers ($SSE_PERCENT% SSE, the rest long-poll wait=$WAIT), $RATE entries/s for ${PUBLISH_FOR}s"
    start_vivo 0 1
    timeout $((PUBLISH_FOR + 240)) taskset -c 1 "$LOADGEN" followers \
        --read-api "127.0.0.1:$HTTP_PORT" --publish "127.0.0.1:$HTTP_JSON_PORT" \
        --followers "$n" --sse-percent "$SSE_PERCENT" --wait "$WAIT" --rate "$RATE" \
        --publish-for "${PUBLISH_FOR}s" --server-pid "$SERVER_PID" --threads 1 --json \
        >"$OUT/followers_$n.json" 2>"$OUT/followers_$n.err" ||
        die "vivo-loadgen followers ($n) failed: $(tail -n 5 "$OUT/followers_$n.err")"
    stop_server
done

cat >"$OUT/meta.json" <<EOF
{
  "timestamp": "$STAMP",
  "rate": $RATE,
  "publish_for_s": $PUBLISH_FOR,
  "sse_percent": $SSE_PERCENT,
  "wait_s": $WAIT,
  "cpu_model": "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)",
  "cpus": $(nproc --all),
  "kernel": "$(uname -r)",
  "commit": "$(git describe --always --dirty 2>/dev/null || echo unknown)"
}
EOF
mkdir -p loadtest/results
python3 - "$OUT" "loadtest/results/$STAMP-fanout.json" <<'EOF'
import glob, json, os, sys

out, dest = sys.argv[1], sys.argv[2]
meta = json.load(open(os.path.join(out, "meta.json")))
runs = []
for path in glob.glob(os.path.join(out, "followers_*.json")):
    with open(path) as f:
        runs.append(json.load(f))
runs.sort(key=lambda r: r["followers"])

RSS_TARGET, P99_TARGET = 10 * 1024, 50.0
def fmt(v, unit=""):
    return "–" if v is None else f"{v:,}{unit}" if isinstance(v, int) else f"{v}{unit}"

rows = []
for r in runs:
    per = (r.get("rss_per_idle_follower") or {}).get("vm_rss_bytes")
    last_p99 = r["last_follower"]["p99_ms"]
    rows.append({
        "followers": r["followers"],
        "rss_per_idle_follower_bytes": per,
        "rss_met": per is not None and per <= RSS_TARGET,
        "delivery_p50_ms": r["delivery"]["p50_ms"],
        "delivery_p99_ms": r["delivery"]["p99_ms"],
        "sse_p99_ms": r["delivery_sse"]["p99_ms"],
        "long_poll_p99_ms": r["delivery_long_poll"]["p99_ms"],
        "last_follower_p50_ms": r["last_follower"]["p50_ms"],
        "last_follower_p99_ms": last_p99,
        "p99_met": last_p99 is not None and last_p99 <= P99_TARGET,
        "deliveries": r["deliveries"],
        "deliveries_expected": r["deliveries_expected"],
        "server_cpu_busy": r["server_cpu_busy"],
        "generator_cpu_busy": r["generator_cpu_busy"],
        "other_cpu_busy": r.get("other_cpu_busy"),
        "steal_cpu": r.get("steal_cpu"),
        # As run.sh: other processes or the hypervisor took more than 5% of the machine.
        "noisy": (r.get("other_cpu_busy") or 0) + (r.get("steal_cpu") or 0) > 0.05 * meta["cpus"],
    })

print()
print(f"fan-out, {meta['rate']} entries/s for {meta['publish_for_s']} s, "
      f"{meta['sse_percent']}% SSE / the rest long-poll (wait={meta['wait_s']}), server on CPU 0, followers on CPU 1")
head = ("followers", "RSS/idle follower", "all pairs p50 / p99", "SSE p99", "long-poll p99",
        "last follower p50 / p99", "delivered", "server / generator / other CPU", "met (≤10 KB, p99 ≤50 ms)")
table = [head]
for row in rows:
    per = row["rss_per_idle_follower_bytes"]
    table.append((
        f"{row['followers']:,}",
        "–" if per is None else f"{per / 1024:.1f} KB",
        f"{fmt(row['delivery_p50_ms'])} / {fmt(row['delivery_p99_ms'])} ms",
        f"{fmt(row['sse_p99_ms'])} ms",
        f"{fmt(row['long_poll_p99_ms'])} ms",
        f"{fmt(row['last_follower_p50_ms'])} / {fmt(row['last_follower_p99_ms'])} ms",
        f"{row['deliveries']:,} / {row['deliveries_expected']:,}",
        f"{fmt(row['server_cpu_busy'])} / {fmt(row['generator_cpu_busy'])} / {fmt(row['other_cpu_busy'])}",
        f"{'yes' if row['rss_met'] else 'no'} / {'yes' if row['p99_met'] else 'no'}" + (" NOISY" if row["noisy"] else ""),
    ))
widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
for i, r in enumerate(table):
    print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    if i == 0:
        print("  ".join("-" * w for w in widths))

with open(dest, "w") as f:
    json.dump({"meta": meta, "rows": rows, "runs": runs}, f, indent=2)
    f.write("\n")
print(f"\nwritten to {dest}")
EOF
