//! One writer publishing, one deleter (`empty_stream_on_read`'s `delete_through`) and several
//! readers on one `Stream` at once, with a small budget so segments roll and are evicted all the
//! time. Every snapshot a reader sees must be consistent: IDs dense from `oldest_id` to
//! `next_id`, every entry intact byte for byte, `pieces` the same bytes as the entries, the byte
//! total right and within the budget; and what a held snapshot (or a `Bytes` piece taken from
//! it) returns must never change, even after the stream has evicted its segments.
//!
//! Each entry's content is a function of its ID, so a reader can check any entry it meets.
//!
//! Bounded: the writer publishes a fixed number of entries (about a second in a debug build);
//! the readers stop when it is done. It is small enough to run under valgrind (`.ci/run` does:
//! `valgrind --tool=memcheck --error-exitcode=1 --errors-for-leak-kinds=definite
//! --leak-check=full <test binary>`) and, on a machine with Miri (nightly), under
//! `cargo +nightly miri test --test stream_threads` (scaled down further when `cfg(miri)`).

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use vivo_exporter::stream::{Snapshot, Stream};

/// Entries the writer publishes.
const ENTRIES: u64 = if cfg!(miri) { 150 } else { 3_000 };
/// The stream's byte budget: a few of the service's 1 MiB segments.
const BUDGET: u64 = if cfg!(miri) { 1_200_000 } else { 3_000_000 };
/// Every this-many IDs, an entry larger than a segment (it gets a segment of its own).
const OVERSIZED_EVERY: u64 = if cfg!(miri) { 50 } else { 211 };
const OVERSIZED_LEN: usize = 1_100_000;
/// Largest ordinary entry.
const MAX_LEN: usize = if cfg!(miri) { 600 } else { 12_000 };
const READERS: usize = 3;

/// The length of entry `id`: mostly small and varied, some empty, now and then oversized.
fn entry_len(id: u64) -> usize {
    if id % OVERSIZED_EVERY == OVERSIZED_EVERY - 1 {
        return OVERSIZED_LEN;
    }
    if id % 17 == 5 {
        return 0;
    }
    let mixed = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    (mixed as usize) % MAX_LEN
}

/// A long run of bytes that entries are cut from (so building and comparing one is a copy).
fn pattern() -> &'static [u8] {
    static PATTERN: OnceLock<Vec<u8>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        (0..OVERSIZED_LEN + 256)
            .map(|i| (i % 251) as u8 ^ 0x5a)
            .collect()
    })
}

/// The bytes of entry `id`: `<id>;` (cut to the entry's length) then the pattern from an
/// offset that depends on the ID.
fn entry(id: u64) -> Vec<u8> {
    let (header, body) = entry_parts(id);
    [&header[..], body].concat()
}

fn entry_parts(id: u64) -> (Vec<u8>, &'static [u8]) {
    let len = entry_len(id);
    let mut header = format!("{id};").into_bytes();
    header.truncate(len);
    let offset = (id % 241) as usize;
    (
        header.clone(),
        &pattern()[offset..offset + (len - header.len())],
    )
}

/// Compares without building the expected bytes (a few memcmp), to stay cheap under valgrind.
fn check_entry(id: u64, got: &[u8]) {
    let (header, body) = entry_parts(id);
    let intact = got.len() == header.len() + body.len()
        && got[..header.len()] == header[..]
        && got[header.len()..] == *body;
    assert!(
        intact,
        "entry {id}: {} bytes, not the {} published (starts {:?})",
        got.len(),
        header.len() + body.len(),
        String::from_utf8_lossy(&got[..got.len().min(24)])
    );
}

