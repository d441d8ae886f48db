//! OTLP/HTTP: `POST /v1/logs`, `/v1/metrics`, `/v1/traces`, answered as the OTLP/HTTP
//! specification says.
//!
//! - 200 (or `successful_response_code`) with the `Export…ServiceResponse` message in the
//!   request's encoding, once the request is published (readable), as a Forward ack is;
//! - 400 with a `google.rpc.Status` (in the request's encoding) for a body that does not decode;
//! - 413 for a body over `buffer_max_size`, checked from `Content-Length` before anything is
//!   buffered, while it arrives, and after decompression (a compression bomb stops at the cap);
//! - 415 for a content type or content encoding that is not OTLP's; 405 for another method;
//!   404 (with a `Status`) for another path;
//! - 401 with `WWW-Authenticate` without the input's `http_auth_token`;
//! - 429 (workers behind) and 503 (bodies being read past `mem_buf_limit`, or stopping), with
//!   `Retry-After`, which OTLP exporters honour by retrying.
//!
//! The handler only checks headers and collects the body; decompression, decoding and
//! rendering run on the worker pool ([`super::batch`]).

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Payload};
use actix_web::{HttpRequest, HttpResponse};
use prost::Message;

use super::batch::{OtlpBatch, OtlpShape, Payload as BatchPayload};
use super::decode::{Compression, Format};
use crate::config::OpenTelemetryInput;
use crate::http::auth;
use crate::http::body::{read_limited, BodyError, BodyLimits};
use crate::http::{self as http_server, BoundServer, HttpSettings, H2};
use crate::pipeline::{Outcome, PipelineHandle};
use crate::signal::Signal;
use crate::telemetry::Telemetry;

/// What every request of one input needs.
pub struct OtlpHttpState {
    /// The input instance (`opentelemetry.0`), for counters.
    pub instance: Arc<str>,
    /// Where batches go.
    pub pipeline: PipelineHandle,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// The input's settings.
    pub settings: OpenTelemetryInput,
    /// How requests render.
    pub shape: Arc<OtlpShape>,
    /// How large a body may be, and the memory all bodies being read may hold.
    pub bodies: BodyLimits,
}

impl OtlpHttpState {
    /// The tag of a request's entry: an explicit `tag` wins (as in Fluent Bit 5), otherwise
    /// `v1_logs`/`v1_metrics`/`v1_traces` with `tag_from_uri` (Fluent Bit's default), otherwise
    /// the instance name.
    pub fn tag_for(&self, signal: Signal) -> String {
        match (&self.settings.tag, self.settings.tag_from_uri) {
            (Some(tag), _) => tag.clone(),
            (None, true) => format!("v1_{}", signal.name()),
            (None, false) => self.instance.to_string(),
        }
    }
}

/// Binds the OTLP/HTTP server of an input on its `listen`:`port`. With [`H2::Grpc`] (the
/// input's `http2 on`), HTTP/2 connections (gRPC) are sent there instead; with [`H2::Off`] it
/// is Fluent Bit's HTTP/1-only server.
pub fn bind(
    state: Arc<OtlpHttpState>,
    settings: HttpSettings,
    h2: H2,
) -> std::io::Result<BoundServer> {
    let (listen, port) = (state.settings.listen.clone(), state.settings.port);
    let configure = move |config: &mut web::ServiceConfig| routes(config, &state);
    http_server::bind(&listen, port, &settings, configure, h2)
}

fn routes(config: &mut web::ServiceConfig, state: &Arc<OtlpHttpState>) {
    let export = |signal: Signal| {
        let state = state.clone();
        web::to(move |req: HttpRequest, body: Payload| {
            let state = state.clone();
            async move { export(&req, body, &state, signal).await }
        })
    };
    config
        .route("/v1/logs", export(Signal::Logs))
        .route("/v1/metrics", export(Signal::Metrics))
        .route("/v1/traces", export(Signal::Traces))
        .default_service(web::to(|req: HttpRequest| async move {
            let message = format!(
                "no OTLP endpoint at {}; the endpoints are POST /v1/logs, /v1/metrics and /v1/traces",
                req.path()
            );
            status(StatusCode::NOT_FOUND, Format::Json, 5, &message)
        }));
}

