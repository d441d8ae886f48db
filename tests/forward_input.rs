//! The Forward input over real sockets: every protocol mode, acks, the 32 Fluent Bit vectors,
//! tag options, ordering, each kind of bad input (and the service serving afterwards), the
//! secure-forward handshake, arbitrary bytes, and a real third-party client (Python's
//! `fluent-logger`).

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::forward::*;
use common::vectors::{our_entry, read as vector_file, vector_names, vectors_dir};
use common::{get, http_addr, python, start, wait_for};

// ---- records and the log lines they must become ----

/// The record every hand-built message carries: `{"msg": msg, "n": n}`.
fn rec(msg: &str, n: u64) -> Vec<u8> {
    map(&[("msg", s(msg)), ("n", uint(n))])
}

/// The era-A line of `rec(msg, n)`: `meta` is the JSON of the metadata after `_tag` (with its
/// leading comma) or empty.
fn line(ns: i64, tag: &str, meta: &str, msg: &str, n: u64) -> String {
    format!("[[{ns},{{\"_tag\":\"{tag}\"{meta}}}],{{\"msg\":\"{msg}\",\"n\":{n}}}]")
}

/// `[time, record]`.
fn entry(time: Vec<u8>, record: Vec<u8>) -> Vec<u8> {
    arr(&[time, record])
}

/// `[[time, metadata], record]`, the v2 event format Fluent Bit sends.
fn entry_v2(time: Vec<u8>, metadata: Vec<u8>, record: Vec<u8>) -> Vec<u8> {
    arr(&[arr(&[time, metadata]), record])
}

const T: u32 = 1_700_000_000;
const T_NS: i64 = 1_700_000_000_000_000_000;

/// A small good message (Message mode, integer time) asking for ack `chunk`.
fn good(tag: &str, n: u64, chunk: &str) -> Vec<u8> {
    arr(&[
        s(tag),
        uint(u64::from(T) + n),
        rec("good", n),
        map(&[("chunk", s(chunk))]),
    ])
}

fn good_line(tag: &str, n: u64) -> String {
    line(T_NS + n as i64 * 1_000_000_000, tag, "", "good", n)
}

/// The body of entry `id` of `stream` (`/logs`, …) as lines.
fn entry_lines(http: SocketAddr, stream: &str, id: u64) -> Vec<String> {
    let response = get(http, &format!("{stream}?from={id}&limit=1"));
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Vivo-Stream-Start-ID"),
        Some(id.to_string().as_str()),
        "{stream} entry {id} exists"
    );
    response.lines()
}

// ---- every mode ----

#[test]
fn message_mode_with_metadata_and_every_time_format() {
    let fx = start_forward("");
    let metadata = map(&[("origin", s("x")), ("level", uint(2))]);
    let message = arr(&[
        s("app.msg"),
        event_time(T, 123_456_789),
        rec("event time", 1),
        map(&[("chunk", s("m1")), ("metadata", metadata)]),
    ]);
    let mut stream = send_new(fx.fwd, &message);
    assert_eq!(read_reply(&mut stream), ack("m1"));
    // The ack comes only once the batch is stored: no waiting needed.
    let first = line(
        T_NS + 123_456_789,
        "app.msg",
        ",\"origin\":\"x\",\"level\":2",
        "event time",
        1,
    );
    assert_eq!(lines(fx.http, "/logs"), std::slice::from_ref(&first));

    // Integer and float seconds, with and without options, on the same connection.
    let int_time = arr(&[
        s("app.msg"),
        uint(u64::from(T) + 1),
        rec("integer", 2),
        map(&[("chunk", s("m2"))]),
    ]);
    let float_time = arr(&[s("app.msg"), f64_(1_700_000_002.25), rec("float", 3)]);
    stream.write_all(&int_time).unwrap();
    assert_eq!(read_reply(&mut stream), ack("m2"));
    stream.write_all(&float_time).unwrap();
    assert_no_ack_before(&mut stream, &good("app.probe", 9, "probe"), "probe");
    let expected = [
        first,
        line(T_NS + 1_000_000_000, "app.msg", "", "integer", 2),
        line(T_NS + 2_250_000_000, "app.msg", "", "float", 3),
        good_line("app.probe", 9),
    ];
    assert_eq!(lines(fx.http, "/logs"), expected);
    // One message, one entry.
    for (id, expected_line) in expected.iter().enumerate() {
        assert_eq!(
            entry_lines(fx.http, "/logs", id as u64),
            std::slice::from_ref(expected_line)
        );
    }
}

