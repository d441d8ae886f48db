//! Every input the fuzz targets ever crashed on (`fuzz/regressions/<target>/`), fed to the same
//! public functions under plain `cargo test`, with the property the target asserts. A file added
//! to one of those folders is picked up here without a code change; the named files also have
//! their own expectations below (what the fix made of them).
//!
//! The checks here are independent of the fuzz crate (which needs its own build): JSON validity
//! is judged by serde_json (whose default nesting limit of 128 these inputs stay under), frames
//! by the stateless `object_len`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use vivo_exporter::ingest::forward::frame::{object_len, Framer};
use vivo_exporter::ingest::forward::message::{parse, MessageError};
use vivo_exporter::render::{RenderError, RenderLimits, RenderOptions, Renderer};

/// The caps used here: small enough that a debug build reaches them quickly.
const LIMITS: RenderLimits = RenderLimits {
    max_entry_bytes: 1 << 20,
    max_records: 20_000,
};
const MAX_DECOMPRESSED: usize = 4 << 20;
/// Generous for a debug build; the inputs that used to blow up took minutes, or all memory.
const TIME_BOUND: Duration = Duration::from_secs(20);

/// The files of `fuzz/regressions/<target>/`, sorted; the folder must not be empty.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no inputs in {}", dir.display());
    paths
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read regression input");
            (path, bytes)
        })
        .collect()
}

fn input(target: &str, name: &str) -> Vec<u8> {
    inputs(target)
        .into_iter()
        .find(|(path, _)| path.file_name().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("fuzz/regressions/{target}/{name} is missing"))
        .1
}

/// Runs `f` and fails if it took longer than [`TIME_BOUND`].
fn bounded<T>(what: &Path, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = f();
    let took = start.elapsed();
    assert!(took < TIME_BOUND, "{} took {took:?}", what.display());
    result
}

fn renderer(escape_unicode: bool) -> Renderer {
    Renderer::with_limits(RenderOptions { escape_unicode }, LIMITS)
}

/// Every line of `out` is one JSON value, and there are `lines` of them.
fn assert_json_lines(out: &[u8], lines: usize, what: &Path) {
    let text = std::str::from_utf8(out).expect("rendered JSON is UTF-8");
    let values: Vec<serde_json::Value> = text
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("{}: invalid JSON line ({e}): {line:.200}", what.display())
            })
        })
        .collect();
    assert!(text.is_empty() || text.ends_with('\n'));
    assert_eq!(
        values.len(),
        lines,
        "{}: reported line count",
        what.display()
    );
}

// ---- forward_framer ----

/// Feeds `data` to a `Framer` in reads of `step(i)` bytes and returns the frames and the tail.
fn framed(data: &[u8], mut step: impl FnMut(usize) -> usize) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut framer = Framer::new(usize::MAX);
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    let mut fed = 0;
    let mut reads = 0;
    while fed < data.len() {
        let end = data.len().min(fed + step(reads).max(1));
        reads += 1;
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
        while let Some(len) = framer.next_frame_len(&buf).expect("valid stream") {
            frames.push(buf.drain(..len).collect::<Vec<u8>>());
        }
        let promised = framer.known_frame_len();
        if promised > 0 {
            let actual = object_len(&data[fed - buf.len()..])
                .expect("valid")
                .unwrap_or(usize::MAX);
            assert!(
                promised <= actual,
                "known_frame_len {promised} is more than the frame's {actual} bytes"
            );
        }
    }
    (frames, buf)
}

