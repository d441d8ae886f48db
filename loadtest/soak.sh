#!/usr/bin/env bash
# Soak (issue 12): mixed ingest and reads for a bounded time, on this machine, against
# 127.0.0.1 only, showing that the server's RSS stays flat once the streams are full.
#
#   loadtest/soak.sh                 # ~10.5 minutes
#   DURATION=60 loadtest/soak.sh     # a quick pass
#
# It starts vivo-exporter pinned to CPU 0 (1 HTTP worker; a Forward, an OTLP/HTTP and an HTTP
# JSON input; a logs stream of STREAM_QUEUE_SIZE, 20M), fills the logs stream to its budget,
# then for DURATION seconds runs, pinned to CPU 1:
#   - vivo-loadgen Forward at FORWARD_RATE events/s (10-event frames, one connection, sent
#     every 10 ms),
#   - vivo-loadgen OTLP/HTTP at OTLP_RATE records/s (100 per request) and HTTP JSON at
#     HTTP_JSON_RATE records/s (100 per request),
#   - two UI-poll loops (curl: the Next-ID, then the window `from=NEXT-111`), a whole-stream
#     read every 5 s, a long-poll loop (`from=<next>&wait=30`), an SSE follower and an NDJSON
#     follower (curl -N),
# and prints the server's RSS every 10 s ("RSS over time"). The streams evict from the start, so
# every sample is of a full stream. The verdict: RSS is flat when the largest RSS of the second
# half is within TOLERANCE percent (10) of the RSS when the stream was first full (the first
# sample), the server still answers, and no load generator failed. Writes the samples and the
# verdict as JSON to loadtest/results/<UTC timestamp>-soak.json. Every step is bounded in time;
# every process it starts is stopped on exit.
#
# Run it under the shared measurement lock, built beforehand:
#   cargo build --release --bin vivo-exporter --bin vivo-loadgen
#   flock /tmp/measure.lock env SKIP_BUILD=1 loadtest/soak.sh
#
# Environment: DURATION (seconds of mixed load, 600), STREAM_QUEUE_SIZE (20M), FORWARD_RATE
# (20000), OTLP_RATE (2000), HTTP_JSON_RATE (2000), TOLERANCE (percent, 10), INTERVAL (seconds
# between samples, 10), FORWARD_PORT (12224), OTLP_PORT (12318), HTTP_JSON_PORT (12880),
# HTTP_PORT (12025), SKIP_BUILD (1: use the binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

D=${DURATION:-600}
STREAM_QUEUE_SIZE=${STREAM_QUEUE_SIZE:-20M}
FORWARD_RATE=${FORWARD_RATE:-20000}
OTLP_RATE=${OTLP_RATE:-2000}
HTTP_JSON_RATE=${HTTP_JSON_RATE:-2000}
TOLERANCE=${TOLERANCE:-10}
INTERVAL=${INTERVAL:-10}
FORWARD_PORT=${FORWARD_PORT:-12224}
OTLP_PORT=${OTLP_PORT:-12318}
HTTP_JSON_PORT=${HTTP_JSON_PORT:-12880}
HTTP_PORT=${HTTP_PORT:-12025}
VIVO=http://127.0.0.1:$HTTP_PORT
[[ $D =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: DURATION must be a positive whole number" >&2; exit 1; }
[ "$D" -ge $((INTERVAL * 4)) ] || { echo "soak.sh: DURATION must be at least 4 samples" >&2; exit 1; }

SERVER_BIN=$ROOT/target/release/vivo-exporter
LOADGEN=$ROOT/target/release/vivo-loadgen
WORK=$(mktemp -d /tmp/vivo-soak.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PIDS=()
SERVER_PID=

. "$ROOT/loadtest/lib.sh"

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# metric NAME: the value of NAME for the logs stream in /internal/metrics.
metric() {
    curl -sf --max-time 5 "$VIVO/internal/metrics" |
        awk -v m="$1" 'index($1, m "{") == 1 && $1 ~ /stream="logs"/ { s += $2 } END { printf "%d\n", s }'
}
next_id() {
    curl -sfI --max-time 5 "$VIVO/logs?from=9223372036854775807" | tr -d '\r' |
        awk -F': ' 'tolower($1) == "vivo-stream-next-id" { print $2 }'
}
# The budget in bytes (K, M, G are powers of 1000, as run.sh takes 20M); the stream counts as
# full at 95% of it.
budget_bytes() {
    local size=$1 n=${1%[kKmMgG]}
    case $size in
    *[kK]) echo $((n * 1000)) ;;
    *[mM]) echo $((n * 1000 * 1000)) ;;
    *[gG]) echo $((n * 1000 * 1000 * 1000)) ;;
    *) echo "$n" ;;
    esac
}
BUDGET=$(budget_bytes "$STREAM_QUEUE_SIZE")
FULL_AT=$((BUDGET * 95 / 100))

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building release binaries"
    cargo build --release --quiet --bin vivo-exporter --bin vivo-loadgen
