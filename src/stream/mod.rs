//! Streams: per-signal, ID-addressed queues of rendered entries under a byte budget.
//!
//! One [`Stream`] per signal. Writers (the pipeline's publisher, and `empty_stream_on_read`
//! deletions) serialise on a short critical section that assigns IDs, evicts and swaps in a new
//! [`Snapshot`]; readers load the current snapshot through `arc-swap` and never take a lock.

mod segment;
mod selection;
mod snapshot;

pub use selection::Selection;
pub use snapshot::Snapshot;

use arc_swap::ArcSwap;
use bytes::Bytes;
use segment::{Segment, SEGMENT_LEN};
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

/// One stream (logs, metrics or traces): entries with dense IDs 0, 1, 2, … in publication order,
/// holding at most `budget` rendered bytes (or exactly one oversized entry).
pub struct Stream {
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
}

/// What happened to the stream in one call, for the service's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// Entries removed (evicted for room, or deleted by `empty_stream_on_read`).
    pub removed_entries: u64,
    /// Bytes those entries held.
    pub removed_bytes: u64,
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
    /// Bytes of removed entries still referenced by the front segment. When it grows past a
    /// fraction of the budget the front segment is copied without them, so memory stays bounded.
    retained_removed_bytes: u64,
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
                retained_removed_bytes: 0,
            }),
            current: ArcSwap::from_pointee(empty),
        }
    }

    /// The current snapshot, to be held for as long as a response needs it. Lock-free.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Appends entries in order, evicting the oldest entries as needed, and publishes them in one
    /// snapshot swap. Returns the IDs they got and what was evicted.
    pub fn publish(&self, entries: impl IntoIterator<Item = Bytes>) -> (Range<u64>, Change) {
        let mut writer = self.lock_writer();
        let first = writer.next;
        let mut change = Change::default();
        for rendered in entries {
            writer.append(rendered, &mut change);
        }
        let ids = first..writer.next;
        self.current.store(Arc::new(writer.snapshot()));
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
            writer.release_removed();
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
    fn append(&mut self, rendered: Bytes, change: &mut Change) {
        let size = rendered.len() as u64;
        while self.oldest < self.next && self.bytes + size > self.budget {
            self.remove_oldest(change);
        }
        self.release_removed();
        let id = self.next;
        if !self.segments.last().is_some_and(|s| s.covers(id)) {
            self.segments.push(Arc::new(Segment::containing(id)));
            self.segments_changed = true;
        }
        if let Some(tail) = self.segments.last() {
            tail.fill(id, rendered);
        }
        self.next += 1;
        self.bytes += size;
    }

    fn remove_oldest(&mut self, change: &mut Change) {
        let id = self.oldest;
        let size = self.entry_len(id);
        self.oldest += 1;
        self.bytes -= size;
        self.retained_removed_bytes += size;
        change.removed_entries += 1;
        change.removed_bytes += size;
    }

    /// Drops segments that hold only removed entries, and copies the front segment without its
    /// removed entries once they hold too much memory.
    fn release_removed(&mut self) {
        let fully_removed = self
            .segments
            .iter()
            .take_while(|segment| segment.first_id() + SEGMENT_LEN <= self.oldest)
            .count();
        if fully_removed > 0 {
            let dropped_bytes: u64 = self
                .segments
                .drain(..fully_removed)
                .map(|segment| segment.stored_bytes())
                .sum();
            self.retained_removed_bytes = self.retained_removed_bytes.saturating_sub(dropped_bytes);
            self.segments_changed = true;
        }
        if self.retained_removed_bytes > self.budget / 8 {
            if let Some(front) = self.segments.first_mut() {
                *front = Arc::new(front.without_ids_before(self.oldest));
                self.segments_changed = true;
            }
            self.retained_removed_bytes = 0;
        }
    }

    fn entry_len(&self, id: u64) -> u64 {
        let Some(first) = self.segments.first() else {
            return 0;
        };
        let index = (id / SEGMENT_LEN - first.first_id() / SEGMENT_LEN) as usize;
        self.segments
            .get(index)
            .and_then(|s| s.get(id))
            .map_or(0, |b| b.len() as u64)
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
