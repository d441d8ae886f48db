//! The one place that builds an actix-web server, for every HTTP listener of the service (the
//! read API now; the OTLP/HTTP and HTTP JSON inputs next).
//!
//! A server is built in two steps so that a failed start logs only the failure: [`bind`] binds
//! the address (port 0 gets its real port) and configures the server without running it;
//! [`BoundServer::start`] then runs it on a Tokio runtime of the caller's. What every listener
//! shares is applied here: workers, keep-alive and client request timeouts, backlog and
//! connection limits, the write buffer, HTTP/2 over cleartext with prior knowledge (h2c) on the
//! same port, and a stop that lets in-flight requests finish within a bound. TLS and response
//! compression will hook in here too.
//!
//! actix-web's HTTP/1 encoder copies every body chunk into its per-connection write buffer (it
//! has no vectored write path), so [`HttpSettings::write_buffer`] and the size of the pieces a
//! body yields decide how often that buffer grows and how large each socket write is; see
//! `loadtest/README.md` for what each choice cost.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use prometheus_client::metrics::gauge::Gauge;

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
    /// How long a client may take to send a request's head (slow clients are cut off).
    pub client_request_timeout: Duration,
    /// How long a closing connection may take to shut down.
    pub client_disconnect_timeout: Duration,
    /// The listen backlog.
    pub backlog: u32,
    /// Connections each worker serves at once; beyond it, accepting pauses.
    pub max_connections_per_worker: usize,
    /// How far the HTTP/1 write buffer fills before it is written to the socket.
    pub write_buffer: usize,
    /// How long a stop waits for in-flight requests (whole seconds, at least 1; the
    /// service's `grace`).
    pub shutdown_timeout: Duration,
    /// Also serve HTTP/2 with prior knowledge (h2c) on the port.
    pub h2c: bool,
    /// How long data sent to a client may stay unacknowledged (`TCP_USER_TIMEOUT`): a reader
    /// that stops reading is cut off then, and releases what its answer holds.
    pub send_timeout: Duration,
    /// The gauge of this listener's open connections.
    pub open_connections: Option<Gauge>,
}

impl HttpSettings {
    /// `shutdown_timeout` as actix takes it: whole seconds, rounded up, at least 1.
    pub fn shutdown_seconds(&self) -> u64 {
        self.shutdown_timeout.as_secs_f64().ceil().max(1.0) as u64
    }

    /// The defaults for a listener named `name` with `workers` workers.
    pub fn new(name: &str, workers: usize) -> Self {
        HttpSettings {
            name: name.to_string(),
            workers: workers.max(1),
            keep_alive: Duration::from_secs(75),
            client_request_timeout: Duration::from_secs(10),
            client_disconnect_timeout: Duration::from_secs(1),
            backlog: 1024,
            max_connections_per_worker: 25_000,
            write_buffer: WRITE_BUFFER,
            shutdown_timeout: Duration::from_secs(5),
            h2c: true,
            send_timeout: Duration::from_secs(60),
            open_connections: None,
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

/// Sets `TCP_USER_TIMEOUT` on a client connection; a failure only loses the timeout.
pub fn set_send_timeout(stream: &actix_web::rt::net::TcpStream, timeout: Duration) {
    let _ = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout));
}

/// One open connection on a listener's gauge, for as long as the connection lives.
pub struct OpenConnection(Gauge);

impl OpenConnection {
    /// Counts one more open connection on `gauge`.
    pub fn new(gauge: Gauge) -> Self {
        gauge.inc();
        OpenConnection(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.dec();
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
/// with `configure` (routes, state). Fails if the address cannot be bound.
pub fn bind<F>(
    host: &str,
    port: u16,
    settings: &HttpSettings,
    configure: F,
) -> std::io::Result<BoundServer>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let (send_timeout, gauge) = (settings.send_timeout, settings.open_connections.clone());
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .on_connect(move |connection, extensions| {
            if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                set_send_timeout(stream, send_timeout);
            }
            if let Some(gauge) = &gauge {
                extensions.insert(OpenConnection::new(gauge.clone()));
            }
        })
        .workers(settings.workers)
        .keep_alive(settings.keep_alive)
        .client_request_timeout(settings.client_request_timeout)
        .client_disconnect_timeout(settings.client_disconnect_timeout)
        .backlog(settings.backlog)
        .max_connections(settings.max_connections_per_worker)
        .h1_write_buffer_size(settings.write_buffer)
        // A response can leave in several writes; with Nagle the last one would wait for the
        // client's delayed ACK (40 ms per keep-alive request).
        .tcp_nodelay(true)
        .shutdown_timeout(settings.shutdown_seconds())
        // The service handles SIGTERM/SIGINT itself and stops every server in order.
        .disable_signals();
    // HTTP/1.1, and HTTP/2 with prior knowledge (`curl --http2-prior-knowledge`) when `h2c`,
    // on the same port: the first bytes of a connection tell which.
    let server = match settings.h2c {
        true => server.bind_auto_h2c((host, port))?,
        false => server.bind((host, port))?,
    };
    let addrs = server.addrs();
    Ok(BoundServer {
        name: settings.name.clone(),
        addrs,
        server: server.run(),
        shutdown_timeout: settings.shutdown_timeout,
    })
}

impl BoundServer {
    /// A server built elsewhere in this module (see [`super::split`]).
    pub(super) fn from_parts(
        settings: &HttpSettings,
        addrs: Vec<SocketAddr>,
        server: Server,
    ) -> Self {
        BoundServer {
            name: settings.name.clone(),
            addrs,
            server,
            shutdown_timeout: settings.shutdown_timeout,
        }
    }

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