/// One export request.
async fn export(
    req: &HttpRequest,
    body: Payload,
    state: &OtlpHttpState,
    signal: Signal,
) -> HttpResponse {
    if req.method() != Method::POST {
        let mut response = status(
            StatusCode::METHOD_NOT_ALLOWED,
            Format::Json,
            12,
            &format!("{} takes POST only", req.path()),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if let Some(token) = &state.settings.listener.auth_token {
        if !auth::authorized(req, token) {
            let mut response = refuse(
                state,
                StatusCode::UNAUTHORIZED,
                Format::Json,
                "unauthorized",
                "this input needs its bearer token (Authorization: Bearer …)",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, auth::CHALLENGE);
            return response;
        }
    }
    let format = match content_format(req, signal) {
        Ok(format) => format,
        Err(message) => {
            return refuse(
                state,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Format::Json,
                "content_type",
                &message,
            )
        }
    };
    let encoding = header_text(req, header::CONTENT_ENCODING);
    let Some(compression) = Compression::from_header(encoding) else {
        let message = format!(
            "Content-Encoding {:?} is not supported; use gzip, zstd, deflate or none",
            encoding.unwrap_or_default()
        );
        return refuse(
            state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format,
            "content_encoding",
            &message,
        );
    };
    let limit = state.bodies.max;
    let declared = header_text(req, header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let body = match read_limited(body, declared, &state.bodies).await {
        Ok(body) => body,
        Err(err @ BodyError::OverBudget { .. }) => {
            let mut response = refuse(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                format,
                "over_budget",
                &err.to_string(),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return response;
        }
        Err(err @ BodyError::TooLarge { .. }) => {
            return refuse(
                state,
                StatusCode::PAYLOAD_TOO_LARGE,
                format,
                "too_large",
                &err.to_string(),
            )
        }
        Err(err) => {
            return refuse(
                state,
                StatusCode::BAD_REQUEST,
                format,
                "read",
                &err.to_string(),
            )
        }
    };
    let size = body.len();
    let batch = Box::new(OtlpBatch {
        signal,
        tag: state.tag_for(signal),
        payload: BatchPayload::Http {
            body,
            format,
            compression,
            limit,
        },
        shape: state.shape.clone(),
    });
    let Some(submitted) = state
        .pipeline
        .submit_within(state.instance.clone(), batch, size, BACKPRESSURE_WAIT)
        .await
    else {
        return busy(state, format);
    };
    let outcome = submitted.await;
    match outcome {
        Ok(Outcome::Accepted { .. }) => success(state.settings.successful_response_code, format),
        Ok(Outcome::Rejected(why)) => {
            let code = match why.reason {
                "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
                "stopping" | "panic" => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refuse(state, code, format, why.reason, &why.detail)
        }
        Err(_) => refuse(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            format,
            "stopping",
            "the service is stopping",
        ),
    }
}

/// How long a request waits for the workers to make room before it is told to come back.
pub const BACKPRESSURE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The workers are behind: 429 with `Retry-After`, which OTLP exporters honour by retrying.
fn busy(state: &OtlpHttpState, format: Format) -> HttpResponse {
    let mut response = refuse(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        format,
        "busy",
        "the service is behind; retry after the time in Retry-After",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The body's format from `Content-Type` (parameters such as `charset` allowed). Without one,
/// logs and traces are JSON and metrics protobuf, as Fluent Bit reads them.
fn content_format(req: &HttpRequest, signal: Signal) -> Result<Format, String> {
    let Some(value) = header_text(req, header::CONTENT_TYPE) else {
        return Ok(match signal {
            Signal::Metrics => Format::Protobuf,
            Signal::Logs | Signal::Traces => Format::Json,
        });
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Format::Protobuf),
        "application/json" => Ok(Format::Json),
        _ => Err(format!(
            "Content-Type {value:?} is not OTLP's; use application/x-protobuf or application/json"
        )),
    }
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The success answer: the empty `Export…ServiceResponse` (no partial success) in the request's
/// encoding, or no body for 204.
/// Every `Export…ServiceResponse` without partial success encodes the same: nothing in
/// protobuf, `{}` in JSON.
fn success(code: u16, format: Format) -> HttpResponse {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT {
        return HttpResponse::NoContent().finish();
    }
    match format {
        Format::Protobuf => HttpResponse::build(status)
            .content_type("application/x-protobuf")
            .body(Vec::new()),
        Format::Json => HttpResponse::build(status)
            .content_type("application/json")
            .body("{}"),
    }
}

/// Counts a refused request and answers it with a `Status`.
fn refuse(
    state: &OtlpHttpState,
    code: StatusCode,
    format: Format,
    reason: &str,
    message: &str,
) -> HttpResponse {
    state.telemetry.rejected(&state.instance, reason);
    // google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE.
    let rpc_code = match code {
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => 8,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        _ => 3,
    };
    status(code, format, rpc_code, message)
}

/// An error answer: a `google.rpc.Status` with `rpc_code` and `message`, as protobuf or JSON.
fn status(code: StatusCode, format: Format, rpc_code: i32, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(code);
    match format {
        Format::Protobuf => {
            let status = tonic_types::Status {
                code: rpc_code,
                message: message.to_string(),
                details: Vec::new(),
            };
            response
                .content_type("application/x-protobuf")
                .body(status.encode_to_vec())
        }
        Format::Json => response
            .content_type("application/json")
            .body(serde_json::json!({ "code": rpc_code, "message": message }).to_string()),
    }
}
