//! Speaking the Fluent Forward protocol to the real service over real sockets: a service with
//! one or more `forward` inputs, msgpack builders (written with `rmp`, independent of the
//! crate's decoder), replies read with timeouts, and the stream and counter checks the Forward
//! tests share.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use vivo_exporter::service::Service;

use super::{get, http_addr};

/// How long any single wait in these tests may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A running service with its first forward input's TCP address and its read API address.
pub struct Fixture {
    pub service: Service,
    pub fwd: SocketAddr,
    pub http: SocketAddr,
}

/// One `[INPUT] name forward` section on an ephemeral loopback port, plus `extra` lines.
pub fn forward_input(extra: &str) -> String {
    format!("[INPUT]\n    name forward\n    listen 127.0.0.1\n    port 0\n{extra}\n")
}

/// A whole config: `[SERVICE]`, the given input sections, one `vivo_exporter` output.
pub fn config_with(inputs: &[String]) -> String {
    format!(
        "[SERVICE]\n    flush 0.05\n    log_level warn\n\n{}\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n",
        inputs.join("\n")
    )
}

/// Starts the service with one plain Forward input and `output_extra` lines in its output
/// section: the service, the Forward address, the read API address.
pub fn forward_service(output_extra: &str) -> (Service, SocketAddr, SocketAddr) {
    let config = format!(
        "{}\n{output_extra}\n",
        config_with(&[forward_input("")]).trim_end()
    );
    let service = super::start(&config);
    let fwd = service.forward_addrs()[0];
    let http = http_addr(&service);
    (service, fwd, http)
}

/// Starts the service with one forward input configured with `extra` lines.
pub fn start_forward(extra: &str) -> Fixture {
    let service = super::start(&config_with(&[forward_input(extra)]));
    let fwd = *service
        .forward_addrs()
        .first()
        .expect("the forward input is listening");
    let http = http_addr(&service);
    Fixture { service, fwd, http }
}

/// A TCP connection whose reads and writes time out.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the forward input");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    stream
}

/// Connects and sends `bytes`.
pub fn send_new(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = connect(addr);
    stream.write_all(bytes).expect("send");
    stream
}

/// Reads exactly one msgpack object the server sent (an ack, HELO or PONG).
pub fn read_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(len) = object_len(&buf) {
            assert_eq!(len, buf.len(), "more than one object arrived: {buf:02x?}");
            return buf;
        }
        match stream.read(&mut chunk) {
            Ok(0) => panic!("connection closed while waiting for a reply (got {buf:02x?})"),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("no reply within {TIMEOUT:?}: {e} (got {buf:02x?})"),
        }
    }
}

/// Reads exactly `n` msgpack objects the server sent (acks that may arrive in one segment).
pub fn read_replies(stream: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut replies = Vec::new();
    while replies.len() < n {
        if let Some(len) = object_len(&buf) {
            replies.push(buf.drain(..len).collect());
            continue;
        }
        match stream.read(&mut chunk) {
            Ok(0) => panic!("connection closed after {} of {n} replies", replies.len()),
            Ok(got) => buf.extend_from_slice(&chunk[..got]),
            Err(e) => panic!("no reply within {TIMEOUT:?}: {e} (got {replies:02x?})"),
        }
    }
    assert!(buf.is_empty(), "more than {n} objects arrived: {buf:02x?}");
    replies
}

/// The length of the msgpack object at the start of `buf`, once complete (rmp's markers).
pub fn object_len(buf: &[u8]) -> Option<usize> {
    let mut cur = buf;
    skip_object(&mut cur)?;
    Some(buf.len() - cur.len())
}

fn skip_object(cur: &mut &[u8]) -> Option<()> {
    use rmp::Marker;
    let marker = Marker::from_u8(*cur.first()?);
    *cur = &cur[1..];
    let take = |cur: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        let (head, rest) = (cur.get(..n)?.to_vec(), cur.get(n..)?);
        *cur = rest;
        Some(head)
    };
    let be = |b: Vec<u8>| b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
    let (payload, children) = match marker {
        Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
            (0, 0)
        }
        Marker::U8 | Marker::I8 => (1, 0),
        Marker::U16 | Marker::I16 => (2, 0),
        Marker::U32 | Marker::I32 | Marker::F32 => (4, 0),
        Marker::U64 | Marker::I64 | Marker::F64 => (8, 0),
        Marker::FixStr(n) => (usize::from(n), 0),
        Marker::Str8 | Marker::Bin8 => (be(take(cur, 1)?), 0),
        Marker::Str16 | Marker::Bin16 => (be(take(cur, 2)?), 0),
        Marker::Str32 | Marker::Bin32 => (be(take(cur, 4)?), 0),
        Marker::FixArray(n) => (0, usize::from(n)),
        Marker::Array16 => (0, be(take(cur, 2)?)),
        Marker::Array32 => (0, be(take(cur, 4)?)),
        Marker::FixMap(n) => (0, 2 * usize::from(n)),
        Marker::Map16 => (0, 2 * be(take(cur, 2)?)),
        Marker::Map32 => (0, 2 * be(take(cur, 4)?)),
        Marker::FixExt1 => (2, 0),
        Marker::FixExt2 => (3, 0),
        Marker::FixExt4 => (5, 0),
        Marker::FixExt8 => (9, 0),
        Marker::FixExt16 => (17, 0),
        Marker::Ext8 => (be(take(cur, 1)?) + 1, 0),
        Marker::Ext16 => (be(take(cur, 2)?) + 1, 0),
        Marker::Ext32 => (be(take(cur, 4)?) + 1, 0),
        Marker::Reserved => panic!("the server sent the reserved marker 0xc1"),
    };
    take(cur, payload)?;
    for _ in 0..children {
        skip_object(cur)?;
    }
    Some(())
}

