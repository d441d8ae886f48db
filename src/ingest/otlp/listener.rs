//! The listeners of one `opentelemetry` input: OTLP/HTTP on `port` (actix-web, through
//! [`crate::http`]) and OTLP/gRPC on `grpc_port` (tonic), bound before anything starts.

use std::net::SocketAddr;
use std::sync::Arc;

use super::batch::OtlpShape;
use super::grpc::OtlpGrpc;
use super::http::{self, OtlpHttpState};
use crate::config::OpenTelemetryInput;
use crate::http::{BoundServer, RunningServer};
use crate::pipeline::PipelineHandle;
use crate::telemetry::Telemetry;

/// A bound `opentelemetry` input, ready to serve.
pub struct OtlpListener {
    state: Arc<OtlpHttpState>,
    http: BoundServer,
    grpc: Option<tokio::net::TcpListener>,
}

/// A serving `opentelemetry` input.
pub struct RunningOtlp {
    /// The OTLP/HTTP server, stopped with the other HTTP servers.
    pub http: RunningServer,
    /// The gRPC server's task, aborted at stop.
    pub grpc: Option<tokio::task::JoinHandle<()>>,
}

impl OtlpListener {
    /// Binds the input's ports. Must run inside the ingest runtime (for the gRPC socket).
    pub async fn bind(
        instance: &str,
        settings: &OpenTelemetryInput,
        pipeline: PipelineHandle,
        telemetry: Arc<Telemetry>,
        http_workers: usize,
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
        });
        let http = http::bind(state.clone(), http_workers)?;
        let grpc = match settings.grpc {
            true => Some(
                tokio::net::TcpListener::bind((settings.listen.as_str(), settings.grpc_port))
                    .await?,
            ),
            false => None,
        };
        Ok(OtlpListener { state, http, grpc })
    }

    /// The OTLP/HTTP address (the real port when 0 was asked for).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.addrs().first().copied()
    }

    /// The OTLP/gRPC address, when gRPC is on.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Where it listens, for the start-up log line.
    pub fn describe(&self) -> String {
        let mut text = match self.http_addr() {
            Some(addr) => format!("OTLP/HTTP on {addr}"),
            None => "OTLP/HTTP".to_string(),
        };
        if let Some(addr) = self.grpc_addr() {
            text.push_str(&format!(", OTLP/gRPC on {addr}"));
        }
        text
    }

    /// Starts serving on `runtime`.
    pub fn start(self, runtime: &tokio::runtime::Handle) -> RunningOtlp {
        let grpc = self.grpc.map(|listener| {
            let routes = OtlpGrpc::new(self.state.clone()).router();
            let instance = self.state.instance.clone();
            runtime.spawn(async move {
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                let served = tonic::transport::Server::builder()
                    .add_routes(routes)
                    .serve_with_incoming(incoming)
                    .await;
                if let Err(err) = served {
                    log::error!("[input:opentelemetry:{instance}] gRPC server failed: {err}");
                }
            })
        });
        RunningOtlp {
            http: self.http.start(runtime),
            grpc,
        }
    }
}
