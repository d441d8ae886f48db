//! Readers beyond polling: a long-poll (`wait=`) that answers as a plain read once an entry it
//! asked for is published, and a follow (`follow=true`, or `Accept: text/event-stream`) that
//! sends the held entries and then every new one as it is published, until the client goes.
//!
//! Nobody polls: a waiting request is a future on its HTTP worker, woken by the stream's
//! notification that the publisher fires once per publish, and costs no thread. A follow's
//! body keeps only its cursor (the next ID to send) and the pieces of one batch: entries are
//! taken from the current snapshot when the connection can take more, as handles onto the
//! stored segments (NDJSON), or formatted as events (SSE). A follower that falls so far behind
//! that entries it had not got were evicted is sent a final gap notice and cut off, so a slow
//! client never holds more than one batch.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::sync::futures::OwnedNotified;

use super::{era_bc, ApiState, Route};
use crate::http::MAX_BODY_PIECE;
use crate::signal::Signal;
use crate::stream::{Selection, Snapshot};

/// The most entry bytes one batch of a follow takes from the stream before it is sent.
const BATCH_BYTES: usize = 1024 * 1024;

/// How often an idle SSE follow sends a comment, so proxies and clients see it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// How a live read sends entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowFormat {
    /// The stored lines as they are (`application/x-ndjson`); a gap is one
    /// `{"vivo_gap":{"from":A,"to":B}}` line.
    NdJson,
    /// Server-Sent Events: each entry one event with `id: <ID>` and its lines as `data:`; a
    /// gap is an `event: gap` with `{"from":A,"to":B}`.
    Sse,
}

