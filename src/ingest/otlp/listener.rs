//! The listeners of one `opentelemetry` input, bound before anything starts: OTLP/HTTP on
//! `port` (actix-web, through [`crate::http`]), with gRPC connections on that port handed to
//! tonic when `http2` is on ([`crate::http::split`]), and OTLP/gRPC on `grpc_port` (tonic).

use std::net::SocketAddr;
use std::sync::Arc;

use super::batch::OtlpShape;
use super::grpc::OtlpGrpc;
use super::http::{self, OtlpHttpState};
use crate::config::OpenTelemetryInput;
use crate::http::{BoundServer, HttpSettings, RunningServer};
use crate::pipeline::PipelineHandle;
use crate::telemetry::Telemetry;
use tokio::sync::mpsc::UnboundedReceiver;

/// A bound `opentelemetry` input, ready to serve.
pub struct OtlpListener {
    state: Arc<OtlpHttpState>,
    http: BoundServer,
    grpc: Option<tokio::net::TcpListener>,
    /// gRPC connections that arrive on the HTTP port (`http2 on`).
    grpc_on_http: Option<UnboundedReceiver<std::net::TcpStream>>,
}

/// A serving `opentelemetry` input.
pub struct RunningOtlp {
    /// The OTLP/HTTP server, stopped with the other HTTP servers.
    pub http: RunningServer,
    /// The gRPC servers' tasks (`grpc_port`, and the HTTP port's gRPC connections), aborted
    /// at stop.
    pub grpc: Vec<tokio::task::JoinHandle<()>>,
}

impl OtlpListener {
    /// Binds the input's ports. Must run inside the ingest runtime (for the gRPC socket).
    pub async fn bind(
        instance: &str,
        settings: &OpenTelemetryInput,
        pipeline: PipelineHandle,
        telemetry: Arc<Telemetry>,
        server: HttpSettings,
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
        let (h2, grpc_on_http) = match settings.http2 {
            true => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let http = http::bind(state.clone(), server, h2)?;
        let grpc = match settings.grpc {
            true => Some(
                tokio::net::TcpListener::bind((settings.listen.as_str(), settings.grpc_port))
                    .await?,
            ),
            false => None,
        };
        Ok(OtlpListener {
            state,
            http,
            grpc,
            grpc_on_http,
        })
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
        if self.grpc_on_http.is_some() {
            text.push_str(" (and OTLP/gRPC)");
        }
        if let Some(addr) = self.grpc_addr() {
            text.push_str(&format!(", OTLP/gRPC on {addr}"));
        }
        text
    }

    /// Starts serving on `runtime`.
    pub fn start(self, runtime: &tokio::runtime::Handle) -> RunningOtlp {
        let routes = OtlpGrpc::new(self.state.clone()).router();
        let mut grpc = Vec::new();
        if let Some(listener) = self.grpc {
            let incoming =
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
            grpc.push(runtime.spawn(serve_grpc(routes.clone(), incoming, self.state.clone())));
        }
        if let Some(connections) = self.grpc_on_http {
            // Sockets from the HTTP port's workers, registered again with this runtime.
            let incoming = futures_util::stream::unfold(connections, |mut connections| async {
                let stream = connections.recv().await?;
                Some((tokio::net::TcpStream::from_std(stream), connections))
            });
            grpc.push(runtime.spawn(serve_grpc(routes, incoming, self.state.clone())));
        }
        RunningOtlp {
            http: self.http.start(runtime),
            grpc,
        }
    }
}

/// Serves the OTLP gRPC services on the connections `incoming` yields.
async fn serve_grpc<I, IO, IE>(
    routes: tonic::service::Routes,
    incoming: I,
    state: Arc<OtlpHttpState>,
) where
    I: futures_util::Stream<Item = Result<IO, IE>>,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let served = tonic::transport::Server::builder()
        .add_routes(routes)
        .serve_with_incoming(incoming)
        .await;
    if let Err(err) = served {
        log::error!(
            "[input:opentelemetry:{}] gRPC server failed: {err}",
            state.instance
        );
    }
}