fi
for port in "$FORWARD_PORT" "$OTLP_PORT" "$HTTP_JSON_PORT" "$HTTP_PORT"; do
    port_free "$port" || die "port $port on 127.0.0.1 is in use (set FORWARD_PORT, OTLP_PORT, HTTP_JSON_PORT, HTTP_PORT)"
done

cat >"$WORK/vivo.conf" <<EOF
[SERVICE]
    flush     1
    log_level warn

[INPUT]
    name   forward
    listen 127.0.0.1
    port   $FORWARD_PORT

[INPUT]
    name   opentelemetry
    listen 127.0.0.1
    port   $OTLP_PORT
    grpc   off

[INPUT]
    name   http
    listen 127.0.0.1
    port   $HTTP_JSON_PORT

[OUTPUT]
    name              vivo_exporter
    match             *
    host              127.0.0.1
    port              $HTTP_PORT
    stream_queue_size $STREAM_QUEUE_SIZE
EOF

start_vivo 0 1
PIDS+=("$SERVER_PID")
rss_start=$(rss_kb "$SERVER_PID")

log "filling the logs stream to $STREAM_QUEUE_SIZE"
fill_events=$((BUDGET / 100 * 12 / 10))
timeout 120 taskset -c 1 "$LOADGEN" --target "127.0.0.1:$FORWARD_PORT" --connections 2 \
    --events-per-frame 10 --record-bytes 120 --events "$fill_events" \
    --wait-readable "$VIVO/logs" --json >"$OUT/fill.json" || die "the fill failed"
held=$(metric vivo_stream_bytes)
[ "$held" -ge "$FULL_AT" ] || die "the logs stream holds $held bytes after the fill, less than 95% of $BUDGET"
rss_full=$(rss_kb "$SERVER_PID")
log "full: $held bytes held, server RSS $((rss_full / 1024)) MB (at start: $((rss_start / 1024)) MB)"

# Background load, each bounded by the duration (plus a margin) on its own. Each is started as
# its own process group (setsid) so the cleanup ends its children too.
bg() {
    setsid "$@" &
    PIDS+=("$!")
}
gen() {
    local name=$1
    shift
    bg bash -c 'timeout "$0" taskset -c 1 "$@" >"'"$OUT/$name"'.json" 2>"'"$OUT/$name"'.err"; echo $? >"'"$OUT/$name"'.rc"' \
        $((D + 30)) "$@"
}
end=$(($(date +%s) + D))
gen forward "$LOADGEN" --target "127.0.0.1:$FORWARD_PORT" --rate "$FORWARD_RATE" --tick 10ms \
    --events-per-frame 10 --record-bytes 120 --connections 1 --duration "${D}s" --json
gen otlp "$LOADGEN" --protocol otlp-http --target "127.0.0.1:$OTLP_PORT" --rate "$OTLP_RATE" \
    --tick 10ms --events-per-frame 100 --record-bytes 100 --connections 1 --duration "${D}s" --json
gen http_json "$LOADGEN" --protocol http-json --target "127.0.0.1:$HTTP_JSON_PORT" \
    --rate "$HTTP_JSON_RATE" --tick 10ms --events-per-frame 100 --record-bytes 100 \
    --connections 1 --duration "${D}s" --json