#[test]
fn forward_mode_plain_and_v2_entries() {
    let fx = start_forward("");
    let plain = arr(&[
        s("app.fwd"),
        arr(&[
            entry(event_time(T, 5), rec("event time", 1)),
            entry(uint(u64::from(T) + 1), rec("integer", 2)),
            entry(f64_(1_700_000_002.5), rec("float", 3)),
        ]),
        map(&[("chunk", s("f1")), ("size", uint(3))]),
    ]);
    send_acked(fx.fwd, &plain, "f1");
    let v2 = arr(&[
        s("app.v2"),
        arr(&[
            entry_v2(
                event_time(T + 3, 999_999_999),
                map(&[
                    ("origin", s("fb")),
                    ("nested", map(&[("k", arr(&[uint(1)]))])),
                ]),
                rec("v2 with metadata", 4),
            ),
            entry_v2(
                uint(u64::from(T) + 4),
                map(&[]),
                rec("v2 empty metadata", 5),
            ),
        ]),
        map(&[("chunk", s("f2"))]),
    ]);
    send_acked(fx.fwd, &v2, "f2");
    // No options at all: two elements.
    let bare = arr(&[
        s("app.bare"),
        arr(&[entry(uint(u64::from(T)), rec("bare", 6))]),
    ]);
    let mut stream = send_new(fx.fwd, &bare);
    assert_no_ack_before(&mut stream, &good("app.probe", 9, "probe"), "probe");
    assert_eq!(lines(fx.http, "/logs").len(), 7);
    assert_eq!(
        entry_lines(fx.http, "/logs", 0),
        [
            line(T_NS + 5, "app.fwd", "", "event time", 1),
            line(T_NS + 1_000_000_000, "app.fwd", "", "integer", 2),
            line(T_NS + 2_500_000_000, "app.fwd", "", "float", 3),
        ]
    );
    assert_eq!(
        entry_lines(fx.http, "/logs", 1),
        [
            line(
                T_NS + 3_999_999_999,
                "app.v2",
                ",\"origin\":\"fb\",\"nested\":{\"k\":[1]}",
                "v2 with metadata",
                4
            ),
            line(T_NS + 4_000_000_000, "app.v2", "", "v2 empty metadata", 5),
        ]
    );
    assert_eq!(
        entry_lines(fx.http, "/logs", 2),
        [line(T_NS, "app.bare", "", "bare", 6)]
    );
    assert_eq!(
        entry_lines(fx.http, "/logs", 3),
        [good_line("app.probe", 9)]
    );
}

/// Three concatenated entries and their lines.
fn packed_entries(tag: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<String>) {
    let e1 = entry(event_time(T, 1), rec("one", 1));
    let e2 = entry(uint(u64::from(T) + 2), rec("two", 2));
    let e3 = entry_v2(event_time(T + 3, 3), map(&[("m", s("v"))]), rec("three", 3));
    let expected = vec![
        line(T_NS + 1, tag, "", "one", 1),
        line(T_NS + 2_000_000_000, tag, "", "two", 2),
        line(T_NS + 3_000_000_003, tag, ",\"m\":\"v\"", "three", 3),
    ];
    (e1, e2, e3, expected)
}

#[test]
fn packed_forward_with_bin_and_str_payloads() {
    let fx = start_forward("");
    let (e1, e2, e3, expected) = packed_entries("app.packed");
    let payload = [e1, e2, e3].concat();
    let as_bin = arr(&[
        s("app.packed"),
        bin(&payload),
        map(&[("chunk", s("p1")), ("size", uint(3))]),
    ]);
    send_acked(fx.fwd, &as_bin, "p1");
    let mut as_str = Vec::new();
    rmp::encode::write_str_len(&mut as_str, payload.len() as u32).unwrap();
    as_str.extend_from_slice(&payload);
    let as_str = arr(&[s("app.packed"), as_str, map(&[("chunk", s("p2"))])]);
    send_acked(fx.fwd, &as_str, "p2");
    assert_eq!(entry_lines(fx.http, "/logs", 0), expected);
    assert_eq!(entry_lines(fx.http, "/logs", 1), expected);
    assert_eq!(lines(fx.http, "/logs").len(), 6);
}

#[test]
fn compressed_packed_forward_with_one_and_two_gzip_members() {
    let fx = start_forward("");
    let (e1, e2, e3, expected) = packed_entries("app.gz");
    let one_member = arr(&[
        s("app.gz"),
        bin(&gzip(&[e1.clone(), e2.clone(), e3.clone()].concat())),
        map(&[
            ("compressed", s("gzip")),
            ("chunk", s("g1")),
            ("size", uint(3)),
        ]),
    ]);
    send_acked(fx.fwd, &one_member, "g1");
    let two_members = arr(&[
        s("app.gz"),
        bin(&[gzip(&e1), gzip(&[e2, e3].concat())].concat()),
        map(&[
            ("size", uint(3)),
            ("compressed", s("gzip")),
            ("chunk", s("g2")),
        ]),
    ]);
    send_acked(fx.fwd, &two_members, "g2");
    assert_eq!(entry_lines(fx.http, "/logs", 0), expected);
    assert_eq!(entry_lines(fx.http, "/logs", 1), expected);
}

