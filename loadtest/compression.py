#!/usr/bin/env python3
"""What compressed reads cost the server, and what they save, on real log lines.

    loadtest/compression.sh [LOG FILE ...]      # builds, then runs this; ~1 minute

Starts the release vivo-exporter pinned to CPU 0 (this script runs on CPU 1), fills its logs
stream through the HTTP JSON input with the lines of the given files (by default this machine's
own logs under /var/log: real lines that tools wrote), one `{"log": line}` record per line, 500
records per request, each line once (repeating lines would flatter the ratios). Then, for each
coding (none, gzip, deflate, zstd), it reads the whole stream as many times as make READ_MB
(`Accept-Encoding: <coding>`) and takes the server's CPU time for those reads from
/proc/PID/stat, and the bytes that went over the wire. It does the same for `/api/v1/logs` (the
era-B/C objects, made on read) without compression, so the cost of that transform is one row.

Prints, per coding: server CPU-s per MB of stored JSON served, the extra over the plain read,
the compression ratio (stored bytes / bytes sent) and MB/s of stored JSON per server CPU
second; writes the same as JSON to loadtest/results/compression-<UTC>.json. Loopback only,
bounded (a fixed number of reads), and it stops the server on exit.
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HTTP_PORT = int(os.environ.get("HTTP_PORT", "12125"))
JSON_PORT = int(os.environ.get("HTTP_JSON_PORT", "12980"))
READ_MB = float(os.environ.get("READ_MB", "400"))
DEFAULT_FILES = [
    "/var/log/dpkg.log",
    "/var/log/alternatives.log",
    "/var/log/apt/history.log",
    "/var/log/apt/term.log",
    "/var/log/nginx/access.log",
    "/var/log/nginx/error.log",
]
CODINGS = ["identity", "gzip", "deflate", "zstd"]
TICKS = os.sysconf("SC_CLK_TCK")

CONFIG = f"""
[SERVICE]
    flush 1
    log_level warn
[INPUT]
    name http
    listen 127.0.0.1
    port {JSON_PORT}
    buffer_max_size 8M
[OUTPUT]
    name vivo_exporter
    match *
    host 127.0.0.1
    port {HTTP_PORT}
    stream_queue_size 20M
"""


def server_cpu(pid):
    """User + system CPU seconds the server has used."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def request(method, port, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def fill(lines):
    """Posts every line once, 500 records per request."""
    for start in range(0, len(lines), 500):
        records = [{"log": line} for line in lines[start : start + 500]]
        response, _ = request(
            "POST", JSON_PORT, "/app.log", json.dumps(records), {"Content-Type": "application/json"}
        )
        if response.status not in (200, 201, 204):
            sys.exit(f"compression.py: the HTTP JSON input answered {response.status}")


def measure(pid, path, coding, rounds):
    """`rounds` whole reads of `path` with `coding`: server CPU-s, bytes sent, stored bytes."""
    headers = {} if coding is None else {"Accept-Encoding": coding}
    before = server_cpu(pid)
    sent = 0
    for _ in range(rounds):
        response, data = request("GET", HTTP_PORT, path, headers=headers)
        if response.status != 200:
            sys.exit(f"compression.py: {path} with {coding} answered {response.status}")
        if coding not in (None, "identity") and response.getheader("Content-Encoding") != coding:
            sys.exit(f"compression.py: asked for {coding}, got {response.getheader('Content-Encoding')}")
        sent += len(data)
    return server_cpu(pid) - before, sent


def main():
    files = sys.argv[1:] or [f for f in DEFAULT_FILES if os.path.exists(f) and os.path.getsize(f)]
    lines = []
    for name in files:
        with open(name, errors="replace") as f:
            lines.extend(line.rstrip("\n") for line in f if line.strip())
    if not lines:
        sys.exit("compression.py: no log lines (give files as arguments)")
    binary = os.path.join(ROOT, "target/release/vivo-exporter")
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as conf:
        conf.write(CONFIG)
    server = subprocess.Popen(["taskset", "-c", "0", binary, "-c", conf.name])
    try:
        os.sched_setaffinity(0, {1})
        for _ in range(100):
            try:
                request("GET", HTTP_PORT, "/api/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        fill(lines)
        time.sleep(1.5)  # the last batches published
        _, plain = request("GET", HTTP_PORT, "/logs")
        stored = len(plain)
        stored_lines = plain.count(b"\n")
        if stored_lines != len(lines):
            sys.exit(f"compression.py: {stored_lines} lines stored of {len(lines)} sent")
        rounds = max(1, int(READ_MB * 1e6 / stored))
        _, era_bc = request("GET", HTTP_PORT, "/api/v1/logs")
        rows = []
        for path, coding, label in [("/logs", c, c) for c in CODINGS] + [
            ("/api/v1/logs", None, "/api/v1/logs (era B/C, none)")
        ]:
            measure(server.pid, path, coding, 1)  # warm
            cpu, sent = measure(server.pid, path, coding, rounds)
            mb = rounds * stored / 1e6
            rows.append(
                {
                    "read": label,
                    "cpu_s_per_mb": cpu / mb,
                    "mb_per_cpu_s": mb / cpu if cpu else None,
                    "ratio": rounds * stored / sent,
                    "bytes_sent_per_read": sent // rounds,
                }
            )
        base = rows[0]["cpu_s_per_mb"]
        print(
            f"{len(lines)} lines from {', '.join(files)}, each once: "
            f"{stored / 1e6:.2f} MB of stored JSON ({len(era_bc) / 1e6:.2f} MB as era-B/C); "
            f"{rounds} whole reads per row"
        )
        print(f"{'read':34} {'CPU-s/MB':>9} {'extra':>9} {'MB/CPU-s':>9} {'ratio':>7}")
        for row in rows:
            row["extra_cpu_s_per_mb"] = row["cpu_s_per_mb"] - base
            print(
                f"{row['read']:34} {row['cpu_s_per_mb']:9.5f} {row['extra_cpu_s_per_mb']:9.5f} "
                f"{row['mb_per_cpu_s'] or 0:9.0f} {row['ratio']:7.2f}"
            )
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        out = os.path.join(ROOT, "loadtest/results", f"compression-{stamp}.json")
        with open(out, "w") as f:
            json.dump(
                {"files": files, "lines": len(lines), "stored_bytes": stored, "rounds": rounds, "rows": rows},
                f,
                indent=1,
            )
        print(f"written to {out}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        os.unlink(conf.name)


if __name__ == "__main__":
    main()