/// What the server did with a message it must not acknowledge.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It closed the connection.
    Closed,
    /// It dropped the message, kept the connection and acknowledged the next one.
    SkippedInSync,
}

/// Sends `bad` (which asks for an ack with chunk `bad`) followed by a good message asking for
/// ack `next_chunk` on the same connection, and reports how the server refused `bad`. Panics if
/// `bad` is acknowledged or anything unexpected comes back.
pub fn refuse(stream: &mut TcpStream, bad: &[u8], next: &[u8], next_chunk: &str) -> Refusal {
    // A server that already closed may reset the connection under the second write.
    let _ = stream.write_all(&[bad, next].concat());
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => {
                assert!(buf.is_empty(), "partial reply then close: {buf:02x?}");
                return Refusal::Closed;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return Refusal::Closed
            }
            Err(e) => panic!("neither closed nor acknowledged the next message: {e}"),
        }
        if let Some(len) = object_len(&buf) {
            assert_eq!(
                buf[..len],
                ack(next_chunk),
                "only the next message may be acknowledged"
            );
            return Refusal::SkippedInSync;
        }
    }
}

/// Proves that the message just sent on `stream` got no reply: sends `probe`, which asks for
/// ack `chunk`, and asserts that the first (and only) reply is that ack. Replies come in
/// order, so an ack of the earlier message would have come first.
pub fn assert_no_ack_before(stream: &mut TcpStream, probe: &[u8], chunk: &str) {
    stream.write_all(probe).expect("send the probe");
    assert_eq!(
        read_reply(stream),
        ack(chunk),
        "the first reply is the probe's ack"
    );
}

/// Sends `message` on a fresh connection, waits for its ack (`chunk`), and closes.
pub fn send_acked(addr: SocketAddr, message: &[u8], chunk: &str) {
    let mut stream = send_new(addr, message);
    assert_eq!(read_reply(&mut stream), ack(chunk));
}

/// The body lines of `GET path`.
pub fn lines(http: SocketAddr, path: &str) -> Vec<String> {
    let response = get(http, path);
    assert_eq!(response.status, 200, "GET {path}");
    response.lines()
}

/// Waits until `GET path` has at least `n` lines; returns them.
pub fn wait_lines(http: SocketAddr, path: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = lines(http, path);
        if now.len() >= n {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{path} has {} lines, wanted {n}: {now:#?}",
            now.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `vivo_input_rejected_total` of input `input`, per reason (from /internal/metrics).
pub fn rejections(http: SocketAddr, input: &str) -> BTreeMap<String, u64> {
    let text = get(http, "/internal/metrics").text();
    let prefix = format!("vivo_input_rejected_total{{input=\"{input}\",reason=\"");
    text.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|rest| {
            let (reason, value) = rest.split_once("\"} ").expect("a counter line");
            assert!(!reason.is_empty(), "a rejection has a reason");
            (
                reason.to_string(),
                value.trim().parse::<u64>().expect("a counter value"),
            )
        })
        .collect()
}

/// Sum of `vivo_input_rejected_total` over every reason, for checks that nothing was refused.
pub fn rejected_total(http: SocketAddr, input: &str) -> u64 {
    rejections(http, input).values().sum()
}

/// Waits until `input` has refused exactly one more thing than `before`, for `reason`, and
/// nothing else.
pub fn wait_rejected(http: SocketAddr, input: &str, before: &BTreeMap<String, u64>, reason: &str) {
    let mut expected = before.clone();
    *expected.entry(reason.to_string()).or_default() += 1;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = rejections(http, input);
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "rejections of {input}: {now:?}, wanted {expected:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- msgpack builders ----

/// A msgpack `str`.
pub fn s(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_str(&mut out, text).unwrap();
    out
}

/// A msgpack `bin`.
pub fn bin(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_bin(&mut out, data).unwrap();
    out
}

/// A msgpack unsigned integer.
pub fn uint(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_uint(&mut out, n).unwrap();
    out
}

/// A msgpack `float 64`.
pub fn f64_(x: f64) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_f64(&mut out, x).unwrap();
    out
}

/// A Forward EventTime (`ext` type 0: seconds and nanoseconds, big-endian u32 each).
pub fn event_time(secs: u32, nanos: u32) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_ext_meta(&mut out, 8, 0).unwrap();
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&nanos.to_be_bytes());
    out
}