/// `vivo_input_tolerated_total` of `input` for `reason` (from /internal/metrics), 0 if absent.
fn tolerated(http: SocketAddr, input: &str, reason: &str) -> u64 {
    let text = get(http, "/internal/metrics").text();
    let prefix = format!("vivo_input_tolerated_total{{input=\"{input}\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().expect("a counter value"))
}

#[test]
fn size_is_advisory_mismatches_are_stored_acked_and_counted() {
    let fx = start_forward("");
    let t = || uint(u64::from(T));
    // Forward mode declaring 2 entries, holding 1.
    let forward = arr(&[
        s("app"),
        arr(&[entry(t(), rec("forward", 0))]),
        map(&[("size", uint(2)), ("chunk", s("c1"))]),
    ]);
    // CompressedPackedForward declaring 5, holding 1 (checked after decompression).
    let packed = arr(&[
        s("app"),
        bin(&gzip(&entry(t(), rec("gzip", 1)))),
        map(&[
            ("compressed", s("gzip")),
            ("size", uint(5)),
            ("chunk", s("c2")),
        ]),
    ]);
    // PackedForward declaring the payload's byte length, as npm fluent-logger 3.x does.
    let payload = [entry(t(), rec("bytes", 2)), entry(t(), rec("bytes", 3))].concat();
    let bytes = arr(&[
        s("app"),
        bin(&payload),
        map(&[
            ("chunk", s("c3")),
            ("size", uint(payload.len() as u64)),
            ("compressed", s("text")),
        ]),
    ]);
    // A correct size is not counted.
    let exact = arr(&[
        s("app"),
        arr(&[entry(t(), rec("exact", 4))]),
        map(&[("size", uint(1)), ("chunk", s("c4"))]),
    ]);
    let mut stream = connect(fx.fwd);
    for (message, chunk) in [
        (&forward, "c1"),
        (&packed, "c2"),
        (&bytes, "c3"),
        (&exact, "c4"),
    ] {
        stream.write_all(message).unwrap();
        assert_eq!(read_reply(&mut stream), ack(chunk));
    }
    let at = |msg: &str, n: u64| line(T_NS, "app", "", msg, n);
    assert_eq!(
        lines(fx.http, "/logs"),
        [
            at("forward", 0),
            at("gzip", 1),
            at("bytes", 2),
            at("bytes", 3),
            at("exact", 4)
        ]
    );
    assert_eq!(tolerated(fx.http, "forward.0", "size_mismatch"), 3);
    assert_eq!(rejected_total(fx.http, "forward.0"), 0);
}

#[test]
fn logs_13_from_fluent_bit_gzip_with_a_miscounted_size_is_acked_and_served() {
    let fx = start_forward("");
    let meta: serde_json::Value =
        serde_json::from_slice(&vector_file("logs-13", ".meta.json")).unwrap();
    let chunk = meta["options"]["chunk"].as_str().expect("a chunk");
    send_acked(fx.fwd, &vector_file("logs-13", ".forward.msgpack"), chunk);
    let response = get(fx.http, "/logs");
    assert_eq!(response.body, vector_file("logs-13", ".expected.ndjson"));
    assert_eq!(
        response.header("Vivo-Stream-End-ID"),
        Some("0"),
        "one entry"
    );
    assert_eq!(tolerated(fx.http, "forward.0", "size_mismatch"), 1);
}

#[test]
fn fluent_bit_4_1_stream_with_swallowed_messages_yields_all_7_records() {
    let fx = start_forward("");
    let dir = vectors_dir().join("streams");
    let stream = std::fs::read(dir.join("fb412-otlp-forward.msgpack")).unwrap();
    let expected =
        String::from_utf8(std::fs::read(dir.join("fb412-otlp-forward.expected.ndjson")).unwrap())
            .unwrap();
    // As Fluent Bit sends it: one connection, no acks asked.
    let _connection = send_new(fx.fwd, &stream);
    let all = wait_lines(fx.http, "/logs", 7);
    assert_eq!(all.join("\n") + "\n", expected);
    // Each message, outer and swallowed, is its own entry, in the order they appear.
    let per_entry: Vec<usize> = (0..5)
        .map(|id| entry_lines(fx.http, "/logs", id).len())
        .collect();
    assert_eq!(per_entry, [1, 1, 2, 2, 1]);
    assert_eq!(tolerated(fx.http, "forward.0", "embedded_message"), 2);
    assert_eq!(rejected_total(fx.http, "forward.0"), 0);
}

#[test]
fn swallowed_messages_get_their_own_acks_and_the_outer_keeps_its_entries() {
    let fx = start_forward("");
    let t = |n: u64| uint(u64::from(T) + n);
    // The outer array declares 3 entries: one record, then a swallowed message asking for its
    // own ack, then another record. The outer's options (and ack) follow.
    let inner = arr(&[
        s("inner"),
        bin(&[entry(t(1), rec("inner", 1)), entry(t(2), rec("inner", 2))].concat()),
        map(&[("chunk", s("inner-ack"))]),
    ]);
    let outer = arr(&[
        s("outer"),
        arr(&[
            entry(t(0), rec("outer", 0)),
            inner,
            entry(t(3), rec("outer", 3)),
        ]),
        map(&[("chunk", s("outer-ack"))]),
    ]);
    let mut stream = send_new(fx.fwd, &outer);
    assert_eq!(
        read_replies(&mut stream, 2),
        [ack("outer-ack"), ack("inner-ack")]
    );
    let at = |tag: &str, n: u64| line(T_NS + n as i64 * 1_000_000_000, tag, "", tag, n);
    assert_eq!(
        entry_lines(fx.http, "/logs", 0),
        [at("outer", 0), at("outer", 3)]
    );
    assert_eq!(
        entry_lines(fx.http, "/logs", 1),
        [at("inner", 1), at("inner", 2)]
    );
    // The connection is still in sync.
    stream.write_all(&good("app", 9, "after")).unwrap();
    assert_eq!(read_reply(&mut stream), ack("after"));
}

#[test]
fn ack_bytes_echo_the_chunk_exactly() {
    let fx = start_forward("");
    // A 32-hex-character chunk as Fluent Bit sends it (str 8 would be needed past 31 bytes).
    let chunk = "0123456789abcdef0123456789abcdef";
    let mut stream = send_new(fx.fwd, &good("app", 0, chunk));
    let reply = read_reply(&mut stream);
    let mut expected = vec![0x81, 0xa3, b'a', b'c', b'k', 0xd9, 32];
    expected.extend_from_slice(chunk.as_bytes());
    assert_eq!(reply, expected);
    assert_eq!(lines(fx.http, "/logs"), [good_line("app", 0)]);
}

// ---- the 32 Fluent Bit vectors over the socket ----

#[test]
fn all_32_vectors_over_real_sockets() {
    let fx = start_forward("");
    let names = vector_names();
    assert_eq!(names.len(), 32);
    let mut next_id = std::collections::HashMap::new();
    for name in &names {
        let bytes = vector_file(name, ".forward.msgpack");
        let meta: serde_json::Value =
            serde_json::from_slice(&vector_file(name, ".meta.json")).unwrap();
        let signal = meta["signal"].as_str().unwrap().to_string();
        let path = format!("/{signal}");
        let id: &mut u64 = next_id.entry(signal).or_default();
        let mut stream = send_new(fx.fwd, &bytes);
        match meta["options"]["chunk"].as_str() {
            Some(chunk) => assert_eq!(read_reply(&mut stream), ack(chunk), "{name}: ack"),
            None => wait_for(TIMEOUT, || {
                let response = get(fx.http, &format!("{path}?from={id}&limit=1"));
                response.header("Vivo-Stream-Start-ID").map(|_| ())
            }),
        }
        let response = get(fx.http, &format!("{path}?from={id}&limit=1"));
        assert_eq!(
            response.header("Vivo-Stream-Start-ID"),
            Some(id.to_string().as_str()),
            "{name}: stored as entry {id} of {path}"
        );
        let ours = response.text();
        for l in ours.lines() {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("{name}: invalid JSON ({e}): {l}"));
        }
        assert_eq!(ours, our_entry(name), "{name}: the entry served over HTTP");
        *id += 1;
    }
    assert_eq!(next_id.get("logs"), Some(&13));
    assert_eq!(next_id.get("metrics"), Some(&10));
    assert_eq!(next_id.get("traces"), Some(&9));
}

