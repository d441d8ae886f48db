//! Fixed-size blocks of entry slots: the unit a snapshot shares with the next one.

use bytes::Bytes;
use std::sync::OnceLock;

/// How many entries one segment holds. IDs are aligned to it, so `id / SEGMENT_LEN` finds the
/// segment and `id % SEGMENT_LEN` the slot with no search.
pub const SEGMENT_LEN: u64 = 256;

/// A block of `SEGMENT_LEN` slots for the IDs `[first_id, first_id + SEGMENT_LEN)`.
///
/// Slots are write-once: the single publisher fills slot `id` *before* publishing a snapshot whose
/// `next_id` exceeds `id`, so a reader only ever looks at slots that are already set and never
/// changes. Segments are shared between successive snapshots through `Arc`, which is what makes a
/// publish cost O(1) instead of O(entries).
pub struct Segment {
    first_id: u64,
    slots: Box<[OnceLock<Bytes>]>,
}

impl Segment {
    /// An empty segment holding the aligned block that contains `id`.
    pub fn containing(id: u64) -> Self {
        Segment {
            first_id: id - id % SEGMENT_LEN,
            slots: (0..SEGMENT_LEN).map(|_| OnceLock::new()).collect(),
        }
    }

    /// A copy of `self` that keeps only the slots from `keep_from` on, so evicted entries'
    /// memory can be released while older snapshots still hold the original.
    pub fn without_ids_before(&self, keep_from: u64) -> Self {
        let copy = Segment::containing(self.first_id);
        for (offset, slot) in self.slots.iter().enumerate() {
            if self.first_id + offset as u64 >= keep_from {
                if let Some(bytes) = slot.get() {
                    let _ = copy.slots[offset].set(bytes.clone());
                }
            }
        }
        copy
    }

    /// Total size of the entries stored in this segment's slots.
    pub fn stored_bytes(&self) -> u64 {
        self.slots
            .iter()
            .filter_map(OnceLock::get)
            .map(|b| b.len() as u64)
            .sum()
    }

    /// The first ID this segment can hold.
    pub fn first_id(&self) -> u64 {
        self.first_id
    }

    /// Whether `id` falls inside this segment's block.
    pub fn covers(&self, id: u64) -> bool {
        id >= self.first_id && id < self.first_id + SEGMENT_LEN
    }

    /// Stores the rendered entry for `id`. Only the publisher calls this, once per ID, before the
    /// snapshot that exposes `id` is published.
    pub fn fill(&self, id: u64, rendered: Bytes) {
        debug_assert!(self.covers(id));
        let set = self.slots[(id - self.first_id) as usize].set(rendered);
        debug_assert!(set.is_ok(), "slot {id} filled twice");
    }

    /// The entry stored for `id`, if this segment covers it and it was filled.
    pub fn get(&self, id: u64) -> Option<&Bytes> {
        if !self.covers(id) {
            return None;
        }
        self.slots[(id - self.first_id) as usize].get()
    }
}
