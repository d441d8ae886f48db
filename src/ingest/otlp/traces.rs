//! OTLP trace requests as the ctraces JSON line of the `traces` stream.
//!
//! An OTLP trace request becomes one line, the one `vivo_exporter` printed for the chunk that
//! Fluent Bit v4.1.2's `opentelemetry` input made from the same request sent as **protobuf**
//! (`shared/spec/otlp-mapping.md` §4.1, the ctraces shape of `vivo-exporter-behaviour.md` §9):
//! `{"resourceSpans":[…]}` with 16-key spans, then `\n`. OTLP/JSON requests are decoded into the
//! same OTLP model first, so they get this shape too, without the JSON path quirks of §4.2
//! (otlp-mapping §5.3–5.5).
//!
//! Kept as Fluent Bit v4.1.2 prints them (§4.1): resource-span and scope-span `schema_url` as
//! strings (`""` when unset); `"scope":null` for a ScopeSpans without scope, else `name` and
//! `version` (`""` when unset), `attributes` (always a map) and `dropped_attributes_count`; IDs
//! as lowercase hex of the bytes received, `null` when empty; an empty `trace_state` as `null`;
//! `kind` as sent, and 1 (internal) when outside 0–5; times and dropped counts as sent; event
//! and link `attributes` `{}` when there are none; span `schema_url` always `null`; span and link
//! `flags` never written; an absent status as `{"code":0,"message":null}`, a present one with
//! its code as sent and its message (`""` when unset).
//!
//! Deliberate differences from Fluent Bit v4.1.2:
//! - **One line per request, with every resource** (otlp-mapping §5.9, vivo §13.8): Fluent Bit
//!   prints only the first ctraces context of a chunk (vivo §11.4).
//! - **A top-level bytes or unset attribute value keeps the attribute set** (§4.1 bug: Fluent
//!   Bit prints `{}` for the span, event, link or resource, and `"scope":null` for the scope):
//!   bytes are their base64 text and an unset value is `null`, at any depth (see [`super::json`];
//!   Fluent Bit prints nested bytes raw through its escaper).
//! - **A link keeps its `trace_state`** (§4.1: v4.1.2 drops it and prints `null`; ctraces HEAD
//!   keeps it). A link without one still prints `null`.
//! - **An event time of 0 stays 0** (§4.1: Fluent Bit stores the time of decoding), so the line
//!   depends only on the request.
//! - **Empty containers are skipped** (§5.11): a ScopeSpans without spans and a ResourceSpans
//!   whose scopes hold no span are left out, and a request without any span writes nothing,
//!   where Fluent Bit prints `"spans":[]`, `"scope_spans":[]` or an empty context.
//! - **An absent resource prints as an empty one** (`{"attributes":{},"dropped_attributes_count":0}`):
//!   Fluent Bit rejects the request with 400 (§4.1); rejecting is the caller's validation
//!   (§5.11), this renderer only renders.
//! - **Text and numbers** follow vivo §6 through [`super::json::JsonOut`] (§5.13), with its
//!   fixes: NaN and ±Inf as `null` (vivo §13.9), and a repeated attribute key keeping its last
//!   value (vivo §13.11) where Fluent Bit's map keeps both.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::json::JsonOut;

/// What a trace request rendered to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderedTraces {
    /// Lines written: 1 when the request holds a span, 0 otherwise.
    pub contexts: usize,
    /// Spans rendered.
    pub spans: u64,
}

/// Appends the ctraces JSON line of `request` to `out` (nothing when it holds no span).
pub fn render_traces(
    request: &ExportTraceServiceRequest,
    escape_unicode: bool,
    out: &mut Vec<u8>,
) -> RenderedTraces {
    let spans: u64 = request.resource_spans.iter().map(span_count).sum();
    if spans == 0 {
        return RenderedTraces::default();
    }
    let mut json = JsonOut {
        out,
        escape_unicode,
    };
    json.raw(b"{\"resourceSpans\":[");
    let kept = request.resource_spans.iter().filter(|r| span_count(r) > 0);
    for (i, resource_spans) in kept.enumerate() {
        comma(&mut json, i);
        write_resource_spans(&mut json, resource_spans);
    }
    json.raw(b"]}\n");
    RenderedTraces { contexts: 1, spans }
}

