//! The one place that builds an actix-web server, for every HTTP listener of the service (the
//! read API, the OTLP/HTTP and HTTP JSON inputs).
//!
//! A server is built in two steps so that a failed start logs only the failure: [`bind`] binds
//! the address (port 0 gets its real port) and configures the server without running it;
//! [`BoundServer::start`] then runs it on a Tokio runtime of the caller's. Every accepted
//! connection goes the same way, whatever the listener: through its [`ConnectionGate`] (the
//! connection limit and gauge), `TCP_NODELAY` and `TCP_USER_TIMEOUT`, the TLS handshake when the
//! listener has TLS, then to actix-web's HTTP service (HTTP/1.1, or HTTP/2 when the client opens
//! with the HTTP/2 preface or chose `h2` by ALPN), unless [`H2::Grpc`] sends HTTP/2 connections
//! to a gRPC server instead. What every listener shares is applied here: workers, keep-alive and
//! client request timeouts, backlog, the write buffer, and a stop that lets in-flight requests
//! finish within a bound.
//!
//! actix-web's HTTP/1 encoder copies every body chunk into its per-connection write buffer (it
//! has no vectored write path), so [`HttpSettings::write_buffer`] and the size of the pieces a
//! body yields decide how often that buffer grows and how large each socket write is; see
//! `loadtest/README.md` for what each choice cost.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_service::{fn_factory, fn_service, map_config, Service, ServiceFactory};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::middleware::{Compress, Condition};
use actix_web::{web, App};
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedSender;

use super::gate::ConnectionGate;
use super::io::{ClientStream, Transport};
use super::preface::opens_with_h2_preface;
use crate::tls::{self, TlsServer};

/// How an HTTP listener is run. Each field is the same knob on every listener.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Which component serves (`vivo_exporter.0`), for log lines.
    pub name: String,
    /// Worker threads, each with its own single-threaded runtime; connections are spread over
    /// them by actix's accept thread.
    pub workers: usize,
    /// How long an idle keep-alive connection is kept.
    pub keep_alive: Duration,
    /// How long a client may take to send a request's head, or to complete a TLS handshake
    /// (slow clients are cut off).
    pub client_request_timeout: Duration,
    /// How long a closing connection may take to shut down.
    pub client_disconnect_timeout: Duration,
    /// The listen backlog.
    pub backlog: u32,
    /// The listener's connection limit and gauges, shared by its workers.
    pub gate: Arc<ConnectionGate>,
    /// How far the HTTP/1 write buffer fills before it is written to the socket.
    pub write_buffer: usize,
    /// How long a stop waits for in-flight requests (whole seconds, at least 1; the
    /// service's `grace`).
    pub shutdown_timeout: Duration,
    /// How long data sent to a client may stay unacknowledged (`TCP_USER_TIMEOUT`): a reader
    /// that stops reading is cut off then, and releases what its answer holds.
    pub send_timeout: Duration,
    /// TLS for every connection, when configured.
    pub tls: Option<TlsServer>,
    /// Compress answers (zstd, gzip, deflate) for clients whose `Accept-Encoding` asks, chunk
    /// by chunk as the body is sent (actix-web's `Compress`: gzip at flate2's fast level, zstd
    /// level 3). Others get the stored bytes as they are. No brotli: actix prefers it whenever
    /// a browser offers it, and at quality 3 it costs four times gzip's CPU per MB.
    pub compress: bool,
}

/// What a listener does with HTTP/2 connections.
#[derive(Clone)]
pub enum H2 {
    /// HTTP/1.1 only (`http2 off`).
    Off,
    /// actix-web serves HTTP/2 too: with prior knowledge in cleartext (h2c), by ALPN with TLS.
    Serve,
    /// HTTP/2 connections are gRPC: each worker starts a gRPC server (tonic) on its own runtime
    /// with this, and hands it those connections, unread, where they were accepted.
    Grpc(GrpcSpawner),
}

/// Starts a gRPC server on the calling worker's runtime; returns where its connections go.
pub type GrpcSpawner = Arc<dyn Fn() -> UnboundedSender<ClientStream> + Send + Sync>;

impl std::fmt::Debug for H2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            H2::Off => "Off",
            H2::Serve => "Serve",
            H2::Grpc(_) => "Grpc",
        })
    }
}