/// Checks that `pieces`, concatenated, are exactly the entries `ids` of `snap`, in order.
fn check_pieces(snap: &Snapshot, ids: std::ops::RangeInclusive<u64>, pieces: &[Bytes]) {
    let mut rest: &[u8] = &[];
    let mut pieces = pieces.iter();
    for id in ids {
        let mut want = snap.get(id).unwrap_or_else(|| panic!("entry {id} missing"));
        while !want.is_empty() {
            if rest.is_empty() {
                rest = pieces
                    .next()
                    .unwrap_or_else(|| panic!("pieces end inside entry {id}"));
            }
            let n = rest.len().min(want.len());
            assert!(rest[..n] == want[..n], "pieces differ from entry {id}");
            (rest, want) = (&rest[n..], &want[n..]);
        }
    }
    assert!(
        rest.is_empty() && pieces.all(|p| p.is_empty()),
        "pieces hold more than the entries"
    );
}

/// What a reader keeps of a snapshot to check again later.
struct Held {
    snapshot: Arc<Snapshot>,
    pieces: Vec<Bytes>,
}

/// Checks one snapshot completely; returns its `pieces` (whole segments' worth each) and how
/// many there were with no size cut.
fn check_snapshot(snap: &Snapshot) -> (Vec<Bytes>, usize) {
    let (oldest, next) = (snap.oldest_id(), snap.next_id());
    assert!(oldest <= next, "oldest {oldest} > next {next}");
    assert_eq!(snap.len(), next - oldest);
    assert_eq!(snap.is_empty(), oldest == next);
    assert!(
        snap.bytes() <= BUDGET || snap.len() == 1,
        "{} bytes in {} entries is over the {BUDGET}-byte budget",
        snap.bytes(),
        snap.len()
    );
    if oldest > 0 {
        assert_eq!(snap.get(oldest - 1), None, "entry {} is gone", oldest - 1);
    }
    assert_eq!(snap.get(next), None, "entry {next} is not published yet");
    let mut total = 0u64;
    for id in oldest..next {
        let got = snap.get(id).unwrap_or_else(|| panic!("entry {id} missing"));
        check_entry(id, got);
        total += got.len() as u64;
    }
    assert_eq!(
        total,
        snap.bytes(),
        "the byte total is not the entries' sum"
    );
    if oldest == next {
        return (Vec::new(), 0);
    }
    let all = oldest..=next - 1;
    let whole = snap.pieces(all.clone(), usize::MAX);
    check_pieces(snap, all.clone(), &whole);
    let cut = snap.pieces(all.clone(), 4096);
    assert!(cut.iter().all(|p| p.len() <= 4096 && !p.is_empty()));
    check_pieces(snap, all.clone(), &cut);
    // A range from the middle.
    let (lo, hi) = (oldest + (next - oldest) / 3, next - 1 - (next - oldest) / 4);
    if lo <= hi {
        check_pieces(snap, lo..=hi, &snap.pieces(lo..=hi, 1000));
    }
    // Ranges reaching outside what the snapshot holds are clipped to it.
    let wide = snap.pieces(oldest.saturating_sub(5)..=next + 5, usize::MAX);
    check_pieces(snap, all, &wide);
    let segments = whole.len();
    (whole, segments)
}

fn reader(stream: &Stream, done: &AtomicBool, rolled: &AtomicU64) -> u64 {
    let mut held: VecDeque<Held> = VecDeque::new();
    let (mut last_oldest, mut last_next) = (0, 0);
    let mut rounds = 0u64;
    loop {
        let finished = done.load(Ordering::Acquire);
        // The cheap look a request handler takes.
        {
            let peek = stream.peek();
            assert!(peek.oldest_id() >= last_oldest, "oldest went back");
            assert!(peek.next_id() >= last_next, "next went back");
            (last_oldest, last_next) = (peek.oldest_id(), peek.next_id());
            if let Some(newest) = peek.next_id().checked_sub(1) {
                if let Some(bytes) = peek.get(newest) {
                    check_entry(newest, bytes);
                }
            }
        }
        // A snapshot held across the writer's changes.
        let snapshot = stream.snapshot();
        let (pieces, segments) = check_snapshot(&snapshot);
        if segments > 1 {
            rolled.fetch_add(1, Ordering::Relaxed);
        }
        held.push_back(Held { snapshot, pieces });
        if held.len() > 6 {
            let old = held.pop_front().expect("held");
            let (again, _) = check_snapshot(&old.snapshot);
            assert_eq!(again, old.pieces, "a held snapshot's bytes changed");
        }
        rounds += 1;
        if finished {
            break;
        }
        thread::yield_now();
    }
    // Everything still held is intact, though the stream has moved on.
    for old in held {
        let (again, _) = check_snapshot(&old.snapshot);
        assert_eq!(again, old.pieces, "a held snapshot's bytes changed");
    }
    rounds
}