/// Spans in every scope of `resource_spans`.
fn span_count(resource_spans: &ResourceSpans) -> u64 {
    let spans: usize = resource_spans
        .scope_spans
        .iter()
        .map(|s| s.spans.len())
        .sum();
    spans as u64
}

/// A `,` before every item but the first.
fn comma(json: &mut JsonOut<'_>, index: usize) {
    if index > 0 {
        json.raw(b",");
    }
}

/// `{"resource":…,"schema_url":…,"scope_spans":[…]}`, scopes without spans left out.
fn write_resource_spans(json: &mut JsonOut<'_>, resource_spans: &ResourceSpans) {
    json.raw(b"{\"resource\":");
    write_resource(json, resource_spans.resource.as_ref());
    json.raw(b",\"schema_url\":");
    json.str(&resource_spans.schema_url);
    json.raw(b",\"scope_spans\":[");
    let kept = resource_spans
        .scope_spans
        .iter()
        .filter(|s| !s.spans.is_empty());
    for (i, scope_spans) in kept.enumerate() {
        comma(json, i);
        write_scope_spans(json, scope_spans);
    }
    json.raw(b"]}");
}

/// `{"attributes":{…},"dropped_attributes_count":n}`; an absent resource as an empty one.
fn write_resource(json: &mut JsonOut<'_>, resource: Option<&Resource>) {
    let (attributes, dropped) = resource
        .map(|r| (r.attributes.as_slice(), r.dropped_attributes_count))
        .unwrap_or_default();
    json.raw(b"{\"attributes\":");
    json.attributes(attributes);
    json.raw(b",\"dropped_attributes_count\":");
    json.u64(dropped.into());
    json.raw(b"}");
}

/// `{"scope":…,"spans":[…],"schema_url":…}`.
fn write_scope_spans(json: &mut JsonOut<'_>, scope_spans: &ScopeSpans) {
    json.raw(b"{\"scope\":");
    write_scope(json, scope_spans.scope.as_ref());
    json.raw(b",\"spans\":[");
    for (i, span) in scope_spans.spans.iter().enumerate() {
        comma(json, i);
        write_span(json, span);
    }
    json.raw(b"],\"schema_url\":");
    json.str(&scope_spans.schema_url);
    json.raw(b"}");
}

/// `{"name":…,"version":…,"attributes":{…},"dropped_attributes_count":n}`, or `null`.
fn write_scope(json: &mut JsonOut<'_>, scope: Option<&InstrumentationScope>) {
    let Some(scope) = scope else {
        json.raw(b"null");
        return;
    };
    json.raw(b"{\"name\":");
    json.str(&scope.name);
    json.raw(b",\"version\":");
    json.str(&scope.version);
    json.raw(b",\"attributes\":");
    json.attributes(&scope.attributes);
    json.raw(b",\"dropped_attributes_count\":");
    json.u64(scope.dropped_attributes_count.into());
    json.raw(b"}");
}

/// The 16 keys of a span, in ctraces' order.
fn write_span(json: &mut JsonOut<'_>, span: &Span) {
    json.raw(b"{\"trace_id\":");
    json.hex_or_null(&span.trace_id);
    json.raw(b",\"span_id\":");
    json.hex_or_null(&span.span_id);
    json.raw(b",\"parent_span_id\":");
    json.hex_or_null(&span.parent_span_id);
    json.raw(b",\"trace_state\":");
    json.str_or_null(&span.trace_state);
    json.raw(b",\"name\":");
    json.str(&span.name);
    json.raw(b",\"kind\":");
    json.i64(kind(span.kind).into());
    json.raw(b",\"start_time_unix_nano\":");
    json.u64(span.start_time_unix_nano);
    json.raw(b",\"end_time_unix_nano\":");
    json.u64(span.end_time_unix_nano);
    json.raw(b",\"attributes\":");
    json.attributes(&span.attributes);
    write_dropped_counts(json, span);
    json.raw(b",\"events\":[");
    for (i, event) in span.events.iter().enumerate() {
        comma(json, i);
        write_event(json, event);
    }
    json.raw(b"],\"links\":[");
    for (i, link) in span.links.iter().enumerate() {
        comma(json, i);
        write_link(json, link);
    }
    json.raw(b"],\"schema_url\":null,\"status\":");
    write_status(json, span.status.as_ref());
    json.raw(b"}");
}

