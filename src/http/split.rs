//! One port for HTTP/1.1 and gRPC: the first bytes of a connection tell which. A connection
//! that opens with the HTTP/2 preface (`PRI * HTTP/2.0…`, what every gRPC client sends first)
//! is handed to a gRPC server (tonic) over a channel; any other is served by the actix-web
//! `App`, as [`super::server::bind`] would. This is how Fluent Bit's `opentelemetry` input
//! takes OTLP/gRPC on its HTTP port (`http2 on`).
//!
//! The gRPC side gets the socket itself, unread: the choice is made by peeking.

use std::rc::Rc;
use std::time::Duration;

use actix_http::HttpService;
use actix_service::{fn_factory, fn_service, map_config, Service, ServiceFactory};
use actix_web::dev::AppConfig;
use actix_web::{web, App};
use tokio::sync::mpsc::UnboundedSender;

use super::server::{set_send_timeout, BoundServer, HttpSettings, OpenConnection};

/// The connection preface of HTTP/2 (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Binds `host:port`, serving HTTP/1.1 with an `App` built by `configure` on each worker and
/// sending connections that start with the HTTP/2 preface to `h2`.
pub fn bind_split<F>(
    host: &str,
    port: u16,
    settings: &HttpSettings,
    configure: F,
    h2: UnboundedSender<std::net::TcpStream>,
) -> std::io::Result<BoundServer>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let listener = std::net::TcpListener::bind((host, port))?;
    let addrs = vec![listener.local_addr()?];
    let http = settings.clone();
    let builder = actix_server::Server::build();
    // Lets idle keep-alive connections close at once when a stop begins, as HttpServer does.
    let stopping = builder.graceful_shutdown_signal();
    let factory = move || {
        let app = App::new().configure(configure.clone());
        let stopping = stopping.clone();
        let http_factory = HttpService::build()
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            .keep_alive(http.keep_alive)
            .client_request_timeout(http.client_request_timeout)
            .client_disconnect_timeout(http.client_disconnect_timeout)
            .h1_write_buffer_size(http.write_buffer)
            .tcp_nodelay(true)
            .finish(map_config(app, |_| AppConfig::default()))
            .tcp();
        let h2 = h2.clone();
        let wait = http.client_request_timeout;
        let (send_timeout, gauge) = (http.send_timeout, http.open_connections.clone());
        fn_factory(move || {
            let ready = http_factory.new_service(());
            let (h2, gauge) = (h2.clone(), gauge.clone());
            async move {
                let http = Rc::new(ready.await?);
                Ok::<_, ()>(fn_service(move |stream: actix_rt::net::TcpStream| {
                    let (http, h2) = (http.clone(), h2.clone());
                    let _open = gauge.clone().map(OpenConnection::new);
                    set_send_timeout(&stream, send_timeout);
                    async move {
                        let _open = _open;
                        if opens_with_h2_preface(&stream, wait).await {
                            if let Ok(stream) = stream.into_std() {
                                let _ = h2.send(stream);
                            }
                            return Ok(());
                        }
                        http.call(stream).await.map_err(|_| ())
                    }
                }))
            }
        })
    };
    let server = builder
        .workers(settings.workers)
        .backlog(settings.backlog)
        .max_concurrent_connections(settings.max_connections_per_worker)
        .shutdown_timeout(settings.shutdown_seconds())
        .disable_signals()
        .listen(settings.name.clone(), listener, factory)?
        .run();
    Ok(BoundServer::from_parts(settings, addrs, server))
}

/// Whether the client's first bytes are the HTTP/2 preface. Decided as soon as a byte differs
/// (`POST` differs at the second byte), so HTTP/1 requests wait for nothing; a client that sends
/// a part of the preface and stops is given `wait` at most.
async fn opens_with_h2_preface(stream: &actix_rt::net::TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut first = [0u8; 24];
    loop {
        let peeked = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
            Ok(Ok(n)) => n,
            _ => return false,
        };
        if peeked == 0 || first[..peeked] != H2_PREFACE[..peeked] {
            return false;
        }
        if peeked == H2_PREFACE.len() {
            return true;
        }
        // Part of the preface so far: look again once more may have arrived.
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