// ---- tags, streams, order ----

#[test]
fn tag_and_tag_prefix_override_the_message_tag() {
    let service = start(&config_with(&[
        forward_input("    tag fixed.tag"),
        forward_input("    tag_prefix pre."),
    ]));
    let addrs = service.forward_addrs();
    assert_eq!(addrs.len(), 2, "one address per forward input, in order");
    let http = http_addr(&service);
    send_acked(addrs[0], &good("orig", 0, "a"), "a");
    send_acked(addrs[1], &good("orig", 1, "b"), "b");
    assert_eq!(
        lines(http, "/logs"),
        [good_line("fixed.tag", 0), good_line("pre.orig", 1)]
    );
}

#[test]
fn output_match_applies_to_the_tag() {
    let config = format!(
        "[SERVICE]\n    log_level warn\n\n{}\n[OUTPUT]\n    name vivo_exporter\n    match keep.*\n    host 127.0.0.1\n    port 0\n",
        forward_input("")
    );
    let service = start(&config);
    let fwd = service.forward_addrs()[0];
    let http = http_addr(&service);
    // A message no output takes is still acknowledged (it was handled), but not stored.
    send_acked(fwd, &good("drop.me", 0, "d"), "d");
    send_acked(fwd, &good("keep.me", 1, "k"), "k");
    assert_eq!(lines(http, "/logs"), [good_line("keep.me", 1)]);
}

#[test]
fn one_connection_keeps_order_and_routes_signals() {
    let fx = start_forward("");
    let mut all = Vec::new();
    for n in 0..100u64 {
        let message = arr(&[s("app.order"), uint(u64::from(T) + n), rec("good", n)]);
        all.extend_from_slice(&message);
        if n == 40 {
            all.extend_from_slice(&vector_file("metrics-01", ".forward.msgpack"));
        }
        if n == 60 {
            all.extend_from_slice(&vector_file("traces-01", ".forward.msgpack"));
        }
    }
    all.extend_from_slice(&good("app.order", 100, "last"));
    let mut stream = send_new(fx.fwd, &all);
    assert_eq!(read_reply(&mut stream), ack("last"));
    let expected: Vec<String> = (0..=100).map(|n| good_line("app.order", n)).collect();
    assert_eq!(lines(fx.http, "/logs"), expected);
    for id in [0u64, 1, 41, 99, 100] {
        assert_eq!(
            entry_lines(fx.http, "/logs", id),
            [expected[id as usize].clone()]
        );
    }
    let logs = get(fx.http, "/logs");
    assert_eq!(logs.header("Vivo-Stream-End-ID"), Some("100"));
    assert_eq!(
        get(fx.http, "/metrics").body,
        vector_file("metrics-01", ".expected.ndjson")
    );
    assert_eq!(
        get(fx.http, "/traces").body,
        vector_file("traces-01", ".expected.ndjson")
    );
}

#[cfg(unix)]
#[test]
fn unix_socket_input() {
    use std::io::Read;
    use std::os::unix::net::UnixStream;
    let path = std::env::temp_dir().join(format!("vivo-forward-test-{}.sock", std::process::id()));
    let fx = start_forward(&format!("    unix_path {}", path.display()));
    let mut stream = UnixStream::connect(&path).expect("connect to the unix socket");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.write_all(&good("app.unix", 0, "u")).unwrap();
    let mut reply = vec![0u8; ack("u").len()];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(reply, ack("u"));
    assert_eq!(lines(fx.http, "/logs"), [good_line("app.unix", 0)]);
    // TCP still works alongside.
    send_acked(fx.fwd, &good("app.tcp", 1, "t"), "t");
    assert_eq!(wait_lines(fx.http, "/logs", 2)[1], good_line("app.tcp", 1));
    drop(fx);
    let _ = std::fs::remove_file(&path);
}

// ---- bad input: each is refused, and the service keeps serving ----