/// The span kind as sent, or 1 (internal) outside 0–5, as `ctr_span_kind_set` leaves it.
fn kind(kind: i32) -> i32 {
    if (0..=5).contains(&kind) {
        kind
    } else {
        1
    }
}

/// `,"dropped_attributes_count":n,"dropped_events_count":n,"dropped_links_count":n`.
fn write_dropped_counts(json: &mut JsonOut<'_>, span: &Span) {
    json.raw(b",\"dropped_attributes_count\":");
    json.u64(span.dropped_attributes_count.into());
    json.raw(b",\"dropped_events_count\":");
    json.u64(span.dropped_events_count.into());
    json.raw(b",\"dropped_links_count\":");
    json.u64(span.dropped_links_count.into());
}

/// `{"time_unix_nano":ns,"name":…,"attributes":{…},"dropped_attributes_count":n}`.
fn write_event(json: &mut JsonOut<'_>, event: &Event) {
    json.raw(b"{\"time_unix_nano\":");
    json.u64(event.time_unix_nano);
    json.raw(b",\"name\":");
    json.str(&event.name);
    json.raw(b",\"attributes\":");
    json.attributes(&event.attributes);
    json.raw(b",\"dropped_attributes_count\":");
    json.u64(event.dropped_attributes_count.into());
    json.raw(b"}");
}

/// `{"trace_id":…,"span_id":…,"trace_state":…,"attributes":{…},"dropped_attributes_count":n}`.
fn write_link(json: &mut JsonOut<'_>, link: &Link) {
    json.raw(b"{\"trace_id\":");
    json.hex_or_null(&link.trace_id);
    json.raw(b",\"span_id\":");
    json.hex_or_null(&link.span_id);
    json.raw(b",\"trace_state\":");
    json.str_or_null(&link.trace_state);
    json.raw(b",\"attributes\":");
    json.attributes(&link.attributes);
    json.raw(b",\"dropped_attributes_count\":");
    json.u64(link.dropped_attributes_count.into());
    json.raw(b"}");
}

