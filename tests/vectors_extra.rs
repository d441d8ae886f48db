//! Our own Forward vectors for what the Fluent Bit capture lacks (`tests/vectors/extra/`): an
//! exponential histogram (cmetrics v5 shape), float-second timestamps, Message mode with
//! integer time, metadata and an ack. Each is sent over a real socket to the running service
//! and must come back from its stream byte for byte as the hand-written expected file says.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

const EXTRA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/extra");

fn file(name: &str, suffix: &str) -> Vec<u8> {
    std::fs::read(Path::new(EXTRA).join(format!("{name}{suffix}"))).expect("vector file")
}

/// Sends one vector on a fresh connection; returns the ack bytes if `ack_len` > 0.
fn send(addr: std::net::SocketAddr, name: &str, ack_len: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&file(name, ".forward.msgpack")).unwrap();
    let mut ack = vec![0u8; ack_len];
    stream.read_exact(&mut ack).expect("ack");
    ack
}

#[test]
fn extra_vectors_round_trip_exactly() {
    let service = start(&format!(
        "[INPUT]\n    name forward\n    listen 127.0.0.1\n    port 0\n{}",
        output_only("")
    ));
    let forward = service.forward_addrs()[0];
    let http = http_addr(&service);
    for (name, path) in [
        ("metrics-exphist", "/metrics"),
        ("logs-float-time", "/logs?from=0&to=0&limit=1"),
    ] {
        send(forward, name, 0);
        let expected = String::from_utf8(file(name, ".expected.ndjson")).unwrap();
        let body = wait_for(Duration::from_secs(10), || {
            let r = get(http, path);
            (!r.body.is_empty()).then(|| r.text())
        });
        assert_eq!(body, expected, "{name}");
        for line in body.lines() {
            serde_json::from_str::<serde_json::Value>(line).expect("valid JSON");
        }
    }
    // Message mode with `chunk`: the ack comes once the entry is stored, so no polling.
    let ack = send(forward, "logs-message-int", 12);
    assert_eq!(
        ack,
        [&[0x81, 0xa3][..], b"ack", &[0xa6], b"c0ffee"].concat()
    );
    let response = get(http, "/logs?from=1");
    assert_eq!(response.header("Vivo-Stream-Start-ID"), Some("1"));
    assert_eq!(
        response.text(),
        String::from_utf8(file("logs-message-int", ".expected.ndjson")).unwrap()
    );
    service.stop();
}
