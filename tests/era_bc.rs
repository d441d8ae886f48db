//! The era-B/C routes of Fluent Bit 4.2 and later over real sockets: `/api/v1/logs` in spec
//! §7.2's shape with the same IDs as `/logs`, `/api/v1/metrics` and `/api/v1/traces` as in every
//! era, `/api/v1/internal/metrics` as a cmetrics document, and follows in the era-B/C shape.

mod common;

use std::io::Write;
use std::net::SocketAddr;

use common::forward::{ack, arr, config_with, forward_input, map, read_reply, s};
use common::vectors;
use common::{get, http_addr, start};
use serde_json::Value;

fn send(fwd: SocketAddr, message: &[u8], chunk: &str) {
    let mut stream = common::forward::connect(fwd);
    stream.write_all(message).unwrap();
    assert_eq!(read_reply(&mut stream), ack(chunk));
}

/// spec §7.2's example entry: two records tagged `app`.
fn two_records(chunk: &str) -> Vec<u8> {
    let record = |ts: u32, text: &str| {
        arr(&[
            common::forward::event_time(ts, 123_456_789),
            map(&[("log", s(text))]),
        ])
    };
    arr(&[
        s("app"),
        arr(&[record(1_700_000_000, "hello"), record(1_700_000_000, "bye")]),
        map(&[("chunk", s(chunk))]),
    ])
}

#[test]
fn api_v1_logs_are_one_object_per_entry_with_the_ids_of_the_era_a_route() {
    let service = start(&config_with(&[forward_input("")]));
    let (fwd, http) = (service.forward_addrs()[0], http_addr(&service));
    send(fwd, &two_records("a"), "a");
    send(fwd, &two_records("b"), "b");
    let v1 = get(http, "/api/v1/logs");
    assert_eq!(v1.status, 200);
    assert_eq!(v1.header("Content-Type"), Some("application/json"));
    let expected = "{\"source_type\":\"forward\",\"source_name\":\"forward.0\",\"tag\":\"app\",\"records\":\
        [[[1700000000123456789,{}],{\"log\":\"hello\"}],[[1700000000123456789,{}],{\"log\":\"bye\"}]]}";
    assert_eq!(v1.lines(), [expected, expected]);
    for line in v1.lines() {
        serde_json::from_str::<Value>(&line).expect("each object is valid JSON");
    }
    let era_a = get(http, "/logs");
    assert_eq!(era_a.lines().len(), 4, "era A: one line per record");
    for header in [
        "Vivo-Stream-Start-ID",
        "Vivo-Stream-End-ID",
        "Vivo-Stream-Next-ID",
    ] {
        assert_eq!(v1.header(header), era_a.header(header), "{header}");
    }
    let second = get(http, "/api/v1/logs?from=1");
    assert_eq!(second.lines(), [expected]);
    assert_eq!(second.header("Vivo-Stream-Start-ID"), Some("1"));
    // A follow in the same shape.
    let mut follow = std::net::TcpStream::connect(http).unwrap();
    follow
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        follow,
        "GET /api/v1/logs?from=1&to=1&follow=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    std::io::Read::read_to_string(&mut follow, &mut raw).unwrap();
    assert!(raw.contains(expected), "{raw}");
}

#[test]
fn api_v1_metrics_and_traces_are_the_era_a_bytes_and_internal_metrics_is_cmetrics() {
    let service = start(&config_with(&[forward_input("")]));
    let (fwd, http) = (service.forward_addrs()[0], http_addr(&service));
    let _producers: Vec<_> = ["metrics-01", "traces-01"]
        .iter()
        .map(|name| common::forward::send_new(fwd, &vectors::read(name, ".forward.msgpack")))
        .collect();
    for stream in ["metrics", "traces"] {
        common::forward::wait_lines(http, &format!("/{stream}"), 1);
        let era_a = get(http, &format!("/{stream}"));
        let v1 = get(http, &format!("/api/v1/{stream}"));
        assert!(!era_a.body.is_empty(), "{stream}");
        assert_eq!(v1.body, era_a.body, "{stream}");
    }
    let internal = get(http, "/api/v1/internal/metrics");
    assert_eq!(internal.status, 200);
    let doc: Value = serde_json::from_slice(&internal.body).expect("one JSON document");
    let accepted = doc["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|family| family["meta"]["opts"]["name"] == "input_accepted_batches_total")
        .expect("the accepted-batches counter");
    assert_eq!(accepted["meta"]["type"], 0);
    assert_eq!(accepted["values"][0]["labels"][0], "forward.0");
    let total: f64 = accepted["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_f64().unwrap())
        .sum();
    assert_eq!(total, 2.0, "{accepted}");
}

#[test]
fn after_evictions_every_object_still_has_its_envelope() {
    let (service, fwd, http) = common::forward::forward_service("    stream_queue_size 1000");
    for n in 0..30 {
        let chunk = format!("c{n}");
        send(fwd, &two_records(&chunk), &chunk);
    }
    let era_a = get(http, "/logs");
    let oldest: u64 = era_a
        .header("Vivo-Stream-Start-ID")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        oldest > 20,
        "the budget evicted most entries: oldest {oldest}"
    );
    let v1 = get(http, "/api/v1/logs");
    assert_eq!(
        v1.header("Vivo-Stream-Start-ID"),
        era_a.header("Vivo-Stream-Start-ID")
    );
    assert_eq!(
        v1.lines().len() * 2,
        era_a.lines().len(),
        "one object per entry"
    );
    for line in v1.lines() {
        let object: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(object["source_type"], "forward", "{line}");
        assert_eq!(object["source_name"], "forward.0", "{line}");
        assert_eq!(
            object["records"].as_array().map(Vec::len),
            Some(2),
            "{line}"
        );
    }
    service.stop();
}
