//! Telling HTTP/2 with prior knowledge from HTTP/1 on a cleartext connection, by peeking at its
//! first bytes: a connection that opens with the HTTP/2 preface (`PRI * HTTP/2.0…`, what every
//! gRPC client and `curl --http2-prior-knowledge` send first) is HTTP/2. The bytes stay in the
//! socket for whichever server takes the connection.

use std::time::Duration;

use tokio::net::TcpStream;

/// The connection preface of HTTP/2 (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The longest pause between two looks at a client that has sent part of the preface.
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Whether the client's first bytes are the HTTP/2 preface. Decided as soon as a byte differs
/// (`GET` and `POST` differ at the first or second byte), so HTTP/1 requests wait for nothing;
/// a client that sends a part of the preface and stops is given `wait` at most, and one that
/// closes its side after a part is decided on at once.
///
/// A peek cannot wait for *more* bytes (with some there, the socket stays readable), so a part
/// is looked at again after a pause that doubles up to [`MAX_PAUSE`]: a fixed 2 ms pause cost a
/// core for a thousand clients that each sent `P` and stopped.
pub async fn opens_with_h2_preface(stream: &TcpStream, wait: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    let mut first = [0u8; 24];
    let mut pause = Duration::from_millis(1);
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
        // Part of the preface so far: look again once more may have arrived, unless no more
        // can.
        let now = tokio::time::Instant::now();
        if now >= deadline || peer_closed(stream) {
            return false;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Whether the client has closed its side (the socket is in `CLOSE_WAIT`): what it sent is
/// all there will be.
#[cfg(target_os = "linux")]
fn peer_closed(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    /// `TCP_CLOSE_WAIT` of the kernel's `include/net/tcp_states.h`.
    const TCP_CLOSE_WAIT: u8 = 8;
    // SAFETY: `info` is a plain C struct that zeroes are valid for, and getsockopt writes at
    // most `len` bytes into it; the descriptor is the open socket `stream` owns.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        rc == 0 && info.tcpi_state == TCP_CLOSE_WAIT
    }
}

/// Elsewhere a closed client is found when its wait is over.
#[cfg(not(target_os = "linux"))]
fn peer_closed(_stream: &TcpStream) -> bool {
    false
}
