//! An immutable view of a stream at one instant: what every reader works from.

use super::segment::{Segment, SEGMENT_LEN};
use bytes::Bytes;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// The state of one stream as published: the live IDs `[oldest, next)`, their segments, and
/// their total size. Never changes once published; a reader that holds it sees the same entries
/// for as long as it holds it, whatever the writer does meanwhile.
pub struct Snapshot {
    pub(super) segments: Arc<[Arc<Segment>]>,
    pub(super) oldest: u64,
    pub(super) next: u64,
    pub(super) bytes: u64,
}

impl Snapshot {
    /// The state of a stream before anything was published.
    pub fn empty() -> Self {
        Snapshot {
            segments: Arc::from(Vec::new()),
            oldest: 0,
            next: 0,
            bytes: 0,
        }
    }

    /// The oldest ID still held (equal to [`Snapshot::next_id`] when the stream is empty).
    pub fn oldest_id(&self) -> u64 {
        self.oldest
    }

    /// The ID the next published entry will get.
    pub fn next_id(&self) -> u64 {
        self.next
    }

    /// How many entries the stream holds.
    pub fn len(&self) -> u64 {
        self.next - self.oldest
    }

    /// Whether the stream holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total rendered bytes held, the figure the `stream_queue_size` budget applies to.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The rendered bytes of entry `id`, found by arithmetic (IDs are dense), or `None` if the
    /// snapshot does not hold it.
    pub fn get(&self, id: u64) -> Option<&Bytes> {
        if id < self.oldest || id >= self.next {
            return None;
        }
        let first = self.segments.first()?;
        let index = (id / SEGMENT_LEN - first.first_id() / SEGMENT_LEN) as usize;
        self.segments.get(index)?.get(id)
    }

    /// The stored bytes of every entry in `ids`, in ID order.
    pub fn entries(&self, ids: RangeInclusive<u64>) -> impl Iterator<Item = &Bytes> + '_ {
        ids.filter_map(move |id| self.get(id))
    }

    /// Total size of the entries in `ids`: the response's `Content-Length`.
    pub fn bytes_in(&self, ids: RangeInclusive<u64>) -> u64 {
        self.entries(ids).map(|b| b.len() as u64).sum()
    }
}
