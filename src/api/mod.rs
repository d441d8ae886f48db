//! The read API: one actix-web server per `vivo_exporter` output, serving its streams.
//!
//! Handlers peek at a stream snapshot (lock-free) and answer with the stored bytes; see
//! [`body::ApiBody`]. Routes match exactly (spec §13.1): `/logs`, `/metrics`, `/traces`, `/`,
//! `/internal/metrics`, and the live view page `/ui` ([`ui`]); anything else is a 404 with a
//! JSON body. The server itself (workers, timeouts, limits, h2c) is built by [`crate::http`],
//! as every HTTP listener is.
//!
//! With `http_auth_token`, every request but a CORS preflight and `/api/v1/health` must carry
//! the token ([`crate::http::auth`]); others get 401 with `WWW-Authenticate`.
//!
//! Each handler is a closure that owns the output's state: a request reaches it without any
//! shared reference count being touched (no `web::Data` clone), and nothing on the read path is
//! shared between workers but the stream snapshot.

mod body;
mod era_bc;
mod follow;
mod handlers;
mod query;
mod ui;

pub use query::{parse_selection, BadParameter};

use crate::config::Secret;
use crate::http::{self, auth, BoundServer, HttpSettings, H2};
use crate::output::VivoOutput;
use crate::signal::Signal;
use crate::telemetry::Telemetry;
use actix_web::http::header::HeaderValue;
use actix_web::{web, HttpRequest, HttpResponse};
use body::ApiBody;
use futures_util::future::{Either, LocalBoxFuture};
use handlers::StreamAnswer;
use std::future::ready;
use std::sync::Arc;

/// What every handler of one server needs: its output and the service's counters.
pub struct ApiState {
    outputs: Arc<[VivoOutput]>,
    index: usize,
    telemetry: Arc<Telemetry>,
    /// `http_cors_allow_origin`, checked once at start to be a valid header value.
    cors_origin: Option<HeaderValue>,
    /// Requests answered, per status code this API gives (handles kept, so no lookup).
    answered: Vec<(u16, prometheus_client::metrics::counter::Counter)>,
    /// `http_auth_token`.
    auth_token: Option<Secret>,
    /// This start's generation: entry IDs restart with every start, so validators and
    /// clients need to tell starts apart.
    generation: u64,
    /// The same as a header value, made once.
    generation_header: HeaderValue,
}

impl ApiState {
    fn output(&self) -> &VivoOutput {
        &self.outputs[self.index]
    }

    /// Whether `req` may be answered: no token is configured, it carries the token, or it is
    /// a CORS preflight (browsers send those without credentials).
    fn admits(&self, req: &HttpRequest) -> bool {
        match &self.auth_token {
            None => true,
            Some(_) if req.method() == actix_web::http::Method::OPTIONS => true,
            Some(token) => auth::authorized(req, token),
        }
    }

    /// Counts a request answered with `status`.
    fn count(&self, status: u16) {
        match self.answered.iter().find(|(code, _)| *code == status) {
            Some((_, counter)) => {
                counter.inc();
            }
            None => {
                let output = &self.output().instance;
                self.telemetry.read_requests(output, status).inc();
            }
        }
    }
}

/// The status codes the read API answers with.
const STATUSES: [u16; 8] = [200, 204, 304, 400, 401, 404, 405, 500];

/// Binds the read API of output `index` on `host:port` with `settings`, asking for
/// `auth_token` when set. Fails if the address cannot be bound or `http_cors_allow_origin` is
/// not a valid header value.
pub fn bind(
    outputs: Arc<[VivoOutput]>,
    index: usize,
    telemetry: Arc<Telemetry>,
    (host, port): (&str, u16),
    settings: &HttpSettings,
    auth_token: Option<Secret>,
) -> std::io::Result<BoundServer> {
    let cors_origin = match &outputs[index].settings.cors_allow_origin {
        Some(origin) => Some(HeaderValue::from_str(origin).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("http_cors_allow_origin {origin:?} is not a valid header value"),
            )
        })?),
        None => None,
    };
    let output = outputs[index].instance.clone();
    let generation = new_generation();
    let answered = STATUSES
        .iter()
        .map(|&status| (status, telemetry.read_requests(&output, status)))
        .collect();
    let state = Arc::new(ApiState {
        outputs,
        index,
        telemetry,
        cors_origin,
        answered,
        auth_token,
        generation,
        generation_header: HeaderValue::from_str(&format!("{generation:x}"))
            .expect("hex digits are a valid header value"),
    });
    http::bind(
        host,
        port,
        settings,
        move |config| routes(config, &state),
        H2::Serve,
    )
}

