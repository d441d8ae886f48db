//! Where the generator may send: loopback addresses only, for the ingest target and for the
//! read API it polls with `--wait-readable`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resolves `host:port` and refuses it unless every address it names is a loopback address.
pub async fn loopback(host_port: &str) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(host_port)
        .await
        .map_err(|e| format!("cannot resolve {host_port}: {e}"))?
        .collect();
    match addrs.iter().find(|addr| !addr.ip().is_loopback()) {
        Some(outside) => Err(format!(
            "refusing {host_port}: {} is not a loopback address; the load generator only \
             targets this machine (127.0.0.1, ::1, localhost)",
            outside.ip()
        )),
        None => addrs
            .first()
            .copied()
            .ok_or_else(|| format!("{host_port} resolves to no address")),
    }
}

/// A stream endpoint of the read API (`http://127.0.0.1:2025/logs`), polled to find out when
/// everything sent is readable.
pub struct ReadApi {
    addr: SocketAddr,
    host: String,
    path: String,
}

impl ReadApi {
    /// Parses an `http://HOST:PORT/PATH` URL whose host is a loopback address.
    pub async fn parse(url: &str) -> Result<ReadApi, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let (host, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, "/"),
        };
        if path.contains('?') {
            return Err(format!("{url}: give the stream path without a query"));
        }
        let host_port = if host.contains(':') {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        Ok(ReadApi {
            addr: loopback(&host_port).await?,
            host: host.to_string(),
            path: path.to_string(),
        })
    }

    /// The ID the stream will give its next entry: `Vivo-Stream-Next-ID` of a `HEAD` whose
    /// `from` is past every entry, so nothing is selected.
    pub async fn next_id(&self) -> Result<u64, String> {
        let request = format!(
            "HEAD {}?from={} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.path,
            i64::MAX,
            self.host
        );
        let mut connection = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("read API {}: {e}", self.addr))?;
        connection
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("read API {}: {e}", self.addr))?;
        let mut response = Vec::new();
        connection
            .read_to_end(&mut response)
            .await
            .map_err(|e| format!("read API {}: {e}", self.addr))?;
        let text = String::from_utf8_lossy(&response);
        let head = text.split("\r\n\r\n").next().unwrap_or_default();
        if !head.starts_with("HTTP/1.1 200") {
            let status = head.lines().next().unwrap_or("no answer");
            return Err(format!("read API {}{}: {status}", self.host, self.path));
        }
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("vivo-stream-next-id"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .ok_or_else(|| {
                format!(
                    "read API {}{}: no Vivo-Stream-Next-ID header",
                    self.host, self.path
                )
            })
    }

    /// Polls until the stream's next ID reaches `target` (every entry below it is readable),
    /// giving up after `timeout`.
    pub async fn wait_for(&self, target: u64, timeout: Duration) -> Result<(), String> {
        let give_up = Instant::now() + timeout;
        loop {
            let next = self.next_id().await?;
            if next >= target {
                return Ok(());
            }
            if Instant::now() >= give_up {
                return Err(format!(
                    "not everything became readable within {timeout:?}: the stream's next ID is \
                     {next}, expected {target} (were messages rejected? see the server's log)"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
