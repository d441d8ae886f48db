//! The `dummy` input's keys, on the in-process service with its read API on an ephemeral
//! loopback port: `samples` (exactly that many events, then none), `copies` (records per
//! event), `interval_sec`/`interval_nsec` (overriding `rate`), `start_time_sec`/
//! `start_time_nsec` (where the timestamps start; as in Fluent Bit they then advance with the
//! clock unless `fixed_timestamp` is on), `fixed_timestamp` (one timestamp for all),
//! `flush_on_startup` (the first chunk before the first flush interval), and the grouping of
//! one flush interval's events into one stream entry. Rates are counted over windows of
//! seconds with wide margins, so a loaded machine slows them without failing them.

mod common;

use common::binary::{metric, next_id};
use common::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vivo_exporter::service::Service;

/// How long any wait for the service to do something may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

const NS: i64 = 1_000_000_000;

/// A service with `[SERVICE] flush` and one dummy input configured with `dummy` lines.
fn service(flush: &str, dummy: &str) -> Service {
    start(&format!(
        "[SERVICE]\n    flush {flush}\n    log_level warn\n[INPUT]\n    name dummy\n{dummy}\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n"
    ))
}

/// Every line `/logs` holds.
fn lines(http: SocketAddr) -> Vec<String> {
    let response = get(http, "/logs");
    assert_eq!(response.status, 200);
    response.lines()
}

/// The lines of entry `id` alone.
fn entry(http: SocketAddr, id: u64) -> Vec<String> {
    let response = get(http, &format!("/logs?from={id}&to={id}"));
    assert_eq!(
        response.header("Vivo-Stream-Start-ID"),
        Some(&*id.to_string())
    );
    response.lines()
}

/// Waits until `/logs` holds at least `n` lines; returns them.
fn wait_lines(http: SocketAddr, n: usize) -> Vec<String> {
    wait_for(PATIENCE, || {
        let now = lines(http);
        (now.len() >= n).then_some(now)
    })
}

/// The event time (ns) of a `/logs` line: `[[<time>,{"_tag":…}],<record>]`.
fn stamp(line: &str) -> i64 {
    line.strip_prefix("[[")
        .and_then(|rest| rest.split_once(','))
        .and_then(|(ts, _)| ts.parse().ok())
        .unwrap_or_else(|| panic!("no timestamp in {line}"))
}

/// The median gap (ns) between consecutive distinct timestamps.
fn median_gap(stamps: &[i64]) -> i64 {
    let mut distinct = stamps.to_vec();
    distinct.dedup();
    let mut gaps: Vec<i64> = distinct.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(!gaps.is_empty(), "need two distinct timestamps: {stamps:?}");
    gaps.sort_unstable();
    gaps[gaps.len() / 2]
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos() as i64
}

