//! `[INPUT] name opentelemetry`: OTLP over HTTP (and gRPC), with Fluent Bit's keys and
//! defaults (otlp-mapping §1.1) plus `grpc` / `grpc_port` for the standard OTLP gRPC port.

use super::document::{Property, Section};
use super::error::ConfigError;
use super::http_input::HTTP_MEM_BUF_LIMIT;
use super::input::{common_key, unknown_key, INPUT_MAX_CONNECTIONS};
use super::listener::{HttpListener, ListenerKeys};
use super::values;

/// Settings of an `opentelemetry` input.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTelemetryInput {
    /// `listen`: the address of both ports.
    pub listen: String,
    /// `port`: OTLP/HTTP (`/v1/logs`, `/v1/metrics`, `/v1/traces`), and gRPC too when `http2`.
    pub port: u16,
    /// `http2`: also serve OTLP/gRPC (HTTP/2 with prior knowledge) on `port`, as Fluent Bit does.
    pub http2: bool,
    /// `grpc`: serve OTLP/gRPC on `grpc_port` (the OTLP standard 4317).
    pub grpc: bool,
    /// `grpc_port`.
    pub grpc_port: u16,
    /// `tag`: the tag of every entry (with `tag_from_uri off`, or always when set explicitly).
    pub tag: Option<String>,
    /// `tag_from_uri`: tags `v1_logs`, `v1_metrics`, `v1_traces` from the signal.
    pub tag_from_uri: bool,
    /// `buffer_max_size`: the largest request body, compressed and inflated.
    pub buffer_max_size: usize,
    /// `buffer_chunk_size`: the first allocation for a request body (it grows from there).
    pub buffer_chunk_size: usize,
    /// `successful_response_code`: 200 (the OTLP specification), 201 or 204.
    pub successful_response_code: u16,
    /// `raw_traces`: OTLP/JSON trace bodies become one log record each, as they are.
    pub raw_traces: bool,
    /// `logs_metadata_key`: the name of the record-metadata map of OTLP log lines.
    pub logs_metadata_key: String,
    /// `logs_body_key`: when set, every log body goes under this key.
    pub logs_body_key: Option<String>,
    /// `mem_buf_limit`: the request bodies all connections may hold at once, being read.
    pub mem_buf_limit: usize,
    /// The listeners' limits, timeouts, TLS and token (`grpc_port` has the same, separately).
    pub listener: HttpListener,
}

impl Default for OpenTelemetryInput {
    fn default() -> Self {
        OpenTelemetryInput {
            listen: "0.0.0.0".to_string(),
            port: 4318,
            http2: true,
            grpc: true,
            grpc_port: 4317,
            tag: None,
            tag_from_uri: true,
            buffer_max_size: 4_000_000,
            buffer_chunk_size: 512_000,
            successful_response_code: 200,
            raw_traces: false,
            logs_metadata_key: "otlp".to_string(),
            logs_body_key: None,
            mem_buf_limit: HTTP_MEM_BUF_LIMIT,
            listener: HttpListener::with_max_connections(INPUT_MAX_CONNECTIONS),
        }
    }
}

/// Types one `[INPUT] name opentelemetry` section.
pub(crate) fn opentelemetry(section: &Section) -> Result<OpenTelemetryInput, ConfigError> {
    let mut input = OpenTelemetryInput::default();
    let mut listener_keys = ListenerKeys::default();
    for property in &section.properties {
        if listener_keys.http_key(property, "", &mut input.listener)? {
            continue;
        }
        if property.key == "mem_buf_limit" {
            input.mem_buf_limit = body_size(property)?;
            continue;
        }
        if common_key(property)? {
            continue;
        }
        match property.key.as_str() {
            "listen" => input.listen = property.parse(values::host)?,
            "port" => input.port = property.parse(values::unsigned)?,
            "http2" => input.http2 = property.parse(values::boolean)?,
            "grpc" => input.grpc = property.parse(values::boolean)?,
            "grpc_port" => input.grpc_port = property.parse(values::unsigned)?,
            "tag" => input.tag = Some(property.parse(values::text)?),
            "tag_from_uri" => input.tag_from_uri = property.parse(values::boolean)?,
            "tag_key" => {
                return Err(property.error(
                    "Fluent Bit declares tag_key for the opentelemetry input but never uses it; \
                     use tag (one tag for every request) or tag_from_uri",
                ))
            }
            "buffer_max_size" => input.buffer_max_size = body_size(property)?,
            "buffer_chunk_size" => input.buffer_chunk_size = body_size(property)?,
            "successful_response_code" => {
                input.successful_response_code = property.parse(response_code)?
            }
            "raw_traces" => input.raw_traces = property.parse(values::boolean)?,
            "logs_metadata_key" => input.logs_metadata_key = property.parse(values::text)?,
            "logs_body_key" => input.logs_body_key = Some(property.parse(values::text)?),
            "profiles_support" | "encode_profiles_as_log" => {
                if property.parse(values::boolean)? && property.key == "profiles_support" {
                    return Err(property.error("OTLP profiles are not supported"));
                }
            }
            _ => return Err(unknown_key(property, "opentelemetry")),
        }
    }
    input.listener.tls = listener_keys.finish(section)?;
    Ok(input)
}

/// A body size: more than 0, fits in memory.
pub(crate) fn body_size(property: &Property) -> Result<usize, ConfigError> {
    let size = property
        .parse(values::size)
        .and_then(|n| usize::try_from(n).map_err(|_| property.error("size too large")))?;
    if size == 0 {
        return Err(property.error("the size must be greater than 0"));
    }
    Ok(size)
}

/// Fluent Bit's `successful_response_code`: 200, 201 or 204 (Fluent Bit replaces anything else
/// with 201 and logs an error; here it is a configuration error).
pub(crate) fn response_code(text: &str) -> Result<u16, String> {
    match text {
        "200" => Ok(200),
        "201" => Ok(201),
        "204" => Ok(204),
        _ => Err(format!("'{text}' is not 200, 201 or 204")),
    }
}
