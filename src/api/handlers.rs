//! The HTTP endpoints: the three streams, the root, the service's own counters, and the answers
//! for everything else (404, 405, 400).

use super::body::ApiBody;
use super::query::parse_selection;
use super::ApiState;
use crate::signal::Signal;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};

/// The methods every endpoint answers.
fn allowed() -> HeaderValue {
    HeaderValue::from_static("GET, HEAD, OPTIONS")
}

/// The headers the CORS exposure list names, so browser clients can read them.
fn exposed_headers() -> HeaderValue {
    HeaderValue::from_static("vivo-stream-start-id, vivo-stream-end-id, vivo-stream-next-id")
}

fn json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

fn no_store() -> HeaderValue {
    HeaderValue::from_static("no-store")
}

/// Routes a request (exact paths, spec §13.1) and answers it.
pub fn handle<B>(req: &Request<B>, state: &ApiState) -> Response<ApiBody> {
    match req.uri().path() {
        "/logs" => read_stream(req, state, Signal::Logs),
        "/metrics" => read_stream(req, state, Signal::Metrics),
        "/traces" => read_stream(req, state, Signal::Traces),
        "/" => root(req, state),
        "/internal/metrics" => internal_metrics(req, state),
        path => {
            let message = format!(
                "no endpoint at {path}; the endpoints are /logs, /metrics, /traces, / and /internal/metrics"
            );
            error(state, StatusCode::NOT_FOUND, "not_found", &message)
        }
    }
}

/// `/logs`, `/metrics`, `/traces`: the entries `from`/`to`/`limit` select, with the Vivo headers.
fn read_stream<B>(req: &Request<B>, state: &ApiState, signal: Signal) -> Response<ApiBody> {
    let is_get = match *req.method() {
        Method::GET => true,
        Method::HEAD => false,
        Method::OPTIONS => return preflight(state),
        _ => return method_not_allowed(state, req),
    };
    let selection = match parse_selection(req.uri().query().unwrap_or("")) {
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
    let body = ApiBody::entries(&snapshot, served.clone());
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, json());
    headers.insert(header::CACHE_CONTROL, no_store());
    state.add_cors(headers, true);
    let next_id = match &served {
        Some(ids) => {
            headers.insert("vivo-stream-start-id", HeaderValue::from(*ids.start()));
            headers.insert("vivo-stream-end-id", HeaderValue::from(*ids.end()));
            ids.end() + 1
        }
        None => snapshot.next_id(),
    };
    headers.insert("vivo-stream-next-id", HeaderValue::from(next_id));
    if is_get && output.settings.empty_stream_on_read {
        if let Some(ids) = &served {
            // The body holds the served bytes, so deleting them from the stream is safe now.
            output.delete_through(signal, *ids.end());
        }
    }
    response
}

/// `/`: the same text the original serves, so health checks keep working.
fn root<B>(req: &Request<B>, state: &ApiState) -> Response<ApiBody> {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let mut response = Response::new(ApiBody::text("Fluent Bit Vivo Exporter\n"));
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

/// `/internal/metrics`: the service's own counters in Prometheus text format.
fn internal_metrics<B>(req: &Request<B>, state: &ApiState) -> Response<ApiBody> {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let mut response = Response::new(ApiBody::text(state.telemetry.render()));
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            state.add_cors(headers, false);
            response
        }
        Method::OPTIONS => preflight(state),
        _ => method_not_allowed(state, req),
    }
}

/// OPTIONS: a CORS preflight answer (spec §13.13).
fn preflight(state: &ApiState) -> Response<ApiBody> {
    let mut response = Response::new(ApiBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, allowed());
    if state.add_cors(headers, true) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, allowed());
    }
    response
}

fn method_not_allowed<B>(state: &ApiState, req: &Request<B>) -> Response<ApiBody> {
    let message = format!(
        "method {} is not allowed on {}; use GET, HEAD or OPTIONS",
        req.method(),
        req.uri().path()
    );
    let mut response = error(
        state,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &message,
    );
    response.headers_mut().insert(header::ALLOW, allowed());
    response
}

/// An error answer: `{"error":"<code>","message":"<text>"}` with the CORS headers if configured.
fn error(state: &ApiState, status: StatusCode, code: &str, message: &str) -> Response<ApiBody> {
    let body = serde_json::json!({ "error": code, "message": message }).to_string() + "\n";
    let mut response = Response::new(ApiBody::text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, json());
    headers.insert(header::CACHE_CONTROL, no_store());
    state.add_cors(headers, false);
    response
}

impl ApiState {
    /// Adds the era-A CORS headers when `http_cors_allow_origin` is set; returns whether it is.
    fn add_cors(&self, headers: &mut http::HeaderMap, expose_vivo_headers: bool) -> bool {
        let Some(origin) = &self.cors_origin else {
            return false;
        };
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Origin, X-Requested-With, Content-Type, Accept"),
        );
        if expose_vivo_headers {
            headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed_headers());
        }
        true
    }
}
