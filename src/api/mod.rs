//! The read API: one actix-web server per `vivo_exporter` output, serving its streams.
//!
//! Handlers load a stream snapshot (lock-free) and answer with the stored bytes; see
//! [`body::EntriesBody`]. Routes match exactly (spec §13.1): `/logs`, `/metrics`, `/traces`,
//! `/`, `/internal/metrics`; anything else is a 404 with a JSON body.

mod body;
mod handlers;
mod query;

pub use query::{parse_selection, BadParameter};

use crate::output::VivoOutput;
use crate::signal::Signal;
use crate::telemetry::Telemetry;
use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{web, App, HttpResponseBuilder, HttpServer};
use std::net::SocketAddr;
use std::sync::Arc;

/// What every handler of one server needs: its output and the service's counters.
pub struct ApiState {
    outputs: Arc<[VivoOutput]>,
    index: usize,
    telemetry: Arc<Telemetry>,
}

/// Headers the CORS exposure list names, so browser clients can read them.
const EXPOSED_HEADERS: &str = "vivo-stream-start-id, vivo-stream-end-id, vivo-stream-next-id";

impl ApiState {
    fn output(&self) -> &VivoOutput {
        &self.outputs[self.index]
    }

    /// Adds the era-A CORS headers when `http_cors_allow_origin` is set; returns whether it is.
    fn add_cors(&self, response: &mut HttpResponseBuilder, expose_vivo_headers: bool) -> bool {
        let Some(origin) = &self.output().settings.cors_allow_origin else {
            return false;
        };
        response
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.as_str()))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Origin, X-Requested-With, Content-Type, Accept",
            ));
        if expose_vivo_headers {
            response.insert_header((header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED_HEADERS));
        }
        true
    }
}

/// A running read-API server.
pub struct ApiServer {
    /// The addresses it listens on (the real port when 0 was asked for).
    pub addrs: Vec<SocketAddr>,
    /// For a graceful stop.
    pub handle: ServerHandle,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

impl ApiServer {
    /// Binds `host:port` for output `index` and serves it with `http_workers` threads, on a
    /// thread of its own. Fails if the address cannot be bound.
    pub fn start(
        outputs: Arc<[VivoOutput]>,
        index: usize,
        telemetry: Arc<Telemetry>,
        bind: (String, u16),
        http_workers: usize,
    ) -> std::io::Result<ApiServer> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("http-{index}"))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let state = web::Data::new(ApiState {
                        outputs,
                        index,
                        telemetry,
                    });
                    let bound = HttpServer::new(move || app(state.clone()))
                        .on_connect(disable_nagle)
                        .workers(http_workers.max(1))
                        .disable_signals()
                        .shutdown_timeout(5)
                        .bind(bind.clone());
                    let server = match bound {
                        Ok(server) => server,
                        Err(err) => {
                            let _ = ready_tx.send(Err(err));
                            return Ok(());
                        }
                    };
                    let addrs = server.addrs();
                    let running = server.run();
                    let _ = ready_tx.send(Ok((addrs, running.handle())));
                    running.await
                })
            })?;
        match ready_rx.recv() {
            Ok(Ok((addrs, handle))) => Ok(ApiServer {
                addrs,
                handle,
                thread,
            }),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(std::io::Error::other(
                "the HTTP server thread ended at start",
            )),
        }
    }

    /// Stops accepting, lets requests in progress finish, and waits for the server thread.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
    }
}

/// Responses go out in several writes; with Nagle's algorithm the last one waits for the
/// client's delayed ACK (~40 ms per keep-alive request). Readers want the bytes now.
fn disable_nagle(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        let _ = tcp.set_nodelay(true);
    }
}

fn app(
    state: web::Data<ApiState>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let stream_route = |path: &'static str, signal: Signal| {
        web::resource(path)
            .app_data(web::Data::new(signal))
            .to(handlers::read_stream)
    };
    App::new()
        .app_data(state)
        .service(stream_route("/logs", Signal::Logs))
        .service(stream_route("/metrics", Signal::Metrics))
        .service(stream_route("/traces", Signal::Traces))
        .service(web::resource("/").to(handlers::root))
        .service(web::resource("/internal/metrics").to(handlers::internal_metrics))
        .default_service(web::to(handlers::not_found))
}
