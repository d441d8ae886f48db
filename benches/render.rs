//! Forward MessagePack → JSON rendering, the ingest hot path: every record goes through it once.
//!
//! - `forward_logs`: a PackedForward message of 1000 ~100-byte records (and the same payload
//!   gzip-compressed) parsed and rendered as era-A log lines, reported as MB/s of wire bytes
//!   and as events/s;
//! - `forward_contexts`: the cmetrics and ctraces vectors of `tests/vectors/` (real Fluent Bit
//!   v4.1.2 messages), each set parsed and rendered in one iteration.
//!
//! A worker keeps one `Renderer` and one output buffer across messages, so the benches do too.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use vivo_exporter::ingest::forward::message::{self, ForwardMessage};
use vivo_exporter::render::{RenderOptions, Renderer};

/// Events per message and the msgpack size of one event, as in the ingest workload.
const EVENTS: usize = 1000;
const RECORD_BYTES: usize = 100;
/// Text the `msg` field is cut from.
const FILLER: &str = "GET /api/v1/items?page=42 200 OK in 3.1 ms from 10.0.0.7 user-agent=curl/8.5.0 \
                      trace=ab12cd34ef56 span=0011223344556677 retries=0 cache=miss region=eu-west-1";
/// The gzip inflation cap handed to `parse`, as the listener does.
const MAX_DECOMPRESSED: usize = 64 << 20;

/// One event `[EventTime, {"level","logger","seq","msg"}]`, padded with `msg` to about
/// `RECORD_BYTES` bytes of msgpack.
fn encode_event(out: &mut Vec<u8>, seq: u32) {
    let start = out.len();
    rmp::encode::write_array_len(out, 2).unwrap();
    let seconds = 1_764_096_145u32 + seq / 1000;
    let nanos = (seq % 1000) * 1_000_000;
    let mut time = [0u8; 8];
    time[..4].copy_from_slice(&seconds.to_be_bytes());
    time[4..].copy_from_slice(&nanos.to_be_bytes());
    rmp::encode::write_ext_meta(out, 8, 0).unwrap();
    out.extend_from_slice(&time);
    rmp::encode::write_map_len(out, 4).unwrap();
    rmp::encode::write_str(out, "level").unwrap();
    rmp::encode::write_str(out, "info").unwrap();
    rmp::encode::write_str(out, "logger").unwrap();
    rmp::encode::write_str(out, "bench").unwrap();
    rmp::encode::write_str(out, "seq").unwrap();
    rmp::encode::write_uint(out, u64::from(seq)).unwrap();
    rmp::encode::write_str(out, "msg").unwrap();
    // The string header (1 byte up to 31 characters, else 2) plus the text fill the event up
    // to RECORD_BYTES.
    let room = RECORD_BYTES.saturating_sub(out.len() - start);
    let text = if room <= 32 {
        room.saturating_sub(1)
    } else {
        room - 2
    };
    rmp::encode::write_str(out, &FILLER[..text.min(FILLER.len())]).unwrap();
}

/// `[tag, bin(payload), {"size": EVENTS}]`, or the gzip form with `compressed: "gzip"`.
fn packed_forward(gzip: bool) -> Bytes {
    let mut payload = Vec::with_capacity(EVENTS * RECORD_BYTES);
    for seq in 0..EVENTS as u32 {
        encode_event(&mut payload, seq);
    }
    if gzip {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&payload).unwrap();
        payload = encoder.finish().unwrap();
    }
    let mut frame = Vec::with_capacity(payload.len() + 64);
    rmp::encode::write_array_len(&mut frame, 3).unwrap();
    rmp::encode::write_str(&mut frame, "bench.logs").unwrap();
    rmp::encode::write_bin(&mut frame, &payload).unwrap();
    rmp::encode::write_map_len(&mut frame, if gzip { 2 } else { 1 }).unwrap();
    rmp::encode::write_str(&mut frame, "size").unwrap();
    rmp::encode::write_uint(&mut frame, EVENTS as u64).unwrap();
    if gzip {
        rmp::encode::write_str(&mut frame, "compressed").unwrap();
        rmp::encode::write_str(&mut frame, "gzip").unwrap();
    }
    Bytes::from(frame)
}

/// Parses and renders one frame the way a connection and a worker do.
fn parse_and_render(frame: &Bytes, renderer: &mut Renderer, out: &mut Vec<u8>) -> usize {
    out.clear();
    let message: ForwardMessage = message::parse(frame.clone(), MAX_DECOMPRESSED).unwrap();
    message.render_with(renderer, out).unwrap().lines
}

fn forward_logs(c: &mut Criterion) {
    let mut renderer = Renderer::new(RenderOptions::default());
    let mut out = Vec::with_capacity(1 << 20);
    for (name, frame) in [
        ("packed", packed_forward(false)),
        ("packed_gzip", packed_forward(true)),
    ] {
        assert_eq!(parse_and_render(&frame, &mut renderer, &mut out), EVENTS);
        // The same work under two units: wire bytes and events.
        for (unit, throughput) in [
            ("bytes", Throughput::Bytes(frame.len() as u64)),
            ("events", Throughput::Elements(EVENTS as u64)),
        ] {
            let mut group = c.benchmark_group(format!("forward_logs_{unit}"));
            group
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3))
                .throughput(throughput);
            group.bench_function(BenchmarkId::new(name, "1000x100B"), |b| {
                b.iter(|| black_box(parse_and_render(&frame, &mut renderer, &mut out)))
            });
            group.finish();
        }
    }
}

/// The `*.forward.msgpack` vectors of one signal.
fn vectors(signal: &str) -> Vec<Bytes> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(signal) && name.ends_with(".forward.msgpack"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| Bytes::from(std::fs::read(dir.join(name)).unwrap()))
        .collect()
}

fn forward_contexts(c: &mut Criterion) {
    let mut renderer = Renderer::new(RenderOptions::default());
    let mut out = Vec::with_capacity(1 << 20);
    let mut group = c.benchmark_group("forward_contexts");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for signal in ["metrics", "traces"] {
        let frames = vectors(signal);
        assert!(!frames.is_empty(), "no {signal} vectors");
        let bytes: usize = frames.iter().map(Bytes::len).sum();
        group.throughput(Throughput::Bytes(bytes as u64));
        let id = BenchmarkId::new(signal, format!("{}_vectors", frames.len()));
        group.bench_function(id, |b| {
            b.iter(|| {
                let mut lines = 0;
                for frame in &frames {
                    lines += parse_and_render(frame, &mut renderer, &mut out);
                }
                black_box(lines)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward_logs, forward_contexts);
criterion_main!(benches);
