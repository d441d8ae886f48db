//! One Forward connection: optional handshake, framing, parsing, submission, acknowledgements.
//!
//! The read loop frames and parses messages and submits them to the pipeline in arrival order
//! without waiting for them to be stored; a companion task awaits each outcome in the same
//! order and writes `{"ack": chunk}` once a batch is stored. A batch that cannot be stored is
//! logged with the peer; if its sender waits for an ack, the connection is closed so the client
//! notices at once instead of timing out.

use super::batch::ForwardBatch;
use super::frame::{FrameError, Framer};
use super::handshake::{Handshake, HandshakeConfig};
use super::message;
use crate::ingest::budget::{FrameBudget, Held};
use crate::log_limit::LogLimit;
use crate::pipeline::{Outcome, PipelineHandle, Rejection};
use crate::telemetry::OpenConnection;
use crate::telemetry::Telemetry;
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// What every connection of one forward input shares.
pub struct ConnectionContext {
    /// The input instance (`forward.0`), for logs and counters.
    pub instance: Arc<str>,
    /// Where batches go.
    pub pipeline: PipelineHandle,
    /// Counters.
    pub telemetry: Arc<Telemetry>,
    /// `tag`: replaces every message's tag.
    pub tag: Option<String>,
    /// `tag_prefix`: prepended to every message's tag.
    pub tag_prefix: Option<String>,
    /// `buffer_chunk_size`: how much the read buffer grows by.
    pub chunk_size: usize,
    /// `buffer_max_size`: the largest frame accepted.
    pub max_frame: usize,
    /// The most a compressed payload may inflate to: the largest entry an output takes (a
    /// payload larger than that could not render within it anyway).
    pub max_decompressed: usize,
    /// `shared_key` and friends, when the secure-forward handshake is required.
    pub handshake: Option<HandshakeConfig>,
    /// What partial frames may hold across the input's connections (`mem_buf_limit`).
    pub budget: Arc<FrameBudget>,
    /// `idle_timeout`: how long a connection may send nothing between frames.
    pub idle_timeout: Duration,
    /// `frame_timeout`: how long a frame may take to arrive once it has begun.
    pub frame_timeout: Duration,
    /// Keeps repeated connection problems to a few log lines.
    pub log_limit: LogLimit,
    /// The input's gauge of open connections.
    pub open_connections: prometheus_client::metrics::gauge::Gauge,
}

/// The most a read buffer grows by at once; frames larger than this still arrive whole, as the
/// buffer grows again on the next read.
const READ_STEP: usize = 64 * 1024;

/// How a connection ended badly: logged once, counted under `reason`.
struct Closed {
    reason: &'static str,
    detail: String,
}

/// Serves one connection until the peer closes it or sends something it cannot recover from.
pub async fn serve<S>(stream: S, peer: String, ctx: Arc<ConnectionContext>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    ctx.telemetry.connection(&ctx.instance);
    let _open = OpenConnection::new(ctx.open_connections.clone());
    log::debug!("[input:forward:{}] {peer}: connection opened", ctx.instance);
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buf = BytesMut::with_capacity(ctx.chunk_size);
    let mut framer = Framer::new(ctx.max_frame);
    if let Some(config) = &ctx.handshake {
        if let Err(closed) = handshake(
            &ctx,
            config,
            &mut reader,
            &mut writer,
            &mut buf,
            &mut framer,
        )
        .await
        {
            report(&ctx, &peer, &closed);
            return;
        }
    }
    let (outcomes_tx, outcomes_rx) = mpsc::channel(1024);
    let acker = tokio::spawn(acknowledge(writer, outcomes_rx, ctx.clone(), peer.clone()));
    if let Err(closed) = read_loop(
        &mut reader,
        &mut buf,
        &mut framer,
        &ctx,
        &peer,
        &outcomes_tx,
    )
    .await
    {
        report(&ctx, &peer, &closed);
    }
    // Let the acknowledger answer what was accepted before the end, then it ends too.
    drop(outcomes_tx);
    let _ = acker.await;
    log::debug!("[input:forward:{}] {peer}: connection closed", ctx.instance);
}