/// `{"code":c,"message":m}`: `{"code":0,"message":null}` when absent.
fn write_status(json: &mut JsonOut<'_>, status: Option<&Status>) {
    match status {
        None => json.raw(b"{\"code\":0,\"message\":null}"),
        Some(status) => {
            json.raw(b"{\"code\":");
            json.i64(status.code.into());
            json.raw(b",\"message\":");
            json.str(&status.message);
            json.raw(b"}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};

    fn any(value: Value) -> AnyValue {
        AnyValue { value: Some(value) }
    }

    fn s(text: &str) -> AnyValue {
        any(Value::StringValue(text.into()))
    }

    fn int(value: i64) -> AnyValue {
        any(Value::IntValue(value))
    }

    fn array(values: Vec<AnyValue>) -> AnyValue {
        any(Value::ArrayValue(ArrayValue { values }))
    }

    fn kvlist(values: Vec<KeyValue>) -> AnyValue {
        any(Value::KvlistValue(KeyValueList { values }))
    }

    fn kv(key: &str, value: AnyValue) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(value),
            ..KeyValue::default()
        }
    }

    fn id(hex_text: &str) -> Vec<u8> {
        (0..hex_text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex_text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn scope(name: &str, version: &str, attributes: Vec<KeyValue>) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: name.into(),
            version: version.into(),
            attributes,
            ..InstrumentationScope::default()
        })
    }

    fn resource(attributes: Vec<KeyValue>) -> Option<Resource> {
        Some(Resource {
            attributes,
            ..Resource::default()
        })
    }

    fn status(code: i32, message: &str) -> Option<Status> {
        Some(Status {
            code,
            message: message.into(),
        })
    }

    /// One resource with one scope holding `spans`.
    fn request_of(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(vec![kv("service.name", s("svc"))]),
                scope_spans: vec![ScopeSpans {
                    scope: scope("lib", "1", vec![]),
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn render(
        request: &ExportTraceServiceRequest,
        escape_unicode: bool,
    ) -> (String, RenderedTraces) {
        let mut out = Vec::new();
        let rendered = render_traces(request, escape_unicode, &mut out);
        (String::from_utf8(out).expect("UTF-8"), rendered)
    }

    fn vector(name: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/");
        std::fs::read_to_string(format!("{path}{name}.expected.ndjson")).expect("vector file")
    }

    /// `text` with `from` replaced by `to`, asserting that `from` occurs exactly `times` times.
    fn replaced(text: &str, from: &str, to: &str, times: usize) -> String {
        assert_eq!(text.matches(from).count(), times, "occurrences of {from}");
        text.replace(from, to)
    }

    /// The request of otlp-mapping §4.3, as protobuf.
    fn spec_example() -> ExportTraceServiceRequest {
        let span = Span {
            trace_id: id("4bf92f3577b34da6a3ce929d0e0e4736"),
            span_id: id("00f067aa0ba902b7"),
            parent_span_id: id("53995c3f42cd8ad8"),
            trace_state: "k=v".into(),
            name: "GET /cart".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000,
            end_time_unix_nano: 1_700_000_000_250_000_000,
            attributes: vec![
                kv("http.status_code", int(200)),
                kv("ok", any(Value::BoolValue(true))),
                kv("ratio", any(Value::DoubleValue(0.25))),
                kv("tags", array(vec![s("a")])),
                kv("obj", kvlist(vec![kv("x", s("y"))])),
            ],
            events: vec![Event {
                time_unix_nano: 1_700_000_000_100_000_000,
                name: "cache.miss".into(),
                attributes: vec![kv("key", s("u1"))],
                ..Event::default()
            }],
            links: vec![Link {
                trace_id: id("0af7651916cd43dd8448eb211c80319c"),
                span_id: id("b7ad6b7169203331"),
                attributes: vec![kv("rel", s("follows"))],
                ..Link::default()
            }],
            status: status(2, "boom"),
            ..Span::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(vec![kv("service.name", s("cart"))]),
                scope_spans: vec![ScopeSpans {
                    scope: scope("lib", "1.0", vec![]),
                    spans: vec![span],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn the_spec_example_as_protobuf() {
        // The §4.3 line with its four protobuf differences: `"schema_url":""` on the resource
        // span and the scope span, scope `"attributes":{}`, and the span keeps `tags` and `obj`.
        let expected = concat!(
            r#"{"resourceSpans":[{"resource":{"attributes":{"service.name":"cart"},"dropped_attributes_count":0},"schema_url":"","#,
            r#""scope_spans":[{"scope":{"name":"lib","version":"1.0","attributes":{},"dropped_attributes_count":0},"#,
            r#""spans":[{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"53995c3f42cd8ad8","#,
            r#""trace_state":"k=v","name":"GET /cart","kind":2,"start_time_unix_nano":1700000000000000000,"end_time_unix_nano":1700000000250000000,"#,
            r#""attributes":{"http.status_code":200,"ok":true,"ratio":0.25,"tags":["a"],"obj":{"x":"y"}},"#,
            r#""dropped_attributes_count":0,"dropped_events_count":0,"dropped_links_count":0,"#,
            r#""events":[{"time_unix_nano":1700000000100000000,"name":"cache.miss","attributes":{"key":"u1"},"dropped_attributes_count":0}],"#,
            r#""links":[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","trace_state":null,"attributes":{"rel":"follows"},"dropped_attributes_count":0}],"#,
            r#""schema_url":null,"status":{"code":2,"message":"boom"}}],"schema_url":""}]}]}"#,
            "\n"
        );
        let (line, rendered) = render(&spec_example(), true);
        assert_eq!(line, expected);
        assert_eq!(
            rendered,
            RenderedTraces {
                contexts: 1,
                spans: 1
            }
        );
    }

    /// The request behind traces-06 (OTLP/protobuf), less what Fluent Bit removed from it: the
    /// bytes attribute of the second span and the link's trace_state.
    fn traces_06() -> ExportTraceServiceRequest {
        let schema = "https://opentelemetry.io/schemas/1.21.0";
        let host = kvlist(vec![
            kv("name", s("web-1")),
            kv("cores", int(8)),
            kv("tags", array(vec![s("a"), s("b")])),
        ]);
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(vec![kv("service.name", s("pb-svc")), kv("host", host)]),
                scope_spans: vec![ScopeSpans {
                    scope: scope(
                        "pb-scope",
                        "2.0",
                        vec![kv("scope.flag", any(Value::BoolValue(true)))],
                    ),
                    spans: vec![traces_06_nested(), traces_06_bytes()],
                    schema_url: schema.into(),
                }],
                schema_url: schema.into(),
            }],
        }
    }

    fn traces_06_nested() -> Span {
        let user = kvlist(vec![
            kv("id", int(42)),
            kv("name", s("zoë")),
            kv("roles", array(vec![s("admin"), s("dev")])),
            kv(
                "prefs",
                kvlist(vec![
                    kv("theme", s("dark")),
                    kv("n", array(vec![int(1), array(vec![int(2), int(3)])])),
                ]),
            ),
        ]);
        let items = array(vec![
            int(1),
            any(Value::DoubleValue(2.5)),
            s("three"),
            any(Value::BoolValue(true)),
        ]);
        let backoff = kvlist(vec![
            kv("ms", int(100)),
            kv("jitter", any(Value::BoolValue(false))),
        ]);
        Span {
            trace_id: id("0af7651916cd43dd8448eb211c80319c"),
            span_id: id("b7ad6b7169203331"),
            trace_state: "rojo=00f067aa0ba902b7".into(),
            name: "protobuf nested".into(),
            kind: 3,
            start_time_unix_nano: 1_700_000_001_000_000_000,
            end_time_unix_nano: 1_700_000_001_123_456_789,
            attributes: vec![
                kv("pi", any(Value::DoubleValue(std::f64::consts::PI))),
                kv("items", items),
                kv("user", user),
            ],
            events: vec![Event {
                time_unix_nano: 1_700_000_001_050_000_000,
                name: "retry".into(),
                attributes: vec![kv("attempt", int(2)), kv("backoff", backoff)],
                ..Event::default()
            }],
            links: vec![Link {
                trace_id: id("5b8efff798038103d269b633813fc60c"),
                span_id: id("eee19b7ec3c1b174"),
                attributes: vec![kv("link.kind", s("parent_of_batch"))],
                dropped_attributes_count: 1,
                ..Link::default()
            }],
            status: status(2, "boom"),
            ..Span::default()
        }
    }

    fn traces_06_bytes() -> Span {
        Span {
            trace_id: id("0af7651916cd43dd8448eb211c80319c"),
            span_id: id("c8be7c827a314442"),
            parent_span_id: id("b7ad6b7169203331"),
            name: "protobuf bytes attr".into(),
            kind: 1,
            start_time_unix_nano: 1_700_000_001_010_000_000,
            end_time_unix_nano: 1_700_000_001_020_000_000,
            status: status(1, ""),
            ..Span::default()
        }
    }

    #[test]
    fn traces_06_byte_for_byte() {
        let (line, rendered) = render(&traces_06(), true);
        assert_eq!(line, vector("traces-06"));
        assert_eq!(
            rendered,
            RenderedTraces {
                contexts: 1,
                spans: 2
            }
        );
    }

    #[test]
    fn traces_06_with_what_fluent_bit_dropped() {
        // The vector does not record the dropped values; these stand in for them.
        let mut request = traces_06();
        let spans = &mut request.resource_spans[0].scope_spans[0].spans;
        spans[0].links[0].trace_state = "rojo=00f067aa0ba902b7".into();
        spans[1].attributes = vec![kv(
            "blob",
            any(Value::BytesValue(vec![0xde, 0xad, 0xbe, 0xef])),
        )];
        let file = vector("traces-06");
        let expected = replaced(
            &file,
            r#""span_id":"eee19b7ec3c1b174","trace_state":null"#,
            r#""span_id":"eee19b7ec3c1b174","trace_state":"rojo=00f067aa0ba902b7""#,
            1,
        );
        let expected = replaced(
            &expected,
            r#""end_time_unix_nano":1700000001020000000,"attributes":{}"#,
            r#""end_time_unix_nano":1700000001020000000,"attributes":{"blob":"3q2+7w=="}"#,
            1,
        );
        assert_eq!(render(&request, true).0, expected);
    }

    fn traces_05_span(
        span_id: &str,
        parent: &str,
        name: &str,
        kind: i32,
        times: (u64, u64),
    ) -> Span {
        Span {
            trace_id: id("11111111111111111111111111111111"),
            span_id: id(span_id),
            parent_span_id: id(parent),
            name: name.into(),
            kind,
            start_time_unix_nano: times.0,
            end_time_unix_nano: times.1,
            ..Span::default()
        }
    }

    /// The request behind traces-05 (sent as OTLP/JSON there), as protobuf.
    fn traces_05() -> ExportTraceServiceRequest {
        let kafka = || scope("kafka-lib", "0.9", vec![]);
        let mut publish = traces_05_span(
            "2222222222222222",
            "",
            "publish orders",
            4,
            (1_700_000_100_000_000_000, 1_700_000_100_010_000_000),
        );
        publish.attributes = vec![
            kv("messaging.system", s("kafka")),
            kv("messaging.destination", s("orders")),
        ];
        let mut process = traces_05_span(
            "3333333333333333",
            "2222222222222222",
            "process orders",
            5,
            (1_700_000_100_050_000_000, 1_700_000_100_090_000_000),
        );
        process.status = status(1, "");
        let mut insert = traces_05_span(
            "4444444444444444",
            "3333333333333333",
            "INSERT orders",
            3,
            (1_700_000_100_060_000_000, 1_700_000_100_080_000_000),
        );
        insert.attributes = vec![
            kv("db.statement", s("INSERT INTO orders VALUES (?)")),
            kv("db.rows", int(1)),
        ];
        let producer = ResourceSpans {
            resource: resource(vec![kv("service.name", s("producer-svc"))]),
            scope_spans: vec![ScopeSpans {
                scope: kafka(),
                spans: vec![publish],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        };
        let consumer = ResourceSpans {
            resource: resource(vec![
                kv("service.name", s("consumer-svc")),
                kv("region", s("eu-west-1")),
            ]),
            scope_spans: vec![
                ScopeSpans {
                    scope: kafka(),
                    spans: vec![process],
                    ..ScopeSpans::default()
                },
                ScopeSpans {
                    scope: scope("db-lib", "", vec![]),
                    spans: vec![insert],
                    ..ScopeSpans::default()
                },
            ],
            ..ResourceSpans::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![producer, consumer],
        }
    }

    #[test]
    fn traces_05_as_protobuf() {
        // traces-05 went through Fluent Bit's JSON path; the protobuf path differs in five ways.
        let file = vector("traces-05");
        // Resource-span schema_url: "" instead of null (the JSON path reads it inside resource).
        let expected = replaced(
            &file,
            r#""schema_url":null,"scope_spans""#,
            r#""schema_url":"","scope_spans""#,
            2,
        );
        // Scope-span schema_url: "" instead of null.
        let expected = replaced(&expected, r#""schema_url":null}"#, r#""schema_url":""}"#, 3);
        // Scope attributes: always a map.
        let expected = replaced(&expected, r#""attributes":null"#, r#""attributes":{}"#, 3);
        // An unset scope version: "".
        let expected = replaced(&expected, r#""version":null"#, r#""version":"""#, 1);
        // A present status with an unset message: "" (the JSON request gave code OK only).
        let expected = replaced(
            &expected,
            r#""status":{"code":1,"message":null}"#,
            r#""status":{"code":1,"message":""}"#,
            1,
        );
        let (line, rendered) = render(&traces_05(), true);
        assert_eq!(line, expected);
        assert_eq!(
            rendered,
            RenderedTraces {
                contexts: 1,
                spans: 3
            }
        );
    }

    #[test]
    fn empty_ids_and_trace_state_are_null() {
        let request = request_of(vec![Span {
            name: "anon".into(),
            ..Span::default()
        }]);
        let (line, _) = render(&request, true);
        assert!(
            line.contains(r#"{"trace_id":null,"span_id":null,"parent_span_id":null,"trace_state":null,"name":"anon","kind":0,"#),
            "{line}"
        );
        let request = request_of(vec![Span {
            links: vec![Link::default()],
            ..Span::default()
        }]);
        let (line, _) = render(&request, true);
        assert!(
            line.contains(r#""links":[{"trace_id":null,"span_id":null,"trace_state":null,"attributes":{},"dropped_attributes_count":0}]"#),
            "{line}"
        );
    }

    #[test]
    fn absent_and_present_status() {
        let absent = request_of(vec![Span::default()]);
        assert!(render(&absent, true)
            .0
            .contains(r#""status":{"code":0,"message":null}}"#));
        let unset_message = request_of(vec![Span {
            status: status(2, ""),
            ..Span::default()
        }]);
        assert!(render(&unset_message, true)
            .0
            .contains(r#""status":{"code":2,"message":""}}"#));
    }

    #[test]
    fn a_bytes_or_unset_attribute_keeps_the_set() {
        let attributes = vec![
            kv("a", int(1)),
            kv("raw", any(Value::BytesValue(vec![1, 2, 0xff]))),
            kv("nothing", AnyValue { value: None }),
        ];
        let mut request = request_of(vec![Span {
            attributes: attributes.clone(),
            ..Span::default()
        }]);
        request.resource_spans[0].scope_spans[0].scope = scope("lib", "1", attributes);
        let (line, _) = render(&request, true);
        let set = r#"{"a":1,"raw":"AQL/","nothing":null}"#;
        assert!(
            line.contains(&format!(r#""version":"1","attributes":{set},"#)),
            "{line}"
        );
        assert!(
            line.contains(&format!(r#""end_time_unix_nano":0,"attributes":{set},"#)),
            "{line}"
        );
    }

    #[test]
    fn escape_unicode_off_writes_raw_utf8() {
        let request = request_of(vec![Span {
            name: "zoë 日本".into(),
            ..Span::default()
        }]);
        assert!(render(&request, false).0.contains(r#""name":"zoë 日本","#));
        assert!(render(&request, true)
            .0
            .contains(r#""name":"zo\u00eb \u65e5\u672c","#));
    }

    #[test]
    fn a_request_without_spans_writes_nothing() {
        let mut request = request_of(vec![]);
        request.resource_spans.push(ResourceSpans::default());
        let mut out = b"before".to_vec();
        let rendered = render_traces(&request, true, &mut out);
        assert_eq!(out, b"before");
        assert_eq!(
            rendered,
            RenderedTraces {
                contexts: 0,
                spans: 0
            }
        );
        let (line, _) = render(&ExportTraceServiceRequest::default(), true);
        assert_eq!(line, "");
    }

    #[test]
    fn empty_containers_are_skipped_and_a_missing_scope_or_resource_renders() {
        let span = Span {
            name: "x".into(),
            ..Span::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: resource(vec![kv("service.name", s("empty"))]),
                    ..ResourceSpans::default()
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![
                        ScopeSpans::default(),
                        ScopeSpans {
                            spans: vec![span],
                            ..ScopeSpans::default()
                        },
                    ],
                    ..ResourceSpans::default()
                },
            ],
        };
        let (line, rendered) = render(&request, true);
        let head = r#"{"resourceSpans":[{"resource":{"attributes":{},"dropped_attributes_count":0},"schema_url":"","scope_spans":[{"scope":null,"spans":[{"trace_id":null,"#;
        assert!(line.starts_with(head), "{line}");
        let tail = r#""status":{"code":0,"message":null}}],"schema_url":""}]}]}"#;
        assert!(line.ends_with(&format!("{tail}\n")), "{line}");
        assert_eq!(line.matches("\"scope_spans\"").count(), 1);
        assert_eq!(
            rendered,
            RenderedTraces {
                contexts: 1,
                spans: 1
            }
        );
    }

    #[test]
    fn kind_out_of_range_is_internal_and_event_time_zero_stays() {
        let request = request_of(vec![
            Span {
                kind: 9,
                events: vec![Event {
                    name: "e".into(),
                    ..Event::default()
                }],
                ..Span::default()
            },
            Span {
                kind: 5,
                ..Span::default()
            },
        ]);
        let (line, rendered) = render(&request, true);
        assert!(
            line.contains(r#""kind":1,"#) && line.contains(r#""kind":5,"#),
            "{line}"
        );
        assert!(
            line.contains(r#""events":[{"time_unix_nano":0,"name":"e","attributes":{},"dropped_attributes_count":0}]"#),
            "{line}"
        );
        assert_eq!(rendered.spans, 2);
    }
}
