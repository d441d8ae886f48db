//! OTLP logs as era-A log lines: `[[<ts>,{"_tag":<tag>,"otlp":{…}}],<body>]`, one per log
//! record, as Fluent Bit's `opentelemetry` input and `vivo_exporter` print them
//! (otlp-mapping §2), with the recommended fixes of its §5:
//!
//! - the timestamp is the true nanoseconds (`time_unix_nano`, or `observed_time_unix_nano` when
//!   that is 0, or the time of arrival when both are), not Fluent Bit 4.1's corrupted value
//!   (§2.2, §5.1);
//! - `trace_id` and `span_id` are lowercase hex strings, not raw bytes (§2.3, §5.2);
//! - OTLP/JSON and protobuf requests give the same lines (§5.3): both are decoded into the same
//!   OTLP messages, and the metadata is the protobuf path's: `observed_timestamp` and
//!   `timestamp` when not 0, `severity_number` when 1-24, `severity_text` when not empty,
//!   `attributes` when there are any, the IDs when not empty, and `trace_flags` always;
//! - bytes values are base64 text (see [`super::json`]).
//!
//! Resource and scope never appear in era-A lines (§2.1), as in Fluent Bit.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::json::JsonOut;

/// How log records become lines: the input's settings that shape them.
#[derive(Clone, Copy, Debug)]
pub struct LogShape<'a> {
    /// The `_tag` of every line.
    pub tag: &'a str,
    /// `logs_metadata_key`: the name of the metadata map (Fluent Bit's default `otlp`).
    pub metadata_key: &'a str,
    /// `logs_body_key`: when set, every body goes under this key.
    pub body_key: Option<&'a str>,
    /// `json.escape_unicode`.
    pub escape_unicode: bool,
    /// Nanoseconds since the epoch at arrival, for records with no time at all.
    pub now_ns: u64,
    /// The most JSON the request may render to, and the most records it may hold.
    pub limits: crate::render::RenderLimits,
}

/// A request that renders past its [`LogShape::limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverLimit {
    /// More bytes of JSON than `max_entry_bytes`.
    Bytes(usize),
    /// More records than `max_records`.
    Records(u64),
}

/// Appends one line per log record of `request`; returns how many, or stops as soon as the
/// request passes its limits.
pub fn render_logs(
    request: &ExportLogsServiceRequest,
    shape: LogShape<'_>,
    out: &mut Vec<u8>,
) -> Result<u64, OverLimit> {
    let mut lines = 0;
    let mut json = JsonOut {
        out,
        escape_unicode: shape.escape_unicode,
    };
    for resource in &request.resource_logs {
        for scope in &resource.scope_logs {
            for record in &scope.log_records {
                lines += 1;
                if lines > shape.limits.max_records {
                    return Err(OverLimit::Records(shape.limits.max_records));
                }
                write_line(&mut json, record, &shape);
                if json.out.len() > shape.limits.max_entry_bytes {
                    return Err(OverLimit::Bytes(shape.limits.max_entry_bytes));
                }
            }
        }
    }
    Ok(lines)
}

fn write_line(json: &mut JsonOut<'_>, record: &LogRecord, shape: &LogShape<'_>) {
    let ts = [
        record.time_unix_nano,
        record.observed_time_unix_nano,
        shape.now_ns,
    ]
    .into_iter()
    .find(|&t| t != 0)
    .unwrap_or(0);
    json.raw(b"[[");
    // Nanoseconds past i64::MAX (the year 2262) are clamped, as era-A times are signed.
    json.i64(i64::try_from(ts).unwrap_or(i64::MAX));
    json.raw(b",{");
    json.key("_tag");
    json.str(shape.tag);
    json.raw(b",");
    json.key(shape.metadata_key);
    write_metadata(json, record);
    json.raw(b"}],");
    write_body(json, record, shape.body_key);
    json.raw(b"]\n");
}

/// The metadata map, keys in Fluent Bit's order (§2.3).
fn write_metadata(json: &mut JsonOut<'_>, record: &LogRecord) {
    json.raw(b"{");
    let mut first = true;
    let mut key = |json: &mut JsonOut<'_>, name: &str| {
        if !first {
            json.raw(b",");
        }
        first = false;
        json.key(name);
    };
    if record.observed_time_unix_nano != 0 {
        key(json, "observed_timestamp");
        json.u64(record.observed_time_unix_nano);
    }
    if record.time_unix_nano != 0 {
        key(json, "timestamp");
        json.u64(record.time_unix_nano);
    }
    if (1..=24).contains(&record.severity_number) {
        key(json, "severity_number");
        json.i64(i64::from(record.severity_number));
    }
    if !record.severity_text.is_empty() {
        key(json, "severity_text");
        json.str(&record.severity_text);
    }
    if !record.attributes.is_empty() {
        key(json, "attributes");
        json.attributes(&record.attributes);
    }
    if !record.trace_id.is_empty() {
        key(json, "trace_id");
        json.hex_or_null(&record.trace_id);
    }
    if !record.span_id.is_empty() {
        key(json, "span_id");
        json.hex_or_null(&record.span_id);
    }
    key(json, "trace_flags");
    json.u64(u64::from(record.flags & 0xff));
    json.raw(b"}");
}