/// Watches `/logs` for `window` and checks it keeps exactly `lines` lines.
fn stays_at(http: SocketAddr, lines_held: usize, window: Duration) {
    let until = Instant::now() + window;
    while Instant::now() < until {
        assert_eq!(lines(http).len(), lines_held, "more records arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn samples_generates_exactly_that_many_events() {
    let service = service("0.05", "    rate 20\n    samples 5");
    let http = http_addr(&service);
    let got = wait_lines(http, 5);
    assert_eq!(got.len(), 5, "{got:#?}");
    // 20 generation periods more: without `samples` they would bring ~20 records.
    stays_at(http, 5, Duration::from_secs(1));
    assert_eq!(
        metric(http, "vivo_input_accepted_records_total{input=\"dummy.0\"}"),
        5
    );
}

#[test]
fn copies_makes_each_event_that_many_records() {
    let service = service("0.05", "    rate 20\n    samples 4\n    copies 3");
    let http = http_addr(&service);
    let got = wait_lines(http, 12);
    stays_at(http, 12, Duration::from_millis(500));
    let stamps: Vec<i64> = got.iter().map(|l| stamp(l)).collect();
    let mut distinct = stamps.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "4 events: {stamps:?}");
    for ts in &distinct {
        assert_eq!(
            stamps.iter().filter(|s| *s == ts).count(),
            3,
            "3 copies of the event at {ts}: {stamps:?}"
        );
    }
    // An event's copies are never split across entries.
    for id in 0..next_id(http) {
        let records = entry(http, id).len();
        assert_eq!(records % 3, 0, "entry {id} holds {records} records");
    }
}

#[test]
fn interval_sec_and_interval_nsec_override_the_rate() {
    let slow = service("0.05", "    rate 20\n    interval_sec 1");
    let fast = service("0.05", "    rate 1\n    interval_nsec 100000000");
    let (slow_http, fast_http) = (http_addr(&slow), http_addr(&fast));
    wait_lines(slow_http, 1);
    wait_lines(fast_http, 1);
    let started = Instant::now();
    let before = [lines(slow_http).len(), lines(fast_http).len()];
    std::thread::sleep(Duration::from_secs(3));
    let after = [lines(slow_http), lines(fast_http)];
    let seconds = started.elapsed().as_secs_f64();
    for (i, (what, per_second, gap_ns)) in [
        ("interval_sec 1", 1.0, NS),
        ("interval_nsec 1e8", 10.0, NS / 10),
    ]
    .into_iter()
    .enumerate()
    {
        let counted = (after[i].len() - before[i]) as f64 / seconds;
        assert!(
            (0.3 * per_second..=1.6 * per_second).contains(&counted),
            "{what}: {counted:.2} records/s, expected ~{per_second}"
        );
        let stamps: Vec<i64> = after[i].iter().map(|l| stamp(l)).collect();
        let gap = median_gap(&stamps);
        assert!(
            (gap_ns / 2..=gap_ns * 3).contains(&gap),
            "{what}: median gap {gap} ns, expected ~{gap_ns}"
        );
    }
}

#[test]
fn start_time_is_where_the_timestamps_start_and_they_advance_with_the_clock() {
    // Fluent Bit's dummy: start time + the time elapsed since the input started.
    let start = 1_700_000_000 * NS + 500;
    let service = service(
        "0.05",
        "    rate 10\n    start_time_sec 1700000000\n    start_time_nsec 500",
    );
    let got = wait_lines(http_addr(&service), 10);
    let stamps: Vec<i64> = got.iter().map(|l| stamp(l)).collect();
    assert!(
        (start..start + 10 * NS).contains(&stamps[0]),
        "the first timestamp {} is not just after the start time {start}",
        stamps[0]
    );
    for pair in stamps.windows(2) {
        assert!(pair[1] > pair[0], "timestamps do not advance: {stamps:?}");
    }
    let gap = median_gap(&stamps);
    assert!(
        (NS / 20..=NS / 3).contains(&gap),
        "rate 10: median gap {gap} ns, expected ~{}",
        NS / 10
    );
    assert!(
        *stamps.last().expect("lines") < start + 60 * NS,
        "timestamps follow the start time, not the wall clock: {stamps:?}"
    );
}

#[test]
fn start_time_with_fixed_timestamp_stamps_every_record_with_it() {
    let service = service(
        "0.05",
        "    rate 20\n    start_time_sec 1700000000\n    start_time_nsec 123456789\n    fixed_timestamp on",
    );
    let got = wait_lines(http_addr(&service), 10);
    for line in &got {
        assert_eq!(stamp(line), 1_700_000_000_123_456_789, "{line}");
    }
}

#[test]
fn fixed_timestamp_gives_every_record_the_first_events_time() {
    let before = now_ns();
    let service = service("0.05", "    rate 20\n    fixed_timestamp on");
    let http = http_addr(&service);
    let got = wait_for(PATIENCE, || {
        let got = lines(http);
        (got.len() >= 10 && next_id(http) >= 3).then_some(got)
    });
    let first = stamp(&got[0]);
    assert!(
        (before - 60 * NS..before + 60 * NS).contains(&first),
        "the fixed time {first} is the start time, about {before}"
    );
    for line in &got {
        assert_eq!(stamp(line), first, "{line}");
    }
}

#[test]
fn flush_on_startup_publishes_before_the_first_flush_interval() {
    // Flush every 5 s: a chunk within the first 3 s can only be the start-up flush. Several
    // services of each kind, since the start-up flush must not depend on luck.
    let window = Duration::from_secs(3);
    let services: Vec<(bool, Instant, Service)> = [true, true, true, true, false, false]
        .into_iter()
        .map(|on| {
            let started = Instant::now();
            let flag = if on { "on" } else { "off" };
            (
                on,
                started,
                service("5", &format!("    rate 1\n    flush_on_startup {flag}")),
            )
        })
        .collect();
    let mut published = vec![false; services.len()];
    let mut reads = vec![0; services.len()];
    while services
        .iter()
        .any(|(_, started, _)| started.elapsed() < window)
    {
        for (i, (_, started, service)) in services.iter().enumerate() {
            let next = next_id(http_addr(service));
            // Only a read that ended inside the window says what the window held.
            if started.elapsed() < window {
                reads[i] += 1;
                published[i] |= next > 0;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (i, (on, _, _)) in services.iter().enumerate() {
        assert!(reads[i] > 0, "service {i} was not read within {window:?}");
        assert_eq!(
            published[i],
            *on,
            "service {i} with flush_on_startup {}: published within {window:?}: {}",
            if *on { "on" } else { "off" },
            published[i]
        );
    }
}

#[test]
fn each_flush_interval_becomes_one_entry() {
    let service = service("0.5", "    rate 10");
    let http = http_addr(&service);
    wait_for(PATIENCE, || (next_id(http) >= 1).then_some(()));
    let started = Instant::now();
    let first = next_id(http);
    std::thread::sleep(Duration::from_secs(3));
    let last = next_id(http);
    let seconds = started.elapsed().as_secs_f64();
    let entries = last - first;
    let per_second = entries as f64 / seconds;
    assert!(
        (1.0..=2.6).contains(&per_second),
        "{entries} entries in {seconds:.2} s, expected ~2 a second (flush 0.5)"
    );
    let mut records = 0;
    let mut previous_last = i64::MIN;
    for id in first..last {
        let stamps: Vec<i64> = entry(http, id).iter().map(|l| stamp(l)).collect();
        assert!(
            (2..=8).contains(&stamps.len()),
            "entry {id} holds {} records, expected ~5 (rate 10 x flush 0.5)",
            stamps.len()
        );
        // One interval's events, in order, all after the previous entry's.
        assert!(
            stamps[0] > previous_last,
            "entry {id} overlaps the one before"
        );
        for pair in stamps.windows(2) {
            assert!(pair[1] > pair[0], "entry {id}: {stamps:?}");
        }
        previous_last = *stamps.last().expect("records");
        records += stamps.len();
    }
    let records_per_second = records as f64 / seconds;
    assert!(
        (5.0..=13.0).contains(&records_per_second),
        "{records} records in {seconds:.2} s, expected ~10 a second"
    );
}