/// Proves the service still serves after a bad input: an idle connection opened before it and
/// a new connection each store an acknowledged message, the earlier entries (`before`) are
/// still there, and nothing reached /metrics or /traces.
fn assert_still_serving(fx: &Fixture, idle: &mut std::net::TcpStream, before: &[String]) {
    idle.write_all(&good("app.after", 900, "idle")).unwrap();
    assert_eq!(read_reply(idle), ack("idle"));
    send_acked(fx.fwd, &good("app.after", 901, "new"), "new");
    let mut expected: Vec<String> = before.to_vec();
    expected.push(good_line("app.after", 900));
    expected.push(good_line("app.after", 901));
    // The message sent right after a refused one on a connection the server then closed was
    // never acknowledged, so it may have been stored at any moment since: leave it out.
    let unsettled = good_line("app.next", 2);
    let settled = |mut l: Vec<String>| {
        l.retain(|line| *line != unsettled);
        l
    };
    assert_eq!(settled(lines(fx.http, "/logs")), settled(expected));
    assert!(lines(fx.http, "/metrics").is_empty());
    assert!(lines(fx.http, "/traces").is_empty());
    assert_eq!(get(fx.http, "/").status, 200);
}

/// A well-framed message that must be refused: after a good message on the same connection,
/// `bad` is neither acknowledged nor stored (the server may close the connection or skip it),
/// the refusal is counted, and the service keeps serving.
fn bad_message_is_refused(bad: &[u8], reason: &str) {
    let fx = start_forward("");
    let mut idle = connect(fx.fwd);
    let mut stream = send_new(fx.fwd, &good("app.before", 1, "before"));
    assert_eq!(read_reply(&mut stream), ack("before"));
    let before = vec![good_line("app.before", 1)];
    let rejected = rejections(fx.http, "forward.0");
    let next = good("app.next", 2, "next");
    let refusal = refuse(&mut stream, bad, &next, "next");
    wait_rejected(fx.http, "forward.0", &rejected, reason);
    let mut now = lines(fx.http, "/logs");
    match refusal {
        // The next message was acknowledged, so it (and the bad one's fate) is settled.
        Refusal::SkippedInSync => assert_eq!(now, [before[0].clone(), good_line("app.next", 2)]),
        // Closed: the next message was never acknowledged; it may or may not have been stored.
        Refusal::Closed => {
            if now.len() == 2 {
                assert_eq!(now.pop(), Some(good_line("app.next", 2)));
            }
            assert_eq!(now, before);
        }
    }
    let now = lines(fx.http, "/logs");
    assert_still_serving(&fx, &mut idle, &now);
}

#[test]
fn wrong_shapes_are_refused() {
    // The tag is not a string.
    bad_message_is_refused(&arr(&[uint(1), arr(&[])]), "shape");
    // Not an array.
    bad_message_is_refused(&map(&[("app", uint(1))]), "shape");
    // A Forward array none of whose entries is [time, record].
    bad_message_is_refused(
        &arr(&[
            s("app"),
            arr(&[arr(&[map(&[]), rec("bad", 0)]), arr(&[uint(1)])]),
            map(&[("chunk", s("bad"))]),
        ]),
        "malformed",
    );
    // Options that are not a map.
    bad_message_is_refused(
        &arr(&[s("app"), arr(&[]), arr(&[s("chunk"), s("bad")])]),
        "shape",
    );
}

