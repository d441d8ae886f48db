//! The `http` input, as Fluent Bit's: `POST /<tag>` with a JSON object, an array of objects,
//! NDJSON (`application/x-ndjson`) or form fields (`application/x-www-form-urlencoded`, where a
//! body that looks like JSON is read as JSON, since `curl -d` sends that type), optionally gzip,
//! zstd or deflate compressed. Each record
//! becomes an era-A log line with the time of arrival (or its `time_key` field) and the tag
//! from the path (or `tag`, or its `tag_key` field); one request is one entry per tag.
//!
//! The answer is `successful_response_code` (201 by default, as Fluent Bit) once the records
//! are published; a body that is not JSON gets 400 with a JSON error naming the byte offset,
//! and nothing of it is stored; 413 past `buffer_max_size` (declared, received, or inflated);
//! 415 for another content type or encoding; 405 for another method.

pub mod batch;

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Payload};
use actix_web::{HttpRequest, HttpResponse};

use crate::config::HttpInput;
use crate::http::auth;
use crate::http::body::{read_limited, BodyError, BodyLimits};
use crate::http::{self as http_server, BoundServer, HttpSettings, H2};
use crate::ingest::otlp::decode::Compression;
use crate::pipeline::{Outcome, PipelineHandle};
use crate::telemetry::Telemetry;
use batch::{BodyShape, HttpJsonBatch};

/// What every request of one `http` input needs.
pub struct HttpJsonState {
    /// The input instance (`http.0`), for counters and the default tag.
    pub instance: Arc<str>,
    /// Where batches go.
    pub pipeline: PipelineHandle,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// The input's settings.
    pub settings: HttpInput,
    /// How large a body may be, and the memory all bodies being read may hold.
    pub bodies: BodyLimits,
}

/// Binds the input's server on its `listen`:`port`.
pub fn bind(state: Arc<HttpJsonState>, settings: HttpSettings) -> std::io::Result<BoundServer> {
    let (listen, port) = (state.settings.listen.clone(), state.settings.port);
    let configure = move |config: &mut web::ServiceConfig| {
        let state = state.clone();
        config.default_service(web::to(move |req: HttpRequest, body: Payload| {
            let state = state.clone();
            async move { post(&req, body, &state).await }
        }));
    };
    // Fluent Bit's http input speaks HTTP/1.1 and HTTP/2 (h2c, and h2 by ALPN with TLS).
    http_server::bind(&listen, port, &settings, configure, H2::Serve)
}

async fn post(req: &HttpRequest, body: Payload, state: &HttpJsonState) -> HttpResponse {
    if req.method() != Method::POST {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "POST records to /<tag>",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let settings = &state.settings;
    if let Some(token) = &settings.listener.auth_token {
        if !auth::authorized(req, token) {
            let mut response = refuse(
                state,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this input needs its bearer token (Authorization: Bearer …)",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, auth::CHALLENGE);
            return response;
        }
    }
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let shape = match header(header::CONTENT_TYPE)
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .as_deref()
    {
        None | Some("application/json") => BodyShape::Json,
        Some("application/x-ndjson") | Some("application/jsonlines") => BodyShape::NdJson,
        Some("application/x-www-form-urlencoded") => BodyShape::Form,
        Some(other) => {
            let message = format!(
                "Content-Type {other:?} is not supported; use application/json or application/x-ndjson"
            );
            return refuse(
                state,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                &message,
            );
        }
    };
    let Some(compression) = Compression::from_header(header(header::CONTENT_ENCODING)) else {
        return refuse(
            state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_encoding",
            "Content-Encoding must be gzip, zstd, deflate or none",
        );
    };
    let declared = header(header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let limit = state.bodies.max;
    let body = match read_limited(body, declared, &state.bodies).await {
        Ok(body) => body,
        Err(err @ BodyError::OverBudget { .. }) => {
            let mut response = refuse(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
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
                "too_large",
                &err.to_string(),
            )
        }
        Err(err) => return refuse(state, StatusCode::BAD_REQUEST, "read", &err.to_string()),
    };
    let size = body.len();
    let batch = Box::new(HttpJsonBatch {
        tag: tag_for(req.path(), settings.tag.as_deref(), &state.instance),
        tag_key: settings.tag_key.clone(),
        time_key: settings.time_key.clone(),
        body,
        shape,
        compression,
        limit,
        received_ns: now_ns(),
    });
    let wait = crate::ingest::otlp::http::BACKPRESSURE_WAIT;
    let Some(submitted) = state
        .pipeline
        .submit_within(state.instance.clone(), batch, size, wait)
        .await
    else {
        let mut response = refuse(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "the service is behind; retry after the time in Retry-After",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    match submitted.await {
        Ok(Outcome::Accepted { .. }) => HttpResponse::build(
            StatusCode::from_u16(settings.successful_response_code).unwrap_or(StatusCode::CREATED),
        )
        .finish(),
        Ok(Outcome::Rejected(why)) => {
            let code = match why.reason {
                "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
                "stopping" | "panic" => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            refuse(state, code, why.reason, &why.detail)
        }
        Err(_) => refuse(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the service is stopping",
        ),
    }
}

/// The tag of a request: `tag` when set, else the path without its leading `/` (`/app/web` is
/// `app.web`, as Fluent Bit turns slashes into dots), else the instance name.
fn tag_for(path: &str, tag: Option<&str>, instance: &str) -> String {
    if let Some(tag) = tag {
        return tag.to_string();
    }
    let from_path = path.trim_matches('/').replace('/', ".");
    if from_path.is_empty() {
        instance.to_string()
    } else {
        from_path
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Counts a refused request and answers it with a JSON error.
fn refuse(state: &HttpJsonState, code: StatusCode, reason: &str, message: &str) -> HttpResponse {
    state.telemetry.rejected(&state.instance, reason);
    error(code, reason, message)
}

fn error(code: StatusCode, reason: &str, message: &str) -> HttpResponse {
    HttpResponse::build(code)
        .content_type("application/json")
        .body(serde_json::json!({ "error": reason, "message": message }).to_string() + "\n")
}

#[cfg(test)]
mod tests {
    use super::tag_for;

    #[test]
    fn tags_from_the_path() {
        assert_eq!(tag_for("/app", None, "http.0"), "app");
        assert_eq!(tag_for("/app/web/", None, "http.0"), "app.web");
        assert_eq!(tag_for("/", None, "http.0"), "http.0");
        assert_eq!(tag_for("/app", Some("fixed"), "http.0"), "fixed");
    }
}
