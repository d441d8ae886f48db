//! The read API: one actix-web server per `vivo_exporter` output, serving its streams.
//!
//! Handlers peek at a stream snapshot (lock-free) and answer with the stored bytes; see
//! [`body::ApiBody`]. Routes match exactly (spec §13.1): `/logs`, `/metrics`, `/traces`, `/`,
//! `/internal/metrics`; anything else is a 404 with a JSON body. The server itself (workers,
//! timeouts, limits, h2c) is built by [`crate::http`], as every HTTP listener is.
//!
//! Each handler is a closure that owns the output's state: a request reaches it without any
//! shared reference count being touched (no `web::Data` clone), and nothing on the read path is
//! shared between workers but the stream snapshot.

mod body;
mod handlers;
mod query;

pub use query::{parse_selection, BadParameter};

use crate::http::{self, BoundServer, HttpSettings};
use crate::output::VivoOutput;
use crate::signal::Signal;
use crate::telemetry::Telemetry;
use actix_web::http::header::HeaderValue;
use actix_web::{web, HttpRequest, HttpResponse};
use body::ApiBody;
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
}

impl ApiState {
    fn output(&self) -> &VivoOutput {
        &self.outputs[self.index]
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
const STATUSES: [u16; 6] = [200, 204, 400, 404, 405, 500];

/// Binds the read API of output `index` on `host:port` with `settings`. Fails if the address
/// cannot be bound or `http_cors_allow_origin` is not a valid header value.
pub fn bind(
    outputs: Arc<[VivoOutput]>,
    index: usize,
    telemetry: Arc<Telemetry>,
    (host, port): (&str, u16),
    settings: &HttpSettings,
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
    });
    http::bind(host, port, settings, move |config| routes(config, &state))
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
    let to = |endpoint: Endpoint| {
        let state = state.clone();
        web::to(move |req: HttpRequest| std::future::ready(counted(&state, endpoint(&req, &state))))
    };
    let stream = |signal: Signal| {
        let state = state.clone();
        web::to(move |req: HttpRequest| {
            let response = handlers::read_stream(&req, &state, signal);
            std::future::ready(counted(&state, response))
        })
    };
    config
        .route("/logs", stream(Signal::Logs))
        .route("/metrics", stream(Signal::Metrics))
        .route("/traces", stream(Signal::Traces))
        .route("/", to(handlers::root))
        .route("/internal/metrics", to(handlers::internal_metrics))
        .route("/api/v1/metrics/prometheus", to(handlers::internal_metrics))
        .route("/api/v1/health", to(handlers::health))
        .default_service(to(handlers::not_found));
}
