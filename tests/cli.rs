//! The command line, run as the real binary: config errors exit 2 naming file, line and key;
//! --help documents the flags and keys; --dry-run validates, prints a summary and binds
//! nothing; --print-default-config prints the embedded default; every flag overrides its key
//! on a running binary whose file sets a different value (so the test proves the flag wins);
//! the embedded default configuration runs with no file; SIGTERM stops cleanly.

mod common;

use common::binary::{
    binary, free_port, metric, next_id, run, spawn, spawn_unlogged, temp_config as temp_file,
};
use common::*;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use vivo_exporter::config::{Config, ConfigFormat, InputConfig, DEFAULT_CONFIG};

/// How long a run that must end by itself (a refusal, a dry run) may take.
const QUICK: Duration = Duration::from_secs(10);

/// How long any wait for the service to do something may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// The path as the `-c` argument.
fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A config file `name`: `[SERVICE]` with `service` lines, one dummy input with `input` lines,
/// one `vivo_exporter` output (`match *`) with `output` lines.
fn dummy_file(name: &str, service: &str, input: &str, output: &str) -> PathBuf {
    temp_file(
        name,
        &format!(
            "[SERVICE]\n{service}\n[INPUT]\n    name dummy\n{input}\n[OUTPUT]\n    name vivo_exporter\n    match *\n{output}\n"
        ),
    )
}

/// The `--dry-run` summary's counts for the embedded default: "N input(s), M output(s)".
fn embedded_counts() -> String {
    let embedded = Config::embedded_default();
    format!(
        "{} input(s), {} output(s)",
        embedded.inputs.len(),
        embedded.outputs.len()
    )
}

/// The `Vivo-Stream-…-ID` header `name` of `response`, if present.
fn id(response: &Response, name: &str) -> Option<u64> {
    response
        .header(name)
        .map(|v| v.parse().expect("numeric ID header"))
}

#[test]
fn a_bad_config_is_refused_with_file_line_and_key() {
    let path = temp_file(
        "bad.conf",
        "[INPUT]\n    name dummy\n\n[OUTPUT]\n    name vivo_exporter\n    match *\n    stream_queue_size 20Q\n",
    );
    let output = run(&["-c", arg(&path)], QUICK);
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(arg(&path)), "{stderr}");
    assert!(stderr.contains("line 7"), "{stderr}");
    assert!(stderr.contains("stream_queue_size"), "{stderr}");
}

#[test]
fn unknown_keys_and_plugins_are_refused() {
    for (name, text, needle) in [
        ("key.conf", "[OUTPUT]\n    name vivo_exporter\n    match *\n    colour blue\n", "colour"),
        ("plugin.conf", "[INPUT]\n    name tail\n[OUTPUT]\n    name vivo_exporter\n", "tail"),
        ("yaml.yaml", "pipeline:\n  outputs:\n    - name: vivo_exporter\n      match: '*'\n      workers: lots\n", "workers"),
    ] {
        let path = temp_file(name, text);
        let output = run(&["-c", arg(&path)], QUICK);
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{name}: {stderr}");
    }
    let output = run(&["-c", "/nonexistent/vivo.conf"], QUICK);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/vivo.conf"));
}

#[test]
fn help_documents_the_options_and_keys() {
    let output = run(&["--help"], QUICK);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--config",
        "--host",
        "--port",
        "--stream-queue-size",
        "--empty-stream-on-read",
        "--http-cors-allow-origin",
        "--workers",
        "--http-workers",
        "--flush",
        "--log-level",
        "--dry-run",
        "--print-default-config",
        "empty_stream_on_read",
        "stream_queue_size",
        "http_cors_allow_origin",
        "workers",
        "/logs",
        "/metrics",
        "/traces",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}");
    }
}

