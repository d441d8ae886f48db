//! The HTTP endpoints: the three streams, the root, the service's own counters, and the answers
//! for everything else (404, 405, 400).

use super::body::EntriesBody;
use super::query::parse_selection;
use super::ApiState;
use crate::signal::Signal;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};

/// The methods every endpoint answers.
const ALLOWED: &str = "GET, HEAD, OPTIONS";

/// `/logs`, `/metrics`, `/traces`: the entries `from`/`to`/`limit` select, with the Vivo headers.
pub async fn read_stream(
    req: HttpRequest,
    state: web::Data<ApiState>,
    signal: web::Data<Signal>,
) -> HttpResponse {
    let signal = **signal;
    let output = state.output();
    let is_get = match *req.method() {
        Method::GET => true,
        Method::HEAD => false,
        Method::OPTIONS => return preflight(&state),
        _ => return method_not_allowed(&state, &req),
    };
    let selection = match parse_selection(req.query_string()) {
        Ok(selection) => selection,
        Err(bad) => {
            return error(
                &state,
                StatusCode::BAD_REQUEST,
                "bad_request",
                &bad.to_string(),
            )
        }
    };
    // The body keeps what it serves alive through the segments it references, so a
    // short-lived guard is enough here.
    let snapshot = output.stream(signal).peek();
    let served = selection.resolve(snapshot.oldest_id(), snapshot.next_id());
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    state.add_cors(&mut response, true);
    let next_id = match &served {
        Some(ids) => {
            response
                .insert_header(("Vivo-Stream-Start-ID", *ids.start()))
                .insert_header(("Vivo-Stream-End-ID", *ids.end()));
            ids.end() + 1
        }
        None => snapshot.next_id(),
    };
    response.insert_header(("Vivo-Stream-Next-ID", next_id));
    let body = EntriesBody::new(&snapshot, served.clone());
    if is_get && output.settings.empty_stream_on_read {
        if let Some(ids) = &served {
            // The body holds the served bytes, so deleting them from the stream is safe now.
            output.delete_through(signal, *ids.end());
        }
    }
    response.body(body)
}

/// `/`: the same text the original serves, so health checks keep working.
pub async fn root(req: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    match *req.method() {
        Method::GET | Method::HEAD => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("Fluent Bit Vivo Exporter\n"),
        Method::OPTIONS => preflight(&state),
        _ => method_not_allowed(&state, &req),
    }
}

/// `/internal/metrics`: the service's own counters in Prometheus text format.
pub async fn internal_metrics(req: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    match *req.method() {
        Method::GET | Method::HEAD => {
            let mut response = HttpResponse::Ok();
            response.insert_header((
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ));
            state.add_cors(&mut response, false);
            response.body(state.telemetry.render())
        }
        Method::OPTIONS => preflight(&state),
        _ => method_not_allowed(&state, &req),
    }
}

/// Any other path: 404 with a JSON body naming the endpoints that exist.
pub async fn not_found(req: HttpRequest, state: web::Data<ApiState>) -> HttpResponse {
    let message = format!(
        "no endpoint at {}; the endpoints are /logs, /metrics, /traces, / and /internal/metrics",
        req.path()
    );
    error(&state, StatusCode::NOT_FOUND, "not_found", &message)
}

/// OPTIONS: a CORS preflight answer (spec §13.13).
fn preflight(state: &ApiState) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::ALLOW, ALLOWED));
    if state.add_cors(&mut response, true) {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED));
    }
    response.finish()
}

fn method_not_allowed(state: &ApiState, req: &HttpRequest) -> HttpResponse {
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
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(ALLOWED));
    response
}

/// An error answer: `{"error":"<code>","message":"<text>"}` with the CORS headers if configured.
pub fn error(state: &ApiState, status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let body = serde_json::json!({ "error": code, "message": message }).to_string() + "\n";
    let mut response = HttpResponseBuilder::new(status);
    response
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    state.add_cors(&mut response, false);
    response.body(body)
}
