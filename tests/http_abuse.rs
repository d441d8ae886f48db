//! Hostile clients against every HTTP listener of the real binary over loopback (the read API,
//! OTLP/HTTP, the OTLP gRPC port, the HTTP JSON input) and, for the bytes-on-every-port case, the
//! Forward input: slowloris heads and stalled TLS handshakes, connection floods past
//! `max_connections`, a reader that never reads its answer, request bodies past `mem_buf_limit`,
//! random and truncated bytes, clients vanishing mid-request. Each case is bounded in time, and
//! after each the service still serves, its open-connection gauges come back down, and every
//! event acknowledged before is still readable. gRPC is spoken as raw HTTP/2 frames (written
//! here, with literal HPACK headers), so a stream can be cut wherever a test wants.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::binary::{metric, spawn, temp_config, Running};
use common::forward::{ack, arr, map, read_reply, s, uint};
use common::get;
use prost::Message;

/// Every listener of one running binary.
struct Listeners {
    running: Running,
    forward: SocketAddr,
    otlp: SocketAddr,
    grpc: SocketAddr,
    json: SocketAddr,
}

impl Listeners {
    /// The read API of `vivo_exporter.0`.
    fn api(&self) -> SocketAddr {
        self.running.http
    }
}

/// `n` distinct loopback ports that were free a moment ago.
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port"))
        .collect();
    std::array::from_fn(|i| held[i].local_addr().expect("address").port())
}

/// The binary with a Forward input, an `opentelemetry` input (HTTP and gRPC ports) and an
/// `http` input, both with `input_extra` lines, one read API with `output_extra` lines, and
/// `more` sections after it.
fn start(name: &str, input_extra: &str, output_extra: &str, more: &str) -> Listeners {
    let [forward, otlp, grpc, json] = free_ports::<4>();
    let config = temp_config(
        &format!("http-abuse-{name}.conf"),
        &format!(
            "[SERVICE]\n    flush 0.05\n    grace 2\n\n\
             [INPUT]\n    name forward\n    listen 127.0.0.1\n    port {forward}\n\n\
             [INPUT]\n    name opentelemetry\n    listen 127.0.0.1\n    port {otlp}\n    \
             grpc_port {grpc}\n{input_extra}\n\
             [INPUT]\n    name http\n    listen 127.0.0.1\n    port {json}\n{input_extra}\n\
             [OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n\
             {output_extra}\n{more}"
        ),
    );
    let running = spawn(&["-c", config.to_str().expect("UTF-8 path")]);
    let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
    Listeners {
        running,
        forward: at(forward),
        otlp: at(otlp),
        grpc: at(grpc),
        json: at(json),
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
}

/// Whether the server closed `stream` (EOF or reset) within `wait`; bytes it sends meanwhile
/// (an error answer) are read past.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Whether `stream` is still open: nothing to read and no EOF within a moment.
fn still_open(stream: &mut TcpStream) -> bool {
    !closed_within(stream, Duration::from_millis(20))
}

// ---- acknowledged events on every input ----

/// A Forward message with one record `{"msg": text}`, asking for an ack with chunk `text`.
fn forward_message(text: &str) -> Vec<u8> {
    arr(&[
        s("abuse.forward"),
        arr(&[arr(&[uint(1_700_000_000), map(&[("msg", s(text))])])]),
        map(&[("chunk", s(text))]),
    ])
}

/// OTLP/JSON logs with one record whose body is `text`.
fn otlp_json(text: &str) -> String {
    format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"{text}"}}}}]}}]}}]}}"#
    )
}

/// The same as an `ExportLogsServiceRequest` in protobuf.
fn otlp_protobuf(text: &str) -> Vec<u8> {
    let request: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest =
        serde_json::from_str(&otlp_json(text)).expect("OTLP/JSON");
    request.encode_to_vec()
}