#[test]
fn dry_run_accepts_classic_and_yaml_and_prints_a_summary() {
    let classic = temp_file(
        "ok.conf",
        "[INPUT]\n    name dummy\n[INPUT]\n    name forward\n    port 0\n[OUTPUT]\n    name vivo_exporter\n    match a\n[OUTPUT]\n    name vivo_exporter\n    match b\n    port 0\n",
    );
    let yaml = temp_file(
        "ok.yaml",
        "service:\n  flush: 1\npipeline:\n  inputs:\n    - name: dummy\n      tag: events\n      rate: 2\n  outputs:\n    - name: vivo_exporter\n      match: '*'\n",
    );
    for (path, inputs, outputs) in [(classic, 2, 2), (yaml, 1, 1)] {
        let output = run(&["--dry-run", "-c", arg(&path)], QUICK);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!(
                "configuration {} is valid: {inputs} input(s), {outputs} output(s)\n",
                path.display()
            )
        );
    }
    // Without -c the summary names the embedded default.
    let output = run(&["--dry-run"], QUICK);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "configuration embedded default configuration is valid: {}\n",
            embedded_counts()
        )
    );
}

#[test]
fn dry_run_refuses_bad_values_with_file_line_and_key() {
    // `.invalid` never resolves (RFC 6761), so the address checks fail wherever DNS points.
    let output_section = "[OUTPUT]\n    name vivo_exporter\n";
    for (name, text, line, key) in [
        (
            "dry-size.conf",
            format!("{output_section}    match *\n    stream_queue_size 20Q\n"),
            4,
            "stream_queue_size",
        ),
        (
            "dry-regex.conf",
            format!("{output_section}    match_regex (\n"),
            3,
            "match_regex",
        ),
        (
            "dry-host.conf",
            format!("{output_section}    match *\n    host notanip.invalid\n"),
            4,
            "host",
        ),
        (
            "dry-listen.conf",
            format!("[INPUT]\n    name forward\n    listen notanip.invalid\n{output_section}    match *\n"),
            3,
            "listen",
        ),
    ] {
        let path = temp_file(name, &text);
        let output = run(&["--dry-run", "-c", arg(&path)], QUICK);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        let located = format!("config error in {} line {line}, key '{key}'", path.display());
        assert!(stderr.contains(&located), "{name}: want {located:?} in {stderr}");
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("is valid"),
            "{name}: a refused file is not reported valid"
        );
    }
}

#[test]
fn dry_run_binds_nothing_and_exits_by_itself() {
    let (forward_port, http_port) = (free_port(), free_port());
    let path = temp_file(
        "dry-bind.conf",
        &format!(
            "[INPUT]\n    name forward\n    listen 127.0.0.1\n    port {forward_port}\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port {http_port}\n"
        ),
    );
    let addrs: Vec<SocketAddr> = [forward_port, http_port]
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
        .to_vec();
    let refuses_all = || {
        for addr in &addrs {
            assert!(
                TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err(),
                "{addr} accepted a connection during or after --dry-run"
            );
        }
    };
    let mut child = binary()
        .args(["--dry-run", "-c", arg(&path)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start vivo-exporter --dry-run");
    let started = Instant::now();
    let status = loop {
        refuses_all();
        if let Some(status) = child.try_wait().expect("wait for --dry-run") {
            break status;
        }
        if started.elapsed() > QUICK {
            let _ = child.kill();
            let _ = child.wait();
            panic!("--dry-run was still running after {QUICK:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "{status:?}");
    refuses_all();
    // Nothing holds the ports either.
    for addr in &addrs {
        TcpListener::bind(addr).unwrap_or_else(|e| panic!("{addr} is held after --dry-run: {e}"));
    }
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut stdout)
        .expect("read stdout");
    assert!(
        stdout.contains("is valid: 1 input(s), 1 output(s)"),
        "{stdout}"
    );
}

#[test]
fn print_default_config_prints_the_embedded_default() {
    let output = run(&["--print-default-config"], QUICK);
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty(), "{:?}", output.stderr);
    let printed = String::from_utf8(output.stdout).expect("UTF-8 output");
    assert_eq!(printed, DEFAULT_CONFIG);
    let parsed = Config::parse(&printed, ConfigFormat::Classic, "printed default")
        .expect("the printed default parses");
    let embedded = Config::embedded_default();
    assert_eq!(parsed.service, embedded.service);
    assert_eq!(parsed.inputs, embedded.inputs);
    assert_eq!(parsed.outputs, embedded.outputs);
    // As a file for -c it is valid too (running it would need its fixed ports).
    let path = temp_file("printed-default.conf", &printed);
    let output = run(&["--dry-run", "-c", arg(&path)], QUICK);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "configuration {} is valid: {}\n",
            path.display(),
            embedded_counts()
        )
    );
}

#[test]
fn flags_override_the_file() {
    let path = temp_file(
        "flags.conf",
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    host 0.0.0.0\n    port 1\n    http_cors_allow_origin http://file.example\n",
    );
    let running = spawn(&[
        "-c",
        arg(&path),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--http-cors-allow-origin",
        "http://ui.example",
    ]);
    assert_eq!(running.http.ip().to_string(), "127.0.0.1");
    assert_ne!(running.http.port(), 1);
    let response = get(running.http, "/logs");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("http://ui.example")
    );
}