/// The record: a kvlist body is the record itself; any other body (or none) goes under `log`;
/// with `logs_body_key`, every body goes under that key (§2.4).
fn write_body(json: &mut JsonOut<'_>, record: &LogRecord, body_key: Option<&str>) {
    let body = record.body.as_ref();
    match (body_key, body.and_then(|b| b.value.as_ref())) {
        (None, Some(Value::KvlistValue(list))) => json.attributes(&list.values),
        (key, _) => {
            json.raw(b"{");
            json.key(key.unwrap_or("log"));
            json.any_value(body);
            json.raw(b"}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{
        AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
    };
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn value(v: Value) -> Option<AnyValue> {
        Some(AnyValue { value: Some(v) })
    }

    fn kv(key: &str, v: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value(v),
            ..KeyValue::default()
        }
    }

    fn string(s: &str) -> Value {
        Value::StringValue(s.into())
    }

    /// The two records of otlp-mapping §2.6.
    fn spec_request() -> ExportLogsServiceRequest {
        let first = LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_time_unix_nano: 1_700_000_000_200_000_000,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: value(string("hello")),
            attributes: vec![
                kv("user", string("alice")),
                kv("n", Value::IntValue(42)),
                kv("ok", Value::BoolValue(true)),
                kv("ratio", Value::DoubleValue(0.5)),
                kv(
                    "tags",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(string("a")),
                            },
                            AnyValue {
                                value: Some(Value::IntValue(1)),
                            },
                        ],
                    }),
                ),
                kv("raw", Value::BytesValue(vec![1, 2])),
            ],
            flags: 1,
            ..LogRecord::default()
        };
        let second = LogRecord {
            time_unix_nano: 1_700_000_001_000_000_000,
            body: value(Value::KvlistValue(KeyValueList {
                values: vec![kv("msg", string("bye")), kv("code", Value::IntValue(7))],
            })),
            ..LogRecord::default()
        };
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", string("cart"))],
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1.0".into(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: vec![first, second],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
    }

    fn shape() -> LogShape<'static> {
        LogShape {
            tag: "v1_logs",
            metadata_key: "otlp",
            body_key: None,
            escape_unicode: true,
            now_ns: 1_800_000_000_000_000_000,
            limits: crate::render::RenderLimits::default(),
        }
    }

    #[test]
    fn a_request_past_its_limits_stops_there() {
        let request = spec_request();
        let mut out = Vec::new();
        let tight = |max_entry_bytes, max_records| LogShape {
            limits: crate::render::RenderLimits {
                max_entry_bytes,
                max_records,
            },
            ..shape()
        };
        assert_eq!(
            render_logs(&request, tight(100, 10), &mut out),
            Err(OverLimit::Bytes(100))
        );
        out.clear();
        assert_eq!(
            render_logs(&request, tight(1 << 20, 1), &mut out),
            Err(OverLimit::Records(1))
        );
    }

    fn render(request: &ExportLogsServiceRequest, shape: LogShape<'_>) -> String {
        let mut out = Vec::new();
        let lines = render_logs(request, shape, &mut out).expect("within the limits");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(lines as usize, text.lines().count());
        text
    }

    #[test]
    fn the_spec_example_with_true_timestamps_and_base64_bytes() {
        // otlp-mapping §2.6's protobuf lines, with the two deliberate differences: the
        // timestamps are the records' own (not 1699999999332178965 and 1700000001208722175),
        // and the bytes attribute is base64 ("AQI=") instead of the raw "\u0001\u0002".
        let expected = concat!(
            r#"[[1700000000123456789,{"_tag":"v1_logs","otlp":{"observed_timestamp":1700000000200000000,"timestamp":1700000000123456789,"severity_number":9,"severity_text":"INFO","attributes":{"user":"alice","n":42,"ok":true,"ratio":0.5,"tags":["a",1],"raw":"AQI="},"trace_flags":1}}],{"log":"hello"}]"#,
            "\n",
            r#"[[1700000001000000000,{"_tag":"v1_logs","otlp":{"timestamp":1700000001000000000,"trace_flags":0}}],{"msg":"bye","code":7}]"#,
            "\n"
        );
        assert_eq!(render(&spec_request(), shape()), expected);
    }

    #[test]
    fn ids_are_hex_severity_outside_1_to_24_is_left_out_and_times_fall_back() {
        let mut request = spec_request();
        let records = &mut request.resource_logs[0].scope_logs[0].log_records;
        records.truncate(1);
        let record = &mut records[0];
        record.trace_id = (0..16).collect();
        record.span_id = vec![0xab; 8];
        record.severity_number = 25;
        record.time_unix_nano = 0;
        record.attributes.clear();
        record.body = None;
        let text = render(&request, shape());
        assert_eq!(
            text,
            "[[1700000000200000000,{\"_tag\":\"v1_logs\",\"otlp\":{\"observed_timestamp\":1700000000200000000,\"severity_text\":\"INFO\",\"trace_id\":\"000102030405060708090a0b0c0d0e0f\",\"span_id\":\"abababababababab\",\"trace_flags\":1}}],{\"log\":null}]\n"
        );
        // No time at all: the time of arrival.
        request.resource_logs[0].scope_logs[0].log_records[0].observed_time_unix_nano = 0;
        assert!(render(&request, shape()).starts_with("[[1800000000000000000,"));
    }

    #[test]
    fn metadata_and_body_keys_and_raw_utf8() {
        let mut request = spec_request();
        request.resource_logs[0].scope_logs[0].log_records[0].body = value(string("héllo"));
        let shape = LogShape {
            metadata_key: "meta",
            body_key: Some("message"),
            escape_unicode: false,
            ..shape()
        };
        let text = render(&request, shape);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains(r#"{"_tag":"v1_logs","meta":{"#),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].ends_with(r#"{"message":"héllo"}]"#),
            "{}",
            lines[0]
        );
        // With logs_body_key a kvlist body goes under the key too.
        assert!(
            lines[1].ends_with(r#"{"message":{"msg":"bye","code":7}}]"#),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn an_empty_request_renders_nothing() {
        assert_eq!(render(&ExportLogsServiceRequest::default(), shape()), "");
    }
}
