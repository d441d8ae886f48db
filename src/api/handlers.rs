//! The HTTP endpoints: the three streams, the root, the service's own counters, and the answers
//! for everything else (404, 405, 400).

use super::body::ApiBody;
use super::query::parse_selection;
use super::ApiState;
use crate::signal::Signal;
use crate::telemetry::exposition::Format;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};

/// The methods every endpoint answers.
const ALLOWED: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

/// The headers the CORS exposure list names, so browser clients can read them.
const EXPOSED: HeaderValue =
    HeaderValue::from_static("vivo-stream-start-id, vivo-stream-end-id, vivo-stream-next-id");

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

const START_ID: HeaderName = HeaderName::from_static("vivo-stream-start-id");
const END_ID: HeaderName = HeaderName::from_static("vivo-stream-end-id");
const NEXT_ID: HeaderName = HeaderName::from_static("vivo-stream-next-id");

/// `/logs`, `/metrics`, `/traces`: the entries `from`/`to`/`limit` select, with the Vivo headers.
/// HEAD builds the same answer (actix sends its headers, `Content-Length` included, and not
/// its body) and never drains.
pub fn read_stream(req: &HttpRequest, state: &ApiState, signal: Signal) -> HttpResponse<ApiBody> {
    let is_get = match *req.method() {
        Method::GET => true,
        Method::HEAD => false,
        Method::OPTIONS => return preflight(state),
        _ => return method_not_allowed(state, req),
    };
    let selection = match parse_selection(req.query_string()) {
        Ok(selection) => selection,
        Err(bad) => {
            return error(
                state,
                StatusCode::BAD_REQUEST,
                "bad_request",
                &bad.to_string(),
            )
        }
    };
    let output = state.output();
    // The body keeps what it serves alive through the segments it references, so a
    // short-lived guard on the snapshot is enough here.
    let snapshot = output.stream(signal).peek();
    let served = selection.resolve(snapshot.oldest_id(), snapshot.next_id());
    let mut response =
        HttpResponse::with_body(StatusCode::OK, ApiBody::entries(&snapshot, served.clone()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, JSON);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    state.add_cors(headers, true);
    let next_id = match &served {
        Some(ids) => {
            headers.insert(START_ID, HeaderValue::from(*ids.start()));
            headers.insert(END_ID, HeaderValue::from(*ids.end()));
            ids.end() + 1
        }
        None => snapshot.next_id(),
    };
    headers.insert(NEXT_ID, HeaderValue::from(next_id));
    if is_get && output.settings.empty_stream_on_read {
        if let Some(ids) = &served {
            // The body holds the served bytes, so deleting them from the stream is safe now.
            output.delete_through(signal, *ids.end());
        }
    }
    response
}

/// `/`: the same text the original serves, so health checks keep working.
pub fn root(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let mut response = HttpResponse::with_body(
                StatusCode::OK,
                ApiBody::text("Fluent Bit Vivo Exporter\n"),
            );
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Method::OPTIONS => preflight(state),
        _ => method_not_allowed(state, req),
    }
}

/// `/internal/metrics`: the service's own counters, in Prometheus text format or, when the
/// scraper's `Accept` prefers it, OpenMetrics.
pub fn internal_metrics(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            let mut response = HttpResponse::with_body(
                StatusCode::OK,
                ApiBody::text(state.telemetry.render(format)),
            );
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
            headers.insert(header::VARY, HeaderValue::from_static("Accept"));
            state.add_cors(headers, false);
            response
        }
        Method::OPTIONS => preflight(state),
        _ => method_not_allowed(state, req),
    }
}

/// `/api/v1/health`: the service is up and every listener is bound (the read API is only
/// started once they are), so liveness and readiness are the same answer.
pub fn health(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let mut response = HttpResponse::with_body(
                StatusCode::OK,
                ApiBody::text("{\"status\":\"ok\",\"ready\":true}\n"),
            );
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, JSON);
            headers.insert(header::CACHE_CONTROL, NO_STORE);
            state.add_cors(headers, false);
            response
        }
        Method::OPTIONS => preflight(state),
        _ => method_not_allowed(state, req),
    }
}

/// Any other path: 404 with a JSON body naming the endpoints.
pub fn not_found(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    let message = format!(
        "no endpoint at {}; the endpoints are /logs, /metrics, /traces, /, /internal/metrics, \
         /api/v1/health and /api/v1/metrics/prometheus",
        req.path()
    );
    error(state, StatusCode::NOT_FOUND, "not_found", &message)
}

/// 401: the output has `http_auth_token` and the request did not carry it.
pub fn unauthorized(state: &ApiState) -> HttpResponse<ApiBody> {
    let mut response = error(
        state,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this API needs its token: Authorization: Bearer <token>, the vivo_token cookie or the \
         access_token query parameter",
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, crate::http::auth::CHALLENGE);
    response
}

/// OPTIONS: a CORS preflight answer (spec §13.13).
fn preflight(state: &ApiState) -> HttpResponse<ApiBody> {
    let mut response = HttpResponse::with_body(StatusCode::NO_CONTENT, ApiBody::empty());
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, ALLOWED);
    if state.add_cors(headers, true) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED);
    }
    response
}

fn method_not_allowed(state: &ApiState, req: &HttpRequest) -> HttpResponse<ApiBody> {
    let message = format!(
        "method {} is not allowed on {}; use GET, HEAD or OPTIONS",
        req.method(),
        req.path()
    );
    let mut response = error(
        state,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &message,
    );
    response.headers_mut().insert(header::ALLOW, ALLOWED);
    response
}

/// An error answer: `{"error":"<code>","message":"<text>"}` with the CORS headers if configured.
fn error(state: &ApiState, status: StatusCode, code: &str, message: &str) -> HttpResponse<ApiBody> {
    let body = serde_json::json!({ "error": code, "message": message }).to_string() + "\n";
    let mut response = HttpResponse::with_body(status, ApiBody::text(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, JSON);
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    state.add_cors(headers, false);
    response
}

impl ApiState {
    /// Adds the era-A CORS headers when `http_cors_allow_origin` is set; returns whether it is.
    fn add_cors(&self, headers: &mut HeaderMap, expose_vivo_headers: bool) -> bool {
        let Some(origin) = &self.cors_origin else {
            return false;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        let allowed = match self.auth_token {
            None => "Origin, X-Requested-With, Content-Type, Accept",
            Some(_) => "Origin, X-Requested-With, Content-Type, Accept, Authorization",
        };
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(allowed),
        );
        if expose_vivo_headers {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
        }
        true
    }
}