impl HttpSettings {
    /// `shutdown_timeout` as actix takes it: whole seconds, rounded up, at least 1.
    pub fn shutdown_seconds(&self) -> u64 {
        self.shutdown_timeout.as_secs_f64().ceil().max(1.0) as u64
    }

    /// The defaults for a listener with `workers` workers behind `gate` (which names it).
    pub fn new(gate: Arc<ConnectionGate>, workers: usize) -> Self {
        HttpSettings {
            name: gate.name().to_string(),
            workers: workers.max(1),
            keep_alive: Duration::from_secs(75),
            client_request_timeout: Duration::from_secs(10),
            client_disconnect_timeout: Duration::from_secs(1),
            backlog: 1024,
            gate,
            write_buffer: WRITE_BUFFER,
            shutdown_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(60),
            tls: None,
            compress: false,
        }
    }
}

/// The HTTP/1 write buffer's fill level before a socket write. actix copies every body piece
/// into this buffer; at 256 KiB a Vivo UI window read (about 190 KB) leaves in one `sendto`,
/// as it did with vectored writes before (32 KiB, actix's default, took 6; 64 KiB took 3), and
/// the buffer stays within actix's retention limit (the larger of this and 128 KiB), so it is
/// reused from one response to the next instead of being reallocated.
pub const WRITE_BUFFER: usize = 256 * 1024;

/// The largest piece a response body yields: half the write buffer, so a buffer that still
/// has room takes a whole piece without outgrowing the retention limit.
pub const MAX_BODY_PIECE: usize = WRITE_BUFFER / 2;

/// Sets `TCP_NODELAY` and `TCP_USER_TIMEOUT` on an accepted connection; a failure only loses
/// the option. Without `TCP_NODELAY` an answer's last write would wait for the client's delayed
/// ACK (40 ms per keep-alive request).
pub fn tune_accepted(stream: &TcpStream, send_timeout: Duration) {
    let _ = stream.set_nodelay(true);
    let _ = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(send_timeout));
}

/// The ALPN protocols a listener offers with TLS.
pub fn alpn_for(h2: &H2) -> &'static [&'static [u8]] {
    match h2 {
        H2::Off => &[b"http/1.1"],
        H2::Serve | H2::Grpc(_) => &[b"h2", b"http/1.1"],
    }
}

/// A server bound to its address but not running yet.
pub struct BoundServer {
    name: String,
    addrs: Vec<SocketAddr>,
    server: Server,
    shutdown_timeout: Duration,
}

/// A running server.
pub struct RunningServer {
    name: String,
    addrs: Vec<SocketAddr>,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    shutdown_timeout: Duration,
}

/// Binds `host:port` and configures an actix-web server whose every worker builds its `App`
/// with `configure` (routes, state), serving HTTP/2 as `h2` says. Fails if the address cannot
/// be bound.
pub fn bind<F>(
    host: &str,
    port: u16,
    settings: &HttpSettings,
    configure: F,
    h2: H2,
) -> std::io::Result<BoundServer>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = std::net::TcpListener::bind((host, port))?;
    let addrs = vec![listener.local_addr()?];
    let http = settings.clone();
    let acceptor = settings.tls.as_ref().map(|tls| tls.acceptor(alpn_for(&h2)));
    let builder = actix_server::Server::build();
    // Lets idle keep-alive connections close at once when a stop begins, as HttpServer does.
    let stopping = builder.graceful_shutdown_signal();
    let compress = settings.compress;
    let factory = move || {
        let app = App::new()
            .wrap(Condition::new(compress, Compress::default()))
            .configure(configure.clone());
        let stopping = stopping.clone();
        let http_factory = HttpService::<ClientStream, _, _, _, _>::build()
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            .keep_alive(http.keep_alive)
            .client_request_timeout(http.client_request_timeout)
            .client_disconnect_timeout(http.client_disconnect_timeout)
            .h1_write_buffer_size(http.write_buffer)
            .finish(map_config(app, |_| AppConfig::default()));
        let connection = Connection {
            gate: http.gate.clone(),
            send_timeout: http.send_timeout,
            wait: http.client_request_timeout,
            acceptor: acceptor.clone(),
            h2: !matches!(h2, H2::Off),
            grpc: None,
        };
        let h2 = h2.clone();
        fn_factory(move || {
            let ready = http_factory.new_service(());
            let mut connection = connection.clone();
            // Runs on the worker's runtime, where its connections are registered.
            if let H2::Grpc(spawn) = &h2 {
                connection.grpc = Some(spawn());
            }
            async move {
                let http = Rc::new(ready.await?);
                Ok::<_, ()>(fn_service(move |stream: TcpStream| {
                    let (http, connection) = (http.clone(), connection.clone());
                    async move {
                        let Some((stream, protocol, peer)) = connection.open(stream).await else {
                            return Ok(());
                        };
                        http.call((stream, protocol, peer)).await.map_err(|_| ())
                    }
                }))
            }
        })
    };
    let server = builder
        .workers(settings.workers)
        .backlog(settings.backlog)
        .shutdown_timeout(settings.shutdown_seconds())
        // The service handles SIGTERM/SIGINT itself and stops every server in order.
        .disable_signals()
        .listen(settings.name.clone(), listener, factory)?
        .run();
    Ok(BoundServer {
        name: settings.name.clone(),
        addrs,
        server,
        shutdown_timeout: settings.shutdown_timeout,
    })
}