/// A generation no earlier start had: random, or the start time if no randomness is available.
fn new_generation() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    })
}

/// Which API generation a stream route speaks (spec §1): era A's `/logs` (one line per
/// record) or eras B/C's `/api/v1/logs` (one object per entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Fluent Bit up to 4.1: `/logs`, `/metrics`, `/traces`.
    A,
    /// Fluent Bit 4.2 and later: `/api/v1/logs`, `/api/v1/metrics`, `/api/v1/traces`.
    BC,
}

/// A stream route: which stream, in which era's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The stream.
    pub signal: Signal,
    /// The format of its log entries.
    pub era: Era,
}

impl Route {
    /// Whether entries are sent as era-B/C objects (only logs differ between the eras).
    fn era_bc_logs(&self) -> bool {
        self.era == Era::BC && self.signal == Signal::Logs
    }
}

/// Counts `response` by its status and passes it on.
fn counted(state: &ApiState, response: HttpResponse<ApiBody>) -> HttpResponse<ApiBody> {
    state.count(response.status().as_u16());
    response
}

/// A handler: a plain function of the request and the state, answered at once.
type Endpoint = fn(&HttpRequest, &ApiState) -> HttpResponse<ApiBody>;

/// The routes of one worker's `App`; every handler owns a clone of `state` (one per worker).
fn routes(config: &mut web::ServiceConfig, state: &Arc<ApiState>) {
    let guarded = |endpoint: Endpoint| {
        let state = state.clone();
        web::to(move |req: HttpRequest| {
            let response = match state.admits(&req) {
                true => endpoint(&req, &state),
                false => handlers::unauthorized(&state),
            };
            std::future::ready(counted(&state, response))
        })
    };
    let open = |endpoint: Endpoint| {
        let state = state.clone();
        web::to(move |req: HttpRequest| std::future::ready(counted(&state, endpoint(&req, &state))))
    };
    // A plain read is answered at once, touching no shared reference count; only a
    // long-poll or a follow takes its own handle on the state, to outlive the call.
    let stream = |signal: Signal, era: Era| {
        let state = state.clone();
        let route = Route { signal, era };
        web::to(move |req: HttpRequest| {
            let answer = match state.admits(&req) {
                true => handlers::classify(&req, &state, route),
                false => StreamAnswer::Now(handlers::unauthorized(&state)),
            };
            match answer {
                StreamAnswer::Now(response) => Either::Left(ready(counted(&state, response))),
                StreamAnswer::Follow { format, from, last } => {
                    let response = handlers::follow(state.clone(), route, format, from, last);
                    Either::Left(ready(counted(&state, response)))
                }
                StreamAnswer::Wait { selection, wait } => {
                    let state = state.clone();
                    Either::Right(Box::pin(async move {
                        follow::wait_for_entries(&state, signal, selection, wait).await;
                        counted(&state, handlers::read_stream(&req, &state, route))
                    }) as LocalBoxFuture<'static, _>)
                }
            }
        })
    };
    config
        .route("/logs", stream(Signal::Logs, Era::A))
        .route("/metrics", stream(Signal::Metrics, Era::A))
        .route("/traces", stream(Signal::Traces, Era::A))
        // Fluent Bit 4.2 and later: the same streams and IDs; logs in the era-B/C format,
        // metrics and traces as they are in every era.
        .route("/api/v1/logs", stream(Signal::Logs, Era::BC))
        .route("/api/v1/metrics", stream(Signal::Metrics, Era::BC))
        .route("/api/v1/traces", stream(Signal::Traces, Era::BC))
        .route(
            "/api/v1/internal/metrics",
            guarded(handlers::internal_metrics_cmetrics),
        )
        .route("/", guarded(handlers::root))
        // The live view page; it asks for the token as every read does.
        .route("/ui", guarded(ui::page))
        .route("/internal/metrics", guarded(handlers::internal_metrics))
        .route(
            "/api/v1/metrics/prometheus",
            guarded(handlers::internal_metrics),
        )
        // Probes need no token; the answer tells nothing but that the service is up.
        .route("/api/v1/health", open(handlers::health))
        .default_service(guarded(handlers::not_found));
}
