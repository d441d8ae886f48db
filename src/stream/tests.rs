//! Stream behaviour: eviction, deletion, snapshots, and a model-based property test.

use super::*;
use bytes::Bytes;
use proptest::prelude::*;
use std::collections::VecDeque;

fn entry(id_hint: u64, len: usize) -> Bytes {
    // Distinct contents per entry so a test notices a wrong slot.
    let mut text = format!("{id_hint}:").into_bytes();
    text.resize(len.max(text.len()), b'x');
    Bytes::from(text)
}

fn ids(stream: &Stream) -> (u64, u64, u64) {
    let snap = stream.snapshot();
    (snap.oldest_id(), snap.next_id(), snap.bytes())
}

#[test]
fn ids_are_dense_from_zero() {
    let stream = Stream::new(1_000);
    let (r1, _) = stream.publish([entry(0, 10), entry(1, 10)]);
    let (r2, _) = stream.publish([entry(2, 10)]);
    assert_eq!(r1, 0..2);
    assert_eq!(r2, 2..3);
    assert_eq!(ids(&stream), (0, 3, 30));
    let snap = stream.snapshot();
    assert_eq!(snap.get(1).map(|b| &b[..2]), Some(&b"1:"[..]));
    assert_eq!(snap.get(3), None);
}

#[test]
fn minimal_eviction_frees_only_what_is_needed() {
    // Spec §4's example: L = 20, entries 5+5+5, a new one of 6. The original frees 10 bytes;
    // minimal eviction (§13.6) frees one entry, leaving 5 + 5 + 6 = 16.
    let stream = Stream::new(20);
    stream.publish([entry(0, 5), entry(1, 5), entry(2, 5)]);
    let (_, change) = stream.publish([entry(3, 6)]);
    assert_eq!(change.removed_entries, 1);
    assert_eq!(ids(&stream), (1, 4, 16));
}

#[test]
fn strict_comparison_fills_budget_exactly() {
    let stream = Stream::new(20);
    stream.publish([entry(0, 10), entry(1, 10)]);
    assert_eq!(ids(&stream), (0, 2, 20));
}

#[test]
fn oversized_entry_is_admitted_alone_and_evicted_next() {
    let stream = Stream::new(10);
    stream.publish([entry(0, 4)]);
    stream.publish([entry(1, 25)]);
    assert_eq!(ids(&stream), (1, 2, 25));
    stream.publish([entry(2, 4)]);
    assert_eq!(ids(&stream), (2, 3, 4));
}

#[test]
fn zero_budget_keeps_only_the_newest() {
    let stream = Stream::new(0);
    for i in 0..600 {
        stream.publish([entry(i, 7)]);
    }
    assert_eq!(ids(&stream), (599, 600, 7));
    assert_eq!(stream.snapshot().get(599).map(|b| b.len()), Some(7));
}

#[test]
fn delete_through_keeps_later_entries_and_ids() {
    let stream = Stream::new(1_000);
    stream.publish((0..5).map(|i| entry(i, 10)));
    let change = stream.delete_through(2);
    assert_eq!(change.removed_entries, 3);
    assert_eq!(ids(&stream), (3, 5, 20));
    let (next, _) = stream.publish([entry(5, 10)]);
    assert_eq!(next, 5..6);
    assert_eq!(stream.delete_through(100).removed_entries, 3);
    assert_eq!(ids(&stream), (6, 6, 0));
}

#[test]
fn held_snapshot_never_changes() {
    let stream = Stream::new(100);
    stream.publish((0..10).map(|i| entry(i, 10)));
    let held = stream.snapshot();
    let before: Vec<Vec<u8>> = (0..=9)
        .filter_map(|i| held.get(i))
        .map(<[u8]>::to_vec)
        .collect();
    for i in 10..2_000 {
        stream.publish([entry(i, 10)]);
    }
    stream.delete_through(1_990);
    let after: Vec<Vec<u8>> = (0..=9)
        .filter_map(|i| held.get(i))
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(before.len(), 10);
    assert_eq!(before, after);
    assert_eq!((held.oldest_id(), held.next_id()), (0, 10));
}

#[test]
fn segments_of_removed_entries_are_let_go() {
    // A 30 kB budget of 1 kB entries, four to a (test-sized, 4 KiB) segment: only the segments
    // holding live entries stay referenced, one of them partly removed.
    let stream = Stream::new(30_000);
    for i in 0..500 {
        stream.publish([entry(i, 1_000)]);
    }
    let held = stream.lock_writer().segments.len();
    assert!(held <= 30 / 4 + 2, "{held} segments still referenced");
    stream.delete_through(u64::MAX - 1);
    assert_eq!(
        stream.lock_writer().segments.len(),
        1,
        "only the tail stays"
    );
}