/// The frames `object_len` finds in the whole stream, and the tail it leaves.
fn whole(data: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut rest = data;
    let mut frames = Vec::new();
    while let Some(len) = object_len(rest).expect("valid stream") {
        frames.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    (frames, rest.to_vec())
}

#[test]
fn forward_framer_finds_every_frame_however_the_bytes_arrive() {
    for (path, data) in inputs("forward_framer") {
        let expected = whole(&data);
        assert!(
            !expected.0.is_empty(),
            "{}: no frame at all",
            path.display()
        );
        for (how, got) in [
            ("one-byte reads", framed(&data, |_| 1)),
            ("7-byte reads", framed(&data, |_| 7)),
            ("uneven reads", framed(&data, |i| [1, 3, 64, 2, 500][i % 5])),
            ("one read", framed(&data, |_| data.len())),
        ] {
            assert_eq!(got, expected, "{}: {how}", path.display());
        }
    }
}

#[test]
fn forward_framer_nested_tail_is_one_frame_at_its_last_byte() {
    // `["t", ["abc"]]`: the framer used to wait for a ninth byte that never comes.
    let data = input("forward_framer", "nested-tail-8-bytes.msgpack");
    assert_eq!(data, [0x92, 0xa1, b't', 0x91, 0xa3, b'a', b'b', b'c']);
    let mut framer = Framer::new(usize::MAX);
    for cut in 1..data.len() {
        assert_eq!(framer.next_frame_len(&data[..cut]), Ok(None), "cut {cut}");
        assert!(framer.known_frame_len() <= data.len(), "cut {cut}");
    }
    assert_eq!(framer.next_frame_len(&data), Ok(Some(8)));
    // And a frame exactly at the limit is not refused for what it might need.
    let mut framer = Framer::new(8);
    assert_eq!(framer.next_frame_len(&data[..5]), Ok(None));
    assert_eq!(framer.next_frame_len(&data), Ok(Some(8)));
}

// ---- forward_message ----

#[test]
fn forward_messages_render_valid_json_or_are_refused_intact() {
    for (path, data) in inputs("forward_message") {
        let Ok(message) = parse(Bytes::from(data), MAX_DECOMPRESSED) else {
            continue;
        };
        for escape_unicode in [true, false] {
            let mut out = b"previous line\n".to_vec();
            let result = bounded(&path, || {
                message.render_with(&mut renderer(escape_unicode), &mut out)
            });
            match result {
                Ok(count) => {
                    assert_json_lines(&out[14..], count.lines, &path);
                    assert!(out.len() <= LIMITS.max_entry_bytes + (64 << 10));
                }
                Err(_) => assert_eq!(out, b"previous line\n", "{}", path.display()),
            }
        }
    }
}

#[test]
fn forward_message_with_nested_map_keys_is_refused_at_max_entry_size() {
    // `["app", 1, {{{…{"x":nil}…}:nil}:nil}]`: 88 bytes that rendered to 2^40 bytes of JSON.
    let data = input("forward_message", "nested-map-keys-exponential.msgpack");
    let message = parse(Bytes::from(data), MAX_DECOMPRESSED).expect("a Message-mode message");
    let mut out = Vec::new();
    let result = bounded(Path::new("nested-map-keys-exponential"), || {
        message.render_with(&mut renderer(true), &mut out)
    });
    match result {
        Err(e @ MessageError::EntryTooLarge { limit }) => {
            assert_eq!(limit, LIMITS.max_entry_bytes);
            assert_eq!(e.reason(), "entry_too_large");
        }
        other => panic!("expected EntryTooLarge, got {other:?}"),
    }
    assert!(out.is_empty(), "a refused message left output behind");
}

// ---- render_value ----

/// `write_value`, `write_contexts` and `write_event_stream` on `data` each either succeed with
/// valid JSON or fail leaving the output as it was; returns `write_value`'s result.
fn render_all(path: &Path, data: &[u8], escape_unicode: bool) -> Result<(), RenderError> {
    let mut r = renderer(escape_unicode);
    let prefix = b"[\"earlier\"]\n";

    let mut out = prefix.to_vec();
    let mut rest = data;
    let value = bounded(path, || r.write_value(&mut rest, &mut out));
    match &value {
        Ok(()) => {
            assert_eq!(object_len(data), Ok(Some(data.len() - rest.len())));
            let mut with_newline = out[prefix.len()..].to_vec();
            with_newline.push(b'\n');
            assert_json_lines(&with_newline, 1, path);
        }
        Err(_) => assert_eq!(out, prefix, "{}", path.display()),
    }

    let mut out = prefix.to_vec();
    match bounded(path, || r.write_contexts(&mut out, data)) {
        Ok(n) => assert_json_lines(&out[prefix.len()..], n, path),
        Err(_) => assert_eq!(out, prefix, "{}", path.display()),
    }

    let mut out = prefix.to_vec();
    match bounded(path, || r.write_event_stream(&mut out, "fuzz.tag", data)) {
        Ok(n) => assert_json_lines(&out[prefix.len()..], n, path),
        Err(_) => assert_eq!(out, prefix, "{}", path.display()),
    }
    value
}

#[test]
fn render_value_inputs_render_valid_json_or_fail_intact() {
    for (path, data) in inputs("render_value") {
        for escape_unicode in [true, false] {
            render_all(&path, &data, escape_unicode).ok();
        }
    }
}

#[test]
fn render_value_exponential_keys_are_refused_at_the_cap() {
    for name in [
        // `{{{…{"x":nil}…}:nil}:nil}`, 40 levels of maps as keys: 2^40 bytes.
        "nested-map-keys-exponential.msgpack",
        // A ctraces-like map holding a run of 2-entry maps each the key of the one before.
        "render_value-oom-1124ecee4dbd7d1caab454307bc9f8fb96b19c12",
    ] {
        let data = input("render_value", name);
        for escape_unicode in [true, false] {
            assert_eq!(
                render_all(Path::new(name), &data, escape_unicode),
                Err(RenderError::TooLarge {
                    limit: LIMITS.max_entry_bytes
                }),
                "{name}"
            );
        }
    }
}
