//! One Forward frame: `message::parse`, then `ForwardMessage::render` with `json.escape_unicode`
//! on and off.
//!
//! Checks: no panic; a render that succeeds writes valid JSON lines (no duplicate keys, as the
//! renderer promises last-wins keys), as many as it reports, the same values either way; a
//! render that fails leaves the output as it was, and fails for the same reason either way,
//! except that the escaped rendering (never the shorter) may alone pass `max_entry_size`; the
//! ack reply is one msgpack map; messages set aside as embedded are handled the same way.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use vivo_exporter::ingest::forward::frame::object_len;
use vivo_exporter::ingest::forward::message::{parse, requests_ack, ForwardMessage, MessageError};
use vivo_exporter::render::{RenderLimits, RenderOptions, Renderer};
use vivo_fuzz::{same_values, show};

/// Small caps keep each run fast; the limits themselves are part of what is tested.
const MAX_DECOMPRESSED: usize = 1 << 20;
const LIMITS: RenderLimits = RenderLimits {
    max_entry_bytes: 256 << 10,
    max_records: 20_000,
};

fuzz_target!(|data: &[u8]| {
    let _ = requests_ack(data);
    check_frame(Bytes::copy_from_slice(data), 0);
});

fn check_frame(frame: Bytes, depth: usize) {
    let Ok(mut message) = parse(frame, MAX_DECOMPRESSED) else {
        return;
    };
    if let Some(reply) = message.ack_response() {
        assert_eq!(
            object_len(&reply),
            Ok(Some(reply.len())),
            "the ack reply is not one msgpack object: {}",
            show(&reply)
        );
        assert_eq!(reply[0], 0x81, "the ack reply is not a one-entry map");
    }
    let escaped = render(&message, true);
    let raw = render(&message, false);
    match (escaped, raw) {
        (Ok((lines_a, a)), Ok((lines_b, b))) => {
            assert_eq!(lines_a, lines_b, "line counts differ with escape_unicode");
            let values = same_values(&a, &b, true);
            assert_eq!(
                values, lines_a,
                "render reported {lines_a} lines but wrote {values}"
            );
        }
        // Escaped text is never shorter than raw text, so only the escaped rendering can pass
        // the cap where the raw one does not (and then stops before what refuses the raw one).
        (Err(MessageError::EntryTooLarge { .. }), _) => {}
        (Err(a), Err(b)) => assert_eq!(
            a.reason(),
            b.reason(),
            "escape_unicode changes why the message is refused: on {a}, off {b}"
        ),
        (a, b) => panic!(
            "escape_unicode changes whether the message renders: on {:?}, off {:?}",
            a.map(|x| x.0),
            b.map(|x| x.0)
        ),
    }
    // Messages a miscounted array swallowed are stored on their own, after this one.
    if depth < 4 {
        for embedded in message.take_embedded() {
            check_frame(embedded, depth + 1);
        }
    }
}

/// Renders after some existing output, as a worker appends batch after batch; returns the
/// reported line count and the new bytes, or why the message was refused.
fn render(
    message: &ForwardMessage,
    escape_unicode: bool,
) -> Result<(usize, Vec<u8>), MessageError> {
    let mut renderer = Renderer::with_limits(RenderOptions { escape_unicode }, LIMITS);
    let prefix = b"previous line\n";
    let mut out = prefix.to_vec();
    match message.render_with(&mut renderer, &mut out) {
        Ok(count) => {
            assert!(out.starts_with(prefix), "render changed earlier output");
            Ok((count.lines, out.split_off(prefix.len())))
        }
        Err(e) => {
            assert_eq!(out, prefix, "a refused message left output behind");
            Err(e)
        }
    }
}
