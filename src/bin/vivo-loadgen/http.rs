//! Protocols over HTTP/1.1: OTLP/HTTP protobuf log requests (`POST /v1/logs`, what
//! OpenTelemetry SDKs and Collectors send) and the HTTP JSON input's array bodies
//! (`POST /<tag>`). Every request waits for its response before the next one is sent on that
//! connection, as an exporter does; the response's status code is the acknowledgement.
//!
//! Bodies are encoded (and compressed) once at start, in a few variants with different records
//! and timestamps, as for Forward.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

use crate::protocol::{Ack, Message, Protocol};

/// How many different bodies are cycled through.
const VARIANTS: u64 = 8;

/// Text the message of a record is cut from.
const FILLER: &str = "GET /api/v1/items?page=42 200 OK in 3.1 ms from 10.0.0.7 \
                      user-agent=curl/8.5.0 trace=ab12cd34ef56 span=0011223344556677 ";

/// Which HTTP body to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// OTLP/HTTP protobuf logs, to `/v1/logs`.
    OtlpLogs,
    /// A JSON array of records, to `/<tag>` of the `http` input.
    JsonRecords,
}

/// What the requests look like.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Which body.
    pub body: Body,
    /// The `Host` header and the tag (the JSON path).
    pub host: String,
    /// The tag (JSON input path).
    pub tag: String,
    /// Records per request.
    pub events_per_request: u32,
    /// Approximate size of one record's text.
    pub record_bytes: usize,
    /// gzip the bodies (`Content-Encoding: gzip`).
    pub gzip: bool,
}

/// Requests over HTTP/1.1 with pre-encoded bodies.
pub struct HttpProtocol {
    settings: HttpSettings,
    /// Per variant: the whole request, head and body.
    requests: Vec<Bytes>,
}

impl HttpProtocol {
    /// Encodes the body variants for `settings`.
    pub fn new(settings: HttpSettings) -> HttpProtocol {
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let requests = (0..VARIANTS)
            .map(|variant| {
                let body = match settings.body {
                    Body::OtlpLogs => otlp_body(&settings, variant, now_ns),
                    Body::JsonRecords => json_body(&settings, variant),
                };
                let body = if settings.gzip { gzip(&body) } else { body };
                let (path, content_type) = match settings.body {
                    Body::OtlpLogs => ("/v1/logs".to_string(), "application/x-protobuf"),
                    Body::JsonRecords => (format!("/{}", settings.tag), "application/json"),
                };
                let mut request = format!(
                    "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
                     Content-Length: {}\r\n",
                    settings.host,
                    body.len()
                );
                if settings.gzip {
                    request.push_str("Content-Encoding: gzip\r\n");
                }
                request.push_str("\r\n");
                let mut bytes = request.into_bytes();
                bytes.extend_from_slice(&body);
                Bytes::from(bytes)
            })
            .collect();
        HttpProtocol { settings, requests }
    }
}

fn message_text(settings: &HttpSettings, variant: u64, i: u32) -> String {
    let prefix = format!("v{variant} r{i} ");
    let filler: String = FILLER
        .chars()
        .cycle()
        .take(settings.record_bytes.saturating_sub(prefix.len()))
        .collect();
    prefix + &filler
}

fn otlp_body(settings: &HttpSettings, variant: u64, now_ns: u64) -> Vec<u8> {
    let string = |s: &str| {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(s.to_string())),
        })
    };
    let records = (0..settings.events_per_request)
        .map(|i| LogRecord {
            time_unix_nano: now_ns + variant * 1_000_000 + u64::from(i),
            severity_number: 9,
            severity_text: "INFO".into(),
            body: string(&message_text(settings, variant, i)),
            attributes: vec![KeyValue {
                key: "seq".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(i64::from(i))),
                }),
                ..KeyValue::default()
            }],
            ..LogRecord::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: string("vivo-loadgen"),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "vivo-loadgen".into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
    .encode_to_vec()
}

fn json_body(settings: &HttpSettings, variant: u64) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..settings.events_per_request)
        .map(|i| serde_json::json!({"msg": message_text(settings, variant, i), "seq": i}))
        .collect();
    serde_json::Value::Array(records).to_string().into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

impl Protocol for HttpProtocol {
    fn name(&self) -> &'static str {
        match (self.settings.body, self.settings.gzip) {
            (Body::OtlpLogs, false) => "otlp/http (protobuf logs)",
            (Body::OtlpLogs, true) => "otlp/http (protobuf logs, gzip)",
            (Body::JsonRecords, false) => "http json (array)",
            (Body::JsonRecords, true) => "http json (array, gzip)",
        }
    }

    fn events_per_message(&self) -> u64 {
        u64::from(self.settings.events_per_request)
    }

    fn message(&self, seq: u64) -> Message {
        Message {
            parts: vec![self.requests[(seq % VARIANTS) as usize].clone()],
            // Success is 200 (OTLP) or 201 (the HTTP input's default): any 2xx.
            ack_token: Some(b"2xx".to_vec()),
        }
    }

    fn parse_ack(&self, received: &[u8]) -> Result<Option<Ack>, String> {
        let Some(head_end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Ok(None);
        };
        let head =
            std::str::from_utf8(&received[..head_end]).map_err(|_| "a non-text response head")?;
        let status = head
            .split(' ')
            .nth(1)
            .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        let consumed = head_end + 4 + length;
        if received.len() < consumed {
            return Ok(None);
        }
        let token = if status.starts_with('2') {
            b"2xx".to_vec()
        } else {
            let body = String::from_utf8_lossy(&received[head_end + 4..consumed]);
            format!("{status} {body}").into_bytes()
        };
        Ok(Some(Ack { consumed, token }))
    }
}