/// A whole HTTP/1.1 POST with `Connection: close`.
fn post_bytes(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// Sends `raw` on a fresh connection and reads the answer's status, headers and body.
fn exchange(addr: SocketAddr, raw: &[u8]) -> (u16, String, Vec<u8>) {
    let mut stream = connect(addr);
    stream.write_all(raw).expect("send the request");
    read_answer(&mut stream)
}

/// Reads one HTTP/1.1 answer (sent with `Connection: close` or a length) from `stream`.
fn read_answer(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if raw.is_empty() => panic!("no answer: {e}"),
            Err(_) => break,
        }
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).into_owned();
            let length = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            if length.is_some_and(|n| raw.len() >= split + 4 + n) {
                break;
            }
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, head, raw[split + 4..].to_vec())
}

fn otlp_post(addr: SocketAddr, text: &str) -> Vec<u8> {
    post_bytes(
        addr,
        "/v1/logs",
        "application/json",
        otlp_json(text).as_bytes(),
    )
}

fn json_post(addr: SocketAddr, text: &str) -> Vec<u8> {
    post_bytes(
        addr,
        "/abuse.json",
        "application/json",
        format!("{{\"msg\":\"{text}\"}}").as_bytes(),
    )
}

/// Sends one event through every input, each acknowledged (Forward's ack, OTLP/HTTP 200, HTTP
/// JSON 201, gRPC's answer on the HTTP port and on the gRPC port); returns their texts.
fn ack_on_every_input(l: &Listeners, label: &str) -> Vec<String> {
    let texts: Vec<String> = ["forward", "otlp", "json", "grpc", "grpc-on-http"]
        .iter()
        .map(|input| format!("{label}-{input}"))
        .collect();
    let mut fwd = connect(l.forward);
    fwd.write_all(&forward_message(&texts[0])).expect("send");
    assert_eq!(read_reply(&mut fwd), ack(&texts[0]), "Forward ack");
    let (status, head, _) = exchange(l.otlp, &otlp_post(l.otlp, &texts[1]));
    assert_eq!(status, 200, "OTLP/HTTP: {head}");
    let (status, head, _) = exchange(l.json, &json_post(l.json, &texts[2]));
    assert_eq!(status, 201, "HTTP JSON: {head}");
    assert!(grpc_export(l.grpc, &texts[3]), "gRPC port answers");
    assert!(
        grpc_export(l.otlp, &texts[4]),
        "gRPC on the HTTP port answers"
    );
    texts
}

/// Asserts that `/logs` holds a record with each of `texts`.
fn assert_readable(api: SocketAddr, texts: &[String]) {
    // gRPC's answer comes once the batch is stored; polling covers an answer read early.
    common::wait_for(Duration::from_secs(10), || {
        let body = get(api, "/logs").text();
        texts
            .iter()
            .all(|t| body.contains(&format!("\"{t}\"")))
            .then_some(())
    });
}