#[test]
fn oversized_entries_get_their_own_segment() {
    let stream = Stream::new(10_000_000);
    stream.publish([entry(0, 10), entry(1, 3 << 20), entry(2, 10)]);
    let snap = stream.snapshot();
    assert_eq!(snap.get(1).map(<[u8]>::len), Some(3 << 20));
    assert_eq!(snap.get(2).map(|b| &b[..2]), Some(&b"2:"[..]));
    let whole: Vec<u8> = snap.pieces(0..=2, 64 * 1024).concat();
    assert_eq!(whole.len(), 20 + (3 << 20));
    assert!(snap
        .pieces(0..=2, 64 * 1024)
        .iter()
        .all(|p| p.len() <= 64 * 1024));
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    Append(Vec<usize>),
    Delete(u64),
    Read(Option<i64>, Option<i64>, Option<i64>),
}

fn op() -> impl Strategy<Value = Op> {
    let bound = prop_oneof![Just(None), (-3i64..40).prop_map(Some)];
    prop_oneof![
        4 => prop::collection::vec(1usize..60, 1..4).prop_map(Op::Append),
        1 => (0u64..40).prop_map(Op::Delete),
        2 => (bound.clone(), bound.clone(), bound).prop_map(|(f, t, l)| Op::Read(f, t, l)),
    ]
}

/// The plain model: a queue of (id, bytes) with the same rules written the obvious way.
struct Model {
    budget: u64,
    entries: VecDeque<(u64, Bytes)>,
    next: u64,
}

impl Model {
    fn bytes(&self) -> u64 {
        self.entries.iter().map(|(_, b)| b.len() as u64).sum()
    }
    fn append(&mut self, b: Bytes) {
        while !self.entries.is_empty() && self.bytes() + b.len() as u64 > self.budget {
            self.entries.pop_front();
        }
        self.entries.push_back((self.next, b));
        self.next += 1;
    }
    fn read(&self, sel: &Selection) -> Vec<(u64, Bytes)> {
        let mut out = Vec::new();
        for (id, b) in &self.entries {
            if matches!(sel.from, Some(f) if f > 0 && (*id as i64) < f) {
                continue;
            }
            if matches!(sel.to, Some(t) if t > 0 && (*id as i64) > t) {
                break;
            }
            out.push((*id, b.clone()));
            if matches!(sel.limit, Some(l) if l > 0 && out.len() as i64 >= l) {
                break;
            }
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn stream_matches_model(budget in 0u64..300, ops in prop::collection::vec(op(), 1..120)) {
        let stream = Stream::new(budget);
        let mut model = Model { budget, entries: VecDeque::new(), next: 0 };
        for op in ops {
            match op {
                Op::Append(sizes) => {
                    let batch: Vec<Bytes> = sizes.iter().enumerate()
                        .map(|(i, &len)| entry(model.next + i as u64, len)).collect();
                    for b in &batch { model.append(b.clone()); }
                    stream.publish(batch);
                }
                Op::Delete(last) => {
                    model.entries.retain(|(id, _)| *id > last);
                    stream.delete_through(last);
                }
                Op::Read(from, to, limit) => {
                    let sel = Selection { from, to, limit };
                    let snap = stream.snapshot();
                    let expected = model.read(&sel);
                    let resolved = sel.resolve(snap.oldest_id(), snap.next_id());
                    let ids: Vec<u64> = resolved.clone().map(|r| r.collect()).unwrap_or_default();
                    prop_assert_eq!(ids, expected.iter().map(|(id, _)| *id).collect::<Vec<_>>());
                    let body: Vec<u8> = resolved
                        .map(|r| snap.pieces(r, 7).concat())
                        .unwrap_or_default();
                    prop_assert_eq!(body, expected.iter().flat_map(|(_, b)| b.to_vec()).collect::<Vec<u8>>());
                }
            }
            let snap = stream.snapshot();
            prop_assert_eq!(snap.next_id(), model.next);
            prop_assert_eq!(snap.bytes(), model.bytes());
            prop_assert_eq!(snap.len(), model.entries.len() as u64);
            if let Some((oldest, _)) = model.entries.front() {
                prop_assert_eq!(snap.oldest_id(), *oldest);
            }
            prop_assert!(snap.bytes() <= budget || snap.len() == 1);
            for (id, b) in &model.entries {
                prop_assert_eq!(snap.get(*id), Some(&b[..]));
            }
        }
    }
}
