//! The listeners of one `opentelemetry` input, bound before anything starts: OTLP/HTTP on
//! `port`, with its HTTP/2 connections handed to gRPC when `http2` is on, and OTLP/gRPC on
//! `grpc_port`. Both are built by [`crate::http`], so they share its connection limits,
//! timeouts and TLS; every HTTP worker runs a tonic server of its own for the gRPC connections
//! it accepted.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::batch::OtlpShape;
use super::grpc::OtlpGrpc;
use super::http::{self, OtlpHttpState};
use crate::config::OpenTelemetryInput;
use crate::http::body::BodyLimits;
use crate::http::io::ClientStream;
use crate::http::{self as http_server, BoundServer, GrpcSpawner, HttpSettings, RunningServer, H2};
use crate::ingest::budget::FrameBudget;
use crate::pipeline::PipelineHandle;
use crate::telemetry::Telemetry;

/// A bound `opentelemetry` input, ready to serve.
pub struct OtlpListener {
    http: BoundServer,
    grpc: Option<BoundServer>,
    /// Whether the HTTP port takes gRPC too (`http2 on`).
    grpc_on_http: bool,
}

/// A serving `opentelemetry` input: its servers, stopped with the other HTTP servers.
pub struct RunningOtlp {
    /// The OTLP/HTTP server, and the `grpc_port` one when gRPC is on.
    pub servers: Vec<RunningServer>,
}

impl OtlpListener {
    /// Binds the input's ports: `port` with `http` settings, `grpc_port` with `grpc`.
    pub fn bind(
        instance: &str,
        settings: &OpenTelemetryInput,
        pipeline: PipelineHandle,
        telemetry: Arc<Telemetry>,
        (http, grpc): (HttpSettings, HttpSettings),
    ) -> std::io::Result<OtlpListener> {
        let state = Arc::new(OtlpHttpState {
            instance: Arc::from(instance),
            pipeline,
            telemetry,
            settings: settings.clone(),
            shape: Arc::new(OtlpShape {
                logs_metadata_key: settings.logs_metadata_key.clone(),
                logs_body_key: settings.logs_body_key.clone(),
                raw_traces: settings.raw_traces,
            }),
            bodies: BodyLimits {
                max: settings.buffer_max_size,
                first_allocation: settings.buffer_chunk_size,
                budget: FrameBudget::new(settings.mem_buf_limit),
            },
        });
        let spawner = grpc_spawner(&state);
        let h2 = match settings.http2 {
            true => H2::Grpc(spawner.clone()),
            false => H2::Off,
        };
        let http_server = http::bind(state.clone(), http, h2)?;
        let grpc_server = match settings.grpc {
            true => Some(bind_grpc_port(settings, &grpc, spawner)?),
            false => None,
        };
        Ok(OtlpListener {
            http: http_server,
            grpc: grpc_server,
            grpc_on_http: settings.http2,
        })
    }

    /// The OTLP/HTTP address (the real port when 0 was asked for).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.addrs().first().copied()
    }

    /// The OTLP/gRPC address, when gRPC is on.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|s| s.addrs().first().copied())
    }

    /// Where it listens, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut text = match self.http_addr() {
            Some(addr) => format!("OTLP/HTTP on {addr}"),
            None => "OTLP/HTTP".to_string(),
        };
        if self.grpc_on_http {
            text.push_str(" (and OTLP/gRPC)");
        }
        if let Some(addr) = self.grpc_addr() {
            text.push_str(&format!(", OTLP/gRPC on {addr}"));
        }
        text
    }

    /// Starts serving on `runtime`.
    pub fn start(self, runtime: &tokio::runtime::Handle) -> RunningOtlp {
        let mut servers = vec![self.http.start(runtime)];
        servers.extend(self.grpc.map(|grpc| grpc.start(runtime)));
        RunningOtlp { servers }
    }
}

/// The gRPC port: an HTTP listener whose HTTP/2 connections all go to gRPC; an HTTP/1 request
/// there is told where OTLP/HTTP is.
fn bind_grpc_port(
    settings: &OpenTelemetryInput,
    grpc: &HttpSettings,
    spawner: GrpcSpawner,
) -> std::io::Result<BoundServer> {
    let message = format!(
        "{{\"error\":\"grpc_only\",\"message\":\"this port serves OTLP/gRPC; OTLP/HTTP is on port {}\"}}\n",
        settings.port
    );
    let configure = move |config: &mut web::ServiceConfig| {
        let message = message.clone();
        config.default_service(web::to(move || {
            let message = message.clone();
            async move {
                HttpResponse::NotFound()
                    .content_type("application/json")
                    .body(message)
            }
        }));
    };
    http_server::bind(
        &settings.listen,
        settings.grpc_port,
        grpc,
        configure,
        H2::Grpc(spawner),
    )
}

/// What each HTTP worker calls to start its gRPC server on its own runtime.
fn grpc_spawner(state: &Arc<OtlpHttpState>) -> GrpcSpawner {
    let routes = OtlpGrpc::new(state.clone()).router();
    let instance = state.instance.clone();
    // hyper's HTTP/2 has no timeout for a head or a first request: a client that opens a
    // connection and stalls (before any request, or mid-head) is found by PING instead, sent
    // once the connection has been silent for idle_timeout, and cut off when the answer has not
    // come within request_timeout. A client that answers stays, as actix's HTTP/2 does.
    let ping_every = state.settings.listener.idle_timeout;
    let answer_within = state.settings.listener.request_timeout;
    Arc::new(move || {
        let (connections, receiver) = tokio::sync::mpsc::unbounded_channel::<ClientStream>();
        let incoming = futures_util::stream::unfold(receiver, |mut receiver| async {
            let stream = receiver.recv().await?;
            Some((Ok::<_, Infallible>(stream), receiver))
        });
        let (routes, instance) = (routes.clone(), instance.clone());
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(ping_every))
                .http2_keepalive_timeout(Some(answer_within))
                .add_routes(routes)
                .serve_with_incoming(incoming)
                .await;
            if let Err(err) = served {
                log::error!("[input:opentelemetry:{instance}] gRPC server failed: {err}");
            }
        });
        connections
    })
}