/// Waits until every HTTP input's and the Forward input's gauge is 0, and the read API's is 1
/// (the metrics request itself).
fn assert_gauges_back_to_zero(l: &Listeners) {
    let gauge = |listener: &str| {
        metric(
            l.api(),
            &format!("vivo_listener_open_connections{{listener=\"{listener}\"}}"),
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: Vec<(&str, u64)> = ["vivo_exporter.0", "forward.0"]
            .into_iter()
            .chain(["opentelemetry.0", "opentelemetry.0.grpc", "http.0"])
            .map(|name| (name, gauge(name)))
            .collect();
        let settled = now
            .iter()
            .all(|&(name, n)| n == u64::from(name == "vivo_exporter.0"));
        if settled {
            return;
        }
        assert!(Instant::now() < deadline, "open connections: {now:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- raw HTTP/2 for gRPC ----

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// One HTTP/2 frame.
fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    frame.extend_from_slice(&[kind, flags]);
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The connection's opening: the preface and an empty SETTINGS frame.
fn h2_open() -> Vec<u8> {
    let mut bytes = H2_PREFACE.to_vec();
    bytes.extend(h2_frame(SETTINGS, 0, 0, &[]));
    bytes
}

/// The HPACK block of a gRPC `LogsService/Export` call: literal fields, never indexed.
fn grpc_header_block() -> Vec<u8> {
    let fields = [
        (":method", "POST"),
        (":scheme", "http"),
        (
            ":path",
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        ),
        (":authority", "127.0.0.1"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ];
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00); // literal header field without indexing, new name
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}

/// A whole gRPC export of one record `text` on stream 1: opening, HEADERS and one DATA frame
/// holding the length-prefixed message.
fn grpc_request(text: &str) -> Vec<u8> {
    let message = otlp_protobuf(text);
    let mut data = vec![0u8];
    data.extend_from_slice(&(message.len() as u32).to_be_bytes());
    data.extend_from_slice(&message);
    let mut bytes = h2_open();
    bytes.extend(h2_frame(HEADERS, END_HEADERS, 1, &grpc_header_block()));
    bytes.extend(h2_frame(DATA, END_STREAM, 1, &data));
    bytes
}

/// Sends a whole gRPC export of `text` to `addr`; whether an answer ending stream 1 came
/// (trailers with END_STREAM).
fn grpc_export(addr: SocketAddr, text: &str) -> bool {
    let mut stream = connect(addr);
    stream.write_all(&grpc_request(text)).expect("send");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // Walk the frames received so far.
        let mut at = 0;
        while buf.len() >= at + 9 {
            let len = u32::from_be_bytes([0, buf[at], buf[at + 1], buf[at + 2]]) as usize;
            let (kind, flags) = (buf[at + 3], buf[at + 4]);
            let id = u32::from_be_bytes([buf[at + 5], buf[at + 6], buf[at + 7], buf[at + 8]]);
            if kind == HEADERS && id == 1 && flags & END_STREAM != 0 {
                return true;
            }
            at += 9 + len;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

// ---- a. slowloris ----

/// HTTP/1 heads and TLS handshakes have `request_timeout`. HTTP/2 has no head timeout in
/// actix or hyper: a connection that opens HTTP/2 and stalls (before a request, or mid-head) is
/// pinged once silent for `idle_timeout` and closed when no answer comes (within another
/// `idle_timeout` in actix, `request_timeout` in gRPC), so with both at 1 s every case here
/// ends between 1 and 3.5 s.
#[test]
fn slowloris_heads_and_stalled_tls_handshakes_are_cut_off_after_request_timeout() {
    let pki = common::tls::Pki::new("http-abuse-slowloris");
    let tls_api = format!(
        "[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n    \
         http_request_timeout 1\n{}",
        pki.server_keys("")
    );
    let l = start(
        "slowloris",
        "    request_timeout 1\n    idle_timeout 1\n",
        "    http_request_timeout 1\n    http_idle_timeout 1\n",
        &tls_api,
    );
    let before = ack_on_every_input(&l, "before-slowloris");
    let tls_api = l.running.outputs[1];
    let mut partial_grpc_head = h2_open();
    // A HEADERS frame without END_HEADERS: the head goes on in CONTINUATION frames never sent.
    partial_grpc_head.extend(h2_frame(HEADERS, 0, 1, &grpc_header_block()[..20]));
    let cases: Vec<(&str, SocketAddr, Vec<u8>)> = vec![
        (
            "read API",
            l.api(),
            b"GET /logs HTTP/1.1\r\nHost: x\r\nAcc".to_vec(),
        ),
        (
            "read API, half the HTTP/2 preface",
            l.api(),
            H2_PREFACE[..12].to_vec(),
        ),
        ("read API, h2c without a request", l.api(), h2_open()),
        (
            "OTLP/HTTP",
            l.otlp,
            b"POST /v1/logs HTTP/1.1\r\nContent-Le".to_vec(),
        ),
        (
            "OTLP/HTTP, half the HTTP/2 preface",
            l.otlp,
            H2_PREFACE[..12].to_vec(),
        ),
        (
            "OTLP/HTTP, half a gRPC head",
            l.otlp,
            partial_grpc_head.clone(),
        ),
        (
            "gRPC port, HTTP/1 head",
            l.grpc,
            b"POST / HTTP/1.1\r\nHo".to_vec(),
        ),
        (
            "gRPC port, nothing after the preface",
            l.grpc,
            H2_PREFACE.to_vec(),
        ),
        ("gRPC port, half a gRPC head", l.grpc, partial_grpc_head),
        (
            "HTTP JSON",
            l.json,
            b"POST /app HTTP/1.1\r\nHost: x\r\nCont".to_vec(),
        ),
        ("TLS read API, no ClientHello", tls_api, Vec::new()),
        (
            "TLS read API, half a ClientHello",
            tls_api,
            vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01],
        ),
    ];
    let started = Instant::now();
    let waits: Vec<_> = cases
        .into_iter()
        .map(|(what, addr, bytes)| {
            let mut stream = connect(addr);
            stream.write_all(&bytes).expect("send part of a head");
            std::thread::spawn(move || {
                let closed = closed_within(&mut stream, Duration::from_secs(8));
                (what, closed, started.elapsed())
            })
        })
        .collect();
    // Held until the timeout (not refused at once as malformed), then cut off: the HTTP/2
    // preface wait and the head wait are one request_timeout each. actix reckons its
    // deadlines from a clock it updates every 500 ms, so one may come that much early.
    let wrong: Vec<String> = waits
        .into_iter()
        .map(|wait| wait.join().expect("waiter"))
        .filter(|(_, closed, after)| {
            !closed || *after < Duration::from_millis(400) || *after > Duration::from_millis(3500)
        })
        .map(|(what, closed, after)| format!("{what}: closed {closed} after {after:?}"))
        .collect();
    assert!(wrong.is_empty(), "request_timeout is 1 s: {wrong:#?}");
    let api = l.api();
    let timeouts = metric(
        api,
        "vivo_listener_refused_connections_total{listener=\"vivo_exporter.1\",reason=\"tls_timeout\"}",
    );
    assert_eq!(timeouts, 2, "both stalled handshakes counted");
    assert_gauges_back_to_zero(&l);
    let tls_open = metric(
        api,
        "vivo_listener_open_connections{listener=\"vivo_exporter.1\"}",
    );
    assert_eq!(tls_open, 0, "the TLS listener holds nothing");
    assert_readable(api, &before);
    let after = ack_on_every_input(&l, "after-slowloris");
    assert_readable(api, &after);
}

/// CPU seconds process `pid` has used, from `/proc/PID/stat` (user and system time).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    // SAFETY: sysconf only reads a system setting.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn clients_stalled_mid_preface_cost_the_server_almost_nothing() {
    // Whether a connection opens with the HTTP/2 preface is decided by peeking; 500 clients
    // that each send `P` (the preface's first byte, and POST's) and stop must not keep it
    // peeking in a tight loop for their request_timeout (10 s by default).
    let l = start("mid-preface", "", "", "");
    let held: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut stream = connect(l.otlp);
            stream.write_all(b"P").expect("send");
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let pid = l.running.child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(pid) - before;
    // Peeking every 2 ms took 1.95 CPU-s here (both cores); pauses that grow, about 0.15.
    assert!(used < 0.5, "{used:.2} CPU-s in 2 s for 500 stalled clients");
    let gauge = metric(
        l.api(),
        "vivo_listener_open_connections{listener=\"opentelemetry.0\"}",
    );
    assert_eq!(gauge, 500, "they are all still waited for");
    drop(held);
    assert_gauges_back_to_zero(&l);
}

// ---- b. connection floods ----

/// Opens `n` connections to `addr` and waits until the server has decided on each; returns
/// (the ones it kept open, how many it closed).
fn flood(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, usize) {
    let streams: Vec<TcpStream> = (0..n).map(|_| connect(addr)).collect();
    // A refused connection is closed as it is accepted; give the accept loop a moment.
    std::thread::sleep(Duration::from_millis(500));
    let mut open = Vec::new();
    let mut closed = 0;
    for mut stream in streams {
        if still_open(&mut stream) {
            open.push(stream);
        } else {
            closed += 1;
        }
    }
    (open, closed)
}

/// A request on a fresh connection to `addr` gets no answer: the connection is closed.
fn assert_refused(addr: SocketAddr, what: &str) {
    let mut stream = connect(addr);
    let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "{what} answered during the flood: {:?}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn a_flood_past_max_connections_is_refused_on_its_listener_alone() {
    // request_timeout 30: the connections the flood holds stay for the whole test.
    let l = start(
        "flood",
        "    max_connections 50\n    request_timeout 30\n",
        "    http_max_connections 50\n    http_request_timeout 30\n",
        "",
    );
    let api = l.api();
    let before = ack_on_every_input(&l, "before-flood");
    let refused = |listener: &str| {
        metric(
            api,
            &format!(
                "vivo_listener_refused_connections_total{{listener=\"{listener}\",reason=\"connection_limit\"}}"
            ),
        )
    };

    // 200 connections on the read API: 50 are kept, the rest closed at once, and so is a
    // fresh read; every input goes on serving meanwhile.
    let (held, closed) = flood(api, 200);
    assert_eq!((held.len(), closed), (50, 150), "kept and closed");
    assert_refused(api, "the read API");
    let during = ack_on_every_input(&l, "during-read-flood");
    drop(held);
    // Once the flood is gone, reads are served again.
    common::wait_for(Duration::from_secs(10), || {
        let mut stream = connect(api);
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        answer.starts_with(b"HTTP/1.1 200").then_some(())
    });
    assert_readable(api, &[before.clone(), during].concat());
    assert!(
        refused("vivo_exporter.0") >= 151,
        "the flood and the fresh read counted"
    );

    // 200 connections on OTLP/HTTP: 50 kept, the read API and the other inputs serve.
    let (held, closed) = flood(l.otlp, 200);
    assert_eq!(
        (held.len(), closed),
        (50, 150),
        "kept and closed on OTLP/HTTP"
    );
    assert_refused(l.otlp, "OTLP/HTTP");
    let gauge = metric(
        api,
        "vivo_listener_open_connections{listener=\"opentelemetry.0\"}",
    );
    assert_eq!(gauge, 50, "the gauge shows the connections held");
    assert!(refused("opentelemetry.0") >= 151);
    let mut fwd = connect(l.forward);
    fwd.write_all(&forward_message("during-otlp-flood"))
        .expect("send");
    assert_eq!(read_reply(&mut fwd), ack("during-otlp-flood"));
    drop(fwd);
    let (status, _, _) = exchange(l.json, &json_post(l.json, "during-otlp-flood-json"));
    assert_eq!(status, 201);
    assert!(
        grpc_export(l.grpc, "during-otlp-flood-grpc"),
        "the gRPC port has its own limit"
    );
    assert_readable(
        api,
        &[
            "during-otlp-flood".to_string(),
            "during-otlp-flood-json".to_string(),
            "during-otlp-flood-grpc".to_string(),
        ],
    );
    drop(held);
    common::wait_for(Duration::from_secs(10), || {
        let mut stream = connect(l.otlp);
        stream
            .write_all(&otlp_post(l.otlp, "after-otlp-flood"))
            .ok()?;
        (read_answer(&mut stream).0 == 200).then_some(())
    });
    assert_gauges_back_to_zero(&l);
    assert_readable(api, &before);
}

// ---- c. a reader that never reads ----

/// A Forward message of `records` records of `bytes` bytes each, acknowledged as `chunk`.
fn large_message(chunk: &str, records: usize, bytes: usize) -> Vec<u8> {
    let text = "x".repeat(bytes);
    let records: Vec<Vec<u8>> = (0..records)
        .map(|n| arr(&[uint(1_700_000_000 + n as u64), map(&[("msg", s(&text))])]))
        .collect();
    arr(&[s("abuse.large"), arr(&records), map(&[("chunk", s(chunk))])])
}

/// Fills `/logs` with about `mb` MB in 1 MB entries, each acknowledged.
fn fill_logs(forward: SocketAddr, mb: usize) {
    let mut stream = connect(forward);
    for n in 0..mb {
        let chunk = format!("fill-{n}");
        stream
            .write_all(&large_message(&chunk, 10, 100_000))
            .expect("send");
        assert_eq!(read_reply(&mut stream), ack(&chunk));
    }
}

/// A connection to `addr` whose receive buffer is a few KB, so that little of an answer fits
/// in what the client's kernel takes for it.
fn connect_small_window(addr: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .expect("connect");
    socket.into()
}

#[test]
fn a_reader_that_never_reads_its_answer_is_cut_off_after_send_timeout() {
    let l = start(
        "never-reads",
        "",
        "    http_send_timeout 2\n    stream_queue_size 64M\n",
        "",
    );
    let api = l.api();
    // 12 MB: more than the server's socket send buffer (4 MB at most here) and actix's write
    // buffer can take, so the answer waits on the client.
    fill_logs(l.forward, 12);
    let gauge = || {
        metric(
            api,
            "vivo_listener_open_connections{listener=\"vivo_exporter.0\"}",
        )
    };
    let mut reader = connect_small_window(api);
    reader
        .write_all(b"GET /logs HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send the read");
    // Ours and the metrics request.
    common::wait_for(Duration::from_secs(5), || (gauge() == 2).then_some(()));
    let stalled = Instant::now();
    while gauge() != 1 {
        assert!(
            stalled.elapsed() < Duration::from_secs(8),
            "the stalled reader is still connected after {:?}, send_timeout is 2 s",
            stalled.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // What it got is a part of the answer, then nothing more: the connection is gone.
    let mut answer = Vec::new();
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let _ = reader.read_to_end(&mut answer);
    assert!(
        answer.len() < 12_000_000,
        "got {} bytes of a 12 MB answer",
        answer.len()
    );
    // Readers that read are served in full.
    let full = get(api, "/logs");
    assert_eq!(full.status, 200);
    assert!(full.body.len() > 12_000_000, "{} bytes", full.body.len());
}

// ---- d. bodies past mem_buf_limit ----

/// The head of a JSON POST to `path` declaring a `length`-byte body.
fn declared_head(path: &str, length: usize) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    )
    .into_bytes()
}

/// Connections that each declare a 600 KB body to `addr` `path` and send 1000 bytes of it.
fn slow_senders(addr: SocketAddr, path: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|_| {
            let mut stream = connect(addr);
            stream
                .write_all(&declared_head(path, 600_000))
                .expect("send the head");
            stream.write_all(&[b' '; 1000]).expect("send a little");
            stream
        })
        .collect()
}

/// A JSON object of exactly `length` bytes with `"msg": text`.
fn padded_json(text: &str, length: usize) -> Vec<u8> {
    let frame = format!("{{\"msg\":\"{text}\",\"pad\":\"\"}}");
    let pad = "x".repeat(length - frame.len());
    format!("{{\"msg\":\"{text}\",\"pad\":\"{pad}\"}}").into_bytes()
}

#[test]
fn bodies_past_mem_buf_limit_are_answered_503_with_retry_after_until_the_senders_go() {
    // 2 MB: three bodies of 600 KB being read fit (the first 64 KB of each are free), a
    // fourth does not.
    let l = start("mem-buf", "    mem_buf_limit 2M\n", "", "");
    let api = l.api();
    let before = ack_on_every_input(&l, "before-mem-buf");
    let mut json_senders = slow_senders(l.json, "/slow", 3);
    let mut otlp_senders = slow_senders(l.otlp, "/v1/logs", 3);
    // Let the server read their heads and hold their budget.
    std::thread::sleep(Duration::from_millis(500));
    let (status, head, body) = exchange(l.json, &declared_head("/next", 600_000));
    assert_eq!(status, 503, "HTTP JSON past its budget: {head}");
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let error: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
    assert_eq!(error["error"], "over_budget", "{error}");
    let (status, head, _) = exchange(l.otlp, &declared_head("/v1/logs", 600_000));
    assert_eq!(status, 503, "OTLP/HTTP past its budget: {head}");
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    // The slow senders themselves are still being read, and small requests are served.
    for stream in json_senders.iter_mut().chain(otlp_senders.iter_mut()) {
        assert!(still_open(stream), "a slow sender was cut off");
    }
    let (status, _, _) = exchange(l.json, &json_post(l.json, "small-during-mem-buf"));
    assert_eq!(status, 201, "a small body needs no budget");
    for input in ["http.0", "opentelemetry.0"] {
        let series =
            format!("vivo_input_rejected_total{{input=\"{input}\",reason=\"over_budget\"}}");
        assert_eq!(metric(api, &series), 1, "{series}");
    }
    // Once they go, large bodies are taken again.
    drop(json_senders);
    drop(otlp_senders);
    let large = padded_json("large-after-mem-buf", 600_000);
    common::wait_for(Duration::from_secs(10), || {
        let (status, _, _) = exchange(
            l.json,
            &post_bytes(l.json, "/large", "application/json", &large),
        );
        (status == 201).then_some(())
    });
    assert_readable(
        api,
        &[
            before,
            vec!["small-during-mem-buf".into(), "large-after-mem-buf".into()],
        ]
        .concat(),
    );
    assert_gauges_back_to_zero(&l);
}

// ---- e. random and truncated bytes ----

/// xorshift64*: a fixed seed gives the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `1..=n`.
    fn upto(&mut self, n: usize) -> usize {
        1 + (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What one port is sent: random blobs, random bytes after a valid opening, and a valid
/// request cut at random points. Each goes on its own connection, which the client then
/// half-closes; the server must close it within 5 s (answering first or not). Returns the
/// cases it did not close.
fn garble(addr: SocketAddr, seed: u64, opening: &[u8], valid: &[u8]) -> Vec<String> {
    let mut rng = Rng(seed);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for n in 0..20 {
        let len = rng.upto(4096);
        cases.push((format!("random blob {n} ({len} bytes)"), rng.bytes(len)));
    }
    for n in 0..10 {
        let mut bytes = opening.to_vec();
        let len = rng.upto(2048);
        bytes.extend(rng.bytes(len));
        cases.push((format!("opening and random {n}"), bytes));
    }
    for n in 0..10 {
        let cut = rng.upto(valid.len() - 1);
        cases.push((
            format!("valid request cut at {cut} ({n})"),
            valid[..cut].to_vec(),
        ));
    }
    let mut open = Vec::new();
    for (what, bytes) in cases {
        let mut stream = connect(addr);
        // The server may close before it has read everything: that is an answer too.
        let _ = stream.write_all(&bytes);
        let _ = stream.shutdown(Shutdown::Write);
        if !closed_within(&mut stream, Duration::from_secs(5)) {
            open.push(format!("{addr} {what}"));
        }
    }
    open
}

/// The process's resident-set high-water mark, in MB.
fn peak_rss_mb(running: &Running) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", running.child.id()))
        .expect("/proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024.0
}

#[test]
fn random_and_truncated_bytes_on_every_port_leave_the_service_serving() {
    let mut l = start("garble", "", "", "");
    let api = l.api();
    let before = ack_on_every_input(&l, "before-garble");
    let ports: Vec<(SocketAddr, Vec<u8>, Vec<u8>)> = vec![
        (
            l.forward,
            vec![0x93, 0xa3, b'a', b'p', b'p'],
            forward_message("garbled"),
        ),
        (
            l.otlp,
            b"POST /v1/logs HTTP/1.1\r\n".to_vec(),
            otlp_post(l.otlp, "garbled"),
        ),
        (l.otlp, h2_open(), grpc_request("garbled")),
        (l.grpc, h2_open(), grpc_request("garbled")),
        (
            l.json,
            b"POST /app HTTP/1.1\r\n".to_vec(),
            json_post(l.json, "garbled"),
        ),
        (
            api,
            b"GET /logs?".to_vec(),
            b"GET /logs?from=0&limit=5 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
    ];
    let workers: Vec<_> = ports
        .into_iter()
        .enumerate()
        .map(|(n, (addr, opening, valid))| {
            std::thread::spawn(move || garble(addr, 0x5eed_0000 + n as u64, &opening, &valid))
        })
        .collect();
    let open: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("garbler"))
        .collect();
    assert!(
        open.is_empty(),
        "connections the server kept after EOF: {open:#?}"
    );
    assert!(
        l.running.child.try_wait().expect("wait").is_none(),
        "the service is running"
    );
    assert_readable(api, &before);
    let after = ack_on_every_input(&l, "after-garble");
    assert_readable(api, &after);
    assert_gauges_back_to_zero(&l);
    let peak = peak_rss_mb(&l.running);
    assert!(peak < 100.0, "peak RSS {peak:.0} MB");
}

// ---- f. clients vanishing mid-request ----

#[test]
fn clients_vanishing_mid_request_leave_nothing_held() {
    // 1 MB: one 600 KB body at a time fits, so a body whose sender vanished and was not given
    // back would turn the large request at the end away.
    let l = start("vanish", "    mem_buf_limit 1M\n", "", "");
    let api = l.api();
    let before = ack_on_every_input(&l, "before-vanish");
    fill_logs(l.forward, 3);
    let mut half_grpc = h2_open();
    half_grpc.extend(h2_frame(HEADERS, END_HEADERS, 1, &grpc_header_block()));
    let mut message = vec![0u8];
    message.extend_from_slice(&1000u32.to_be_bytes());
    message.extend_from_slice(&[0u8; 500]);
    half_grpc.extend(h2_frame(DATA, 0, 1, &message));
    let half_body = |addr: SocketAddr, path: &str| {
        let mut bytes = declared_head(path, 600_000);
        bytes.extend_from_slice(&padded_json("never-whole", 600_000)[..300_000]);
        (addr, bytes)
    };
    let mut cases: Vec<(SocketAddr, Vec<u8>)> = vec![
        half_body(l.json, "/vanish"),
        half_body(l.otlp, "/v1/logs"),
        (l.grpc, half_grpc.clone()),
        (l.otlp, half_grpc),
        (l.forward, forward_message("never-whole")[..20].to_vec()),
    ];
    cases = cases
        .iter()
        .cycle()
        .take(cases.len() * 4)
        .cloned()
        .collect();
    for (addr, bytes) in cases {
        let mut stream = connect(addr);
        let _ = stream.write_all(&bytes);
        std::thread::sleep(Duration::from_millis(20));
        drop(stream);
    }
    // Reads closed mid-answer: 64 KB of a 3 MB answer, then gone (a reset, with data unread).
    for _ in 0..4 {
        let mut reader = connect(api);
        reader
            .write_all(b"GET /logs HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send the read");
        let mut part = vec![0u8; 65536];
        reader.read_exact(&mut part).expect("the first 64 KB");
        drop(reader);
    }
    assert_gauges_back_to_zero(&l);
    // Both inputs' budgets were given back: a 600 KB body is taken by each.
    let large = padded_json("large-after-vanish", 600_000);
    let (status, head, _) = exchange(
        l.json,
        &post_bytes(l.json, "/large", "application/json", &large),
    );
    assert_eq!(status, 201, "HTTP JSON: {head}");
    let pad = "x".repeat(600_000);
    let large_otlp = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{{"stringValue":"large-after-vanish-otlp"}}}},{{"body":{{"stringValue":"{pad}"}}}}]}}]}}]}}"#
    );
    let (status, head, _) = exchange(
        l.otlp,
        &post_bytes(
            l.otlp,
            "/v1/logs",
            "application/json",
            large_otlp.as_bytes(),
        ),
    );
    assert_eq!(status, 200, "OTLP/HTTP: {head}");
    let after = ack_on_every_input(&l, "after-vanish");
    assert_readable(
        api,
        &[
            before,
            after,
            vec![
                "large-after-vanish".into(),
                "large-after-vanish-otlp".into(),
            ],
        ]
        .concat(),
    );
}
