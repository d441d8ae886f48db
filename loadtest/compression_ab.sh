#!/usr/bin/env bash
# What the compression middleware costs readers that do not ask for it: window reads
# (/logs?from=END-110, wrk 64 connections, no Accept-Encoding, DURATION s each) against the same
# release binary with http_compression on and off, ROUNDS alternating rounds, each on a fresh
# server filled with 200k events in 10-event frames. Server on CPU 0, load on CPU 1, loopback.
#
#   loadtest/compression_ab.sh            # ~2 minutes after the build
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
[[ ${SKIP_BUILD:-0} == 1 ]] || cargo build --release --quiet --bin vivo-exporter --bin vivo-loadgen
WORK=$(mktemp -d)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for round in $(seq "$ROUNDS"); do
    for mode in on off; do
        cat >"$WORK/$mode.conf" <<CONF
[SERVICE]
    flush 1
    log_level warn
[INPUT]
    name forward
    listen 127.0.0.1
    port 13224
[OUTPUT]
    name vivo_exporter
    match *
    host 127.0.0.1
    port 13025
    http_compression $mode
CONF
        taskset -c 0 target/release/vivo-exporter -c "$WORK/$mode.conf" &
        PID=$!
        sleep 1
        taskset -c 1 target/release/vivo-loadgen --target 127.0.0.1:13224 --connections 4 \
            --events-per-frame 10 --record-bytes 120 --events 200000 \
            --wait-readable http://127.0.0.1:13025/logs >/dev/null
        END=$(curl -s -I http://127.0.0.1:13025/logs | tr -d '\r' |
            awk -F': ' 'tolower($1)=="vivo-stream-end-id"{print $2}')
        OUT=$(taskset -c 1 wrk -t1 -c64 -d"${DURATION}s" --latency \
            "http://127.0.0.1:13025/logs?from=$((END - 110))" | grep -E 'Requests/sec|99%')
        echo "round $round, http_compression $mode: $(echo $OUT)"
        kill $PID
        wait $PID 2>/dev/null || true
        PID=
    done
done
