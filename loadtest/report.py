#!/usr/bin/env python3
"""Turns the raw results of one loadtest/run.sh run into the table of issue 4 and a JSON file.

Usage: report.py OUT_DIR RESULT_JSON

OUT_DIR holds what run.sh measured, per phase NAME: NAME.json (vivo-loadgen's --json, wrk's line
from loadtest/wrk/report.lua, or k6's --summary-export), NAME.cpu (CPU seconds of the server, of
nginx, of the load generators and of other processes, and the wall time), NAME.rc (k6's exit
code: 99 when a threshold failed); plus RSS figures (*.kb), sizes and meta.json. The table
compares every figure with the issue's target; the JSON file holds the same rows and the raw
figures.
"""

import json
import sys
from pathlib import Path

# Issue 4's reference figure (Fluent Bit v4.1.2 on this kind of machine) and targets.
FLUENT_BIT_CPU_S_PER_M = 1.31
TARGET_CPU_S_PER_M = 0.44
TARGET_WRK_RATIO = 0.80
TARGET_WRK_P99_FACTOR = 2.0
TARGET_INGEST_RATIO = 0.90
TARGET_INGEST_P99_FACTOR = 1.5
TARGET_FULL_RATIO = 0.90
TARGET_RSS_MB = 60
TARGET_SCALE_TOLERANCE = 0.10
# A phase during which processes this run did not start took more than this share of the
# machine is flagged: its figures are not trustworthy.
NOISY_SHARE = 0.05


class Results:
    """The files of one run."""

    def __init__(self, out):
        self.out = out
        self.cpus = 2

    def read(self, name):
        path = self.out / name
        if not path.exists() or path.stat().st_size == 0:
            return None
        text = path.read_text().strip()
        try:
            return json.loads(text)
        except ValueError:
            return None

    def noise(self, *names):
        """The largest share of the machine other processes took during these phases."""
        shares = []
        for name in names:
            cpu = self.read(f"{name}.cpu")
            if cpu and cpu["wall"] > 0:
                shares.append(cpu["other"] / (cpu["wall"] * self.cpus))
        return max(shares) if shares else None

    def wrk(self, name, who="server"):
        raw, cpu = self.read(f"{name}.json"), self.read(f"{name}.cpu")
        if not raw:
            return None
        seconds = raw["duration_us"] / 1e6
        return with_cpu(
            {
                "req_per_s": raw["requests"] / seconds,
                "p50_ms": raw["latency_us"]["p50"] / 1e3,
                "p99_ms": raw["latency_us"]["p99"] / 1e3,
                "mb_per_s": raw["bytes"] / seconds / 1e6,
                "errors": raw["errors"] + raw["non_2xx"],
            },
            raw["requests"],
            cpu and cpu[who],
        )

    def k6(self, name, who="server"):
        raw, cpu, rc = self.read(f"{name}.json"), self.read(f"{name}.cpu"), self.read(f"{name}.rc")
        if not raw:
            return None
        metrics = raw["metrics"]
        duration = metrics.get("http_req_duration{name:read}") or metrics["http_req_duration"]
        figures = {
            "req_per_s": metrics["http_reqs"]["rate"],
            "p50_ms": duration["med"],
            "p99_ms": duration["p(99)"],
            "gb_per_s": metrics["data_received"]["rate"] / 1e9,
            "failed_rate": metrics["http_req_failed"]["value"],
            "thresholds_passed": rc == 0,
        }
        if "entries_followed" in metrics:
            figures["entries_followed_per_s"] = metrics["entries_followed"]["rate"]
        return with_cpu(figures, metrics["http_reqs"]["count"], cpu and cpu[who])


def with_cpu(figures, requests, cpu_s):
    if cpu_s:
        figures["cpu_s"] = cpu_s
        figures["req_per_cpu_s"] = requests / cpu_s
    return figures


def ratio(a, b):
    return a / b if a is not None and b else None


