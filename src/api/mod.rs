//! The read API: one HTTP/1.1 server per `vivo_exporter` output, serving its streams.
//!
//! Handlers peek at a stream snapshot (lock-free) and answer with the stored bytes; see
//! [`body::ApiBody`]. Routes match exactly (spec §13.1): `/logs`, `/metrics`, `/traces`, `/`,
//! `/internal/metrics`; anything else is a 404 with a JSON body.
//!
//! Why hyper and not actix-web (the design card's choice): actix-http copies every body chunk
//! into its write buffer before writing it, which on a 20 MB stream read under many readers was
//! 14% of server CPU; hyper queues our `Bytes` pieces and writes them with vectored writes, so
//! the bytes go from the stream's segments to the socket with no copy on our side.
//!
//! Threads: `http_workers` threads, each running its own single-threaded runtime that accepts
//! from its own listening socket on the shared port (SO_REUSEPORT) and serves its connections, so a request never hops threads
//! and nothing on the read path is shared between workers but the stream snapshot.

mod body;
mod handlers;
mod query;

pub use query::{parse_selection, BadParameter};

use crate::output::VivoOutput;
use crate::telemetry::Telemetry;
use http::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// What every handler of one server needs: its output and the service's counters.
pub struct ApiState {
    outputs: Arc<[VivoOutput]>,
    index: usize,
    telemetry: Arc<Telemetry>,
    /// `http_cors_allow_origin`, checked once at start to be a valid header value.
    cors_origin: Option<HeaderValue>,
}

impl ApiState {
    fn output(&self) -> &VivoOutput {
        &self.outputs[self.index]
    }
}

/// A running read-API server.
pub struct ApiServer {
    /// The addresses it listens on (the real port when 0 was asked for).
    pub addrs: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl ApiServer {
    /// Binds `host:port` for output `index` and serves it with `http_workers` threads. Fails if
    /// the address cannot be bound or `http_cors_allow_origin` is not a valid header value.
    pub fn start(
        outputs: Arc<[VivoOutput]>,
        index: usize,
        telemetry: Arc<Telemetry>,
        bind: (String, u16),
        http_workers: usize,
    ) -> std::io::Result<ApiServer> {
        let cors_origin = match &outputs[index].settings.cors_allow_origin {
            Some(origin) => Some(HeaderValue::from_str(origin).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("http_cors_allow_origin {origin:?} is not a valid header value"),
                )
            })?),
            None => None,
        };
        let wanted = std::net::ToSocketAddrs::to_socket_addrs(&(bind.0.as_str(), bind.1))?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{} resolves to no address", bind.0)))?;
        // Each worker gets its own listening socket on the same port (SO_REUSEPORT), so the
        // kernel spreads connections evenly; with one shared socket, whichever worker woke first
        // took them all.
        // A plain bind first: it fails if anything else holds the port (sockets with
        // SO_REUSEPORT would otherwise share it silently) and picks the port when 0 is asked.
        let bound = std::net::TcpListener::bind(wanted)?.local_addr()?;
        let first = reuseport_listener(bound)?;
        let addrs = vec![bound];
        let mut listeners = vec![first];
        for _ in 1..http_workers.max(1) {
            listeners.push(reuseport_listener(bound)?);
        }
        let state = Arc::new(ApiState {
            outputs,
            index,
            telemetry,
            cors_origin,
        });
        let (stop, stopped) = watch::channel(false);
        let mut threads = Vec::new();
        for (n, listener) in listeners.into_iter().enumerate() {
            let state = state.clone();
            let stopped = stopped.clone();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("http-{index}-{n}"))
                    .spawn(move || runtime.block_on(serve(listener, state, stopped)))?,
            );
        }
        Ok(ApiServer {
            addrs,
            stop,
            threads,
        })
    }

    /// Stops accepting and ends the workers (connections still open are closed).
    pub fn stop(self) {
        let _ = self.stop.send(true);
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// A non-blocking listening socket on `addr` that other sockets may share (SO_REUSEPORT).
fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// One worker: accepts connections until told to stop, serving each on its own task.
async fn serve(
    listener: std::net::TcpListener,
    state: Arc<ApiState>,
    mut stopped: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => listener,
        Err(err) => {
            log::error!("[output:vivo_exporter] cannot serve: {err}");
            return;
        }
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Responses leave in several writes; Nagle would hold the last one back
                    // until the client's delayed ACK (40 ms per keep-alive request).
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |req| {
                            let response = handlers::handle(&req, &state);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        // A client that goes away mid-request is not an error worth a log line.
                        // Not `pipeline_flush`: it makes hyper flatten (copy) every body into
                        // one write buffer per connection (measured: RSS 32 -> 109 MB).
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(err) => {
                    log::warn!("[output:vivo_exporter] accept failed: {err}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stopped.changed() => return,
        }
    }
}
