//! Telling HTTP/2 with prior knowledge from HTTP/1 on a cleartext connection, by peeking at its
//! first bytes: a connection that opens with the HTTP/2 preface (`PRI * HTTP/2.0…`, what every
//! gRPC client and `curl --http2-prior-knowledge` send first) is HTTP/2. The bytes stay in the
//! socket for whichever server takes the connection.

use std::time::Duration;

use tokio::net::TcpStream;

/// The connection preface of HTTP/2 (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the client's first bytes are the HTTP/2 preface. Decided as soon as a byte differs
/// (`GET` and `POST` differ at the first or second byte), so HTTP/1 requests wait for nothing;
/// a client that sends a part of the preface and stops is given `wait` at most.
pub async fn opens_with_h2_preface(stream: &TcpStream, wait: Duration) -> bool {
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
