//! The HTTP endpoints: the three streams, the root, the service's own counters, and the answers
//! for everything else (404, 405, 400).

use super::body::ApiBody;
use super::era_bc::EraBcBody;
use super::follow::{FollowBody, FollowFormat};
use super::query::{parse_live, parse_selection};
use super::{ApiState, Route};
use crate::stream::Selection;
use crate::telemetry::exposition::Format;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use std::sync::Arc;
use std::time::Duration;

/// The methods every endpoint answers.
const ALLOWED: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

/// The headers the CORS exposure list names, so browser clients can read them.
const EXPOSED: HeaderValue = HeaderValue::from_static(
    "vivo-stream-start-id, vivo-stream-end-id, vivo-stream-next-id, vivo-stream-oldest-id, \
     vivo-stream-generation, etag",
);

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

const START_ID: HeaderName = HeaderName::from_static("vivo-stream-start-id");
const GENERATION: HeaderName = HeaderName::from_static("vivo-stream-generation");
const OLDEST_ID: HeaderName = HeaderName::from_static("vivo-stream-oldest-id");
const END_ID: HeaderName = HeaderName::from_static("vivo-stream-end-id");
const NEXT_ID: HeaderName = HeaderName::from_static("vivo-stream-next-id");

/// How a stream request is to be answered.
pub enum StreamAnswer {
    /// Now, with this response (a plain read, or an error).
    Now(HttpResponse<ApiBody>),
    /// A long-poll: once `selection` would serve something, or after `wait`, as a plain read.
    Wait {
        /// What the read asks for.
        selection: Selection,
        /// How long it may wait (capped at `http_max_wait`).
        wait: Duration,
    },
    /// A follow in `format`, from entry `from` (`None`: the oldest held) to `last`.
    Follow {
        /// NDJSON or Server-Sent Events.
        format: FollowFormat,
        /// The first entry wanted.
        from: Option<u64>,
        /// The last entry wanted, if any.
        last: Option<u64>,
    },
}

/// Sorts a stream request into a plain read, a long-poll or a follow. SSE is asked for with
/// `Accept: text/event-stream` (a browser's `EventSource`; it resumes with `Last-Event-ID`),
/// NDJSON follow with `follow=true`, a long-poll with `wait=`. HEAD is always a plain read.
pub fn classify(req: &HttpRequest, state: &ApiState, route: Route) -> StreamAnswer {
    if *req.method() != Method::GET {
        return StreamAnswer::Now(read_stream(req, state, route));
    }
    let (selection, live) = match (
        parse_selection(req.query_string()),
        parse_live(req.query_string()),
    ) {
        (Ok(selection), Ok(live)) => (selection, live),
        (Err(bad), _) => return StreamAnswer::Now(bad_request(state, &bad.to_string())),
        (_, Err(bad)) => return StreamAnswer::Now(bad_request(state, &bad.to_string())),
    };
    let sse = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/event-stream"));
    if sse || live.follow {
        let resumed = req
            .headers()
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|id| id + 1);
        let from = resumed.or(selection.from.filter(|&f| f > 0).map(|f| f as u64));
        return StreamAnswer::Follow {
            format: if sse {
                FollowFormat::Sse
            } else {
                FollowFormat::NdJson
            },
            from,
            last: selection.to.filter(|&t| t > 0).map(|t| t as u64),
        };
    }
    match live.wait {
        Some(wait) if !wait.is_zero() => StreamAnswer::Wait {
            selection,
            wait: wait.min(state.output().settings.max_wait),
        },
        _ => StreamAnswer::Now(read_stream(req, state, route)),
    }
}

