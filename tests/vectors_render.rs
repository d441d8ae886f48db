//! The 32 Fluent Bit v4.1.2 Forward vectors in `tests/vectors/`: each message, parsed and rendered
//! through the public API, must give the entry Fluent Bit's `vivo_exporter` stored, byte for byte,
//! except for the deliberate differences listed in `tests/vectors/README.md` (invalid JSON made
//! valid, invalid UTF-8 as U+FFFD, every context kept), written out in `common/vectors.rs`.

mod common;

use std::fs;

use bytes::Bytes;
use common::vectors::*;
use vivo_exporter::ingest::forward::message::{self, Mode};
use vivo_exporter::render::RenderOptions;
use vivo_exporter::signal::Signal;

const MAX_DECOMPRESSED: usize = 64 << 20;

fn render(name: &str, opts: RenderOptions) -> String {
    let msg = message::parse(
        Bytes::from(read(name, ".forward.msgpack")),
        MAX_DECOMPRESSED,
    )
    .unwrap_or_else(|e| panic!("{name}: parse: {e}"));
    let mut out = Vec::new();
    let count = msg
        .render(&mut out, opts)
        .unwrap_or_else(|e| panic!("{name}: render: {e}"));
    let text = String::from_utf8(out).expect("output is UTF-8");
    assert_eq!(count.lines, text.lines().count(), "{name}: line count");
    text
}

fn assert_valid_json_lines(name: &str, text: &str) {
    assert!(text.ends_with('\n'), "{name}: ends with a newline");
    for (i, line) in text.lines().enumerate() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("{name} line {}: invalid JSON ({e}): {line}", i + 1));
    }
}

#[test]
fn all_32_vectors_render_as_fluent_bit_except_deliberate_differences() {
    let names = vector_names();
    assert_eq!(names.len(), 32, "vector count");
    let mut differences = deliberate_differences();
    let mut identical = 0;
    for name in &names {
        let expected =
            String::from_utf8(read(name, ".expected.ndjson")).expect("expected is UTF-8");
        let ours = render(name, RenderOptions::default());
        assert_valid_json_lines(name, &ours);
        match differences
            .remove(name.as_str())
            .unwrap_or(Expect::Identical)
        {
            Expect::Identical => {
                assert_eq!(ours, expected, "{name}: differs from Fluent Bit");
                identical += 1;
            }
            Expect::Replaced(replacements) => {
                let mut modified = expected.clone();
                for (from, to) in replacements {
                    assert!(modified.contains(from), "{name}: expected text has {from}");
                    modified = modified.replace(from, to);
                }
                assert_ne!(
                    modified, expected,
                    "{name}: the replacements change something"
                );
                assert_eq!(
                    ours, modified,
                    "{name}: differs beyond the deliberate differences"
                );
            }
            Expect::AllContexts { contexts } => {
                assert_eq!(
                    meta(name)["event_count"],
                    contexts,
                    "{name}: contexts per meta.json"
                );
                let all =
                    String::from_utf8(read_extra(name, ".all-contexts.ndjson")).expect("UTF-8");
                assert_eq!(
                    all.lines().count(),
                    contexts,
                    "{name}: one line per context"
                );
                assert!(
                    all.starts_with(&expected),
                    "{name}: first context as Fluent Bit"
                );
                assert_eq!(ours, all, "{name}: every context, byte for byte");
            }
        }
    }
    assert!(
        differences.is_empty(),
        "differences listed for missing vectors: {:?}",
        differences.keys()
    );
    assert_eq!(identical, 22, "vectors rendered byte-identically");
}

#[test]
fn logs_13_declares_a_size_that_is_not_its_entry_count() {
    // Fluent Bit 4.1's gzip path: size counts the original chunk's group markers, which it
    // stripped. The message is stored as it is; the mismatch is only reported.
    let meta = meta("logs-13");
    let msg = message::parse(
        Bytes::from(read("logs-13", ".forward.msgpack")),
        MAX_DECOMPRESSED,
    )
    .expect("parses");
    assert_eq!(msg.declared_size(), meta["options"]["size"].as_u64());
    let mut out = Vec::new();
    let count = msg
        .render(&mut out, RenderOptions::default())
        .expect("renders");
    assert_eq!(count.entries, meta["event_count"].as_u64().expect("count"));
    assert_ne!(Some(count.entries), msg.declared_size());
    assert_eq!(out, read("logs-13", ".expected.ndjson"));
}

#[test]
fn a_miscounted_array_yields_every_message_it_swallowed() {
    // tests/vectors/streams/fb412-otlp-forward: three top-level messages, the second of which
    // swallowed two more. Frames are found by an independent msgpack reader (the tests' own, in common/forward.rs).
    let dir = vectors_dir().join("streams");
    let stream = fs::read(dir.join("fb412-otlp-forward.msgpack")).expect("stream");
    let expected = fs::read(dir.join("fb412-otlp-forward.expected.ndjson")).expect("expected");
    let mut rest = &stream[..];
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let len = common::forward::object_len(rest).expect("one whole msgpack object");
        frames.push(Bytes::copy_from_slice(&rest[..len]));
        rest = &rest[len..];
    }
    assert_eq!(frames.len(), 3, "top-level messages");
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut pending: Vec<Bytes> = frames.into_iter().rev().collect();
    while let Some(frame) = pending.pop() {
        let mut msg = message::parse(frame, MAX_DECOMPRESSED).expect("parses");
        pending.extend(msg.take_embedded().into_iter().rev());
        let mut out = Vec::new();
        msg.render(&mut out, RenderOptions::default())
            .expect("renders");
        entries.push(out);
    }
    let lines_per_entry: Vec<usize> = entries
        .iter()
        .map(|e| e.split(|&b| b == b'\n').count() - 1)
        .collect();
    assert_eq!(lines_per_entry, [1, 1, 2, 2, 1]);
    assert_eq!(entries.concat(), expected);
}

