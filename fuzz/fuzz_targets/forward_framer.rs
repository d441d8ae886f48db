//! A connection's byte stream cut into reads of varying sizes (chosen from the input itself) and
//! fed to `frame::Framer`, as `connection.rs` does.
//!
//! Checks, against the stateless `frame::object_len` run on the whole stream and against an
//! independent msgpack length oracle: the same frames in the same order; an error exactly where
//! the whole stream has one; the same unconsumed tail; `known_frame_len` never more than the
//! frame turns out to be; a frame limit that refuses exactly the frames longer than it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivo_exporter::ingest::forward::frame::{object_len, FrameError, Framer};
use vivo_fuzz::{msgpack_len, Choices, Oracle};

/// What reading a stream yields: the frames, then how it stopped.
#[derive(Debug)]
struct Outcome {
    frames: Vec<Vec<u8>>,
    error: Option<FrameError>,
    tail: Vec<u8>,
    /// `known_frame_len` when the stream ended without an error (the framer's promise).
    waiting_for: usize,
}

fuzz_target!(|data: &[u8]| {
    let whole = stateless(data);
    for frame in &whole.frames {
        assert_eq!(
            msgpack_len(frame),
            Oracle::Complete(frame.len()),
            "object_len's frame is not one msgpack object by the oracle"
        );
    }
    if whole.error.is_none() {
        assert_eq!(
            msgpack_len(&whole.tail),
            Oracle::Incomplete,
            "the oracle finds an object (or an error) in the tail object_len left"
        );
    }

    let mut choices = Choices::from_input(data);
    let unlimited = incremental(data, usize::MAX, &mut Reads::Random(&mut choices));
    agrees(&unlimited, &whole, "reads of random sizes");
    if data.len() <= 4096 {
        let bytewise = incremental(data, usize::MAX, &mut Reads::OneByte);
        agrees(&bytewise, &whole, "one-byte reads");
    }

    let limit = 1 + choices.below(2048);
    let limited = incremental(data, limit, &mut Reads::Random(&mut choices));
    let fitting = whole.frames.iter().take_while(|f| f.len() <= limit).count();
    assert_eq!(
        limited.frames[..],
        whole.frames[..fitting],
        "the {limit}-byte limit changed the frames that fit it"
    );
    if fitting < whole.frames.len() {
        assert!(
            matches!(limited.error, Some(FrameError::TooLarge { limit: l, .. }) if l == limit),
            "a frame of {} bytes passed the {limit}-byte limit: {:?}",
            whole.frames[fitting].len(),
            limited.error
        );
    }
});

/// The framer, fed every byte, must find what `object_len` finds in the whole stream.
fn agrees(incremental: &Outcome, whole: &Outcome, how: &str) {
    assert_eq!(
        incremental.frames.len(),
        whole.frames.len(),
        "with {how}, Framer found {} frames (then waited for {} bytes holding {}) where \
         object_len finds {}",
        incremental.frames.len(),
        incremental.waiting_for,
        incremental.tail.len(),
        whole.frames.len()
    );
    assert_eq!(
        incremental.frames, whole.frames,
        "with {how}, Framer's frames differ"
    );
    match (&incremental.error, &whole.error) {
        (Some(a), Some(b)) => {
            assert_eq!(a, b, "with {how}, Framer and object_len fail differently")
        }
        (None, None) => assert_eq!(incremental.tail, whole.tail, "with {how}, different tails"),
        // The framer does not rescan before the buffer reaches the length it already knows the
        // frame needs, so an error past that point is only reported once the bytes arrive.
        (None, Some(e)) => assert!(
            incremental.tail.len() < incremental.waiting_for,
            "with {how}, object_len fails ({e}) where Framer, which has every byte, does not"
        ),
        (Some(e), None) => panic!("with {how}, Framer fails ({e}) where object_len does not"),
    }
}

/// How the stream is cut into reads.
enum Reads<'a> {
    /// Mostly small reads, sometimes large ones, chosen from the input.
    Random(&'a mut Choices),
    /// One byte at a time: every prefix of the stream is seen.
    OneByte,
}

impl Reads<'_> {
    fn next(&mut self) -> usize {
        match self {
            Reads::Random(choices) => {
                let most = if choices.below(4) == 0 { 4096 } else { 16 };
                1 + choices.below(most)
            }
            Reads::OneByte => 1,
        }
    }
}

fn stateless(data: &[u8]) -> Outcome {
    let mut rest = data;
    let mut frames = Vec::new();
    let error = loop {
        match object_len(rest) {
            Ok(Some(len)) => {
                assert!(
                    len > 0 && len <= rest.len(),
                    "object_len {len} out of range"
                );
                frames.push(rest[..len].to_vec());
                rest = &rest[len..];
            }
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    Outcome {
        frames,
        error,
        tail: rest.to_vec(),
        waiting_for: 0,
    }
}

/// Reads `data` as the connection does: append what arrived, take every complete frame.
fn incremental(data: &[u8], limit: usize, reads: &mut Reads<'_>) -> Outcome {
    let mut framer = Framer::new(limit);
    let mut buf: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    let mut promised = 0;
    let mut fed = 0;
    while fed < data.len() {
        let read = reads.next();
        let end = data.len().min(fed + read);
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
        loop {
            match framer.next_frame_len(&buf) {
                Ok(Some(len)) => {
                    assert!(
                        len > 0 && len <= buf.len(),
                        "frame length {len} out of range"
                    );
                    assert!(
                        len >= promised,
                        "known_frame_len said {promised} but the frame is {len} bytes"
                    );
                    assert!(len <= limit, "a {len}-byte frame passed the {limit} limit");
                    frames.push(buf.drain(..len).collect());
                    promised = 0;
                }
                Ok(None) => {
                    promised = promised.max(framer.known_frame_len());
                    assert!(
                        framer.known_frame_len() <= limit,
                        "known_frame_len is past the limit"
                    );
                    break;
                }
                Err(error) => {
                    return Outcome {
                        frames,
                        error: Some(error),
                        tail: buf,
                        waiting_for: 0,
                    }
                }
            }
        }
    }
    Outcome {
        frames,
        error: None,
        tail: buf,
        waiting_for: framer.known_frame_len(),
    }
}
