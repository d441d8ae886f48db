//! Shared test helpers: start the real service on ephemeral loopback ports, and a small raw
//! HTTP/1.1 client that shows exactly what went over the wire.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

pub mod binary;
pub mod forward;
pub mod nginx;
pub mod tls;
pub mod vectors;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use vivo_exporter::config::{Config, ConfigFormat};
use vivo_exporter::service::Service;

/// The Python that runs the third-party test clients: the virtual environment `.ci/run` makes
/// under `target/test-venv` (with fluent-logger, msgpack, prometheus_client, the OpenTelemetry
/// SDK), or the `python3` on the PATH when that does not exist.
pub fn python() -> std::process::Command {
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv/bin/python3");
    std::process::Command::new(if venv.exists() {
        venv.into_os_string()
    } else {
        "python3".into()
    })
}

/// Starts the service from classic config text (which should use `port 0` / `127.0.0.1`).
pub fn start(config_text: &str) -> Service {
    let config = Config::parse(config_text, ConfigFormat::Classic, "test config")
        .unwrap_or_else(|e| panic!("test config does not parse: {e}"));
    Service::start(&config).unwrap_or_else(|e| panic!("service does not start: {e}"))
}

/// A config with one `vivo_exporter` output on an ephemeral port and no inputs, plus `extra`
/// lines appended to the output section.
pub fn output_only(extra: &str) -> String {
    format!(
        "[SERVICE]\n    flush 0.05\n    log_level warn\n\n[OUTPUT]\n    name vivo_exporter\n    match *\n    host 127.0.0.1\n    port 0\n{extra}\n"
    )
}

/// The first read-API address of output 0.
pub fn http_addr(service: &Service) -> SocketAddr {
    service.http_addrs(0)[0]
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of a header (case-insensitive name), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }

    /// The body's lines (each ended by `\n`), without the newlines.
    pub fn lines(&self) -> Vec<String> {
        let text = self.text();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "body does not end with a newline: {text:?}"
        );
        text.lines().map(str::to_string).collect()
    }
}

/// Sends one raw request (`method path`, extra header lines) and reads the whole response.
pub fn request(addr: SocketAddr, method: &str, target: &str, extra_headers: &[&str]) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in extra_headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw, method == "HEAD")
}

/// `GET path`.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target, &[])
}

fn parse_response(raw: &[u8], head_only: bool) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).expect("headers are text");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let mut parts = status_line.splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"));
    let status: u16 = parts.next().unwrap().parse().unwrap();
    let reason = parts.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').expect("header line");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let rest = &raw[split + 4..];
    let is_chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if head_only {
        assert!(rest.is_empty(), "HEAD response carried a body");
        Vec::new()
    } else if is_chunked {
        dechunk(rest)
    } else {
        let length = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse::<usize>().unwrap());
        if let Some(length) = length {
            assert_eq!(
                rest.len(),
                length,
                "body length differs from Content-Length"
            );
        }
        rest.to_vec()
    };
    Response {
        status,
        reason,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Polls `check` until it returns `Some`, for at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
