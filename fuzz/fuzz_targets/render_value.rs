//! The msgpack → JSON renderer on arbitrary msgpack: `Renderer::write_value` (and the one-off
//! `render::write_value`), `write_contexts` (cmetrics/ctraces payloads) and
//! `write_event_stream` (PackedForward log payloads), one `Renderer` reused throughout as a
//! worker reuses it.
//!
//! Checks: no panic; success means valid JSON (no duplicate keys: the renderer keeps the last of
//! a repeated key), the same values with `escape_unicode` on and off, ASCII-only when on, as many
//! lines as reported, era-A lines shaped `[[int, {"_tag": …}], body]`; `write_value`
//! consumes exactly one msgpack object; failure leaves the output as it was; whether it fails
//! does not depend on `escape_unicode`, except that the escaped text (never the shorter) may
//! alone pass the size cap. The cap here is 64 KiB, so that a value whose JSON grows faster than
//! its input (map keys that are containers) is refused quickly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vivo_exporter::ingest::forward::frame::object_len;
use vivo_exporter::render::{self, RenderError, RenderLimits, RenderOptions, Renderer};
use vivo_fuzz::{json_lines, normalize_keys, parse_json, same_values, show};

const TAG: &str = "fuzz.tag";
const PREFIX: &[u8] = b"[\"earlier output\"]\n";
const LIMITS: RenderLimits = RenderLimits {
    max_entry_bytes: 64 << 10,
    max_records: 20_000,
};

fuzz_target!(|data: &[u8]| {
    let mut escaped = Renderer::with_limits(
        RenderOptions {
            escape_unicode: true,
        },
        LIMITS,
    );
    let mut raw = Renderer::with_limits(
        RenderOptions {
            escape_unicode: false,
        },
        LIMITS,
    );

    // One value.
    let a = value(&mut escaped, data);
    let b = value(&mut raw, data);
    agree_on_failure(&a, &b, "the value");
    if let (Ok(a), Ok(b)) = (&a, &b) {
        assert!(
            a.is_ascii(),
            "escape_unicode on wrote non-ASCII: {}",
            show(a)
        );
        let va = parse_json(a, true).unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", show(a)));
        let vb = parse_json(b, true).unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", show(b)));
        assert_eq!(
            normalize_keys(va),
            normalize_keys(vb),
            "escape_unicode on and off render different values"
        );
    }
    // The one-off form (default options and caps) renders what the renderer rendered.
    if let Ok(a) = &a {
        let mut one_off = Vec::new();
        let mut input = data;
        render::write_value(&mut input, &mut one_off, RenderOptions::default())
            .expect("write_value refuses what a Renderer rendered");
        assert_eq!(&one_off, a, "write_value and Renderer differ");
    }

    // cmetrics / ctraces contexts: one line per context.
    let a = guarded(|out| escaped.write_contexts(out, data));
    let b = guarded(|out| raw.write_contexts(out, data));
    agree_on_failure(&a, &b, "contexts");
    if let (Ok((n, a)), Ok((m, b))) = (&a, &b) {
        assert_eq!(n, m, "context counts differ with escape_unicode");
        let lines = same_values(a, b, true);
        assert_eq!(
            lines, *n,
            "write_contexts reported {n} contexts, wrote {lines} lines"
        );
        for context in json_lines(a, true) {
            assert!(context.is_object(), "a context line is not an object");
        }
    }

    // Concatenated log events: one era-A line per record.
    let a = guarded(|out| escaped.write_event_stream(out, TAG, data));
    let b = guarded(|out| raw.write_event_stream(out, TAG, data));
    agree_on_failure(&a, &b, "events");
    if let (Ok((n, a)), Ok((m, b))) = (&a, &b) {
        assert_eq!(n, m, "record counts differ with escape_unicode");
        let lines = same_values(a, b, true);
        assert_eq!(
            lines, *n,
            "write_event_stream reported {n} records, wrote {lines} lines"
        );
        for line in json_lines(a, true) {
            era_a_shape(&line);
        }
    }
});

/// The escaped (`a`) and raw (`b`) renderings fail alike, or only the escaped one, at the cap.
fn agree_on_failure<T, U>(a: &Result<T, RenderError>, b: &Result<U, RenderError>, what: &str) {
    match (a, b) {
        (Ok(_), Ok(_)) | (Err(RenderError::TooLarge { .. }), _) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "{what}: escape_unicode changes the error"),
        (a, b) => panic!(
            "{what}: escape_unicode changes whether it renders: on {:?}, off {:?}",
            a.as_ref().err(),
            b.as_ref().err()
        ),
    }
}

/// `write_value` on the front of `data`, after earlier output; the JSON text, or the error.
fn value(renderer: &mut Renderer, data: &[u8]) -> Result<Vec<u8>, RenderError> {
    let mut input = data;
    let mut out = PREFIX.to_vec();
    match renderer.write_value(&mut input, &mut out) {
        Ok(()) => {
            assert!(
                out.starts_with(PREFIX),
                "write_value changed earlier output"
            );
            let consumed = data.len() - input.len();
            assert_eq!(
                object_len(data),
                Ok(Some(consumed)),
                "write_value consumed {consumed} bytes, not one msgpack object"
            );
            Ok(out.split_off(PREFIX.len()))
        }
        Err(e) => {
            assert_eq!(out, PREFIX, "a failed write_value left output behind");
            Err(e)
        }
    }
}

/// Runs a rendering call after earlier output; its count and new bytes, or the error.
fn guarded(
    f: impl FnOnce(&mut Vec<u8>) -> Result<usize, RenderError>,
) -> Result<(usize, Vec<u8>), RenderError> {
    let mut out = PREFIX.to_vec();
    match f(&mut out) {
        Ok(n) => {
            assert!(out.starts_with(PREFIX), "rendering changed earlier output");
            Ok((n, out.split_off(PREFIX.len())))
        }
        Err(e) => {
            assert_eq!(out, PREFIX, "a failed render left output behind");
            Err(e)
        }
    }
}

/// `[[<integer ns>, {"_tag": …, …}], <body>]`. (The record's metadata may carry its own `_tag`,
/// which then wins, as a repeated key does.)
fn era_a_shape(line: &Value) {
    let shaped = (|| {
        let [header, _body] = line.as_array()?.as_slice() else {
            return None;
        };
        let [ts, metadata] = header.as_array()?.as_slice() else {
            return None;
        };
        ts.as_i64()?;
        metadata.as_object()?.get("_tag").map(|_| ())
    })();
    assert!(shaped.is_some(), "not an era-A log line: {line}");
}
