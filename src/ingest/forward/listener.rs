//! The Forward input's listeners: TCP (`listen`:`port`), behind TLS with `tls on`, and
//! optionally a Unix socket (`unix_path`, never TLS: it is local), each connection served on
//! its own task.

use super::connection::{serve, ConnectionContext};
use super::handshake::HandshakeConfig;
use crate::config::ForwardInput;
use crate::ingest::budget::FrameBudget;
use crate::log_limit::LogLimit;
use crate::pipeline::PipelineHandle;
use crate::telemetry::Telemetry;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A bound Forward input, ready to accept connections.
pub struct ForwardListener {
    ctx: Arc<ConnectionContext>,
    tcp: TcpListener,
    max_connections: usize,
    /// The TLS acceptor of TCP connections, with `tls on`.
    tls: Option<tokio_rustls::TlsAcceptor>,
    #[cfg(unix)]
    unix: Option<UnixSocket>,
}

/// A listening Unix socket and its file, removed from the file system when the listener ends
/// (the input's task is dropped at stop), so no stale socket file stays behind.
#[cfg(unix)]
struct UnixSocket {
    listener: tokio::net::UnixListener,
    path: std::path::PathBuf,
}

#[cfg(unix)]
impl Drop for UnixSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl ForwardListener {
    /// Binds the input's sockets. Must run inside the ingest runtime.
    pub async fn bind(
        instance: &str,
        settings: &ForwardInput,
        pipeline: PipelineHandle,
        telemetry: Arc<Telemetry>,
        max_decompressed: usize,
    ) -> std::io::Result<ForwardListener> {
        let tcp = TcpListener::bind((settings.listen.as_str(), settings.port)).await?;
        #[cfg(unix)]
        let unix = match &settings.unix_path {
            Some(path) => Some(bind_unix(path, settings.unix_perm)?),
            None => None,
        };
        let handshake = settings.shared_key.clone().or_else(|| {
            // `empty_shared_key on` runs the handshake with an empty key, as Fluent Bit does.
            settings.empty_shared_key.then(String::new)
        });
        let open_connections = telemetry.open_connections(instance);
        let ctx = ConnectionContext {
            instance: Arc::from(instance),
            pipeline,
            telemetry,
            tag: settings.tag.clone(),
            tag_prefix: settings.tag_prefix.clone(),
            chunk_size: settings.buffer_chunk_size,
            max_frame: settings.buffer_max_size,
            max_decompressed,
            budget: FrameBudget::new(settings.mem_buf_limit),
            idle_timeout: settings.idle_timeout,
            frame_timeout: settings.frame_timeout,
            log_limit: LogLimit::default(),
            open_connections,
            handshake: handshake.map(|shared_key| HandshakeConfig {
                shared_key,
                self_hostname: settings.self_hostname.clone(),
                users: settings.security_users.clone(),
            }),
        };
        Ok(ForwardListener {
            ctx: Arc::new(ctx),
            tcp,
            max_connections: settings.max_connections,
            tls: settings.tls.as_ref().map(|tls| tls.acceptor(&[])),
            #[cfg(unix)]
            unix,
        })
    }

    /// Where it listens, for the start-up log line: the TCP address and the Unix socket.
    pub fn describe(&self) -> std::io::Result<String> {
        let mut text = self.tcp.local_addr()?.to_string();
        #[cfg(unix)]
        if let Some(unix) = &self.unix {
            text.push_str(&format!(" and {}", unix.path.display()));
        }
        Ok(text)
    }

    /// The TCP address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Accepts connections until the task is dropped; dropping it also ends every connection
    /// it accepted (they live in its `JoinSet`), so a stop is not held up by idle clients.
    pub async fn run(self) {
        let ForwardListener {
            ctx,
            tcp,
            #[cfg(unix)]
            unix,
            max_connections,
            tls,
        } = self;
        let mut connections = JoinSet::new();
        loop {
            #[cfg(unix)]
            let accept_unix = async {
                match &unix {
                    Some(unix) => unix.listener.accept().await.map(|(stream, _)| stream),
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let accept_unix = std::future::pending::<std::io::Result<()>>();
            tokio::select! {
                accepted = tcp.accept() => match accepted {
                    Ok((stream, peer)) if connections.len() >= max_connections => {
                        refuse_connection(&ctx, stream, &peer.to_string(), max_connections);
                    }
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let (ctx, peer) = (ctx.clone(), peer.to_string());
                        match &tls {
                            None => connections.spawn(serve(stream, peer, ctx)),
                            Some(acceptor) => {
                                connections.spawn(serve_tls(acceptor.clone(), stream, peer, ctx))
                            }
                        };
                    }
                    Err(err) => accept_failed(&ctx, err).await,
                },
                accepted = accept_unix => match accepted {
                    #[cfg(unix)]
                    Ok(stream) if connections.len() >= max_connections => {
                        refuse_connection(&ctx, stream, "unix socket", max_connections);
                    }
                    #[cfg(unix)]
                    Ok(stream) => {
                        connections.spawn(serve(stream, "unix socket".to_string(), ctx.clone()));
                    }
                    #[cfg(not(unix))]
                    Ok(()) => {}
                    Err(err) => accept_failed(&ctx, err).await,
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }
}

/// Completes the TLS handshake (within `frame_timeout`), then serves the connection; a failed
/// handshake is counted and logged at a limited rate.
async fn serve_tls(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: String,
    ctx: Arc<ConnectionContext>,
) {
    match crate::tls::handshake(&acceptor, stream, ctx.frame_timeout).await {
        Ok(tls) => serve(tls, peer, ctx).await,
        Err(err) => {
            ctx.telemetry.rejected(&ctx.instance, err.reason());
            ctx.log_limit.log(log::Level::Warn, err.reason(), || {
                format!("[input:forward:{}] {peer}: {err}", ctx.instance)
            });
        }
    }
}

/// Out of file descriptors and the like: count, log (rate-limited), and wait a little instead
/// of spinning.
async fn accept_failed(ctx: &ConnectionContext, err: std::io::Error) {
    ctx.telemetry.rejected(&ctx.instance, "accept");
    ctx.log_limit.log(log::Level::Error, "accept", || {
        format!("[input:forward:{}] accept failed: {err}", ctx.instance)
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

/// Past `max_connections`: the new connection is closed at once, counted and logged
/// (rate-limited), so a flood on this port cannot take the descriptors other listeners need.
fn refuse_connection<S>(ctx: &ConnectionContext, stream: S, peer: &str, max: usize) {
    drop(stream);
    ctx.telemetry.rejected(&ctx.instance, "connection_limit");
    ctx.log_limit.log(log::Level::Warn, "connection_limit", || {
        format!(
            "[input:forward:{}] {peer}: closed, {max} connections already open (max_connections)",
            ctx.instance
        )
    });
}

#[cfg(unix)]
fn bind_unix(path: &std::path::Path, perm: Option<u32>) -> std::io::Result<UnixSocket> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    // A socket left by an earlier run would make bind fail; anything else at the path is kept.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            std::fs::remove_file(path)?;
        }
    }
    let socket = UnixSocket {
        listener: tokio::net::UnixListener::bind(path)?,
        path: path.to_path_buf(),
    };
    if let Some(mode) = perm {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(socket)
}
