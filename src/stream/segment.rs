//! Segments: append-only blocks holding the rendered bytes of consecutive entries back to back.
//!
//! # Soundness
//!
//! This file holds all of the stream's `unsafe` code, and the whole argument for it:
//!
//! - [`raw::Buffer`] owns one fixed allocation and has exactly two `unsafe fn`s, `write` and
//!   `read`, whose `# Safety` sections say what a caller must guarantee: a write targets bytes no
//!   one else is reading or writing, a read covers only bytes whose write happened before it and
//!   that are never written again.
//! - [`Segment`] is the only user of `Buffer`, and its API is checked: it calls those two
//!   functions only where its own run-time checks have established their conditions, whatever
//!   its (safe) callers do.
//!   - [`Segment::append`] first claims the segment's `appending` flag (a second append running
//!     at the same time panics instead of racing), checks that the entry fits, and writes only at
//!     and past `used`, the count of bytes already appended.
//!   - `used` only grows, and is stored with `Release` after the bytes below it are written.
//!     [`Segment::bytes`] loads it with `Acquire` and checks that the range lies below it, so the
//!     bytes it hands out were written before the load (happens-before), are initialised, and can
//!     never be written again: appends only write past `used`.
//!
//!   So no interleaving of safe calls can make a write and a read (or two writes) touch the same
//!   byte concurrently, nor read uninitialised memory. That is also why `Buffer` may be `Send` and
//!   `Sync`, and `Segment` needs no `unsafe impl` of its own.
//!
//! What the rest of the module guarantees on top (readers only ask for entries below the
//! `next_id` of a snapshot published after those entries were appended) makes the *contents*
//! right; memory safety does not depend on it.
//!
//! To check it under Miri, on a machine that has it: `cargo +nightly miri test --lib stream`
//! (these unit tests and the stream's) and `cargo +nightly miri test --test stream_threads`.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

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
/// offsets are complete and never written again. The checks that make this memory-safe without
/// relying on those callers are described in the module documentation.
pub struct Segment {
    first_id: u64,
    /// The entries' bytes; `..used` is written, the rest is spare capacity.
    buffer: raw::Buffer,
    /// `ends[i]`: end offset of entry `first_id + i`.
    ends: Box<[AtomicU32]>,
    /// Bytes appended so far. Only grows; stored with `Release` once the bytes below it are
    /// written, so a reader that loads it with `Acquire` may read everything below it.
    used: AtomicUsize,
    /// Entries appended so far.
    count: AtomicUsize,
    /// Held for the duration of one [`Segment::append`], so appends can never overlap.
    appending: AtomicBool,
}

impl Segment {
    /// An empty segment whose first entry will be `first_id`, with room for `capacity` bytes.
    pub fn new(first_id: u64, capacity: usize) -> Self {
        Segment {
            first_id,
            buffer: raw::Buffer::new(capacity.max(1)),
            ends: (0..SEGMENT_ENTRIES).map(|_| AtomicU32::new(0)).collect(),
            used: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            appending: AtomicBool::new(false),
        }
    }

    /// The ID of the first entry.
    pub fn first_id(&self) -> u64 {
        self.first_id
    }

    /// Whether `len` more bytes (one entry) fit. Writer only.
    pub fn has_room(&self, len: usize) -> bool {
        self.count.load(Ordering::Relaxed) < SEGMENT_ENTRIES
            && self.used.load(Ordering::Relaxed) + len <= self.buffer.capacity()
            && self.buffer.capacity() <= u32::MAX as usize
    }

    /// Appends the next entry's bytes. Writer only, after [`Segment::has_room`] said yes.
    ///
    /// Panics if the entry does not fit, or if another append on this segment is running at the
    /// same time (the stream's writer lock makes that impossible; the check makes it safe).
    pub fn append(&self, bytes: &[u8]) {
        let _claim = AppendClaim::take(&self.appending);
        let used = self.used.load(Ordering::Relaxed);
        let count = self.count.load(Ordering::Relaxed);
        assert!(count < SEGMENT_ENTRIES && used + bytes.len() <= self.buffer.capacity());
        // SAFETY: `used..used + len` lies inside the buffer (checked just above). No other
        // append runs (we hold the claim), and readers only read below `used`, which has not
        // moved past these bytes yet, so nothing else touches them during the write.
        unsafe { self.buffer.write(used, bytes) };
        let end = used + bytes.len();
        // Entries of 4 GiB or more do not occur (`max_entry_size` and the stream budget keep
        // them far smaller); their end offset would be truncated here, which could only make
        // `span` return a wrong range, never an unsound one (see `bytes`).
        self.ends[count].store(end as u32, Ordering::Relaxed);
        // Publishes the bytes just written to `bytes`' `Acquire` load.
        self.used.store(end, Ordering::Release);
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

    /// The bytes of a range obtained from [`Segment::span`] for published entries.
    ///
    /// Panics if the range is reversed or reaches past the bytes appended so far.
    pub(super) fn bytes(&self, range: Range<usize>) -> &[u8] {
        let written = self.used.load(Ordering::Acquire);
        assert!(
            range.start <= range.end && range.end <= written,
            "segment range {range:?} is not within the {written} bytes appended"
        );
        // SAFETY: every byte of `range` is below `written`: it was written by an append whose
        // `Release` store of `used` this `Acquire` load observed (or by an earlier one), so
        // the write happened before this read. Appends only write at and past `used`, which
        // never decreases, so no byte of `range` is written again while the slice lives (it
        // borrows `self`, which owns the buffer).
        unsafe { self.buffer.read(range) }
    }
}

/// The claim [`Segment::append`] holds on its segment: taken on creation, given back on drop
/// (also when the append panics).
struct AppendClaim<'a>(&'a AtomicBool);