#[test]
fn flag_stream_queue_size_overrides_the_file() {
    // 20 records a second, ~1 record (63 bytes) per 0.05 s chunk: a 300-byte budget holds a
    // handful of chunks, the file's 20M would hold them all.
    let path = dummy_file(
        "queue.conf",
        "    flush 1",
        "    rate 20",
        "    stream_queue_size 20M",
    );
    let running = spawn(&[
        "-c",
        arg(&path),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--stream-queue-size",
        "300",
        "-f",
        "0.05",
    ]);
    let mut reads = 0;
    let start = wait_for(PATIENCE, || {
        let response = get(running.http, "/logs");
        assert!(
            response.body.len() <= 300,
            "/logs holds {} bytes, over the 300-byte budget",
            response.body.len()
        );
        reads += 1;
        let start = id(&response, "Vivo-Stream-Start-ID")?;
        (start > 0 && reads >= 5).then_some(start)
    });
    assert!(start > 0);
    let series = "{output=\"vivo_exporter.0\",stream=\"logs\"}";
    let evicted = metric(
        running.http,
        &format!("vivo_stream_evicted_entries_total{series}"),
    );
    assert!(evicted > 0, "no entry evicted");
    let held = metric(running.http, &format!("vivo_stream_bytes{series}"));
    assert!(held <= 300, "the stream holds {held} bytes");
}

#[test]
fn flag_empty_stream_on_read_overrides_the_file() {
    let path = dummy_file(
        "drain.conf",
        "    flush 0.05",
        "    rate 20",
        "    empty_stream_on_read off",
    );
    let running = spawn(&[
        "-c",
        arg(&path),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--empty-stream-on-read",
        "on",
    ]);
    let first = wait_for(PATIENCE, || {
        let response = get(running.http, "/logs");
        id(&response, "Vivo-Stream-End-ID")
            .is_some()
            .then_some(response)
    });
    let first_end = id(&first, "Vivo-Stream-End-ID").expect("served");
    let first_lines = first.lines();
    let second = get(running.http, "/logs");
    if let Some(start) = id(&second, "Vivo-Stream-Start-ID") {
        assert!(
            start > first_end,
            "the second GET starts at {start}, but the first served up to {first_end}"
        );
    }
    for line in second.lines() {
        assert!(!first_lines.contains(&line), "served twice: {line}");
    }
    let deleted = metric(
        running.http,
        "vivo_stream_deleted_entries_total{output=\"vivo_exporter.0\",stream=\"logs\"}",
    );
    assert!(
        deleted > first_end,
        "deleted {deleted} entries, served {first_end}+1"
    );
}