/// `vivo_input_dropped_entries_total` of `input` for `reason`, 0 if absent.
fn dropped(http: SocketAddr, input: &str, reason: &str) -> u64 {
    let text = get(http, "/internal/metrics").text();
    let prefix =
        format!("vivo_input_dropped_entries_total{{input=\"{input}\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0, |value| value.trim().parse().expect("a counter value"))
}

#[test]
fn what_fluent_bit_acknowledges_is_acknowledged() {
    let fx = start_forward("");
    let t = |n: u64| uint(u64::from(T) + n);
    let chunk = |c: &str| map(&[("chunk", s(c))]);
    let mut stream = connect(fx.fwd);
    let mut exchange = |message: Vec<u8>, c: &str| {
        stream.write_all(&message).unwrap();
        assert_eq!(read_reply(&mut stream), ack(c), "{c}");
    };
    // Nothing to store: an empty array, only group markers. Acked; no ID is used.
    exchange(arr(&[s("app"), arr(&[]), chunk("empty")]), "empty");
    let marker = |secs: u32| arr(&[arr(&[event_time(secs, 0), map(&[])]), map(&[])]);
    exchange(
        arr(&[
            s("app"),
            arr(&[marker(u32::MAX), marker(u32::MAX - 1)]),
            chunk("markers"),
        ]),
        "markers",
    );
    // Elements after the options.
    exchange(
        arr(&[s("app"), t(0), rec("extra", 0), chunk("extra"), uint(7)]),
        "extra",
    );
    // Options that do not apply: compression outside PackedForward, a signal in Message mode.
    let opts = map(&[("chunk", s("gz")), ("compressed", s("gzip"))]);
    exchange(
        arr(&[s("app"), arr(&[entry(t(1), rec("gz", 1))]), opts]),
        "gz",
    );
    let opts = map(&[("chunk", s("sig")), ("fluent_signal", uint(1))]);
    exchange(arr(&[s("app"), t(2), rec("sig", 2), opts]), "sig");
    // Malformed entries among good ones: the good ones are stored.
    let entries = arr(&[
        entry(t(3), rec("kept", 3)),
        entry(map(&[]), rec("bad", 0)),
        arr(&[t(4)]),
        entry(t(4), rec("kept", 4)),
    ]);
    exchange(arr(&[s("app"), entries, chunk("partial")]), "partial");
    let at = |msg: &str, n: u64| line(T_NS + n as i64 * 1_000_000_000, "app", "", msg, n);
    assert_eq!(entry_lines(fx.http, "/logs", 0), [at("extra", 0)]);
    assert_eq!(entry_lines(fx.http, "/logs", 1), [at("gz", 1)]);
    assert_eq!(entry_lines(fx.http, "/logs", 2), [at("sig", 2)]);
    assert_eq!(
        entry_lines(fx.http, "/logs", 3),
        [at("kept", 3), at("kept", 4)]
    );
    assert_eq!(lines(fx.http, "/logs").len(), 5, "nothing else stored");
    assert!(lines(fx.http, "/metrics").is_empty());
    assert_eq!(tolerated(fx.http, "forward.0", "extra_elements"), 1);
    assert_eq!(tolerated(fx.http, "forward.0", "ignored_option"), 2);
    assert_eq!(dropped(fx.http, "forward.0", "shape"), 2);
    assert_eq!(rejected_total(fx.http, "forward.0"), 0);
}

#[test]
fn unknown_fluent_signal_is_refused() {
    bad_message_is_refused(
        &arr(&[
            s("app"),
            bin(&entry(uint(u64::from(T)), rec("bad", 0))),
            map(&[("fluent_signal", uint(7)), ("chunk", s("bad"))]),
        ]),
        "unknown_signal",
    );
}

#[test]
fn corrupt_gzip_is_refused() {
    let payload = entry(uint(u64::from(T)), rec("bad", 0));
    let options = map(&[("compressed", s("gzip")), ("chunk", s("bad"))]);
    // Not gzip at all.
    bad_message_is_refused(
        &arr(&[s("app"), bin(b"\x1f\x8bnot really gzip"), options.clone()]),
        "decompress",
    );
    // A damaged deflate stream.
    let mut damaged = gzip(&payload.repeat(20));
    let middle = damaged.len() / 2;
    for byte in &mut damaged[middle - 4..middle + 4] {
        *byte ^= 0xa5;
    }
    bad_message_is_refused(
        &arr(&[s("app"), bin(&damaged), options.clone()]),
        "decompress",
    );
    // A good member followed by garbage: nothing of it may be stored.
    let good_then_garbage = [gzip(&payload), b"garbage!".to_vec()].concat();
    bad_message_is_refused(
        &arr(&[s("app"), bin(&good_then_garbage), options]),
        "decompress",
    );
}

/// Bytes that can never frame: the connection is closed, counted, and the rest keeps serving.
fn unframeable_input_closes_the_connection(extra: &str, bad: &[u8], reason: &str) {
    let fx = start_forward(extra);
    let mut idle = connect(fx.fwd);
    let mut stream = send_new(fx.fwd, &good("app.before", 1, "before"));
    assert_eq!(read_reply(&mut stream), ack("before"));
    let before = vec![good_line("app.before", 1)];
    let rejected = rejections(fx.http, "forward.0");
    // The server may close (and reset) while this is still being written.
    let _ = stream.write_all(bad);
    expect_closed(&mut stream);
    wait_rejected(fx.http, "forward.0", &rejected, reason);
    assert_eq!(lines(fx.http, "/logs"), before);
    assert_still_serving(&fx, &mut idle, &before);
}

#[test]
fn malformed_msgpack_closes_the_connection() {
    // `["app", <0xc1>`: the reserved marker inside a frame.
    unframeable_input_closes_the_connection("", &[0x92, 0xa3, b'a', b'p', b'p', 0xc1], "malformed");
    unframeable_input_closes_the_connection("", &[0xc1], "malformed");
}

#[test]
fn frame_over_buffer_max_size_closes_the_connection() {
    let settings = "    buffer_chunk_size 1k\n    buffer_max_size 2k";
    // A complete frame over the limit.
    let big = arr(&[
        s("app"),
        uint(u64::from(T)),
        map(&[("x", s(&"y".repeat(5000)))]),
    ]);
    unframeable_input_closes_the_connection(settings, &big, "too_large");
    // A header that declares a huge payload, without sending it.
    unframeable_input_closes_the_connection(
        settings,
        &[0x93, 0xa3, b'a', b'p', b'p', 0xc6, 0x7f, 0xff, 0xff, 0xff],
        "too_large",
    );
    // Messages up to the limit are fine.
    let fx = start_forward(settings);
    let fits = arr(&[
        s("app"),
        uint(u64::from(T)),
        map(&[("x", s(&"y".repeat(1500)))]),
        map(&[("chunk", s("fits"))]),
    ]);
    assert!(fits.len() < 2000);
    send_acked(fx.fwd, &fits, "fits");
}

#[test]
fn disconnect_mid_frame_loses_nothing_acknowledged() {
    let fx = start_forward("");
    let mut idle = connect(fx.fwd);
    let mut stream = send_new(fx.fwd, &good("app.before", 1, "before"));
    assert_eq!(read_reply(&mut stream), ack("before"));
    let rejected = rejections(fx.http, "forward.0");
    let next = good("app.half", 2, "half");
    stream.write_all(&next[..next.len() / 2]).unwrap();
    drop(stream);
    wait_rejected(fx.http, "forward.0", &rejected, "truncated");
    let before = vec![good_line("app.before", 1)];
    assert_eq!(lines(fx.http, "/logs"), before);
    assert_still_serving(&fx, &mut idle, &before);
}

// ---- the secure-forward handshake ----

const KEY_CONFIG: &str = "    shared_key s3cret\n    self_hostname vivo.test";

/// Connects, checks HELO, sends PING; returns the connection, HELO and the decoded PONG.
fn handshake(
    addr: SocketAddr,
    key: &str,
    user: Option<(&str, &str)>,
) -> (std::net::TcpStream, Helo, (bool, String, String, String)) {
    let mut stream = connect(addr);
    let helo = read_helo(&mut stream);
    assert_eq!(helo.nonce.len(), 16);
    assert!(helo.keepalive);
    stream
        .write_all(&ping(&helo, "client.test", key, user))
        .unwrap();
    let pong = read_pong(&mut stream);
    (stream, helo, pong)
}

fn assert_pong_ok(helo: &Helo, pong: &(bool, String, String, String), key: &str) {
    let (ok, reason, hostname, digest) = pong;
    assert!(ok, "authenticated: {reason}");
    assert_eq!(reason, "");
    assert_eq!(hostname, "vivo.test");
    // The client's check (Fluentd's check_pong): salt + server hostname + nonce + key.
    let expected = sha512_hex(&[
        &CLIENT_SALT,
        hostname.as_bytes(),
        &helo.nonce,
        key.as_bytes(),
    ]);
    assert_eq!(digest, &expected);
}

#[test]
fn handshake_with_the_right_key() {
    let fx = start_forward(KEY_CONFIG);
    let (mut stream, helo, pong) = handshake(fx.fwd, "s3cret", None);
    assert!(helo.auth.is_empty(), "no users: no auth salt");
    assert_pong_ok(&helo, &pong, "s3cret");
    stream.write_all(&good("app.secure", 1, "s1")).unwrap();
    assert_eq!(read_reply(&mut stream), ack("s1"));
    stream.write_all(&good("app.secure", 2, "s2")).unwrap();
    assert_eq!(read_reply(&mut stream), ack("s2"));
    assert_eq!(
        lines(fx.http, "/logs"),
        [good_line("app.secure", 1), good_line("app.secure", 2)]
    );
    // Each connection gets its own nonce.
    let (_, other, pong) = handshake(fx.fwd, "s3cret", None);
    assert_pong_ok(&other, &pong, "s3cret");
    assert_ne!(helo.nonce, other.nonce);
}

#[test]
fn handshake_with_a_wrong_key_is_refused() {
    let fx = start_forward(KEY_CONFIG);
    let rejected = rejections(fx.http, "forward.0");
    let (mut stream, _, pong) = handshake(fx.fwd, "wrong", None);
    assert_eq!(
        pong,
        (
            false,
            "shared_key mismatch".into(),
            String::new(),
            String::new()
        )
    );
    // Whatever the client sends next is not stored: the connection is closed.
    let _ = stream.write_all(&good("app.intruder", 1, "x"));
    expect_closed(&mut stream);
    wait_rejected(fx.http, "forward.0", &rejected, "handshake");
    // A client that skips the handshake is refused too.
    let mut stream = connect(fx.fwd);
    read_helo(&mut stream);
    stream.write_all(&good("app.intruder", 2, "y")).unwrap();
    let (ok, reason, ..) = read_pong(&mut stream);
    assert!(!ok);
    assert_eq!(reason, "invalid ping message");
    expect_closed(&mut stream);
    assert!(lines(fx.http, "/logs").is_empty());
    // And the right key still works.
    let (mut stream, helo, pong) = handshake(fx.fwd, "s3cret", None);
    assert_pong_ok(&helo, &pong, "s3cret");
    stream.write_all(&good("app.secure", 3, "ok")).unwrap();
    assert_eq!(read_reply(&mut stream), ack("ok"));
    assert_eq!(lines(fx.http, "/logs"), [good_line("app.secure", 3)]);
}

#[test]
fn handshake_with_users() {
    let fx = start_forward(&format!(
        "{KEY_CONFIG}\n    security.users alice wonderland\n    security.users bob builder"
    ));
    let (mut stream, helo, pong) = handshake(fx.fwd, "s3cret", Some(("bob", "builder")));
    assert_eq!(helo.auth.len(), 16, "users: HELO carries the auth salt");
    assert_pong_ok(&helo, &pong, "s3cret");
    stream.write_all(&good("app.user", 1, "u1")).unwrap();
    assert_eq!(read_reply(&mut stream), ack("u1"));

    for user in [("alice", "builder"), ("mallory", "wonderland")] {
        let (mut stream, _, pong) = handshake(fx.fwd, "s3cret", Some(user));
        assert_eq!(
            pong,
            (
                false,
                "username/password mismatch".into(),
                String::new(),
                String::new()
            ),
            "{user:?}"
        );
        let _ = stream.write_all(&good("app.intruder", 2, "x"));
        expect_closed(&mut stream);
    }
    assert_eq!(lines(fx.http, "/logs"), [good_line("app.user", 1)]);
}

// ---- arbitrary bytes ----

#[test]
fn arbitrary_bytes_leave_the_service_serving() {
    use proptest::test_runner::{Config, TestRunner};
    let fx = start_forward("    buffer_chunk_size 1k\n    buffer_max_size 64k");
    let mut runner = TestRunner::new(Config {
        cases: 64,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(proptest::prelude::any::<u8>(), 0..=4096);
    runner
        .run(&strategy, |bytes| {
            let mut stream = connect(fx.fwd);
            // The server may close early; what matters is that it survives.
            let _ = stream.write_all(&bytes);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            // The server answers what it can, then closes once it has seen our end of stream.
            let deadline = Instant::now() + TIMEOUT;
            let mut sink = [0u8; 4096];
            loop {
                use std::io::{ErrorKind, Read};
                match stream.read(&mut sink) {
                    Ok(0) => break,
                    Ok(_) => assert!(Instant::now() < deadline, "server keeps talking"),
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                    Err(e) => panic!("the server did not close after the client's end: {e}"),
                }
            }
            // The listener still accepts.
            drop(connect(fx.fwd));
            Ok(())
        })
        .unwrap();
    send_acked(fx.fwd, &good("app.survivor", 7, "alive"), "alive");
    let logs = lines(fx.http, "/logs");
    assert_eq!(logs.last(), Some(&good_line("app.survivor", 7)));
    assert_eq!(get(fx.http, "/internal/metrics").status, 200);
}

// ---- a real client nobody here wrote: Python's fluent-logger ----

/// Runs a third-party client script with `program` to completion (30 s at most), failing
/// clearly if it fails.
fn run_client(mut program: Command, script: &str, args: &[String]) {
    let name = program.get_program().to_string_lossy().into_owned();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let mut child = program
        .arg(script)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} is needed for this test: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the {name} client did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{name} client failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `tests/clients/fluent_logger_client.py` with `args`, failing clearly without the package.
fn run_fluent_logger(args: &[String]) {
    let check = python()
        .args(["-c", "import fluent.sender, fluent.event"])
        .output();
    match check {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "Python's fluent-logger is not installed (`bash .ci/run` installs it into \
             target/test-venv): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!("python3 is needed for the fluent-logger test: {e}"),
    }
    run_client(python(), "tests/clients/fluent_logger_client.py", args);
}

#[test]
fn python_fluent_logger_events_appear_exactly() {
    let fx = start_forward("");
    let host = fx.fwd.ip().to_string();
    let port = fx.fwd.port().to_string();
    // Phase 1: second-precision sender (integer and float times, fluent.event.Event).
    run_fluent_logger(&[host.clone(), port.clone(), "seconds".into()]);
    let seconds = [
        r#"[[1700000000000000000,{"_tag":"app.int"}],{"msg":"integer seconds","n":1}]"#,
        r#"[[1700000000250000000,{"_tag":"app.float"}],{"msg":"float seconds","nested":{"list":[1,2.5,true,null],"neg":-3}}]"#,
        r#"[[1700000001000000000,{"_tag":"app.event"}],{"msg":"via fluent.event.Event"}]"#,
    ];
    assert_eq!(wait_lines(fx.http, "/logs", 3), seconds);
    // Phase 2: nanosecond_precision=True (EventTime), Unicode.
    run_fluent_logger(&[host, port, "nanos".into()]);
    let nanos = [
        r#"[[1700000002123456789,{"_tag":"app.nano"}],{"text":"h\u00e9llo \u65e5\u672c \ud83d\ude80"}]"#,
        r#"[[1700000003500000000,{"_tag":"app.nanofloat"}],{"msg":"float to EventTime"}]"#,
        r#"[[1700000004000000007,{"_tag":"app.event"}],{"msg":"Event with EventTime","ok":false}]"#,
    ];
    let all = wait_lines(fx.http, "/logs", 6);
    assert_eq!(all[..3], seconds);
    assert_eq!(all[3..], nanos);
    // Each fluent-logger emit is one Message-mode message: one entry each.
    for (id, expected) in all.iter().enumerate() {
        assert_eq!(
            entry_lines(fx.http, "/logs", id as u64),
            std::slice::from_ref(expected)
        );
    }
}

// ---- another real client: the npm fluent-logger package, PackedForward ----

#[test]
fn npm_fluent_logger_packed_forward_events_all_arrive() {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node/node_modules");
    assert!(
        modules.join("fluent-logger").is_dir(),
        "the npm fluent-logger package is not installed (`npm ci --prefix tests/clients/node`; \
         .ci/run installs it)"
    );
    let fx = start_forward("");
    const COUNT: u64 = 1000;
    run_client(
        Command::new("node"),
        "tests/clients/node/fluent_logger_client.js",
        &[
            fx.fwd.ip().to_string(),
            fx.fwd.port().to_string(),
            COUNT.to_string(),
        ],
    );
    let mut expected = Vec::new();
    for mode in ["PackedForward", "CompressedPackedForward"] {
        for ack in ["ack", "noack"] {
            let tag = format!("npm.{mode}.{ack}");
            expected.extend((0..COUNT).map(|n| {
                let ns = T_NS + n as i64 * 1_000_000_000;
                format!("[[{ns},{{\"_tag\":\"{tag}\"}}],{{\"n\":{n},\"mode\":\"{mode}\"}}]")
            }));
        }
    }
    // Without acks the client does not wait for storage: wait for the lines instead.
    assert_eq!(wait_lines(fx.http, "/logs", expected.len()), expected);
    assert_eq!(rejected_total(fx.http, "forward.0"), 0);
    // Every message declared its payload's byte length as `size`.
    let entries = get(fx.http, "/logs")
        .header("Vivo-Stream-Next-ID")
        .expect("Next-ID")
        .parse::<u64>()
        .unwrap();
    assert!(entries >= 4, "at least one message per tag");
    assert_eq!(tolerated(fx.http, "forward.0", "size_mismatch"), entries);
}
