//! Segments: append-only blocks holding the rendered bytes of consecutive entries back to back.

use std::ops::Range;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Bytes a segment holds before a new one is started (an entry larger than this gets a segment
/// of its own, sized to fit). Unit tests use tiny segments so every boundary case is reached.
#[cfg(not(test))]
pub const SEGMENT_BYTES: usize = 1 << 20;
#[cfg(test)]
pub const SEGMENT_BYTES: usize = 4096;

/// Entries a segment holds at most, so the table of entry offsets stays small.
#[cfg(not(test))]
pub const SEGMENT_ENTRIES: usize = 4096;
#[cfg(test)]
pub const SEGMENT_ENTRIES: usize = 16;

/// The rendered bytes of the entries `first_id, first_id + 1, …`, stored contiguously, and the
/// offset where each one ends.
///
/// Why contiguous: a read of many consecutive entries becomes one slice per segment (one
/// `Bytes` handle, one reference-count update) instead of one per entry, memory is allocated in
/// a few large blocks instead of one block per entry, and evicting a whole segment returns one
/// block to the allocator.
///
/// Concurrency: only the stream's writer (holding the writer lock) calls [`Segment::append`],
/// and it only writes bytes past everything already appended. A reader only looks at entries
/// whose IDs are below the `next_id` of a snapshot it loaded; that snapshot was published (an
/// atomic release through arc-swap) after those entries were appended, so their bytes and end
/// offsets are complete and never written again.
pub struct Segment {
    first_id: u64,
    /// Start of the allocation owned by `_buffer` (its spare capacity is where bytes go).
    data: NonNull<u8>,
    capacity: usize,
    _buffer: Vec<u8>,
    /// `ends[i]`: end offset of entry `first_id + i`.
    ends: Box<[AtomicU32]>,
    /// Writer-side cursor: bytes used and entries appended (readers never use these).
    used: AtomicUsize,
    count: AtomicUsize,
}

// SAFETY: the raw buffer is written only by the single writer, at offsets no reader can see
// yet, and read only at offsets published before (see the type's documentation). Nothing in it
// is tied to a thread.
unsafe impl Send for Segment {}
// SAFETY: as above: shared access never reads bytes that are being written.
unsafe impl Sync for Segment {}

impl Segment {
    /// An empty segment whose first entry will be `first_id`, with room for `capacity` bytes.
    pub fn new(first_id: u64, capacity: usize) -> Self {
        let mut buffer = Vec::<u8>::with_capacity(capacity.max(1));
        let data = NonNull::new(buffer.as_mut_ptr()).unwrap_or(NonNull::dangling());
        Segment {
            first_id,
            data,
            capacity: buffer.capacity(),
            _buffer: buffer,
            ends: (0..SEGMENT_ENTRIES).map(|_| AtomicU32::new(0)).collect(),
            used: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
        }
    }

    /// The ID of the first entry.
    pub fn first_id(&self) -> u64 {
        self.first_id
    }

    /// Whether `len` more bytes (one entry) fit. Writer only.
    pub fn has_room(&self, len: usize) -> bool {
        self.count.load(Ordering::Relaxed) < SEGMENT_ENTRIES
            && self.used.load(Ordering::Relaxed) + len <= self.capacity
            && self.capacity <= u32::MAX as usize
    }

    /// Appends the next entry's bytes. Writer only, after [`Segment::has_room`] said yes.
    pub fn append(&self, bytes: &[u8]) {
        let used = self.used.load(Ordering::Relaxed);
        let count = self.count.load(Ordering::Relaxed);
        assert!(count < SEGMENT_ENTRIES && used + bytes.len() <= self.capacity);
        // SAFETY: `used..used + len` lies inside the allocation (checked above), past every byte
        // appended before, so no reader can be looking at it; only the writer gets here.
        unsafe {
            self.data
                .as_ptr()
                .add(used)
                .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len());
        }
        let end = used + bytes.len();
        self.ends[count].store(end as u32, Ordering::Relaxed);
        self.used.store(end, Ordering::Relaxed);
        self.count.store(count + 1, Ordering::Relaxed);
    }

    /// Byte range covering the entries `first..=last` of this segment, which must be published.
    pub(super) fn span(&self, first: u64, last: u64) -> Range<usize> {
        let start = match (first - self.first_id) as usize {
            0 => 0,
            i => self.ends[i - 1].load(Ordering::Relaxed) as usize,
        };
        let end = self.ends[(last - self.first_id) as usize].load(Ordering::Relaxed) as usize;
        start..end
    }

    /// The bytes of a range obtained from [`Segment::span`] for published entries. Private to
    /// the stream module: its callers only pass ranges of entries a snapshot has published.
    pub(super) fn bytes(&self, range: Range<usize>) -> &[u8] {
        assert!(range.start <= range.end && range.end <= self.capacity);
        // SAFETY: the range lies inside the allocation and covers only published entries,
        // whose bytes were written before publication and are never written again.
        unsafe { std::slice::from_raw_parts(self.data.as_ptr().add(range.start), range.len()) }
    }
}