# Readers: each loop counts its answers in a file and stops at the end of the duration.
reader() {
    local name=$1 body=$2
    bg timeout $((D + 30)) taskset -c 1 bash -c '
        end=$1; vivo=$2; out=$3; n=0; fails=0
        next() { curl -sfI --max-time 5 "$vivo/logs?from=9223372036854775807" | tr -d "\r" |
            awk -F": " "tolower(\$1) == \"vivo-stream-next-id\" { print \$2 }"; }
        while [ "$(date +%s)" -lt "$end" ]; do
            '"$body"'
        done
        echo "$n $fails" >"$out"' _ "$end" "$VIVO" "$OUT/$name.count"
}
ui_poll='id=$(next) || true
    if [ -n "$id" ] && curl -sf --max-time 10 -o /dev/null "$vivo/logs?from=$((id - 111))"; then n=$((n + 1)); else fails=$((fails + 1)); fi'
reader ui_poll_1 "$ui_poll"
reader ui_poll_2 "$ui_poll"
reader full_reads 'if curl -sf --max-time 30 -o /dev/null "$vivo/logs"; then n=$((n + 1)); else fails=$((fails + 1)); fi; sleep 5'
reader long_poll 'id=${id:-$(next)}
    h=$(curl -sf --max-time 40 -D - -o /dev/null "$vivo/logs?from=$id&wait=30" | tr -d "\r") && n=$((n + 1)) || fails=$((fails + 1))
    id=$(printf "%s\n" "$h" | awk -F": " "tolower(\$1) == \"vivo-stream-next-id\" { print \$2 }")'
# The followers count what they got: SSE events, NDJSON lines.
bg bash -c 'timeout "$0" taskset -c 1 curl -sN -H "Accept: text/event-stream" "$1" |
    grep -c "^id: " >"$2" || true' "$D" "$VIVO/logs?from=$(next_id)" "$OUT/sse.count"
bg bash -c 'timeout "$0" taskset -c 1 curl -sN "$1" | wc -l >"$2" || true' \
    "$D" "$VIVO/logs?follow=true&from=$(next_id)" "$OUT/ndjson.count"

log "mixed load for ${D}s: Forward $FORWARD_RATE/s, OTLP/HTTP $OTLP_RATE/s, HTTP JSON $HTTP_JSON_RATE/s; 2 UI polls, full reads every 5 s, a long-poll, an SSE and an NDJSON follower"
printf 'RSS over time (server, VmRSS; logs stream held; entries published)\n'
printf '%8s  %10s  %12s  %12s\n' "t (s)" "RSS (MB)" "held (MB)" "published"
start=$(date +%s)
: >"$OUT/samples"
t=0
while :; do
    rss=$(rss_kb "$SERVER_PID")
    held=$(metric vivo_stream_bytes || echo 0)
    published=$(metric vivo_stream_published_entries_total || echo 0)
    echo "$t $rss $held $published" >>"$OUT/samples"
    awk -v t="$t" -v r="$rss" -v h="$held" -v p="$published" \
        'BEGIN { printf "%8d  %10.1f  %12.1f  %12d\n", t, r / 1024, h / 1e6, p }'
    kill -0 "$SERVER_PID" 2>/dev/null || die "vivo-exporter exited: $(tail -n 5 "$WORK/server.log")"
    [ "$t" -lt "$D" ] || break
    sleep $((start + t + INTERVAL - $(date +%s) > 0 ? start + t + INTERVAL - $(date +%s) : 0))
    t=$((t + INTERVAL))
done
alive=false
curl -sf --max-time 5 -o /dev/null "$VIVO/api/v1/health" && alive=true

# Let the generators and readers finish (each is bounded) and collect what they did.
for pid in "${PIDS[@]:1}"; do
    wait "$pid" 2>/dev/null || true
done

python3 - "$OUT" "loadtest/results/$STAMP-soak.json" <<EOF
import json, os, sys