#[test]
fn flag_workers_accepts_1_to_256_and_refuses_0_and_257() {
    let path = dummy_file(
        "workers.conf",
        "    flush 0.05",
        "    rate 20",
        "    workers 4",
    );
    for refused in ["0", "257"] {
        let output = run(&["-c", arg(&path), "-w", refused], QUICK);
        assert_eq!(output.status.code(), Some(2), "-w {refused}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--workers"), "-w {refused}: {stderr}");
    }
    for (flag, workers) in [("-w", 1), ("--workers", 256)] {
        let count = workers.to_string();
        let running = spawn(&[
            "-c",
            arg(&path),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            flag,
            &count,
        ]);
        // It renders and serves.
        wait_for(PATIENCE, || {
            id(&get(running.http, "/logs"), "Vivo-Stream-End-ID")
        });
        #[cfg(target_os = "linux")]
        {
            let pid = running.child.id();
            let threads = wait_for(PATIENCE, || {
                let n = common::binary::threads_named(pid, "render-");
                (n == workers).then_some(n)
            });
            assert_eq!(threads, workers, "render threads with {flag} {workers}");
        }
    }
}

#[test]
fn flag_flush_sets_the_chunk_interval() {
    // The file's flush 0.05 would make 20 chunks a second of one record each.
    let path = dummy_file("flush.conf", "    flush 0.05", "    rate 20", "");
    let args = |flush: &'static str| {
        [
            "-c".to_string(),
            arg(&path).to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            "0".into(),
            "-f".into(),
            flush.into(),
        ]
    };
    let fast_args = args("0.2");
    let slow_args = args("1");
    let fast = spawn(&fast_args.iter().map(String::as_str).collect::<Vec<_>>());
    let slow = spawn(&slow_args.iter().map(String::as_str).collect::<Vec<_>>());
    for running in [&fast, &slow] {
        wait_for(PATIENCE, || (next_id(running.http) >= 1).then_some(()));
    }
    let started = Instant::now();
    let before = [next_id(fast.http), next_id(slow.http)];
    std::thread::sleep(Duration::from_millis(2500));
    let after = [next_id(fast.http), next_id(slow.http)];
    let seconds = started.elapsed().as_secs_f64();
    for (i, (running, flush)) in [(&fast, 0.2), (&slow, 1.0)].into_iter().enumerate() {
        let entries = after[i] - before[i];
        let per_second = entries as f64 / seconds;
        let expected = 1.0 / flush;
        assert!(
            (0.4 * expected..=1.5 * expected).contains(&per_second),
            "-f {flush}: {entries} chunks in {seconds:.2} s, expected ~{expected}/s"
        );
        let lines = get(
            running.http,
            &format!("/logs?from={}&to={}", before[i], after[i] - 1),
        )
        .lines();
        let per_entry = lines.len() as f64 / entries as f64;
        let expected = 20.0 * flush;
        assert!(
            (0.5 * expected..=1.5 * expected).contains(&per_entry),
            "-f {flush}: {per_entry:.1} records per chunk, expected ~{expected}"
        );
    }
}

#[test]
fn flag_log_level_error_hides_info_and_debug_lines() {
    let port = free_port();
    let path = dummy_file(
        "quiet.conf",
        "    flush 0.05\n    log_level debug",
        "    rate 20",
        "",
    );
    let port_text = port.to_string();
    let http = SocketAddr::from(([127, 0, 0, 1], port));
    let mut running = spawn_unlogged(
        &[
            "-c",
            arg(&path),
            "--host",
            "127.0.0.1",
            "--port",
            &port_text,
            "--log-level",
            "error",
        ],
        http,
    );
    // Published twice: at the file's debug level that would have logged "published IDs".
    wait_for(PATIENCE, || (next_id(http) >= 2).then_some(()));
    running.signal("TERM");
    assert!(running.wait_exit(PATIENCE).success());
    let log = running.log_text();
    for hidden in [
        "[ info]",
        "[debug]",
        "listening",
        "starting with",
        "published IDs",
    ] {
        assert!(!log.contains(hidden), "{hidden:?} in the log:\n{log}");
    }
}

#[test]
fn flag_log_level_debug_shows_debug_lines() {
    let path = dummy_file(
        "loud.conf",
        "    flush 0.05\n    log_level error",
        "    rate 20",
        "",
    );
    let running = spawn(&[
        "-c",
        arg(&path),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--log-level",
        "debug",
    ]);
    let log = running.wait_log("/logs: published IDs");
    let line = log
        .lines()
        .find(|l| l.contains("published IDs"))
        .expect("the line waited for");
    assert!(line.contains("] [debug] [output:vivo_exporter"), "{line}");
    assert!(log.contains("[ info] [engine] vivo-exporter"), "{log}");
}