async fn read_loop<R: AsyncRead>(
    reader: &mut ReadHalf<R>,
    buf: &mut BytesMut,
    framer: &mut Framer,
    ctx: &ConnectionContext,
    peer: &str,
    outcomes: &mpsc::Sender<Pending>,
) -> Result<(), Closed> {
    let mut noted_embedded = false;
    // Messages that a miscounted array swallowed are handled right after the message that
    // holds them, in the order they appear (a stack, so nested ones come before later ones).
    let mut frames: Vec<Bytes> = Vec::new();
    let mut reading = FrameReader::new(ctx, ctx.chunk_size);
    while let Some(frame) = next_frame(reader, buf, framer, &mut reading).await? {
        frames.push(frame);
        while let Some(frame) = frames.pop() {
            let mut message = match parse(&frame, ctx) {
                Ok(message) => message,
                Err(refused) => {
                    if outcomes.send(refused).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
            };
            for deviation in message.deviations() {
                ctx.telemetry.tolerated(&ctx.instance, deviation.reason());
            }
            let embedded = message.take_embedded();
            if !embedded.is_empty() {
                note_embedded(ctx, peer, embedded.len(), &mut noted_embedded);
            }
            let own_size = frame.len() - embedded.iter().map(Bytes::len).sum::<usize>();
            frames.extend(embedded.into_iter().rev());
            log::debug!(
                "[input:forward:{}] {peer}: {:?} message, tag {:?}, {own_size} bytes{}",
                ctx.instance,
                message.mode(),
                message.tag(),
                if message.chunk().is_some() {
                    ", ack asked"
                } else {
                    ""
                }
            );
            let ack = message.ack_response();
            let batch = Box::new(ForwardBatch {
                message,
                instance: ctx.instance.clone(),
                telemetry: ctx.telemetry.clone(),
            });
            let outcome = ctx
                .pipeline
                .submit(ctx.instance.clone(), batch, own_size)
                .await;
            if outcomes
                .send(Pending::Submitted { ack, outcome })
                .await
                .is_err()
            {
                // The acknowledger closed the connection after a rejected message.
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Parses one frame and applies the input's tag settings; a refusal to report otherwise.
fn parse(frame: &Bytes, ctx: &ConnectionContext) -> Result<message::ForwardMessage, Pending> {
    let mut message = message::parse(frame.clone(), ctx.max_decompressed).map_err(|err| {
        // The frame was well delimited, so the stream is still in sync: drop only it, unless
        // its sender waits for an ack, which must not hang until its timeout.
        Pending::Refused {
            why: Rejection {
                reason: err.reason(),
                detail: err.to_string(),
            },
            close: message::requests_ack(frame),
        }
    })?;
    // As Fluent Bit's in_forward: `tag_prefix` prefixes the message's own tag; otherwise `tag`
    // replaces it.
    if let Some(prefix) = &ctx.tag_prefix {
        let tag = format!("{prefix}{}", message.tag());
        message.set_tag(tag);
    } else if let Some(tag) = &ctx.tag {
        message.set_tag(tag.clone());
    }
    Ok(message)
}

/// Counts messages found inside another message's entries and says so once per connection:
/// the producer has a bug worth knowing about, but one line per message would flood the log.
fn note_embedded(ctx: &ConnectionContext, peer: &str, count: usize, noted: &mut bool) {
    for _ in 0..count {
        ctx.telemetry
            .tolerated(&ctx.instance, message::Deviation::EmbeddedMessage.reason());
    }
    if !*noted {
        *noted = true;
        log::info!(
            "[input:forward:{}] {peer}: a Forward-mode array holds whole Forward messages (its \
             header counts more entries than were sent, as Fluent Bit 4.1 does for OTLP logs); \
             each is stored as the message it is (said once per connection)",
            ctx.instance
        );
    }
}

/// What the acknowledger waits for, in arrival order.
enum Pending {
    /// A message handed to the pipeline; `ack` is the reply to send once it is stored.
    Submitted {
        ack: Option<Vec<u8>>,
        outcome: oneshot::Receiver<Outcome>,
    },
    /// A message refused before submission (wrong shape, bad options); `close` when its
    /// sender waits for an ack.
    Refused { why: Rejection, close: bool },
}

/// Awaits outcomes in order; writes acks; closes the connection when a sender waiting for an
/// ack would otherwise never get one.
async fn acknowledge<W: AsyncWrite>(
    mut writer: WriteHalf<W>,
    mut pending: mpsc::Receiver<Pending>,
    ctx: Arc<ConnectionContext>,
    peer: String,
) {
    while let Some(item) = pending.recv().await {
        let (ack, result) = match item {
            Pending::Submitted { ack, outcome } => (
                ack,
                outcome
                    .await
                    .unwrap_or_else(|_| Outcome::Rejected(Rejection::stopping())),
            ),
            Pending::Refused { why, close } => {
                report_refusal(&ctx, &peer, &why);
                if close {
                    let _ = writer.shutdown().await;
                    return;
                }
                continue;
            }
        };
        match (result, ack) {
            (Outcome::Accepted { .. }, Some(ack)) => {
                if writer.write_all(&ack).await.is_err() {
                    return;
                }
            }
            (Outcome::Accepted { .. }, None) => {}
            (Outcome::Rejected(why), ack) => {
                report_refusal(&ctx, &peer, &why);
                if ack.is_some() {
                    let _ = writer.shutdown().await;
                    return;
                }
            }
        }
    }
    let _ = writer.shutdown().await;
}

/// Reads until `buf` starts with a whole frame and returns it; `None` at a clean end of stream.
/// How one connection reads frames: its buffer limits and timeouts.
struct FrameReader<'a> {
    ctx: &'a ConnectionContext,
    chunk_size: usize,
    held: Held,
    /// When the frame being received began (its first byte), if one has.
    frame_started: Option<Instant>,
}

impl<'a> FrameReader<'a> {
    fn new(ctx: &'a ConnectionContext, chunk_size: usize) -> Self {
        FrameReader {
            ctx,
            chunk_size,
            held: Held::new(ctx.budget.clone()),
            frame_started: None,
        }
    }

    /// How long the next read may wait: `idle_timeout` between frames, what is left of
    /// `frame_timeout` within one.
    fn deadline(&mut self, buffered: usize) -> Instant {
        let now = Instant::now();
        if buffered == 0 {
            self.frame_started = None;
            return now + self.ctx.idle_timeout;
        }
        *self.frame_started.get_or_insert(now) + self.ctx.frame_timeout
    }
}

async fn next_frame<R: AsyncRead>(
    reader: &mut ReadHalf<R>,
    buf: &mut BytesMut,
    framer: &mut Framer,
    frames: &mut FrameReader<'_>,
) -> Result<Option<Bytes>, Closed> {
    let chunk_size = frames.chunk_size;
    loop {
        match framer.next_frame_len(buf) {
            Ok(Some(len)) => {
                let frame = buf.split_to(len).freeze();
                frames.frame_started = None;
                // What is left is the start of the next frame, if anything.
                let _ = frames.held.hold(buf.len());
                return Ok(Some(frame));
            }
            Ok(None) => {}
            Err(err @ FrameError::TooLarge { .. }) => {
                return Err(Closed {
                    reason: "too_large",
                    detail: err.to_string(),
                })
            }
            Err(err) => {
                return Err(Closed {
                    reason: "malformed",
                    detail: err.to_string(),
                })
            }
        }
        // Grow in modest steps: a fresh multi-megabyte reservation per read (while earlier
        // frames still pin the old buffer) costs page faults on every read.
        let missing = framer.known_frame_len().saturating_sub(buf.len());
        let step = missing.max(chunk_size.clamp(4096, READ_STEP));
        frames.held.hold(buf.len() + step).map_err(|over| Closed {
            reason: "memory_budget",
            detail: format!(
                "closed: the input's partial frames would hold more than mem_buf_limit ({} bytes)",
                over.limit
            ),
        })?;
        buf.reserve(step);
        let deadline = frames.deadline(buf.len());
        let read = tokio::time::timeout_at(deadline, reader.read_buf(buf)).await;
        let Ok(read) = read else {
            return Err(match buf.is_empty() {
                true => Closed {
                    reason: "idle_timeout",
                    detail: format!("closed after {:?} without a byte", frames.ctx.idle_timeout),
                },
                false => Closed {
                    reason: "frame_timeout",
                    detail: format!(
                        "closed: a frame took longer than {:?} ({} bytes so far)",
                        frames.ctx.frame_timeout,
                        buf.len()
                    ),
                },
            });
        };
        match read {
            Ok(0) if buf.is_empty() => return Ok(None),
            Ok(0) => {
                return Err(Closed {
                    reason: "truncated",
                    detail: format!("peer closed in the middle of a frame ({} bytes)", buf.len()),
                })
            }
            Ok(_) => {}
            Err(err) => {
                return Err(Closed {
                    reason: "io",
                    detail: format!("read failed: {err}"),
                })
            }
        }
    }
}

/// The secure-forward handshake: HELO out, PING in, PONG out.
async fn handshake<S: AsyncRead + AsyncWrite>(
    ctx: &ConnectionContext,
    config: &HandshakeConfig,
    reader: &mut ReadHalf<S>,
    writer: &mut WriteHalf<S>,
    buf: &mut BytesMut,
    framer: &mut Framer,
) -> Result<(), Closed> {
    let io_error = |err: std::io::Error| Closed {
        reason: "io",
        detail: format!("write failed during the handshake: {err}"),
    };
    let handshake = Handshake::new(config);
    writer
        .write_all(&handshake.helo())
        .await
        .map_err(io_error)?;
    let Some(ping) = next_frame(reader, buf, framer, &mut FrameReader::new(ctx, 4096)).await?
    else {
        return Err(Closed {
            reason: "handshake",
            detail: "peer closed before sending PING".into(),
        });
    };
    let checked = handshake.check_ping(&ping);
    writer
        .write_all(&handshake.pong(&checked))
        .await
        .map_err(io_error)?;
    checked.map(|_| ()).map_err(|err| Closed {
        reason: "handshake",
        detail: format!("handshake failed: {err}"),
    })
}

/// One log line and one counter per refused message, naming the peer and the real cause.
fn report_refusal(ctx: &ConnectionContext, peer: &str, why: &Rejection) {
    report(
        ctx,
        peer,
        &Closed {
            reason: why.reason,
            detail: format!("message rejected: {}", why.detail),
        },
    );
}

/// One log line and one counter per problem, naming the peer.
/// Every problem is counted; its log line is rate-limited per kind (reason).
fn report(ctx: &ConnectionContext, peer: &str, closed: &Closed) {
    ctx.telemetry.rejected(&ctx.instance, closed.reason);
    ctx.log_limit.log(log::Level::Warn, closed.reason, || {
        format!("[input:forward:{}] {peer}: {}", ctx.instance, closed.detail)
    });
}