#[test]
fn same_chunk_in_different_modes_renders_the_same() {
    // Pairs of vectors that carry the same chunk in different Forward modes.
    for (a, b) in [
        ("logs-01", "logs-02"),
        ("logs-03", "logs-04"),
        ("logs-11", "logs-12"),
        ("metrics-01", "metrics-02"),
        ("metrics-03", "metrics-04"),
        ("metrics-05", "metrics-06"),
        ("traces-01", "traces-02"),
        ("traces-01", "traces-03"),
        ("traces-01", "traces-04"),
        ("traces-08", "traces-09"),
    ] {
        assert_eq!(
            render(a, RenderOptions::default()),
            render(b, RenderOptions::default()),
            "{a} vs {b}"
        );
    }
}

#[test]
fn raw_utf8_output_is_the_same_json_with_the_characters_themselves() {
    let raw = RenderOptions {
        escape_unicode: false,
    };
    let mut vectors_with_non_ascii = 0;
    for name in vector_names() {
        let escaped = render(&name, RenderOptions::default());
        let unescaped = render(&name, raw);
        assert_valid_json_lines(&name, &unescaped);
        for (e, u) in escaped.lines().zip(unescaped.lines()) {
            let e: serde_json::Value = serde_json::from_str(e).expect("JSON");
            let u: serde_json::Value = serde_json::from_str(u).expect("JSON");
            assert_eq!(e, u, "{name}");
        }
        // Off, the only \u escapes left are the control characters JSON requires escaped.
        for (at, _) in unescaped.match_indices("\\u") {
            let code = &unescaped[at + 2..at + 6];
            let code = u32::from_str_radix(code, 16).expect("four hex digits");
            assert!(
                code < 0x20 || code == 0x7f,
                "{name}: \\u{code:04x} left escaped"
            );
        }
        // On, every non-ASCII character is escaped; off, each appears as itself.
        let non_ascii = escaped_non_ascii(&escaped);
        if !non_ascii.is_empty() {
            vectors_with_non_ascii += 1;
        }
        for ch in non_ascii {
            assert!(unescaped.contains(ch), "{name}: {ch:?} written as itself");
        }
        if escaped.is_ascii() && !escaped.contains("\\u") {
            assert_eq!(escaped, unescaped, "{name}: nothing to unescape");
        }
    }
    assert!(
        vectors_with_non_ascii >= 4,
        "logs-01..04 carry é, 日本 and 🚀"
    );
    let logs_03 = render("logs-03", raw);
    for text in ["é", "日本", "🚀"] {
        assert!(logs_03.contains(text), "logs-03 raw has {text}");
    }
}

/// The non-ASCII characters that `\\uXXXX` escapes (surrogate pairs joined) stand for in `text`.
fn escaped_non_ascii(text: &str) -> Vec<char> {
    let units: Vec<u16> = text
        .match_indices("\\u")
        .filter_map(|(at, _)| u16::from_str_radix(text.get(at + 2..at + 6)?, 16).ok())
        .collect();
    char::decode_utf16(units.into_iter().filter(|&u| u >= 0x80))
        .filter_map(Result::ok)
        .collect()
}

#[test]
fn message_metadata_matches_meta_json() {
    for name in vector_names() {
        let meta = meta(&name);
        let msg = message::parse(
            Bytes::from(read(&name, ".forward.msgpack")),
            MAX_DECOMPRESSED,
        )
        .expect("parses");
        assert_eq!(msg.tag(), meta["tag"], "{name}: tag");
        let signal = match meta["signal"].as_str() {
            Some("logs") => Signal::Logs,
            Some("metrics") => Signal::Metrics,
            Some("traces") => Signal::Traces,
            other => panic!("{name}: signal {other:?}"),
        };
        assert_eq!(msg.signal(), signal, "{name}: signal");
        let mode = match meta["mode"].as_str() {
            Some("Message") => Mode::Message,
            Some("Forward") => Mode::Forward,
            Some("PackedForward") => Mode::PackedForward,
            Some("CompressedPackedForward") => Mode::CompressedPackedForward,
            other => panic!("{name}: mode {other:?}"),
        };
        assert_eq!(msg.mode(), mode, "{name}: mode");
        let chunk = meta["options"]["chunk"].as_str();
        assert_eq!(msg.chunk(), chunk.map(str::as_bytes), "{name}: chunk");
        if let Some(chunk) = chunk {
            // {"ack": "<chunk>"} with the chunk echoed as the str it was sent as.
            let mut ack = vec![0x81, 0xa3, b'a', b'c', b'k', 0xd9, chunk.len() as u8];
            ack.extend_from_slice(chunk.as_bytes());
            let fixstr = chunk.len() < 32;
            if fixstr {
                ack.splice(5..7, [0xa0 | chunk.len() as u8]);
            }
            assert_eq!(msg.ack_response(), Some(ack), "{name}: ack");
        } else {
            assert_eq!(msg.ack_response(), None, "{name}: no ack");
        }
    }
}