#[test]
fn concurrent_publish_delete_and_reads_stay_consistent() {
    let stream = Arc::new(Stream::new(BUDGET));
    let done = Arc::new(AtomicBool::new(false));
    let rolled = Arc::new(AtomicU64::new(0));

    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (stream, done, rolled) = (stream.clone(), done.clone(), rolled.clone());
            thread::spawn(move || reader(&stream, &done, &rolled))
        })
        .collect();

    // `empty_stream_on_read`: every 150 or so new entries, delete the oldest quarter.
    let deleter = {
        let (stream, done) = (stream.clone(), done.clone());
        thread::spawn(move || {
            let mut removed = 0;
            let mut last_delete = 0;
            while !done.load(Ordering::Acquire) {
                let peek = stream.peek();
                let (oldest, next) = (peek.oldest_id(), peek.next_id());
                drop(peek);
                if next >= last_delete + 150 && next > oldest {
                    last_delete = next;
                    let last = oldest + (next - oldest) / 4;
                    removed += stream.delete_through(last).removed_entries;
                    let after = stream.peek();
                    assert!(after.oldest_id() > last, "delete_through({last}) left it");
                }
                thread::yield_now();
            }
            removed
        })
    };

    let mut evicted = 0;
    let mut id = 0u64;
    let mut batch = 0u64;
    while id < ENTRIES {
        batch += 1;
        let count = (batch % 5 + 1).min(ENTRIES - id);
        let entries: Vec<Vec<u8>> = (id..id + count).map(entry).collect();
        let (ids, change) = stream.publish(&entries);
        assert_eq!(
            ids,
            id..id + count,
            "IDs are dense and in publication order"
        );
        evicted += change.removed_entries;
        id += count;
        if batch.is_multiple_of(4) {
            thread::yield_now();
        }
    }
    let (empty, change) = stream.publish(Vec::<Vec<u8>>::new());
    assert_eq!((empty, change.removed_entries), (ENTRIES..ENTRIES, 0));
    done.store(true, Ordering::Release);

    let rounds: Vec<u64> = readers
        .into_iter()
        .map(|r| r.join().expect("reader"))
        .collect();
    let deleted = deleter.join().expect("deleter");
    eprintln!(
        "reader rounds {rounds:?}, evicted {evicted}, deleted {deleted}, multi-segment snapshots {}",
        rolled.load(Ordering::Relaxed)
    );

    let last = stream.snapshot();
    check_snapshot(&last);
    assert_eq!(last.next_id(), ENTRIES);
    assert!(evicted > 0, "the budget never made the stream evict");
    assert!(
        rolled.load(Ordering::Relaxed) > 0,
        "no reader saw a snapshot spanning two segments"
    );
    assert!(rounds.iter().all(|&r| r > 0));
    // What was evicted or deleted is exactly what is no longer held.
    assert_eq!(evicted + deleted, last.oldest_id());
    // Deleting everything leaves an empty stream whose IDs go on.
    stream.delete_through(u64::MAX);
    let empty = stream.snapshot();
    assert_eq!(
        (empty.oldest_id(), empty.next_id(), empty.bytes()),
        (ENTRIES, ENTRIES, 0)
    );
    let (ids, _) = stream.publish([entry(ENTRIES)]);
    assert_eq!(ids, ENTRIES..ENTRIES + 1);
    check_snapshot(&stream.snapshot());
}