thread_local! {
    /// Per HTTP worker thread: for each stream's notification, a notification of this thread's
    /// own, fired from this thread by a relay task (see [`local_published`]).
    static RELAYS: std::cell::RefCell<Vec<(Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// This worker's relay of `published`: the publisher's thread wakes one relay task per worker,
/// which wakes that worker's followers from the worker's own thread, so their wake-ups go to
/// the worker runtime's local queue instead of its remote one.
fn local_published(published: &Arc<tokio::sync::Notify>) -> Arc<tokio::sync::Notify> {
    RELAYS.with(|relays| {
        let mut relays = relays.borrow_mut();
        if let Some((_, local)) = relays.iter().find(|(g, _)| Arc::ptr_eq(g, published)) {
            return local.clone();
        }
        let local = Arc::new(tokio::sync::Notify::new());
        // Armed before the task first runs, so no publish after this call is missed.
        let mut notified = Box::pin(published.clone().notified_owned());
        notified.as_mut().enable();
        let (global, relay) = (published.clone(), local.clone());
        tokio::task::spawn_local(async move {
            loop {
                notified.as_mut().await;
                let mut next = Box::pin(global.clone().notified_owned());
                next.as_mut().enable();
                notified = next;
                relay.notify_waiters();
            }
        });
        relays.push((published.clone(), local.clone()));
        local
    })
}

/// Waits until `selection` would serve something from the stream (an entry at or after its
/// `from` is published), or `wait` runs out. Returns at once when it already would.
pub async fn wait_for_entries(
    state: &ApiState,
    signal: Signal,
    selection: Selection,
    wait: Duration,
) {
    let stream = state.output().stream(signal);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = local_published(stream.published()).notified_owned();
        let mut notified = std::pin::pin!(notified);
        notified.as_mut().enable();
        if would_serve(&stream.peek(), &selection) {
            return;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return;
        }
    }
}

/// Whether a read of `selection` on `snapshot` serves anything, or never will (its `to` is
/// already behind the stream): either way waiting is over.
fn would_serve(snapshot: &Snapshot, selection: &Selection) -> bool {
    if selection
        .resolve(snapshot.oldest_id(), snapshot.next_id())
        .is_some()
    {
        return true;
    }
    selection
        .to
        .is_some_and(|to| to > 0 && (to as u64) < snapshot.next_id())
}

/// The body of a follow: entries from `cursor` on, as they are published.
pub struct FollowBody {
    state: Arc<ApiState>,
    route: Route,
    format: FollowFormat,
    /// The next entry ID to send.
    cursor: u64,
    /// The last ID to send, if the request named one (`to`).
    last: Option<u64>,
    /// Whether entries were sent already: a gap after that means the follower was too slow.
    started: bool,
    pending: VecDeque<Bytes>,
    /// Armed before each look at the snapshot, so no publish is missed.
    notified: Option<Pin<Box<OwnedNotified>>>,
    heartbeat: Option<Pin<Box<tokio::time::Sleep>>>,
    ended: bool,
}

impl FollowBody {
    /// A follow of `signal` from entry `from` (the oldest held when that is gone, with a gap
    /// notice first) up to `last` when given.
    pub fn new(
        state: Arc<ApiState>,
        route: Route,
        format: FollowFormat,
        from: u64,
        last: Option<u64>,
    ) -> Self {
        let heartbeat =
            (format == FollowFormat::Sse).then(|| Box::pin(tokio::time::sleep(HEARTBEAT)));
        FollowBody {
            state,
            route,
            format,
            cursor: from,
            last,
            started: false,
            pending: VecDeque::new(),
            notified: None,
            heartbeat,
            ended: false,
        }
    }

    /// The next piece to send, `Pending` until there is one, `None` at the end.
    pub fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            if let Some(piece) = self.pending.pop_front() {
                return Poll::Ready(Some(piece));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            if self.last.is_some_and(|last| self.cursor > last) {
                self.ended = true;
                continue;
            }
            let stream = self.state.output().stream(self.route.signal);
            let notified = self.notified.get_or_insert_with(|| {
                let mut notified = Box::pin(local_published(stream.published()).notified_owned());
                notified.as_mut().enable();
                notified
            });
            let snapshot = stream.peek();
            if snapshot.next_id() > self.cursor {
                self.notified = None;
                self.take_batch(&snapshot);
                continue;
            }
            if notified.as_mut().poll(cx).is_ready() {
                self.notified = None;
                continue;
            }
            if let Some(heartbeat) = &mut self.heartbeat {
                if heartbeat.as_mut().poll(cx).is_ready() {
                    heartbeat
                        .as_mut()
                        .reset(tokio::time::Instant::now() + HEARTBEAT);
                    self.pending
                        .push_back(Bytes::from_static(b": heartbeat\n\n"));
                    continue;
                }
            }
            return Poll::Pending;
        }
    }

    /// Queues the entries from the cursor on (at most [`BATCH_BYTES`] of them, and never past
    /// `last`), after a gap notice when some were evicted before they were sent.
    fn take_batch(&mut self, snapshot: &Snapshot) {
        if self.cursor < snapshot.oldest_id() {
            let missing = (self.cursor, snapshot.oldest_id() - 1);
            self.pending.push_back(self.gap_notice(missing));
            if self.started {
                // Too slow to keep up: what it holds is released, it may resume later.
                self.ended = true;
                return;
            }
            self.cursor = snapshot.oldest_id();
        }
        let newest = match self.last {
            Some(last) => last.min(snapshot.next_id() - 1),
            None => snapshot.next_id() - 1,
        };
        if self.cursor > newest {
            return;
        }
        let mut end = self.cursor;
        let mut bytes = 0;
        while end <= newest && (bytes < BATCH_BYTES || end == self.cursor) {
            bytes += snapshot.get(end).map_or(0, <[u8]>::len);
            end += 1;
        }
        let ids = self.cursor..=end - 1;
        if self.route.era_bc_logs() {
            // One era-B/C object per entry, made from the stored lines.
            let envelopes = self.state.output().envelopes().snapshot();
            let objects = era_bc::render_entries(snapshot, &envelopes, ids.clone());
            match self.format {
                FollowFormat::NdJson => self.pending.push_back(Bytes::from(objects)),
                FollowFormat::Sse => {
                    let first = *ids.start();
                    let mut out =
                        BytesMut::with_capacity(objects.len() + 64 * (end - first) as usize);
                    let lines = objects.split(|&b| b == b'\n').filter(|l| !l.is_empty());
                    for (offset, object) in lines.enumerate() {
                        event(&mut out, first + offset as u64, std::iter::once(object));
                    }
                    self.pending.push_back(out.freeze());
                }
            }
        } else {
            match self.format {
                FollowFormat::NdJson => self.pending.extend(snapshot.pieces(ids, MAX_BODY_PIECE)),
                FollowFormat::Sse => self.pending.push_back(events(snapshot, ids, bytes)),
            }
        }
        self.cursor = end;
        self.started = true;
        if let Some(heartbeat) = &mut self.heartbeat {
            heartbeat
                .as_mut()
                .reset(tokio::time::Instant::now() + HEARTBEAT);
        }
    }

    fn gap_notice(&self, (from, to): (u64, u64)) -> Bytes {
        Bytes::from(match self.format {
            FollowFormat::NdJson => format!("{{\"vivo_gap\":{{\"from\":{from},\"to\":{to}}}}}\n"),
            FollowFormat::Sse => {
                format!("event: gap\ndata: {{\"from\":{from},\"to\":{to}}}\n\n")
            }
        })
    }
}

/// The entries `ids` as Server-Sent Events: `id: <ID>`, one `data:` line per stored line.
fn events(snapshot: &Snapshot, ids: std::ops::RangeInclusive<u64>, bytes: usize) -> Bytes {
    let count = (ids.end() - ids.start() + 1) as usize;
    let mut out = BytesMut::with_capacity(bytes + count * 32);
    for id in ids {
        let Some(entry) = snapshot.get(id) else {
            continue;
        };
        event(
            &mut out,
            id,
            entry.split(|&b| b == b'\n').filter(|l| !l.is_empty()),
        );
    }
    out.freeze()
}

/// One event: `id: <id>`, a `data:` line per line, a blank line.
fn event<'a>(out: &mut BytesMut, id: u64, lines: impl Iterator<Item = &'a [u8]>) {
    out.put_slice(b"id: ");
    out.put_slice(id.to_string().as_bytes());
    out.put_u8(b'\n');
    for line in lines {
        out.put_slice(b"data: ");
        out.put_slice(line);
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}
