//! OTLP/gRPC: the three collector services of `opentelemetry-proto`, served by tonic (gzip and
//! zstd request compression accepted), handing each request to the pipeline as OTLP/HTTP
//! does. tonic decodes the protobuf on its connection task; rendering runs on the worker pool.
//! A request is answered once it is published, with `Export…ServiceResponse` (no partial
//! success); a request that cannot be stored gets `INVALID_ARGUMENT` (or `UNAVAILABLE` while
//! the service stops or the workers are behind), one without the input's token
//! `UNAUTHENTICATED`.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::batch::{OtlpBatch, Payload};
use super::http::{OtlpHttpState, BACKPRESSURE_WAIT};
use crate::pipeline::Outcome;
use crate::signal::Signal;

/// The three services of one input, over the input's shared state.
#[derive(Clone)]
pub struct OtlpGrpc {
    state: Arc<OtlpHttpState>,
}

impl OtlpGrpc {
    /// The services of the input whose state is `state`.
    pub fn new(state: Arc<OtlpHttpState>) -> Self {
        OtlpGrpc { state }
    }

    /// A tonic router with the three services, decoding messages up to `buffer_max_size`.
    pub fn router(self) -> tonic::service::Routes {
        let limit = self.state.settings.buffer_max_size;
        let logs = LogsServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(limit);
        let metrics = MetricsServiceServer::new(self.clone())
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(limit);
        let traces = TraceServiceServer::new(self)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(limit);
        tonic::service::Routes::new(logs)
            .add_service(metrics)
            .add_service(traces)
    }

    /// Refuses a request without the input's `http_auth_token` as `authorization: Bearer …`
    /// metadata (`UNAUTHENTICATED`).
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(token) = &self.state.settings.listener.auth_token else {
            return Ok(());
        };
        let offered = request
            .metadata()
            .get_all("authorization")
            .iter()
            .filter_map(|v| crate::http::auth::bearer_token(v.as_bytes()))
            .any(|offered| token.matches(offered));
        if offered {
            return Ok(());
        }
        self.state
            .telemetry
            .rejected(&self.state.instance, "unauthorized");
        Err(Status::unauthenticated(
            "this input needs its bearer token (authorization: Bearer …)",
        ))
    }

    /// Submits one decoded request and waits until it is published or refused.
    async fn submit(&self, signal: Signal, payload: Payload, size: usize) -> Result<(), Status> {
        let state = &self.state;
        let batch = Box::new(OtlpBatch {
            signal,
            tag: state.tag_for(signal),
            payload,
            shape: state.shape.clone(),
        });
        let submitted = state
            .pipeline
            .submit_within(state.instance.clone(), batch, size, BACKPRESSURE_WAIT)
            .await;
        let Some(submitted) = submitted else {
            state.telemetry.rejected(&state.instance, "busy");
            return Err(Status::unavailable("the service is behind; retry later"));
        };
        match submitted.await {
            Ok(Outcome::Accepted { .. }) => Ok(()),
            Ok(Outcome::Rejected(why)) => {
                state.telemetry.rejected(&state.instance, why.reason);
                Err(match why.reason {
                    "stopping" | "panic" => Status::unavailable(why.detail),
                    _ => Status::invalid_argument(why.detail),
                })
            }
            Err(_) => Err(Status::unavailable("the service is stopping")),
        }
    }
}

#[tonic::async_trait]
impl LogsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.authorize(&request)?;
        let request = request.into_inner();
        let size = prost::Message::encoded_len(&request);
        self.submit(Signal::Logs, Payload::Logs(request), size)
            .await?;
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.authorize(&request)?;
        let request = request.into_inner();
        let size = prost::Message::encoded_len(&request);
        self.submit(Signal::Metrics, Payload::Metrics(request), size)
            .await?;
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl TraceService for OtlpGrpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.authorize(&request)?;
        let request = request.into_inner();
        let size = prost::Message::encoded_len(&request);
        self.submit(Signal::Traces, Payload::Traces(request), size)
            .await?;
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}
