# Shared by loadtest/run.sh, soak.sh and fanout.sh (sourced, not run): messages, port checks,
# process figures and starting vivo-exporter. The sourcing script sets WORK (its temp folder,
# holding server.log) and, before start_vivo, SERVER_BIN and VIVO (the read API's base URL).

log() { printf '== %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# rss_kb PID: the process's resident set in KiB (0 once it is gone).
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_vivo CPUS HTTP_WORKERS: vivo-exporter with $WORK/vivo.conf pinned to CPUS, in the
# background (SERVER_PID), once its read API answers; dies if it exits or takes over 10 s.
start_vivo() {
    taskset -c "$1" "$SERVER_BIN" -c "$WORK/vivo.conf" --http-workers "$2" \
        >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    local tries=0
    until curl -sf --max-time 1 -o /dev/null "$VIVO/"; do
        tries=$((tries + 1))
        [ "$tries" -lt 100 ] || die "vivo-exporter did not start: $(tail -n 5 "$WORK/server.log")"
        kill -0 "$SERVER_PID" 2>/dev/null || die "vivo-exporter exited: $(tail -n 5 "$WORK/server.log")"
        sleep 0.1
    done
}
