//! The command line: config errors exit non-zero naming file, line and key; --help documents
//! the keys; --dry-run validates; the embedded default configuration runs with no file.

mod common;

use common::binary::{binary, spawn, temp_config as temp_file};
use common::*;

#[test]
fn a_bad_config_is_refused_with_file_line_and_key() {
    let path = temp_file(
        "bad.conf",
        "[INPUT]\n    name dummy\n\n[OUTPUT]\n    name vivo_exporter\n    match *\n    stream_queue_size 20Q\n",
    );
    let output = binary()
        .args(["-c", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
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
        let output = binary().args(["-c", path.to_str().unwrap()]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{name}: {stderr}");
    }
    let output = binary()
        .args(["-c", "/nonexistent/vivo.conf"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/vivo.conf"));
}

#[test]
fn help_documents_the_options_and_keys() {
    let output = binary().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--config",
        "--port",
        "--stream-queue-size",
        "--empty-stream-on-read",
        "--http-cors-allow-origin",
        "--workers",
        "--flush",
        "--log-level",
        "--dry-run",
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
fn dry_run_accepts_classic_and_yaml() {
    let classic = temp_file(
        "ok.conf",
        "[INPUT]\n    name dummy\n[OUTPUT]\n    name vivo_exporter\n    match *\n",
    );
    let yaml = temp_file(
        "ok.yaml",
        "service:\n  flush: 1\npipeline:\n  inputs:\n    - name: dummy\n      tag: events\n      rate: 2\n  outputs:\n    - name: vivo_exporter\n      match: '*'\n",
    );
    for path in [classic, yaml] {
        let output = binary()
            .args(["--dry-run", "-c", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn flags_override_the_file() {
    let path = temp_file(
        "flags.conf",
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    port 1\n",
    );
    let running = spawn(&[
        "-c",
        path.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--http-cors-allow-origin",
        "http://ui.example",
    ]);
    let response = get(running.http, "/logs");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("http://ui.example")
    );
}

#[test]
fn runs_with_the_embedded_default_configuration() {
    let running = spawn(&["--host", "127.0.0.1", "--port", "0"]);
    let response = get(running.http, "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "Fluent Bit Vivo Exporter\n");
    let log = running.log.lock().unwrap().join("\n");
    assert!(log.contains("embedded default configuration"), "{log}");
}

#[test]
fn sigterm_stops_the_service_cleanly() {
    let mut running = spawn(&[
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "-c",
        &temp_file(
            "term.conf",
            "[INPUT]\n    name dummy\n    rate 50\n[OUTPUT]\n    name vivo_exporter\n    match *\n",
        )
        .to_string_lossy(),
    ]);
    // An idle client connection must not hold the stop up.
    let _idle = std::net::TcpStream::connect(running.http).unwrap();
    let pid = running.child.id().to_string();
    let started = std::time::Instant::now();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = wait_for(std::time::Duration::from_secs(15), || {
        running.child.try_wait().unwrap()
    });
    assert!(status.success(), "exit status {status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let log = running.log.lock().unwrap().join("\n");
    assert!(log.contains("caught signal (SIGTERM)"), "{log}");
}
