//! Streams: per-signal, ID-addressed queues of rendered entries under a byte budget.
//!
//! One [`Stream`] per signal. Writers (the pipeline's publisher, and `empty_stream_on_read`
//! deletions) serialise on a short critical section that assigns IDs, evicts and swaps in a new
//! [`Snapshot`]; readers load the current snapshot through `arc-swap` and never take a lock.
//! Readers waiting for new entries (long-polls, followers) wait on the stream's
//! [`Stream::published`] notification, fired once per publish.

mod segment;
mod selection;
mod snapshot;

pub use selection::Selection;
pub use snapshot::Snapshot;

use arc_swap::ArcSwap;
use segment::{Segment, SEGMENT_BYTES};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

/// One stream (logs, metrics or traces): entries with dense IDs 0, 1, 2, … in publication order,
/// holding at most `budget` rendered bytes (or exactly one oversized entry).
pub struct Stream {
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
    published: Arc<tokio::sync::Notify>,
}

/// What happened to the stream in one call, for the service's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Entries removed (evicted for room, or deleted by `empty_stream_on_read`).
    pub removed_entries: u64,
}

/// The writer-side state: the mutable mirror of the latest snapshot.
struct Writer {
    budget: u64,
    segments: Vec<Arc<Segment>>,
    shared_segments: Arc<[Arc<Segment>]>,
    segments_changed: bool,
    oldest: u64,
    next: u64,
    bytes: u64,
}

impl Stream {
    /// An empty stream whose entries may add up to `budget` bytes (`stream_queue_size`).
    pub fn new(budget: u64) -> Self {
        let empty = Snapshot::empty();
        Stream {
            writer: Mutex::new(Writer {
                budget,
                segments: Vec::new(),
                shared_segments: empty.segments.clone(),
                segments_changed: false,
                oldest: 0,
                next: 0,
                bytes: 0,
            }),
            current: ArcSwap::from_pointee(empty),
            published: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notified (every waiter at once) after each publish that added entries. A waiter must
    /// enable its `Notified` before it looks at the snapshot, so a publish in between is not
    /// missed.
    pub fn published(&self) -> &Arc<tokio::sync::Notify> {
        &self.published
    }

    /// The current snapshot, to be held for as long as needed. Lock-free.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The current snapshot for a short, synchronous look (one request's handler): lock-free
    /// and, unlike [`Stream::snapshot`], without touching the snapshot's shared reference
    /// count, so concurrent readers on different cores do not contend on it.
    pub fn peek(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// Appends entries (each one's rendered bytes) in order, evicting the oldest entries as
    /// needed, and publishes them in one snapshot swap. Returns the IDs they got and what was
    /// evicted.
    pub fn publish<B: AsRef<[u8]>>(
        &self,
        entries: impl IntoIterator<Item = B>,
    ) -> (Range<u64>, Change) {
        let mut writer = self.lock_writer();
        let first = writer.next;
        let mut change = Change::default();
        for rendered in entries {
            writer.append(rendered.as_ref(), &mut change);
        }
        let ids = first..writer.next;
        self.current.store(Arc::new(writer.snapshot()));
        drop(writer);
        if !ids.is_empty() {
            self.published.notify_waiters();
        }
        (ids, change)
    }

    /// Deletes every entry with an ID up to and including `last` (`empty_stream_on_read`, spec
    /// §13.5). IDs are never reused.
    pub fn delete_through(&self, last: u64) -> Change {
        let mut writer = self.lock_writer();
        let mut change = Change::default();
        while writer.oldest < writer.next && writer.oldest <= last {
            writer.remove_oldest(&mut change);
        }
        if change.removed_entries > 0 {
            writer.drop_removed_segments();
            self.current.store(Arc::new(writer.snapshot()));
        }
        change
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while holding the lock cannot leave the writer half-updated in a way readers
        // see (they only see published snapshots), so a poisoned lock is safe to keep using.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Writer {
    /// Minimal eviction (spec §13.6): drop oldest entries only until the new one fits; an entry
    /// larger than the whole budget is admitted alone.
    fn append(&mut self, rendered: &[u8], change: &mut Change) {
        let size = rendered.len() as u64;
        while self.oldest < self.next && self.bytes + size > self.budget {
            self.remove_oldest(change);
        }
        self.drop_removed_segments();
        if !self
            .segments
            .last()
            .is_some_and(|s| s.has_room(rendered.len()))
        {
            let capacity = SEGMENT_BYTES.max(rendered.len());
            self.segments
                .push(Arc::new(Segment::new(self.next, capacity)));
            self.segments_changed = true;
        }
        if let Some(tail) = self.segments.last() {
            tail.append(rendered);
        }
        self.next += 1;
        self.bytes += size;
    }

    fn remove_oldest(&mut self, change: &mut Change) {
        let size = self.entry_len(self.oldest);
        self.oldest += 1;
        self.bytes -= size;
        change.removed_entries += 1;
    }

    /// Lets go of segments whose entries were all removed (the tail stays, to take new ones),
    /// so their memory returns once no reader holds a snapshot with them.
    fn drop_removed_segments(&mut self) {
        let removed = self
            .segments
            .windows(2)
            .take_while(|pair| pair[1].first_id() <= self.oldest)
            .count();
        if removed > 0 {
            self.segments.drain(..removed);
            self.segments_changed = true;
        }
    }

    fn entry_len(&self, id: u64) -> u64 {
        let index = self
            .segments
            .partition_point(|s| s.first_id() <= id)
            .saturating_sub(1);
        self.segments
            .get(index)
            .map_or(0, |s| s.span(id, id).len() as u64)
    }

    fn snapshot(&mut self) -> Snapshot {
        if self.segments_changed {
            self.shared_segments = Arc::from(self.segments.as_slice());
            self.segments_changed = false;
        }
        Snapshot {
            segments: self.shared_segments.clone(),
            oldest: self.oldest,
            next: self.next,
            bytes: self.bytes,
        }
    }
}

#[cfg(test)]
mod tests;
