//! Compressed reads over real sockets: `Accept-Encoding` negotiated as HTTP says (q-values,
//! identity when nothing acceptable is offered, no brotli), each encoding decompressed and compared byte
//! for byte with the plain read, plain reads untouched, and a compressed SSE follow that still
//! delivers each event as it is published.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;

use common::forward::forward_service as service;
use common::forward::{ack, arr, map, read_reply, s, uint};
use common::{get, request};

/// Publishes one message of `records` log-like records and waits for its ack.
fn publish(fwd: SocketAddr, n: u64, records: u64) {
    let mut stream = common::forward::connect(fwd);
    let chunk = format!("c{n}");
    let entries: Vec<Vec<u8>> = (0..records)
        .map(|i| {
            arr(&[
                uint(1_700_000_000 + i),
                map(&[
                    ("level", s(if i % 7 == 0 { "warn" } else { "info" })),
                    (
                        "msg",
                        s(&format!(
                            "GET /api/v1/items/{} 200 {}ms",
                            i * 37 % 1000,
                            i % 90
                        )),
                    ),
                    ("host", s("web-3.prod.example")),
                ]),
            ])
        })
        .collect();
    let message = arr(&[s("app"), arr(&entries), map(&[("chunk", s(&chunk))])]);
    stream.write_all(&message).unwrap();
    assert_eq!(read_reply(&mut stream), ack(&chunk));
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

#[test]
fn every_encoding_gives_back_the_plain_bytes_and_plain_reads_stay_plain() {
    let (_service, fwd, http) = service("");
    for n in 0..20 {
        publish(fwd, n, 200);
    }
    let plain = get(http, "/logs");
    assert_eq!(plain.header("Content-Encoding"), None);
    assert!(plain.body.len() > 200_000, "{} bytes", plain.body.len());
    type Decode = fn(&[u8]) -> Vec<u8>;
    let cases: [(&str, &str, Decode); 5] = [
        ("gzip", "gzip", gunzip),
        ("zstd", "zstd", |d| zstd::decode_all(d).expect("valid zstd")),
        // What a browser sends: zstd, the cheapest of those we offer (no br: see README).
        ("gzip, deflate, br, zstd", "zstd", |d| {
            zstd::decode_all(d).expect("valid zstd")
        }),
        ("br, gzip", "gzip", gunzip),
        // q-values: the client's preference wins, a refused coding is never used.
        ("gzip;q=0.2, zstd;q=0.9, br;q=0", "zstd", |d| {
            zstd::decode_all(d).expect("valid zstd")
        }),
    ];
    for (accept, coding, decode) in cases {
        let answer = request(
            http,
            "GET",
            "/logs",
            &[&format!("Accept-Encoding: {accept}")],
        );
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(answer.header("Content-Encoding"), Some(coding), "{accept}");
        assert!(
            answer
                .headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case("vary")
                    && v.eq_ignore_ascii_case("accept-encoding")),
            "{accept}: Vary: Accept-Encoding"
        );
        assert_eq!(answer.header("Vivo-Stream-Next-ID"), Some("20"), "{accept}");
        assert!(
            answer.body.len() * 4 < plain.body.len(),
            "{accept}: {} of {} bytes",
            answer.body.len(),
            plain.body.len()
        );
        assert!(
            decode(&answer.body) == plain.body,
            "{accept}: decompressed differs from the plain read"
        );
    }
    for accept in ["identity", "compress", "gzip;q=0", "br"] {
        let answer = request(
            http,
            "GET",
            "/logs",
            &[&format!("Accept-Encoding: {accept}")],
        );
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(answer.header("Content-Encoding"), None, "{accept}");
        assert!(answer.body == plain.body, "{accept}");
    }
}

#[test]
fn http_compression_off_never_compresses() {
    let (_service, fwd, http) = service("    http_compression off");
    publish(fwd, 0, 50);
    let answer = request(http, "GET", "/logs", &["Accept-Encoding: gzip, zstd, br"]);
    assert_eq!(answer.header("Content-Encoding"), None);
    assert_eq!(answer.body, get(http, "/logs").body);
}

#[test]
fn a_gzip_sse_follow_delivers_each_event_as_it_is_published() {
    let (_service, fwd, http) = service("");
    publish(fwd, 0, 1);
    let mut stream = std::net::TcpStream::connect(http).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /logs HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    let mut body_start = None;
    let mut consumed = 0;
    let mut buf = [0u8; 8192];
    for expected_id in 0..3u64 {
        if expected_id > 0 {
            publish(fwd, expected_id, 1);
        }
        let wanted = format!("id: {expected_id}\n");
        loop {
            let text = String::from_utf8_lossy(decoder.get_ref()).into_owned();
            if text.contains(&wanted) {
                break;
            }
            let n = stream
                .read(&mut buf)
                .expect("the event arrives without more publishing");
            assert!(n > 0, "closed");
            raw.extend_from_slice(&buf[..n]);
            if body_start.is_none() {
                if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..at]).to_ascii_lowercase();
                    assert!(head.contains("content-encoding: gzip"), "{head}");
                    body_start = Some(at + 4);
                    consumed = at + 4;
                }
            }
            // Feed whole chunks of the chunked body to the decoder.
            while body_start.is_some() {
                let rest = &raw[consumed..];
                let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
                    break;
                };
                let size =
                    usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16)
                        .expect("chunk size");
                if rest.len() < line_end + 2 + size + 2 {
                    break;
                }
                decoder
                    .write_all(&rest[line_end + 2..line_end + 2 + size])
                    .unwrap();
                decoder.flush().unwrap();
                consumed += line_end + 2 + size + 2;
            }
        }
    }
}