/// A msgpack array of already-encoded items.
pub fn arr(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_array_len(&mut out, items.len() as u32).unwrap();
    for item in items {
        out.extend_from_slice(item);
    }
    out
}

/// A msgpack map with string keys and already-encoded values.
pub fn map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_map_len(&mut out, pairs.len() as u32).unwrap();
    for (key, value) in pairs {
        out.extend_from_slice(&s(key));
        out.extend_from_slice(value);
    }
    out
}

/// The ack the server must send for `chunk`: `{"ack": chunk}`.
pub fn ack(chunk: &str) -> Vec<u8> {
    map(&[("ack", s(chunk))])
}

/// One gzip member holding `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

// ---- the secure-forward handshake, client side (as Fluent Bit's out_forward does it) ----

/// What a client takes from the server's HELO.
pub struct Helo {
    pub nonce: Vec<u8>,
    pub auth: Vec<u8>,
    pub keepalive: bool,
}

/// A `str` or `bin` value.
fn read_raw(cur: &mut &[u8]) -> Vec<u8> {
    use rmp::Marker;
    let len = match Marker::from_u8(cur[0]) {
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            rmp::decode::read_str_len(cur).unwrap() as usize
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            rmp::decode::read_bin_len(cur).unwrap() as usize
        }
        other => panic!("expected str or bin, got {other:?}"),
    };
    let (value, rest) = cur.split_at(len);
    *cur = rest;
    value.to_vec()
}

/// Reads and decodes the HELO the server sends first.
pub fn read_helo(stream: &mut TcpStream) -> Helo {
    let bytes = read_reply(stream);
    let mut cur = &bytes[..];
    assert_eq!(rmp::decode::read_array_len(&mut cur).unwrap(), 2, "HELO");
    assert_eq!(read_raw(&mut cur), b"HELO");
    let mut helo = Helo {
        nonce: Vec::new(),
        auth: Vec::new(),
        keepalive: false,
    };
    for _ in 0..rmp::decode::read_map_len(&mut cur).unwrap() {
        match read_raw(&mut cur).as_slice() {
            b"nonce" => helo.nonce = read_raw(&mut cur),
            b"auth" => helo.auth = read_raw(&mut cur),
            b"keepalive" => helo.keepalive = rmp::decode::read_bool(&mut cur).unwrap(),
            other => panic!("unexpected HELO option {other:?}"),
        }
    }
    helo
}

/// Lowercase hex SHA-512 of the concatenated parts.
pub fn sha512_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha512};
    let mut hasher = Sha512::new();
    for part in parts {
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A msgpack `str` holding arbitrary bytes (Fluent Bit sends its raw salt that way).
fn raw_str(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_str_len(&mut out, bytes.len() as u32).unwrap();
    out.extend_from_slice(bytes);
    out
}

/// The client's shared-key salt in these tests: 16 bytes, not UTF-8, as Fluent Bit's are.
pub const CLIENT_SALT: [u8; 16] = [
    0x9f, 0x00, 0xff, 0x41, 0x80, 0x7f, 0xc3, 0x28, 0x01, 0x02, 0x03, 0x04, 0xfe, 0xed, 0xfa, 0xce,
];

/// The PING Fluent Bit's `out_forward` sends for `helo`: credentials only when HELO asked.
pub fn ping(helo: &Helo, hostname: &str, key: &str, user: Option<(&str, &str)>) -> Vec<u8> {
    let digest = sha512_hex(&[
        &CLIENT_SALT,
        hostname.as_bytes(),
        &helo.nonce,
        key.as_bytes(),
    ]);
    let (username, password_digest) = match user {
        Some((name, password)) if !helo.auth.is_empty() => (
            name.to_string(),
            sha512_hex(&[&helo.auth, name.as_bytes(), password.as_bytes()]),
        ),
        _ => (String::new(), String::new()),
    };
    arr(&[
        s("PING"),
        s(hostname),
        raw_str(&CLIENT_SALT),
        s(&digest),
        s(&username),
        s(&password_digest),
    ])
}

/// A decoded PONG: (auth result, reason, server hostname, server digest).
pub fn read_pong(stream: &mut TcpStream) -> (bool, String, String, String) {
    let bytes = read_reply(stream);
    let mut cur = &bytes[..];
    assert_eq!(rmp::decode::read_array_len(&mut cur).unwrap(), 5, "PONG");
    assert_eq!(read_raw(&mut cur), b"PONG");
    let ok = rmp::decode::read_bool(&mut cur).unwrap();
    let mut text = || String::from_utf8(read_raw(&mut cur)).unwrap();
    (ok, text(), text(), text())
}

/// Reads until the server closes the connection; panics on data or a timeout.
pub fn expect_closed(stream: &mut TcpStream) {
    let mut chunk = [0u8; 256];
    match stream.read(&mut chunk) {
        Ok(0) => {}
        Ok(n) => panic!("expected a close, got {:02x?}", &chunk[..n]),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        Err(e) => panic!("the server did not close the connection: {e}"),
    }
}
