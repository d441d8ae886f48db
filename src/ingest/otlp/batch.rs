//! One OTLP request as a pipeline batch: decoded (when it arrived over HTTP) and rendered on a
//! worker thread, one entry per request.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::decode::{decode_body, inflate, Compression, DecodeError, Format};
use super::json::JsonOut;
use super::logs::{render_logs, LogShape, OverLimit};
use super::metrics::render_metrics;
use super::traces::render_traces;
use crate::pipeline::{Batch, Rejection};
use crate::render::Renderer;
use crate::signal::Signal;

/// The input settings that shape what a request renders to, shared by its requests.
#[derive(Debug)]
pub struct OtlpShape {
    /// `logs_metadata_key`.
    pub logs_metadata_key: String,
    /// `logs_body_key`.
    pub logs_body_key: Option<String>,
    /// `raw_traces`: an OTLP/JSON trace body becomes one log record, as it is.
    pub raw_traces: bool,
}

/// A request's content: the body as received over HTTP, or a message tonic already decoded.
pub enum Payload {
    /// An OTLP/HTTP body, still encoded.
    Http {
        /// The body as received.
        body: Bytes,
        /// Protobuf or JSON.
        format: Format,
        /// Its content encoding.
        compression: Compression,
        /// `buffer_max_size`: the most it may inflate to.
        limit: usize,
    },
    /// A gRPC logs request.
    Logs(ExportLogsServiceRequest),
    /// A gRPC metrics request.
    Metrics(ExportMetricsServiceRequest),
    /// A gRPC trace request.
    Traces(ExportTraceServiceRequest),
}

/// One OTLP request of one signal, with the tag its entry gets.
pub struct OtlpBatch {
    /// The OTLP signal the request carries.
    pub signal: Signal,
    /// The entry's tag.
    pub tag: String,
    /// The content.
    pub payload: Payload,
    /// How it renders.
    pub shape: Arc<OtlpShape>,
}

impl OtlpBatch {
    /// Whether this is an OTLP/JSON trace body that `raw_traces` turns into a log record.
    fn is_raw_trace(&self) -> bool {
        self.shape.raw_traces
            && self.signal == Signal::Traces
            && matches!(
                self.payload,
                Payload::Http {
                    format: Format::Json,
                    ..
                }
            )
    }

    /// Runs `render` on the request of type `M`: decoded here from an HTTP body, or the one
    /// tonic decoded (`given` picks it out of the payload). `None` when the payload is of
    /// another signal, which the input never builds.
    fn with_request<M, R>(
        &self,
        given: fn(&Payload) -> Option<&M>,
        name: &'static str,
        render: impl FnOnce(&M) -> R,
    ) -> Result<Option<R>, Rejection>
    where
        M: prost::Message + Default + serde::de::DeserializeOwned,
    {
        match &self.payload {
            Payload::Http {
                body,
                format,
                compression,
                limit,
            } => {
                let request: M =
                    decode_body(body, *compression, *format, *limit, name).map_err(rejection)?;
                Ok(Some(render(&request)))
            }
            other => Ok(given(other).map(render)),
        }
    }
}

fn over_limit(over: OverLimit) -> Rejection {
    match over {
        OverLimit::Bytes(limit) => Rejection {
            reason: "entry_too_large",
            detail: format!(
                "the request renders to more than {limit} bytes of JSON (max_entry_size)"
            ),
        },
        OverLimit::Records(limit) => Rejection {
            reason: "too_many_records",
            detail: format!("the request holds more than {limit} records (max_entry_records)"),
        },
    }
}

fn rejection(error: DecodeError) -> Rejection {
    Rejection {
        reason: error.reason(),
        detail: error.to_string(),
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Batch for OtlpBatch {
    fn signal(&self) -> Signal {
        if self.is_raw_trace() {
            Signal::Logs
        } else {
            self.signal
        }
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn render(&self, renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection> {
        let escape_unicode = renderer.options().escape_unicode;
        if self.is_raw_trace() {
            return self.render_raw_trace(escape_unicode, out);
        }
        let rendered = match self.signal {
            Signal::Logs => {
                let shape = LogShape {
                    tag: &self.tag,
                    metadata_key: &self.shape.logs_metadata_key,
                    body_key: self.shape.logs_body_key.as_deref(),
                    escape_unicode,
                    now_ns: now_ns(),
                    limits: renderer.limits(),
                };
                self.with_request(logs_of, "ExportLogsServiceRequest", |request| {
                    render_logs(request, shape, out).map_err(over_limit)
                })?
                .transpose()?
            }
            Signal::Metrics => {
                self.with_request(metrics_of, "ExportMetricsServiceRequest", |request| {
                    render_metrics(request, escape_unicode, out).data_points
                })?
            }
            Signal::Traces => {
                self.with_request(traces_of, "ExportTraceServiceRequest", |request| {
                    render_traces(request, escape_unicode, out).spans
                })?
            }
        };
        Ok(rendered.unwrap_or(0))
    }
}

fn logs_of(payload: &Payload) -> Option<&ExportLogsServiceRequest> {
    match payload {
        Payload::Logs(request) => Some(request),
        _ => None,
    }
}

fn metrics_of(payload: &Payload) -> Option<&ExportMetricsServiceRequest> {
    match payload {
        Payload::Metrics(request) => Some(request),
        _ => None,
    }
}

fn traces_of(payload: &Payload) -> Option<&ExportTraceServiceRequest> {
    match payload {
        Payload::Traces(request) => Some(request),
        _ => None,
    }
}

impl OtlpBatch {
    /// `raw_traces on`: the JSON trace body as one log record, `[[now,{"_tag":tag}],<body>]`, or
    /// `{"trace":"<body text>"}` when the body is not a JSON object (otlp-mapping §4.4).
    fn render_raw_trace(&self, escape_unicode: bool, out: &mut Vec<u8>) -> Result<u64, Rejection> {
        let Payload::Http {
            body,
            compression,
            limit,
            ..
        } = &self.payload
        else {
            return Ok(0);
        };
        let mut text = inflate(body, *compression, *limit).map_err(rejection)?;
        let raw = String::from_utf8_lossy(&text).into_owned();
        let mut json = JsonOut {
            out,
            escape_unicode,
        };
        json.raw(b"[[");
        json.i64(i64::try_from(now_ns()).unwrap_or(i64::MAX));
        json.raw(b",{");
        json.key("_tag");
        json.str(&self.tag);
        json.raw(b"}],");
        match simd_json::to_borrowed_value(&mut text) {
            Ok(value @ simd_json::BorrowedValue::Object(_)) => json.json_value(&value),
            _ => {
                json.raw(b"{");
                json.key("trace");
                json.str(&raw);
                json.raw(b"}");
            }
        }
        json.raw(b"]\n");
        Ok(1)
    }
}
