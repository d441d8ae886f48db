//! The protocol-independent part of a run: connections, message numbering, pacing, and the
//! per-connection figures.

use crate::protocol::Protocol;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;

/// How long to wait for one acknowledgement before calling the run failed.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// What every connection shares: which message numbers are left and when each is due.
pub struct Plan {
    /// Numbers handed out so far, across connections.
    claimed: AtomicU64,
    /// Stop after this many messages.
    max_messages: Option<u64>,
    /// Stop claiming at this instant.
    deadline: Option<Instant>,
    /// When the run started (message 0 is due then).
    start: Instant,
    /// Time between two messages of the whole run, for a paced run.
    interval: Option<Duration>,
    /// In a paced run, the least time a connection sleeps once it is ahead: the messages that
    /// fall due meanwhile go out together in one write, so the generator wakes every `tick`
    /// rather than once per message (zero: wake for every message).
    tick: Duration,
}

impl Plan {
    /// A run starting now, of at most `max_messages` messages and at most `duration`, sending
    /// `messages_per_sec` (`None`: as fast as possible), waking at most every `tick` when paced.
    pub fn new(
        max_messages: Option<u64>,
        duration: Option<Duration>,
        messages_per_sec: Option<f64>,
        tick: Duration,
    ) -> Plan {
        let start = Instant::now();
        Plan {
            claimed: AtomicU64::new(0),
            max_messages,
            deadline: duration.map(|d| start + d),
            start,
            interval: messages_per_sec.map(|r| Duration::from_secs_f64(1.0 / r)),
            tick,
        }
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The next message number to send, or `None` once the run is over.
    fn claim(&self) -> Option<u64> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let seq = self.claimed.fetch_add(1, Ordering::Relaxed);
        if self.max_messages.is_some_and(|max| seq >= max) {
            return None;
        }
        Some(seq)
    }

    /// When message `seq` is due (`None`: now).
    fn due(&self, seq: u64) -> Option<Instant> {
        self.interval
            .map(|interval| self.start + interval.mul_f64(seq as f64))
    }
}

/// What one connection did.
#[derive(Default)]
pub struct ConnectionStats {
    /// Messages written.
    pub messages: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Written → acknowledged, per acknowledged message.
    pub ack_latencies: Vec<Duration>,
    /// When its last write (or acknowledgement) completed.
    pub finished: Option<Instant>,
}

/// Sends messages on `connection` until the plan is exhausted. With acknowledgements, each
/// message waits for its ack before the next is sent (as Fluent Bit's `out_forward` does with
/// `require_ack_response`); without, messages go out back to back through a write buffer.
pub async fn run_connection(
    connection: TcpStream,
    protocol: &dyn Protocol,
    plan: &Plan,
) -> Result<ConnectionStats, String> {
    let mut stats = ConnectionStats::default();
    let (mut reader, writer) = connection.into_split();
    let mut writer = BufWriter::with_capacity(256 * 1024, writer);
    let mut received = Vec::with_capacity(4096);
    let io = |e: std::io::Error| format!("connection: {e}");
    while let Some(seq) = plan.claim() {
        if let Some(due) = plan.due(seq) {
            let now = Instant::now();
            if due > now {
                // Nothing else is due: what is buffered goes out before the wait, which lasts at
                // least one tick (the rate over the run is kept: what falls due meanwhile is
                // sent at once on waking).
                writer.flush().await.map_err(io)?;
                tokio::time::sleep_until(due.max(now + plan.tick).into()).await;
            }
        }
        let message = protocol.message(seq);
        for part in &message.parts {
            writer.write_all(part).await.map_err(io)?;
            stats.bytes += part.len() as u64;
        }
        stats.messages += 1;
        let Some(token) = message.ack_token else {
            continue;
        };
        writer.flush().await.map_err(io)?;
        let sent = Instant::now();
        let ack = tokio::time::timeout(ACK_TIMEOUT, async {
            loop {
                if let Some(ack) = protocol.parse_ack(&received)? {
                    received.drain(..ack.consumed);
                    return Ok(ack);
                }
                if reader.read_buf(&mut received).await.map_err(io)? == 0 {
                    return Err("the server closed the connection before acknowledging \
                                (was the message rejected? see the server's log)"
                        .to_string());
                }
            }
        })
        .await
        .map_err(|_| format!("no acknowledgement within {ACK_TIMEOUT:?}"))??;
        if ack.token != token {
            return Err(format!(
                "acknowledgement for {:?} while waiting for {:?}",
                String::from_utf8_lossy(&ack.token),
                String::from_utf8_lossy(&token)
            ));
        }
        stats.ack_latencies.push(sent.elapsed());
    }
    writer.flush().await.map_err(io)?;
    writer.shutdown().await.map_err(io)?;
    stats.finished = Some(Instant::now());
    Ok(stats)
}
