//! The seed document's examples, run as written against the real binary: its config blocks
//! verbatim, its curl requests, its headers and line shapes.

mod common;

use common::binary::{spawn, temp_config};
use common::*;
use std::time::Duration;

/// "Configure and start Fluent Bit", verbatim from the seed.
const GETTING_STARTED: &str = include_str!("seed/getting-started.conf");

/// The first configuration block of the seed, verbatim.
const CONFIGURATION_EXAMPLE: &str = include_str!("seed/configuration.conf");

/// Starts the binary on `config` with the read API on an ephemeral loopback port.
fn start_binary(name: &str, config: &str) -> common::binary::Running {
    let path = temp_config(&format!("{name}.conf"), config);
    spawn(&[
        "-c",
        path.to_str().unwrap(),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
    ])
}

/// Checks the seed's line shape: `[[<19-digit ns>,{"_tag":"events"}],{"message":"dummy"}]`;
/// returns the timestamp.
fn seed_line(line: &str) -> u64 {
    let rest = line.strip_prefix("[[").expect("line starts with [[");
    let (ts, rest) = rest.split_once(',').expect("timestamp");
    assert_eq!(ts.len(), 19, "nanosecond timestamp: {line}");
    assert_eq!(
        rest, "{\"_tag\":\"events\"}],{\"message\":\"dummy\"}]",
        "{line}"
    );
    ts.parse().expect("integer timestamp")
}

#[test]
fn getting_started_as_written() {
    let running = start_binary("getting-started", GETTING_STARTED);
    // curl -i http://127.0.0.1:2025/logs  (our port is ephemeral; the request is the same)
    let response = wait_for(Duration::from_secs(15), || {
        let r = get(running.http, "/logs");
        let end: u64 = r.header("Vivo-Stream-End-ID")?.parse().ok()?;
        (end >= 3).then_some(r)
    });
    assert_eq!(response.status, 200);
    assert_eq!(response.reason, "OK");
    assert_eq!(response.header("Content-Type"), Some("application/json"));
    assert_eq!(response.header("Vivo-Stream-Start-ID"), Some("0"));
    let lines = response.lines();
    assert!(
        lines.len() >= 6,
        "rate 2 for 3+ seconds gives 6+ records: {lines:?}"
    );
    let stamps: Vec<u64> = lines.iter().map(|l| seed_line(l)).collect();
    // Rate 2: timestamps only increase, and over the whole window there are about two records
    // per second (counted, so one late tick on a loaded machine does not fail the test).
    assert!(
        stamps.windows(2).all(|pair| pair[0] < pair[1]),
        "timestamps increase: {stamps:?}"
    );
    let span_s = (stamps[stamps.len() - 1] - stamps[0]) as f64 / 1e9;
    let per_second = (stamps.len() - 1) as f64 / span_s;
    assert!(
        (1.2..=3.0).contains(&per_second),
        "rate 2 means about 2 records per second: {per_second:.2} over {span_s:.2} s"
    );

    // curl -i "http://127.0.0.1:2025/logs?from=1&to=3&limit=1"
    let ranged = get(running.http, "/logs?from=1&to=3&limit=1");
    assert_eq!(ranged.status, 200);
    assert_eq!(ranged.header("Vivo-Stream-Start-ID"), Some("1"));
    assert_eq!(ranged.header("Vivo-Stream-End-ID"), Some("1"));
    let first_entry = get(running.http, "/logs?limit=1").lines();
    let chunk_1 = ranged.lines();
    assert!(
        !chunk_1.is_empty() && chunk_1.len() <= 3,
        "one flush of rate 2: {chunk_1:?}"
    );
    // Entry 1 is exactly the records that follow entry 0 in the whole stream.
    let n0 = first_entry.len();
    assert_eq!(chunk_1[..], lines[n0..n0 + chunk_1.len()]);
    for line in &chunk_1 {
        seed_line(line);
    }
}

#[test]
fn configuration_example_as_written() {
    let running = start_binary("configuration", CONFIGURATION_EXAMPLE);
    let response = wait_for(Duration::from_secs(10), || {
        let r = get(running.http, "/logs");
        r.header("Vivo-Stream-End-ID").is_some().then_some(r)
    });
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
    assert_eq!(
        response.header("Access-Control-Allow-Headers"),
        Some("Origin, X-Requested-With, Content-Type, Accept")
    );
    assert!(response
        .header("Access-Control-Expose-Headers")
        .unwrap()
        .contains("vivo-stream-end-id"));
    for line in response.lines() {
        seed_line(&line);
    }
    // empty_stream_on_read off: a second read still sees entry 0.
    let again = get(running.http, "/logs");
    assert_eq!(again.header("Vivo-Stream-Start-ID"), Some("0"));
}