def num(value, unit="", digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def verdict(ok):
    return "n/a" if ok is None else ("yes" if ok else "NO")


def reads(figures):
    if not figures:
        return "not measured"
    return f"{num(figures['req_per_s'])} req/s, p99 {num(figures['p99_ms'], ' ms', 2)}"


def main():
    results = Results(Path(sys.argv[1]))
    result_path = Path(sys.argv[2])
    meta = results.read("meta.json") or {}
    results.cpus = meta.get("cpus", 2)
    rows = []

    def row(workload, ours, ceiling, ratio_text, target, met, figures, phases):
        noise = results.noise(*phases)
        if noise is not None and noise > NOISY_SHARE:
            workload += f" [NOISY: other processes took {noise:.0%} of the machine]"
        rows.append(
            {
                "workload": workload,
                "vivo_exporter": ours,
                "nginx_same_run": ceiling,
                "ratio": ratio_text,
                "target": target,
                "met": met,
                "other_processes_share": noise,
                "figures": figures,
            }
        )

    # 1. Ingest alone.
    ingest, cpu = results.read("ingest.json"), results.read("ingest.cpu")
    if ingest and cpu:
        per_m = cpu["server"] / (ingest["events"] / 1e6)
        row(
            "ingest alone: PackedForward 1000 events/frame, ~100 B records, 4 connections, until readable",
            f"{per_m:.3f} CPU-s per M events ({num(ingest['events_per_sec_until_readable'])} events/s "
            f"over {ingest['events']:,} events)",
            "-",
            f"{FLUENT_BIT_CPU_S_PER_M / per_m:.2f}x less CPU than Fluent Bit's {FLUENT_BIT_CPU_S_PER_M}",
            f"<= {TARGET_CPU_S_PER_M} CPU-s/M",
            per_m <= TARGET_CPU_S_PER_M,
            {"server_cpu_s": cpu["server"], "cpu_s_per_million": per_m, "loadgen": ingest},
            ["ingest"],
        )
    else:
        row("ingest alone", "not measured", "-", "-", f"<= {TARGET_CPU_S_PER_M} CPU-s/M", None, {}, [])

    # 3. Reads alone, wrk.
    window_kb = (results.read("window_bytes") or 0) / 1e3
    for c in (1, 16, 64, 256):
        ours, ceiling = results.wrk(f"wrk_vivo_c{c}"), results.wrk(f"wrk_nginx_c{c}", who="nginx")
        r = ratio(ours and ours["req_per_s"], ceiling and ceiling["req_per_s"])
        p = ratio(ours and ours["p99_ms"], ceiling and ceiling["p99_ms"])
        target, met = "-", None
        if c == 64:
            target = f">= {TARGET_WRK_RATIO:.0%} of nginx req/s, p99 <= {TARGET_WRK_P99_FACTOR:g}x nginx"
            met = None if r is None or p is None else r >= TARGET_WRK_RATIO and p <= TARGET_WRK_P99_FACTOR
        row(
            f"reads alone, wrk {c} conn, /logs?from=END-110 ({window_kb:.0f} KB answers)",
            reads(ours),
            reads(ceiling),
            f"{num(r, '', 2)} req/s, {num(p, 'x', 2)} p99; req per CPU-s "
            f"{num(ours and ours.get('req_per_cpu_s'))} vs {num(ceiling and ceiling.get('req_per_cpu_s'))}",
            target,
            met,
            {"vivo_exporter": ours, "nginx": ceiling},
            [f"wrk_vivo_c{c}", f"wrk_nginx_c{c}"],
        )

    # 4. k6 UI poll without and with ingest.
    ui, ui_nginx = results.k6("k6_ui_vivo"), results.k6("k6_ui_nginx", who="nginx")
    row(
        "k6 UI poll, 64 VUs, no ingest",
        reads(ui),
        reads(ui_nginx),
        f"{num(ratio(ui and ui['req_per_s'], ui_nginx and ui_nginx['req_per_s']), '', 2)} req/s",
        "(the baseline of the next row)",
        None,
        {"vivo_exporter": ui, "nginx": ui_nginx},
        ["k6_ui_vivo", "k6_ui_nginx"],
    )
    ui_ingest, during = results.k6("k6_ui_vivo_ingest"), results.read("ingest_during_ui.json")
    r = ratio(ui_ingest and ui_ingest["req_per_s"], ui and ui["req_per_s"])
    p = ratio(ui_ingest and ui_ingest["p99_ms"], ui and ui["p99_ms"])
    row(
        f"k6 UI poll, 64 VUs, while ingesting {num(during and during['events_per_sec'])} events/s",
        reads(ui_ingest),
        "-",
        f"{num(r, '', 2)} of no-ingest req/s, {num(p, 'x', 2)} p99",
        f">= {TARGET_INGEST_RATIO:.0%} of no-ingest req/s, p99 <= {TARGET_INGEST_P99_FACTOR:g}x",
        None if r is None or p is None else r >= TARGET_INGEST_RATIO and p <= TARGET_INGEST_P99_FACTOR,
        {"vivo_exporter": ui_ingest, "ingest": during},
        ["k6_ui_vivo_ingest", "k6_ui_vivo"],
    )

    # 4b. Tail follower and random ranges during ingest: their k6 thresholds.
    for name, label in (
        ("k6_tail_vivo_ingest", "k6 tail follower (from=NEXT), 8 VUs, 10 ms polls, during ingest"),
        ("k6_ranges_vivo_ingest", "k6 random from/to/limit ranges, 16 VUs, during ingest"),
    ):
        figures = results.k6(name)
        text = reads(figures)
        if figures and "entries_followed_per_s" in figures:
            text += f", {num(figures['entries_followed_per_s'])} entries/s followed"
        row(
            label,
            text,
            "-",
            "-",
            "k6 thresholds: failed < 1%, checks > 99%, p99 bound",
            figures and figures["thresholds_passed"],
            figures,
            [name],
        )

    # 5. Full-stream reads.
    full, full_nginx = results.k6("k6_full_vivo"), results.k6("k6_full_nginx", who="nginx")
    r = ratio(full and full["gb_per_s"], full_nginx and full_nginx["gb_per_s"])
    row(
        f"full-stream reads ({(results.read('full_bytes') or 0) / 1e6:.1f} MB answers), k6 4 VUs",
        full and f"{full['gb_per_s']:.2f} GB/s, p99 {num(full['p99_ms'], ' ms', 1)}",
        full_nginx and f"{full_nginx['gb_per_s']:.2f} GB/s, p99 {num(full_nginx['p99_ms'], ' ms', 1)}",
        num(r, "", 2),
        f">= {TARGET_FULL_RATIO:.0%} of nginx",
        None if r is None else r >= TARGET_FULL_RATIO,
        {"vivo_exporter": full, "nginx": full_nginx},
        ["k6_full_vivo", "k6_full_nginx"],
    )

    # 7. Memory.
    rss = results.read("rss_after_reads.kb")
    after_ingest, after_fill = results.read("rss_after_ingest.kb"), results.read("rss_after_fill.kb")
    row(
        "server RSS with a full 20 MB logs stream, after the reads",
        "not measured"
        if rss is None
        else f"{rss / 1024:.1f} MB (after the ingest run {num(after_ingest and after_ingest / 1024, ' MB', 1)}, "
        f"after the fill {num(after_fill and after_fill / 1024, ' MB', 1)})",
        "-",
        "-",
        f"<= {TARGET_RSS_MB} MB",
        None if rss is None else rss / 1024 <= TARGET_RSS_MB,
        {
            "rss_kb_after_reads": rss,
            "rss_kb_after_ingest": after_ingest,
            "rss_kb_after_fill": after_fill,
            "held_bytes": results.read("held_bytes"),
        },
        [],
    )

    # 8. Reads scale with cores.
    one, two = results.wrk("scale_w1"), results.wrk("scale_w2")
    per_cpu = ratio(two and two.get("req_per_cpu_s"), one and one.get("req_per_cpu_s"))
    rises = None if not (one and two) else two["req_per_s"] > one["req_per_s"]
    row(
        "tail reads from=NEXT, wrk 64 conn: 2 HTTP workers on CPUs 0-1 vs 1 on CPU 0 (wrk on CPU 1)",
        "not measured"
        if not (one and two)
        else f"{num(two.get('req_per_cpu_s'))} vs {num(one.get('req_per_cpu_s'))} req per server CPU-s; "
        f"{num(two['req_per_s'])} vs {num(one['req_per_s'])} req/s",
        "-",
        f"{num(per_cpu, '', 2)} per CPU-s; total rate rises: {verdict(rises)}",
        f"per CPU-s within {TARGET_SCALE_TOLERANCE:.0%}, total rate rises",
        None if per_cpu is None else abs(per_cpu - 1) <= TARGET_SCALE_TOLERANCE and bool(rises),
        {"one_worker": one, "two_workers": two},
        ["scale_w1", "scale_w2"],
    )

    result_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")

    print()
    print(
        f"vivo-exporter {meta.get('commit', '?')}, {meta.get('cpus', '?')} x {meta.get('cpu_model', '?')}, "
        f"Linux {meta.get('kernel', '?')}; server pinned to CPU 0, load generators to CPU 1; "
        f"{meta.get('duration_s', '?')} s per read phase; wrk {meta.get('wrk', '?')}, "
        f"k6 {meta.get('k6', '?')}, nginx {meta.get('nginx', '?')} (1 worker, CPU 0)"
    )
    headers = ["workload", "vivo-exporter", "nginx, same bytes, same run", "ratio", "target", "met"]
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for r in rows:
        cells = [r["workload"], r["vivo_exporter"] or "n/a", r["nginx_same_run"] or "n/a", r["ratio"], r["target"]]
        print("| " + " | ".join(cells + [verdict(r["met"])]) + " |")
    print(f"\nwritten to {result_path}")


if __name__ == "__main__":
    main()