impl<'a> AppendClaim<'a> {
    /// Claims `flag`, or panics if another append holds it.
    fn take(flag: &'a AtomicBool) -> Self {
        let busy = flag.swap(true, Ordering::Acquire);
        assert!(!busy, "Segment::append called while another append ran");
        AppendClaim(flag)
    }
}

impl Drop for AppendClaim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The raw storage, kept apart so that its two `unsafe fn`s are the only way to its bytes.
mod raw {
    use std::ops::Range;
    use std::ptr::NonNull;

    /// A fixed-capacity byte buffer that is written and read through `&self` at caller-chosen
    /// offsets: the caller (here, [`super::Segment`]) keeps writes and reads apart.
    pub(super) struct Buffer {
        /// Start of `_owner`'s allocation; its spare capacity is where bytes go.
        ptr: NonNull<u8>,
        capacity: usize,
        /// Owns the allocation (length 0, never touched after `new`; freed on drop). A `Vec`,
        /// not a `Box`: moving a `Box` asserts unique access to its memory, which would
        /// invalidate `ptr` under Rust's aliasing rules; moving a `Vec` does not, and
        /// `Vec::as_mut_ptr` is documented not to create a reference to the contents.
        _owner: Vec<u8>,
    }

    // SAFETY: `Buffer` owns its allocation like a `Vec<u8>` does, and nothing in it is tied to
    // a thread. Its bytes are reachable only through the `unsafe fn`s below, whose callers must
    // rule out concurrent conflicting access, so sharing or sending it cannot cause a data race
    // on its own.
    unsafe impl Send for Buffer {}
    // SAFETY: as above.
    unsafe impl Sync for Buffer {}

    impl Buffer {
        /// An uninitialised buffer of at least `capacity` bytes (`capacity` > 0).
        pub(super) fn new(capacity: usize) -> Self {
            let mut owner = Vec::<u8>::with_capacity(capacity);
            let ptr = NonNull::new(owner.as_mut_ptr()).unwrap_or(NonNull::dangling());
            Buffer {
                ptr,
                capacity: owner.capacity(),
                _owner: owner,
            }
        }

        /// How many bytes the buffer holds.
        pub(super) fn capacity(&self) -> usize {
            self.capacity
        }

        /// Copies `bytes` to offset `at`.
        ///
        /// # Safety
        ///
        /// `at + bytes.len() <= self.capacity()`, and for the duration of the call no other
        /// thread reads or writes any byte of `at..at + bytes.len()` (nor holds a slice from
        /// [`Buffer::read`] over one).
        pub(super) unsafe fn write(&self, at: usize, bytes: &[u8]) {
            // SAFETY: the destination lies inside the allocation (first condition), which
            // `bytes` (a live shared slice) cannot overlap, and nothing else accesses it now
            // (second condition).
            unsafe {
                self.ptr
                    .as_ptr()
                    .add(at)
                    .copy_from_nonoverlapping(bytes.as_ptr(), bytes.len());
            }
        }

        /// The bytes in `range`.
        ///
        /// # Safety
        ///
        /// `range.start <= range.end <= self.capacity()`; every byte in `range` was written by
        /// [`Buffer::write`] and that write happened before this call; and no byte in `range`
        /// is written again while the returned slice is alive.
        pub(super) unsafe fn read(&self, range: Range<usize>) -> &[u8] {
            // SAFETY: the range lies inside the allocation and is initialised (conditions one
            // and two), and stays unchanged for the slice's lifetime (condition three).
            unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(range.start), range.len()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_entries_read_back_and_the_rest_is_refused() {
        let segment = Segment::new(7, 16);
        let capacity = segment.buffer.capacity();
        assert!(capacity >= 16 && segment.has_room(capacity) && !segment.has_room(capacity + 1));
        segment.append(b"hello");
        segment.append(b"");
        segment.append(b"world");
        assert_eq!(segment.bytes(segment.span(7, 7)), b"hello");
        assert_eq!(segment.bytes(segment.span(8, 8)), b"");
        assert_eq!(segment.bytes(segment.span(7, 9)), b"helloworld");
        // Spare capacity was never written: reading it is refused, not undefined.
        let past = std::panic::catch_unwind(|| segment.bytes(0..11).len());
        assert!(past.is_err());
    }

    #[test]
    fn an_entry_that_does_not_fit_is_refused() {
        let segment = Segment::new(0, 4);
        let too_big = vec![b'x'; segment.buffer.capacity() + 1];
        let refused = std::panic::catch_unwind(|| segment.append(&too_big));
        assert!(refused.is_err());
        // The claim was given back: the segment still takes entries.
        segment.append(b"1234");
        assert_eq!(segment.bytes(segment.span(0, 0)), b"1234");
    }

    #[test]
    fn overlapping_appends_are_refused() {
        let segment = Segment::new(0, 16);
        let claim = AppendClaim::take(&segment.appending);
        let racing = std::panic::catch_unwind(|| segment.append(b"x"));
        assert!(racing.is_err());
        drop(claim);
        segment.append(b"x");
        assert_eq!(segment.bytes(segment.span(0, 0)), b"x");
    }
}
