//! An immutable view of a stream at one instant: what every reader works from.

use super::segment::Segment;
use bytes::Bytes;
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;

/// The state of one stream as published: the live IDs `[oldest, next)`, the segments holding
/// them, and their total size. Never changes once published; a reader that holds it sees the
/// same entries for as long as it holds it, whatever the writer does meanwhile.
pub struct Snapshot {
    pub(super) segments: Arc<[Arc<Segment>]>,
    pub(super) oldest: u64,
    pub(super) next: u64,
    pub(super) bytes: u64,
}

/// A run of consecutive entries' bytes inside one segment, owned so it can back a `Bytes`.
struct SegmentSlice {
    segment: Arc<Segment>,
    range: Range<usize>,
}

impl AsRef<[u8]> for SegmentSlice {
    fn as_ref(&self) -> &[u8] {
        // Built only by `Snapshot::pieces` from published entries.
        self.segment.bytes(self.range.clone())
    }
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

    /// The rendered bytes of entry `id`, or `None` if the snapshot does not hold it.
    pub fn get(&self, id: u64) -> Option<&[u8]> {
        if id < self.oldest || id >= self.next {
            return None;
        }
        let segment = &self.segments[self.segment_index(id)?];
        Some(segment.bytes(segment.span(id, id)))
    }

    /// The bytes of the entries `ids`, in order, as a few large `Bytes` handles (one per
    /// segment touched, cut at `max_piece` bytes) that share the stored memory: no copy.
    pub fn pieces(&self, ids: RangeInclusive<u64>, max_piece: usize) -> Vec<Bytes> {
        let mut pieces = Vec::new();
        for (segment, range) in self.spans(ids) {
            let whole = Bytes::from_owner(SegmentSlice {
                segment: segment.clone(),
                range,
            });
            let mut start = 0;
            while start < whole.len() {
                let end = whole.len().min(start + max_piece.max(1));
                pieces.push(whole.slice(start..end));
                start = end;
            }
        }
        pieces
    }

    /// For each segment the held part of `ids` touches: the segment and the byte range.
    fn spans(
        &self,
        ids: RangeInclusive<u64>,
    ) -> impl Iterator<Item = (&Arc<Segment>, Range<usize>)> + '_ {
        let first = (*ids.start()).max(self.oldest);
        let last = (*ids.end()).min(self.next.saturating_sub(1));
        let start_index = if first <= last && first < self.next {
            self.segment_index(first)
        } else {
            None
        };
        let count = self.segments.len();
        start_index
            .into_iter()
            .flat_map(move |start| start..count)
            .map_while(move |index| {
                let segment = &self.segments[index];
                let seg_last = self
                    .segments
                    .get(index + 1)
                    .map_or(self.next, |s| s.first_id())
                    - 1;
                let lo = first.max(segment.first_id());
                let hi = last.min(seg_last);
                (lo <= hi).then(|| (segment, segment.span(lo, hi)))
            })
    }

    /// Which segment holds `id` (segments are in ID order).
    fn segment_index(&self, id: u64) -> Option<usize> {
        self.segments
            .partition_point(|s| s.first_id() <= id)
            .checked_sub(1)
    }
}