/// What a worker does with each accepted connection before HTTP sees it.
#[derive(Clone)]
struct Connection {
    gate: Arc<ConnectionGate>,
    send_timeout: Duration,
    wait: Duration,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    /// Whether HTTP/2 is taken at all (not `http2 off`).
    h2: bool,
    /// This worker's gRPC server, which takes the HTTP/2 connections instead of actix.
    grpc: Option<UnboundedSender<ClientStream>>,
}

impl Connection {
    /// Admits the connection, completes TLS and finds its protocol; `None` when it was
    /// refused, failed its handshake, or went to the gRPC server.
    async fn open(
        &self,
        stream: TcpStream,
    ) -> Option<(ClientStream, Protocol, Option<SocketAddr>)> {
        let peer = stream.peer_addr().ok();
        let admitted = self.gate.admit(display_peer(peer))?;
        tune_accepted(&stream, self.send_timeout);
        let (stream, h2) = match &self.acceptor {
            Some(acceptor) => match tls::handshake(acceptor, stream, self.wait).await {
                Ok(tls) => {
                    let h2 = tls::negotiated_h2(&tls);
                    (Transport::Tls(Box::new(tls)), h2)
                }
                Err(e) => {
                    self.gate
                        .refuse(e.reason(), || format!("{}: {e}", display_peer(peer)));
                    return None;
                }
            },
            None => {
                let h2 = self.h2 && opens_with_h2_preface(&stream, self.wait).await;
                (Transport::Plain(stream), h2)
            }
        };
        // The connection holds its place at the gate for as long as it lives, whichever
        // server gets it.
        let stream = ClientStream::new(stream, admitted);
        match (&self.grpc, h2) {
            (Some(grpc), true) => {
                let _ = grpc.send(stream);
                None
            }
            (None, true) => Some((stream, Protocol::Http2, peer)),
            (_, false) => Some((stream, Protocol::Http1, peer)),
        }
    }
}

/// A peer address for log lines.
fn display_peer(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unknown peer".to_string(), |p| p.to_string())
}

impl BoundServer {
    /// The addresses bound (the real port when 0 was asked for).
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Starts the workers and serves; the server's control task runs on `runtime`.
    pub fn start(self, runtime: &tokio::runtime::Handle) -> RunningServer {
        let handle = self.server.handle();
        RunningServer {
            name: self.name,
            addrs: self.addrs,
            handle,
            task: runtime.spawn(self.server),
            shutdown_timeout: self.shutdown_timeout,
        }
    }
}

impl RunningServer {
    /// The addresses it listens on.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops accepting, lets in-flight requests finish (up to the shutdown timeout), and ends
    /// the workers.
    pub async fn stop(self) {
        let stopped = self.handle.stop(true);
        if tokio::time::timeout(self.shutdown_timeout * 2, stopped)
            .await
            .is_err()
        {
            log::warn!(
                "[{}] the HTTP server did not stop within {:?}",
                self.name,
                self.shutdown_timeout * 2
            );
        }
        let _ = self.task.await;
    }
}
