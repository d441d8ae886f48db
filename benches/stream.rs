//! The stream under a full 20 MB budget: publishing with eviction, and range reads while a
//! writer publishes.
//!
//! Entries are 10 rendered era-A log lines (~1.4 KB), the shape of a 10-event Forward frame,
//! so a full stream holds about 14,000 of them, like the "full stream".
//!
//! - `publish`: one entry per call and 64 per call (the publisher batches whatever is ready)
//!   from one thread, then one entry per call from 2 and 4 threads at once (writers contend on
//!   the stream's critical section);
//! - `read`: what a `/logs` handler does for `limit=1`, the Vivo UI's 110-entry window
//!   (`from=END-110`) and the whole stream: load the snapshot, resolve the range, and cut the
//!   `Bytes` pieces of the body (at most 64 KiB each) whose lengths make the `Content-Length`,
//!   while a writer thread publishes 2,000 entries/s (20,000 events/s in 10-event frames).

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use vivo_exporter::stream::{Selection, Stream};

/// The stream budget (`stream_queue_size 20M`).
const BUDGET: u64 = 20_000_000;
/// Log lines per entry.
const LINES_PER_ENTRY: usize = 10;
/// Distinct entries each writer cycles through, so `Bytes` clones do not share one counter.
const POOL: usize = 64;

/// A pool of distinct ~1.4 KB entries, each `LINES_PER_ENTRY` era-A lines.
fn entry_pool(writer: usize) -> Vec<Bytes> {
    (0..POOL)
        .map(|n| {
            let mut text = String::new();
            for line in 0..LINES_PER_ENTRY {
                let seq = n * LINES_PER_ENTRY + line;
                text.push_str(&format!(
                    "[[1764096145{seq:09},{{\"_tag\":\"bench.w{writer}\"}}],{{\"level\":\"info\",\
                     \"logger\":\"bench\",\"seq\":{seq},\"msg\":\"GET /api/v1/items?page=42 200 OK \
                     in 3.1 ms from 10.0.0.7\"}}]\n"
                ));
            }
            Bytes::from(text)
        })
        .collect()
}

/// A stream filled to its budget, and the pool it was filled from.
fn full_stream() -> (Arc<Stream>, Vec<Bytes>) {
    let stream = Arc::new(Stream::new(BUDGET));
    let pool = entry_pool(0);
    let mut n = 0;
    // Publish until eviction has started, then once more around the pool: the stream is full.
    while stream.snapshot().bytes() + pool[0].len() as u64 <= BUDGET {
        stream.publish([pool[n % POOL].clone()]);
        n += 1;
    }
    for entry in &pool {
        stream.publish([entry.clone()]);
    }
    (stream, pool)
}

fn publish(c: &mut Criterion) {
    let (stream, pool) = full_stream();
    let mut group = c.benchmark_group("publish");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.throughput(Throughput::Elements(1));
    let mut n = 0;
    group.bench_function(BenchmarkId::new("1_thread", "1_entry"), |b| {
        b.iter(|| {
            n += 1;
            black_box(stream.publish([pool[n % POOL].clone()]))
        })
    });

    group.throughput(Throughput::Elements(64));
    group.bench_function(BenchmarkId::new("1_thread", "64_entries"), |b| {
        b.iter(|| black_box(stream.publish(pool.iter().cloned())))
    });

    group.throughput(Throughput::Elements(1));
    for threads in [2, 4] {
        let pools: Vec<Vec<Bytes>> = (0..threads).map(entry_pool).collect();
        group.bench_function(BenchmarkId::new("threads", threads), |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let start = Barrier::new(threads + 1);
                std::thread::scope(|scope| {
                    for pool in &pools {
                        let (stream, start) = (&stream, &start);
                        scope.spawn(move || {
                            start.wait();
                            for n in 0..per_thread as usize {
                                stream.publish([pool[n % POOL].clone()]);
                            }
                        });
                    }
                    start.wait();
                    Instant::now()
                })
                .elapsed()
            })
        });
    }
    group.finish();
    assert!(stream.snapshot().bytes() <= BUDGET);
}

/// Publishes 2,000 entries/s into `stream` (two every millisecond) until `stop` is set.
fn background_writer(stream: Arc<Stream>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let pool = entry_pool(1);
        let mut published = 0u64;
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let entries = [0, 1].map(|k| pool[(published as usize + k) % POOL].clone());
            stream.publish(entries);
            published += 2;
            let due = start + Duration::from_micros(published * 500);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        published
    })
}

/// The read patterns measured.
#[derive(Clone, Copy)]
enum Pattern {
    /// `?limit=1`: the oldest entry.
    Limit1,
    /// `?from=END-110`: the Vivo UI's poll, the newest 111 entries.
    Window110,
    /// No parameters: every entry held.
    Full,
}

/// What the `/logs` handler and its body do for one request: load the snapshot, resolve the
/// selection, and cut the body's pieces; returns the `Content-Length`.
fn serve(stream: &Stream, pattern: Pattern) -> u64 {
    let snapshot = stream.snapshot();
    let selection = match pattern {
        Pattern::Limit1 => Selection {
            limit: Some(1),
            ..Selection::default()
        },
        Pattern::Window110 => Selection {
            from: Some(snapshot.next_id() as i64 - 1 - 110),
            ..Selection::default()
        },
        Pattern::Full => Selection::default(),
    };
    let Some(ids) = selection.resolve(snapshot.oldest_id(), snapshot.next_id()) else {
        return 0;
    };
    // What a response does: the pieces handed to the HTTP layer (64 KiB at most each).
    let pieces = snapshot.pieces(ids, 64 * 1024);
    let length = pieces.iter().map(|p| p.len() as u64).sum();
    black_box(pieces);
    length
}

fn read(c: &mut Criterion) {
    let (stream, _) = full_stream();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = background_writer(stream.clone(), stop.clone());
    let mut group = c.benchmark_group("read_while_publishing");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, pattern) in [
        ("limit_1", Pattern::Limit1),
        ("window_110", Pattern::Window110),
        ("full_20MB", Pattern::Full),
    ] {
        group.throughput(Throughput::Bytes(serve(&stream, pattern)));
        group.bench_function(name, |b| b.iter(|| black_box(serve(&stream, pattern))));
    }
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let published = writer.join().expect("writer thread");
    assert!(published > 0);
}

criterion_group!(benches, publish, read);
criterion_main!(benches);
