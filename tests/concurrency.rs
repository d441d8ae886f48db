//! Several writers and many readers at once: readers see contiguous IDs, whole entries, and
//! Start/End headers that match what they got; each writer's batches keep their order.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vivo_exporter::pipeline::{Batch, Rejection};
use vivo_exporter::render::Renderer;
use vivo_exporter::signal::Signal;

const WRITERS: u64 = 4;
const BATCHES_PER_WRITER: u64 = 250;
const READERS: usize = 12;

/// A batch whose lines say who wrote it, its sequence number, and each line's index.
struct TestBatch {
    writer: u64,
    seq: u64,
}

impl TestBatch {
    fn lines(seq: u64) -> u64 {
        seq % 5 + 1
    }
}

impl Batch for TestBatch {
    fn signal(&self) -> Signal {
        Signal::Logs
    }
    fn tag(&self) -> &str {
        "load"
    }
    fn render(&self, _renderer: &mut Renderer, out: &mut Vec<u8>) -> Result<u64, Rejection> {
        let n = Self::lines(self.seq);
        for line in 0..n {
            out.extend_from_slice(
                format!(
                    "{{\"w\":{},\"s\":{},\"l\":{line}}}\n",
                    self.writer, self.seq
                )
                .as_bytes(),
            );
        }
        Ok(n)
    }
}

/// Checks one response; returns the (writer, seq) of each entry it held, in order.
fn check_response(response: &Response, from: u64) -> Vec<(u64, u64)> {
    assert_eq!(response.status, 200);
    let lines = response.lines();
    let mut entries: Vec<(u64, u64)> = Vec::new();
    let mut expected_line = 0;
    for text in &lines {
        let v: serde_json::Value = serde_json::from_str(text).expect("whole JSON line");
        let key = (v["w"].as_u64().unwrap(), v["s"].as_u64().unwrap());
        let l = v["l"].as_u64().unwrap();
        if l == 0 {
            if let Some(last) = entries.last() {
                assert_eq!(expected_line, TestBatch::lines(last.1), "entry cut short");
            }
            entries.push(key);
            expected_line = 0;
        } else {
            assert_eq!(entries.last(), Some(&key), "line outside its entry");
        }
        assert_eq!(l, expected_line, "lines out of order");
        expected_line += 1;
    }
    if let Some(last) = entries.last() {
        assert_eq!(
            expected_line,
            TestBatch::lines(last.1),
            "last entry cut short"
        );
    }
    match (
        response.header("Vivo-Stream-Start-ID"),
        response.header("Vivo-Stream-End-ID"),
    ) {
        (Some(start), Some(end)) => {
            let (start, end): (u64, u64) = (start.parse().unwrap(), end.parse().unwrap());
            assert!(start >= from, "served before `from`");
            assert_eq!(
                entries.len() as u64,
                end - start + 1,
                "headers do not match the body"
            );
            let next: u64 = response
                .header("Vivo-Stream-Next-ID")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(next, end + 1);
        }
        (None, None) => assert!(entries.is_empty()),
        _ => panic!("only one of Start/End"),
    }
    for w in 0..WRITERS {
        let seqs: Vec<u64> = entries.iter().filter(|e| e.0 == w).map(|e| e.1).collect();
        assert!(
            seqs.windows(2).all(|p| p[0] < p[1]),
            "writer {w} out of order: {seqs:?}"
        );
    }
    entries
}

#[test]
fn writers_and_readers_at_once() {
    let service = start(&output_only("    workers 4\n    stream_queue_size 100M"));
    let addr = http_addr(&service);
    let pipeline = service.pipeline().clone();
    let writing = Arc::new(AtomicBool::new(true));

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let pipeline = pipeline.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let mut outcomes = Vec::new();
                    for seq in 0..BATCHES_PER_WRITER {
                        let batch = Box::new(TestBatch { writer, seq });
                        outcomes.push(pipeline.submit(Arc::from("test"), batch, 64).await);
                    }
                    for outcome in outcomes {
                        assert!(matches!(
                            outcome.await,
                            Ok(vivo_exporter::pipeline::Outcome::Accepted { .. })
                        ));
                    }
                });
            })
        })
        .collect();

    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let writing = writing.clone();
            std::thread::spawn(move || {
                let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ r as u64;
                let mut random = move |n: u64| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state % n
                };
                let mut follow_next = 0u64;
                let mut followed: Vec<(u64, u64)> = Vec::new();
                let mut reads = 0;
                let total = WRITERS * BATCHES_PER_WRITER;
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                // Random readers read while writing goes on; followers also until the last ID
                // (bounded: a lost entry fails the comparison below instead of hanging).
                while writing.load(Ordering::Relaxed)
                    || reads < 5
                    || (r % 3 == 0 && follow_next < total && std::time::Instant::now() < deadline)
                {
                    if r % 3 == 0 {
                        // A tail follower: resume from Next-ID each time, never missing an entry.
                        let response = get(addr, &format!("/logs?from={follow_next}&limit=7"));
                        followed.extend(check_response(&response, follow_next));
                        if let Some(next) = response.header("Vivo-Stream-Next-ID") {
                            follow_next = next.parse().unwrap();
                        }
                    } else {
                        let from = random(WRITERS * BATCHES_PER_WRITER);
                        let limit = random(40);
                        let response = get(addr, &format!("/logs?from={from}&limit={limit}"));
                        check_response(&response, from);
                    }
                    reads += 1;
                }
                followed
            })
        })
        .collect();

    for w in writers {
        w.join().expect("writer");
    }
    writing.store(false, Ordering::Relaxed);
    let mut followers = Vec::new();
    for (r, handle) in readers.into_iter().enumerate() {
        let followed = handle.join().expect("reader");
        if r % 3 == 0 {
            followers.push(followed);
        }
    }
    // Everything was published, once, with dense IDs.
    let everything = get(addr, "/logs");
    let all = check_response(&everything, 0);
    assert_eq!(all.len() as u64, WRITERS * BATCHES_PER_WRITER);
    assert_eq!(everything.header("Vivo-Stream-Start-ID"), Some("0"));
    // Each follower followed the whole stream to its last ID, in order, without gaps or repeats.
    assert!(!followers.is_empty());
    for followed in followers {
        assert_eq!(followed, all);
    }
    service.stop();
}