#[test]
fn flag_http_workers_sets_the_http_threads() {
    let path = temp_file(
        "http-workers.conf",
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    http_workers 5\n",
    );
    let default = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (flag, threads) in [("3", 3), ("0", default)] {
        let running = spawn(&[
            "-c",
            arg(&path),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--http-workers",
            flag,
        ]);
        let response = get(running.http, "/");
        assert_eq!(response.status, 200, "--http-workers {flag}");
        assert_eq!(response.text(), "Fluent Bit Vivo Exporter\n");
        #[cfg(target_os = "linux")]
        {
            // actix names its worker threads "actix-server worker N" (cut to 15 bytes).
            let pid = running.child.id();
            let counted = wait_for(PATIENCE, || {
                let n = common::binary::threads_named(pid, "actix-server w");
                (n == threads).then_some(n)
            });
            assert_eq!(counted, threads, "--http-workers {flag}");
        }
        #[cfg(not(target_os = "linux"))]
        let _ = threads;
    }
}

/// Waits until nothing holds TCP `port` on 0.0.0.0 (probing by binding it), at most
/// `timeout`; fails saying what holds the test up.
fn wait_until_free(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpListener::bind(("0.0.0.0", port)) {
            Ok(probe) => return drop(probe),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(err) => panic!(
                "port {port} on 0.0.0.0 stayed busy for {timeout:?} ({err}): another process \
                 (a vivo-exporter, Fluent Bit, Fluentd or an OpenTelemetry Collector?) holds a \
                 port the embedded default configuration listens on; stop it to run this test"
            ),
        }
    }
}

/// The fixed TCP ports the embedded default's inputs listen on (the read API's is overridden).
fn embedded_input_ports() -> Vec<u16> {
    let mut ports = Vec::new();
    for input in Config::embedded_default().inputs {
        match input {
            InputConfig::Forward(forward) => ports.push(forward.port),
            InputConfig::OpenTelemetry(otlp) => {
                ports.push(otlp.port);
                if otlp.grpc {
                    ports.push(otlp.grpc_port);
                }
            }
            InputConfig::Http(http) => ports.push(http.port),
            InputConfig::Dummy(_) => {}
        }
    }
    ports
}

#[test]
fn runs_with_the_embedded_default_configuration() {
    let ports = embedded_input_ports();
    assert!(ports.contains(&24224), "the Forward port: {ports:?}");
    for port in ports {
        wait_until_free(port, Duration::from_secs(10));
    }
    let running = spawn(&["--host", "127.0.0.1", "--port", "0"]);
    let response = get(running.http, "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "Fluent Bit Vivo Exporter\n");
    // The forward input's listening line follows the output's.
    let log = running.wait_log("[input:forward:forward.0] listening on 0.0.0.0:24224");
    assert!(log.contains("embedded default configuration"), "{log}");
    let port = running.http.port();
    assert_ne!(port, 0);
    assert_ne!(
        port, 2025,
        "--port 0 picks a free port instead of the default"
    );
    assert!(
        log.contains(&format!(
            "[output:vivo_exporter:vivo_exporter.0] listening iface=127.0.0.1 tcp_port={port}"
        )),
        "{log}"
    );
    TcpStream::connect(("127.0.0.1", 24224)).expect("the forward input accepts on 24224");
}

#[test]
fn sigterm_stops_the_service_cleanly() {
    let path = dummy_file("term.conf", "    flush 1", "    rate 50", "");
    let mut running = spawn(&["--host", "127.0.0.1", "--port", "0", "-c", arg(&path)]);
    // An idle client connection must not hold the stop up.
    let _idle = TcpStream::connect(running.http).expect("connect to the read API");
    let started = Instant::now();
    running.signal("TERM");
    let status = running.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let log = running.log_text();
    assert!(log.contains("caught signal (SIGTERM)"), "{log}");
}