out, dest = sys.argv[1], sys.argv[2]
samples = []
for line in open(os.path.join(out, "samples")):
    t, rss, held, published = (int(v) for v in line.split())
    samples.append({"t_s": t, "rss_kb": rss, "held_bytes": held, "published_entries": published})
tolerance = $TOLERANCE
first = samples[0]["rss_kb"]
half = samples[len(samples) // 2:]
last_half_max = max(s["rss_kb"] for s in half)
n = len(half)
mean_t = sum(s["t_s"] for s in half) / n
mean_r = sum(s["rss_kb"] for s in half) / n
var_t = sum((s["t_s"] - mean_t) ** 2 for s in half) or 1
slope = sum((s["t_s"] - mean_t) * (s["rss_kb"] - mean_r) for s in half) / var_t * 60

def gen(name):
    try:
        rc = int(open(os.path.join(out, name + ".rc")).read().strip() or 1)
        report = json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        return {"rc": None, "error": open(os.path.join(out, name + ".err")).read()[-300:] if os.path.exists(os.path.join(out, name + ".err")) else "missing"}
    return {"rc": rc, "events": report.get("events"), "events_per_s": round(report.get("events_per_sec") or 0, 1)}

def reader(name):
    try:
        n, fails = open(os.path.join(out, name + ".count")).read().split()
        return {"answers": int(n), "failures": int(fails)}
    except (OSError, ValueError):
        return {"answers": None, "failures": None}

generators = {name: gen(name) for name in ("forward", "otlp", "http_json")}
readers = {name: reader(name) for name in ("ui_poll_1", "ui_poll_2", "full_reads", "long_poll")}
def count(name):
    try:
        return int(open(os.path.join(out, name + ".count")).read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
sse_events = count("sse")
readers["sse"] = {"events": sse_events}
readers["ndjson_follow"] = {"lines": count("ndjson")}
generators_ok = all(g.get("rc") == 0 for g in generators.values())
readers_ok = all((r.get("answers") or 0) > 0 and r.get("failures") == 0 for r in readers.values() if "answers" in r) and sse_events > 0
flat = last_half_max <= first * (1 + tolerance / 100)
alive = "$alive" == "true"
verdict = flat and alive and generators_ok and readers_ok
result = {
    "timestamp": "$STAMP",
    "duration_s": $D,
    "stream_queue_size": "$STREAM_QUEUE_SIZE",
    "rates": {"forward": $FORWARD_RATE, "otlp_http": $OTLP_RATE, "http_json": $HTTP_JSON_RATE},
    "rss_at_start_kb": $rss_start,
    "rss_when_full_kb": first,
    "rss_last_half_max_kb": last_half_max,
    "rss_last_half_growth_pct": round((last_half_max / first - 1) * 100, 1),
    "rss_last_half_slope_kb_per_min": round(slope, 1),
    "rss_max_kb": max(s["rss_kb"] for s in samples),
    "tolerance_pct": tolerance,
    "flat": flat,
    "alive_at_end": alive,
    "generators": generators,
    "readers": readers,
    "verdict": "PASS" if verdict else "FAIL",
    "commit": os.popen("git describe --always --dirty 2>/dev/null").read().strip() or "unknown",
    "samples": samples,
}
os.makedirs(os.path.dirname(dest), exist_ok=True)
with open(dest, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print()
print(f"RSS when first full {first / 1024:.1f} MB; largest in the second half {last_half_max / 1024:.1f} MB "
      f"({result['rss_last_half_growth_pct']:+.1f}%, tolerance {tolerance}%); second-half slope "
      f"{result['rss_last_half_slope_kb_per_min']:+.1f} KB/min; largest overall {result['rss_max_kb'] / 1024:.1f} MB")
for name, g in generators.items():
    print(f"  {name:10s} rc {g.get('rc')}, {g.get('events')} events")
for name, r in readers.items():
    print(f"  {name:10s} {r}")
print(f"RSS flat once full: {'yes' if flat else 'NO'}; server alive at the end: {'yes' if alive else 'NO'}; "
      f"verdict {result['verdict']}")
print(f"written to {dest}")
sys.exit(0 if verdict else 1)
EOF