/// The answer of a follow: 200 with a body that goes on as entries are published.
pub fn follow(
    state: Arc<ApiState>,
    route: Route,
    format: FollowFormat,
    from: Option<u64>,
    last: Option<u64>,
) -> HttpResponse<ApiBody> {
    let from = from.unwrap_or_else(|| state.output().stream(route.signal).peek().oldest_id());
    let content_type = match format {
        FollowFormat::NdJson => "application/x-ndjson",
        FollowFormat::Sse => "text/event-stream",
    };
    let body = FollowBody::new(state.clone(), route, format, from, last);
    let mut response = HttpResponse::with_body(StatusCode::OK, ApiBody::Live(Box::new(body)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    // Reverse proxies (nginx) would otherwise hold the events back in their buffers.
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    state.add_cors(headers, true);
    response
}

/// Whether an `If-None-Match` list names `etag` (weak or strong, RFC 9110 §13.1.2), or is `*`.
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

fn bad_request(state: &ApiState, message: &str) -> HttpResponse<ApiBody> {
    error(state, StatusCode::BAD_REQUEST, "bad_request", message)
}

/// `/logs`, `/metrics`, `/traces`: the entries `from`/`to`/`limit` select, with the Vivo headers.
/// HEAD builds the same answer (actix sends its headers, `Content-Length` included, and not
/// its body) and never drains.
pub fn read_stream(req: &HttpRequest, state: &ApiState, route: Route) -> HttpResponse<ApiBody> {
    let signal = route.signal;
    let is_get = match *req.method() {
        Method::GET => true,
        Method::HEAD => false,
        Method::OPTIONS => return preflight(state),
        _ => return method_not_allowed(state, req),
    };
    let selection = match parse_selection(req.query_string()) {
        Ok(selection) => selection.capped(state.output().settings.max_entries),
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
    // Entries never change once published: within one start, equal IDs mean equal bytes. The
    // tag is weak (sent as `W/"…"`): the same entries may go out gzip, zstd or as they are.
    let etag = match &served {
        Some(ids) => format!("\"{:x}-{}-{}\"", state.generation, ids.start(), ids.end()),
        None => format!("\"{:x}-n{}\"", state.generation, snapshot.next_id()),
    };
    let not_modified = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .any(|list| etag_matches(list, &etag));
    let (status, body) = match not_modified {
        true => (StatusCode::NOT_MODIFIED, ApiBody::empty()),
        false => match (&served, route.era_bc_logs()) {
            (Some(ids), true) => {
                let body = EraBcBody::new(
                    output.stream(signal).snapshot(),
                    output.envelopes().snapshot(),
                    ids.clone(),
                );
                (StatusCode::OK, ApiBody::EraBc(Box::new(body)))
            }
            _ => (StatusCode::OK, ApiBody::entries(&snapshot, served.clone())),
        },
    };
    let mut response = HttpResponse::with_body(status, body);
    let headers = response.headers_mut();
    if !not_modified {
        headers.insert(header::CONTENT_TYPE, JSON);
    }
    // A closed range (`to` below the next ID) only ever loses entries to eviction: with
    // `http_cache_max_age`, HTTP caches may keep it.
    let closed = selection
        .to
        .is_some_and(|to| to > 0 && (to as u64) < snapshot.next_id());
    let cacheable = closed && !output.settings.empty_stream_on_read;
    headers.insert(
        header::CACHE_CONTROL,
        match (&output.settings.cache_control, cacheable) {
            (Some(max_age), true) => max_age.clone(),
            _ => NO_STORE,
        },
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("W/{etag}")) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(GENERATION, state.generation_header.clone());
    headers.insert(OLDEST_ID, HeaderValue::from(snapshot.oldest_id()));
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
    if is_get && !not_modified && output.settings.empty_stream_on_read {
        if let Some(ids) = &served {
            // The body holds the served bytes, so deleting them from the stream is safe now.
            output.delete_through(signal, *ids.end());
        }
    }
    response
}

/// `/`: the same text the original serves, so health checks keep working.
pub fn root(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    get_only(req, state, || {
        ok_text(
            "Fluent Bit Vivo Exporter\n",
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )
    })
}

/// An endpoint that only reads: `answer` for GET and HEAD (actix drops the body of a HEAD),
/// the preflight answer for OPTIONS, 405 for the rest.
pub(super) fn get_only(
    req: &HttpRequest,
    state: &ApiState,
    answer: impl FnOnce() -> HttpResponse<ApiBody>,
) -> HttpResponse<ApiBody> {
    match *req.method() {
        Method::GET | Method::HEAD => answer(),
        Method::OPTIONS => preflight(state),
        _ => method_not_allowed(state, req),
    }
}

/// A 200 with a small fixed or rendered body and its `Content-Type`.
pub(super) fn ok_text(
    body: impl Into<bytes::Bytes>,
    content_type: HeaderValue,
) -> HttpResponse<ApiBody> {
    let mut response = HttpResponse::with_body(StatusCode::OK, ApiBody::text(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

/// `/internal/metrics`: the service's own counters, in Prometheus text format or, when the
/// scraper's `Accept` prefers it, OpenMetrics.
pub fn internal_metrics(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    get_only(req, state, || {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let format = Format::negotiate(accept);
        let mut response = ok_text(
            state.telemetry.render(format),
            HeaderValue::from_static(format.content_type()),
        );
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        state.add_cors(headers, false);
        response
    })
}

/// `/api/v1/internal/metrics`: the same counters as one cmetrics JSON document, as Fluent Bit
/// 4.2 and later serve their own metrics there (spec §5.9).
pub fn internal_metrics_cmetrics(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    get_only(req, state, || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let text = state.telemetry.render(Format::Prometheus);
        let document = crate::telemetry::cmetrics::from_prometheus(&text, now);
        json_no_store(state, document)
    })
}

/// A 200 JSON answer that must not be cached, with CORS headers.
fn json_no_store(state: &ApiState, body: impl Into<bytes::Bytes>) -> HttpResponse<ApiBody> {
    let mut response = ok_text(body, JSON);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, NO_STORE);
    state.add_cors(headers, false);
    response
}

/// `/api/v1/health`: the service is up and every listener is bound (the read API is only
/// started once they are), so liveness and readiness are the same answer.
pub fn health(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    get_only(req, state, || {
        json_no_store(state, "{\"status\":\"ok\",\"ready\":true}\n")
    })
}

/// Any other path: 404 with a JSON body naming the endpoints.
pub fn not_found(req: &HttpRequest, state: &ApiState) -> HttpResponse<ApiBody> {
    let message = format!(
        "no endpoint at {}; the endpoints are /logs, /metrics, /traces, /, /ui, \
         /internal/metrics, /api/v1/logs, /api/v1/metrics, /api/v1/traces, \
         /api/v1/internal/metrics, /api/v1/health and /api/v1/metrics/prometheus",
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

/// 405 with `Allow`, naming the method and the path.
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
